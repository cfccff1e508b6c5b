// RRSIG signed data, validity windows, wildcard labels, type bit maps and NSEC3 hashes,
// with known answers from RFC 5155 Appendix A, RFC 8080 §6 and RFC 4034 §4.3.
#include "dnssec/rrsig.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dns/rr.h"
#include "dns/text.h"
#include "dnssec/nsec.h"

using namespace hsync;
using dns::name;
using dnssec::key;

namespace {

name n(const char* text) {
    return name::from_text(text);
}

dns::rr rr(const char* line) {
    return dns::rr::from_text(line);
}

std::vector<uint8_t> b64(std::string_view text) {
    std::vector<uint8_t> out;
    dns::parse_base64(text, out);
    return out;
}

std::vector<std::span<const uint8_t>> spans(const std::vector<dns::rr>& set) {
    std::vector<std::span<const uint8_t>> out;
    for (const auto& r : set)
        out.emplace_back(r.rdata);
    return out;
}

}  // namespace

TEST(Nsec3Hash, Rfc5155AppendixA) {
    // RFC 5155 Appendix A: salt aabbccdd, 12 additional iterations.
    const std::vector<uint8_t> salt = {0xaa, 0xbb, 0xcc, 0xdd};
    struct {
        const char* owner;
        const char* hash;
    } cases[] = {
        {"example.", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"},
        {"a.example.", "35mthgpgcu1qg68fab165klnsnk3dpvl"},
        {"ai.example.", "gjeqe526plbf1g8mklp59enfd789njgi"},
        {"ns1.example.", "2t7b4g4vsa5smi47k61mv5bv1a22bojr"},
        {"ns2.example.", "q04jkcevqvmu85r014c7dkba38o0ji5r"},
        {"w.example.", "k8udemvp1j2f7eg6jebps17vp3n8i58h"},
        {"*.w.example.", "r53bq7cc2uvmubfu5ocmm6pers9tk9en"},
        {"x.w.example.", "b4um86eghhds6nea196smvmlo4ors995"},
        {"y.w.example.", "ji6neoaepv8b5o6k4ev33abha8ht9fgc"},
        {"x.y.w.example.", "2vptu5timamqttgl4luu9kg21e0aor3s"},
        {"xx.example.", "t644ebqk9bibcna874givr6joj62mlhv"},
        {"XX.EXAMPLE.", "t644ebqk9bibcna874givr6joj62mlhv"},  // hashed in canonical form
    };
    dnssec::nsec3_hasher hasher(12, salt);
    for (const auto& c : cases) {
        EXPECT_EQ(dnssec::nsec3_label(dnssec::nsec3_hash(n(c.owner), 12, salt)), c.hash) << c.owner;
        EXPECT_EQ(dnssec::nsec3_label(hasher(n(c.owner).wire())), c.hash) << c.owner;
    }
    EXPECT_EQ(
        dnssec::nsec3_owner(dnssec::nsec3_hash(n("example."), 12, salt), n("example.")).to_text(),
        "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example.");
    // Different parameters, different hash.
    EXPECT_NE(dnssec::nsec3_label(dnssec::nsec3_hash(n("example."), 0, {})),
              "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom");
}

TEST(TypeBitmap, Rfc4034Section4_3) {
    // host.example.com. NSEC ( A MX RRSIG NSEC TYPE1234 )
    std::vector<uint16_t> types = {1, 15, 46, 47, 1234};
    std::vector<uint8_t> bitmap;
    dnssec::append_type_bitmap(types, bitmap);
    std::vector<uint8_t> expected = {0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03, 0x04, 0x1b,
                                     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20};
    EXPECT_EQ(bitmap, expected);
    EXPECT_EQ(dnssec::parse_type_bitmap(bitmap), types);
    // Order and duplicates of the input do not matter.
    std::vector<uint16_t> shuffled = {1234, 47, 1, 46, 15, 1};
    std::vector<uint8_t> again;
    dnssec::append_type_bitmap(shuffled, again);
    EXPECT_EQ(again, expected);
    EXPECT_THROW(dnssec::parse_type_bitmap(std::vector<uint8_t>{0x00, 0x00}), dns::wire_error);
    EXPECT_THROW(dnssec::parse_type_bitmap(std::vector<uint8_t>{0x00, 0x02, 0x40}),
                 dns::wire_error);
}

TEST(Rrsig, Ed25519KnownAnswerRfc8080) {
    // RFC 8080 §6.1: Ed25519 is deterministic, so the signature is a known answer.
    auto priv = b64("ODIyNjAzODQ2MjgwODAxMjI2NDUxOTAyMDQxNDIyNjI=");
    auto signer = dnssec::software_signer::from_private_bytes(15, priv);
    key k = key::from_signer(n("example.com."), 257, std::move(signer));
    EXPECT_EQ(k.tag(), 3613);
    std::vector<dns::rr> set = {rr("example.com. 3600 IN MX 10 mail.example.com.")};
    auto sig = dnssec::sign_rrset(k, set, 1438207200, 1440021600);
    auto f = dnssec::rrsig_fields::parse(sig.rdata);
    EXPECT_EQ(f.labels, 2);
    EXPECT_EQ(f.key_tag, 3613);
    EXPECT_EQ(f.signature, b64("oL9krJun7xfBOIWcGHi7mag5/"
                               "hdZrKWw15jPGrHpjQeRAvTdszaPD+QLs3fx8A4M3e23mRZ9VrbpMngwcrqNAg=="));
    std::vector<key> keys = {k};
    EXPECT_TRUE(dnssec::verify_rrsig(sig, set, keys, 1439000000).ok());
}

TEST(Rrsig, WildcardLabels) {
    EXPECT_EQ(dnssec::rrsig_labels(n("example.")), 1);
    EXPECT_EQ(dnssec::rrsig_labels(n("a.b.example.")), 3);
    EXPECT_EQ(dnssec::rrsig_labels(n("*.w.example.")), 2);  // "*" is not counted
    EXPECT_EQ(dnssec::rrsig_labels(n(".")), 0);

    key k = key::generate(n("example."), dnssec::algorithm::ECDSAP256SHA256, dnssec::key_role::zsk);
    std::vector<key> keys = {k};
    std::vector<dns::rr> wild = {rr("*.w.example. 3600 IN MX 1 ai.example.")};
    auto sig = dnssec::sign_rrset(k, wild, 1000, 2000);
    EXPECT_EQ(dnssec::rrsig_fields::parse(sig.rdata).labels, 2);
    // The answer synthesised for x.y.w.example. verifies with the wildcard's RRSIG
    // (RFC 4035 §5.3.2: the owner is rebuilt as "*." + the rightmost 2 labels).
    std::vector<dns::rr> expanded = {rr("x.Y.w.example. 3600 IN MX 1 ai.example.")};
    EXPECT_TRUE(dnssec::verify_rrsig(sig, expanded, keys, 1500).ok());
    // Not for a name outside the wildcard's parent.
    std::vector<dns::rr> elsewhere = {rr("x.v.example. 3600 IN MX 1 ai.example.")};
    auto r = dnssec::verify_rrsig(sig, elsewhere, keys, 1500);
    EXPECT_EQ(r.status, dnssec::verify_status::bad_signature) << r.reason;
    // A labels field larger than the owner's is refused.
    std::vector<dns::rr> short_owner = {rr("example. 3600 IN MX 1 ai.example.")};
    EXPECT_EQ(dnssec::verify_rrsig(sig, short_owner, keys, 1500).status,
              dnssec::verify_status::bad_labels);
}

TEST(Rrsig, SerialArithmeticWindows) {
    using dnssec::serial_lt;
    EXPECT_TRUE(serial_lt(1, 2));
    EXPECT_FALSE(serial_lt(2, 1));
    EXPECT_FALSE(serial_lt(5, 5));
    EXPECT_TRUE(serial_lt(0xffffff00u, 0x10u));  // across the wrap (RFC 1982 §3.2)
    EXPECT_FALSE(serial_lt(0x10u, 0xffffff00u));

    key k = key::generate(n("example."), dnssec::algorithm::ED25519, dnssec::key_role::zsk);
    std::vector<key> keys = {k};
    std::vector<dns::rr> set = {rr("example. 300 IN A 192.0.2.1")};
    // A window spanning the 2^32 wrap (year 2106).
    auto sig = dnssec::sign_rrset(k, set, 0xffffff00u, 0x00000100u);
    EXPECT_TRUE(dnssec::verify_rrsig(sig, set, keys, 0xffffff80u).ok());
    EXPECT_TRUE(dnssec::verify_rrsig(sig, set, keys, 0x00000010u).ok());
    EXPECT_EQ(dnssec::verify_rrsig(sig, set, keys, 0x00000200u).status,
              dnssec::verify_status::expired);
    EXPECT_EQ(dnssec::verify_rrsig(sig, set, keys, 0xfffff000u).status,
              dnssec::verify_status::not_yet_valid);
    // Bounds are inclusive (RFC 4035 §5.3.1).
    EXPECT_TRUE(dnssec::verify_rrsig(sig, set, keys, 0xffffff00u).ok());
    EXPECT_TRUE(dnssec::verify_rrsig(sig, set, keys, 0x00000100u).ok());
    auto expired = dnssec::verify_rrsig(sig, set, keys, 0x00000101u);
    EXPECT_NE(expired.reason.find("expired"), std::string::npos) << expired.reason;
}

TEST(Rrsig, CanonicalRdataOrderAndDuplicates) {
    // RFC 4034 §6.2/§6.3: names lower-cased, RRs sorted by RDATA, duplicates dropped, so
    // any order, case and repetition of the same RRset signs the same data.
    dnssec::rrsig_fields f;
    f.type_covered = dns::rr_type::NS;
    f.algorithm = 13;
    f.labels = 1;
    f.original_ttl = 3600;
    f.signer = n("EXAMPLE.");
    std::vector<dns::rr> a = {rr("example. 3600 IN NS b.example."),
                              rr("example. 3600 IN NS A.example."),
                              rr("example. 3600 IN NS a.EXAMPLE.")};
    std::vector<dns::rr> b = {rr("example. 60 IN NS a.example."),
                              rr("example. 60 IN NS b.example.")};
    std::vector<uint8_t> da, db;
    dnssec::append_signed_data(f, n("EXAMPLE."), dns::rr_class::IN, spans(a), da);
    dnssec::append_signed_data(f, n("example."), dns::rr_class::IN, spans(b), db);
    EXPECT_EQ(da, db);
    // Prefix (18 octets + signer "example.") then the RRs: a.example. before b.example.
    std::vector<uint8_t> expected = {0x00, 0x02, 13, 1, 0, 0, 0x0e, 0x10, 0,
                                     0,    0,    0,  0, 0, 0, 0,    0,    0};
    for (uint8_t c : std::string_view("\x07"
                                      "example\x00",
                                      9))
        expected.push_back(c);
    auto add_rr = [&](std::string_view target) {
        for (uint8_t c : std::string_view("\x07"
                                          "example\x00",
                                          9))
            expected.push_back(c);
        std::vector<uint8_t> tail = {0, 2,    0,    1, 0,
                                     0, 0x0e, 0x10, 0, static_cast<uint8_t>(target.size())};
        expected.insert(expected.end(), tail.begin(), tail.end());
        expected.insert(expected.end(), target.begin(), target.end());
    };
    add_rr(
        std::string_view("\x01"
                         "a\x07"
                         "example\x00",
                         11));
    add_rr(
        std::string_view("\x01"
                         "b\x07"
                         "example\x00",
                         11));
    EXPECT_EQ(da, expected);

    // Shorter RDATA sorts first when it is a prefix of the longer (§6.3).
    f.type_covered = dns::rr_type::TXT;
    std::vector<dns::rr> txt = {rr("example. 1 IN TXT \"ab\""), rr("example. 1 IN TXT \"a\"")};
    std::vector<uint8_t> dt;
    dnssec::append_signed_data(f, n("example."), dns::rr_class::IN, spans(txt), dt);
    std::vector<uint8_t> first_rdata = {0, 2, 1, 'a'};  // RDLENGTH 2, "\x01a"
    EXPECT_NE(std::search(dt.begin(), dt.end(), first_rdata.begin(), first_rdata.end()), dt.end());
    auto pos_a = std::search(dt.begin(), dt.end(), first_rdata.begin(), first_rdata.end());
    std::vector<uint8_t> second = {0, 3, 2, 'a', 'b'};
    auto pos_ab = std::search(dt.begin(), dt.end(), second.begin(), second.end());
    EXPECT_LT(pos_a, pos_ab);
}

TEST(Rrsig, VerifyReasons) {
    key k = key::generate(n("example."), dnssec::algorithm::ECDSAP256SHA256, dnssec::key_role::zsk);
    key other =
        key::generate(n("example."), dnssec::algorithm::ECDSAP256SHA256, dnssec::key_role::zsk);
    std::vector<key> keys = {k};
    std::vector<dns::rr> set = {rr("www.example. 300 IN A 192.0.2.1"),
                                rr("www.example. 300 IN A 192.0.2.2")};
    auto sig = dnssec::sign_rrset(k, set, 1000, 2000);
    EXPECT_TRUE(dnssec::verify_rrsig(sig, set, keys, 1500).ok());

    auto flipped = sig;
    flipped.rdata.back() ^= 0x01;
    auto r = dnssec::verify_rrsig(flipped, set, keys, 1500);
    EXPECT_EQ(r.status, dnssec::verify_status::bad_signature);
    EXPECT_NE(r.reason.find("bad signature"), std::string::npos);

    std::vector<dns::rr> changed = {rr("www.example. 300 IN A 192.0.2.1"),
                                    rr("www.example. 300 IN A 192.0.2.3")};
    EXPECT_EQ(dnssec::verify_rrsig(sig, changed, keys, 1500).status,
              dnssec::verify_status::bad_signature);
    // The TTL of the RRs does not matter, the original TTL does.
    std::vector<dns::rr> ttl = {rr("www.example. 10 IN A 192.0.2.2"),
                                rr("www.example. 10 IN A 192.0.2.1")};
    EXPECT_TRUE(dnssec::verify_rrsig(sig, ttl, keys, 1500).ok());

    std::vector<key> wrong = {other};
    EXPECT_EQ(dnssec::verify_rrsig(sig, set, wrong, 1500).status, dnssec::verify_status::no_key);
    std::vector<dns::rr> aaaa = {rr("www.example. 300 IN AAAA 2001:db8::1")};
    EXPECT_EQ(dnssec::verify_rrsig(sig, aaaa, keys, 1500).status,
              dnssec::verify_status::wrong_type);
    dns::rr garbage = sig;
    garbage.rdata.resize(10);
    EXPECT_EQ(dnssec::verify_rrsig(garbage, set, keys, 1500).status,
              dnssec::verify_status::malformed);
}

TEST(Nsec3Params, RoundTrip) {
    dnssec::nsec3_params p;
    p.iterations = 12;
    p.salt = {0xaa, 0xbb, 0xcc, 0xdd};
    auto wire = p.to_wire();
    EXPECT_EQ(wire, (std::vector<uint8_t>{1, 0, 0, 12, 4, 0xaa, 0xbb, 0xcc, 0xdd}));
    auto q = dnssec::nsec3_params::parse(wire);
    EXPECT_EQ(q.iterations, 12);
    EXPECT_EQ(q.salt, p.salt);
    std::vector<uint16_t> types = {1, 46};
    auto h = dnssec::nsec3_hash(n("example."), 0, {});
    auto rd = dnssec::nsec3_rdata(p, true, h, types);
    auto f = dnssec::nsec3_fields::parse(rd);
    EXPECT_EQ(f.flags, dnssec::nsec3_flag_opt_out);
    EXPECT_TRUE(std::equal(f.next_hash.begin(), f.next_hash.end(), h.begin(), h.end()));
    EXPECT_EQ(f.types, types);
}
