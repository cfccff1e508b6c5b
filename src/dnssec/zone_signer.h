// Whole-zone signing (RFC 4035 §2): RRSIGs over every authoritative RRset and an NSEC
// (RFC 4034 §4) or NSEC3 (RFC 5155 §7.1) chain.
//
// What gets signed: every RRset at or below the apex except delegation NS RRsets and
// everything below a delegation point (glue: RFC 4035 §2.2). At a delegation only DS
// (and the NSEC) is signed. The apex DNSKEY, CDS and CDNSKEY RRsets are signed by the
// key-signing keys (SEP bit; a CSK is both), everything else by the zone-signing keys.
// Each algorithm among our keys signs every RRset (RFC 4035 §2.2). DNSKEYs of other
// signers found in the zone stay in the DNSKEY RRset under our signature (RFC 8901
// model 2); our keys are added to it if missing.
//
// Old RRSIG, NSEC, NSEC3 and NSEC3PARAM records of the input are dropped and remade,
// except that a valid RRSIG by one of our keys over an RRset that did not change, with
// more than `refresh` seconds to go, is kept: re-signing after a small change signs
// only what changed.
//
// Memory: the input stays in its record_store; the signer adds a small index entry per
// name and per RRset and the new records themselves. Signing runs on all cores: workers
// take disjoint ranges of names (and of the NSEC3 chain) and write into per-range buffers
// that are merged in canonical order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "dns/name.h"
#include "dns/record_store.h"
#include "dnssec/key.h"
#include "dnssec/nsec.h"

namespace hsync::dnssec {

struct sign_options {
    int64_t now = 0;           // seconds since the epoch; 0 = the clock
    uint32_t inception = 0;    // RRSIG times; 0 = now - 1 hour (clock skew)
    uint32_t expiration = 0;   // 0 = inception + 1 hour + 30 days
    uint32_t refresh = 0;      // keep old RRSIGs valid this much longer; 0 = validity / 4
    bool nsec3 = false;        // NSEC3 instead of NSEC
    nsec3_params nsec3_param;  // RFC 9276 §3.1 defaults: 0 iterations, no salt
    bool opt_out = false;      // RFC 5155 §6: no NSEC3 for insecure delegations
    unsigned threads = 0;      // 0 = all cores
};

struct sign_stats {
    size_t names = 0;            // owner names in the signed zone (without NSEC3 owners)
    size_t rrsets_signed = 0;    // authoritative RRsets covered (NSEC/NSEC3 included)
    size_t signatures_new = 0;   // RRSIGs made now
    size_t signatures_kept = 0;  // valid RRSIGs taken over from the input
    size_t nsec = 0;             // NSEC records
    size_t nsec3 = 0;            // NSEC3 records
    size_t dropped = 0;          // input DNSSEC records not carried over
    size_t records_out = 0;      // records written
};

using record_sink = std::function<void(const dns::record_view&)>;

// Signs `zone` (sorted with record_store::sort, every owner at or below `origin`, an SOA
// at the apex) with `keys` (owned by `origin`, private halves present) and calls `out`
// for every record of the signed zone in canonical order (RFC 4034 §6). Throws
// dnssec_error for a zone or key set that cannot be signed.
sign_stats sign_zone(const dns::record_store& zone, const dns::name& origin,
                     std::span<const key> keys, const sign_options& options,
                     const record_sink& out);

}  // namespace hsync::dnssec
