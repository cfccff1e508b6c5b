// A role made of the zone engine and the role's stage (zone/stage.h): the engine serves
// zones, the stage's hooks hold what makes the role differ. Every role that serves zones
// (auth, combiner, signer; the agent and parent next) derives from this and overrides
// only the hooks it needs; the management API sees the roles::role interface.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/asio.h"
#include "roles/role.h"
#include "zone/engine.h"
#include "zone/stage.h"

namespace hsync::roles {

class engine_role : public role, protected zone::stage {
  public:
    engine_role(net::asio::any_io_executor ex, zone::engine_settings settings);

    // Opens the database, loads every zone, starts listening (engine::start).
    void start() { engine_.start(); }
    void begin_stop() { engine_.begin_stop(); }
    std::string reconfigure(zone::engine_settings settings) {
        return engine_.reconfigure(std::move(settings));
    }
    std::vector<net::listen_endpoint> endpoints() const { return engine_.endpoints(); }

    std::vector<zone_status> zones() const override { return engine_.zones(); }
    std::optional<zone_status> zone(const std::string& name) const override;
    std::string reload_zone(const std::string& name) override { return engine_.reload_zone(name); }
    std::string notify_zone(const std::string& name) override { return engine_.notify_zone(name); }
    // The engine's counters, then the role's own (role_metrics).
    std::vector<metric> metrics() const override;
    std::optional<std::string> zone_data_json(const std::string& name) const override;
    std::string key_command(const std::string& zone, const std::string& action,
                            const std::string& argument) override;

  protected:
    virtual void role_metrics(std::vector<metric>& /*out*/) const {}

    zone::engine engine_;
};

}  // namespace hsync::roles
