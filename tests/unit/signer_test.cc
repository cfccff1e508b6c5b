// The signer's pure parts: key life cycle (RFC 7583 timers and command guards) and
// incremental signing, checked against the zone verifier and against full signing.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "dns/record_store.h"
#include "dns/zonefile.h"
#include "dnssec/zone_verifier.h"
#include "zone/journal.h"
#include "roles/signer/keys.h"
#include "roles/signer/sign.h"

using namespace hsync;
using dns::name;
using dnssec::key_role;
using signer::key_action;
using signer::key_state;

namespace {

constexpr int64_t t0 = 1800000000;

name n(const std::string& text) {
    return name::from_text(text);
}

signer::zone_key make_key(key_role role, key_state state, int64_t at) {
    return signer::zone_key{dnssec::key::generate(n("example."), 13, role),
                            role,
                            state,
                            at,
                            at,
                            state == key_state::active ? at : 0,
                            0,
                            "K"};
}

dns::record_store load(const std::string& text) {
    dns::record_store store;
    size_t errors = dns::zone_reader::from_memory(text, n("example."))
                        .read([&](const dns::rr& r) { store.add(r); },
                              [](const dns::zone_error& e) { ADD_FAILURE() << e.to_text(); });
    EXPECT_EQ(errors, 0u);
    store.sort();
    return store;
}

std::string errors_of(const dnssec::zone_verify_report& r) {
    std::string s;
    for (const auto& e : r.errors)
        s += e + "\n";
    return s;
}

dnssec::zone_verify_report verify(const dns::record_store& zone, int64_t at) {
    dnssec::zone_verify_options o;
    o.now = at;
    return dnssec::verify_zone(zone, n("example."), o);
}

// Records other than RRSIG, as text, in order: what full and incremental signing must agree
// on exactly (signatures differ: ECDSA is randomised).
std::vector<std::string> without_signatures(const dns::record_store& z) {
    std::vector<std::string> out;
    for (size_t i = 0; i < z.size(); ++i)
        if (z[i].type != dns::rr_type::RRSIG) out.push_back(z[i].to_rr().to_text());
    return out;
}

}  // namespace

TEST(SignerKeys, StateLinesRoundTrip) {
    signer::key_set ks;
    ks.keys.push_back(make_key(key_role::ksk, key_state::active, t0));
    ks.keys.push_back(make_key(key_role::zsk, key_state::retired, t0 + 5));
    ks.keys[1].retired_at = t0 + 9;
    std::string text = signer::encode_key_set(ks);
    size_t i = 0;
    auto back = signer::decode_key_set(text, [&](const std::string&) { return ks.keys[i++].key; });
    ASSERT_EQ(back.keys.size(), 2u);
    EXPECT_EQ(back.keys[1].state, key_state::retired);
    EXPECT_EQ(back.keys[1].retired_at, t0 + 9);
    EXPECT_EQ(back.keys[0].role, key_role::ksk);
    EXPECT_THROW(signer::decode_key_set("K zsk sleeping 1 2 3 4\n",
                                        [&](const std::string&) { return ks.keys[0].key; }),
                 std::runtime_error);
}

TEST(SignerKeys, CommandGuardsKeepTheZoneSigned) {
    signer::key_set ks;
    ks.keys.push_back(make_key(key_role::ksk, key_state::active, t0));
    ks.keys.push_back(make_key(key_role::zsk, key_state::active, t0));
    uint16_t ksk = ks.keys[0].key.tag(), zsk = ks.keys[1].key.tag();
    EXPECT_NE(signer::check_action(ks, {key_action::kind::retire, {}, zsk, false, {}}), "");
    EXPECT_NE(signer::check_action(ks, {key_action::kind::retire, {}, ksk, false, {}}), "");
    EXPECT_NE(signer::check_action(ks, {key_action::kind::remove, {}, zsk, false, {}}), "");
    EXPECT_NE(signer::check_action(ks, {key_action::kind::activate, {}, zsk, false, {}}), "");
    EXPECT_NE(signer::check_action(ks, {key_action::kind::retire, {}, 1, false, {}}), "");
    // With a second ZSK active, the first may retire, then be removed.
    ks.keys.push_back(make_key(key_role::zsk, key_state::published, t0));
    uint16_t next = ks.keys[2].key.tag();
    key_action activate{key_action::kind::activate, {}, next, false, {}};
    ASSERT_EQ(signer::check_action(ks, activate), "");
    signer::apply_action(ks, activate, t0 + 10);
    key_action retire{key_action::kind::retire, {}, zsk, false, {}};
    ASSERT_EQ(signer::check_action(ks, retire), "");
    signer::apply_action(ks, retire, t0 + 10);
    EXPECT_EQ(ks.find(zsk)->state, key_state::retired);
    key_action remove{key_action::kind::remove, {}, zsk, false, {}};
    ASSERT_EQ(signer::check_action(ks, remove), "");
    signer::apply_action(ks, remove, t0 + 20);
    EXPECT_EQ(ks.find(zsk), nullptr);
    EXPECT_EQ(ks.signing_keys().size(), 2u);
}

TEST(SignerKeys, ZskPrePublicationFollowsRfc7583Timing) {
    signer::signing_policy p;
    p.zsk_lifetime = 30 * 86400;
    signer::key_set ks;
    ks.keys.push_back(make_key(key_role::ksk, key_state::active, t0));
    ks.keys.push_back(make_key(key_role::zsk, key_state::active, t0));
    const uint32_t ipub = signer::publish_interval(p), iret = signer::retire_interval(p, 300);
    EXPECT_EQ(ipub, p.dnskey_ttl + p.propagation_delay + p.publish_safety);
    const int64_t end = t0 + p.zsk_lifetime;
    EXPECT_TRUE(signer::due_actions(ks, p, end - ipub - 1, 300).empty());
    auto a = signer::due_actions(ks, p, end - ipub, 300);
    ASSERT_EQ(a.size(), 1u);
    EXPECT_EQ(a[0].what, key_action::kind::publish);
    EXPECT_EQ(a[0].role, key_role::zsk);
    EXPECT_FALSE(a[0].activate_now);
    signer::apply_action(ks, a[0], end - ipub,
                         make_key(key_role::zsk, key_state::published, end - ipub));
    // Published, not yet active until the old key's lifetime ends (and Ipub has passed).
    EXPECT_TRUE(signer::due_actions(ks, p, end - 1, 300).empty());
    a = signer::due_actions(ks, p, end, 300);
    ASSERT_EQ(a.size(), 2u);
    EXPECT_EQ(a[0].what, key_action::kind::activate);
    EXPECT_EQ(a[1].what, key_action::kind::retire);
    for (const auto& x : a) {
        ASSERT_EQ(signer::check_action(ks, x), "");
        signer::apply_action(ks, x, end);
    }
    EXPECT_TRUE(signer::due_actions(ks, p, end + iret - 1, 300).empty());
    a = signer::due_actions(ks, p, end + iret, 300);
    ASSERT_EQ(a.size(), 1u);
    EXPECT_EQ(a[0].what, key_action::kind::remove);
}

TEST(SignerKeys, KskRollStartsWithDoubleSignatureAndWaitsForTheParent) {
    signer::signing_policy p;
    p.ksk_lifetime = 365 * 86400;
    signer::key_set ks;
    ks.keys.push_back(make_key(key_role::ksk, key_state::active, t0));
    ks.keys.push_back(make_key(key_role::zsk, key_state::active, t0));
    auto a = signer::due_actions(ks, p, t0 + p.ksk_lifetime, 300);
    ASSERT_EQ(a.size(), 1u);
    EXPECT_EQ(a[0].what, key_action::kind::publish);
    EXPECT_TRUE(a[0].activate_now);
    signer::apply_action(ks, a[0], t0 + p.ksk_lifetime,
                         make_key(key_role::ksk, key_state::active, t0 + p.ksk_lifetime));
    // Both KSKs sign; the old one is retired only by command (the parent's DS is not ours).
    EXPECT_TRUE(signer::due_actions(ks, p, t0 + 2 * p.ksk_lifetime - 1, 300).empty());
    EXPECT_EQ(ks.signing_keys().size(), 3u);
}

namespace {

// A zone with a delegation (glue below it), a wildcard, an empty non-terminal and foreign
// DNSKEY/CDS records from another signer.
const char* base_zone = R"(
$ORIGIN example.
$TTL 300
@ SOA ns1 hostmaster 10 3600 600 86400 60
@ NS ns1
@ DNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==
@ CDS 12345 13 2 2BB183AF5F22588179A53B0A98631FAD1A292118D4C9B8AD5A0F5A0C2E7E8D6A
ns1 A 192.0.2.1
www A 192.0.2.2
www AAAA 2001:db8::2
*.wild TXT "wild"
a.b.c TXT "deep"
sub NS ns.sub
sub DS 12345 13 2 2BB183AF5F22588179A53B0A98631FAD1A292118D4C9B8AD5A0F5A0C2E7E8D6A
ns.sub A 192.0.2.53
zz TXT "last"
)";

size_t count_type(const dns::record_store& zone, uint16_t type) {
    size_t c = 0;
    for (size_t i = 0; i < zone.size(); ++i)
        c += zone[i].type == type;
    return c;
}

struct fixture {
    signer::signing_policy policy;
    signer::key_set keys;
    signer::sign_context ctx(uint32_t serial, int64_t at) const {
        signer::sign_context c;
        c.origin = n("example.");
        c.keys = &keys;
        c.policy = &policy;
        c.serial = serial;
        c.now = at;
        return c;
    }
    fixture() {
        keys.keys.push_back(make_key(key_role::ksk, key_state::active, t0));
        keys.keys.push_back(make_key(key_role::zsk, key_state::active, t0));
    }
};

// Applies `edits` (zone-file lines to add; "-owner type" lines remove that RRset) to the
// unsigned zone; returns the new zone and the owners touched.
dns::record_store edit(const dns::record_store& zone, const std::vector<std::string>& edits,
                       uint32_t serial, std::vector<name>& touched) {
    std::string text = "$ORIGIN example.\n$TTL 300\n";
    std::vector<std::pair<name, uint16_t>> drop;
    for (const auto& e : edits) {
        if (e[0] == '-') {
            auto sp = e.find(' ');
            uint16_t t = 0;
            EXPECT_TRUE(dns::type_from_text(e.substr(sp + 1), t)) << e;
            std::string owner = e.substr(1, sp - 1);
            drop.push_back({owner == "@" ? n("example.") : n(owner + ".example."), t});
            touched.push_back(drop.back().first);
        } else {
            text += e + "\n";
        }
    }
    dns::record_store out;
    for (size_t i = 0; i < zone.size(); ++i) {
        auto r = zone[i].to_rr();
        bool dropped = std::any_of(drop.begin(), drop.end(), [&](const auto& d) {
            return d.first == r.owner && (d.second == r.type || d.second == 0);
        });
        if (dropped) continue;
        if (r.type == dns::rr_type::SOA) zone::set_soa_serial(r.rdata, serial);
        out.add(r);
    }
    auto added = load(text);
    for (size_t i = 0; i < added.size(); ++i) {
        out.add(added[i].to_rr());
        touched.push_back(added[i].owner_name());
    }
    out.sort();
    return out;
}

}  // namespace

TEST(SignerSign, FullSigningKeepsForeignKeysAndAddsOurs) {
    fixture f;
    auto unsigned_zone = load(base_zone);
    auto s = signer::sign_full(unsigned_zone, f.ctx(10, t0));
    auto report = verify(s, t0);
    EXPECT_TRUE(report.ok()) << errors_of(report);
    size_t dnskeys = 0, cds = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i].type == dns::rr_type::DNSKEY) {
            ++dnskeys;
            EXPECT_EQ(s[i].ttl, f.policy.dnskey_ttl);
        }
        if (s[i].type == dns::rr_type::CDS) ++cds;
    }
    EXPECT_EQ(dnskeys, 3u);  // the foreign KSK and our KSK and ZSK
    EXPECT_EQ(cds, 1u);      // the foreign CDS as given, none of ours added
}

TEST(SignerSign, PublishCdsOnlyWhenTheInputHasNone) {
    fixture f;
    f.policy.publish_cds = true;
    std::vector<name> touched;
    auto with_cds = load(base_zone);
    auto s = signer::sign_full(with_cds, f.ctx(10, t0));
    size_t cds = 0, cdnskey = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        cds += s[i].type == dns::rr_type::CDS;
        cdnskey += s[i].type == dns::rr_type::CDNSKEY;
    }
    EXPECT_EQ(cds, 1u);
    EXPECT_EQ(cdnskey, 0u);
    auto without = edit(with_cds, {"-@ CDS"}, 11, touched);
    s = signer::sign_full(without, f.ctx(11, t0));
    cds = cdnskey = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        cds += s[i].type == dns::rr_type::CDS;
        cdnskey += s[i].type == dns::rr_type::CDNSKEY;
    }
    EXPECT_EQ(cds, 1u);  // our KSK's, SHA-256
    EXPECT_EQ(cdnskey, 1u);
}

// Incremental signing after each kind of change gives the zone a full signing gives (but
// for the signatures, which it keeps where it can), and the result validates.
void incremental_equals_full(bool nsec3, bool opt_out = false) {
    fixture f;
    f.policy.nsec3 = nsec3;
    f.policy.nsec3_opt_out = opt_out;
    auto unsigned_zone = load(base_zone);
    auto signed_zone = signer::sign_full(unsigned_zone, f.ctx(10, t0));
    const std::vector<std::vector<std::string>> steps = {
        {"www A 192.0.2.99"},        // RRset changed
        {"new TXT \"added name\""},  // name added (NSEC chain grows)
        {"-www AAAA"},               // RRset removed
        {"-new TXT"},                // name removed
        {"x.y.z A 192.0.2.7"},       // new name under a new empty non-terminal
        {"-a.b.c TXT"},              // last name under an ENT removed
        {"ns.sub A 192.0.2.54"},     // glue changed: copied unsigned
        {"-sub DS",
         "sub DS 54321 13 2 ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789"},
        {"-sub DS"},  // the delegation turns insecure (opt-out: it leaves the NSEC3 chain)
        {"sub DS 54321 13 2 ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789"},
        {"@ DNSKEY 256 3 13 "
         "oJMRESz5E4gYzS/"
         "q6XDrvU1qMPYIjCWzJaOau8XNEZeqCYKD5ar0IRd8KqXXFJkqmVfRvMGPmM1x8fGAa2XhSA=="},
        {"zzz TXT \"after the last\""},  // new last name: the NSEC wraps to the apex
        {"sub0 TXT \"after a cut\""},    // its predecessor is a delegation: only DS is signed there
    };
    uint32_t serial = 10;
    int64_t at = t0;
    for (const auto& step : steps) {
        std::vector<name> touched;
        ++serial;
        at += 60;
        auto next_unsigned = edit(unsigned_zone, step, serial, touched);
        signer::incremental_stats st;
        zone::zone_data index(signed_zone, n("example."));
        auto change = signer::sign_incremental(signed_zone, next_unsigned, touched,
                                               f.ctx(serial, at), &st, 0, &index);
        ASSERT_TRUE(change) << step[0];
        if (nsec3) {  // the chain was followed, not rebuilt
            size_t nsec3_records = 0;
            for (const auto* list : {&change->removed, &change->added})
                for (const auto& r : *list)
                    nsec3_records += r.type == dns::rr_type::NSEC3;
            EXPECT_LT(nsec3_records, 12u) << step[0];
            EXPECT_EQ(index.nsec3_count(), count_type(signed_zone, dns::rr_type::NSEC3));
        }
        EXPECT_LT(st.names, 6u) << step[0];
        auto next_signed = zone::apply(signed_zone, *change);
        auto report = verify(next_signed, at);
        ASSERT_TRUE(report.ok()) << step[0] << "\n" << errors_of(report);
        auto full = signer::sign_full(next_unsigned, f.ctx(serial, at));
        EXPECT_EQ(without_signatures(next_signed), without_signatures(full)) << step[0];
        signed_zone = std::move(next_signed);
        unsigned_zone = std::move(next_unsigned);
    }
}

TEST(SignerSign, IncrementalEqualsFullSigningForEveryKindOfChange) {
    incremental_equals_full(false);
}

TEST(SignerSign, IncrementalNsec3EqualsFullSigningForEveryKindOfChange) {
    incremental_equals_full(true);
}

TEST(SignerSign, IncrementalNsec3OptOutEqualsFullSigningForEveryKindOfChange) {
    incremental_equals_full(true, true);
}

TEST(SignerSign, IncrementalDeclinesWhatOnlyFullSigningGetsRight) {
    fixture f;
    auto unsigned_zone = load(base_zone);
    auto signed_zone = signer::sign_full(unsigned_zone, f.ctx(10, t0));
    std::vector<name> touched;
    // A new zone cut makes names below it glue.
    auto cut = edit(unsigned_zone, {"b.c NS ns1.example."}, 11, touched);
    EXPECT_FALSE(signer::sign_incremental(signed_zone, cut, touched, f.ctx(11, t0)));
    // A new active key must sign everything.
    touched.clear();
    auto same = edit(unsigned_zone, {"www A 192.0.2.3"}, 11, touched);
    f.keys.keys.push_back(make_key(key_role::zsk, key_state::active, t0));
    EXPECT_FALSE(signer::sign_incremental(signed_zone, same, touched, f.ctx(11, t0)));
    // NSEC3: without the served zone's index, or with other parameters than the served
    // chain's, in full.
    f.keys.keys.pop_back();
    f.policy.nsec3 = true;
    auto signed3 = signer::sign_full(unsigned_zone, f.ctx(10, t0));
    zone::zone_data index(signed3, n("example."));
    EXPECT_TRUE(
        signer::sign_incremental(signed3, same, touched, f.ctx(11, t0), nullptr, 0, &index));
    EXPECT_FALSE(signer::sign_incremental(signed3, same, touched, f.ctx(11, t0)));
    f.policy.nsec3_iterations = 1;
    EXPECT_FALSE(
        signer::sign_incremental(signed3, same, touched, f.ctx(11, t0), nullptr, 0, &index));
}

void refresh_remakes_only_expiring_signatures(bool nsec3) {
    fixture f;
    f.policy.nsec3 = nsec3;
    f.policy.validity = 14 * 86400;
    f.policy.refresh = 7 * 86400;
    auto unsigned_zone = load(base_zone);
    auto signed_zone = signer::sign_full(unsigned_zone, f.ctx(10, t0));
    EXPECT_TRUE(signer::expiring_owners(signed_zone, f.ctx(10, t0 + 86400), 100).empty());
    const int64_t later = t0 + 8 * 86400;  // inside the refresh window
    auto names = signer::expiring_owners(signed_zone, f.ctx(10, later), 3);
    ASSERT_EQ(names.size(), 3u);
    names = signer::expiring_owners(signed_zone, f.ctx(10, later), 1000);
    // With NSEC3 the list holds the hashed owners too: their NSEC3s keep their place in
    // the chain and get new signatures.
    zone::zone_data index(signed_zone, n("example."));
    auto change = signer::sign_incremental(signed_zone, unsigned_zone, names, f.ctx(11, later),
                                           nullptr, names.size() + 1, &index);
    ASSERT_TRUE(change);
    auto refreshed = zone::apply(signed_zone, *change);
    auto report = verify(refreshed, t0 + 13 * 86400);  // the old ones would have expired
    EXPECT_TRUE(report.ok()) << errors_of(report);
    EXPECT_TRUE(signer::expiring_owners(refreshed, f.ctx(11, later), 100).empty());
    EXPECT_EQ(count_type(refreshed, dns::rr_type::NSEC3),
              count_type(signed_zone, dns::rr_type::NSEC3));
    EXPECT_EQ(without_signatures(refreshed).size(), without_signatures(signed_zone).size());
}

TEST(SignerSign, RefreshRemakesOnlyExpiringSignatures) {
    refresh_remakes_only_expiring_signatures(false);
}

TEST(SignerSign, Nsec3RefreshRemakesOnlyExpiringSignatures) {
    refresh_remakes_only_expiring_signatures(true);
}

TEST(SignerSign, AnOversizedRRsetIsRefusedWithItsName) {
    fixture f;
    std::string text = base_zone;
    for (int i = 0; i < 300; ++i)
        text += "big TXT \"" + std::to_string(i) + std::string(240, 'x') + "\"\n";
    auto zone = load(text);
    try {
        signer::sign_full(zone, f.ctx(10, t0));
        FAIL() << "signed an RRset that cannot be sent";
    } catch (const dnssec::dnssec_error& e) {
        EXPECT_NE(std::string(e.what()).find("big.example. TXT"), std::string::npos) << e.what();
    }
    // Incrementally too: the change that makes it too big is refused.
    auto good = load(base_zone);
    auto signed_zone = signer::sign_full(good, f.ctx(10, t0));
    std::vector<name> touched{n("big.example.")};
    EXPECT_THROW(signer::sign_incremental(signed_zone, zone, touched, f.ctx(11, t0)),
                 dnssec::dnssec_error);
}
