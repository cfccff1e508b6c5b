// Transaction signatures with public keys: SIG(0) (RFC 2931).
//
// A SIG(0) is a SIG record (type 24, RRSIG's RDATA layout) at the root, class ANY, TTL 0,
// with type covered 0, labels 0 and original TTL 0, appended as the last record of the
// additional section. The signer name is the owner of the KEY record holding the public
// key; the key tag and algorithm are that key's.
//
// Signed data (RFC 2931 §3.1), as we read it:
//   request:   SIG RDATA without the signature | the request before the SIG was added
//   response:  SIG RDATA without the signature | the full request as received, with its
//              own SIG(0) if it had one | the response before the SIG was added
// "Before the SIG was added" means the bytes received up to the SIG record with ARCOUNT
// less one: verification never re-serialises the message.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dns/message.h"
#include "dns/name.h"
#include "dnssec/key.h"
#include "dnssec/rrsig.h"

namespace hsync::dnssec {

// Default validity: now-300 .. now+300 (docs/protocol.md: ±300 s).
inline constexpr uint32_t sig0_default_window = 300;

// Appends a SIG(0) made with `k` (which must hold its private key; the signer name is its
// owner) to `wire`, a complete message, and raises ARCOUNT. `request` is the full request
// as received when `wire` is its response, else empty. Throws dnssec_error without a
// private key, dns::wire_error if the message would grow past 65535 octets.
void sig0_sign(std::vector<uint8_t>& wire, const key& k, int64_t now,
               std::span<const uint8_t> request = {}, uint32_t before = sig0_default_window,
               uint32_t after = sig0_default_window);
// The same with the parts given separately (a signer that may live in an HSM).
void sig0_sign(std::vector<uint8_t>& wire, const dns::name& signer_name, uint16_t key_tag,
               const signer& s, uint32_t inception, uint32_t expiration,
               std::span<const uint8_t> request = {});
// Writes `m` (any TSIG/SIG(0) in it dropped) and signs it.
std::vector<uint8_t> sig0_sign(const dns::message& m, const key& k, int64_t now,
                               std::span<const uint8_t> request = {});

enum class sig0_status : uint8_t {
    ok,
    no_signature,     // the message carries no SIG(0)
    malformed,        // SIG(0) RDATA or its fixed fields are wrong
    signer_mismatch,  // signer name is not the key's owner
    key_mismatch,     // key tag or algorithm differ from the key's
    not_yet_valid,    // now is before inception
    expired,          // now is after expiration
    unusable_key,     // algorithm unsupported or public key invalid
    bad_signature,    // the cryptographic check failed
};
std::string_view sig0_status_text(sig0_status status);

struct sig0_result {
    sig0_status status = sig0_status::no_signature;
    std::string reason;   // an operator's words
    rrsig_fields fields;  // as received, when the RDATA parsed
    bool ok() const { return status == sig0_status::ok; }
};

// Verifies the SIG(0) of a received message (`wire` as received, `parsed` its
// message::parse() result) with the KEY `k` (signer name = its owner). `request`: the full
// request as sent, when `wire` is its response. `now`: seconds since the epoch. Never
// throws for bad input.
sig0_result sig0_verify(std::span<const uint8_t> wire, const dns::message& parsed, const key& k,
                        int64_t now, std::span<const uint8_t> request = {});
// With the signer name and the KEY RDATA.
sig0_result sig0_verify(std::span<const uint8_t> wire, const dns::message& parsed,
                        const dns::name& signer_name, std::span<const uint8_t> key_record,
                        int64_t now, std::span<const uint8_t> request = {});

}  // namespace hsync::dnssec
