#include "roles/agent/hsync_set.h"

#include <algorithm>
#include <utility>

#include "dns/error.h"
#include "dns/rdata.h"

namespace hsync::agent {
namespace {

// A record that parsed, waiting for the duplicate and conflict checks.
struct parsed_record {
    hsync_entry entry;
    std::string text;
};

std::string generic_text(const dns::rr& record) {
    try {
        return record.to_generic_text();
    } catch (const dns::dns_error&) {
        // Cannot happen for a parsed rr; keep the problem report even so.
        return record.owner.to_text() + " (unprintable record)";
    }
}

// The record's fields, or the reason it cannot be used.
std::optional<hsync_entry> parse(const dns::rr& record, std::string& reason) {
    if (record.rclass != dns::rr_class::IN) {
        reason = "HSYNC record of class " + dns::class_to_text(record.rclass) + ", not IN";
        return std::nullopt;
    }
    const auto& d = record.rdata;
    if (d.size() < 4) {
        reason = "HSYNC RDATA of " + std::to_string(d.size()) + " octets, at least 4 needed";
        return std::nullopt;
    }
    struct field_check {
        const char* label;
        uint8_t value;
    };
    for (auto [label, value] :
         {field_check{"State", d[0]}, field_check{"NSMgmt", d[1]}, field_check{"Sign", d[2]}}) {
        if (value == 1 || value == 2) continue;
        reason = std::string("HSYNC ") + label + " value " + std::to_string(value) +
                 (value == 0 ? " is an error" : " is not one this agent can act on");
        return std::nullopt;
    }
    hsync_entry entry;
    try {
        entry.identity = dns::name::from_wire(std::span(d).subspan(3)).canonical();
    } catch (const dns::wire_error& e) {
        reason = std::string("HSYNC Identity: ") + e.what();
        return std::nullopt;
    }
    entry.state = static_cast<hsync_state>(d[0]);
    entry.nsmgmt = static_cast<ns_mgmt>(d[1]);
    entry.sign = static_cast<hsync_sign>(d[2]);
    return entry;
}

std::string identities(const std::vector<hsync_entry>& entries, ns_mgmt mgmt) {
    std::string out;
    for (const auto& e : entries) {
        if (e.state != hsync_state::on || e.nsmgmt != mgmt) continue;
        if (!out.empty()) out += ", ";
        e.identity.append_text(out);
    }
    return out;
}

void decide_nsmgmt(hsync_set& set, bool records_left_out) {
    size_t owner = 0, agent = 0;
    for (const auto& e : set.entries) {
        if (e.state != hsync_state::on) continue;  // OFF: being removed, no say in the zone
        ++(e.nsmgmt == ns_mgmt::agent ? agent : owner);
    }
    if (owner && agent) {
        std::string reason = "HSYNC records with State=ON disagree on NSMgmt (OWNER: " +
                             identities(set.entries, ns_mgmt::owner) +
                             "; AGENT: " + identities(set.entries, ns_mgmt::agent) +
                             "): the zone owner manages NS";
        set.problems.push_back({std::move(reason), ""});
    }
    set.nsmgmt = agent && !owner && !records_left_out ? ns_mgmt::agent : ns_mgmt::owner;
}

}  // namespace

const char* to_text(hsync_state state) {
    return state == hsync_state::on ? "ON" : "OFF";
}
const char* to_text(ns_mgmt mgmt) {
    return mgmt == ns_mgmt::owner ? "OWNER" : "AGENT";
}
const char* to_text(hsync_sign sign) {
    return sign == hsync_sign::yes ? "YES" : "NO";
}

std::string hsync_entry::to_text() const {
    std::string out = std::string(agent::to_text(state)) + " " + agent::to_text(nsmgmt) + " " +
                      agent::to_text(sign) + " ";
    identity.append_text(out);
    return out;
}

std::string hsync_problem::to_text() const {
    return record.empty() ? reason : reason + ": " + record;
}

const hsync_entry* hsync_set::find(const dns::name& identity) const {
    auto it =
        std::lower_bound(entries.begin(), entries.end(), identity,
                         [](const hsync_entry& e, const dns::name& n) { return e.identity < n; });
    return it != entries.end() && it->identity == identity ? &*it : nullptr;
}

std::vector<hsync_entry> hsync_set::remote_agents(const dns::name& own) const {
    std::vector<hsync_entry> out;
    for (const auto& e : entries)
        if (!(e.identity == own)) out.push_back(e);
    return out;
}

std::optional<dns::name> hsync_set::leader_candidate() const {
    // Entries are in canonical identity order: the first signer is the lowest.
    for (const auto& e : entries)
        if (e.signs()) return e.identity;
    return std::nullopt;
}

hsync_set read_hsync(std::span<const dns::rr> records, const dns::name& apex) {
    hsync_set set;
    std::vector<parsed_record> parsed;
    bool left_out = false;  // a malformed or conflicting record: the owner's intent is unclear
    for (const auto& r : records) {
        if (r.type != dns::hsync_code() || !(r.owner == apex)) continue;
        std::string reason;
        if (auto entry = parse(r, reason))
            parsed.push_back({std::move(*entry), generic_text(r)});
        else {
            set.problems.push_back({std::move(reason), generic_text(r)});
            left_out = true;
        }
    }
    std::stable_sort(parsed.begin(), parsed.end(),
                     [](const parsed_record& a, const parsed_record& b) {
                         return a.entry.identity < b.entry.identity;
                     });
    for (size_t first = 0; first < parsed.size();) {
        size_t last = first + 1;
        bool conflict = false;
        while (last < parsed.size() &&
               parsed[last].entry.identity == parsed[first].entry.identity) {
            conflict |= !(parsed[last].entry == parsed[first].entry);
            ++last;
        }
        if (conflict) {
            std::string who = parsed[first].entry.identity.to_text();
            for (size_t i = first; i < last; ++i)
                set.problems.push_back(
                    {"HSYNC records for " + who + " disagree; all of them are ignored",
                     parsed[i].text});
            left_out = true;
        } else {
            for (size_t i = first + 1; i < last; ++i)
                set.problems.push_back({"HSYNC record given more than once", parsed[i].text});
            set.entries.push_back(std::move(parsed[first].entry));
        }
        first = last;
    }
    decide_nsmgmt(set, left_out);
    return set;
}

hsync_set read_hsync(const dns::record_store& zone, const dns::name& apex) {
    dns::name owner = apex.canonical();
    // The store is in canonical order with lower-cased owners: the apex records are one run.
    size_t lo = 0, hi = zone.size();
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (dns::canonical_compare(zone[mid].owner, owner.wire()) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    std::vector<dns::rr> records;
    for (size_t i = lo; i < zone.size(); ++i) {
        auto v = zone[i];
        if (dns::canonical_compare(v.owner, owner.wire()) != 0) break;
        if (v.type == dns::hsync_code()) records.push_back(v.to_rr());
    }
    return read_hsync(records, owner);
}

hsync_diff diff(const hsync_set& before, const hsync_set& after) {
    hsync_diff out;
    auto b = before.entries.begin(), a = after.entries.begin();
    while (b != before.entries.end() || a != after.entries.end()) {
        if (a == after.entries.end() || (b != before.entries.end() && b->identity < a->identity)) {
            out.removed.push_back(*b++);
        } else if (b == before.entries.end() || a->identity < b->identity) {
            out.added.push_back(*a++);
        } else {
            if (!(*a == *b)) out.changed.push_back({*b, *a});
            ++a;
            ++b;
        }
    }
    return out;
}

}  // namespace hsync::agent
