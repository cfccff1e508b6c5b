// The check every DNS message from another agent passes before anything else is done with
// it (docs/protocol.md §9): a SIG(0) (RFC 2931) by a validated KEY of an agent the
// message's zone names, made recently, not seen before.
//
// Pure: no sockets, no threads; the time comes from an injected clock. The caller gives
// the bytes as received with their dns::message::parse() result, a lookup of an agent's
// validated KEY by identity, and the identities allowed for the message (the zone's
// HSYNC RRset; for a heartbeat, the peer set). A refused message changes nothing: it
// never enters the replay cache, and the caller answers it with verdict.rcode() and
// changes no state of its own.
//
// Answers (protocol.md §9, in the manner of RFC 8945 §5.2 for TSIG: an error about the
// authentication itself is NOTAUTH, a message we cannot attribute to a peer is REFUSED):
//
//   label              rcode    when
//   unsigned           REFUSED  no SIG(0) (a TSIG does not count)
//   malformed-sig      REFUSED  a SIG that cannot be a SIG(0): not class ANY / TTL 0,
//                               RDATA unreadable, labels or original TTL not 0,
//                               expiration before inception (a SIG(0) that is not the
//                               last record fails dns::message::parse: FORMERR, before
//                               this check)
//   not-in-hsync       REFUSED  the signer name designates none of the allowed identities
//   unknown-signer     REFUSED  it designates one whose KEY is not (yet) validated; the
//                               sender retries with backoff (protocol.md §7)
//   key-mismatch       NOTAUTH  the key tag/algorithm is not that of the validated KEY
//                               (TSIG's BADKEY)
//   stale              NOTAUTH  outside the time window (TSIG's BADTIME)
//   replayed           NOTAUTH  the same signed message was accepted before (§9.3)
//   bad-signature      NOTAUTH  the signature does not verify, or the validated KEY is
//                               unusable (TSIG's BADSIG)
//   replay-cache-full  REFUSED  the signer has as many messages in the replay cache as it
//                               may have: accepting more would mean forgetting one that
//                               could still be replayed, so we fail closed and the
//                               sender retries later
//
// Who signed: a SIG(0)'s signer name is the owner of the sender's KEY record, which sits
// at the target of its URI record, not necessarily at its identity (protocol.md §5). So
// the lookup returns the KEY's owner with its RDATA, and the signer name designates an
// allowed identity whose validated KEY has that owner (or, while that identity has no
// validated KEY, the identity itself or a name below it: unknown-signer, retry later).
//
// Time window: a signature counts as made at the middle of its validity (senders set it
// to now ±300 s, as BIND's dig and hsync do). It passes while now is within its validity
// and within ±window of that middle; so a peer that signs for a day is still held to the
// window, and a replay cache entry never has to be kept longer than 2 × window.
//
// Replay cache: requests only (a response is signed over our own request and taken only
// while that request is outstanding, so an old one cannot pass for a new one). Keyed by
// the SHA-256 of what the signature covers except the signature itself (SIG RDATA
// prefix, the message up to the SIG).
// Signature bytes alone would not do: an ECDSA signature has a second valid form (s and
// n - s), so the same message could come back under other bytes. A sender that sends the
// same message again must therefore give it a new ID. Entries are dropped once their
// signature could no longer pass the window; their number is bounded in all and per
// signer, and each has a fixed size, so memory is bounded too.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dns/message.h"
#include "dns/name.h"

namespace hsync::agent {

enum class guard_failure : uint8_t {
    unsigned_message,
    malformed_sig,
    not_in_hsync,
    unknown_signer,
    key_mismatch,
    stale,
    replayed,
    bad_signature,
    replay_cache_full,
};
inline constexpr size_t guard_failure_count = 9;

// The counter and log label: "unsigned", "malformed-sig", ...
std::string_view counter_label(guard_failure failure);
// dns::rcode::REFUSED or dns::rcode::NOTAUTH (see the table above).
uint16_t rcode_for(guard_failure failure);

struct guard_verdict {
    enum class outcome : uint8_t { accepted, refused, notauth };

    outcome result = outcome::refused;
    dns::name signer;                      // accepted: the identity (HSYNC) that signed
    std::optional<guard_failure> failure;  // set unless accepted
    std::string reason;                    // an operator's words, for the log

    bool accepted() const { return result == outcome::accepted; }
    // NOERROR when accepted, else REFUSED or NOTAUTH.
    uint16_t rcode() const;
    // "accepted" or the failure's counter label.
    std::string_view label() const;
};

// An agent's validated KEY (protocol.md §5): its owner is the name the agent signs as.
struct validated_key {
    dns::name owner;
    std::vector<uint8_t> rdata;  // KEY RDATA: flags, protocol, algorithm, public key
};

// identity -> its validated KEY; nullopt if the agent is unknown or not yet discovered.
using key_lookup = std::function<std::optional<validated_key>(const dns::name& identity)>;

struct message_guard_config {
    int64_t window = 300;  // seconds either side of the signing time
    // A peer sends a HELLO per shared zone and a beat per interval; a cold start with
    // 10,000 zones shared with one peer puts 10,000 HELLOs from it in one window.
    size_t max_entries = 262144;            // replay cache entries, in all
    size_t max_entries_per_signer = 65536;  // ...and per signing identity
};

class message_guard {
  public:
    using clock = std::function<int64_t()>;  // seconds since the epoch

    explicit message_guard(clock now, message_guard_config config = {});

    // Checks one received message. `wire` as received, `parsed` = dns::message::parse(wire);
    // `request`: for a response, the full request as we sent it (it is signed over too).
    // Accepted messages enter the replay cache; nothing else does. Never throws for bad
    // input.
    guard_verdict check(std::span<const uint8_t> wire, const dns::message& parsed,
                        const key_lookup& lookup, std::span<const dns::name> allowed_identities,
                        std::span<const uint8_t> request = {});

    // Verdicts so far: accepted, and refused per failure (exported under counter_label()
    // in /metrics); the caller logs each refusal with verdict.label() and verdict.reason.
    uint64_t accepted_count() const { return accepted_; }
    uint64_t failure_count(guard_failure failure) const;

    size_t replay_entries() const { return by_digest_.size(); }
    // An upper estimate of the replay cache's memory: entries × a fixed size per entry.
    size_t replay_bytes() const;
    // Every entry costs at most this much: two tree nodes holding the digest (about 160
    // octets) and, at worst, a per-signer count of its own (a dns::name, about 300).
    static constexpr size_t bytes_per_entry = 512;

    const message_guard_config& config() const { return config_; }

  private:
    using digest = std::array<uint8_t, 32>;
    struct entry {
        int64_t expires;          // last second at which the signature could still pass
        const dns::name* signer;  // key of per_signer_, whose nodes never move
    };

    guard_verdict refuse(guard_failure failure, std::string reason);
    void forget_expired(int64_t now);
    void remember(const digest& d, int64_t expires, const dns::name& identity);

    clock now_;
    message_guard_config config_;
    std::map<digest, entry> by_digest_;
    std::multimap<int64_t, digest> by_expiry_;
    std::unordered_map<dns::name, size_t, dns::name_hash> per_signer_;
    uint64_t accepted_ = 0;
    std::array<uint64_t, guard_failure_count> failures_{};
};

}  // namespace hsync::agent
