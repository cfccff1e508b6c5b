// What every hsyncd role (auth, combiner, signer, agent, parent) offers the daemon and
// its management API. One process runs one role (docs/architecture.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "zone/status.h"

namespace hsync::roles {

using zone_status = zone::zone_status;
using metric = zone::metric;

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

    // Role-specific views and actions beyond zones (the parent's children, the agent's
    // peers), served as `GET /ROLE/TOPIC[/ARG]` and `POST /ROLE/TOPIC/ARG/ACTION`.
    // role_view: a JSON text, or nullopt when the role has no such topic (or no such ARG).
    virtual std::optional<std::string> role_view(const std::string& /*topic*/,
                                                 const std::string& /*arg*/) const {
        return std::nullopt;
    }
    // role_action: nullopt when the role has no such action; else an error text, empty on
    // success.
    virtual std::optional<std::string> role_action(const std::string& /*topic*/,
                                                   const std::string& /*arg*/,
                                                   const std::string& /*action*/) {
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
