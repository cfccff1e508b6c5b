// Whole-zone DNSSEC verification: what a validator would find wrong anywhere in a signed
// zone, checked offline.
//
// - the apex DNSKEY RRset is signed by one of its keys, by a key with the SEP bit if it
//   has any; the algorithms that sign it are the zone's signing algorithms;
// - every authoritative RRset (not delegation NS, not glue) has a valid RRSIG of each
//   signing algorithm (RFC 4035 §2.2) by a key of the apex DNSKEY RRset, valid at the
//   given time (RFC 4034 §3.1.5);
// - the NSEC chain (RFC 4034 §4, RFC 4035 §2.3) or, when an NSEC3PARAM is at the apex, the
//   NSEC3 chain (RFC 5155 §7.1) covers every name, is closed and ordered, has the right
//   type bit maps and, for NSEC3, the right hashes and parameters; opt-out is honoured;
// - optionally, one of the given DS records matches a key that signs the DNSKEY RRset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "dns/name.h"
#include "dns/record_store.h"
#include "dns/rr.h"

namespace hsync::dnssec {

struct zone_verify_options {
    int64_t now = 0;          // seconds since the epoch; 0 = the clock
    std::vector<dns::rr> ds;  // the parent's DS RRset; empty = not checked
    unsigned threads = 0;     // 0 = all cores
};

struct zone_verify_report {
    std::vector<std::string> errors;  // one line each, naming the RRset and the reason
    std::vector<std::string> notes;   // what was checked (keys, algorithms, chain type)
    size_t names = 0;
    size_t rrsets = 0;      // authoritative RRsets checked
    size_t signatures = 0;  // RRSIGs examined
    bool nsec3 = false;
    bool opt_out = false;
    bool ok() const { return errors.empty(); }
};

// `zone` must be sorted (record_store::sort). Never throws for problems of the zone's
// content: they are errors in the report.
zone_verify_report verify_zone(const dns::record_store& zone, const dns::name& origin,
                               const zone_verify_options& options = {});

}  // namespace hsync::dnssec
