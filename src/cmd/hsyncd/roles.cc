// Stub role factory: a role with no zones that serves nothing, so the daemon shell and the
// management API can be built and tested before the roles exist. Replaced by the real
// factory that builds the auth role (and later the others).
#include "cmd/hsyncd/roles.h"

namespace hsync::hsyncd {
namespace {

class empty_role final : public roles::role {
  public:
    explicit empty_role(std::string name) : name_(std::move(name)) {}
    std::string name() const override { return name_; }
    std::vector<roles::zone_status> zones() const override { return {}; }
    std::optional<roles::zone_status> zone(const std::string&) const override {
        return std::nullopt;
    }
    std::string reload_zone(const std::string& name) override { return "no zone " + name; }
    std::string notify_zone(const std::string& name) override { return "no zone " + name; }
    std::vector<roles::metric> metrics() const override { return {}; }

  private:
    std::string name_;
};

}  // namespace

bool role_implemented(std::string_view role) {
    return role == "auth";
}

std::unique_ptr<roles::role> make_role(const config& cfg, net::asio::io_context&) {
    return std::make_unique<empty_role>(cfg.role);
}

std::string reconfigure_role(roles::role&, const config&, const config&) {
    return {};
}

void stop_role(roles::role&) {}

}  // namespace hsync::hsyncd
