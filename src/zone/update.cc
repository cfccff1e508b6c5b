#include "zone/update.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "dns/error.h"
#include "dns/rdata.h"
#include "zone/journal.h"

namespace hsync::zone {

namespace {

namespace t = dns::rr_type;
namespace rc = dns::rcode;

// Meta and query types (RFC 6895 §3.1: 128-255, and OPT) never are zone data.
bool is_meta(uint16_t type) {
    return type == t::OPT || (type >= 128 && type <= 255);
}

// Types that may share a name with a CNAME (RFC 4035 §2.5, RFC 2535 §2.3.5).
bool cname_compatible(uint16_t type) {
    return type == t::RRSIG || type == t::NSEC || type == t::SIG || type == t::KEY;
}

// The RRsets of one name, loaded from the zone on first use and changed in place.
struct node {
    std::vector<dns::rr> before;  // canonical
    std::vector<dns::rr> now;

    bool has_type(uint16_t type) const {
        return std::any_of(now.begin(), now.end(),
                           [&](const dns::rr& r) { return r.type == type; });
    }
    size_t count_type(uint16_t type) const {
        return static_cast<size_t>(std::count_if(now.begin(), now.end(),
                                                 [&](const dns::rr& r) { return r.type == type; }));
    }
    template <typename Pred>
    void erase_if(Pred pred) {
        now.erase(std::remove_if(now.begin(), now.end(), pred), now.end());
    }
};

class working_zone {
  public:
    explicit working_zone(const dns::record_store& zone) : zone_(zone) {}

    node& at(const dns::name& owner) {
        dns::name key = owner.canonical();
        auto it = nodes_.find(key);
        if (it != nodes_.end()) return it->second;
        node n;
        auto [first, last] = owner_range(zone_, key);
        for (size_t i = first; i < last; ++i)
            n.before.push_back(zone_[i].to_rr());
        n.now = n.before;
        return nodes_.emplace(key, std::move(n)).first->second;
    }

    // Records removed and added over all touched names, in canonical order.
    dns::zone_diff changes() {
        dns::zone_diff d;
        auto less = [](const dns::rr& a, const dns::rr& b) {
            return dns::canonical_compare(a, b) < 0;
        };
        for (auto& [owner, n] : nodes_) {
            std::sort(n.before.begin(), n.before.end(), less);
            std::sort(n.now.begin(), n.now.end(), less);
            size_t i = 0, j = 0;
            while (i < n.before.size() || j < n.now.size()) {
                int c = i == n.before.size() ? 1
                        : j == n.now.size()  ? -1
                                             : dns::canonical_compare(n.before[i], n.now[j]);
                if (c < 0) {
                    d.removed.push_back(n.before[i++]);
                } else if (c > 0) {
                    d.added.push_back(n.now[j++]);
                } else {
                    if (n.before[i].ttl != n.now[j].ttl) {
                        d.removed.push_back(n.before[i]);
                        d.added.push_back(n.now[j]);
                    }
                    ++i;
                    ++j;
                }
            }
        }
        return d;
    }

  private:
    const dns::record_store& zone_;
    std::map<dns::name, node> nodes_;
};

update_result fail(uint16_t rcode, std::string reason) {
    update_result r;
    r.rcode = rcode;
    r.reason = std::move(reason);
    return r;
}

std::string describe(const dns::rr& r) {
    std::string s;
    r.owner.append_text(s);
    s += ' ' + dns::class_to_text(r.rclass) + ' ' + dns::type_to_text(r.type);
    return s;
}

bool rdata_valid(const dns::rr& r) {
    try {
        dns::rdata_check(r.type, r.rdata);
        return true;
    } catch (const dns::dns_error&) {
        return false;
    }
}

// RFC 2136 §3.2. Returns NOERROR or the RCODE that stops the update.
update_result check_prerequisites(const dns::message& m, const dns::name& origin, uint16_t zclass,
                                  working_zone& w) {
    // Value-dependent prerequisites, grouped by name and type (§3.2.3).
    std::map<std::pair<dns::name, uint16_t>, std::set<std::vector<uint8_t>, dns::rdata_less>> temp;
    for (const auto& r : m.answer) {
        if (r.ttl != 0) return fail(rc::FORMERR, "prerequisite with a TTL: " + describe(r));
        if (!r.owner.is_subdomain_of(origin))
            return fail(rc::NOTZONE, "prerequisite outside the zone: " + describe(r));
        if (r.rclass == dns::rr_class::ANY || r.rclass == dns::rr_class::NONE) {
            bool any = r.rclass == dns::rr_class::ANY;
            if (!r.rdata.empty() || (is_meta(r.type) && r.type != t::ANY))
                return fail(rc::FORMERR, "malformed prerequisite: " + describe(r));
            node& n = w.at(r.owner);
            bool exists = r.type == t::ANY ? !n.now.empty() : n.has_type(r.type);
            if (any && !exists)
                return fail(r.type == t::ANY ? rc::NXDOMAIN : rc::NXRRSET,
                            "prerequisite not met, nothing at " + describe(r));
            if (!any && exists)
                return fail(r.type == t::ANY ? rc::YXDOMAIN : rc::YXRRSET,
                            "prerequisite not met, data exists at " + describe(r));
        } else if (r.rclass == zclass) {
            if (is_meta(r.type) || !rdata_valid(r))
                return fail(rc::FORMERR, "malformed prerequisite: " + describe(r));
            dns::rr c = r;
            c.canonicalize();
            temp[{c.owner, c.type}].insert(std::move(c.rdata));
        } else {
            return fail(rc::FORMERR, "prerequisite of class " + dns::class_to_text(r.rclass));
        }
    }
    for (const auto& [key, wanted] : temp) {
        std::set<std::vector<uint8_t>, dns::rdata_less> have;
        for (const auto& r : w.at(key.first).now)
            if (r.type == key.second) have.insert(r.rdata);
        if (have != wanted) {
            std::string s;
            key.first.append_text(s);
            return fail(rc::NXRRSET,
                        "prerequisite RRset differs: " + s + ' ' + dns::type_to_text(key.second));
        }
    }
    return {};
}

// RFC 2136 §3.4.1.
update_result prescan(const dns::message& m, const dns::name& origin, uint16_t zclass) {
    for (const auto& r : m.authority) {
        if (!r.owner.is_subdomain_of(origin))
            return fail(rc::NOTZONE, "update outside the zone: " + describe(r));
        bool ok;
        if (r.rclass == zclass)
            ok = !is_meta(r.type) && rdata_valid(r);
        else if (r.rclass == dns::rr_class::ANY)
            ok = r.ttl == 0 && r.rdata.empty() && (!is_meta(r.type) || r.type == t::ANY);
        else if (r.rclass == dns::rr_class::NONE)
            ok = r.ttl == 0 && !is_meta(r.type) && rdata_valid(r);
        else
            ok = false;
        if (!ok) return fail(rc::FORMERR, "malformed update record: " + describe(r));
    }
    return {};
}

// RFC 2136 §3.3, with the policy of update.h.
update_result check_permissions(const dns::message& m, const dns::name& origin,
                                const update_policy& policy, const std::optional<dns::name>& signer,
                                working_zone& w) {
    if (policy.allow_any) return {};
    if (policy.rules.empty()) return fail(rc::REFUSED, "zone has no update policy");
    if (!signer) return fail(rc::REFUSED, "update not signed");
    for (const auto& r : m.authority) {
        if (r.rclass == dns::rr_class::ANY && r.type == t::ANY) {
            // Deleting every RRset of a name needs the right to each type that is there.
            bool at_apex = r.owner == origin;
            const node& n = w.at(r.owner);
            bool any_type_there = false;
            for (const auto& z : n.now) {
                if (at_apex && (z.type == t::SOA || z.type == t::NS)) continue;
                any_type_there = true;
                if (!policy.permits(signer, r.owner, z.type))
                    return fail(rc::REFUSED, "key may not delete " + describe(z));
            }
            if (!any_type_there && !policy.permits(signer, r.owner, t::ANY))
                return fail(rc::REFUSED, "key may not update " + describe(r));
            continue;
        }
        if (!policy.permits(signer, r.owner, r.type))
            return fail(rc::REFUSED, "key may not update " + describe(r));
    }
    return {};
}

// Adds `r` (class zclass) to its RRset: §3.4.2.2 with the TTL choice of update.h.
void add_record(node& n, const dns::rr& r) {
    if (r.type == t::CNAME) {
        for (const auto& z : n.now)
            if (z.type != t::CNAME && !cname_compatible(z.type)) return;
        n.erase_if([](const dns::rr& z) { return z.type == t::CNAME; });  // a CNAME replaces
        n.now.push_back(r);
        return;
    }
    if (!cname_compatible(r.type) && n.has_type(t::CNAME)) return;
    bool present = false;
    for (auto& z : n.now) {
        if (z.type != r.type) continue;
        z.ttl = r.ttl;
        if (z.rdata == r.rdata) present = true;
    }
    if (!present) n.now.push_back(r);
}

}  // namespace

bool update_rule::matches(const dns::name& owner, uint16_t type) const {
    bool name_ok = false;
    switch (match) {
        case match_kind::exact:
            name_ok = owner == name;
            break;
        case match_kind::subdomain:
            name_ok = owner.is_subdomain_of(name);
            break;
        case match_kind::wildcard:
            name_ok = name.is_wildcard() ? owner.is_subdomain_of(name.parent()) &&
                                               owner.label_count() > name.parent().label_count()
                                         : owner == name;
            break;
    }
    if (!name_ok) return false;
    if (types.empty()) return true;
    return std::find(types.begin(), types.end(), type) != types.end();
}

bool update_policy::permits(const std::optional<dns::name>& signer, const dns::name& owner,
                            uint16_t type) const {
    if (allow_any) return true;
    if (!signer) return false;
    for (const auto& rule : rules)
        if (rule.key == *signer && rule.matches(owner, type)) return true;
    return false;
}

update_result apply_update(const dns::record_store& zone, const dns::name& origin,
                           const dns::message& update, const update_policy& policy,
                           const std::optional<dns::name>& signer) {
    // §3.1: the zone section.
    if (update.opcode != dns::opcode::UPDATE) return fail(rc::FORMERR, "not an UPDATE");
    if (update.questions.size() != 1)
        return fail(rc::FORMERR, "zone section must hold exactly one zone");
    const auto& q = update.questions[0];
    if (q.qtype != t::SOA) return fail(rc::FORMERR, "zone section type is not SOA");
    auto soa_at = find_soa(zone);
    if (!soa_at || !(zone[*soa_at].owner_name() == origin))
        return fail(rc::SERVFAIL, "zone has no SOA at its origin");
    uint16_t zclass = zone[*soa_at].rclass;
    if (!(q.qname == origin) || q.qclass != zclass)
        return fail(rc::NOTAUTH, "not authoritative for " + q.qname.to_text());
    if (update.authority.size() > policy.max_records)
        return fail(rc::REFUSED,
                    "more than " + std::to_string(policy.max_records) + " update records");

    working_zone w(zone);
    if (auto r = check_prerequisites(update, origin, zclass, w); r.rcode != rc::NOERROR) return r;
    if (auto r = prescan(update, origin, zclass); r.rcode != rc::NOERROR) return r;
    if (auto r = check_permissions(update, origin, policy, signer, w); r.rcode != rc::NOERROR)
        return r;

    // §3.4.2: apply in order.
    bool soa_replaced = false;
    for (const auto& u : update.authority) {
        dns::rr r = u;
        if (r.rdata.empty())
            r.owner.to_lower();  // deletions carry no RDATA to canonicalize
        else
            r.canonicalize();
        node& n = w.at(r.owner);
        bool apex = r.owner == origin;
        if (r.rclass == zclass) {
            if (r.type == t::SOA) {
                // Only the apex SOA, and only forward (§3.4.2.2).
                if (!apex) continue;
                auto cur = std::find_if(n.now.begin(), n.now.end(),
                                        [](const dns::rr& z) { return z.type == t::SOA; });
                if (cur == n.now.end() ||
                    !dns::serial_lt(soa_serial(cur->rdata), soa_serial(r.rdata)))
                    continue;
                *cur = r;
                soa_replaced = true;
                continue;
            }
            add_record(n, r);
        } else if (r.rclass == dns::rr_class::ANY) {
            if (r.type == t::ANY) {
                n.erase_if([&](const dns::rr& z) {
                    return !(apex && (z.type == t::SOA || z.type == t::NS));
                });
            } else {
                if (apex && (r.type == t::SOA || r.type == t::NS)) continue;
                n.erase_if([&](const dns::rr& z) { return z.type == r.type; });
            }
        } else {  // NONE: delete one RR (§3.4.2.4)
            if (r.type == t::SOA) continue;
            auto same = [&](const dns::rr& z) { return z.type == r.type && z.rdata == r.rdata; };
            if (apex && r.type == t::NS && n.count_type(t::NS) == 1 &&
                std::any_of(n.now.begin(), n.now.end(), same))
                continue;  // never the last apex NS
            n.erase_if(same);
        }
    }

    update_result result;
    dns::zone_diff d = w.changes();
    if (d.empty()) {
        result.reason = "no change";
        return result;
    }
    node& apex = w.at(origin);
    auto soa = std::find_if(apex.now.begin(), apex.now.end(),
                            [](const dns::rr& z) { return z.type == t::SOA; });
    uint32_t old_serial = soa_serial(zone[*soa_at].rdata);
    if (soa == apex.now.end()) return fail(rc::SERVFAIL, "update left the zone without an SOA");
    if (!soa_replaced) {
        // §3.6: the serial moves forward by one; 0 is skipped as BIND's increment does.
        uint32_t next = old_serial + 1;
        if (next == 0) next = 1;
        set_soa_serial(soa->rdata, next);
        d = w.changes();
    }
    d.from_serial = old_serial;
    d.to_serial = soa_serial(soa->rdata);
    std::stable_partition(d.removed.begin(), d.removed.end(),
                          [](const dns::rr& r) { return r.type == t::SOA; });
    std::stable_partition(d.added.begin(), d.added.end(),
                          [](const dns::rr& r) { return r.type == t::SOA; });
    result.diff = std::move(d);
    result.reason = "applied";
    return result;
}

}  // namespace hsync::zone
