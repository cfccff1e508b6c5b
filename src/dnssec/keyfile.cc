#include "dnssec/keyfile.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <optional>
#include <utility>
#include <vector>

#include "dns/rdata.h"
#include "dns/rr.h"
#include "dns/text.h"

namespace hsync::dnssec {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

[[noreturn]] void fail_line(size_t line, const std::string& what) {
    throw dns::text_error("line " + std::to_string(line) + ": " + what);
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

void check_size(std::string_view text) {
    if (text.size() > max_key_file_size) throw dns::text_error("key file is too large");
}

// The timing fields of a v1.3 private file, in the order BIND writes them.
struct timing_field {
    std::string_view name;
    std::optional<int64_t> key_timing::*member;
};
constexpr timing_field timing_fields[] = {
    {"Created", &key_timing::created},          {"Publish", &key_timing::publish},
    {"Activate", &key_timing::activate},        {"Revoke", &key_timing::revoke},
    {"Inactive", &key_timing::inactive},        {"Delete", &key_timing::deletion},
    {"SyncPublish", &key_timing::sync_publish}, {"SyncDelete", &key_timing::sync_delete},
};

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw dnssec_error("cannot open " + path.string() + ": " + std::strerror(errno));
    std::string text;
    char buf[4096];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        text.append(buf, static_cast<size_t>(in.gcount()));
        if (text.size() > max_key_file_size)
            throw dnssec_error(path.string() + ": key file is too large");
    }
    return text;
}

void write_new_file(const std::filesystem::path& path, const std::string& text, mode_t mode) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) throw dnssec_error("cannot create " + path.string() + ": " + std::strerror(errno));
    size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int err = errno;
            ::close(fd);
            throw dnssec_error("cannot write " + path.string() + ": " + std::strerror(err));
        }
        done += static_cast<size_t>(n);
    }
    if (::close(fd) != 0)
        throw dnssec_error("cannot write " + path.string() + ": " + std::strerror(errno));
}

}  // namespace

// ---- times ------------------------------------------------------------------------------

std::string format_key_time(int64_t t) {
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    if (!gmtime_r(&tt, &tm)) throw dnssec_error("time out of range");
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

int64_t parse_key_time(std::string_view text) {
    if (text.size() != 14) throw dns::text_error("time must be YYYYMMDDHHMMSS");
    int v[6];
    const int widths[6] = {4, 2, 2, 2, 2, 2};
    size_t pos = 0;
    for (int i = 0; i < 6; ++i) {
        v[i] = 0;
        for (int j = 0; j < widths[i]; ++j, ++pos) {
            char c = text[pos];
            if (c < '0' || c > '9') throw dns::text_error("time must be YYYYMMDDHHMMSS");
            v[i] = v[i] * 10 + (c - '0');
        }
    }
    static const int days[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (v[0] < 1970 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > days[v[1] - 1] || v[3] > 23 ||
        v[4] > 59 || v[5] > 60)
        throw dns::text_error("time out of range: " + std::string(text));
    std::tm tm{};
    tm.tm_year = v[0] - 1900;
    tm.tm_mon = v[1] - 1;
    tm.tm_mday = v[2];
    tm.tm_hour = v[3];
    tm.tm_min = v[4];
    tm.tm_sec = v[5];
    return static_cast<int64_t>(timegm(&tm));
}

// ---- .key -------------------------------------------------------------------------------

key parse_public_key_file(std::string_view text) {
    check_size(text);
    // One record, possibly spread over lines by parentheses; ';' starts a comment.
    std::string record;
    size_t line_no = 0, record_line = 0;
    int depth = 0;
    bool done = false;
    while (!text.empty()) {
        ++line_no;
        size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (auto semi = line.find(';'); semi != std::string_view::npos) line = line.substr(0, semi);
        line = trim(line);
        if (line.empty()) continue;
        if (done) fail_line(line_no, "more than one record in a .key file");
        if (record_line == 0) record_line = line_no;
        for (char c : line) {
            if (c == '(') {
                ++depth;
                record += ' ';
            } else if (c == ')') {
                if (--depth < 0) fail_line(line_no, "')' without '('");
                record += ' ';
            } else if (c == '\0') {
                fail_line(line_no, "NUL character");
            } else {
                record += c;
            }
        }
        record += ' ';
        if (depth == 0) done = true;
    }
    if (depth != 0) fail_line(line_no, "'(' without ')'");
    if (record_line == 0) throw dns::text_error("no DNSKEY or KEY record in the .key file");
    dns::rr r;
    try {
        // Without a TTL in the file, from_text's default is not the key's TTL.
        r = dns::rr::from_text(record, dns::name(), 0);
    } catch (const dns::dns_error& e) {
        fail_line(record_line, e.what());
    }
    if (r.type != dns::rr_type::DNSKEY && r.type != dns::rr_type::KEY)
        fail_line(record_line, "expected a DNSKEY or KEY record, not " + dns::type_to_text(r.type));
    if (r.rclass != dns::rr_class::IN) fail_line(record_line, "key record class must be IN");
    key k = key::from_rr(r);
    // Did the record line carry a TTL? Any purely numeric token before the type is one.
    k.ttl.reset();
    for (const auto& t : dns::tokenize_line(record)) {
        uint16_t code = 0;
        if (dns::type_from_text(t.text, code)) break;
        if (!t.text.empty() && t.text.find_first_not_of("0123456789") == std::string_view::npos)
            k.ttl = r.ttl;
    }
    return k;
}

// ---- .private ---------------------------------------------------------------------------

private_key_file parse_private_key_file(std::string_view text) {
    check_size(text);
    private_key_file out;
    bool have_format = false, have_algorithm = false;
    rsa_components rsa;
    std::vector<uint8_t> private_key;
    std::vector<std::string> seen;
    const std::pair<std::string_view, std::vector<uint8_t>*> rsa_fields[] = {
        {"Modulus", &rsa.modulus},
        {"PublicExponent", &rsa.public_exponent},
        {"PrivateExponent", &rsa.private_exponent},
        {"Prime1", &rsa.prime1},
        {"Prime2", &rsa.prime2},
        {"Exponent1", &rsa.exponent1},
        {"Exponent2", &rsa.exponent2},
        {"Coefficient", &rsa.coefficient},
        {"PrivateKey", &private_key},
    };
    size_t line_no = 0;
    while (!text.empty()) {
        ++line_no;
        size_t nl = text.find('\n');
        std::string_view line = trim(text.substr(0, nl));
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (line.empty()) continue;
        size_t colon = line.find(':');
        if (colon == std::string_view::npos) fail_line(line_no, "expected 'Field: value'");
        std::string_view field = trim(line.substr(0, colon));
        std::string_view value = trim(line.substr(colon + 1));
        for (const auto& s : seen)
            if (iequals(s, field)) fail_line(line_no, "field " + std::string(field) + " repeated");
        seen.emplace_back(field);
        if (!have_format) {
            // The first line names the format (BIND requires it there).
            if (!iequals(field, "Private-key-format"))
                fail_line(line_no, "not a private key file: no Private-key-format line");
            if (value.size() < 4 || value.substr(0, 3) != "v1." ||
                value.find_first_not_of("0123456789", 3) != std::string_view::npos)
                fail_line(line_no, "unsupported private key format " + std::string(value));
            have_format = true;
            continue;
        }
        if (iequals(field, "Algorithm")) {
            // "13 (ECDSAP256SHA256)": the number decides.
            size_t end = value.find_first_not_of("0123456789");
            std::string_view number = value.substr(0, end);
            if (number.empty()) fail_line(line_no, "Algorithm must start with its number");
            try {
                out.algorithm = static_cast<uint8_t>(dns::parse_unsigned(number, 255, "algorithm"));
            } catch (const dns::dns_error& e) {
                fail_line(line_no, e.what());
            }
            have_algorithm = true;
            continue;
        }
        bool known = false;
        for (const auto& [name, target] : rsa_fields) {
            if (!iequals(field, name)) continue;
            known = true;
            try {
                dns::parse_base64(value, *target);
            } catch (const dns::dns_error& e) {
                fail_line(line_no, std::string(name) + ": " + e.what());
            }
            if (target->empty()) fail_line(line_no, std::string(name) + " is empty");
        }
        for (const auto& t : timing_fields) {
            if (!iequals(field, t.name)) continue;
            known = true;
            try {
                out.timing.*(t.member) = parse_key_time(value);
            } catch (const dns::dns_error& e) {
                fail_line(line_no, std::string(t.name) + ": " + e.what());
            }
        }
        // Other fields (BIND's Successor, Predecessor, Lifetime, ...) do not change the key.
        (void)known;
    }
    if (!have_format) throw dns::text_error("not a private key file: it is empty");
    if (!have_algorithm) throw dns::text_error("private key file has no Algorithm line");
    if (!algorithm_supported(out.algorithm))
        throw dnssec_error("unsupported DNSSEC algorithm " + std::to_string(out.algorithm) +
                           " in private key file");
    if (out.algorithm == algorithm::RSASHA256 || out.algorithm == algorithm::RSASHA512) {
        out.signer = software_signer::from_rsa(out.algorithm, rsa);
    } else {
        if (private_key.empty()) throw dns::text_error("private key file has no PrivateKey line");
        out.signer = software_signer::from_private_bytes(out.algorithm, private_key);
    }
    return out;
}

key parse_key_pair(std::string_view public_text, std::string_view private_text) {
    key pub = parse_public_key_file(public_text);
    private_key_file priv = parse_private_key_file(private_text);
    if (priv.algorithm != pub.algorithm())
        throw dnssec_error("the private key is for algorithm " + std::to_string(priv.algorithm) +
                           ", the public key for " + std::to_string(pub.algorithm()));
    auto derived = priv.signer->public_key();
    if (!std::equal(derived.begin(), derived.end(), pub.public_key().begin(),
                    pub.public_key().end()))
        throw dnssec_error("the private key does not belong to the public key of key " +
                           std::to_string(pub.tag()));
    key k = key::from_signer(pub.owner(), pub.flags(), priv.signer, pub.rr_type());
    k.ttl = pub.ttl;
    k.timing = priv.timing;
    return k;
}

// ---- writing ----------------------------------------------------------------------------

std::string key_file_base(const key& k) {
    std::string owner = k.owner().to_text();
    if (owner.find('/') != std::string::npos)
        throw dnssec_error("owner " + owner + " cannot be part of a file name");
    char suffix[32];
    std::snprintf(suffix, sizeof suffix, "+%03u+%05u", unsigned{k.algorithm()}, unsigned{k.tag()});
    return "K" + owner + suffix;
}

std::string format_public_key_file(const key& k) {
    std::string out;
    const char* what = k.rr_type() == dns::rr_type::KEY ? "SIG(0) key"
                       : k.is_sep()                     ? "key-signing key"
                                                        : "zone-signing key";
    out += "; hsync " + std::string(what) + ", key tag " + std::to_string(k.tag()) + ", for " +
           k.owner().to_text() + "\n";
    for (const auto& t : timing_fields) {
        const auto& v = k.timing.*(t.member);
        if (v) out += "; " + std::string(t.name) + ": " + format_key_time(*v) + "\n";
    }
    out += k.owner().to_text();
    if (k.ttl) {
        out += ' ';
        out += std::to_string(*k.ttl);
    }
    out += " IN ";
    out += dns::type_to_text(k.rr_type());
    out += ' ';
    dns::rdata_to_text(k.rr_type(), k.rdata(), out);
    out += "\n";
    return out;
}

std::string format_private_key_file(const key& k) {
    auto* s = dynamic_cast<const software_signer*>(k.private_key().get());
    if (!s) throw dnssec_error("key " + std::to_string(k.tag()) + " has no exportable private key");
    std::string out = "Private-key-format: v1.3\n";
    out += "Algorithm: " + std::to_string(k.algorithm()) + " (" + algorithm_name(k.algorithm()) +
           ")\n";
    auto field = [&out](std::string_view name, std::span<const uint8_t> bytes) {
        out += name;
        out += ": ";
        dns::append_base64(out, bytes);
        out += "\n";
    };
    if (k.algorithm() == algorithm::RSASHA256 || k.algorithm() == algorithm::RSASHA512) {
        rsa_components c = s->rsa();
        field("Modulus", c.modulus);
        field("PublicExponent", c.public_exponent);
        field("PrivateExponent", c.private_exponent);
        field("Prime1", c.prime1);
        field("Prime2", c.prime2);
        field("Exponent1", c.exponent1);
        field("Exponent2", c.exponent2);
        field("Coefficient", c.coefficient);
    } else {
        field("PrivateKey", s->private_bytes());
    }
    for (const auto& t : timing_fields) {
        const auto& v = k.timing.*(t.member);
        if (v) out += std::string(t.name) + ": " + format_key_time(*v) + "\n";
    }
    return out;
}

key read_key_files(const std::filesystem::path& path, bool need_private) {
    std::string base = path.string();
    for (std::string_view ext : {".key", ".private"})
        if (base.size() > ext.size() &&
            base.compare(base.size() - ext.size(), ext.size(), ext) == 0)
            base.resize(base.size() - ext.size());
    std::string public_text = read_file(base + ".key");
    std::filesystem::path private_path = base + ".private";
    if (!need_private && !std::filesystem::exists(private_path)) {
        try {
            return parse_public_key_file(public_text);
        } catch (const dns::dns_error& e) {
            throw dnssec_error(base + ".key: " + e.what());
        }
    }
    std::string private_text = read_file(private_path);
    try {
        return parse_key_pair(public_text, private_text);
    } catch (const dns::text_error& e) {
        throw dnssec_error(base + ": " + e.what());
    }
}

std::string write_key_files(const key& k, const std::filesystem::path& dir) {
    std::string base = key_file_base(k);
    std::string public_text = format_public_key_file(k);
    std::string private_text = format_private_key_file(k);
    std::filesystem::path private_path = dir / (base + ".private");
    // Private half first: a .key without its .private would look like a usable key.
    write_new_file(private_path, private_text, 0600);
    try {
        write_new_file(dir / (base + ".key"), public_text, 0644);
    } catch (...) {
        std::error_code ignored;
        std::filesystem::remove(private_path, ignored);
        throw;
    }
    return base;
}

}  // namespace hsync::dnssec
