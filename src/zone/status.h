// What the engine and the roles on it report about zones and counters: the management
// API's `zone list/show` rows and the Prometheus metrics of /metrics.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace hsync::zone {

// One zone as `hsyncctl zone list/show` and the API report it.
struct zone_status {
    std::string name;
    std::string kind;                  // "primary", "secondary", "combiner", "signer"
    std::optional<uint32_t> serial;    // what is served now; none if not loaded
    std::string source;                // file path or primary address
    std::optional<int64_t> loaded_at;  // seconds since the epoch
    std::optional<int64_t> last_refresh;
    std::string last_error;  // empty when healthy
    uint64_t records = 0;
    std::map<std::string, std::string> details;  // role-specific extras (key -> value)
};

// Counters for /metrics, Prometheus style: name{labels} -> value.
struct metric {
    std::string name;  // e.g. "hsync_queries_total"
    std::string help;
    std::string type;  // "counter" or "gauge"
    std::map<std::string, std::string> labels;
    double value = 0;
};

}  // namespace hsync::zone
