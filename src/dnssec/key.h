// DNSSEC keys (RFC 4034 §2): generation, the DNSKEY/KEY public key field, key tags, and
// signatures in the encoding DNSSEC puts on the wire.
//
// All crypto is OpenSSL 3 (EVP). Private keys sit behind the `signer` interface so that a
// key held in an HSM can later stand where the in-memory `software_signer` stands today;
// verification needs only the public key from the DNSKEY RDATA (`verifier`).
//
// Supported algorithms (RFC 8624 "MUST"/"RECOMMENDED" for signing): 8 RSASHA256 and
// 10 RSASHA512 (RFC 5702, key field per RFC 3110), 13 ECDSAP256SHA256 and 14
// ECDSAP384SHA384 (RFC 6605), 15 ED25519 and 16 ED448 (RFC 8080).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dns/error.h"
#include "dns/name.h"
#include "dns/rr.h"

namespace hsync::dnssec {

// A key that cannot be made, loaded or used (unsupported algorithm, bad key material).
class dnssec_error : public dns::dns_error {
  public:
    using dns::dns_error::dns_error;
};

// DNSSEC algorithm numbers (IANA "DNS Security Algorithm Numbers").
namespace algorithm {
inline constexpr uint8_t RSAMD5 = 1, RSASHA1 = 5, RSASHA256 = 8, RSASHA512 = 10,
                         ECDSAP256SHA256 = 13, ECDSAP384SHA384 = 14, ED25519 = 15, ED448 = 16;
}

// True for the algorithms this library can generate, load, sign and verify with.
bool algorithm_supported(uint8_t alg);
// The mnemonic BIND prints in key files ("ECDSAP256SHA256"), or the number as text.
std::string algorithm_name(uint8_t alg);

// DNSKEY flags (RFC 4034 §2.1.1, RFC 5011 §7 for REVOKE).
namespace key_flag {
inline constexpr uint16_t ZONE = 0x0100, REVOKE = 0x0080, SEP = 0x0001;
// KEY RR flags (RFC 2535 §3.1.2): name type bits 6-7 = 2 ("host"/end entity key), the
// value `dnssec-keygen -T KEY -n HOST` writes for SIG(0) keys (RFC 2931).
inline constexpr uint16_t KEY_HOST = 0x0200;
}  // namespace key_flag

// The DNSKEY/KEY protocol field must be 3 (RFC 4034 §2.1.2, RFC 3445 §3).
inline constexpr uint8_t key_protocol = 3;

// What a key is for; decides flags and RR type.
enum class key_role {
    zsk,   // DNSKEY 256
    ksk,   // DNSKEY 257 (SEP)
    csk,   // DNSKEY 257, signs everything
    sig0,  // KEY 512 protocol 3: signs DNS messages (SIG(0), RFC 2931)
};

// Key tag (RFC 4034 Appendix B) of DNSKEY/KEY RDATA; algorithm 1 uses Appendix B.1.
uint16_t key_tag(std::span<const uint8_t> rdata);

// The fields of DNSKEY, KEY and CDNSKEY RDATA (RFC 4034 §2.1).
struct key_rdata {
    uint16_t flags = 0;
    uint8_t protocol = key_protocol;
    uint8_t algorithm = 0;
    std::vector<uint8_t> public_key;

    static key_rdata parse(std::span<const uint8_t> rdata);  // throws dns::wire_error
    std::vector<uint8_t> to_wire() const;
};

// Signs with a private key. Implementations must be usable from several threads at once.
class signer {
  public:
    virtual ~signer() = default;
    virtual uint8_t algorithm() const = 0;
    // The public key field of the DNSKEY RDATA.
    virtual std::vector<uint8_t> public_key() const = 0;
    // A signature in DNSSEC encoding: RSA PKCS#1 v1.5 (RFC 3110 §3), ECDSA r||s each of
    // the curve's size (RFC 6605 §4), EdDSA R||S (RFC 8080 §4).
    virtual std::vector<uint8_t> sign(std::span<const uint8_t> data) const = 0;
};

// RSA private key components, big-endian without leading zeros (BIND key-file fields).
struct rsa_components {
    std::vector<uint8_t> modulus, public_exponent, private_exponent, prime1, prime2, exponent1,
        exponent2, coefficient;
};

// A private key in this process's memory (OpenSSL EVP_PKEY).
class software_signer final : public signer {
  public:
    // `bits` only matters for RSA (default 2048; 1024..4096 accepted).
    static std::unique_ptr<software_signer> generate(uint8_t alg, unsigned bits = 0);
    // ECDSA: the private scalar (32/48 octets, RFC 6605 §6); EdDSA: the 32/57-octet private
    // key of RFC 8032 (RFC 8080 §6). The public key is derived.
    static std::unique_ptr<software_signer> from_private_bytes(uint8_t alg,
                                                               std::span<const uint8_t> priv);
    static std::unique_ptr<software_signer> from_rsa(uint8_t alg, const rsa_components& c);

    ~software_signer() override;
    software_signer(const software_signer&) = delete;
    software_signer& operator=(const software_signer&) = delete;

    uint8_t algorithm() const override { return alg_; }
    std::vector<uint8_t> public_key() const override { return public_key_; }
    std::vector<uint8_t> sign(std::span<const uint8_t> data) const override;

    // For writing key files: the raw private key (ECDSA, EdDSA) or the RSA components.
    std::vector<uint8_t> private_bytes() const;
    rsa_components rsa() const;

  private:
    struct impl;
    software_signer(uint8_t alg, std::unique_ptr<impl> p);
    uint8_t alg_;
    std::unique_ptr<impl> impl_;
    std::vector<uint8_t> public_key_;
};

// A public key for verification, built from the DNSKEY/KEY public key field.
class verifier {
  public:
    // Throws dnssec_error if the algorithm is unsupported or the key material is invalid
    // (wrong length, point not on the curve, RSA modulus outside 512..4096 bits).
    verifier(uint8_t alg, std::span<const uint8_t> public_key);
    ~verifier();
    verifier(verifier&&) noexcept;
    verifier& operator=(verifier&&) noexcept;

    uint8_t algorithm() const { return alg_; }
    // False for a wrong or malformed signature; never throws for bad signature bytes.
    bool verify(std::span<const uint8_t> data, std::span<const uint8_t> signature) const;

  private:
    struct impl;
    uint8_t alg_;
    std::unique_ptr<impl> impl_;
};

// Key timing metadata as BIND keeps it (seconds since the epoch, UTC).
struct key_timing {
    std::optional<int64_t> created, publish, activate, revoke, inactive, deletion, sync_publish,
        sync_delete;
};

// A DNSSEC key as a zone sees it: owner, RR type (DNSKEY, or KEY for SIG(0)), flags,
// algorithm, public key; and, if we hold it, the private key.
class key {
  public:
    // A new key pair. `bits` only for RSA.
    static key generate(const dns::name& owner, uint8_t alg, key_role role, unsigned bits = 0);
    // A public key from DNSKEY/KEY/CDNSKEY RDATA; its algorithm need not be supported
    // (tag and digests still work), but verify() then throws.
    static key from_rdata(const dns::name& owner, std::span<const uint8_t> rdata,
                          uint16_t type = dns::rr_type::DNSKEY);
    static key from_rr(const dns::rr& record);
    // A key from a private key (its public key and algorithm) and the given flags.
    static key from_signer(const dns::name& owner, uint16_t flags,
                           std::shared_ptr<const signer> priv,
                           uint16_t type = dns::rr_type::DNSKEY);

    const dns::name& owner() const { return owner_; }
    uint16_t rr_type() const { return type_; }
    uint16_t flags() const { return rdata_.flags; }
    uint8_t protocol() const { return rdata_.protocol; }
    uint8_t algorithm() const { return rdata_.algorithm; }
    std::span<const uint8_t> public_key() const { return rdata_.public_key; }
    bool is_sep() const { return (rdata_.flags & key_flag::SEP) != 0; }
    bool is_zone_key() const { return (rdata_.flags & key_flag::ZONE) != 0; }

    std::vector<uint8_t> rdata() const { return rdata_.to_wire(); }
    uint16_t tag() const { return tag_; }
    // The DNSKEY (or KEY) record.
    dns::rr to_rr(uint32_t ttl) const;

    bool has_private() const { return signer_ != nullptr; }
    const std::shared_ptr<const signer>& private_key() const { return signer_; }
    // Throws dnssec_error without a private key.
    std::vector<uint8_t> sign(std::span<const uint8_t> data) const;
    // Throws dnssec_error if the algorithm is unsupported or the public key is invalid.
    bool verify(std::span<const uint8_t> data, std::span<const uint8_t> signature) const;

    key_timing timing;            // from/to BIND key files
    std::optional<uint32_t> ttl;  // TTL of the .key file's record, if it had one

  private:
    key() = default;
    dns::name owner_;
    uint16_t type_ = dns::rr_type::DNSKEY;
    key_rdata rdata_;
    uint16_t tag_ = 0;
    std::shared_ptr<const signer> signer_;
    std::shared_ptr<const verifier> verifier_;  // null if the public key is unusable
    std::string verifier_error_;                // why not
    void finish();
};

// Flags a role gets (ZONE 256, SEP 257, KEY host 512).
uint16_t role_flags(key_role role);

}  // namespace hsync::dnssec
