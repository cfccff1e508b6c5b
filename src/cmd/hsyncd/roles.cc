// The role factory: turns the daemon's configuration into a role's own settings.
#include "cmd/hsyncd/roles.h"

#include <stdexcept>

#include "roles/agent/agent_role.h"
#include "roles/auth/auth_role.h"
#include "roles/combiner/combiner_role.h"
#include "roles/parent/parent_role.h"
#include "roles/parent/resolver_fetch.h"
#include "roles/signer/signer_role.h"
#include "dns/text.h"
#include "zone/text.h"

namespace hsync::hsyncd {
namespace {

dns::name to_name(const std::string& text) {
    dns::name root;
    return dns::name::from_text(text, &root);
}

std::vector<net::peer> to_peers(const std::vector<endpoint>& endpoints) {
    std::vector<net::peer> out;
    for (const auto& e : endpoints)
        out.push_back({e.address, e.port});
    return out;
}

// ACL names from the `acls:` section are expanded; the rest are elements.
zone::acl to_acl(const config& cfg, const acl_elements& elements, const std::string& what) {
    std::vector<std::string> flat;
    for (const auto& e : elements) {
        auto it = cfg.acls.find(e);
        if (it != cfg.acls.end())
            flat.insert(flat.end(), it->second.begin(), it->second.end());
        else
            flat.push_back(e);
    }
    try {
        return zone::acl::parse(flat);
    } catch (const std::invalid_argument& e) {
        throw std::runtime_error(what + ": " + e.what());
    }
}

zone::engine_settings engine_settings_of(const config& cfg) {
    zone::engine_settings s;
    for (const auto& e : cfg.listen) {
        net::listen_endpoint l;
        l.address = e.address;
        l.port = e.port;
        s.server.listen.push_back(l);
    }
    s.server.tcp_max_connections = cfg.limits.tcp_clients;
    s.server.tcp_max_connections_per_client = cfg.limits.tcp_per_client;
    s.server.tcp_idle_timeout = std::chrono::seconds(cfg.limits.tcp_idle_timeout);
    s.server.tcp_max_in_flight = cfg.limits.tcp_pipeline;
    s.udp_payload_size = cfg.limits.udp_payload_size;
    s.data_dir = cfg.data_dir;
    for (const auto& k : cfg.tsig_keys) {
        dnssec::tsig_key key;
        key.name = to_name(k.name);
        key.algorithm = dnssec::tsig_algorithm_from_text(k.algorithm);
        key.secret = k.secret;
        s.keys.push_back(std::move(key));
    }
    for (const auto& z : cfg.zones) {
        zone::zone_settings zs;
        std::string where = cfg.file + ":" + std::to_string(z.line) + ": zone " + z.name;
        zs.name = to_name(z.name);
        zs.secondary = z.type == zone_config::zone_type::secondary;
        zs.file = z.file;
        zs.primaries = to_peers(z.primaries);
        if (!z.transfer_key.empty()) zs.transfer_key = to_name(z.transfer_key);
        zs.notify = to_peers(z.notify);
        zs.allow_transfer = to_acl(cfg, z.allow_transfer, where + ": allow-transfer");
        acl_elements notify_from = z.allow_notify;
        if (notify_from.empty())
            for (const auto& p : z.primaries)
                notify_from.push_back(p.address.to_string());
        zs.allow_notify = to_acl(cfg, notify_from, where + ": allow-notify");
        zs.allow_update = to_acl(cfg, z.allow_update, where + ": allow-update");
        for (const auto& r : z.update_policy) {
            zone::update_rule rule;
            rule.key = to_name(r.key);
            rule.match = r.match == update_rule::match_kind::exact
                             ? zone::update_rule::match_kind::exact
                         : r.match == update_rule::match_kind::wildcard
                             ? zone::update_rule::match_kind::wildcard
                             : zone::update_rule::match_kind::subdomain;
            rule.name = r.name.empty() ? zs.name : to_name(r.name);
            rule.types = r.types;
            zs.policy.rules.push_back(std::move(rule));
        }
        // allow-update without a policy: every key the ACL admits may change the whole zone
        // (BIND's allow-update).
        if (z.update_policy.empty()) zs.policy.allow_any = true;
        zs.refresh = z.refresh;
        zs.retry = z.retry;
        zs.expire = z.expire;
        // Every zone of a combiner is the owner's zone combined with agent data; every
        // zone of a signer is its combiner's zone signed with our keys.
        if (cfg.role == "combiner" && !zs.secondary)
            throw std::runtime_error(where +
                                     ": a combiner's zone must be type secondary "
                                     "(a secondary of the zone owner's primary)");
        if (cfg.role == "signer" && !zs.secondary)
            throw std::runtime_error(where +
                                     ": a signer's zone must be type secondary "
                                     "(a secondary of the provider's combiner)");
        if (cfg.role == "agent" && !zs.secondary)
            throw std::runtime_error(where +
                                     ": an agent's zone must be type secondary "
                                     "(a secondary of the provider's signer)");
        if (cfg.role == "agent" && z.name == cfg.agent.identity)
            throw std::runtime_error(where + ": is the agent's identity zone, which the agent "
                                             "builds itself (do not list it)");
        s.zones.push_back(std::move(zs));
    }
    return s;
}

signer::signer_settings signer_settings_of(const config& cfg) {
    signer::signer_settings s;
    for (const auto& z : cfg.zones) {
        const auto* policy = cfg.find_policy(z.dnssec_policy.empty() ? "default" : z.dnssec_policy);
        if (!policy)
            throw std::runtime_error(cfg.file + ":" + std::to_string(z.line) + ": zone " + z.name +
                                     ": no dnssec-policy " + z.dnssec_policy);
        s.policies[zone::key_of(to_name(z.name))] = *policy;
    }
    return s;
}

parent::parent_settings parent_settings_of(const config& cfg) {
    const auto& pc = cfg.parent;
    parent::parent_settings s;
    for (const auto& z : cfg.zones)
        if (!z.children.empty()) {
            auto& list = s.children[zone::key_of(to_name(z.name))];
            for (const auto& c : z.children)
                list.push_back(to_name(c));
        }
    s.scan_interval = pc.scan_interval;
    s.notify_min_interval = pc.notify_min_interval;
    s.initial_ds_delay = pc.initial_ds_delay;
    s.max_parallel = pc.max_parallel;
    s.cds.digest_types = pc.digest_types;
    s.cds.allow_initial_ds = pc.initial_ds;
    s.cds.default_ds_ttl = pc.ds_ttl;
    for (const auto& [host, e] : pc.nameservers)
        s.nameservers[host] = net::peer{e.address, e.port};
    if (!pc.dsync_target.empty()) s.dsync_target = to_name(pc.dsync_target);
    s.dsync_port = pc.dsync_port;
    return s;
}

net::resolver_options parent_resolver_of(const config& cfg) {
    const auto& pc = cfg.parent;
    net::resolver_options o;
    o.trust_anchors = pc.trust_anchors;
    if (!pc.trust_anchor_file.empty()) o.trust_anchor_files.push_back(pc.trust_anchor_file);
    if (pc.forward) o.forwarder = net::peer{pc.forward->address, pc.forward->port};
    for (const auto& [zone_name, servers] : pc.stubs)
        o.stubs[to_name(zone_name)] = to_peers(servers);
    o.timeout = std::chrono::milliseconds(pc.timeout_ms);
    return o;
}

agent::agent_settings agent_settings_of(const config& cfg) {
    const auto& ac = cfg.agent;
    agent::agent_settings s;
    auto& id = s.identity;
    id.identity = to_name(ac.identity);
    id.ttl = ac.ttl;
    id.dns.target = to_name(ac.dns_target);
    id.dns.addresses = ac.dns_addresses;
    id.dns.port = ac.dns_port;
    for (const auto& ns : ac.nameservers)
        id.nameservers.push_back({to_name(ns.name), ns.addresses});
    for (const auto& ns : ac.provider_nameservers)
        id.provider_nameservers.push_back(to_name(ns));
    s.sig0_key_file = ac.sig0_key;
    if (ac.api) {
        agent::agent_settings::api_settings api;
        api.listen = net::asio::ip::tcp::endpoint(ac.api->listen.address, ac.api->listen.port);
        api.key_file = ac.api->key_file;
        api.cert_file = ac.api->cert_file;
        s.api = api;
        id.api = agent::transport_endpoint{to_name(ac.api->target), ac.api->addresses,
                                           ac.api->listen.port};
        id.publish_own_tlsa = ac.api->publish_own_tlsa;
        for (const auto& hex : ac.api->extra_tlsa) {
            std::vector<uint8_t> bytes;
            dns::parse_hex(hex, bytes);
            agent::spki_digest d{};
            std::copy(bytes.begin(), bytes.end(), d.begin());
            id.extra_tlsa.push_back(d);
        }
    }
    id.publish_key = ac.publish_key;
    s.offer_peer_sync = ac.peer_sync;
    s.timing.beat_interval = ac.heartbeat_interval;
    s.timing.backoff_initial = ac.retry_initial;
    s.timing.backoff_max = ac.retry_max;
    // A peer's records are looked up again at their TTL, at least every ten beats.
    s.timing.rediscovery_min = std::min<int64_t>(60, ac.heartbeat_interval);
    s.message_timeout = std::chrono::milliseconds(ac.message_timeout_ms);
    s.identity_notify = to_peers(ac.identity_notify);
    s.identity_allow_transfer =
        to_acl(cfg, ac.identity_allow_transfer, cfg.file + ": agent.identity-allow-transfer");
    auto& o = s.resolver;
    o.trust_anchors = ac.trust_anchors;
    if (!ac.trust_anchor_file.empty()) o.trust_anchor_files.push_back(ac.trust_anchor_file);
    if (ac.forward) o.forwarder = net::peer{ac.forward->address, ac.forward->port};
    for (const auto& [zone_name, servers] : ac.stubs)
        o.stubs[to_name(zone_name)] = to_peers(servers);
    o.timeout = std::chrono::milliseconds(ac.timeout_ms);
    // Discovery follows the records' TTLs itself (and looks again at once when a lookup
    // fails): every discovery asks the servers, so a withdrawn KEY is seen at once.
    o.cache_max_ttl = 0;
    if (ac.combiner) s.combiner = net::peer{ac.combiner->address, ac.combiner->port};
    if (!ac.combiner_key.empty()) s.combiner_key = to_name(ac.combiner_key);
    s.parent_nameservers = to_peers(ac.parent_nameservers);
    return s;
}

}  // namespace

bool role_implemented(std::string_view role) {
    return role == "auth" || role == "combiner" || role == "signer" || role == "parent" ||
           role == "agent";
}

// The one place where a role is chosen: a new role is a folder under roles/ and a line here.
std::unique_ptr<roles::role> make_role(const config& cfg, net::asio::io_context& io) {
    std::unique_ptr<roles::engine_role> role;
    auto ex = io.get_executor();
    if (cfg.role == "auth")
        role = std::make_unique<auth::auth_role>(ex, engine_settings_of(cfg));
    else if (cfg.role == "combiner")
        role = std::make_unique<combiner::combiner_role>(ex, engine_settings_of(cfg));
    else if (cfg.role == "signer")
        role = std::make_unique<signer::signer_role>(ex, engine_settings_of(cfg),
                                                     signer_settings_of(cfg));
    else if (cfg.role == "parent")
        role = std::make_unique<parent::parent_role>(
            ex, engine_settings_of(cfg), parent_settings_of(cfg),
            parent::resolver_fetch(ex, parent_resolver_of(cfg)));
    else if (cfg.role == "agent")
        role = std::make_unique<agent::agent_role>(ex, engine_settings_of(cfg),
                                                   agent_settings_of(cfg));
    else
        throw std::runtime_error("role " + cfg.role + " is not implemented yet");
    role->start();
    if (auto* p = dynamic_cast<parent::parent_role*>(role.get())) p->start_scanning();
    if (auto* a = dynamic_cast<agent::agent_role*>(role.get())) a->start_agent();
    return role;
}

std::string reconfigure_role(roles::role& role, const config& previous, const config& next) {
    auto* engine_role = dynamic_cast<roles::engine_role*>(&role);
    if (!engine_role) return "role cannot be reconfigured";
    bool listen_changed = previous.listen != next.listen;
    try {
        std::string error;
        if (auto* signer = dynamic_cast<signer::signer_role*>(&role))
            error = signer->reconfigure(engine_settings_of(next), signer_settings_of(next));
        else if (auto* agent = dynamic_cast<agent::agent_role*>(&role))
            error = agent->reconfigure(engine_settings_of(next), agent_settings_of(next));
        else if (auto* parent = dynamic_cast<parent::parent_role*>(&role))
            error = parent->reconfigure(engine_settings_of(next), parent_settings_of(next));
        else
            error = engine_role->reconfigure(engine_settings_of(next));
        if (!error.empty()) return error;
    } catch (const std::exception& e) {
        return e.what();
    }
    if (listen_changed)
        return "listen addresses changed: restart hsyncd to apply (zones were reloaded)";
    return {};
}

void stop_role(roles::role& role) {
    if (auto* r = dynamic_cast<roles::engine_role*>(&role)) r->begin_stop();
}

}  // namespace hsync::hsyncd
