#include "roles/agent/agent_role.h"

#include <algorithm>
#include <filesystem>
#include <utility>

#include <nlohmann/json.hpp>

#include "dns/error.h"
#include "dnssec/keyfile.h"
#include "dnssec/sig0.h"
#include "net/client.h"
#include "roles/agent/messages.h"
#include "roles/signer/sign.h"
#include "zone/journal.h"
#include "zone/log.h"
#include "zone/text.h"

namespace hsync::agent {

namespace asio = net::asio;
using net::awaitable;
using zone::key_of;
using zone::served_zone;

namespace {

constexpr std::string_view peers_ns = "agent-peers";
constexpr std::string_view found_ns = "agent-found";
constexpr std::string_view caps_ns = "agent-caps";

// The key pair in `dir` (the first .private file), or a new one written there.
dnssec::key load_or_make_key(const std::filesystem::path& dir, const dns::name& owner,
                             dnssec::key_role role, const char* what) {
    std::filesystem::create_directories(dir);
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() != ".private") continue;
        auto k = dnssec::read_key_files(entry.path());
        if (!(k.owner() == owner)) continue;
        return k;
    }
    auto k = dnssec::key::generate(owner, 13, role);
    std::string base = dnssec::write_key_files(k, dir);
    log::info("agent_key_generated",
              {{"key", what}, {"file", (dir / base).string()}, {"tag", k.tag()}});
    return k;
}

bool talking(peer_state s) {
    return s == peer_state::operational || s == peer_state::degraded ||
           s == peer_state::interrupted;
}

void json_time(std::string& out, std::optional<int64_t> t) {
    if (t)
        zone::json_string(out, zone::utc_text(*t));
    else
        out += "null";
}

void json_text_or_null(std::string& out, const std::string& v) {
    if (v.empty())
        out += "null";
    else
        zone::json_string(out, v);
}

}  // namespace

agent_role::agent_role(asio::any_io_executor ex, zone::engine_settings settings,
                       agent_settings agent)
    : engine_role(ex,
                  [&] {
                      zone::zone_settings id;
                      id.name = agent.identity.identity;
                      id.role_built = true;
                      id.notify = agent.identity_notify;
                      id.allow_transfer = agent.identity_allow_transfer;
                      settings.zones.push_back(std::move(id));
                      return std::move(settings);
                  }()),
      agent_(std::move(agent)),
      sig0_(load_sig0_key(agent_, engine_.settings().data_dir)),
      guard_([this] { return engine_.now(); }, agent_.guard),
      timer_(std::make_unique<asio::steady_timer>(ex)),
      alive_(std::make_shared<bool>(true)) {
    load_keys();
    resolver_ = std::make_unique<net::resolver>(ex, agent_.resolver);
    if (agent_.api) {
        auto dir = std::filesystem::path(engine_.settings().data_dir) / "agent" / "tls";
        std::filesystem::path key = agent_.api->key_file.empty()
                                        ? dir / "key.pem"
                                        : std::filesystem::path(agent_.api->key_file);
        std::filesystem::path cert = agent_.api->cert_file.empty()
                                         ? dir / "cert.pem"
                                         : std::filesystem::path(agent_.api->cert_file);
        if (agent_.api->key_file.empty()) std::filesystem::create_directories(dir);
        std::string host = agent_.identity.api ? agent_.identity.api->target.to_text()
                                               : agent_.identity.dns.target.to_text();
        if (host.size() > 1) host.pop_back();
        tls_ = net::tls_identity::load_or_generate(key, cert, host);
        agent_.offer_api = true;
    }
}

agent_role::~agent_role() {
    *alive_ = false;
}

dnssec::key agent_role::load_sig0_key(const agent_settings& agent, const std::string& data_dir) {
    const auto& target = agent.identity.dns.target;
    if (agent.sig0_key_file.empty())
        return load_or_make_key(std::filesystem::path(data_dir) / "agent" / "sig0", target,
                                dnssec::key_role::sig0, "sig0");
    auto k = dnssec::read_key_files(agent.sig0_key_file);
    if (k.rr_type() != dns::rr_type::KEY)
        throw std::runtime_error(agent.sig0_key_file + ": not a KEY record (SIG(0) key)");
    if (!(k.owner() == target))
        throw std::runtime_error(agent.sig0_key_file + ": the key's owner " + k.owner().to_text() +
                                 " is not the DNS target " + target.to_text());
    return k;
}

void agent_role::load_keys() {
    std::filesystem::path dir = std::filesystem::path(engine_.settings().data_dir) / "agent";
    const auto& id = agent_.identity;
    auto csk = load_or_make_key(dir / "identity", id.identity, dnssec::key_role::csk, "identity");
    signer::zone_key zk{csk, dnssec::key_role::csk,     signer::key_state::active, 0, 0, 0,
                        0,   dnssec::key_file_base(csk)};
    identity_keys_.keys = {zk};
    identity_policy_.name = "agent-identity";
    identity_policy_.csk = true;
    identity_policy_.algorithm = csk.algorithm();
    identity_policy_.dnskey_ttl = id.ttl;
    identity_policy_.validity = 14 * 86400;
    identity_policy_.refresh = 7 * 86400;
}

capabilities agent_role::own_caps() const {
    capabilities c;
    c.transport = dns::ms_transport::DNS | (agent_.offer_api ? dns::ms_transport::API : 0);
    c.synchronization =
        dns::ms_sync::LEADER_FOLLOWER | (agent_.offer_peer_sync ? dns::ms_sync::PEER : 0);
    return c;
}

void agent_role::start_agent() {
    if (running_) return;
    running_ = true;
    log::info("agent_started",
              {{"identity", key_of(agent_.identity.identity)},
               {"sig0_key", sig0_.owner().to_text() + " " + std::to_string(sig0_.tag())},
               {"zones", zones_.size()},
               {"peers", peers_.size()}});
    start_api();
    asio::co_spawn(timer_->get_executor(), run(), asio::detached);
}

std::string agent_role::reconfigure(zone::engine_settings settings, agent_settings agent) {
    zone::zone_settings id;
    id.name = agent_.identity.identity;
    id.role_built = true;
    id.notify = agent.identity_notify;
    id.allow_transfer = agent.identity_allow_transfer;
    settings.zones.push_back(std::move(id));
    if (!(agent.identity.identity == agent_.identity.identity))
        return "the agent's identity cannot change without a restart";
    // Timers and published data may change; the keys and the identity stay.
    agent_.identity.ttl = agent.identity.ttl;
    agent_.identity.nameservers = agent.identity.nameservers;
    agent_.identity.provider_nameservers = agent.identity.provider_nameservers;
    agent_.identity.publish_key = agent.identity.publish_key;
    agent_.identity.publish_own_tlsa = agent.identity.publish_own_tlsa;
    agent_.identity.extra_tlsa = agent.identity.extra_tlsa;
    agent_.identity_notify = agent.identity_notify;
    agent_.identity_allow_transfer = agent.identity_allow_transfer;
    identity_dirty_ = true;
    wake();
    return engine_.reconfigure(std::move(settings));
}

// --- zones ---

void agent_role::zone_started(served_zone& z) {
    if (z.settings.role_built || !z.data) return;
    read_zone(z);
}

void agent_role::version_served(served_zone& z) {
    if (z.settings.role_built) return;
    read_zone(z);
    if (auto it = zones_.find(key_of(z.settings.name)); it != zones_.end())
        it->second.next_sync = 0;
    wake();
}

void agent_role::read_zone(served_zone& z) {
    const auto& own = agent_.identity.identity;
    std::string zk = key_of(z.settings.name);
    hsync_set set = read_hsync(z.data->records(), z.settings.name);
    auto it = zones_.find(zk);
    if (set.empty() && it == zones_.end()) return;  // not a multi-signer zone
    int64_t now = engine_.now();
    if (set.empty()) {
        // The HSYNC RRset is gone: the zone is no longer multi-signer.
        for (const auto& [peer_key, zp] : it->second.peers)
            drop_peer_zone(peer_key, zk);
        zones_.erase(it);
        // A single-signer zone again: a later HSYNC RRset starts from an empty group.
        forget_sync_state(zk);
        identity_dirty_ = true;
        log::info("agent_zone_left", {{"zone", zk}, {"reason", "no HSYNC RRset"}});
        return;
    }
    agent_zone& az = zones_[zk];
    bool fresh = az.since == 0;
    az.name = z.settings.name;
    hsync_diff change = diff(az.set, set);
    for (const auto& p : set.problems)
        log::warn("hsync_problem", {{"zone", zk}, {"problem", p.to_text()}});
    az.set = std::move(set);
    const bool was_ours = az.ours;
    az.ours = az.set.find(own) != nullptr;
    // Published per-zone data comes and goes with our record (a Sign=NO provider has no
    // keys to publish, only its nameservers).
    if (az.ours != was_ours) identity_dirty_ = true;
    az.error.clear();
    if (!az.ours)
        az.error = "our identity " + own.to_text() + " is not in the zone's HSYNC RRset";
    else if (!az.set.problems.empty())
        az.error = az.set.problems.front().to_text();

    // The zone's peers: every other identity the set names, while we are named too.
    std::set<std::string> wanted;
    if (az.ours)
        for (const auto& e : az.set.remote_agents(own))
            wanted.insert(key_of(e.identity));
    for (auto pit = az.peers.begin(); pit != az.peers.end();) {
        if (wanted.count(pit->first)) {
            ++pit;
            continue;
        }
        pending_.erase({zk, pit->first});
        drop_peer_zone(pit->first, zk);
        pit = az.peers.erase(pit);
    }
    for (const auto& e : az.set.remote_agents(own)) {
        std::string pk = key_of(e.identity);
        if (!wanted.count(pk) || az.peers.count(pk)) continue;
        auto& p = peer_for(e.identity);
        p.zones.insert(zk);
        auto& zp = az.peers[pk];
        zp.next_try = now;
        pending_.insert({zk, pk});
    }
    if (fresh || !change.empty()) {
        az.since = now;
        az.negotiation.emplace(az.set);
        az.negotiation->answered(own, own_caps());
        for (const auto& [pk, zp] : az.peers) {
            auto pit = peers_.find(pk);
            if (zp.done && pit != peers_.end() && pit->second.caps)
                az.negotiation->answered(pit->second.identity, *pit->second.caps);
        }
        update_negotiation(az);
        log::info("agent_zone", {{"zone", zk},
                                 {"agents", az.set.entries.size()},
                                 {"ours", az.ours},
                                 {"added", change.added.size()},
                                 {"removed", change.removed.size()},
                                 {"changed", change.changed.size()}});
    }
    // A provider with Sign=NO serves another's signed copy: those keys are not its own.
    const auto* own_entry = az.set.find(own);
    zone_keys keys =
        az.ours && own_entry->sign == hsync_sign::yes ? own_keys(*z.data) : zone_keys{};
    keys.zone = z.settings.name;
    if (!(keys == az.keys)) {
        az.keys = std::move(keys);
        identity_dirty_ = true;
    }
}

agent_role::peer_entry& agent_role::peer_for(const dns::name& identity) {
    std::string pk = key_of(identity);
    auto it = peers_.find(pk);
    if (it != peers_.end()) return it->second;
    int64_t now = engine_.now();
    peer_entry p(identity.canonical(), peer_relation(now, agent_.timing));
    // A relation kept from before a restart continues where it stopped.
    auto& kv = engine_.kv();
    if (auto text = kv.get(peers_ns, pk)) {
        try {
            p.relation = peer_relation::from_text(*text, agent_.timing);
        } catch (const std::exception& e) {
            log::warn("agent_peer_state_unreadable", {{"peer", pk}, {"error", e.what()}});
        }
    }
    if (auto text = kv.get(found_ns, pk)) p.found = discovered_peer::from_text(*text);
    if (auto text = kv.get(caps_ns, pk)) {
        unsigned t = 0, s = 0;
        if (std::sscanf(text->c_str(), "%u %u", &t, &s) == 2)
            p.caps = capabilities{static_cast<uint8_t>(t), static_cast<uint8_t>(s)};
    }
    // Without what discovery found we cannot check the peer's messages: find it again.
    if (!p.found && p.relation.state() != peer_state::needed) {
        p.relation = peer_relation(now, agent_.timing);
    }
    log::info("agent_peer_added",
              {{"peer", pk}, {"state", std::string(to_text(p.relation.state()))}});
    return peers_.emplace(pk, std::move(p)).first->second;
}

void agent_role::drop_peer_zone(const std::string& peer_key, const std::string& zone_key) {
    auto it = peers_.find(peer_key);
    if (it == peers_.end()) return;
    it->second.zones.erase(zone_key);
    if (!it->second.zones.empty()) return;
    // No zone names the peer any more: the relation ends.
    auto& kv = engine_.kv();
    kv.erase(peers_ns, peer_key);
    kv.erase(found_ns, peer_key);
    kv.erase(caps_ns, peer_key);
    log::info("agent_peer_removed", {{"peer", peer_key}});
    release_if_unused(peer_key);
}

void agent_role::release_if_unused(const std::string& peer_key) {
    auto it = peers_.find(peer_key);
    if (it == peers_.end() || !it->second.zones.empty()) return;
    const auto& p = it->second;
    if (!p.discovering && !p.helloing && !p.beating) peers_.erase(it);
}

void agent_role::store_peer(const peer_entry& p) {
    // A peer no zone names is on its way out: its stored relation is already gone.
    if (p.zones.empty()) return;
    auto& kv = engine_.kv();
    std::string pk = key_of(p.identity);
    kv.set(peers_ns, pk, p.relation.to_text());
    if (p.found) kv.set(found_ns, pk, p.found->to_text());
    if (p.caps)
        kv.set(caps_ns, pk,
               std::to_string(p.caps->transport) + " " + std::to_string(p.caps->synchronization));
}

void agent_role::update_negotiation(agent_zone& az) {
    if (!az.negotiation) return;
    auto before = az.result;
    az.result = az.negotiation->result();
    if (az.result && !(before && *before == *az.result))
        log::info("agent_zone_negotiated", {{"zone", key_of(az.name)},
                                            {"transport", to_text(az.result->transport)},
                                            {"sync", to_text(az.result->synchronization)}});
}

void agent_role::peer_lost(peer_entry& p) {
    std::string pk = key_of(p.identity);
    int64_t now = engine_.now();
    for (const auto& zk : p.zones) {
        auto zit = zones_.find(zk);
        if (zit == zones_.end()) continue;
        auto& az = zit->second;
        auto pit = az.peers.find(pk);
        if (pit == az.peers.end()) continue;
        pit->second.done = false;
        pit->second.failures = 0;
        pit->second.next_try = now;
        pending_.insert({zk, pk});
        if (az.negotiation) az.negotiation->forget(p.identity);
        update_negotiation(az);
    }
}

void agent_role::wake() {
    if (timer_) timer_->cancel();
}

// --- the loop ---

awaitable<void> agent_role::run() {
    auto alive = alive_;
    while (*alive && !engine_.stopping()) {
        int64_t now = engine_.now();
        int64_t next = now + 5;

        if (!identity_building_ && (identity_dirty_ || now >= identity_resign_at_)) {
            identity_building_ = true;
            asio::co_spawn(timer_->get_executor(), build_identity(), asio::detached);
        }

        std::vector<std::string> unused;
        for (auto& [pk, p] : peers_) {
            if (p.zones.empty()) {
                unused.push_back(pk);
                continue;
            }
            auto actions = p.relation.tick(now);
            if (actions.discover && !p.discovering && in_flight_ < agent_.max_in_flight) {
                p.discovering = true;
                ++in_flight_;
                p.relation.discovery_started(now);
                asio::co_spawn(timer_->get_executor(), discover_peer(pk), asio::detached);
            }
            if (actions.send_hello && !p.helloing && p.found && in_flight_ < agent_.max_in_flight) {
                // The relation's HELLO: for a zone not yet done with the peer, else any.
                std::string zk;
                for (const auto& z : p.zones) {
                    auto zit = zones_.find(z);
                    if (zit == zones_.end() || !zit->second.ours) continue;
                    if (zk.empty()) zk = z;
                    if (!zit->second.peers[pk].done) {
                        zk = z;
                        break;
                    }
                }
                if (!zk.empty()) {
                    p.helloing = true;
                    ++in_flight_;
                    p.relation.hello_sent(now);
                    pending_.erase({zk, pk});
                    zones_[zk].peers[pk].in_flight = true;
                    asio::co_spawn(timer_->get_executor(), send_hello(pk, zk, true),
                                   asio::detached);
                }
            }
            if (actions.send_beat && !p.beating && p.found) {
                p.beating = true;
                p.relation.beat_sent(now);
                asio::co_spawn(timer_->get_executor(), send_beat(pk), asio::detached);
            }
            if (auto w = p.relation.next_wakeup()) next = std::min(next, *w);
        }

        for (const auto& pk : unused)
            release_if_unused(pk);

        // HELLOs of further zones with peers we already talk to.
        for (auto it = pending_.begin();
             it != pending_.end() && in_flight_ < agent_.max_in_flight;) {
            auto [zk, pk] = *it;
            auto zit = zones_.find(zk);
            auto pit = peers_.find(pk);
            if (zit == zones_.end() || pit == peers_.end() || !zit->second.peers.count(pk)) {
                it = pending_.erase(it);
                continue;
            }
            auto& zp = zit->second.peers[pk];
            if (zp.done) {
                it = pending_.erase(it);
                continue;
            }
            if (!talking(pit->second.relation.state()) || !pit->second.found || zp.in_flight) {
                ++it;
                continue;
            }
            if (zp.next_try > now) {
                next = std::min(next, zp.next_try);
                ++it;
                continue;
            }
            zp.in_flight = true;
            ++in_flight_;
            it = pending_.erase(it);
            asio::co_spawn(timer_->get_executor(), send_hello(pk, zk, false), asio::detached);
        }

        // Synchronization: one pass per zone at a time, once its negotiation is done.
        for (auto& [zk, az] : zones_) {
            if (!az.ours || !az.result || az.syncing) continue;
            if (now >= az.next_sync) {
                az.syncing = true;
                asio::co_spawn(timer_->get_executor(), sync_zone(zk), asio::detached);
            } else {
                next = std::min(next, az.next_sync);
            }
        }

        next = std::max(next, now + (identity_dirty_ ? 1 : 0));
        timer_->expires_after(std::chrono::seconds(std::max<int64_t>(next - now, 0)) +
                              std::chrono::milliseconds(next > now ? 0 : 50));
        boost::system::error_code ec;
        co_await timer_->async_wait(asio::redirect_error(net::use_awaitable, ec));
    }
}

awaitable<void> agent_role::discover_peer(std::string pk) {
    auto alive = alive_;
    dns::name identity = peers_.at(pk).identity;
    ++counters_.discoveries;
    auto outcome = co_await discover(*resolver_, identity, agent_.offer_api);
    if (!*alive) co_return;
    --in_flight_;
    auto it = peers_.find(pk);
    if (it == peers_.end()) co_return;
    auto& p = it->second;
    p.discovering = false;
    int64_t now = engine_.now();
    auto before = p.relation.state();
    if (outcome.found) {
        bool changed = p.found && p.found->fingerprint() != outcome.found->fingerprint();
        bool records_changed = !p.found || p.found->to_text() != outcome.found->to_text();
        p.found = std::move(outcome.found);
        // The API is tried again when the records changed (a new TLSA), or a while after
        // it failed (not at every rediscovery: a broken TLSA would make the transport flap).
        if (records_changed || now >= p.api_failed_at + 300) {
            p.api_failed = false;
            p.api_error.clear();
        }
        p.relation.discovery_succeeded(now, p.found->ttl, changed);
        if (changed) peer_lost(p);
        if (before != p.relation.state() || changed)
            log::info("agent_peer_discovered",
                      {{"peer", pk},
                       {"state", std::string(to_text(p.relation.state()))},
                       {"target", p.found->dns.target.to_text()},
                       {"port", p.found->dns.port},
                       {"key_tag", dnssec::key::from_rdata(p.found->key.owner, p.found->key.rdata,
                                                           dns::rr_type::KEY)
                                       .tag()},
                       {"changed", changed}});
    } else {
        ++counters_.discovery_failures;
        p.relation.discovery_failed(now, outcome.failure, outcome.detail);
        if (!is_transient(outcome.failure)) {
            // What we knew can no longer be trusted (the KEY may have been withdrawn).
            p.found.reset();
            engine_.kv().erase(found_ns, pk);
            peer_lost(p);
        }
        log::warn("agent_discovery_failed", {{"peer", pk},
                                             {"failure", std::string(to_text(outcome.failure))},
                                             {"detail", outcome.detail},
                                             {"state", std::string(to_text(p.relation.state()))}});
    }
    store_peer(p);
    release_if_unused(pk);
    wake();
}

awaitable<std::optional<dns::message>> agent_role::exchange(peer_entry& p,
                                                            std::vector<uint8_t> wire,
                                                            std::string& error) {
    auto alive = alive_;
    auto found = *p.found;  // the entry may change while we wait
    dns::name identity = p.identity;
    net::query_result r;
    // Every argument of a coroutine call is a named object moved in: g++ 12 destroys
    // temporaries in a co_await expression twice (docs/choices.md, engine::off_loop).
    auto ex = timer_->get_executor();
    for (const auto& address : found.dns.addresses) {
        net::peer target{address, found.dns.port};
        std::vector<uint8_t> attempt = wire;
        r = co_await net::notify(ex, target, std::move(attempt), agent_.message_timeout,
                                 agent_.message_retries);
        if (!*alive) co_return std::nullopt;
        if (r) break;
    }
    if (!r) {
        error = "no answer: " + r.error;
        co_return std::nullopt;
    }
    // The answer is checked as every agent message is: signed by the peer's KEY, over our
    // request, fresh, not seen before.
    key_lookup lookup = [&](const dns::name& id) -> std::optional<validated_key> {
        if (id == identity) return found.key;
        return std::nullopt;
    };
    auto verdict = guard_.check(r.wire, r.response, lookup, std::span(&identity, 1), wire);
    if (!verdict.accepted()) {
        error = "answer failed the check (" + std::string(verdict.label()) + "): " + verdict.reason;
        co_return std::nullopt;
    }
    co_return std::move(r.response);
}

awaitable<void> agent_role::send_hello(std::string pk, std::string zk, bool for_relation) {
    auto alive = alive_;
    auto finish = [&](peer_entry* p) {
        --in_flight_;
        if (p && for_relation) p->helloing = false;
    };
    auto pit = peers_.find(pk);
    auto zit = zones_.find(zk);
    if (pit == peers_.end() || zit == zones_.end() || !pit->second.found) {
        finish(pit == peers_.end() ? nullptr : &pit->second);
        co_return;
    }
    auto wire = make_agent_notify(zit->second.name, dns::ms_operation::HELLO, own_caps(), sig0_,
                                  engine_.now());
    ++counters_.sent_hello;
    std::string error;
    auto answer = co_await exchange(pit->second, std::move(wire), error);
    if (!*alive) co_return;
    pit = peers_.find(pk);
    zit = zones_.find(zk);
    finish(pit == peers_.end() ? nullptr : &pit->second);
    if (pit == peers_.end() || zit == zones_.end()) co_return;
    auto& p = pit->second;
    auto& az = zit->second;
    auto zpit = az.peers.find(pk);
    if (zpit == az.peers.end()) co_return;
    auto& zp = zpit->second;
    zp.in_flight = false;
    int64_t now = engine_.now();
    if (answer && answer->rcode == dns::rcode::NOERROR) {
        ++counters_.hello_accepted;
        if (const auto* o = ms_option(*answer))
            p.caps = capabilities{o->transport, o->synchronization};
        zp.done = true;
        zp.failures = 0;
        zp.last = "HELLO accepted";
        if (az.negotiation && p.caps) az.negotiation->answered(p.identity, *p.caps);
        update_negotiation(az);
        auto before = p.relation.state();
        p.relation.hello_accepted(now);
        if (before != p.relation.state())
            log::info("agent_peer_operational", {{"peer", pk}, {"zone", zk}, {"by", "our HELLO"}});
    } else {
        ++zp.failures;
        int64_t delay =
            std::min<int64_t>(agent_.timing.backoff_initial << std::min(zp.failures - 1, 20),
                              agent_.timing.backoff_max);
        zp.next_try = now + delay;
        if (answer) {
            ++counters_.hello_refused;
            zp.last = "HELLO answered " + dns::rcode_to_text(answer->rcode);
            p.last_refusal = zp.last + " (zone " + zk + ")";
            if (for_relation) p.relation.hello_refused(now);
        } else {
            ++counters_.hello_unanswered;
            zp.last = "HELLO: " + error;
            if (for_relation) p.relation.hello_unanswered(now);
        }
        pending_.insert({zk, pk});
        log::info("agent_hello_failed",
                  {{"peer", pk}, {"zone", zk}, {"outcome", zp.last}, {"retry_in", delay}});
    }
    store_peer(p);
    wake();
}

awaitable<void> agent_role::send_beat(std::string pk) {
    auto alive = alive_;
    auto pit = peers_.find(pk);
    if (pit == peers_.end() || !pit->second.found) {
        if (pit != peers_.end()) pit->second.beating = false;
        co_return;
    }
    ++counters_.sent_beat;
    if (use_api(pit->second)) {
        std::string path = "/beat";
        std::string beat = own_caps_json();
        auto res = co_await api_post(pit->second, std::move(path), std::move(beat));
        if (!*alive) co_return;
        pit = peers_.find(pk);
        if (pit == peers_.end()) co_return;
        auto& p = pit->second;
        if (res.ok || res.status == 409) {
            p.beating = false;
            if (res.ok) {
                ++counters_.beat_accepted;
            } else {
                ++counters_.beat_refused;
                p.last_refusal = "HEARTBEAT answered HTTP 409 (" + res.body + ")";
                p.relation.beat_refused(engine_.now());
                peer_lost(p);
                store_peer(p);
            }
            wake();
            co_return;
        }
        // The API failed: say why, and beat over DNS (the draft's fallback).
    }
    auto wire = make_agent_notify(agent_.identity.identity, dns::ms_operation::HEARTBEAT,
                                  own_caps(), sig0_, engine_.now());
    std::string error;
    auto answer = co_await exchange(pit->second, std::move(wire), error);
    if (!*alive) co_return;
    pit = peers_.find(pk);
    if (pit == peers_.end()) co_return;
    auto& p = pit->second;
    p.beating = false;
    int64_t now = engine_.now();
    if (answer && answer->rcode == dns::rcode::NOERROR) {
        ++counters_.beat_accepted;
    } else if (answer) {
        // The peer no longer has a relation with us (it lost its state): HELLO again.
        ++counters_.beat_refused;
        p.last_refusal = "HEARTBEAT answered " + dns::rcode_to_text(answer->rcode);
        p.relation.beat_refused(now);
        peer_lost(p);
        log::warn("agent_beat_refused",
                  {{"peer", pk}, {"rcode", dns::rcode_to_text(answer->rcode)}});
        store_peer(p);
    } else {
        ++counters_.beat_unanswered;
        log::debug("agent_beat_unanswered", {{"peer", pk}, {"error", error}});
    }
    release_if_unused(pk);
    wake();
}

awaitable<void> agent_role::build_identity() {
    auto alive = alive_;
    identity_dirty_ = false;
    std::vector<zone_keys> keys;
    for (const auto& [zk, az] : zones_)
        if (az.ours) keys.push_back(az.keys);
    const size_t published_zones = keys.size();
    served_zone* z = engine_.exact_zone(agent_.identity.identity);
    if (!z) {
        identity_building_ = false;
        co_return;
    }
    int64_t now = engine_.now();
    uint32_t serial =
        zone::next_serial(engine_.last_serial(*z).value_or(0), static_cast<uint32_t>(now));
    dns::record_store signed_zone;
    std::string error;
    {
        std::optional<spki_digest> tls;
        if (tls_) tls = tls_->spki_sha256();
        auto job = [settings = agent_.identity, sig0 = sig0_, keys = std::move(keys),
                    key_set = identity_keys_, policy = identity_policy_, serial, now, tls,
                    &error]() -> dns::record_store {
            try {
                auto records = identity_records(settings, sig0, tls, keys, serial);
                signer::sign_context ctx;
                ctx.origin = settings.identity;
                ctx.keys = &key_set;
                ctx.policy = &policy;
                ctx.serial = serial;
                ctx.now = now;
                ctx.threads = 1;
                return signer::sign_full(records, ctx);
            } catch (const std::exception& e) {
                error = e.what();
                return {};
            }
        };
        signed_zone = co_await engine_.off_loop(std::move(job));
    }
    if (!*alive) co_return;
    identity_building_ = false;
    z = engine_.exact_zone(agent_.identity.identity);
    if (!z) co_return;
    if (!error.empty()) {
        z->last_error = error;
        log::error("agent_identity_failed",
                   {{"zone", key_of(agent_.identity.identity)}, {"error", error}});
        identity_resign_at_ = now + 60;
        co_return;
    }
    // Signatures live 14 days and are made again after 7, or when anything changes.
    identity_resign_at_ = now + identity_policy_.validity - identity_policy_.refresh;
    size_t records = signed_zone.size();
    engine_.commit(*z, std::move(signed_zone), nullptr);
    ++counters_.identity_builds;
    log::info("agent_identity_published", {{"zone", key_of(agent_.identity.identity)},
                                           {"serial", serial},
                                           {"records", records},
                                           {"zones", published_zones}});
    announce_changes();
    wake();
}

// --- inbound agent messages ---

std::vector<uint8_t> agent_role::refuse(const net::request& req, const dns::message& query,
                                        uint16_t rcode, const std::string& label,
                                        const std::string& reason) {
    ++counters_.refused[label];
    log::warn(
        "agent_message_refused",
        {{"client", req.client.to_string()},
         {"qname", query.questions.empty() ? std::string("-") : query.questions[0].qname.to_text()},
         {"reason", label},
         {"detail", reason}});
    return make_agent_response(query, req.wire, rcode, own_caps(), sig0_, engine_.now());
}

key_lookup agent_role::peer_keys() const {
    // A peer's validated KEY, while its records are known to be secure.
    return [this](const dns::name& id) -> std::optional<validated_key> {
        auto it = peers_.find(key_of(id));
        if (it == peers_.end() || !it->second.found) return std::nullopt;
        if (it->second.relation.state() == peer_state::needed ||
            it->second.relation.state() == peer_state::error)
            return std::nullopt;
        return it->second.found->key;
    };
}

std::optional<std::vector<uint8_t>> agent_role::take_request(const net::request& req,
                                                             const dns::message& query) {
    if (!is_agent_message(query)) return std::nullopt;
    const auto* option = ms_option(query);
    if (query.questions.size() != 1)
        return refuse(req, query, dns::rcode::FORMERR, "malformed", "not exactly one question");
    const dns::name& qname = query.questions[0].qname;
    uint8_t operation = option ? option->operation : 0;
    if (operation >= dns::ms_operation::PRIVATE_FIRST) return take_sync(req, query, *option);

    // Who may have sent it: for a HELLO the agents of the zone it names; for a HEARTBEAT
    // the peer it names. Nothing else is looked at before the signature is checked.
    std::vector<dns::name> allowed;
    agent_zone* az = nullptr;
    if (operation == dns::ms_operation::HELLO) {
        auto zit = zones_.find(key_of(qname));
        if (zit == zones_.end() || !zit->second.ours)
            return refuse(req, query, dns::rcode::REFUSED, "unknown-zone",
                          "HELLO for " + qname.to_text() +
                              ", which is not a multi-signer zone of ours (yet)");
        az = &zit->second;
        for (const auto& e : az->set.remote_agents(agent_.identity.identity))
            allowed.push_back(e.identity);
    } else {
        for (const auto& [pk, p] : peers_)
            if (!p.zones.empty() &&
                (operation != dns::ms_operation::HEARTBEAT || p.identity == qname))
                allowed.push_back(p.identity);
    }
    key_lookup lookup = peer_keys();
    auto verdict = guard_.check(req.wire, query, lookup, allowed);
    if (!verdict.accepted()) {
        // A peer we have not found yet: look it up now rather than at the next retry.
        if (verdict.failure == guard_failure::unknown_signer) wake();
        return refuse(req, query, verdict.rcode(), std::string(verdict.label()), verdict.reason);
    }
    auto& p = peers_.at(key_of(verdict.signer));
    int64_t now = engine_.now();
    if (!option)
        return refuse(req, query, dns::rcode::FORMERR, "no-option",
                      "a signed NOTIFY without the Multi-Signer option");

    if (operation == dns::ms_operation::HELLO) {
        ++counters_.received_hello;
        hello_received(p, *az, capabilities{option->transport, option->synchronization}, "DNS");
        return make_agent_response(query, req.wire, dns::rcode::NOERROR, own_caps(), sig0_, now);
    }
    if (operation == dns::ms_operation::HEARTBEAT) {
        ++counters_.received_beat;
        if (!p.relation.beat_received(now))
            return refuse(req, query, dns::rcode::REFUSED, "no-relation",
                          "HEARTBEAT from " + p.identity.to_text() + " while the relation is " +
                              std::string(to_text(p.relation.state())) + ": HELLO first");
        store_peer(p);
        return make_agent_response(query, req.wire, dns::rcode::NOERROR, own_caps(), sig0_, now);
    }
    return refuse(req, query, dns::rcode::NOTIMP, "unknown-operation",
                  "operation " + std::to_string(operation) + " is not one we implement");
}

// --- the REST API ---

bool agent_role::use_api(const peer_entry& p) const {
    return agent_.api && tls_ && p.found && p.found->api && !p.found->tlsa.empty() && p.caps &&
           (p.caps->transport & dns::ms_transport::API) && !p.api_failed;
}

std::string agent_role::api_note(const peer_entry& p) const {
    if (use_api(p)) return {};
    if (!agent_.api) return "we do not offer the API";
    if (!p.found) return "not discovered";
    if (p.api_failed) return "API failed, using DNS: " + p.api_error;
    if (!p.found->api) return "no API records: " + p.found->api_error;
    if (!p.caps || !(p.caps->transport & dns::ms_transport::API))
        return "the peer does not offer the API";
    return "API not usable";
}

void agent_role::start_api() {
    if (!agent_.api || !tls_ || https_) return;
    net::dane_https_options o;
    o.listen = agent_.api->listen;
    o.log = [](const std::string& m) { log::info("agent_api", {{"message", m}}); };
    https_ = std::make_unique<net::dane_https_server>(timer_->get_executor(), *tls_, o);
    https_->on_post("/hello", net::https_sync_handler(
                                  [this](const net::https_request& r) { return api_hello(r); }));
    https_->on_post("/beat", net::https_sync_handler(
                                 [this](const net::https_request& r) { return api_beat(r); }));
    log::info("agent_api_listening", {{"address", https_->endpoint().address().to_string()},
                                      {"port", https_->endpoint().port()},
                                      {"tlsa", "3 1 1 " + net::to_hex(tls_->spki_sha256())}});
}

namespace {

net::https_reply api_error(unsigned status, const std::string& message) {
    return {status, nlohmann::json{{"error", message}}.dump()};
}

}  // namespace

agent_role::peer_entry* agent_role::api_sender(const net::https_request& req,
                                               const std::string& identity,
                                               net::https_reply& refusal) {
    peer_entry* p = api_sender_checked(req, identity, refusal);
    if (!p) {
        ++counters_.api_refused;
        log::warn("agent_api_refused",
                  {{"client", req.client.to_string()}, {"reason", refusal.body}});
    }
    return p;
}

agent_role::peer_entry* agent_role::api_sender_checked(const net::https_request& req,
                                                       const std::string& identity,
                                                       net::https_reply& refusal) {
    dns::name n;
    try {
        n = dns::name::from_text(identity);
    } catch (const dns::dns_error& e) {
        refusal = api_error(400, std::string("identity: ") + e.what());
        return nullptr;
    }
    auto it = peers_.find(key_of(n));
    if (it == peers_.end() || it->second.zones.empty() || !it->second.found) {
        refusal = api_error(403, "unknown agent " + n.to_text());
        return nullptr;
    }
    const auto& tlsa = it->second.found->tlsa;
    if (std::find(tlsa.begin(), tlsa.end(), req.client_spki) == tlsa.end()) {
        refusal =
            api_error(403, "the client certificate (SPKI SHA-256 " + net::to_hex(req.client_spki) +
                               ") does not match the TLSA of " + n.to_text());
        return nullptr;
    }
    return &it->second;
}

net::https_reply agent_role::api_hello(const net::https_request& req) {
    nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body["identity"].is_string() ||
        !body["zone"].is_string() || !body["transport"].is_number_unsigned() ||
        !body["synchronization"].is_number_unsigned())
        return api_error(400, "a HELLO is {identity, zone, transport, synchronization}");
    net::https_reply refusal;
    peer_entry* p = api_sender(req, body["identity"].get<std::string>(), refusal);
    if (!p) return refusal;
    dns::name zone;
    try {
        zone = dns::name::from_text(body["zone"].get<std::string>());
    } catch (const dns::dns_error& e) {
        return api_error(400, std::string("zone: ") + e.what());
    }
    std::string zk = key_of(zone), pk = key_of(p->identity);
    auto zit = zones_.find(zk);
    if (zit == zones_.end() || !zit->second.ours || !zit->second.peers.count(pk))
        return api_error(404, "zone " + zk + " is not a multi-signer zone we share with " + pk);
    ++counters_.api_received;
    ++counters_.received_hello;
    hello_received(
        *p, zit->second,
        capabilities{static_cast<uint8_t>(body["transport"].get<unsigned>() & 0xff),
                     static_cast<uint8_t>(body["synchronization"].get<unsigned>() & 0xff)},
        "API");
    return {200, own_caps_json()};
}

std::string agent_role::own_caps_json() const {
    return nlohmann::json{{"identity", agent_.identity.identity.to_text()},
                          {"transport", own_caps().transport},
                          {"synchronization", own_caps().synchronization}}
        .dump();
}

void agent_role::hello_received(peer_entry& p, agent_zone& az, capabilities caps,
                                const char* transport) {
    std::string pk = key_of(p.identity);
    p.caps = caps;
    auto& zp = az.peers[pk];
    zp.done = true;
    zp.failures = 0;
    zp.last = std::string("HELLO received (") + transport + ")";
    pending_.erase({key_of(az.name), pk});
    if (az.negotiation) az.negotiation->answered(p.identity, caps);
    update_negotiation(az);
    auto before = p.relation.state();
    p.relation.hello_accepted(engine_.now());
    if (before != p.relation.state())
        log::info("agent_peer_operational",
                  {{"peer", pk}, {"zone", key_of(az.name)}, {"by", "their HELLO"}});
    store_peer(p);
    wake();
}

net::https_reply agent_role::api_beat(const net::https_request& req) {
    nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body["identity"].is_string())
        return api_error(400, "a HEARTBEAT is {identity, transport, synchronization}");
    net::https_reply refusal;
    peer_entry* p = api_sender(req, body["identity"].get<std::string>(), refusal);
    if (!p) return refusal;
    ++counters_.api_received;
    ++counters_.received_beat;
    if (!p->relation.beat_received(engine_.now()))
        return api_error(409, "no relation with " + p->identity.to_text() + ": HELLO first");
    store_peer(*p);
    return {200, own_caps_json()};
}

awaitable<net::dane_post_result> agent_role::api_post(peer_entry& p, std::string path,
                                                      std::string body) {
    auto alive = alive_;
    auto found = *p.found;
    dns::name identity = p.identity;
    ++counters_.api_sent;
    std::string host = found.api->target.to_text();
    if (host.size() > 1) host.pop_back();
    net::dane_post_result res;
    for (const auto& address : found.api->addresses) {
        // Named arguments only (see exchange()).
        auto ex = timer_->get_executor();
        net::peer target{address, found.api->port};
        std::string server_name = host;
        std::string target_path =
            found.api_path.size() > 1 ? found.api_path + path.substr(1) : path;
        std::string request_body = body;
        net::tls_identity own = *tls_;
        std::vector<net::spki_digest> expected = found.tlsa;
        std::chrono::milliseconds timeout = agent_.message_timeout * 2;
        res = co_await net::dane_post(ex, target, std::move(server_name), std::move(target_path),
                                      std::move(request_body), std::move(own), std::move(expected),
                                      timeout);
        if (!*alive) co_return res;
        if (res.ok || res.status != 0) break;
    }
    if (!res.ok && res.status != 409) {
        ++counters_.api_failed;
        auto it = peers_.find(key_of(identity));
        if (it != peers_.end()) {
            it->second.api_failed = true;
            it->second.api_failed_at = engine_.now();
            it->second.api_error =
                res.error.empty() ? "HTTP " + std::to_string(res.status) : res.error;
            log::warn(
                "agent_api_failed",
                {{"peer", key_of(identity)}, {"error", it->second.api_error}, {"fallback", "dns"}});
        }
    }
    co_return res;
}

// --- what the operator sees ---

std::string agent_role::peer_json(const peer_entry& p) const {
    std::string o = "{\"identity\":";
    zone::json_string(o, p.identity.to_text());
    o += ",\"state\":";
    zone::json_string(o, to_text(p.relation.state()));
    o += ",\"reason\":";
    json_text_or_null(o, p.relation.reason());
    o += ",\"since\":";
    json_time(o, p.relation.since());
    o += ",\"transport\":";
    o += use_api(p) ? "\"api\"" : "\"dns\"";
    o += ",\"api\":";
    json_text_or_null(o, api_note(p));
    o += ",\"last_hello\":";
    json_time(o, p.relation.last_hello());
    o += ",\"last_beat\":";
    json_time(o, p.relation.last_beat());
    o += ",\"zones\":" + std::to_string(p.zones.size());
    o += ",\"error\":";
    json_text_or_null(o, p.relation.state() == peer_state::error ? p.relation.reason() : "");
    o += ",\"last_refusal\":";
    json_text_or_null(o, p.last_refusal);
    o += ",\"address\":";
    if (p.found && !p.found->dns.addresses.empty())
        zone::json_string(o, p.found->dns.addresses.front().to_string() + "#" +
                                 std::to_string(p.found->dns.port));
    else
        o += "null";
    o += ",\"key\":";
    if (p.found) {
        try {
            auto k =
                dnssec::key::from_rdata(p.found->key.owner, p.found->key.rdata, dns::rr_type::KEY);
            zone::json_string(o, p.found->key.owner.to_text() + " " + std::to_string(k.tag()));
        } catch (const std::exception&) {
            o += "null";
        }
    } else {
        o += "null";
    }
    o += ",\"capabilities\":";
    if (p.caps) {
        o += "{\"transport\":" + std::to_string(p.caps->transport) +
             ",\"synchronization\":" + std::to_string(p.caps->synchronization) + "}";
    } else {
        o += "null";
    }
    o += ",\"next_action\":";
    json_time(o, p.relation.next_wakeup());
    o += "}";
    return o;
}

std::string agent_role::zone_json_text(const agent_zone& az, bool detail) const {
    std::string o = "{\"zone\":";
    zone::json_string(o, az.name.to_text());
    // Own identity first, then the others in canonical order.
    o += ",\"agents\":[";
    bool first = true;
    auto add_agent = [&](const dns::name& n) {
        if (!first) o += ",";
        first = false;
        zone::json_string(o, n.to_text());
    };
    if (az.ours) add_agent(agent_.identity.identity);
    for (const auto& e : az.set.entries)
        if (!(e.identity == agent_.identity.identity)) add_agent(e.identity);
    o += "],\"transport\":";
    if (az.result)
        zone::json_string(o, az.result->transport == transport_kind::api ? "api" : "dns");
    else
        o += "null";
    o += ",\"sync\":";
    if (az.result)
        zone::json_string(
            o, az.result->synchronization == sync_model::peer ? "peer" : "leader-follower");
    else
        o += "null";
    std::string state = !az.ours           ? "not-ours"
                        : az.result        ? "negotiated"
                        : az.peers.empty() ? "single"
                                           : "waiting";
    o += ",\"state\":";
    zone::json_string(o, state);
    o += ",\"process\":";
    zone::json_string(o, to_text(az.process.kind));
    o += ",\"step\":" + std::to_string(az.process.step);
    o += ",\"process_status\":";
    zone::json_string(o, az.process.active() ? to_text(az.process.status) : "");
    o += ",\"error\":";
    json_text_or_null(o, az.error);
    o += ",\"waiting_for\":[";
    if (az.negotiation) {
        bool f = true;
        for (const auto& n : az.negotiation->waiting_for()) {
            if (!f) o += ",";
            f = false;
            zone::json_string(o, n.to_text());
        }
    }
    o += "],\"nsmgmt\":";
    zone::json_string(o, to_text(az.set.nsmgmt));
    o += ",\"leader_candidate\":";
    if (auto c = az.set.leader_candidate())
        zone::json_string(o, c->to_text());
    else
        o += "null";
    if (detail) {
        o += ",\"since\":";
        json_time(o, az.since);
        o += ",\"hsync\":[";
        bool f = true;
        for (const auto& e : az.set.entries) {
            if (!f) o += ",";
            f = false;
            zone::json_string(o, e.to_text());
        }
        o += "],\"problems\":[";
        f = true;
        for (const auto& pr : az.set.problems) {
            if (!f) o += ",";
            f = false;
            zone::json_string(o, pr.to_text());
        }
        o += "],\"peers\":[";
        f = true;
        for (const auto& [pk, zp] : az.peers) {
            if (!f) o += ",";
            f = false;
            o += "{\"identity\":";
            zone::json_string(o, pk);
            auto pit = peers_.find(pk);
            o += ",\"state\":";
            zone::json_string(o, pit == peers_.end() ? "-" : to_text(pit->second.relation.state()));
            o += ",\"hello\":";
            zone::json_string(o, zp.done ? "done" : zp.in_flight ? "sending" : "pending");
            o += ",\"last\":";
            json_text_or_null(o, zp.last);
            o += ",\"next_try\":";
            json_time(o, zp.done ? std::nullopt : std::optional<int64_t>(zp.next_try));
            o += "}";
        }
        o += "],\"own_keys\":{\"dnskey\":" + std::to_string(az.keys.dnskeys.size()) +
             ",\"cds\":" + std::to_string(az.keys.cds.size()) + "}";
    }
    o += "}";
    return o;
}

std::optional<std::string> agent_role::role_view(const std::string& topic,
                                                 const std::string& arg) const {
    if (topic == "peers") {
        std::string o = "{\"identity\":";
        zone::json_string(o, agent_.identity.identity.to_text());
        o += ",\"peers\":[";
        bool first = true;
        for (const auto& [pk, p] : peers_) {
            if (p.zones.empty()) continue;
            if (!first) o += ",";
            first = false;
            o += peer_json(p);
        }
        return o + "]}";
    }
    if (topic == "zones") {
        std::string o = "{\"identity\":";
        zone::json_string(o, agent_.identity.identity.to_text());
        o += ",\"zones\":[";
        bool first = true;
        for (const auto& [zk, az] : zones_) {
            if (!first) o += ",";
            first = false;
            o += zone_json_text(az, false);
        }
        return o + "]}";
    }
    if (topic == "zone" || topic == "process") {
        dns::name n;
        try {
            n = dns::name::from_text(arg.empty() || arg.back() != '.' ? arg + "." : arg);
        } catch (const dns::dns_error&) {
            return std::nullopt;
        }
        auto it = zones_.find(key_of(n));
        if (it == zones_.end()) return std::nullopt;
        return topic == "zone" ? zone_json_text(it->second, true) : process_json(it->second);
    }
    if (topic == "identity") {
        std::string o = "{\"identity\":";
        zone::json_string(o, agent_.identity.identity.to_text());
        o += ",\"sig0_key\":";
        zone::json_string(o, sig0_.to_rr(agent_.identity.ttl).to_text());
        o += ",\"dnskey\":";
        zone::json_string(o, identity_keys_.keys.front().key.to_rr(agent_.identity.ttl).to_text());
        o += "}";
        return o;
    }
    return std::nullopt;
}

std::optional<std::string> agent_role::role_action(const std::string& topic, const std::string& arg,
                                                   const std::string& action) {
    if (topic != "peers" || action != "discover") return std::nullopt;
    dns::name n;
    try {
        n = dns::name::from_text(arg.empty() || arg.back() != '.' ? arg + "." : arg);
    } catch (const dns::dns_error& e) {
        return std::string(e.what());
    }
    auto it = peers_.find(key_of(n));
    if (it == peers_.end()) return "no peer " + n.to_text();
    auto& p = it->second;
    if (!p.discovering) {
        p.discovering = true;
        ++in_flight_;
        p.relation.discovery_started(engine_.now());
        asio::co_spawn(timer_->get_executor(), discover_peer(key_of(n)), asio::detached);
    }
    return std::string();
}

void agent_role::describe(const served_zone& z, zone::zone_status& st) const {
    if (z.settings.role_built) {
        st.kind = "identity";
        st.details["published zones"] = std::to_string(std::count_if(
            zones_.begin(), zones_.end(), [](const auto& e) { return e.second.ours; }));
        return;
    }
    auto it = zones_.find(key_of(z.settings.name));
    if (it == zones_.end()) {
        st.details["multi-signer"] = "no (no HSYNC RRset)";
        return;
    }
    const auto& az = it->second;
    st.details["multi-signer"] = az.ours ? "yes" : "no (" + az.error + ")";
    st.details["agents"] = std::to_string(az.set.entries.size());
    if (az.result)
        st.details["negotiated"] =
            std::string(to_text(az.result->transport)) + ", " + to_text(az.result->synchronization);
}

void agent_role::role_metrics(std::vector<roles::metric>& out) const {
    const auto& c = counters_;
    auto counter = [&](const char* name, const char* help, std::map<std::string, std::string> l,
                       uint64_t v) {
        out.push_back({name, help, "counter", std::move(l), double(v)});
    };
    counter("hsync_agent_messages_sent_total", "agent messages sent", {{"operation", "hello"}},
            c.sent_hello);
    counter("hsync_agent_messages_sent_total", "agent messages sent", {{"operation", "heartbeat"}},
            c.sent_beat);
    counter("hsync_agent_messages_received_total", "agent messages received and accepted",
            {{"operation", "hello"}}, c.received_hello);
    counter("hsync_agent_messages_received_total", "agent messages received and accepted",
            {{"operation", "heartbeat"}}, c.received_beat);
    for (size_t i = 0; i < guard_failure_count; ++i) {
        auto label = std::string(counter_label(static_cast<guard_failure>(i)));
        auto it = c.refused.find(label);
        counter("hsync_agent_messages_refused_total", "inbound agent messages refused, by reason",
                {{"reason", label}}, it == c.refused.end() ? 0 : it->second);
    }
    for (const auto& [label, n] : c.refused) {
        bool guard_label = false;
        for (size_t i = 0; i < guard_failure_count; ++i)
            guard_label |= label == counter_label(static_cast<guard_failure>(i));
        if (!guard_label)
            counter("hsync_agent_messages_refused_total",
                    "inbound agent messages refused, by reason", {{"reason", label}}, n);
    }
    counter("hsync_agent_responses_total", "answers to our messages",
            {{"operation", "hello"}, {"outcome", "accepted"}}, c.hello_accepted);
    counter("hsync_agent_responses_total", "answers to our messages",
            {{"operation", "hello"}, {"outcome", "refused"}}, c.hello_refused);
    counter("hsync_agent_responses_total", "answers to our messages",
            {{"operation", "hello"}, {"outcome", "unanswered"}}, c.hello_unanswered);
    counter("hsync_agent_responses_total", "answers to our messages",
            {{"operation", "heartbeat"}, {"outcome", "accepted"}}, c.beat_accepted);
    counter("hsync_agent_responses_total", "answers to our messages",
            {{"operation", "heartbeat"}, {"outcome", "refused"}}, c.beat_refused);
    counter("hsync_agent_responses_total", "answers to our messages",
            {{"operation", "heartbeat"}, {"outcome", "unanswered"}}, c.beat_unanswered);
    counter("hsync_agent_discoveries_total", "peer discoveries", {{"outcome", "found"}},
            c.discoveries - c.discovery_failures);
    counter("hsync_agent_discoveries_total", "peer discoveries", {{"outcome", "failed"}},
            c.discovery_failures);
    std::map<std::string, size_t> by_state;
    for (auto s : {peer_state::needed, peer_state::known, peer_state::operational,
                   peer_state::degraded, peer_state::interrupted, peer_state::error})
        by_state[std::string(to_text(s))] = 0;
    for (const auto& [pk, p] : peers_)
        if (!p.zones.empty()) ++by_state[std::string(to_text(p.relation.state()))];
    for (const auto& [s, n] : by_state)
        out.push_back({"hsync_agent_relations",
                       "peer relations by state",
                       "gauge",
                       {{"state", s}},
                       double(n)});
    size_t negotiated = 0, waiting = 0;
    for (const auto& [zk, az] : zones_)
        (az.result ? negotiated : waiting) += az.ours ? 1 : 0;
    out.push_back({"hsync_agent_zones",
                   "multi-signer zones",
                   "gauge",
                   {{"state", "negotiated"}},
                   double(negotiated)});
    out.push_back({"hsync_agent_zones",
                   "multi-signer zones",
                   "gauge",
                   {{"state", "waiting"}},
                   double(waiting)});
    counter("hsync_agent_api_requests_total", "REST API requests", {{"direction", "sent"}},
            c.api_sent);
    counter("hsync_agent_api_requests_total", "REST API requests", {{"direction", "received"}},
            c.api_received);
    counter("hsync_agent_api_requests_total", "REST API requests", {{"direction", "refused"}},
            c.api_refused);
    counter("hsync_agent_api_failures_total", "REST API requests that failed (DNS used instead)",
            {}, c.api_failed);
    std::map<std::pair<std::string, int>, size_t> by_step;
    for (const auto& [zk, az] : zones_)
        if (az.process.active()) ++by_step[{to_text(az.process.kind), az.process.step}];
    for (const auto& [k, n] : by_step)
        out.push_back({"hsync_agent_processes",
                       "multi-signer processes under way, by process and step",
                       "gauge",
                       {{"process", k.first}, {"step", std::to_string(k.second)}},
                       double(n)});
    counter("hsync_agent_processes_total", "multi-signer processes ended",
            {{"outcome", "completed"}}, c.processes_completed);
    counter("hsync_agent_processes_total", "multi-signer processes ended", {{"outcome", "failed"}},
            c.processes_failed);
    counter("hsync_agent_processes_total", "multi-signer processes ended", {{"outcome", "rewound"}},
            c.processes_rewound);
    counter("hsync_agent_updates_total", "UPDATEs sent to the combiner", {{"outcome", "sent"}},
            c.updates_sent);
    counter("hsync_agent_updates_total", "UPDATEs sent to the combiner", {{"outcome", "failed"}},
            c.updates_failed);
    counter("hsync_agent_parent_notifies_total",
            "NOTIFY(CDS/CSYNC) sent to the parent's DSYNC target", {}, c.parent_notifies);
    counter("hsync_agent_messages_sent_total", "agent messages sent", {{"operation", "sync"}},
            c.sync_sent);
    counter("hsync_agent_messages_received_total", "agent messages received and accepted",
            {{"operation", "sync"}}, c.sync_received);
    out.push_back({"hsync_agent_replay_cache_entries",
                   "entries in the SIG(0) replay cache",
                   "gauge",
                   {},
                   double(guard_.replay_entries())});
}

}  // namespace hsync::agent
