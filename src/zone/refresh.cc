// A secondary zone's refresh (RFC 1035 §3.3.13 timers, RFC 1996 NOTIFY) and its transfers
// in (AXFR, IXFR with AXFR fallback, TSIG): into the served zone, or into the upstream
// copy when the role's stage keeps one.
#include "dns/message.h"
#include "zone/engine.h"
#include "zone/journal.h"
#include "zone/log.h"
#include "zone/text.h"
#include "zone/xfr.h"

namespace hsync::zone {

namespace asio = net::asio;
using net::awaitable;
using net::use_awaitable;

awaitable<void> engine::refresh_loop(std::shared_ptr<served_zone> z) {
    while (!stopping_ && !z->removed) {
        bool ok = false;
        co_await stage_.maintain(z);  // the role's timers (the signer's keys and signatures)
        if (stopping_ || z->removed) break;
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
        if (auto next = stage_.next_maintenance(*z); next && *next > t)
            wait = std::min<uint32_t>(wait, static_cast<uint32_t>(*next - t));
        wait = std::max<uint32_t>(wait, 1);
        if (z->notify_pending) continue;  // a NOTIFY came during the refresh: go again now
        z->wake->expires_after(std::chrono::seconds(wait));
        boost::system::error_code ec;
        co_await z->wake->async_wait(asio::redirect_error(use_awaitable, ec));
    }
    z->refresh_running = false;
}

awaitable<bool> engine::refresh_once(std::shared_ptr<served_zone> z) {
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
awaitable<bool> engine::transfer_in(std::shared_ptr<served_zone> z, const net::peer& primary,
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
            if (stage_.keeps_upstream()) {
                upstream_zone_db_->save_full(s.name, *axfr_records, serial);
                set_upstream(*z, std::move(*axfr_records));
                co_await stage_.upstream_changed(z, nullptr);
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
            if (stage_.keeps_upstream()) {
                co_await upstream_ixfr_in(z, diffs);
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

// An IXFR into the upstream copy: the differences stored first, applied on the pool, then
// the stage makes the served zone from the new copy.
awaitable<void> engine::upstream_ixfr_in(std::shared_ptr<served_zone> z,
                                         std::shared_ptr<std::vector<dns::zone_diff>> diffs) {
    if (!z->upstream) throw std::runtime_error("IXFR without an upstream copy");
    for (const auto& d : *diffs)
        upstream_zone_db_->append_diff(z->settings.name, d);
    upstream_ixfr change;
    change.before = z->upstream;
    change.before_serial = soa_field(*z->upstream_soa, 0);
    change.diffs = diffs;
    auto apply_diffs = [before = change.before, diffs] {
        dns::record_store out = apply(*before, diffs->front());
        for (size_t i = 1; i < diffs->size(); ++i)
            out = apply(out, (*diffs)[i]);
        return std::make_shared<dns::record_store>(std::move(out));
    };
    auto after = co_await off_loop(std::move(apply_diffs));
    set_upstream(*z, std::move(*after));
    co_await stage_.upstream_changed(z, &change);
}

}  // namespace hsync::zone
