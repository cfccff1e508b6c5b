// Presentation-format building blocks shared by the rdata registry and the zone-file
// reader: tokens, numbers, TTLs with units, character-strings, base16/32/64, times.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hsync::dns {

// One whitespace-separated field of a record in presentation form. Quotes are removed
// (`quoted` remembers them); backslash escapes are kept for the field's own parser.
struct token {
    std::string_view text;
    bool quoted = false;
};

// Splits one line of presentation text into tokens (quotes, escapes, no comments or
// parentheses handling beyond a single line). Throws text_error on an open quote.
std::vector<token> tokenize_line(std::string_view line);

uint64_t parse_unsigned(std::string_view text, uint64_t max, std::string_view what);

// TTL with optional units (RFC 1035 integer, or BIND's 1w2d3h4m5s, any case).
uint32_t parse_ttl(std::string_view text);

// RRSIG/SIG time: YYYYMMDDHHmmSS (UTC) or a decimal number of seconds (RFC 4034 §3.2).
uint32_t parse_time(std::string_view text);
void append_time(std::string& out, uint32_t seconds_since_epoch);

// <character-string> with escapes into bytes; at most 255 octets.
void parse_character_string(const token& t, std::vector<uint8_t>& out_with_length_prefix);
// Unescapes into raw bytes without a length limit (URI target, CAA value).
void parse_escaped_bytes(std::string_view text, std::vector<uint8_t>& out);
// Appends `"..."` with `"` and `\` escaped and non-printable bytes as \DDD.
void append_quoted(std::string& out, std::span<const uint8_t> bytes);

void append_hex(std::string& out, std::span<const uint8_t> bytes, bool upper = true);
void parse_hex(std::string_view text, std::vector<uint8_t>& out);  // throws on odd/bad digit

void append_base64(std::string& out, std::span<const uint8_t> bytes);
void parse_base64(std::string_view text, std::vector<uint8_t>& out);

void append_base32hex(std::string& out, std::span<const uint8_t> bytes);  // RFC 4648 §7, no pad
void parse_base32hex(std::string_view text, std::vector<uint8_t>& out);

}  // namespace hsync::dns
