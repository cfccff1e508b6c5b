// The role factory: turns the daemon's configuration into a role's own settings.
#include "cmd/hsyncd/roles.h"

#include <stdexcept>

#include "roles/auth/auth_role.h"

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
auth::acl to_acl(const config& cfg, const acl_elements& elements, const std::string& what) {
    std::vector<std::string> flat;
    for (const auto& e : elements) {
        auto it = cfg.acls.find(e);
        if (it != cfg.acls.end())
            flat.insert(flat.end(), it->second.begin(), it->second.end());
        else
            flat.push_back(e);
    }
    try {
        return auth::acl::parse(flat);
    } catch (const std::invalid_argument& e) {
        throw std::runtime_error(what + ": " + e.what());
    }
}

auth::auth_settings auth_settings_of(const config& cfg) {
    auth::auth_settings s;
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
        auth::zone_settings zs;
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
            auth::update_rule rule;
            rule.key = to_name(r.key);
            rule.match = r.match == update_rule::match_kind::exact
                             ? auth::update_rule::match_kind::exact
                         : r.match == update_rule::match_kind::wildcard
                             ? auth::update_rule::match_kind::wildcard
                             : auth::update_rule::match_kind::subdomain;
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
        if (cfg.role == "combiner") {
            // Every zone of a combiner is the owner's zone combined with agent data.
            if (!zs.secondary)
                throw std::runtime_error(where +
                                         ": a combiner's zone must be type secondary "
                                         "(a secondary of the zone owner's primary)");
            zs.combine = true;
        }
        if (cfg.role == "signer") {
            // Every zone of a signer is its combiner's zone signed with our keys.
            if (!zs.secondary)
                throw std::runtime_error(where +
                                         ": a signer's zone must be type secondary "
                                         "(a secondary of the provider's combiner)");
            const auto* policy =
                cfg.find_policy(z.dnssec_policy.empty() ? "default" : z.dnssec_policy);
            if (!policy) throw std::runtime_error(where + ": no dnssec-policy " + z.dnssec_policy);
            zs.sign = *policy;
        }
        s.zones.push_back(std::move(zs));
    }
    s.role_name = cfg.role;
    return s;
}

}  // namespace

bool role_implemented(std::string_view role) {
    return role == "auth" || role == "combiner" || role == "signer";
}

std::unique_ptr<roles::role> make_role(const config& cfg, net::asio::io_context& io) {
    if (!role_implemented(cfg.role))
        throw std::runtime_error("role " + cfg.role + " is not implemented yet");
    auto role = std::make_unique<auth::auth_role>(io.get_executor(), auth_settings_of(cfg));
    role->start();
    return role;
}

std::string reconfigure_role(roles::role& role, const config& previous, const config& next) {
    auto* auth = dynamic_cast<auth::auth_role*>(&role);
    if (!auth) return "role cannot be reconfigured";
    bool listen_changed = previous.listen != next.listen;
    try {
        std::string error = auth->reconfigure(auth_settings_of(next));
        if (!error.empty()) return error;
    } catch (const std::exception& e) {
        return e.what();
    }
    if (listen_changed)
        return "listen addresses changed: restart hsyncd to apply (zones were reloaded)";
    return {};
}

void stop_role(roles::role& role) {
    if (auto* auth = dynamic_cast<auth::auth_role*>(&role)) auth->begin_stop();
}

}  // namespace hsync::hsyncd
