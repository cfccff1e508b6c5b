// The role factory: turns the daemon's configuration into a role's own settings.
#include "cmd/hsyncd/roles.h"

#include <stdexcept>

#include "roles/auth/auth_role.h"
#include "roles/combiner/combiner_role.h"
#include "roles/parent/parent_role.h"
#include "roles/parent/resolver_fetch.h"
#include "roles/signer/signer_role.h"
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

}  // namespace

bool role_implemented(std::string_view role) {
    return role == "auth" || role == "combiner" || role == "signer" || role == "parent";
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
    else
        throw std::runtime_error("role " + cfg.role + " is not implemented yet");
    role->start();
    if (auto* p = dynamic_cast<parent::parent_role*>(role.get())) p->start_scanning();
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
