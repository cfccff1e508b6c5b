#include "cmd/hsyncctl/cli_output.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include <CLI/CLI.hpp>

namespace hsync::cmd {

void fail(const std::string& message) {
    std::fflush(stdout);
    std::fprintf(stderr, "hsyncctl: error: %s\n", message.c_str());
    throw CLI::RuntimeError(1);
}

std::string json_text(const nlohmann::json& j) {
    if (j.is_null()) return "-";
    if (j.is_string()) return j.get<std::string>().empty() ? "-" : j.get<std::string>();
    return j.dump();
}

void print_table(const std::vector<std::vector<std::string>>& rows, const std::string& indent) {
    std::vector<size_t> width;
    for (const auto& r : rows)
        for (size_t i = 0; i < r.size(); ++i) {
            if (width.size() <= i) width.push_back(0);
            width[i] = std::max(width[i], r[i].size());
        }
    for (const auto& r : rows) {
        std::string line = indent;
        for (size_t i = 0; i < r.size(); ++i) {
            line += r[i];
            if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
        }
        std::printf("%s\n", line.c_str());
    }
}

std::string zone_api_path(const std::string& name) {
    std::string out = "/zones/";
    for (unsigned char c : name) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            char buf[4];
            std::snprintf(buf, sizeof buf, "%%%02X", c);
            out += buf;
        }
    }
    return out;
}

}  // namespace hsync::cmd
