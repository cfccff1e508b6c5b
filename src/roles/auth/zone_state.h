// The auth role's per-zone state and small helpers, shared by auth_role.cc and the
// sign mode (sign_mode.cc). Private to the auth role: nothing else includes it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "dns/wire.h"
#include "roles/auth/auth_role.h"
#include "roles/combiner/combine.h"
#include "roles/signer/keys.h"

namespace hsync::auth {

namespace asio = net::asio;

struct auth_role::zone_state {
    zone_settings settings;
    std::shared_ptr<const zone_data> data;  // null: nothing to serve (not loaded or expired)
    std::deque<dns::zone_diff> journal;     // recent differences, oldest first (IXFR out)
    std::string last_error;
    std::optional<int64_t> loaded_at, last_refresh, last_success;
    std::unique_ptr<asio::steady_timer> wake;  // the refresh loop sleeps on it; NOTIFY wakes
    bool refresh_running = false;
    bool notify_pending = false;  // a NOTIFY arrived since the current refresh began
    bool removed = false;
    uint64_t transfers_in = 0;
    std::string last_transfer;  // "AXFR from 192.0.2.1#53 serial 5" for zone show
    // Combine mode only: the owner's latest zone and the agent data (docs/combiner.md).
    std::shared_ptr<const dns::record_store> owner;
    std::optional<dns::rr> owner_soa;
    combiner::agent_data agent;
    std::optional<uint32_t> combined_from;  // the owner serial the served zone was made from
    // Sign mode only (docs/signer.md): `owner` above is the unsigned zone from upstream.
    signer::key_set keys;
    std::optional<uint32_t> signed_from;  // the unsigned serial the served zone was made from
    bool resign_requested = false;        // keys changed: sign again (incrementally if able)
    bool resign_full = false;             // policy changed or state lost: sign everything
    int64_t next_maintenance = 0;         // key timers and signature refresh
    uint64_t full_signs = 0, incremental_signs = 0;
    std::string last_sign;  // "incremental 12 names in 3 ms", for zone show
};

// A change about the size of the zone (more records removed and added than half of it)
// is stored as a new base, not journalled (docs/choices.md, "The auth role").
inline bool zone_sized(const dns::zone_diff& change, size_t records) {
    return change.removed.size() + change.added.size() > records / 2 + 100;
}

// Versions whose sizes differ this much (one more than twice the other) make a zone-sized
// change whatever the difference holds: no need to compute it.
inline bool size_jump(size_t a, size_t b) {
    return std::max(a, b) > 2 * std::min(a, b) + 200;
}

inline std::string key_of(const dns::name& n) {
    return n.canonical().to_text();
}

inline uint32_t soa_field(const dns::rr& soa, int index) {
    // index 0 = serial, 1 refresh, 2 retry, 3 expire, 4 minimum
    dns::wire_reader r(soa.rdata);
    r.read_name(false);
    r.read_name(false);
    uint32_t v = 0;
    for (int i = 0; i <= index; ++i)
        v = r.u32();
    return v;
}

inline std::string utc_text(int64_t t) {
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

inline void json_string(std::string& out, std::string_view v) {
    out.push_back('"');
    for (unsigned char c : v) {
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(static_cast<char>(c));
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out.push_back(static_cast<char>(c));
        }
    }
    out.push_back('"');
}

}  // namespace hsync::auth
