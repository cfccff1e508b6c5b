// The `signer` role (docs/signer.md): a secondary whose transfers are the engine's
// upstream copy (the unsigned zone); the zone served is that zone signed with our keys
// (sign.h: in full, or incrementally on an IXFR). Keys are generated on first sight and
// kept as BIND key files; key timers, signature refresh and the operator's key commands
// run here. Signing runs off the loop; the engine keeps answering meanwhile and serves
// the new version only when it is complete and stored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "roles/engine_role.h"
#include "roles/signer/keys.h"
#include "roles/signer/policy.h"

namespace hsync::signer {

struct signer_settings {
    // The policy of every zone, by canonical zone name.
    std::map<std::string, signing_policy> policies;
    // How often key timers and signature expiry are checked; at most this many owner
    // names re-signed per check (signature refresh spreads out over time).
    uint32_t check_interval = 600;
    size_t refresh_batch = 10000;
};

class signer_role final : public roles::engine_role {
  public:
    signer_role(net::asio::any_io_executor ex, zone::engine_settings settings,
                signer_settings signing);
    std::string name() const override { return "signer"; }

    // SIGHUP: the new policies first (a changed policy signs its zone again in full), then
    // the engine's zones.
    std::string reconfigure(zone::engine_settings settings, signer_settings signing);

    std::string key_command(const std::string& zone, const std::string& action,
                            const std::string& argument) override;

  protected:
    bool keeps_upstream() const override { return true; }
    void zone_started(zone::served_zone& z) override;
    net::awaitable<void> upstream_changed(std::shared_ptr<zone::served_zone> z,
                                          const zone::upstream_ixfr* ixfr) override;
    net::awaitable<void> maintain(std::shared_ptr<zone::served_zone> z) override;
    std::optional<int64_t> next_maintenance(const zone::served_zone& z) const override;
    void describe(const zone::served_zone& z, zone::zone_status& st) const override;
    std::optional<std::string> zone_json(const zone::served_zone& z) const override;
    void role_metrics(std::vector<roles::metric>& out) const override;

  private:
    // Signs the unsigned zone and serves the result. `changed`: the unsigned names an IXFR
    // touched (incremental signing where possible); null: sign in full. `max_names`: the
    // incremental limit (0: sign_incremental's default).
    net::awaitable<void> resign(std::shared_ptr<zone::served_zone> z,
                                std::shared_ptr<const std::vector<dns::name>> changed,
                                size_t max_names = 0);
    // Key timers, requested re-signs and signature refresh, when due.
    net::awaitable<void> run_maintenance(std::shared_ptr<zone::served_zone> z);
    bool ensure_keys(zone::served_zone& z);  // initial keys on first sight; true if made
    void store_keys(zone::served_zone& z);
    zone_key new_key(zone::served_zone& z, dnssec::key_role role);

    signer_settings signing_;
    struct counters {
        uint64_t signs_full = 0, signs_incremental = 0, sign_failures = 0, signatures_made = 0;
    };
    counters counters_;
};

}  // namespace hsync::signer
