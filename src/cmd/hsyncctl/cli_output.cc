#include "cmd/hsyncctl/cli_output.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include <CLI/CLI.hpp>

#include "api/management.h"
#include "api/management_auth.h"
#include "cmd/hsyncd/config.h"

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

namespace {

struct management_settings {
    std::string key_file;
    std::string config_file;
};

management_settings& settings() {
    static management_settings s;
    return s;
}

std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

}  // namespace

void add_management_options(CLI::App& app) {
    auto& s = settings();
    s.key_file = env("HSYNC_MANAGEMENT_KEY_FILE");
    s.config_file = env("HSYNC_CONFIG");
    app.add_option("--key", s.key_file,
                   "Key file that signs management requests (the daemon's management-key-file)")
        ->envname("HSYNC_MANAGEMENT_KEY_FILE");
    app.add_option("-c,--config", s.config_file,
                   "hsyncd's configuration: its management address and key file")
        ->envname("HSYNC_CONFIG");
}

void add_key_option(CLI::App* cmd) {
    cmd->add_option("--key", settings().key_file, "Management key file")
        ->envname("HSYNC_MANAGEMENT_KEY_FILE");
}

api::client_reply management_request(const std::string& server, const std::string& method,
                                     const std::string& target, std::chrono::milliseconds timeout) {
    const auto& s = settings();
    std::string address = server, key_file = s.key_file;
    if (!s.config_file.empty() && (address.empty() || key_file.empty())) {
        try {
            auto cfg = hsyncd::load_config(s.config_file, false);
            if (address.empty()) address = cfg.management.to_string();
            if (key_file.empty()) key_file = cfg.management_key_file;
        } catch (const std::exception& e) {
            fail(e.what());
        }
    }
    if (address.empty()) address = "127.0.0.1:8053";
    std::optional<api::management_key> key;
    if (!key_file.empty()) {
        try {
            key = api::read_management_key(key_file);
        } catch (const std::exception& e) {
            fail(e.what());
        }
    }
    api::client_reply r;
    try {
        r = api::http_request(address, method, target, timeout, key ? &*key : nullptr);
    } catch (const std::exception& e) {
        fail(e.what());
    }
    if (r.status == 401) {
        auto j = nlohmann::json::parse(r.body, nullptr, false);
        std::string why = j.is_object() && j.contains("error") && j["error"].is_string()
                              ? j["error"].get<std::string>()
                              : "HTTP 401";
        fail("hsyncd at " + address + " refused the request: " + why +
             (key ? " (key file " + key_file + ")"
                  : "; give its management key: --key FILE (the daemon's management-key-file, "
                    "DATA_DIR/management.key by default), -c CONFIG, or "
                    "HSYNC_MANAGEMENT_KEY_FILE"));
    }
    return r;
}

nlohmann::json api_call(const std::string& server, const std::string& method,
                        const std::string& path) {
    api::client_reply r =
        management_request(server, method, path, std::chrono::milliseconds(10000));
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
