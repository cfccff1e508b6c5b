// One change of a zone from one SOA serial to the next, as IXFR (RFC 1995) carries it and
// a journal keeps it: the records removed and the records added. Both lists include the
// SOA (old SOA in `removed`, new SOA in `added`), as an IXFR difference sequence does.
#pragma once

#include <cstdint>
#include <vector>

#include "dns/rr.h"

namespace hsync::dns {

struct zone_diff {
    uint32_t from_serial = 0;
    uint32_t to_serial = 0;
    std::vector<rr> removed;
    std::vector<rr> added;

    bool empty() const { return removed.empty() && added.empty(); }
};

// RFC 1982 serial number arithmetic: true if `a` is before `b`.
inline bool serial_lt(uint32_t a, uint32_t b) {
    return a != b && static_cast<uint32_t>(b - a) < 0x80000000u;
}

}  // namespace hsync::dns
