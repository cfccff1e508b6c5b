#include "roles/parent/delegations.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <stdexcept>

#include "dns/rdata.h"
#include "zone/journal.h"
#include "zone/text.h"

namespace hsync::parent {

namespace T = dns::rr_type;
using zone::key_of;

namespace {

std::string one_line(std::string s) {
    std::replace(s.begin(), s.end(), '\n', ' ');
    return s;
}

void json_records(std::string& out, const std::vector<dns::rr>& records) {
    out += "[";
    for (size_t i = 0; i < records.size(); ++i) {
        if (i) out += ",";
        zone::json_string(out, records[i].to_text());
    }
    out += "]";
}

}  // namespace

// The persistent form: a line a field, the records of each set in presentation form.
std::string encode_child(const child_state& c) {
    std::string out = "hsync-parent-child 1\n";
    out += "scan " + std::to_string(c.last_scan) + " " + std::to_string(c.scans) + " " +
           std::to_string(c.initial_since) + "\n";
    out += "result " + one_line(c.result) + "\n";
    out += "cds " + one_line(c.cds_result) + "\n";
    out += "csync " + one_line(c.csync_result) + "\n";
    out += "initial " + one_line(c.initial_fingerprint) + "\n";
    if (c.upstream_ds) out += "upstream-ds " + one_line(*c.upstream_ds) + "\n";
    if (c.upstream_delegation)
        out += "upstream-delegation " + one_line(*c.upstream_delegation) + "\n";
    for (const auto& [label, set] : {std::pair{"ds", &c.ds}, {"ns", &c.ns}, {"glue", &c.glue}}) {
        if (!*set) continue;
        out += std::string("set ") + label + "\n";
        for (const auto& r : **set)
            out += "rr " + r.to_text() + "\n";
    }
    return out;
}

void decode_child(std::string_view text, child_state& c) {
    std::optional<std::vector<dns::rr>>* current = nullptr;
    size_t line_no = 0;
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        ++line_no;
        auto sp = line.find(' ');
        std::string_view word = line.substr(0, sp);
        std::string_view rest = sp == std::string_view::npos ? "" : line.substr(sp + 1);
        if (line_no == 1) {
            if (line != "hsync-parent-child 1")
                throw std::runtime_error("stored child state: unknown format");
        } else if (word == "scan") {
            long long a = 0, b = 0, d = 0;
            if (std::sscanf(std::string(rest).c_str(), "%lld %lld %lld", &a, &b, &d) != 3)
                throw std::runtime_error("stored child state: line " + std::to_string(line_no));
            c.last_scan = a;
            c.scans = static_cast<uint64_t>(b);
            c.initial_since = d;
        } else if (word == "result") {
            c.result = rest;
        } else if (word == "cds") {
            c.cds_result = rest;
        } else if (word == "csync") {
            c.csync_result = rest;
        } else if (word == "initial") {
            c.initial_fingerprint = rest;
        } else if (word == "upstream-ds") {
            c.upstream_ds = std::string(rest);
        } else if (word == "upstream-delegation") {
            c.upstream_delegation = std::string(rest);
        } else if (word == "set") {
            current = rest == "ds"     ? &c.ds
                      : rest == "ns"   ? &c.ns
                      : rest == "glue" ? &c.glue
                                       : nullptr;
            if (!current)
                throw std::runtime_error("stored child state: line " + std::to_string(line_no));
            current->emplace();
        } else if (word == "rr" && current) {
            (*current)->push_back(dns::rr::from_text(rest));
        } else if (!line.empty()) {
            throw std::runtime_error("stored child state: line " + std::to_string(line_no));
        }
    }
}

// The served records of `type` owned by `owner`; with `below`, A and AAAA at or below it.
std::vector<dns::rr> served_at(const dns::record_store& zone, const dns::name& owner, uint16_t type,
                               bool below) {
    std::vector<dns::rr> out;
    auto [first, last] = zone::owner_range(zone, owner.canonical());
    for (size_t i = first; i < last; ++i)
        if (below ? (zone[i].type == T::A || zone[i].type == T::AAAA) : zone[i].type == type)
            out.push_back(zone[i].to_rr());
    if (!below) return out;
    for (size_t i = last; i < zone.size(); ++i) {
        auto v = zone[i];
        if (!v.owner_name().is_subdomain_of(owner)) break;
        if (v.type == T::A || v.type == T::AAAA) out.push_back(v.to_rr());
    }
    return out;
}

std::vector<dns::rr> sorted(std::vector<dns::rr> records) {
    dns::record_store s;
    for (const auto& r : records)
        s.add(r);
    s.sort();
    std::vector<dns::rr> out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i)
        out.push_back(s[i].to_rr());
    return out;
}

std::string texts(const std::vector<dns::rr>& records) {
    std::string out;
    for (const auto& r : records)
        out += (out.empty() ? "" : "; ") + r.to_text();
    return out.empty() ? "-" : out;
}

std::string wire_of(const dns::name& n) {
    dns::name c = n.canonical();
    auto w = c.wire();
    return std::string(w.begin(), w.end());
}

// The upstream zone with the children's changes and `extra` records (DSYNC) in place, and
// the SOA serial `serial`. O(n); no allocation per upstream record kept.
dns::record_store overlay(const dns::record_store& upstream, const overlay_map& by_wire,
                          const std::vector<dns::rr>& extra, uint32_t serial) {
    // The owners and types of `extra`, looked up by the upstream record's owner as it is
    // stored (no string made per record).
    std::map<std::string, std::vector<uint16_t>, std::less<>> replaced;
    for (const auto& r : extra)
        replaced[wire_of(r.owner)].push_back(r.type);
    dns::record_store out;
    bool soa_done = false;
    for (size_t i = 0; i < upstream.size(); ++i) {
        auto v = upstream[i];
        std::string_view owner(reinterpret_cast<const char*>(v.owner.data()), v.owner.size());
        if (v.type == T::SOA && !soa_done) {
            dns::rr soa = v.to_rr();
            zone::set_soa_serial(soa.rdata, serial);
            out.add(soa);
            soa_done = true;
            continue;
        }
        if (v.type == T::DS || v.type == T::NS) {
            if (auto it = by_wire.find(owner); it != by_wire.end())
                if ((v.type == T::DS ? it->second.ds : it->second.ns) != nullptr) continue;
        } else if (v.type == T::A || v.type == T::AAAA) {
            // Glue: an address at or below a child whose glue this role decides.
            bool skip = false;
            for (std::string_view w = owner; !w.empty() && w.front() != 0;
                 w.remove_prefix(static_cast<uint8_t>(w.front()) + 1u))
                if (auto it = by_wire.find(w); it != by_wire.end() && it->second.glue) {
                    skip = true;
                    break;
                }
            if (skip) continue;
        }
        if (!replaced.empty())
            if (auto it = replaced.find(owner);
                it != replaced.end() &&
                std::find(it->second.begin(), it->second.end(), v.type) != it->second.end())
                continue;
        out.add(v);
    }
    for (const auto& [wire, e] : by_wire)
        for (const auto* set : {e.ds, e.ns, e.glue})
            if (set)
                for (const auto& r : *set)
                    out.add(r);
    for (const auto& r : extra)
        out.add(r);
    out.sort();
    return out;
}

std::string child_json(const zone::served_zone& z, const child_state& c) {
    using zone::json_string;
    std::string out = "{\"child\":";
    json_string(out, key_of(c.name));
    out += ",\"zone\":";
    json_string(out, key_of(z.settings.name));
    out += ",\"last_scan\":";
    if (c.last_scan)
        json_string(out, zone::utc_text(c.last_scan));
    else
        out += "null";
    out += ",\"next_scan\":";
    json_string(out, zone::utc_text(c.next_scan));
    out += ",\"scans\":" + std::to_string(c.scans) + ",\"scanning\":";
    out += c.scanning ? "true" : "false";
    out += ",\"result\":";
    json_string(out, c.result);
    out += ",\"cds\":";
    json_string(out, c.cds_result);
    out += ",\"csync\":";
    json_string(out, c.csync_result);
    out += ",\"servers\":[";
    for (size_t i = 0; i < c.servers.size(); ++i) {
        if (i) out += ",";
        json_string(out, c.servers[i]);
    }
    out += "]";
    const dns::record_store empty;
    const auto& served = z.data ? z.data->records() : empty;
    out += ",\"ds\":";
    json_records(out, served_at(served, c.name, T::DS));
    out += ",\"ns\":";
    json_records(out, served_at(served, c.name, T::NS));
    out += ",\"glue\":";
    json_records(out, served_at(served, c.name, 0, true));
    out += ",\"managed\":[";
    bool first = true;
    for (const auto& [label, set] : {std::pair{"DS", &c.ds}, {"NS", &c.ns}, {"glue", &c.glue}})
        if (*set) {
            if (!first) out += ",";
            first = false;
            json_string(out, label);
        }
    out += "]}";
    return out;
}

}  // namespace hsync::parent
