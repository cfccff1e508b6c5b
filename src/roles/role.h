// What every hsyncd role (auth, combiner, signer, agent, parent) offers the daemon and
// its management API. One process runs one role (DESIGN.md §1).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace hsync::roles {

// One zone as `hsyncctl zone list/show` and the API report it.
struct zone_status {
    std::string name;
    std::string kind;                 // "primary", "secondary", ...
    std::optional<uint32_t> serial;   // what is served now; none if not loaded
    std::string source;               // file path or primary address
    std::optional<int64_t> loaded_at; // seconds since the epoch
    std::optional<int64_t> last_refresh;
    std::string last_error;           // empty when healthy
    uint64_t records = 0;
    std::map<std::string, std::string> details;  // role-specific extras (key -> value)
};

// Counters for /metrics, Prometheus style: name{labels} -> value.
struct metric {
    std::string name;    // e.g. "hsync_queries_total"
    std::string help;
    std::string type;    // "counter" or "gauge"
    std::map<std::string, std::string> labels;
    double value = 0;
};

class role {
public:
    virtual ~role() = default;
    virtual std::string name() const = 0;  // "auth", ...

    // Zones and what the role knows about them.
    virtual std::vector<zone_status> zones() const = 0;
    virtual std::optional<zone_status> zone(const std::string& name) const = 0;

    // Management actions; return an error text, empty on success.
    virtual std::string reload_zone(const std::string& name) = 0;
    virtual std::string notify_zone(const std::string& name) = 0;

    virtual std::vector<metric> metrics() const = 0;

    // Role-specific data of a zone as a JSON object text (the combiner's agent data);
    // nullopt when the role has none for it.
    virtual std::optional<std::string> zone_data_json(const std::string& /*name*/) const {
        return std::nullopt;
    }

    // A signer's key step (publish ROLE | activate TAG | retire TAG | remove TAG); returns an
    // error text, empty on success.
    virtual std::string key_command(const std::string& /*zone*/, const std::string& /*action*/,
                                    const std::string& /*argument*/) {
        return "this role has no DNSSEC keys";
    }
};

}  // namespace hsync::roles
