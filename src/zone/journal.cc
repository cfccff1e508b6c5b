#include "zone/journal.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <string>

#include "dns/rdata.h"

namespace hsync::zone {
namespace {

int compare_bytes(std::span<const uint8_t> a, std::span<const uint8_t> b) {
    size_t n = std::min(a.size(), b.size());
    if (n)
        if (int c = std::memcmp(a.data(), b.data(), n)) return c < 0 ? -1 : 1;
    if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
    return 0;
}

// Canonical order of RFC 4034 §6 over owner, class, type and RDATA; TTL not compared.
// This is the order record_store::sort() leaves.
int compare(const dns::record_view& a, const dns::record_view& b) {
    if (int c = dns::canonical_compare(a.owner, b.owner)) return c;
    if (a.rclass != b.rclass) return a.rclass < b.rclass ? -1 : 1;
    if (a.type != b.type) return a.type < b.type ? -1 : 1;
    return compare_bytes(a.rdata, b.rdata);
}

int compare(const dns::rr& a, const dns::record_view& b) {
    if (int c = dns::canonical_compare(a.owner.wire(), b.owner)) return c;
    if (a.rclass != b.rclass) return a.rclass < b.rclass ? -1 : 1;
    if (a.type != b.type) return a.type < b.type ? -1 : 1;
    return compare_bytes(a.rdata, b.rdata);
}

struct rr_less {
    bool operator()(const dns::rr& a, const dns::rr& b) const {
        return dns::canonical_compare(a, b) < 0;
    }
};

// IXFR writes each SOA first in its list (RFC 1995 §4).
void soa_first(std::vector<dns::rr>& records) {
    std::stable_partition(records.begin(), records.end(),
                          [](const dns::rr& r) { return r.type == dns::rr_type::SOA; });
}

// Malformed RDATA in a difference is the difference's fault: reported as journal_error.
void canonicalize(dns::rr& r) {
    try {
        r.canonicalize();
    } catch (const dns::wire_error& e) {
        throw journal_error("difference holds a malformed record at " + r.owner.to_text() + ": " +
                            e.what());
    }
}

std::vector<dns::rr> canonical_sorted(const std::vector<dns::rr>& records, const char* what) {
    std::vector<dns::rr> out = records;
    for (auto& r : out)
        canonicalize(r);
    std::sort(out.begin(), out.end(), rr_less{});
    for (size_t i = 1; i < out.size(); ++i)
        if (dns::canonical_compare(out[i - 1], out[i]) == 0)
            throw journal_error(std::string("difference ") + what +
                                " the same record twice: " + out[i].to_text());
    return out;
}

}  // namespace

std::pair<size_t, size_t> owner_range(const dns::record_store& zone, const dns::name& owner) {
    dns::name key = owner.canonical();
    auto below = [&](size_t i) { return dns::canonical_compare(zone[i].owner, key.wire()); };
    size_t lo = 0, hi = zone.size();
    while (lo < hi) {  // first index not below `owner`
        size_t mid = lo + (hi - lo) / 2;
        if (below(mid) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t first = lo;
    hi = zone.size();
    while (lo < hi) {  // first index above `owner`
        size_t mid = lo + (hi - lo) / 2;
        if (below(mid) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return {first, lo};
}

std::optional<size_t> find_soa(const dns::record_store& zone) {
    if (zone.empty()) return std::nullopt;
    auto apex = zone[0].owner;
    // Few RRsets sort before the SOA at the apex (types below 6), so this is short.
    for (size_t i = 0; i < zone.size(); ++i) {
        auto v = zone[i];
        if (dns::canonical_compare(v.owner, apex) != 0) break;
        if (v.type == dns::rr_type::SOA) return i;
        if (v.type > dns::rr_type::SOA && v.rclass == zone[0].rclass) break;
    }
    return std::nullopt;
}

uint32_t soa_serial(std::span<const uint8_t> rdata) {
    // MNAME and RNAME, then SERIAL, REFRESH, RETRY, EXPIRE, MINIMUM: the serial is 20
    // octets from the end.
    if (rdata.size() < 22) throw journal_error("SOA RDATA too short");
    const uint8_t* p = rdata.data() + rdata.size() - 20;
    return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
           static_cast<uint32_t>(p[2]) << 8 | p[3];
}

void set_soa_serial(std::vector<uint8_t>& rdata, uint32_t serial) {
    if (rdata.size() < 22) throw journal_error("SOA RDATA too short");
    uint8_t* p = rdata.data() + rdata.size() - 20;
    p[0] = static_cast<uint8_t>(serial >> 24);
    p[1] = static_cast<uint8_t>(serial >> 16);
    p[2] = static_cast<uint8_t>(serial >> 8);
    p[3] = static_cast<uint8_t>(serial);
}

dns::zone_diff diff(const dns::record_store& before, const dns::record_store& after) {
    dns::zone_diff d;
    auto soa_before = find_soa(before), soa_after = find_soa(after);
    if (soa_before) d.from_serial = soa_serial(before[*soa_before].rdata);
    if (soa_after) d.to_serial = soa_serial(after[*soa_after].rdata);

    size_t i = 0, j = 0;
    while (i < before.size() || j < after.size()) {
        if (j == after.size()) {
            d.removed.push_back(before[i++].to_rr());
        } else if (i == before.size()) {
            d.added.push_back(after[j++].to_rr());
        } else {
            auto b = before[i], a = after[j];
            int c = compare(b, a);
            if (c < 0) {
                d.removed.push_back(b.to_rr());
                ++i;
            } else if (c > 0) {
                d.added.push_back(a.to_rr());
                ++j;
            } else {
                if (b.ttl != a.ttl) {  // a TTL change travels as delete + add
                    d.removed.push_back(b.to_rr());
                    d.added.push_back(a.to_rr());
                }
                ++i;
                ++j;
            }
        }
    }
    if (d.empty()) return d;
    // Something changed: both SOAs belong in the sequence even if the SOA itself did not.
    auto has_soa = [](const std::vector<dns::rr>& v) {
        return std::any_of(v.begin(), v.end(),
                           [](const dns::rr& r) { return r.type == dns::rr_type::SOA; });
    };
    if (soa_before && !has_soa(d.removed)) d.removed.push_back(before[*soa_before].to_rr());
    if (soa_after && !has_soa(d.added)) d.added.push_back(after[*soa_after].to_rr());
    soa_first(d.removed);
    soa_first(d.added);
    return d;
}

applied_change apply_change(const dns::record_store& base, const dns::zone_diff& change) {
    if (auto soa = find_soa(base); soa && !change.empty()) {
        uint32_t serial = soa_serial(base[*soa].rdata);
        if (serial != change.from_serial)
            throw journal_error("difference starts at serial " +
                                std::to_string(change.from_serial) + " but the zone is at " +
                                std::to_string(serial));
    }
    std::vector<dns::rr> removed = canonical_sorted(change.removed, "removes");
    std::vector<dns::rr> added = canonical_sorted(change.added, "adds");
    // Where each record falls in base: binary searches, O(change log n).
    auto position = [&](const dns::rr& r, size_t from) {
        size_t lo = from, hi = base.size();
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (compare(r, base[mid]) > 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo;
    };
    applied_change out;
    out.removed_at.reserve(removed.size());
    size_t from = 0;
    for (const auto& r : removed) {
        size_t at = position(r, from);
        if (at == base.size() || compare(r, base[at]) != 0)
            throw journal_error("difference removes a record the zone does not have: " +
                                r.to_text());
        out.removed_at.push_back(static_cast<uint32_t>(at));
        from = at + 1;
    }
    std::vector<dns::record_store::insertion> inserted;
    inserted.reserve(added.size());
    out.inserted_before.reserve(added.size());
    from = 0;
    for (const auto& r : added) {
        size_t at = position(r, from);
        // Present in base is fine only if the difference removes it (a TTL change).
        if (at < base.size() && compare(r, base[at]) == 0 &&
            !std::binary_search(out.removed_at.begin(), out.removed_at.end(), uint32_t(at)))
            throw journal_error("difference adds a record the zone already has: " + r.to_text());
        inserted.push_back({static_cast<uint32_t>(at), &r});
        out.inserted_before.push_back(static_cast<uint32_t>(at));
        from = at;
    }
    out.records = dns::record_store::edit(base, out.removed_at, inserted);
    // Result positions of the added records: each follows the base records before it,
    // less the removed ones, and the records added before it.
    out.added_at.reserve(added.size());
    size_t gone = 0;
    for (size_t k = 0; k < inserted.size(); ++k) {
        while (gone < out.removed_at.size() && out.removed_at[gone] < inserted[k].before)
            ++gone;
        out.added_at.push_back(static_cast<uint32_t>(inserted[k].before - gone + k));
    }
    return out;
}

dns::record_store apply(const dns::record_store& base, const dns::zone_diff& change) {
    return apply_change(base, change).records;
}

dns::zone_diff condense(std::span<const dns::zone_diff> changes) {
    dns::zone_diff out;
    if (changes.empty()) return out;
    out.from_serial = changes.front().from_serial;
    out.to_serial = changes.back().to_serial;
    // Net effect relative to the first version: records of that version taken away, and
    // records that version did not have put in. Keys compare without TTL.
    std::map<dns::rr, dns::rr, rr_less> gone, come;
    for (size_t k = 0; k < changes.size(); ++k) {
        const auto& d = changes[k];
        if (k > 0 && d.from_serial != changes[k - 1].to_serial)
            throw journal_error("journal does not chain: serial " +
                                std::to_string(changes[k - 1].to_serial) + " is followed by " +
                                std::to_string(d.from_serial));
        for (dns::rr r : d.removed) {
            canonicalize(r);
            if (auto it = come.find(r); it != come.end())
                come.erase(it);  // added earlier in the run, so never was in the first version
            else
                gone.insert_or_assign(r, r);
        }
        for (dns::rr r : d.added) {
            canonicalize(r);
            if (auto it = gone.find(r); it != gone.end() && it->second.ttl == r.ttl)
                gone.erase(it);  // back as it was
            else
                come.insert_or_assign(r, r);
        }
    }
    out.removed.reserve(gone.size());
    for (auto& [k, v] : gone)
        out.removed.push_back(std::move(v));
    out.added.reserve(come.size());
    for (auto& [k, v] : come)
        out.added.push_back(std::move(v));
    soa_first(out.removed);
    soa_first(out.added);
    return out;
}

uint32_t next_serial(uint32_t last_served, uint32_t upstream_serial) {
    if (dns::serial_lt(last_served, upstream_serial)) return upstream_serial;
    uint32_t next = last_served + 1;
    return next == 0 ? 1 : next;
}

}  // namespace hsync::zone
