#include "roles/engine_role.h"

namespace hsync::roles {

engine_role::engine_role(net::asio::any_io_executor ex, zone::engine_settings settings)
    : engine_(std::move(ex), std::move(settings), *this) {}

std::optional<zone_status> engine_role::zone(const std::string& name) const {
    if (const zone::served_zone* z = engine_.zone_by_text(name)) return engine_.status_of(*z);
    return std::nullopt;
}

std::vector<metric> engine_role::metrics() const {
    std::vector<metric> out = engine_.metrics();
    role_metrics(out);
    return out;
}

std::optional<std::string> engine_role::zone_data_json(const std::string& name) const {
    const zone::served_zone* z = engine_.zone_by_text(name);
    return z ? zone_json(*z) : std::nullopt;
}

std::string engine_role::key_command(const std::string& zone, const std::string&,
                                     const std::string&) {
    if (!engine_.zone_by_text(zone)) return "zone " + zone + " is not served here";
    return "zone " + zone + " is not signed here (role " + name() + ")";
}

}  // namespace hsync::roles
