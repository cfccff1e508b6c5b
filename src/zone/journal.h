// Zone changes as values: the difference of two zone versions, applying a difference, and
// condensing a run of differences into one (RFC 1995 §5, §6).
//
// Zone content is a sorted dns::record_store (canonical order, canonical form, no
// duplicates). A dns::zone_diff lists the old SOA first in `removed` and the new SOA first
// in `added`, then the other records in canonical order, so it is an IXFR difference
// sequence as RFC 1995 §4 writes it.
//
// Costs: diff() walks both inputs once, O(n + change); apply() searches for the changes,
// O(change log n), and copies the index; condense() and the look-ups below touch only the
// changes, O(change log change) and O(log n).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "dns/error.h"
#include "dns/name.h"
#include "dns/record_store.h"
#include "dns/zone_diff.h"

namespace hsync::zone {

// A difference that does not fit the zone it is applied to, or a run of differences whose
// serials do not chain. The text names the record or serial.
class journal_error : public dns::dns_error {
  public:
    using dns::dns_error::dns_error;
};

// The records of `zone` owned by `owner`: [first, last) indices. O(log n).
std::pair<size_t, size_t> owner_range(const dns::record_store& zone, const dns::name& owner);

// The index of the apex SOA: the SOA owned by the first owner (in canonical order every
// name of a zone sorts after its apex). Empty if the store has no SOA there.
std::optional<size_t> find_soa(const dns::record_store& zone);

// The serial field of SOA RDATA (RFC 1035 §3.3.13). Throws journal_error if malformed.
uint32_t soa_serial(std::span<const uint8_t> rdata);
void set_soa_serial(std::vector<uint8_t>& rdata, uint32_t serial);

// What changed from `before` to `after`. A record whose TTL changed is removed and added
// again. The SOAs are included whenever anything changed; identical stores give an empty
// diff. Serials come from the apex SOAs (0 where a store has none).
dns::zone_diff diff(const dns::record_store& before, const dns::record_store& after);

// `base` with `change` applied: every removed record must exist in `base` (TTL not
// compared, as RFC 1995 deletions match on data) and every added record must not exist
// once the removals are done, else journal_error: a journal that does not fit the zone
// is an error, never half applied. If `base` has an SOA, the change's removed SOA must
// carry `from_serial`. The result is in canonical order (records put where they belong, not sorted
// again); TTLs are taken as the diff gives them.
// The result shares base's records (record_store::edit): O(change log n) comparisons and a
// copy of the 8-octet index entries.
dns::record_store apply(const dns::record_store& base, const dns::zone_diff& change);

// apply() and where the change fell, for indexes that follow the records (zone_data).
struct applied_change {
    dns::record_store records;
    std::vector<uint32_t> removed_at;       // positions in base, ascending
    std::vector<uint32_t> inserted_before;  // per added record, the base position it precedes
    std::vector<uint32_t> added_at;         // positions of the added records in `records`
};
applied_change apply_change(const dns::record_store& base, const dns::zone_diff& change);

// One difference with the effect of `changes` applied in order (each must start at the
// serial the previous ended at, else journal_error): a record added and later removed
// disappears, one removed and re-added with the same TTL disappears too. From the first
// from_serial to the last to_serial. An empty span gives an empty diff.
dns::zone_diff condense(std::span<const dns::zone_diff> changes);

// The serial of a version made from an upstream one (RFC 1982 arithmetic): the upstream
// serial if it is after the last served one, else the last served + 1 (0 skipped, as
// BIND's "increment"). The combiner's and the signer's serial policy.
uint32_t next_serial(uint32_t last_served, uint32_t upstream_serial);

}  // namespace hsync::zone
