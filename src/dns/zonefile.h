// The zone-file reader: RFC 1035 §5 master files as BIND 9.18 reads them.
//
// Directives: $ORIGIN (relative to the current origin), $TTL (with units), $INCLUDE file
// [origin] (path relative to the including file; origin and current owner are restored
// afterwards, RFC 1035 §5.1), $GENERATE (BIND's basic form). Records: `@`, relative
// owners, an omitted owner (line starting with blank = previous owner), TTL and class
// omitted or in either order, parentheses across lines, `;` comments, quoted strings.
// Only class IN (or CLASS1) is accepted.
//
// The file is read in fixed-size chunks and records are tokenized in place; only a record
// that straddles a chunk end is moved. Token and record buffers are reused, so the steady
// state does not allocate per record. A record (or line) longer than a limit is an error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "dns/name.h"
#include "dns/rr.h"

namespace hsync::dns {

// One bad record: where it starts and why it was refused.
struct zone_error {
    std::string file;
    size_t line = 0;  // the line the bad record starts on (1-based)
    std::string message;

    // `FILE:LINE: error: message`, the form compilers and named-checkzone use.
    std::string to_text() const;
};

// Where a record starts: the file ($INCLUDE'd or not) and its first line.
struct zone_position {
    std::string_view file;
    size_t line = 0;
};

struct zone_options {
    // TTL for records without one when no $TTL is in force; 0 = BIND's rule (see
    // zonefile.cc: SOA MINIMUM if the SOA has no TTL, else the last explicit TTL).
    uint32_t default_ttl = 0;
    size_t chunk_size = 1 << 20;          // bytes per read(2)
    size_t max_record_bytes = 64 * 1024;  // a longer line or record is an error
    unsigned max_include_depth = 16;      // nested $INCLUDE levels
    bool allow_include = true;            // false for untrusted input (fuzzing)
    uint32_t max_generate = 1 << 20;      // records one $GENERATE may produce
    // Directory for relative $INCLUDE paths of an in-memory zone ("" = the working dir).
    std::string base_dir;
};

class zone_reader {
  public:
    // The rr passed to on_record is reused between calls: copy what you keep.
    using record_fn = std::function<void(const rr&)>;
    using error_fn = std::function<void(const zone_error&)>;
    // With the record's position, for messages about good records (valid during the call).
    using located_record_fn = std::function<void(const rr&, const zone_position&)>;

    zone_reader(std::string path, name origin, zone_options options = {});

    // Reads a zone held in memory; `text` must outlive read(). `label` names it in errors.
    static zone_reader from_memory(std::string_view text, name origin, zone_options options = {},
                                   std::string label = "<memory>");

    // Calls on_record for every good record and on_error for every bad one (then goes on
    // with the next record). Returns the number of errors. A file that cannot be opened
    // is one error at line 0.
    size_t read(const record_fn& on_record, const error_fn& on_error) const;
    size_t read_located(const located_record_fn& on_record, const error_fn& on_error) const;

  private:
    size_t run(const record_fn& on_record, const error_fn& on_error,
               const located_record_fn* on_located) const;

    std::string path_;
    std::string_view text_;
    bool in_memory_ = false;
    name origin_;
    zone_options options_;
};

}  // namespace hsync::dns
