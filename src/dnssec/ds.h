// Delegation Signer digests (RFC 4034 §5, RFC 4509, RFC 6605 §2) and the child's signals
// to its parent, CDS and CDNSKEY (RFC 7344 §3), with the delete forms of RFC 8078 §4.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "dns/name.h"
#include "dns/rr.h"
#include "dnssec/key.h"

namespace hsync::dnssec {

// DS digest types (IANA "Digest Algorithms"). SHA-1 only to read old DS records
// (RFC 8624 §3.3: MUST NOT be used to create new ones).
namespace digest_type {
inline constexpr uint8_t SHA1 = 1, SHA256 = 2, SHA384 = 4;
}

bool digest_type_supported(uint8_t type);

// digest = hash(canonical owner name | DNSKEY RDATA) (RFC 4034 §5.1.4). The owner is
// lower-cased here; the RDATA is taken as given (it has no names). Throws dnssec_error for
// an unknown digest type.
std::vector<uint8_t> ds_digest(const dns::name& owner, std::span<const uint8_t> dnskey_rdata,
                               uint8_t type);

// DS/CDS RDATA: key tag, algorithm, digest type, digest (RFC 4034 §5.1).
std::vector<uint8_t> ds_rdata(const dns::name& owner, std::span<const uint8_t> dnskey_rdata,
                              uint8_t type);

// True if DS (or CDS) RDATA `ds` refers to this DNSKEY: tag, algorithm and digest all match.
// False for malformed or unsupported DS RDATA.
bool ds_matches(std::span<const uint8_t> ds, const dns::name& owner,
                std::span<const uint8_t> dnskey_rdata);

// The DS record for a key (record type DS, or CDS for the child's copy).
dns::rr make_ds(const key& k, uint8_t type, uint32_t ttl, uint16_t rr_type = dns::rr_type::DS);
dns::rr make_cds(const key& k, uint8_t type, uint32_t ttl);
// CDNSKEY: the key's DNSKEY RDATA under type CDNSKEY (RFC 7344 §3.2).
dns::rr make_cdnskey(const key& k, uint32_t ttl);

// RFC 8078 §4: "delete all DS" signals, `CDS 0 0 0 00` and `CDNSKEY 0 3 0 AA==`.
dns::rr make_cds_delete(const dns::name& owner, uint32_t ttl);
dns::rr make_cdnskey_delete(const dns::name& owner, uint32_t ttl);
bool is_cds_delete(std::span<const uint8_t> rdata);
bool is_cdnskey_delete(std::span<const uint8_t> rdata);

}  // namespace hsync::dnssec
