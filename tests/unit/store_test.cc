// SQLite persistence: the database wrapper, zones with base + journal, key/value, damaged
// data, and a crash test that kills a writer with SIGKILL at random moments.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "dns/error.h"
#include "dns/record_store.h"
#include "dns/rr.h"
#include "dns/zone_diff.h"
#include "zone/journal.h"
#include "store/database.h"
#include "store/kv_store.h"
#include "store/zone_db.h"

using namespace hsync;
using store::corruption_error;
using store::database;
using store::kv_store;
using store::store_error;
using store::transaction;
using store::zone_db;

namespace {

// A fresh directory per test, removed afterwards.
class temp_dir {
  public:
    temp_dir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "hsync-store-XXXXXX").string();
        if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

  private:
    std::filesystem::path path_;
};

dns::rr rr_of(const std::string& text) {
    return dns::rr::from_text(text);
}

dns::rr soa(uint32_t serial) {
    return rr_of("example. 300 IN SOA ns.example. admin.example. " + std::to_string(serial) +
                 " 3600 900 604800 300");
}

const dns::name zone_name = dns::name::from_text("example.");

// `n` A records, built once per size (parsing text per record would dominate the tests).
const std::vector<dns::rr>& a_records(size_t n) {
    static std::map<size_t, std::vector<dns::rr>> cache;
    auto& v = cache[n];
    if (v.empty() && n > 0) {
        dns::rr r = rr_of("n0.example. 300 IN A 10.0.0.0");
        const dns::name suffix = dns::name::from_text("example.");
        for (size_t i = 0; i < n; ++i) {
            std::string label = "n" + std::to_string(i);
            r.owner = dns::name::from_text(label, &suffix);
            r.rdata = {10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8),
                       static_cast<uint8_t>(i)};
            v.push_back(r);
        }
    }
    return v;
}

// Canonical content: an SOA at `serial`, an NS and `n` A records.
dns::record_store make_zone(uint32_t serial, size_t n) {
    dns::record_store s;
    s.add(soa(serial));
    s.add(rr_of("example. 300 IN NS ns.example."));
    for (const auto& r : a_records(n))
        s.add(r);
    s.sort();
    return s;
}

// Field by field; names the first difference.
testing::AssertionResult same(const dns::record_store& a, const dns::record_store& b) {
    if (a.size() != b.size())
        return testing::AssertionFailure() << "sizes " << a.size() << " and " << b.size();
    for (size_t i = 0; i < a.size(); ++i) {
        auto x = a[i], y = b[i];
        if (!std::ranges::equal(x.owner, y.owner) || x.type != y.type || x.rclass != y.rclass ||
            x.ttl != y.ttl || !std::ranges::equal(x.rdata, y.rdata)) {
            std::string tx, ty;
            x.append_text(tx);
            y.append_text(ty);
            return testing::AssertionFailure() << "record " << i << ": " << tx << " vs " << ty;
        }
    }
    return testing::AssertionSuccess();
}

std::vector<std::string> texts(const std::vector<dns::rr>& rrs) {
    std::vector<std::string> out;
    for (const auto& r : rrs)
        out.push_back(r.to_text());
    return out;
}

// serial -> serial+1: new SOA, one TXT added, the one added five steps earlier removed.
dns::zone_diff step_diff(uint32_t serial) {
    dns::zone_diff d;
    d.from_serial = serial;
    d.to_serial = serial + 1;
    d.removed.push_back(soa(serial));
    if (serial > 5)
        d.removed.push_back(rr_of("h" + std::to_string(serial - 5) + ".example. 60 IN TXT \"" +
                                  std::to_string(serial - 5) + "\""));
    d.added.push_back(soa(serial + 1));
    d.added.push_back(rr_of("h" + std::to_string(serial) + ".example. 60 IN TXT \"" +
                            std::to_string(serial) + "\""));
    for (auto* v : {&d.removed, &d.added})
        for (auto& r : *v)
            r.canonicalize();
    return d;
}

// The zone after step_diff(1..serial-1) on make_zone(1, n).
dns::record_store content_at(uint32_t serial, size_t n) {
    dns::record_store out;
    out.add(soa(serial));
    out.add(rr_of("example. 300 IN NS ns.example."));
    for (const auto& r : a_records(n))
        out.add(r);
    for (uint32_t k = serial > 6 ? serial - 5 : 1; k < serial; ++k)
        out.add(
            rr_of("h" + std::to_string(k) + ".example. 60 IN TXT \"" + std::to_string(k) + "\""));
    out.sort();
    return out;
}

dns::record_store apply_all(const store::stored_zone& z) {
    dns::record_store cur = z.base;
    for (const auto& d : z.pending)
        cur = zone::apply(cur, d);
    return cur;
}

}  // namespace

// --- database ---

TEST(StoreDatabase, OpensWithWalAndFullSync) {
    temp_dir dir;
    database db(dir.file("a.db"));
    auto mode = db.prepare("PRAGMA journal_mode");
    ASSERT_TRUE(mode.step());
    EXPECT_EQ(mode.column_text(0), "wal");
    auto sync = db.prepare("PRAGMA synchronous");
    ASSERT_TRUE(sync.step());
    EXPECT_EQ(sync.column_int64(0), 2);  // FULL
    EXPECT_EQ(db.integrity_check(), "ok");
}

TEST(StoreDatabase, TypedBindAndColumns) {
    database db(":memory:");
    db.exec("CREATE TABLE t(i INTEGER, s TEXT, b BLOB, n)");
    const uint8_t bytes[] = {0, 1, 2, 255};
    auto ins = db.prepare("INSERT INTO t VALUES(?, ?, ?, ?)");
    ins.bind(1, int64_t{-5}).bind(2, "he\0llo").bind(3, std::span<const uint8_t>(bytes));
    ins.bind_null(4);
    ins.run();
    ins.reset();
    ins.bind(1, uint32_t{4000000000u})
        .bind(2, std::string("x"))
        .bind(3, std::span<const uint8_t>());
    ins.run();
    auto sel = db.prepare("SELECT i, s, b, n FROM t ORDER BY rowid");
    ASSERT_TRUE(sel.step());
    EXPECT_EQ(sel.column_int64(0), -5);
    EXPECT_THROW(sel.column_u32(0), store_error);
    EXPECT_EQ(sel.column_text(1), "he");  // a const char* binds up to its NUL
    auto b = sel.column_blob(2);
    EXPECT_EQ(std::vector<uint8_t>(b.begin(), b.end()), std::vector<uint8_t>({0, 1, 2, 255}));
    EXPECT_TRUE(sel.column_is_null(3));
    ASSERT_TRUE(sel.step());
    EXPECT_EQ(sel.column_u32(0), 4000000000u);
    EXPECT_FALSE(sel.column_is_null(2));  // an empty blob is not NULL
    EXPECT_TRUE(sel.column_blob(2).empty());
    EXPECT_FALSE(sel.step());
}

TEST(StoreDatabase, ErrorsNameTheStatement) {
    database db(":memory:");
    try {
        db.prepare("SELEC 1");
        FAIL() << "no error";
    } catch (const store_error& e) {
        EXPECT_NE(std::string(e.what()).find("SELEC 1"), std::string::npos) << e.what();
    }
    db.exec("CREATE TABLE u(k INTEGER PRIMARY KEY)");
    db.exec("INSERT INTO u VALUES(1)");
    auto st = db.prepare("INSERT INTO u VALUES(1)");
    EXPECT_THROW(st.run(), store_error);
}

TEST(StoreDatabase, TransactionRollsBackUnlessCommitted) {
    database db(":memory:");
    db.exec("CREATE TABLE t(v INTEGER)");
    auto count = [&] {
        auto st = db.prepare("SELECT count(*) FROM t");
        st.step();
        return st.column_int64(0);
    };
    {
        transaction txn(db);
        db.exec("INSERT INTO t VALUES(1)");
    }
    EXPECT_EQ(count(), 0);
    EXPECT_FALSE(db.in_transaction());
    try {
        transaction txn(db);
        db.exec("INSERT INTO t VALUES(1)");
        throw std::runtime_error("boom");
    } catch (const std::runtime_error&) {
    }
    EXPECT_EQ(count(), 0);
    {
        transaction txn(db);
        db.exec("INSERT INTO t VALUES(1)");
        txn.commit();
    }
    EXPECT_EQ(count(), 1);
    // Nested scopes are savepoints: the inner one rolls back alone.
    {
        transaction outer(db);
        db.exec("INSERT INTO t VALUES(2)");
        {
            transaction inner(db);
            db.exec("INSERT INTO t VALUES(3)");
        }
        {
            transaction inner(db);
            db.exec("INSERT INTO t VALUES(4)");
            inner.commit();
        }
        outer.commit();
    }
    EXPECT_EQ(count(), 3);
    // An inner commit is undone by the outer rollback.
    {
        transaction outer(db);
        {
            transaction inner(db);
            db.exec("INSERT INTO t VALUES(5)");
            inner.commit();
        }
    }
    EXPECT_EQ(count(), 3);
}

TEST(StoreDatabase, MigrationsRunOnceAndRefuseNewerSchemas) {
    temp_dir dir;
    const store::migration v1[] = {{1, "CREATE TABLE a(x)"}};
    const store::migration v2[] = {{1, "CREATE TABLE a(x)"}, {2, "ALTER TABLE a ADD COLUMN y"}};
    {
        database db(dir.file("m.db"));
        EXPECT_EQ(db.schema_version("c"), 0);
        db.migrate("c", v1);
        db.migrate("c", v1);  // again: nothing to do
        EXPECT_EQ(db.schema_version("c"), 1);
        db.migrate("c", v2);
        EXPECT_EQ(db.schema_version("c"), 2);
        db.exec("INSERT INTO a(x, y) VALUES(1, 2)");
        EXPECT_EQ(db.schema_version("other"), 0);
    }
    database db(dir.file("m.db"));
    EXPECT_THROW(db.migrate("c", v1), store_error);  // the file is newer than "this program"
    const store::migration bad[] = {{1, "CREATE TABLE b(x)"}, {2, "NOT SQL"}};
    EXPECT_THROW(db.migrate("d", bad), store_error);
    // Step 1 committed, step 2 not.
    EXPECT_EQ(db.schema_version("d"), 1);
}

TEST(StoreDatabase, RefusesAFileThatIsNotADatabase) {
    temp_dir dir;
    {
        FILE* f = std::fopen(dir.file("junk.db").c_str(), "w");
        ASSERT_TRUE(f);
        for (int i = 0; i < 100; ++i)
            std::fputs("this is not a database file at all\n", f);
        std::fclose(f);
    }
    try {
        database db(dir.file("junk.db"));
        FAIL() << "opened";
    } catch (const store_error& e) {
        EXPECT_NE(std::string(e.what()).find("junk.db"), std::string::npos) << e.what();
    }
    database::options ro;
    ro.create = false;
    EXPECT_THROW(database(dir.file("missing.db"), ro), store_error);
}

TEST(StoreDatabase, BusyWriterTimesOut) {
    temp_dir dir;
    database::options opts;
    opts.busy_timeout_ms = 50;
    database a(dir.file("b.db"), opts);
    database b(dir.file("b.db"), opts);
    a.exec("CREATE TABLE t(v)");
    transaction ta(a);
    a.exec("INSERT INTO t VALUES(1)");
    auto start = std::chrono::steady_clock::now();
    EXPECT_THROW(transaction tb(b), store_error);
    EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(40));
    // A reader still sees the last committed state (WAL).
    auto st = b.prepare("SELECT count(*) FROM t");
    ASSERT_TRUE(st.step());
    EXPECT_EQ(st.column_int64(0), 0);
}

// --- blob encoding ---

TEST(StoreBlob, RecordsRoundTrip) {
    auto zone = make_zone(7, 50);
    auto data = store::blob::encode_records(zone, 0, zone.size());
    dns::record_store back;
    EXPECT_EQ(store::blob::decode_records(data, back), zone.size());
    EXPECT_TRUE(same(back, zone));
}

TEST(StoreBlob, DiffRoundTrip) {
    auto d = step_diff(12);
    auto back = store::blob::decode_diff(store::blob::encode_diff(d));
    EXPECT_EQ(back.from_serial, 12u);
    EXPECT_EQ(back.to_serial, 13u);
    EXPECT_EQ(texts(back.removed), texts(d.removed));
    EXPECT_EQ(texts(back.added), texts(d.added));
}

TEST(StoreBlob, DamagedBlobsAreErrorsNotCrashes) {
    auto zone = make_zone(7, 20);
    auto good = store::blob::encode_records(zone, 0, zone.size());
    dns::record_store out;
    // Every single-byte change and every truncation is detected.
    for (size_t i = 0; i < good.size(); ++i) {
        auto bad = good;
        bad[i] ^= 0x5A;
        EXPECT_THROW(store::blob::decode_records(bad, out), hsync::dns::wire_error) << i;
        EXPECT_THROW(store::blob::decode_records(std::span(good).first(i), out),
                     hsync::dns::wire_error)
            << i;
    }
    auto diff = store::blob::encode_diff(step_diff(9));
    EXPECT_THROW(store::blob::decode_records(diff, out), hsync::dns::wire_error);  // wrong kind
    EXPECT_THROW(store::blob::decode_diff(good), hsync::dns::wire_error);
}

TEST(StoreBlob, HugeCountsAllocateNothing) {
    // A blob whose CRC is right but whose count is absurd: refused before any allocation.
    dns::zone_diff d;
    d.from_serial = 1;
    d.to_serial = 2;
    auto data = store::blob::encode_diff(d);
    // Body: from, to, removed count (0), added count (0). Set the removed count to 2^32-1
    // and fix the CRC by re-encoding through the same layout.
    std::vector<uint8_t> body(data.begin() + 6, data.end());
    body[8] = body[9] = body[10] = body[11] = 0xFF;
    uint32_t c = 0xFFFFFFFFu;
    for (uint8_t byte : body) {
        c ^= byte;
        for (int k = 0; k < 8; ++k)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    c = ~c;
    std::vector<uint8_t> bad = {data[0],
                                data[1],
                                static_cast<uint8_t>(c >> 24),
                                static_cast<uint8_t>(c >> 16),
                                static_cast<uint8_t>(c >> 8),
                                static_cast<uint8_t>(c)};
    bad.insert(bad.end(), body.begin(), body.end());
    try {
        store::blob::decode_diff(bad);
        FAIL() << "decoded";
    } catch (const hsync::dns::wire_error& e) {
        EXPECT_NE(std::string(e.what()).find("record count"), std::string::npos) << e.what();
    }
}

// --- zone_db ---

TEST(StoreZoneDb, SaveAndLoadAcrossReopen) {
    temp_dir dir;
    // Enough records for several 1 MiB chunks.
    auto zone = make_zone(42, 60000);
    {
        database db(dir.file("z.db"));
        zone_db zones(db);
        EXPECT_FALSE(zones.load(zone_name));
        EXPECT_FALSE(zones.serial(zone_name));
        zones.save_full(dns::name::from_text("EXAMPLE."), zone, 42);
    }
    database db(dir.file("z.db"));
    zone_db zones(db);
    auto got = zones.load(zone_name);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->serial, 42u);
    EXPECT_EQ(got->base_serial, 42u);
    EXPECT_TRUE(got->pending.empty());
    EXPECT_TRUE(same(got->base, zone));
    auto chunks = db.prepare("SELECT count(*) FROM zone_base");
    chunks.step();
    EXPECT_GT(chunks.column_int64(0), 1);
    auto info = zones.info(zone_name);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->base_records, zone.size());
    EXPECT_EQ(db.integrity_check(), "ok");
}

TEST(StoreZoneDb, EmptyZoneRoundTrips) {
    database db(":memory:");
    zone_db zones(db);
    zones.save_full(zone_name, dns::record_store(), 3);
    auto got = zones.load(zone_name);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->serial, 3u);
    EXPECT_TRUE(got->base.empty());
}

TEST(StoreZoneDb, RefusesUnsortedContent) {
    database db(":memory:");
    zone_db zones(db);
    dns::record_store s;
    s.add(rr_of("b.example. 300 IN A 192.0.2.1"));
    s.add(rr_of("a.example. 300 IN A 192.0.2.1"));
    EXPECT_THROW(zones.save_full(zone_name, s, 1), store_error);
    s.sort();
    zones.save_full(zone_name, s, 1);
    dns::record_store dup;
    dup.add(rr_of("a.example. 300 IN A 192.0.2.1"));
    dup.add(rr_of("a.example. 300 IN A 192.0.2.1"));
    EXPECT_THROW(zones.save_full(zone_name, dup, 2), store_error);
    EXPECT_EQ(*zones.serial(zone_name), 1u);  // nothing changed
}

TEST(StoreZoneDb, JournalChainsAndLoadReturnsPendingDiffs) {
    database db(":memory:");
    zone_db zones(db);
    EXPECT_THROW(zones.append_diff(zone_name, step_diff(1)), store_error);  // no content yet
    zones.save_full(zone_name, make_zone(1, 10), 1);
    for (uint32_t s = 1; s < 10; ++s)
        zones.append_diff(zone_name, step_diff(s));
    EXPECT_EQ(*zones.serial(zone_name), 10u);

    // Out of chain, or not forward: refused, nothing written.
    EXPECT_THROW(zones.append_diff(zone_name, step_diff(3)), store_error);
    auto back = step_diff(10);
    back.to_serial = 9;
    EXPECT_THROW(zones.append_diff(zone_name, back), store_error);
    EXPECT_EQ(*zones.serial(zone_name), 10u);

    auto got = zones.load(zone_name);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->base_serial, 1u);
    EXPECT_EQ(got->serial, 10u);
    ASSERT_EQ(got->pending.size(), 9u);
    for (uint32_t s = 1; s < 10; ++s) {
        EXPECT_EQ(got->pending[s - 1].from_serial, s);
        EXPECT_EQ(texts(got->pending[s - 1].added), texts(step_diff(s).added));
    }
    EXPECT_TRUE(same(apply_all(*got), content_at(10, 10)));
}

TEST(StoreZoneDb, JournalSinceForIxfrOut) {
    database db(":memory:");
    zone_db zones(db);
    zones.save_full(zone_name, make_zone(1, 10), 1);
    for (uint32_t s = 1; s < 8; ++s)
        zones.append_diff(zone_name, step_diff(s));
    auto all = zones.journal_since(zone_name, 1);
    ASSERT_TRUE(all);
    EXPECT_EQ(all->size(), 7u);
    auto tail = zones.journal_since(zone_name, 5);
    ASSERT_TRUE(tail);
    ASSERT_EQ(tail->size(), 3u);
    EXPECT_EQ(tail->front().from_serial, 5u);
    EXPECT_EQ(tail->back().to_serial, 8u);
    auto none = zones.journal_since(zone_name, 8);
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->empty());
    EXPECT_FALSE(zones.journal_since(zone_name, 100));  // unknown serial: AXFR instead
    EXPECT_FALSE(zones.journal_since(dns::name::from_text("other."), 1));
}

TEST(StoreZoneDb, SaveFullKeepsAChainedJournalAndDropsAnUnchainedOne) {
    database db(":memory:");
    zone_db zones(db);
    zones.save_full(zone_name, make_zone(1, 10), 1);
    for (uint32_t s = 1; s < 6; ++s)
        zones.append_diff(zone_name, step_diff(s));
    // Snapshot of serial 6: the journal leads there, so IXFR from 1 still works.
    zones.save_full(zone_name, content_at(6, 10), 6);
    auto got = zones.load(zone_name);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->base_serial, 6u);
    EXPECT_TRUE(got->pending.empty());
    ASSERT_TRUE(zones.journal_since(zone_name, 1));
    EXPECT_EQ(zones.journal_since(zone_name, 1)->size(), 5u);
    zones.append_diff(zone_name, step_diff(6));
    got = zones.load(zone_name);
    ASSERT_EQ(got->pending.size(), 1u);
    EXPECT_TRUE(same(apply_all(*got), content_at(7, 10)));

    // Trimming never drops pending entries; it drops the oldest history first.
    EXPECT_EQ(zones.trim_journal(zone_name, {.max_entries = 0}), 5u);
    EXPECT_EQ(zones.info(zone_name)->journal_entries, 1u);
    EXPECT_FALSE(zones.journal_since(zone_name, 5));
    ASSERT_TRUE(zones.journal_since(zone_name, 6));
    EXPECT_TRUE(same(apply_all(*zones.load(zone_name)), content_at(7, 10)));

    // A snapshot at an unrelated serial (a new AXFR): the journal no longer applies.
    zones.save_full(zone_name, make_zone(100, 3), 100);
    EXPECT_EQ(zones.info(zone_name)->journal_entries, 0u);
    EXPECT_FALSE(zones.journal_since(zone_name, 6));
    got = zones.load(zone_name);
    EXPECT_EQ(got->serial, 100u);
    EXPECT_TRUE(got->pending.empty());

    // Forced truncation even when chained.
    zones.append_diff(zone_name, step_diff(100));
    zones.save_full(zone_name, content_at(101, 3), 101, zone_db::journal_mode::truncate);
    EXPECT_FALSE(zones.journal_since(zone_name, 100));
}

TEST(StoreZoneDb, TrimByBytes) {
    database db(":memory:");
    zone_db zones(db);
    zones.save_full(zone_name, make_zone(1, 1), 1);
    for (uint32_t s = 1; s < 21; ++s)
        zones.append_diff(zone_name, step_diff(s));
    zones.save_full(zone_name, content_at(21, 1), 21);
    auto before = *zones.info(zone_name);
    EXPECT_EQ(before.journal_entries, 20u);
    uint64_t budget = before.journal_bytes / 4;
    size_t dropped = zones.trim_journal(zone_name, {.max_bytes = budget});
    auto after = *zones.info(zone_name);
    EXPECT_EQ(after.journal_entries, 20u - dropped);
    EXPECT_LE(after.journal_bytes, budget);
    EXPECT_GT(after.journal_entries, 0u);
    // What is left still chains to the current serial.
    auto since = zones.journal_since(zone_name, 21 - static_cast<uint32_t>(after.journal_entries));
    ASSERT_TRUE(since);
    EXPECT_EQ(since->size(), after.journal_entries);
}

TEST(StoreZoneDb, MetadataListAndDelete) {
    database db(":memory:");
    zone_db zones(db);
    auto other = dns::name::from_text("b.example.");
    // Metadata before content: a secondary that failed its first transfer.
    zones.set_meta(other, "last_error", "REFUSED from 192.0.2.1");
    EXPECT_EQ(*zones.meta(other, "last_error"), "REFUSED from 192.0.2.1");
    EXPECT_FALSE(zones.load(other));
    EXPECT_FALSE(zones.info(other)->has_content);
    zones.save_full(zone_name, make_zone(1, 1), 1);
    zones.set_meta(zone_name, "source", "192.0.2.53");
    zones.set_meta(zone_name, "source", "192.0.2.54");
    zones.set_meta(zone_name, "last_refresh", "1700000000");
    EXPECT_EQ(zones.all_meta(zone_name),
              (std::map<std::string, std::string>{{"last_refresh", "1700000000"},
                                                  {"source", "192.0.2.54"}}));
    EXPECT_TRUE(zones.erase_meta(zone_name, "source"));
    EXPECT_FALSE(zones.erase_meta(zone_name, "source"));
    EXPECT_FALSE(zones.meta(zone_name, "source"));

    auto list = zones.list_zones();
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[0], zone_name);
    EXPECT_EQ(list[1], other);

    zones.append_diff(zone_name, step_diff(1));
    EXPECT_TRUE(zones.delete_zone(zone_name));
    EXPECT_FALSE(zones.delete_zone(zone_name));
    EXPECT_FALSE(zones.load(zone_name));
    EXPECT_TRUE(zones.all_meta(zone_name).empty());
    for (const char* table : {"zone_base", "zone_journal"}) {
        auto st = db.prepare(std::string("SELECT count(*) FROM ") + table);
        st.step();
        EXPECT_EQ(st.column_int64(0), 0) << table;
    }
    EXPECT_EQ(zones.list_zones().size(), 1u);
}

TEST(StoreZoneDb, CorruptDataIsReportedWithItsPlace) {
    database db(":memory:");
    zone_db zones(db);
    zones.save_full(zone_name, make_zone(1, 100), 1);
    zones.append_diff(zone_name, step_diff(1));
    zones.append_diff(zone_name, step_diff(2));

    auto expect_corrupt = [&](const char* what) {
        try {
            zones.load(zone_name);
            ADD_FAILURE() << "loaded: " << what;
        } catch (const corruption_error& e) {
            EXPECT_NE(std::string(e.what()).find("example."), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
        }
    };
    // A flipped byte in a journal blob.
    db.exec(
        "UPDATE zone_journal SET data = substr(data, 1, 20) || x'00' || substr(data, 22)"
        " WHERE seq = 2");
    expect_corrupt("journal entry 2");
    EXPECT_THROW(zones.journal_since(zone_name, 1), corruption_error);
    // The journal row's serials disagreeing with the chain.
    db.exec("DELETE FROM zone_journal WHERE seq = 2");
    expect_corrupt("journal ends at serial 2");
    // A damaged base chunk.
    db.exec("UPDATE zone_base SET data = substr(data, 1, 100) || x'ff' || substr(data, 102)");
    expect_corrupt("base chunk 0");
    // A missing chunk.
    db.exec("DELETE FROM zone_base");
    expect_corrupt("base has 0 records");
    // Not a blob at all.
    db.exec("INSERT INTO zone_base(zone_id, chunk, data) SELECT id, 0, 'text' FROM zones");
    expect_corrupt("base chunk 0");
}

// --- kv_store ---

TEST(StoreKv, SetGetListErase) {
    database db(":memory:");
    kv_store kv(db);
    EXPECT_FALSE(kv.get("agent", "term"));
    kv.set("agent", "term", "7");
    kv.set("agent", "term", "8");
    kv.set("agent", "peer/a.example.", "KNOWN");
    kv.set("agent", "peer/b.example.", "NEEDED");
    kv.set("agent", "peer_", "x");  // '_' is no wildcard
    const uint8_t bin[] = {0, 1, 0, 255};
    kv.set("combiner", "blob", std::span<const uint8_t>(bin));
    EXPECT_EQ(*kv.get("agent", "term"), "8");
    EXPECT_EQ(*kv.get("combiner", "blob"), std::string("\0\1\0\xff", 4));
    auto peers = kv.list("agent", "peer/");
    ASSERT_EQ(peers.size(), 2u);
    EXPECT_EQ(peers[0].first, "peer/a.example.");
    EXPECT_EQ(peers[1].second, "NEEDED");
    EXPECT_EQ(kv.list("agent").size(), 4u);
    EXPECT_TRUE(kv.erase("agent", "term"));
    EXPECT_FALSE(kv.erase("agent", "term"));
    EXPECT_EQ(kv.erase_all("agent"), 3u);
    EXPECT_TRUE(kv.get("combiner", "blob"));
}

TEST(StoreKv, WritesJoinTheCallersTransaction) {
    database db(":memory:");
    kv_store kv(db);
    zone_db zones(db);
    {
        transaction txn(db);
        kv.set("agent", "step", "publish-dnskey");
        zones.save_full(zone_name, make_zone(1, 1), 1);
        // Not committed: both undone together.
    }
    EXPECT_FALSE(kv.get("agent", "step"));
    EXPECT_FALSE(zones.load(zone_name));
    {
        transaction txn(db);
        kv.set("agent", "step", "publish-dnskey");
        zones.save_full(zone_name, make_zone(1, 1), 1);
        txn.commit();
    }
    EXPECT_TRUE(kv.get("agent", "step"));
    EXPECT_TRUE(zones.load(zone_name));
}

// --- crash test ---

// A child writes differences (and now and then a full snapshot and a journal trim) in a
// loop and reports each committed serial on a pipe; the parent kills it with SIGKILL at
// a random moment, then checks the file is sound and holds exactly a committed state: the
// serial the child last reported, or one more (committed, killed before reporting).
// The next round continues from whatever survived.
TEST(StoreCrash, KillNineLeavesTheLastCommittedState) {
    temp_dir dir;
    const std::string path = dir.file("crash.db");
    const size_t base_records = 5000;
    // Small chunks, so a snapshot is many rows and a kill can land between them.
    const zone_db::options small_chunks{.chunk_bytes = 16 << 10};
    {
        database db(path);
        zone_db zones(db, small_chunks);
        zones.save_full(zone_name, make_zone(1, base_records), 1);
    }
    std::mt19937 rng(20240601);
    const int rounds = 10;
    uint32_t committed = 1;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    for (int round = 0; round < rounds && std::chrono::steady_clock::now() < deadline; ++round) {
        int fds[2];
        ASSERT_EQ(pipe(fds), 0);
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            close(fds[0]);
            int code = 0;
            try {
                database db(path);
                zone_db zones(db, small_chunks);
                uint32_t s = *zones.serial(zone_name);
                for (int i = 0; i < 100000; ++i) {
                    zones.append_diff(zone_name, step_diff(s));
                    ++s;
                    if (s % 4 == 0) {
                        zones.save_full(zone_name, content_at(s, base_records), s);
                        zones.trim_journal(zone_name, {.max_entries = 40});
                    }
                    if (write(fds[1], &s, sizeof s) != sizeof s) _exit(4);
                }
            } catch (const std::exception& e) {
                std::fprintf(stderr, "crash child: %s\n", e.what());
                code = 3;
            }
            _exit(code);
        }
        close(fds[1]);
        std::uniform_int_distribution<int> wait_ms(50, 700);
        std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms(rng)));
        kill(pid, SIGKILL);
        int status = 0;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        uint32_t reported = committed, v;
        while (read(fds[0], &v, sizeof v) == sizeof v)
            reported = v;
        close(fds[0]);
        ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
            << "the writer stopped by itself, status " << status;

        database db(path);
        ASSERT_EQ(db.integrity_check(), "ok") << "round " << round;
        zone_db zones(db);
        auto got = zones.load(zone_name);
        ASSERT_TRUE(got);
        EXPECT_TRUE(got->serial == reported || got->serial == reported + 1)
            << "round " << round << ": loaded serial " << got->serial << ", last reported "
            << reported;
        EXPECT_GE(got->serial, committed);
        EXPECT_TRUE(same(apply_all(*got), content_at(got->serial, base_records)))
            << "round " << round;
        // The history that is left still chains to the current serial.
        auto info = zones.info(zone_name);
        ASSERT_TRUE(info);
        if (info->journal_entries > 0) {
            auto since = zones.journal_since(
                zone_name, got->serial - static_cast<uint32_t>(info->journal_entries));
            ASSERT_TRUE(since) << "round " << round;
            EXPECT_EQ(since->size(), info->journal_entries);
        }
        std::printf(
            "[ crash    ] round %d: killed after serial %u, database at %u (base %u, "
            "%zu pending)\n",
            round, reported, got->serial, got->base_serial, got->pending.size());
        committed = got->serial;
    }
    EXPECT_GT(committed, 1u + rounds);  // the writer made progress in the rounds
}
