// The management API's credential parsers on arbitrary bytes: the key file (BIND form or
// base64) and the Authorization header. Both either succeed or throw/refuse, never crash;
// a parsed key formats and parses again to the same secret; a header made of fuzz bytes
// is never accepted. The first byte picks the parser.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "api/management_auth.h"

using namespace hsync;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    if (data[0] % 2 == 0) {
        try {
            auto k = api::parse_management_key(text);
            if (api::parse_management_key(api::format_management_key(k)).secret != k.secret)
                __builtin_trap();
        } catch (const std::runtime_error&) {
        }
        return 0;
    }
    static api::request_verifier verifier(api::management_key{std::vector<uint8_t>(32, 1)},
                                          std::chrono::seconds(300), 64);
    if (verifier.verify(text, "GET", "/status", "", 1700000000).ok) __builtin_trap();
    return 0;
}
