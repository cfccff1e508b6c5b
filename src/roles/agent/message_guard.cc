// The inbound check of agent messages: SIG(0), window, replay cache (docs/protocol.md §9).
#include "roles/agent/message_guard.h"

#include <openssl/evp.h>

#include <algorithm>
#include <exception>
#include <memory>
#include <utility>

#include "dns/error.h"
#include "dnssec/key.h"
#include "dnssec/rrsig.h"
#include "dnssec/sig0.h"

namespace hsync::agent {

namespace {

// SIG RDATA before the signer name: type covered .. key tag.
constexpr size_t sig_fixed_prefix = 18;

// A 32-bit RRSIG time read as the 64-bit time closest to `now` (RFC 4034 §3.1.5 serial
// arithmetic), so the window works across the 2106 wrap.
int64_t unwrap_time(uint32_t t, int64_t now) {
    return now + static_cast<int32_t>(t - dnssec::rrsig_time(now));
}

struct digest_ctx_free {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// What the signature covers, less the signature: equal for a message and its replay
// however the signature bytes were varied. The request's length is hashed too, so that
// request and response cannot trade octets.
std::optional<std::array<uint8_t, 32>> replay_digest(std::span<const uint8_t> rdata_prefix,
                                                     std::span<const uint8_t> request,
                                                     std::span<const uint8_t> message) {
    std::unique_ptr<EVP_MD_CTX, digest_ctx_free> ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) return std::nullopt;
    const uint8_t request_length[2] = {static_cast<uint8_t>(request.size() >> 8),
                                       static_cast<uint8_t>(request.size())};
    std::array<uint8_t, 32> out{};
    unsigned int out_size = 0;
    if (EVP_DigestUpdate(ctx.get(), rdata_prefix.data(), rdata_prefix.size()) != 1 ||
        EVP_DigestUpdate(ctx.get(), request_length, sizeof request_length) != 1 ||
        EVP_DigestUpdate(ctx.get(), request.data(), request.size()) != 1 ||
        EVP_DigestUpdate(ctx.get(), message.data(), message.size()) != 1 ||
        EVP_DigestFinal_ex(ctx.get(), out.data(), &out_size) != 1 || out_size != out.size())
        return std::nullopt;
    return out;
}

bool has_any_sig_record(const dns::message& m) {
    for (const auto* section : {&m.answer, &m.authority, &m.additional})
        for (const dns::rr& r : *section)
            if (r.type == dns::rr_type::SIG) return true;
    return false;
}

// One allowed identity the signer name may stand for.
struct candidate {
    dns::name identity;
    std::optional<validated_key> key;
};

}  // namespace

std::string_view counter_label(guard_failure failure) {
    switch (failure) {
        case guard_failure::unsigned_message:
            return "unsigned";
        case guard_failure::malformed_sig:
            return "malformed-sig";
        case guard_failure::not_in_hsync:
            return "not-in-hsync";
        case guard_failure::unknown_signer:
            return "unknown-signer";
        case guard_failure::key_mismatch:
            return "key-mismatch";
        case guard_failure::stale:
            return "stale";
        case guard_failure::replayed:
            return "replayed";
        case guard_failure::bad_signature:
            return "bad-signature";
        case guard_failure::replay_cache_full:
            return "replay-cache-full";
    }
    return "?";
}

uint16_t rcode_for(guard_failure failure) {
    switch (failure) {
        case guard_failure::key_mismatch:
        case guard_failure::stale:
        case guard_failure::replayed:
        case guard_failure::bad_signature:
            return dns::rcode::NOTAUTH;
        case guard_failure::unsigned_message:
        case guard_failure::malformed_sig:
        case guard_failure::not_in_hsync:
        case guard_failure::unknown_signer:
        case guard_failure::replay_cache_full:
            return dns::rcode::REFUSED;
    }
    return dns::rcode::REFUSED;
}

uint16_t guard_verdict::rcode() const {
    if (accepted() || !failure) return dns::rcode::NOERROR;
    return rcode_for(*failure);
}

std::string_view guard_verdict::label() const {
    if (accepted() || !failure) return "accepted";
    return counter_label(*failure);
}

message_guard::message_guard(clock now, message_guard_config config)
    : now_(std::move(now)), config_(config) {
    // A window below one second would refuse everything, even our own messages.
    config_.window = std::max<int64_t>(config_.window, 1);
}

uint64_t message_guard::failure_count(guard_failure failure) const {
    return failures_[static_cast<size_t>(failure)];
}

size_t message_guard::replay_bytes() const {
    return by_digest_.size() * bytes_per_entry;
}

guard_verdict message_guard::refuse(guard_failure failure, std::string reason) {
    ++failures_[static_cast<size_t>(failure)];
    guard_verdict v;
    v.result = rcode_for(failure) == dns::rcode::NOTAUTH ? guard_verdict::outcome::notauth
                                                         : guard_verdict::outcome::refused;
    v.failure = failure;
    v.reason = std::move(reason);
    return v;
}

void message_guard::forget_expired(int64_t now) {
    while (!by_expiry_.empty() && by_expiry_.begin()->first < now) {
        auto found = by_digest_.find(by_expiry_.begin()->second);
        if (found != by_digest_.end()) {
            const dns::name* signer = found->second.signer;
            by_digest_.erase(found);
            auto count = per_signer_.find(*signer);
            if (count != per_signer_.end() && --count->second == 0) per_signer_.erase(count);
        }
        by_expiry_.erase(by_expiry_.begin());
    }
}

void message_guard::remember(const digest& d, int64_t expires, const dns::name& identity) {
    auto [count, inserted] = per_signer_.try_emplace(identity, 0);
    ++count->second;
    // Keys of an unordered_map node stay where they are until the node is erased.
    by_digest_.emplace(d, entry{expires, &count->first});
    by_expiry_.emplace(expires, d);
}

guard_verdict message_guard::check(std::span<const uint8_t> wire, const dns::message& parsed,
                                   const key_lookup& lookup,
                                   std::span<const dns::name> allowed_identities,
                                   std::span<const uint8_t> request) {
    const int64_t now = now_();
    forget_expired(now);

    // 1. A SIG(0) that can be read.
    if (!parsed.sig0) {
        if (has_any_sig_record(parsed))
            return refuse(guard_failure::malformed_sig,
                          "SIG record that is not a SIG(0) (type covered not 0, or not at the "
                          "root)");
        if (parsed.tsig) return refuse(guard_failure::unsigned_message, "TSIG instead of SIG(0)");
        return refuse(guard_failure::unsigned_message, "no SIG(0)");
    }
    const dns::rr& sig = *parsed.sig0;
    if (sig.rclass != dns::rr_class::ANY || sig.ttl != 0)
        return refuse(guard_failure::malformed_sig, "SIG(0) must have class ANY and TTL 0");
    dnssec::rrsig_fields fields;
    try {
        fields = dnssec::rrsig_fields::parse(sig.rdata);
    } catch (const std::exception& e) {
        return refuse(guard_failure::malformed_sig, std::string("SIG(0) RDATA: ") + e.what());
    }
    if (fields.labels != 0 || fields.original_ttl != 0)
        return refuse(guard_failure::malformed_sig, "SIG(0) labels and original TTL must be 0");
    if (fields.signature.empty())
        return refuse(guard_failure::malformed_sig, "SIG(0) has no signature");
    const int64_t inception = unwrap_time(fields.inception, now);
    const int64_t expiration = unwrap_time(fields.expiration, now);
    if (expiration < inception)
        return refuse(guard_failure::malformed_sig, "SIG(0) expires before its inception");
    if (parsed.signature_offset < dns::header_size || parsed.signature_offset > wire.size() ||
        parsed.original_arcount == 0)
        return refuse(guard_failure::malformed_sig, "SIG(0) position does not match the bytes");
    const dns::name& signer_name = fields.signer;

    // 2. Which allowed identity the signer name stands for (lookups only for those).
    std::vector<candidate> designated;
    for (const dns::name& identity : allowed_identities) {
        std::optional<validated_key> key = lookup ? lookup(identity) : std::nullopt;
        bool by_key_owner = key && key->owner == signer_name;
        // Without a validated KEY yet, a signer name at or below the identity (the usual
        // place of an agent's URI target) is taken to be that agent's: the sender is told
        // to retry (unknown-signer) rather than that it does not belong (not-in-hsync).
        bool by_identity =
            identity == signer_name || (!key && signer_name.is_subdomain_of(identity));
        if (by_key_owner || by_identity) designated.push_back({identity.canonical(), key});
    }
    if (designated.empty())
        return refuse(guard_failure::not_in_hsync,
                      "signer " + signer_name.to_text() + " is not an agent of this zone");

    // 3. Its validated KEY, and the key the SIG(0) names.
    std::vector<const candidate*> matching;
    std::string mismatch;
    bool any_key = false;
    for (const candidate& c : designated) {
        if (!c.key) continue;
        any_key = true;
        if (!(c.key->owner == signer_name)) {
            mismatch = "agent " + c.identity.to_text() + " signs as " + c.key->owner.to_text() +
                       ", not " + signer_name.to_text();
            continue;
        }
        uint8_t key_algorithm = c.key->rdata.size() > 3 ? c.key->rdata[3] : 0;
        uint16_t tag = dnssec::key_tag(c.key->rdata);
        if (tag == fields.key_tag && key_algorithm == fields.algorithm) {
            matching.push_back(&c);
        } else {
            mismatch = "SIG(0) names key " + std::to_string(fields.key_tag) + " algorithm " +
                       std::to_string(fields.algorithm) + ", the validated KEY of " +
                       c.identity.to_text() + " is " + std::to_string(tag) + " algorithm " +
                       std::to_string(key_algorithm);
        }
    }
    if (!any_key)
        return refuse(guard_failure::unknown_signer,
                      "no validated KEY (yet) for agent " + designated.front().identity.to_text());
    if (matching.empty()) return refuse(guard_failure::key_mismatch, mismatch);

    // 4. The window, before any crypto: a stale message costs no signature check.
    const int64_t middle = inception + (expiration - inception) / 2;
    const int64_t first_valid = std::max(inception, middle - config_.window);
    const int64_t last_valid = std::min(expiration, middle + config_.window);
    if (now < first_valid || now > last_valid)
        return refuse(guard_failure::stale, "SIG(0) signed at about " + std::to_string(middle) +
                                                " is valid " + std::to_string(first_valid) + ".." +
                                                std::to_string(last_valid) + ", now is " +
                                                std::to_string(now));

    // 5. Seen before? Compared before the crypto too; only accepted messages are in the
    // cache, so a hit is a replay whatever its signature bytes.
    const size_t prefix_size = sig_fixed_prefix + signer_name.wire_size();
    if (sig.rdata.size() < prefix_size)
        return refuse(guard_failure::malformed_sig, "SIG(0) RDATA shorter than its fields");
    std::optional<digest> seen =
        replay_digest(std::span<const uint8_t>(sig.rdata.data(), prefix_size), request,
                      wire.first(parsed.signature_offset));
    if (!seen) return refuse(guard_failure::bad_signature, "SHA-256 unavailable");
    // A response is signed over our request (ID, question and our own fresh SIG(0)), and
    // is taken only while that request is outstanding: an old one cannot pass for it, so
    // responses need no room in the cache.
    const bool response = !request.empty();
    if (!response && by_digest_.contains(*seen))
        return refuse(guard_failure::replayed,
                      "message signed by " + signer_name.to_text() + " was accepted before");

    // 6. The signature, over the bytes as received.
    const candidate* verified = nullptr;
    std::string failure_reason;
    for (const candidate* c : matching) {
        dnssec::sig0_result r =
            dnssec::sig0_verify(wire, parsed, c->key->owner, c->key->rdata, now, request);
        if (r.ok()) {
            verified = c;
            break;
        }
        failure_reason = r.reason;
        if (r.status == dnssec::sig0_status::malformed)
            return refuse(guard_failure::malformed_sig, failure_reason);
    }
    if (!verified) return refuse(guard_failure::bad_signature, failure_reason);

    // 7. Room to remember it: forgetting a live entry would let its replay through.
    auto signer_count = per_signer_.find(verified->identity);
    size_t signer_entries = signer_count == per_signer_.end() ? 0 : signer_count->second;
    if (!response && (by_digest_.size() >= config_.max_entries ||
                      signer_entries >= config_.max_entries_per_signer))
        return refuse(guard_failure::replay_cache_full,
                      "replay cache holds " + std::to_string(signer_entries) + " messages of " +
                          verified->identity.to_text() + " (" + std::to_string(by_digest_.size()) +
                          " in all)");

    if (!response) remember(*seen, last_valid, verified->identity);
    ++accepted_;
    guard_verdict v;
    v.result = guard_verdict::outcome::accepted;
    v.signer = verified->identity;
    v.reason = "SIG(0) by " + signer_name.to_text() + " for " + verified->identity.to_text();
    return v;
}

}  // namespace hsync::agent
