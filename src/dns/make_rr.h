// A record of class IN from its parts, for code that builds records (DS from keys, NS and
// glue from a child's answers).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "dns/name.h"
#include "dns/rdata.h"
#include "dns/rr.h"

namespace hsync::dns {

inline rr make_rr(const name& owner, uint16_t type, uint32_t ttl, std::vector<uint8_t> rdata) {
    rr r;
    r.owner = owner;
    r.type = type;
    r.rclass = rr_class::IN;
    r.ttl = ttl;
    r.rdata = std::move(rdata);
    return r;
}

}  // namespace hsync::dns
