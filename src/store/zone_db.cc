#include "store/zone_db.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "dns/error.h"
#include "dns/wire.h"

namespace hsync::store {
namespace {

// --- blob encoding ---
//
// blob    = format u8 (1) | kind u8 | crc u32 (CRC-32 of everything after it) | body
// records = count u32 | record*       (kind 1)
// diff    = from u32 | to u32 | records (removed) | records (added)   (kind 2)
// record  = owner (uncompressed wire name) | type u16 | class u16 | ttl u32 | rdlength u16
//           | rdata
// Integers in network order, as everywhere in DNS.

constexpr uint8_t blob_format = 1;
constexpr uint8_t kind_records = 1;
constexpr uint8_t kind_diff = 2;
constexpr size_t header_size = 6;
constexpr size_t min_record_size = 1 + 10;  // root owner, fixed fields, empty rdata

// CRC-32 (the IEEE polynomial, reflected: 0xEDB88320), slicing by 4 bytes per step.
struct crc_tables {
    std::array<std::array<uint32_t, 256>, 4> t{};
    constexpr crc_tables() {
        for (uint32_t i = 0; i < 256; ++i) {
            uint32_t c = i;
            for (int k = 0; k < 8; ++k)
                c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[0][i] = c;
        }
        for (uint32_t i = 0; i < 256; ++i)
            for (size_t s = 1; s < 4; ++s)
                t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
    }
};
constexpr crc_tables crc_table{};

uint32_t crc32(std::span<const uint8_t> data) {
    const auto& t = crc_table.t;
    uint32_t c = 0xFFFFFFFFu;
    const uint8_t* p = data.data();
    size_t n = data.size();
    while (n >= 4) {
        c ^= static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
             static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
        c = t[3][c & 0xFF] ^ t[2][(c >> 8) & 0xFF] ^ t[1][(c >> 16) & 0xFF] ^ t[0][c >> 24];
        p += 4;
        n -= 4;
    }
    while (n--)
        c = t[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
    return ~c;
}

void put_u16(std::vector<uint8_t>& out, uint16_t v) {
    out.push_back(static_cast<uint8_t>(v >> 8));
    out.push_back(static_cast<uint8_t>(v));
}
void put_u32(std::vector<uint8_t>& out, uint32_t v) {
    put_u16(out, static_cast<uint16_t>(v >> 16));
    put_u16(out, static_cast<uint16_t>(v));
}
void patch_u32(std::vector<uint8_t>& out, size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i)
        out[at + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}

void begin_blob(std::vector<uint8_t>& out, uint8_t kind) {
    out.clear();
    out.push_back(blob_format);
    out.push_back(kind);
    put_u32(out, 0);  // crc, set by finish_blob
}
void finish_blob(std::vector<uint8_t>& out) {
    patch_u32(out, 2, crc32(std::span(out).subspan(header_size)));
}

void put_record(std::vector<uint8_t>& out, std::span<const uint8_t> owner, uint16_t type,
                uint16_t rclass, uint32_t ttl, std::span<const uint8_t> rdata) {
    out.insert(out.end(), owner.begin(), owner.end());
    put_u16(out, type);
    put_u16(out, rclass);
    put_u32(out, ttl);
    put_u16(out, static_cast<uint16_t>(rdata.size()));
    out.insert(out.end(), rdata.begin(), rdata.end());
}

void put_rrs(std::vector<uint8_t>& out, const std::vector<dns::rr>& rrs) {
    put_u32(out, static_cast<uint32_t>(rrs.size()));
    for (const auto& r : rrs) {
        if (r.rdata.size() > 0xFFFF) throw store_error("RDATA longer than 65535 octets");
        put_record(out, r.owner.wire(), r.type, r.rclass, r.ttl, r.rdata);
    }
}

// Checks the header and CRC; returns a reader positioned at the body.
dns::wire_reader open_blob(std::span<const uint8_t> data, uint8_t kind) {
    dns::wire_reader in(data);
    uint8_t format = in.u8();
    if (format != blob_format)
        throw dns::wire_error("unknown blob format " + std::to_string(format));
    uint8_t got_kind = in.u8();
    if (got_kind != kind)
        throw dns::wire_error("blob of kind " + std::to_string(got_kind) + " where kind " +
                              std::to_string(kind) + " was expected");
    uint32_t want = in.u32();
    if (crc32(data.subspan(header_size)) != want)
        throw dns::wire_error("checksum mismatch: the stored data is damaged");
    return in;
}

// Reads one record into `r`, reusing its storage (no allocation per record once warm).
void read_record(dns::wire_reader& in, dns::rr& r) {
    r.owner = in.read_name(false);
    r.type = in.u16();
    r.rclass = in.u16();
    r.ttl = in.u32();
    auto rdata = in.bytes(in.u16());
    r.rdata.assign(rdata.begin(), rdata.end());
}

std::vector<dns::rr> read_rrs(dns::wire_reader& in) {
    uint32_t count = in.u32();
    // The count comes from disk: never reserve more than the bytes left could hold.
    if (count > in.remaining() / min_record_size)
        throw dns::wire_error("record count " + std::to_string(count) +
                              " larger than the data holds");
    std::vector<dns::rr> out(count);
    for (auto& r : out)
        read_record(in, r);
    return out;
}

// Canonical order of two stored records (RFC 4034 §6.1, §6.3), as record_store::sort
// orders them: owner, class, type, RDATA octets.
int compare_records(const dns::record_view& a, const dns::record_view& b) {
    if (int c = dns::canonical_compare(a.owner, b.owner)) return c;
    if (a.rclass != b.rclass) return a.rclass < b.rclass ? -1 : 1;
    if (a.type != b.type) return a.type < b.type ? -1 : 1;
    size_t n = std::min(a.rdata.size(), b.rdata.size());
    if (n)
        if (int c = std::memcmp(a.rdata.data(), b.rdata.data(), n)) return c < 0 ? -1 : 1;
    if (a.rdata.size() != b.rdata.size()) return a.rdata.size() < b.rdata.size() ? -1 : 1;
    return 0;
}

std::string zone_key(const dns::name& zone) {
    return zone.canonical().to_text();
}

constexpr migration zone_schema[] = {
    {1,
     "CREATE TABLE zones ("
     "  id INTEGER PRIMARY KEY,"
     "  name TEXT NOT NULL UNIQUE,"  // canonical presentation form, absolute
     "  has_base INTEGER NOT NULL DEFAULT 0,"
     "  base_serial INTEGER NOT NULL DEFAULT 0,"
     "  base_seq INTEGER NOT NULL DEFAULT 0,"  // last journal seq the base contains
     "  base_records INTEGER NOT NULL DEFAULT 0,"
     "  base_chunks INTEGER NOT NULL DEFAULT 0,"
     "  serial INTEGER NOT NULL DEFAULT 0,"  // current: base + pending
     "  next_seq INTEGER NOT NULL DEFAULT 1);"
     "CREATE TABLE zone_base ("
     "  zone_id INTEGER NOT NULL REFERENCES zones(id) ON DELETE CASCADE,"
     "  chunk INTEGER NOT NULL,"
     "  data BLOB NOT NULL,"
     "  PRIMARY KEY (zone_id, chunk));"
     "CREATE TABLE zone_journal ("
     "  zone_id INTEGER NOT NULL REFERENCES zones(id) ON DELETE CASCADE,"
     "  seq INTEGER NOT NULL,"
     "  from_serial INTEGER NOT NULL,"
     "  to_serial INTEGER NOT NULL,"
     "  bytes INTEGER NOT NULL,"
     "  data BLOB NOT NULL,"
     "  PRIMARY KEY (zone_id, seq));"
     "CREATE INDEX zone_journal_from ON zone_journal(zone_id, from_serial);"
     "CREATE TABLE zone_meta ("
     "  zone_id INTEGER NOT NULL REFERENCES zones(id) ON DELETE CASCADE,"
     "  key TEXT NOT NULL,"
     "  value TEXT NOT NULL,"
     "  PRIMARY KEY (zone_id, key)) WITHOUT ROWID;"},
};

struct zone_row {
    int64_t id;
    bool has_base;
    uint32_t base_serial;
    int64_t base_seq;
    uint64_t base_records;
    int64_t base_chunks;
    uint32_t serial;
    int64_t next_seq;
};

std::optional<zone_row> read_zone_row(database& db, const std::string& key) {
    auto st = db.prepare(
        "SELECT id, has_base, base_serial, base_seq, base_records, base_chunks, serial,"
        " next_seq FROM zones WHERE name = ?");
    st.bind(1, key);
    if (!st.step()) return std::nullopt;
    zone_row z;
    z.id = st.column_int64(0);
    z.has_base = st.column_int64(1) != 0;
    z.base_serial = st.column_u32(2);
    z.base_seq = st.column_int64(3);
    z.base_records = static_cast<uint64_t>(st.column_int64(4));
    z.base_chunks = st.column_int64(5);
    z.serial = st.column_u32(6);
    z.next_seq = st.column_int64(7);
    return z;
}

struct journal_row {
    int64_t seq;
    uint32_t from;
    uint32_t to;
};

// Decodes a journal row, checking it against the serials its row records.
dns::zone_diff decode_journal_row(const std::string& key, const journal_row& row,
                                  std::span<const uint8_t> data) {
    std::string where = "zone " + key + ": journal entry " + std::to_string(row.seq) + " (serial " +
                        std::to_string(row.from) + " -> " + std::to_string(row.to) + ")";
    dns::zone_diff d;
    try {
        d = blob::decode_diff(data);
    } catch (const dns::dns_error& e) {
        throw corruption_error(where + ": " + e.what());
    }
    if (d.from_serial != row.from || d.to_serial != row.to)
        throw corruption_error(where + ": its data says serial " + std::to_string(d.from_serial) +
                               " -> " + std::to_string(d.to_serial));
    return d;
}

// Journal entries with seq >= `from_seq`, checked to chain from `start` serial.
std::vector<dns::zone_diff> read_journal(database& db, const std::string& key, int64_t id,
                                         int64_t from_seq, uint32_t start, uint32_t end) {
    auto st = db.prepare(
        "SELECT seq, from_serial, to_serial, data FROM zone_journal"
        " WHERE zone_id = ? AND seq >= ? ORDER BY seq");
    st.bind(1, id).bind(2, from_seq);
    std::vector<dns::zone_diff> out;
    uint32_t at = start;
    while (st.step()) {
        journal_row row{st.column_int64(0), st.column_u32(1), st.column_u32(2)};
        if (row.from != at)
            throw corruption_error("zone " + key + ": journal entry " + std::to_string(row.seq) +
                                   " starts at serial " + std::to_string(row.from) +
                                   " but the previous version is serial " + std::to_string(at));
        out.push_back(decode_journal_row(key, row, st.column_blob(3)));
        at = row.to;
    }
    if (at != end)
        throw corruption_error("zone " + key + ": journal ends at serial " + std::to_string(at) +
                               " but the zone's serial is " + std::to_string(end));
    return out;
}

}  // namespace

// --- blob ---

namespace blob {

std::vector<uint8_t> encode_records(const dns::record_store& records, size_t first, size_t last) {
    std::vector<uint8_t> out;
    begin_blob(out, kind_records);
    put_u32(out, static_cast<uint32_t>(last - first));
    for (size_t i = first; i < last; ++i) {
        auto v = records[i];
        put_record(out, v.owner, v.type, v.rclass, v.ttl, v.rdata);
    }
    finish_blob(out);
    return out;
}

size_t decode_records(std::span<const uint8_t> data, dns::record_store& out) {
    auto in = open_blob(data, kind_records);
    uint32_t count = in.u32();
    if (count > in.remaining() / min_record_size)
        throw dns::wire_error("record count " + std::to_string(count) +
                              " larger than the data holds");
    dns::rr r;
    for (uint32_t i = 0; i < count; ++i) {
        read_record(in, r);
        out.add(r);
    }
    if (!in.at_end()) throw dns::wire_error("trailing bytes after the records");
    return count;
}

std::vector<uint8_t> encode_diff(const dns::zone_diff& change) {
    std::vector<uint8_t> out;
    begin_blob(out, kind_diff);
    put_u32(out, change.from_serial);
    put_u32(out, change.to_serial);
    put_rrs(out, change.removed);
    put_rrs(out, change.added);
    finish_blob(out);
    return out;
}

dns::zone_diff decode_diff(std::span<const uint8_t> data) {
    auto in = open_blob(data, kind_diff);
    dns::zone_diff d;
    d.from_serial = in.u32();
    d.to_serial = in.u32();
    d.removed = read_rrs(in);
    d.added = read_rrs(in);
    if (!in.at_end()) throw dns::wire_error("trailing bytes after the difference");
    return d;
}

}  // namespace blob

// --- zone_db ---

zone_db::zone_db(database& db, const options& opts) : db_(db), opts_(opts) {
    db_.migrate("zones", zone_schema);
}

std::optional<int64_t> zone_db::zone_id(const std::string& key) {
    auto st = db_.prepare("SELECT id FROM zones WHERE name = ?");
    st.bind(1, key);
    if (!st.step()) return std::nullopt;
    return st.column_int64(0);
}

int64_t zone_db::ensure_zone(const std::string& key) {
    if (auto id = zone_id(key)) return *id;
    auto st = db_.prepare("INSERT INTO zones(name) VALUES(?)");
    st.bind(1, key);
    st.run();
    return db_.last_insert_rowid();
}

void zone_db::save_full(const dns::name& zone, const dns::record_store& content, uint32_t serial,
                        journal_mode mode) {
    std::string key = zone_key(zone);
    // Refuse what load() could not hand back as promised: sorted, no duplicates.
    for (size_t i = 1; i < content.size(); ++i)
        if (compare_records(content[i - 1], content[i]) >= 0)
            throw store_error("zone " + key + ": content to save is not in canonical order " +
                              "without duplicates (record " + std::to_string(i) + ")");

    transaction txn(db_);
    int64_t id = ensure_zone(key);
    auto row = read_zone_row(db_, key);

    // Keep the journal only if it leads to exactly this serial.
    int64_t base_seq = row->next_seq - 1;
    bool keep = false;
    if (mode == journal_mode::keep_if_chained && row->has_base) {
        auto st = db_.prepare(
            "SELECT seq, to_serial FROM zone_journal WHERE zone_id = ? ORDER BY seq DESC "
            "LIMIT 1");
        st.bind(1, id);
        keep = st.step() && st.column_u32(1) == serial && row->serial == serial;
    }
    if (!keep) {
        auto del = db_.prepare("DELETE FROM zone_journal WHERE zone_id = ?");
        del.bind(1, id);
        del.run();
    }

    auto del = db_.prepare("DELETE FROM zone_base WHERE zone_id = ?");
    del.bind(1, id);
    del.run();

    auto ins = db_.prepare("INSERT INTO zone_base(zone_id, chunk, data) VALUES(?, ?, ?)");
    std::vector<uint8_t> buf;
    int64_t chunks = 0;
    auto flush = [&](uint32_t count) {
        patch_u32(buf, header_size, count);
        finish_blob(buf);
        ins.reset();
        ins.bind(1, id).bind(2, chunks).bind(3, std::span<const uint8_t>(buf));
        ins.run();
        ++chunks;
    };
    uint32_t in_chunk = 0;
    begin_blob(buf, kind_records);
    put_u32(buf, 0);  // count, patched by flush
    for (size_t i = 0; i < content.size(); ++i) {
        auto v = content[i];
        put_record(buf, v.owner, v.type, v.rclass, v.ttl, v.rdata);
        if (++in_chunk, buf.size() >= opts_.chunk_bytes) {
            flush(in_chunk);
            in_chunk = 0;
            begin_blob(buf, kind_records);
            put_u32(buf, 0);
        }
    }
    if (in_chunk > 0 || chunks == 0) flush(in_chunk);

    auto upd = db_.prepare(
        "UPDATE zones SET has_base = 1, base_serial = ?, base_seq = ?, base_records = ?,"
        " base_chunks = ?, serial = ? WHERE id = ?");
    upd.bind(1, serial)
        .bind(2, base_seq)
        .bind(3, static_cast<int64_t>(content.size()))
        .bind(4, chunks)
        .bind(5, serial)
        .bind(6, id);
    upd.run();
    txn.commit();
}

void zone_db::append_diff(const dns::name& zone, const dns::zone_diff& change) {
    std::string key = zone_key(zone);
    auto data = blob::encode_diff(change);  // before the write lock: it can be large

    transaction txn(db_);
    auto row = read_zone_row(db_, key);
    if (!row || !row->has_base)
        throw store_error("zone " + key + ": no content stored to apply a difference to");
    if (change.from_serial != row->serial)
        throw store_error("zone " + key + ": difference from serial " +
                          std::to_string(change.from_serial) + " but the stored serial is " +
                          std::to_string(row->serial));
    if (!dns::serial_lt(change.from_serial, change.to_serial))
        throw store_error("zone " + key + ": difference to serial " +
                          std::to_string(change.to_serial) + " does not go forward from " +
                          std::to_string(change.from_serial) + " (RFC 1982)");

    auto ins = db_.prepare(
        "INSERT INTO zone_journal(zone_id, seq, from_serial, to_serial, bytes, data)"
        " VALUES(?, ?, ?, ?, ?, ?)");
    ins.bind(1, row->id)
        .bind(2, row->next_seq)
        .bind(3, change.from_serial)
        .bind(4, change.to_serial)
        .bind(5, static_cast<int64_t>(data.size()))
        .bind(6, std::span<const uint8_t>(data));
    ins.run();
    auto upd = db_.prepare("UPDATE zones SET serial = ?, next_seq = ? WHERE id = ?");
    upd.bind(1, change.to_serial).bind(2, row->next_seq + 1).bind(3, row->id);
    upd.run();
    txn.commit();
}

std::optional<stored_zone> zone_db::load(const dns::name& zone) {
    std::string key = zone_key(zone);
    // One read transaction: base and journal from the same committed state.
    transaction txn(db_, transaction::kind::read);
    auto row = read_zone_row(db_, key);
    if (!row || !row->has_base) return std::nullopt;

    stored_zone out;
    out.base_serial = row->base_serial;
    out.serial = row->serial;
    auto st = db_.prepare("SELECT chunk, data FROM zone_base WHERE zone_id = ? ORDER BY chunk");
    st.bind(1, row->id);
    int64_t expect_chunk = 0;
    uint64_t records = 0;
    while (st.step()) {
        int64_t chunk = st.column_int64(0);
        if (chunk != expect_chunk)
            throw corruption_error("zone " + key + ": base chunk " + std::to_string(expect_chunk) +
                                   " is missing");
        try {
            records += blob::decode_records(st.column_blob(1), out.base);
        } catch (const dns::dns_error& e) {
            throw corruption_error("zone " + key + ": base chunk " + std::to_string(chunk) + ": " +
                                   e.what());
        }
        ++expect_chunk;
    }
    if (expect_chunk != row->base_chunks || records != row->base_records)
        throw corruption_error("zone " + key + ": base has " + std::to_string(records) +
                               " records in " + std::to_string(expect_chunk) +
                               " chunks, expected " + std::to_string(row->base_records) + " in " +
                               std::to_string(row->base_chunks));
    out.pending = read_journal(db_, key, row->id, row->base_seq + 1, row->base_serial, row->serial);
    txn.commit();
    return out;
}

std::optional<uint32_t> zone_db::serial(const dns::name& zone) {
    auto row = read_zone_row(db_, zone_key(zone));
    if (!row || !row->has_base) return std::nullopt;
    return row->serial;
}

std::optional<std::vector<dns::zone_diff>> zone_db::journal_since(const dns::name& zone,
                                                                  uint32_t serial) {
    std::string key = zone_key(zone);
    transaction txn(db_, transaction::kind::read);
    auto row = read_zone_row(db_, key);
    if (!row || !row->has_base) return std::nullopt;
    if (serial == row->serial) return std::vector<dns::zone_diff>{};
    // The latest entry that starts at `serial` (after a wrap-around, RFC 1982, an old
    // serial could appear twice; the newest run is the one that leads here).
    auto st =
        db_.prepare("SELECT max(seq) FROM zone_journal WHERE zone_id = ? AND from_serial = ?");
    st.bind(1, row->id).bind(2, serial);
    if (!st.step() || st.column_is_null(0)) return std::nullopt;
    auto out = read_journal(db_, key, row->id, st.column_int64(0), serial, row->serial);
    txn.commit();
    return out;
}

size_t zone_db::trim_journal(const dns::name& zone, const journal_limits& limits) {
    std::string key = zone_key(zone);
    transaction txn(db_);
    auto row = read_zone_row(db_, key);
    if (!row) return 0;
    auto totals =
        db_.prepare("SELECT count(*), coalesce(sum(bytes), 0) FROM zone_journal WHERE zone_id = ?");
    totals.bind(1, row->id);
    totals.step();
    uint64_t entries = static_cast<uint64_t>(totals.column_int64(0));
    uint64_t bytes = static_cast<uint64_t>(totals.column_int64(1));

    auto st = db_.prepare(
        "SELECT seq, bytes FROM zone_journal WHERE zone_id = ? AND seq <= ? ORDER BY seq");
    st.bind(1, row->id).bind(2, row->base_seq);
    int64_t cut = -1;
    size_t dropped = 0;
    while ((entries > limits.max_entries || bytes > limits.max_bytes) && st.step()) {
        cut = st.column_int64(0);
        bytes -= static_cast<uint64_t>(st.column_int64(1));
        --entries;
        ++dropped;
    }
    if (cut >= 0) {
        auto del = db_.prepare("DELETE FROM zone_journal WHERE zone_id = ? AND seq <= ?");
        del.bind(1, row->id).bind(2, cut);
        del.run();
    }
    txn.commit();
    return dropped;
}

void zone_db::set_meta(const dns::name& zone, std::string_view key, std::string_view value) {
    transaction txn(db_);
    int64_t id = ensure_zone(zone_key(zone));
    auto st = db_.prepare(
        "INSERT INTO zone_meta(zone_id, key, value) VALUES(?, ?, ?)"
        " ON CONFLICT(zone_id, key) DO UPDATE SET value = excluded.value");
    st.bind(1, id).bind(2, key).bind(3, value);
    st.run();
    txn.commit();
}

std::optional<std::string> zone_db::meta(const dns::name& zone, std::string_view key) {
    auto st = db_.prepare(
        "SELECT value FROM zone_meta JOIN zones ON zones.id = zone_meta.zone_id"
        " WHERE zones.name = ? AND zone_meta.key = ?");
    st.bind(1, zone_key(zone)).bind(2, key);
    if (!st.step()) return std::nullopt;
    return std::string(st.column_text(0));
}

std::map<std::string, std::string> zone_db::all_meta(const dns::name& zone) {
    auto st = db_.prepare(
        "SELECT key, value FROM zone_meta JOIN zones ON zones.id = zone_meta.zone_id"
        " WHERE zones.name = ?");
    st.bind(1, zone_key(zone));
    std::map<std::string, std::string> out;
    while (st.step())
        out.emplace(st.column_text(0), st.column_text(1));
    return out;
}

bool zone_db::erase_meta(const dns::name& zone, std::string_view key) {
    auto id = zone_id(zone_key(zone));
    if (!id) return false;
    auto st = db_.prepare("DELETE FROM zone_meta WHERE zone_id = ? AND key = ?");
    st.bind(1, *id).bind(2, key);
    st.run();
    return db_.changes() > 0;
}

std::optional<zone_info> zone_db::info(const dns::name& zone) {
    std::string key = zone_key(zone);
    transaction txn(db_, transaction::kind::read);
    auto row = read_zone_row(db_, key);
    if (!row) return std::nullopt;
    zone_info z;
    z.zone = zone.canonical();
    z.has_content = row->has_base;
    z.serial = row->serial;
    z.base_serial = row->base_serial;
    z.base_records = row->base_records;
    auto st = db_.prepare(
        "SELECT count(*), coalesce(sum(bytes), 0), coalesce(sum(seq > ?), 0)"
        " FROM zone_journal WHERE zone_id = ?");
    st.bind(1, row->base_seq).bind(2, row->id);
    st.step();
    z.journal_entries = static_cast<uint64_t>(st.column_int64(0));
    z.journal_bytes = static_cast<uint64_t>(st.column_int64(1));
    z.pending_entries = static_cast<uint64_t>(st.column_int64(2));
    txn.commit();
    return z;
}

std::vector<dns::name> zone_db::list_zones() {
    auto st = db_.prepare("SELECT name FROM zones");
    std::vector<dns::name> out;
    while (st.step()) {
        std::string_view text = st.column_text(0);
        try {
            out.push_back(dns::name::from_text(text));
        } catch (const dns::dns_error& e) {
            throw corruption_error("zone name '" + std::string(text) +
                                   "' in the database: " + e.what());
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

bool zone_db::delete_zone(const dns::name& zone) {
    transaction txn(db_);
    auto id = zone_id(zone_key(zone));
    if (!id) return false;
    // Explicit deletes rather than relying on ON DELETE CASCADE alone: a connection opened
    // elsewhere without foreign_keys=ON must not leave orphans either.
    for (const char* sql :
         {"DELETE FROM zone_base WHERE zone_id = ?", "DELETE FROM zone_journal WHERE zone_id = ?",
          "DELETE FROM zone_meta WHERE zone_id = ?", "DELETE FROM zones WHERE id = ?"}) {
        auto st = db_.prepare(sql);
        st.bind(1, *id);
        st.run();
    }
    txn.commit();
    return true;
}

}  // namespace hsync::store
