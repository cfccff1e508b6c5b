#include "dns/text.h"

#include <array>
#include <limits>

#include "dns/error.h"

namespace hsync::dns {
namespace {

// Error messages quote the offending text; a fuzzer or a broken file may hand us megabytes.
std::string shown(std::string_view text) {
    constexpr size_t limit = 64;
    std::string s = "'";
    if (text.size() > limit) {
        s.append(text.substr(0, limit));
        s += "...'";
    } else {
        s.append(text);
        s += '\'';
    }
    return s;
}

constexpr bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
constexpr bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

constexpr uint32_t max_u32 = std::numeric_limits<uint32_t>::max();

// Shortens `out` back to `keep` and throws: a failed parse leaves the output as it was.
template <typename Out>
[[noreturn]] void fail(Out& out, size_t keep, const std::string& message) {
    out.resize(keep);
    throw text_error(message);
}

// ---- escapes (RFC 1035 §5.1: \X is X, \DDD is the octet with decimal value DDD) ----

// Decodes the escape that starts at text[i] == '\\'; advances i past it.
uint8_t unescape_at(std::string_view text, size_t& i) {
    if (i + 1 >= text.size()) throw text_error("lone backslash at the end of " + shown(text));
    char c = text[i + 1];
    if (!is_digit(c)) {
        i += 2;
        return static_cast<uint8_t>(c);
    }
    if (i + 3 >= text.size() || !is_digit(text[i + 2]) || !is_digit(text[i + 3]))
        throw text_error("bad \\DDD escape (three decimal digits needed) in " + shown(text));
    unsigned value = (c - '0') * 100 + (text[i + 2] - '0') * 10 + (text[i + 3] - '0');
    if (value > 255) throw text_error("\\DDD escape above 255 in " + shown(text));
    i += 4;
    return static_cast<uint8_t>(value);
}

// Appends the unescaped bytes of `text`; returns how many were appended.
size_t unescape_into(std::string_view text, std::vector<uint8_t>& out) {
    size_t before = out.size();
    size_t i = 0;
    while (i < text.size()) {
        size_t run = i;
        while (run < text.size() && text[run] != '\\')
            ++run;
        out.insert(out.end(), text.begin() + i, text.begin() + run);
        i = run;
        if (i < text.size()) out.push_back(unescape_at(text, i));
    }
    return out.size() - before;
}

// ---- civil dates (proleptic Gregorian, UTC; no libc time zone state) ----

constexpr bool is_leap(int64_t y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

constexpr unsigned days_in_month(int64_t y, unsigned m) {
    constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

// Days from 1970-01-01 to y-m-d. Counts in 400-year eras (146097 days each) of years that
// start on March 1st, so that the leap day is the last day of its year.
constexpr int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    int64_t year = m <= 2 ? y - 1 : y;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    int64_t year_of_era = year - era * 400;                          // [0, 399]
    int64_t month_from_march = m > 2 ? m - 3 : m + 9;                // [0, 11]
    int64_t day_of_year = (153 * month_from_march + 2) / 5 + d - 1;  // [0, 365]
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;  // 719468: 0000-03-01 to 1970-01-01
}

struct civil {
    int64_t year;
    unsigned month, day;
};

// Inverse of days_from_civil, for days >= 0 (all that a u32 of seconds can reach).
constexpr civil civil_from_days(int64_t days) {
    int64_t z = days + 719468;
    int64_t era = z / 146097;
    int64_t day_of_era = z - era * 146097;  // [0, 146096]
    int64_t year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    int64_t mp = (5 * day_of_year + 2) / 153;  // month counted from March, [0, 11]
    unsigned d = static_cast<unsigned>(day_of_year - (153 * mp + 2) / 5 + 1);
    unsigned m = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
    int64_t y = year_of_era + era * 400 + (m <= 2 ? 1 : 0);
    return {y, m, d};
}

static_assert(days_from_civil(1970, 1, 1) == 0);
static_assert(days_from_civil(2000, 3, 1) == 11017);
static_assert(civil_from_days(11016).month == 2 && civil_from_days(11016).day == 29);

unsigned digits_value(std::string_view s) {
    unsigned v = 0;
    for (char c : s)
        v = v * 10 + (c - '0');
    return v;
}

// ---- base16/32/64 tables ----

constexpr char hex_upper[] = "0123456789ABCDEF";
constexpr char hex_lower[] = "0123456789abcdef";
constexpr char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char b32hex_alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUV";

constexpr uint8_t bad = 0xff;

constexpr std::array<uint8_t, 256> make_hex_table() {
    std::array<uint8_t, 256> t{};
    for (auto& v : t)
        v = bad;
    for (int i = 0; i < 10; ++i)
        t['0' + i] = static_cast<uint8_t>(i);
    for (int i = 0; i < 6; ++i) {
        t['a' + i] = static_cast<uint8_t>(10 + i);
        t['A' + i] = static_cast<uint8_t>(10 + i);
    }
    return t;
}

constexpr std::array<uint8_t, 256> make_b64_table() {
    std::array<uint8_t, 256> t{};
    for (auto& v : t)
        v = bad;
    for (int i = 0; i < 64; ++i)
        t[static_cast<uint8_t>(b64_alphabet[i])] = static_cast<uint8_t>(i);
    return t;
}

constexpr std::array<uint8_t, 256> make_b32hex_table() {
    std::array<uint8_t, 256> t{};
    for (auto& v : t)
        v = bad;
    for (int i = 0; i < 32; ++i) {
        char c = b32hex_alphabet[i];
        t[static_cast<uint8_t>(c)] = static_cast<uint8_t>(i);
        if (c >= 'A' && c <= 'Z') t[static_cast<uint8_t>(c + 32)] = static_cast<uint8_t>(i);
    }
    return t;
}

constexpr auto hex_table = make_hex_table();
constexpr auto b64_table = make_b64_table();
constexpr auto b32hex_table = make_b32hex_table();

}  // namespace

// ---- tokens ----

std::vector<token> tokenize_line(std::string_view line) {
    std::vector<token> tokens;
    size_t i = 0;
    const size_t n = line.size();
    while (i < n) {
        char c = line[i];
        if (is_blank(c)) {
            ++i;
            continue;
        }
        if (c == ';') break;  // comment to the end of the line (RFC 1035 §5.1)
        if (c == '"') {
            size_t start = ++i;
            while (i < n && line[i] != '"')
                i += line[i] == '\\' ? 2 : 1;
            if (i >= n)
                throw text_error("missing closing quote in " + shown(line.substr(start - 1)));
            tokens.push_back({line.substr(start, i - start), true});
            ++i;  // past the closing quote
            continue;
        }
        size_t start = i;
        while (i < n && !is_blank(line[i]) && line[i] != ';')
            i += line[i] == '\\' ? 2 : 1;
        if (i > n) i = n;  // a backslash as the very last character; its field parser rejects it
        tokens.push_back({line.substr(start, i - start), false});
    }
    return tokens;
}

// ---- numbers ----

uint64_t parse_unsigned(std::string_view text, uint64_t max, std::string_view what) {
    if (text.empty()) throw text_error("empty " + std::string(what));
    uint64_t value = 0;
    for (char c : text) {
        if (!is_digit(c))
            throw text_error("bad " + std::string(what) + " " + shown(text) +
                             ": not a decimal number");
        unsigned d = c - '0';
        if (d > max || value > (max - d) / 10)
            throw text_error(std::string(what) + " " + shown(text) + " is above " +
                             std::to_string(max));
        value = value * 10 + d;
    }
    return value;
}

uint32_t parse_ttl(std::string_view text) {
    if (text.empty()) throw text_error("empty TTL");
    bool plain = true;
    for (char c : text)
        plain = plain && is_digit(c);
    if (plain) return static_cast<uint32_t>(parse_unsigned(text, max_u32, "TTL"));
    // BIND's unit form: one or more <number><unit>, units in any order and case.
    uint64_t total = 0;
    size_t i = 0;
    while (i < text.size()) {
        size_t start = i;
        uint64_t number = 0;
        while (i < text.size() && is_digit(text[i])) {
            number = number * 10 + (text[i] - '0');
            if (number > max_u32) throw text_error("TTL " + shown(text) + " is above 4294967295");
            ++i;
        }
        if (i == start)
            throw text_error("bad TTL " + shown(text) + ": expected <number><w|d|h|m|s>...");
        // `1h30` is refused, as BIND 9.18 refuses it: the last number needs a unit too.
        if (i == text.size())
            throw text_error("bad TTL " + shown(text) + ": number without a unit at the end");
        uint64_t unit;
        switch (text[i] | 0x20) {  // any case
            case 'w':
                unit = 604800;
                break;
            case 'd':
                unit = 86400;
                break;
            case 'h':
                unit = 3600;
                break;
            case 'm':
                unit = 60;
                break;
            case 's':
                unit = 1;
                break;
            default:
                throw text_error("bad TTL " + shown(text) + ": unknown unit '" +
                                 std::string(1, text[i]) + "'");
        }
        ++i;
        total += number * unit;
        if (total > max_u32) throw text_error("TTL " + shown(text) + " is above 4294967295");
    }
    return static_cast<uint32_t>(total);
}

// ---- RRSIG times (RFC 4034 §3.2) ----

uint32_t parse_time(std::string_view text) {
    if (text.empty()) throw text_error("empty time");
    for (char c : text)
        if (!is_digit(c))
            throw text_error("bad time " + shown(text) + ": expected YYYYMMDDHHmmSS or seconds");
    if (text.size() <= 10) return static_cast<uint32_t>(parse_unsigned(text, max_u32, "time"));
    if (text.size() != 14)
        throw text_error("bad time " + shown(text) + ": expected YYYYMMDDHHmmSS or seconds");
    int64_t year = digits_value(text.substr(0, 4));
    unsigned month = digits_value(text.substr(4, 2));
    unsigned day = digits_value(text.substr(6, 2));
    unsigned hour = digits_value(text.substr(8, 2));
    unsigned minute = digits_value(text.substr(10, 2));
    unsigned second = digits_value(text.substr(12, 2));
    // Second 60 is a leap second; like BIND we take it as the next minute's first second.
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
        minute > 59 || second > 60)
        throw text_error("bad time " + shown(text) + ": no such date or time of day");
    int64_t seconds =
        days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
    // The field is serial-number arithmetic modulo 2^32 (RFC 4034 §3.1.5).
    return static_cast<uint32_t>(static_cast<uint64_t>(seconds));
}

void append_time(std::string& out, uint32_t seconds_since_epoch) {
    // Printed as 1970..2106, independent of the current date (BIND prints the value
    // nearest to now instead; the two agree for any time from 1970 to 68 years after now).
    civil date = civil_from_days(seconds_since_epoch / 86400);
    uint32_t in_day = seconds_since_epoch % 86400;
    unsigned fields[] = {static_cast<unsigned>(date.year / 100),
                         static_cast<unsigned>(date.year % 100),
                         date.month,
                         date.day,
                         in_day / 3600,
                         in_day / 60 % 60,
                         in_day % 60};
    char buf[14];
    for (size_t f = 0; f < 7; ++f) {
        buf[2 * f] = static_cast<char>('0' + fields[f] / 10);
        buf[2 * f + 1] = static_cast<char>('0' + fields[f] % 10);
    }
    out.append(buf, sizeof buf);
}

// ---- character-strings ----

void parse_character_string(const token& t, std::vector<uint8_t>& out) {
    size_t keep = out.size();
    out.push_back(0);  // length, patched below
    size_t length;
    try {
        length = unescape_into(t.text, out);
    } catch (const text_error&) {
        out.resize(keep);
        throw;
    }
    if (length > 255)
        fail(out, keep,
             "character-string longer than 255 octets (" + std::to_string(length) +
                 "): " + shown(t.text));
    out[keep] = static_cast<uint8_t>(length);
}

void parse_escaped_bytes(std::string_view text, std::vector<uint8_t>& out) {
    size_t keep = out.size();
    try {
        unescape_into(text, out);
    } catch (const text_error&) {
        out.resize(keep);
        throw;
    }
}

void append_quoted(std::string& out, std::span<const uint8_t> bytes) {
    out.push_back('"');
    for (uint8_t c : bytes) {
        if (c < 0x20 || c >= 0x7f) {
            char buf[4] = {'\\', static_cast<char>('0' + c / 100),
                           static_cast<char>('0' + c / 10 % 10), static_cast<char>('0' + c % 10)};
            out.append(buf, 4);
        } else {
            if (c == '"' || c == '\\') out.push_back('\\');
            out.push_back(static_cast<char>(c));
        }
    }
    out.push_back('"');
}

// ---- base16 ----

void append_hex(std::string& out, std::span<const uint8_t> bytes, bool upper) {
    const char* digits = upper ? hex_upper : hex_lower;
    size_t pos = out.size();
    out.resize(pos + 2 * bytes.size());
    char* p = out.data() + pos;
    for (uint8_t b : bytes) {
        *p++ = digits[b >> 4];
        *p++ = digits[b & 15];
    }
}

void parse_hex(std::string_view text, std::vector<uint8_t>& out) {
    if (text.size() % 2 != 0)
        throw text_error("hex string " + shown(text) + " has an odd number of digits");
    size_t keep = out.size();
    out.resize(keep + text.size() / 2);
    uint8_t* p = out.data() + keep;
    for (size_t i = 0; i < text.size(); i += 2) {
        uint8_t hi = hex_table[static_cast<uint8_t>(text[i])];
        uint8_t lo = hex_table[static_cast<uint8_t>(text[i + 1])];
        if (hi == bad || lo == bad) fail(out, keep, "bad hex digit in " + shown(text));
        *p++ = static_cast<uint8_t>(hi << 4 | lo);
    }
}

// ---- base64 (RFC 4648 §4) ----

void append_base64(std::string& out, std::span<const uint8_t> bytes) {
    size_t pos = out.size();
    out.resize(pos + (bytes.size() + 2) / 3 * 4);
    char* p = out.data() + pos;
    size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        uint32_t v = uint32_t{bytes[i]} << 16 | uint32_t{bytes[i + 1]} << 8 | bytes[i + 2];
        *p++ = b64_alphabet[v >> 18];
        *p++ = b64_alphabet[v >> 12 & 63];
        *p++ = b64_alphabet[v >> 6 & 63];
        *p++ = b64_alphabet[v & 63];
    }
    size_t rest = bytes.size() - i;
    if (rest > 0) {
        uint32_t v = uint32_t{bytes[i]} << 16 | (rest == 2 ? uint32_t{bytes[i + 1]} << 8 : 0);
        *p++ = b64_alphabet[v >> 18];
        *p++ = b64_alphabet[v >> 12 & 63];
        *p++ = rest == 2 ? b64_alphabet[v >> 6 & 63] : '=';
        *p++ = '=';
    }
}

void parse_base64(std::string_view text, std::vector<uint8_t>& out) {
    if (text.size() % 4 != 0)
        throw text_error("bad base64 " + shown(text) + ": length is not a multiple of 4");
    size_t pad = 0;
    if (!text.empty() && text.back() == '=') pad = text[text.size() - 2] == '=' ? 2 : 1;
    size_t keep = out.size();
    out.resize(keep + text.size() / 4 * 3 - pad);
    uint8_t* p = out.data() + keep;
    for (size_t i = 0; i < text.size(); i += 4) {
        bool last = i + 4 == text.size();
        uint8_t q[4];
        for (size_t k = 0; k < 4; ++k) {
            if (last && k >= 4 - pad) {
                q[k] = 0;  // checked '=' above
                continue;
            }
            q[k] = b64_table[static_cast<uint8_t>(text[i + k])];
            if (q[k] == bad)
                fail(out, keep,
                     "bad base64 " + shown(text) + ": unexpected '" + std::string(1, text[i + k]) +
                         "'");
        }
        uint32_t v = uint32_t{q[0]} << 18 | uint32_t{q[1]} << 12 | uint32_t{q[2]} << 6 | q[3];
        if (last && pad > 0) {
            // Bits below the last whole octet must be zero, else the text is not the canonical
            // encoding of any data (RFC 4648 §3.5); BIND rejects it too.
            if ((pad == 1 && (v & 0xff) != 0) || (pad == 2 && (v & 0xffff) != 0))
                fail(out, keep, "bad base64 " + shown(text) + ": non-zero bits in the padding");
            *p++ = static_cast<uint8_t>(v >> 16);
            if (pad == 1) *p++ = static_cast<uint8_t>(v >> 8);
        } else {
            *p++ = static_cast<uint8_t>(v >> 16);
            *p++ = static_cast<uint8_t>(v >> 8);
            *p++ = static_cast<uint8_t>(v);
        }
    }
}

// ---- base32hex (RFC 4648 §7), as NSEC3 uses it (RFC 5155 §3.3: no padding) ----

void append_base32hex(std::string& out, std::span<const uint8_t> bytes) {
    size_t pos = out.size();
    out.resize(pos + (bytes.size() * 8 + 4) / 5);
    char* p = out.data() + pos;
    uint64_t bits = 0;
    unsigned count = 0;
    for (uint8_t b : bytes) {
        bits = bits << 8 | b;
        count += 8;
        while (count >= 5) {
            count -= 5;
            *p++ = b32hex_alphabet[bits >> count & 31];
        }
    }
    if (count > 0) *p++ = b32hex_alphabet[bits << (5 - count) & 31];
}

void parse_base32hex(std::string_view text, std::vector<uint8_t>& out) {
    // Padding is optional; when present it must complete the last 8-character group exactly.
    size_t data_length = text.size();
    while (data_length > 0 && text[data_length - 1] == '=')
        --data_length;
    // A final group of 1, 3 or 6 characters cannot come from whole octets.
    size_t rest = data_length % 8;
    if (rest == 1 || rest == 3 || rest == 6)
        throw text_error("bad base32hex " + shown(text) + ": wrong length");
    size_t pad = text.size() - data_length;
    if (pad != 0 && pad != (8 - rest) % 8)
        throw text_error("bad base32hex " + shown(text) + ": wrong padding");
    size_t keep = out.size();
    out.resize(keep + data_length * 5 / 8);
    uint8_t* p = out.data() + keep;
    uint64_t bits = 0;
    unsigned count = 0;
    for (size_t i = 0; i < data_length; ++i) {
        uint8_t v = b32hex_table[static_cast<uint8_t>(text[i])];
        if (v == bad)
            fail(out, keep,
                 "bad base32hex " + shown(text) + ": unexpected '" + std::string(1, text[i]) + "'");
        bits = bits << 5 | v;
        count += 5;
        if (count >= 8) {
            count -= 8;
            *p++ = static_cast<uint8_t>(bits >> count);
        }
    }
    if ((bits & ((uint64_t{1} << count) - 1)) != 0)
        fail(out, keep, "bad base32hex " + shown(text) + ": non-zero bits at the end");
}

}  // namespace hsync::dns
