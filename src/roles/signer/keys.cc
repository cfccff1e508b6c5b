#include "roles/signer/keys.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace hsync::signer {

using dnssec::key_role;

std::string_view state_name(key_state s) {
    switch (s) {
        case key_state::published:
            return "published";
        case key_state::active:
            return "active";
        case key_state::retired:
            return "retired";
    }
    return "?";
}

std::string_view role_name(key_role r) {
    switch (r) {
        case key_role::zsk:
            return "zsk";
        case key_role::ksk:
            return "ksk";
        case key_role::csk:
            return "csk";
        default:
            return "?";
    }
}

namespace {

std::optional<key_state> state_of(std::string_view s) {
    for (auto st : {key_state::published, key_state::active, key_state::retired})
        if (state_name(st) == s) return st;
    return std::nullopt;
}

std::optional<key_role> role_of(std::string_view s) {
    for (auto r : {key_role::zsk, key_role::ksk, key_role::csk})
        if (role_name(r) == s) return r;
    return std::nullopt;
}

}  // namespace

zone_key* key_set::find(uint16_t tag) {
    for (auto& k : keys)
        if (k.key.tag() == tag) return &k;
    return nullptr;
}

const zone_key* key_set::find(uint16_t tag) const {
    return const_cast<key_set*>(this)->find(tag);
}

std::vector<dnssec::key> key_set::signing_keys() const {
    std::vector<dnssec::key> out;
    for (const auto& k : keys)
        if (k.state == key_state::active) out.push_back(k.key);
    return out;
}

std::vector<const zone_key*> key_set::published() const {
    std::vector<const zone_key*> out;
    for (const auto& k : keys)
        out.push_back(&k);
    return out;
}

// Line: FILE ROLE STATE CREATED PUBLISHED ACTIVATED RETIRED
std::string encode_key_set(const key_set& keys) {
    std::string out;
    for (const auto& k : keys.keys) {
        out += k.file + ' ' + std::string(role_name(k.role)) + ' ' +
               std::string(state_name(k.state)) + ' ' + std::to_string(k.created) + ' ' +
               std::to_string(k.published_at) + ' ' + std::to_string(k.activated_at) + ' ' +
               std::to_string(k.retired_at) + '\n';
    }
    return out;
}

key_set decode_key_set(std::string_view text,
                       const std::function<dnssec::key(const std::string&)>& load) {
    key_set out;
    std::istringstream in{std::string(text)};
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
        ++n;
        if (line.empty()) continue;
        std::istringstream f(line);
        std::string file, role, state;
        zone_key k = [&] {
            f >> file >> role >> state;
            return zone_key{load(file), key_role::zsk, key_state::published, 0, 0, 0, 0, {}};
        }();
        auto r = role_of(role);
        auto s = state_of(state);
        f >> k.created >> k.published_at >> k.activated_at >> k.retired_at;
        if (!r || !s || f.fail())
            throw std::runtime_error("key state line " + std::to_string(n) + " is malformed");
        k.role = *r;
        k.state = *s;
        k.file = file;
        out.keys.push_back(std::move(k));
    }
    return out;
}

std::string_view action_name(key_action::kind k) {
    switch (k) {
        case key_action::kind::publish:
            return "publish";
        case key_action::kind::activate:
            return "activate";
        case key_action::kind::retire:
            return "retire";
        case key_action::kind::remove:
            return "remove";
    }
    return "?";
}

std::string describe(const key_action& a) {
    std::string s(action_name(a.what));
    if (a.what == key_action::kind::publish)
        s += ' ' + std::string(role_name(a.role)) + (a.activate_now ? " (active at once)" : "");
    else
        s += ' ' + std::to_string(a.tag);
    return s;
}

std::vector<key_role> initial_roles(const signing_policy& p) {
    if (p.csk) return {key_role::csk};
    return {key_role::ksk, key_role::zsk};
}

uint32_t publish_interval(const signing_policy& p) {
    return p.dnskey_ttl + p.propagation_delay + p.publish_safety;
}

uint32_t retire_interval(const signing_policy& p, uint32_t max_ttl) {
    return std::max(max_ttl, p.dnskey_ttl) + p.propagation_delay + p.retire_safety;
}

std::vector<key_action> due_actions(const key_set& keys, const signing_policy& p, int64_t now,
                                    uint32_t max_ttl) {
    std::vector<key_action> out;
    const int64_t ipub = publish_interval(p), iret = retire_interval(p, max_ttl);
    auto newer_of_role = [&](const zone_key& old, key_state st) -> const zone_key* {
        for (const auto& k : keys.keys)
            if (&k != &old && k.role == old.role && k.state == st && k.created >= old.created)
                return &k;
        return nullptr;
    };
    for (const auto& k : keys.keys) {
        if (k.state == key_state::retired && now >= k.retired_at + iret) {
            out.push_back({key_action::kind::remove, k.role, k.key.tag(), false,
                           "retired for Iret (" + std::to_string(iret) + " s)"});
            continue;
        }
        if (k.state != key_state::active) continue;
        if (k.role == key_role::zsk && p.zsk_lifetime) {
            int64_t end = k.activated_at + p.zsk_lifetime;
            const zone_key* successor = newer_of_role(k, key_state::published);
            if (!successor && !newer_of_role(k, key_state::active) && now >= end - ipub) {
                out.push_back({key_action::kind::publish, key_role::zsk, 0, false,
                               "ZSK " + std::to_string(k.key.tag()) + " lifetime ends"});
            } else if (successor && now >= end && now >= successor->published_at + ipub) {
                out.push_back({key_action::kind::activate, key_role::zsk, successor->key.tag(),
                               false, "published for Ipub (" + std::to_string(ipub) + " s)"});
                out.push_back({key_action::kind::retire, key_role::zsk, k.key.tag(), false,
                               "successor " + std::to_string(successor->key.tag()) + " active"});
            }
        } else if (k.role != key_role::zsk && p.ksk_lifetime) {
            int64_t end = k.activated_at + p.ksk_lifetime;
            if (now >= end && !newer_of_role(k, key_state::active) &&
                !newer_of_role(k, key_state::published))
                out.push_back({key_action::kind::publish, k.role, 0, true,
                               std::string(role_name(k.role)) + " " + std::to_string(k.key.tag()) +
                                   " lifetime ends"});
        }
    }
    return out;
}

std::string check_action(const key_set& keys, const key_action& a) {
    using K = key_action::kind;
    if (a.what == K::publish) {
        if (a.role != key_role::zsk && a.role != key_role::ksk && a.role != key_role::csk)
            return "a new key is zsk, ksk or csk";
        return {};
    }
    const zone_key* k = keys.find(a.tag);
    if (!k) return "no key with tag " + std::to_string(a.tag);
    auto others_active = [&](bool data) {
        size_t n = 0;
        for (const auto& o : keys.keys)
            if (&o != k && o.state == key_state::active &&
                (data ? o.signs_data() : o.signs_keys()) && o.key.algorithm() == k->key.algorithm())
                ++n;
        return n;
    };
    switch (a.what) {
        case K::activate:
            if (k->state != key_state::published)
                return "key " + std::to_string(a.tag) + " is " + std::string(state_name(k->state)) +
                       ", only a published key can be activated";
            return {};
        case K::retire:
            if (k->state != key_state::active)
                return "key " + std::to_string(a.tag) + " is " + std::string(state_name(k->state)) +
                       ", only an active key can be retired";
            if (k->signs_data() && others_active(true) == 0)
                return "key " + std::to_string(a.tag) +
                       " is the only active key signing the zone data";
            if (k->signs_keys() && others_active(false) == 0)
                return "key " + std::to_string(a.tag) +
                       " is the only active key signing the DNSKEY RRset";
            return {};
        case K::remove:
            if (k->state == key_state::active)
                return "key " + std::to_string(a.tag) + " is active: retire it first";
            return {};
        default:
            return "unknown action";
    }
}

void apply_action(key_set& keys, const key_action& a, int64_t now,
                  std::optional<zone_key> new_key) {
    using K = key_action::kind;
    if (a.what == K::publish) {
        if (!new_key) throw std::logic_error("publish without a key");
        zone_key k = std::move(*new_key);
        k.role = a.role;
        k.created = k.created ? k.created : now;
        k.published_at = now;
        k.state = a.activate_now ? key_state::active : key_state::published;
        if (a.activate_now) k.activated_at = now;
        keys.keys.push_back(std::move(k));
        return;
    }
    zone_key* k = keys.find(a.tag);
    if (!k) throw std::logic_error("unchecked key action");
    switch (a.what) {
        case K::activate:
            k->state = key_state::active;
            k->activated_at = now;
            break;
        case K::retire:
            k->state = key_state::retired;
            k->retired_at = now;
            break;
        case K::remove:
            keys.keys.erase(keys.keys.begin() + (k - keys.keys.data()));
            break;
        default:
            break;
    }
}

}  // namespace hsync::signer
