// BIND key-file parsers (.key and .private) on arbitrary bytes: they must throw dns_error
// (text_error or dnssec_error) or succeed, never crash. The first byte picks the parser;
// for the pair parser a NUL byte splits the input into the .key and .private texts.
// Whatever parses must format and parse again to the same key.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dns/error.h"
#include "dnssec/keyfile.h"

using namespace hsync;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    try {
        switch (data[0] % 3) {
            case 0: {
                dnssec::key k = dnssec::parse_public_key_file(text);
                dnssec::key again =
                    dnssec::parse_public_key_file(dnssec::format_public_key_file(k));
                if (again.rdata() != k.rdata() || again.tag() != k.tag()) __builtin_trap();
                break;
            }
            case 1: {
                auto p = dnssec::parse_private_key_file(text);
                if (p.signer->public_key().empty()) __builtin_trap();
                break;
            }
            default: {
                size_t nul = text.find('\0');
                if (nul == std::string_view::npos) return 0;
                dnssec::key k = dnssec::parse_key_pair(text.substr(0, nul), text.substr(nul + 1));
                dnssec::key again = dnssec::parse_key_pair(dnssec::format_public_key_file(k),
                                                           dnssec::format_private_key_file(k));
                if (again.rdata() != k.rdata()) __builtin_trap();
                break;
            }
        }
    } catch (const dns::dns_error&) {
    }
    return 0;
}
