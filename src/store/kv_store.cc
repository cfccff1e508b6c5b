#include "store/kv_store.h"

namespace hsync::store {
namespace {

constexpr migration kv_schema[] = {
    {1,
     "CREATE TABLE kv ("
     "  ns TEXT NOT NULL,"
     "  key BLOB NOT NULL,"
     "  value BLOB NOT NULL,"
     "  PRIMARY KEY (ns, key))"},
};

std::span<const uint8_t> bytes_of(std::string_view s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string string_of(std::span<const uint8_t> b) {
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

}  // namespace

kv_store::kv_store(database& db) : db_(db) {
    db_.migrate("kv", kv_schema);
}

void kv_store::set(std::string_view ns, std::string_view key, std::string_view value) {
    set(ns, key, bytes_of(value));
}

void kv_store::set(std::string_view ns, std::string_view key, std::span<const uint8_t> value) {
    // A single statement is its own transaction; inside the caller's, it joins it.
    auto st = db_.prepare(
        "INSERT INTO kv(ns, key, value) VALUES(?, ?, ?)"
        " ON CONFLICT(ns, key) DO UPDATE SET value = excluded.value");
    st.bind(1, ns).bind(2, bytes_of(key)).bind(3, value);
    st.run();
}

std::optional<std::string> kv_store::get(std::string_view ns, std::string_view key) {
    auto st = db_.prepare("SELECT value FROM kv WHERE ns = ? AND key = ?");
    st.bind(1, ns).bind(2, bytes_of(key));
    if (!st.step()) return std::nullopt;
    return string_of(st.column_blob(0));
}

bool kv_store::erase(std::string_view ns, std::string_view key) {
    auto st = db_.prepare("DELETE FROM kv WHERE ns = ? AND key = ?");
    st.bind(1, ns).bind(2, bytes_of(key));
    st.run();
    return db_.changes() > 0;
}

std::vector<std::pair<std::string, std::string>> kv_store::list(std::string_view ns,
                                                                std::string_view prefix) {
    // Keys are BLOBs, so comparisons are bytewise (memcmp) and a prefix range is exact:
    // substr() on the key avoids LIKE and its wildcards.
    auto st = db_.prepare(
        "SELECT key, value FROM kv WHERE ns = ? AND substr(key, 1, ?) = ? ORDER BY key");
    st.bind(1, ns).bind(2, static_cast<int64_t>(prefix.size())).bind(3, bytes_of(prefix));
    std::vector<std::pair<std::string, std::string>> out;
    while (st.step())
        out.emplace_back(string_of(st.column_blob(0)), string_of(st.column_blob(1)));
    return out;
}

size_t kv_store::erase_all(std::string_view ns) {
    auto st = db_.prepare("DELETE FROM kv WHERE ns = ?");
    st.bind(1, ns);
    st.run();
    return static_cast<size_t>(db_.changes());
}

}  // namespace hsync::store
