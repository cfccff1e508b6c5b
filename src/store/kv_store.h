// A small key/value table for roles' state that is not a zone: the combiner's agent data,
// an agent's process steps and peer relations (docs/protocol.md, §5: every step is persisted
// before it is acted on). Keys live in namespaces (one per role or subsystem); values are
// bytes (text, JSON or a blob, as the caller likes). Each write is one transaction, or a
// savepoint inside the caller's transaction when several must change together.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/database.h"

namespace hsync::store {

class kv_store {
  public:
    // Creates or upgrades the schema (component "kv").
    explicit kv_store(database& db);

    void set(std::string_view ns, std::string_view key, std::string_view value);
    void set(std::string_view ns, std::string_view key, std::span<const uint8_t> value);
    std::optional<std::string> get(std::string_view ns, std::string_view key);
    bool erase(std::string_view ns, std::string_view key);  // false if absent

    // Entries of `ns` whose key starts with `prefix`, in key order (bytewise).
    std::vector<std::pair<std::string, std::string>> list(std::string_view ns,
                                                          std::string_view prefix = {});
    size_t erase_all(std::string_view ns);

    database& db() { return db_; }

  private:
    database& db_;
};

}  // namespace hsync::store
