#include "dns/record_store.h"

#include <algorithm>
#include <cstring>
#include <numeric>

namespace hsync::dns {
namespace {

// Layout at an index offset: source u32 | owner length u8 | owner | type u16 | class u16 |
// ttl u32 | rdlength u16 | rdata. Host byte order for the integers: the store never leaves
// the process.
template <typename T>
T load(const uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
template <typename T>
void store(std::vector<uint8_t>& a, T v) {
    uint8_t b[sizeof v];
    std::memcpy(b, &v, sizeof v);
    a.insert(a.end(), b, b + sizeof v);
}

}  // namespace

rr record_view::to_rr() const {
    rr r;
    r.owner = owner_name();
    r.type = type;
    r.rclass = rclass;
    r.ttl = ttl;
    r.rdata.assign(rdata.begin(), rdata.end());
    return r;
}

void record_view::append_text(std::string& out) const {
    owner_name().append_text(out);
    out.push_back('\t');
    out += std::to_string(ttl);
    out.push_back('\t');
    out += class_to_text(rclass);
    out.push_back('\t');
    out += type_to_text(type);
    out.push_back('\t');
    rdata_to_text(type, rdata, out);
}

void record_store::add(const rr& record, uint32_t source) {
    index_.push_back(arena_.size());
    store<uint32_t>(arena_, source);
    auto owner = record.owner.wire();
    arena_.push_back(static_cast<uint8_t>(owner.size()));
    size_t owner_at = arena_.size();
    arena_.insert(arena_.end(), owner.begin(), owner.end());
    for (size_t i = owner_at; i < arena_.size(); ++i)
        if (arena_[i] >= 'A' && arena_[i] <= 'Z') arena_[i] = static_cast<uint8_t>(arena_[i] + 32);
    store<uint16_t>(arena_, record.type);
    store<uint16_t>(arena_, record.rclass);
    store<uint32_t>(arena_, record.ttl);
    store<uint16_t>(arena_, static_cast<uint16_t>(record.rdata.size()));
    size_t rdata_at = arena_.size();
    arena_.insert(arena_.end(), record.rdata.begin(), record.rdata.end());
    rdata_canonicalize(record.type, {arena_.data() + rdata_at, record.rdata.size()});
}

record_view record_store::operator[](size_t i) const {
    const uint8_t* p = arena_.data() + index_[i];
    record_view v;
    v.source = load<uint32_t>(p);
    p += 4;
    size_t owner_len = *p++;
    v.owner = {p, owner_len};
    p += owner_len;
    v.type = load<uint16_t>(p);
    v.rclass = load<uint16_t>(p + 2);
    v.ttl = load<uint32_t>(p + 4);
    size_t rdlen = load<uint16_t>(p + 8);
    v.rdata = {p + 10, rdlen};
    return v;
}

size_t record_store::sort(size_t* ttl_fixes) {
    // Sort positions, tie-broken by insertion order so the first record of an RRset is known.
    std::vector<uint32_t> order(index_.size());
    std::iota(order.begin(), order.end(), 0u);
    auto rrset_cmp = [&](const record_view& a, const record_view& b) {
        if (int c = canonical_compare(a.owner, b.owner)) return c;
        if (a.rclass != b.rclass) return a.rclass < b.rclass ? -1 : 1;
        if (a.type != b.type) return a.type < b.type ? -1 : 1;
        // RRSIGs form one RRset per type covered (RFC 4034 §3: their TTL follows it).
        if ((a.type == rr_type::RRSIG || a.type == rr_type::SIG) && a.rdata.size() >= 2 &&
            b.rdata.size() >= 2) {
            int ca = a.rdata[0] << 8 | a.rdata[1], cb = b.rdata[0] << 8 | b.rdata[1];
            if (ca != cb) return ca < cb ? -1 : 1;
        }
        return 0;
    };
    auto full_cmp = [&](const record_view& a, const record_view& b) {
        if (int c = rrset_cmp(a, b)) return c;
        size_t n = std::min(a.rdata.size(), b.rdata.size());
        if (n)
            if (int c = std::memcmp(a.rdata.data(), b.rdata.data(), n)) return c < 0 ? -1 : 1;
        if (a.rdata.size() != b.rdata.size()) return a.rdata.size() < b.rdata.size() ? -1 : 1;
        return 0;
    };
    std::sort(order.begin(), order.end(), [&](uint32_t x, uint32_t y) {
        int c = full_cmp((*this)[x], (*this)[y]);
        return c != 0 ? c < 0 : x < y;
    });

    std::vector<uint64_t> sorted;
    sorted.reserve(index_.size());
    size_t duplicates = 0, fixes = 0;
    size_t set_start = 0;
    uint32_t set_first = 0;
    // Every member of an RRset takes the TTL of the member added first.
    auto close_set = [&] {
        uint32_t ttl = (*this)[set_first].ttl;
        for (size_t j = set_start; j < sorted.size(); ++j) {
            uint8_t* p = arena_.data() + sorted[j] + 4;
            p += 1 + *p + 4;  // past owner length, owner, type, class
            if (load<uint32_t>(p) != ttl) {
                std::memcpy(p, &ttl, sizeof ttl);
                ++fixes;
            }
        }
    };
    for (size_t i = 0; i < order.size(); ++i) {
        record_view cur = (*this)[order[i]];
        if (i > 0) {
            record_view prev = (*this)[order[i - 1]];
            if (full_cmp(prev, cur) == 0) {
                ++duplicates;
                continue;
            }
            if (rrset_cmp(prev, cur) == 0) {
                set_first = std::min(set_first, order[i]);
                sorted.push_back(index_[order[i]]);
                continue;
            }
            close_set();
        }
        set_start = sorted.size();
        set_first = order[i];
        sorted.push_back(index_[order[i]]);
    }
    if (!sorted.empty()) close_set();
    index_ = std::move(sorted);
    if (ttl_fixes) *ttl_fixes = fixes;
    return duplicates;
}

}  // namespace hsync::dns
