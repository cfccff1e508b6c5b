// A parent's delegations as the role keeps them (docs/parent.md): each child's state (what
// the scans decided, apart from the upstream zone), its stored form (SQLite, key/value
// store), the served zone built from the upstream copy with those changes in place, and
// the child's JSON for `hsyncctl parent children`.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dns/name.h"
#include "dns/record_store.h"
#include "dns/rr.h"
#include "zone/served_zone.h"

namespace hsync::parent {

struct child_state {
    dns::name name;
    // What this role decided; none: the upstream zone's records stand.
    std::optional<std::vector<dns::rr>> ds, ns, glue;
    int64_t last_scan = 0, next_scan = 0, last_notify = 0;
    uint64_t scans = 0;
    std::string result = "not scanned yet";  // unchanged | updated | refused: REASON | ...
    std::string cds_result, csync_result;
    std::vector<std::string> servers;
    // RFC 8078 §3.3 accept after delay: the initial DS set seen, and since when.
    std::string initial_fingerprint;
    int64_t initial_since = 0;
    // The upstream zone's own DS and NS/glue for the child when last seen: an operator
    // who changes them in the zone takes the delegation back from the scanner.
    std::optional<std::string> upstream_ds, upstream_delegation;
    bool scanning = false;
    bool rescan = false;  // a NOTIFY or a command came during the scan: again at once
    bool present = true;  // still a delegation of the upstream zone
};

// The stored form: a line a field, each decided set's records in presentation form.
// decode_child throws std::runtime_error naming the line on anything malformed.
std::string encode_child(const child_state& c);
void decode_child(std::string_view text, child_state& c);

// The records of `type` owned by `owner`; with `below`, the A and AAAA at or below it (glue).
std::vector<dns::rr> served_at(const dns::record_store& zone, const dns::name& owner, uint16_t type,
                               bool below = false);
// Records in canonical order; records as one "; "-separated text ("-" for none).
std::vector<dns::rr> sorted(std::vector<dns::rr> records);
std::string texts(const std::vector<dns::rr>& records);

// One child's decided sets, as the served zone is built with them (null: upstream's).
struct overlay_entry {
    const std::vector<dns::rr>* ds = nullptr;
    const std::vector<dns::rr>* ns = nullptr;
    const std::vector<dns::rr>* glue = nullptr;
};
using overlay_map = std::map<std::string, overlay_entry, std::less<>>;  // by child wire form
std::string wire_of(const dns::name& n);  // canonical wire form, the overlay_map key

// The upstream zone with the children's sets and `extra` records (DSYNC) in place and the
// SOA serial `serial`. O(n); no allocation per upstream record kept.
dns::record_store overlay(const dns::record_store& upstream, const overlay_map& by_wire,
                          const std::vector<dns::rr>& extra, uint32_t serial);

// The child as `GET /parent/children/CHILD` shows it.
std::string child_json(const zone::served_zone& z, const child_state& c);

}  // namespace hsync::parent
