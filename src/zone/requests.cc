// The engine's requests: queries, NOTIFY in, UPDATE (RFC 2136, in turn per zone) and
// zone transfers out (AXFR, IXFR).
#include <algorithm>

#include "dns/error.h"
#include "dns/message.h"
#include "dnssec/sig0.h"
#include "zone/answer.h"
#include "zone/engine.h"
#include "zone/journal.h"
#include "zone/log.h"
#include "zone/text.h"
#include "zone/xfr.h"

namespace hsync::zone {

namespace asio = net::asio;
using net::awaitable;
using net::use_awaitable;

namespace {

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

// The SIG(0) signer of an UPDATE if its KEY is in the zone and the signature verifies.
std::optional<dns::name> sig0_signer(const served_zone& z, const net::request& req,
                                     const dns::message& query, int64_t now) {
    dns::rr sig = *query.sig0;
    dns::wire_reader rd(sig.rdata);
    rd.skip(18);
    dns::name signer_name = rd.read_name(false);
    auto node = z.data->find(signer_name);
    std::string why = "no KEY record at " + signer_name.to_text();
    if (node != zone_data::npos) {
        auto range = z.data->rrset(node, dns::rr_type::KEY);
        for (uint32_t i = range.first; i < range.end; ++i) {
            auto rec = z.data->records()[i];
            try {
                auto res = dnssec::sig0_verify(req.wire, query, signer_name, rec.rdata, now);
                if (res.ok()) return signer_name.canonical();
                why = res.reason;
            } catch (const std::exception& e) {
                why = e.what();
            }
        }
    }
    log::warn(
        "sig0_failed",
        {{"zone", key_of(z.settings.name)}, {"signer", signer_name.to_text()}, {"reason", why}});
    return std::nullopt;
}

}  // namespace

std::vector<uint8_t> engine::encode(const dns::message& response, const dns::message& query,
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

awaitable<void> engine::handle(const net::request& req, net::responder& out) {
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
    if (auto taken = stage_.take_request(req, query)) {
        if (!taken->empty()) co_await out.send(std::move(*taken));
        co_return;
    }

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

    auto reply = [&](const dns::message& response) -> awaitable<void> {
        if (response.rcode < counters_.responses.size()) ++counters_.responses[response.rcode];
        co_await out.send(encode(response, query, req.tcp, tp));
    };

    if (query.opcode == dns::opcode::NOTIFY) {
        dns::message notify_resp = make_response(query);
        co_await handle_notify(req, query, key, notify_resp);
        co_await reply(notify_resp);
        co_return;
    }
    if (query.opcode == dns::opcode::UPDATE) {
        dns::message update_resp = make_response(query);
        co_await handle_update(req, query, tp, key, update_resp);
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
    served_zone* query_zone = find_zone(query.questions[0].qname);
    if (query_zone && !query_zone->data) {
        co_await reply(error_response(query, dns::rcode::SERVFAIL));
        co_return;
    }
    co_await reply(answer(query_zone ? query_zone->data.get() : nullptr, query));
}

awaitable<void> engine::handle_notify(const net::request& req, const dns::message& query,
                                      const std::string* key, dns::message& response) {
    ++counters_.notify_in;
    if (auto taken = stage_.notify(req, query, key)) {
        response.rcode = *taken;
        response.aa = *taken == dns::rcode::NOERROR;
        co_return;
    }
    served_zone* z = query.questions.size() == 1 ? exact_zone(query.questions[0].qname) : nullptr;
    if (query.questions.size() != 1) {
        response.rcode = dns::rcode::FORMERR;
    } else if (!z || !z->settings.secondary) {
        response.rcode = dns::rcode::NOTAUTH;
    } else if (!z->settings.allow_notify.allows(req.client.address, key)) {
        log::warn("notify_refused",
                  {{"zone", key_of(z->settings.name)}, {"client", req.client.to_string()}});
        response.rcode = dns::rcode::REFUSED;
    } else {
        response.aa = true;
        log::info("notify_received",
                  {{"zone", key_of(z->settings.name)}, {"client", req.client.to_string()}});
        // Refresh now (RFC 1996 §3.11); a refresh already running goes again after it.
        z->notify_pending = true;
        if (z->wake) z->wake->cancel();
    }
    co_return;
}

awaitable<void> engine::handle_update(const net::request& req, const dns::message& query,
                                      const dnssec::tsig_result* tsig, const std::string* key,
                                      dns::message& response) {
    served_zone* z = query.questions.size() == 1 ? exact_zone(query.questions[0].qname) : nullptr;
    if (query.questions.size() != 1 || query.questions[0].qtype != dns::rr_type::SOA) {
        response.rcode = dns::rcode::FORMERR;
        co_return;
    }
    if (z) {
        if (auto taken = stage_.update(*z, query, key, req.client.address)) {
            response.rcode = taken->rcode;
            if (taken->rcode != dns::rcode::NOERROR)
                ++counters_.updates_refused;
            else if (taken->changed)
                ++counters_.updates_ok;
            co_return;
        }
    }
    if (!z || !z->data) {
        response.rcode = dns::rcode::NOTAUTH;
        co_return;
    }
    if (z->settings.secondary) {
        response.rcode = dns::rcode::NOTIMP;  // no forwarding: updates go to the primary
        co_return;
    }
    std::optional<dns::name> signer;
    if (tsig) signer = tsig->key_name.canonical();
    // SIG(0): the signer's KEY must be in the zone, and the policy names it.
    if (!tsig && query.sig0) signer = sig0_signer(*z, req, query, now());
    std::string signer_text = signer ? signer->to_text() : std::string();
    if (!z->settings.allow_update.allows(req.client.address, signer ? &signer_text : nullptr)) {
        response.rcode = dns::rcode::REFUSED;
        log::warn("update_refused", {{"zone", key_of(z->settings.name)},
                                     {"client", req.client.to_string()},
                                     {"key", signer_text},
                                     {"reason", "allow-update"}});
        co_return;
    }
    // Held: `z` may be replaced by a reconfigure while this waits.
    response.rcode = co_await apply_update_in_turn(shared(*z), query, signer, signer_text);
}

struct engine::update_queue {
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
// change) runs on pool_, so the loop keeps answering meanwhile; the change is written to
// SQLite (record_change) before it is served and before NOERROR goes back. A version
// served by something else meanwhile (a reload) makes the UPDATE start over on it.
awaitable<uint16_t> engine::apply_update_in_turn(std::shared_ptr<served_zone> z,
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
        try {
            auto build = [base, change] { return zone_data::next(*base, *change); };
            next = co_await off_loop(std::move(build));
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

awaitable<void> engine::handle_transfer_out(const net::request& req, net::responder& out,
                                            const dns::message& query,
                                            const dnssec::tsig_result* tsig,
                                            const std::string* key) {
    const auto& q = query.questions[0];
    bool ixfr = q.qtype == dns::rr_type::IXFR;
    served_zone* z = exact_zone(q.qname);
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

}  // namespace hsync::zone
