// A signer's DNSSEC policy (docs/signer.md): which keys a zone gets, how long signatures
// live, NSEC or NSEC3, and the rollover timing of RFC 7583.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hsync::signer {

struct signing_policy {
    std::string name = "default";
    uint8_t algorithm = 13;  // ECDSAP256SHA256 (RFC 8624 §3.1: MUST)
    bool csk = false;        // one combined key instead of KSK + ZSK
    uint32_t dnskey_ttl = 3600;
    uint32_t validity = 14 * 86400;  // RRSIG expiration - inception
    uint32_t refresh = 7 * 86400;    // re-sign an RRset when less than this remains
    bool nsec3 = false;
    uint16_t nsec3_iterations = 0;  // RFC 9276 §3.1
    std::vector<uint8_t> nsec3_salt;
    bool nsec3_opt_out = false;
    // Publish CDS and CDNSKEY for our own KSKs when the unsigned zone carries none
    // (single-signer mode). In a multi-signer group the agent puts the group's CDS set
    // into the unsigned zone and we publish exactly that.
    bool publish_cds = false;
    // Automatic rollovers: a key older than its lifetime is rolled (0: only by command).
    uint32_t zsk_lifetime = 0;
    uint32_t ksk_lifetime = 0;
    // RFC 7583 §3.3: the time for a change to reach every secondary and the margins.
    uint32_t propagation_delay = 300;
    uint32_t publish_safety = 3600;
    uint32_t retire_safety = 3600;

    bool operator==(const signing_policy&) const = default;
};

}  // namespace hsync::signer
