// The signer role (docs/signer.md) as a mode of the auth role: a secondary whose transfers
// are the unsigned zone, kept apart in owner.sqlite; the zone served is that zone signed
// with our keys. Signing runs on the worker pool; the loop keeps answering meanwhile and
// swaps in the new version only when it is complete and stored.
#include <algorithm>
#include <chrono>
#include <filesystem>

#include "dnssec/keyfile.h"
#include "roles/auth/auth_role.h"
#include "roles/auth/journal.h"
#include "roles/auth/zone_state.h"
#include "roles/log.h"
#include "roles/signer/sign.h"

namespace hsync::auth {

using net::awaitable;
using net::use_awaitable;

namespace {

constexpr std::string_view keys_ns = "signer-keys";    // zone -> key set (metadata)
constexpr std::string_view state_ns = "signer-state";  // zone -> unsigned serial signed

std::filesystem::path key_dir(const std::string& data_dir, const dns::name& zone) {
    std::string z = key_of(zone);
    if (z.size() > 1) z.pop_back();  // "example.com." -> "example.com"
    return std::filesystem::path(data_dir) / "keys" / z;
}

}  // namespace

void auth_role::load_signer(zone_state& z) {
    const auto& s = z.settings;
    const std::string zone = key_of(s.name);
    try {
        auto dir = key_dir(settings_.data_dir, s.name);
        if (auto text = kv_->get(keys_ns, zone))
            z.keys = signer::decode_key_set(
                *text, [&](const std::string& base) { return dnssec::read_key_files(dir / base); });
        if (auto st = kv_->get(state_ns, zone))
            z.signed_from = static_cast<uint32_t>(std::stoul(*st));
        if (auto stored = owner_zone_db_->load(s.name)) {
            dns::record_store records = std::move(stored->base);
            for (const auto& d : stored->pending)
                records = apply(records, d);
            set_owner(z, std::move(records));
        }
        // Signed from another unsigned version than the one stored (killed between the two
        // writes), or never signed: sign at the first maintenance.
        if (z.owner && (!z.data || !z.signed_from || *z.signed_from != soa_field(*z.owner_soa, 0)))
            z.resign_full = true;
    } catch (const std::exception& e) {
        z.last_error = std::string("signer state unusable: ") + e.what();
        log::error("zone_load_failed", {{"zone", zone}, {"error", z.last_error}});
    }
}

signer::zone_key auth_role::new_key(zone_state& z, dnssec::key_role role) {
    const auto& s = z.settings;
    // A tag must not collide with ours or with another provider's key in the zone
    // (validators try every key with a tag, but tools and agents match keys by tag).
    std::vector<uint16_t> taken;
    for (const auto& k : z.keys.keys)
        taken.push_back(k.key.tag());
    if (z.owner) {
        auto [a, b] = owner_range(*z.owner, s.name);
        for (size_t i = a; i < b; ++i)
            if ((*z.owner)[i].type == dns::rr_type::DNSKEY)
                taken.push_back(dnssec::key_tag((*z.owner)[i].rdata));
    }
    for (int attempt = 0;; ++attempt) {
        dnssec::key k = dnssec::key::generate(s.name, s.sign->algorithm, role);
        if (std::find(taken.begin(), taken.end(), k.tag()) != taken.end() && attempt < 16) continue;
        k.timing.created = now();
        auto dir = key_dir(settings_.data_dir, s.name);
        std::filesystem::create_directories(dir);
        std::string base = dnssec::write_key_files(k, dir);
        log::info("key_created", {{"zone", key_of(s.name)},
                                  {"tag", k.tag()},
                                  {"algorithm", k.algorithm()},
                                  {"role", signer::role_name(role)},
                                  {"file", (dir / base).string()}});
        return signer::zone_key{std::move(k), role, signer::key_state::published, now(), 0, 0, 0,
                                base};
    }
}

void auth_role::store_keys(zone_state& z) {
    kv_->set(keys_ns, key_of(z.settings.name), signer::encode_key_set(z.keys));
}

bool auth_role::ensure_keys(zone_state& z) {
    if (!z.keys.keys.empty()) return false;
    int64_t t = now();
    for (auto role : signer::initial_roles(*z.settings.sign)) {
        signer::key_action a{signer::key_action::kind::publish, role, 0, true, "first sight"};
        signer::apply_action(z.keys, a, t, new_key(z, role));
    }
    store_keys(z);  // the key files are written; now the state that names them
    return true;
}

awaitable<void> auth_role::resign(std::shared_ptr<zone_state> z,
                                  std::shared_ptr<const std::vector<dns::name>> changed,
                                  size_t max_names) {
    if (!z->owner || !z->owner_soa) co_return;
    const auto& s = z->settings;
    const std::string zone = key_of(s.name);
    if (ensure_keys(*z)) changed = nullptr;
    // The policy changed (reconfigure) and maintenance has not signed it in full yet: an
    // incremental signing now would mix the old policy's records with the new.
    if (z->resign_full) changed = nullptr;
    auto keys = std::make_shared<const signer::key_set>(z->keys);
    auto policy = std::make_shared<const signer::signing_policy>(*s.sign);
    uint32_t upstream = soa_field(*z->owner_soa, 0);
    std::optional<uint32_t> last =
        z->data ? std::optional<uint32_t>(z->data->serial()) : zone_db_->serial(s.name);
    signer::sign_context ctx;
    ctx.origin = s.name.canonical();
    ctx.keys = keys.get();
    ctx.policy = policy.get();
    ctx.serial = last ? combiner::next_serial(*last, upstream) : upstream;
    ctx.now = now();

    struct outcome {
        std::shared_ptr<const zone_data> data;
        std::optional<dns::zone_diff> change;  // set when signed incrementally
        signer::incremental_stats inc;
        dnssec::sign_stats full;
        double ms = 0;
    };
    auto owner = z->owner;
    auto base = z->data;
    log::info("signing_started", {{"zone", zone},
                                  {"unsigned_serial", upstream},
                                  {"records", owner->size()},
                                  {"changed_names", changed ? changed->size() : size_t(0)}});
    std::shared_ptr<outcome> result;
    try {
        auto result_task = [owner, base, changed, ctx, keys, policy,
                            max_names]() -> awaitable<std::shared_ptr<outcome>> {
            auto out = std::make_shared<outcome>();
            auto t0 = std::chrono::steady_clock::now();
            if (changed && base) {
                out->change = signer::sign_incremental(base->records(), *owner, *changed, ctx,
                                                       &out->inc, max_names, base.get());
                if (out->change) out->data = zone_data::next(*base, *out->change);
            }
            if (!out->change)
                out->data = std::make_shared<const zone_data>(
                    signer::sign_full(*owner, ctx, &out->full), ctx.origin);
            out->ms =
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                    .count();
            co_return out;
        };
        result =
            co_await asio::co_spawn(pool_->get_executor(), std::move(result_task), use_awaitable);
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
    if (z->removed || stopping_) co_return;
    // Stored before served (DESIGN.md §5); the signed-from serial last, so a crash in
    // between signs again at restart.
    if (result->change) {
        record_change(*z, *result->change);
        ++counters_.signs_incremental;
        ++z->incremental_signs;
        counters_.signatures_made += result->inc.signatures_new;
    } else {
        zone_db_->save_full(s.name, result->data->records(), ctx.serial,
                            store::zone_db::journal_mode::truncate);
        z->journal.clear();
        if (z->settings.sign && *z->settings.sign == *policy) z->resign_full = false;
        ++counters_.signs_full;
        ++z->full_signs;
        counters_.signatures_made += result->full.signatures_new;
    }
    serve(*z, result->data, result->change.has_value());
    kv_->set(state_ns, zone, std::to_string(upstream));
    z->signed_from = upstream;
    z->last_error.clear();
    char ms[32];
    std::snprintf(ms, sizeof ms, "%.1f", result->ms);
    if (result->change) {
        z->last_sign = "incremental: " + std::to_string(result->inc.names) + " names, " +
                       std::to_string(result->inc.signatures_new) + " signatures in " + ms +
                       " ms at " + utc_text(ctx.now);
        log::info("signed", {{"zone", zone},
                             {"mode", "incremental"},
                             {"unsigned_serial", upstream},
                             {"serial", ctx.serial},
                             {"names", result->inc.names},
                             {"signatures_new", result->inc.signatures_new},
                             {"signatures_kept", result->inc.signatures_kept},
                             {"ms", ms}});
    } else {
        z->last_sign = "full: " + std::to_string(result->full.records_out) + " records, " +
                       std::to_string(result->full.signatures_new) + " signatures in " + ms +
                       " ms at " + utc_text(ctx.now);
        log::info("signed", {{"zone", zone},
                             {"mode", "full"},
                             {"unsigned_serial", upstream},
                             {"serial", ctx.serial},
                             {"records", result->full.records_out},
                             {"signatures_new", result->full.signatures_new},
                             {"signatures_kept", result->full.signatures_kept},
                             {"ms", ms}});
    }
}

awaitable<void> auth_role::signer_maintenance(std::shared_ptr<zone_state> z) {
    int64_t t = now();
    if (t < z->next_maintenance && !z->resign_full && !z->resign_requested) co_return;
    z->next_maintenance = t + settings_.signer_check_interval;
    if (!z->owner) co_return;
    const auto& s = z->settings;
    const std::string zone = key_of(s.name);
    bool full = z->resign_full, apex = z->resign_requested;
    z->resign_full = z->resign_requested = false;
    // Key timers (RFC 7583), each step stored before it is acted on.
    if (!z->keys.keys.empty()) {
        // The largest TTL (a whole-zone scan) matters only for when a retired key goes.
        bool retired = std::any_of(z->keys.keys.begin(), z->keys.keys.end(), [](const auto& k) {
            return k.state == signer::key_state::retired;
        });
        uint32_t max_ttl = retired && z->data ? signer::max_ttl(z->data->records()) : 0;
        auto actions = signer::due_actions(z->keys, *s.sign, t, max_ttl);
        for (const auto& a : actions) {
            std::string why = signer::check_action(z->keys, a);
            if (!why.empty()) {
                log::warn("key_step_skipped",
                          {{"zone", zone}, {"step", signer::describe(a)}, {"reason", why}});
                continue;
            }
            std::optional<signer::zone_key> k;
            if (a.what == signer::key_action::kind::publish) k = new_key(*z, a.role);
            signer::apply_action(z->keys, a, t, std::move(k));
            log::info("key_step", {{"zone", zone},
                                   {"step", signer::describe(a)},
                                   {"by", "timer"},
                                   {"reason", a.why}});
            apex = true;
        }
        if (!actions.empty()) store_keys(*z);
    }
    if (full || !z->data || !z->signed_from || *z->signed_from != soa_field(*z->owner_soa, 0)) {
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
    ctx.keys = &z->keys;
    ctx.policy = &*s.sign;
    ctx.now = t;
    auto expiring = std::make_shared<std::vector<dns::name>>(
        signer::expiring_owners(z->data->records(), ctx, settings_.signer_refresh_batch));
    if (!expiring->empty()) {
        log::info("signature_refresh", {{"zone", zone}, {"names", expiring->size()}});
        co_await resign(z, std::move(expiring), settings_.signer_refresh_batch + 1);
    }
}

std::string auth_role::key_command(const std::string& name, const std::string& action,
                                   const std::string& argument) {
    dns::name root;
    zone_state* z = nullptr;
    try {
        z = exact_zone(dns::name::from_text(name, &root));
    } catch (const std::exception&) {
    }
    if (!z || z->removed) return "zone " + name + " is not served here";
    if (!z->settings.sign)
        return "zone " + name + " is not signed here (role " + settings_.role_name + ")";
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
    if (z->keys.keys.empty()) return "zone " + name + " has no keys yet (not signed yet)";
    std::string why = signer::check_action(z->keys, a);
    if (!why.empty()) return why;
    try {
        std::optional<signer::zone_key> k;
        if (a.what == signer::key_action::kind::publish) k = new_key(*z, a.role);
        signer::apply_action(z->keys, a, now(), std::move(k));
        store_keys(*z);
    } catch (const std::exception& e) {
        return std::string("key step failed: ") + e.what();
    }
    log::info(
        "key_step",
        {{"zone", key_of(z->settings.name)}, {"step", signer::describe(a)}, {"by", "command"}});
    z->resign_requested = true;
    if (z->wake) z->wake->cancel();
    return {};
}

void auth_role::add_sign_details(const zone_state& z, roles::zone_status& st) const {
    st.kind = "signer";
    st.details["unsigned serial"] =
        z.owner_soa ? std::to_string(soa_field(*z.owner_soa, 0)) : std::string("-");
    st.details["signed from"] = z.signed_from ? std::to_string(*z.signed_from) : "-";
    st.details["policy"] = z.settings.sign->name;
    st.details["last signing"] = z.last_sign.empty() ? "-" : z.last_sign;
    for (const auto& k : z.keys.keys) {
        std::string v = std::string(signer::role_name(k.role)) + " " +
                        dnssec::algorithm_name(k.key.algorithm()) + " " +
                        std::string(signer::state_name(k.state));
        int64_t since = k.state == signer::key_state::active    ? k.activated_at
                        : k.state == signer::key_state::retired ? k.retired_at
                                                                : k.published_at;
        v += " since " + utc_text(since);
        st.details["key " + std::to_string(k.key.tag())] = v;
    }
}

std::string auth_role::sign_status_json(const zone_state& z) const {
    std::string out = "{\"zone\":";
    json_string(out, key_of(z.settings.name));
    out += ",\"unsigned_serial\":";
    out += z.owner_soa ? std::to_string(soa_field(*z.owner_soa, 0)) : "null";
    out += ",\"signed_serial\":";
    out += z.data ? std::to_string(z.data->serial()) : "null";
    out += ",\"policy\":";
    json_string(out, z.settings.sign->name);
    out += ",\"keys\":[";
    bool first = true;
    for (const auto& k : z.keys.keys) {
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
        json_string(out, k.key.to_rr(z.settings.sign->dnskey_ttl).to_text());
        out += ",\"file\":";
        json_string(out, (key_dir(settings_.data_dir, z.settings.name) / k.file).string());
        out += "}";
    }
    out += "]}";
    return out;
}

}  // namespace hsync::auth
