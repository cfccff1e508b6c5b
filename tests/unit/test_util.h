// Small helpers shared by the unit tests.
#pragma once

#include <cctype>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dns/record_store.h"
#include "dns/rr.h"
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

// A sorted store of the records in zone-file lines (absolute owners).
inline dns::record_store store_of(const std::vector<std::string>& lines) {
    dns::record_store s;
    for (const auto& l : lines)
        s.add(dns::rr::from_text(l));
    s.sort();
    return s;
}

// Every record as text (TTL included), in store order.
inline std::vector<std::string> texts(const dns::record_store& s) {
    std::vector<std::string> out;
    for (size_t i = 0; i < s.size(); ++i) {
        std::string t;
        s[i].append_text(t);
        out.push_back(std::move(t));
    }
    return out;
}

}  // namespace hsync::test
