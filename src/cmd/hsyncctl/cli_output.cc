#include "cmd/hsyncctl/cli_output.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>

#include <CLI/CLI.hpp>

#include "api/management.h"

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

std::string path_segment(const std::string& name) {
    std::string out;
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

std::string zone_api_path(const std::string& name) {
    return "/zones/" + path_segment(name);
}

nlohmann::json api_call(const std::string& server, const std::string& method,
                        const std::string& path) {
    api::client_reply r;
    try {
        r = api::http_request(server, method, path, std::chrono::milliseconds(10000));
    } catch (const std::exception& e) {
        fail(e.what());
    }
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (r.status < 200 || r.status > 299)
        fail(j.is_object() && j.contains("error") && j["error"].is_string()
                 ? j["error"].get<std::string>()
                 : "HTTP " + std::to_string(r.status));
    if (j.is_discarded() || !j.is_object()) fail("the server's reply is not a JSON object");
    return j;
}

void inherit_server(CLI::App& app, CLI::App& sub, std::string& server) {
    if (sub.count("--server") == 0)
        if (auto* top = app.get_option_no_throw("--server"); top && top->count())
            server = top->as<std::string>();
}

}  // namespace hsync::cmd
