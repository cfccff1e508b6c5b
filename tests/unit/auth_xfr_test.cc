// AXFR/IXFR out and in: RFC 1995 §7's example both ways, AXFR packing, and transfer
// streams the receiver must refuse.
#include "zone/xfr.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "zone/journal.h"
#include "test_util.h"

namespace {

using namespace hsync;
using test::store_of;
using test::texts;
namespace t = dns::rr_type;
using zone::xfr_error;
using zone::xfr_receiver;

std::string soa(uint32_t serial) {
    return "JAIN.AD.JP. 3600 IN SOA NS.JAIN.AD.JP. mohta.jain.ad.jp. " + std::to_string(serial) +
           " 600 600 3600000 604800";
}
const std::string ns = "JAIN.AD.JP. 3600 IN NS NS.JAIN.AD.JP.";
const std::string ns_a = "NS.JAIN.AD.JP. 3600 IN A 133.69.136.1";
const std::string nezu = "NEZU.JAIN.AD.JP. 3600 IN A 133.69.136.5";
const std::string bb4 = "JAIN-BB.JAIN.AD.JP. 3600 IN A 133.69.136.4";
const std::string bb3 = "JAIN-BB.JAIN.AD.JP. 3600 IN A 133.69.136.3";
const std::string bb192 = "JAIN-BB.JAIN.AD.JP. 3600 IN A 192.41.197.2";

// RFC 1995 §7: three versions of JAIN.AD.JP.
dns::record_store gen1() {
    return store_of({soa(1), ns, ns_a, nezu});
}
dns::record_store gen2() {
    return store_of({soa(2), ns, ns_a, bb4, bb192});
}
dns::record_store gen3() {
    return store_of({soa(3), ns, ns_a, bb3, bb192});
}
const dns::name jain = dns::name::from_text("JAIN.AD.JP.");

dns::message xfr_query(uint16_t qtype, const std::string& zone = "JAIN.AD.JP.",
                       std::optional<uint32_t> serial = {}) {
    dns::message q;
    q.id = 4242;
    q.questions.push_back({dns::name::from_text(zone), qtype, dns::rr_class::IN});
    if (serial) q.authority.push_back(dns::rr::from_text(soa(*serial)));
    return q;
}

dns::message response(const std::vector<std::string>& answer, uint16_t qtype = t::IXFR) {
    dns::message m = xfr_query(qtype);
    m.qr = true;
    m.aa = true;
    for (const auto& a : answer)
        m.answer.push_back(dns::rr::from_text(a));
    return m;
}

std::vector<dns::message> collect(const std::function<void(const zone::emit_fn&)>& run) {
    std::vector<dns::message> out;
    run([&](dns::message&& m) { out.push_back(std::move(m)); });
    return out;
}

// Same records in the same order (names case-insensitively, RDATA canonical).
void expect_answer(const dns::message& m, const std::vector<std::string>& lines) {
    ASSERT_EQ(m.answer.size(), lines.size()) << m.to_text();
    for (size_t i = 0; i < lines.size(); ++i) {
        dns::rr want = dns::rr::from_text(lines[i]);
        want.canonicalize();
        dns::rr got = m.answer[i];
        got.canonicalize();
        EXPECT_EQ(got.to_text(), want.to_text()) << "record " << i;
    }
}

std::vector<dns::zone_diff> rfc_journal() {
    return {zone::diff(gen1(), gen2()), zone::diff(gen2(), gen3())};
}

// Round trip through the wire, as a transfer really goes.
dns::message over_wire(const dns::message& m, size_t limit = dns::max_message_size) {
    std::vector<uint8_t> wire;
    EXPECT_FALSE(m.to_wire(wire)) << "message truncated";
    EXPECT_LE(wire.size(), limit);
    return dns::message::parse(wire);
}

TEST(Xfr, Rfc1995ExampleOut) {
    auto journal = rfc_journal();
    auto msgs = collect([&](const zone::emit_fn& e) {
        zone::ixfr_out(gen3(), journal, xfr_query(t::IXFR, "JAIN.AD.JP.", 1), 65535, false, e);
    });
    ASSERT_EQ(msgs.size(), 1u);
    EXPECT_EQ(msgs[0].id, 4242);
    EXPECT_TRUE(msgs[0].qr);
    EXPECT_TRUE(msgs[0].aa);
    ASSERT_EQ(msgs[0].questions.size(), 1u);
    EXPECT_EQ(msgs[0].questions[0].qtype, t::IXFR);
    // The condensed incremental message of RFC 1995 §7.
    expect_answer(msgs[0], {soa(3), soa(1), nezu, soa(3), bb3, bb192, soa(3)});

    // From serial 2: one difference.
    msgs = collect([&](const zone::emit_fn& e) {
        zone::ixfr_out(gen3(), journal, xfr_query(t::IXFR, "jain.ad.jp.", 2), 65535, false, e);
    });
    ASSERT_EQ(msgs.size(), 1u);
    expect_answer(msgs[0], {soa(3), soa(2), bb4, soa(3), bb3, soa(3)});

    // Up to date (or newer): the SOA alone (RFC 1995 §7's last example).
    for (uint32_t client : {3u, 4u}) {
        msgs = collect([&](const zone::emit_fn& e) {
            zone::ixfr_out(gen3(), journal, xfr_query(t::IXFR, "JAIN.AD.JP.", client), 65535, false,
                           e);
        });
        ASSERT_EQ(msgs.size(), 1u);
        expect_answer(msgs[0], {soa(3)});
    }

    // A serial the journal does not reach: the full zone, AXFR style.
    msgs = collect([&](const zone::emit_fn& e) {
        zone::ixfr_out(gen3(), std::span(journal).subspan(1), xfr_query(t::IXFR, "JAIN.AD.JP.", 1),
                       65535, false, e);
    });
    ASSERT_EQ(msgs.size(), 1u);
    // (In canonical order: RFC 1995 and RFC 5936 leave the order to the server.)
    expect_answer(msgs[0], {soa(3), ns, bb3, bb192, ns_a, soa(3)});

    // UDP: fits, so the same condensed answer; too small, the SOA alone (go to TCP).
    msgs = collect([&](const zone::emit_fn& e) {
        zone::ixfr_out(gen3(), journal, xfr_query(t::IXFR, "JAIN.AD.JP.", 1), 512, true, e);
    });
    ASSERT_EQ(msgs.size(), 1u);
    EXPECT_EQ(msgs[0].answer.size(), 7u);
    msgs = collect([&](const zone::emit_fn& e) {
        zone::ixfr_out(gen3(), journal, xfr_query(t::IXFR, "JAIN.AD.JP.", 1), 150, true, e);
    });
    ASSERT_EQ(msgs.size(), 1u);
    expect_answer(msgs[0], {soa(3)});
    msgs = collect([&](const zone::emit_fn& e) {
        zone::ixfr_out(gen3(), {}, xfr_query(t::IXFR, "JAIN.AD.JP.", 1), 150, true, e);
    });
    ASSERT_EQ(msgs.size(), 1u);
    expect_answer(msgs[0], {soa(3)});
}

TEST(Xfr, BadQueriesGetErrors) {
    auto journal = rfc_journal();
    auto one = [&](const dns::message& q, bool ixfr) {
        auto msgs = collect([&](const zone::emit_fn& e) {
            if (ixfr)
                zone::ixfr_out(gen3(), journal, q, 65535, false, e);
            else
                zone::axfr_out(gen3(), q, 65535, e);
        });
        EXPECT_EQ(msgs.size(), 1u);
        EXPECT_TRUE(msgs[0].answer.empty());
        return msgs[0].rcode;
    };
    EXPECT_EQ(one(xfr_query(t::IXFR), true), dns::rcode::FORMERR);  // no SOA in authority
    EXPECT_EQ(one(xfr_query(t::AXFR, "other.jp."), false), dns::rcode::NOTAUTH);
    EXPECT_EQ(one(xfr_query(t::IXFR, "other.jp.", 1), true), dns::rcode::NOTAUTH);
    auto msgs = collect([&](const zone::emit_fn& e) {
        zone::axfr_out(dns::record_store(), xfr_query(t::AXFR), 65535, e);
    });
    ASSERT_EQ(msgs.size(), 1u);
    EXPECT_EQ(msgs[0].rcode, dns::rcode::SERVFAIL);
}

TEST(Xfr, Rfc1995ExampleIn) {
    // The incremental message of RFC 1995 §7, two differences.
    xfr_receiver inc(jain, t::IXFR, 1u, 4242);
    inc.feed(
        response({soa(3), soa(1), nezu, soa(2), bb4, bb192, soa(2), bb4, soa(3), bb3, soa(3)}));
    ASSERT_TRUE(inc.done());
    ASSERT_EQ(inc.result(), xfr_receiver::kind::ixfr);
    EXPECT_EQ(inc.serial(), 3u);
    ASSERT_EQ(inc.diffs().size(), 2u);
    EXPECT_EQ(inc.diffs()[0].from_serial, 1u);
    EXPECT_EQ(inc.diffs()[0].to_serial, 2u);
    EXPECT_EQ(inc.diffs()[1].to_serial, 3u);
    auto z = gen1();
    for (const auto& d : inc.diffs())
        z = zone::apply(z, d);
    EXPECT_EQ(texts(z), texts(gen3()));

    // The condensed message: one difference.
    xfr_receiver cond(jain, t::IXFR, 1u);
    cond.feed(response({soa(3), soa(1), nezu, soa(3), bb3, bb192, soa(3)}));
    ASSERT_EQ(cond.result(), xfr_receiver::kind::ixfr);
    ASSERT_EQ(cond.diffs().size(), 1u);
    EXPECT_EQ(texts(zone::apply(gen1(), cond.diffs()[0])), texts(gen3()));

    // The full-zone form.
    xfr_receiver full(jain, t::IXFR, 1u);
    full.feed(response({soa(3), ns, ns_a, bb3, bb192, soa(3)}));
    ASSERT_EQ(full.result(), xfr_receiver::kind::axfr);
    EXPECT_EQ(texts(full.zone()), texts(gen3()));

    // Up to date.
    xfr_receiver same(jain, t::IXFR, 3u);
    same.feed(response({soa(3)}));
    EXPECT_EQ(same.result(), xfr_receiver::kind::up_to_date);
    EXPECT_NO_THROW(same.finish());

    // The single newer SOA of a UDP answer: not done, so the caller goes to TCP.
    xfr_receiver udp(jain, t::IXFR, 1u);
    udp.feed(response({soa(3)}));
    EXPECT_FALSE(udp.done());
    EXPECT_THROW(udp.finish(), xfr_error);

    // The same stream split one record per message, over the wire.
    xfr_receiver split(jain, t::IXFR, 1u);
    std::vector<std::string> seq = {soa(3), soa(1), nezu,   soa(2), bb4,   bb192,
                                    soa(2), bb4,    soa(3), bb3,    soa(3)};
    for (size_t i = 0; i < seq.size(); ++i) {
        dns::message m = response({seq[i]});
        if (i > 0) m.questions.clear();
        split.feed(over_wire(m));
    }
    ASSERT_EQ(split.result(), xfr_receiver::kind::ixfr);
    EXPECT_EQ(split.diffs().size(), 2u);
}

TEST(Xfr, IxfrOutThenInRoundTrip) {
    auto journal = rfc_journal();
    for (uint32_t client : {1u, 2u}) {
        auto base = client == 1 ? gen1() : gen2();
        auto msgs = collect([&](const zone::emit_fn& e) {
            zone::ixfr_out(gen3(), journal, xfr_query(t::IXFR, "jain.ad.jp.", client), 65535, false,
                           e);
        });
        xfr_receiver rx(jain, t::IXFR, client, 4242);
        for (const auto& m : msgs)
            rx.feed(over_wire(m));
        rx.finish();
        ASSERT_EQ(rx.result(), xfr_receiver::kind::ixfr);
        auto z = base;
        for (const auto& d : rx.diffs())
            z = zone::apply(z, d);
        EXPECT_EQ(texts(z), texts(gen3())) << client;
    }
}

dns::record_store big_zone(int hosts) {
    dns::record_store z;
    z.add(dns::rr::from_text(
        "example. 3600 IN SOA ns1.example. admin.example. 42 3600 600 86400 300"));
    z.add(dns::rr::from_text("example. 3600 IN NS ns1.example."));
    for (int i = 0; i < hosts; ++i) {
        std::string h = "host" + std::to_string(i) + ".example. 300 IN ";
        z.add(dns::rr::from_text(h + "A 192.0.2." + std::to_string(i % 256)));
        z.add(dns::rr::from_text(h + "TXT \"record number " + std::to_string(i) + "\""));
    }
    z.sort();
    return z;
}

TEST(Xfr, AxfrPacking) {
    auto zone = big_zone(1000);
    const dns::name example = dns::name::from_text("example.");
    for (size_t limit :
         {size_t{512}, size_t{4096}, size_t{16384}, zone::default_xfr_message_size}) {
        auto msgs = collect([&](const zone::emit_fn& e) {
            zone::axfr_out(zone, xfr_query(t::AXFR, "example."), limit, e);
        });
        ASSERT_FALSE(msgs.empty());
        if (limit < 64000) {
            EXPECT_GT(msgs.size(), 1u) << limit;
        }
        size_t records = 0;
        std::set<std::string> seen;
        xfr_receiver rx(example, t::AXFR, std::nullopt, 4242);
        for (size_t i = 0; i < msgs.size(); ++i) {
            EXPECT_EQ(msgs[i].questions.size(), i == 0 ? 1u : 0u);  // RFC 5936 §2.2.1
            EXPECT_EQ(msgs[i].id, 4242);
            std::vector<uint8_t> wire;
            EXPECT_FALSE(msgs[i].to_wire(wire));
            EXPECT_LE(wire.size(), limit);
            // Packed: the next message's first record would not have fitted in this one.
            if (i + 1 < msgs.size()) {
                dns::message more = msgs[i];
                more.answer.push_back(msgs[i + 1].answer[0]);
                std::vector<uint8_t> w2;
                more.to_wire(w2);
                EXPECT_GT(w2.size(), limit);
            }
            records += msgs[i].answer.size();
            for (const auto& r : msgs[i].answer)
                seen.insert(r.to_text());
            rx.feed(dns::message::parse(wire));
        }
        EXPECT_EQ(msgs.front().answer.front().type, t::SOA);
        EXPECT_EQ(msgs.back().answer.back().type, t::SOA);
        EXPECT_EQ(records, zone.size() + 1);  // the SOA twice
        EXPECT_EQ(seen.size(), zone.size());
        rx.finish();
        ASSERT_EQ(rx.result(), xfr_receiver::kind::axfr);
        EXPECT_EQ(texts(rx.zone()), texts(zone));
    }
}

// An IXFR of a small change to a large zone carries only the change.
TEST(Xfr, SmallChangeToLargeZone) {
    auto before = big_zone(20000);
    dns::zone_diff d;
    d.from_serial = 42;
    d.to_serial = 43;
    d.removed.push_back(before[*zone::find_soa(before)].to_rr());
    dns::rr new_soa = d.removed[0];
    zone::set_soa_serial(new_soa.rdata, 43);
    d.added.push_back(new_soa);
    for (int i = 0; i < 50; ++i) {
        d.removed.push_back(dns::rr::from_text("host" + std::to_string(i) +
                                               ".example. 300 IN A 192.0.2." + std::to_string(i)));
        d.added.push_back(dns::rr::from_text("host" + std::to_string(i) +
                                             ".example. 300 IN A 198.51.100." + std::to_string(i)));
    }
    auto after = zone::apply(before, d);
    std::vector<dns::zone_diff> journal = {d};
    dns::message query = xfr_query(t::IXFR, "example.");
    query.authority.push_back(d.removed[0]);  // the client's SOA, serial 42
    auto msgs = collect(
        [&](const zone::emit_fn& e) { zone::ixfr_out(after, journal, query, 65535, false, e); });
    ASSERT_EQ(msgs.size(), 1u);
    EXPECT_EQ(msgs[0].answer.size(), 1u + 51u + 51u + 1u);
    xfr_receiver rx(dns::name::from_text("example."), t::IXFR, 42u);
    rx.feed(over_wire(msgs[0]));
    ASSERT_EQ(rx.result(), xfr_receiver::kind::ixfr);
    EXPECT_EQ(rx.records(), 1u + 51u + 51u);  // the final SOA is not stored
    EXPECT_EQ(texts(zone::apply(before, rx.diffs()[0])), texts(after));
}

struct bad_stream {
    const char* what;
    uint16_t qtype;
    std::optional<uint32_t> serial;
    std::vector<std::vector<std::string>> messages;
    bool fails_in_feed;  // else: feed accepts, finish() refuses
};

TEST(Xfr, MalformedStreamsRefused) {
    const std::string outside = "www.example.com. 3600 IN A 192.0.2.1";
    const std::vector<bad_stream> cases = {
        {"missing final SOA", t::AXFR, {}, {{soa(3), ns, ns_a}}, false},
        {"missing final SOA over messages", t::AXFR, {}, {{soa(3), ns}, {ns_a}}, false},
        {"IXFR missing final SOA", t::IXFR, 1u, {{soa(3), soa(1), nezu, soa(3), bb3}}, false},
        {"empty stream", t::AXFR, {}, {}, false},
        {"does not start with SOA", t::AXFR, {}, {{ns, soa(3), ns_a, soa(3)}}, true},
        {"record outside the zone", t::AXFR, {}, {{soa(3), ns, outside, soa(3)}}, true},
        {"record outside the zone in IXFR",
         t::IXFR,
         1u,
         {{soa(3), soa(1), outside, soa(3), soa(3)}},
         true},
        {"final SOA differs", t::AXFR, {}, {{soa(3), ns, soa(4)}}, true},
        {"AXFR with a second, older SOA", t::AXFR, {}, {{soa(3), soa(1), ns, soa(3)}}, true},
        {"serial going backwards",
         t::IXFR,
         1u,
         {{soa(3), soa(1), nezu, soa(2), bb4, soa(2), soa(1), bb3, soa(3)}},
         true},
        {"difference not from our serial",
         t::IXFR,
         1u,
         {{soa(3), soa(2), bb4, soa(3), bb3, soa(3)}},
         true},
        {"differences do not chain",
         t::IXFR,
         1u,
         {{soa(3), soa(1), nezu, soa(2), bb4, soa(4), bb3, soa(3)}},
         true},
        {"difference past the zone's serial",
         t::IXFR,
         1u,
         {{soa(3), soa(1), nezu, soa(5), bb3, soa(3)}},
         true},
        {"records after the final SOA", t::AXFR, {}, {{soa(3), ns, soa(3), ns_a}}, true},
        {"message after the final SOA", t::AXFR, {}, {{soa(3), ns, soa(3)}, {ns_a}}, true},
        {"SOA below the apex",
         t::AXFR,
         {},
         {{soa(3), "sub.jain.ad.jp. 60 IN SOA a. b. 1 1 1 1 1", soa(3)}},
         true},
        {"first message empty", t::AXFR, {}, {{}}, true},
    };
    for (const auto& c : cases) {
        xfr_receiver rx(jain, c.qtype, c.serial);
        bool threw = false;
        try {
            for (const auto& m : c.messages)
                rx.feed(response(m, c.qtype));
        } catch (const xfr_error& e) {
            threw = true;
            EXPECT_NE(std::string(e.what()).find("jain.ad.jp."), std::string::npos) << e.what();
        }
        EXPECT_EQ(threw, c.fails_in_feed) << c.what;
        if (!threw) {
            EXPECT_THROW(rx.finish(), xfr_error) << c.what;
        }
        EXPECT_NE(rx.result(), xfr_receiver::kind::axfr) << c.what;
        EXPECT_NE(rx.result(), xfr_receiver::kind::ixfr) << c.what;
    }
}

TEST(Xfr, BadHeadersRefused) {
    auto feed_one = [](dns::message m, std::optional<uint16_t> id = {}) {
        xfr_receiver rx(jain, t::AXFR, std::nullopt, id);
        rx.feed(m);
    };
    auto good = response({soa(3), ns, soa(3)}, t::AXFR);
    EXPECT_NO_THROW(feed_one(good, 4242));
    auto m = good;
    m.rcode = dns::rcode::NOTAUTH;
    EXPECT_THROW(feed_one(m), xfr_error);
    EXPECT_THROW(feed_one(good, 1), xfr_error);  // wrong ID
    m = good;
    m.qr = false;
    EXPECT_THROW(feed_one(m), xfr_error);
    m = good;
    m.tc = true;
    EXPECT_THROW(feed_one(m), xfr_error);
    m = good;
    m.questions[0].qname = dns::name::from_text("other.jp.");  // wrong zone
    EXPECT_THROW(feed_one(m), xfr_error);
    m = good;
    m.questions[0].qtype = t::IXFR;
    EXPECT_THROW(feed_one(m), xfr_error);
    m = good;
    m.answer[1].rclass = dns::rr_class::CH;
    EXPECT_THROW(feed_one(m), xfr_error);
}

TEST(Xfr, LimitsStopAHostilePrimary) {
    zone::xfr_limits limits;
    limits.max_records = 100;
    xfr_receiver rx(dns::name::from_text("example."), t::AXFR, std::nullopt, std::nullopt, limits);
    auto zone = big_zone(200);
    auto msgs = collect([&](const zone::emit_fn& e) {
        zone::axfr_out(zone, xfr_query(t::AXFR, "example."), 4096, e);
    });
    EXPECT_THROW(
        {
            for (const auto& m : msgs)
                rx.feed(m);
        },
        xfr_error);
    EXPECT_THROW(rx.feed(msgs.back()), xfr_error);  // spent

    limits = {};
    limits.max_bytes = 2000;
    xfr_receiver bytes(dns::name::from_text("example."), t::AXFR, std::nullopt, std::nullopt,
                       limits);
    EXPECT_THROW(
        {
            for (const auto& m : msgs)
                bytes.feed(m);
        },
        xfr_error);
}

}  // namespace
