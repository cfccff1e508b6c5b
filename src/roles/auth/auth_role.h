// The `auth` role: an authoritative server for zones loaded from files (primary) or
// transferred from primaries (secondary), with NOTIFY, outbound AXFR/IXFR, UPDATE and
// persistence in SQLite. The protocol logic lives in pure functions (answer.h, xfr.h,
// update.h, journal.h); this file feeds them from sockets and keeps zone state.
//
// Everything runs on one executor (one thread): zone snapshots are swapped, never edited,
// so a query being answered keeps the version it started with.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dnssec/tsig.h"
#include "net/asio.h"
#include "net/client.h"
#include "net/server.h"
#include "roles/auth/acl.h"
#include "roles/auth/update.h"
#include "roles/auth/zone_data.h"
#include "roles/role.h"
#include "roles/signer/keys.h"
#include "store/database.h"
#include "store/kv_store.h"
#include "store/zone_db.h"

namespace hsync::auth {

struct zone_settings {
    dns::name name;
    bool secondary = false;
    std::string file;                       // primary
    std::vector<net::peer> primaries;       // secondary
    std::optional<dns::name> transfer_key;  // secondary: TSIG for SOA queries and transfers
    std::vector<net::peer> notify;          // NOTIFY targets on every change
    acl allow_transfer = acl::none();
    acl allow_notify = acl::none();
    acl allow_update = acl::none();
    update_policy policy;
    std::optional<uint32_t> refresh, retry, expire;  // override the SOA's timers
    // Role combiner (docs/combiner.md): a secondary whose transfers are the owner's zone,
    // kept apart; UPDATEs (TSIG) change only the agent's apex data; the zone served is
    // combiner::combine() of both, with its own serial.
    bool combine = false;
    // Role signer (docs/signer.md): a secondary whose transfers are the unsigned zone, kept
    // apart; the zone served is that zone signed with our keys under this policy.
    std::optional<signer::signing_policy> sign;
};

struct auth_settings {
    net::server_options server;
    std::string data_dir;
    std::vector<zone_settings> zones;
    std::vector<dnssec::tsig_key> keys;
    uint16_t udp_payload_size = 1232;
    size_t journal_max_entries = 1000;  // differences kept per zone for IXFR out
    std::function<int64_t()> clock;     // seconds since the epoch; default: the system clock
    std::string role_name = "auth";     // "combiner" when zones combine
    // Sign mode: how often key timers and signature expiry are checked; at most this many
    // owner names re-signed per check (signature refresh spreads out over time).
    uint32_t signer_check_interval = 600;
    size_t signer_refresh_batch = 10000;
};

class auth_role final : public roles::role {
  public:
    auth_role(net::asio::any_io_executor ex, auth_settings settings);
    ~auth_role() override;

    // Opens the database, loads every zone, starts listening and the refresh timers.
    // Throws on a failure that makes serving impossible (port taken, database unusable).
    void start();
    net::awaitable<void> stop();
    // For a process about to exit: timers cancelled, no new work started.
    void begin_stop();
    // SIGHUP: zones added, removed or changed; primary zone files re-read. Returns an
    // error text (empty on success); on error the old configuration stays.
    std::string reconfigure(auth_settings settings);
    std::vector<net::listen_endpoint> endpoints() const;

    std::string name() const override { return settings_.role_name; }
    std::vector<roles::zone_status> zones() const override;
    std::optional<roles::zone_status> zone(const std::string& name) const override;
    std::string reload_zone(const std::string& name) override;
    std::string notify_zone(const std::string& name) override;
    std::vector<roles::metric> metrics() const override;
    std::optional<std::string> zone_data_json(const std::string& name) const override;
    std::string key_command(const std::string& zone, const std::string& action,
                            const std::string& argument) override;

    struct zone_state;  // per zone, in auth_role.cc

  private:
    net::awaitable<void> handle(const net::request& req, net::responder& out);
    net::awaitable<void> handle_transfer_out(const net::request& req, net::responder& out,
                                             const dns::message& query,
                                             const dnssec::tsig_result* tsig,
                                             const std::string* key);
    net::awaitable<uint16_t> apply_update_in_turn(std::shared_ptr<zone_state> z,
                                                  const dns::message& query,
                                                  const std::optional<dns::name>& signer,
                                                  const std::string& signer_text);
    net::awaitable<void> refresh_loop(std::shared_ptr<zone_state> z);
    net::awaitable<bool> refresh_once(std::shared_ptr<zone_state> z);
    net::awaitable<bool> transfer_in(std::shared_ptr<zone_state> z, const net::peer& primary,
                                     bool incremental);

    std::vector<uint8_t> encode(const dns::message& response, const dns::message& query, bool tcp,
                                const dnssec::tsig_result* tsig);
    zone_state* find_zone(const dns::name& qname) const;
    zone_state* exact_zone(const dns::name& name) const;
    void start_zone(const std::shared_ptr<zone_state>& z);
    std::string load_primary(zone_state& z, bool at_start);
    void load_stored(zone_state& z);
    // Makes `records` the served version; `change` (if any) is written to the journal
    // first. Sends NOTIFY.
    void commit(zone_state& z, dns::record_store records, const dns::zone_diff* change);
    // The two halves of commit(): the change into SQLite and the in-memory journal; a built
    // version served (logged, NOTIFY sent).
    void record_change(zone_state& z, const dns::zone_diff& change);
    void serve(zone_state& z, std::shared_ptr<const zone_data> data, bool incremental);
    void send_notifies(zone_state& z);
    int64_t now() const;
    roles::zone_status status_of(const zone_state& z) const;
    // Combine mode (end of auth_role.cc): the owner's copy and the agent data.
    void load_combiner(zone_state& z);
    void set_owner(zone_state& z, dns::record_store owner);
    // Builds the served zone from the owner's copy and the agent data; commits it (with
    // the next served serial) if it differs from what is served. `at_start`: compare
    // content only, so an unchanged restart keeps its serial.
    void recombine(zone_state& z, bool at_start = false);
    // recombine() with the whole-zone work (combine, difference, index) on pool_, for
    // callers on the loop that may wait: an owner AXFR, an owner IXFR that cannot be
    // followed by its difference.
    net::awaitable<void> recombine_off_loop(std::shared_ptr<zone_state> z);
    // Combine and sign mode: an IXFR of the upstream zone into the owner's copy (applied on
    // the pool), then the served zone made from it.
    net::awaitable<void> owner_ixfr(std::shared_ptr<zone_state> z,
                                    std::shared_ptr<std::vector<dns::zone_diff>> diffs);
    // An owner IXFR: the served zone follows the owner's differences (combine_change) when
    // it was combined from the version they start at (`before`), else recombine().
    net::awaitable<void> recombine_change(std::shared_ptr<zone_state> z,
                                          std::shared_ptr<const dns::record_store> owner_before,
                                          uint32_t before,
                                          std::shared_ptr<std::vector<dns::zone_diff>> diffs);
    uint16_t agent_update(zone_state& z, const dns::message& query, const std::string* key,
                          const net::asio::ip::address& client, std::string& reason);
    const dns::rr* upstream_soa(const zone_state& z) const;  // owner's SOA or served SOA
    // Sign mode (sign_mode.cc): keys, full and incremental signing, maintenance.
    void load_signer(zone_state& z);
    // Signs the unsigned zone (z.owner) and serves the result. `changed`: the owner names
    // an IXFR touched (incremental signing where possible); null: sign in full.
    // `max_names`: the incremental limit (0: sign_incremental's default).
    net::awaitable<void> resign(std::shared_ptr<zone_state> z,
                                std::shared_ptr<const std::vector<dns::name>> changed,
                                size_t max_names = 0);
    // Key timers, requested re-signs and signature refresh, when due.
    net::awaitable<void> signer_maintenance(std::shared_ptr<zone_state> z);
    bool ensure_keys(zone_state& z);  // initial keys on first sight; true if it made some
    void store_keys(zone_state& z);
    signer::zone_key new_key(zone_state& z, dnssec::key_role role);
    std::string sign_status_json(const zone_state& z) const;
    void add_sign_details(const zone_state& z, roles::zone_status& st) const;

    net::asio::any_io_executor ex_;
    auth_settings settings_;
    dnssec::tsig_keyring keyring_;
    std::unique_ptr<store::database> db_;
    std::unique_ptr<store::zone_db> zone_db_;
    // Combine mode: the owners' zones (own file, so served and owner copies never mix)
    // and the agent data.
    std::unique_ptr<store::database> owner_db_;
    std::unique_ptr<store::zone_db> owner_zone_db_;
    std::unique_ptr<store::kv_store> kv_;
    std::unique_ptr<net::dns_server> server_;
    // Heavy work (applying transfers to large zones, building indexes) runs here, so the
    // loop keeps answering queries meanwhile.
    std::unique_ptr<net::asio::thread_pool> pool_;
    std::map<std::string, std::shared_ptr<zone_state>> zones_;  // canonical name text
    bool stopping_ = false;
    // UPDATEs wait their turn per zone (apply_update_in_turn); by canonical zone name.
    struct update_queue;
    std::map<std::string, std::shared_ptr<update_queue>> update_queues_;

    struct counters {
        uint64_t queries = 0;
        std::array<uint64_t, 16> responses{};  // by the header's 4-bit RCODE
        uint64_t tsig_failures = 0;
        uint64_t axfr_out = 0, ixfr_out = 0, xfr_out_refused = 0;
        uint64_t xfr_in_ok = 0, xfr_in_failed = 0;
        uint64_t notify_in = 0, notify_out = 0, notify_out_failed = 0;
        uint64_t updates_ok = 0, updates_refused = 0;
        uint64_t combines = 0;
        uint64_t signs_full = 0, signs_incremental = 0, sign_failures = 0, signatures_made = 0;
    };
    counters counters_;
};

}  // namespace hsync::auth
