// An agent's TLS identity: an EC P-256 private key and its certificate, and the digest
// that names it in DNS (TLSA 3 1 1, RFC 6698 §2.1: SHA-256 of the DER SubjectPublicKeyInfo).
//
// Peers match the key, not the certificate (DANE-EE, RFC 7671 §5.1), so a self-signed
// certificate generated on first start is all an agent needs; an operator may supply
// their own key and certificate as PEM files instead.
//
//     auto id = net::tls_identity::load_or_generate(dir / "tls.key", dir / "tls.crt",
//                                                   "api.agent.p1.lab");
//     publish TLSA 3 1 1 net::to_hex(id.spki_sha256())
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include "dnssec/ossl.h"

namespace hsync::net {

// SHA-256 of a certificate's DER SubjectPublicKeyInfo: the association data of a
// TLSA 3 1 1 record.
using spki_digest = std::array<uint8_t, 32>;

// A file that cannot be read, written or parsed, or an OpenSSL failure; the message names
// the file and the reason.
class tls_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

using x509_ptr = std::unique_ptr<X509, dnssec::ossl::deleter<X509_free>>;

class tls_identity {
  public:
    // A new EC P-256 key and a self-signed X.509 v3 certificate for `dns_name`: subject
    // CN and subjectAltName DNS both `dns_name`, a random 128-bit serial, valid from an
    // hour ago for `validity`. Throws tls_error.
    static tls_identity generate(std::string_view dns_name,
                                 std::chrono::seconds validity = std::chrono::days(3650));
    // Reads a PEM private key and a PEM certificate (the first one in the file: the leaf)
    // and checks that they belong together. Throws tls_error.
    static tls_identity load(const std::filesystem::path& key_file,
                             const std::filesystem::path& cert_file);
    // Loads both files if both exist; generates and saves them if neither does. Only one
    // of them present is an error (the operator's pair may be half-copied).
    static tls_identity load_or_generate(const std::filesystem::path& key_file,
                                         const std::filesystem::path& cert_file,
                                         std::string_view dns_name);
    // From PEM text (operator-supplied material, tests). Throws tls_error.
    static tls_identity from_pem(std::string_view key_pem, std::string_view cert_pem);

    // Writes both files atomically (a temporary file in the same folder, fsync, rename):
    // the key with mode 0600, the certificate 0644. Existing files are replaced.
    void save(const std::filesystem::path& key_file, const std::filesystem::path& cert_file) const;

    // Copies share the OpenSSL objects (reference counts); they are never modified.
    tls_identity(const tls_identity& other);
    tls_identity& operator=(const tls_identity& other);
    tls_identity(tls_identity&&) noexcept = default;
    tls_identity& operator=(tls_identity&&) noexcept = default;
    ~tls_identity() = default;

    EVP_PKEY* key() const { return key_.get(); }
    X509* certificate() const { return cert_.get(); }
    // The TLSA 3 1 1 data for this identity.
    const spki_digest& spki_sha256() const { return spki_; }
    std::string certificate_pem() const;
    std::string key_pem() const;  // PKCS#8, unencrypted

  private:
    tls_identity(dnssec::ossl::pkey_ptr key, x509_ptr cert);
    dnssec::ossl::pkey_ptr key_;
    x509_ptr cert_;
    spki_digest spki_{};
};

// The TLSA 3 1 1 data of any certificate (a peer's, from the TLS handshake). Throws
// tls_error if the certificate has no encodable public key.
spki_digest spki_sha256(const X509* cert);

// Lower-case hex, as in a TLSA record's presentation form.
std::string to_hex(std::span<const uint8_t> bytes);

}  // namespace hsync::net
