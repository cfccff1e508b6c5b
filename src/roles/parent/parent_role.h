// The `parent` role (docs/parent.md): delegation sync for a parent zone. The zone (from a
// file or from a primary) is the engine's upstream copy; the role scans every delegation's
// child for CDS/CDNSKEY (RFC 7344, 8078) and CSYNC (RFC 7477) at every nameserver of the
// delegation, validated, on a timer and on generalized NOTIFY (RFC 9859), and keeps the
// DS, NS and glue it decides apart from the upstream copy (SQLite, written before it is
// served). The zone served is the upstream copy with those changes (and the DSYNC records
// that point children to this role) applied, with the combiner's serial policy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/client.h"
#include "roles/engine_role.h"
#include "roles/parent/cds_policy.h"
#include "roles/parent/csync_policy.h"
#include "roles/parent/delegations.h"
#include "roles/parent/scan.h"

namespace hsync::parent {

struct parent_settings {
    // The delegations to scan, by canonical zone name; a zone not listed: all of them.
    std::map<std::string, std::vector<dns::name>> children;
    uint32_t scan_interval = 3600;     // seconds between scans of a child
    uint32_t notify_min_interval = 5;  // seconds between NOTIFY-started scans of a child
    uint32_t initial_ds_delay = 0;     // RFC 8078 §3.3 accept after delay (with allow_initial)
    size_t max_parallel = 16;          // children scanned at once
    cds_policy cds;
    csync_policy csync;
    // Where to reach a nameserver by name (the lab's servers share 127.0.0.1 and differ by
    // port); other names: their glue in the zone, port 53.
    std::map<std::string, net::peer> nameservers;
    // RFC 9859: publish `_dsync.<zone> DSYNC CDS|CSYNC 1 PORT TARGET` when target is set.
    std::optional<dns::name> dsync_target;
    uint16_t dsync_port = 53;
    uint32_t dsync_ttl = 3600;
};

// Makes the validated lookup of one scan (scan.h); the role is given one that uses
// libunbound with the configured trust anchors, tests may give another.
using fetch_factory = std::function<fetch_fn(const dns::name& child)>;

class parent_role final : public roles::engine_role {
  public:
    parent_role(net::asio::any_io_executor ex, zone::engine_settings settings,
                parent_settings parent, fetch_factory fetch);
    std::string name() const override { return "parent"; }

    void start_scanning();
    std::string reconfigure(zone::engine_settings settings, parent_settings parent);

    // GET /parent/children[/CHILD]; POST /parent/children/CHILD/scan.
    std::optional<std::string> role_view(const std::string& topic,
                                         const std::string& arg) const override;
    std::optional<std::string> role_action(const std::string& topic, const std::string& arg,
                                           const std::string& action) override;

  protected:
    bool keeps_upstream() const override { return true; }
    void zone_started(zone::served_zone& z) override;
    net::awaitable<void> upstream_changed(std::shared_ptr<zone::served_zone> z,
                                          const zone::upstream_ixfr* ixfr) override;
    std::optional<uint16_t> notify(const net::request& req, const dns::message& query,
                                   const std::string* key) override;
    void describe(const zone::served_zone& z, zone::zone_status& st) const override;
    void role_metrics(std::vector<roles::metric>& out) const override;

  private:
    // The served zone made again from the upstream copy and every child's changes.
    net::awaitable<void> rebuild(std::shared_ptr<zone::served_zone> z);
    // The children of the zone: its delegations (or the configured subset), state kept.
    void find_children(zone::served_zone& z);
    net::awaitable<void> scan_loop();
    net::awaitable<void> scan_one(std::shared_ptr<zone::served_zone> z, std::string child);
    // Stores and serves a child's new DS or NS/glue as one new zone version.
    void apply_change(zone::served_zone& z, child_state& c, const char* what,
                      std::optional<std::vector<dns::rr>> ds,
                      std::optional<std::vector<dns::rr>> ns,
                      std::optional<std::vector<dns::rr>> glue);
    void store_child(const zone::served_zone& z, const child_state& c);
    zone::served_zone* zone_of_child(const dns::name& child, child_state** out) const;

    parent_settings parent_;
    fetch_factory fetch_;
    std::unique_ptr<net::asio::steady_timer> wake_;
    size_t running_ = 0;  // scans in flight
    bool scanning_started_ = false;
    struct counters {
        uint64_t scans = 0, updated = 0, refused = 0, notify_in = 0, notify_refused = 0;
    };
    counters counters_;
};

}  // namespace hsync::parent
