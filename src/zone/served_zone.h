// One zone as the engine holds it: its settings, the served version and journal, the
// refresh state of a secondary, the upstream copy kept apart for roles that transform
// what they transfer in, and the role's own per-zone state.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dns/record_store.h"
#include "dns/rr.h"
#include "dns/wire.h"
#include "dns/zone_diff.h"
#include "net/asio.h"
#include "net/client.h"
#include "zone/acl.h"
#include "zone/update.h"
#include "zone/zone_data.h"

namespace hsync::zone {

struct zone_settings {
    dns::name name;
    bool secondary = false;
    std::string file;                       // primary
    std::vector<net::peer> primaries;       // secondary
    std::optional<dns::name> transfer_key;  // secondary: TSIG for SOA queries and transfers
    std::vector<net::peer> notify;          // NOTIFY targets on every change
    acl allow_transfer = acl::none();
    acl allow_notify = acl::none();
    acl allow_update = acl::none();
    update_policy policy;
    std::optional<uint32_t> refresh, retry, expire;  // override the SOA's timers
    // A primary the role builds itself (the agent's identity zone): no file; the stored
    // version is served at start and the role commits new ones (engine::commit).
    bool role_built = false;
};

// A role's own state of a zone (the combiner's agent data, the signer's keys); the role
// derives from it and keeps it in served_zone::role_state.
struct role_zone_state {
    virtual ~role_zone_state() = default;
};

struct served_zone {
    zone_settings settings;
    std::shared_ptr<const zone_data> data;  // null: nothing to serve (not loaded or expired)
    std::deque<dns::zone_diff> journal;     // recent differences, oldest first (IXFR out)
    std::string last_error;
    std::optional<int64_t> loaded_at, last_refresh, last_success;
    std::unique_ptr<net::asio::steady_timer> wake;  // the refresh loop sleeps on it
    bool refresh_running = false;
    bool notify_pending = false;  // a NOTIFY arrived since the current refresh began
    bool removed = false;
    uint64_t transfers_in = 0;
    std::string last_transfer;  // "AXFR from 192.0.2.1#53 serial 5" for zone show
    // The upstream copy (roles whose stage keeps_upstream(): combiner, signer): the zone as
    // transferred in, stored apart from the served zone; the role makes the served zone
    // from it.
    std::shared_ptr<const dns::record_store> upstream;
    std::optional<dns::rr> upstream_soa;
    std::unique_ptr<role_zone_state> role_state;
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

}  // namespace hsync::zone
