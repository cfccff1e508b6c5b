// Per-type round trips: presentation -> wire -> presentation, wire -> presentation, and
// malformed RDATA refused, in text and in wire form.
#include "dns/rdata.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include <string>
#include <vector>

#include "dns/error.h"
#include "dns/record_store.h"
#include "dns/rr.h"
#include "test_util.h"

using hsync::test::hex;
using hsync::test::unhex;

using namespace hsync::dns;

namespace {

std::vector<uint8_t> parse(uint16_t type, const std::string& text) {
    auto tokens = tokenize_line(text);
    std::vector<uint8_t> out;
    rdata_from_text(type, tokens, name::from_text("example."), out);
    return out;
}

std::string print(uint16_t type, std::span<const uint8_t> rdata) {
    std::string s;
    rdata_to_text(type, rdata, s);
    return s;
}

struct text_case {
    uint16_t type;
    const char* in;    // presentation input (relative names against "example.")
    const char* wire;  // expected RDATA in hex
    const char* out;   // expected presentation output; nullptr: same as `in`
};

const text_case cases[] = {
    {rr_type::A, "192.0.2.1", "c0000201", nullptr},
    {rr_type::NS, "ns1", "036e7331076578616d706c6500", "ns1.example."},
    {rr_type::CNAME, "target.example.", "06746172676574076578616d706c6500", nullptr},
    {rr_type::SOA, "ns hostmaster 2024010101 1h 15m 1w 300",
     "026e73076578616d706c65000a686f73746d6173746572076578616d706c650078a3f17500000e1000000384"
     "00093a800000012c",
     "ns.example. hostmaster.example. 2024010101 3600 900 604800 300"},
    {rr_type::PTR, "host.example.", "04686f7374076578616d706c6500", nullptr},
    {rr_type::MX, "10 mail.example.", "000a046d61696c076578616d706c6500", nullptr},
    {rr_type::TXT, "\"v=spf1 -all\"", "0b763d73706631202d616c6c", nullptr},
    {rr_type::TXT, "\"a b\" \"c\\\"d\" e", "03612062036322640165", "\"a b\" \"c\\\"d\" \"e\""},
    {rr_type::TXT, "\"\\255\\000\"", "02ff00", "\"\\255\\000\""},
    {rr_type::AAAA, "2001:db8::1", "20010db8000000000000000000000001", nullptr},
    {rr_type::AAAA, "::ffff:192.0.2.1", "00000000000000000000ffffc0000201", nullptr},
    {rr_type::SRV, "0 5 5060 sip.example.", "000000051 3c4037369 70076578616d706c6500", nullptr},
    {rr_type::NAPTR, "100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.example.",
     "0064000a 0153 075349502b443255 00 045f736970045f756470076578616d706c6500", nullptr},
    {rr_type::DNAME, "other.example.", "056f74686572076578616d706c6500", nullptr},
    {rr_type::DS, "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118",
     "ec4505012bb183af5f22588179a53b0a98631fad1a292118", nullptr},
    {rr_type::DS, "60485 RSASHA1 1 2bb183af5f22588179a53b0a 98631fad1a292118",
     "ec4505012bb183af5f22588179a53b0a98631fad1a292118",
     "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"},
    {rr_type::SSHFP, "4 2 123456789ABCDEF0", "0402123456789abcdef0", nullptr},
    {rr_type::RRSIG, "A 13 2 3600 20240201000000 20240101000000 12345 example. AAECAw==",
     "0001 0d 02 00000e10 65badf00 65920080 3039 076578616d706c6500 00010203", nullptr},
    {rr_type::NSEC, "host.example. A RRSIG NSEC TYPE1234",
     "04686f7374076578616d706c6500 0006400000000003 041b"
     "0000000000000000000000000000000000000000000000000000 20",
     nullptr},
    {rr_type::DNSKEY, "257 3 13 AQID BA==", "0101030d01020304", "257 3 13 AQIDBA=="},
    {rr_type::NSEC3, "1 1 12 AABBCCDD 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR A RRSIG",
     "0101000c 04aabbccdd 14174eb2409fe28bcb4887a1836f957f0a8425e27b 0006400000000002", nullptr},
    {rr_type::NSEC3, "1 0 0 - 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR",
     "01000000 00 14174eb2409fe28bcb4887a1836f957f0a8425e27b", nullptr},
    {rr_type::NSEC3PARAM, "1 0 10 AABBCCDD", "0100000a04aabbccdd", nullptr},
    {rr_type::NSEC3PARAM, "1 0 0 -", "0100000000", nullptr},
    {rr_type::TLSA, "3 1 1 ABCDEF", "030101abcdef", nullptr},
    {rr_type::CDS, "0 0 0 00", "0000000000", nullptr},
    {rr_type::CDNSKEY, "0 3 0 AA==", "0000030000", nullptr},
    {rr_type::CSYNC, "66 3 A NS AAAA", "00000042 0003 000460000008", nullptr},
    {rr_type::ZONEMD, "2018031900 1 1 FEBE3D4CE2EC2FFA4BA9", "7848b91c0101febe3d4ce2ec2ffa4ba9",
     nullptr},
    {rr_type::SVCB, "1 . alpn=\"h2,h3\" port=8443 ipv4hint=192.0.2.1,192.0.2.2",
     "0001 00 0001 0006 02683202 6833 0003 0002 20fb 0004 0008 c0000201 c0000202",
     "1 . alpn=\"h2,h3\" port=8443 ipv4hint=192.0.2.1,192.0.2.2"},
    {rr_type::HTTPS, "0 svc.example.", "0000 03737663076578616d706c6500", nullptr},
    {rr_type::HTTPS,
     "1 . mandatory=alpn alpn=h3 no-default-alpn ipv6hint=2001:db8::1 key65000=\"x\"",
     "0001 00 0000 0002 0001 0001 0003 026833 0002 0000 0006 0010 20010db8000000000000000000000001"
     " fde8 0001 78",
     "1 . mandatory=alpn alpn=\"h3\" no-default-alpn ipv6hint=2001:db8::1 key65000=\"x\""},
    {rr_type::CAA, "0 issue \"ca.example.net\"", "0005 6973737565 63612e6578616d706c652e6e6574",
     nullptr},
    {rr_type::URI, "10 1 \"https://www.example.com/path\"",
     "000a0001 68747470733a2f2f7777772e6578616d706c652e636f6d2f70617468", nullptr},
    {rr_type::KEY, "512 3 15 AAEC", "0200030f000102", nullptr},
    {rr_type::SIG, "TYPE0 15 0 0 20240201000000 20240101000000 12345 sig0.example. AAEC",
     "0000 0f 00 00000000 65badf00 65920080 3039 0473696730076578616d706c6500 000102", nullptr},
    {rr_type::TSIG, "hmac-sha256. 1700000000 300 4 AAECAw== 4660 NOERROR 0",
     "0b686d61632d73686132353600 00006553f100 012c 0004 00010203 1234 0000 0000", nullptr},
    {rr_type::TSIG, "hmac-sha256. 1700000000 300 0 4660 BADTIME 6 AAAAAAAA",
     "0b686d61632d73686132353600 00006553f100 012c 0000 1234 0012 0006 000000000000", nullptr},
    {rr_type::HINFO, "\"PC\" \"Linux\"", "0250430 54c696e7578", nullptr},
    {rr_type::HSYNC_DEFAULT, "ON AGENT YES agent.p1.example.",
     "010201 056167656e74027031076578616d706c6500", nullptr},
    {rr_type::HSYNC_DEFAULT, "off owner no agent.p2", "020102 056167656e74027032076578616d706c6500",
     "OFF OWNER NO agent.p2.example."},
    {rr_type::HSYNC_DEFAULT, "1 2 2 a.", "010202 016100", "ON AGENT NO a."},
    {rr_type::HSYNC_DEFAULT, "200 1 1 a.", "c80101 016100", "200 OWNER YES a."},
    {65534, "\\# 3 ABCDEF", "abcdef", "\\# 3 abcdef"},
    {65534, "\\# 0", "", "\\# 0"},
    {rr_type::A, "\\# 4 C0000201", "c0000201", "192.0.2.1"},
    {rr_type::HSYNC_DEFAULT, "\\# 6 010101 016100", "010101016100", "ON OWNER YES a."},
};

}  // namespace

TEST(Rdata, PresentationAndWireRoundTrips) {
    for (const auto& c : cases) {
        SCOPED_TRACE(type_to_text(c.type) + " " + c.in);
        std::vector<uint8_t> wire = parse(c.type, c.in);
        std::string want_wire = c.wire;
        std::erase(want_wire, ' ');
        std::erase(want_wire, '\n');
        EXPECT_EQ(hex(wire), want_wire);
        std::string out = print(c.type, wire);
        EXPECT_EQ(out, c.out ? c.out : c.in);
        // Printing is a fixed point: the output parses back to the same wire form.
        EXPECT_EQ(hex(parse(c.type, out)), hex(wire));
        // Wire form read from a message gives the same RDATA and checks cleanly.
        std::vector<uint8_t> from_wire;
        wire_reader reader(wire);
        if (!wire.empty()) rdata_from_wire(c.type, reader, wire.size(), from_wire);
        EXPECT_EQ(from_wire, wire);
        EXPECT_NO_THROW(rdata_check(c.type, wire));
    }
}

TEST(Rdata, BadPresentationRefused) {
    struct {
        uint16_t type;
        const char* in;
    } bad[] = {
        {rr_type::A, "192.0.2"},
        {rr_type::A, "192.0.2.1 extra"},
        {rr_type::A, ""},
        {rr_type::AAAA, "2001:db8::g"},
        {rr_type::MX, "65536 mail."},
        {rr_type::MX, "10"},
        {rr_type::TXT, ""},
        {rr_type::DS, "1 13 2 ABC"},
        {rr_type::DS, "12345 13 2 abcd"},
        {rr_type::CDS, "12345 13 4 abcd"},
        {rr_type::DNSKEY, "257 3 13 not*base64"},
        {rr_type::NSEC, "a.example. NOTATYPE"},
        {rr_type::NSEC3, "1 1 0 - 2T7B4G4VSA5SMI47K61MV5BV1A22BOJW A"},
        {rr_type::SVCB, "1 . alpn"},
        {rr_type::SVCB, "1 . port=1 port=2"},
        {rr_type::SVCB, "1 . mandatory=ipv4hint"},
        {rr_type::SVCB, "1 . foo=bar"},
        {rr_type::CAA, "0 is-sue \"x\""},
        {rr_type::RRSIG, "A 13 2 3600 2024020100000 20240101000000 1 example. AA=="},
        {rr_type::HSYNC_DEFAULT, "0 AGENT YES a."},
        {rr_type::HSYNC_DEFAULT, "3 AGENT YES a."},
        {rr_type::HSYNC_DEFAULT, "ON 3 YES a."},
        {rr_type::HSYNC_DEFAULT, "ON AGENT 0 a."},
        {rr_type::HSYNC_DEFAULT, "ON AGENT MAYBE a."},
        {rr_type::HSYNC_DEFAULT, "ON AGENT YES"},
        {rr_type::HSYNC_DEFAULT, "ON AGENT YES a. b."},
        {rr_type::HSYNC_DEFAULT, "\\# 6 000101016100"},
        {rr_type::HSYNC_DEFAULT, "\\# 5 0101010161"},
        {rr_type::A, "\\# 3 C00002"},
        {rr_type::A, "\\# 4 C00002"},
        {65534, "abc"},
    };
    for (const auto& c : bad) {
        SCOPED_TRACE(type_to_text(c.type) + " '" + c.in + "'");
        EXPECT_THROW(parse(c.type, c.in), text_error);
    }
    EXPECT_THROW(parse(rr_type::TXT, std::string(256, 'x')), text_error);
    EXPECT_NO_THROW(parse(rr_type::TXT, std::string(255, 'x')));
}

TEST(Rdata, MalformedWireRefused) {
    struct {
        uint16_t type;
        const char* wire;
    } bad[] = {
        {rr_type::A, "c00002"},
        {rr_type::A, "c000020101"},
        {rr_type::MX, "000a"},
        {rr_type::MX, "000a 04 6d61696c"},
        {rr_type::TXT, "05 6162"},
        {rr_type::SOA, "00 00 00000001"},
        {rr_type::NSEC, "00 0003 0006"},        // bitmap window runs past RDATA
        {rr_type::NSEC, "00 0001 40 0000 40"},  // windows out of order
        {rr_type::NSEC,
         "00 0021 "
         "00"},  // window length 33
        {rr_type::HSYNC_DEFAULT, "000101 00"},
        {rr_type::HSYNC_DEFAULT, "010301 00"},
        {rr_type::HSYNC_DEFAULT, "010101 c000"},  // compressed identity is not allowed
        {rr_type::SVCB, "0001 00 0003 0001 00"},
        {rr_type::SVCB, "0001 00 0003 0002 0050 0001 0001 00"},  // keys out of order
        {rr_type::RRSIG, "0001 0d 02 00000e10 65badf00 65920080 3039 c000 00"},
    };
    for (const auto& c : bad) {
        SCOPED_TRACE(type_to_text(c.type) + " " + c.wire);
        std::vector<uint8_t> w = unhex(c.wire);
        std::vector<uint8_t> out;
        wire_reader reader(w);
        EXPECT_THROW(rdata_from_wire(c.type, reader, w.size(), out), wire_error);
        EXPECT_THROW(rdata_check(c.type, w), wire_error);
    }
}

TEST(Rdata, CompressionOnlyForRfc1035Types) {
    std::vector<uint8_t> msg;
    wire_writer w(msg);
    w.name(name::from_text("example."), true);  // offset 0
    auto mx = parse(rr_type::MX, "10 mail.example.");
    auto srv = parse(rr_type::SRV, "0 0 1 mail.example.");
    auto hs = parse(rr_type::HSYNC_DEFAULT, "ON AGENT YES agent.example.");
    size_t mx_at = msg.size();
    rdata_to_wire(rr_type::MX, mx, w, true);
    EXPECT_EQ(hex({msg.data() + mx_at, msg.size() - mx_at}), "0009000a046d61696cc000");
    size_t srv_at = msg.size();
    rdata_to_wire(rr_type::SRV, srv, w, true);
    EXPECT_EQ(msg.size() - srv_at, 2 + srv.size());
    size_t hs_at = msg.size();
    rdata_to_wire(rr_type::HSYNC_DEFAULT, hs, w, true);
    EXPECT_EQ(msg.size() - hs_at, 2 + hs.size());
    // The compressed MX reads back decompressed.
    wire_reader r(msg, mx_at + 2);
    std::vector<uint8_t> back;
    rdata_from_wire(rr_type::MX, r, 9, back);
    EXPECT_EQ(back, mx);
}

TEST(Rdata, CanonicalFormLowercasesListedTypesOnly) {
    auto mx = parse(rr_type::MX, "10 MAIL.Example.");
    rdata_canonicalize(rr_type::MX, mx);
    EXPECT_EQ(print(rr_type::MX, mx), "10 mail.example.");
    auto nsec = parse(rr_type::NSEC, "HOST.Example. A");
    rdata_canonicalize(rr_type::NSEC, nsec);  // RFC 6840 §5.1: NSEC keeps its case
    EXPECT_EQ(print(rr_type::NSEC, nsec), "HOST.Example. A");
    auto hs = parse(rr_type::HSYNC_DEFAULT, "ON AGENT YES Agent.P1.Example.");
    rdata_canonicalize(rr_type::HSYNC_DEFAULT, hs);
    EXPECT_EQ(print(rr_type::HSYNC_DEFAULT, hs), "ON AGENT YES agent.p1.example.");
    auto txt = parse(rr_type::TXT, "ABC");
    rdata_canonicalize(rr_type::TXT, txt);
    EXPECT_EQ(print(rr_type::TXT, txt), "\"ABC\"");
}

TEST(Rdata, TypeAndClassMnemonics) {
    EXPECT_EQ(type_from_text("hsync"), rr_type::HSYNC_DEFAULT);
    EXPECT_EQ(type_from_text("TYPE65290"), rr_type::HSYNC_DEFAULT);
    EXPECT_EQ(type_to_text(65290), "HSYNC");
    EXPECT_EQ(type_to_text(65280), "TYPE65280");
    EXPECT_EQ(type_from_text("type1"), rr_type::A);
    EXPECT_THROW(type_from_text("TYPE65536"), text_error);
    EXPECT_THROW(type_from_text("BOGUS"), text_error);
    uint16_t c;
    EXPECT_TRUE(class_from_text("CLASS1", c));
    EXPECT_EQ(c, rr_class::IN);
    EXPECT_EQ(class_to_text(42), "CLASS42");
}

TEST(Rr, TextLineAndGenericForm) {
    rr r = rr::from_text("example. 3600 IN HSYNC ON AGENT YES agent.p1.example.");
    EXPECT_EQ(r.to_generic_text(),
              "example.\t3600\tIN\tTYPE65290\t\\# 21 010201056167656e74027031076578616d706c6500");
    rr back = rr::from_text(r.to_generic_text());
    EXPECT_EQ(back.to_text(), "example.\t3600\tIN\tHSYNC\tON AGENT YES agent.p1.example.");
    rr r2 = rr::from_text("www IN 300 A 192.0.2.1", name::from_text("example."));
    EXPECT_EQ(r2.to_text(), "www.example.\t300\tIN\tA\t192.0.2.1");
    EXPECT_THROW(rr::from_text("www.example. 300 IN"), text_error);
}

TEST(RecordStore, RrsigTtlFollowsTheRrsetItCovers) {
    record_store store;
    name origin = name::from_text("example.");
    store.add(rr::from_text(
        "example. 3600 IN RRSIG SOA 13 1 3600 20240201000000 20240101000000 1 example. AA==",
        origin));
    store.add(rr::from_text(
        "example. 300 IN RRSIG NSEC 13 1 300 20240201000000 20240101000000 1 example. AA==",
        origin));
    store.add(rr::from_text("example. 600 IN A 192.0.2.1", origin));
    store.add(rr::from_text("example. 900 IN A 192.0.2.2", origin));
    size_t fixes = 0;
    EXPECT_EQ(store.sort(&fixes), 0u);
    EXPECT_EQ(fixes, 1u);  // the second A takes the first A's TTL
    for (size_t i = 0; i < store.size(); ++i) {
        auto r = store[i];
        if (r.type == rr_type::A) EXPECT_EQ(r.ttl, 600u);
        if (r.type == rr_type::RRSIG) EXPECT_EQ(r.ttl, r.rdata[1] == rr_type::SOA ? 3600u : 300u);
    }
}

TEST(RecordStore, SortIsCanonicalNameOrder) {
    // Owners with the octets the sort key escapes (0 and 1), case, and prefixes.
    const char* owners[] = {"a.example.",          "\\000.example.",      "\\001.example.",
                            "\\001\\000.example.", "\\000\\001.example.", "\\002.example.",
                            "A.b.example.",        "ab.example.",         "example.",
                            "*.example.",          "z.example.",          "\\255.example.",
                            "a.\\000.example.",    "yljkjljk.a.example.", "Z.a.example."};
    std::mt19937 rng(7);
    for (int round = 0; round < 20; ++round) {
        std::vector<std::string> shuffled(std::begin(owners), std::end(owners));
        std::shuffle(shuffled.begin(), shuffled.end(), rng);
        record_store store;
        for (const auto& o : shuffled)
            store.add(rr::from_text(o + " 300 IN A 192.0.2.1", name::from_text("example.")));
        store.sort();
        ASSERT_EQ(store.size(), std::size(owners));
        for (size_t i = 1; i < store.size(); ++i)
            EXPECT_LT(canonical_compare(store[i - 1].owner, store[i].owner), 0)
                << store[i - 1].owner_name().to_text() << " before "
                << store[i].owner_name().to_text();
    }
}
