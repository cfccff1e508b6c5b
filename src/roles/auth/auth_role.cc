#include "roles/auth/auth_role.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>

#include "dns/error.h"
#include "dns/message.h"
#include "dns/zonefile.h"
#include "dnssec/sig0.h"
#include "roles/auth/answer.h"
#include "roles/auth/journal.h"
#include "roles/auth/xfr.h"
#include "roles/auth/zone_state.h"
#include "roles/combiner/combine.h"
#include "roles/log.h"

namespace hsync::auth {

namespace asio = net::asio;
using net::awaitable;
using net::use_awaitable;

namespace {

constexpr std::string_view agent_ns = "combiner-agent";  // kv namespace: zone -> agent data

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

// A bare FORMERR for bytes that do not parse: only the header's ID and opcode are
// trusted (RFC 1035 §4.1.1).
std::vector<uint8_t> formerr_header(std::span<const uint8_t> wire) {
    std::vector<uint8_t> out(12, 0);
    out[0] = wire[0];
    out[1] = wire[1];
    out[2] = static_cast<uint8_t>(0x80 | (wire[2] & 0x78));
    out[3] = dns::rcode::FORMERR;
    return out;
}

}  // namespace

auth_role::auth_role(asio::any_io_executor ex, auth_settings settings)
    : ex_(std::move(ex)), settings_(std::move(settings)), keyring_(settings_.keys) {}

auth_role::~auth_role() = default;

int64_t auth_role::now() const {
    if (settings_.clock) return settings_.clock();
    return static_cast<int64_t>(std::time(nullptr));
}

void auth_role::start() {
    std::filesystem::create_directories(settings_.data_dir);
    db_ = std::make_unique<store::database>(settings_.data_dir + "/auth.sqlite");
    pool_ = std::make_unique<asio::thread_pool>(1);
    zone_db_ = std::make_unique<store::zone_db>(*db_);
    // Combiner and signer keep their upstream's zones apart (a zone may be added later).
    if (settings_.role_name == "combiner" || settings_.role_name == "signer" ||
        std::any_of(settings_.zones.begin(), settings_.zones.end(),
                    [](const zone_settings& zs) { return zs.combine || zs.sign; })) {
        owner_db_ = std::make_unique<store::database>(settings_.data_dir + "/owner.sqlite");
        owner_zone_db_ = std::make_unique<store::zone_db>(*owner_db_);
        kv_ = std::make_unique<store::kv_store>(*db_);
    }
    for (const auto& zs : settings_.zones) {
        auto z = std::make_shared<zone_state>();
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

void auth_role::start_zone(const std::shared_ptr<zone_state>& z) {
    z->wake = std::make_unique<asio::steady_timer>(ex_);
    if (z->settings.secondary) {
        load_stored(*z);
        if (z->settings.combine) load_combiner(*z);
        if (z->settings.sign) load_signer(*z);
        z->refresh_running = true;
        asio::co_spawn(ex_, refresh_loop(z), asio::detached);
    } else {
        std::string error = load_primary(*z, true);
        if (!error.empty())
            log::error("zone_load_failed", {{"zone", key_of(z->settings.name)}, {"error", error}});
    }
}

void auth_role::begin_stop() {
    stopping_ = true;
    for (auto& [name, z] : zones_)
        if (z->wake) z->wake->cancel();
    log::info("stopped");
}

awaitable<void> auth_role::stop() {
    stopping_ = true;
    for (auto& [name, z] : zones_)
        if (z->wake) z->wake->cancel();
    if (server_) co_await server_->stop();
    log::info("stopped");
}

std::vector<net::listen_endpoint> auth_role::endpoints() const {
    return server_ ? server_->endpoints() : std::vector<net::listen_endpoint>{};
}

// --- zone content ---

void auth_role::load_stored(zone_state& z) {
    auto stored = zone_db_->load(z.settings.name);
    if (!stored) return;
    try {
        dns::record_store records = std::move(stored->base);
        for (const auto& d : stored->pending)
            records = apply(records, d);
        auto data = std::make_shared<const zone_data>(std::move(records), z.settings.name);
        z.data = std::move(data);
        z.loaded_at = now();
        if (auto recent = zone_db_->journal_since(z.settings.name, stored->base_serial))
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

std::string auth_role::load_primary(zone_state& z, bool at_start) {
    const auto& s = z.settings;
    std::string errors;
    dns::record_store records = load_file(s, errors);
    if (!errors.empty() || records.empty()) {
        if (errors.empty()) errors = s.file + ": no records";
        z.last_error = errors;
        if (!errors.empty() && errors.back() == '\n') z.last_error.pop_back();
        return z.last_error;
    }
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
        zone_db_->save_full(s.name, content, serial, store::zone_db::journal_mode::truncate);
        z.journal.clear();
        commit(z, std::move(content), nullptr);
    }
    return {};
}

void auth_role::record_change(zone_state& z, const dns::zone_diff& change) {
    // Written before it is served (DESIGN.md §5).
    zone_db_->append_diff(z.settings.name, change);
    z.journal.push_back(change);
    while (z.journal.size() > settings_.journal_max_entries)
        z.journal.pop_front();
    zone_db_->trim_journal(z.settings.name, {settings_.journal_max_entries, UINT64_MAX});
}

void auth_role::serve(zone_state& z, std::shared_ptr<const zone_data> data, bool incremental) {
    z.data = std::move(data);
    z.loaded_at = now();
    log::info("zone_loaded", {{"zone", key_of(z.settings.name)},
                              {"serial", z.data->serial()},
                              {"records", z.data->records().size()},
                              {"change", incremental ? "incremental" : "full"}});
    send_notifies(z);
}

void auth_role::commit(zone_state& z, dns::record_store records, const dns::zone_diff* change) {
    // A change about the size of the zone is stored as a new base, not journalled: IXFR
    // clients get the whole zone (RFC 1995 §4 allows it), which is faster to send and
    // apply than a million deletions and additions, and the journal stays small.
    if (change && zone_sized(*change, records.size())) {
        uint32_t serial = change->to_serial;
        zone_db_->save_full(z.settings.name, records, serial,
                            store::zone_db::journal_mode::truncate);
        z.journal.clear();
        change = nullptr;
    }
    if (change) record_change(z, *change);
    serve(z, std::make_shared<const zone_data>(std::move(records), z.settings.name),
          change != nullptr);
}

void auth_role::send_notifies(zone_state& z) {
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

// --- finding zones ---

auth_role::zone_state* auth_role::exact_zone(const dns::name& name) const {
    auto it = zones_.find(key_of(name));
    return it == zones_.end() || it->second->removed ? nullptr : it->second.get();
}

auth_role::zone_state* auth_role::find_zone(const dns::name& qname) const {
    dns::name n = qname;
    while (true) {
        if (zone_state* z = exact_zone(n)) return z;
        if (n.is_root()) return nullptr;
        n = n.parent();
    }
}

// --- requests ---

std::vector<uint8_t> auth_role::encode(const dns::message& response, const dns::message& query,
                                       bool tcp, const dnssec::tsig_result* tsig) {
    size_t max = dns::max_message_size;
    if (!tcp) {
        max = 512;
        if (query.opt)
            max = std::clamp<size_t>(query.opt->udp_payload_size, 512, settings_.udp_payload_size);
    }
    // Room for the TSIG record added after encoding (RFC 8945 §5.3: truncate first, then sign).
    if (tsig && tsig->key) max -= std::min<size_t>(max / 2, 64 + 2 * dns::max_name_length);
    std::vector<uint8_t> wire;
    response.to_wire(wire, max);
    if (tsig) dnssec::tsig_answer(wire, *tsig, now());
    return wire;
}

awaitable<void> auth_role::handle(const net::request& req, net::responder& out) {
    ++counters_.queries;
    dns::message query;
    bool parsed = false;
    try {
        query = dns::message::parse(req.wire);
        parsed = true;
    } catch (const dns::dns_error& e) {
        ++counters_.responses[dns::rcode::FORMERR];
        log::debug("formerr", {{"client", req.client.to_string()}, {"error", e.what()}});
    }
    if (!parsed) {
        // A malformed response is dropped, never answered (no reply loops); a malformed
        // query gets a bare FORMERR.
        if (!(req.wire[2] & 0x80)) co_await out.send(formerr_header(req.wire));
        co_return;
    }
    if (query.qr) co_return;

    std::optional<dnssec::tsig_result> tsig;
    std::string key_name;
    if (query.tsig) {
        tsig = dnssec::tsig_verify_request(req.wire, query, keyring_, now());
        if (!tsig->ok()) {
            ++counters_.tsig_failures;
            log::warn("tsig_failed", {{"client", req.client.to_string()},
                                      {"key", tsig->key_name.to_text()},
                                      {"reason", tsig->reason}});
            dns::message tsig_resp = error_response(query, tsig->rcode);
            co_await out.send(encode(tsig_resp, query, req.tcp, &*tsig));
            co_return;
        }
        key_name = tsig->key_name.canonical().to_text();
    }
    const std::string* key = tsig ? &key_name : nullptr;
    const dnssec::tsig_result* tp = tsig ? &*tsig : nullptr;
    auto client = req.client.address;

    auto reply = [&](const dns::message& response) -> awaitable<void> {
        if (response.rcode < counters_.responses.size()) ++counters_.responses[response.rcode];
        co_await out.send(encode(response, query, req.tcp, tp));
    };

    if (query.opcode == dns::opcode::NOTIFY) {
        ++counters_.notify_in;
        zone_state* notify_zone =
            query.questions.size() == 1 ? exact_zone(query.questions[0].qname) : nullptr;
        dns::message notify_resp = make_response(query);
        if (query.questions.size() != 1) {
            notify_resp.rcode = dns::rcode::FORMERR;
        } else if (!notify_zone || !notify_zone->settings.secondary) {
            notify_resp.rcode = dns::rcode::NOTAUTH;
        } else if (!notify_zone->settings.allow_notify.allows(client, key)) {
            log::warn("notify_refused", {{"zone", key_of(notify_zone->settings.name)},
                                         {"client", req.client.to_string()}});
            notify_resp.rcode = dns::rcode::REFUSED;
        } else {
            notify_resp.aa = true;
            log::info("notify_received", {{"zone", key_of(notify_zone->settings.name)},
                                          {"client", req.client.to_string()}});
            // Refresh now (RFC 1996 §3.11); a refresh already running goes again after it.
            notify_zone->notify_pending = true;
            if (notify_zone->wake) notify_zone->wake->cancel();
        }
        co_await reply(notify_resp);
        co_return;
    }

    if (query.opcode == dns::opcode::UPDATE) {
        dns::message update_resp = make_response(query);
        zone_state* update_zone =
            query.questions.size() == 1 ? exact_zone(query.questions[0].qname) : nullptr;
        if (query.questions.size() != 1 || query.questions[0].qtype != dns::rr_type::SOA) {
            update_resp.rcode = dns::rcode::FORMERR;
        } else if (update_zone && update_zone->settings.combine) {
            std::string agent_why;
            update_resp.rcode = agent_update(*update_zone, query, key, client, agent_why);
        } else if (!update_zone || !update_zone->data) {
            update_resp.rcode = dns::rcode::NOTAUTH;
        } else if (update_zone->settings.secondary) {
            update_resp.rcode = dns::rcode::NOTIMP;  // no forwarding: updates go to the primary
        } else {
            std::optional<dns::name> signer;
            if (tsig) signer = tsig->key_name.canonical();
            if (!tsig && query.sig0) {
                // SIG(0): the signer's KEY must be in the zone, and the policy names it.
                dns::rr sig = *query.sig0;
                dns::wire_reader rd(sig.rdata);
                rd.skip(18);
                dns::name signer_name = rd.read_name(false);
                auto node = update_zone->data->find(signer_name);
                bool verified = false;
                std::string sig0_why = "no KEY record at " + signer_name.to_text();
                if (node != zone_data::npos) {
                    auto range = update_zone->data->rrset(node, dns::rr_type::KEY);
                    for (uint32_t i = range.first; i < range.end && !verified; ++i) {
                        auto rec = update_zone->data->records()[i];
                        try {
                            auto res =
                                dnssec::sig0_verify(req.wire, query, signer_name, rec.rdata, now());
                            verified = res.ok();
                            sig0_why = res.reason;
                        } catch (const std::exception& e) {
                            sig0_why = e.what();
                        }
                    }
                }
                if (verified)
                    signer = signer_name.canonical();
                else
                    log::warn("sig0_failed", {{"zone", key_of(update_zone->settings.name)},
                                              {"signer", signer_name.to_text()},
                                              {"reason", sig0_why}});
            }
            std::string signer_text = signer ? signer->to_text() : std::string();
            if (!update_zone->settings.allow_update.allows(client,
                                                           signer ? &signer_text : nullptr)) {
                update_resp.rcode = dns::rcode::REFUSED;
                log::warn("update_refused", {{"zone", key_of(update_zone->settings.name)},
                                             {"client", req.client.to_string()},
                                             {"key", signer_text},
                                             {"reason", "allow-update"}});
            } else {
                // Held: `update_zone` may be replaced by a reconfigure while this waits.
                std::shared_ptr<zone_state> zs = zones_.at(key_of(update_zone->settings.name));
                update_resp.rcode = co_await apply_update_in_turn(zs, query, signer, signer_text);
            }
        }
        co_await reply(update_resp);
        co_return;
    }

    // Zone transfers first: check_query() refuses meta types such as AXFR and IXFR.
    if (query.opcode == dns::opcode::QUERY && query.questions.size() == 1 &&
        query.questions[0].qclass == dns::rr_class::IN &&
        (query.questions[0].qtype == dns::rr_type::AXFR ||
         query.questions[0].qtype == dns::rr_type::IXFR)) {
        co_await handle_transfer_out(req, out, query, tp, key);
        co_return;
    }
    if (auto rc = check_query(query)) {
        co_await reply(error_response(query, *rc));
        co_return;
    }
    zone_state* query_zone = find_zone(query.questions[0].qname);
    if (query_zone && !query_zone->data) {
        co_await reply(error_response(query, dns::rcode::SERVFAIL));
        co_return;
    }
    co_await reply(answer(query_zone ? query_zone->data.get() : nullptr, query));
}

struct auth_role::update_queue {
    explicit update_queue(asio::any_io_executor ex) : wake(std::move(ex)) {
        wake.expires_at(asio::steady_timer::time_point::max());  // only ever cancelled
    }
    uint64_t tickets = 0;     // taken in arrival order
    uint64_t turn = 0;        // the ticket whose UPDATE may run
    asio::steady_timer wake;  // cancelled when a turn ends
};

// RFC 2136 §3.4 for a primary zone. UPDATEs to one zone apply one at a time in arrival
// order (tickets), each against the version the one before left, so prerequisites see
// every earlier change. Building the new version (zone_data::next(), about the size of the
// change) runs on pool_, so the loop keeps answering meanwhile; the change is written to SQLite
// (record_change) before it is served and before NOERROR goes back (DESIGN.md §5). A
// version served by something else meanwhile (a reload) makes the UPDATE start over on it.
awaitable<uint16_t> auth_role::apply_update_in_turn(std::shared_ptr<zone_state> z,
                                                    const dns::message& query,
                                                    const std::optional<dns::name>& signer,
                                                    const std::string& signer_text) {
    auto& slot = update_queues_[key_of(z->settings.name)];
    if (!slot) slot = std::make_shared<update_queue>(ex_);
    std::shared_ptr<update_queue> q = slot;
    uint64_t ticket = q->tickets++;
    while (q->turn != ticket) {
        boost::system::error_code ec;
        co_await q->wake.async_wait(asio::redirect_error(use_awaitable, ec));
    }
    struct next_turn {
        update_queue& q;
        ~next_turn() {
            ++q.turn;
            q.wake.cancel();
        }
    } turn{*q};

    const std::string zone = key_of(z->settings.name);
    while (true) {
        if (z->removed || !z->data) co_return dns::rcode::NOTAUTH;
        std::shared_ptr<const zone_data> base = z->data;
        update_result r;
        try {
            r = apply_update(base->records(), z->settings.name, query, z->settings.policy, signer);
        } catch (const std::exception& e) {
            r.rcode = dns::rcode::SERVFAIL;
            r.reason = e.what();
        }
        if (r.rcode != dns::rcode::NOERROR) {
            ++counters_.updates_refused;
            log::info("update_rejected", {{"zone", zone},
                                          {"rcode", dns::rcode_to_text(r.rcode)},
                                          {"key", signer_text},
                                          {"reason", r.reason}});
            co_return r.rcode;
        }
        if (r.diff.empty()) co_return dns::rcode::NOERROR;  // nothing to change

        auto change = std::make_shared<const dns::zone_diff>(std::move(r.diff));
        std::shared_ptr<const zone_data> next;
        std::string error;
        // A named lambda: g++ 12 destroys the captures of a temporary lambda in a co_await
        // expression too early (use after free of `base` and `change`).
        auto build = [base, change]() -> awaitable<std::shared_ptr<const zone_data>> {
            co_return zone_data::next(*base, *change);
        };
        try {
            next = co_await asio::co_spawn(pool_->get_executor(), std::move(build), use_awaitable);
        } catch (const std::exception& e) {
            error = e.what();
        }
        if (z->removed) co_return dns::rcode::NOTAUTH;
        if (error.empty() && z->data != base) continue;  // changed meanwhile: evaluate again
        try {
            if (!error.empty()) throw std::runtime_error(error);
            record_change(*z, *change);
            serve(*z, std::move(next), true);
        } catch (const std::exception& e) {
            log::error("update_failed", {{"zone", zone}, {"error", e.what()}});
            co_return dns::rcode::SERVFAIL;
        }
        ++counters_.updates_ok;
        log::info("update_applied", {{"zone", zone},
                                     {"serial", z->data->serial()},
                                     {"key", signer_text},
                                     {"removed", change->removed.size()},
                                     {"added", change->added.size()}});
        co_return dns::rcode::NOERROR;
    }
}

awaitable<void> auth_role::handle_transfer_out(const net::request& req, net::responder& out,
                                               const dns::message& query,
                                               const dnssec::tsig_result* tsig,
                                               const std::string* key) {
    const auto& q = query.questions[0];
    bool ixfr = q.qtype == dns::rr_type::IXFR;
    zone_state* z = exact_zone(q.qname);
    auto refuse = [&](uint16_t rcode, const char* why) -> awaitable<void> {
        ++counters_.xfr_out_refused;
        log::warn("transfer_refused", {{"zone", q.qname.to_text()},
                                       {"client", req.client.to_string()},
                                       {"type", ixfr ? "IXFR" : "AXFR"},
                                       {"reason", why}});
        co_await out.send(encode(error_response(query, rcode), query, req.tcp, tsig));
    };
    if (!z || !z->data) co_return co_await refuse(dns::rcode::NOTAUTH, "not authoritative");
    if (!z->settings.allow_transfer.allows(req.client.address, key))
        co_return co_await refuse(dns::rcode::REFUSED, "allow-transfer");
    if (!ixfr && !req.tcp) co_return co_await refuse(dns::rcode::FORMERR, "AXFR over UDP");

    // This version, whatever happens meanwhile: the stream reads it as it goes. `z` is
    // not used after the first co_await (a reconfigure may replace it).
    std::shared_ptr<const zone_data> data = z->data;
    std::string zone_key = key_of(z->settings.name);
    std::optional<dnssec::tsig_session> session;
    if (tsig) session.emplace(dnssec::tsig_session::responder(*tsig));
    size_t max = default_xfr_message_size;
    if (!req.tcp) {
        // RFC 1995 §2: an IXFR answer over UDP fits the client's buffer (RFC 6891 §6.2.5).
        max = 512;
        if (query.opt)
            max = std::clamp<size_t>(query.opt->udp_payload_size, 512, settings_.udp_payload_size);
        max = std::min(max, out.max_size());
    }
    if (session) max -= std::min<size_t>(max / 2, 64 + 2 * dns::max_name_length);
    std::optional<xfr_stream> stream;
    std::string failure;
    uint16_t failure_rcode = dns::rcode::SERVFAIL;
    try {
        if (ixfr) {
            std::optional<uint32_t> client_serial;
            for (const auto& r : query.authority)
                if (r.type == dns::rr_type::SOA && !r.rdata.empty())
                    client_serial = soa_field(r, 0);
            if (!client_serial) throw dns::wire_error("IXFR query without the client's SOA");
            std::vector<dns::zone_diff> chain;
            bool found = false;
            // The journal may run ahead of the served version while a transfer is being
            // applied: the chain ends at the version this answer is built from.
            for (const auto& d : z->journal) {
                if (!found && d.from_serial == *client_serial) found = true;
                if (!found) continue;
                chain.push_back(d);
                if (d.to_serial == data->serial()) break;
            }
            if (!chain.empty() && chain.back().to_serial != data->serial()) chain.clear();
            stream.emplace(ixfr_stream(data->records(), chain, query, max, !req.tcp));
            ++counters_.ixfr_out;
        } else {
            stream.emplace(axfr_stream(data->records(), query, max));
            ++counters_.axfr_out;
        }
    } catch (const dns::wire_error& e) {
        failure = e.what();
        failure_rcode = dns::rcode::FORMERR;
    } catch (const std::exception& e) {
        failure = e.what();
    }
    if (!failure.empty()) {
        log::error("transfer_failed", {{"zone", q.qname.to_text()}, {"error", failure}});
        co_await out.send(encode(error_response(query, failure_rcode), query, req.tcp, tsig));
        co_return;
    }

    // RFC 5936 §2.2: each message goes out as soon as it is made, so the client reads one
    // while the next is encoded. A message is O(16 KiB) of work: between two, the loop
    // answers other queries while this coroutine waits for the write.
    size_t sent = 0;
    bool complete = false;
    try {
        while (true) {
            std::vector<uint8_t> wire;
            wire.reserve(max + (session ? 64 + 2 * dns::max_name_length : 0));
            if (!stream->next(wire)) {
                complete = true;
                break;
            }
            if (session) session->sign(wire, now());
            if (!co_await out.send(std::move(wire))) break;  // the client went away
            ++sent;
        }
    } catch (const std::exception& e) {
        failure = e.what();
    }
    if (!failure.empty()) {
        log::error("transfer_failed", {{"zone", q.qname.to_text()},
                                       {"client", req.client.to_string()},
                                       {"messages", sent},
                                       {"error", failure}});
        // Nothing sent yet: an error answer; else the stream just ends, and the client
        // sees a transfer without its final SOA.
        if (sent == 0)
            co_await out.send(
                encode(error_response(query, dns::rcode::SERVFAIL), query, req.tcp, tsig));
        co_return;
    }
    log::info("transfer_out", {{"zone", zone_key},
                               {"client", req.client.to_string()},
                               {"type", ixfr ? "IXFR" : "AXFR"},
                               {"form", stream->rcode() != dns::rcode::NOERROR ? "error"
                                        : stream->full_zone()                  ? "full"
                                        : stream->records() > 1                ? "incremental"
                                                                               : "SOA only"},
                               {"serial", data->serial()},
                               {"messages", sent},
                               {"records", stream->records()},
                               {"complete", complete},
                               {"key", key ? *key : std::string()}});
}

// --- secondary ---

awaitable<void> auth_role::refresh_loop(std::shared_ptr<zone_state> z) {
    while (!stopping_ && !z->removed) {
        bool ok = false;
        if (z->settings.sign) {
            try {
                co_await signer_maintenance(z);
            } catch (const std::exception& e) {
                z->last_error = e.what();
                log::error("signing_failed",
                           {{"zone", key_of(z->settings.name)}, {"error", e.what()}});
            }
            if (stopping_ || z->removed) break;
        }
        z->notify_pending = false;  // this refresh answers every NOTIFY so far
        try {
            ok = co_await refresh_once(z);
        } catch (const std::exception& e) {
            z->last_error = e.what();
            log::error("refresh_failed", {{"zone", key_of(z->settings.name)}, {"error", e.what()}});
        }
        if (stopping_ || z->removed) break;
        int64_t t = now();
        z->last_refresh = t;
        if (ok) z->last_success = t;
        uint32_t refresh = 3600, retry = 300, expire = 1209600;
        if (z->data) {
            refresh = soa_field(z->data->soa(), 1);
            retry = soa_field(z->data->soa(), 2);
            expire = soa_field(z->data->soa(), 3);
        }
        if (z->settings.refresh) refresh = *z->settings.refresh;
        if (z->settings.retry) retry = *z->settings.retry;
        if (z->settings.expire) expire = *z->settings.expire;
        // RFC 1035 §3.3.13: stop answering when the zone has not been refreshed for EXPIRE.
        if (z->data && z->last_success && t - *z->last_success > static_cast<int64_t>(expire)) {
            log::error("zone_expired", {{"zone", key_of(z->settings.name)}});
            z->data.reset();
        }
        uint32_t wait = ok ? refresh : (z->data ? retry : std::min<uint32_t>(retry, 10));
        if (z->settings.sign && z->next_maintenance > t)
            wait = std::min<uint32_t>(wait, static_cast<uint32_t>(z->next_maintenance - t));
        wait = std::max<uint32_t>(wait, 1);
        if (z->notify_pending) continue;  // a NOTIFY came during the refresh: go again now
        z->wake->expires_after(std::chrono::seconds(wait));
        boost::system::error_code ec;
        co_await z->wake->async_wait(asio::redirect_error(use_awaitable, ec));
    }
    z->refresh_running = false;
}

awaitable<bool> auth_role::refresh_once(std::shared_ptr<zone_state> z) {
    const auto& s = z->settings;
    std::optional<dnssec::tsig_key> key;
    if (s.transfer_key) {
        const dnssec::tsig_key* k = keyring_.find(*s.transfer_key);
        if (!k)
            throw std::runtime_error("transfer key " + s.transfer_key->to_text() +
                                     " is not configured");
        key = *k;
    }
    std::string errors;
    for (const auto& primary : s.primaries) {
        dns::message q;
        q.id = net::random_id();
        q.questions.push_back({s.name, dns::rr_type::SOA, dns::rr_class::IN});
        std::vector<uint8_t> wire;
        q.to_wire(wire);
        std::optional<dnssec::tsig_session> session;
        if (key) {
            session.emplace(*key);
            session->sign(wire, now());
        }
        net::query_options opts;
        opts.timeout = std::chrono::milliseconds(2000);
        opts.retries = 1;
        auto r = co_await net::query(ex_, primary, std::move(wire), opts);
        if (!r) {
            errors += primary.to_string() + ": " + r.error + "; ";
            continue;
        }
        if (session) {
            auto v = session->verify(r.wire, r.response, now());
            if (!v.ok()) {
                errors += primary.to_string() + ": TSIG " + v.reason + "; ";
                continue;
            }
        }
        std::optional<uint32_t> serial;
        for (const auto& rr : r.response.answer)
            if (rr.type == dns::rr_type::SOA && rr.owner == s.name && !rr.rdata.empty())
                serial = soa_field(rr, 0);
        if (r.response.rcode != dns::rcode::NOERROR || !r.response.aa || !serial) {
            errors += primary.to_string() + ": no authoritative SOA (" +
                      dns::rcode_to_text(r.response.rcode) + "); ";
            continue;
        }
        const dns::rr* have = upstream_soa(*z);
        if (have && !dns::serial_lt(soa_field(*have, 0), *serial)) {
            z->last_error.clear();
            co_return true;  // up to date
        }
        bool ok = false;
        std::string why;
        try {
            ok = co_await transfer_in(z, primary, have != nullptr);
        } catch (const std::exception& e) {
            why = e.what();
        }
        if (!ok && have) {
            // IXFR failed (not supported, journal gap handled badly, ...): fall back to AXFR.
            log::warn("ixfr_failed",
                      {{"zone", key_of(s.name)}, {"from", primary.to_string()}, {"error", why}});
            try {
                ok = co_await transfer_in(z, primary, false);
            } catch (const std::exception& e) {
                why = e.what();
            }
        }
        if (ok) {
            z->last_error.clear();
            ++counters_.xfr_in_ok;
            co_return true;
        }
        ++counters_.xfr_in_failed;
        errors += primary.to_string() + ": transfer failed: " + why + "; ";
    }
    if (errors.size() >= 2) errors.resize(errors.size() - 2);
    z->last_error = errors;
    log::warn("refresh_failed", {{"zone", key_of(s.name)}, {"error", errors}});
    co_return false;
}

// Locals in coroutines have unique names: g++ 12 can give same-named variables of
// different scopes one frame slot (a use-after-free seen with two `base` shared_ptrs).
awaitable<bool> auth_role::transfer_in(std::shared_ptr<zone_state> z, const net::peer& primary,
                                       bool incremental) {
    const auto& s = z->settings;
    dns::message q;
    q.id = net::random_id();
    uint16_t qtype = incremental ? dns::rr_type::IXFR : dns::rr_type::AXFR;
    q.questions.push_back({s.name, qtype, dns::rr_class::IN});
    std::optional<uint32_t> ours;
    if (const dns::rr* have = upstream_soa(*z); incremental && have) {
        q.authority.push_back(*have);
        ours = soa_field(*have, 0);
    }
    std::vector<uint8_t> wire;
    q.to_wire(wire);
    std::optional<dnssec::tsig_session> session;
    if (s.transfer_key) {
        const dnssec::tsig_key* k = keyring_.find(*s.transfer_key);
        if (!k) throw std::runtime_error("transfer key is not configured");
        session.emplace(*k);
        session->sign(wire, now());
    }
    xfr_receiver receiver(s.name, qtype, ours, q.id);
    receiver.leave_unsorted();  // sorted on pool_ below, not while the loop reads messages
    std::string error;
    auto result = co_await net::transfer(
        ex_, primary, std::move(wire), net::transfer_options{},
        [&](std::span<const uint8_t> raw, const dns::message& m) {
            try {
                if (session) {
                    auto v = session->verify(raw, m, now());
                    if (!v.ok() && v.status != dnssec::tsig_status::unsigned_message)
                        throw std::runtime_error("TSIG: " + v.reason);
                }
                receiver.feed(m);
                return !receiver.done();
            } catch (const std::exception& e) {
                error = e.what();
                return false;
            }
        });
    if (!error.empty()) throw std::runtime_error(error);
    if (!result) throw std::runtime_error(result.error);
    receiver.finish();
    if (session && !session->complete())
        throw std::runtime_error("TSIG: the last message was not signed");
    if (z->removed || stopping_) co_return false;
    std::string how = std::string(incremental ? "IXFR" : "AXFR") + " from " + primary.to_string();
    switch (receiver.result()) {
        case xfr_receiver::kind::up_to_date:
            co_return true;
        case xfr_receiver::kind::axfr: {
            uint32_t serial = receiver.serial();
            auto axfr_records = std::make_shared<dns::record_store>(receiver.take_zone());
            auto sort_task = [axfr_records]() -> awaitable<void> {
                axfr_records->sort();
                co_return;
            };
            co_await asio::co_spawn(pool_->get_executor(), std::move(sort_task), use_awaitable);
            if (z->removed || stopping_) co_return false;
            if (s.combine || s.sign) {
                owner_zone_db_->save_full(s.name, *axfr_records, serial);
                set_owner(*z, std::move(*axfr_records));
                // A whole new owner copy, perhaps with the serial it had (a forced
                // transfer): combine all of it, not only the apex.
                z->combined_from.reset();
                if (s.sign)
                    co_await resign(z, nullptr);
                else
                    co_await recombine_off_loop(z);
                break;
            }
            zone_db_->save_full(s.name, *axfr_records, serial);
            z->journal.clear();
            if (auto recent = zone_db_->journal_since(s.name, serial))
                z->journal.assign(recent->begin(), recent->end());
            dns::name axfr_origin = s.name;
            auto axfr_data_task =
                [records = axfr_records,
                 origin = axfr_origin]() -> awaitable<std::shared_ptr<const zone_data>> {
                co_return std::make_shared<const zone_data>(std::move(*records), origin);
            };
            auto axfr_data = co_await asio::co_spawn(pool_->get_executor(),
                                                     std::move(axfr_data_task), use_awaitable);
            serve(*z, std::move(axfr_data), false);
            break;
        }
        case xfr_receiver::kind::ixfr: {
            // Every difference is in SQLite before any is served: killed half way, a restart
            // serves a complete version and the next refresh fetches the rest.
            auto diffs = std::make_shared<std::vector<dns::zone_diff>>(receiver.take_diffs());
            if (diffs->empty()) co_return true;
            if (s.combine || s.sign) {
                co_await owner_ixfr(z, diffs);
                break;
            }
            for (const auto& d : *diffs)
                record_change(*z, d);
            std::shared_ptr<const zone_data> served_before = z->data;
            auto ixfr_data_task = [base = served_before,
                                   diffs]() -> awaitable<std::shared_ptr<const zone_data>> {
                std::shared_ptr<const zone_data> version = base;
                for (const auto& d : *diffs)
                    version = zone_data::next(*version, d);
                co_return version;
            };
            auto ixfr_data = co_await asio::co_spawn(pool_->get_executor(),
                                                     std::move(ixfr_data_task), use_awaitable);
            serve(*z, std::move(ixfr_data), true);
            break;
        }
        case xfr_receiver::kind::none:
            throw std::runtime_error("transfer ended early");
    }
    ++z->transfers_in;
    if (!z->data) throw std::runtime_error("nothing to serve after the transfer");
    z->last_transfer = how + " serial " + std::to_string(soa_field(*upstream_soa(*z), 0));
    log::info("transfer_in", {{"zone", key_of(s.name)},
                              {"type", incremental ? "IXFR" : "AXFR"},
                              {"from", primary.to_string()},
                              {"serial", z->data->serial()},
                              {"records", receiver.records()},
                              {"messages", receiver.messages()}});
    co_return true;
}

// --- management ---

roles::zone_status auth_role::status_of(const zone_state& z) const {
    roles::zone_status st;
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
    if (z.settings.combine) {
        st.kind = "combiner";
        st.details["owner serial"] =
            z.owner_soa ? std::to_string(soa_field(*z.owner_soa, 0)) : std::string("-");
        st.details["served serial"] = z.data ? std::to_string(z.data->serial()) : "-";
        st.details["NS managed by"] =
            z.owner &&
                    combiner::ns_management(*z.owner, z.settings.name) == combiner::ns_mgmt::agent
                ? "agent"
                : "owner";
        for (uint16_t type : combiner::agent_types) {
            auto it = z.agent.rrsets.find(type);
            std::string v = "-";
            if (it != z.agent.rrsets.end())
                v = std::to_string(it->second.records.size()) + " records, changed " +
                    utc_text(it->second.changed_at) + " by " + it->second.changed_by;
            st.details["agent " + dns::type_to_text(type)] = v;
        }
    }
    if (z.settings.sign) add_sign_details(z, st);
    if (!z.settings.notify.empty()) {
        std::string n;
        for (const auto& p : z.settings.notify)
            n += (n.empty() ? "" : ", ") + p.to_string();
        st.details["notify"] = n;
    }
    return st;
}

std::vector<roles::zone_status> auth_role::zones() const {
    std::vector<roles::zone_status> out;
    for (const auto& [name, z] : zones_)
        if (!z->removed) out.push_back(status_of(*z));
    return out;
}

std::optional<roles::zone_status> auth_role::zone(const std::string& name) const {
    dns::name root;
    try {
        if (zone_state* z = exact_zone(dns::name::from_text(name, &root))) return status_of(*z);
    } catch (const std::exception&) {
    }
    return std::nullopt;
}

std::string auth_role::reload_zone(const std::string& name) {
    dns::name root;
    zone_state* z = nullptr;
    try {
        z = exact_zone(dns::name::from_text(name, &root));
    } catch (const std::exception& e) {
        return e.what();
    }
    if (!z) return "no such zone: " + name;
    if (z->settings.secondary) {
        if (z->wake) z->wake->cancel();
        return {};
    }
    std::string error = load_primary(*z, false);
    if (!error.empty())
        log::error("zone_reload_failed", {{"zone", key_of(z->settings.name)}, {"error", error}});
    return error;
}

std::string auth_role::notify_zone(const std::string& name) {
    dns::name root;
    zone_state* z = nullptr;
    try {
        z = exact_zone(dns::name::from_text(name, &root));
    } catch (const std::exception& e) {
        return e.what();
    }
    if (!z) return "no such zone: " + name;
    if (!z->data) return "zone " + name + " is not loaded";
    if (z->settings.notify.empty()) return "zone " + name + " has no notify targets";
    send_notifies(*z);
    return {};
}

std::string auth_role::reconfigure(auth_settings settings) {
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
            auto z = std::make_shared<zone_state>();
            z->settings = *zs;
            zones_[name] = z;
            start_zone(z);
            log::info("zone_added", {{"zone", name}});
            continue;
        }
        auto& z = *it->second;
        bool kind_changed = z.settings.secondary != zs->secondary;
        // A new policy (algorithm, NSEC3, ...) needs a new signing of the whole zone.
        if (z.settings.sign && zs->sign && !(*z.settings.sign == *zs->sign)) z.resign_full = true;
        z.settings = *zs;
        if (kind_changed)
            log::warn("zone_kind_changed",
                      {{"zone", name}, {"note", "takes effect after a restart"}});
        if (!z.settings.secondary) {
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

std::vector<roles::metric> auth_role::metrics() const {
    std::vector<roles::metric> m;
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

// --- combine mode (docs/combiner.md) ---

const dns::rr* auth_role::upstream_soa(const zone_state& z) const {
    if (z.settings.combine || z.settings.sign) return z.owner_soa ? &*z.owner_soa : nullptr;
    return z.data ? &z.data->soa() : nullptr;
}

void auth_role::set_owner(zone_state& z, dns::record_store owner) {
    auto soa = find_soa(owner);
    if (!soa) throw std::runtime_error("the owner's zone has no SOA");
    z.owner_soa = owner[*soa].to_rr();
    z.owner = std::make_shared<const dns::record_store>(std::move(owner));
}

void auth_role::load_combiner(zone_state& z) {
    const auto& s = z.settings;
    try {
        if (auto text = kv_->get(agent_ns, key_of(s.name)))
            z.agent = combiner::decode_agent_data(*text, s.name);
        if (auto stored = owner_zone_db_->load(s.name)) {
            dns::record_store records = std::move(stored->base);
            for (const auto& d : stored->pending)
                records = apply(records, d);
            set_owner(z, std::move(records));
        }
        // A crash between the owner's copy (or the agent data) and the served zone being
        // written: the content differs and a new serial is served; otherwise nothing.
        if (z.owner) recombine(z, true);
    } catch (const std::exception& e) {
        z.last_error = std::string("combiner state unusable: ") + e.what();
        log::error("zone_load_failed", {{"zone", key_of(s.name)}, {"error", z.last_error}});
    }
}

void auth_role::recombine(zone_state& z, bool at_start) {
    if (!z.owner || !z.owner_soa) return;
    const auto& name = z.settings.name;
    uint32_t owner_serial = soa_field(*z.owner_soa, 0);
    // The last served serial survives in the served zone's database row even when the
    // zone expired from memory.
    std::optional<uint32_t> last =
        z.data ? std::optional<uint32_t>(z.data->serial()) : zone_db_->serial(name);
    if (at_start && z.data) {
        dns::record_store same = combiner::combine(*z.owner, z.agent, name, *last);
        if (diff(z.data->records(), same).empty()) {
            z.combined_from = owner_serial;
            return;
        }
    }
    uint32_t serial = last ? combiner::next_serial(*last, owner_serial) : owner_serial;
    if (!at_start && z.data && z.combined_from == owner_serial) {
        // Served from this owner version: only the agent data changed, and all it reaches
        // is the apex. Combine the apex alone and serve the difference (O(apex)).
        auto apex_of = [&](const dns::record_store& zone) {
            dns::record_store apex;
            auto [first, end] = owner_range(zone, name);
            for (size_t i = first; i < end; ++i)
                apex.add(zone[i]);
            return apex;
        };
        dns::record_store apex = combiner::combine(apex_of(*z.owner), z.agent, name, serial);
        dns::zone_diff change = diff(apex_of(z.data->records()), apex);
        ++counters_.combines;
        if (change.empty()) return;
        auto next = zone_data::next(*z.data, change);
        record_change(z, change);
        serve(z, std::move(next), true);
        log::info("combined", {{"zone", key_of(name)},
                               {"mode", "apex"},
                               {"owner_serial", owner_serial},
                               {"serial", serial},
                               {"changes", change.removed.size() + change.added.size()},
                               {"records", z.data->records().size()}});
        return;
    }
    dns::record_store combined = combiner::combine(*z.owner, z.agent, name, serial);
    ++counters_.combines;
    // A zone-sized change is stored as a new base, without building its difference.
    if (z.data && !size_jump(combined.size(), z.data->records().size())) {
        dns::zone_diff change = diff(z.data->records(), combined);
        z.combined_from = owner_serial;
        if (change.empty()) return;
        commit(z, std::move(combined), &change);
    } else {
        zone_db_->save_full(name, combined, serial, store::zone_db::journal_mode::truncate);
        z.journal.clear();
        commit(z, std::move(combined), nullptr);
    }
    z.combined_from = owner_serial;
    log::info("combined", {{"zone", key_of(name)},
                           {"mode", "full"},
                           {"owner_serial", owner_serial},
                           {"serial", serial},
                           {"records", z.data->records().size()}});
}

awaitable<void> auth_role::recombine_off_loop(std::shared_ptr<zone_state> z) {
    if (!z->owner || !z->owner_soa) co_return;
    const auto& name = z->settings.name;
    const uint32_t owner_serial = soa_field(*z->owner_soa, 0);
    if (z->data && z->combined_from == owner_serial) {  // agent data only: the apex, cheap
        recombine(*z);
        co_return;
    }
    std::optional<uint32_t> last =
        z->data ? std::optional<uint32_t>(z->data->serial()) : zone_db_->serial(name);
    const uint32_t serial = last ? combiner::next_serial(*last, owner_serial) : owner_serial;
    struct outcome {
        dns::record_store combined;
        std::optional<dns::zone_diff> change;  // none: no served zone, or zone-sized
        std::shared_ptr<const zone_data> data;
    };
    auto owner = z->owner;
    auto agent = std::make_shared<const combiner::agent_data>(z->agent);
    auto base = z->data;
    dns::name origin = name;
    // Combining, the difference and the index of a large zone take a while: on pool_.
    auto combine_task = [owner, agent, base, origin,
                         serial]() -> awaitable<std::shared_ptr<outcome>> {
        auto out = std::make_shared<outcome>();
        out->combined = combiner::combine(*owner, *agent, origin, serial);
        if (base && !size_jump(out->combined.size(), base->records().size())) {
            out->change = diff(base->records(), out->combined);
            if (out->change->empty()) co_return out;
            if (zone_sized(*out->change, out->combined.size())) out->change.reset();
        }
        out->data = std::make_shared<const zone_data>(out->combined, origin);
        co_return out;
    };
    auto out =
        co_await asio::co_spawn(pool_->get_executor(), std::move(combine_task), use_awaitable);
    if (z->removed || stopping_) co_return;
    if (z->data != base || z->owner != owner || !(z->agent == *agent)) {
        recombine(*z);  // something moved meanwhile: do it again from what is there now
        co_return;
    }
    ++counters_.combines;
    z->combined_from = owner_serial;
    if (!out->data) co_return;  // nothing changed
    if (out->change) {
        record_change(*z, *out->change);
    } else {
        zone_db_->save_full(name, out->combined, serial, store::zone_db::journal_mode::truncate);
        z->journal.clear();
    }
    serve(*z, std::move(out->data), out->change.has_value());
    log::info("combined", {{"zone", key_of(name)},
                           {"mode", "full"},
                           {"owner_serial", owner_serial},
                           {"serial", serial},
                           {"records", z->data->records().size()}});
}

awaitable<void> auth_role::owner_ixfr(std::shared_ptr<zone_state> z,
                                      std::shared_ptr<std::vector<dns::zone_diff>> diffs) {
    const auto& s = z->settings;
    if (!z->owner) throw std::runtime_error("IXFR without an owner copy");
    for (const auto& d : *diffs)
        owner_zone_db_->append_diff(s.name, d);
    std::shared_ptr<const dns::record_store> owner_before = z->owner;
    const uint32_t before = soa_field(*z->owner_soa, 0);
    auto owner_after_task = [owner_before,
                             diffs]() -> awaitable<std::shared_ptr<dns::record_store>> {
        auto out = std::make_shared<dns::record_store>(apply(*owner_before, diffs->front()));
        for (size_t i = 1; i < diffs->size(); ++i)
            *out = apply(*out, (*diffs)[i]);
        co_return out;
    };
    auto owner_after =
        co_await asio::co_spawn(pool_->get_executor(), std::move(owner_after_task), use_awaitable);
    set_owner(*z, std::move(*owner_after));
    std::shared_ptr<std::vector<dns::name>> names;
    // Incremental signing only from the unsigned version the served zone was signed from
    // (after a refused version: in full).
    if (s.sign && z->signed_from && *z->signed_from == before) {
        names = std::make_shared<std::vector<dns::name>>();
        for (const auto& d : *diffs)
            for (const auto* list : {&d.removed, &d.added})
                for (const auto& r : *list)
                    names->push_back(r.owner);
    }
    if (s.sign)
        co_await resign(z, std::move(names));
    else
        co_await recombine_change(z, std::move(owner_before), before, std::move(diffs));
}

awaitable<void> auth_role::recombine_change(std::shared_ptr<zone_state> z,
                                            std::shared_ptr<const dns::record_store> owner_before,
                                            uint32_t before,
                                            std::shared_ptr<std::vector<dns::zone_diff>> diffs) {
    const auto& name = z->settings.name;
    // Only from the owner version the served zone was combined from.
    if (!z->data || !z->combined_from || *z->combined_from != before) {
        co_await recombine_off_loop(z);
        co_return;
    }
    dns::zone_diff owner_change = diffs->size() == 1 ? diffs->front() : condense(*diffs);
    uint32_t owner_serial = soa_field(*z->owner_soa, 0);
    uint32_t serial = combiner::next_serial(z->data->serial(), owner_serial);
    auto change = combiner::combine_change(owner_change, *owner_before, z->agent, name,
                                           z->data->soa(), serial);
    if (!change) {  // the HSYNC RRset changed: NS management may have flipped
        co_await recombine_off_loop(z);
        co_return;
    }
    auto shared_change = std::make_shared<const dns::zone_diff>(std::move(*change));
    std::shared_ptr<const zone_data> base = z->data;
    auto data_task = [base, shared_change]() -> awaitable<std::shared_ptr<const zone_data>> {
        co_return zone_data::next(*base, *shared_change);
    };
    auto data = co_await asio::co_spawn(pool_->get_executor(), std::move(data_task), use_awaitable);
    if (z->removed || stopping_) co_return;
    if (z->data != base) {  // an agent UPDATE was combined meanwhile: start from that
        co_await recombine_off_loop(z);
        co_return;
    }
    record_change(*z, *shared_change);
    serve(*z, std::move(data), true);
    z->combined_from = owner_serial;
    ++counters_.combines;
    log::info("combined", {{"zone", key_of(name)},
                           {"mode", "incremental"},
                           {"owner_serial", owner_serial},
                           {"serial", serial},
                           {"changes", shared_change->removed.size() + shared_change->added.size()},
                           {"records", z->data->records().size()}});
}

uint16_t auth_role::agent_update(zone_state& z, const dns::message& query, const std::string* key,
                                 const asio::ip::address& client, std::string& reason) {
    const std::string zone = key_of(z.settings.name);
    auto rejected = [&](uint16_t rcode, std::string why) {
        ++counters_.updates_refused;
        reason = std::move(why);
        log::warn("update_refused", {{"zone", zone},
                                     {"client", client.to_string()},
                                     {"key", key ? *key : std::string()},
                                     {"rcode", dns::rcode_to_text(rcode)},
                                     {"reason", reason}});
        return rcode;
    };
    // Agents authenticate with TSIG only (DESIGN.md §4), and the key must be allowed.
    if (!key) return rejected(dns::rcode::REFUSED, "UPDATE without TSIG");
    if (!z.settings.allow_update.allows(client, key))
        return rejected(dns::rcode::REFUSED, "allow-update");
    dns::name root;
    combiner::agent_update_result r;
    try {
        r = combiner::apply_agent_update(z.agent, z.settings.name, query,
                                         dns::name::from_text(*key, &root), now());
    } catch (const std::exception& e) {
        return rejected(dns::rcode::SERVFAIL, e.what());
    }
    if (r.rcode != dns::rcode::NOERROR) return rejected(r.rcode, r.reason);
    if (!r.changed) return dns::rcode::NOERROR;
    try {
        // Durable before it is acted on or answered (DESIGN.md §5).
        kv_->set(agent_ns, zone, combiner::encode_agent_data(r.data));
    } catch (const std::exception& e) {
        return rejected(dns::rcode::SERVFAIL, std::string("storing agent data: ") + e.what());
    }
    z.agent = std::move(r.data);
    ++counters_.updates_ok;
    log::info("agent_data_changed", {{"zone", zone}, {"key", *key}});
    try {
        recombine(z);
    } catch (const std::exception& e) {
        // Stored: the next owner transfer or restart combines it.
        z.last_error = std::string("combining: ") + e.what();
        log::error("combine_failed", {{"zone", zone}, {"error", e.what()}});
    }
    return dns::rcode::NOERROR;
}

std::optional<std::string> auth_role::zone_data_json(const std::string& name) const {
    dns::name root;
    zone_state* z = nullptr;
    try {
        z = exact_zone(dns::name::from_text(name, &root));
    } catch (const std::exception&) {
        return std::nullopt;
    }
    if (z && z->settings.sign) return sign_status_json(*z);
    if (!z || !z->settings.combine) return std::nullopt;
    std::string out = "{\"zone\":";
    json_string(out, key_of(z->settings.name));
    out += ",\"owner_serial\":";
    out += z->owner_soa ? std::to_string(soa_field(*z->owner_soa, 0)) : "null";
    out += ",\"served_serial\":";
    out += z->data ? std::to_string(z->data->serial()) : "null";
    out += ",\"ns_management\":";
    bool agent_ns = z->owner && combiner::ns_management(*z->owner, z->settings.name) ==
                                    combiner::ns_mgmt::agent;
    out += agent_ns ? "\"AGENT\"" : "\"OWNER\"";
    out += ",\"rrsets\":[";
    bool first = true;
    for (const auto& [type, set] : z->agent.rrsets) {
        if (!first) out += ",";
        first = false;
        out += "{\"type\":";
        json_string(out, dns::type_to_text(type));
        out += ",\"changed_at\":" + std::to_string(set.changed_at) + ",\"changed_at_text\":";
        json_string(out, utc_text(set.changed_at));
        out += ",\"changed_by\":";
        json_string(out, set.changed_by);
        out += ",\"applied\":";
        out += type != dns::rr_type::NS || (agent_ns && !set.records.empty()) ? "true" : "false";
        out += ",\"records\":[";
        for (size_t i = 0; i < set.records.size(); ++i) {
            if (i) out += ",";
            json_string(out, set.records[i].to_text());
        }
        out += "]}";
    }
    out += "]}";
    return out;
}

}  // namespace hsync::auth
