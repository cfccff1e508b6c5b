// A signer's keys for one zone and their life cycle (RFC 6781 §4.1, RFC 7583), as values.
//
// States: published (in the DNSKEY RRset, not signing), active (published and signing:
// a ZSK or CSK the zone data, a KSK or CSK the DNSKEY/CDS/CDNSKEY RRsets) and retired
// (published, no longer signing; old signatures may still sit in caches). A removed key
// leaves the set (its files stay on disk).
//
// Rollovers by timer (due_actions):
//   ZSK pre-publication (RFC 7583 §3.2.1): a new ZSK is published Ipub before the old one's
//   lifetime ends, becomes active when that ends (the old one retires), and the old one is
//   removed Iret later.
//   KSK double-signature (RFC 7583 §3.3.2): at the end of its lifetime a new KSK is
//   published and active at once (both sign the DNSKEY RRset). The old KSK is retired only
//   by command, once the parent's DS points at the new one (nobody but the operator or the
//   agent can see that), and removed Iret later.
// Every step is also a command (publish/activate/retire/remove), which is how an agent
// drives the cross-provider steps of a multi-signer rollover.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dnssec/key.h"
#include "roles/signer/policy.h"

namespace hsync::signer {

enum class key_state { published, active, retired };
std::string_view state_name(key_state s);
std::string_view role_name(dnssec::key_role r);

struct zone_key {
    dnssec::key key;
    dnssec::key_role role = dnssec::key_role::zsk;
    key_state state = key_state::published;
    int64_t created = 0, published_at = 0, activated_at = 0, retired_at = 0;
    std::string file;  // BIND key file base name ("Kexample.+013+12345")

    bool signs_data() const { return role != dnssec::key_role::ksk; }
    bool signs_keys() const { return role != dnssec::key_role::zsk; }
};

struct key_set {
    std::vector<zone_key> keys;

    zone_key* find(uint16_t tag);
    const zone_key* find(uint16_t tag) const;
    // Keys that sign now (state active), for dnssec::sign_zone.
    std::vector<dnssec::key> signing_keys() const;
    // Every key in the DNSKEY RRset (all states).
    std::vector<const zone_key*> published() const;
};

// Metadata only, one line per key; the key material lives in BIND key files.
std::string encode_key_set(const key_set& keys);
// `load` reads the key pair of a file base name. Throws std::runtime_error naming the line.
key_set decode_key_set(std::string_view text,
                       const std::function<dnssec::key(const std::string&)>& load);

struct key_action {
    enum class kind { publish, activate, retire, remove };
    kind what = kind::publish;
    dnssec::key_role role = dnssec::key_role::zsk;  // publish: the new key's role
    uint16_t tag = 0;                               // the others: which key
    bool activate_now = false;                      // publish: active at once (KSK roll)
    std::string why;                                // for the log
};
std::string_view action_name(key_action::kind k);
// "publish zsk", "retire 12345": for logs and the API.
std::string describe(const key_action& a);

// The keys a zone starts with: KSK + ZSK, or one CSK, all active.
std::vector<dnssec::key_role> initial_roles(const signing_policy& p);

// RFC 7583 intervals for this policy. `max_ttl`: the largest TTL in the signed zone.
uint32_t publish_interval(const signing_policy& p);                   // Ipub
uint32_t retire_interval(const signing_policy& p, uint32_t max_ttl);  // Iret

// What the timers ask for at `now`, at most one step per key; apply in order.
std::vector<key_action> due_actions(const key_set& keys, const signing_policy& p, int64_t now,
                                    uint32_t max_ttl);

// Empty if `a` may be applied: the zone stays signed by at least one active key of each
// signing duty, a key changes state only forward (published -> active -> retired) and an
// active key is never removed. Otherwise why not.
std::string check_action(const key_set& keys, const key_action& a);

// Applies a checked action. For publish, `new_key` is the generated key and its file.
void apply_action(key_set& keys, const key_action& a, int64_t now,
                  std::optional<zone_key> new_key = std::nullopt);

}  // namespace hsync::signer
