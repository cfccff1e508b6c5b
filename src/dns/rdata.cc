#include "dns/rdata.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "dns/error.h"
#include "dns/rdata_registry.h"

namespace hsync::dns {
namespace {

uint16_t g_hsync_code = rr_type::HSYNC_DEFAULT;

// Lookup tables built once from the definitions; HSYNC is entered under its code in force.
struct registry {
    std::array<const type_def*, 65536> by_code{};
    std::unordered_map<std::string, const type_def*> by_mnemonic;
    type_def hsync;

    registry() {
        for (size_t i = 0; i < builtin_type_count; ++i) {
            const type_def& def = builtin_types[i];
            if (def.code == rr_type::HSYNC_DEFAULT) {
                hsync = def;
                hsync.code = g_hsync_code;
                by_code[hsync.code] = &hsync;
                by_mnemonic["HSYNC"] = &hsync;
                continue;
            }
            by_code[def.code] = &def;
            by_mnemonic[std::string(def.mnemonic)] = &def;
        }
    }
};

const registry& types() {
    static const registry r;
    return r;
}

std::string upper(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
    return out;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 32);
        if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 32);
        if (x != y) return false;
    }
    return true;
}

// "TYPE123" / "CLASS3" style numbers.
bool parse_prefixed_number(std::string_view text, std::string_view prefix, uint16_t& out) {
    if (text.size() <= prefix.size() || !iequals(text.substr(0, prefix.size()), prefix))
        return false;
    uint32_t v = 0;
    for (char c : text.substr(prefix.size())) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<uint32_t>(c - '0');
        if (v > 65535) return false;
    }
    out = static_cast<uint16_t>(v);
    return true;
}

struct algorithm_name {
    uint8_t number;
    std::string_view mnemonic;
};
constexpr algorithm_name algorithm_names[] = {
    {1, "RSAMD5"},
    {3, "DSA"},
    {5, "RSASHA1"},
    {6, "DSA-NSEC3-SHA1"},
    {7, "RSASHA1-NSEC3-SHA1"},
    {8, "RSASHA256"},
    {10, "RSASHA512"},
    {12, "ECC-GOST"},
    {13, "ECDSAP256SHA256"},
    {14, "ECDSAP384SHA384"},
    {15, "ED25519"},
    {16, "ED448"},
    {252, "INDIRECT"},
    {253, "PRIVATEDNS"},
    {254, "PRIVATEOID"},
};

struct rcode_name {
    uint16_t number;
    std::string_view mnemonic;
};
constexpr rcode_name rcode_names[] = {
    {0, "NOERROR"},  {1, "FORMERR"},  {2, "SERVFAIL"},  {3, "NXDOMAIN"},   {4, "NOTIMP"},
    {5, "REFUSED"},  {6, "YXDOMAIN"}, {7, "YXRRSET"},   {8, "NXRRSET"},    {9, "NOTAUTH"},
    {10, "NOTZONE"}, {16, "BADSIG"},  {17, "BADKEY"},   {18, "BADTIME"},   {19, "BADMODE"},
    {20, "BADNAME"}, {21, "BADALG"},  {22, "BADTRUNC"}, {23, "BADCOOKIE"},
};

// --- HSYNC field values (docs/protocol.md) ---

struct enum_token {
    uint8_t value;
    std::string_view token;
};
constexpr enum_token hsync_state_tokens[] = {{1, "ON"}, {2, "OFF"}};
constexpr enum_token hsync_nsmgmt_tokens[] = {{1, "OWNER"}, {2, "AGENT"}};
constexpr enum_token hsync_sign_tokens[] = {{1, "YES"}, {2, "NO"}};

std::span<const enum_token> tokens_of(field f) {
    switch (f) {
        case field::hsync_state:
            return hsync_state_tokens;
        case field::hsync_nsmgmt:
            return hsync_nsmgmt_tokens;
        default:
            return hsync_sign_tokens;
    }
}
std::string_view field_label(field f) {
    switch (f) {
        case field::hsync_state:
            return "HSYNC State";
        case field::hsync_nsmgmt:
            return "HSYNC NSMgmt";
        default:
            return "HSYNC Sign";
    }
}
// State allows 128-255 for private use; everything else outside the defined values is
// undefined and refused, as is 0 in every field.
bool hsync_value_ok(field f, uint8_t v) {
    if (v == 1 || v == 2) return true;
    return f == field::hsync_state && v >= 128;
}
void check_hsync_value(field f, uint8_t v) {
    if (!hsync_value_ok(f, v))
        throw wire_error(std::string(field_label(f)) + " value " + std::to_string(v) +
                         (v == 0 ? " is an error" : " is undefined"));
}

// --- SVCB SvcParams (RFC 9460 §7, §14.3.2) ---

constexpr std::string_view svc_key_names[] = {"mandatory", "alpn",     "no-default-alpn",
                                              "port",      "ipv4hint", "ech",
                                              "ipv6hint",  "dohpath",  "ohttp"};

std::string svc_key_to_text(uint16_t key) {
    if (key < std::size(svc_key_names)) return std::string(svc_key_names[key]);
    return "key" + std::to_string(key);
}

uint16_t svc_key_from_text(std::string_view text) {
    for (size_t i = 0; i < std::size(svc_key_names); ++i)
        if (text == svc_key_names[i]) return static_cast<uint16_t>(i);
    uint16_t v;
    if (text.size() > 3 && text.substr(0, 3) == "key" && parse_prefixed_number(text, "key", v) &&
        text[3] != '0')
        return v;
    if (text == "key0") return 0;
    throw text_error("unknown SVCB key '" + std::string(text) + "'");
}

void check_svc_value(uint16_t key, std::span<const uint8_t> v) {
    auto bad = [&](const char* why) {
        throw wire_error("SVCB " + svc_key_to_text(key) + ": " + why);
    };
    switch (key) {
        case 0:
            if (v.empty() || v.size() % 2) bad("bad length");
            for (size_t i = 2; i < v.size(); i += 2)
                if ((v[i - 2] << 8 | v[i - 1]) >= (v[i] << 8 | v[i + 1])) bad("keys not ascending");
            break;
        case 1: {
            if (v.empty()) bad("empty");
            for (size_t i = 0; i < v.size(); i += 1 + v[i])
                if (v[i] == 0 || i + 1 + v[i] > v.size()) bad("bad alpn-id");
            break;
        }
        case 2:
            if (!v.empty()) bad("must be empty");
            break;
        case 3:
            if (v.size() != 2) bad("bad length");
            break;
        case 4:
            if (v.empty() || v.size() % 4) bad("bad length");
            break;
        case 6:
            if (v.empty() || v.size() % 16) bad("bad length");
            break;
        default:
            break;
    }
}

// Length of one field of uncompressed data at `pos` (limit `end`); checks its content.
size_t field_length(field f, std::span<const uint8_t> d, size_t pos, size_t end) {
    auto need = [&](size_t n) {
        if (n > end - pos) throw wire_error("RDATA too short");
        return n;
    };
    switch (f) {
        case field::u8:
        case field::algorithm:
            return need(1);
        case field::u16:
        case field::rrtype:
        case field::rcode:
            return need(2);
        case field::u32:
        case field::ttl:
        case field::time:
        case field::ipv4:
            return need(4);
        case field::u48:
            return need(6);
        case field::ipv6:
            return need(16);
        case field::hsync_state:
        case field::hsync_nsmgmt:
        case field::hsync_sign:
            need(1);
            check_hsync_value(f, d[pos]);
            return 1;
        case field::name: {
            size_t p = pos;
            while (true) {
                if (p >= end) throw wire_error("domain name in RDATA runs past its end");
                uint8_t len = d[p];
                if (len > max_label_length)
                    throw wire_error("compressed or bad label in RDATA domain name");
                if (p - pos + len + 1 > max_name_length)
                    throw wire_error("domain name longer than 255 octets");
                p += len + 1u;
                if (len == 0) break;
            }
            if (p > end) throw wire_error("domain name in RDATA runs past its end");
            return p - pos;
        }
        case field::text:
            need(1);
            return need(1 + d[pos]);
        case field::caa_tag: {
            need(1);
            size_t n = need(1 + d[pos]);
            if (d[pos] == 0) throw wire_error("CAA tag is empty");
            for (size_t i = 1; i < n; ++i)
                if (!std::isalnum(d[pos + i])) throw wire_error("CAA tag is not alphanumeric");
            return n;
        }
        case field::text_list: {
            if (pos == end) throw wire_error("TXT without a string");
            size_t p = pos;
            while (p < end) {
                if (p + 1 + d[p] > end) throw wire_error("character-string runs past RDATA");
                p += 1 + d[p];
            }
            return p - pos;
        }
        case field::string_rest:
        case field::hex_rest:
        case field::base64_rest:
            return end - pos;
        case field::hex_u8:
            need(1);
            return need(1 + d[pos]);
        case field::base32_u8:
            need(1);
            if (d[pos] == 0) throw wire_error("empty NSEC3 next hashed owner name");
            return need(1 + d[pos]);
        case field::base64_u16:
            need(2);
            return need(2 + (d[pos] << 8 | d[pos + 1]));
        case field::type_bitmap: {
            size_t p = pos;
            int last_window = -1;
            while (p < end) {
                if (end - p < 2) throw wire_error("type bitmap truncated");
                uint8_t window = d[p], len = d[p + 1];
                if (window <= last_window) throw wire_error("type bitmap windows out of order");
                if (len == 0 || len > 32) throw wire_error("type bitmap window of bad length");
                if (p + 2 + len > end) throw wire_error("type bitmap runs past RDATA");
                last_window = window;
                p += 2 + len;
            }
            return p - pos;
        }
        case field::svc_params: {
            size_t p = pos;
            int last_key = -1;
            while (p < end) {
                if (end - p < 4) throw wire_error("SVCB parameter truncated");
                uint16_t key = static_cast<uint16_t>(d[p] << 8 | d[p + 1]);
                uint16_t len = static_cast<uint16_t>(d[p + 2] << 8 | d[p + 3]);
                if (static_cast<int>(key) <= last_key)
                    throw wire_error("SVCB parameter keys not in ascending order");
                if (p + 4 + len > end) throw wire_error("SVCB parameter runs past RDATA");
                check_svc_value(key, d.subspan(p + 4, len));
                last_key = key;
                p += 4 + len;
            }
            return p - pos;
        }
    }
    throw wire_error("unknown field kind");
}

// --- presentation ---

void append_uint(std::string& out, uint64_t v) {
    char buf[24];
    char* p = buf + sizeof buf;
    do {
        *--p = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v);
    out.append(p, buf + sizeof buf);
}

uint64_t be(std::span<const uint8_t> d, size_t pos, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i)
        v = v << 8 | d[pos + i];
    return v;
}

void append_bitmap(std::string& out, std::span<const uint8_t> d) {
    bool first = true;
    for (size_t p = 0; p + 2 <= d.size();) {
        uint8_t window = d[p], len = d[p + 1];
        for (size_t i = 0; i < len; ++i)
            for (int bit = 0; bit < 8; ++bit)
                if (d[p + 2 + i] & (0x80 >> bit)) {
                    if (!first) out.push_back(' ');
                    first = false;
                    out += type_to_text(static_cast<uint16_t>(window * 256 + i * 8 + bit));
                }
        p += 2 + len;
    }
}

void append_svc_params(std::string& out, std::span<const uint8_t> d) {
    char buf[INET6_ADDRSTRLEN];
    bool first = true;
    for (size_t p = 0; p + 4 <= d.size();) {
        uint16_t key = static_cast<uint16_t>(d[p] << 8 | d[p + 1]);
        uint16_t len = static_cast<uint16_t>(d[p + 2] << 8 | d[p + 3]);
        auto v = d.subspan(p + 4, len);
        if (!first) out.push_back(' ');
        first = false;
        out += svc_key_to_text(key);
        switch (key) {
            case 0:
                out.push_back('=');
                for (size_t i = 0; i < v.size(); i += 2) {
                    if (i) out.push_back(',');
                    out += svc_key_to_text(static_cast<uint16_t>(v[i] << 8 | v[i + 1]));
                }
                break;
            case 1: {
                // Commas inside an alpn-id are escaped (RFC 9460 Appendix A.1).
                out += "=\"";
                for (size_t i = 0; i < v.size(); i += 1 + v[i]) {
                    if (i) out.push_back(',');
                    for (size_t j = 1; j <= v[i]; ++j) {
                        uint8_t c = v[i + j];
                        if (c == ',') {
                            out += "\\\\,";
                        } else if (c == '\\') {
                            out += "\\\\\\\\";
                        } else if (c == '"') {
                            out += "\\\"";
                        } else if (c < 0x20 || c >= 0x7f) {
                            out.push_back('\\');
                            out.push_back(static_cast<char>('0' + c / 100));
                            out.push_back(static_cast<char>('0' + c / 10 % 10));
                            out.push_back(static_cast<char>('0' + c % 10));
                        } else {
                            out.push_back(static_cast<char>(c));
                        }
                    }
                }
                out.push_back('"');
                break;
            }
            case 2:
                break;
            case 3:
                out.push_back('=');
                append_uint(out, be(v, 0, 2));
                break;
            case 4:
                out.push_back('=');
                for (size_t i = 0; i < v.size(); i += 4) {
                    if (i) out.push_back(',');
                    inet_ntop(AF_INET, v.data() + i, buf, sizeof buf);
                    out += buf;
                }
                break;
            case 5:
                out.push_back('=');
                append_base64(out, v);
                break;
            case 6:
                out.push_back('=');
                for (size_t i = 0; i < v.size(); i += 16) {
                    if (i) out.push_back(',');
                    inet_ntop(AF_INET6, v.data() + i, buf, sizeof buf);
                    out += buf;
                }
                break;
            default:
                if (!v.empty()) {
                    out.push_back('=');
                    append_quoted(out, v);
                }
                break;
        }
        p += 4 + len;
    }
}

void append_field(std::string& out, field f, std::span<const uint8_t> v) {
    char buf[INET6_ADDRSTRLEN];
    switch (f) {
        case field::u8:
        case field::u16:
        case field::u32:
        case field::u48:
        case field::ttl:
        case field::algorithm:
            append_uint(out, be(v, 0, v.size()));
            break;
        case field::time:
            append_time(out, static_cast<uint32_t>(be(v, 0, 4)));
            break;
        case field::rrtype:
            out += type_to_text(static_cast<uint16_t>(be(v, 0, 2)));
            break;
        case field::rcode:
            out += rcode_to_text(static_cast<uint16_t>(be(v, 0, 2)));
            break;
        case field::ipv4:
            inet_ntop(AF_INET, v.data(), buf, sizeof buf);
            out += buf;
            break;
        case field::ipv6:
            inet_ntop(AF_INET6, v.data(), buf, sizeof buf);
            out += buf;
            break;
        case field::name: {
            name n = name::from_wire(v);
            n.append_text(out);
            break;
        }
        case field::text:
            append_quoted(out, v.subspan(1));
            break;
        case field::text_list:
            for (size_t p = 0; p < v.size(); p += 1 + v[p]) {
                if (p) out.push_back(' ');
                append_quoted(out, v.subspan(p + 1, v[p]));
            }
            break;
        case field::string_rest:
            append_quoted(out, v);
            break;
        case field::caa_tag:
            out.append(reinterpret_cast<const char*>(v.data() + 1), v.size() - 1);
            break;
        case field::hex_rest:
            if (v.empty())
                out.push_back('-');
            else
                append_hex(out, v);
            break;
        case field::base64_rest:
            append_base64(out, v);
            break;
        case field::hex_u8:
            if (v.size() == 1)
                out.push_back('-');
            else
                append_hex(out, v.subspan(1));
            break;
        case field::base32_u8:
            append_base32hex(out, v.subspan(1));
            break;
        case field::base64_u16:
            append_uint(out, v.size() - 2);
            if (v.size() > 2) {
                out.push_back(' ');
                append_base64(out, v.subspan(2));
            }
            break;
        case field::type_bitmap:
            append_bitmap(out, v);
            break;
        case field::svc_params:
            append_svc_params(out, v);
            break;
        case field::hsync_state:
        case field::hsync_nsmgmt:
        case field::hsync_sign: {
            for (const auto& t : tokens_of(f))
                if (t.value == v[0]) {
                    out += t.token;
                    return;
                }
            append_uint(out, v[0]);
            break;
        }
    }
}

// --- text parsing ---

struct token_cursor {
    std::span<const token> tokens;
    size_t pos = 0;
    std::string_view type_name;

    bool done() const { return pos >= tokens.size(); }
    const token& next(std::string_view what) {
        if (done())
            throw text_error(std::string(type_name) + " record is missing its " +
                             std::string(what));
        return tokens[pos++];
    }
    // Concatenation of all remaining tokens (base64 and hex may be split by spaces).
    std::string rest() {
        std::string s;
        while (!done())
            s += tokens[pos++].text;
        return s;
    }
};

void put_be(std::vector<uint8_t>& out, uint64_t v, size_t n) {
    for (size_t i = n; i-- > 0;)
        out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

uint8_t parse_algorithm(std::string_view text) {
    if (!text.empty() && text[0] >= '0' && text[0] <= '9')
        return static_cast<uint8_t>(parse_unsigned(text, 255, "algorithm"));
    for (const auto& a : algorithm_names)
        if (iequals(a.mnemonic, text)) return a.number;
    throw text_error("unknown DNSSEC algorithm '" + std::string(text) + "'");
}

uint16_t parse_rcode(std::string_view text) {
    if (!text.empty() && text[0] >= '0' && text[0] <= '9')
        return static_cast<uint16_t>(parse_unsigned(text, 65535, "rcode"));
    for (const auto& r : rcode_names)
        if (iequals(r.mnemonic, text)) return r.number;
    throw text_error("unknown rcode '" + std::string(text) + "'");
}

void parse_bitmap(token_cursor& c, std::vector<uint8_t>& out) {
    std::vector<uint16_t> codes;
    while (!c.done())
        codes.push_back(type_from_text(c.tokens[c.pos++].text));
    std::sort(codes.begin(), codes.end());
    codes.erase(std::unique(codes.begin(), codes.end()), codes.end());
    size_t i = 0;
    while (i < codes.size()) {
        uint8_t window = static_cast<uint8_t>(codes[i] >> 8);
        uint8_t bits[32] = {};
        size_t len = 0;
        for (; i < codes.size() && (codes[i] >> 8) == window; ++i) {
            uint8_t low = static_cast<uint8_t>(codes[i]);
            bits[low / 8] |= static_cast<uint8_t>(0x80 >> (low % 8));
            len = low / 8 + 1u;
        }
        out.push_back(window);
        out.push_back(static_cast<uint8_t>(len));
        out.insert(out.end(), bits, bits + len);
    }
}

// An SVCB value list (RFC 9460 Appendix A.1): the zone-file escapes are undone first,
// then the value is split on commas, where `\,` and `\\` stand for a literal comma and
// backslash inside an item.
std::vector<std::string> split_svc_list(std::string_view text) {
    std::vector<uint8_t> v;
    parse_escaped_bytes(text, v);
    std::vector<std::string> items(1);
    for (size_t i = 0; i < v.size(); ++i) {
        if (v[i] == '\\' && i + 1 < v.size()) {
            items.back() += static_cast<char>(v[++i]);
        } else if (v[i] == ',') {
            items.emplace_back();
        } else {
            items.back() += static_cast<char>(v[i]);
        }
    }
    return items;
}

void parse_svc_params(token_cursor& c, std::vector<uint8_t>& out) {
    struct param {
        uint16_t key;
        std::vector<uint8_t> value;
    };
    std::vector<param> params;
    while (!c.done()) {
        const token& t = c.tokens[c.pos++];
        std::string_view text = t.text;
        size_t eq = text.find('=');
        std::string_view key_text = text.substr(0, eq);
        std::string value;
        bool has_value = eq != std::string_view::npos;
        if (has_value) {
            value = std::string(text.substr(eq + 1));
            if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
                value = value.substr(1, value.size() - 2);
            else if (value.empty() && c.pos < c.tokens.size() && c.tokens[c.pos].quoted)
                value = std::string(c.tokens[c.pos++].text);  // key= "value"
        }
        param p{svc_key_from_text(key_text), {}};
        auto need_value = [&] {
            if (!has_value || value.empty())
                throw text_error("SVCB key " + std::string(key_text) + " needs a value");
        };
        switch (p.key) {
            case 0:
                need_value();
                for (const auto& k : split_svc_list(value))
                    put_be(p.value, svc_key_from_text(k), 2);
                break;
            case 1:
                need_value();
                for (const auto& id : split_svc_list(value)) {
                    if (id.empty() || id.size() > 255) throw text_error("bad SVCB alpn-id");
                    p.value.push_back(static_cast<uint8_t>(id.size()));
                    p.value.insert(p.value.end(), id.begin(), id.end());
                }
                break;
            case 2:
                if (has_value) throw text_error("SVCB no-default-alpn takes no value");
                break;
            case 3:
                need_value();
                put_be(p.value, parse_unsigned(value, 65535, "SVCB port"), 2);
                break;
            case 4:
                need_value();
                for (const auto& a : split_svc_list(value)) {
                    uint8_t b[4];
                    if (inet_pton(AF_INET, a.c_str(), b) != 1)
                        throw text_error("bad SVCB ipv4hint '" + a + "'");
                    p.value.insert(p.value.end(), b, b + 4);
                }
                break;
            case 5:
                need_value();
                parse_base64(value, p.value);
                break;
            case 6:
                need_value();
                for (const auto& a : split_svc_list(value)) {
                    uint8_t b[16];
                    if (inet_pton(AF_INET6, a.c_str(), b) != 1)
                        throw text_error("bad SVCB ipv6hint '" + a + "'");
                    p.value.insert(p.value.end(), b, b + 16);
                }
                break;
            default:
                if (has_value) parse_escaped_bytes(value, p.value);
                break;
        }
        if (p.value.size() > 65535) throw text_error("SVCB value too long");
        params.push_back(std::move(p));
    }
    std::sort(params.begin(), params.end(),
              [](const param& a, const param& b) { return a.key < b.key; });
    for (size_t i = 1; i < params.size(); ++i)
        if (params[i].key == params[i - 1].key)
            throw text_error("SVCB key " + svc_key_to_text(params[i].key) + " appears twice");
    for (const auto& p : params) {
        put_be(out, p.key, 2);
        put_be(out, p.value.size(), 2);
        out.insert(out.end(), p.value.begin(), p.value.end());
    }
    // The mandatory list must name keys that are present (RFC 9460 §8).
    for (const auto& p : params)
        if (p.key == 0)
            for (size_t i = 0; i < p.value.size(); i += 2) {
                uint16_t k = static_cast<uint16_t>(p.value[i] << 8 | p.value[i + 1]);
                if (k == 0 || std::none_of(params.begin(), params.end(),
                                           [&](const param& q) { return q.key == k; }))
                    throw text_error("SVCB mandatory names missing key " + svc_key_to_text(k));
            }
}

void parse_field(field f, token_cursor& c, const name& origin, std::vector<uint8_t>& out) {
    switch (f) {
        case field::u8:
            out.push_back(
                static_cast<uint8_t>(parse_unsigned(c.next("number").text, 255, "number")));
            break;
        case field::u16:
            put_be(out, parse_unsigned(c.next("number").text, 65535, "number"), 2);
            break;
        case field::u32:
            put_be(out, parse_unsigned(c.next("number").text, 0xFFFFFFFF, "number"), 4);
            break;
        case field::u48:
            put_be(out, parse_unsigned(c.next("number").text, 0xFFFFFFFFFFFF, "number"), 6);
            break;
        case field::ttl:
            put_be(out, parse_ttl(c.next("time value").text), 4);
            break;
        case field::time:
            put_be(out, parse_time(c.next("time").text), 4);
            break;
        case field::rrtype:
            put_be(out, type_from_text(c.next("type").text), 2);
            break;
        case field::algorithm:
            out.push_back(parse_algorithm(c.next("algorithm").text));
            break;
        case field::rcode:
            put_be(out, parse_rcode(c.next("rcode").text), 2);
            break;
        case field::ipv4: {
            std::string a(c.next("IPv4 address").text);
            uint8_t b[4];
            if (inet_pton(AF_INET, a.c_str(), b) != 1)
                throw text_error("bad IPv4 address '" + a + "'");
            out.insert(out.end(), b, b + 4);
            break;
        }
        case field::ipv6: {
            std::string a(c.next("IPv6 address").text);
            uint8_t b[16];
            if (inet_pton(AF_INET6, a.c_str(), b) != 1)
                throw text_error("bad IPv6 address '" + a + "'");
            out.insert(out.end(), b, b + 16);
            break;
        }
        case field::name: {
            name n = name::from_text(c.next("domain name").text, &origin);
            out.insert(out.end(), n.wire().begin(), n.wire().end());
            break;
        }
        case field::text:
            parse_character_string(c.next("string"), out);
            break;
        case field::text_list:
            c.next("string");
            --c.pos;
            while (!c.done())
                parse_character_string(c.tokens[c.pos++], out);
            break;
        case field::string_rest:
            parse_escaped_bytes(c.next("string").text, out);
            break;
        case field::caa_tag: {
            std::string_view tag = c.next("tag").text;
            if (tag.empty() || tag.size() > 255 ||
                !std::all_of(tag.begin(), tag.end(),
                             [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)); }))
                throw text_error("CAA tag must be letters and digits: '" + std::string(tag) + "'");
            out.push_back(static_cast<uint8_t>(tag.size()));
            out.insert(out.end(), tag.begin(), tag.end());
            break;
        }
        case field::hex_rest: {
            std::string s = c.rest();
            if (s != "-") parse_hex(s, out);
            break;
        }
        case field::base64_rest: {
            std::string s = c.rest();
            if (s != "-") parse_base64(s, out);
            break;
        }
        case field::hex_u8: {
            std::string_view s = c.next("hex string").text;
            size_t at = out.size();
            out.push_back(0);
            if (s != "-") parse_hex(s, out);
            if (out.size() - at - 1 > 255) throw text_error("hex string longer than 255 octets");
            out[at] = static_cast<uint8_t>(out.size() - at - 1);
            break;
        }
        case field::base32_u8: {
            std::string_view s = c.next("base32hex string").text;
            size_t at = out.size();
            out.push_back(0);
            parse_base32hex(s, out);
            if (out.size() - at - 1 > 255 || out.size() - at - 1 == 0)
                throw text_error("bad length of base32hex string");
            out[at] = static_cast<uint8_t>(out.size() - at - 1);
            break;
        }
        case field::base64_u16: {
            uint64_t n = parse_unsigned(c.next("length").text, 65535, "length");
            size_t at = out.size();
            put_be(out, n, 2);
            if (n) parse_base64(c.next("base64 data").text, out);
            if (out.size() - at - 2 != n) throw text_error("length does not match base64 data");
            break;
        }
        case field::type_bitmap:
            parse_bitmap(c, out);
            break;
        case field::svc_params:
            parse_svc_params(c, out);
            break;
        case field::hsync_state:
        case field::hsync_nsmgmt:
        case field::hsync_sign: {
            std::string_view text = c.next(field_label(f)).text;
            for (const auto& t : tokens_of(f))
                if (iequals(t.token, text)) {
                    out.push_back(t.value);
                    return;
                }
            if (text.empty() || !std::all_of(text.begin(), text.end(),
                                             [](char ch) { return ch >= '0' && ch <= '9'; }))
                throw text_error("bad " + std::string(field_label(f)) + " '" + std::string(text) +
                                 "'");
            uint8_t v = static_cast<uint8_t>(parse_unsigned(text, 255, field_label(f)));
            if (!hsync_value_ok(f, v))
                throw text_error(std::string(field_label(f)) + " value " + std::to_string(v) +
                                 (v == 0 ? " is an error" : " is undefined"));
            out.push_back(v);
            break;
        }
    }
}

// Checks that need more than one field: a DS/CDS digest must have its type's length
// (RFC 4034 §5.1.4, RFC 4509, RFC 6605); BIND and Knot refuse a wrong one too.
void check_fields(uint16_t type, std::span<const uint8_t> rdata) {
    if ((type == rr_type::DS || type == rr_type::CDS) && rdata.size() >= 4) {
        size_t want = 0;
        switch (rdata[3]) {
            case 1: want = 20; break;
            case 2: want = 32; break;
            case 4: want = 48; break;
            default: return;  // unknown digest types (and CDS delete, type 0) pass as they are
        }
        if (rdata.size() - 4 != want)
            throw wire_error(type_to_text(type) + " digest type " + std::to_string(rdata[3]) +
                             " must be " + std::to_string(want) + " octets, not " +
                             std::to_string(rdata.size() - 4));
    }
}

const type_def& def_or_throw(uint16_t type) {
    const type_def* def = find_type(type);
    if (!def) throw dns_error("unknown type " + std::to_string(type));
    return *def;
}

}  // namespace

uint16_t hsync_code() {
    return g_hsync_code;
}
void set_hsync_code(uint16_t code) {
    g_hsync_code = code;
}

const type_def* find_type(uint16_t code) {
    return types().by_code[code];
}

const type_def* find_type(std::string_view mnemonic) {
    const auto& m = types().by_mnemonic;
    auto it = m.find(upper(mnemonic));
    return it == m.end() ? nullptr : it->second;
}

std::string type_to_text(uint16_t code) {
    if (const type_def* def = find_type(code)) return std::string(def->mnemonic);
    switch (code) {
        case rr_type::IXFR:
            return "IXFR";
        case rr_type::AXFR:
            return "AXFR";
        case rr_type::ANY:
            return "ANY";
        case rr_type::TKEY:
            return "TKEY";
        default:
            return "TYPE" + std::to_string(code);
    }
}

bool type_from_text(std::string_view text, uint16_t& code) {
    if (const type_def* def = find_type(text)) {
        code = def->code;
        return true;
    }
    if (iequals(text, "ANY")) return code = rr_type::ANY, true;
    if (iequals(text, "AXFR")) return code = rr_type::AXFR, true;
    if (iequals(text, "IXFR")) return code = rr_type::IXFR, true;
    if (iequals(text, "TKEY")) return code = rr_type::TKEY, true;
    return parse_prefixed_number(text, "TYPE", code);
}

uint16_t type_from_text(std::string_view text) {
    uint16_t code;
    if (!type_from_text(text, code)) throw text_error("unknown type '" + std::string(text) + "'");
    return code;
}

std::string class_to_text(uint16_t rclass) {
    switch (rclass) {
        case rr_class::IN:
            return "IN";
        case rr_class::CH:
            return "CH";
        case rr_class::HS:
            return "HS";
        case rr_class::NONE:
            return "NONE";
        case rr_class::ANY:
            return "ANY";
        default:
            return "CLASS" + std::to_string(rclass);
    }
}

bool class_from_text(std::string_view text, uint16_t& rclass) {
    if (iequals(text, "IN")) return rclass = rr_class::IN, true;
    if (iequals(text, "CH") || iequals(text, "CHAOS")) return rclass = rr_class::CH, true;
    if (iequals(text, "HS")) return rclass = rr_class::HS, true;
    if (iequals(text, "NONE")) return rclass = rr_class::NONE, true;
    if (iequals(text, "ANY")) return rclass = rr_class::ANY, true;
    return parse_prefixed_number(text, "CLASS", rclass);
}

std::string rcode_to_text(uint16_t rcode) {
    for (const auto& r : rcode_names)
        if (r.number == rcode) return std::string(r.mnemonic);
    return std::to_string(rcode);
}

std::string algorithm_to_text(uint8_t algorithm) {
    for (const auto& a : algorithm_names)
        if (a.number == algorithm) return std::string(a.mnemonic);
    return std::to_string(algorithm);
}

void rdata_from_wire(uint16_t type, wire_reader& reader, size_t rdlength,
                     std::vector<uint8_t>& out) {
    size_t out_start = out.size();
    size_t start = reader.position();
    if (rdlength > reader.remaining()) throw wire_error("RDATA runs past the end of the message");
    size_t end = start + rdlength;
    const type_def* def = find_type(type);
    if (!def || def->opaque) {
        auto b = reader.bytes(rdlength);
        out.insert(out.end(), b.begin(), b.end());
        return;
    }
    size_t saved_end = reader.end();
    reader.set_end(end);
    auto msg = reader.message();
    for (size_t i = 0; i < def->fields.size(); ++i) {
        field f = def->fields[i];
        if (f == field::name) {
            reader.read_name_into(out, def->decompress);
            continue;
        }
        size_t n = field_length(f, msg, reader.position(), end);
        auto b = reader.bytes(n);
        out.insert(out.end(), b.begin(), b.end());
    }
    if (reader.position() != end)
        throw wire_error(type_to_text(type) + " RDATA has " +
                         std::to_string(end - reader.position()) + " octets beyond its fields");
    reader.set_end(saved_end);
    check_fields(type, {out.data() + out_start, out.size() - out_start});
}

size_t rdata_fields(uint16_t type, std::span<const uint8_t> rdata, std::span<field_span> out) {
    const type_def& def = def_or_throw(type);
    size_t pos = 0, count = 0;
    for (size_t i = 0; i < def.fields.size(); ++i) {
        size_t n = field_length(def.fields[i], rdata, pos, rdata.size());
        if (count < out.size())
            out[count++] = {def.fields[i], static_cast<uint16_t>(pos), static_cast<uint16_t>(n)};
        pos += n;
    }
    if (pos != rdata.size())
        throw wire_error(type_to_text(type) + " RDATA has octets beyond its fields");
    return count;
}

void rdata_check(uint16_t type, std::span<const uint8_t> rdata) {
    if (rdata.size() > 65535) throw wire_error("RDATA longer than 65535 octets");
    const type_def* def = find_type(type);
    if (!def || def->opaque) return;
    field_span spans[16];
    rdata_fields(type, rdata, spans);
    check_fields(type, rdata);
}

void rdata_to_wire(uint16_t type, std::span<const uint8_t> rdata, wire_writer& writer,
                   bool compress) {
    const type_def* def = find_type(type);
    // Empty RDATA (RFC 2136 deletions and prerequisites) has no fields to compress.
    if (!compress || !def || !def->compress || rdata.empty()) {
        writer.u16(static_cast<uint16_t>(rdata.size()));
        writer.bytes(rdata);
        return;
    }
    size_t length_at = writer.size();
    writer.u16(0);
    field_span spans[16];
    size_t n = rdata_fields(type, rdata, spans);
    for (size_t i = 0; i < n; ++i) {
        auto v = rdata.subspan(spans[i].offset, spans[i].length);
        if (spans[i].kind == field::name)
            writer.name(v, true);
        else
            writer.bytes(v);
    }
    writer.patch_u16(length_at, static_cast<uint16_t>(writer.size() - length_at - 2));
}

void rdata_from_text(uint16_t type, std::span<const token> tokens, const name& origin,
                     std::vector<uint8_t>& out) {
    size_t start = out.size();
    // RFC 3597 §5: `\# length hex...` for any type.
    if (!tokens.empty() && !tokens[0].quoted && tokens[0].text == "\\#") {
        if (tokens.size() < 2) throw text_error("generic RDATA is missing its length");
        uint64_t n = parse_unsigned(tokens[1].text, 65535, "generic RDATA length");
        std::string hex;
        for (size_t i = 2; i < tokens.size(); ++i)
            hex += tokens[i].text;
        parse_hex(hex, out);
        if (out.size() - start != n)
            throw text_error("generic RDATA length " + std::to_string(n) + " but " +
                             std::to_string(out.size() - start) + " octets given");
        try {
            rdata_check(type, {out.data() + start, out.size() - start});
        } catch (const wire_error& e) {
            throw text_error(std::string("generic RDATA is not valid ") + type_to_text(type) +
                             ": " + e.what());
        }
        return;
    }
    const type_def* def = find_type(type);
    if (!def || def->opaque)
        throw text_error("type " + type_to_text(type) +
                         " has no presentation format here: use the generic form \\# length hex");
    token_cursor c{tokens, 0, def->mnemonic};
    for (field f : def->fields)
        parse_field(f, c, origin, out);
    if (!c.done())
        throw text_error(std::string(def->mnemonic) + " record has extra data: '" +
                         std::string(c.tokens[c.pos].text) + "'");
    if (out.size() - start > 65535) throw text_error("RDATA longer than 65535 octets");
    // Fields like SVCB mandatory or empty TXT are checked by the wire rules too.
    try {
        rdata_check(type, {out.data() + start, out.size() - start});
    } catch (const wire_error& e) {
        throw text_error(e.what());
    }
}

void rdata_to_generic_text(std::span<const uint8_t> rdata, std::string& out) {
    out += "\\# ";
    append_uint(out, rdata.size());
    if (!rdata.empty()) {
        out.push_back(' ');
        append_hex(out, rdata, false);
    }
}

void rdata_to_text(uint16_t type, std::span<const uint8_t> rdata, std::string& out) {
    const type_def* def = find_type(type);
    if (!def || def->opaque) {
        rdata_to_generic_text(rdata, out);
        return;
    }
    field_span spans[16];
    size_t n;
    try {
        n = rdata_fields(type, rdata, spans);
    } catch (const wire_error&) {
        // Not valid for its type (e.g. empty RDATA in an UPDATE): show it generically.
        rdata_to_generic_text(rdata, out);
        return;
    }
    for (size_t i = 0; i < n; ++i) {
        if (i) out.push_back(' ');
        size_t before = out.size();
        append_field(out, spans[i].kind, rdata.subspan(spans[i].offset, spans[i].length));
        if (out.size() == before && i) out.pop_back();  // empty bitmap/params: no trailing space
    }
}

void rdata_canonicalize(uint16_t type, std::span<uint8_t> rdata) {
    const type_def* def = find_type(type);
    if (!def || !def->lowercase) return;
    field_span spans[16];
    size_t n = rdata_fields(type, rdata, spans);
    for (size_t i = 0; i < n; ++i) {
        if (spans[i].kind != field::name) continue;
        for (size_t j = spans[i].offset; j < spans[i].offset + spans[i].length; ++j) {
            uint8_t& c = rdata[j];
            if (c >= 'A' && c <= 'Z') c = static_cast<uint8_t>(c + 32);
        }
    }
}

}  // namespace hsync::dns
