// A compact, append-only store of resource records for whole zones.
//
// Records live back to back in one arena in canonical form (RFC 4034 §6.2), so a zone of
// millions of records costs its wire size plus an index entry each, with no allocation per
// record. sort() puts them in canonical order (RFC 4034 §6.1 names, then class, type and
// RDATA as §6.3 says) and removes duplicates.
#pragma once

#include <cstdint>
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

    size_t size() const { return index_.size(); }
    bool empty() const { return index_.empty(); }
    record_view operator[](size_t i) const;
    size_t arena_bytes() const { return bytes_; }

  private:
    // Records are packed into chunks that never move once allocated (no copy of the whole
    // arena when it grows, so a zone's peak memory stays near its size). Chunks start
    // small, for the many small stores of a provider with many zones, and double up to
    // 1 MiB. An index entry is chunk number << 32 | offset in the chunk.
    uint8_t* at(uint64_t ref) { return chunks_[ref >> 32].data() + (ref & 0xFFFFFFFFu); }
    const uint8_t* at(uint64_t ref) const {
        return chunks_[ref >> 32].data() + (ref & 0xFFFFFFFFu);
    }
    // The last chunk, or a new one when `need` more octets do not fit in it.
    std::vector<uint8_t>& chunk_for(size_t need);
    std::vector<std::vector<uint8_t>> chunks_;
    size_t bytes_ = 0;
    std::vector<uint64_t> index_;
};

}  // namespace hsync::dns
