// Fuzz target: arbitrary bytes read as a zone file for "example." from memory. $INCLUDE
// is disabled (input must not name files to open) and $GENERATE is kept small.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dns/name.h"
#include "dns/rr.h"
#include "dns/zonefile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace hsync::dns;
    static const name origin = name::from_text("example.");
    std::string_view text(reinterpret_cast<const char*>(data), size);
    zone_options opt;
    opt.allow_include = false;
    opt.max_generate = 256;
    // A small chunk size makes records straddle chunk ends; the first byte picks it.
    opt.chunk_size = size > 0 ? 1 + data[0] % 64 : 1;
    opt.max_record_bytes = 4096;
    size_t records = 0, errors = 0;
    std::string out;
    size_t n = zone_reader::from_memory(text, origin, opt, "fuzz")
                   .read(
                       [&](const rr& r) {
                           ++records;
                           out.clear();
                           r.append_text(out);  // what we accepted must print
                       },
                       [&](const zone_error&) { ++errors; });
    if (n != errors) __builtin_trap();  // the count returned is the count reported
    return 0;
}
