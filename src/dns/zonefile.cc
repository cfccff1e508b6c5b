#include "dns/zonefile.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "dns/error.h"
#include "dns/rdata.h"
#include "dns/text.h"

namespace hsync::dns {

std::string zone_error::to_text() const {
    return file + ":" + std::to_string(line) + ": error: " + message;
}

zone_reader::zone_reader(std::string path, name origin, zone_options options)
    : path_(std::move(path)), origin_(origin), options_(std::move(options)) {}

zone_reader zone_reader::from_memory(std::string_view text, name origin, zone_options options,
                                     std::string label) {
    zone_reader r(std::move(label), origin, std::move(options));
    r.text_ = text;
    r.in_memory_ = true;
    return r;
}

namespace {

bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r';
}

bool ends_word(char c) {
    return is_blank(c) || c == '\n' || c == ';' || c == '(' || c == ')' || c == '"';
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'a' && x <= 'z') x = char(x - 32);
        if (y >= 'a' && y <= 'z') y = char(y - 32);
        if (x != y) return false;
    }
    return true;
}

// One logical record: the tokens of one line, or of several lines joined by parentheses
// (RFC 1035 §5.1). Token texts point into the scanned buffer.
struct scanned_record {
    std::vector<token> tokens;
    size_t consumed = 0;     // bytes up to and including the final newline
    size_t newlines = 0;     // lines the record spans
    bool has_owner = false;  // the first line does not start with a blank
    const char* error = nullptr;

    void fail(const char* why) {
        if (!error) error = why;
    }
};

enum class scan_status { complete, need_more };

// Scans one logical record at [begin, end). Without `eof`, returns need_more when the
// record may continue past `end`; the caller then supplies more bytes and scans again
// from the same start. Syntax errors are noted (first one wins) and the scan goes on to
// the record's end, so line numbers stay right and the next record is read normally.
scan_status scan_record(const char* begin, const char* end, bool eof, scanned_record& out) {
    out.tokens.clear();
    out.consumed = 0;
    out.newlines = 0;
    out.error = nullptr;
    if (begin == end && !eof) return scan_status::need_more;
    out.has_owner = begin != end && !is_blank(*begin) && *begin != '\n';
    int depth = 0;
    const char* p = begin;
    for (;;) {
        if (p == end) {
            if (!eof) return scan_status::need_more;
            if (depth > 0) out.fail("unbalanced '(': missing ')' before the end of the file");
            out.consumed = size_t(p - begin);
            return scan_status::complete;
        }
        char c = *p;
        if (is_blank(c)) {
            ++p;
        } else if (c == '\n') {
            ++p;
            ++out.newlines;
            if (depth == 0) {
                out.consumed = size_t(p - begin);
                return scan_status::complete;
            }
        } else if (c == ';') {
            // A comment runs to the end of the line; the newline itself still counts.
            const void* nl = std::memchr(p, '\n', size_t(end - p));
            if (!nl && !eof) return scan_status::need_more;
            p = nl ? static_cast<const char*>(nl) : end;
        } else if (c == '(') {
            ++depth;
            ++p;
        } else if (c == ')') {
            if (depth == 0)
                out.fail("unbalanced ')'");
            else
                --depth;
            ++p;
        } else if (c == '"') {
            // A quoted string ends at the next unescaped quote on the same line; it may hold
            // blanks, ';' and parentheses. Escapes stay for the field's parser.
            const char* q = p + 1;
            while (q < end && *q != '"' && *q != '\n') {
                if (*q == '\\' && q + 1 < end && q[1] != '\n')
                    q += 2;
                else
                    ++q;
            }
            if (q == end && !eof) return scan_status::need_more;
            if (q < end && *q == '"') {
                out.tokens.push_back(token{std::string_view(p + 1, size_t(q - p - 1)), true});
                p = q + 1;
            } else {
                out.fail("missing closing '\"'");
                out.tokens.push_back(token{std::string_view(p + 1, size_t(q - p - 1)), true});
                p = q;
            }
        } else {
            const char* q = p;
            while (q < end && !ends_word(*q)) {
                // A backslash escapes the next character (RFC 1035 §5.1), even a delimiter.
                if (*q == '\\' && q + 1 < end && q[1] != '\n')
                    q += 2;
                else if (*q == '\\' && q + 1 == end && !eof)
                    return scan_status::need_more;
                else
                    ++q;
            }
            if (q == end && !eof) return scan_status::need_more;
            out.tokens.push_back(token{std::string_view(p, size_t(q - p)), false});
            p = q;
        }
    }
}

// Follows the structure of a record that is too long to keep, byte by byte and across
// chunks, to find where it ends (the newline outside quotes and parentheses).
struct skipper {
    int depth = 0;
    bool quote = false, comment = false, escape = false;

    // Consumes bytes from p; true (p after the record's newline) when the record ended.
    bool feed(const char*& p, const char* end, size_t& line) {
        for (; p < end; ++p) {
            char c = *p;
            if (c == '\n') {
                ++line;
                comment = quote = escape = false;
                if (depth == 0) {
                    ++p;
                    return true;
                }
            } else if (comment) {
            } else if (escape) {
                escape = false;
            } else if (c == '\\') {
                escape = true;
            } else if (quote) {
                quote = c != '"';
            } else if (c == '"') {
                quote = true;
            } else if (c == ';') {
                comment = true;
            } else if (c == '(') {
                ++depth;
            } else if (c == ')' && depth > 0) {
                --depth;
            }
        }
        return false;
    }
};

// Where bytes come from: a file descriptor or a block of memory, both served in chunks.
struct source {
    std::string path;  // as shown in errors
    std::string dir;   // for relative $INCLUDE paths
    int fd = -1;
    std::string_view memory;
    size_t memory_pos = 0;

    ~source() {
        if (fd >= 0) ::close(fd);
    }

    size_t read(char* dst, size_t n) {
        if (fd < 0) {
            size_t k = std::min(n, memory.size() - memory_pos);
            if (k) std::memcpy(dst, memory.data() + memory_pos, k);
            memory_pos += k;
            return k;
        }
        for (;;) {
            ssize_t k = ::read(fd, dst, n);
            if (k >= 0) return size_t(k);
            if (errno == EINTR) continue;
            throw text_error("read error: " + std::string(std::strerror(errno)));
        }
    }
};

std::string dir_of(const std::string& path) {
    size_t slash = path.rfind('/');
    if (slash == std::string::npos) return {};
    return path.substr(0, slash + 1);
}

// RFC 6895 §3.1: OPT and the QTYPEs/meta-TYPEs 128-255 never appear in zone data.
bool is_meta_type(uint16_t type) {
    return type == rr_type::OPT || (type >= 128 && type <= 255);
}

class parser {
  public:
    parser(const zone_options& options, const zone_reader::record_fn& on_record,
           const zone_reader::error_fn& on_error,
           const zone_reader::located_record_fn* on_located = nullptr)
        : opt_(options), on_record_(on_record), on_error_(on_error), on_located_(on_located) {
        if (opt_.chunk_size == 0) opt_.chunk_size = 1;
        if (opt_.default_ttl != 0) {
            default_ttl_ = opt_.default_ttl;
            default_ttl_known_ = true;
        }
    }

    size_t errors() const { return errors_; }

    void run(source& src, const name& origin, unsigned depth) {
        origin_ = origin;
        struct stat st {};
        if (src.fd >= 0 && ::fstat(src.fd, &st) == 0)
            open_files_.emplace_back(st.st_dev, st.st_ino);
        read_source(src, depth);
        if (src.fd >= 0) open_files_.pop_back();
    }

  private:
    void error(const source& src, size_t line, std::string message) {
        ++errors_;
        on_error_(zone_error{src.path, line, std::move(message)});
    }

    void read_source(source& src, unsigned depth) {
        // Room for one chunk plus the longest record we accept that straddles it.
        std::vector<char> buf(opt_.chunk_size + opt_.max_record_bytes + 1);
        size_t begin = 0, end = 0;
        bool eof = false;
        bool skipping = false;  // discarding the rest of an over-long record
        skipper skip;
        size_t line = 1;
        scanned_record rec;
        for (;;) {
            if (skipping) {
                // Walk the rest of the over-long record by its structure (quotes, comments,
                // parentheses) without keeping it, so the next record starts where the
                // normal scan would have started it.
                const char* p = buf.data() + begin;
                const char* e = buf.data() + end;
                bool done = skip.feed(p, e, line);
                begin = size_t(p - buf.data());
                if (done) {
                    skipping = false;
                    continue;
                }
                begin = end = 0;
                if (eof) return;
                end = src.read(buf.data(), opt_.chunk_size);
                eof = end == 0;
                continue;
            }
            scan_status st = scan_record(buf.data() + begin, buf.data() + end, eof, rec);
            if (st == scan_status::need_more) {
                size_t partial = end - begin;
                if (partial > opt_.max_record_bytes) {
                    error(src, line,
                          "line or record longer than " + std::to_string(opt_.max_record_bytes) +
                              " bytes");
                    skip = skipper{};
                    skipping = true;
                    continue;
                }
                if (begin > 0) {
                    std::memmove(buf.data(), buf.data() + begin, partial);
                    begin = 0;
                    end = partial;
                }
                size_t k = src.read(buf.data() + end, opt_.chunk_size);
                end += k;
                eof = k == 0;
                continue;
            }
            if (rec.consumed == 0) return;  // end of input
            size_t start_line = line;
            line += rec.newlines;
            begin += rec.consumed;
            if (rec.consumed > opt_.max_record_bytes + 1) {
                error(src, start_line,
                      "line or record longer than " + std::to_string(opt_.max_record_bytes) +
                          " bytes");
                continue;
            }
            if (rec.error) {
                error(src, start_line, rec.error);
                continue;
            }
            if (rec.tokens.empty()) continue;
            try {
                where_ = {src.path, start_line};
                handle(src, rec, depth);
            } catch (const dns_error& e) {
                error(src, start_line, e.what());
            }
        }
    }

    void handle(const source& src, const scanned_record& rec, unsigned depth) {
        const auto& t = rec.tokens;
        if (rec.has_owner && !t[0].quoted && t[0].text.size() > 1 && t[0].text[0] == '$') {
            std::string_view d = t[0].text;
            if (iequals(d, "$ORIGIN")) {
                if (t.size() != 2) throw text_error("$ORIGIN takes exactly one domain name");
                // A relative $ORIGIN is taken relative to the current one (as BIND does).
                origin_ = name::from_text(t[1].text, &origin_);
            } else if (iequals(d, "$TTL")) {
                if (t.size() != 2) throw text_error("$TTL takes exactly one TTL");
                default_ttl_ = parse_ttl(t[1].text);
                default_ttl_known_ = true;
            } else if (iequals(d, "$INCLUDE")) {
                include(src, rec, depth);
            } else if (iequals(d, "$GENERATE")) {
                generate(rec);
            } else {
                throw text_error("unknown directive '" + std::string(d) + "'");
            }
            return;
        }
        size_t i = 0;
        if (rec.has_owner) {
            rr_.owner = name::from_text(t[0].text, &origin_);
            last_owner_ = rr_.owner;
            have_last_owner_ = true;
            i = 1;
        } else {
            if (!have_last_owner_)
                throw text_error("no owner name and no previous record to take it from");
            rr_.owner = last_owner_;
        }
        record_body(std::span<const token>(t).subspan(i), origin_);
        emit();
    }

    // `[TTL] [CLASS] TYPE RDATA` or `[CLASS] [TTL] TYPE RDATA` into rr_ (owner already set).
    void record_body(std::span<const token> t, const name& origin) {
        size_t i = 0;
        bool have_ttl = false, have_class = false;
        uint32_t ttl = 0;
        for (; i < t.size() && i < 2; ++i) {
            std::string_view s = t[i].text;
            uint16_t c;
            if (!have_class && !t[i].quoted && class_from_text(s, c)) {
                // A zone holds data of one class (RFC 1035 §5.2): ours is IN.
                if (c != rr_class::IN)
                    throw text_error("class '" + std::string(s) + "' is not the zone's class IN");
                have_class = true;
            } else if (!have_ttl && !s.empty() && s[0] >= '0' && s[0] <= '9') {
                ttl = parse_ttl(s);
                have_ttl = true;
            } else {
                break;
            }
        }
        if (i >= t.size()) throw text_error("missing RR type");
        uint16_t type;
        if (t[i].quoted || !type_from_text(t[i].text, type))
            throw text_error("unknown RR type '" + std::string(t[i].text) + "'");
        if (is_meta_type(type))
            throw text_error("meta type '" + std::string(t[i].text) + "' is not allowed in a zone");
        rr_.type = type;
        rr_.rclass = rr_class::IN;
        rr_.rdata.clear();
        rdata_from_text(type, t.subspan(i + 1), origin, rr_.rdata);

        // TTL when the record has none, as BIND 9.18 does: $TTL (or the caller's default)
        // if set; else the last explicit TTL (RFC 1035 §5.1 semantics); else, for the SOA,
        // its MINIMUM field, which then also becomes the default for the records after it
        // (RFC 2308 §4 made $TTL the way to say this); else the record is refused.
        if (have_ttl) {
            last_ttl_ = ttl;
            last_ttl_known_ = true;
        } else if (default_ttl_known_) {
            ttl = default_ttl_;
        } else if (last_ttl_known_) {
            ttl = last_ttl_;
        } else if (type == rr_type::SOA && rr_.rdata.size() >= 4) {
            const uint8_t* m = rr_.rdata.data() + rr_.rdata.size() - 4;
            ttl = uint32_t(m[0]) << 24 | uint32_t(m[1]) << 16 | uint32_t(m[2]) << 8 | m[3];
            default_ttl_ = ttl;
            default_ttl_known_ = true;
        } else {
            throw text_error("no TTL specified and no $TTL before this record");
        }
        rr_.ttl = ttl;
    }

    void include(const source& src, const scanned_record& rec, unsigned depth) {
        const auto& t = rec.tokens;
        if (!opt_.allow_include) throw text_error("$INCLUDE is not allowed here");
        if (t.size() < 2 || t.size() > 3)
            throw text_error("$INCLUDE takes a file name and an optional origin");
        if (depth + 1 > opt_.max_include_depth)
            throw text_error("$INCLUDE nested more than " + std::to_string(opt_.max_include_depth) +
                             " levels");
        name origin = t.size() == 3 ? name::from_text(t[2].text, &origin_) : origin_;
        std::string file(t[1].text);
        if (file.empty()) throw text_error("$INCLUDE with an empty file name");
        // A relative path is taken from the including file's directory, so a zone and its
        // parts can move together. (BIND 9.18 takes it from named's working directory.)
        if (file[0] != '/') file = src.dir + file;

        source inc;
        inc.path = file;
        inc.dir = dir_of(file);
        inc.fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
        if (inc.fd < 0)
            throw text_error("cannot open $INCLUDE file '" + file + "': " + std::strerror(errno));
        struct stat st {};
        if (::fstat(inc.fd, &st) != 0 || !S_ISREG(st.st_mode))
            throw text_error("$INCLUDE file '" + file + "' is not a regular file");
        for (const auto& [dev, ino] : open_files_)
            if (dev == st.st_dev && ino == st.st_ino)
                throw text_error("$INCLUDE loop: '" + file + "' is already being read");

        // RFC 1035 §5.1: the included file does not change the origin or the current owner
        // of the including file. TTL state carries over, as in BIND.
        struct restore {
            parser& p;
            name origin, owner;
            bool have_owner;
            ~restore() {
                p.open_files_.pop_back();
                p.origin_ = origin;
                p.last_owner_ = owner;
                p.have_last_owner_ = have_owner;
            }
        };
        open_files_.emplace_back(st.st_dev, st.st_ino);
        restore guard{*this, origin_, last_owner_, have_last_owner_};
        origin_ = origin;
        read_source(inc, depth + 1);
    }

    // Replaces `$` by the counter and `${offset[,width[,base]]}` by counter+offset printed
    // in base d, o, x or X, zero-padded to width. `\$` stays a literal (escaped) dollar.
    static void substitute(std::string_view tmpl, uint64_t value, std::string& out) {
        for (size_t i = 0; i < tmpl.size(); ++i) {
            char c = tmpl[i];
            if (c == '\\' && i + 1 < tmpl.size()) {
                out += c;
                out += tmpl[++i];
                continue;
            }
            if (c != '$') {
                out += c;
                continue;
            }
            int64_t offset = 0;
            unsigned width = 0;
            char base = 'd';
            if (i + 1 < tmpl.size() && tmpl[i + 1] == '{') {
                size_t close = tmpl.find('}', i + 2);
                if (close == std::string_view::npos)
                    throw text_error("$GENERATE: missing '}' in '" + std::string(tmpl) + "'");
                std::string spec(tmpl.substr(i + 2, close - i - 2));
                long long o = 0;
                unsigned w = 0;
                char b = 'd';
                char extra;
                int n = std::sscanf(spec.c_str(), "%lld,%u,%c%c", &o, &w, &b, &extra);
                if (n < 1 || n > 3 || o < -(1LL << 32) || o > (1LL << 32) || w > 64 ||
                    (b != 'd' && b != 'o' && b != 'x' && b != 'X'))
                    throw text_error("$GENERATE: bad modifier '${" + spec +
                                     "}' (want ${offset[,width[,base]]}, base d, o, x or X)");
                offset = o;
                width = w;
                base = b;
                i = close;
            }
            int64_t v = int64_t(value) + offset;
            if (v < 0) throw text_error("$GENERATE: offset makes the value negative");
            char fmt[8] = {'%', '0', '*', 'l', 'l', base, 0};
            char num[96];
            std::snprintf(num, sizeof num, fmt, int(width), static_cast<unsigned long long>(v));
            out += num;
        }
    }

    // BIND's `$GENERATE start-stop[/step] lhs [ttl] [class] type rhs`.
    void generate(const scanned_record& rec) {
        const auto& t = rec.tokens;
        if (t.size() < 5) throw text_error("$GENERATE wants: range lhs [ttl] [class] type rhs");
        std::string_view range = t[1].text;
        size_t dash = range.find('-');
        if (dash == std::string_view::npos)
            throw text_error("$GENERATE: range must be start-stop[/step]");
        size_t slash = range.find('/', dash);
        uint64_t start = parse_unsigned(range.substr(0, dash), UINT32_MAX, "$GENERATE start");
        uint64_t stop = parse_unsigned(
            range.substr(dash + 1, slash == std::string_view::npos ? std::string_view::npos
                                                                   : slash - dash - 1),
            UINT32_MAX, "$GENERATE stop");
        uint64_t step = slash == std::string_view::npos
                            ? 1
                            : parse_unsigned(range.substr(slash + 1), UINT32_MAX, "$GENERATE step");
        if (step == 0 || stop < start) throw text_error("$GENERATE: empty or backwards range");
        if ((stop - start) / step + 1 > opt_.max_generate)
            throw text_error("$GENERATE: more than " + std::to_string(opt_.max_generate) +
                             " records");
        // The fields between lhs and the rdata (ttl, class, type) are used as written.
        size_t type_at = 3;
        while (type_at < t.size() && type_at < 5) {
            uint16_t c;
            std::string_view s = t[type_at].text;
            if (class_from_text(s, c) || (!s.empty() && s[0] >= '0' && s[0] <= '9'))
                ++type_at;
            else
                break;
        }
        if (type_at + 1 >= t.size()) throw text_error("$GENERATE: missing type or rhs");

        std::string owner_text, body;
        scanned_record gen;
        for (uint64_t v = start; v <= stop; v += step) {
            owner_text.clear();
            substitute(t[2].text, v, owner_text);
            body.clear();
            for (size_t k = 3; k <= type_at; ++k) {
                body.append(t[k].text);
                body += ' ';
            }
            // The rhs is substituted and then read as presentation text, as BIND does.
            for (size_t k = type_at + 1; k < t.size(); ++k) {
                substitute(t[k].text, v, body);
                body += ' ';
            }
            scan_record(body.data(), body.data() + body.size(), true, gen);
            if (gen.error) throw text_error(std::string("$GENERATE: ") + gen.error);
            rr_.owner = name::from_text(owner_text, &origin_);
            record_body(gen.tokens, origin_);
            emit();
        }
    }

    void emit() {
        if (on_located_)
            (*on_located_)(rr_, where_);
        else
            on_record_(rr_);
    }

    zone_options opt_;
    const zone_reader::record_fn& on_record_;
    const zone_reader::error_fn& on_error_;
    const zone_reader::located_record_fn* on_located_;
    zone_position where_;  // the record being read
    size_t errors_ = 0;

    name origin_;
    name last_owner_;
    bool have_last_owner_ = false;
    uint32_t default_ttl_ = 0;
    bool default_ttl_known_ = false;
    uint32_t last_ttl_ = 0;
    bool last_ttl_known_ = false;
    rr rr_;
    std::vector<std::pair<dev_t, ino_t>> open_files_;
};

}  // namespace

size_t zone_reader::read(const record_fn& on_record, const error_fn& on_error) const {
    return run(on_record, on_error, nullptr);
}

size_t zone_reader::read_located(const located_record_fn& on_record,
                                 const error_fn& on_error) const {
    static const record_fn unused;
    return run(unused, on_error, &on_record);
}

size_t zone_reader::run(const record_fn& on_record, const error_fn& on_error,
                        const located_record_fn* on_located) const {
    parser p(options_, on_record, on_error, on_located);
    source src;
    src.path = path_;
    if (in_memory_) {
        src.memory = text_;
        src.dir = options_.base_dir;
        if (!src.dir.empty() && src.dir.back() != '/') src.dir += '/';
    } else {
        src.dir = dir_of(path_);
        src.fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
        if (src.fd < 0) {
            on_error(zone_error{path_, 0, "cannot open: " + std::string(std::strerror(errno))});
            return 1;
        }
    }
    try {
        p.run(src, origin_, 0);
    } catch (const dns_error& e) {
        // Only a read(2) failure gets here; records' errors are reported where they occur.
        on_error(zone_error{path_, 0, e.what()});
        return p.errors() + 1;
    }
    return p.errors();
}

}  // namespace hsync::dns
