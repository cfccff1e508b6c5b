// BIND key files, so that keys move both ways between hsync and BIND's tools
// (dnssec-keygen, dnssec-signzone, dnssec-dsfromkey, nsupdate -k):
//
//   Kexample.+013+12345.key      the DNSKEY (or KEY) record, comments start with ';'
//   Kexample.+013+12345.private  "Private-key-format: v1.3", "Algorithm: 13 (...)", the key
//                                material in base64, then timing lines (Created: YYYYMMDDHHMMSS)
//
// Private key fields: RSA has Modulus, PublicExponent, PrivateExponent, Prime1, Prime2,
// Exponent1, Exponent2, Coefficient; ECDSA and EdDSA have PrivateKey (the raw scalar or
// RFC 8032 private key). Format versions 1.2 and 1.3 are read; 1.3 is written.
//
// Parsers take the text in memory and throw dns::text_error (bad syntax, with the line
// number) or dnssec_error (key material that does not form a usable key).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "dnssec/key.h"

namespace hsync::dnssec {

// Largest key file we read; a real one is under 4 KB.
inline constexpr size_t max_key_file_size = 64 * 1024;

// The public half from a .key file's text (public key only, plus its TTL if it had one).
key parse_public_key_file(std::string_view text);

struct private_key_file {
    uint8_t algorithm = 0;
    std::shared_ptr<const software_signer> signer;
    key_timing timing;
};
private_key_file parse_private_key_file(std::string_view text);

// Both halves; checks that the private key belongs to the public one.
key parse_key_pair(std::string_view public_text, std::string_view private_text);

// "Kexample.+013+12345" (BIND's base name; throws for an owner with '/').
std::string key_file_base(const key& k);

std::string format_public_key_file(const key& k);
// Throws dnssec_error unless the key's private half is a software_signer.
std::string format_private_key_file(const key& k);

// Reads Kname.+AAA+TTTTT.key and .private; `path` may name either file or the base.
// With `need_private` false a missing .private file gives a public-only key.
key read_key_files(const std::filesystem::path& path, bool need_private = true);

// Writes both files into `dir` (the .private one readable by the owner only) and returns
// the base name. Refuses to overwrite an existing file.
std::string write_key_files(const key& k, const std::filesystem::path& dir);

// YYYYMMDDHHMMSS (UTC) <-> seconds since the epoch.
std::string format_key_time(int64_t t);
int64_t parse_key_time(std::string_view text);  // throws dns::text_error

}  // namespace hsync::dnssec
