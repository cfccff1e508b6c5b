#include "dnssec/key.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/rsa.h>

#include <string>
#include <utility>

#include "dnssec/ossl.h"

namespace hsync::dnssec {

// ---- OpenSSL helpers (ossl.h) ------------------------------------------------------------

namespace ossl {

std::string last_error() {
    unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (code == 0) return "unknown OpenSSL error";
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    return buf;
}

std::vector<uint8_t> digest(const EVP_MD* md,
                            std::initializer_list<std::span<const uint8_t>> parts) {
    md_ctx_ptr ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1)
        throw dnssec_error("digest: " + last_error());
    for (auto part : parts)
        if (EVP_DigestUpdate(ctx.get(), part.data(), part.size()) != 1)
            throw dnssec_error("digest: " + last_error());
    std::vector<uint8_t> out(EVP_MAX_MD_SIZE);
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1)
        throw dnssec_error("digest: " + last_error());
    out.resize(len);
    return out;
}

bn_ptr bn_from_bytes(std::span<const uint8_t> bytes) {
    bn_ptr bn(BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr));
    if (!bn) throw dnssec_error("out of memory: " + last_error());
    return bn;
}

std::vector<uint8_t> bn_to_bytes(const BIGNUM* bn, size_t width) {
    size_t n = width ? width : static_cast<size_t>(BN_num_bytes(bn));
    std::vector<uint8_t> out(n);
    if (BN_bn2binpad(bn, out.data(), static_cast<int>(n)) < 0)
        throw dnssec_error("number does not fit in " + std::to_string(n) + " octets");
    return out;
}

}  // namespace ossl

namespace {

using namespace ossl;

bool is_rsa(uint8_t alg) {
    return alg == algorithm::RSASHA256 || alg == algorithm::RSASHA512;
}
bool is_ecdsa(uint8_t alg) {
    return alg == algorithm::ECDSAP256SHA256 || alg == algorithm::ECDSAP384SHA384;
}
bool is_eddsa(uint8_t alg) {
    return alg == algorithm::ED25519 || alg == algorithm::ED448;
}

// Octets of one ECDSA coordinate / of r and s (RFC 6605 §4), of an EdDSA public key and
// of an EdDSA private key (RFC 8080 §3, RFC 8032 §5.1.5 and §5.2.5).
size_t ec_size(uint8_t alg) {
    return alg == algorithm::ECDSAP256SHA256 ? 32 : 48;
}
size_t ed_size(uint8_t alg) {
    return alg == algorithm::ED25519 ? 32 : 57;
}
const char* ec_group_name(uint8_t alg) {
    return alg == algorithm::ECDSAP256SHA256 ? "P-256" : "P-384";
}
int ec_nid(uint8_t alg) {
    return alg == algorithm::ECDSAP256SHA256 ? NID_X9_62_prime256v1 : NID_secp384r1;
}
const char* ed_name(uint8_t alg) {
    return alg == algorithm::ED25519 ? "ED25519" : "ED448";
}
int ed_type(uint8_t alg) {
    return alg == algorithm::ED25519 ? EVP_PKEY_ED25519 : EVP_PKEY_ED448;
}

// The hash the algorithm signs with; EdDSA hashes internally (nullptr).
const EVP_MD* signature_md(uint8_t alg) {
    switch (alg) {
        case algorithm::RSASHA256:
        case algorithm::ECDSAP256SHA256:
            return EVP_sha256();
        case algorithm::RSASHA512:
            return EVP_sha512();
        case algorithm::ECDSAP384SHA384:
            return EVP_sha384();
        default:
            return nullptr;
    }
}

void require_supported(uint8_t alg) {
    if (!algorithm_supported(alg))
        throw dnssec_error("unsupported DNSSEC algorithm " + std::to_string(alg));
}

// RSASHA256 keys may be 512..4096 bits, RSASHA512 1024..4096 (RFC 5702 §2).
unsigned rsa_min_bits(uint8_t alg) {
    return alg == algorithm::RSASHA512 ? 1024 : 512;
}

pkey_ptr pkey_from_params(const char* type, OSSL_PARAM_BLD* bld, int selection) {
    params_ptr params(OSSL_PARAM_BLD_to_param(bld));
    pkey_ctx_ptr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
    EVP_PKEY* raw = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &raw, selection, params.get()) != 1)
        throw dnssec_error(std::string("invalid ") + type + " key: " + last_error());
    return pkey_ptr(raw);
}

bn_ptr get_bn(const EVP_PKEY* pkey, const char* param) {
    BIGNUM* raw = nullptr;
    if (EVP_PKEY_get_bn_param(pkey, param, &raw) != 1)
        throw dnssec_error(std::string("cannot read key parameter ") + param + ": " + last_error());
    return bn_ptr(raw);
}

// RFC 3110 §2: exponent length (1 octet, or 0 and 2 octets), exponent, modulus.
std::vector<uint8_t> rsa_public_key_field(const EVP_PKEY* pkey) {
    auto e = bn_to_bytes(get_bn(pkey, OSSL_PKEY_PARAM_RSA_E).get());
    auto n = bn_to_bytes(get_bn(pkey, OSSL_PKEY_PARAM_RSA_N).get());
    std::vector<uint8_t> out;
    if (e.size() <= 255) {
        out.push_back(static_cast<uint8_t>(e.size()));
    } else {
        out.push_back(0);
        out.push_back(static_cast<uint8_t>(e.size() >> 8));
        out.push_back(static_cast<uint8_t>(e.size()));
    }
    out.insert(out.end(), e.begin(), e.end());
    out.insert(out.end(), n.begin(), n.end());
    return out;
}

std::vector<uint8_t> public_key_field(uint8_t alg, const EVP_PKEY* pkey) {
    if (is_rsa(alg)) return rsa_public_key_field(pkey);
    if (is_ecdsa(alg)) {
        // RFC 6605 §4: Q as X || Y, each padded to the curve size.
        auto x = bn_to_bytes(get_bn(pkey, OSSL_PKEY_PARAM_EC_PUB_X).get(), ec_size(alg));
        auto y = bn_to_bytes(get_bn(pkey, OSSL_PKEY_PARAM_EC_PUB_Y).get(), ec_size(alg));
        x.insert(x.end(), y.begin(), y.end());
        return x;
    }
    std::vector<uint8_t> out(ed_size(alg));
    size_t len = out.size();
    if (EVP_PKEY_get_raw_public_key(pkey, out.data(), &len) != 1 || len != out.size())
        throw dnssec_error("cannot read EdDSA public key: " + last_error());
    return out;
}

pkey_ptr rsa_public_from_field(uint8_t alg, std::span<const uint8_t> field) {
    if (field.empty()) throw dnssec_error("RSA public key is empty");
    size_t pos = 1, elen = field[0];
    if (elen == 0) {
        if (field.size() < 3) throw dnssec_error("RSA public key truncated");
        elen = static_cast<size_t>(field[1]) << 8 | field[2];
        pos = 3;
    }
    if (elen == 0 || elen > field.size() - pos)
        throw dnssec_error("RSA public key: bad exponent length");
    auto e = field.subspan(pos, elen);
    auto n = field.subspan(pos + elen);
    bn_ptr bn_e = bn_from_bytes(e), bn_n = bn_from_bytes(n);
    unsigned bits = static_cast<unsigned>(BN_num_bits(bn_n.get()));
    if (bits < rsa_min_bits(alg) || bits > 4096)
        throw dnssec_error("RSA modulus of " + std::to_string(bits) +
                           " bits is outside the allowed range");
    // A huge public exponent would make every verification slow; real keys use 3 or 65537.
    if (BN_num_bits(bn_e.get()) > 64 || !BN_is_odd(bn_e.get()) || BN_is_one(bn_e.get()))
        throw dnssec_error("RSA public exponent is not acceptable");
    param_bld_ptr bld(OSSL_PARAM_BLD_new());
    if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1)
        throw dnssec_error("out of memory: " + last_error());
    return pkey_from_params("RSA", bld.get(), EVP_PKEY_PUBLIC_KEY);
}

pkey_ptr ec_from_point(uint8_t alg, std::span<const uint8_t> point, const BIGNUM* priv) {
    param_bld_ptr bld(OSSL_PARAM_BLD_new());
    if (!bld ||
        OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, ec_group_name(alg),
                                        0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                         point.size()) != 1 ||
        (priv && OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, priv) != 1))
        throw dnssec_error("out of memory: " + last_error());
    return pkey_from_params("EC", bld.get(), priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY);
}

pkey_ptr public_from_field(uint8_t alg, std::span<const uint8_t> field) {
    require_supported(alg);
    if (is_rsa(alg)) return rsa_public_from_field(alg, field);
    if (is_ecdsa(alg)) {
        if (field.size() != 2 * ec_size(alg))
            throw dnssec_error("ECDSA public key must be " + std::to_string(2 * ec_size(alg)) +
                               " octets, not " + std::to_string(field.size()));
        // Uncompressed point (SEC 1 §2.3.3); OpenSSL checks that it lies on the curve.
        std::vector<uint8_t> point{0x04};
        point.insert(point.end(), field.begin(), field.end());
        return ec_from_point(alg, point, nullptr);
    }
    if (field.size() != ed_size(alg))
        throw dnssec_error(std::string(ed_name(alg)) + " public key must be " +
                           std::to_string(ed_size(alg)) + " octets, not " +
                           std::to_string(field.size()));
    pkey_ptr p(EVP_PKEY_new_raw_public_key(ed_type(alg), nullptr, field.data(), field.size()));
    if (!p) throw dnssec_error("invalid EdDSA public key: " + last_error());
    return p;
}

}  // namespace

// ---- algorithms, tags, rdata ---------------------------------------------------------

bool algorithm_supported(uint8_t alg) {
    return is_rsa(alg) || is_ecdsa(alg) || is_eddsa(alg);
}

std::string algorithm_name(uint8_t alg) {
    switch (alg) {
        case algorithm::RSAMD5:
            return "RSAMD5";
        case algorithm::RSASHA1:
            return "RSASHA1";
        case 7:
            return "NSEC3RSASHA1";
        case algorithm::RSASHA256:
            return "RSASHA256";
        case algorithm::RSASHA512:
            return "RSASHA512";
        case algorithm::ECDSAP256SHA256:
            return "ECDSAP256SHA256";
        case algorithm::ECDSAP384SHA384:
            return "ECDSAP384SHA384";
        case algorithm::ED25519:
            return "ED25519";
        case algorithm::ED448:
            return "ED448";
        default:
            return std::to_string(alg);
    }
}

uint16_t key_tag(std::span<const uint8_t> rdata) {
    // Appendix B.1: for RSA/MD5 the tag is bits 8..23 of the modulus's low 24 bits.
    if (rdata.size() >= 4 && rdata[3] == algorithm::RSAMD5) {
        if (rdata.size() < 7) return 0;
        return static_cast<uint16_t>(rdata[rdata.size() - 3] << 8 | rdata[rdata.size() - 2]);
    }
    uint32_t ac = 0;
    for (size_t i = 0; i < rdata.size(); ++i)
        ac += (i & 1) ? rdata[i] : static_cast<uint32_t>(rdata[i]) << 8;
    ac += (ac >> 16) & 0xFFFF;
    return static_cast<uint16_t>(ac & 0xFFFF);
}

key_rdata key_rdata::parse(std::span<const uint8_t> rdata) {
    if (rdata.size() < 4) throw dns::wire_error("DNSKEY RDATA shorter than 4 octets");
    key_rdata k;
    k.flags = static_cast<uint16_t>(rdata[0] << 8 | rdata[1]);
    k.protocol = rdata[2];
    k.algorithm = rdata[3];
    k.public_key.assign(rdata.begin() + 4, rdata.end());
    return k;
}

std::vector<uint8_t> key_rdata::to_wire() const {
    // Sized up front: g++ 12 misreads insert() after an initializer list (-Warray-bounds).
    std::vector<uint8_t> out(4 + public_key.size());
    out[0] = static_cast<uint8_t>(flags >> 8);
    out[1] = static_cast<uint8_t>(flags);
    out[2] = protocol;
    out[3] = algorithm;
    std::copy(public_key.begin(), public_key.end(), out.begin() + 4);
    return out;
}

uint16_t role_flags(key_role role) {
    switch (role) {
        case key_role::zsk:
            return key_flag::ZONE;
        case key_role::ksk:
        case key_role::csk:
            return key_flag::ZONE | key_flag::SEP;
        case key_role::sig0:
            return key_flag::KEY_HOST;
    }
    return key_flag::ZONE;
}

// ---- software_signer -------------------------------------------------------------------

struct software_signer::impl {
    pkey_ptr pkey;
};

software_signer::software_signer(uint8_t alg, std::unique_ptr<impl> p)
    : alg_(alg), impl_(std::move(p)), public_key_(public_key_field(alg, impl_->pkey.get())) {}

software_signer::~software_signer() = default;

std::unique_ptr<software_signer> software_signer::generate(uint8_t alg, unsigned bits) {
    require_supported(alg);
    pkey_ctx_ptr ctx;
    if (is_rsa(alg)) {
        if (bits == 0) bits = 2048;
        if (bits < std::max(1024u, rsa_min_bits(alg)) || bits > 4096)
            throw dnssec_error("RSA key size must be 1024..4096 bits, not " + std::to_string(bits));
        ctx.reset(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
        if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
            EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), static_cast<int>(bits)) != 1)
            throw dnssec_error("RSA key generation: " + last_error());
    } else if (is_ecdsa(alg)) {
        ctx.reset(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
        if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
            EVP_PKEY_CTX_set_group_name(ctx.get(), ec_group_name(alg)) != 1)
            throw dnssec_error("ECDSA key generation: " + last_error());
    } else {
        ctx.reset(EVP_PKEY_CTX_new_from_name(nullptr, ed_name(alg), nullptr));
        if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1)
            throw dnssec_error("EdDSA key generation: " + last_error());
    }
    EVP_PKEY* raw = nullptr;
    if (EVP_PKEY_generate(ctx.get(), &raw) != 1)
        throw dnssec_error("key generation failed: " + last_error());
    auto p = std::make_unique<impl>();
    p->pkey.reset(raw);
    return std::unique_ptr<software_signer>(new software_signer(alg, std::move(p)));
}

std::unique_ptr<software_signer> software_signer::from_private_bytes(
    uint8_t alg, std::span<const uint8_t> priv) {
    require_supported(alg);
    auto p = std::make_unique<impl>();
    if (is_ecdsa(alg)) {
        // A big-endian integer: BIND's key files drop its leading zero octets (OpenSSL's
        // BN_bn2bin), so a shorter one is the same key.
        if (priv.empty() || priv.size() > ec_size(alg))
            throw dnssec_error("ECDSA private key must be at most " + std::to_string(ec_size(alg)) +
                               " octets, not " + std::to_string(priv.size()));
        // Derive the public point Q = d*G (the key file holds only d).
        ec_group_ptr group(EC_GROUP_new_by_curve_name(ec_nid(alg)));
        bn_ctx_ptr bctx(BN_CTX_new());
        bn_ptr d = bn_from_bytes(priv);
        if (!group || !bctx) throw dnssec_error("out of memory: " + last_error());
        const BIGNUM* order = EC_GROUP_get0_order(group.get());
        if (BN_is_zero(d.get()) || BN_cmp(d.get(), order) >= 0)
            throw dnssec_error("ECDSA private key is out of range");
        ec_point_ptr q(EC_POINT_new(group.get()));
        if (!q || EC_POINT_mul(group.get(), q.get(), d.get(), nullptr, nullptr, bctx.get()) != 1)
            throw dnssec_error("ECDSA public key derivation: " + last_error());
        std::vector<uint8_t> point(1 + 2 * ec_size(alg));
        if (EC_POINT_point2oct(group.get(), q.get(), POINT_CONVERSION_UNCOMPRESSED, point.data(),
                               point.size(), bctx.get()) != point.size())
            throw dnssec_error("ECDSA public key encoding: " + last_error());
        p->pkey = ec_from_point(alg, point, d.get());
    } else if (is_eddsa(alg)) {
        if (priv.size() != ed_size(alg))
            throw dnssec_error(std::string(ed_name(alg)) + " private key must be " +
                               std::to_string(ed_size(alg)) + " octets, not " +
                               std::to_string(priv.size()));
        p->pkey.reset(
            EVP_PKEY_new_raw_private_key(ed_type(alg), nullptr, priv.data(), priv.size()));
        if (!p->pkey) throw dnssec_error("invalid EdDSA private key: " + last_error());
    } else {
        throw dnssec_error("RSA private keys need all their components");
    }
    return std::unique_ptr<software_signer>(new software_signer(alg, std::move(p)));
}

std::unique_ptr<software_signer> software_signer::from_rsa(uint8_t alg, const rsa_components& c) {
    if (!is_rsa(alg)) throw dnssec_error("not an RSA algorithm: " + std::to_string(alg));
    if (c.modulus.empty() || c.public_exponent.empty() || c.private_exponent.empty())
        throw dnssec_error("RSA private key lacks modulus or exponents");
    bn_ptr n = bn_from_bytes(c.modulus), e = bn_from_bytes(c.public_exponent),
           d = bn_from_bytes(c.private_exponent);
    unsigned bits = static_cast<unsigned>(BN_num_bits(n.get()));
    if (bits < rsa_min_bits(alg) || bits > 4096)
        throw dnssec_error("RSA modulus of " + std::to_string(bits) +
                           " bits is outside the allowed range");
    param_bld_ptr bld(OSSL_PARAM_BLD_new());
    if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_D, d.get()) != 1)
        throw dnssec_error("out of memory: " + last_error());
    // The CRT values are optional; without all of them OpenSSL signs with d alone.
    bn_ptr crt[5];
    const std::vector<uint8_t>* parts[5] = {&c.prime1, &c.prime2, &c.exponent1, &c.exponent2,
                                            &c.coefficient};
    const char* names[5] = {OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2,
                            OSSL_PKEY_PARAM_RSA_EXPONENT1, OSSL_PKEY_PARAM_RSA_EXPONENT2,
                            OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
    bool all = true;
    for (auto* part : parts)
        all = all && !part->empty();
    if (all)
        for (int i = 0; i < 5; ++i) {
            crt[i] = bn_from_bytes(*parts[i]);
            if (OSSL_PARAM_BLD_push_BN(bld.get(), names[i], crt[i].get()) != 1)
                throw dnssec_error("out of memory: " + last_error());
        }
    auto p = std::make_unique<impl>();
    p->pkey = pkey_from_params("RSA", bld.get(), EVP_PKEY_KEYPAIR);
    // Catch a key file whose parts do not belong together before it signs anything.
    pkey_ctx_ptr check(EVP_PKEY_CTX_new_from_pkey(nullptr, p->pkey.get(), nullptr));
    if (!check || (all && EVP_PKEY_pairwise_check(check.get()) != 1))
        throw dnssec_error("RSA private key components are inconsistent: " + last_error());
    return std::unique_ptr<software_signer>(new software_signer(alg, std::move(p)));
}

std::vector<uint8_t> software_signer::sign(std::span<const uint8_t> data) const {
    md_ctx_ptr ctx(EVP_MD_CTX_new());
    if (!ctx ||
        EVP_DigestSignInit(ctx.get(), nullptr, signature_md(alg_), nullptr, impl_->pkey.get()) != 1)
        throw dnssec_error("signing: " + last_error());
    size_t len = 0;
    if (EVP_DigestSign(ctx.get(), nullptr, &len, data.data(), data.size()) != 1)
        throw dnssec_error("signing: " + last_error());
    std::vector<uint8_t> sig(len);
    if (EVP_DigestSign(ctx.get(), sig.data(), &len, data.data(), data.size()) != 1)
        throw dnssec_error("signing: " + last_error());
    sig.resize(len);
    if (!is_ecdsa(alg_)) return sig;
    // OpenSSL gives ECDSA-Sig-Value in DER; DNSSEC wants r || s (RFC 6605 §4).
    const unsigned char* in = sig.data();
    ecdsa_sig_ptr es(d2i_ECDSA_SIG(nullptr, &in, static_cast<long>(sig.size())));
    if (!es) throw dnssec_error("signing: bad ECDSA signature from OpenSSL");
    const BIGNUM *r = nullptr, *s = nullptr;
    ECDSA_SIG_get0(es.get(), &r, &s);
    auto out = bn_to_bytes(r, ec_size(alg_));
    auto s_bytes = bn_to_bytes(s, ec_size(alg_));
    out.insert(out.end(), s_bytes.begin(), s_bytes.end());
    return out;
}

std::vector<uint8_t> software_signer::private_bytes() const {
    if (is_ecdsa(alg_))
        return bn_to_bytes(get_bn(impl_->pkey.get(), OSSL_PKEY_PARAM_PRIV_KEY).get(),
                           ec_size(alg_));
    if (is_eddsa(alg_)) {
        std::vector<uint8_t> out(ed_size(alg_));
        size_t len = out.size();
        if (EVP_PKEY_get_raw_private_key(impl_->pkey.get(), out.data(), &len) != 1 ||
            len != out.size())
            throw dnssec_error("cannot read EdDSA private key: " + last_error());
        return out;
    }
    throw dnssec_error("an RSA private key has components, not one value");
}

rsa_components software_signer::rsa() const {
    if (!is_rsa(alg_)) throw dnssec_error("not an RSA key");
    const EVP_PKEY* k = impl_->pkey.get();
    auto get = [k](const char* name) { return bn_to_bytes(get_bn(k, name).get()); };
    rsa_components c;
    c.modulus = get(OSSL_PKEY_PARAM_RSA_N);
    c.public_exponent = get(OSSL_PKEY_PARAM_RSA_E);
    c.private_exponent = get(OSSL_PKEY_PARAM_RSA_D);
    c.prime1 = get(OSSL_PKEY_PARAM_RSA_FACTOR1);
    c.prime2 = get(OSSL_PKEY_PARAM_RSA_FACTOR2);
    c.exponent1 = get(OSSL_PKEY_PARAM_RSA_EXPONENT1);
    c.exponent2 = get(OSSL_PKEY_PARAM_RSA_EXPONENT2);
    c.coefficient = get(OSSL_PKEY_PARAM_RSA_COEFFICIENT1);
    return c;
}

// ---- verifier --------------------------------------------------------------------------

struct verifier::impl {
    pkey_ptr pkey;
};

verifier::verifier(uint8_t alg, std::span<const uint8_t> public_key)
    : alg_(alg), impl_(std::make_unique<impl>()) {
    impl_->pkey = public_from_field(alg, public_key);
}

verifier::~verifier() = default;
verifier::verifier(verifier&&) noexcept = default;
verifier& verifier::operator=(verifier&&) noexcept = default;

bool verifier::verify(std::span<const uint8_t> data, std::span<const uint8_t> signature) const {
    std::vector<uint8_t> der;
    std::span<const uint8_t> sig = signature;
    if (is_ecdsa(alg_)) {
        // r || s back to DER for OpenSSL (RFC 6605 §4).
        size_t half = ec_size(alg_);
        if (signature.size() != 2 * half) return false;
        ecdsa_sig_ptr es(ECDSA_SIG_new());
        bn_ptr r = bn_from_bytes(signature.first(half)), s = bn_from_bytes(signature.subspan(half));
        if (!es || ECDSA_SIG_set0(es.get(), r.get(), s.get()) != 1) {
            ERR_clear_error();
            return false;
        }
        r.release();  // owned by `es` now
        s.release();
        int len = i2d_ECDSA_SIG(es.get(), nullptr);
        if (len <= 0) return false;
        der.resize(static_cast<size_t>(len));
        unsigned char* out = der.data();
        i2d_ECDSA_SIG(es.get(), &out);
        sig = der;
    } else if (is_eddsa(alg_)) {
        if (signature.size() != 2 * ed_size(alg_)) return false;
    }
    md_ctx_ptr ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, signature_md(alg_), nullptr,
                                     impl_->pkey.get()) != 1) {
        ERR_clear_error();
        return false;
    }
    int rc = EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), data.data(), data.size());
    ERR_clear_error();
    return rc == 1;
}

// ---- key -------------------------------------------------------------------------------

void key::finish() {
    auto wire = rdata_.to_wire();
    if (wire.size() > 65535) throw dnssec_error("key RDATA longer than 65535 octets");
    tag_ = key_tag(wire);
    verifier_.reset();
    verifier_error_.clear();
    try {
        verifier_ = std::make_shared<const verifier>(rdata_.algorithm, rdata_.public_key);
    } catch (const dnssec_error& e) {
        verifier_error_ = e.what();
    }
}

key key::generate(const dns::name& owner, uint8_t alg, key_role role, unsigned bits) {
    std::shared_ptr<const signer> s = software_signer::generate(alg, bits);
    return from_signer(owner, role_flags(role), std::move(s),
                       role == key_role::sig0 ? dns::rr_type::KEY : dns::rr_type::DNSKEY);
}

key key::from_rdata(const dns::name& owner, std::span<const uint8_t> rdata, uint16_t type) {
    key k;
    k.owner_ = owner;
    k.type_ = type;
    k.rdata_ = key_rdata::parse(rdata);
    k.finish();
    return k;
}

key key::from_rr(const dns::rr& record) {
    if (record.type != dns::rr_type::DNSKEY && record.type != dns::rr_type::KEY &&
        record.type != dns::rr_type::CDNSKEY)
        throw dnssec_error("not a DNSKEY, CDNSKEY or KEY record");
    key k = from_rdata(record.owner, record.rdata,
                       record.type == dns::rr_type::KEY ? dns::rr_type::KEY : dns::rr_type::DNSKEY);
    k.ttl = record.ttl;
    return k;
}

key key::from_signer(const dns::name& owner, uint16_t flags, std::shared_ptr<const signer> priv,
                     uint16_t type) {
    if (!priv) throw dnssec_error("no private key");
    key k;
    k.owner_ = owner;
    k.type_ = type;
    k.rdata_.flags = flags;
    k.rdata_.protocol = key_protocol;
    k.rdata_.algorithm = priv->algorithm();
    k.rdata_.public_key = priv->public_key();
    k.signer_ = std::move(priv);
    k.finish();
    return k;
}

dns::rr key::to_rr(uint32_t record_ttl) const {
    dns::rr r;
    r.owner = owner_;
    r.type = type_;
    r.rclass = dns::rr_class::IN;
    r.ttl = record_ttl;
    r.rdata = rdata();
    return r;
}

std::vector<uint8_t> key::sign(std::span<const uint8_t> data) const {
    if (!signer_)
        throw dnssec_error("no private key for key " + std::to_string(tag_) + " of " +
                           owner_.to_text());
    return signer_->sign(data);
}

bool key::verify(std::span<const uint8_t> data, std::span<const uint8_t> signature) const {
    if (!verifier_)
        throw dnssec_error("key " + std::to_string(tag_) + " of " + owner_.to_text() +
                           " cannot verify: " + verifier_error_);
    return verifier_->verify(data, signature);
}

}  // namespace hsync::dnssec
