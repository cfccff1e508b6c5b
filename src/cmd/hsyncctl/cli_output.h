// Small pieces shared by hsyncctl's commands: the failure exit, JSON values as text, aligned
// tables and the API path of a zone.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "api/management.h"

namespace hsync::cmd {

// "hsyncctl: error: MESSAGE" on stderr, exit status 1 (through CLI11).
[[noreturn]] void fail(const std::string& message);

// A JSON value for a human table: strings as they are, "-" for null or empty, else JSON.
std::string json_text(const nlohmann::json& j);

// Rows with every column padded to its widest cell (the last is not padded), each line
// starting with `indent`.
void print_table(const std::vector<std::vector<std::string>>& rows, const std::string& indent = "");

// How hsyncctl reaches a running hsyncd: `--server ADDR:PORT` (HSYNC_SERVER), the key
// that signs every request `--key FILE` (HSYNC_MANAGEMENT_KEY_FILE), or both from the
// daemon's configuration `-c FILE` (HSYNC_CONFIG): its `management` address and
// `management-key-file`. --server and --key win over the configuration.
// Adds --key and -c to the top level.
void add_management_options(CLI::App& app);
// Adds --key to a sub-command that has its own --server.
void add_key_option(CLI::App* cmd);

// One request to hsyncd, signed when a key is known; `server` empty: from -c, else
// 127.0.0.1:8053. fail()s on a network error, and on 401 with what to do about it.
api::client_reply management_request(const std::string& server, const std::string& method,
                                     const std::string& target, std::chrono::milliseconds timeout);

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
