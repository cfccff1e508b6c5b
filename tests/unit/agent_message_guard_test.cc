// The inbound check of agent messages (roles/agent/message_guard.h): every verdict, the
// window, the replay cache and its bounds, and a NOTIFY signed by BIND's dig -k.
#include "roles/agent/message_guard.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>

#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "dns/message.h"
#include "dnssec/key.h"
#include "dnssec/keyfile.h"
#include "dnssec/rrsig.h"
#include "dnssec/sig0.h"
#include "dnssec/tsig.h"

using namespace hsync;
using namespace hsync::agent;

namespace {

dns::name N(std::string_view s) {
    return dns::name::from_text(s);
}

constexpr int64_t t0 = 1700000000;
constexpr uint8_t ecdsa = dnssec::algorithm::ECDSAP256SHA256;

std::vector<uint8_t> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in) << "cannot open " << path;
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string read_text(const std::string& path) {
    auto bytes = read_file(path);
    return {bytes.begin(), bytes.end()};
}

std::vector<uint8_t> notify_wire(uint16_t id = 0x4242, std::string_view zone = "example.lab.") {
    dns::message m;
    m.id = id;
    m.opcode = dns::opcode::NOTIFY;
    m.aa = true;
    m.questions.push_back({N(zone), dns::rr_type::SOA, dns::rr_class::IN});
    std::vector<uint8_t> w;
    m.to_wire(w);
    return w;
}

std::vector<uint8_t> signed_notify(const dnssec::key& k, int64_t now, uint16_t id = 0x4242) {
    auto w = notify_wire(id);
    dnssec::sig0_sign(w, k, now);
    return w;
}

// Validated KEYs by identity, as discovery would have found them.
struct directory {
    std::map<dns::name, validated_key> keys;
    void add(const dns::name& identity, const dnssec::key& k) {
        keys[identity] = validated_key{k.owner(), k.rdata()};
    }
    key_lookup lookup() const {
        return [this](const dns::name& identity) -> std::optional<validated_key> {
            auto found = keys.find(identity);
            if (found == keys.end()) return std::nullopt;
            return found->second;
        };
    }
};

class MessageGuard : public ::testing::Test {
  protected:
    int64_t now = t0;
    message_guard guard{[this] { return now; }};
    dnssec::key p2 = dnssec::key::generate(N("agent.p2.lab."), ecdsa, dnssec::key_role::sig0);
    dnssec::key p3 = dnssec::key::generate(N("agent.p3.lab."), ecdsa, dnssec::key_role::sig0);
    directory peers;
    std::vector<dns::name> zone_agents{N("agent.p1.lab."), N("agent.p2.lab.")};

    void SetUp() override {
        peers.add(N("agent.p2.lab."), p2);
        peers.add(N("agent.p3.lab."), p3);
    }

    guard_verdict check(message_guard& g, const std::vector<uint8_t>& w,
                        std::span<const uint8_t> request = {}) {
        dns::message m = dns::message::parse(w);
        return g.check(w, m, peers.lookup(), zone_agents, request);
    }
    guard_verdict check(const std::vector<uint8_t>& w, std::span<const uint8_t> request = {}) {
        return check(guard, w, request);
    }
};

void expect_failure(const guard_verdict& v, guard_failure failure, uint16_t rcode) {
    EXPECT_FALSE(v.accepted()) << v.reason;
    ASSERT_TRUE(v.failure.has_value());
    EXPECT_EQ(*v.failure, failure) << v.label() << ": " << v.reason;
    EXPECT_EQ(v.rcode(), rcode) << v.label();
    EXPECT_EQ(v.result, rcode == dns::rcode::NOTAUTH ? guard_verdict::outcome::notauth
                                                     : guard_verdict::outcome::refused);
    EXPECT_FALSE(v.reason.empty());
}

// The SIG RDATA of a signed wire starts after the SIG's owner (root, 1), type, class,
// TTL and RDLENGTH.
size_t sig_rdata_offset(const std::vector<uint8_t>& w) {
    return dns::message::parse(w).signature_offset + 1 + 2 + 2 + 4 + 2;
}

}  // namespace

TEST(MessageGuardLabels, RcodesAndLabels) {
    const std::map<guard_failure, std::pair<std::string, uint16_t>> expected = {
        {guard_failure::unsigned_message, {"unsigned", dns::rcode::REFUSED}},
        {guard_failure::malformed_sig, {"malformed-sig", dns::rcode::REFUSED}},
        {guard_failure::not_in_hsync, {"not-in-hsync", dns::rcode::REFUSED}},
        {guard_failure::unknown_signer, {"unknown-signer", dns::rcode::REFUSED}},
        {guard_failure::key_mismatch, {"key-mismatch", dns::rcode::NOTAUTH}},
        {guard_failure::stale, {"stale", dns::rcode::NOTAUTH}},
        {guard_failure::replayed, {"replayed", dns::rcode::NOTAUTH}},
        {guard_failure::bad_signature, {"bad-signature", dns::rcode::NOTAUTH}},
        {guard_failure::replay_cache_full, {"replay-cache-full", dns::rcode::REFUSED}},
    };
    ASSERT_EQ(expected.size(), guard_failure_count);
    for (const auto& [failure, want] : expected) {
        EXPECT_EQ(counter_label(failure), want.first);
        EXPECT_EQ(rcode_for(failure), want.second) << want.first;
    }
    guard_verdict ok;
    ok.result = guard_verdict::outcome::accepted;
    EXPECT_EQ(ok.rcode(), dns::rcode::NOERROR);
    EXPECT_EQ(ok.label(), "accepted");
}

TEST_F(MessageGuard, AcceptsOnceThenRefusesTheReplay) {
    auto w = signed_notify(p2, t0);
    auto v = check(w);
    ASSERT_TRUE(v.accepted()) << v.reason;
    EXPECT_EQ(v.signer, N("agent.p2.lab."));
    EXPECT_EQ(v.rcode(), dns::rcode::NOERROR);
    EXPECT_FALSE(v.failure.has_value());
    EXPECT_EQ(guard.accepted_count(), 1u);
    EXPECT_EQ(guard.replay_entries(), 1u);
    EXPECT_EQ(guard.replay_bytes(), message_guard::bytes_per_entry);

    now = t0 + 10;
    expect_failure(check(w), guard_failure::replayed, dns::rcode::NOTAUTH);
    EXPECT_EQ(guard.failure_count(guard_failure::replayed), 1u);
    EXPECT_EQ(guard.accepted_count(), 1u);
    EXPECT_EQ(guard.replay_entries(), 1u);

    // Another message of the same peer (another ID) is new.
    EXPECT_TRUE(check(signed_notify(p2, t0, 0x4243)).accepted());
    // The same content signed again in the same second is the same signed message.
    expect_failure(check(signed_notify(p2, t0)), guard_failure::replayed, dns::rcode::NOTAUTH);
}

TEST_F(MessageGuard, ReplayWithTheOtherEcdsaSignatureIsStillAReplay) {
    auto w = signed_notify(p2, t0);
    ASSERT_TRUE(check(w).accepted());
    // ECDSA (r, s) and (r, n - s) both verify: the cache must not key on signature bytes.
    auto twin = w;
    BIGNUM* order = nullptr;
    ASSERT_GT(BN_hex2bn(&order, "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551"),
              0);
    BIGNUM* s = BN_bin2bn(twin.data() + twin.size() - 32, 32, nullptr);
    BIGNUM* other_s = BN_new();
    ASSERT_EQ(BN_sub(other_s, order, s), 1);
    ASSERT_EQ(BN_bn2binpad(other_s, twin.data() + twin.size() - 32, 32), 32);
    BN_free(order);
    BN_free(s);
    BN_free(other_s);
    ASSERT_NE(twin, w);

    message_guard fresh{[this] { return now; }};
    EXPECT_TRUE(check(fresh, twin).accepted()) << "the twin signature verifies on its own";
    expect_failure(check(twin), guard_failure::replayed, dns::rcode::NOTAUTH);
}

TEST_F(MessageGuard, Unsigned) {
    expect_failure(check(notify_wire()), guard_failure::unsigned_message, dns::rcode::REFUSED);

    // A TSIG is not a SIG(0).
    auto w = notify_wire();
    dnssec::tsig_session(dnssec::generate_tsig_key(N("k."))).sign(w, t0);
    expect_failure(check(w), guard_failure::unsigned_message, dns::rcode::REFUSED);
    EXPECT_EQ(guard.failure_count(guard_failure::unsigned_message), 2u);
    EXPECT_EQ(guard.replay_entries(), 0u);
}

TEST_F(MessageGuard, MalformedSig) {
    auto good = signed_notify(p2, t0);
    size_t rdata = sig_rdata_offset(good);
    size_t record = dns::message::parse(good).signature_offset;

    auto labels = good;
    labels[rdata + 3] = 1;
    expect_failure(check(labels), guard_failure::malformed_sig, dns::rcode::REFUSED);

    auto original_ttl = good;
    original_ttl[rdata + 7] = 1;
    expect_failure(check(original_ttl), guard_failure::malformed_sig, dns::rcode::REFUSED);

    auto class_in = good;
    class_in[record + 3] = 0;
    class_in[record + 4] = 1;
    expect_failure(check(class_in), guard_failure::malformed_sig, dns::rcode::REFUSED);

    auto ttl = good;
    ttl[record + 8] = 5;
    expect_failure(check(ttl), guard_failure::malformed_sig, dns::rcode::REFUSED);

    // Expiration before inception.
    auto backwards = notify_wire();
    dnssec::sig0_sign(backwards, p2.owner(), p2.tag(), *p2.private_key(), t0 + 300, t0 - 300);
    expect_failure(check(backwards), guard_failure::malformed_sig, dns::rcode::REFUSED);

    // A SIG that covers a type is not a SIG(0).
    auto covering = good;
    covering[rdata + 1] = 6;
    expect_failure(check(covering), guard_failure::malformed_sig, dns::rcode::REFUSED);

    EXPECT_EQ(guard.failure_count(guard_failure::malformed_sig), 6u);
    EXPECT_EQ(guard.replay_entries(), 0u);
    EXPECT_TRUE(check(good).accepted());
}

TEST_F(MessageGuard, NotInHsync) {
    // agent.p3.lab. is a known, validated agent, but this zone does not name it.
    expect_failure(check(signed_notify(p3, t0)), guard_failure::not_in_hsync, dns::rcode::REFUSED);
    // Nobody we know.
    auto stranger = dnssec::key::generate(N("x.example."), ecdsa, dnssec::key_role::sig0);
    expect_failure(check(signed_notify(stranger, t0)), guard_failure::not_in_hsync,
                   dns::rcode::REFUSED);
    // No allowed identities at all.
    zone_agents.clear();
    expect_failure(check(signed_notify(p2, t0)), guard_failure::not_in_hsync, dns::rcode::REFUSED);
    EXPECT_EQ(guard.failure_count(guard_failure::not_in_hsync), 3u);
    EXPECT_EQ(guard.replay_entries(), 0u);
}

TEST_F(MessageGuard, UnknownSigner) {
    // Named by the zone, KEY not (yet) validated: REFUSED, the sender retries.
    auto p1 = dnssec::key::generate(N("agent.p1.lab."), ecdsa, dnssec::key_role::sig0);
    auto w = signed_notify(p1, t0);
    expect_failure(check(w), guard_failure::unknown_signer, dns::rcode::REFUSED);
    EXPECT_EQ(guard.replay_entries(), 0u);
    // Once discovered, the very same message passes: the refusal remembered nothing.
    peers.add(N("agent.p1.lab."), p1);
    EXPECT_TRUE(check(w).accepted());
}

TEST_F(MessageGuard, KeyMismatch) {
    auto rolled = dnssec::key::generate(N("agent.p2.lab."), ecdsa, dnssec::key_role::sig0);
    ASSERT_NE(rolled.tag(), p2.tag());
    expect_failure(check(signed_notify(rolled, t0)), guard_failure::key_mismatch,
                   dns::rcode::NOTAUTH);
    // Same tag, other algorithm.
    auto w = signed_notify(p2, t0);
    auto other_algorithm = w;
    other_algorithm[sig_rdata_offset(w) + 2] = dnssec::algorithm::ED25519;
    expect_failure(check(other_algorithm), guard_failure::key_mismatch, dns::rcode::NOTAUTH);
    EXPECT_EQ(guard.replay_entries(), 0u);
}

TEST_F(MessageGuard, KeyOwnerIsNotTheIdentity) {
    // protocol.md §5: the KEY sits at the URI target, here ns.p2.lab. for agent.p2.lab.
    auto at_target = dnssec::key::generate(N("ns.p2.lab."), ecdsa, dnssec::key_role::sig0);
    peers.add(N("agent.p2.lab."), at_target);
    auto v = check(signed_notify(at_target, t0));
    ASSERT_TRUE(v.accepted()) << v.reason;
    EXPECT_EQ(v.signer, N("agent.p2.lab."));
    // Signing as the identity while the validated KEY is elsewhere.
    expect_failure(check(signed_notify(p2, t0, 7)), guard_failure::key_mismatch,
                   dns::rcode::NOTAUTH);
}

TEST_F(MessageGuard, BadSignature) {
    auto good = signed_notify(p2, t0);
    size_t end_of_message = dns::message::parse(good).signature_offset;
    auto tampered = good;
    tampered[end_of_message - 1] ^= 0x01;  // the question's class
    dns::message parsed = dns::message::parse(tampered);
    auto v = guard.check(tampered, parsed, peers.lookup(), zone_agents);
    expect_failure(v, guard_failure::bad_signature, dns::rcode::NOTAUTH);

    auto bad_sig = good;
    bad_sig[bad_sig.size() - 3] ^= 0x20;
    expect_failure(check(bad_sig), guard_failure::bad_signature, dns::rcode::NOTAUTH);

    // A changed ID is a changed message: SIG(0) covers the header.
    auto other_id = good;
    other_id[0] ^= 0xff;
    expect_failure(check(other_id), guard_failure::bad_signature, dns::rcode::NOTAUTH);

    EXPECT_EQ(guard.failure_count(guard_failure::bad_signature), 3u);
    EXPECT_EQ(guard.replay_entries(), 0u);
    // Failures never entered the cache: the genuine message is still new.
    EXPECT_TRUE(check(good).accepted());
}

TEST_F(MessageGuard, UnusableValidatedKeyIsABadSignature) {
    // A validated KEY whose public key is no P-256 point but whose tag is still the one
    // the SIG(0) names: one word of the key raised by 256 and the next lowered by 256
    // keep the key tag's sum (RFC 4034 Appendix B).
    validated_key broken{p2.owner(), p2.rdata()};
    size_t i = 4;
    while (i + 2 < broken.rdata.size() && (broken.rdata[i] == 0xff || broken.rdata[i + 2] == 0))
        i += 2;
    ASSERT_LT(i + 2, broken.rdata.size());
    ++broken.rdata[i];
    --broken.rdata[i + 2];
    ASSERT_EQ(dnssec::key_tag(broken.rdata), p2.tag());
    directory odd;
    odd.keys[N("agent.p2.lab.")] = broken;
    auto w = signed_notify(p2, t0);
    dns::message m = dns::message::parse(w);
    expect_failure(guard.check(w, m, odd.lookup(), zone_agents), guard_failure::bad_signature,
                   dns::rcode::NOTAUTH);
    EXPECT_EQ(guard.replay_entries(), 0u);
}

TEST_F(MessageGuard, TimeWindow) {
    auto w = signed_notify(p2, t0);
    for (int64_t at : {t0 - 301, t0 + 301, t0 + 3600, t0 - 3600}) {
        now = at;
        expect_failure(check(w), guard_failure::stale, dns::rcode::NOTAUTH);
    }
    EXPECT_EQ(guard.failure_count(guard_failure::stale), 4u);
    EXPECT_EQ(guard.replay_entries(), 0u);
    now = t0 - 300;  // the edges are inside
    EXPECT_TRUE(check(w).accepted());
    message_guard other{[this] { return now; }};
    now = t0 + 300;
    EXPECT_TRUE(check(other, w).accepted());
}

TEST_F(MessageGuard, LongValidityIsHeldToTheWindow) {
    // A sender that signs for ±1 day still counts as having signed at t0.
    auto w = notify_wire();
    dnssec::sig0_sign(w, p2, t0, {}, 86400, 86400);
    now = t0 + 301;
    expect_failure(check(w), guard_failure::stale, dns::rcode::NOTAUTH);
    now = t0 - 301;
    expect_failure(check(w), guard_failure::stale, dns::rcode::NOTAUTH);
    now = t0 + 299;
    EXPECT_TRUE(check(w).accepted());
}

TEST_F(MessageGuard, NarrowerConfiguredWindow) {
    message_guard narrow{[this] { return now; }, message_guard_config{.window = 60}};
    EXPECT_EQ(narrow.config().window, 60);
    auto w = signed_notify(p2, t0);
    now = t0 + 61;
    expect_failure(check(narrow, w), guard_failure::stale, dns::rcode::NOTAUTH);
    now = t0 - 60;
    EXPECT_TRUE(check(narrow, w).accepted());
}

TEST_F(MessageGuard, ReplayEntriesExpireWithTheirWindow) {
    auto w = signed_notify(p2, t0);
    ASSERT_TRUE(check(w).accepted());
    now = t0 + 300;  // last second the signature passes: still remembered
    expect_failure(check(w), guard_failure::replayed, dns::rcode::NOTAUTH);
    EXPECT_EQ(guard.replay_entries(), 1u);
    now = t0 + 301;  // could no longer pass: forgotten, and the message is stale anyway
    expect_failure(check(w), guard_failure::stale, dns::rcode::NOTAUTH);
    EXPECT_EQ(guard.replay_entries(), 0u);
    EXPECT_EQ(guard.replay_bytes(), 0u);
}

TEST_F(MessageGuard, ResponseIsCheckedWithItsRequest) {
    auto request = notify_wire(9);
    dnssec::sig0_sign(request, p2, t0);
    dns::message resp;
    resp.id = 9;
    resp.qr = true;
    resp.opcode = dns::opcode::NOTIFY;
    resp.questions.push_back({N("example.lab."), dns::rr_type::SOA, dns::rr_class::IN});
    std::vector<uint8_t> rw;
    resp.to_wire(rw);
    dnssec::sig0_sign(rw, p3, t0, request);
    zone_agents.push_back(N("agent.p3.lab."));

    expect_failure(check(rw), guard_failure::bad_signature, dns::rcode::NOTAUTH);
    auto v = check(rw, request);
    ASSERT_TRUE(v.accepted()) << v.reason;
    EXPECT_EQ(v.signer, N("agent.p3.lab."));
    // A response takes no room in the replay cache: it is bound to our request, which the
    // client matches while it is outstanding (a second copy is dropped there).
    EXPECT_EQ(guard.replay_entries(), 0u);
    // Signed over another request, it fails.
    auto other = notify_wire(9);
    dnssec::sig0_sign(other, p2, t0 + 1);
    expect_failure(check(rw, other), guard_failure::bad_signature, dns::rcode::NOTAUTH);
}

TEST_F(MessageGuard, ReplayCacheIsBounded) {
    message_guard small{[this] { return now; },
                        message_guard_config{.max_entries = 3, .max_entries_per_signer = 2}};
    zone_agents.push_back(N("agent.p3.lab."));
    EXPECT_TRUE(check(small, signed_notify(p2, t0, 1)).accepted());
    EXPECT_TRUE(check(small, signed_notify(p2, t0, 2)).accepted());
    // p2 has its share; failing closed keeps both of its entries.
    expect_failure(check(small, signed_notify(p2, t0, 3)), guard_failure::replay_cache_full,
                   dns::rcode::REFUSED);
    // Others still have room, up to the total.
    EXPECT_TRUE(check(small, signed_notify(p3, t0, 1)).accepted());
    expect_failure(check(small, signed_notify(p3, t0, 2)), guard_failure::replay_cache_full,
                   dns::rcode::REFUSED);
    EXPECT_EQ(small.replay_entries(), 3u);
    EXPECT_LE(small.replay_bytes(), 3 * message_guard::bytes_per_entry);
    expect_failure(check(small, signed_notify(p2, t0, 1)), guard_failure::replayed,
                   dns::rcode::NOTAUTH);

    // Once the old signatures can no longer pass, their room is free again.
    now = t0 + 301;
    EXPECT_TRUE(check(small, signed_notify(p2, now, 3)).accepted());
    EXPECT_EQ(small.replay_entries(), 1u);
    EXPECT_EQ(small.failure_count(guard_failure::replay_cache_full), 2u);
}

TEST_F(MessageGuard, HeartbeatAgainstThePeerSet) {
    // A heartbeat is about the relation: the allowed set is the peer set.
    std::vector<dns::name> peer_set{N("agent.p3.lab.")};
    auto w = notify_wire(5, "agent.p3.lab.");
    dnssec::sig0_sign(w, p3, t0);
    dns::message m = dns::message::parse(w);
    auto v = guard.check(w, m, peers.lookup(), peer_set);
    ASSERT_TRUE(v.accepted()) << v.reason;
    EXPECT_EQ(v.signer, N("agent.p3.lab."));
}

TEST_F(MessageGuard, OwnSignatureIsRfc2931Form) {
    // What an RFC 2931 verifier checks, done here without sig0_verify: SIG last in the
    // additional section, root owner, class ANY, TTL 0, type covered 0, and the signature
    // over (RDATA before the signature | message before the SIG with ARCOUNT less one).
    auto w = signed_notify(p2, t0);
    dns::message m = dns::message::parse(w);
    ASSERT_TRUE(m.sig0);
    EXPECT_TRUE(m.sig0->owner.is_root());
    EXPECT_EQ(m.sig0->rclass, dns::rr_class::ANY);
    EXPECT_EQ(m.sig0->ttl, 0u);
    auto f = dnssec::rrsig_fields::parse(m.sig0->rdata);
    EXPECT_EQ(f.type_covered, 0);
    std::vector<uint8_t> data(m.sig0->rdata.begin(),
                              m.sig0->rdata.end() - static_cast<ptrdiff_t>(f.signature.size()));
    std::vector<uint8_t> before(w.begin(), w.begin() + static_cast<ptrdiff_t>(m.signature_offset));
    uint16_t arcount = static_cast<uint16_t>((before[10] << 8 | before[11]) - 1);
    before[10] = static_cast<uint8_t>(arcount >> 8);
    before[11] = static_cast<uint8_t>(arcount);
    data.insert(data.end(), before.begin(), before.end());
    EXPECT_TRUE(p2.verify(data, f.signature));
    EXPECT_TRUE(check(w).accepted());
}

// A NOTIFY signed by BIND 9.18's `dig -k` (tests/data/agent/capture.py).
class DigSignedNotify : public ::testing::Test {
  protected:
    const std::string dir = std::string(HSYNC_TEST_DATA) + "/agent/";
    std::vector<uint8_t> wire = read_file(dir + "dig-sig0-notify.bin");
    dns::message parsed = dns::message::parse(wire);
    dnssec::key signer = dnssec::parse_public_key_file(read_text(dir + "agent.p1.lab.signer.key"));
    dnssec::key other = dnssec::parse_public_key_file(read_text(dir + "agent.p1.lab.other.key"));
    dnssec::rrsig_fields sig = dnssec::rrsig_fields::parse(parsed.sig0.value().rdata);
    // dig signs for now ±300 s: the middle of the validity is when it signed.
    int64_t signed_at = int64_t{sig.inception} + 300;
    int64_t now = signed_at;
    message_guard guard{[this] { return now; }};
    std::vector<dns::name> zone_agents{N("agent.p1.lab."), N("agent.p2.lab.")};

    guard_verdict check_with(const dnssec::key& k) {
        directory d;
        d.add(N("agent.p1.lab."), k);
        return guard.check(wire, parsed, d.lookup(), zone_agents);
    }
};

TEST_F(DigSignedNotify, IsWhatWeExpect) {
    EXPECT_EQ(parsed.opcode, dns::opcode::NOTIFY);
    ASSERT_EQ(parsed.questions.size(), 1u);
    EXPECT_EQ(parsed.questions[0].qname, N("example.lab."));
    EXPECT_EQ(sig.signer, N("agent.p1.lab."));
    EXPECT_EQ(sig.key_tag, signer.tag());
    EXPECT_EQ(sig.expiration - sig.inception, 600u);
    EXPECT_NE(signer.tag(), other.tag());
}

TEST_F(DigSignedNotify, AcceptedWithTheRightKeyAndClock) {
    auto v = check_with(signer);
    ASSERT_TRUE(v.accepted()) << v.reason;
    EXPECT_EQ(v.signer, N("agent.p1.lab."));
}

TEST_F(DigSignedNotify, RefusedWithAnotherKey) {
    expect_failure(check_with(other), guard_failure::key_mismatch, dns::rcode::NOTAUTH);
    EXPECT_EQ(guard.replay_entries(), 0u);
}

TEST_F(DigSignedNotify, StaleAnHourLater) {
    now = signed_at + 3600;
    expect_failure(check_with(signer), guard_failure::stale, dns::rcode::NOTAUTH);
    now = signed_at - 3600;
    expect_failure(check_with(signer), guard_failure::stale, dns::rcode::NOTAUTH);
}

TEST_F(DigSignedNotify, ReplayedTheSecondTime) {
    ASSERT_TRUE(check_with(signer).accepted());
    now = signed_at + 1;
    expect_failure(check_with(signer), guard_failure::replayed, dns::rcode::NOTAUTH);
}

TEST_F(DigSignedNotify, TamperedIsABadSignature) {
    auto tampered = wire;
    tampered[0] ^= 0x01;  // the ID
    dns::message m = dns::message::parse(tampered);
    directory d;
    d.add(N("agent.p1.lab."), signer);
    expect_failure(guard.check(tampered, m, d.lookup(), zone_agents), guard_failure::bad_signature,
                   dns::rcode::NOTAUTH);
}

TEST_F(DigSignedNotify, NotInThisZone) {
    zone_agents = {N("agent.p2.lab.")};
    expect_failure(check_with(signer), guard_failure::not_in_hsync, dns::rcode::REFUSED);
}
