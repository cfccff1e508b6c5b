#include "roles/agent/process.h"

#include <algorithm>
#include <set>
#include <sstream>
#include <stdexcept>

#include "dns/rdata.h"
#include "dns/wire.h"

namespace hsync::agent {

namespace {

using rdata = std::vector<uint8_t>;
using rdata_set = std::set<rdata, dns::rdata_less>;

struct step_entry {
    step_action action;
    const char* name;
};

// processes.md "Add signer" (dnssec-automation §5.3).
constexpr step_entry add_steps[] = {
    {step_action::check_prerequisites, "check prerequisites"},
    {step_action::communication, "establish secure communication"},
    {step_action::publish, "put every signer's ZSK/CSK into every DNSKEY RRset"},
    {step_action::compute, "compute CDS/CDNSKEY for every KSK/CSK of the group"},
    {step_action::publish, "publish the combined CDS/CDNSKEY set at every signer"},
    {step_action::wait_parent_ds, "wait until the parent publishes the combined DS set"},
    {step_action::publish, "remove CDS/CDNSKEY everywhere"},
    {step_action::wait_ttl, "wait max(DS-Wait-Time, DNSKEY-Wait-Time)"},
    {step_action::compute, "combine the NS records of all signers"},
    {step_action::publish, "publish the combined NS set at every signer"},
    {step_action::publish, "publish CSYNC if the NS set differs from the parent's"},
    {step_action::wait_parent_ns, "wait until the parent publishes the new NS set"},
    {step_action::publish, "remove CSYNC"},
};

// processes.md "Remove signer" (dnssec-automation §5.4).
constexpr step_entry remove_steps[] = {
    {step_action::publish, "remove the leaving signer's NS at the remaining signers"},
    {step_action::publish, "publish CSYNC if the NS set differs from the parent's"},
    {step_action::wait_parent_ns, "wait until the parent publishes the new NS set"},
    {step_action::publish, "remove CSYNC"},
    {step_action::wait_ttl, "wait NS-Wait-Time"},
    {step_action::stop_serving, "the leaving signer stops answering for the zone"},
    {step_action::compute, "compute CDS/CDNSKEY for the remaining KSKs/CSKs"},
    {step_action::publish, "publish that CDS/CDNSKEY set at the remaining signers"},
    {step_action::publish, "remove the leaving signer's ZSK/CSK from the remaining signers"},
    {step_action::wait_parent_ds, "wait until the parent publishes the updated DS set"},
    {step_action::publish, "remove CDS/CDNSKEY"},
};

std::span<const step_entry> steps_of(process_kind kind) {
    switch (kind) {
        case process_kind::add_signer:
            return add_steps;
        case process_kind::remove_signer:
            return remove_steps;
        case process_kind::none:
            break;
    }
    return {};
}

std::vector<dns::name> sorted_unique(std::vector<dns::name> v) {
    for (auto& n : v)
        n = n.canonical();
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
}

bool contains(std::span<const dns::name> v, const dns::name& n) {
    return std::find(v.begin(), v.end(), n) != v.end();
}

std::vector<dns::name> set_union(std::span<const dns::name> a, std::span<const dns::name> b) {
    std::vector<dns::name> out(a.begin(), a.end());
    out.insert(out.end(), b.begin(), b.end());
    return sorted_unique(std::move(out));
}

// The group whose keys are in the DNSKEY RRsets, whose CDS is published, whose NS are
// served, at the process's step (processes.md: which step changes which RRset).
struct step_groups {
    std::vector<dns::name> keys;
    std::optional<std::vector<dns::name>> cds;  // nullopt: no CDS published
    std::vector<dns::name> ns;
    bool csync = false;
};

step_groups groups_at(const zone_process& p) {
    step_groups g;
    const int s = p.step;
    switch (p.kind) {
        case process_kind::none:
            g.keys = g.ns = p.after;
            break;
        case process_kind::add_signer:
            g.keys = s >= 3 ? p.after : p.before;
            if (s >= 5 && s <= 6 && p.publish_cds) g.cds = p.after;
            g.ns = s >= 10 ? p.after : p.before;
            g.csync = s >= 11 && s <= 12 && p.publish_csync;
            break;
        case process_kind::remove_signer:
            g.keys = s >= 9 ? p.after : p.before;
            if (s >= 8 && s <= 10 && p.publish_cds) g.cds = p.after;
            g.ns = s >= 1 ? p.after : p.before;
            g.csync = s >= 2 && s <= 3 && p.publish_csync;
            break;
    }
    return g;
}

void add_unique(std::vector<rdata>& out, const rdata& r) {
    if (std::find(out.begin(), out.end(), r) == out.end()) out.push_back(r);
}

void sort_rdata(std::vector<rdata>& v) {
    std::sort(v.begin(), v.end(), dns::rdata_less{});
    v.erase(std::unique(v.begin(), v.end()), v.end());
}

bool signs_in(const hsync_set& set, const dns::name& id) {
    const auto* e = set.find(id);
    return e && e->sign == hsync_sign::yes;
}

// Whose keys count in the RRsets: a provider named with Sign=YES, or a former member no
// longer named at all (its keys stay until the remove takes them out, step 9).
bool keys_count(const hsync_set& set, const dns::name& id) {
    const auto* e = set.find(id);
    return !e || e->sign == hsync_sign::yes;
}

uint16_t dnskey_flags(const rdata& r) {
    return r.size() >= 2 ? static_cast<uint16_t>(r[0] << 8 | r[1]) : 0;
}

rdata name_rdata(const dns::name& n) {
    const dns::name c = n.canonical();
    auto w = c.wire();
    return rdata(w.begin(), w.end());
}

rdata csync_rdata(uint32_t serial) {
    std::vector<uint8_t> out;
    dns::wire_writer w(out);
    w.u32(serial);
    w.u16(3);  // immediate | soaminimum (RFC 7477 §2.1.1.2)
    // Window 0, 4 octets: A (1), NS (2), AAAA (28).
    for (uint8_t b : {0x00, 0x04, 0x60, 0x00, 0x00, 0x08})
        w.u8(b);
    return out;
}

uint32_t be32(const rdata& r, size_t at) {
    if (r.size() < at + 4) return 0;
    return uint32_t(r[at]) << 24 | uint32_t(r[at + 1]) << 16 | uint32_t(r[at + 2]) << 8 | r[at + 3];
}

}  // namespace

const char* to_text(process_kind kind) {
    switch (kind) {
        case process_kind::none:
            return "none";
        case process_kind::add_signer:
            return "add-signer";
        case process_kind::remove_signer:
            return "remove-signer";
    }
    return "none";
}

const char* to_text(step_status status) {
    switch (status) {
        case step_status::working:
            return "working";
        case step_status::done:
            return "done";
        case step_status::failed:
            return "failed";
    }
    return "working";
}

int step_count(process_kind kind) {
    return static_cast<int>(steps_of(kind).size());
}

const char* step_name(process_kind kind, int step) {
    auto steps = steps_of(kind);
    if (step < 1 || step > static_cast<int>(steps.size())) return "";
    return steps[step - 1].name;
}

step_action action_of(process_kind kind, int step) {
    auto steps = steps_of(kind);
    if (step < 1 || step > static_cast<int>(steps.size())) return step_action::compute;
    return steps[step - 1].action;
}

// --- stored form ---

std::string zone_process::to_text() const {
    std::ostringstream o;
    o << "hsync-process 1 kind=" << agent::to_text(kind) << " id=" << id << " step=" << step
      << " status=" << agent::to_text(status) << " started=" << started << " since=" << since
      << " wait-until=" << wait_until << " publish-cds=" << publish_cds
      << " publish-csync=" << publish_csync << " csync-serial=" << csync_serial
      << " report-serial=" << report_serial << " term=" << term;
    auto names = [&](const char* key, const std::vector<dns::name>& v) {
        o << ' ' << key << '=';
        for (size_t i = 0; i < v.size(); ++i)
            o << (i ? "," : "") << v[i].to_text();
    };
    names("before", before);
    names("after", after);
    // The error last: it is free text to the end of the line.
    if (!error.empty()) o << " error=" << error;
    return o.str();
}

zone_process zone_process::from_text(std::string_view text) {
    auto bad = [&](const std::string& why) {
        return std::invalid_argument("stored process: " + why + ": " + std::string(text));
    };
    if (text.substr(0, 16) != "hsync-process 1 ") throw bad("unknown format");
    zone_process p;
    std::string_view rest = text.substr(16);
    auto number = [&](std::string_view v) -> int64_t {
        try {
            size_t used = 0;
            long long n = std::stoll(std::string(v), &used);
            if (used != v.size()) throw bad("not a number");
            return n;
        } catch (const std::logic_error&) {
            throw bad("not a number");
        }
    };
    auto names = [&](std::string_view v) {
        std::vector<dns::name> out;
        while (!v.empty()) {
            size_t comma = v.find(',');
            out.push_back(dns::name::from_text(v.substr(0, comma)));
            if (comma == std::string_view::npos) break;
            v.remove_prefix(comma + 1);
        }
        return out;
    };
    while (!rest.empty()) {
        size_t eq = rest.find('=');
        if (eq == std::string_view::npos) throw bad("no '='");
        std::string_view key = rest.substr(0, eq);
        if (key.empty() || key.find(' ') != std::string_view::npos) throw bad("a malformed key");
        rest.remove_prefix(eq + 1);
        if (key == "error") {
            p.error = std::string(rest);
            break;
        }
        size_t sp = rest.find(' ');
        std::string_view v = rest.substr(0, sp);
        rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
        if (key == "kind") {
            if (v == "add-signer")
                p.kind = process_kind::add_signer;
            else if (v == "remove-signer")
                p.kind = process_kind::remove_signer;
            else if (v == "none")
                p.kind = process_kind::none;
            else
                throw bad("unknown kind");
        } else if (key == "id") {
            p.id = static_cast<uint32_t>(number(v));
        } else if (key == "step") {
            p.step = static_cast<int>(number(v));
        } else if (key == "status") {
            if (v == "working")
                p.status = step_status::working;
            else if (v == "done")
                p.status = step_status::done;
            else if (v == "failed")
                p.status = step_status::failed;
            else
                throw bad("unknown status");
        } else if (key == "started") {
            p.started = number(v);
        } else if (key == "since") {
            p.since = number(v);
        } else if (key == "wait-until") {
            p.wait_until = number(v);
        } else if (key == "publish-cds") {
            p.publish_cds = number(v) != 0;
        } else if (key == "publish-csync") {
            p.publish_csync = number(v) != 0;
        } else if (key == "csync-serial") {
            p.csync_serial = static_cast<uint32_t>(number(v));
        } else if (key == "report-serial") {
            p.report_serial = static_cast<uint32_t>(number(v));
        } else if (key == "term") {
            p.term = static_cast<uint32_t>(number(v));
        } else if (key == "before") {
            p.before = names(v);
        } else if (key == "after") {
            p.after = names(v);
        }  // unknown keys: a later version's, ignored
    }
    if (p.active() && (p.step < 1 || p.step > step_count(p.kind))) throw bad("step out of range");
    return p;
}

uint32_t process_id(process_kind kind, std::span<const dns::name> before,
                    std::span<const dns::name> after) {
    // FNV-1a over the kind and both groups in canonical wire form: not a secret, only
    // the same value at every agent for the same change.
    uint32_t h = 2166136261u;
    auto mix = [&](uint8_t b) {
        h ^= b;
        h *= 16777619u;
    };
    mix(static_cast<uint8_t>(kind));
    // An add is named by the group it makes: a provider that joins has no members yet
    // (before is empty for it) and must still take part in the same process.
    if (kind == process_kind::add_signer) before = {};
    for (auto group : {before, after}) {
        mix(0xff);
        for (const auto& n : sorted_unique({group.begin(), group.end()}))
            for (uint8_t b : n.wire())
                mix(b);
    }
    return h ? h : 1;
}

// --- which process ---

namespace {

zone_process make_process(process_kind kind, std::vector<dns::name> before,
                          std::vector<dns::name> after, int64_t now) {
    zone_process p;
    p.kind = kind;
    p.before = sorted_unique(std::move(before));
    p.after = sorted_unique(std::move(after));
    p.id = process_id(kind, p.before, p.after);
    p.step = 1;
    p.started = p.since = now;
    return p;
}

}  // namespace

std::optional<zone_process> needed_process(const hsync_set& set, std::span<const dns::name> members,
                                           int64_t now) {
    std::vector<dns::name> on, named;
    bool adding = false;
    for (const auto& e : set.entries) {
        named.push_back(e.identity.canonical());
        if (e.state == hsync_state::on) {
            on.push_back(e.identity.canonical());
            if (!contains(members, e.identity)) adding = true;
        }
    }
    std::vector<dns::name> current(members.begin(), members.end());
    if (adding) {
        // The group after an add is every provider named, OFF ones too: a provider that
        // joins has no members of its own and cannot tell an OFF member (still serving,
        // to be removed next) from anything else, and all must compute the same group.
        auto p = make_process(process_kind::add_signer, current, set_union(current, named), now);
        p.id = process_id(process_kind::add_signer, {}, sorted_unique(named));
        return p;
    }
    std::vector<dns::name> staying;
    for (const auto& m : current)
        if (contains(on, m)) staying.push_back(m);
    if (staying.size() != current.size() && !staying.empty())
        return make_process(process_kind::remove_signer, current, staying, now);
    return std::nullopt;
}

std::optional<zone_process> rewind(const zone_process& current, const hsync_set& set, int64_t now) {
    if (!current.active()) return std::nullopt;
    // Where the zone stands: what the current process has put in, or may have.
    std::vector<dns::name> standing = current.kind == process_kind::add_signer
                                          ? set_union(current.before, current.after)
                                          : current.after;
    // The process still fits when the providers it brings in are still ON, or those it
    // takes out still not. Other changes wait for the next process (an add keeps a member
    // that has turned OFF meanwhile; the remove after it takes that one out).
    std::vector<dns::name> on;
    for (const auto& e : set.entries)
        if (e.state == hsync_state::on) on.push_back(e.identity.canonical());
    bool fits = true;
    if (current.kind == process_kind::add_signer) {
        // The RRset would still start this add (the same named providers).
        auto again = needed_process(set, current.before, now);
        fits = again && again->kind == process_kind::add_signer && again->id == current.id;
    } else {
        for (const auto& b : current.before)
            if (!contains(current.after, b) && contains(on, b)) fits = false;
    }
    if (fits) return std::nullopt;
    // An add that has changed nothing yet (prerequisites, HELLO) is simply dropped.
    if (current.kind == process_kind::add_signer && current.step <= 2) return zone_process{};
    if (current.kind == process_kind::add_signer) {
        // Take out what the add brought in and is no longer wanted; the members stay.
        std::vector<dns::name> staying;
        for (const auto& m : standing)
            if (contains(current.before, m) || contains(on, m)) staying.push_back(m);
        if (staying.empty()) staying = current.before;
        return make_process(process_kind::remove_signer, standing, staying, now);
    }
    // A remove undone: bring back what it took out and is ON again (its keys or NS may be
    // gone already).
    std::vector<dns::name> back;
    for (const auto& b : current.before)
        if (!contains(current.after, b) && contains(on, b)) back.push_back(b);
    return make_process(process_kind::add_signer, standing, set_union(standing, back), now);
}

std::vector<dns::name> participants(const zone_process& p, const hsync_set& set) {
    std::vector<dns::name> out;
    for (const auto& n : set_union(p.before, p.after))
        if (signs_in(set, n)) out.push_back(n);
    return out;
}

// --- what the combiner holds ---

std::vector<rdata> imported_keys(const provider_data& d) {
    std::vector<rdata> zsks, seps;
    for (const auto& k : d.dnskeys)
        (dnskey_flags(k) & 1 ? seps : zsks).push_back(k);
    return zsks.empty() ? seps : zsks;
}

combiner_target target_at(const zone_process& p, const dns::name& own, const hsync_set& set,
                          const std::map<dns::name, provider_data>& data) {
    combiner_target t;
    step_groups g = groups_at(p);
    // A leaving agent keeps its keys while the others take it out, and publishes no CDS
    // (the parent no longer scans it by then). It follows the NS steps: it is in the
    // parent's delegation until step 3, and the parent acts on a CSYNC only when every
    // nameserver of the delegation serves the same (RFC 9975).
    if (p.kind == process_kind::remove_signer && !contains(p.after, own.canonical())) {
        g.keys = p.before;
        g.cds.reset();
    }
    auto known = [&](const dns::name& id) -> const provider_data* {
        auto it = data.find(id.canonical());
        if (it == data.end()) {
            if (!t.missing) t.missing = id;
            return nullptr;
        }
        return &it->second;
    };
    for (const auto& id : g.keys) {
        if (id == own || !keys_count(set, id)) continue;
        if (const auto* d = known(id))
            for (const auto& k : imported_keys(*d))
                add_unique(t.dnskeys, k);
    }
    if (g.cds)
        for (const auto& id : *g.cds) {
            if (!keys_count(set, id)) continue;
            if (const auto* d = known(id))
                for (const auto& c : d->cds)
                    add_unique(t.cds, c);
        }
    if (set.nsmgmt == ns_mgmt::agent) {
        std::vector<dns::name> ns;
        for (const auto& id : g.ns)
            if (const auto* d = known(id)) ns.insert(ns.end(), d->ns.begin(), d->ns.end());
        t.ns = sorted_unique(std::move(ns));
        if (t.ns->empty()) t.ns.reset();  // never an empty NS set: the owner's stands
    }
    // With NSMgmt=OWNER the NS RRset is the owner's, but the parent still learns of its
    // changes through the signers' CSYNC.
    t.csync = g.csync;
    sort_rdata(t.dnskeys);
    sort_rdata(t.cds);
    return t;
}

served_apex read_apex(std::span<const dns::rr> records, const dns::name& apex) {
    served_apex a;
    for (const auto& r : records) {
        if (!(r.owner == apex) || r.rclass != dns::rr_class::IN) continue;
        switch (r.type) {
            case dns::rr_type::DNSKEY:
                a.dnskeys.push_back(r.rdata);
                a.dnskey_ttl = r.ttl;
                break;
            case dns::rr_type::CDS:
                a.cds.push_back(r.rdata);
                break;
            case dns::rr_type::CSYNC:
                a.csync.push_back(r.rdata);
                break;
            case dns::rr_type::NS:
                try {
                    a.ns.push_back(dns::name::from_wire(r.rdata).canonical());
                } catch (const std::exception&) {
                }
                a.ns_ttl = r.ttl;
                break;
            case dns::rr_type::SOA:
                if (r.rdata.size() >= 20) {
                    a.serial = be32(r.rdata, r.rdata.size() - 20);
                    a.soa_minimum = be32(r.rdata, r.rdata.size() - 4);
                }
                break;
            default:
                break;
        }
    }
    sort_rdata(a.dnskeys);
    sort_rdata(a.cds);
    sort_rdata(a.csync);
    a.ns = sorted_unique(std::move(a.ns));
    return a;
}

namespace {

std::vector<rdata> foreign_keys(const served_apex& served, std::span<const rdata> own_keys) {
    std::vector<rdata> out;
    for (const auto& k : served.dnskeys)
        if (std::find(own_keys.begin(), own_keys.end(), k) == own_keys.end()) out.push_back(k);
    return out;
}

}  // namespace

bool serves(const combiner_target& target, const served_apex& served,
            std::span<const rdata> own_keys, std::optional<uint32_t> csync_serial) {
    if (target.missing) return false;
    if (target.csync && csync_serial &&
        (served.csync.size() != 1 || served.csync.front() != csync_rdata(*csync_serial)))
        return false;
    if (foreign_keys(served, own_keys) != target.dnskeys) return false;
    if (served.cds != target.cds) return false;
    if (target.ns && served.ns != *target.ns) return false;
    if (target.csync != !served.csync.empty()) return false;
    return true;
}

std::vector<dns::rr> plan_update(const combiner_target& target, const served_apex& served,
                                 std::span<const rdata> own_keys, const dns::name& zone,
                                 uint32_t csync_serial) {
    std::vector<dns::rr> out;
    if (target.missing) return out;
    const uint32_t ttl = served.dnskey_ttl ? served.dnskey_ttl : 3600;
    auto record = [&](uint16_t type, uint16_t rclass, uint32_t rr_ttl, rdata rd) {
        dns::rr r;
        r.owner = zone;
        r.type = type;
        r.rclass = rclass;
        r.ttl = rr_ttl;
        r.rdata = std::move(rd);
        out.push_back(std::move(r));
    };
    // Differences of two sorted sets: surplus deleted (class NONE), missing added.
    auto sync_set = [&](uint16_t type, const std::vector<rdata>& have,
                        const std::vector<rdata>& want) {
        for (const auto& h : have)
            if (!std::binary_search(want.begin(), want.end(), h, dns::rdata_less{}))
                record(type, dns::rr_class::NONE, 0, h);
        for (const auto& w : want)
            if (!std::binary_search(have.begin(), have.end(), w, dns::rdata_less{}))
                record(type, dns::rr_class::IN, ttl, w);
    };
    auto have_keys = foreign_keys(served, own_keys);
    sort_rdata(have_keys);
    sync_set(dns::rr_type::DNSKEY, have_keys, target.dnskeys);
    sync_set(dns::rr_type::CDS, served.cds, target.cds);
    if (target.ns && served.ns != *target.ns) {
        // The agent's NS RRset replaces the owner's as a whole (docs/combiner.md), so it is
        // sent whole: a lone added name would otherwise become the only one.
        record(dns::rr_type::NS, dns::rr_class::ANY, 0, {});
        for (const auto& n : *target.ns)
            record(dns::rr_type::NS, dns::rr_class::IN, served.ns_ttl ? served.ns_ttl : ttl,
                   name_rdata(n));
    }
    rdata want_csync = csync_rdata(csync_serial);
    if (target.csync) {
        if (served.csync.size() != 1 || served.csync.front() != want_csync) {
            if (!served.csync.empty()) record(dns::rr_type::CSYNC, dns::rr_class::ANY, 0, {});
            record(dns::rr_type::CSYNC, dns::rr_class::IN, served.ns_ttl ? served.ns_ttl : ttl,
                   want_csync);
        }
    } else if (!served.csync.empty()) {
        record(dns::rr_type::CSYNC, dns::rr_class::ANY, 0, {});
    }
    return out;
}

std::vector<rdata> expected_ds(const zone_process& p, const hsync_set& set,
                               const std::map<dns::name, provider_data>& data) {
    // The DS waits come right after the CDS is published: the CDS group is the answer.
    zone_process at = p;
    at.publish_cds = true;
    step_groups g = groups_at(at);
    std::vector<rdata> out;
    for (const auto& id : g.cds ? *g.cds : g.keys) {
        if (!keys_count(set, id)) continue;
        auto it = data.find(id.canonical());
        if (it == data.end()) continue;
        for (const auto& c : it->second.cds)
            add_unique(out, c);
    }
    sort_rdata(out);
    return out;
}

std::vector<dns::name> expected_ns(const zone_process& p, const hsync_set& set,
                                   const std::map<dns::name, provider_data>& data) {
    (void)set;
    step_groups g = groups_at(p);
    std::vector<dns::name> out;
    for (const auto& id : g.ns) {
        auto it = data.find(id.canonical());
        if (it != data.end()) out.insert(out.end(), it->second.ns.begin(), it->second.ns.end());
    }
    return sorted_unique(std::move(out));
}

// --- the one-step rule ---

std::vector<dns::name> not_finished(const zone_process& p, std::span<const dns::name> participants,
                                    const std::map<dns::name, step_report>& reports) {
    std::vector<dns::name> out;
    for (const auto& id : participants) {
        auto it = reports.find(id.canonical());
        bool finished = it != reports.end() && it->second.id == p.id &&
                        (it->second.step > p.step ||
                         (it->second.step == p.step && it->second.status == step_status::done));
        if (!finished) out.push_back(id);
    }
    return out;
}

bool all_finished(const zone_process& p, std::span<const dns::name> participants,
                  const std::map<dns::name, step_report>& reports) {
    return not_finished(p, participants, reports).empty();
}

}  // namespace hsync::agent
