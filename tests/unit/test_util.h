// Small helpers shared by the unit tests.
#pragma once

#include <cctype>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dns/text.h"

namespace hsync::test {

// Lower-case hex of `bytes`, no spaces.
inline std::string hex(std::span<const uint8_t> bytes) {
    std::string s;
    dns::append_hex(s, bytes, false);
    return s;
}

// Bytes from hex text; spaces and newlines between digits are ignored.
inline std::vector<uint8_t> unhex(std::string_view text) {
    std::string digits;
    for (char c : text)
        if (!std::isspace(static_cast<unsigned char>(c))) digits.push_back(c);
    std::vector<uint8_t> out;
    dns::parse_hex(digits, out);
    return out;
}

}  // namespace hsync::test
