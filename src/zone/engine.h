// The zone engine every role stands on (docs/architecture.md): served zones and their
// versions, the journal and AXFR/IXFR out, NOTIFY out and in, refresh and transfer in
// from primaries (TSIG), the UPDATE queue, persistence in SQLite and the off-loop worker
// pool. It knows nothing of combining or signing: a role's stage (stage.h) makes the
// served zone where it differs from what was loaded or transferred in.
//
// Everything runs on one executor (one thread): zone versions are swapped, never edited,
// so a query being answered keeps the version it started with.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "dnssec/tsig.h"
#include "net/asio.h"
#include "net/client.h"
#include "net/server.h"
#include "store/database.h"
#include "store/kv_store.h"
#include "store/zone_db.h"
#include "zone/served_zone.h"
#include "zone/stage.h"
#include "zone/status.h"

namespace hsync::zone {

struct engine_settings {
    net::server_options server;
    std::string data_dir;
    std::vector<zone_settings> zones;
    std::vector<dnssec::tsig_key> keys;
    uint16_t udp_payload_size = 1232;
    size_t journal_max_entries = 1000;  // differences kept per zone for IXFR out
    std::function<int64_t()> clock;     // seconds since the epoch; default: the system clock
};

class engine {
  public:
    engine(net::asio::any_io_executor ex, engine_settings settings, stage& stage);
    ~engine();

    // Opens the database, loads every zone, starts listening and the refresh timers.
    // Throws on a failure that makes serving impossible (port taken, database unusable).
    void start();
    net::awaitable<void> stop();
    // For a process about to exit: timers cancelled, no new work started.
    void begin_stop();
    bool stopping() const { return stopping_; }
    // SIGHUP: zones added, removed or changed; primary zone files re-read. Returns an
    // error text (empty on success).
    std::string reconfigure(engine_settings settings);
    std::vector<net::listen_endpoint> endpoints() const;
    const engine_settings& settings() const { return settings_; }
    int64_t now() const;

    // --- zones ---
    served_zone* exact_zone(const dns::name& name) const;
    served_zone* find_zone(const dns::name& qname) const;      // closest enclosing zone
    served_zone* zone_by_text(const std::string& name) const;  // null if unknown or bad
    // The zone named `name` (presentation form), or null with the reason in `error`.
    served_zone* named_zone(const std::string& name, std::string& error) const;
    std::shared_ptr<served_zone> shared(const served_zone& z) const;
    std::vector<std::shared_ptr<served_zone>> served() const;  // every zone not removed

    // --- versions: each change is stored before it is served (docs/choices.md) ---
    // Makes `records` the served version; `change` (if any) is journalled first, else (or
    // when it is zone-sized) `records` are stored as a new base. Sends NOTIFY.
    void commit(served_zone& z, dns::record_store records, const dns::zone_diff* change);
    // The halves of commit(): a change into SQLite and the in-memory journal; a whole
    // version stored as the new base (journal cleared); a built version served.
    void record_change(served_zone& z, const dns::zone_diff& change);
    void save_base(served_zone& z, const dns::record_store& records, uint32_t serial);
    void serve(served_zone& z, std::shared_ptr<const zone_data> data, bool incremental);
    void send_notifies(served_zone& z);
    // The last serial served, also when the zone expired from memory (the database row).
    std::optional<uint32_t> last_serial(const served_zone& z) const;

    // --- the upstream copy (stage::keeps_upstream) ---
    // Loads the stored copy (base plus pending differences). Throws if it is unusable.
    void load_upstream(served_zone& z);
    void set_upstream(served_zone& z, dns::record_store records);
    // The SOA of what transfers in compare against: the upstream copy's or the served one.
    const dns::rr* upstream_soa(const served_zone& z) const;

    // Durable key/value state of the role (the combiner's agent data, the signer's key
    // set, the agent's peer relations), in the engine's database.
    store::kv_store& kv() { return *kv_; }

    // Runs `work` on the worker pool and resumes on the loop with its result, so heavy work
    // (building indexes, combining, signing) never stops the loop from answering. Not a
    // coroutine itself, and callers pass a named lambda (std::move(work)): g++ 12 destroys
    // temporaries and by-value parameters of a co_await expression too early or twice.
    template <typename Work>
    net::awaitable<std::invoke_result_t<Work&>> off_loop(Work&& work) {
        using result = std::invoke_result_t<Work&>;
        auto task = [job = std::forward<Work>(work)]() mutable -> net::awaitable<result> {
            if constexpr (std::is_void_v<result>) {
                job();
                co_return;
            } else {
                co_return job();
            }
        };
        return net::asio::co_spawn(pool_->get_executor(), std::move(task), net::use_awaitable);
    }

    // --- management ---
    std::vector<zone_status> zones() const;
    zone_status status_of(const served_zone& z) const;
    std::string reload_zone(const std::string& name);
    std::string notify_zone(const std::string& name);
    std::vector<metric> metrics() const;

  private:
    struct update_queue;

    net::awaitable<void> handle(const net::request& req, net::responder& out);
    net::awaitable<void> handle_notify(const net::request& req, const dns::message& query,
                                       const std::string* key, dns::message& response);
    net::awaitable<void> handle_update(const net::request& req, const dns::message& query,
                                       const dnssec::tsig_result* tsig, const std::string* key,
                                       dns::message& response);
    net::awaitable<void> handle_transfer_out(const net::request& req, net::responder& out,
                                             const dns::message& query,
                                             const dnssec::tsig_result* tsig,
                                             const std::string* key);
    net::awaitable<uint16_t> apply_update_in_turn(std::shared_ptr<served_zone> z,
                                                  const dns::message& query,
                                                  const std::optional<dns::name>& signer,
                                                  const std::string& signer_text);
    net::awaitable<void> refresh_loop(std::shared_ptr<served_zone> z);
    net::awaitable<bool> refresh_once(std::shared_ptr<served_zone> z);
    net::awaitable<bool> transfer_in(std::shared_ptr<served_zone> z, const net::peer& primary,
                                     bool incremental);
    net::awaitable<void> upstream_ixfr_in(std::shared_ptr<served_zone> z,
                                          std::shared_ptr<std::vector<dns::zone_diff>> diffs);

    std::vector<uint8_t> encode(const dns::message& response, const dns::message& query, bool tcp,
                                const dnssec::tsig_result* tsig);
    void start_zone(const std::shared_ptr<served_zone>& z);
    std::string load_primary(served_zone& z, bool at_start);
    std::string load_primary_upstream(served_zone& z, dns::record_store records, bool at_start);
    void load_stored(served_zone& z);

    net::asio::any_io_executor ex_;
    engine_settings settings_;
    stage& stage_;
    dnssec::tsig_keyring keyring_;
    std::unique_ptr<store::database> db_;
    std::unique_ptr<store::zone_db> zone_db_;
    // The upstream copies (own file, so served and upstream copies never mix).
    std::unique_ptr<store::database> upstream_db_;
    std::unique_ptr<store::zone_db> upstream_zone_db_;
    std::unique_ptr<store::kv_store> kv_;
    std::unique_ptr<net::dns_server> server_;
    // Heavy work (applying transfers to large zones, building indexes) runs here, so the
    // loop keeps answering queries meanwhile.
    std::unique_ptr<net::asio::thread_pool> pool_;
    std::map<std::string, std::shared_ptr<served_zone>> zones_;  // canonical name text
    bool stopping_ = false;
    // UPDATEs wait their turn per zone (apply_update_in_turn); by canonical zone name.
    std::map<std::string, std::shared_ptr<update_queue>> update_queues_;

    struct counters {
        uint64_t queries = 0;
        std::array<uint64_t, 16> responses{};  // by the header's 4-bit RCODE
        uint64_t tsig_failures = 0;
        uint64_t axfr_out = 0, ixfr_out = 0, xfr_out_refused = 0;
        uint64_t xfr_in_ok = 0, xfr_in_failed = 0;
        uint64_t notify_in = 0, notify_out = 0, notify_out_failed = 0;
        uint64_t updates_ok = 0, updates_refused = 0;
    };
    counters counters_;
};

}  // namespace hsync::zone
