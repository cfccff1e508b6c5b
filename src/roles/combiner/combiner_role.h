// The `combiner` role (docs/combiner.md): a secondary of the zone owner whose transfers
// are the engine's upstream copy; the agent's apex data (DNSKEY, CDS, CDNSKEY, CSYNC, NS)
// arrives by TSIG-signed UPDATE and is stored apart; the zone served is combine() of
// both (combine.h), with the combiner's serial policy.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "roles/combiner/combine.h"
#include "roles/engine_role.h"

namespace hsync::combiner {

class combiner_role final : public roles::engine_role {
  public:
    using engine_role::engine_role;
    std::string name() const override { return "combiner"; }

  protected:
    bool keeps_upstream() const override { return true; }
    void zone_started(zone::served_zone& z) override;
    net::awaitable<void> upstream_changed(std::shared_ptr<zone::served_zone> z,
                                          const zone::upstream_ixfr* ixfr) override;
    std::optional<zone::update_outcome> update(zone::served_zone& z, const dns::message& query,
                                               const std::string* key,
                                               const net::asio::ip::address& client) override;
    void describe(const zone::served_zone& z, zone::zone_status& st) const override;
    std::optional<std::string> zone_json(const zone::served_zone& z) const override;
    void role_metrics(std::vector<roles::metric>& out) const override;

  private:
    // Builds the served zone from the owner's copy and the agent data; commits it (with
    // the next served serial) if it differs from what is served. `at_start`: compare
    // content only, so an unchanged restart keeps its serial.
    void recombine(zone::served_zone& z, bool at_start = false);
    // recombine() with the whole-zone work (combine, difference, index) off the loop, for
    // an owner AXFR or an owner IXFR that cannot be followed by its difference.
    net::awaitable<void> recombine_off_loop(std::shared_ptr<zone::served_zone> z);
    // An owner IXFR: the served zone follows the owner's differences (combine_change) when
    // it was combined from the version they start at, else recombine_off_loop().
    net::awaitable<void> recombine_change(std::shared_ptr<zone::served_zone> z,
                                          const zone::upstream_ixfr& ixfr);
    void log_combined(const zone::served_zone& z, const char* mode, uint32_t owner_serial,
                      uint32_t serial, std::optional<size_t> changes = std::nullopt);

    uint64_t combines_ = 0;
};

}  // namespace hsync::combiner
