// The parent role's DS decision (RFC 7344, RFC 8078, RFC 9975): from what each of a child's
// nameservers says in CDS, CDNSKEY and DNSKEY, and the DS RRset the parent has now,
// decide whether the DS RRset stays, is replaced, is removed, or the signal is refused.
// Pure: no sockets, no clock (the caller passes `now`), no state between calls; the
// scanner that fetches the answers and applies the decision is another piece.
//
// decide_cds() checks, in this order, and stops at the first failure:
//   1. every answer validated `secure` (for a delegation without DS, `insecure` is expected
//      and accepted: the initial-DS rules of steps 4 and 7 apply instead); never bogus/timeout;
//   2. records of the right owner, type and class; at most policy.max_records distinct CDS
//      and CDNSKEY records;
//   3. every nameserver returned the same CDS set and the same CDNSKEY set (RFC 9975);
//   4. no CDS and no CDNSKEY: unchanged. A delete signal (RFC 8078 §4: CDS 0 0 0 00,
//      CDNSKEY 0 3 0 AA==) must be alone in its RRset and not contradicted by the other
//      RRset; it removes the DS after the signature check of step 7 (unchanged without DS).
//      No current DS: refused unless policy.allow_initial_ds (RFC 8078 §3);
//   5. every CDS uses an algorithm hsync can validate and a known digest type with a digest
//      of the right length, every CDNSKEY is a zone key, protocol 3, not revoked, of such an
//      algorithm; otherwise refused (strict: records hsync cannot use are not skipped silently);
//      CDS records of digest types the policy does not accept (SHA-1 by default) are
//      dropped before anything else looks at them;
//   6. the new DS set: the accepted CDS records as given; with CDNSKEY as well, the DS made
//      from every CDNSKEY with each digest type the accepted CDS records use must be that
//      same set, else refused; with CDNSKEY alone, DS of each CDNSKEY with each accepted
//      digest type (SHA-1 never). Equal to the current DS: unchanged (before steps 7 and 8:
//      nothing is done, so nothing needs trusting);
//   7. RFC 7344 §4.1: on every nameserver, the CDS and the CDNSKEY RRsets carry a valid
//      RRSIG (at `now`) by a key of that nameserver's DNSKEY RRset that the current DS
//      points to (for an initial DS, which `initial` marks on the decision: a key the new
//      DS points to, so the signal is at least self-consistent);
//   8. no lock-out: on every nameserver, some record of the new DS set matches a key that
//      has a valid RRSIG over that nameserver's DNSKEY RRset. Per nameserver, because in a
//      multi-signer group (RFC 8901) each provider signs its DNSKEY RRset with its own KSK.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dns/name.h"
#include "dns/rr.h"
#include "dnssec/ds.h"
#include "roles/parent/answers.h"

namespace hsync::parent {

struct cds_policy {
    // DS digest types the parent publishes (RFC 8624 §3.3: SHA-256 MUST; SHA-1 MUST NOT be
    // made). A CDS of another known digest type is dropped, not refused.
    std::vector<uint8_t> digest_types{dnssec::digest_type::SHA256};
    // RFC 8078 §3: take the first DS of an unsigned delegation from its CDS/CDNSKEY. Off:
    // a registry turns it on knowingly, with its own delay or extra checks around it.
    bool allow_initial_ds = false;
    // TTL of a new DS RRset when the parent has none yet (else the current TTL is kept).
    uint32_t default_ds_ttl = 3600;
    // Distinct CDS (and CDNSKEY) records accepted from a child; more is refused.
    size_t max_records = 16;
};

// What one of the child's nameservers answered.
struct cds_answer {
    std::string server;  // its address as text ("192.0.2.1", "[2001:db8::1]:53"), for reasons
    validated_rrset cds, cdnskey, dnskey;
};

enum class cds_outcome {
    unchanged,  // nothing to do
    updated,    // replace the DS RRset with decision.ds
    removed,    // remove the DS RRset (RFC 8078 §4): the child becomes insecure
    refused,    // do nothing and tell the operator decision.reason
};
std::string_view cds_outcome_name(cds_outcome o);

struct cds_decision {
    cds_outcome outcome = cds_outcome::refused;
    std::vector<dns::rr> ds;  // updated: the new DS RRset, owner the child, canonical order
    bool initial = false;     // updated: first DS of an unsigned delegation (RFC 8078 §3)
    std::string reason;       // refused: why; otherwise what was decided, for the log
};

// `child` is the delegation, `answers` one per nameserver of the delegation (all of them:
// RFC 9975), `current_ds` the parent's DS RRset for the child (may be empty), `now` seconds
// since the epoch modulo 2^32 (dnssec::rrsig_time) for RRSIG validity.
cds_decision decide_cds(const dns::name& child, std::span<const cds_answer> answers,
                        std::span<const dns::rr> current_ds, const cds_policy& policy,
                        uint32_t now);

}  // namespace hsync::parent
