#include "roles/combiner/combiner_role.h"

#include "zone/journal.h"
#include "zone/log.h"
#include "zone/text.h"

namespace hsync::combiner {

using net::awaitable;
using zone::key_of;
using zone::served_zone;
using zone::soa_field;

namespace {

constexpr std::string_view agent_ns = "combiner-agent";  // kv namespace: zone -> agent data

struct combiner_zone : zone::role_zone_state {
    agent_data agent;
    std::optional<uint32_t> combined_from;  // the owner serial the served zone was made from
};

combiner_zone& state_of(served_zone& z) {
    if (!z.role_state) z.role_state = std::make_unique<combiner_zone>();
    return static_cast<combiner_zone&>(*z.role_state);
}

const combiner_zone* state_of(const served_zone& z) {
    return static_cast<const combiner_zone*>(z.role_state.get());
}

dns::record_store apex_of(const dns::record_store& zone, const dns::name& apex) {
    dns::record_store out;
    auto [first, end] = zone::owner_range(zone, apex);
    for (size_t i = first; i < end; ++i)
        out.add(zone[i]);
    return out;
}

bool agent_manages_ns(const served_zone& z) {
    return z.upstream && ns_management(*z.upstream, z.settings.name) == ns_mgmt::agent;
}

}  // namespace

void combiner_role::zone_started(served_zone& z) {
    auto& st = state_of(z);
    try {
        if (auto text = engine_.kv().get(agent_ns, key_of(z.settings.name)))
            st.agent = decode_agent_data(*text, z.settings.name);
        engine_.load_upstream(z);
        // A crash between the owner's copy (or the agent data) and the served zone being
        // written: the content differs and a new serial is served; otherwise nothing.
        if (z.upstream) recombine(z, true);
    } catch (const std::exception& e) {
        z.last_error = std::string("combiner state unusable: ") + e.what();
        log::error("zone_load_failed",
                   {{"zone", key_of(z.settings.name)}, {"error", z.last_error}});
    }
}

awaitable<void> combiner_role::upstream_changed(std::shared_ptr<served_zone> z,
                                                const zone::upstream_ixfr* ixfr) {
    if (ixfr) {
        co_await recombine_change(std::move(z), *ixfr);
        co_return;
    }
    // A whole new owner copy, perhaps with the serial it had (a forced transfer): combine
    // all of it, not only the apex.
    state_of(*z).combined_from.reset();
    co_await recombine_off_loop(std::move(z));
}

void combiner_role::log_combined(const served_zone& z, const char* mode, uint32_t owner_serial,
                                 uint32_t serial, std::optional<size_t> changes) {
    if (changes)
        log::info("combined", {{"zone", key_of(z.settings.name)},
                               {"mode", mode},
                               {"owner_serial", owner_serial},
                               {"serial", serial},
                               {"changes", *changes},
                               {"records", z.data->records().size()}});
    else
        log::info("combined", {{"zone", key_of(z.settings.name)},
                               {"mode", mode},
                               {"owner_serial", owner_serial},
                               {"serial", serial},
                               {"records", z.data->records().size()}});
}

void combiner_role::recombine(served_zone& z, bool at_start) {
    if (!z.upstream || !z.upstream_soa) return;
    auto& st = state_of(z);
    const auto& name = z.settings.name;
    uint32_t owner_serial = soa_field(*z.upstream_soa, 0);
    std::optional<uint32_t> last = engine_.last_serial(z);
    if (at_start && z.data) {
        dns::record_store same = combine(*z.upstream, st.agent, name, *last);
        if (zone::diff(z.data->records(), same).empty()) {
            st.combined_from = owner_serial;
            return;
        }
    }
    uint32_t serial = last ? next_serial(*last, owner_serial) : owner_serial;
    if (!at_start && z.data && st.combined_from == owner_serial) {
        // Served from this owner version: only the agent data changed, and all it reaches
        // is the apex. Combine the apex alone and serve the difference (O(apex)).
        dns::record_store apex = combine(apex_of(*z.upstream, name), st.agent, name, serial);
        dns::zone_diff change = zone::diff(apex_of(z.data->records(), name), apex);
        ++combines_;
        if (change.empty()) return;
        auto next = zone::zone_data::next(*z.data, change);
        engine_.record_change(z, change);
        engine_.serve(z, std::move(next), true);
        log_combined(z, "apex", owner_serial, serial, change.removed.size() + change.added.size());
        return;
    }
    dns::record_store combined = combine(*z.upstream, st.agent, name, serial);
    ++combines_;
    // A zone-sized change is stored as a new base, without building its difference.
    if (z.data && !zone::size_jump(combined.size(), z.data->records().size())) {
        dns::zone_diff change = zone::diff(z.data->records(), combined);
        st.combined_from = owner_serial;
        if (change.empty()) return;
        engine_.commit(z, std::move(combined), &change);
    } else {
        engine_.save_base(z, combined, serial);
        engine_.commit(z, std::move(combined), nullptr);
    }
    st.combined_from = owner_serial;
    log_combined(z, "full", owner_serial, serial);
}

awaitable<void> combiner_role::recombine_off_loop(std::shared_ptr<served_zone> z) {
    if (!z->upstream || !z->upstream_soa) co_return;
    auto& st = state_of(*z);
    const uint32_t owner_serial = soa_field(*z->upstream_soa, 0);
    if (z->data && st.combined_from == owner_serial) {  // agent data only: the apex, cheap
        recombine(*z);
        co_return;
    }
    std::optional<uint32_t> last = engine_.last_serial(*z);
    const uint32_t serial = last ? next_serial(*last, owner_serial) : owner_serial;
    struct outcome {
        dns::record_store combined;
        std::optional<dns::zone_diff> change;  // none: no served zone, or zone-sized
        std::shared_ptr<const zone::zone_data> data;
    };
    auto owner = z->upstream;
    auto agent = std::make_shared<const agent_data>(st.agent);
    auto base = z->data;
    dns::name origin = z->settings.name;
    // Combining, the difference and the index of a large zone take a while: off the loop.
    auto combine_task = [owner, agent, base, origin, serial] {
        auto result = std::make_shared<outcome>();
        result->combined = combine(*owner, *agent, origin, serial);
        if (base && !zone::size_jump(result->combined.size(), base->records().size())) {
            result->change = zone::diff(base->records(), result->combined);
            if (result->change->empty()) return result;
            if (zone::zone_sized(*result->change, result->combined.size())) result->change.reset();
        }
        result->data = std::make_shared<const zone::zone_data>(result->combined, origin);
        return result;
    };
    auto out = co_await engine_.off_loop(std::move(combine_task));
    if (z->removed || engine_.stopping()) co_return;
    auto& now_st = state_of(*z);
    if (z->data != base || z->upstream != owner || !(now_st.agent == *agent)) {
        recombine(*z);  // something moved meanwhile: do it again from what is there now
        co_return;
    }
    ++combines_;
    now_st.combined_from = owner_serial;
    if (!out->data) co_return;  // nothing changed
    if (out->change)
        engine_.record_change(*z, *out->change);
    else
        engine_.save_base(*z, out->combined, serial);
    engine_.serve(*z, std::move(out->data), out->change.has_value());
    log_combined(*z, "full", owner_serial, serial);
}

awaitable<void> combiner_role::recombine_change(std::shared_ptr<served_zone> z,
                                                const zone::upstream_ixfr& ixfr) {
    auto& st = state_of(*z);
    const auto& name = z->settings.name;
    // Only from the owner version the served zone was combined from.
    if (!z->data || !st.combined_from || *st.combined_from != ixfr.before_serial) {
        co_await recombine_off_loop(z);
        co_return;
    }
    const auto& diffs = *ixfr.diffs;
    dns::zone_diff owner_change = diffs.size() == 1 ? diffs.front() : zone::condense(diffs);
    uint32_t owner_serial = soa_field(*z->upstream_soa, 0);
    uint32_t serial = next_serial(z->data->serial(), owner_serial);
    auto change =
        combine_change(owner_change, *ixfr.before, st.agent, name, z->data->soa(), serial);
    if (!change) {  // the HSYNC RRset changed: NS management may have flipped
        co_await recombine_off_loop(z);
        co_return;
    }
    auto shared_change = std::make_shared<const dns::zone_diff>(std::move(*change));
    std::shared_ptr<const zone::zone_data> base = z->data;
    auto next_task = [base, shared_change] { return zone::zone_data::next(*base, *shared_change); };
    auto data = co_await engine_.off_loop(std::move(next_task));
    if (z->removed || engine_.stopping()) co_return;
    if (z->data != base) {  // an agent UPDATE was combined meanwhile: start from that
        co_await recombine_off_loop(z);
        co_return;
    }
    engine_.record_change(*z, *shared_change);
    engine_.serve(*z, std::move(data), true);
    state_of(*z).combined_from = owner_serial;
    ++combines_;
    log_combined(*z, "incremental", owner_serial, serial,
                 shared_change->removed.size() + shared_change->added.size());
}

std::optional<zone::update_outcome> combiner_role::update(served_zone& z, const dns::message& query,
                                                          const std::string* key,
                                                          const net::asio::ip::address& client) {
    const std::string zone = key_of(z.settings.name);
    auto rejected = [&](uint16_t rcode, const std::string& why) {
        log::warn("update_refused", {{"zone", zone},
                                     {"client", client.to_string()},
                                     {"key", key ? *key : std::string()},
                                     {"rcode", dns::rcode_to_text(rcode)},
                                     {"reason", why}});
        return zone::update_outcome{rcode, false};
    };
    // Agents authenticate with TSIG only (docs/protocol.md), and the key must be allowed.
    if (!key) return rejected(dns::rcode::REFUSED, "UPDATE without TSIG");
    if (!z.settings.allow_update.allows(client, key))
        return rejected(dns::rcode::REFUSED, "allow-update");
    auto& st = state_of(z);
    dns::name root;
    agent_update_result r;
    try {
        r = apply_agent_update(st.agent, z.settings.name, query, dns::name::from_text(*key, &root),
                               engine_.now());
    } catch (const std::exception& e) {
        return rejected(dns::rcode::SERVFAIL, e.what());
    }
    if (r.rcode != dns::rcode::NOERROR) return rejected(r.rcode, r.reason);
    if (!r.changed) return zone::update_outcome{dns::rcode::NOERROR, false};
    try {
        // Durable before it is acted on or answered.
        engine_.kv().set(agent_ns, zone, encode_agent_data(r.data));
    } catch (const std::exception& e) {
        return rejected(dns::rcode::SERVFAIL, std::string("storing agent data: ") + e.what());
    }
    st.agent = std::move(r.data);
    log::info("agent_data_changed", {{"zone", zone}, {"key", *key}});
    try {
        recombine(z);
    } catch (const std::exception& e) {
        // Stored: the next owner transfer or restart combines it.
        z.last_error = std::string("combining: ") + e.what();
        log::error("combine_failed", {{"zone", zone}, {"error", e.what()}});
    }
    return zone::update_outcome{dns::rcode::NOERROR, true};
}

void combiner_role::describe(const served_zone& z, zone::zone_status& st) const {
    st.kind = "combiner";
    st.details["owner serial"] =
        z.upstream_soa ? std::to_string(soa_field(*z.upstream_soa, 0)) : std::string("-");
    st.details["served serial"] = z.data ? std::to_string(z.data->serial()) : "-";
    st.details["NS managed by"] = agent_manages_ns(z) ? "agent" : "owner";
    const combiner_zone* cz = state_of(z);
    for (uint16_t type : agent_types) {
        std::string v = "-";
        if (cz)
            if (auto it = cz->agent.rrsets.find(type); it != cz->agent.rrsets.end())
                v = std::to_string(it->second.records.size()) + " records, changed " +
                    zone::utc_text(it->second.changed_at) + " by " + it->second.changed_by;
        st.details["agent " + dns::type_to_text(type)] = v;
    }
}

std::optional<std::string> combiner_role::zone_json(const served_zone& z) const {
    using zone::json_string;
    std::string out = "{\"zone\":";
    json_string(out, key_of(z.settings.name));
    out += ",\"owner_serial\":";
    out += z.upstream_soa ? std::to_string(soa_field(*z.upstream_soa, 0)) : "null";
    out += ",\"served_serial\":";
    out += z.data ? std::to_string(z.data->serial()) : "null";
    out += ",\"ns_management\":";
    bool agent_ns = agent_manages_ns(z);
    out += agent_ns ? "\"AGENT\"" : "\"OWNER\"";
    out += ",\"rrsets\":[";
    bool first = true;
    if (const combiner_zone* cz = state_of(z)) {
        for (const auto& [type, set] : cz->agent.rrsets) {
            if (!first) out += ",";
            first = false;
            out += "{\"type\":";
            json_string(out, dns::type_to_text(type));
            out += ",\"changed_at\":" + std::to_string(set.changed_at) + ",\"changed_at_text\":";
            json_string(out, zone::utc_text(set.changed_at));
            out += ",\"changed_by\":";
            json_string(out, set.changed_by);
            out += ",\"applied\":";
            out +=
                type != dns::rr_type::NS || (agent_ns && !set.records.empty()) ? "true" : "false";
            out += ",\"records\":[";
            for (size_t i = 0; i < set.records.size(); ++i) {
                if (i) out += ",";
                json_string(out, set.records[i].to_text());
            }
            out += "]}";
        }
    }
    out += "]}";
    return out;
}

void combiner_role::role_metrics(std::vector<roles::metric>& out) const {
    out.push_back({"hsync_combines_total",
                   "zones combined (owner zone and agent data)",
                   "counter",
                   {},
                   double(combines_)});
}

}  // namespace hsync::combiner
