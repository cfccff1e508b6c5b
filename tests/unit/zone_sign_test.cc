// Whole-zone signing and verification: what is signed, the NSEC and NSEC3 chains (the
// RFC 5155 Appendix A zone as known answer), kept signatures, foreign DNSKEYs, and the
// verifier's reasons for broken zones.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "dns/record_store.h"
#include "dns/zonefile.h"
#include "dnssec/ds.h"
#include "dnssec/nsec.h"
#include "dnssec/rrsig.h"
#include "dnssec/zone_signer.h"
#include "dnssec/zone_verifier.h"

using namespace hsync;
using dns::name;
using dnssec::key;

namespace {

constexpr int64_t now = 1700000000;

name n(const char* text) {
    return name::from_text(text);
}

dns::record_store load(const std::string& text, const name& origin) {
    dns::record_store store;
    size_t errors = dns::zone_reader::from_memory(text, origin)
                        .read([&](const dns::rr& r) { store.add(r); },
                              [](const dns::zone_error& e) { ADD_FAILURE() << e.to_text(); });
    EXPECT_EQ(errors, 0u);
    store.sort();
    return store;
}

struct signed_zone {
    dns::record_store store;
    std::vector<dns::rr> records;  // in output order
    dnssec::sign_stats stats;
};

signed_zone sign(const dns::record_store& in, const name& origin, const std::vector<key>& keys,
                 dnssec::sign_options opt = {}) {
    signed_zone out;
    if (!opt.now) opt.now = now;
    out.stats = dnssec::sign_zone(in, origin, keys, opt, [&](const dns::record_view& v) {
        out.records.push_back(v.to_rr());
        out.store.add(v.to_rr());
    });
    out.store.sort();
    return out;
}

dnssec::zone_verify_report verify(const dns::record_store& zone, const name& origin,
                                  int64_t at = now) {
    dnssec::zone_verify_options opt;
    opt.now = at;
    return dnssec::verify_zone(zone, origin, opt);
}

std::string errors_of(const dnssec::zone_verify_report& r) {
    std::string s;
    for (const auto& e : r.errors)
        s += e + "\n";
    return s;
}

bool has_error(const dnssec::zone_verify_report& r, const std::string& needle) {
    return std::any_of(r.errors.begin(), r.errors.end(),
                       [&](const std::string& e) { return e.find(needle) != std::string::npos; });
}

std::vector<dns::rr> of(const signed_zone& z, const char* owner, uint16_t type,
                        uint16_t covered = 0) {
    std::vector<dns::rr> out;
    for (const auto& r : z.records)
        if (r.owner == n(owner) && r.type == type &&
            (!covered || dnssec::rrsig_type_covered(r.rdata) == covered))
            out.push_back(r);
    return out;
}

dns::record_store restore(const std::vector<dns::rr>& records) {
    dns::record_store s;
    for (const auto& r : records)
        s.add(r);
    s.sort();
    return s;
}

const char* zone_text = R"(
$TTL 3600
@        SOA ns1 hostmaster 1 7200 3600 1209600 300
@        NS ns1
@        MX 10 mail
ns1      A 192.0.2.1
mail     A 192.0.2.2
www      A 192.0.2.3
www      AAAA 2001:db8::3
*.wild   TXT "wildcard"
_443._tcp.www TLSA 3 1 1 aabbccdd
sub      NS ns.sub
ns.sub   A 192.0.2.9
secure   NS ns.other.net.
secure   DS 12345 13 2 aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899
)";

struct key_set {
    std::vector<key> keys;
    key_set() {
        keys.push_back(key::generate(n("example."), 13, dnssec::key_role::ksk));
        keys.push_back(key::generate(n("example."), 13, dnssec::key_role::zsk));
    }
};

}  // namespace

TEST(ZoneSign, NsecWhatIsSigned) {
    auto origin = n("example.");
    auto in = load(zone_text, origin);
    key_set ks;
    auto z = sign(in, origin, ks.keys);
    auto report = verify(z.store, origin);
    EXPECT_TRUE(report.ok()) << errors_of(report);
    EXPECT_FALSE(report.nsec3);

    // The DNSKEY RRset got both keys and is signed by the KSK only.
    EXPECT_EQ(of(z, "example.", dns::rr_type::DNSKEY).size(), 2u);
    auto dnskey_sigs = of(z, "example.", dns::rr_type::RRSIG, dns::rr_type::DNSKEY);
    ASSERT_EQ(dnskey_sigs.size(), 1u);
    EXPECT_EQ(dnssec::rrsig_fields::parse(dnskey_sigs[0].rdata).key_tag, ks.keys[0].tag());
    auto soa_sigs = of(z, "example.", dns::rr_type::RRSIG, dns::rr_type::SOA);
    ASSERT_EQ(soa_sigs.size(), 1u);
    EXPECT_EQ(dnssec::rrsig_fields::parse(soa_sigs[0].rdata).key_tag, ks.keys[1].tag());

    // Delegation NS and glue unsigned, DS signed; glue has no NSEC.
    EXPECT_TRUE(of(z, "sub.example.", dns::rr_type::RRSIG, dns::rr_type::NS).empty());
    EXPECT_TRUE(of(z, "ns.sub.example.", dns::rr_type::RRSIG).empty());
    EXPECT_TRUE(of(z, "ns.sub.example.", dns::rr_type::NSEC).empty());
    EXPECT_EQ(of(z, "secure.example.", dns::rr_type::RRSIG, dns::rr_type::DS).size(), 1u);

    // NSEC chain: canonical order, closed, delegation bit maps NS (DS) RRSIG NSEC.
    std::vector<std::string> chain;
    for (const auto& r : z.records)
        if (r.type == dns::rr_type::NSEC) {
            auto f = dnssec::nsec_fields::parse(r.rdata);
            chain.push_back(r.owner.to_text() + " -> " + f.next.to_text());
            if (r.owner == n("sub.example."))
                EXPECT_EQ(f.types, (std::vector<uint16_t>{2, 46, 47}));
            if (r.owner == n("secure.example."))
                EXPECT_EQ(f.types, (std::vector<uint16_t>{2, 43, 46, 47}));
        }
    std::vector<std::string> expected = {"example. -> mail.example.",
                                         "mail.example. -> ns1.example.",
                                         "ns1.example. -> secure.example.",
                                         "secure.example. -> sub.example.",
                                         "sub.example. -> *.wild.example.",
                                         "*.wild.example. -> www.example.",
                                         "www.example. -> _443._tcp.www.example.",
                                         "_443._tcp.www.example. -> example."};
    EXPECT_EQ(chain, expected);
    EXPECT_EQ(z.stats.nsec, 8u);

    // The wildcard's RRSIG labels field does not count the "*".
    auto wild = of(z, "*.wild.example.", dns::rr_type::RRSIG, dns::rr_type::TXT);
    ASSERT_EQ(wild.size(), 1u);
    EXPECT_EQ(dnssec::rrsig_fields::parse(wild[0].rdata).labels, 2);

    // Output is in canonical order (RFC 4034 §6).
    for (size_t i = 1; i < z.records.size(); ++i) {
        auto a = z.records[i - 1], b = z.records[i];
        a.canonicalize();
        b.canonicalize();
        EXPECT_LT(dns::canonical_compare(a, b), 0) << a.to_text() << "\n" << b.to_text();
    }
}

TEST(ZoneSign, ResignKeepsUnchangedSignatures) {
    auto origin = n("example.");
    auto in = load(zone_text, origin);
    key_set ks;
    auto first = sign(in, origin, ks.keys);
    EXPECT_EQ(first.stats.signatures_kept, 0u);
    size_t total = first.stats.signatures_new;

    // Same zone an hour later: everything kept.
    dnssec::sign_options later;
    later.now = now + 3600;
    auto again = sign(first.store, origin, ks.keys, later);
    EXPECT_EQ(again.stats.signatures_new, 0u);
    EXPECT_EQ(again.stats.signatures_kept, total);
    EXPECT_EQ(again.records.size(), first.records.size());

    // One new name: its A and NSEC, and the predecessor's NSEC, are signed anew.
    auto records = first.records;
    records.push_back(dns::rr::from_text("new.example. 3600 IN A 192.0.2.77"));
    auto changed = sign(restore(records), origin, ks.keys, later);
    EXPECT_EQ(changed.stats.signatures_new, 3u);
    EXPECT_EQ(changed.stats.signatures_kept, total - 1);
    EXPECT_TRUE(verify(changed.store, origin, now + 3600).ok());

    // Close to expiry (inside the refresh interval): everything re-signed.
    dnssec::sign_options late;
    late.now = now + 29 * 86400;
    auto refreshed = sign(first.store, origin, ks.keys, late);
    EXPECT_EQ(refreshed.stats.signatures_kept, 0u);
    EXPECT_EQ(refreshed.stats.signatures_new, total);
}

TEST(ZoneSign, ForeignDnskeyKeptAndCsk) {
    auto origin = n("example.");
    key foreign = key::generate(origin, 13, dnssec::key_role::zsk);
    std::string text = std::string(zone_text) + foreign.to_rr(3600).to_text() + "\n";
    auto in = load(text, origin);
    std::vector<key> csk = {key::generate(origin, 15, dnssec::key_role::csk)};
    auto z = sign(in, origin, csk);
    auto dnskeys = of(z, "example.", dns::rr_type::DNSKEY);
    ASSERT_EQ(dnskeys.size(), 2u);
    EXPECT_TRUE(std::any_of(dnskeys.begin(), dnskeys.end(),
                            [&](const dns::rr& r) { return r.rdata == foreign.rdata(); }));
    auto report = verify(z.store, origin);
    EXPECT_TRUE(report.ok()) << errors_of(report);
    // The CSK signs both the DNSKEY RRset and the data.
    auto sigs = of(z, "example.", dns::rr_type::RRSIG, dns::rr_type::DNSKEY);
    ASSERT_EQ(sigs.size(), 1u);
    EXPECT_EQ(dnssec::rrsig_fields::parse(sigs[0].rdata).key_tag, csk[0].tag());
    EXPECT_EQ(of(z, "www.example.", dns::rr_type::RRSIG, dns::rr_type::A).size(), 1u);
}

TEST(ZoneSign, Nsec3Rfc5155AppendixAChain) {
    // The zone of RFC 5155 Appendix A (opt-out, salt aabbccdd, 12 iterations): the NSEC3
    // owners, next hashes and bit maps are known answers; c.example. is an insecure
    // delegation left out by opt-out, w.example. and y.w.example. are empty non-terminals.
    auto origin = n("example.");
    auto in = load(R"(
@ 3600 SOA ns1 bugs.x.w 1 3600 300 3600000 3600
@ NS ns1
@ NS ns2
@ MX 1 xx
a NS ns1.a
a NS ns2.a
a DS 58470 5 1 3079F1593EBAD6DC121E202A8B766A6A4837206C
ns1.a A 192.0.2.5
ns2.a A 192.0.2.6
ai A 192.0.2.9
ai HINFO "KLH-10" "ITS"
ai AAAA 2001:db8::f00:baa9
c NS ns1.c
c NS ns2.c
ns1.c A 192.0.2.7
ns2.c A 192.0.2.8
ns1 A 192.0.2.1
ns2 A 192.0.2.2
*.w MX 1 ai
x.w MX 1 xx
x.y.w MX 1 xx
xx A 192.0.2.10
xx HINFO "KLH-10" "TOPS-20"
xx AAAA 2001:db8::f00:baa1
)",
                   origin);
    key_set ks;
    dnssec::sign_options opt;
    opt.nsec3 = true;
    opt.opt_out = true;
    opt.nsec3_param.iterations = 12;
    opt.nsec3_param.salt = {0xaa, 0xbb, 0xcc, 0xdd};
    auto z = sign(in, origin, ks.keys, opt);
    std::map<std::string, std::pair<std::string, std::vector<uint16_t>>> chain;
    for (const auto& r : z.records)
        if (r.type == dns::rr_type::NSEC3) {
            auto f = dnssec::nsec3_fields::parse(r.rdata);
            EXPECT_EQ(f.flags, 1);
            EXPECT_EQ(f.iterations, 12);
            chain[r.owner.to_text()] = {dnssec::nsec3_label(f.next_hash), f.types};
        }
    using T = std::vector<uint16_t>;
    std::map<std::string, std::pair<std::string, std::vector<uint16_t>>> expected = {
        {"0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example.",
         {"2t7b4g4vsa5smi47k61mv5bv1a22bojr", T{2, 6, 15, 46, 48, 51}}},
        {"2t7b4g4vsa5smi47k61mv5bv1a22bojr.example.",
         {"2vptu5timamqttgl4luu9kg21e0aor3s", T{1, 46}}},
        {"2vptu5timamqttgl4luu9kg21e0aor3s.example.",
         {"35mthgpgcu1qg68fab165klnsnk3dpvl", T{15, 46}}},
        {"35mthgpgcu1qg68fab165klnsnk3dpvl.example.",
         {"b4um86eghhds6nea196smvmlo4ors995", T{2, 43, 46}}},
        {"b4um86eghhds6nea196smvmlo4ors995.example.",
         {"gjeqe526plbf1g8mklp59enfd789njgi", T{15, 46}}},
        {"gjeqe526plbf1g8mklp59enfd789njgi.example.",
         {"ji6neoaepv8b5o6k4ev33abha8ht9fgc", T{1, 13, 28, 46}}},
        {"ji6neoaepv8b5o6k4ev33abha8ht9fgc.example.", {"k8udemvp1j2f7eg6jebps17vp3n8i58h", T{}}},
        {"k8udemvp1j2f7eg6jebps17vp3n8i58h.example.", {"q04jkcevqvmu85r014c7dkba38o0ji5r", T{}}},
        {"q04jkcevqvmu85r014c7dkba38o0ji5r.example.",
         {"r53bq7cc2uvmubfu5ocmm6pers9tk9en", T{1, 46}}},
        {"r53bq7cc2uvmubfu5ocmm6pers9tk9en.example.",
         {"t644ebqk9bibcna874givr6joj62mlhv", T{15, 46}}},
        {"t644ebqk9bibcna874givr6joj62mlhv.example.",
         {"0p9mhaveqvm6t7vbl5lop2u3t2rp3tom", T{1, 13, 28, 46}}},
    };
    EXPECT_EQ(chain, expected);
    EXPECT_EQ(of(z, "example.", dns::rr_type::NSEC3PARAM).size(), 1u);
    EXPECT_TRUE(of(z, "c.example.", dns::rr_type::RRSIG).empty());
    auto report = verify(z.store, origin);
    EXPECT_TRUE(report.ok()) << errors_of(report);
    EXPECT_TRUE(report.nsec3);
    EXPECT_TRUE(report.opt_out);

    // Without opt-out c.example. gets its NSEC3 too (bit map NS only).
    opt.opt_out = false;
    auto full = sign(in, origin, ks.keys, opt);
    EXPECT_EQ(full.stats.nsec3, 12u);
    auto c_hash =
        dnssec::nsec3_owner(dnssec::nsec3_hash(n("c.example."), 12, opt.nsec3_param.salt), origin);
    auto c = of(full, c_hash.to_text().c_str(), dns::rr_type::NSEC3);
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(dnssec::nsec3_fields::parse(c[0].rdata).types, (std::vector<uint16_t>{2}));
    auto full_report = verify(full.store, origin);
    EXPECT_TRUE(full_report.ok()) << errors_of(full_report);
}

TEST(ZoneVerify, ReportsBrokenZones) {
    auto origin = n("example.");
    auto in = load(zone_text, origin);
    key_set ks;
    auto z = sign(in, origin, ks.keys);
    ASSERT_TRUE(verify(z.store, origin).ok());

    // One flipped signature byte.
    auto records = z.records;
    for (auto& r : records)
        if (r.type == dns::rr_type::RRSIG && r.owner == n("www.example.") &&
            dnssec::rrsig_type_covered(r.rdata) == dns::rr_type::AAAA)
            r.rdata.back() ^= 0x40;
    auto bad = verify(restore(records), origin);
    EXPECT_FALSE(bad.ok());
    EXPECT_TRUE(has_error(bad, "www.example. AAAA: no valid signature")) << errors_of(bad);
    EXPECT_TRUE(has_error(bad, "bad signature")) << errors_of(bad);

    // A missing NSEC.
    records = z.records;
    std::erase_if(records, [](const dns::rr& r) {
        return r.owner == n("mail.example.") && r.type == dns::rr_type::NSEC;
    });
    auto gap = verify(restore(records), origin);
    EXPECT_TRUE(has_error(gap, "mail.example.: no NSEC record")) << errors_of(gap);

    // Expired: verifying 40 days later.
    auto late = verify(z.store, origin, now + 40 * 86400);
    EXPECT_TRUE(has_error(late, "signature expired")) << errors_of(late);
    auto early = verify(z.store, origin, now - 86400);
    EXPECT_TRUE(has_error(early, "not yet valid")) << errors_of(early);

    // A changed record under an old signature, and an unsigned new one.
    records = z.records;
    for (auto& r : records)
        if (r.owner == n("mail.example.") && r.type == dns::rr_type::A) r.rdata[3] = 99;
    records.push_back(dns::rr::from_text("mail.example. 3600 IN TXT \"unsigned\""));
    auto changed = verify(restore(records), origin);
    EXPECT_TRUE(has_error(changed, "mail.example. A: no valid signature")) << errors_of(changed);
    EXPECT_TRUE(has_error(changed, "mail.example. TXT: not signed")) << errors_of(changed);
    EXPECT_TRUE(has_error(
        changed, "mail.example. NSEC: type bit map lists A RRSIG NSEC, expected A TXT RRSIG NSEC"))
        << errors_of(changed);

    // DS check: the KSK's DS matches, a ZSK-only DS does not.
    dnssec::zone_verify_options opt;
    opt.now = now;
    dns::rr ds;
    ds.owner = origin;
    ds.type = dns::rr_type::DS;
    ds.ttl = 3600;
    ds.rdata = dnssec::ds_rdata(origin, ks.keys[0].rdata(), 2);
    opt.ds = {ds};
    EXPECT_TRUE(dnssec::verify_zone(z.store, origin, opt).ok());
    opt.ds[0].rdata = dnssec::ds_rdata(origin, ks.keys[1].rdata(), 2);
    auto wrong_ds = dnssec::verify_zone(z.store, origin, opt);
    EXPECT_TRUE(has_error(wrong_ds, "no DS record matches")) << errors_of(wrong_ds);
}

TEST(ZoneSign, RefusesBadInput) {
    auto origin = n("example.");
    key_set ks;
    auto no_soa = load("www 3600 A 192.0.2.1\n", origin);
    EXPECT_THROW(sign(no_soa, origin, ks.keys), dnssec::dnssec_error);
    auto in = load(zone_text, origin);
    std::vector<key> other = {key::generate(n("other."), 13, dnssec::key_role::csk)};
    EXPECT_THROW(sign(in, origin, other), dnssec::dnssec_error);
    std::vector<key> none;
    EXPECT_THROW(sign(in, origin, none), dnssec::dnssec_error);
}
