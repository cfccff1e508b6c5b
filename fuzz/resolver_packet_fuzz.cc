// The resolver's reading of libunbound's answer packets on arbitrary bytes:
// read_answer_packet returns false with the verdict `error` and a reason, or true with
// every record it hands out of the asked type (or its RRSIG), never a crash.
#include <cstddef>
#include <cstdint>

#include "dns/rdata.h"
#include "net/resolver.h"

using namespace hsync;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    net::resolve_result r;
    r.qname = dns::name::from_text("example.");
    r.qtype = size ? (data[0] % 2 ? dns::rr_type::CDS : dns::rr_type::A) : dns::rr_type::A;
    bool ok = net::read_answer_packet(std::span<const uint8_t>(data, size), r);
    if (!ok && (r.verdict != net::security::error || r.reason.empty())) __builtin_trap();
    if (ok)
        for (const auto& rec : r.records)
            if (rec.type != r.qtype) __builtin_trap();
    return 0;
}
