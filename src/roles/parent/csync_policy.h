// The parent role's NS and glue decision (RFC 7477 CSYNC, RFC 9975 consistency): from what
// each of a child's nameservers says in CSYNC, SOA, NS and the addresses of its
// in-bailiwick nameservers, and the delegation the parent has now, decide whether NS and
// glue stay, are replaced, or the signal is refused. Pure, like cds_policy.h.
//
// decide_csync() checks, in this order, and stops at the first failure:
//   1. the CSYNC and SOA answers of every nameserver validated `secure` (RFC 7477 §3 asks
//      for DNSSEC-validated records; an unsigned child cannot use CSYNC);
//   2. the same CSYNC RRset from every nameserver (RFC 9975); none anywhere: unchanged;
//      exactly one CSYNC record (two would not say which serial and flags hold);
//   3. the immediate flag (1) set: hsync does not keep CSYNC records waiting for an
//      approval out of band (RFC 7477 §3 lets a parent defer; hsync refuses with
//      "not processed: immediate flag clear", and the child sets the flag to be processed);
//   4. soaminimum (2) set: every nameserver's SOA serial is at or after the CSYNC serial
//      in serial arithmetic (RFC 1982), else refused "waiting: ..." (try again later).
//      Other flag bits are ignored;
//   5. of the types in the bit map, NS, A and AAAA are synced and any other is ignored
//      (listed in decision.ignored_types for the log): none of the three, unchanged;
//   6. NS listed: the child's NS RRset, secure and the same from every nameserver, becomes
//      the delegation's NS set; never empty, at most policy.max_records. NS not listed:
//      the parent's NS set stays;
//   7. glue only for nameserver names at or below the child (in bailiwick; sibling glue
//      elsewhere in the parent is not this child's to change). A (AAAA) listed: the
//      addresses of each such name, secure and the same from every nameserver, become its
//      A (AAAA) glue; not listed: the parent's glue of that type for that name stays. An
//      in-bailiwick name left without any address is refused (the delegation would be lame);
//   8. the same NS names and glue as now: unchanged; else updated with the complete new NS
//      and glue sets (TTL: that of the current NS RRset, or policy.default_ttl).
// RFC 7477's check that the SOA serial did not change while the records were fetched
// (SOA queried before and after) is the scanner's, which knows when each query was made.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dns/name.h"
#include "dns/rr.h"
#include "roles/parent/answers.h"

namespace hsync::parent {

// CSYNC flags (RFC 7477 §2.1.1.2, IANA "Child Synchronization (CSYNC) Flags").
namespace csync_flag {
inline constexpr uint16_t IMMEDIATE = 0x0001, SOAMINIMUM = 0x0002;
}

struct csync_policy {
    // TTL of the NS and glue records when the parent has no NS RRset for the child yet.
    uint32_t default_ttl = 86400;
    // NS records, and addresses per nameserver name and type, accepted; more is refused.
    size_t max_records = 16;
};

// The A and AAAA RRsets of one nameserver name, as one nameserver of the child served them.
struct host_addresses {
    dns::name host;
    validated_rrset a, aaaa;
};

// What one of the child's nameservers answered.
struct csync_answer {
    std::string server;  // its address as text, for reasons
    validated_rrset csync, soa, ns;
    // For the in-bailiwick names of `ns` (and of the parent's NS set when NS is not synced).
    std::vector<host_addresses> addresses;
};

enum class csync_outcome {
    unchanged,  // nothing to do
    updated,    // replace the delegation's NS RRset and its glue with the decision's
    refused,    // do nothing and tell the operator decision.reason
};
std::string_view csync_outcome_name(csync_outcome o);

struct csync_decision {
    csync_outcome outcome = csync_outcome::refused;
    std::vector<dns::rr> ns;    // updated: the new NS RRset, owner the child, canonical order
    std::vector<dns::rr> glue;  // updated: all glue for in-bailiwick names, canonical order
    std::vector<uint16_t> ignored_types;  // types in the CSYNC bit map hsync does not sync
    std::string reason;                   // refused: why; otherwise what was decided
};

// The fields of CSYNC RDATA (RFC 7477 §2.1.1).
struct csync_fields {
    uint32_t serial = 0;
    uint16_t flags = 0;
    std::vector<uint16_t> types;                                // ascending
    static csync_fields parse(std::span<const uint8_t> rdata);  // throws dns::wire_error
};

// `child` is the delegation, `answers` one per nameserver of the delegation (all of them),
// `current_ns` and `current_glue` the parent's NS RRset for the child and its glue (A and
// AAAA records; any not at or below the child are left out of the comparison).
csync_decision decide_csync(const dns::name& child, std::span<const csync_answer> answers,
                            std::span<const dns::rr> current_ns,
                            std::span<const dns::rr> current_glue, const csync_policy& policy);

}  // namespace hsync::parent
