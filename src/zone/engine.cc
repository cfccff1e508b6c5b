// The engine's life cycle, zone versions, the upstream copy and management. Requests are
// in requests.cc, the secondary's refresh and transfers in are in refresh.cc.
#include "zone/engine.h"

#include <ctime>
#include <filesystem>

#include "dns/zonefile.h"
#include "zone/journal.h"
#include "zone/log.h"
#include "zone/text.h"

namespace hsync::zone {

namespace asio = net::asio;
using net::awaitable;

namespace {

dns::record_store load_file(const zone_settings& s, std::string& errors) {
    dns::record_store records;
    dns::zone_reader reader(s.file, s.name);
    size_t outside = 0;
    size_t n = reader.read(
        [&](const dns::rr& r) {
            if (!r.owner.is_subdomain_of(s.name)) {
                ++outside;
                return;
            }
            records.add(r);
        },
        [&](const dns::zone_error& e) {
            if (errors.size() < 2000) errors += e.to_text() + "\n";
        });
    if (outside) errors += s.file + ": " + std::to_string(outside) + " records outside the zone\n";
    if (n || outside) return {};
    records.sort();
    return records;
}

// A stored copy: its base with the differences stored since applied.
dns::record_store stored_version(store::stored_zone stored) {
    dns::record_store records = std::move(stored.base);
    for (const auto& d : stored.pending)
        records = apply(records, d);
    return records;
}

}  // namespace

engine::engine(asio::any_io_executor ex, engine_settings settings, stage& stage)
    : ex_(std::move(ex)), settings_(std::move(settings)), stage_(stage), keyring_(settings_.keys) {}

engine::~engine() = default;

int64_t engine::now() const {
    if (settings_.clock) return settings_.clock();
    return static_cast<int64_t>(std::time(nullptr));
}

void engine::start() {
    std::filesystem::create_directories(settings_.data_dir);
    db_ = std::make_unique<store::database>(settings_.data_dir + "/auth.sqlite");
    pool_ = std::make_unique<asio::thread_pool>(1);
    zone_db_ = std::make_unique<store::zone_db>(*db_);
    kv_ = std::make_unique<store::kv_store>(*db_);
    if (stage_.keeps_upstream()) {
        upstream_db_ = std::make_unique<store::database>(settings_.data_dir + "/owner.sqlite");
        upstream_zone_db_ = std::make_unique<store::zone_db>(*upstream_db_);
    }
    for (const auto& zs : settings_.zones) {
        auto z = std::make_shared<served_zone>();
        z->settings = zs;
        zones_[key_of(zs.name)] = z;
    }
    for (auto& [name, z] : zones_)
        start_zone(z);
    if (!settings_.server.log)
        settings_.server.log = [](const std::string& m) { log::warn("server", {{"message", m}}); };
    server_ = std::make_unique<net::dns_server>(
        ex_, settings_.server,
        [this](const net::request& req, net::responder& out) { return handle(req, out); });
    for (const auto& e : server_->endpoints())
        log::info("listening", {{"address", e.address.to_string()}, {"port", e.port}});
}

void engine::start_zone(const std::shared_ptr<served_zone>& z) {
    z->wake = std::make_unique<asio::steady_timer>(ex_);
    if (z->settings.secondary || z->settings.role_built) {
        load_stored(*z);
        stage_.zone_started(*z);
        if (z->settings.role_built) return;
        z->refresh_running = true;
        asio::co_spawn(ex_, refresh_loop(z), asio::detached);
    } else {
        std::string error = load_primary(*z, true);
        if (!error.empty())
            log::error("zone_load_failed", {{"zone", key_of(z->settings.name)}, {"error", error}});
        stage_.zone_started(*z);
    }
}

void engine::begin_stop() {
    stopping_ = true;
    for (auto& [name, z] : zones_)
        if (z->wake) z->wake->cancel();
    log::info("stopped");
}

awaitable<void> engine::stop() {
    stopping_ = true;
    for (auto& [name, z] : zones_)
        if (z->wake) z->wake->cancel();
    if (server_) co_await server_->stop();
    log::info("stopped");
}

std::vector<net::listen_endpoint> engine::endpoints() const {
    return server_ ? server_->endpoints() : std::vector<net::listen_endpoint>{};
}

// --- zone content ---

void engine::load_stored(served_zone& z) {
    auto stored = zone_db_->load(z.settings.name);
    if (!stored) return;
    try {
        uint32_t base_serial = stored->base_serial;
        auto data =
            std::make_shared<const zone_data>(stored_version(std::move(*stored)), z.settings.name);
        z.data = std::move(data);
        z.loaded_at = now();
        if (auto recent = zone_db_->journal_since(z.settings.name, base_serial))
            z.journal.assign(recent->begin(), recent->end());
        log::info("zone_loaded", {{"zone", key_of(z.settings.name)},
                                  {"serial", z.data->serial()},
                                  {"records", z.data->records().size()},
                                  {"from", "database"}});
    } catch (const std::exception& e) {
        z.last_error = std::string("stored copy unusable: ") + e.what();
        log::error("zone_load_failed",
                   {{"zone", key_of(z.settings.name)}, {"error", z.last_error}});
    }
}

std::string engine::load_primary(served_zone& z, bool at_start) {
    const auto& s = z.settings;
    std::string errors;
    dns::record_store records = load_file(s, errors);
    if (!errors.empty() || records.empty()) {
        if (errors.empty()) errors = s.file + ": no records";
        z.last_error = errors;
        if (!errors.empty() && errors.back() == '\n') z.last_error.pop_back();
        return z.last_error;
    }
    if (stage_.keeps_upstream()) return load_primary_upstream(z, std::move(records), at_start);
    std::shared_ptr<const zone_data> fresh;
    try {
        fresh = std::make_shared<const zone_data>(std::move(records), s.name);
    } catch (const std::exception& e) {
        z.last_error = s.file + ": " + e.what();
        return z.last_error;
    }
    z.last_error.clear();
    uint32_t serial = fresh->serial();

    if (at_start) {
        // What was served before the restart: the file as loaded then plus UPDATEs. If the
        // file still has the serial we stored, the stored version (with its updates) wins;
        // a file with another serial was edited and wins (as BIND reloads an edited file).
        load_stored(z);
        if (z.data && z.data->serial() != serial) {
            auto info = zone_db_->info(s.name);
            if (info && info->base_serial == serial && info->pending_entries > 0) {
                log::info("zone_kept", {{"zone", key_of(s.name)},
                                        {"serial", z.data->serial()},
                                        {"reason", "file unchanged since updates were applied"}});
                return {};
            }
        }
        if (z.data && z.data->serial() == serial) return {};
    } else if (z.data && z.data->serial() == serial) {
        return {};  // a reload with the same serial changes nothing (RFC 1996 serial rules)
    }

    if (z.data && !dns::serial_lt(z.data->serial(), serial))
        log::warn("serial_not_increased",
                  {{"zone", key_of(s.name)}, {"old", z.data->serial()}, {"new", serial}});
    dns::record_store content = fresh->records();
    if (z.data && dns::serial_lt(z.data->serial(), serial)) {
        dns::zone_diff change = diff(z.data->records(), content);
        commit(z, std::move(content), &change);
    } else {
        save_base(z, content, serial);
        commit(z, std::move(content), nullptr);
    }
    return {};
}

// A zone file that is a stage's upstream copy: a file with a new serial replaces the copy
// and the stage makes the served zone (at start: zone_started(), after the stored served
// version is loaded).
std::string engine::load_primary_upstream(served_zone& z, dns::record_store records,
                                          bool at_start) {
    try {
        auto soa = find_soa(records);
        if (!soa) throw std::runtime_error("no SOA at the apex");
        uint32_t serial = soa_serial(records[*soa].rdata);
        z.last_error.clear();
        if (!at_start && z.upstream_soa && soa_field(*z.upstream_soa, 0) == serial)
            return {};  // a reload with the same serial changes nothing (RFC 1996)
        set_upstream(z, std::move(records));
    } catch (const std::exception& e) {
        z.last_error = z.settings.file + ": " + e.what();
        return z.last_error;
    }
    if (at_start)
        load_stored(z);
    else
        asio::co_spawn(ex_, stage_.upstream_changed(shared(z), nullptr), asio::detached);
    return {};
}

void engine::record_change(served_zone& z, const dns::zone_diff& change) {
    // Written before it is served (docs/choices.md: state is stored before it is acted on).
    zone_db_->append_diff(z.settings.name, change);
    z.journal.push_back(change);
    while (z.journal.size() > settings_.journal_max_entries)
        z.journal.pop_front();
    zone_db_->trim_journal(z.settings.name, {settings_.journal_max_entries, UINT64_MAX});
}

void engine::save_base(served_zone& z, const dns::record_store& records, uint32_t serial) {
    zone_db_->save_full(z.settings.name, records, serial, store::zone_db::journal_mode::truncate);
    z.journal.clear();
}

void engine::serve(served_zone& z, std::shared_ptr<const zone_data> data, bool incremental) {
    z.data = std::move(data);
    z.loaded_at = now();
    log::info("zone_loaded", {{"zone", key_of(z.settings.name)},
                              {"serial", z.data->serial()},
                              {"records", z.data->records().size()},
                              {"change", incremental ? "incremental" : "full"}});
    send_notifies(z);
    stage_.version_served(z);
}

void engine::commit(served_zone& z, dns::record_store records, const dns::zone_diff* change) {
    // A change about the size of the zone is stored as a new base, not journalled: IXFR
    // clients get the whole zone (RFC 1995 §4 allows it), which is faster to send and
    // apply than a million deletions and additions, and the journal stays small.
    if (change && zone_sized(*change, records.size())) {
        save_base(z, records, change->to_serial);
        change = nullptr;
    }
    if (change) record_change(z, *change);
    serve(z, std::make_shared<const zone_data>(std::move(records), z.settings.name),
          change != nullptr);
}

std::optional<uint32_t> engine::last_serial(const served_zone& z) const {
    if (z.data) return z.data->serial();
    return zone_db_->serial(z.settings.name);
}

void engine::send_notifies(served_zone& z) {
    if (!z.data) return;
    for (const auto& target : z.settings.notify) {
        dns::message m;
        m.id = net::random_id();
        m.opcode = dns::opcode::NOTIFY;
        m.aa = true;
        m.questions.push_back({z.settings.name, dns::rr_type::SOA, dns::rr_class::IN});
        m.answer.push_back(z.data->soa());
        std::vector<uint8_t> wire;
        m.to_wire(wire);
        std::string zone = key_of(z.settings.name);
        uint32_t serial = z.data->serial();
        asio::co_spawn(
            ex_,
            [this, target, wire = std::move(wire), zone, serial]() mutable -> awaitable<void> {
                auto r = co_await net::notify(ex_, target, std::move(wire));
                if (r) {
                    ++counters_.notify_out;
                    log::info("notify_sent",
                              {{"zone", zone}, {"to", target.to_string()}, {"serial", serial}});
                } else {
                    ++counters_.notify_out_failed;
                    log::warn("notify_failed",
                              {{"zone", zone}, {"to", target.to_string()}, {"error", r.error}});
                }
            },
            asio::detached);
    }
}

// --- the upstream copy ---

void engine::load_upstream(served_zone& z) {
    if (auto stored = upstream_zone_db_->load(z.settings.name))
        set_upstream(z, stored_version(std::move(*stored)));
}

void engine::set_upstream(served_zone& z, dns::record_store records) {
    auto soa = find_soa(records);
    if (!soa) throw std::runtime_error("the upstream zone has no SOA");
    z.upstream_soa = records[*soa].to_rr();
    z.upstream = std::make_shared<const dns::record_store>(std::move(records));
}

const dns::rr* engine::upstream_soa(const served_zone& z) const {
    if (stage_.keeps_upstream()) return z.upstream_soa ? &*z.upstream_soa : nullptr;
    return z.data ? &z.data->soa() : nullptr;
}

// --- finding zones ---

served_zone* engine::exact_zone(const dns::name& name) const {
    auto it = zones_.find(key_of(name));
    return it == zones_.end() || it->second->removed ? nullptr : it->second.get();
}

served_zone* engine::find_zone(const dns::name& qname) const {
    dns::name n = qname;
    while (true) {
        if (served_zone* z = exact_zone(n)) return z;
        if (n.is_root()) return nullptr;
        n = n.parent();
    }
}

served_zone* engine::zone_by_text(const std::string& name) const {
    std::string error;
    return named_zone(name, error);
}

std::shared_ptr<served_zone> engine::shared(const served_zone& z) const {
    return zones_.at(key_of(z.settings.name));
}

std::vector<std::shared_ptr<served_zone>> engine::served() const {
    std::vector<std::shared_ptr<served_zone>> out;
    for (const auto& [name, z] : zones_)
        if (!z->removed) out.push_back(z);
    return out;
}

// --- management ---

zone_status engine::status_of(const served_zone& z) const {
    zone_status st;
    st.name = key_of(z.settings.name);
    st.kind = z.settings.secondary ? "secondary" : "primary";
    if (z.data) {
        st.serial = z.data->serial();
        st.records = z.data->records().size();
        st.details["signed"] = z.data->is_signed() ? (z.data->nsec3() ? "NSEC3" : "NSEC") : "no";
    }
    if (z.settings.secondary) {
        for (const auto& p : z.settings.primaries) {
            if (!st.source.empty()) st.source += ", ";
            st.source += p.to_string();
        }
        if (!z.last_transfer.empty()) st.details["last transfer"] = z.last_transfer;
    } else {
        st.source = z.settings.file;
    }
    st.loaded_at = z.loaded_at;
    st.last_refresh = z.last_refresh;
    st.last_error = z.last_error;
    st.details["journal"] = std::to_string(z.journal.size());
    stage_.describe(z, st);
    if (!z.settings.notify.empty()) {
        std::string n;
        for (const auto& p : z.settings.notify)
            n += (n.empty() ? "" : ", ") + p.to_string();
        st.details["notify"] = n;
    }
    return st;
}

std::vector<zone_status> engine::zones() const {
    std::vector<zone_status> out;
    for (const auto& [name, z] : zones_)
        if (!z->removed) out.push_back(status_of(*z));
    return out;
}

served_zone* engine::named_zone(const std::string& name, std::string& error) const {
    dns::name root;
    try {
        if (served_zone* z = exact_zone(dns::name::from_text(name, &root))) return z;
        error = "no such zone: " + name;
    } catch (const std::exception& e) {
        error = e.what();
    }
    return nullptr;
}

std::string engine::reload_zone(const std::string& name) {
    std::string error;
    served_zone* z = named_zone(name, error);
    if (!z) return error;
    if (z->settings.secondary) {
        if (z->wake) z->wake->cancel();
        return {};
    }
    if (z->settings.role_built) return {};
    error = load_primary(*z, false);
    if (!error.empty())
        log::error("zone_reload_failed", {{"zone", key_of(z->settings.name)}, {"error", error}});
    return error;
}

std::string engine::notify_zone(const std::string& name) {
    std::string error;
    served_zone* z = named_zone(name, error);
    if (!z) return error;
    if (!z->data) return "zone " + name + " is not loaded";
    if (z->settings.notify.empty()) return "zone " + name + " has no notify targets";
    send_notifies(*z);
    return {};
}

std::string engine::reconfigure(engine_settings settings) {
    settings_.keys = settings.keys;
    keyring_ = dnssec::tsig_keyring(settings_.keys);
    std::map<std::string, const zone_settings*> wanted;
    for (const auto& zs : settings.zones)
        wanted[key_of(zs.name)] = &zs;
    for (auto& [name, z] : zones_) {
        if (!wanted.count(name) && !z->removed) {
            z->removed = true;
            if (z->wake) z->wake->cancel();
            log::info("zone_removed", {{"zone", name}});
        }
    }
    for (auto& [name, zs] : wanted) {
        auto it = zones_.find(name);
        if (it == zones_.end() || it->second->removed) {
            auto z = std::make_shared<served_zone>();
            z->settings = *zs;
            zones_[name] = z;
            start_zone(z);
            log::info("zone_added", {{"zone", name}});
            continue;
        }
        auto& z = *it->second;
        bool kind_changed = z.settings.secondary != zs->secondary;
        z.settings = *zs;
        if (kind_changed)
            log::warn("zone_kind_changed",
                      {{"zone", name}, {"note", "takes effect after a restart"}});
        if (z.settings.role_built) {
            continue;
        } else if (!z.settings.secondary) {
            std::string error = load_primary(z, false);
            if (!error.empty())
                log::error("zone_reload_failed", {{"zone", name}, {"error", error}});
        } else if (z.wake) {
            z.wake->cancel();
        }
    }
    settings_.zones = std::move(settings.zones);
    return {};
}

std::vector<metric> engine::metrics() const {
    std::vector<metric> m;
    auto add = [&](std::string name, std::string help, std::map<std::string, std::string> labels,
                   double value, std::string type = "counter") {
        m.push_back({std::move(name), std::move(help), std::move(type), std::move(labels), value});
    };
    const auto& c = counters_;
    add("hsync_requests_total", "DNS messages received", {}, double(c.queries));
    for (uint16_t rcode :
         {dns::rcode::NOERROR, dns::rcode::NXDOMAIN, dns::rcode::REFUSED, dns::rcode::NOTAUTH,
          dns::rcode::NOTIMP, dns::rcode::SERVFAIL, dns::rcode::FORMERR})
        add("hsync_responses_total", "responses by RCODE", {{"rcode", dns::rcode_to_text(rcode)}},
            double(c.responses[rcode]));
    add("hsync_tsig_failures_total", "requests whose TSIG did not verify", {},
        double(c.tsig_failures));
    add("hsync_transfers_out_total", "zone transfers served", {{"type", "AXFR"}},
        double(c.axfr_out));
    add("hsync_transfers_out_total", "zone transfers served", {{"type", "IXFR"}},
        double(c.ixfr_out));
    add("hsync_transfers_out_refused_total", "zone transfers refused", {},
        double(c.xfr_out_refused));
    add("hsync_transfers_in_total", "zone transfers received", {{"result", "ok"}},
        double(c.xfr_in_ok));
    add("hsync_transfers_in_total", "zone transfers received", {{"result", "failed"}},
        double(c.xfr_in_failed));
    add("hsync_notify_received_total", "NOTIFY messages received", {}, double(c.notify_in));
    add("hsync_notify_sent_total", "NOTIFY messages answered", {{"result", "ok"}},
        double(c.notify_out));
    add("hsync_notify_sent_total", "NOTIFY messages answered", {{"result", "failed"}},
        double(c.notify_out_failed));
    add("hsync_updates_total", "UPDATE requests", {{"result", "applied"}}, double(c.updates_ok));
    add("hsync_updates_total", "UPDATE requests", {{"result", "rejected"}},
        double(c.updates_refused));
    if (server_) {
        auto sc = server_->counters();
        add("hsync_udp_queries_total", "UDP messages handled", {}, double(sc.udp_queries));
        add("hsync_tcp_queries_total", "TCP messages handled", {}, double(sc.tcp_queries));
        add("hsync_dropped_total", "messages dropped", {{"transport", "udp"}},
            double(sc.udp_dropped));
        add("hsync_dropped_total", "messages dropped", {{"transport", "tcp"}},
            double(sc.tcp_dropped));
        add("hsync_tcp_connections", "open TCP connections", {}, double(sc.tcp_connections_open),
            "gauge");
    }
    size_t loaded = 0;
    for (const auto& [n, z] : zones_)
        if (z->data && !z->removed) {
            ++loaded;
            add("hsync_zone_serial", "serial served", {{"zone", n}}, double(z->data->serial()),
                "gauge");
        }
    add("hsync_zones_loaded", "zones being served", {}, double(loaded), "gauge");
    return m;
}

}  // namespace hsync::zone
