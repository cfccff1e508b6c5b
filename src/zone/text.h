// Small text helpers shared by the engine and the roles: a zone's map key, UTC times and
// JSON strings for the management API.
#pragma once

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string>
#include <string_view>

#include "dns/name.h"

namespace hsync::zone {

// A zone's key in maps and its name in logs: canonical (lower-case) text.
inline std::string key_of(const dns::name& n) {
    return n.canonical().to_text();
}

inline std::string utc_text(int64_t t) {
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

inline void json_string(std::string& out, std::string_view v) {
    out.push_back('"');
    for (unsigned char c : v) {
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(static_cast<char>(c));
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out.push_back(static_cast<char>(c));
        }
    }
    out.push_back('"');
}

}  // namespace hsync::zone
