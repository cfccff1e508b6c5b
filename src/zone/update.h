// Dynamic update (RFC 2136) as a function on values: the zone as it is and an UPDATE
// message in, the RCODE and the change to commit out. Nothing is written here; the caller
// applies the returned diff (journal.h apply()) and persists it, or applies nothing.
//
// The phases are those of RFC 2136 §3, in this order:
//   1. zone section (§3.1): exactly one, type SOA (else FORMERR), our origin and class
//      (else NOTAUTH); more than policy.max_records update records: REFUSED;
//   2. prerequisites (§3.2): NXDOMAIN, YXDOMAIN, NXRRSET, YXRRSET, FORMERR, NOTZONE;
//   3. update section prescan (§3.4.1): NOTZONE for names outside the zone, FORMERR for
//      bad classes, meta types, non-zero TTLs in deletions, malformed RDATA;
//   4. permissions (§3.3): every update record must be allowed to the signing key by the
//      policy, else REFUSED (the prescan comes first so a malformed request is FORMERR
//      whoever sent it);
//   5. application (§3.4.2), in message order, each record seeing the ones before it.
// All or nothing: any error above leaves the diff empty.
//
// Choices where RFC 2136 leaves room (they follow BIND 9):
//   - Adding a record to an RRset whose TTL differs sets the whole RRset to the new TTL
//     (RFC 2181 §5.2 wants one TTL per RRset); an identical record with the same TTL is
//     ignored.
//   - CNAME and other data (RFC 2136 §3.4.2.2): adding a CNAME where other data exists, or
//     other data where a CNAME exists, is ignored; RRSIG, NSEC, SIG and KEY may live
//     beside a CNAME (RFC 4035 §2.5, RFC 2535) and do not count as other data.
//   - SOA serial: if the update changed anything and did not itself put in an SOA with a
//     higher serial (§3.4.2.2: a lower or equal one is ignored), the new serial is the
//     old plus one in RFC 1982 arithmetic, skipping 0 as BIND's "increment" does
//     (§3.6-3.7). An update that changes nothing gives NOERROR and an empty diff, with
//     no serial change.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dns/message.h"
#include "dns/name.h"
#include "dns/record_store.h"
#include "dns/zone_diff.h"

namespace hsync::zone {

struct update_rule {
    // exact: the owner is `name`; subdomain: `name` or below it; wildcard: `name` is a
    // wildcard ("*.example.") and the owner lies strictly below its parent, as a DNS
    // wildcard would match it.
    enum class match_kind { exact, subdomain, wildcard };
    dns::name key;  // the TSIG key name or SIG(0) signer that this rule grants
    match_kind match = match_kind::subdomain;
    dns::name name;
    std::vector<uint16_t> types;  // empty: every type

    bool matches(const dns::name& owner, uint16_t type) const;
};

struct update_policy {
    // Without rules only `allow_any` permits anything: the caller's allow-update ACL then
    // decided alone. With rules, an update needs a signer and each of its records must
    // match a rule of that signer.
    std::vector<update_rule> rules;
    bool allow_any = false;
    size_t max_records = 10000;  // update records per request; more: REFUSED

    bool permits(const std::optional<dns::name>& signer, const dns::name& owner,
                 uint16_t type) const;
};

struct update_result {
    uint16_t rcode = dns::rcode::NOERROR;
    dns::zone_diff diff;  // NOERROR only; empty when nothing changed
    std::string reason;   // why, for the log: names the record and rule that decided
};

// `zone` is sorted (canonical order) and has its SOA at `origin`; `signer` is the name of
// the key whose TSIG or SIG(0) the caller verified, if any. Costs O(u log n + the size of
// the touched names), u the number of prerequisite and update records: never O(zone).
update_result apply_update(const dns::record_store& zone, const dns::name& origin,
                           const dns::message& update, const update_policy& policy,
                           const std::optional<dns::name>& signer = std::nullopt);

}  // namespace hsync::zone
