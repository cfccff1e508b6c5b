// The combiner's logic as functions on values (docs/combiner.md, the draft's "The COMBINER"):
// the zone it serves is the owner's zone with the apex RRsets the agent controls put in,
// and the agent controls them through RFC 2136 UPDATEs limited to those RRsets.
//
// combine():
//   - apex DNSKEY, CDS, CDNSKEY and CSYNC are the agent's (the owner's are dropped, also
//     when the agent has none: the owner gave up control of them);
//   - RRSIG, NSEC, NSEC3, NSEC3PARAM and ZONEMD from the owner are dropped everywhere
//     (the signer makes its own; stale ones would not validate);
//   - the apex NS RRset is the agent's when ns_management() says AGENT and the agent has
//     an NS RRset; otherwise the owner's stands (a zone needs apex NS, RFC 1035 §4.2.1);
//   - the apex SOA is the owner's with the serial replaced by the served serial.
// The combiner is policy free: nothing else is judged or changed.
//
// apply_agent_update(): RFC 2136 semantics (prerequisites, then updates, all or nothing,
// reusing zone::apply_update) over the agent data alone, restricted to the apex and the
// five types. Anything else makes the whole UPDATE REFUSED.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dns/message.h"
#include "dns/name.h"
#include "dns/record_store.h"
#include "dns/rr.h"
#include "dns/zone_diff.h"
#include "zone/journal.h"

namespace hsync::combiner {

// The apex types the agent controls, in canonical type order.
inline constexpr uint16_t agent_types[] = {dns::rr_type::NS, dns::rr_type::DNSKEY,
                                           dns::rr_type::CDS, dns::rr_type::CDNSKEY,
                                           dns::rr_type::CSYNC};
bool is_agent_type(uint16_t type);

struct agent_rrset {
    std::vector<dns::rr> records;  // canonical, owned by the origin, class IN, sorted
    int64_t changed_at = 0;        // seconds since the epoch of the last change
    std::string changed_by;        // the TSIG key name of that change
};

// Absent type: the agent never set it. Present with no records: the agent deleted it.
struct agent_data {
    std::map<uint16_t, agent_rrset> rrsets;
    bool operator==(const agent_data& other) const;
};

// Who manages the apex NS RRset, read from the apex HSYNC RRset (type dns::hsync_code()).
// AGENT only when there is at least one HSYNC record with State=ON and every record with
// State=ON says NSMgmt=AGENT; no HSYNC, records that disagree or that do not parse:
// OWNER (the owner's NS stands, the safe choice when the owner's intent is unclear).
enum class ns_mgmt { owner, agent };
ns_mgmt ns_management(const dns::record_store& owner, const dns::name& origin);

// The zone to serve. `owner` is sorted (record_store::sort) with its SOA at `origin`;
// the result is sorted too. O(n) in the owner's zone. Throws dns::dns_error without an
// apex SOA.
dns::record_store combine(const dns::record_store& owner, const agent_data& agent,
                          const dns::name& origin, uint32_t served_serial);

// The served difference that follows an owner difference, without combining the whole
// zone again: the owner's changed records that combine() keeps, and the SOA moved from
// `served_soa` to `served_serial`. `owner_before` is the owner's zone the difference applies
// to. nullopt when the difference touches the apex HSYNC RRset (NSMgmt may flip, which
// changes the apex NS): combine() in full then. O(change).
std::optional<dns::zone_diff> combine_change(const dns::zone_diff& owner_change,
                                             const dns::record_store& owner_before,
                                             const agent_data& agent, const dns::name& origin,
                                             const dns::rr& served_soa, uint32_t served_serial);

struct agent_update_result {
    uint16_t rcode = dns::rcode::NOERROR;
    agent_data data;       // the new agent data (NOERROR), else a copy of the old
    bool changed = false;  // NOERROR and something changed
    std::string reason;    // for the log
};

struct agent_update_limits {
    size_t max_update_records = 1000;  // prerequisite + update records; more: REFUSED
    size_t max_rrset_records = 1000;   // records in one agent RRset after the update
};

// `key` is the name of the TSIG key the caller verified (recorded as changed_by), `now`
// the time recorded as changed_at for every RRset that changed.
agent_update_result apply_agent_update(const agent_data& agent, const dns::name& origin,
                                       const dns::message& update, const dns::name& key,
                                       int64_t now, const agent_update_limits& limits = {});

// The combiner's serial policy is the engine's (zone/journal.h): the owner's serial if
// it is after the last served one, else the last served + 1.
using zone::next_serial;

// Persistent form of agent data (line oriented text, RDATA in hex). decode throws
// std::runtime_error naming the line on anything malformed.
std::string encode_agent_data(const agent_data& data);
agent_data decode_agent_data(std::string_view text, const dns::name& origin);

}  // namespace hsync::combiner
