// Differential target for zone versions: zone_data::next() must index a zone exactly as a
// build from scratch does, and leave the version it started from as it was. Input: one
// flag byte (bit 0: an NSEC3 zone), then 3-byte operations on a small name space, each
// (op, name, value): op % 4 in {0, 1} adds a record made from name and value, 2 removes
// the value-th record present, 3 makes a new version of the pending changes. Whatever the
// input, a mismatch aborts.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "zone/journal.h"
#include "zone/zone_data.h"

namespace {

using namespace hsync;

const std::vector<std::string>& names() {
    static const std::vector<std::string> pool = [] {
        std::vector<std::string> out;
        const char* labels[] = {"a", "b", "c", "*", "x"};
        for (auto l1 : labels) {
            out.push_back(std::string(l1) + ".example.");
            for (auto l2 : labels) {
                out.push_back(std::string(l2) + "." + l1 + ".example.");
                for (auto l3 : {"a", "x"})
                    out.push_back(std::string(l3) + "." + l2 + "." + l1 + ".example.");
            }
        }
        // NSEC3-shaped owners (a 32-character base32hex label).
        for (char c : std::string("05afkpuv"))
            out.push_back(std::string(31, c) + "0.example.");
        out.push_back(std::string(31, 'g') + "0.example.net.");  // outside: never indexed
        return out;
    }();
    return pool;
}

std::string soa(uint32_t serial) {
    return "example. 300 IN SOA ns.example. host.example. " + std::to_string(serial) +
           " 3600 600 86400 300";
}

std::string record_text(const std::string& owner, uint8_t value) {
    const std::string n = std::to_string(value / 8);
    if (owner.size() > 40)  // an NSEC3-shaped owner
        return owner + " 300 IN NSEC3 1 0 " + (value & 1 ? "5 ab " : "0 - ") +
               std::string(32, '0' + value % 10) + " A RRSIG";
    switch (value % 8) {
        case 0:
            return owner + " 300 IN A 192.0.2." + n;
        case 1:
            return owner + " 300 IN TXT \"t" + n + "\"";
        case 2:
            return owner + " 300 IN NS ns" + n + ".other.";
        case 3:
            return owner + " 300 IN DS 1 8 2 " + std::string(64, "0123456789"[value % 10]);
        case 4:
            return owner + " 300 IN NSEC a.example. A NSEC";
        case 5:
            return owner + " 300 IN DNAME t" + n + ".other.";
        case 6:
            return owner + " 300 IN CNAME t" + n + ".other.";
        default:
            return owner + " 300 IN RRSIG A 8 2 300 20300101000000 20200101000000 1" + n +
                   " example. AAAA";
    }
}

[[noreturn]] void mismatch(const std::string& what) {
    std::fprintf(stderr, "zone_data::next() mismatch: %s\n", what.c_str());
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1 || size > 3000) return 0;
    const dns::name origin = dns::name::from_text("example.");
    // The zone as text -> record; text is the identity (one TTL per record here).
    std::map<std::string, dns::rr> present;
    auto put = [&](const std::string& text) {
        dns::rr r = dns::rr::from_text(text);
        r.canonicalize();
        present.emplace(r.to_text(), r);
    };
    uint32_t serial = 1;
    put(soa(serial));
    put("example. 300 IN NS ns.example.");
    if (data[0] & 1) put("example. 0 IN NSEC3PARAM 1 0 0 -");
    dns::record_store first;
    for (const auto& [text, r] : present)
        first.add(r);
    first.sort();
    auto current = std::make_shared<const zone::zone_data>(std::move(first), origin);

    std::map<std::string, dns::rr> adds, removes;
    auto commit = [&] {
        if (adds.empty() && removes.empty()) return;
        dns::zone_diff d;
        d.from_serial = serial;
        d.to_serial = serial + 1;
        d.removed.push_back(dns::rr::from_text(soa(serial)));
        d.added.push_back(dns::rr::from_text(soa(serial + 1)));
        for (auto& [text, r] : removes) {
            d.removed.push_back(r);
            present.erase(text);
        }
        for (auto& [text, r] : adds) {
            d.added.push_back(r);
            present.emplace(text, r);
        }
        present.erase(dns::rr::from_text(soa(serial)).to_text());
        ++serial;
        put(soa(serial));
        adds.clear();
        removes.clear();
        std::shared_ptr<const zone::zone_data> next;
        try {
            next = zone::zone_data::next(*current, d);
        } catch (const std::exception& e) {
            mismatch(std::string("a valid change was refused: ") + e.what());
        }
        zone::zone_data fresh(next->records(), origin);
        if (auto why = next->index_difference(fresh); !why.empty()) mismatch(why);
        if (next->records().size() != present.size()) mismatch("record count");
        zone::zone_data old_fresh(current->records(), origin);
        if (auto why = current->index_difference(old_fresh); !why.empty())
            mismatch("the base version changed: " + why);
        current = next;
    };

    const auto& pool = names();
    for (size_t pos = 1; pos + 3 <= size; pos += 3) {
        const uint8_t op = data[pos] % 4, which = data[pos + 1], value = data[pos + 2];
        if (op <= 1) {
            std::string text = record_text(pool[which % pool.size()], value);
            dns::rr r = dns::rr::from_text(text);
            r.canonicalize();
            std::string key = r.to_text();
            if (present.count(key) || adds.count(key)) continue;
            removes.erase(key);
            adds.emplace(key, r);
        } else if (op == 2) {
            if (present.size() <= 3) continue;
            auto it = present.begin();
            std::advance(it, value % present.size());
            const dns::rr& r = it->second;
            if (r.type == dns::rr_type::SOA || r.type == dns::rr_type::NSEC3PARAM ||
                (r.type == dns::rr_type::NS && r.owner == origin) || adds.count(it->first))
                continue;
            removes.emplace(it->first, r);
        } else {
            commit();
        }
    }
    commit();
    return 0;
}
