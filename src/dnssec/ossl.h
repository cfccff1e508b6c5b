// Internal: RAII owners for the OpenSSL 3 handles the DNSSEC code uses, and small helpers.
// Every handle lives in a unique_ptr whose deleter is the library's free function, so no
// error path can leak one.
#pragma once

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace hsync::dnssec::ossl {

template <auto Free>
struct deleter {
    template <typename T>
    void operator()(T* p) const {
        Free(p);
    }
};

using pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY_free>>;
using pkey_ctx_ptr = std::unique_ptr<EVP_PKEY_CTX, deleter<EVP_PKEY_CTX_free>>;
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, deleter<EVP_MD_CTX_free>>;
// Private key material is wiped when freed.
using bn_ptr = std::unique_ptr<BIGNUM, deleter<BN_clear_free>>;
using bn_ctx_ptr = std::unique_ptr<BN_CTX, deleter<BN_CTX_free>>;
using param_bld_ptr = std::unique_ptr<OSSL_PARAM_BLD, deleter<OSSL_PARAM_BLD_free>>;
using params_ptr = std::unique_ptr<OSSL_PARAM, deleter<OSSL_PARAM_free>>;
using ecdsa_sig_ptr = std::unique_ptr<ECDSA_SIG, deleter<ECDSA_SIG_free>>;
using ec_group_ptr = std::unique_ptr<EC_GROUP, deleter<EC_GROUP_free>>;
using ec_point_ptr = std::unique_ptr<EC_POINT, deleter<EC_POINT_free>>;

// The first queued OpenSSL error as text (and the queue cleared), for messages.
std::string last_error();

// Digest of the concatenation of `parts` (a SHA-1/256/384/512 EVP_MD).
std::vector<uint8_t> digest(const EVP_MD* md,
                            std::initializer_list<std::span<const uint8_t>> parts);

bn_ptr bn_from_bytes(std::span<const uint8_t> bytes);
// Big-endian, minimal (no leading zeros), or padded to `width` octets if width > 0.
std::vector<uint8_t> bn_to_bytes(const BIGNUM* bn, size_t width = 0);

}  // namespace hsync::dnssec::ossl
