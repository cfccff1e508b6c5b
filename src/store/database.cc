#include "store/database.h"

#include <sqlite3.h>

#include <limits>
#include <utility>

namespace hsync::store {

// --- statement ---

statement::statement(statement&& other) noexcept
    : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)) {}

statement& statement::operator=(statement&& other) noexcept {
    if (this != &other) {
        sqlite3_finalize(stmt_);
        db_ = other.db_;
        stmt_ = std::exchange(other.stmt_, nullptr);
    }
    return *this;
}

statement::~statement() {
    sqlite3_finalize(stmt_);
}

void statement::check_bind(int rc, int index) {
    if (rc != SQLITE_OK)
        db_->fail(rc, "binding parameter " + std::to_string(index) + " of \"" + sqlite3_sql(stmt_) +
                          "\"");
}

statement& statement::bind(int index, int64_t value) {
    check_bind(sqlite3_bind_int64(stmt_, index, value), index);
    return *this;
}

statement& statement::bind(int index, std::string_view text) {
    if (text.size() > static_cast<size_t>(std::numeric_limits<int>::max()))
        throw store_error("text too long for the database");
    check_bind(sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()),
                                 SQLITE_TRANSIENT),
               index);
    return *this;
}

statement& statement::bind(int index, std::span<const uint8_t> blob) {
    // SQLITE_STATIC: the caller keeps the bytes alive; blobs here can be megabytes.
    // A zero-length blob must still be a BLOB, not NULL, hence the non-null pointer.
    static const uint8_t empty = 0;
    check_bind(sqlite3_bind_blob64(stmt_, index, blob.empty() ? &empty : blob.data(), blob.size(),
                                   SQLITE_STATIC),
               index);
    return *this;
}

statement& statement::bind_null(int index) {
    check_bind(sqlite3_bind_null(stmt_, index), index);
    return *this;
}

bool statement::step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    db_->fail(rc, std::string("running \"") + sqlite3_sql(stmt_) + "\"");
}

void statement::run() {
    while (step()) {
    }
}

void statement::reset() {
    sqlite3_reset(stmt_);
}

void statement::clear_bindings() {
    sqlite3_clear_bindings(stmt_);
}

int statement::column_count() const {
    return sqlite3_column_count(stmt_);
}

bool statement::column_is_null(int column) const {
    return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

int64_t statement::column_int64(int column) const {
    return sqlite3_column_int64(stmt_, column);
}

uint32_t statement::column_u32(int column) const {
    int64_t v = column_int64(column);
    if (v < 0 || v > int64_t{std::numeric_limits<uint32_t>::max()})
        throw store_error("value " + std::to_string(v) + " in column " + std::to_string(column) +
                          " of \"" + sqlite3_sql(stmt_) + "\" is not a 32-bit serial");
    return static_cast<uint32_t>(v);
}

std::string_view statement::column_text(int column) const {
    const auto* p = sqlite3_column_text(stmt_, column);
    int n = sqlite3_column_bytes(stmt_, column);
    if (!p) return {};
    return {reinterpret_cast<const char*>(p), static_cast<size_t>(n)};
}

std::span<const uint8_t> statement::column_blob(int column) const {
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, column));
    int n = sqlite3_column_bytes(stmt_, column);
    if (!p) return {};
    return {p, static_cast<size_t>(n)};
}

// --- database ---

database::database(const std::string& path) : database(path, options{}) {}

database::database(const std::string& path, const options& opts) : path_(path) {
    int flags = opts.read_only ? SQLITE_OPEN_READONLY
                               : SQLITE_OPEN_READWRITE | (opts.create ? SQLITE_OPEN_CREATE : 0);
    // One connection per thread at a time (see the header); SQLite's own mutexes are not
    // needed for that.
    flags |= SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
        sqlite3_close(db_);
        db_ = nullptr;
        throw store_error("cannot open database " + path + ": " + msg);
    }
    sqlite3_extended_result_codes(db_, 1);
    try {
        sqlite3_busy_timeout(db_, opts.busy_timeout_ms);
        // Refuse a file that is not a database now, with its name, instead of at the first
        // query somewhere else.
        exec("SELECT count(*) FROM sqlite_schema");
        if (!opts.read_only) {
            // WAL: readers never block the writer and a commit is one append + fsync.
            // synchronous=FULL: the WAL is synced at every commit, so a committed
            // transaction survives power loss, not only a killed process.
            auto st = prepare("PRAGMA journal_mode=WAL");
            std::string mode = st.step() ? std::string(st.column_text(0)) : "";
            if (mode != "wal" && path != ":memory:" && !path.empty())
                throw store_error("cannot put database " + path + " in WAL mode (got '" + mode +
                                  "')");
        }
        exec("PRAGMA synchronous=FULL");
        exec("PRAGMA foreign_keys=ON");
        // Keep the WAL file from staying at the size of the largest transaction (a full
        // zone can be hundreds of megabytes) after a checkpoint.
        exec("PRAGMA journal_size_limit=67108864");
    } catch (...) {
        sqlite3_close_v2(db_);
        db_ = nullptr;
        throw;
    }
}

database::~database() {
    // Statements are owned by their users and finalized before; close_v2 copes if not.
    sqlite3_close_v2(db_);
}

void database::fail(int rc, std::string_view what) const {
    std::string msg = "database " + path_ + ": " + std::string(what) + ": ";
    // The connection's message describes the last failing call, which is this one.
    msg += db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    msg += " (code " + std::to_string(rc) + ")";
    throw store_error(msg);
}

void database::exec(std::string_view sql) {
    std::string text(sql);
    char* err = nullptr;
    int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        std::string msg = err ? err : sqlite3_errstr(rc);
        sqlite3_free(err);
        throw store_error("database " + path_ + ": running \"" + text + "\": " + msg + " (code " +
                          std::to_string(rc) + ")");
    }
}

statement database::prepare(std::string_view sql) {
    if (sql.size() > static_cast<size_t>(std::numeric_limits<int>::max()))
        throw store_error("statement too long");
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
    if (rc != SQLITE_OK) fail(rc, "preparing \"" + std::string(sql) + "\"");
    return statement(*this, stmt);
}

int64_t database::last_insert_rowid() const {
    return sqlite3_last_insert_rowid(db_);
}

int64_t database::changes() const {
    return sqlite3_changes64(db_);
}

bool database::in_transaction() const {
    return sqlite3_get_autocommit(db_) == 0;
}

std::string database::integrity_check() {
    auto st = prepare("PRAGMA integrity_check");
    std::string out;
    while (st.step()) {
        if (!out.empty()) out += '\n';
        out += st.column_text(0);
    }
    return out;
}

int database::schema_version(std::string_view component) {
    exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " component TEXT NOT NULL, version INTEGER NOT NULL, applied_at INTEGER NOT NULL,"
        " PRIMARY KEY (component, version))");
    auto st = prepare("SELECT max(version) FROM schema_migrations WHERE component = ?");
    st.bind(1, component);
    if (!st.step() || st.column_is_null(0)) return 0;
    return static_cast<int>(st.column_int64(0));
}

void database::migrate(std::string_view component, std::span<const migration> steps) {
    int known = steps.empty() ? 0 : steps.back().version;
    for (size_t i = 1; i < steps.size(); ++i)
        if (steps[i].version <= steps[i - 1].version)
            throw store_error("schema steps of " + std::string(component) + " out of order");
    // Checked again inside each transaction: another process may migrate meanwhile.
    for (const auto& step : steps) {
        transaction txn(*this);
        int have = schema_version(component);
        if (have > known)
            throw store_error("database " + path_ + " has schema version " + std::to_string(have) +
                              " of " + std::string(component) +
                              ", newer than this program knows (" + std::to_string(known) +
                              "); refusing to use it");
        if (step.version <= have) continue;
        exec(step.sql);
        auto st = prepare(
            "INSERT INTO schema_migrations(component, version, applied_at)"
            " VALUES(?, ?, strftime('%s','now'))");
        st.bind(1, component).bind(2, step.version);
        st.run();
        txn.commit();
    }
    if (steps.empty() && schema_version(component) > 0)
        throw store_error("database " + path_ + " has a schema for " + std::string(component) +
                          " that this program does not know");
}

// --- transaction ---

transaction::transaction(database& db, kind k) : db_(db) {
    if (!db_.in_transaction()) {
        depth_ = 0;
        db_.exec(k == kind::write ? "BEGIN IMMEDIATE" : "BEGIN");
    } else {
        depth_ = ++db_.savepoint_depth_;
        try {
            db_.exec("SAVEPOINT hsync_sp" + std::to_string(depth_));
        } catch (...) {
            --db_.savepoint_depth_;
            throw;
        }
    }
}

transaction::~transaction() {
    if (!open_) return;
    try {
        rollback();
    } catch (...) {
        // Nothing sane to do in a destructor; SQLite rolls back on close anyway.
    }
}

void transaction::commit() {
    if (!open_) throw store_error("transaction already finished");
    if (depth_ == 0) {
        // On failure (e.g. disk full) the transaction stays open and the destructor rolls
        // it back.
        db_.exec("COMMIT");
    } else {
        db_.exec("RELEASE hsync_sp" + std::to_string(depth_));
        --db_.savepoint_depth_;
    }
    open_ = false;
}

void transaction::rollback() {
    if (!open_) return;
    open_ = false;
    if (depth_ == 0) {
        // SQLite may already have rolled back by itself (e.g. after SQLITE_FULL).
        if (db_.in_transaction()) db_.exec("ROLLBACK");
    } else {
        --db_.savepoint_depth_;
        std::string sp = "hsync_sp" + std::to_string(depth_);
        if (db_.in_transaction()) db_.exec("ROLLBACK TO " + sp + "; RELEASE " + sp);
    }
}

}  // namespace hsync::store
