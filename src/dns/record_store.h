// A compact, append-only store of resource records for whole zones.
//
// Records live back to back in one arena in canonical form (RFC 4034 §6.2), so a zone of
// millions of records costs its wire size plus an index entry each, with no allocation per
// record. sort() puts them in canonical order (RFC 4034 §6.1 names, then class, type and
// RDATA as §6.3 says) and removes duplicates.
//
// Versions of a zone share storage: a copy shares the record bytes of the original (only
// the 8-octet index entries are copied), and edit() makes the next version from a few
// removals and insertions without copying any record. Records are never changed once
// shared, so versions can be read by several threads while a new one is made.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "dns/rr.h"

namespace hsync::dns {

struct record_view {
    std::span<const uint8_t> owner;  // uncompressed wire form, lower-cased
    uint16_t type;
    uint16_t rclass;
    uint32_t ttl;
    std::span<const uint8_t> rdata;  // canonical form
    uint32_t source;                 // caller's tag (e.g. file and line), kept for messages

    name owner_name() const { return name::from_wire(owner); }
    rr to_rr() const;
    void append_text(std::string& out) const;  // "owner TTL CLASS TYPE rdata"
};

class record_store {
  public:
    record_store() = default;
    // The copy shares the records; each side appends to storage of its own afterwards.
    record_store(const record_store& other);
    record_store& operator=(const record_store& other);
    // A moved-from store is empty and usable.
    record_store(record_store&& other) noexcept;
    record_store& operator=(record_store&& other) noexcept;

    // Appends a canonical copy of `record`; `source` is returned with it later.
    void add(const rr& record, uint32_t source = 0);
    // Appends a record taken from a record_store (or built in its canonical form): copied
    // as it is, without an rr in between (no allocation per record).
    void add(const record_view& record);

    // Canonical order; duplicates (same owner, class, type and RDATA) are dropped and their
    // count returned. Within an RRset (RRSIGs: per type covered) every record takes the TTL of the
    // RRset's first record as added (as BIND does when TTLs differ); `ttl_fixes` counts such
    // records.
    size_t sort(size_t* ttl_fixes = nullptr);

    // The next version of `base`: the records at positions `removed` (ascending) left out,
    // and each record of `inserted` put before base position `before` (ascending by
    // position, records in their final order). Base records are shared, not copied: cost
    // O(size) for the index (a memory copy) plus O(change). When storage no longer used by
    // the result (removed records, many small pieces) outgrows what it uses, the result
    // is compacted into fresh storage instead (O(size), rarely).
    struct insertion {
        uint32_t before;
        const rr* record;
    };
    static record_store edit(const record_store& base, std::span<const uint32_t> removed,
                             std::span<const insertion> inserted);

    size_t size() const { return index_.size(); }
    bool empty() const { return index_.empty(); }
    record_view operator[](size_t i) const;
    size_t arena_bytes() const { return bytes_; }          // the records' own octets
    size_t storage_bytes() const { return chunk_bytes_; }  // octets of the chunks it holds

  private:
    // Records are packed into chunks that never move once allocated (no copy of the whole
    // arena when it grows, so a zone's peak memory stays near its size). Chunks start
    // small, for the many small stores of a provider with many zones, and double up to
    // 1 MiB. An index entry is chunk number << 32 | offset in the chunk. Chunks are shared
    // between versions; only the store that made a chunk appends to it (chunks before
    // first_owned_ are read only here), and appending never touches octets already used.
    struct chunk {
        explicit chunk(size_t n) : data(new uint8_t[n]), capacity(n) {}
        std::unique_ptr<uint8_t[]> data;
        size_t capacity;
        size_t used = 0;  // read and written only by the store that owns the chunk
    };
    uint8_t* at(uint64_t ref) { return chunks_[ref >> 32]->data.get() + (ref & 0xFFFFFFFFu); }
    const uint8_t* at(uint64_t ref) const {
        return chunks_[ref >> 32]->data.get() + (ref & 0xFFFFFFFFu);
    }
    // Room for `need` octets in an owned chunk (a new one when the last is full or shared);
    // returns the index entry of the room.
    uint64_t reserve_room(size_t need);
    // The record of `ref` made writable: copied into an owned chunk first if shared.
    uint8_t* writable(uint64_t& ref);
    std::vector<std::shared_ptr<chunk>> chunks_;
    size_t first_owned_ = 0;
    size_t bytes_ = 0;        // octets of the indexed records
    size_t chunk_bytes_ = 0;  // capacity of all chunks held
    std::vector<uint64_t> index_;
};

}  // namespace hsync::dns
