// Zones in SQLite: per zone a base version (full content at one serial), a journal of
// IXFR differences (RFC 1995), and metadata (last refresh, last error, transfer source...).
//
// Model. The journal is the zone's history, one row per dns::zone_diff, each serial
// chaining to the next. The base is a snapshot taken at some point of that history: the
// entries up to it stay for IXFR out, the entries after it ("pending") are the changes
// since the snapshot. So the current zone is base + pending, and a caller that applied an
// UPDATE or an IXFR in writes only the difference (append_diff, fast, proportional to the
// change) and now and then a new snapshot (save_full) to keep the replay short.
//
// load() returns the base and the pending differences rather than applying them: applying
// is zone logic (zone::apply in zone/journal.h, above this layer), and keeping it
// there means one implementation of RFC 1995 semantics, not two.
//
// Every write is one transaction (a transaction of the caller's, if one is open, becomes a
// savepoint in it): after a crash the database holds the last committed state. Callers
// write a change here before they serve it (docs/architecture.md).
//
// Storage: the base as chunks of about 1 MiB, each a BLOB of records back to back in a
// simple wire encoding (owner name uncompressed, type, class, TTL, RDLENGTH, RDATA, as RFC
// 1035 §4.1.3 lays out an RR) behind a header with a CRC-32, so a 1M-record zone is ~100
// rows, and a damaged blob is reported (corruption_error), never served.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dns/name.h"
#include "dns/record_store.h"
#include "dns/zone_diff.h"
#include "store/database.h"

namespace hsync::store {

// Data in the database that does not decode: a damaged blob, a journal whose serials do
// not chain, a base with fewer records than recorded. The text names the zone and row.
class corruption_error : public store_error {
  public:
    using store_error::store_error;
};

// What load() returns: the zone is `base` with `pending` applied in order.
struct stored_zone {
    dns::record_store base;  // canonical order, as save_full was given it
    uint32_t base_serial = 0;
    std::vector<dns::zone_diff> pending;  // chained: base_serial -> ... -> serial
    uint32_t serial = 0;                  // the current serial
};

struct zone_info {
    dns::name zone;
    bool has_content = false;  // false: only metadata so far (e.g. a secondary never loaded)
    uint32_t serial = 0;       // current
    uint32_t base_serial = 0;
    uint64_t base_records = 0;
    uint64_t journal_entries = 0;  // all, including pending
    uint64_t journal_bytes = 0;
    uint64_t pending_entries = 0;  // after the base
};

struct journal_limits {
    uint64_t max_entries = UINT64_MAX;
    uint64_t max_bytes = UINT64_MAX;
};

class zone_db {
  public:
    struct options {
        // A base chunk is closed once it passes this size: big enough that a 1M-record
        // zone is ~100 rows, small enough that one chunk never strains memory.
        size_t chunk_bytes = size_t{1} << 20;
    };

    // Creates or upgrades the schema (component "zones").
    explicit zone_db(database& db) : zone_db(db, options{}) {}
    zone_db(database& db, const options& opts);

    enum class journal_mode {
        // Keep the journal if it ends at `serial` (the snapshot is of the journal's latest
        // version, so IXFR out from older serials still works); otherwise drop it, since
        // its differences no longer lead to this content.
        keep_if_chained,
        // Drop it always (e.g. the content changed without a serial change).
        truncate,
    };

    // Replaces the base of `zone` with `content` (must be in canonical order without
    // duplicates: record_store::sort(); else store_error) at `serial`. One transaction.
    void save_full(const dns::name& zone, const dns::record_store& content, uint32_t serial,
                   journal_mode mode = journal_mode::keep_if_chained);

    // Appends one difference; `change.from_serial` must be the current serial and
    // `change.to_serial` after it (RFC 1982), else store_error; the zone must have content.
    // One transaction: when it returns, the change is durable.
    void append_diff(const dns::name& zone, const dns::zone_diff& change);

    // Base and pending differences; empty if the zone has no content stored.
    // Throws corruption_error for damaged data.
    std::optional<stored_zone> load(const dns::name& zone);

    // The current serial; empty if the zone has no content.
    std::optional<uint32_t> serial(const dns::name& zone);

    // The differences from `serial` to the current serial, in order (for IXFR out,
    // RFC 1995 §4): an empty vector if `serial` is current; empty optional if the journal
    // does not reach back to `serial` (the caller falls back to AXFR).
    std::optional<std::vector<dns::zone_diff>> journal_since(const dns::name& zone,
                                                             uint32_t serial);

    // Drops the oldest journal entries until both limits hold. Only entries the base
    // already contains can go; pending ones are part of the current zone (save_full
    // first to trim further). Returns the number dropped.
    size_t trim_journal(const dns::name& zone, const journal_limits& limits);

    // Metadata per zone (last refresh time, last error, transfer source, ...). Setting
    // metadata of an unknown zone records the zone without content.
    void set_meta(const dns::name& zone, std::string_view key, std::string_view value);
    std::optional<std::string> meta(const dns::name& zone, std::string_view key);
    std::map<std::string, std::string> all_meta(const dns::name& zone);
    bool erase_meta(const dns::name& zone, std::string_view key);

    std::optional<zone_info> info(const dns::name& zone);
    std::vector<dns::name> list_zones();  // canonical order
    // Removes the zone, its journal and metadata; false if it was not there.
    bool delete_zone(const dns::name& zone);

    database& db() { return db_; }

  private:
    std::optional<int64_t> zone_id(const std::string& key);
    int64_t ensure_zone(const std::string& key);

    database& db_;
    options opts_;
};

// The encoding of records and differences in blobs, exposed for tests and tools.
namespace blob {
// `first`..`last` of `records` as one blob.
std::vector<uint8_t> encode_records(const dns::record_store& records, size_t first, size_t last);
// Appends the records of `data` to `out`; returns their number. Throws dns::wire_error.
size_t decode_records(std::span<const uint8_t> data, dns::record_store& out);
std::vector<uint8_t> encode_diff(const dns::zone_diff& change);
dns::zone_diff decode_diff(std::span<const uint8_t> data);  // throws dns::wire_error
}  // namespace blob

}  // namespace hsync::store
