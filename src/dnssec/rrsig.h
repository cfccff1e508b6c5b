// RRSIG records (RFC 4034 §3): making and checking signatures over RRsets.
//
// The signed data is the RRSIG RDATA without its signature field, followed by every RR of
// the RRset in canonical form (RFC 4034 §3.1.8.1, §6.2): owner lower-cased (or rebuilt as
// "*.<labels>" for a wildcard expansion, RFC 4035 §5.3.2), class, the RRSIG's original
// TTL, canonical RDATA; the RRs sorted by canonical RDATA (§6.3) and duplicates dropped.
// Validity times are compared in serial number arithmetic (RFC 4034 §3.1.5, RFC 1982),
// so signatures keep working after 2106.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "dns/name.h"
#include "dns/rr.h"
#include "dnssec/key.h"

namespace hsync::dnssec {

// The fields of RRSIG RDATA (RFC 4034 §3.1).
struct rrsig_fields {
    uint16_t type_covered = 0;
    uint8_t algorithm = 0;
    uint8_t labels = 0;
    uint32_t original_ttl = 0;
    uint32_t expiration = 0;
    uint32_t inception = 0;
    uint16_t key_tag = 0;
    dns::name signer;
    std::vector<uint8_t> signature;

    static rrsig_fields parse(std::span<const uint8_t> rdata);  // throws dns::wire_error
    std::vector<uint8_t> to_wire() const;
    // The RDATA up to the signature, signer name lower-cased (RFC 4034 §3.1.8.1).
    void append_signed_prefix(std::vector<uint8_t>& out) const;
};

// Only the type covered, cheaply, from RRSIG RDATA (0 if too short).
uint16_t rrsig_type_covered(std::span<const uint8_t> rdata);

// The RRSIG labels field for an owner: its label count, less a leading "*" (RFC 4034
// §3.1.3).
uint8_t rrsig_labels(const dns::name& owner);

// Serial number arithmetic (RFC 1982 §3.2): a < b, and a <= b.
bool serial_lt(uint32_t a, uint32_t b);
bool serial_le(uint32_t a, uint32_t b);

// Seconds since the epoch as the 32-bit RRSIG time (RFC 4034 §3.1.5: modulo 2^32).
inline uint32_t rrsig_time(int64_t t) {
    return static_cast<uint32_t>(static_cast<uint64_t>(t));
}

// Appends the data an RRSIG signs: sig's RDATA prefix, then the RRset's RRs in canonical
// form and order. `rdata` need not be canonical, sorted or free of duplicates. The owner
// is replaced by its wildcard form when sig.labels is smaller than its label count.
// Throws dns::wire_error if sig.labels exceeds the owner's label count.
void append_signed_data(const rrsig_fields& sig, const dns::name& owner, uint16_t rclass,
                        std::span<const std::span<const uint8_t>> rdata, std::vector<uint8_t>& out);

// Signs one RRset with `k` (which must hold its private key) and returns the RRSIG RDATA.
std::vector<uint8_t> make_rrsig(const key& k, const dns::name& owner, uint16_t type,
                                uint16_t rclass, uint32_t ttl,
                                std::span<const std::span<const uint8_t>> rdata, uint32_t inception,
                                uint32_t expiration);

// Convenience: the RRSIG record over `rrset` (all records with the same owner, type and
// class; the TTL of the first is the original TTL).
dns::rr sign_rrset(const key& k, std::span<const dns::rr> rrset, uint32_t inception,
                   uint32_t expiration);

enum class verify_status {
    ok,
    malformed,      // RRSIG RDATA does not parse
    wrong_type,     // type covered is not the RRset's type
    bad_labels,     // labels field larger than the owner's label count
    wrong_signer,   // signer is not the zone (or not an ancestor of the owner)
    no_key,         // no key with that tag, algorithm and owner
    not_yet_valid,  // now is before inception
    expired,        // now is after expiration
    bad_window,     // expiration before inception
    unsupported,    // algorithm this library cannot verify
    bad_signature,  // the cryptographic check failed
};

struct verify_result {
    verify_status status = verify_status::ok;
    std::string reason;  // empty when ok, else words for an operator
    bool ok() const { return status == verify_status::ok; }
};

// Checks one RRSIG over an RRset against candidate keys (usually the zone's DNSKEYs; the
// key must be a zone key named like the signer). `now` is seconds since the epoch modulo
// 2^32. Never throws for bad input: the reason says what was wrong.
verify_result verify_rrsig(std::span<const uint8_t> rrsig_rdata, const dns::name& owner,
                           uint16_t type, uint16_t rclass,
                           std::span<const std::span<const uint8_t>> rdata,
                           std::span<const key> keys, uint32_t now);
verify_result verify_rrsig(const dns::rr& rrsig, std::span<const dns::rr> rrset,
                           std::span<const key> keys, uint32_t now);

}  // namespace hsync::dnssec
