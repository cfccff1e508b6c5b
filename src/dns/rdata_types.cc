// The RR types hsync knows, one definition each: code, mnemonic, RDATA fields and the
// rules for names in its RDATA. The engine in rdata.cc does the rest.
//
// compress:   RFC 3597 §4 allows compression on output only for the RFC 1035 types.
// decompress: RFC 3597 §4 asks receivers to decompress the RFC 1035 types and a few later
//             ones (RP, AFSDB, RT, SIG, PX, NXT, NAPTR, SRV); newer types never carry
//             compressed names.
// lowercase:  RFC 4034 §6.2 with RFC 6840 §5.1 (NSEC names keep their case; RRSIG's and
//             HSYNC's signer/identity names are lower-cased, docs/protocol.md).
#include "dns/rdata_registry.h"

namespace hsync::dns {
namespace {

using enum field;

constexpr field f_a[] = {ipv4};
constexpr field f_name[] = {name};
constexpr field f_soa[] = {name, name, u32, ttl, ttl, ttl, ttl};
constexpr field f_hinfo[] = {text, text};
constexpr field f_mx[] = {u16, name};
constexpr field f_txt[] = {text_list};
constexpr field f_aaaa[] = {ipv6};
constexpr field f_srv[] = {u16, u16, u16, name};
constexpr field f_naptr[] = {u16, u16, text, text, text, name};
constexpr field f_ds[] = {u16, algorithm, u8, hex_rest};
constexpr field f_sshfp[] = {u8, u8, hex_rest};
constexpr field f_rrsig[] = {rrtype, algorithm, u8, u32, time, time, u16, name, base64_rest};
constexpr field f_nsec[] = {name, type_bitmap};
constexpr field f_dnskey[] = {u16, u8, algorithm, base64_rest};
constexpr field f_nsec3[] = {u8, u8, u16, hex_u8, base32_u8, type_bitmap};
constexpr field f_nsec3param[] = {u8, u8, u16, hex_u8};
constexpr field f_tlsa[] = {u8, u8, u8, hex_rest};
constexpr field f_csync[] = {u32, u16, type_bitmap};
constexpr field f_zonemd[] = {u32, u8, u8, hex_rest};
constexpr field f_svcb[] = {u16, name, svc_params};
// RFC 9859 §2: RRtype, Scheme, Port, Target (never compressed, case kept).
constexpr field f_dsync[] = {rrtype, u8, u16, name};
constexpr field f_tsig[] = {name, u48, u16, base64_u16, u16, rcode, base64_u16};
constexpr field f_uri[] = {u16, u16, string_rest};
constexpr field f_caa[] = {u8, caa_tag, string_rest};
constexpr field f_hsync[] = {hsync_state, hsync_nsmgmt, hsync_sign, name};

}  // namespace

// Flags: compress, decompress, lowercase, opaque.
const type_def builtin_types[] = {
    {rr_type::A, "A", f_a},
    {rr_type::NS, "NS", f_name, true, true, true},
    {rr_type::CNAME, "CNAME", f_name, true, true, true},
    {rr_type::SOA, "SOA", f_soa, true, true, true},
    {rr_type::PTR, "PTR", f_name, true, true, true},
    {rr_type::HINFO, "HINFO", f_hinfo},
    {rr_type::MX, "MX", f_mx, true, true, true},
    {rr_type::TXT, "TXT", f_txt},
    {rr_type::SIG, "SIG", f_rrsig, false, true, true},
    {rr_type::KEY, "KEY", f_dnskey},
    {rr_type::AAAA, "AAAA", f_aaaa},
    {rr_type::SRV, "SRV", f_srv, false, true, true},
    {rr_type::NAPTR, "NAPTR", f_naptr, false, true, true},
    {rr_type::DNAME, "DNAME", f_name, false, false, true},
    {rr_type::OPT, "OPT", {}, false, false, false, true},
    {rr_type::DS, "DS", f_ds},
    {rr_type::SSHFP, "SSHFP", f_sshfp},
    {rr_type::RRSIG, "RRSIG", f_rrsig, false, false, true},
    {rr_type::NSEC, "NSEC", f_nsec},
    {rr_type::DNSKEY, "DNSKEY", f_dnskey},
    {rr_type::NSEC3, "NSEC3", f_nsec3},
    {rr_type::NSEC3PARAM, "NSEC3PARAM", f_nsec3param},
    {rr_type::TLSA, "TLSA", f_tlsa},
    {rr_type::CDS, "CDS", f_ds},
    {rr_type::CDNSKEY, "CDNSKEY", f_dnskey},
    {rr_type::CSYNC, "CSYNC", f_csync},
    {rr_type::ZONEMD, "ZONEMD", f_zonemd},
    {rr_type::SVCB, "SVCB", f_svcb},
    {rr_type::HTTPS, "HTTPS", f_svcb},
    {rr_type::DSYNC, "DSYNC", f_dsync},
    {rr_type::TSIG, "TSIG", f_tsig},
    {rr_type::URI, "URI", f_uri},
    {rr_type::CAA, "CAA", f_caa},
    {rr_type::HSYNC_DEFAULT, "HSYNC", f_hsync, false, false, true},
};
const size_t builtin_type_count = std::size(builtin_types);

}  // namespace hsync::dns
