// A thin RAII layer over SQLite 3: one connection, prepared statements with typed bind and
// column access, transactions that roll back unless committed, and per-component schema
// migrations.
//
// Durability (docs/architecture.md: state is written before it is acted on): the connection runs
// in WAL mode with synchronous=FULL, so a COMMIT that returned is on disk, and a process
// killed at any moment leaves the database at its last committed transaction. A busy
// timeout lets two processes (hsyncd and a maintenance tool) share the file.
//
// A database object is used by one thread at a time; roles run it on their event loop.
//
//     store::database db("/var/lib/hsync/hsync.db");
//     {
//         store::transaction txn(db);
//         auto st = db.prepare("INSERT INTO kv(ns, key, value) VALUES(?, ?, ?)");
//         st.bind(1, "agent").bind(2, "term").bind(3, int64_t{7});
//         st.run();
//         txn.commit();  // without it, leaving the scope rolls back
//     }
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace hsync::store {

// Anything the store cannot do: SQLite errors (with SQLite's message and the statement),
// a database that is not ours or is newer than this program, data that does not fit.
class store_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

class database;

// A prepared statement. Parameters and columns are numbered as SQLite numbers them:
// bind() from 1, column_*() from 0. Spans and views returned by column_*() stay valid
// until the next step(), reset() or destruction.
class statement {
  public:
    statement(statement&& other) noexcept;
    statement& operator=(statement&& other) noexcept;
    statement(const statement&) = delete;
    statement& operator=(const statement&) = delete;
    ~statement();

    statement& bind(int index, int64_t value);
    statement& bind(int index, int value) { return bind(index, int64_t{value}); }
    statement& bind(int index, uint32_t value) { return bind(index, int64_t{value}); }
    statement& bind(int index, std::string_view text);
    statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
    statement& bind(int index, const std::string& text) {
        return bind(index, std::string_view(text));
    }
    // Binds a BLOB; the bytes must stay alive until the statement is stepped.
    statement& bind(int index, std::span<const uint8_t> blob);
    statement& bind_null(int index);

    // Advances: true while a row is available, false when done. Throws store_error.
    bool step();
    // Steps until done (for statements that return no rows).
    void run();
    // Makes the statement ready to run again; bindings stay unless cleared.
    void reset();
    void clear_bindings();

    int column_count() const;
    bool column_is_null(int column) const;
    int64_t column_int64(int column) const;
    // The column as an unsigned 32-bit value (serials); store_error if out of range.
    uint32_t column_u32(int column) const;
    std::string_view column_text(int column) const;
    std::span<const uint8_t> column_blob(int column) const;

  private:
    friend class database;
    statement(database& db, sqlite3_stmt* stmt) : db_(&db), stmt_(stmt) {}
    void check_bind(int rc, int index);

    database* db_;
    sqlite3_stmt* stmt_;
};

// One schema change of a component: applied once, in version order, inside the
// transaction that records it.
struct migration {
    int version;      // 1, 2, ... strictly increasing
    const char* sql;  // one or more statements
};

class database {
  public:
    struct options {
        int busy_timeout_ms = 5000;
        bool create = true;  // create the file if missing
        bool read_only = false;
    };

    // Opens (or creates) the database at `path` (":memory:" works for tests). Sets WAL
    // mode, synchronous=FULL and foreign keys on. Throws store_error.
    explicit database(const std::string& path);
    database(const std::string& path, const options& opts);
    database(const database&) = delete;
    database& operator=(const database&) = delete;
    ~database();

    const std::string& path() const { return path_; }

    // Runs SQL text (one or more statements, no parameters, rows ignored).
    void exec(std::string_view sql);
    statement prepare(std::string_view sql);

    int64_t last_insert_rowid() const;
    int64_t changes() const;  // rows changed by the last statement
    bool in_transaction() const;

    // PRAGMA integrity_check: "ok" when the file is sound, else SQLite's findings.
    std::string integrity_check();

    // Brings `component`'s schema to the last version of `steps`; each missing step runs
    // in its own transaction. A database whose recorded version for the component is newer
    // than this program knows is refused (store_error), never silently used.
    void migrate(std::string_view component, std::span<const migration> steps);
    // The recorded schema version of `component`; 0 if none.
    int schema_version(std::string_view component);

    sqlite3* handle() const { return db_; }

    // Throws store_error naming `what` and SQLite's current message, for `rc`.
    [[noreturn]] void fail(int rc, std::string_view what) const;

  private:
    friend class transaction;
    std::string path_;
    sqlite3* db_ = nullptr;
    int savepoint_depth_ = 0;
};

// A transaction scope: BEGIN IMMEDIATE (the write lock is taken at once, so a busy
// database fails here rather than at COMMIT; reads use a deferred BEGIN), or a SAVEPOINT when one
// is already open, so operations that are each one transaction compose into a larger one. Leaving
// the scope without commit() rolls back, also when an exception passes.
class transaction {
  public:
    enum class kind {
        write,  // BEGIN IMMEDIATE
        read,   // BEGIN (deferred): a consistent snapshot that never blocks the writer (WAL)
    };
    explicit transaction(database& db, kind k = kind::write);
    transaction(const transaction&) = delete;
    transaction& operator=(const transaction&) = delete;
    ~transaction();

    void commit();
    void rollback();

  private:
    database& db_;
    int depth_;  // 0: the outermost (BEGIN), else the savepoint number
    bool open_ = true;
};

}  // namespace hsync::store
