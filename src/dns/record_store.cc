#include "dns/record_store.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <numeric>
#include <utility>

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

namespace {

size_t record_size(const uint8_t* p) {
    size_t owner_len = p[4];
    uint16_t rdlength;
    std::memcpy(&rdlength, p + 5 + owner_len + 8, 2);
    return 4 + 1 + owner_len + 10 + rdlength;
}

}  // namespace

record_store::record_store(const record_store& other)
    : chunks_(other.chunks_),
      first_owned_(other.chunks_.size()),
      bytes_(other.bytes_),
      chunk_bytes_(other.chunk_bytes_),
      index_(other.index_) {}

record_store& record_store::operator=(const record_store& other) {
    if (this != &other) {
        chunks_ = other.chunks_;
        first_owned_ = chunks_.size();
        bytes_ = other.bytes_;
        chunk_bytes_ = other.chunk_bytes_;
        index_ = other.index_;
    }
    return *this;
}

record_store::record_store(record_store&& other) noexcept
    : chunks_(std::move(other.chunks_)),
      first_owned_(std::exchange(other.first_owned_, 0)),
      bytes_(std::exchange(other.bytes_, 0)),
      chunk_bytes_(std::exchange(other.chunk_bytes_, 0)),
      index_(std::move(other.index_)) {
    other.chunks_.clear();
    other.index_.clear();
}

record_store& record_store::operator=(record_store&& other) noexcept {
    if (this != &other) {
        chunks_ = std::move(other.chunks_);
        first_owned_ = std::exchange(other.first_owned_, 0);
        bytes_ = std::exchange(other.bytes_, 0);
        chunk_bytes_ = std::exchange(other.chunk_bytes_, 0);
        index_ = std::move(other.index_);
        other.chunks_.clear();
        other.index_.clear();
    }
    return *this;
}

uint64_t record_store::reserve_room(size_t need) {
    if (chunks_.size() == first_owned_ || chunks_.back()->capacity - chunks_.back()->used < need) {
        size_t size = chunks_.size() == first_owned_
                          ? 4096
                          : std::min<size_t>(chunks_.back()->capacity * 2, 1 << 20);
        chunks_.push_back(std::make_shared<chunk>(std::max(size, need)));
        chunk_bytes_ += chunks_.back()->capacity;
    }
    chunk& c = *chunks_.back();
    uint64_t ref = uint64_t(chunks_.size() - 1) << 32 | c.used;
    c.used += need;
    return ref;
}

uint8_t* record_store::writable(uint64_t& ref) {
    // In place only in a chunk no other store holds (a copy made of this store shares
    // even the chunks this one still appends to).
    if ((ref >> 32) >= first_owned_ && chunks_[ref >> 32].use_count() == 1) {
        // The last other holder may have let go on another thread just now: order its
        // reads before our write (its count decrement is a release).
        std::atomic_thread_fence(std::memory_order_acquire);
        return at(ref);
    }
    const uint8_t* src = at(ref);
    size_t n = record_size(src);
    uint64_t copy = reserve_room(n);
    std::memcpy(at(copy), src, n);  // src stays valid: chunks never move
    ref = copy;
    return at(ref);
}

void record_store::add(const rr& record, uint32_t source) {
    auto owner = record.owner.wire();
    record_view v{owner, record.type, record.rclass, record.ttl, record.rdata, source};
    add(v);
    // Canonical form in place: the record was just written to a chunk of our own.
    uint8_t* p = at(index_.back()) + 5;
    for (size_t i = 0; i < owner.size(); ++i)
        if (p[i] >= 'A' && p[i] <= 'Z') p[i] = static_cast<uint8_t>(p[i] + 32);
    if (!record.rdata.empty())
        rdata_canonicalize(record.type, {p + owner.size() + 10, record.rdata.size()});
}

void record_store::add(const record_view& record) {
    size_t need = 4 + 1 + record.owner.size() + 10 + record.rdata.size();
    uint64_t ref = reserve_room(need);
    index_.push_back(ref);
    uint8_t* p = at(ref);
    std::memcpy(p, &record.source, 4);
    p[4] = static_cast<uint8_t>(record.owner.size());
    p += 5;
    std::memcpy(p, record.owner.data(), record.owner.size());
    p += record.owner.size();
    uint16_t rdlength = static_cast<uint16_t>(record.rdata.size());
    std::memcpy(p, &record.type, 2);
    std::memcpy(p + 2, &record.rclass, 2);
    std::memcpy(p + 4, &record.ttl, 4);
    std::memcpy(p + 8, &rdlength, 2);
    if (!record.rdata.empty()) std::memcpy(p + 10, record.rdata.data(), record.rdata.size());
    bytes_ += need;
}

record_store record_store::edit(const record_store& base, std::span<const uint32_t> removed,
                                std::span<const insertion> inserted) {
    record_store out;
    const size_t n = base.size();
    size_t removed_bytes = 0;
    for (uint32_t pos : removed)
        removed_bytes += record_size(base.at(base.index_[pos]));
    size_t added_bytes = 0;
    for (const auto& ins : inserted)
        added_bytes += 4 + 1 + ins.record->owner.wire().size() + 10 + ins.record->rdata.size();
    const size_t live = base.bytes_ - removed_bytes + added_bytes;
    // Share base's storage unless the result would use less than half of it (or base is
    // split into many small chunks): then copy every record once into fresh storage.
    const bool compact =
        base.chunk_bytes_ > 2 * live + (1 << 20) || base.chunks_.size() > 64 + 2 * (live >> 20);
    if (!compact) {
        out.chunks_ = base.chunks_;
        out.first_owned_ = out.chunks_.size();
        out.chunk_bytes_ = base.chunk_bytes_;
        out.bytes_ = base.bytes_ - removed_bytes;
    }
    out.index_.reserve(n - removed.size() + inserted.size());
    size_t r = 0, a = 0;
    auto keep = [&](size_t from, size_t to) {  // base records [from, to) not removed
        if (!compact) {
            out.index_.insert(out.index_.end(), base.index_.begin() + from,
                              base.index_.begin() + to);
        } else {
            for (size_t i = from; i < to; ++i)
                out.add(base[i]);
        }
    };
    size_t i = 0;
    while (i < n || a < inserted.size()) {
        // The next event: an insertion before base position i, a removal at i, or a run of
        // kept records up to the next event.
        if (a < inserted.size() && inserted[a].before <= i) {
            out.add(*inserted[a++].record);
            continue;
        }
        if (i == n) break;
        if (r < removed.size() && removed[r] == i) {
            ++r;
            ++i;
            continue;
        }
        size_t next = n;
        if (r < removed.size()) next = std::min<size_t>(next, removed[r]);
        if (a < inserted.size()) next = std::min<size_t>(next, inserted[a].before);
        keep(i, next);
        i = next;
    }
    while (a < inserted.size())
        out.add(*inserted[a++].record);
    return out;
}

record_view record_store::operator[](size_t i) const {
    const uint8_t* p = at(index_[i]);
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
    const size_t n = index_.size();
    // Sort keys for the owners, made once: labels right to left, each followed by a 0
    // octet, with octets 0 and 1 escaped (0 -> 1 1, 1 -> 1 2) so that memcmp() of two keys
    // is the canonical name order of RFC 4034 §6.1. Records that follow one with the same
    // owner share its key.
    std::vector<uint8_t> keys;
    std::vector<uint32_t> key_at(n), key_len(n);
    std::span<const uint8_t> previous_owner;
    for (size_t i = 0; i < n; ++i) {
        std::span<const uint8_t> owner = (*this)[i].owner;
        if (i > 0 && owner.size() == previous_owner.size() &&
            std::memcmp(owner.data(), previous_owner.data(), owner.size()) == 0) {
            key_at[i] = key_at[i - 1];
            key_len[i] = key_len[i - 1];
            continue;
        }
        previous_owner = owner;
        uint8_t starts[128];
        size_t labels = 0;
        for (size_t pos = 0; pos < owner.size() && owner[pos] != 0; pos += owner[pos] + 1u)
            starts[labels++] = static_cast<uint8_t>(pos);
        key_at[i] = static_cast<uint32_t>(keys.size());
        while (labels > 0) {
            size_t pos = starts[--labels];
            for (size_t j = 1; j <= owner[pos]; ++j) {
                uint8_t c = owner[pos + j];
                if (c <= 1) {
                    keys.push_back(1);
                    keys.push_back(static_cast<uint8_t>(c + 1));
                } else {
                    keys.push_back(c);
                }
            }
            keys.push_back(0);
        }
        key_len[i] = static_cast<uint32_t>(keys.size() - key_at[i]);
    }
    auto owner_cmp = [&](uint32_t x, uint32_t y) {
        if (key_at[x] == key_at[y]) return 0;
        size_t m = std::min(key_len[x], key_len[y]);
        if (int c = std::memcmp(keys.data() + key_at[x], keys.data() + key_at[y], m))
            return c < 0 ? -1 : 1;
        if (key_len[x] != key_len[y]) return key_len[x] < key_len[y] ? -1 : 1;
        return 0;
    };
    auto rrset_cmp = [&](uint32_t x, uint32_t y) {
        if (int c = owner_cmp(x, y)) return c;
        record_view a = (*this)[x], b = (*this)[y];
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
    auto full_cmp = [&](uint32_t x, uint32_t y) {
        if (int c = rrset_cmp(x, y)) return c;
        record_view a = (*this)[x], b = (*this)[y];
        size_t m = std::min(a.rdata.size(), b.rdata.size());
        if (m)
            if (int c = std::memcmp(a.rdata.data(), b.rdata.data(), m)) return c < 0 ? -1 : 1;
        if (a.rdata.size() != b.rdata.size()) return a.rdata.size() < b.rdata.size() ? -1 : 1;
        return 0;
    };
    // Sort positions, tie-broken by insertion order so the first record of an RRset is known.
    std::vector<uint32_t> order(n);
    std::iota(order.begin(), order.end(), 0u);
    std::sort(order.begin(), order.end(), [&](uint32_t x, uint32_t y) {
        int c = full_cmp(x, y);
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
            const uint8_t* q = at(sorted[j]) + 4;
            q += 1 + *q + 4;  // past owner length, owner, type, class
            if (load<uint32_t>(q) == ttl) continue;
            uint8_t* p = writable(sorted[j]) + 4;  // shared records are never changed
            p += 1 + *p + 4;
            std::memcpy(p, &ttl, sizeof ttl);
            ++fixes;
        }
    };
    for (size_t i = 0; i < order.size(); ++i) {
        if (i > 0) {
            if (full_cmp(order[i - 1], order[i]) == 0) {
                ++duplicates;
                continue;
            }
            if (rrset_cmp(order[i - 1], order[i]) == 0) {
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
