// AXFR/IXFR out as a stream of wire messages (xfr_stream): every message parses back,
// every record goes exactly once with the SOA first and last, compression pointers lead
// to the right names, packing is tight, an oversized record travels alone, and TSIG
// signs every message so that a client's verifier accepts each of them.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "dnssec/tsig.h"
#include "zone/journal.h"
#include "zone/xfr.h"

namespace {

using namespace hsync;
namespace t = dns::rr_type;
using zone::xfr_receiver;

dns::rr R(const std::string& text) {
    return dns::rr::from_text(text);
}

// Names of every shape the writer must handle: a deep hierarchy in canonical order,
// delegations with glue, RDATA names of the compressible types (NS, CNAME, PTR, MX, SOA)
// and of types that must stay uncompressed (SRV), escaped and binary labels.
dns::record_store mixed_zone(const std::string& origin, int hosts) {
    const std::string o = origin == "." ? "" : origin;
    dns::record_store z;
    z.add(R(origin + " 3600 IN SOA ns1." + o + " hostmaster." + o + " 7 3600 600 86400 300"));
    z.add(R(origin + " 3600 IN NS ns1." + o));
    z.add(R(origin + " 3600 IN NS ns2.elsewhere.test."));
    z.add(R(origin + " 3600 IN MX 10 mail." + o));
    z.add(R("ns1." + o + " 3600 IN A 192.0.2.53"));
    z.add(R("mail." + o + " 3600 IN A 192.0.2.25"));
    z.add(R("a\\.b." + o + " 60 IN A 192.0.2.1"));
    z.add(R("\\000\\255x." + o + " 60 IN TXT \"binary label\""));
    z.add(R("*.wild." + o + " 60 IN A 192.0.2.2"));
    z.add(R("empty." + o + " 60 IN TYPE65280 \\# 0"));  // RDATA of length 0
    for (int i = 0; i < hosts; ++i) {
        std::string n = std::to_string(i);
        std::string h = "h" + n + ".sub" + std::to_string(i % 7) + "." + o;
        z.add(R(h + " 300 IN A 198.51.100." + std::to_string(i % 250)));
        z.add(R(h + " 300 IN AAAA 2001:db8::" + std::to_string(i % 9999)));
        z.add(R(h + " 300 IN TXT \"host " + n + "\""));
        z.add(R("www." + h + " 300 IN CNAME " + h));
        z.add(R("_sip._tcp." + h + " 300 IN SRV 0 0 5060 " + h));
        z.add(R(n + ".rev." + o + " 300 IN PTR " + h));
        if (i % 40 == 0) {
            z.add(R("d" + n + "." + o + " 3600 IN NS ns.d" + n + "." + o));
            z.add(R("d" + n + "." + o + " 3600 IN NS ns1." + o));
            z.add(R("ns.d" + n + "." + o + " 3600 IN A 203.0.113." + std::to_string(i % 250)));
        }
    }
    z.sort();
    return z;
}

dns::message query(uint16_t qtype, const std::string& zone) {
    dns::message q;
    q.id = 0xBEEF;
    q.rd = true;
    q.cd = true;
    q.questions.push_back({dns::name::from_text(zone), qtype, dns::rr_class::IN});
    return q;
}

std::vector<std::vector<uint8_t>> drain(zone::xfr_stream s) {
    std::vector<std::vector<uint8_t>> out;
    std::vector<uint8_t> w;
    while (s.next(w)) {
        out.push_back(w);
        w.clear();
    }
    EXPECT_TRUE(s.done());
    EXPECT_EQ(s.messages(), out.size());
    return out;
}

std::string text_of(const dns::rr& r) {
    dns::rr c = r;
    c.canonicalize();
    return c.to_text();
}

// What a record takes uncompressed: an upper bound of what the writer may spend on it.
size_t uncompressed_size(const dns::rr& r) {
    return r.owner.wire_size() + 10 + r.rdata.size();
}

// The checks of RFC 5936 §2.2 on one transfer, and the count of each record seen.
void check_transfer(const std::vector<std::vector<uint8_t>>& msgs, const dns::record_store& zone,
                    size_t limit, uint16_t qtype) {
    ASSERT_FALSE(msgs.empty());
    std::map<std::string, int> seen;
    std::vector<dns::message> parsed;
    for (size_t i = 0; i < msgs.size(); ++i) {
        dns::message m = dns::message::parse(msgs[i]);  // every pointer resolves backwards
        EXPECT_EQ(m.id, 0xBEEF);
        EXPECT_TRUE(m.qr);
        EXPECT_TRUE(m.aa);
        EXPECT_TRUE(m.rd);  // RFC 5936 §2.2.1: copied
        EXPECT_TRUE(m.cd);
        EXPECT_FALSE(m.tc);
        EXPECT_EQ(m.rcode, dns::rcode::NOERROR);
        ASSERT_EQ(m.questions.size(), i == 0 ? 1u : 0u);
        if (i == 0) {
            EXPECT_EQ(m.questions[0].qtype, qtype);
        }
        ASSERT_FALSE(m.answer.empty());
        EXPECT_TRUE(m.authority.empty() && m.additional.empty());
        if (m.answer.size() > 1) {
            EXPECT_LE(msgs[i].size(), limit) << "message " << i;
        }
        for (const auto& r : m.answer)
            ++seen[text_of(r)];
        parsed.push_back(std::move(m));
    }
    // Tight: the next message's first record would not have fitted, even compressed to
    // the most it could be (its uncompressed size bounds what it took).
    for (size_t i = 0; i + 1 < msgs.size(); ++i)
        EXPECT_GT(msgs[i].size() + uncompressed_size(parsed[i + 1].answer[0]), limit)
            << "message " << i << " of " << msgs.size() << " closed early";
    EXPECT_EQ(parsed.front().answer.front().type, t::SOA);
    EXPECT_EQ(parsed.back().answer.back().type, t::SOA);
    std::string soa = text_of(zone[*zone::find_soa(zone)].to_rr());
    ASSERT_EQ(seen.size(), zone.size());
    for (size_t i = 0; i < zone.size(); ++i) {
        std::string x = text_of(zone[i].to_rr());
        EXPECT_EQ(seen[x], x == soa ? 2 : 1) << x;  // every record exactly once, SOA twice
    }
    // And a receiver takes it as the zone.
    xfr_receiver rx(zone[*zone::find_soa(zone)].owner_name(), qtype, std::nullopt, 0xBEEF);
    for (const auto& m : parsed)
        rx.feed(m);
    rx.finish();
    ASSERT_EQ(rx.result(), xfr_receiver::kind::axfr);
    ASSERT_EQ(rx.zone().size(), zone.size());
}

TEST(XfrStream, EveryRecordOnceAtEveryMessageSize) {
    for (const std::string origin : {"example.", "."}) {
        auto zone = mixed_zone(origin, 600);
        for (size_t limit : {size_t{512}, size_t{1500}, size_t{4096},
                             zone::default_xfr_message_size, size_t{65535}}) {
            SCOPED_TRACE(origin + " limit " + std::to_string(limit));
            auto msgs = drain(zone::axfr_stream(zone, query(t::AXFR, origin), limit));
            check_transfer(msgs, zone, limit, t::AXFR);
            if (limit < 65535) {
                EXPECT_GT(msgs.size(), 1u);
            }
        }
    }
}

// Compression: names point at names already in the message, so the transfer is about
// as small as dns::message::to_wire makes the same messages with its full dictionary of
// every name written (the stream compresses against the previous owner and the last
// RDATA name only; here the PTR targets cycle through seven domains, its worst case).
TEST(XfrStream, CompressionAsGoodAsAFullDictionary) {
    auto zone = mixed_zone("example.", 2000);
    auto msgs =
        drain(zone::axfr_stream(zone, query(t::AXFR, "example."), zone::default_xfr_message_size));
    size_t ours = 0, dictionary = 0, uncompressed = 0;
    for (const auto& w : msgs) {
        dns::message m = dns::message::parse(w);
        std::vector<uint8_t> again;
        m.to_wire(again);
        ours += w.size();
        dictionary += again.size();
        uncompressed += dns::header_size;
        for (const auto& r : m.answer)
            uncompressed += uncompressed_size(r);
    }
    EXPECT_LT(ours * 10, uncompressed * 7) << ours << " of " << uncompressed;
    EXPECT_LE(ours, dictionary + dictionary * 3 / 100) << ours << " vs " << dictionary;

    // RDATA names of the RFC 1035 types are compressed, SRV's never (RFC 3597 §4): look
    // at one message's raw RDLENGTHs through a record we know.
    auto one = zone::axfr_stream(zone, query(t::AXFR, "example."), 65535);
    std::vector<uint8_t> w;
    one.next(w);
    dns::message m = dns::message::parse(w);
    size_t cname = 0, srv = 0;
    dns::wire_reader rd(w);
    rd.skip(dns::header_size);
    rd.read_name();
    rd.skip(4);
    for (size_t i = 0; i < m.answer.size(); ++i) {
        rd.read_name();
        uint16_t type = rd.u16();
        rd.skip(6);
        uint16_t len = rd.u16();
        rd.skip(len);
        if (type == t::CNAME) {
            EXPECT_LT(len, m.answer[i].rdata.size());
            ++cname;
        }
        if (type == t::SRV) {
            EXPECT_EQ(len, m.answer[i].rdata.size());
            ++srv;
        }
    }
    EXPECT_GT(cname, 0u);
    EXPECT_GT(srv, 0u);
}

// Past offset 0x3FFF nothing can be pointed at: a 64 KiB message still parses back to the
// same names (pointers only to earlier, reachable names).
TEST(XfrStream, LongMessagesKeepPointersBelow0x4000) {
    dns::record_store z;
    z.add(R("example. 60 IN SOA ns. host. 1 1 1 1 1"));
    for (int i = 0; i < 3000; ++i) {
        std::string h = "n" + std::to_string(i) + ".deep.er.example.";
        z.add(R(h + " 60 IN A 192.0.2.1"));
        z.add(R(h + " 60 IN MX 5 " + h));
    }
    z.sort();
    auto msgs = drain(zone::axfr_stream(z, query(t::AXFR, "example."), 65535));
    check_transfer(msgs, z, 65535, t::AXFR);
    EXPECT_GT(msgs[0].size(), 0x4000u);
}

// The first message exists before the rest of the zone is touched.
TEST(XfrStream, MakesOneMessageAtATime) {
    auto zone = mixed_zone("example.", 3000);
    auto s = zone::axfr_stream(zone, query(t::AXFR, "example."), 4096);
    std::vector<uint8_t> w;
    ASSERT_TRUE(s.next(w));
    EXPECT_EQ(s.messages(), 1u);
    EXPECT_FALSE(s.done());
    EXPECT_TRUE(s.full_zone());
    EXPECT_LT(s.records(), zone.size() / 20);
    EXPECT_GT(s.records(), 10u);
    EXPECT_LE(w.size(), 4096u);
    do
        w.clear();
    while (s.next(w));
    EXPECT_TRUE(w.empty());
    EXPECT_EQ(s.records(), zone.size() + 1);
    EXPECT_FALSE(s.next(w));
}

TEST(XfrStream, OversizedRecordGoesAlone) {
    dns::record_store z;
    z.add(R("example. 60 IN SOA ns.example. host.example. 1 1 1 1 1"));
    std::string big = "big.example. 60 IN TXT";
    for (int i = 0; i < 12; ++i)
        big += " \"" + std::string(250, 'a' + i) + "\"";
    z.add(R(big));
    for (int i = 0; i < 30; ++i)
        z.add(R("c" + std::to_string(i) + ".example. 60 IN A 192.0.2.7"));
    z.sort();
    auto msgs = drain(zone::axfr_stream(z, query(t::AXFR, "example."), 512));
    check_transfer(msgs, z, 512, t::AXFR);
    size_t alone = 0;
    for (const auto& w : msgs)
        if (w.size() > 512) {
            auto m = dns::message::parse(w);
            ASSERT_EQ(m.answer.size(), 1u);
            EXPECT_EQ(m.answer[0].type, t::TXT);
            ++alone;
        }
    EXPECT_EQ(alone, 1u);

    // A record that no message can hold: the stream says so instead of sending it cut.
    dns::record_store huge;
    huge.add(R("example. 60 IN SOA ns.example. host.example. 1 1 1 1 1"));
    dns::rr r = R("x.example. 60 IN TYPE65000 \\# 0");
    r.rdata.assign(65530, 0xAB);
    huge.add(r);
    huge.sort();
    auto s = zone::axfr_stream(huge, query(t::AXFR, "example."), 16384);
    std::vector<uint8_t> w;
    ASSERT_TRUE(s.next(w));  // the SOA
    w.clear();
    EXPECT_THROW(s.next(w), zone::xfr_error);
}

TEST(XfrStream, TsigSignsEveryMessage) {
    auto key = dnssec::generate_tsig_key(dns::name::from_text("xfr-key."));
    dnssec::tsig_keyring ring({key});
    const int64_t now = 1'800'000'000;
    auto zone = mixed_zone("example.", 500);

    dnssec::tsig_session client(key);
    std::vector<uint8_t> request;
    query(t::AXFR, "example.").to_wire(request);
    client.sign(request, now);
    dns::message parsed = dns::message::parse(request);
    auto verified = dnssec::tsig_verify_request(request, parsed, ring, now);
    ASSERT_TRUE(verified.ok()) << verified.reason;

    auto server = dnssec::tsig_session::responder(verified);
    size_t budget = 4096 - (64 + 2 * dns::max_name_length);  // as the server leaves room
    auto s = zone::axfr_stream(zone, parsed, budget);
    std::vector<std::vector<uint8_t>> msgs;
    std::vector<uint8_t> w;
    while (s.next(w)) {
        server.sign(w, now);
        EXPECT_LE(w.size(), 4096u);
        msgs.push_back(w);
        w.clear();
    }
    ASSERT_GT(msgs.size(), 5u);
    xfr_receiver rx(dns::name::from_text("example."), t::AXFR, std::nullopt, 0xBEEF);
    for (const auto& m : msgs) {
        dns::message pm = dns::message::parse(m);
        ASSERT_TRUE(pm.tsig.has_value());
        auto v = client.verify(m, pm, now);
        ASSERT_TRUE(v.ok()) << v.reason;
        rx.feed(pm);
    }
    EXPECT_TRUE(client.complete());
    rx.finish();
    EXPECT_EQ(rx.zone().size(), zone.size());

    // A changed octet in a later message breaks its MAC.
    dnssec::tsig_session client2 =
        dnssec::tsig_session::awaiting_response(key, verified.fields.mac);
    for (size_t i = 0; i < 3; ++i) {
        auto m = msgs[i];
        if (i == 2) {
            dns::wire_reader rd(m);  // the first record's TTL: no question after message 0
            rd.skip(dns::header_size);
            rd.read_name();
            rd.skip(4);
            m[rd.position()] ^= 1;
        }
        dns::message pm = dns::message::parse(m);
        auto v = client2.verify(m, pm, now);
        EXPECT_EQ(v.ok(), i < 2) << i;
    }
}

// IXFR over the stream: the condensed difference goes as it is; a journal that does not
// reach the client's serial gives the whole zone, with the IXFR question.
TEST(XfrStream, IxfrIncrementalAndFallback) {
    auto before = mixed_zone("example.", 300);
    dns::zone_diff d;
    d.from_serial = 7;
    d.to_serial = 8;
    d.removed.push_back(before[*zone::find_soa(before)].to_rr());
    dns::rr soa8 = d.removed[0];
    zone::set_soa_serial(soa8.rdata, 8);
    d.added.push_back(soa8);
    d.added.push_back(R("New.Example. 60 IN A 192.0.2.9"));
    d.added.push_back(R("new.example. 60 IN AAAA 2001:db8::9"));
    d.added.push_back(R("Other.New.Example. 60 IN CNAME New.Example."));
    auto after = zone::apply(before, d);
    std::vector<dns::zone_diff> journal = {d};

    dns::message q = query(t::IXFR, "example.");
    q.authority.push_back(d.removed[0]);
    auto msgs = drain(zone::ixfr_stream(after, journal, q, 65535, false));
    ASSERT_EQ(msgs.size(), 1u);
    auto m = dns::message::parse(msgs[0]);
    ASSERT_EQ(m.answer.size(), 7u);
    EXPECT_EQ(text_of(m.answer[3]), text_of(R("new.example. 60 IN A 192.0.2.9")));
    EXPECT_EQ(text_of(m.answer[4]), text_of(R("new.example. 60 IN AAAA 2001:db8::9")));
    EXPECT_EQ(text_of(m.answer[5]), text_of(R("other.new.example. 60 IN CNAME new.example.")));
    xfr_receiver rx(dns::name::from_text("example."), t::IXFR, 7u, 0xBEEF);
    rx.feed(m);
    ASSERT_EQ(rx.result(), xfr_receiver::kind::ixfr);

    // The client's serial is unknown to the journal: the zone in AXFR form, several messages.
    dns::message old = query(t::IXFR, "example.");
    dns::rr soa5 = d.removed[0];
    zone::set_soa_serial(soa5.rdata, 5);
    old.authority.push_back(soa5);
    auto s = zone::ixfr_stream(after, journal, old, 2048, false);
    auto full = drain(std::move(s));
    check_transfer(full, after, 2048, t::IXFR);

    // Over UDP that does not fit: the SOA alone (go to TCP); the difference does fit.
    auto udp = drain(zone::ixfr_stream(after, journal, old, 1232, true));
    ASSERT_EQ(udp.size(), 1u);
    EXPECT_EQ(dns::message::parse(udp[0]).answer.size(), 1u);
    udp = drain(zone::ixfr_stream(after, journal, q, 1232, true));
    ASSERT_EQ(udp.size(), 1u);
    EXPECT_EQ(dns::message::parse(udp[0]).answer.size(), 7u);
}

TEST(XfrStream, ErrorsAreOneMessage) {
    auto zone = mixed_zone("example.", 10);
    auto s = zone::axfr_stream(zone, query(t::AXFR, "other."), 16384);
    EXPECT_EQ(s.rcode(), dns::rcode::NOTAUTH);
    auto msgs = drain(std::move(s));
    ASSERT_EQ(msgs.size(), 1u);
    auto m = dns::message::parse(msgs[0]);
    EXPECT_EQ(m.rcode, dns::rcode::NOTAUTH);
    EXPECT_EQ(m.id, 0xBEEF);
    EXPECT_TRUE(m.answer.empty());
    auto empty = zone::axfr_stream(dns::record_store(), query(t::AXFR, "example."), 16384);
    EXPECT_EQ(empty.rcode(), dns::rcode::SERVFAIL);
    auto noserial = zone::ixfr_stream(zone, {}, query(t::IXFR, "example."), 16384, false);
    EXPECT_EQ(noserial.rcode(), dns::rcode::FORMERR);
}

}  // namespace
