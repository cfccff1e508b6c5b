// The signer's zone work as functions on values (docs/signer.md): what is signed, a full
// signing, and an incremental one that touches only the names a change reaches.
//
// Model 2 of RFC 8901 §2.1.2: DNSKEY, CDS and CDNSKEY records that arrive in the unsigned
// zone (other providers' keys, put there by the agent through the combiner) are kept as
// they are; our published keys are added to the DNSKEY RRset, which our KSK signs. The
// DNSKEY RRset takes the policy's TTL. Our own CDS/CDNSKEY are added only with
// publish_cds and only when the unsigned zone has none.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "dns/name.h"
#include "dns/record_store.h"
#include "dns/zone_diff.h"
#include "dnssec/zone_signer.h"
#include "zone/zone_data.h"
#include "roles/signer/keys.h"
#include "roles/signer/policy.h"

namespace hsync::signer {

struct sign_context {
    dns::name origin;
    const key_set* keys = nullptr;
    const signing_policy* policy = nullptr;
    uint32_t serial = 0;  // the signed zone's SOA serial
    int64_t now = 0;
    unsigned threads = 0;  // full signing: 0 = all cores
};

// The records to sign: `unsigned_zone` (sorted, SOA at the origin) without RRSIG, NSEC,
// NSEC3 and NSEC3PARAM, with the SOA serial set, our DNSKEYs added and CDS/CDNSKEY as the
// policy says. Sorted.
dns::record_store prepare(const dns::record_store& unsigned_zone, const sign_context& ctx);

// The whole zone signed (dnssec::sign_zone with the active keys). Sorted.
dns::record_store sign_full(const dns::record_store& unsigned_zone, const sign_context& ctx,
                            dnssec::sign_stats* stats = nullptr);

struct incremental_stats {
    size_t names = 0;           // owner names whose records were remade
    size_t signatures_new = 0;  // RRSIGs made
    size_t signatures_kept = 0;
};

// The difference that turns `signed_zone` (our last signed version) into the signed form of
// `unsigned_zone`, given the owners the unsigned change touched (`changed`, any order). Only
// those names and their NSEC predecessors are remade; unchanged RRsets keep their RRSIGs
// unless they expire within the policy's refresh time. NSEC3 (with or without opt-out)
// follows the chain through `signed_index`, the served zone's index of `signed_zone`: the
// touched names, their ancestors and their new chain neighbours are remade. nullopt when
// the change cannot be done incrementally (NSEC3 without an index or with other
// parameters than the served chain, a delegation made or removed, a DNAME near, a key set
// change, or a change touching more names than `max_names`, by default a tenth of the
// zone): sign in full then.
std::optional<dns::zone_diff> sign_incremental(
    const dns::record_store& signed_zone, const dns::record_store& unsigned_zone,
    std::span<const dns::name> changed, const sign_context& ctx, incremental_stats* stats = nullptr,
    size_t max_names = 0, const zone::zone_data* signed_index = nullptr);

// Owners with an RRSIG of ours that expires within the policy's refresh time (the names a
// signature refresh must remake), in canonical order, at most `limit`.
std::vector<dns::name> expiring_owners(const dns::record_store& signed_zone,
                                       const sign_context& ctx, size_t limit);

// The earliest RRSIG expiration in the zone (for the refresh timer), if any.
std::optional<uint32_t> earliest_expiration(const dns::record_store& signed_zone);

// The largest TTL in the zone (RFC 7583 Iret needs it).
uint32_t max_ttl(const dns::record_store& zone);

}  // namespace hsync::signer
