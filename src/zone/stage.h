// What a role adds to the zone engine: the hooks the engine calls at the points where
// roles differ. The defaults are the `auth` role's: a zone is served as loaded or
// transferred. A role overrides only what it changes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dns/message.h"
#include "dns/record_store.h"
#include "dns/zone_diff.h"
#include "net/asio.h"
#include "net/server.h"
#include "zone/served_zone.h"
#include "zone/status.h"

namespace hsync::zone {

// An IXFR applied to the upstream copy: the copy before it and the differences.
struct upstream_ixfr {
    std::shared_ptr<const dns::record_store> before;
    uint32_t before_serial = 0;
    std::shared_ptr<const std::vector<dns::zone_diff>> diffs;
};

// An UPDATE a stage took over (stage::update): its RCODE, and whether anything changed
// (for the engine's counters).
struct update_outcome {
    uint16_t rcode = 0;
    bool changed = false;
};

class stage {
  public:
    virtual ~stage() = default;

    // True: what is loaded or transferred in is the zone's upstream copy
    // (served_zone::upstream; transfers are stored in owner.sqlite, files are re-read) and
    // the stage makes the served zone from it (zone_started, upstream_changed).
    virtual bool keeps_upstream() const { return false; }

    // A zone was set up (at start or when a reconfigure added it), after the engine loaded
    // its stored served version. Loads the role's own state (engine::load_upstream too,
    // where the stage keeps one).
    virtual void zone_started(served_zone& /*z*/) {}

    // The upstream copy changed: by AXFR (`ixfr` null) or by an IXFR. Makes and serves the
    // new version.
    virtual net::awaitable<void> upstream_changed(std::shared_ptr<served_zone> /*z*/,
                                                  const upstream_ixfr* /*ixfr*/) {
        co_return;
    }

    // A new version of the zone is served (loaded, transferred, committed), after the
    // NOTIFYs went out. The agent reads each new version's HSYNC RRset here.
    virtual void version_served(served_zone& /*z*/) {}

    // Any request, parsed, before the engine looks at it (before TSIG): a stage that takes
    // it over (the agent's SIG(0)-signed HELLO and HEARTBEAT) returns the bytes to answer
    // with (empty: no answer); nullopt leaves it to the engine.
    virtual std::optional<std::vector<uint8_t>> take_request(const net::request& /*req*/,
                                                             const dns::message& /*query*/) {
        return std::nullopt;
    }

    // Runs before each refresh of a secondary zone (timers, maintenance); the refresh
    // loop wakes again by next_maintenance() (seconds since the epoch; none: no need).
    virtual net::awaitable<void> maintain(std::shared_ptr<served_zone> /*z*/) { co_return; }
    virtual std::optional<int64_t> next_maintenance(const served_zone& /*z*/) const {
        return std::nullopt;
    }

    // An UPDATE (RFC 2136) to the zone, TSIG already checked (`key`: its name, or null).
    // nullopt: the engine's own handling (primary zones, update-policy).
    virtual std::optional<update_outcome> update(served_zone& /*z*/, const dns::message& /*query*/,
                                                 const std::string* /*key*/,
                                                 const net::asio::ip::address& /*client*/) {
        return std::nullopt;
    }

    // A NOTIFY, before the engine's own handling (a secondary refreshes its zone): a stage
    // that takes it over (a parent's NOTIFY(CDS) for a child, an agent's HELLO) returns
    // the RCODE of the answer; nullopt leaves it to the engine. `key`: the verified TSIG
    // key's name, or null.
    virtual std::optional<uint16_t> notify(const net::request& /*req*/,
                                           const dns::message& /*query*/,
                                           const std::string* /*key*/) {
        return std::nullopt;
    }

    // What `zone show` adds for the role; its JSON for `zone show --json` (null: none).
    virtual void describe(const served_zone& /*z*/, zone_status& /*st*/) const {}
    virtual std::optional<std::string> zone_json(const served_zone& /*z*/) const {
        return std::nullopt;
    }
};

}  // namespace hsync::zone
