#include "roles/signer/signer_role.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "dnssec/keyfile.h"
#include "roles/signer/sign.h"
#include "zone/journal.h"
#include "zone/log.h"
#include "zone/text.h"

namespace hsync::signer {

using net::awaitable;
using zone::key_of;
using zone::served_zone;
using zone::soa_field;
using zone::utc_text;

namespace {

constexpr std::string_view keys_ns = "signer-keys";    // zone -> key set (metadata)
constexpr std::string_view state_ns = "signer-state";  // zone -> unsigned serial signed

std::filesystem::path key_dir(const std::string& data_dir, const dns::name& zone) {
    std::string z = key_of(zone);
    if (z.size() > 1) z.pop_back();  // "example.com." -> "example.com"
    return std::filesystem::path(data_dir) / "keys" / z;
}

struct signer_zone : zone::role_zone_state {
    signing_policy policy;
    key_set keys;
    std::optional<uint32_t> signed_from;  // the unsigned serial the served zone was made from
    bool resign_requested = false;        // keys changed: sign again (incrementally if able)
    bool resign_full = false;             // policy changed or state lost: sign everything
    int64_t next_maintenance = 0;         // key timers and signature refresh
    uint64_t full_signs = 0, incremental_signs = 0;
    std::string last_sign;  // "incremental: 12 names, ... at ...", for zone show
};

signer_zone& state_of(served_zone& z) {
    if (!z.role_state) z.role_state = std::make_unique<signer_zone>();
    return static_cast<signer_zone&>(*z.role_state);
}

const signer_zone& state_of(const served_zone& z) {
    static const signer_zone none;
    return z.role_state ? static_cast<const signer_zone&>(*z.role_state) : none;
}

}  // namespace

signer_role::signer_role(net::asio::any_io_executor ex, zone::engine_settings settings,
                         signer_settings signing)
    : engine_role(std::move(ex), std::move(settings)), signing_(std::move(signing)) {}

std::string signer_role::reconfigure(zone::engine_settings settings, signer_settings signing) {
    for (const auto& [name, policy] : signing.policies) {
        served_zone* z = engine_.zone_by_text(name);
        if (!z || !z->role_state) continue;
        auto& st = state_of(*z);
        // A new policy (algorithm, NSEC3, ...) needs a new signing of the whole zone.
        if (!(st.policy == policy)) {
            st.policy = policy;
            st.resign_full = true;
        }
    }
    signing_ = std::move(signing);
    return engine_.reconfigure(std::move(settings));
}

void signer_role::zone_started(served_zone& z) {
    const std::string zone = key_of(z.settings.name);
    auto& st = state_of(z);
    if (auto it = signing_.policies.find(zone); it != signing_.policies.end())
        st.policy = it->second;
    try {
        auto dir = key_dir(engine_.settings().data_dir, z.settings.name);
        if (auto text = engine_.kv().get(keys_ns, zone))
            st.keys = decode_key_set(
                *text, [&](const std::string& base) { return dnssec::read_key_files(dir / base); });
        if (auto stored = engine_.kv().get(state_ns, zone))
            st.signed_from = static_cast<uint32_t>(std::stoul(*stored));
        engine_.load_upstream(z);
        // Signed from another unsigned version than the one stored (killed between the two
        // writes), or never signed: sign at the first maintenance.
        if (z.upstream &&
            (!z.data || !st.signed_from || *st.signed_from != soa_field(*z.upstream_soa, 0)))
            st.resign_full = true;
    } catch (const std::exception& e) {
        z.last_error = std::string("signer state unusable: ") + e.what();
        log::error("zone_load_failed", {{"zone", zone}, {"error", z.last_error}});
    }
}

awaitable<void> signer_role::upstream_changed(std::shared_ptr<served_zone> z,
                                              const zone::upstream_ixfr* ixfr) {
    auto& st = state_of(*z);
    std::shared_ptr<std::vector<dns::name>> names;
    // Incremental signing only from the unsigned version the served zone was signed from
    // (after a refused version, or an AXFR: in full).
    if (ixfr && st.signed_from && *st.signed_from == ixfr->before_serial) {
        names = std::make_shared<std::vector<dns::name>>();
        for (const auto& d : *ixfr->diffs)
            for (const auto* list : {&d.removed, &d.added})
                for (const auto& r : *list)
                    names->push_back(r.owner);
    }
    co_await resign(std::move(z), std::move(names));
}

awaitable<void> signer_role::maintain(std::shared_ptr<served_zone> z) {
    try {
        co_await run_maintenance(z);
    } catch (const std::exception& e) {
        z->last_error = e.what();
        log::error("signing_failed", {{"zone", key_of(z->settings.name)}, {"error", e.what()}});
    }
}

std::optional<int64_t> signer_role::next_maintenance(const served_zone& z) const {
    return state_of(z).next_maintenance;
}

zone_key signer_role::new_key(served_zone& z, dnssec::key_role role) {
    const auto& s = z.settings;
    auto& st = state_of(z);
    // A tag must not collide with ours or with another provider's key in the zone
    // (validators try every key with a tag, but tools and agents match keys by tag).
    std::vector<uint16_t> taken;
    for (const auto& k : st.keys.keys)
        taken.push_back(k.key.tag());
    if (z.upstream) {
        auto [a, b] = zone::owner_range(*z.upstream, s.name);
        for (size_t i = a; i < b; ++i)
            if ((*z.upstream)[i].type == dns::rr_type::DNSKEY)
                taken.push_back(dnssec::key_tag((*z.upstream)[i].rdata));
    }
    for (int attempt = 0;; ++attempt) {
        dnssec::key k = dnssec::key::generate(s.name, st.policy.algorithm, role);
        if (std::find(taken.begin(), taken.end(), k.tag()) != taken.end() && attempt < 16) continue;
        k.timing.created = engine_.now();
        auto dir = key_dir(engine_.settings().data_dir, s.name);
        std::filesystem::create_directories(dir);
        std::string base = dnssec::write_key_files(k, dir);
        log::info("key_created", {{"zone", key_of(s.name)},
                                  {"tag", k.tag()},
                                  {"algorithm", k.algorithm()},
                                  {"role", signer::role_name(role)},
                                  {"file", (dir / base).string()}});
        return zone_key{std::move(k), role, key_state::published, engine_.now(), 0, 0, 0, base};
    }
}

void signer_role::store_keys(served_zone& z) {
    engine_.kv().set(keys_ns, key_of(z.settings.name), encode_key_set(state_of(z).keys));
}

bool signer_role::ensure_keys(served_zone& z) {
    auto& st = state_of(z);
    if (!st.keys.keys.empty()) return false;
    int64_t t = engine_.now();
    for (auto role : initial_roles(st.policy)) {
        signer::key_action a{signer::key_action::kind::publish, role, 0, true, "first sight"};
        apply_action(st.keys, a, t, new_key(z, role));
    }
    store_keys(z);  // the key files are written; now the state that names them
    return true;
}

awaitable<void> signer_role::resign(std::shared_ptr<served_zone> z,
                                    std::shared_ptr<const std::vector<dns::name>> changed,
                                    size_t max_names) {
    if (!z->upstream || !z->upstream_soa) co_return;
    auto& st = state_of(*z);
    const auto& s = z->settings;
    const std::string zone = key_of(s.name);
    if (ensure_keys(*z)) changed = nullptr;
    // The policy changed (reconfigure) and maintenance has not signed it in full yet: an
    // incremental signing now would mix the old policy's records with the new.
    if (st.resign_full) changed = nullptr;
    auto keys = std::make_shared<const key_set>(st.keys);
    auto policy = std::make_shared<const signing_policy>(st.policy);
    uint32_t upstream = soa_field(*z->upstream_soa, 0);
    std::optional<uint32_t> last = engine_.last_serial(*z);
    sign_context ctx;
    ctx.origin = s.name.canonical();
    ctx.keys = keys.get();
    ctx.policy = policy.get();
    ctx.serial = last ? zone::next_serial(*last, upstream) : upstream;
    ctx.now = engine_.now();

    struct outcome {
        std::shared_ptr<const zone::zone_data> data;
        std::optional<dns::zone_diff> change;  // set when signed incrementally
        incremental_stats inc;
        dnssec::sign_stats full;
        double ms = 0;
    };
    auto owner = z->upstream;
    auto base = z->data;
    log::info("signing_started", {{"zone", zone},
                                  {"unsigned_serial", upstream},
                                  {"records", owner->size()},
                                  {"changed_names", changed ? changed->size() : size_t(0)}});
    std::shared_ptr<outcome> result;
    try {
        auto sign_task = [owner, base, changed, ctx, keys, policy, max_names] {
            auto out = std::make_shared<outcome>();
            auto t0 = std::chrono::steady_clock::now();
            if (changed && base) {
                out->change = sign_incremental(base->records(), *owner, *changed, ctx, &out->inc,
                                               max_names, base.get());
                if (out->change) out->data = zone::zone_data::next(*base, *out->change);
            }
            if (!out->change)
                out->data = std::make_shared<const zone::zone_data>(
                    sign_full(*owner, ctx, &out->full), ctx.origin);
            out->ms =
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                    .count();
            return out;
        };
        result = co_await engine_.off_loop(std::move(sign_task));
    } catch (const std::exception& e) {
        // The unsigned version is refused; the last signed one keeps being served.
        ++counters_.sign_failures;
        z->last_error = std::string("signing failed: ") + e.what();
        log::error("signing_failed",
                   {{"zone", zone},
                    {"unsigned_serial", upstream},
                    {"error", e.what()},
                    {"action", z->data ? "kept serving serial " + std::to_string(z->data->serial())
                                       : std::string("nothing to serve")}});
        co_return;
    }
    if (z->removed || engine_.stopping()) co_return;
    // Stored before served; the signed-from serial last, so a crash in
    // between signs again at restart.
    if (result->change) {
        engine_.record_change(*z, *result->change);
        ++counters_.signs_incremental;
        ++st.incremental_signs;
        counters_.signatures_made += result->inc.signatures_new;
    } else {
        engine_.save_base(*z, result->data->records(), ctx.serial);
        if (st.policy == *policy) st.resign_full = false;
        ++counters_.signs_full;
        ++st.full_signs;
        counters_.signatures_made += result->full.signatures_new;
    }
    engine_.serve(*z, result->data, result->change.has_value());
    engine_.kv().set(state_ns, zone, std::to_string(upstream));
    st.signed_from = upstream;
    z->last_error.clear();
    char ms[32];
    std::snprintf(ms, sizeof ms, "%.1f", result->ms);
    // One summary for zone show and the log: names for an incremental signing, records for
    // a full one.
    const bool incremental = result->change.has_value();
    const char* counted = incremental ? "names" : "records";
    size_t count = incremental ? result->inc.names : result->full.records_out;
    size_t made = incremental ? result->inc.signatures_new : result->full.signatures_new;
    size_t kept = incremental ? result->inc.signatures_kept : result->full.signatures_kept;
    st.last_sign = std::string(incremental ? "incremental: " : "full: ") + std::to_string(count) +
                   " " + counted + ", " + std::to_string(made) + " signatures in " + ms +
                   " ms at " + utc_text(ctx.now);
    log::info("signed", {{"zone", zone},
                         {"mode", incremental ? "incremental" : "full"},
                         {"unsigned_serial", upstream},
                         {"serial", ctx.serial},
                         {counted, count},
                         {"signatures_new", made},
                         {"signatures_kept", kept},
                         {"ms", ms}});
}

awaitable<void> signer_role::run_maintenance(std::shared_ptr<served_zone> z) {
    auto& st = state_of(*z);
    int64_t t = engine_.now();
    if (t < st.next_maintenance && !st.resign_full && !st.resign_requested) co_return;
    st.next_maintenance = t + signing_.check_interval;
    if (!z->upstream) co_return;
    const auto& s = z->settings;
    const std::string zone = key_of(s.name);
    bool full = st.resign_full, apex = st.resign_requested;
    st.resign_full = st.resign_requested = false;
    // Key timers (RFC 7583), each step stored before it is acted on.
    if (!st.keys.keys.empty()) {
        // The largest TTL (a whole-zone scan) matters only for when a retired key goes.
        bool retired = std::any_of(st.keys.keys.begin(), st.keys.keys.end(), [](const auto& k) {
            return k.state == signer::key_state::retired;
        });
        uint32_t max_ttl = retired && z->data ? signer::max_ttl(z->data->records()) : 0;
        auto actions = signer::due_actions(st.keys, st.policy, t, max_ttl);
        for (const auto& a : actions) {
            std::string why = signer::check_action(st.keys, a);
            if (!why.empty()) {
                log::warn("key_step_skipped",
                          {{"zone", zone}, {"step", signer::describe(a)}, {"reason", why}});
                continue;
            }
            std::optional<signer::zone_key> k;
            if (a.what == signer::key_action::kind::publish) k = new_key(*z, a.role);
            signer::apply_action(st.keys, a, t, std::move(k));
            log::info("key_step", {{"zone", zone},
                                   {"step", signer::describe(a)},
                                   {"by", "timer"},
                                   {"reason", a.why}});
            apex = true;
        }
        if (!actions.empty()) store_keys(*z);
    }
    if (full || !z->data || !st.signed_from || *st.signed_from != soa_field(*z->upstream_soa, 0)) {
        co_await resign(z, nullptr, 0);
        co_return;
    }
    if (apex) {
        auto apex_only = std::make_shared<std::vector<dns::name>>(1, s.name);
        co_await resign(z, std::move(apex_only), 0);
        co_return;
    }
    // Signature refresh: the names whose signatures expire within the refresh time, a batch
    // at a time, so the work spreads out instead of re-signing the whole zone at once.
    signer::sign_context ctx;
    ctx.origin = s.name.canonical();
    ctx.keys = &st.keys;
    ctx.policy = &st.policy;
    ctx.now = t;
    auto expiring = std::make_shared<std::vector<dns::name>>(
        signer::expiring_owners(z->data->records(), ctx, signing_.refresh_batch));
    if (!expiring->empty()) {
        log::info("signature_refresh", {{"zone", zone}, {"names", expiring->size()}});
        co_await resign(z, std::move(expiring), signing_.refresh_batch + 1);
    }
}

std::string signer_role::key_command(const std::string& name, const std::string& action,
                                     const std::string& argument) {
    served_zone* z = engine_.zone_by_text(name);
    if (!z) return "zone " + name + " is not served here";
    auto& st = state_of(*z);
    signer::key_action a;
    if (action == "publish") {
        a.what = signer::key_action::kind::publish;
        if (argument == "zsk")
            a.role = dnssec::key_role::zsk;
        else if (argument == "ksk")
            a.role = dnssec::key_role::ksk;
        else if (argument == "csk")
            a.role = dnssec::key_role::csk;
        else
            return "publish takes zsk, ksk or csk, not \"" + argument + "\"";
    } else if (action == "activate" || action == "retire" || action == "remove") {
        a.what = action == "activate" ? signer::key_action::kind::activate
                 : action == "retire" ? signer::key_action::kind::retire
                                      : signer::key_action::kind::remove;
        unsigned long tag = 0;
        try {
            size_t used = 0;
            tag = std::stoul(argument, &used);
            if (used != argument.size() || tag > 65535) throw std::out_of_range("tag");
        } catch (const std::exception&) {
            return action + " takes a key tag (0..65535), not \"" + argument + "\"";
        }
        a.tag = static_cast<uint16_t>(tag);
    } else {
        return "unknown key action \"" + action + "\" (publish, activate, retire, remove)";
    }
    if (st.keys.keys.empty()) return "zone " + name + " has no keys yet (not signed yet)";
    std::string why = signer::check_action(st.keys, a);
    if (!why.empty()) return why;
    try {
        std::optional<signer::zone_key> k;
        if (a.what == signer::key_action::kind::publish) k = new_key(*z, a.role);
        signer::apply_action(st.keys, a, engine_.now(), std::move(k));
        store_keys(*z);
    } catch (const std::exception& e) {
        return std::string("key step failed: ") + e.what();
    }
    log::info(
        "key_step",
        {{"zone", key_of(z->settings.name)}, {"step", signer::describe(a)}, {"by", "command"}});
    st.resign_requested = true;
    if (z->wake) z->wake->cancel();
    return {};
}

void signer_role::describe(const served_zone& z, zone::zone_status& status) const {
    const auto& st = state_of(z);
    status.kind = "signer";
    status.details["unsigned serial"] =
        z.upstream_soa ? std::to_string(soa_field(*z.upstream_soa, 0)) : std::string("-");
    status.details["signed from"] = st.signed_from ? std::to_string(*st.signed_from) : "-";
    status.details["policy"] = st.policy.name;
    status.details["last signing"] = st.last_sign.empty() ? "-" : st.last_sign;
    for (const auto& k : st.keys.keys) {
        std::string v = std::string(signer::role_name(k.role)) + " " +
                        dnssec::algorithm_name(k.key.algorithm()) + " " +
                        std::string(signer::state_name(k.state));
        int64_t since = k.state == signer::key_state::active    ? k.activated_at
                        : k.state == signer::key_state::retired ? k.retired_at
                                                                : k.published_at;
        v += " since " + utc_text(since);
        status.details["key " + std::to_string(k.key.tag())] = v;
    }
}

std::optional<std::string> signer_role::zone_json(const served_zone& z) const {
    using zone::json_string;
    const auto& st = state_of(z);
    std::string out = "{\"zone\":";
    json_string(out, key_of(z.settings.name));
    out += ",\"unsigned_serial\":";
    out += z.upstream_soa ? std::to_string(soa_field(*z.upstream_soa, 0)) : "null";
    out += ",\"signed_serial\":";
    out += z.data ? std::to_string(z.data->serial()) : "null";
    out += ",\"policy\":";
    json_string(out, st.policy.name);
    out += ",\"keys\":[";
    bool first = true;
    for (const auto& k : st.keys.keys) {
        if (!first) out += ",";
        first = false;
        out += "{\"tag\":" + std::to_string(k.key.tag()) +
               ",\"algorithm\":" + std::to_string(k.key.algorithm()) + ",\"role\":";
        json_string(out, signer::role_name(k.role));
        out += ",\"state\":";
        json_string(out, signer::state_name(k.state));
        out += ",\"flags\":" + std::to_string(k.key.flags());
        out += ",\"created\":" + std::to_string(k.created) +
               ",\"published\":" + std::to_string(k.published_at) +
               ",\"activated\":" + std::to_string(k.activated_at) +
               ",\"retired\":" + std::to_string(k.retired_at) + ",\"dnskey\":";
        json_string(out, k.key.to_rr(st.policy.dnskey_ttl).to_text());
        out += ",\"file\":";
        json_string(out, (key_dir(engine_.settings().data_dir, z.settings.name) / k.file).string());
        out += "}";
    }
    out += "]}";
    return out;
}

void signer_role::role_metrics(std::vector<roles::metric>& out) const {
    const auto& c = counters_;
    out.push_back({"hsync_signings_total",
                   "zones signed",
                   "counter",
                   {{"mode", "full"}},
                   double(c.signs_full)});
    out.push_back({"hsync_signings_total",
                   "zones signed",
                   "counter",
                   {{"mode", "incremental"}},
                   double(c.signs_incremental)});
    out.push_back({"hsync_signing_failures_total",
                   "signings that failed",
                   "counter",
                   {},
                   double(c.sign_failures)});
    out.push_back(
        {"hsync_signatures_made_total", "RRSIGs made", "counter", {}, double(c.signatures_made)});
}

}  // namespace hsync::signer
