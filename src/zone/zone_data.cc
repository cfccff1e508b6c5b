#include "zone/zone_data.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <iterator>

namespace hsync::zone {
namespace {

namespace rr_type = dns::rr_type;

bool same_owner(std::span<const uint8_t> a, std::span<const uint8_t> b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0;
}

// Offsets of each label of an uncompressed wire name, leftmost first; returns the label
// count (root not counted). A name has at most 127 labels.
size_t label_offsets(std::span<const uint8_t> wire, uint16_t* out) {
    size_t n = 0, pos = 0;
    while (pos < wire.size() && wire[pos] != 0) {
        out[n++] = static_cast<uint16_t>(pos);
        pos += 1 + wire[pos];
    }
    return n;
}

// Labels two lower-cased names share, counted from the root.
size_t common_labels(std::span<const uint8_t> a, std::span<const uint8_t> b) {
    uint16_t oa[128], ob[128];
    size_t na = label_offsets(a, oa), nb = label_offsets(b, ob);
    size_t common = 0;
    while (common < na && common < nb) {
        auto la = a.subspan(oa[na - 1 - common]), lb = b.subspan(ob[nb - 1 - common]);
        if (la[0] != lb[0] || std::memcmp(la.data(), lb.data(), 1 + la[0]) != 0) break;
        ++common;
    }
    return common;
}

// FNV-1a over the octets: names are short, and the table is keyed by lower-cased wire form.
uint64_t hash_wire(std::span<const uint8_t> wire) {
    uint64_t h = 1469598103934665603ull;
    for (uint8_t c : wire) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

uint32_t be32(const uint8_t* p) {
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

size_t skip_name(std::span<const uint8_t> rdata, size_t pos) {
    while (pos < rdata.size() && rdata[pos] != 0)
        pos += 1 + rdata[pos];
    return pos + 1;
}

// base32hex (RFC 4648 §7) of a 32-character NSEC3 label into a 20-octet hash.
bool decode_hash_label(std::span<const uint8_t> label, dnssec::nsec3_hash_value& out) {
    if (label.size() != 32) return false;
    uint64_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (uint8_t c : label) {
        int v;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'v')
            v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'V')
            v = c - 'A' + 10;
        else
            return false;
        acc = acc << 5 | static_cast<uint64_t>(v);
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = static_cast<uint8_t>(acc >> bits);
        }
    }
    return o == out.size();
}

}  // namespace

zone_data::zone_data(dns::record_store records, const dns::name& origin)
    : store_(std::move(records)), origin_(origin.canonical()) {
    if (store_.size() >= npos) throw zone_data_error("zone too large to index");
    build();
}

std::shared_ptr<const zone_data> zone_data::next(const zone_data& base,
                                                 const dns::zone_diff& change) {
    applied_change applied = apply_change(base.store_, change);
    // A large change costs about a full build anyway; index it from scratch.
    size_t touched = applied.removed_at.size() + applied.added_at.size();
    if (touched > std::max<size_t>(4096, applied.records.size() / 8))
        return std::make_shared<const zone_data>(std::move(applied.records), base.origin_);
    return std::shared_ptr<const zone_data>(new zone_data(base, std::move(applied)));
}

zone_data::zone_data(const zone_data& base, applied_change change)
    : store_(std::move(change.records)), origin_(base.origin_) {
    const auto& removed_at = change.removed_at;
    const auto& inserted_before = change.inserted_before;
    const auto& old = base.nodes_;
    const uint32_t old_count = static_cast<uint32_t>(old.size());
    auto less = [](std::span<const uint8_t> a, std::span<const uint8_t> b) {
        return dns::canonical_compare(a, b) < 0;
    };

    // The owners the change touched, in canonical order (both lists already are).
    std::vector<std::span<const uint8_t>> owners, gone, came;
    for (uint32_t pos : removed_at)
        gone.push_back(base.store_[pos].owner);
    for (uint32_t pos : change.added_at)
        came.push_back(store_[pos].owner);
    std::merge(gone.begin(), gone.end(), came.begin(), came.end(), std::back_inserter(owners),
               less);
    owners.erase(std::unique(owners.begin(), owners.end(), same_owner), owners.end());

    // Where a surviving record of base is now.
    auto moved = [&](uint32_t i) {
        size_t before =
            std::lower_bound(removed_at.begin(), removed_at.end(), i) - removed_at.begin();
        size_t added = std::upper_bound(inserted_before.begin(), inserted_before.end(), i) -
                       inserted_before.begin();
        return static_cast<uint32_t>(i - before + added);
    };

    // Regions of base's nodes to rebuild, one per run of touched owners: from the empty
    // non-terminals that lead to the first node at or after the owner (they exist for its
    // sake), through the first real node after it, which the change leaves as it was.
    // Past that node the walk sees what it saw before, so the nodes that follow are kept,
    // their record numbers shifted.
    struct region {
        uint32_t begin, end;
    };
    std::vector<region> regions;
    auto is_ent = [&](uint32_t id) { return old[id].first == old[id].end; };
    for (auto c : owners) {
        uint32_t p = 0, hi = old_count;
        while (p < hi) {
            uint32_t mid = p + (hi - p) / 2;
            if (less(base.node_owner(mid), c))
                p = mid + 1;
            else
                hi = mid;
        }
        uint32_t begin = p;
        while (begin > 0 && is_ent(begin - 1))
            --begin;
        uint32_t q = p;
        while (q < old_count && (is_ent(q) || !less(c, base.node_owner(q))))
            ++q;
        uint32_t end = q < old_count ? q + 1 : old_count;
        if (!regions.empty() && begin <= regions.back().end)
            regions.back().end = std::max(regions.back().end, end);
        else
            regions.push_back({begin, end});
    }

    // Kept runs of nodes, with how far their ids move.
    struct segment {
        uint32_t begin, end;
        int64_t shift;
    };
    std::vector<segment> segments;
    std::vector<record_range> rebuilt;  // new node ids
    nodes_.reserve(old.size() + change.added_at.size() + 16);
    auto keep = [&](uint32_t from, uint32_t to) {
        if (from >= to) return;
        const int64_t records_shift = int64_t(moved(old[from].first)) - old[from].first;
        segments.push_back({from, to, int64_t(nodes_.size()) - from});
        for (uint32_t id = from; id < to; ++id) {
            node nd = old[id];
            nd.first = static_cast<uint32_t>(nd.first + records_shift);
            nd.end = static_cast<uint32_t>(nd.end + records_shift);
            nodes_.push_back(nd);
        }
    };
    uint32_t done = 0;
    for (const auto& r : regions) {
        keep(done, r.begin);
        // The node before the region is a real one (the walk back passed the empty
        // non-terminals), so its records end where the region's begin.
        uint32_t from = nodes_.empty() ? 0 : nodes_.back().end;
        uint32_t to = static_cast<uint32_t>(store_.size());
        if (r.end < old_count) {
            const node& last = old[r.end - 1];
            to = moved(last.first) + (last.end - last.first);
        }
        uint32_t first_new = static_cast<uint32_t>(nodes_.size());
        build_nodes(from, to, nullptr);
        rebuilt.push_back({first_new, static_cast<uint32_t>(nodes_.size())});
        done = r.end;
    }
    keep(done, old_count);

    read_apex();
    if (nsec3_param_.has_value() != base.nsec3_param_.has_value() ||
        (nsec3_param_ && (nsec3_param_->iterations != base.nsec3_param_->iterations ||
                          nsec3_param_->salt != base.nsec3_param_->salt))) {
        nodes_.clear();  // another NSEC3 chain: every entry changes
        build();
        return;
    }
    for (uint32_t id = 0; id < nodes_.size(); ++id)
        if (nodes_[id].flags & f_nsec) nsec_nodes_.push_back(id);

    // Names: base's table stays as it is, shared. Its ids map to ours through pieces (the
    // kept runs, composed with base's pieces); the nodes made since the table was built
    // are in a small overlay. A fresh table when the pieces or the overlay grow large.
    std::vector<table_piece> pieces;
    {
        std::vector<table_piece> base_pieces = base.table_pieces_;
        if (base.table_identity_) base_pieces = {{0, old_count, 0}};
        size_t k = 0;
        for (const auto& bp : base_pieces) {
            // Base ids [bp.begin + bp.shift, bp.end + bp.shift) against the kept runs.
            const int64_t lo = bp.begin + bp.shift, hi = bp.end + bp.shift;
            while (k < segments.size() && segments[k].end <= lo)
                ++k;
            for (size_t j = k; j < segments.size() && segments[j].begin < hi; ++j) {
                int64_t from = std::max<int64_t>(lo, segments[j].begin);
                int64_t to = std::min<int64_t>(hi, segments[j].end);
                if (from < to)
                    pieces.push_back({static_cast<uint32_t>(from - bp.shift),
                                      static_cast<uint32_t>(to - bp.shift),
                                      bp.shift + segments[j].shift});
            }
        }
    }
    std::vector<uint32_t> overlay_ids;
    for (uint32_t v : base.overlay_) {
        if (v == npos) continue;
        auto it = std::upper_bound(segments.begin(), segments.end(), v,
                                   [](uint32_t x, const segment& sg) { return x < sg.begin; });
        if (it != segments.begin() && v < (it - 1)->end)
            overlay_ids.push_back(static_cast<uint32_t>(v + (it - 1)->shift));
    }
    for (const auto& r : rebuilt)
        for (uint32_t id = r.first; id < r.end; ++id)
            overlay_ids.push_back(id);
    // Both grow with the nodes changed since the table was built; a fresh table (O(zone))
    // after a thirty-second of the zone has changed keeps look-ups short.
    const size_t limit = std::max<size_t>(64, nodes_.size() / 32);
    if (pieces.size() > limit || overlay_ids.size() > limit) {
        build_hash();
    } else {
        table_ = base.table_;
        table_identity_ = false;
        table_pieces_ = std::move(pieces);
        size_t cap = std::bit_ceil(std::max<size_t>(16, overlay_ids.size() * 2));
        overlay_.assign(cap, npos);
        for (uint32_t id : overlay_ids) {
            size_t slot = hash_wire(node_owner(id)) & (cap - 1);
            while (overlay_[slot] != npos)
                slot = (slot + 1) & (cap - 1);
            overlay_[slot] = id;
        }
    }

    // NSEC3 entries: base's, less those of touched owners, records moved; plus entries
    // made for touched owners. NSEC3 owner names sort as their hashes do (base32hex keeps
    // the order), so the kept entries stay sorted.
    if (nsec3_param_) {
        const size_t origin_labels = origin_.label_count();
        std::vector<nsec3_entry> fresh;
        std::vector<bool> drop(base.nsec3_.size(), false);
        for (auto c : owners) {
            dns::name owner = dns::name::from_wire(c);
            if (owner.label_count() != origin_labels + 1 || !owner.is_subdomain_of(origin_))
                continue;
            nsec3_entry e;
            if (!decode_hash_label(c.subspan(1, c[0]), e.hash)) continue;
            if (auto* hit = base.nsec3_match(e.hash)) drop[hit - base.nsec3_.data()] = true;
            auto [lo, end] = owner_range(store_, owner);  // the touched owner's records now
            if (end > lo &&
                nsec3_entry_at({static_cast<uint32_t>(lo), static_cast<uint32_t>(end)}, e))
                fresh.push_back(e);
        }
        nsec3_.reserve(base.nsec3_.size() + fresh.size());
        for (size_t k = 0; k < base.nsec3_.size(); ++k) {
            if (drop[k]) continue;
            nsec3_entry e = base.nsec3_[k];
            uint32_t first = moved(e.records.first);
            e.records = {first, first + static_cast<uint32_t>(e.records.size())};
            nsec3_.push_back(e);
        }
        auto by_hash = [](const nsec3_entry& a, const nsec3_entry& b) { return a.hash < b.hash; };
        std::sort(fresh.begin(), fresh.end(), by_hash);
        size_t kept = nsec3_.size();
        nsec3_.insert(nsec3_.end(), fresh.begin(), fresh.end());
        std::inplace_merge(nsec3_.begin(), nsec3_.begin() + kept, nsec3_.end(), by_hash);
    }
}

void zone_data::add_node(uint32_t first, uint32_t end, uint16_t skip, uint16_t flags) {
    nodes_.push_back(node{first, end, skip, flags});
}

void zone_data::build_nodes(uint32_t from, uint32_t to, std::vector<record_range>* nsec3_names) {
    const auto ow = origin_.wire();
    const size_t origin_labels = origin_.label_count();
    const uint32_t n = to;
    uint16_t offs[128];

    uint32_t i = from;
    while (i < n) {
        const auto first = store_[i];
        const auto owner = first.owner;
        uint16_t flags = 0;
        bool nsec3_only = true, any_nsec3 = false;
        uint32_t j = i;
        for (; j < n; ++j) {
            auto r = store_[j];
            if (j != i && !same_owner(r.owner, owner)) break;
            switch (r.type) {
                case rr_type::NS:
                    flags |= f_ns;
                    break;
                case rr_type::SOA:
                    flags |= f_soa;
                    break;
                case rr_type::CNAME:
                    flags |= f_cname;
                    break;
                case rr_type::DNAME:
                    flags |= f_dname;
                    break;
                case rr_type::DS:
                    flags |= f_ds;
                    break;
                case rr_type::NSEC:
                    flags |= f_nsec;
                    break;
                case rr_type::RRSIG:
                    flags |= f_rrsig;
                    break;
                default:
                    break;
            }
            if (r.type == rr_type::NSEC3)
                any_nsec3 = true;
            else if (r.type != rr_type::RRSIG)
                nsec3_only = false;
        }
        const uint32_t end = j;
        const size_t labels = label_offsets(owner, offs);
        const bool inside = owner.size() >= ow.size() && labels >= origin_labels &&
                            same_owner(owner.subspan(offs[labels - origin_labels]), ow);
        if (!inside) {
            i = end;
            continue;
        }
        if (any_nsec3 && labels == origin_labels + 1 && nsec3_names)
            nsec3_names->push_back({i, end});
        if (any_nsec3 && nsec3_only && labels == origin_labels + 1) {
            i = end;
            continue;
        }
        // Ancestors between the previous node and this one are empty non-terminals: in
        // canonical order a name's ancestors come first, so any that exist are behind us.
        if (nodes_.empty() && labels != origin_labels) break;  // no apex: refused below
        size_t have = origin_labels;
        if (!nodes_.empty())
            have = std::max(have, common_labels(node_owner(uint32_t(nodes_.size() - 1)), owner));
        for (size_t d = have + 1; d < labels; ++d)
            add_node(i, i, offs[labels - d], 0);
        add_node(i, end, 0, flags);
        i = end;
    }
}

void zone_data::build() {
    std::vector<record_range> nsec3_names;
    build_nodes(0, static_cast<uint32_t>(store_.size()), &nsec3_names);
    read_apex();
    build_hash();
    for (uint32_t id = 0; id < nodes_.size(); ++id)
        if (nodes_[id].flags & f_nsec) nsec_nodes_.push_back(id);
    if (nsec3_param_) {
        // Only NSEC3 records of the chain NSEC3PARAM names (RFC 5155 §7.2: a server uses
        // the parameters of NSEC3PARAM).
        for (const auto& c : nsec3_names) {
            nsec3_entry e;
            if (nsec3_entry_at(c, e)) nsec3_.push_back(e);
        }
        std::sort(nsec3_.begin(), nsec3_.end(),
                  [](const nsec3_entry& a, const nsec3_entry& b) { return a.hash < b.hash; });
    }
}

bool zone_data::nsec3_entry_at(record_range owner_records, nsec3_entry& e) const {
    auto owner = store_[owner_records.first].owner;
    if (!decode_hash_label(owner.subspan(1, owner[0]), e.hash)) return false;
    const auto& p = *nsec3_param_;
    for (uint32_t r = owner_records.first; r < owner_records.end; ++r) {
        auto v = store_[r];
        if (v.type != rr_type::NSEC3) continue;
        auto d = v.rdata;
        if (d.size() >= 5 && d[0] == p.algorithm && (uint16_t(d[2] << 8 | d[3])) == p.iterations &&
            d[4] == p.salt.size() && d.size() >= 5 + p.salt.size() &&
            std::equal(p.salt.begin(), p.salt.end(), d.begin() + 5)) {
            e.records = owner_records;
            return true;
        }
    }
    return false;
}

void zone_data::read_apex() {
    if (nodes_.empty() || !same_owner(node_owner(0), origin_.wire()) || !(nodes_[0].flags & f_soa))
        throw zone_data_error("zone " + origin_.to_text() + " has no SOA at its apex");
    if (nodes_.size() >= npos) throw zone_data_error("zone too large to index");
    auto soa_range = rrset(0, rr_type::SOA);
    soa_ = store_[soa_range.first].to_rr();
    const auto& rd = soa_.rdata;
    size_t pos = skip_name(rd, skip_name(rd, 0));
    if (pos + 20 != rd.size()) throw zone_data_error("malformed SOA at " + origin_.to_text());
    serial_ = be32(rd.data() + pos);
    negative_ttl_ = std::min(soa_.ttl, be32(rd.data() + pos + 16));
    signed_ = !rrsigs(0, rr_type::SOA).empty();

    nsec3_param_.reset();
    auto param_range = rrset(0, rr_type::NSEC3PARAM);
    for (uint32_t r = param_range.first; r < param_range.end && !nsec3_param_; ++r) {
        try {
            auto p = dnssec::nsec3_params::parse(store_[r].rdata);
            if (p.algorithm == dnssec::nsec3_sha1) nsec3_param_ = std::move(p);
        } catch (const dns::wire_error&) {
        }
    }
}

void zone_data::build_hash() {
    size_t cap = std::bit_ceil(std::max<size_t>(16, nodes_.size() * 2));
    auto table = std::make_shared<std::vector<uint32_t>>(cap, npos);
    const size_t mask = cap - 1;
    auto& t = *table;
    for (uint32_t id = 0; id < nodes_.size(); ++id) {
        size_t slot = hash_wire(node_owner(id)) & mask;
        while (t[slot] != npos)
            slot = (slot + 1) & mask;
        t[slot] = id;
    }
    table_ = std::move(table);
    table_identity_ = true;
    table_pieces_.clear();
    overlay_.clear();
}

std::span<const uint8_t> zone_data::node_owner(node_id id) const {
    const node& nd = nodes_[id];
    return store_[nd.first].owner.subspan(nd.skip);
}

zone_data::node_id zone_data::find(std::span<const uint8_t> lower_wire) const {
    const uint64_t h = hash_wire(lower_wire);
    if (!overlay_.empty()) {
        const size_t mask = overlay_.size() - 1;
        for (size_t slot = h & mask;; slot = (slot + 1) & mask) {
            node_id id = overlay_[slot];
            if (id == npos) break;
            if (same_owner(node_owner(id), lower_wire)) return id;
        }
    }
    const auto& t = *table_;
    const size_t mask = t.size() - 1;
    for (size_t slot = h & mask;; slot = (slot + 1) & mask) {
        node_id v = t[slot];
        if (v == npos) return npos;
        node_id id = v;
        if (!table_identity_) {  // the table was built for an earlier version
            auto it =
                std::upper_bound(table_pieces_.begin(), table_pieces_.end(), v,
                                 [](uint32_t x, const table_piece& p) { return x < p.begin; });
            if (it == table_pieces_.begin() || v >= (it - 1)->end) continue;  // gone since
            id = static_cast<node_id>(v + (it - 1)->shift);
        }
        if (same_owner(node_owner(id), lower_wire)) return id;
    }
}

zone_data::node_id zone_data::find(const dns::name& n) const {
    dns::name lower = n.canonical();
    return find(lower.wire());
}

record_range zone_data::rrset(node_id id, uint16_t type) const {
    const node& nd = nodes_[id];
    uint32_t r = nd.first;
    while (r < nd.end && store_[r].type != type)
        ++r;
    uint32_t e = r;
    while (e < nd.end && store_[e].type == type)
        ++e;
    return {r, e};
}

bool zone_data::has_type(node_id id, uint16_t type) const {
    return !rrset(id, type).empty();
}

record_range zone_data::rrsigs(node_id id, uint16_t covered) const {
    if (!(nodes_[id].flags & f_rrsig)) return {0, 0};
    auto sigs = rrset(id, rr_type::RRSIG);
    uint32_t r = sigs.first;
    auto cov = [&](uint32_t k) {
        auto d = store_[k].rdata;
        return d.size() >= 2 ? uint16_t(d[0] << 8 | d[1]) : uint16_t(0);
    };
    // RRSIG RDATA starts with the type covered, so canonical order groups them by it.
    while (r < sigs.end && cov(r) != covered)
        ++r;
    uint32_t e = r;
    while (e < sigs.end && cov(e) == covered)
        ++e;
    return {r, e};
}

zone_data::node_id zone_data::wildcard_of(node_id id) const {
    auto owner = node_owner(id);
    if (owner.size() + 2 > dns::max_name_length) return npos;
    uint8_t buf[dns::max_name_length];
    buf[0] = 1;
    buf[1] = '*';
    std::memcpy(buf + 2, owner.data(), owner.size());
    return find(std::span<const uint8_t>(buf, owner.size() + 2));
}

zone_data::lookup_result zone_data::lookup(const dns::name& lower_name, bool ds_query) const {
    lookup_result res;
    uint16_t offs[128];
    auto wire = lower_name.wire();
    const size_t labels = label_offsets(wire, offs);
    const size_t origin_labels = origin_.label_count();
    res.closest_encloser = 0;
    res.encloser_labels = origin_labels;
    if (labels == origin_labels) {
        res.exact = 0;
        return res;
    }
    // A DNAME at the apex redirects everything below it (RFC 6672 §2.3); NS there does not
    // make a cut.
    if (nodes_[0].flags & f_dname) {
        res.dname = 0;
        return res;
    }
    for (size_t d = origin_labels + 1; d <= labels; ++d) {
        node_id id = find(wire.subspan(offs[labels - d]));
        if (id == npos) break;  // nothing exists below a name that does not exist
        res.closest_encloser = id;
        res.encloser_labels = d;
        const bool self = d == labels;
        if (self) res.exact = id;
        const uint16_t f = nodes_[id].flags;
        if ((f & f_ns) && (!self || !ds_query)) {
            res.delegation = id;
            break;
        }
        if ((f & f_dname) && !self) {
            res.dname = id;
            break;
        }
    }
    return res;
}

zone_data::node_id zone_data::nsec_covering(const dns::name& lower_name) const {
    if (nsec_nodes_.empty()) return npos;
    auto wire = lower_name.wire();
    auto it = std::upper_bound(nsec_nodes_.begin(), nsec_nodes_.end(), wire,
                               [&](std::span<const uint8_t> w, node_id id) {
                                   return dns::canonical_compare(w, node_owner(id)) < 0;
                               });
    if (it == nsec_nodes_.begin()) return nsec_nodes_.back();
    return *(it - 1);
}

dnssec::nsec3_hash_value zone_data::nsec3_hash(const dns::name& n) const {
    const auto& p = *nsec3_param_;
    return dnssec::nsec3_hash(n, p.iterations, p.salt);
}

const zone_data::nsec3_entry* zone_data::nsec3_match(const dnssec::nsec3_hash_value& h) const {
    auto it = std::lower_bound(nsec3_.begin(), nsec3_.end(), h,
                               [](const nsec3_entry& e, const auto& v) { return e.hash < v; });
    return it != nsec3_.end() && it->hash == h ? &*it : nullptr;
}

const zone_data::nsec3_entry* zone_data::nsec3_cover(const dnssec::nsec3_hash_value& h) const {
    if (nsec3_.empty()) return nullptr;
    auto it = std::lower_bound(nsec3_.begin(), nsec3_.end(), h,
                               [](const nsec3_entry& e, const auto& v) { return e.hash < v; });
    if (it == nsec3_.begin()) return &nsec3_.back();
    return &*(it - 1);
}

size_t zone_data::memory_overhead() const {
    return nodes_.capacity() * sizeof(node) + table_->capacity() * sizeof(uint32_t) +
           overlay_.capacity() * sizeof(uint32_t) + table_pieces_.capacity() * sizeof(table_piece) +
           nsec_nodes_.capacity() * sizeof(uint32_t) + nsec3_.capacity() * sizeof(nsec3_entry);
}

std::string zone_data::index_difference(const zone_data& other) const {
    auto at = [](const char* what, size_t i) {
        return std::string(what) + " " + std::to_string(i);
    };
    if (store_.size() != other.store_.size()) return "record count";
    if (nodes_.size() != other.nodes_.size())
        return "node count " + std::to_string(nodes_.size()) + " vs " +
               std::to_string(other.nodes_.size());
    for (size_t i = 0; i < nodes_.size(); ++i) {
        const node &a = nodes_[i], &b = other.nodes_[i];
        if (a.first != b.first || a.end != b.end || a.flags != b.flags ||
            !same_owner(node_owner(node_id(i)), other.node_owner(node_id(i))))
            return at("node", i) + " (" + node_name(node_id(i)).to_text() + ")";
        if (find(node_owner(node_id(i))) != i)
            return at("name table misses node", i) + " (" + node_name(node_id(i)).to_text() + ")";
    }
    if (nsec_nodes_ != other.nsec_nodes_) return "NSEC nodes";
    if (nsec3_.size() != other.nsec3_.size()) return "NSEC3 entry count";
    for (size_t i = 0; i < nsec3_.size(); ++i)
        if (nsec3_[i].hash != other.nsec3_[i].hash ||
            nsec3_[i].records.first != other.nsec3_[i].records.first ||
            nsec3_[i].records.end != other.nsec3_[i].records.end)
            return at("NSEC3 entry", i);
    if (serial_ != other.serial_ || signed_ != other.signed_ ||
        nsec3_param_.has_value() != other.nsec3_param_.has_value() ||
        negative_ttl_ != other.negative_ttl_)
        return "apex fields";
    return {};
}

}  // namespace hsync::zone
