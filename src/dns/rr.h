// A resource record as the library passes it around: owner, type, class, TTL and
// uncompressed RDATA in wire form.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "dns/name.h"
#include "dns/rdata.h"

namespace hsync::dns {

struct rr {
    name owner;
    uint16_t type = 0;
    uint16_t rclass = rr_class::IN;
    uint32_t ttl = 0;
    std::vector<uint8_t> rdata;

    // "owner TTL CLASS TYPE rdata" on one line, absolute names.
    std::string to_text() const;
    void append_text(std::string& out) const;
    // Same with RDATA in RFC 3597 generic form (`TYPE65290 \# 5 ...`).
    std::string to_generic_text() const;

    // Reads one RR (owner, type, class, TTL, RDLENGTH, RDATA) from a message.
    static rr from_wire(wire_reader& reader);
    void to_wire(wire_writer& writer, bool compress) const;

    // Parses one complete RR line ("owner [TTL] [CLASS] TYPE rdata"; TTL and class in
    // either order). Relative names against `origin`. Throws text_error.
    static rr from_text(std::string_view line, const name& origin = name(),
                        uint32_t default_ttl = 3600);

    // Owner and RDATA names lower-cased as RFC 4034 §6.2 asks.
    void canonicalize();
};

// Canonical RR order (RFC 4034 §6.1 for owners, then type, then RDATA as RFC 4034 §6.3):
// both records must already be canonical. <0, 0, >0.
int canonical_compare(const rr& a, const rr& b);

}  // namespace hsync::dns
