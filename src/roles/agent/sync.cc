// Synchronization and the multi-signer processes of the agent (docs/agent.md "Processes").
//
// Per zone, one pass (sync_zone) at a time:
//   1. our own data from our signer's zone, the peers' from their identity zones
//      (validated lookups, again when they announce a change or their TTL runs out);
//   2. the process the HSYNC RRset asks for (process.h), started, or wound back when the
//      RRset changed under it; stored before anything is done;
//   3. the current step: UPDATE to our combiner until our signer serves the step's data,
//      or a wait on the parent's nameservers or on a TTL;
//   4. our report to the other agents when it changed, and the next step once every
//      signing agent has finished this one (peer), or when the leader says so
//      (leader/follower).
#include <algorithm>

#include "dns/error.h"
#include "dns/rdata.h"
#include "dnssec/tsig.h"
#include "net/client.h"
#include "roles/agent/agent_role.h"
#include "roles/agent/messages.h"
#include "zone/log.h"
#include "zone/text.h"

namespace hsync::agent {

namespace asio = net::asio;
using net::awaitable;
using zone::key_of;

namespace {

// One value per zone for the process and the group, so that both change in one SQLite
// statement: "members=<names>\ncompleted=<id>\n<zone_process::to_text()>".
constexpr std::string_view process_ns = "agent-process";
constexpr std::string_view leader_ns = "agent-leader";

std::string join_names(const std::vector<dns::name>& v) {
    std::string out;
    for (const auto& n : v)
        out += (out.empty() ? "" : ",") + n.to_text();
    return out;
}

std::vector<dns::name> split_names(const std::string& text) {
    std::vector<dns::name> out;
    size_t at = 0;
    while (at < text.size()) {
        size_t comma = text.find(',', at);
        if (comma == std::string::npos) comma = text.size();
        try {
            out.push_back(dns::name::from_text(text.substr(at, comma - at)));
        } catch (const dns::dns_error&) {
        }
        at = comma + 1;
    }
    return out;
}

// "<zone>.<identity>": where an agent publishes its data for a zone.
dns::name data_name(const dns::name& zone, const dns::name& identity) {
    return zone.is_root() ? identity : dns::name::from_text(zone.to_text() + identity.to_text());
}

std::vector<dns::rr> apex_rrs(const zone::zone_data& d) {
    std::vector<dns::rr> out;
    auto node = d.find(d.origin());
    if (node == zone::zone_data::npos) return out;
    for (uint16_t type : {dns::rr_type::SOA, dns::rr_type::DNSKEY, dns::rr_type::CDS,
                          dns::rr_type::NS, dns::rr_type::CSYNC}) {
        auto range = d.rrset(node, type);
        for (uint32_t i = range.first; i < range.end; ++i)
            out.push_back(d.records()[i].to_rr());
    }
    return out;
}

std::set<uint8_t> algorithms(const provider_data& d) {
    std::set<uint8_t> out;
    for (const auto& k : d.dnskeys)
        if (k.size() > 3) out.insert(k[3]);
    return out;
}

std::string algorithms_text(const std::set<uint8_t>& a) {
    std::string out;
    for (auto x : a)
        out += (out.empty() ? "" : ",") + std::to_string(x);
    return out.empty() ? "none" : out;
}

bool relation_up(peer_state s) {
    return s == peer_state::operational || s == peer_state::degraded ||
           s == peer_state::interrupted;
}

bool contains(const std::vector<dns::name>& v, const dns::name& n) {
    return std::find(v.begin(), v.end(), n) != v.end();
}

}  // namespace

// --- stored state ---

void agent_role::load_sync_state(agent_zone& az) {
    if (az.sync_loaded) return;
    az.sync_loaded = true;
    auto& kv = engine_.kv();
    std::string zk = key_of(az.name);
    if (auto text = kv.get(process_ns, zk)) {
        std::string_view rest = *text;
        auto line = [&](std::string_view key) -> std::optional<std::string> {
            if (rest.substr(0, key.size()) != key) return std::nullopt;
            size_t nl = rest.find('\n');
            std::string v(
                rest.substr(key.size(), nl == std::string_view::npos ? nl : nl - key.size()));
            rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
            return v;
        };
        if (auto m = line("members=")) az.members = split_names(*m);
        if (auto c = line("completed="))
            az.completed_id = static_cast<uint32_t>(std::strtoul(c->c_str(), nullptr, 10));
        try {
            az.process = zone_process::from_text(rest);
        } catch (const std::exception& e) {
            log::warn("agent_process_unreadable", {{"zone", zk}, {"error", e.what()}});
        }
    }
    if (auto text = kv.get(leader_ns, zk)) {
        unsigned long seen = 0, term = 0;
        char who[256] = {};
        if (std::sscanf(text->c_str(), "%lu %lu %255s", &seen, &term, who) >= 2) {
            az.term_seen = static_cast<uint32_t>(seen);
            az.leader_term = static_cast<uint32_t>(term);
            if (who[0]) {
                try {
                    az.leader = dns::name::from_text(who);
                } catch (const dns::dns_error&) {
                }
            }
        }
    }
    if (az.process.active())
        log::info("agent_process_resumed", {{"zone", zk},
                                            {"process", to_text(az.process.kind)},
                                            {"id", az.process.id},
                                            {"step", az.process.step},
                                            {"status", to_text(az.process.status)}});
}

void agent_role::forget_sync_state(const std::string& zk) {
    auto& kv = engine_.kv();
    kv.erase(process_ns, zk);
    kv.erase(leader_ns, zk);
}

void agent_role::store_process(const agent_zone& az) {
    auto& kv = engine_.kv();
    std::string zk = key_of(az.name);
    kv.set(process_ns, zk,
           "members=" + join_names(az.members) + "\ncompleted=" + std::to_string(az.completed_id) +
               "\n" + az.process.to_text());
}

void agent_role::store_leader(const agent_zone& az) {
    std::string v = std::to_string(az.term_seen) + " " + std::to_string(az.leader_term);
    if (az.leader) v += " " + az.leader->to_text();
    engine_.kv().set(leader_ns, key_of(az.name), v);
}

bool agent_role::leader_follower(const agent_zone& az) const {
    return az.result && az.result->synchronization == sync_model::leader_follower;
}

// --- the peers' data ---

awaitable<void> agent_role::fetch_data(std::string zk, dns::name provider) {
    auto alive = alive_;
    auto zit = zones_.find(zk);
    if (zit == zones_.end()) co_return;
    dns::name at = data_name(zit->second.name, provider);
    dns::name ns_at = dns::name::from_text("_ns." + at.to_text());
    uint16_t t_dnskey = dns::rr_type::DNSKEY, t_cds = dns::rr_type::CDS, t_ptr = dns::rr_type::PTR;
    auto keys = co_await resolver_->resolve(at, t_dnskey);
    if (!*alive) co_return;
    auto cds = co_await resolver_->resolve(at, t_cds);
    if (!*alive) co_return;
    auto ns = co_await resolver_->resolve(ns_at, t_ptr);
    if (!*alive) co_return;
    zit = zones_.find(zk);
    if (zit == zones_.end()) co_return;
    auto& az = zit->second;
    int64_t now = engine_.now();
    std::string error;
    for (const auto* r : {&keys, &cds, &ns})
        if (!r->secure())
            error = r->qname.to_text() + " " + dns::type_to_text(r->qtype) + ": " +
                    net::to_string(r->verdict) + (r->reason.empty() ? "" : " (" + r->reason + ")");
    if (!error.empty()) {
        az.data_error[provider] = error;
        az.data_expires[provider] = now + 2;
        log::warn("agent_peer_data_failed",
                  {{"zone", zk}, {"peer", key_of(provider)}, {"error", error}});
        co_return;
    }
    provider_data d;
    for (const auto& r : keys.records)
        if (r.type == dns::rr_type::DNSKEY) d.dnskeys.push_back(r.rdata);
    for (const auto& r : cds.records)
        if (r.type == dns::rr_type::CDS) d.cds.push_back(r.rdata);
    for (const auto& r : ns.records)
        if (r.type == dns::rr_type::PTR) {
            try {
                d.ns.push_back(dns::name::from_wire(r.rdata).canonical());
            } catch (const dns::dns_error&) {
            }
        }
    std::sort(d.dnskeys.begin(), d.dnskeys.end(), dns::rdata_less{});
    std::sort(d.cds.begin(), d.cds.end(), dns::rdata_less{});
    std::sort(d.ns.begin(), d.ns.end());
    az.data_error.erase(provider);
    az.dnskey_ttl[provider] = keys.ttl;
    az.ns_ttl[provider] = ns.ttl;
    // Looked at again at the TTL during a process, at least every minute otherwise.
    uint32_t ttl = std::min({keys.ttl, cds.ttl, ns.ttl});
    az.data_expires[provider] = now + std::clamp<int64_t>(ttl, 2, az.process.active() ? 30 : 300);
    auto old = az.data.find(provider);
    bool changed = old == az.data.end() || old->second.dnskeys != d.dnskeys ||
                   old->second.cds != d.cds || old->second.ns != d.ns;
    if (changed)
        log::info("agent_peer_data", {{"zone", zk},
                                      {"peer", key_of(provider)},
                                      {"dnskeys", d.dnskeys.size()},
                                      {"cds", d.cds.size()},
                                      {"ns", d.ns.size()}});
    az.data[provider] = std::move(d);
}

// --- our combiner ---

awaitable<bool> agent_role::update_combiner(dns::name zone, std::vector<dns::rr> update,
                                            std::string& error) {
    auto alive = alive_;
    if (!agent_.combiner || !agent_.combiner_key) {
        error = "no combiner configured (agent: combiner:)";
        co_return false;
    }
    const dnssec::tsig_key* key = nullptr;
    for (const auto& k : engine_.settings().keys)
        if (k.name == *agent_.combiner_key) key = &k;
    if (!key) {
        error = "the combiner key " + agent_.combiner_key->to_text() + " is not in tsig-keys";
        co_return false;
    }
    dns::message m;
    m.id = net::random_id();
    m.opcode = dns::opcode::UPDATE;
    m.questions.push_back({zone, dns::rr_type::SOA, dns::rr_class::IN});
    m.authority = std::move(update);
    std::vector<uint8_t> wire;
    m.to_wire(wire);
    dnssec::tsig_session session(*key);
    session.sign(wire, engine_.now());
    net::query_options o;
    o.tcp = true;
    o.timeout = std::chrono::milliseconds(5000);
    auto ex = timer_->get_executor();
    net::peer target = *agent_.combiner;
    ++counters_.updates_sent;
    auto r = co_await net::query(ex, target, std::move(wire), o);
    if (!*alive) co_return false;
    if (!r) {
        ++counters_.updates_failed;
        error = "UPDATE to " + target.to_string() + ": " + r.error;
        co_return false;
    }
    auto v = session.verify(r.wire, r.response, engine_.now());
    if (r.response.rcode != dns::rcode::NOERROR || !v.ok()) {
        ++counters_.updates_failed;
        error = "UPDATE to " + target.to_string() + " answered " +
                dns::rcode_to_text(r.response.rcode) + (v.ok() ? "" : " (TSIG: " + v.reason + ")");
        co_return false;
    }
    co_return true;
}

// --- the parent ---

awaitable<std::vector<net::peer>> agent_role::parent_servers(dns::name zone) {
    if (!agent_.parent_nameservers.empty()) co_return agent_.parent_nameservers;
    // The parent zone's nameservers, through the validating resolver, on port 53.
    auto alive = alive_;
    std::vector<net::peer> out;
    dns::name parent = zone.parent();
    uint16_t t_ns = dns::rr_type::NS, t_a = dns::rr_type::A, t_aaaa = dns::rr_type::AAAA;
    auto ns = co_await resolver_->resolve(parent, t_ns);
    if (!*alive) co_return out;
    for (const auto& r : ns.records) {
        if (r.type != dns::rr_type::NS) continue;
        dns::name host;
        try {
            host = dns::name::from_wire(r.rdata);
        } catch (const dns::dns_error&) {
            continue;
        }
        for (uint16_t* t : {&t_a, &t_aaaa}) {
            auto a = co_await resolver_->resolve(host, *t);
            if (!*alive) co_return out;
            for (const auto& ar : a.records) {
                if (ar.type == dns::rr_type::A && ar.rdata.size() == 4) {
                    asio::ip::address_v4::bytes_type b;
                    std::copy(ar.rdata.begin(), ar.rdata.end(), b.begin());
                    out.push_back({asio::ip::address_v4(b), 53});
                } else if (ar.type == dns::rr_type::AAAA && ar.rdata.size() == 16) {
                    asio::ip::address_v6::bytes_type b;
                    std::copy(ar.rdata.begin(), ar.rdata.end(), b.begin());
                    out.push_back({asio::ip::address_v6(b), 53});
                }
            }
        }
    }
    co_return out;
}

awaitable<std::optional<std::pair<std::vector<std::vector<uint8_t>>, uint32_t>>>
agent_role::ask_parent(dns::name zone, uint16_t type, std::string& error) {
    auto alive = alive_;
    auto servers = co_await parent_servers(zone);
    if (!*alive) co_return std::nullopt;
    if (servers.empty()) {
        error = "no nameserver of the parent found";
        co_return std::nullopt;
    }
    std::optional<std::vector<std::vector<uint8_t>>> agreed;
    uint32_t ttl = 0;
    auto ex = timer_->get_executor();
    for (const auto& server : servers) {
        dns::message q;
        q.id = net::random_id();
        q.questions.push_back({zone, type, dns::rr_class::IN});
        dns::edns e;
        e.udp_payload_size = 1232;
        e.dnssec_ok = true;
        q.opt = e;
        net::query_options o;
        o.timeout = std::chrono::milliseconds(1000);
        o.retries = 1;
        net::peer target = server;
        auto r = co_await net::query(ex, target, q, o);
        if (!*alive) co_return std::nullopt;
        if (!r) {
            error = "the parent's nameserver " + server.to_string() + ": " + r.error;
            co_return std::nullopt;
        }
        if (r.response.rcode != dns::rcode::NOERROR) {
            error = "the parent's nameserver " + server.to_string() + " answered " +
                    dns::rcode_to_text(r.response.rcode);
            co_return std::nullopt;
        }
        std::vector<std::vector<uint8_t>> got;
        // DS comes as an answer; NS as the referral's authority (or an answer).
        for (const auto* section : {&r.response.answer, &r.response.authority})
            for (const auto& rr : *section)
                if (rr.type == type && rr.owner == zone) {
                    if (type == dns::rr_type::NS) {
                        dns::name host = dns::name::from_wire(rr.rdata).canonical();
                        got.emplace_back(host.wire().begin(), host.wire().end());
                    } else {
                        got.push_back(rr.rdata);
                    }
                    ttl = std::max(ttl, rr.ttl);
                }
        std::sort(got.begin(), got.end(), dns::rdata_less{});
        got.erase(std::unique(got.begin(), got.end()), got.end());
        if (agreed && *agreed != got) {
            error = "the parent's nameservers disagree on " + dns::type_to_text(type);
            co_return std::nullopt;
        }
        agreed = std::move(got);
    }
    co_return std::make_pair(std::move(*agreed), ttl);
}

awaitable<void> agent_role::notify_parent(dns::name zone, uint16_t type) {
    // RFC 9859: the parent's DSYNC record for this type (scheme 1, NOTIFY) says where.
    auto alive = alive_;
    dns::name parent = zone.parent();
    uint16_t t_dsync = dns::rr_type::DSYNC, t_a = dns::rr_type::A;
    std::optional<std::pair<dns::name, uint16_t>> target;
    for (int attempt = 0; attempt < 2 && !target; ++attempt) {
        dns::name qname =
            attempt == 0
                ? dns::name::from_text(
                      zone.to_text().substr(0, zone.to_text().size() - parent.to_text().size()) +
                      "_dsync." + parent.to_text())
                : dns::name::from_text("_dsync." + parent.to_text());
        auto r = co_await resolver_->resolve(qname, t_dsync);
        if (!*alive) co_return;
        if (!r.secure() && r.verdict != net::security::insecure) continue;
        for (const auto& rr : r.records) {
            if (rr.type != dns::rr_type::DSYNC || rr.rdata.size() < 6) continue;
            uint16_t rrtype = static_cast<uint16_t>(rr.rdata[0] << 8 | rr.rdata[1]);
            uint8_t scheme = rr.rdata[2];
            uint16_t port = static_cast<uint16_t>(rr.rdata[3] << 8 | rr.rdata[4]);
            if (rrtype != type || scheme != 1) continue;
            try {
                target = std::make_pair(dns::name::from_wire(std::span(rr.rdata).subspan(5)), port);
            } catch (const dns::dns_error&) {
            }
        }
    }
    if (!target) {
        log::debug("agent_parent_no_dsync",
                   {{"zone", key_of(zone)}, {"type", dns::type_to_text(type)}});
        co_return;
    }
    auto addr = co_await resolver_->resolve(target->first, t_a);
    if (!*alive) co_return;
    auto ex = timer_->get_executor();
    for (const auto& rr : addr.records) {
        if (rr.type != dns::rr_type::A || rr.rdata.size() != 4) continue;
        asio::ip::address_v4::bytes_type b;
        std::copy(rr.rdata.begin(), rr.rdata.end(), b.begin());
        net::peer to{asio::ip::address_v4(b), target->second};
        dns::message m;
        m.id = net::random_id();
        m.opcode = dns::opcode::NOTIFY;
        m.questions.push_back({zone, type, dns::rr_class::IN});
        std::vector<uint8_t> wire;
        m.to_wire(wire);
        ++counters_.parent_notifies;
        auto r = co_await net::notify(ex, to, std::move(wire), std::chrono::milliseconds(1000), 1);
        if (!*alive) co_return;
        log::info("agent_parent_notified",
                  {{"zone", key_of(zone)},
                   {"type", dns::type_to_text(type)},
                   {"target", to.to_string()},
                   {"result", r ? dns::rcode_to_text(r.response.rcode) : r.error}});
        break;
    }
}

// --- messages to the other agents ---

awaitable<void> agent_role::send_sync(std::string pk, std::string zk, uint8_t operation,
                                      sync_body body) {
    auto alive = alive_;
    auto pit = peers_.find(pk);
    auto zit = zones_.find(zk);
    if (pit == peers_.end() || zit == zones_.end() || !pit->second.found) co_return;
    dns::name qname = zit->second.name;
    uint16_t qtype = dns::rr_type::SOA;
    if (operation == sync_op::CHANGED) {
        qname = data_name(qname, agent_.identity.identity);
        qtype = dns::rr_type::DNSKEY;
    }
    auto wire = make_agent_notify(qname, operation, own_caps(), sig0_, engine_.now(),
                                  encode_sync(body), qtype);
    ++counters_.sync_sent;
    std::string error;
    auto answer = co_await exchange(pit->second, std::move(wire), error);
    if (!*alive) co_return;
    zit = zones_.find(zk);
    if (zit == zones_.end()) co_return;
    auto& az = zit->second;
    if (!answer) {
        log::debug("agent_sync_unanswered",
                   {{"peer", pk}, {"zone", zk}, {"operation", operation}, {"error", error}});
        if (operation == sync_op::REPORT) az.sent_at = 0;  // send again soon
        co_return;
    }
    if (operation == sync_op::PROPOSE && body.term == az.proposed_term) {
        if (answer->rcode == dns::rcode::NOERROR) {
            az.acks.insert(pk);
        } else if (const auto* o = ms_option(*answer)) {
            if (auto b = decode_sync(*o); b && b->term > az.term_seen) {
                az.term_seen = b->term;
                store_leader(az);
            }
        }
        az.next_sync = 0;
        wake();
    }
}

void agent_role::broadcast(agent_zone& az, uint8_t operation, const sync_body& body) {
    std::string zk = key_of(az.name);
    for (const auto& [pk, zp] : az.peers) {
        auto pit = peers_.find(pk);
        if (pit == peers_.end() || !relation_up(pit->second.relation.state())) continue;
        asio::co_spawn(timer_->get_executor(), send_sync(pk, zk, operation, body), asio::detached);
    }
}

void agent_role::announce_changes() {
    for (auto& [zk, az] : zones_) {
        if (!az.ours || az.keys == az.announced) continue;
        az.announced = az.keys;
        broadcast(az, sync_op::CHANGED, sync_body{});
    }
}

std::optional<std::vector<uint8_t>> agent_role::take_sync(const net::request& req,
                                                          const dns::message& query,
                                                          const dns::multi_signer_option& option) {
    const uint8_t operation = option.operation;
    const dns::name& qname = query.questions[0].qname;
    // The zone: the question, or for CHANGED the question less the sender's identity.
    agent_zone* az = nullptr;
    std::vector<dns::name> allowed;
    if (operation == sync_op::CHANGED) {
        std::string q = qname.canonical().to_text();
        for (auto& [pk, p] : peers_) {
            std::string id = p.identity.to_text();
            if (q.size() <= id.size() || q.compare(q.size() - id.size(), id.size(), id) != 0)
                continue;
            try {
                auto zit =
                    zones_.find(key_of(dns::name::from_text(q.substr(0, q.size() - id.size()))));
                if (zit == zones_.end() || !zit->second.ours) continue;
                az = &zit->second;
                allowed = {p.identity};
                break;
            } catch (const dns::dns_error&) {
            }
        }
    } else {
        auto zit = zones_.find(key_of(qname));
        if (zit != zones_.end() && zit->second.ours) {
            az = &zit->second;
            for (const auto& e : az->set.remote_agents(agent_.identity.identity))
                allowed.push_back(e.identity);
        }
    }
    if (!az)
        return refuse(req, query, dns::rcode::REFUSED, "unknown-zone",
                      "operation " + std::to_string(operation) + " for " + qname.to_text() +
                          ", which is not a multi-signer zone of ours (yet)");
    key_lookup lookup = peer_keys();
    auto verdict = guard_.check(req.wire, query, lookup, allowed);
    if (!verdict.accepted()) {
        if (verdict.failure == guard_failure::unknown_signer) wake();
        return refuse(req, query, verdict.rcode(), std::string(verdict.label()), verdict.reason);
    }
    auto body = decode_sync(option);
    if (!body)
        return refuse(req, query, dns::rcode::FORMERR, "malformed", "a malformed operation body");
    ++counters_.sync_received;
    load_sync_state(*az);
    const dns::name sender = verdict.signer.canonical();
    int64_t now = engine_.now();
    auto answer = [&](uint16_t rcode, std::vector<dns::ms_tlv> out) {
        return make_agent_response(query, req.wire, rcode, own_caps(), sig0_, now, std::move(out));
    };
    az->next_sync = 0;
    wake();
    switch (operation) {
        case sync_op::REPORT:
            az->reports[sender] = step_report{body->id, body->step, body->status, body->serial};
            if (body->id && body->id == az->completed_id && az->process.id != body->id) {
                // We finished that process and the sender has not: it restarted before it
                // stored its end. Our last report lets it catch up.
                sync_body last{body->process,     body->id,        step_count(body->process),
                               step_status::done, az->leader_term, 0};
                std::string pk = key_of(sender);
                asio::co_spawn(timer_->get_executor(),
                               send_sync(std::move(pk), key_of(az->name), sync_op::REPORT, last),
                               asio::detached);
            }
            return answer(dns::rcode::NOERROR, {});
        case sync_op::CHANGED:
            az->data_expires[sender] = 0;
            return answer(dns::rcode::NOERROR, {});
        case sync_op::PROPOSE: {
            auto candidate = az->set.leader_candidate();
            if (candidate && *candidate == sender && body->term >= az->term_seen) {
                bool changed =
                    !(az->leader && *az->leader == sender && az->leader_term == body->term);
                az->term_seen = body->term;
                az->leader = sender;
                az->leader_term = body->term;
                store_leader(*az);
                if (changed)
                    log::info("agent_leader_acknowledged", {{"zone", key_of(az->name)},
                                                            {"leader", key_of(sender)},
                                                            {"term", body->term}});
                return answer(dns::rcode::NOERROR, {});
            }
            sync_body mine;
            mine.term = az->term_seen;
            log::info("agent_leader_refused",
                      {{"zone", key_of(az->name)},
                       {"proposer", key_of(sender)},
                       {"term", body->term},
                       {"reason", candidate && *candidate == sender ? "an older term"
                                                                    : "not the candidate"}});
            return answer(dns::rcode::REFUSED, encode_sync(mine));
        }
        case sync_op::INSTRUCT:
            if (!az->leader || !(*az->leader == sender) || body->term != az->leader_term)
                return refuse(req, query, dns::rcode::REFUSED, "not-leader",
                              sender.to_text() + " is not the leader of " + az->name.to_text() +
                                  " for term " + std::to_string(body->term));
            az->instructed_id = body->id;
            az->instructed_step = body->step;
            return answer(dns::rcode::NOERROR, {});
        default:
            break;
    }
    return refuse(req, query, dns::rcode::NOTIMP, "unknown-operation",
                  "operation " + std::to_string(operation) + " is not one we implement");
}

// --- the process ---

bool agent_role::leader_done(const agent_zone& az) const {
    if (!az.leader || !az.process.active()) return false;
    auto it = az.reports.find(*az.leader);
    return it != az.reports.end() && it->second.id == az.process.id &&
           it->second.step == step_count(az.process.kind) && it->second.status == step_status::done;
}

void agent_role::advance(agent_zone& az, int64_t now) {
    auto& p = az.process;
    std::string zk = key_of(az.name);
    if (p.step >= step_count(p.kind)) {
        const zone_process done = p;
        az.members = p.after;
        az.completed_id = p.id;
        p = zone_process{};
        store_process(az);
        log::info("agent_process_completed", {{"zone", zk},
                                              {"process", to_text(done.kind)},
                                              {"id", done.id},
                                              {"members", join_names(done.after)},
                                              {"seconds", now - done.started}});
        ++counters_.processes_completed;
        az.reports.erase(agent_.identity.identity.canonical());
        return;
    }
    ++p.step;
    p.status = step_status::working;
    p.since = now;
    p.wait_until = 0;
    store_process(az);
    log::info("agent_process_step", {{"zone", zk},
                                     {"process", to_text(p.kind)},
                                     {"id", p.id},
                                     {"step", p.step},
                                     {"name", step_name(p.kind, p.step)},
                                     {"mode", leader_follower(az) ? "leader/follower" : "peer"}});
}

awaitable<void> agent_role::sync_zone(std::string zk) {
    auto alive = alive_;
    std::string error;
    try {
        std::string key = zk;
        co_await sync_pass(std::move(key));
    } catch (const std::exception& e) {
        error = e.what();
    }
    if (!*alive || error.empty()) co_return;
    // A pass that failed half way: said once, and tried again shortly.
    log::error("agent_sync_failed", {{"zone", zk}, {"error", error}});
    auto it = zones_.find(zk);
    if (it == zones_.end()) co_return;
    it->second.syncing = false;
    it->second.next_sync = engine_.now() + 5;
    it->second.waiting_for = "a retry after an internal error: " + error;
    wake();
}

awaitable<void> agent_role::sync_pass(std::string zk) {
    auto alive = alive_;
    const dns::name own = agent_.identity.identity.canonical();
    auto finish = [&](int64_t delay) {
        auto it = zones_.find(zk);
        if (it == zones_.end()) return;
        it->second.syncing = false;
        if (it->second.next_sync != 0) it->second.next_sync = engine_.now() + delay;
    };
    auto* az = &zones_.at(zk);
    az->next_sync = engine_.now() + 1;  // an event during the pass sets 0: another pass
    load_sync_state(*az);
    zone::served_zone* z = engine_.exact_zone(az->name);
    if (!z || !z->data) {
        finish(5);
        co_return;
    }
    served_apex apex = read_apex(apex_rrs(*z->data), az->name);
    int64_t now = engine_.now();

    // Our own data: what our signer signs with, and our provider's nameservers.
    provider_data mine;
    mine.dnskeys = az->keys.dnskeys;
    mine.cds = az->keys.cds;
    for (const auto& ns : agent_.identity.provider_nameservers)
        mine.ns.push_back(ns.canonical());
    std::sort(mine.ns.begin(), mine.ns.end());
    az->data[own] = mine;
    az->dnskey_ttl[own] = apex.dnskey_ttl;
    az->ns_ttl[own] = apex.ns_ttl;

    // The process the RRset asks for.
    auto& set = az->set;
    if (az->process.active()) {
        if (auto next = rewind(az->process, set, now)) {
            log::info("agent_process_rewound",
                      {{"zone", zk},
                       {"process", to_text(az->process.kind)},
                       {"step", az->process.step},
                       {"now", to_text(next->kind)},
                       {"reason", "the HSYNC RRset changed during the process"}});
            ++counters_.processes_rewound;
            az->process = *next;
            store_process(*az);
        }
    }
    if (!az->process.active()) {
        if (auto p = needed_process(set, az->members, now)) {
            p->term = az->leader_term;
            az->process = *p;
            store_process(*az);
            log::info("agent_process_started", {{"zone", zk},
                                                {"process", to_text(p->kind)},
                                                {"before", join_names(p->before)},
                                                {"after", join_names(p->after)},
                                                {"id", p->id}});
            log::info("agent_process_step",
                      {{"zone", zk},
                       {"process", to_text(p->kind)},
                       {"id", p->id},
                       {"step", 1},
                       {"name", step_name(p->kind, 1)},
                       {"mode", leader_follower(*az) ? "leader/follower" : "peer"}});
        }
    }

    // The data we need: every provider of the process (or the group), fetched when stale.
    // Nothing can go on before our own signer has signed the zone (step 1 needs its keys):
    // no lookups for it either, which matters with thousands of zones not yet signed.
    if (const auto* own_entry = set.find(own);
        own_entry && own_entry->sign == hsync_sign::yes && mine.dnskeys.empty()) {
        az->waiting_for = "our signer to sign the zone";
        finish(10);
        co_return;
    }

    // Every ON provider, and every one the process moves (a member no longer named too).
    std::vector<dns::name> providers;
    for (const auto& e : set.entries)
        if (e.state == hsync_state::on) providers.push_back(e.identity.canonical());
    for (const auto* group : {&az->process.before, &az->process.after, &az->members})
        providers.insert(providers.end(), group->begin(), group->end());
    std::sort(providers.begin(), providers.end());
    providers.erase(std::unique(providers.begin(), providers.end()), providers.end());
    providers.erase(std::remove(providers.begin(), providers.end(), own), providers.end());
    for (const auto& id : providers) {
        auto it = az->data_expires.find(id);
        if (it != az->data_expires.end() && it->second > now) continue;
        dns::name provider = id;
        std::string key = zk;
        co_await fetch_data(std::move(key), std::move(provider));
        if (!*alive) co_return;
        auto zit = zones_.find(zk);
        if (zit == zones_.end()) co_return;
        az = &zit->second;
    }
    now = engine_.now();
    auto& p = az->process;
    std::vector<dns::name> members_now = p.active() ? p.after : az->members;

    // Leader/follower: the candidate proposes itself until every other signer agrees.
    if (leader_follower(*az)) {
        auto candidate = set.leader_candidate();
        if (az->leader && candidate && !(*az->leader == *candidate)) {
            log::info(
                "agent_leader_gone",
                {{"zone", zk}, {"leader", key_of(*az->leader)}, {"candidate", key_of(*candidate)}});
            az->leader.reset();
            store_leader(*az);
        }
        if (candidate && *candidate == own) {
            // Leader only while every other signing agent has acknowledged our term: one
            // that joined later (or after our restart) gets a new proposal.
            std::vector<std::string> others;
            for (const auto& e : set.entries)
                if (e.signs() && !(e.identity == own)) others.push_back(key_of(e.identity));
            bool all = az->proposed_term &&
                       std::all_of(others.begin(), others.end(),
                                   [&](const std::string& k) { return az->acks.count(k) > 0; });
            if (all) {
                if (!(az->leader && *az->leader == own && az->leader_term == az->proposed_term)) {
                    az->leader = own;
                    az->leader_term = az->proposed_term;
                    az->term_seen = std::max(az->term_seen, az->proposed_term);
                    store_leader(*az);
                    log::info(
                        "agent_leader_elected",
                        {{"zone", zk}, {"term", az->leader_term}, {"followers", others.size()}});
                }
            } else {
                if (az->leader && *az->leader == own) {
                    az->leader.reset();
                    store_leader(*az);
                }
                if (now >= az->next_propose) {
                    az->proposed_term = az->term_seen + 1;
                    az->term_seen = az->proposed_term;
                    store_leader(*az);
                    az->acks.clear();
                    az->next_propose = now + 3;
                    sync_body b;
                    b.term = az->proposed_term;
                    broadcast(*az, sync_op::PROPOSE, b);
                }
            }
        }
    }

    // The step.
    std::string waiting;
    // A failed check of the prerequisites is made again: the provider may fix its keys.
    if (p.active() && (p.status == step_status::working ||
                       (p.status == step_status::failed &&
                        action_of(p.kind, p.step) == step_action::check_prerequisites))) {
        auto parts = participants(p, set);
        const bool leaving = p.kind == process_kind::remove_signer && !contains(p.after, own);
        auto action = action_of(p.kind, p.step);
        // A provider with Sign=NO serves a copy of another's signed zone: nothing of the
        // keys is its to publish, and its NS come in through the signers.
        const auto* own_entry = set.find(own);
        if (own_entry && own_entry->sign == hsync_sign::no &&
            (action == step_action::publish || action == step_action::check_prerequisites))
            action = step_action::compute;
        bool done = false;
        switch (action) {
            case step_action::check_prerequisites: {
                // Every signer's keys known and secure, and one algorithm among them all.
                std::set<uint8_t> algs = algorithms(mine);
                std::string mismatch;
                for (const auto& id : parts) {
                    auto it = az->data.find(id);
                    if (it == az->data.end() || it->second.dnskeys.empty()) {
                        waiting = "the keys of " + id.to_text() +
                                  (az->data_error.count(id) ? " (" + az->data_error[id] + ")"
                                                            : " (not published yet)");
                        break;
                    }
                    if (algorithms(it->second) != algs)
                        mismatch += (mismatch.empty() ? "" : "; ") + id.to_text() + " signs with " +
                                    algorithms_text(algorithms(it->second));
                }
                if (!waiting.empty()) break;
                if (!mismatch.empty()) {
                    if (p.status == step_status::failed) break;  // said already
                    p.status = step_status::failed;
                    p.error = "algorithm mismatch: " + own.to_text() + " signs with " +
                              algorithms_text(algs) + "; " + mismatch +
                              " (RFC 8901 §4: all signers must use the same algorithm)";
                    ++counters_.processes_failed;
                    store_process(*az);
                    log::error("agent_process_failed", {{"zone", zk},
                                                        {"process", to_text(p.kind)},
                                                        {"step", p.step},
                                                        {"error", p.error}});
                    break;
                }
                if (p.status == step_status::failed)
                    log::info("agent_process_prerequisites_met", {{"zone", zk}});
                p.error.clear();
                done = true;
                break;
            }
            case step_action::communication: {
                for (const auto& id : parts) {
                    if (id == own) continue;
                    auto zp = az->peers.find(key_of(id));
                    if (zp == az->peers.end() || !zp->second.done) {
                        waiting = "HELLO with " + id.to_text();
                        break;
                    }
                }
                done = waiting.empty();
                break;
            }
            case step_action::compute:
                done = true;
                break;
            case step_action::stop_serving:
                if (leaving)
                    log::warn("agent_stop_serving",
                              {{"zone", zk},
                               {"detail",
                                "this provider has been removed from the zone's HSYNC RRset and "
                                "no longer in its delegation: remove the zone from its servers"}});
                done = true;
                break;
            case step_action::publish: {
                bool cds_step = (p.kind == process_kind::add_signer && p.step == 5) ||
                                (p.kind == process_kind::remove_signer && p.step == 8);
                bool csync_step = (p.kind == process_kind::add_signer && p.step == 11) ||
                                  (p.kind == process_kind::remove_signer && p.step == 2);
                if ((cds_step || csync_step) && p.wait_until == 0) {
                    // Decided once per step: is there anything to tell the parent?
                    std::string err;
                    uint16_t type = cds_step ? dns::rr_type::DS : dns::rr_type::NS;
                    dns::name zone_name = az->name;
                    auto parent = co_await ask_parent(std::move(zone_name), type, err);
                    if (!*alive) co_return;
                    auto zit = zones_.find(zk);
                    if (zit == zones_.end()) co_return;
                    az = &zit->second;
                    if (!parent) {
                        waiting = "the parent (" + err + ")";
                        break;
                    }
                    auto& pp = az->process;
                    if (cds_step) {
                        pp.publish_cds = parent->first != expected_ds(pp, set, az->data);
                    } else {
                        // The NS set our signer will serve: the agents' union (AGENT), or
                        // the owner's (OWNER), whose change the parent needs to see too.
                        auto want =
                            set.nsmgmt == ns_mgmt::agent ? expected_ns(pp, set, az->data) : apex.ns;
                        std::vector<std::vector<uint8_t>> want_wire;
                        for (const auto& n : want)
                            want_wire.emplace_back(n.wire().begin(), n.wire().end());
                        std::sort(want_wire.begin(), want_wire.end(), dns::rdata_less{});
                        pp.publish_csync = parent->first != want_wire;
                        // One serial for the CSYNC of every signer: the lowest any of them
                        // served when it finished the step before (soaminimum holds at all).
                        // Every participant's serial is needed, or the CSYNC RRsets would
                        // differ (a follower may hear of the others after the instruction).
                        uint32_t low = apex.serial;
                        std::string missing;
                        for (const auto& id : parts) {
                            auto r = az->reports.find(id);
                            if (r != az->reports.end() && r->second.id == pp.id && r->second.serial)
                                low =
                                    dns::serial_lt(r->second.serial, low) ? r->second.serial : low;
                            else
                                missing += (missing.empty() ? "" : ", ") + id.to_text();
                        }
                        if (!missing.empty()) {
                            waiting = "the signed serials of " + missing + " (for the CSYNC)";
                            break;
                        }
                        pp.csync_serial = low;
                    }
                    pp.wait_until = 1;  // decided
                    store_process(*az);
                }
                auto& pp = az->process;
                auto target = target_at(pp, own, set, az->data);
                if (target.missing) {
                    waiting = "the data of " + target.missing->to_text() +
                              (az->data_error.count(*target.missing)
                                   ? " (" + az->data_error[*target.missing] + ")"
                                   : "");
                    break;
                }
                if (serves(target, apex, mine.dnskeys, pp.csync_serial)) {
                    done = true;
                    break;
                }
                auto update = plan_update(target, apex, mine.dnskeys, az->name, pp.csync_serial);
                waiting = "our signer to serve the change (" + std::to_string(update.size()) +
                          " records sent to the combiner)";
                if (update.empty()) break;
                std::string err;
                dns::name zone_name = az->name;
                bool ok = co_await update_combiner(std::move(zone_name), std::move(update), err);
                if (!*alive) co_return;
                auto zit = zones_.find(zk);
                if (zit == zones_.end()) co_return;
                az = &zit->second;
                if (!ok) {
                    waiting = "the combiner (" + err + ")";
                    log::warn("agent_update_failed", {{"zone", zk}, {"error", err}});
                }
                break;
            }
            case step_action::wait_parent_ds:
            case step_action::wait_parent_ns: {
                bool ds = action == step_action::wait_parent_ds;
                std::vector<std::vector<uint8_t>> want;
                if (ds) {
                    want = expected_ds(p, set, az->data);
                } else {
                    if (set.nsmgmt != ns_mgmt::agent && p.kind == process_kind::add_signer &&
                        !p.publish_csync) {
                        done = true;  // the owner manages NS and has not changed it
                        break;
                    }
                    for (const auto& n :
                         set.nsmgmt == ns_mgmt::agent ? expected_ns(p, set, az->data) : apex.ns)
                        want.emplace_back(n.wire().begin(), n.wire().end());
                    std::sort(want.begin(), want.end(), dns::rdata_less{});
                }
                // NSMgmt=OWNER and a provider leaving: its DS and keys may go only once
                // the parent no longer sends resolvers to its nameservers, and only the
                // owner can take them out of the NS RRset.
                std::vector<std::vector<uint8_t>> leaving_ns;
                if (!ds && set.nsmgmt != ns_mgmt::agent && p.kind == process_kind::remove_signer)
                    for (const auto& id : p.before) {
                        if (contains(p.after, id)) continue;
                        auto it = az->data.find(id);
                        if (it == az->data.end()) continue;
                        for (const auto& n : it->second.ns)
                            leaving_ns.emplace_back(n.wire().begin(), n.wire().end());
                    }
                std::string err;
                uint16_t type = ds ? dns::rr_type::DS : dns::rr_type::NS;
                dns::name zone_name = az->name;
                auto parent = co_await ask_parent(std::move(zone_name), type, err);
                if (!*alive) co_return;
                auto zit = zones_.find(zk);
                if (zit == zones_.end()) co_return;
                az = &zit->second;
                if (parent && !leaving_ns.empty()) {
                    bool still =
                        std::any_of(leaving_ns.begin(), leaving_ns.end(), [&](const auto& n) {
                            return std::find(parent->first.begin(), parent->first.end(), n) !=
                                   parent->first.end();
                        });
                    if (!still) {
                        az->parent_ns_ttl = parent->second;
                        done = true;
                        break;
                    }
                    waiting =
                        "the zone owner to take the leaving provider's nameservers out of "
                        "the NS RRset, and the parent to publish that (NSMgmt=OWNER)";
                } else if (parent && parent->first == want) {
                    (ds ? az->parent_ds_ttl : az->parent_ns_ttl) = parent->second;
                    done = true;
                    break;
                }
                if (waiting.empty())
                    waiting = parent ? "the parent to publish the new " +
                                           std::string(ds ? "DS" : "NS") + " set (it serves " +
                                           std::to_string(parent->first.size()) + " records, " +
                                           std::to_string(want.size()) + " expected)"
                                     : "the parent (" + err + ")";
                // Tell the parent (RFC 9859) rather than wait for its next scan, again
                // every few seconds while it has not acted.
                if (!leaving && engine_.now() >= az->notified_parent_at + 5) {
                    az->notified_parent_at = engine_.now();
                    uint16_t ntype = ds ? dns::rr_type::CDS : dns::rr_type::CSYNC;
                    dns::name zone_for_notify = az->name;
                    asio::co_spawn(timer_->get_executor(),
                                   notify_parent(std::move(zone_for_notify), ntype),
                                   asio::detached);
                }
                break;
            }
            case step_action::wait_ttl: {
                if (p.wait_until <= 1) {
                    // The waits of processes.md, from the TTLs actually seen.
                    uint32_t wait = 0;
                    if (p.kind == process_kind::add_signer) {
                        wait = az->parent_ds_ttl;
                        for (const auto& [id, ttl] : az->dnskey_ttl)
                            wait = std::max(wait, ttl);
                    } else {
                        wait = az->parent_ns_ttl;
                        for (const auto& [id, ttl] : az->ns_ttl)
                            wait = std::max(wait, ttl);
                    }
                    p.wait_until = now + wait;
                    store_process(*az);
                    log::info("agent_process_wait", {{"zone", zk}, {"seconds", wait}});
                }
                if (now >= p.wait_until) {
                    done = true;
                } else {
                    waiting = std::to_string(p.wait_until - now) + " s more (TTL wait)";
                    az->next_sync = std::min<int64_t>(az->next_sync, p.wait_until);
                }
                break;
            }
        }
        if (done) {
            az->process.status = step_status::done;
            store_process(*az);
        }
    } else if (!p.active() && !(set.find(own) && set.find(own)->sign == hsync_sign::no)) {
        // No process: keep the combiner at the group's data (a peer's new ZSK).
        zone_process steady;
        steady.after = members_now;
        auto target = target_at(steady, own, set, az->data);
        if (!target.missing && !az->members.empty() && !serves(target, apex, mine.dnskeys)) {
            auto update = plan_update(target, apex, mine.dnskeys, az->name, 0);
            if (!update.empty()) {
                std::string err;
                dns::name zone_name = az->name;
                bool ok = co_await update_combiner(std::move(zone_name), std::move(update), err);
                if (!*alive) co_return;
                auto zit = zones_.find(zk);
                if (zit == zones_.end()) co_return;
                az = &zit->second;
                if (!ok) log::warn("agent_update_failed", {{"zone", zk}, {"error", err}});
            }
        }
    }

    // Our report, to every agent of the zone when it changed (and every beat interval
    // while a process runs, so an agent that restarted learns where we are).
    auto& pr = az->process;
    now = engine_.now();
    step_report mine_report{pr.id, pr.step, pr.status, 0};
    if (pr.active()) {
        bool before_csync = (pr.kind == process_kind::add_signer && pr.step == 10) ||
                            (pr.kind == process_kind::remove_signer && pr.step == 1);
        if (before_csync && pr.status == step_status::done && pr.report_serial == 0) {
            pr.report_serial = apex.serial ? apex.serial : 1;
            store_process(*az);
        }
        mine_report.serial = pr.report_serial;
        az->reports[own] = mine_report;
        if (!(mine_report == az->sent) ||
            now >= az->sent_at + static_cast<int64_t>(agent_.timing.beat_interval)) {
            az->sent = mine_report;
            az->sent_at = now;
            sync_body b{pr.kind, pr.id, pr.step, pr.status, pr.term, mine_report.serial};
            broadcast(*az, sync_op::REPORT, b);
            // The leader repeats its instruction with its reports.
            if (leader_follower(*az) && az->leader && *az->leader == own) {
                sync_body i{pr.kind, pr.id, pr.step, pr.status, az->leader_term, 0};
                broadcast(*az, sync_op::INSTRUCT, i);
            }
        }
    }

    // The next step: the one-step rule.
    if (pr.active() && pr.status == step_status::done) {
        auto parts = participants(pr, set);
        bool finished = all_finished(pr, parts, az->reports);
        if (leader_follower(*az)) {
            if (az->leader && *az->leader == own) {
                if (finished) {
                    advance(*az, now);
                    if (az->process.active()) {
                        sync_body i{az->process.kind,   az->process.id,  az->process.step,
                                    az->process.status, az->leader_term, 0};
                        broadcast(*az, sync_op::INSTRUCT, i);
                    }
                    az->next_sync = 0;
                } else {
                    waiting = "the reports of " + join_names(not_finished(pr, parts, az->reports));
                }
            } else if (az->instructed_id == pr.id && az->instructed_step == pr.step + 1) {
                advance(*az, now);
                az->next_sync = 0;
            } else if ((az->instructed_id == pr.id && pr.step == step_count(pr.kind) && finished) ||
                       leader_done(*az)) {
                // The last step needs no instruction: every agent has finished it. And a
                // leader that has completed the process instructs no more: its report
                // stands for every step (we restarted before storing our end).
                advance(*az, now);
                az->next_sync = 0;
            } else {
                waiting = !az->leader ? "a leader to be elected"
                          : pr.step < step_count(pr.kind)
                              ? "the leader " + az->leader->to_text() + " (step " +
                                    std::to_string(pr.step + 1) + ")"
                              : "the leader " + az->leader->to_text() + " (the end)";
            }
        } else if (finished) {
            advance(*az, now);
            az->next_sync = 0;
        } else {
            waiting = "the reports of " + join_names(not_finished(pr, parts, az->reports));
        }
    }
    if (pr.active() && pr.status == step_status::failed) waiting = "nothing: " + pr.error;
    if (waiting != az->waiting_for && !waiting.empty())
        log::debug("agent_process_waiting", {{"zone", zk}, {"for", waiting}});
    az->waiting_for = waiting;
    finish(az->process.active() ? 1 : 10);
    wake();
}

// --- what the operator sees ---

std::string agent_role::process_json(const agent_zone& az) const {
    const auto& p = az.process;
    std::string o = "{\"zone\":";
    zone::json_string(o, az.name.to_text());
    o += ",\"process\":";
    zone::json_string(o, to_text(p.kind));
    o += ",\"id\":" + std::to_string(p.id);
    o += ",\"step\":" + std::to_string(p.step);
    o += ",\"steps\":" + std::to_string(step_count(p.kind));
    o += ",\"step_name\":";
    zone::json_string(o, step_name(p.kind, p.step));
    o += ",\"status\":";
    zone::json_string(o, p.active() ? to_text(p.status) : "");
    o += ",\"waiting_for\":";
    zone::json_string(o, az.waiting_for);
    o += ",\"since\":" + std::to_string(p.since);
    o += ",\"started\":" + std::to_string(p.started);
    o += ",\"mode\":";
    zone::json_string(o, az.result ? to_text(az.result->synchronization) : "not negotiated");
    o += ",\"leader\":";
    if (leader_follower(az) && az.leader)
        zone::json_string(o, az.leader->to_text());
    else
        o += "null";
    o += ",\"term\":" + std::to_string(az.leader_term);
    o += ",\"agents\":{";
    bool first = true;
    for (const auto& id : participants(p, az.set)) {
        if (!first) o += ",";
        first = false;
        zone::json_string(o, id.to_text());
        auto it = az.reports.find(id);
        o += ":";
        if (it != az.reports.end() && it->second.id == p.id)
            o += std::to_string(it->second.step);
        else
            o += "null";
    }
    o += "},\"members\":[";
    for (size_t i = 0; i < az.members.size(); ++i) {
        if (i) o += ",";
        zone::json_string(o, az.members[i].to_text());
    }
    o += "],\"before\":[";
    for (size_t i = 0; i < p.before.size(); ++i) {
        if (i) o += ",";
        zone::json_string(o, p.before[i].to_text());
    }
    o += "],\"after\":[";
    for (size_t i = 0; i < p.after.size(); ++i) {
        if (i) o += ",";
        zone::json_string(o, p.after[i].to_text());
    }
    o += "],\"error\":";
    zone::json_string(o, p.error);
    o += "}";
    return o;
}

}  // namespace hsync::agent
