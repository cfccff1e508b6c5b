// What the parent role's scanner hands to its decision logic (cds_policy.h, csync_policy.h):
// the RRsets it fetched from each of a child's authoritative nameservers, each with the
// status a validating resolver gave it, and helpers to compare them across nameservers.
//
// The decisions never trust an answer because it arrived: RFC 9975 (CDS/CDNSKEY and
// CSYNC consistency) asks that every nameserver of the delegation gives the same
// answer, and RFC 7344 §4.1 that the CDS/CDNSKEY RRset be signed by a key the current DS
// points to, which cds_policy checks itself.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dns/rr.h"

namespace hsync::parent {

// The validating resolver's verdict on one answer (RFC 4035 §4.3).
enum class validation {
    secure,    // a chain of trust from the root, signatures good
    insecure,  // provably unsigned (no DS on the way down)
    bogus,     // should be signed but does not validate
    timeout,   // no answer
};
std::string_view validation_name(validation v);

// One RRset as fetched from one nameserver. An empty `records` is a NODATA answer: for a
// secure one, the resolver checked the denial of existence. The status starts as timeout
// (no answer yet), so that an RRset the scanner forgot to fill is never taken as secure.
struct validated_rrset {
    std::vector<dns::rr> records;
    std::vector<dns::rr> rrsigs;  // the RRSIGs that came with it (type covered as records)
    validation status = validation::timeout;
    std::string reason;  // the resolver's words when not secure
};

// The RDATA of `records` in canonical form (names lower-cased, RFC 4034 §6.2), sorted and
// without duplicates: two nameservers gave the same RRset when these are equal.
using rdata_set = std::vector<std::vector<uint8_t>>;
rdata_set canonical_rdata_set(std::span<const dns::rr> records);

// "" when every fingerprint is equal; else the nameservers grouped by what they said,
// "192.0.2.1, 192.0.2.2 | 198.51.100.7", for the reason of a refusal. `servers` and
// `fingerprints` are parallel.
std::string disagreement(std::span<const std::string> servers,
                         std::span<const std::string> fingerprints);

// Appends an RDATA set to a fingerprint in a form where different sets never collide.
void append_fingerprint(const rdata_set& set, std::string& out);

// "" if every record is of `type` and class IN, owned by `owner`; else what is wrong.
std::string check_shape(std::span<const dns::rr> records, const dns::name& owner, uint16_t type);

// A decision (cds_decision, csync_decision) with its outcome and reason.
template <typename Decision, typename Outcome>
Decision decision(Outcome outcome, std::string reason) {
    Decision d;
    d.outcome = outcome;
    d.reason = std::move(reason);
    return d;
}

}  // namespace hsync::parent
