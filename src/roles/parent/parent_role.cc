#include "roles/parent/parent_role.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "dns/rdata.h"
#include "dnssec/rrsig.h"
#include "zone/journal.h"
#include "zone/log.h"
#include "zone/text.h"

namespace hsync::parent {

using net::awaitable;
using zone::key_of;
using zone::served_zone;
using zone::soa_field;
namespace T = dns::rr_type;

namespace {

constexpr std::string_view children_ns = "parent-children";  // kv: zone|child -> state

struct parent_zone : zone::role_zone_state {
    std::map<std::string, child_state> children;  // by canonical child text
};

parent_zone& state_of(served_zone& z) {
    if (!z.role_state) z.role_state = std::make_unique<parent_zone>();
    return static_cast<parent_zone&>(*z.role_state);
}

const parent_zone* state_of(const served_zone& z) {
    return static_cast<const parent_zone*>(z.role_state.get());
}

std::string kv_key(const served_zone& z, const std::string& child) {
    return key_of(z.settings.name) + "|" + child;
}

}  // namespace

parent_role::parent_role(net::asio::any_io_executor ex, zone::engine_settings settings,
                         parent_settings parent, fetch_factory fetch)
    : engine_role(ex, std::move(settings)),
      parent_(std::move(parent)),
      fetch_(std::move(fetch)),
      wake_(std::make_unique<net::asio::steady_timer>(ex)) {}

std::string parent_role::reconfigure(zone::engine_settings settings, parent_settings parent) {
    parent_ = std::move(parent);
    std::string error = engine_.reconfigure(std::move(settings));
    for (const auto& z : engine_.served())
        if (z->upstream) find_children(*z);
    wake_->cancel();
    return error;
}

void parent_role::start_scanning() {
    if (scanning_started_) return;
    scanning_started_ = true;
    net::asio::co_spawn(wake_->get_executor(), scan_loop(), net::asio::detached);
}

// --- the zone served ---

void parent_role::zone_started(served_zone& z) {
    auto& st = state_of(z);
    try {
        if (z.settings.secondary) engine_.load_upstream(z);
        st.children.clear();
        if (z.upstream) {
            find_children(z);
            net::asio::co_spawn(wake_->get_executor(), rebuild(engine_.shared(z)),
                                net::asio::detached);
        }
    } catch (const std::exception& e) {
        z.last_error = std::string("parent state unusable: ") + e.what();
        log::error("zone_load_failed",
                   {{"zone", key_of(z.settings.name)}, {"error", z.last_error}});
    }
}

awaitable<void> parent_role::upstream_changed(std::shared_ptr<served_zone> z,
                                              const zone::upstream_ixfr*) {
    find_children(*z);
    co_await rebuild(std::move(z));
}

void parent_role::find_children(served_zone& z) {
    auto& st = state_of(z);
    const auto& apex = z.settings.name;
    std::set<std::string> wanted_names;
    auto configured = parent_.children.find(key_of(apex));
    if (configured != parent_.children.end())
        for (const auto& n : configured->second)
            wanted_names.insert(key_of(n));
    std::set<std::string> found;
    std::vector<dns::name> delegations;
    const auto& up = *z.upstream;
    std::string last;
    for (size_t i = 0; i < up.size(); ++i) {
        auto v = up[i];
        if (v.type != T::NS) continue;
        dns::name owner = v.owner_name();
        if (owner == apex.canonical()) continue;
        std::string key = key_of(owner);
        if (key == last) continue;
        last = key;
        // Below another delegation: occluded, not a child of this zone.
        bool occluded = false;
        for (dns::name a = owner.parent(); !(a == apex.canonical()) && !a.is_root(); a = a.parent())
            if (found.count(key_of(a))) occluded = true;
        if (occluded) continue;
        found.insert(key);
        if (configured != parent_.children.end() && !wanted_names.count(key)) continue;
        delegations.push_back(owner);
    }
    for (auto& [key, c] : st.children)
        c.present = false;
    int64_t now = engine_.now();
    for (const auto& d : delegations) {
        std::string key = key_of(d);
        auto [it, fresh] = st.children.try_emplace(key);
        auto& c = it->second;
        c.present = true;
        if (!fresh) continue;
        c.name = d;
        c.next_scan = now;
        if (auto text = engine_.kv().get(children_ns, kv_key(z, key))) {
            try {
                decode_child(*text, c);
            } catch (const std::exception& e) {
                log::error("child_state_unusable", {{"child", key}, {"error", e.what()}});
            }
        }
    }
    // An operator's edit of a child's DS (or NS and glue) in the upstream zone wins over
    // what the scanner decided: the scanner's records for it are dropped, and later scans
    // start from the operator's (RFC 7344 §4.1: a CDS must then be signed by a key the
    // operator's DS points to).
    for (auto& [key, c] : st.children) {
        if (!c.present) continue;
        std::string ds_now = texts(served_at(up, c.name, T::DS));
        std::string delegation_now =
            texts(served_at(up, c.name, T::NS)) + " | " + texts(served_at(up, c.name, 0, true));
        bool changed = !c.upstream_ds || !c.upstream_delegation;
        if (c.upstream_ds && *c.upstream_ds != ds_now && c.ds) {
            log::warn("delegation_taken_back", {{"zone", key_of(apex)},
                                                {"child", key},
                                                {"what", "DS"},
                                                {"upstream", ds_now},
                                                {"dropped", texts(*c.ds)}});
            c.ds.reset();
            changed = true;
        }
        if (c.upstream_delegation && *c.upstream_delegation != delegation_now && (c.ns || c.glue)) {
            log::warn("delegation_taken_back",
                      {{"zone", key_of(apex)}, {"child", key}, {"what", "NS and glue"}});
            c.ns.reset();
            c.glue.reset();
            changed = true;
        }
        if (c.upstream_ds != ds_now || c.upstream_delegation != delegation_now) changed = true;
        c.upstream_ds = ds_now;
        c.upstream_delegation = delegation_now;
        if (changed) store_child(z, c);
    }
    wake_->cancel();  // new children are due now
    for (const auto& w : wanted_names)
        if (!found.count(w))
            log::warn("child_not_delegated",
                      {{"zone", key_of(apex)}, {"child", w}, {"note", "no NS in the zone"}});
}

awaitable<void> parent_role::rebuild(std::shared_ptr<served_zone> z) {
    for (int attempt = 0; attempt < 3; ++attempt) {
        if (!z->upstream || !z->upstream_soa || z->removed || engine_.stopping()) co_return;
        auto& st = state_of(*z);
        // Copies of what the pool reads: the loop may change the children meanwhile.
        auto sets = std::make_shared<std::vector<std::vector<dns::rr>>>();
        auto by_wire = std::make_shared<std::map<std::string, overlay_entry, std::less<>>>();
        sets->reserve(st.children.size() * 3);
        for (const auto& [key, c] : st.children) {
            if (!c.present) continue;
            overlay_entry e;
            if (c.ds) e.ds = &sets->emplace_back(*c.ds);
            if (c.ns) e.ns = &sets->emplace_back(*c.ns);
            if (c.glue) e.glue = &sets->emplace_back(*c.glue);
            if (e.ds || e.ns || e.glue) (*by_wire)[wire_of(c.name)] = e;
        }
        std::vector<dns::rr> extra;
        if (parent_.dsync_target) {
            dns::name owner = dns::name::from_text("_dsync", &z->settings.name);
            for (uint16_t type : {T::CDS, T::CSYNC})
                extra.push_back(dns::rr::from_text(
                    owner.to_text() + " " + std::to_string(parent_.dsync_ttl) + " IN DSYNC " +
                    dns::type_to_text(type) + " 1 " + std::to_string(parent_.dsync_port) + " " +
                    parent_.dsync_target->to_text()));
        }
        const uint32_t upstream_serial = soa_field(*z->upstream_soa, 0);
        std::optional<uint32_t> last = engine_.last_serial(*z);
        const uint32_t next = last ? zone::next_serial(*last, upstream_serial) : upstream_serial;
        auto upstream = z->upstream;
        auto base = z->data;
        dns::name origin = z->settings.name;
        struct outcome {
            dns::record_store records;
            std::optional<dns::zone_diff> change;
            std::shared_ptr<const zone::zone_data> data;
            uint32_t serial = 0;
        };
        auto overlay_task = [upstream, base, by_wire, sets, extra, origin, last, next] {
            auto result = std::make_shared<outcome>();
            // The same content under the served serial changes nothing (a restart, an
            // upstream reload that touched nothing served).
            if (base && last) {
                auto same = overlay(*upstream, *by_wire, extra, *last);
                if (zone::diff(base->records(), same).empty()) return result;
            }
            result->serial = next;
            result->records = overlay(*upstream, *by_wire, extra, next);
            if (base && !zone::size_jump(result->records.size(), base->records().size())) {
                result->change = zone::diff(base->records(), result->records);
                if (zone::zone_sized(*result->change, result->records.size()))
                    result->change.reset();
            }
            result->data = std::make_shared<const zone::zone_data>(result->records, origin);
            return result;
        };
        auto out = co_await engine_.off_loop(std::move(overlay_task));
        if (z->removed || engine_.stopping()) co_return;
        if (z->data != base || z->upstream != upstream) continue;  // moved meanwhile: again
        if (!out->data) co_return;
        if (out->change)
            engine_.record_change(*z, *out->change);
        else
            engine_.save_base(*z, out->records, out->serial);
        engine_.serve(*z, std::move(out->data), out->change.has_value());
        wake_->cancel();  // children wait for a served zone before their first scan
        log::info("parent_built", {{"zone", key_of(origin)},
                                   {"upstream_serial", upstream_serial},
                                   {"serial", out->serial},
                                   {"children", st.children.size()},
                                   {"changed_delegations", by_wire->size()}});
        co_return;
    }
}

void parent_role::apply_change(served_zone& z, child_state& c, const char* what,
                               std::optional<std::vector<dns::rr>> ds,
                               std::optional<std::vector<dns::rr>> ns,
                               std::optional<std::vector<dns::rr>> glue) {
    const auto& served = z.data->records();
    std::vector<dns::rr> removed, added;
    if (ds) {
        for (auto& r : served_at(served, c.name, T::DS))
            removed.push_back(std::move(r));
        added.insert(added.end(), ds->begin(), ds->end());
        c.ds = std::move(ds);
    }
    if (ns) {
        for (auto& r : served_at(served, c.name, T::NS))
            removed.push_back(std::move(r));
        added.insert(added.end(), ns->begin(), ns->end());
        c.ns = std::move(ns);
    }
    if (glue) {
        for (auto& r : served_at(served, c.name, 0, true))
            removed.push_back(std::move(r));
        added.insert(added.end(), glue->begin(), glue->end());
        c.glue = std::move(glue);
    }
    // Stored before it is served: a restart builds the zone with it (rebuild).
    store_child(z, c);
    removed = sorted(std::move(removed));
    added = sorted(std::move(added));
    if (removed.size() == added.size() &&
        std::equal(removed.begin(), removed.end(), added.begin(),
                   [](const dns::rr& a, const dns::rr& b) { return a.to_text() == b.to_text(); }))
        return;
    dns::zone_diff change;
    dns::rr old_soa = z.data->soa();
    dns::rr new_soa = old_soa;
    change.from_serial = z.data->serial();
    change.to_serial =
        zone::next_serial(change.from_serial, z.upstream_soa ? soa_field(*z.upstream_soa, 0) : 0);
    zone::set_soa_serial(new_soa.rdata, change.to_serial);
    change.removed.push_back(old_soa);
    change.removed.insert(change.removed.end(), removed.begin(), removed.end());
    change.added.push_back(new_soa);
    change.added.insert(change.added.end(), added.begin(), added.end());
    auto next = zone::zone_data::next(*z.data, change);
    engine_.record_change(z, change);
    engine_.serve(z, std::move(next), true);
    log::info("delegation_changed", {{"zone", key_of(z.settings.name)},
                                     {"child", key_of(c.name)},
                                     {"what", what},
                                     {"serial", change.to_serial},
                                     {"old", texts(removed)},
                                     {"new", texts(added)}});
}

void parent_role::store_child(const served_zone& z, const child_state& c) {
    engine_.kv().set(children_ns, kv_key(z, key_of(c.name)), encode_child(c));
}

// --- scanning ---

awaitable<void> parent_role::scan_loop() {
    while (!engine_.stopping()) {
        int64_t now = engine_.now();
        int64_t next_due = now + 3600;
        for (const auto& z : engine_.served()) {
            if (!z->data || !z->role_state) {
                next_due = std::min(next_due, now + 1);  // not built yet
                continue;
            }
            for (auto& [key, c] : state_of(*z).children) {
                if (!c.present || c.scanning) continue;
                if (c.next_scan > now) {
                    next_due = std::min(next_due, c.next_scan);
                    continue;
                }
                if (running_ >= parent_.max_parallel) {
                    next_due = now;  // a scan that ends wakes the loop
                    continue;
                }
                c.scanning = true;
                ++running_;
                net::asio::co_spawn(wake_->get_executor(), scan_one(z, key), net::asio::detached);
            }
        }
        int64_t wait = std::clamp<int64_t>(next_due - now, 1, 3600);
        wake_->expires_after(std::chrono::seconds(wait));
        boost::system::error_code ec;
        co_await wake_->async_wait(net::asio::redirect_error(net::use_awaitable, ec));
    }
}

awaitable<void> parent_role::scan_one(std::shared_ptr<served_zone> z, std::string key) {
    struct finish {
        parent_role& self;
        ~finish() {
            --self.running_;
            self.wake_->cancel();
        }
    } done{*this};
    auto find = [&]() -> child_state* {
        if (z->removed || !z->role_state) return nullptr;
        auto& children = state_of(*z).children;
        auto it = children.find(key);
        return it == children.end() ? nullptr : &it->second;
    };
    child_state* c = find();
    if (!c || !z->data) co_return;
    const int64_t started = engine_.now();
    scan_input in;
    in.child = c->name;
    const auto& served = z->data->records();
    in.current_ds = served_at(served, c->name, T::DS);
    in.current_ns = served_at(served, c->name, T::NS);
    in.current_glue = served_at(served, c->name, 0, true);
    std::string missing;
    for (const auto& ns : in.current_ns) {
        dns::name host = dns::name::from_wire(ns.rdata).canonical();
        if (auto it = parent_.nameservers.find(key_of(host)); it != parent_.nameservers.end()) {
            in.servers.push_back(it->second);
            continue;
        }
        bool any = false;
        auto [first, last] = zone::owner_range(served, host);
        for (size_t i = first; i < last; ++i) {
            auto v = served[i];
            if (v.type == T::A && v.rdata.size() == 4) {
                net::asio::ip::address_v4::bytes_type b;
                std::copy(v.rdata.begin(), v.rdata.end(), b.begin());
                in.servers.push_back({net::asio::ip::address_v4(b), 53});
                any = true;
            } else if (v.type == T::AAAA && v.rdata.size() == 16) {
                net::asio::ip::address_v6::bytes_type b;
                std::copy(v.rdata.begin(), v.rdata.end(), b.begin());
                in.servers.push_back({net::asio::ip::address_v6(b), 53});
                any = true;
            }
        }
        if (!any) missing += (missing.empty() ? "" : ", ") + key_of(host);
    }
    // Two nameserver names at one address are one server to ask.
    std::sort(in.servers.begin(), in.servers.end(), [](const net::peer& a, const net::peer& b) {
        return std::tie(a.address, a.port) < std::tie(b.address, b.port);
    });
    in.servers.erase(std::unique(in.servers.begin(), in.servers.end()), in.servers.end());
    scan_result result;
    std::string error;
    bool retry_soon = false;
    if (in.current_ns.empty()) {
        error = "no NS records for the delegation";
    } else if (!missing.empty()) {
        // Out-of-bailiwick names without a configured address (docs/parent.md).
        error = "no address for nameserver " + missing;
    } else {
        try {
            fetch_fn fetch = fetch_(in.child);
            result = co_await scan_child(fetch, in, parent_.cds, parent_.csync,
                                         dnssec::rrsig_time(engine_.now()));
        } catch (const std::exception& e) {
            // A failure of our own (no trust anchor yet, a resolver that cannot start):
            // tried again soon, not after a whole scan interval.
            error = std::string("scan failed: ") + e.what();
            retry_soon = true;
        }
    }
    c = find();  // the zone may have been rebuilt or removed meanwhile
    if (!c) co_return;
    if (!z->data) error = "the parent zone is not loaded";
    c->scanning = false;
    c->scans += 1;
    ++counters_.scans;
    c->last_scan = started;
    c->next_scan =
        c->rescan ? std::max(engine_.now(), c->last_notify)
                  : started + static_cast<int64_t>(retry_soon ? std::min(parent_.scan_interval, 5u)
                                                              : parent_.scan_interval);
    c->rescan = false;
    c->servers = result.servers;
    std::vector<std::string> refusals, updates;
    if (!error.empty()) {
        c->cds_result = c->csync_result = "refused: " + error;
        refusals.push_back(error);
    } else {
        const auto& cd = result.cds;
        c->cds_result = std::string(cds_outcome_name(cd.outcome));
        if (cd.outcome == cds_outcome::refused) {
            c->cds_result += ": " + cd.reason;
            refusals.push_back("CDS: " + cd.reason);
        } else if (cd.outcome == cds_outcome::updated && cd.initial) {
            // RFC 8078 §3.3: the first DS only after the same CDS was seen for the delay.
            std::string fp = texts(cd.ds);
            if (fp != c->initial_fingerprint) {
                c->initial_fingerprint = fp;
                c->initial_since = started;
            }
            if (started - c->initial_since >= parent_.initial_ds_delay) {
                apply_change(*z, *c, "initial DS", cd.ds, std::nullopt, std::nullopt);
                updates.push_back("DS (initial)");
            } else {
                c->cds_result = "waiting: initial DS accepted after " +
                                std::to_string(parent_.initial_ds_delay) + " s (seen since " +
                                zone::utc_text(c->initial_since) + ")";
            }
        } else if (cd.outcome == cds_outcome::updated) {
            apply_change(*z, *c, "DS", cd.ds, std::nullopt, std::nullopt);
            updates.push_back("DS");
        } else if (cd.outcome == cds_outcome::removed) {
            apply_change(*z, *c, "DS removed", std::vector<dns::rr>{}, std::nullopt, std::nullopt);
            updates.push_back("DS removed");
        }
        const auto& cs = result.csync;
        c->csync_result = std::string(csync_outcome_name(cs.outcome));
        if (cs.outcome == csync_outcome::refused) {
            c->csync_result += ": " + cs.reason;
            refusals.push_back("CSYNC: " + cs.reason);
        } else if (cs.outcome == csync_outcome::updated) {
            apply_change(*z, *c, "NS and glue", std::nullopt, cs.ns, cs.glue);
            updates.push_back("NS and glue");
        }
    }
    if (!refusals.empty()) {
        std::string refusal_text;
        for (const auto& r : refusals)
            refusal_text += (refusal_text.empty() ? "" : "; ") + r;
        c->result = "refused: " + refusal_text;
        ++counters_.refused;
    } else if (!updates.empty()) {
        std::string update_text;
        for (const auto& u : updates)
            update_text += (update_text.empty() ? "" : ", ") + u;
        c->result = "updated: " + update_text;
        ++counters_.updated;
    } else {
        c->result = c->cds_result.rfind("waiting", 0) == 0 ? c->cds_result : "unchanged";
    }
    try {
        store_child(*z, *c);
    } catch (const std::exception& e) {
        log::error("child_state_not_stored", {{"child", key}, {"error", e.what()}});
    }
    std::string servers;
    for (const auto& s : c->servers)
        servers += (servers.empty() ? "" : ",") + s;
    if (refusals.empty())
        log::info("child_scanned", {{"zone", key_of(z->settings.name)},
                                    {"child", key},
                                    {"result", c->result},
                                    {"servers", servers}});
    else
        log::warn("child_scanned", {{"zone", key_of(z->settings.name)},
                                    {"child", key},
                                    {"result", c->result},
                                    {"servers", servers}});
}

served_zone* parent_role::zone_of_child(const dns::name& child, child_state** out) const {
    *out = nullptr;
    for (dns::name n = child; !n.is_root();) {
        n = n.parent();
        served_zone* z = engine_.exact_zone(n);
        if (!z || !z->role_state) continue;
        auto& children = state_of(*z).children;
        auto it = children.find(key_of(child));
        if (it == children.end() || !it->second.present) return nullptr;
        *out = &it->second;
        return z;
    }
    return nullptr;
}

std::optional<uint16_t> parent_role::notify(const net::request& req, const dns::message& query,
                                            const std::string*) {
    if (query.questions.size() != 1) return std::nullopt;
    const auto& q = query.questions[0];
    if (q.qtype != T::CDS && q.qtype != T::CDNSKEY && q.qtype != T::CSYNC) return std::nullopt;
    ++counters_.notify_in;
    child_state* c = nullptr;
    served_zone* z = zone_of_child(q.qname, &c);
    if (!z || !c) {
        ++counters_.notify_refused;
        log::warn("notify_refused", {{"child", q.qname.to_text()},
                                     {"type", dns::type_to_text(q.qtype)},
                                     {"client", req.client.to_string()},
                                     {"reason", "not a delegation of a zone served here"}});
        return dns::rcode::REFUSED;
    }
    // A scan at once, but no more often than notify_min_interval per child.
    int64_t now = engine_.now();
    int64_t at = std::max(now, c->last_notify + static_cast<int64_t>(parent_.notify_min_interval));
    c->last_notify = at;
    c->next_scan = std::min(c->next_scan, at);
    if (c->scanning) c->rescan = true;  // the scan running may have read the old data
    wake_->cancel();
    log::info("notify_received", {{"child", key_of(c->name)},
                                  {"type", dns::type_to_text(q.qtype)},
                                  {"client", req.client.to_string()},
                                  {"scan_in", at - now}});
    return dns::rcode::NOERROR;
}

// --- management ---

std::optional<std::string> parent_role::role_view(const std::string& topic,
                                                  const std::string& arg) const {
    if (topic != "children") return std::nullopt;
    if (!arg.empty()) {
        dns::name root;
        try {
            child_state* c = nullptr;
            served_zone* z = zone_of_child(dns::name::from_text(arg, &root), &c);
            if (z && c) return child_json(*z, *c);
        } catch (const std::exception&) {
        }
        return std::nullopt;
    }
    std::string out = "{\"children\":[";
    bool first = true;
    for (const auto& z : engine_.served()) {
        const parent_zone* st = state_of(static_cast<const served_zone&>(*z));
        if (!st) continue;
        for (const auto& [key, c] : st->children) {
            if (!c.present) continue;
            if (!first) out += ",";
            first = false;
            out += child_json(*z, c);
        }
    }
    out += "]}";
    return out;
}

std::optional<std::string> parent_role::role_action(const std::string& topic,
                                                    const std::string& arg,
                                                    const std::string& action) {
    if (topic != "children" || action != "scan") return std::nullopt;
    dns::name root;
    child_state* c = nullptr;
    try {
        zone_of_child(dns::name::from_text(arg, &root), &c);
    } catch (const std::exception& e) {
        return std::string(e.what());
    }
    if (!c) return "not a delegation of a zone served here: " + arg;
    c->next_scan = engine_.now();
    c->last_notify = c->next_scan;
    if (c->scanning) c->rescan = true;
    wake_->cancel();
    return std::string();
}

void parent_role::describe(const served_zone& z, zone::zone_status& st) const {
    st.kind = "parent";
    st.details["upstream serial"] =
        z.upstream_soa ? std::to_string(soa_field(*z.upstream_soa, 0)) : std::string("-");
    size_t children = 0, managed = 0, refused = 0;
    if (const parent_zone* pz = state_of(z))
        for (const auto& [key, c] : pz->children) {
            if (!c.present) continue;
            ++children;
            if (c.ds || c.ns || c.glue) ++managed;
            if (c.result.rfind("refused", 0) == 0) ++refused;
        }
    st.details["children"] = std::to_string(children);
    st.details["children changed by scans"] = std::to_string(managed);
    st.details["children refused at last scan"] = std::to_string(refused);
}

void parent_role::role_metrics(std::vector<roles::metric>& out) const {
    const auto& c = counters_;
    out.push_back({"hsync_parent_scans_total", "child scans", "counter", {}, double(c.scans)});
    out.push_back({"hsync_parent_scan_results_total",
                   "child scans by result",
                   "counter",
                   {{"result", "updated"}},
                   double(c.updated)});
    out.push_back({"hsync_parent_scan_results_total",
                   "child scans by result",
                   "counter",
                   {{"result", "refused"}},
                   double(c.refused)});
    out.push_back({"hsync_parent_notify_total",
                   "generalized NOTIFY received",
                   "counter",
                   {{"result", "accepted"}},
                   double(c.notify_in - c.notify_refused)});
    out.push_back({"hsync_parent_notify_total",
                   "generalized NOTIFY received",
                   "counter",
                   {{"result", "refused"}},
                   double(c.notify_refused)});
}

}  // namespace hsync::parent
