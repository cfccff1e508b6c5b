// Small pieces shared by hsyncctl's commands: the failure exit, JSON values as text, aligned
// tables and the API path of a zone.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace hsync::cmd {

// "hsyncctl: error: MESSAGE" on stderr, exit status 1 (through CLI11).
[[noreturn]] void fail(const std::string& message);

// A JSON value for a human table: strings as they are, "-" for null or empty, else JSON.
std::string json_text(const nlohmann::json& j);

// Rows with every column padded to its widest cell (the last is not padded), each line
// starting with `indent`.
void print_table(const std::vector<std::vector<std::string>>& rows, const std::string& indent = "");

// A management API call: the reply's JSON object, or fail() with the server's error text.
nlohmann::json api_call(const std::string& server, const std::string& method,
                        const std::string& path);

// Takes `hsyncctl --server ADDR` (the top-level option) into `server` unless the
// sub-command was given its own.
void inherit_server(CLI::App& app, CLI::App& sub, std::string& server);

// "/zones/NAME", the name percent-encoded but for unreserved characters (RFC 3986 §2.3).
std::string zone_api_path(const std::string& name);
// NAME percent-encoded for a path segment (as zone_api_path does).
std::string path_segment(const std::string& name);

}  // namespace hsync::cmd
