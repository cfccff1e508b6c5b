// SIG(0) (RFC 2931): signing and verifying requests and responses with KEY keys of
// algorithms 13, 15 and 8, and every reason a signature is refused.
#include "dnssec/sig0.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dns/error.h"
#include "dns/message.h"
#include "dnssec/rrsig.h"

using namespace hsync;
using namespace hsync::dnssec;

namespace {

dns::name N(std::string_view s) {
    return dns::name::from_text(s);
}

constexpr int64_t t0 = 1700000000;

std::vector<uint8_t> notify_wire(uint16_t id = 0x4242) {
    dns::message m;
    m.id = id;
    m.opcode = dns::opcode::NOTIFY;
    m.aa = true;
    m.questions.push_back({N("example."), dns::rr_type::SOA, dns::rr_class::IN});
    m.additional.push_back(dns::rr::from_text("ns.example. 300 IN A 192.0.2.53"));
    std::vector<uint8_t> w;
    m.to_wire(w);
    return w;
}

sig0_result check(const std::vector<uint8_t>& w, const key& k, int64_t now = t0,
                  std::span<const uint8_t> request = {}) {
    auto m = dns::message::parse(w);
    return sig0_verify(w, m, k, now, request);
}

class Sig0 : public ::testing::TestWithParam<uint8_t> {};

}  // namespace

TEST_P(Sig0, SignAndVerify) {
    uint8_t alg = GetParam();
    key k = key::generate(N("agent.example."), alg, key_role::sig0);
    EXPECT_EQ(k.rr_type(), dns::rr_type::KEY);
    auto w = notify_wire();
    sig0_sign(w, k, t0);
    auto m = dns::message::parse(w);
    ASSERT_TRUE(m.sig0);
    EXPECT_TRUE(m.sig0->owner.is_root());
    EXPECT_EQ(m.sig0->rclass, dns::rr_class::ANY);
    EXPECT_EQ(m.sig0->ttl, 0u);
    EXPECT_EQ(m.additional.size(), 1u);
    auto f = rrsig_fields::parse(m.sig0->rdata);
    EXPECT_EQ(f.type_covered, 0);
    EXPECT_EQ(f.labels, 0);
    EXPECT_EQ(f.original_ttl, 0u);
    EXPECT_EQ(f.algorithm, alg);
    EXPECT_EQ(f.key_tag, k.tag());
    EXPECT_EQ(f.signer, N("agent.example."));
    EXPECT_EQ(f.inception, uint32_t(t0 - 300));
    EXPECT_EQ(f.expiration, uint32_t(t0 + 300));

    auto r = check(w, k);
    EXPECT_TRUE(r.ok()) << r.reason;
    EXPECT_TRUE(check(w, k, t0 + 300).ok());
    EXPECT_TRUE(check(w, k, t0 - 300).ok());
    // Only the public half is needed.
    key pub = key::from_rdata(k.owner(), k.rdata(), dns::rr_type::KEY);
    EXPECT_TRUE(check(w, pub).ok());
    EXPECT_TRUE(sig0_verify(w, m, N("AGENT.example."), k.rdata(), t0).ok());

    // Through dns::message.
    auto w2 = sig0_sign(dns::message::parse(notify_wire()), k, t0);
    EXPECT_TRUE(check(w2, k).ok());
}

TEST_P(Sig0, Refusals) {
    uint8_t alg = GetParam();
    key k = key::generate(N("agent.example."), alg, key_role::sig0);
    auto w = notify_wire();
    sig0_sign(w, k, t0);
    auto m = dns::message::parse(w);

    // Any flipped bit of the signed part (the ID included: SIG(0) covers it).
    size_t checked = 0;
    for (size_t i = 0; i < m.signature_offset; i += 3) {
        if (i == 10 || i == 11) continue;
        auto bad = w;
        bad[i] ^= 0x04;
        dns::message bm;
        try {
            bm = dns::message::parse(bad);
        } catch (const dns::wire_error&) {
            continue;
        }
        auto r = sig0_verify(bad, bm, k, t0);
        EXPECT_EQ(r.status, sig0_status::bad_signature) << "octet " << i << ": " << r.reason;
        ++checked;
    }
    EXPECT_GT(checked, 10u);
    // A bit of the signature itself.
    auto sigbad = w;
    sigbad[sigbad.size() - 5] ^= 0x10;
    EXPECT_EQ(check(sigbad, k).status, sig0_status::bad_signature);

    auto r = check(w, k, t0 + 301);
    EXPECT_EQ(r.status, sig0_status::expired) << r.reason;
    r = check(w, k, t0 - 301);
    EXPECT_EQ(r.status, sig0_status::not_yet_valid) << r.reason;

    key other = key::generate(N("agent.example."), alg, key_role::sig0);
    EXPECT_EQ(check(w, other).status, sig0_status::key_mismatch);
    key renamed = key::from_rdata(N("impostor.example."), k.rdata(), dns::rr_type::KEY);
    EXPECT_EQ(check(w, renamed).status, sig0_status::signer_mismatch);

    auto plain = check(notify_wire(), k);
    EXPECT_EQ(plain.status, sig0_status::no_signature);
    EXPECT_FALSE(plain.ok());
}

TEST_P(Sig0, ResponseCoversRequest) {
    uint8_t alg = GetParam();
    key client = key::generate(N("a.example."), alg, key_role::sig0);
    key server = key::generate(N("b.example."), alg, key_role::sig0);
    auto req = notify_wire(9);
    sig0_sign(req, client, t0);
    ASSERT_TRUE(check(req, client).ok());

    dns::message resp;
    resp.id = 9;
    resp.qr = true;
    resp.opcode = dns::opcode::NOTIFY;
    resp.questions.push_back({N("example."), dns::rr_type::SOA, dns::rr_class::IN});
    std::vector<uint8_t> rw;
    resp.to_wire(rw);
    sig0_sign(rw, server, t0, req);
    EXPECT_TRUE(check(rw, server, t0, req).ok());
    // Without the request, or with another request, the signature does not hold.
    EXPECT_EQ(check(rw, server, t0).status, sig0_status::bad_signature);
    auto other_req = req;
    other_req[other_req.size() - 1] ^= 1;  // the request's own SIG(0) is covered too
    EXPECT_EQ(check(rw, server, t0, other_req).status, sig0_status::bad_signature);
}

INSTANTIATE_TEST_SUITE_P(Algorithms, Sig0,
                         ::testing::Values(algorithm::ECDSAP256SHA256, algorithm::ED25519,
                                           algorithm::RSASHA256),
                         [](const auto& info) { return algorithm_name(info.param); });

TEST(Sig0Misc, SignNeedsPrivateKey) {
    key k = key::generate(N("a.example."), algorithm::ED25519, key_role::sig0);
    key pub = key::from_rdata(k.owner(), k.rdata(), dns::rr_type::KEY);
    auto w = notify_wire();
    EXPECT_THROW(sig0_sign(w, pub, t0), dnssec_error);
    std::vector<uint8_t> tiny(3, 0);
    EXPECT_THROW(sig0_sign(tiny, k, t0), dns::wire_error);
}

TEST(Sig0Misc, UnsupportedKeyIsReported) {
    key k = key::generate(N("a.example."), algorithm::ECDSAP256SHA256, key_role::sig0);
    auto w = notify_wire();
    sig0_sign(w, k, t0);
    auto m = dns::message::parse(w);
    // A KEY of the same tag claim but broken key material: unusable, not a crash.
    auto rdata = k.rdata();
    rdata.resize(rdata.size() - 10);
    auto r = sig0_verify(w, m, k.owner(), rdata, t0);
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(r.status == sig0_status::key_mismatch || r.status == sig0_status::unusable_key)
        << r.reason;
}
