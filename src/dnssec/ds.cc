#include "dnssec/ds.h"

#include <openssl/crypto.h>

#include <string>

#include "dns/make_rr.h"
#include "dnssec/ossl.h"

namespace hsync::dnssec {

namespace {

const EVP_MD* digest_md(uint8_t type) {
    switch (type) {
        case digest_type::SHA1:
            return EVP_sha1();
        case digest_type::SHA256:
            return EVP_sha256();
        case digest_type::SHA384:
            return EVP_sha384();
        default:
            return nullptr;
    }
}

}  // namespace

bool digest_type_supported(uint8_t type) {
    return digest_md(type) != nullptr;
}

std::vector<uint8_t> ds_digest(const dns::name& owner, std::span<const uint8_t> dnskey_rdata,
                               uint8_t type) {
    const EVP_MD* md = digest_md(type);
    if (!md) throw dnssec_error("unsupported DS digest type " + std::to_string(type));
    dns::name canonical = owner.canonical();
    return ossl::digest(md, {canonical.wire(), dnskey_rdata});
}

std::vector<uint8_t> ds_rdata(const dns::name& owner, std::span<const uint8_t> dnskey_rdata,
                              uint8_t type) {
    if (dnskey_rdata.size() < 4) throw dns::wire_error("DNSKEY RDATA shorter than 4 octets");
    uint16_t tag = key_tag(dnskey_rdata);
    std::vector<uint8_t> out{static_cast<uint8_t>(tag >> 8), static_cast<uint8_t>(tag),
                             dnskey_rdata[3], type};
    auto d = ds_digest(owner, dnskey_rdata, type);
    out.insert(out.end(), d.begin(), d.end());
    return out;
}

bool ds_matches(std::span<const uint8_t> ds, const dns::name& owner,
                std::span<const uint8_t> dnskey_rdata) {
    if (ds.size() < 5 || dnskey_rdata.size() < 4) return false;
    uint16_t tag = static_cast<uint16_t>(ds[0] << 8 | ds[1]);
    if (tag != key_tag(dnskey_rdata) || ds[2] != dnskey_rdata[3]) return false;
    if (!digest_type_supported(ds[3])) return false;
    auto d = ds_digest(owner, dnskey_rdata, ds[3]);
    auto theirs = ds.subspan(4);
    // Public data, but constant time costs nothing here.
    return theirs.size() == d.size() && CRYPTO_memcmp(theirs.data(), d.data(), d.size()) == 0;
}

dns::rr make_ds(const key& k, uint8_t type, uint32_t ttl, uint16_t rr_type) {
    return dns::make_rr(k.owner(), rr_type, ttl, ds_rdata(k.owner(), k.rdata(), type));
}

dns::rr make_cds(const key& k, uint8_t type, uint32_t ttl) {
    return make_ds(k, type, ttl, dns::rr_type::CDS);
}

dns::rr make_cdnskey(const key& k, uint32_t ttl) {
    return dns::make_rr(k.owner(), dns::rr_type::CDNSKEY, ttl, k.rdata());
}

dns::rr make_cds_delete(const dns::name& owner, uint32_t ttl) {
    return dns::make_rr(owner, dns::rr_type::CDS, ttl, {0, 0, 0, 0, 0});
}

dns::rr make_cdnskey_delete(const dns::name& owner, uint32_t ttl) {
    return dns::make_rr(owner, dns::rr_type::CDNSKEY, ttl, {0, 0, 3, 0, 0});
}

bool is_cds_delete(std::span<const uint8_t> rdata) {
    return rdata.size() == 5 && rdata[0] == 0 && rdata[1] == 0 && rdata[2] == 0 && rdata[3] == 0 &&
           rdata[4] == 0;
}

bool is_cdnskey_delete(std::span<const uint8_t> rdata) {
    return rdata.size() == 5 && rdata[0] == 0 && rdata[1] == 0 && rdata[2] == 3 && rdata[3] == 0 &&
           rdata[4] == 0;
}

}  // namespace hsync::dnssec
