// Domain names (RFC 1034 §3.1, RFC 1035 §3.1) held in uncompressed wire form.
//
// A name is a value: 256 bytes inline, never allocates, so parsers can build millions of
// them without touching the heap. Comparison is case-insensitive (RFC 4343); ordering is
// the DNSSEC canonical order (RFC 4034 §6.1).
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace hsync::dns {

inline constexpr size_t max_name_length = 255;
inline constexpr size_t max_label_length = 63;

class name {
  public:
    // The root name ".".
    name() : size_(1) { wire_[0] = 0; }

    // Parses presentation form with escapes (`\.`, `\DDD`, `\X`). A name without a final
    // unescaped dot is relative and gets `origin` appended; "@" is the origin itself.
    // Without an origin a relative name is an error. Throws text_error.
    static name from_text(std::string_view text, const name* origin = nullptr);

    // Takes an uncompressed wire-form name; checks label and total lengths.
    // Throws wire_error.
    static name from_wire(std::span<const uint8_t> wire);

    // Presentation form, absolute (ends with "."), special characters escaped as BIND does.
    std::string to_text() const;
    void append_text(std::string& out) const;

    std::span<const uint8_t> wire() const { return {wire_.data(), size_}; }
    size_t wire_size() const { return size_; }
    const uint8_t* data() const { return wire_.data(); }

    size_t label_count() const;  // the root label is not counted: "a.b." has 2
    bool is_root() const { return size_ == 1; }
    bool is_wildcard() const { return size_ >= 2 && wire_[0] == 1 && wire_[1] == '*'; }

    // True if this name equals `ancestor` or lies below it.
    bool is_subdomain_of(const name& ancestor) const;

    // The name with its leftmost `n` labels removed (n <= label_count()).
    name parent(size_t n = 1) const;

    // This name made relative-to-absolute: `this` + `suffix` (throws if too long).
    name concat(const name& suffix) const;

    // Lower-cased copy: the canonical form of RFC 4034 §6.2.
    name canonical() const;
    void to_lower();

    // Case-insensitive equality.
    friend bool operator==(const name& a, const name& b);
    // Canonical DNS order (RFC 4034 §6.1).
    friend std::strong_ordering operator<=>(const name& a, const name& b);

    size_t hash() const;  // case-insensitive

  private:
    uint8_t size_;
    std::array<uint8_t, max_name_length> wire_;

    friend class wire_reader;
};

// Canonical order comparison of two uncompressed wire-form names; <0, 0, >0.
int canonical_compare(std::span<const uint8_t> a, std::span<const uint8_t> b);

// Appends the presentation form of one label's bytes, escaped.
void append_label_text(std::string& out, const uint8_t* label, size_t length);

struct name_hash {
    size_t operator()(const name& n) const { return n.hash(); }
};

}  // namespace hsync::dns
