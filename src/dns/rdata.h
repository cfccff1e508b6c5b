// The RR type registry (RFC 1035 §3.2, RFC 3597).
//
// One type is one small definition: its code, mnemonic and the list of fields its RDATA
// is made of (rdata_types.cc). A single engine (rdata.cc) walks that list to read wire
// form (decompressing names where RFC 3597 §4 allows), write wire form (compressing only
// the RFC 1035 types), parse and print presentation form, and lower-case names for the
// canonical form (RFC 4034 §6.2, RFC 6840 §5.1). Types without a definition are handled
// in the generic form of RFC 3597 (`TYPE65534 \# 3 abcdef`), in and out, and every known
// type also accepts the generic form.
//
// RDATA is always held uncompressed, in wire form, as received (case preserved).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dns/name.h"
#include "dns/text.h"
#include "dns/wire.h"

namespace hsync::dns {

namespace rr_type {
inline constexpr uint16_t A = 1, NS = 2, CNAME = 5, SOA = 6, PTR = 12, HINFO = 13, MX = 15,
                          TXT = 16, SIG = 24, KEY = 25, AAAA = 28, SRV = 33, NAPTR = 35, DNAME = 39,
                          OPT = 41, DS = 43, SSHFP = 44, RRSIG = 46, NSEC = 47, DNSKEY = 48,
                          NSEC3 = 50, NSEC3PARAM = 51, TLSA = 52, CDS = 59, CDNSKEY = 60,
                          CSYNC = 62, ZONEMD = 63, SVCB = 64, HTTPS = 65, DSYNC = 66, TKEY = 249,
                          TSIG = 250, IXFR = 251, AXFR = 252, ANY = 255, URI = 256, CAA = 257;
// HSYNC's default code (docs/protocol.md: private use until IANA assigns one); the code in
// force is hsync_code(), which configuration may change at start-up.
inline constexpr uint16_t HSYNC_DEFAULT = 65290;
}  // namespace rr_type

namespace rr_class {
inline constexpr uint16_t IN = 1, CH = 3, HS = 4, NONE = 254, ANY = 255;
}

// The building blocks of RDATA. Each names its wire form and its presentation form.
enum class field : uint8_t {
    u8,            // decimal
    u16,           // decimal
    u32,           // decimal
    u48,           // decimal (TSIG time signed)
    ttl,           // u32; text also accepts units (1h30m), printed as a number
    time,          // u32; YYYYMMDDHHmmSS (RFC 4034 §3.2), also accepts a number
    rrtype,        // u16 type code; mnemonic or TYPEnnn
    algorithm,     // u8 DNSSEC algorithm; number, also accepts the mnemonic
    rcode,         // u16 (TSIG error); mnemonic or number
    ipv4,          // 4 octets; dotted quad
    ipv6,          // 16 octets; RFC 5952 text
    name,          // domain name
    text,          // one <character-string> (u8 length)
    text_list,     // one or more <character-string>s to the end (TXT)
    string_rest,   // the remaining octets as one quoted string (URI target, CAA value)
    caa_tag,       // u8 length + tag (RFC 8659), printed bare
    hex_rest,      // the remaining octets in hex; text may be split over tokens
    base64_rest,   // the remaining octets in base64; text may be split over tokens
    hex_u8,        // u8 length + octets in hex, "-" when empty (NSEC3 salt)
    base32_u8,     // u8 length + octets in base32hex (NSEC3 next hashed owner)
    base64_u16,    // u16 length + octets in base64 (TSIG MAC and other data)
    type_bitmap,   // NSEC/NSEC3/CSYNC type bit maps (RFC 4034 §4.1.2), list of types
    svc_params,    // SVCB/HTTPS SvcParams (RFC 9460), key=value list
    hsync_state,   // u8: 1 ON, 2 OFF, 128-255 private use (docs/protocol.md)
    hsync_nsmgmt,  // u8: 1 OWNER, 2 AGENT
    hsync_sign,    // u8: 1 YES, 2 NO
};

// RDATA ordering for sorted sets: octet order, shorter first on a common prefix. (Written
// out because g++ 12 warns falsely about vector's operator< at -O2, -Wstringop-overread.)
struct rdata_less {
    bool operator()(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) const {
        size_t n = std::min(a.size(), b.size());
        if (n)
            if (int c = std::memcmp(a.data(), b.data(), n)) return c < 0;
        return a.size() < b.size();
    }
};

struct type_def {
    uint16_t code;
    std::string_view mnemonic;
    std::span<const field> fields;
    bool compress = false;    // names may be compressed when written (RFC 1035 types only)
    bool decompress = false;  // names may arrive compressed (RFC 3597 §4)
    bool lowercase = false;   // names are lower-cased in canonical form (RFC 4034 §6.2)
    bool opaque = false;      // no presentation of its own (OPT): generic form only
};

// The HSYNC type code in force. Set once at start-up, before any parsing, if all
// providers of a zone agreed on another code.
uint16_t hsync_code();
void set_hsync_code(uint16_t code);

const type_def* find_type(uint16_t code);
const type_def* find_type(std::string_view mnemonic);  // case-insensitive; nullptr if unknown

std::string type_to_text(uint16_t code);         // mnemonic or TYPEnnn
uint16_t type_from_text(std::string_view text);  // mnemonic or TYPEnnn; throws text_error
bool type_from_text(std::string_view text, uint16_t& code);  // false if not a type
std::string class_to_text(uint16_t rclass);                  // IN, CH, HS, NONE, ANY or CLASSnnn
bool class_from_text(std::string_view text, uint16_t& rclass);
std::string rcode_to_text(uint16_t rcode);
std::string algorithm_to_text(uint8_t algorithm);  // mnemonic, e.g. ECDSAP256SHA256

// Reads `rdlength` octets of RDATA of `type` at the reader's position (names may be
// compressed where the type allows), checks every field and that the RDATA is consumed
// exactly, and appends the uncompressed RDATA to `out`. Throws wire_error.
void rdata_from_wire(uint16_t type, wire_reader& reader, size_t rdlength,
                     std::vector<uint8_t>& out);

// Checks uncompressed RDATA against the type's fields. Throws wire_error.
void rdata_check(uint16_t type, std::span<const uint8_t> rdata);

// Writes RDLENGTH and RDATA; names compressed only if `compress` and the type allows it.
void rdata_to_wire(uint16_t type, std::span<const uint8_t> rdata, wire_writer& writer,
                   bool compress);

// Parses presentation RDATA (the tokens after the type), relative names against
// `origin`; appends wire form to `out`. Accepts the RFC 3597 generic form for any type.
// Throws text_error.
void rdata_from_text(uint16_t type, std::span<const token> tokens, const name& origin,
                     std::vector<uint8_t>& out);

// Appends presentation RDATA; the generic form for unknown and opaque types.
void rdata_to_text(uint16_t type, std::span<const uint8_t> rdata, std::string& out);
void rdata_to_generic_text(std::span<const uint8_t> rdata, std::string& out);

// Lower-cases, in place, the names that RFC 4034 §6.2 (as amended by RFC 6840 §5.1)
// lower-cases for the canonical form. The length never changes.
void rdata_canonicalize(uint16_t type, std::span<uint8_t> rdata);

// Names in RDATA, for callers that need them (glue, additional processing): calls
// `fn(offset, length)` for each name field, offsets into `rdata`.
template <typename Fn>
void rdata_for_each_name(uint16_t type, std::span<const uint8_t> rdata, Fn&& fn);

// Offset and length of each field, the engine's view; used by rdata_for_each_name.
struct field_span {
    field kind;
    uint16_t offset;
    uint16_t length;
};
// Splits valid uncompressed RDATA into its fields; returns the count written (<= out.size()).
size_t rdata_fields(uint16_t type, std::span<const uint8_t> rdata, std::span<field_span> out);

template <typename Fn>
void rdata_for_each_name(uint16_t type, std::span<const uint8_t> rdata, Fn&& fn) {
    field_span spans[16];
    size_t n = rdata_fields(type, rdata, spans);
    for (size_t i = 0; i < n; ++i)
        if (spans[i].kind == field::name) fn(spans[i].offset, spans[i].length);
}

}  // namespace hsync::dns
