// Authenticated denial of existence: NSEC (RFC 4034 §4) and NSEC3 (RFC 5155) RDATA,
// type bit maps and the NSEC3 hash.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "dns/name.h"

namespace hsync::dnssec {

// Type bit map (RFC 4034 §4.1.2): window blocks for the given types (any order,
// duplicates allowed). Appends to `out`.
void append_type_bitmap(std::span<const uint16_t> types, std::vector<uint8_t>& out);
// The types of a bit map, ascending. Throws dns::wire_error for a malformed one.
std::vector<uint16_t> parse_type_bitmap(std::span<const uint8_t> bitmap);

// NSEC RDATA: next owner name (never compressed, not lower-cased since RFC 6840 §5.1) and
// the type bit map.
std::vector<uint8_t> nsec_rdata(const dns::name& next, std::span<const uint16_t> types);
struct nsec_fields {
    dns::name next;
    std::vector<uint16_t> types;
    static nsec_fields parse(std::span<const uint8_t> rdata);  // throws dns::wire_error
};

// NSEC3 hash algorithm 1 is SHA-1, the only one defined (RFC 5155 §11).
inline constexpr uint8_t nsec3_sha1 = 1;
inline constexpr uint8_t nsec3_flag_opt_out = 0x01;
inline constexpr size_t nsec3_hash_size = 20;
using nsec3_hash_value = std::array<uint8_t, nsec3_hash_size>;

// NSEC3PARAM fields (RFC 5155 §4). RFC 9276 §3.1 recommends 0 iterations and no salt.
struct nsec3_params {
    uint8_t algorithm = nsec3_sha1;
    uint8_t flags = 0;
    uint16_t iterations = 0;
    std::vector<uint8_t> salt;

    static nsec3_params parse(std::span<const uint8_t> nsec3param_rdata);  // throws wire_error
    std::vector<uint8_t> to_wire() const;  // NSEC3PARAM RDATA (flags as set, normally 0)
};

// IH(salt, x, k) of RFC 5155 §5 over the canonical (lower-cased) wire form of `owner`.
nsec3_hash_value nsec3_hash(const dns::name& owner, uint16_t iterations,
                            std::span<const uint8_t> salt);
// A reusable hasher: one OpenSSL digest context, for hashing millions of names on one
// thread. Not thread-safe; make one per thread.
class nsec3_hasher {
  public:
    nsec3_hasher(uint16_t iterations, std::span<const uint8_t> salt);
    ~nsec3_hasher();
    nsec3_hasher(const nsec3_hasher&) = delete;
    nsec3_hasher& operator=(const nsec3_hasher&) = delete;
    nsec3_hash_value operator()(std::span<const uint8_t> owner_wire);

  private:
    struct impl;
    impl* impl_;
};

// The hash in base32hex, lower case (the NSEC3 owner's first label).
std::string nsec3_label(std::span<const uint8_t> hash);
// <base32hex(hash)>.<zone>
dns::name nsec3_owner(std::span<const uint8_t> hash, const dns::name& zone);

// NSEC3 RDATA (RFC 5155 §3.2).
std::vector<uint8_t> nsec3_rdata(const nsec3_params& params, bool opt_out,
                                 std::span<const uint8_t> next_hash,
                                 std::span<const uint16_t> types);
struct nsec3_fields {
    uint8_t algorithm = 0;
    uint8_t flags = 0;
    uint16_t iterations = 0;
    std::vector<uint8_t> salt;
    std::vector<uint8_t> next_hash;
    std::vector<uint16_t> types;
    static nsec3_fields parse(std::span<const uint8_t> rdata);  // throws dns::wire_error
};

}  // namespace hsync::dnssec
