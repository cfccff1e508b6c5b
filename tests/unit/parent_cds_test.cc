// The parent role's DS decision (src/roles/parent/cds_policy.h) with real keys and
// signatures: rollover, unchanged, delete, initial DS, and every reason to refuse.
#include "roles/parent/cds_policy.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dns/rr.h"
#include "dnssec/ds.h"
#include "dnssec/key.h"
#include "dnssec/rrsig.h"

using namespace hsync;
using dns::name;
using dnssec::key;
using parent::cds_answer;
using parent::cds_outcome;
using parent::cds_policy;
using parent::decide_cds;
using parent::validation;

namespace {

const name child = name::from_text("child.example.");
constexpr uint32_t now = 1700000000;
constexpr uint32_t ttl = 3600;
constexpr uint8_t sha256 = dnssec::digest_type::SHA256;
constexpr uint8_t sha384 = dnssec::digest_type::SHA384;

key generate(dnssec::key_role role, uint8_t alg = dnssec::algorithm::ECDSAP256SHA256) {
    return key::generate(child, alg, role);
}

std::vector<dns::rr> dnskeys(const std::vector<const key*>& keys) {
    std::vector<dns::rr> out;
    for (const key* k : keys)
        out.push_back(k->to_rr(ttl));
    return out;
}

std::vector<dns::rr> cds_of(const std::vector<const key*>& keys, uint8_t type = sha256) {
    std::vector<dns::rr> out;
    for (const key* k : keys)
        out.push_back(dnssec::make_cds(*k, type, ttl));
    return out;
}

std::vector<dns::rr> cdnskey_of(const std::vector<const key*>& keys) {
    std::vector<dns::rr> out;
    for (const key* k : keys)
        out.push_back(dnssec::make_cdnskey(*k, ttl));
    return out;
}

// The parent's DS RRset for these keys.
std::vector<dns::rr> ds_of(const std::vector<const key*>& keys, uint32_t ds_ttl = 7200) {
    std::vector<dns::rr> out;
    for (const key* k : keys)
        out.push_back(dnssec::make_ds(*k, sha256, ds_ttl));
    return out;
}

// An RRset as a validating resolver hands it over: secure, signed by `signers`.
parent::validated_rrset signed_set(std::vector<dns::rr> records,
                                   const std::vector<const key*>& signers,
                                   uint32_t inception = now - 3600,
                                   uint32_t expiration = now + 86400) {
    parent::validated_rrset out;
    out.records = std::move(records);
    out.status = validation::secure;
    if (!out.records.empty())
        for (const key* k : signers)
            out.rrsigs.push_back(dnssec::sign_rrset(*k, out.records, inception, expiration));
    return out;
}

// Sorted DS RDATA of a decision or of expected records, for comparisons.
std::vector<std::vector<uint8_t>> rdata_of(const std::vector<dns::rr>& records) {
    std::vector<std::vector<uint8_t>> out;
    for (const auto& r : records)
        out.push_back(r.rdata);
    std::sort(out.begin(), out.end());
    return out;
}

class CdsPolicy : public ::testing::Test {
  protected:
    key ksk1 = generate(dnssec::key_role::ksk);
    key ksk2 = generate(dnssec::key_role::ksk, dnssec::algorithm::ED25519);
    key zsk = generate(dnssec::key_role::zsk);

    // One nameserver serving DNSKEY {ksk1, ksk2, zsk} signed by both KSKs, and the given
    // CDS and CDNSKEY signed by `cds_signers`.
    cds_answer answer(std::string server, std::vector<dns::rr> cds, std::vector<dns::rr> cdnskey,
                      const std::vector<const key*>& cds_signers) {
        cds_answer a;
        a.server = std::move(server);
        a.dnskey = signed_set(dnskeys({&ksk1, &ksk2, &zsk}), {&ksk1, &ksk2});
        a.cds = signed_set(std::move(cds), cds_signers);
        a.cdnskey = signed_set(std::move(cdnskey), cds_signers);
        return a;
    }

    // Two nameservers with the same rollover signal: DS for ksk1 and ksk2.
    std::vector<cds_answer> rollover(const std::vector<const key*>& cds_signers) {
        return {
            answer("192.0.2.1", cds_of({&ksk1, &ksk2}), cdnskey_of({&ksk1, &ksk2}), cds_signers),
            answer("192.0.2.2", cds_of({&ksk1, &ksk2}), cdnskey_of({&ksk1, &ksk2}), cds_signers)};
    }
};

}  // namespace

TEST_F(CdsPolicy, RolloverReplacesTheDsSetAndKeepsItsTtl) {
    auto d = decide_cds(child, rollover({&ksk1}), ds_of({&ksk1}), {}, now);
    ASSERT_EQ(d.outcome, cds_outcome::updated) << d.reason;
    EXPECT_FALSE(d.initial);
    EXPECT_EQ(rdata_of(d.ds), rdata_of(ds_of({&ksk1, &ksk2})));
    for (const auto& r : d.ds) {
        EXPECT_EQ(r.type, dns::rr_type::DS);
        EXPECT_EQ(r.owner, child);
        EXPECT_EQ(r.ttl, 7200u);  // the current DS TTL, not the CDS TTL
    }

    // Second half of the rollover: ksk1 gone from DNSKEY and CDS; the CDS is signed by
    // ksk2, which the (new) current DS points to.
    cds_answer a;
    a.server = "192.0.2.1";
    a.dnskey = signed_set(dnskeys({&ksk2, &zsk}), {&ksk2});
    a.cds = signed_set(cds_of({&ksk2}), {&ksk2});
    a.cdnskey = signed_set({}, {});  // a secure NODATA
    auto d2 = decide_cds(child, std::vector{a}, ds_of({&ksk1, &ksk2}), {}, now);
    ASSERT_EQ(d2.outcome, cds_outcome::updated) << d2.reason;
    EXPECT_EQ(rdata_of(d2.ds), rdata_of(ds_of({&ksk2})));
}

TEST_F(CdsPolicy, CdsEqualToTheCurrentDsIsUnchanged) {
    auto d = decide_cds(child, rollover({&ksk1}), ds_of({&ksk1, &ksk2}), {}, now);
    EXPECT_EQ(d.outcome, cds_outcome::unchanged) << d.reason;
    EXPECT_TRUE(d.ds.empty());
}

TEST_F(CdsPolicy, NoCdsNoCdnskeyIsUnchanged) {
    auto d =
        decide_cds(child, std::vector{answer("192.0.2.1", {}, {}, {})}, ds_of({&ksk1}), {}, now);
    EXPECT_EQ(d.outcome, cds_outcome::unchanged) << d.reason;
}

TEST_F(CdsPolicy, CdnskeyAloneMakesDsWithThePolicyDigestTypes) {
    std::vector answers{answer("192.0.2.1", {}, cdnskey_of({&ksk1, &ksk2}), {&ksk1})};
    auto d = decide_cds(child, answers, ds_of({&ksk1}), {}, now);
    ASSERT_EQ(d.outcome, cds_outcome::updated) << d.reason;
    EXPECT_EQ(rdata_of(d.ds), rdata_of(ds_of({&ksk1, &ksk2})));

    cds_policy both;
    both.digest_types = {sha256, sha384};
    d = decide_cds(child, answers, ds_of({&ksk1}), both, now);
    ASSERT_EQ(d.outcome, cds_outcome::updated) << d.reason;
    EXPECT_EQ(d.ds.size(), 4u);
}

TEST_F(CdsPolicy, DeleteRemovesTheDs) {
    std::vector answers{answer("192.0.2.1", {dnssec::make_cds_delete(child, ttl)},
                               {dnssec::make_cdnskey_delete(child, ttl)}, {&ksk1}),
                        answer("192.0.2.2", {dnssec::make_cds_delete(child, ttl)}, {}, {&ksk1})};
    // The two nameservers differ (one has no CDNSKEY): refused until they agree.
    EXPECT_EQ(decide_cds(child, answers, ds_of({&ksk1}), {}, now).outcome, cds_outcome::refused);
    answers[1] = answer("192.0.2.2", {dnssec::make_cds_delete(child, ttl)},
                        {dnssec::make_cdnskey_delete(child, ttl)}, {&ksk1});
    auto d = decide_cds(child, answers, ds_of({&ksk1}), {}, now);
    EXPECT_EQ(d.outcome, cds_outcome::removed) << d.reason;
    EXPECT_TRUE(d.ds.empty());

    // CDS delete alone does it too; without a DS there is nothing to remove.
    std::vector only_cds{answer("192.0.2.1", {dnssec::make_cds_delete(child, ttl)}, {}, {&ksk1})};
    EXPECT_EQ(decide_cds(child, only_cds, ds_of({&ksk1}), {}, now).outcome, cds_outcome::removed);
    EXPECT_EQ(decide_cds(child, only_cds, {}, {}, now).outcome, cds_outcome::unchanged);

    // Still a signal that must be signed by a key the current DS points to.
    std::vector by_zsk{answer("192.0.2.1", {dnssec::make_cds_delete(child, ttl)}, {}, {&zsk})};
    d = decide_cds(child, by_zsk, ds_of({&ksk1}), {}, now);
    EXPECT_EQ(d.outcome, cds_outcome::refused);
    EXPECT_NE(d.reason.find("RFC 7344"), std::string::npos) << d.reason;
}

TEST_F(CdsPolicy, DeleteMixedWithOtherRecordsIsRefused) {
    auto with_key = cds_of({&ksk1});
    with_key.push_back(dnssec::make_cds_delete(child, ttl));
    auto d = decide_cds(child, std::vector{answer("192.0.2.1", with_key, {}, {&ksk1})},
                        ds_of({&ksk1}), {}, now);
    EXPECT_EQ(d.outcome, cds_outcome::refused);
    EXPECT_NE(d.reason.find("not alone"), std::string::npos) << d.reason;

    d = decide_cds(child,
                   std::vector{answer("192.0.2.1", {dnssec::make_cds_delete(child, ttl)},
                                      cdnskey_of({&ksk1}), {&ksk1})},
                   ds_of({&ksk1}), {}, now);
    EXPECT_EQ(d.outcome, cds_outcome::refused);
    EXPECT_NE(d.reason.find("inconsistent"), std::string::npos) << d.reason;
}

TEST_F(CdsPolicy, DisagreeingNameserversAreRefusedByName) {
    std::vector answers{
        answer("192.0.2.1", cds_of({&ksk1, &ksk2}), cdnskey_of({&ksk1, &ksk2}), {&ksk1}),
        answer("192.0.2.2", cds_of({&ksk1, &ksk2}), cdnskey_of({&ksk1, &ksk2}), {&ksk1}),
        answer("2001:db8::3", cds_of({&ksk1}), cdnskey_of({&ksk1}), {&ksk1})};
    auto d = decide_cds(child, answers, ds_of({&ksk1}), {}, now);
    EXPECT_EQ(d.outcome, cds_outcome::refused);
    EXPECT_NE(d.reason.find("192.0.2.1, 192.0.2.2 | 2001:db8::3"), std::string::npos) << d.reason;

    // The same records in another order are the same answer.
    auto reversed = cds_of({&ksk2, &ksk1});
    answers[2] = answer("2001:db8::3", reversed, cdnskey_of({&ksk2, &ksk1}), {&ksk1});
    EXPECT_EQ(decide_cds(child, answers, ds_of({&ksk1}), {}, now).outcome, cds_outcome::updated);
}

TEST_F(CdsPolicy, CdsNotSignedByAKeyOfTheCurrentDsIsRefused) {
    // Signed by the ZSK only: valid DNSSEC, but RFC 7344 §4.1 asks for a key the DS names.
    auto d = decide_cds(child, rollover({&zsk}), ds_of({&ksk1}), {}, now);
    EXPECT_EQ(d.outcome, cds_outcome::refused);
    EXPECT_NE(d.reason.find("RFC 7344"), std::string::npos) << d.reason;

    // Signed by the new KSK only: the signal would vouch for itself.
    d = decide_cds(child, rollover({&ksk2}), ds_of({&ksk1}), {}, now);
    EXPECT_EQ(d.outcome, cds_outcome::refused);
    EXPECT_NE(d.reason.find("RFC 7344"), std::string::npos) << d.reason;

    // Signed by the right key, but the signature has expired at `now`.
    auto answers = rollover({});
    for (auto& a : answers)
        a.cds = signed_set(cds_of({&ksk1, &ksk2}), {&ksk1}, now - 7200, now - 3600);
    d = decide_cds(child, answers, ds_of({&ksk1}), {}, now);
    EXPECT_EQ(d.outcome, cds_outcome::refused);
    EXPECT_NE(d.reason.find("expired"), std::string::npos) << d.reason;

    // A signature over other data (the CDNSKEY's RRSIG put on the CDS) does not count.
    answers = rollover({&ksk1});
    answers[0].cds.rrsigs = answers[0].cdnskey.rrsigs;
    d = decide_cds(child, answers, ds_of({&ksk1}), {}, now);
    EXPECT_EQ(d.outcome, cds_outcome::refused);
    EXPECT_NE(d.reason.find("192.0.2.1"), std::string::npos) << d.reason;

    // No key of the DNSKEY RRset matches the current DS at all.
    key stranger = generate(dnssec::key_role::ksk);
    d = decide_cds(child, rollover({&ksk1}), ds_of({&stranger}), {}, now);
    EXPECT_EQ(d.outcome, cds_outcome::refused);
    EXPECT_NE(d.reason.find("matches the current DS"), std::string::npos) << d.reason;
}

TEST_F(CdsPolicy, InconsistentCdsAndCdnskeyAreRefused) {
    std::vector answers{answer("192.0.2.1", cds_of({&ksk1, &ksk2}), cdnskey_of({&ksk1}), {&ksk1})};
    auto d = decide_cds(child, answers, ds_of({&ksk1}), {}, now);
    EXPECT_EQ(d.outcome, cds_outcome::refused);
    EXPECT_NE(d.reason.find("inconsistent"), std::string::npos) << d.reason;
    EXPECT_NE(d.reason.find(std::to_string(ksk2.tag())), std::string::npos) << d.reason;

    answers = {answer("192.0.2.1", cds_of({&ksk1}), cdnskey_of({&ksk1, &ksk2}), {&ksk1})};
    d = decide_cds(child, answers, ds_of({&ksk1}), {}, now);
    EXPECT_EQ(d.outcome, cds_outcome::refused);
    EXPECT_NE(d.reason.find("without a matching CDS"), std::string::npos) << d.reason;
}

TEST_F(CdsPolicy, DigestTypesThePolicyDoesNotAcceptAreDropped) {
    // CDS in SHA-256 and SHA-384 for both keys, CDNSKEY for both: consistent. The parent
    // accepts SHA-256 only and publishes just those.
    auto cds = cds_of({&ksk1, &ksk2}, sha256);
    auto cds384 = cds_of({&ksk1, &ksk2}, sha384);
    cds.insert(cds.end(), cds384.begin(), cds384.end());
    std::vector answers{answer("192.0.2.1", cds, cdnskey_of({&ksk1, &ksk2}), {&ksk1})};
    auto d = decide_cds(child, answers, ds_of({&ksk1}), {}, now);
    ASSERT_EQ(d.outcome, cds_outcome::updated) << d.reason;
    EXPECT_EQ(rdata_of(d.ds), rdata_of(ds_of({&ksk1, &ksk2})));

    // SHA-1 only: nothing left to publish.
    answers = {answer("192.0.2.1", cds_of({&ksk1, &ksk2}, dnssec::digest_type::SHA1), {}, {&ksk1})};
    d = decide_cds(child, answers, ds_of({&ksk1}), {}, now);
    EXPECT_EQ(d.outcome, cds_outcome::refused);
    EXPECT_NE(d.reason.find("digest type"), std::string::npos) << d.reason;
}

TEST_F(CdsPolicy, UnknownAlgorithmOrDigestTypeIsRefused) {
    auto cds_with = [&](std::vector<uint8_t> rdata) {
        auto records = cds_of({&ksk1});
        dns::rr r = records.front();
        r.rdata = std::move(rdata);
        records.push_back(r);
        return std::vector{answer("192.0.2.1", records, {}, {&ksk1})};
    };
    auto good = dnssec::make_cds(ksk2, sha256, ttl).rdata;

    auto unknown_alg = good;
    unknown_alg[2] = 12;  // ECC-GOST: hsync cannot validate it
    auto d = decide_cds(child, cds_with(unknown_alg), ds_of({&ksk1}), {}, now);
    EXPECT_EQ(d.outcome, cds_outcome::refused);
    EXPECT_NE(d.reason.find("algorithm"), std::string::npos) << d.reason;

    auto unknown_digest = good;
    unknown_digest[3] = 99;
    d = decide_cds(child, cds_with(unknown_digest), ds_of({&ksk1}), {}, now);
    EXPECT_EQ(d.outcome, cds_outcome::refused);
    EXPECT_NE(d.reason.find("unknown digest type 99"), std::string::npos) << d.reason;

    auto short_digest = good;
    short_digest.pop_back();
    d = decide_cds(child, cds_with(short_digest), ds_of({&ksk1}), {}, now);
    EXPECT_EQ(d.outcome, cds_outcome::refused);
    EXPECT_NE(d.reason.find("must be 32 octets, not 31"), std::string::npos) << d.reason;

    // A CDNSKEY of an algorithm hsync cannot validate.
    auto cdnskey = cdnskey_of({&ksk1});
    auto odd = dnssec::key_rdata::parse(cdnskey.front().rdata);
    odd.algorithm = 253;
    cdnskey.front().rdata = odd.to_wire();
    d = decide_cds(child, std::vector{answer("192.0.2.1", {}, cdnskey, {&ksk1})}, ds_of({&ksk1}),
                   {}, now);
    EXPECT_EQ(d.outcome, cds_outcome::refused);
    EXPECT_NE(d.reason.find("algorithm"), std::string::npos) << d.reason;
}

TEST_F(CdsPolicy, AnswersThatAreNotSecureAreRefused) {
    for (auto status : {validation::insecure, validation::bogus, validation::timeout}) {
        auto answers = rollover({&ksk1});
        answers[1].cds.status = status;
        answers[1].cds.reason = "resolver says so";
        auto d = decide_cds(child, answers, ds_of({&ksk1}), {}, now);
        EXPECT_EQ(d.outcome, cds_outcome::refused);
        EXPECT_NE(d.reason.find("192.0.2.2"), std::string::npos) << d.reason;
        EXPECT_NE(d.reason.find(std::string(parent::validation_name(status))), std::string::npos)
            << d.reason;
        EXPECT_NE(d.reason.find("resolver says so"), std::string::npos) << d.reason;
    }
    auto answers = rollover({&ksk1});
    answers[0].dnskey.status = validation::bogus;
    auto d = decide_cds(child, answers, ds_of({&ksk1}), {}, now);
    EXPECT_EQ(d.outcome, cds_outcome::refused);
    EXPECT_NE(d.reason.find("192.0.2.1: the DNSKEY answer is bogus"), std::string::npos)
        << d.reason;
}

TEST_F(CdsPolicy, OversizedRrsetsAreRefused) {
    std::vector<key> many;
    std::vector<const key*> pointers;
    for (int i = 0; i < 17; ++i)
        many.push_back(generate(dnssec::key_role::ksk));
    for (const auto& k : many)
        pointers.push_back(&k);
    auto d = decide_cds(child, std::vector{answer("192.0.2.1", cds_of(pointers), {}, {&ksk1})},
                        ds_of({&ksk1}), {}, now);
    EXPECT_EQ(d.outcome, cds_outcome::refused);
    EXPECT_NE(d.reason.find("17 CDS records"), std::string::npos) << d.reason;

    d = decide_cds(child, std::vector{answer("192.0.2.1", {}, cdnskey_of(pointers), {&ksk1})},
                   ds_of({&ksk1}), {}, now);
    EXPECT_EQ(d.outcome, cds_outcome::refused);
    EXPECT_NE(d.reason.find("17 CDNSKEY records"), std::string::npos) << d.reason;
}

TEST_F(CdsPolicy, NewDsThatWouldLockOutIsRefused) {
    // DS for the ZSK only: it is in the DNSKEY RRset but does not sign it.
    std::vector answers{answer("192.0.2.1", cds_of({&zsk}), {}, {&ksk1})};
    auto d = decide_cds(child, answers, ds_of({&ksk1}), {}, now);
    EXPECT_EQ(d.outcome, cds_outcome::refused);
    EXPECT_NE(d.reason.find("lock"), std::string::npos) << d.reason;

    // DS for a key not (yet) in the DNSKEY RRset only.
    key future = generate(dnssec::key_role::ksk);
    answers = {answer("192.0.2.1", cds_of({&future}), {}, {&ksk1})};
    d = decide_cds(child, answers, ds_of({&ksk1}), {}, now);
    EXPECT_EQ(d.outcome, cds_outcome::refused);
    EXPECT_NE(d.reason.find("lock"), std::string::npos) << d.reason;

    // Pre-publishing it next to a working key is fine (double-DS rollover).
    answers = {answer("192.0.2.1", cds_of({&ksk1, &future}), {}, {&ksk1})};
    EXPECT_EQ(decide_cds(child, answers, ds_of({&ksk1}), {}, now).outcome, cds_outcome::updated);
}

TEST_F(CdsPolicy, MultiSignerLockOutIsCheckedPerNameserver) {
    // RFC 8901 model 2: provider A signs DNSKEY with ksk1, provider B with ksk2; both
    // publish both keys and the same CDS/CDNSKEY, signed by their own KSK.
    auto provider = [&](std::string server, const key& own, std::vector<const key*> cds_keys) {
        cds_answer a;
        a.server = std::move(server);
        a.dnskey = signed_set(dnskeys({&ksk1, &ksk2, &zsk}), {&own});
        a.cds = signed_set(cds_of(cds_keys), {&own});
        a.cdnskey = signed_set(cdnskey_of(cds_keys), {&own});
        return a;
    };
    std::vector answers{provider("192.0.2.1", ksk1, {&ksk1, &ksk2}),
                        provider("198.51.100.1", ksk2, {&ksk1, &ksk2})};
    auto d = decide_cds(child, answers, ds_of({&ksk1, &ksk2}), {}, now);
    EXPECT_EQ(d.outcome, cds_outcome::unchanged) << d.reason;

    // Dropping provider B's DS while B still signs with ksk2 alone would lock B out.
    answers = {provider("192.0.2.1", ksk1, {&ksk1}), provider("198.51.100.1", ksk2, {&ksk1})};
    d = decide_cds(child, answers, ds_of({&ksk1, &ksk2}), {}, now);
    EXPECT_EQ(d.outcome, cds_outcome::refused);
    EXPECT_NE(d.reason.find("lock"), std::string::npos) << d.reason;
    EXPECT_NE(d.reason.find("198.51.100.1"), std::string::npos) << d.reason;
}

TEST_F(CdsPolicy, InitialDsOnlyWhenThePolicyAllowsIt) {
    // An unsigned delegation: the resolver calls the child's answers insecure.
    auto insecure = [](std::vector<cds_answer> answers) {
        for (auto& a : answers)
            for (auto* rrset : {&a.cds, &a.cdnskey, &a.dnskey})
                rrset->status = validation::insecure;
        return answers;
    };
    auto answers = insecure(rollover({&ksk1}));
    auto d = decide_cds(child, answers, {}, {}, now);
    EXPECT_EQ(d.outcome, cds_outcome::refused);
    EXPECT_NE(d.reason.find("RFC 8078 §3"), std::string::npos) << d.reason;

    cds_policy bootstrap;
    bootstrap.allow_initial_ds = true;
    bootstrap.default_ds_ttl = 900;
    d = decide_cds(child, answers, {}, bootstrap, now);
    ASSERT_EQ(d.outcome, cds_outcome::updated) << d.reason;
    EXPECT_TRUE(d.initial);
    EXPECT_EQ(rdata_of(d.ds), rdata_of(ds_of({&ksk1, &ksk2})));
    EXPECT_EQ(d.ds.front().ttl, 900u);

    // The CDS must at least be signed by a key it points to.
    d = decide_cds(child, insecure(rollover({&zsk})), {}, bootstrap, now);
    EXPECT_EQ(d.outcome, cds_outcome::refused);
    EXPECT_NE(d.reason.find("the new DS"), std::string::npos) << d.reason;

    // Bogus stays refused, and an unsigned child without CDS is simply unchanged.
    answers[0].cds.status = validation::bogus;
    EXPECT_EQ(decide_cds(child, answers, {}, bootstrap, now).outcome, cds_outcome::refused);
    EXPECT_EQ(decide_cds(child, insecure({answer("192.0.2.1", {}, {}, {})}), {}, {}, now).outcome,
              cds_outcome::unchanged);
}

TEST_F(CdsPolicy, RecordsOfTheWrongOwnerOrTypeAreRefused) {
    auto answers = rollover({&ksk1});
    answers[0].cds.records[0].owner = name::from_text("other.example.");
    auto d = decide_cds(child, answers, ds_of({&ksk1}), {}, now);
    EXPECT_EQ(d.outcome, cds_outcome::refused);
    EXPECT_NE(d.reason.find("other.example."), std::string::npos) << d.reason;

    EXPECT_EQ(decide_cds(child, {}, ds_of({&ksk1}), {}, now).outcome, cds_outcome::refused);
}
