#include "roles/auth/zone_data.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace hsync::auth {
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

void zone_data::add_node(uint32_t first, uint32_t end, uint16_t skip, uint16_t flags) {
    nodes_.push_back(node{first, end, skip, flags});
}

void zone_data::build() {
    const auto ow = origin_.wire();
    const size_t origin_labels = origin_.label_count();
    const uint32_t n = static_cast<uint32_t>(store_.size());
    struct nsec3_candidate {
        uint32_t first, end;
    };
    std::vector<nsec3_candidate> nsec3_names;
    uint16_t offs[128];

    uint32_t i = 0;
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
        if (any_nsec3 && labels == origin_labels + 1) nsec3_names.push_back({i, end});
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

    if (nodes_.empty() || !same_owner(node_owner(0), ow) || !(nodes_[0].flags & f_soa))
        throw zone_data_error("zone " + origin_.to_text() + " has no SOA at its apex");

    build_hash();

    auto soa_range = rrset(0, rr_type::SOA);
    soa_ = store_[soa_range.first].to_rr();
    const auto& rd = soa_.rdata;
    size_t pos = skip_name(rd, skip_name(rd, 0));
    if (pos + 20 != rd.size()) throw zone_data_error("malformed SOA at " + origin_.to_text());
    serial_ = be32(rd.data() + pos);
    negative_ttl_ = std::min(soa_.ttl, be32(rd.data() + pos + 16));
    signed_ = !rrsigs(0, rr_type::SOA).empty();

    for (uint32_t id = 0; id < nodes_.size(); ++id)
        if (nodes_[id].flags & f_nsec) nsec_nodes_.push_back(id);

    auto param_range = rrset(0, rr_type::NSEC3PARAM);
    for (uint32_t r = param_range.first; r < param_range.end && !nsec3_param_; ++r) {
        try {
            auto p = dnssec::nsec3_params::parse(store_[r].rdata);
            if (p.algorithm == dnssec::nsec3_sha1) nsec3_param_ = std::move(p);
        } catch (const dns::wire_error&) {
        }
    }
    if (nsec3_param_) {
        // Only NSEC3 records of the chain NSEC3PARAM names (RFC 5155 §7.2: a server uses
        // the parameters of NSEC3PARAM).
        for (const auto& c : nsec3_names) {
            auto owner = store_[c.first].owner;
            nsec3_entry e;
            if (!decode_hash_label(owner.subspan(1, owner[0]), e.hash)) continue;
            bool matches = false;
            for (uint32_t r = c.first; r < c.end; ++r) {
                auto v = store_[r];
                if (v.type != rr_type::NSEC3) continue;
                const auto& p = *nsec3_param_;
                auto d = v.rdata;
                if (d.size() >= 5 && d[0] == p.algorithm &&
                    (uint16_t(d[2] << 8 | d[3])) == p.iterations && d[4] == p.salt.size() &&
                    d.size() >= 5 + p.salt.size() &&
                    std::equal(p.salt.begin(), p.salt.end(), d.begin() + 5))
                    matches = true;
            }
            if (!matches) continue;
            e.records = {c.first, c.end};
            nsec3_.push_back(e);
        }
        std::sort(nsec3_.begin(), nsec3_.end(),
                  [](const nsec3_entry& a, const nsec3_entry& b) { return a.hash < b.hash; });
    }
}

void zone_data::build_hash() {
    size_t cap = std::bit_ceil(std::max<size_t>(16, nodes_.size() * 2));
    table_.assign(cap, npos);
    const size_t mask = cap - 1;
    for (uint32_t id = 0; id < nodes_.size(); ++id) {
        size_t slot = hash_wire(node_owner(id)) & mask;
        while (table_[slot] != npos)
            slot = (slot + 1) & mask;
        table_[slot] = id;
    }
}

std::span<const uint8_t> zone_data::node_owner(node_id id) const {
    const node& nd = nodes_[id];
    return store_[nd.first].owner.subspan(nd.skip);
}

zone_data::node_id zone_data::find(std::span<const uint8_t> lower_wire) const {
    const size_t mask = table_.size() - 1;
    size_t slot = hash_wire(lower_wire) & mask;
    for (;;) {
        node_id id = table_[slot];
        if (id == npos) return npos;
        if (same_owner(node_owner(id), lower_wire)) return id;
        slot = (slot + 1) & mask;
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
    return nodes_.capacity() * sizeof(node) + table_.capacity() * sizeof(uint32_t) +
           nsec_nodes_.capacity() * sizeof(uint32_t) + nsec3_.capacity() * sizeof(nsec3_entry);
}

}  // namespace hsync::auth
