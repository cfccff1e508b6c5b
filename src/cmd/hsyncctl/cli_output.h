// Small pieces shared by hsyncctl's commands: the failure exit, JSON values as text, aligned
// tables and the API path of a zone.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace hsync::cmd {

// "hsyncctl: error: MESSAGE" on stderr, exit status 1 (through CLI11).
[[noreturn]] void fail(const std::string& message);

// A JSON value for a human table: strings as they are, "-" for null or empty, else JSON.
std::string json_text(const nlohmann::json& j);

// Rows with every column padded to its widest cell (the last is not padded), each line
// starting with `indent`.
void print_table(const std::vector<std::vector<std::string>>& rows, const std::string& indent = "");

// "/zones/NAME", the name percent-encoded but for unreserved characters (RFC 3986 §2.3).
std::string zone_api_path(const std::string& name);

}  // namespace hsync::cmd
