// An immutable snapshot of one zone, indexed for answering queries (RFC 1034 §4.3.2).
//
// The records stay in their sorted dns::record_store (canonical order, so every owner's
// RRsets are contiguous and a name's descendants follow it). On top of it:
//  - a node per owner name and per empty non-terminal (RFC 8020 §2: they exist), in
//    canonical order, 12 octets each: first/end record and a few type flags;
//  - an open-addressing hash from the lower-cased owner to its node (4 octets a slot, at
//    most half full), so an exact match costs one hash and one compare;
//  - for NSEC zones, the nodes that own an NSEC (predecessor search for denial proofs);
//  - for NSEC3 zones (NSEC3PARAM at the apex), the NSEC3 records with the zone's
//    parameters sorted by hash (RFC 5155 §7.2).
// NSEC3 owners (<hash>.<zone>) are not nodes: they are not names of the zone (RFC 5155
// §7.2.8 answers for them as for any name that does not exist).
//
// Built once per zone version, or made from the previous version by next(), which rebuilds
// only the nodes around the change and copies the rest; read by any number of threads
// without locking.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dns/error.h"
#include "dns/name.h"
#include "dns/record_store.h"
#include "dns/rr.h"
#include "dnssec/nsec.h"
#include "zone/journal.h"

namespace hsync::zone {

// A zone that cannot be served (no SOA at the apex, too many records for the index).
class zone_data_error : public dns::dns_error {
  public:
    using dns::dns_error::dns_error;
};

// Records [first, end) of the record_store.
struct record_range {
    uint32_t first = 0;
    uint32_t end = 0;
    bool empty() const { return first == end; }
    size_t size() const { return end - first; }
};

class zone_data {
  public:
    using node_id = uint32_t;
    static constexpr node_id npos = UINT32_MAX;

    // `records` must be sorted (record_store::sort). Records outside `origin` are kept
    // (records() returns them) but never answered from. Throws zone_data_error without an
    // SOA at the apex.
    zone_data(dns::record_store records, const dns::name& origin);

    // The next version: `change` applied to base's records (journal.h apply(), sharing
    // them) and the indexes updated around the change: O(change log n) work plus copies
    // of the flat index arrays. A change of more than an eighth of the zone, or of the
    // NSEC3 parameters, is indexed from scratch. Throws journal_error if the change does
    // not fit, zone_data_error as the constructor does.
    static std::shared_ptr<const zone_data> next(const zone_data& base,
                                                 const dns::zone_diff& change);

    const dns::name& origin() const { return origin_; }
    uint32_t serial() const { return serial_; }
    const dns::rr& soa() const { return soa_; }
    // TTL for negative answers: min(SOA TTL, SOA MINIMUM) (RFC 2308 §3, §5).
    uint32_t negative_ttl() const { return negative_ttl_; }
    const dns::record_store& records() const { return store_; }

    // Signed = the apex SOA has an RRSIG. nsec3() = NSEC3PARAM at the apex with a usable
    // algorithm; then denial proofs use NSEC3, otherwise NSEC.
    bool is_signed() const { return signed_; }
    bool nsec3() const { return nsec3_param_.has_value(); }
    const dnssec::nsec3_params* nsec3_param() const {
        return nsec3_param_ ? &*nsec3_param_ : nullptr;
    }

    // --- Nodes (owner names and empty non-terminals, canonical order; node 0 = apex) ---
    size_t node_count() const { return nodes_.size(); }
    // The node of a name given in lower-cased uncompressed wire form, or npos.
    node_id find(std::span<const uint8_t> lower_wire) const;
    node_id find(const dns::name& n) const;  // any case
    std::span<const uint8_t> node_owner(node_id id) const;
    dns::name node_name(node_id id) const { return dns::name::from_wire(node_owner(id)); }
    record_range node_records(node_id id) const { return {nodes_[id].first, nodes_[id].end}; }
    bool is_empty_nonterminal(node_id id) const { return nodes_[id].first == nodes_[id].end; }
    bool has_type(node_id id, uint16_t type) const;
    // The RRset of `type` at the node (empty range if none).
    record_range rrset(node_id id, uint16_t type) const;
    // The RRSIG records at the node that cover `covered`.
    record_range rrsigs(node_id id, uint16_t covered) const;

    // The node of "*.<node>" or npos.
    node_id wildcard_of(node_id id) const;

    // Where a name falls in the zone (RFC 1034 §4.3.2 step 3), found walking down from
    // the apex. `name` must be lower-cased and at or below the origin.
    struct lookup_result {
        node_id exact = npos;             // the node of the name itself
        node_id closest_encloser = npos;  // deepest existing ancestor-or-self
        size_t encloser_labels = 0;       // its label count
        node_id delegation = npos;        // topmost zone cut strictly below the apex
        node_id dname = npos;             // topmost DNAME owner strictly above the name
    };
    // A zone cut at the name itself is a delegation unless `ds_query` (the DS RRset lives
    // on the parent side: RFC 4035 §3.1.4.1). Walking stops at the first cut or DNAME.
    lookup_result lookup(const dns::name& lower_name, bool ds_query) const;

    // The node whose NSEC matches or covers `lower_name` (the greatest NSEC owner not
    // after it, wrapping to the last), or npos if the zone has no NSEC chain.
    node_id nsec_covering(const dns::name& lower_name) const;

    // --- NSEC3 (RFC 5155) ---
    struct nsec3_entry {
        dnssec::nsec3_hash_value hash;
        record_range records;  // the NSEC3 and its RRSIGs at that owner
    };
    dnssec::nsec3_hash_value nsec3_hash(const dns::name& n) const;
    // The NSEC3 whose owner hash equals `h`, or nullptr.
    const nsec3_entry* nsec3_match(const dnssec::nsec3_hash_value& h) const;
    // The NSEC3 whose owner hash is the greatest below `h` (wrapping to the last): it
    // covers `h` unless `h` is itself an NSEC3 owner. nullptr if there is no chain.
    const nsec3_entry* nsec3_cover(const dnssec::nsec3_hash_value& h) const;
    size_t nsec3_count() const { return nsec3_.size(); }
    std::span<const nsec3_entry> nsec3_entries() const { return nsec3_; }  // by hash

    size_t memory_overhead() const;  // index bytes on top of the record_store

    // For tests and fuzzing: the first way this index differs from `other`'s, an index of
    // the same records built another way (next() against the constructor); empty if none.
    std::string index_difference(const zone_data& other) const;

  private:
    // flags bits
    static constexpr uint16_t f_ns = 1, f_soa = 2, f_cname = 4, f_dname = 8, f_ds = 16, f_nsec = 32,
                              f_rrsig = 64;
    struct node {
        uint32_t first;  // first record; for an empty non-terminal, a descendant's record
        uint32_t end;    // == first for an empty non-terminal
        uint16_t skip;   // octets of that record's owner before this node's name
        uint16_t flags;
    };

    zone_data(const zone_data& base, applied_change change);  // next()
    void build();
    // Nodes for records [from, to), appended after nodes_'s last (the walk's context).
    void build_nodes(uint32_t from, uint32_t to, std::vector<record_range>* nsec3_names);
    void read_apex();  // SOA fields, signed, NSEC3PARAM; zone_data_error without an SOA
    bool nsec3_entry_at(record_range owner_records, nsec3_entry& e) const;
    void add_node(uint32_t first, uint32_t end, uint16_t skip, uint16_t flags);
    void build_hash();

    dns::record_store store_;
    dns::name origin_;
    dns::rr soa_;
    uint32_t serial_ = 0;
    uint32_t negative_ttl_ = 0;
    bool signed_ = false;
    std::optional<dnssec::nsec3_params> nsec3_param_;

    std::vector<node> nodes_;
    // Owner name -> node: open addressing, npos = empty, size a power of two. Built for
    // this version (identity) or shared with the earlier version it was built for: then
    // its ids are that version's, mapped through table_pieces_ (ids in none: gone), and
    // nodes made since are in overlay_ (this version's ids), looked at first.
    struct table_piece {
        uint32_t begin, end;  // table ids [begin, end) are node ids + shift now
        int64_t shift;
    };
    std::shared_ptr<const std::vector<uint32_t>> table_;
    bool table_identity_ = true;
    std::vector<table_piece> table_pieces_;
    std::vector<uint32_t> overlay_;
    std::vector<uint32_t> nsec_nodes_;
    std::vector<nsec3_entry> nsec3_;
};

}  // namespace hsync::zone
