#include "api/management_auth.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "dns/text.h"
#include "dnssec/tsig.h"

namespace hsync::api {

namespace {

constexpr size_t max_key_file_bytes = 64 * 1024;
constexpr size_t max_authorization_bytes = 1024;

std::string errno_text() {
    return std::strerror(errno);
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
        s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
        s.remove_suffix(1);
    return s;
}

management_key checked(std::vector<uint8_t> secret) {
    if (secret.size() < management_key_min_bytes)
        throw std::runtime_error("the secret is " + std::to_string(secret.size()) +
                                 " octets; at least " + std::to_string(management_key_min_bytes) +
                                 " are needed");
    return management_key{std::move(secret)};
}

// A key-file error without its details: the parser quotes the tokens it did not expect,
// which may be (part of) the secret. Only "line N" is kept.
std::string safe_parse_error(const std::string& what) {
    std::string out = "not a key clause (key \"" + std::string(management_key_name) +
                      "\" { algorithm hmac-sha256; secret \"BASE64\"; };)";
    auto at = what.find("line ");
    if (at == std::string::npos) return out;
    auto end = at + 5;
    while (end < what.size() && std::isdigit(static_cast<unsigned char>(what[end])))
        ++end;
    if (end == at + 5) return out;
    return what.substr(at, end - at) + ": " + out;
}

std::string hex_sha256(std::string_view data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("SHA-256 unavailable");
    std::string out;
    dns::append_hex(out, std::span<const uint8_t>(digest, len), false);
    return out;
}

std::vector<uint8_t> mac_of(const management_key& key, std::string_view text) {
    auto bytes =
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size());
    return dnssec::hmac(dnssec::tsig_algorithm::hmac_sha256, key.secret, {bytes});
}

bool nonce_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
}

struct credentials {
    int64_t ts = 0;
    std::string nonce;
    std::vector<uint8_t> mac;
};

// "HSYNC-HMAC ts=..., nonce=..., mac=..." -> the fields; an empty string says why not.
std::string parse_authorization(std::string_view header, credentials& out) {
    header = trim(header);
    if (header.size() > max_authorization_bytes) return "the Authorization header is too long";
    auto space = header.find(' ');
    std::string scheme(header.substr(0, space));
    std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    if (scheme != auth_scheme)
        return "unsupported authorization scheme (expected " + std::string(auth_scheme) + ")";
    std::string_view rest = space == std::string_view::npos ? "" : header.substr(space + 1);
    bool have_ts = false, have_nonce = false, have_mac = false;
    while (!rest.empty()) {
        auto comma = rest.find(',');
        std::string_view param = trim(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
        if (param.empty()) continue;
        auto eq = param.find('=');
        if (eq == std::string_view::npos) return "malformed credentials";
        std::string_view name = trim(param.substr(0, eq)), value = trim(param.substr(eq + 1));
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
            value = value.substr(1, value.size() - 2);
        if (name == "ts") {
            if (have_ts || value.empty() || value.size() > 18 ||
                !std::all_of(value.begin(), value.end(),
                             [](char c) { return c >= '0' && c <= '9'; }))
                return "malformed credentials (ts)";
            out.ts = std::stoll(std::string(value));
            have_ts = true;
        } else if (name == "nonce") {
            if (have_nonce || value.size() < 16 || value.size() > 64 ||
                !std::all_of(value.begin(), value.end(), nonce_char))
                return "malformed credentials (nonce)";
            out.nonce = std::string(value);
            have_nonce = true;
        } else if (name == "mac") {
            if (have_mac) return "malformed credentials (mac)";
            try {
                dns::parse_base64(value, out.mac);
            } catch (const std::exception&) {
                return "malformed credentials (mac)";
            }
            have_mac = true;
        }  // other parameters are ignored: the MAC covers what matters
    }
    if (!have_ts || !have_nonce || !have_mac)
        return "malformed credentials (ts, nonce and mac are needed)";
    return "";
}

}  // namespace

management_key parse_management_key(std::string_view text) {
    // One line of base64 characters besides '#' comment lines: the plain form. (A secret
    // may start with "//", so that alone does not make a BIND comment.)
    std::string plain;
    bool bind_form = false;
    for (size_t pos = 0; pos <= text.size();) {
        auto nl = text.find('\n', pos);
        std::string_view line =
            trim(text.substr(pos, nl == std::string_view::npos ? nl : nl - pos));
        pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
        if (line.empty() || line.front() == '#') continue;
        bool base64_chars = std::all_of(line.begin(), line.end(), [](char ch) {
            return std::isalnum(static_cast<unsigned char>(ch)) || ch == '+' || ch == '/' ||
                   ch == '=';
        });
        if (!plain.empty() || !base64_chars) {
            bind_form = true;
            break;
        }
        plain = std::string(line);
    }
    if (!bind_form) {
        if (plain.empty()) throw std::runtime_error("holds no key");
        std::vector<uint8_t> secret;
        try {
            dns::parse_base64(plain, secret);
        } catch (const std::exception&) {
            throw std::runtime_error("the secret is not valid base64");
        }
        return checked(std::move(secret));
    }
    std::vector<dnssec::tsig_key> keys;
    try {
        keys = dnssec::parse_tsig_key_file(text);
    } catch (const std::exception& e) {
        throw std::runtime_error(safe_parse_error(e.what()));
    }
    if (keys.empty()) throw std::runtime_error("holds no key");
    const dnssec::tsig_key* k = keys.size() == 1 ? &keys.front() : nullptr;
    for (const auto& candidate : keys)
        if (candidate.name.to_text() == std::string(management_key_name) + ".") k = &candidate;
    if (!k)
        throw std::runtime_error("holds several keys and none is named \"" +
                                 std::string(management_key_name) + "\"");
    if (k->algorithm != dnssec::tsig_algorithm::hmac_sha256)
        throw std::runtime_error("key " + k->name.to_text() + ": algorithm must be hmac-sha256");
    return checked(k->secret);
}

std::string format_management_key(const management_key& key) {
    std::string secret;
    dns::append_base64(secret, key.secret);
    return "# The hsyncd management API key (docs/configuration.md). Keep it private.\n"
           "key \"" +
           std::string(management_key_name) + "\" {\n\talgorithm hmac-sha256;\n\tsecret \"" +
           secret + "\";\n};\n";
}

management_key generate_management_key() {
    management_key k;
    k.secret.resize(management_key_bytes);
    if (RAND_bytes(k.secret.data(), static_cast<int>(k.secret.size())) != 1)
        throw std::runtime_error("no random bytes for the management key");
    return k;
}

management_key read_management_key(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw std::runtime_error(path + ": cannot read the management key: " + errno_text());
    struct closer {
        int fd;
        ~closer() { ::close(fd); }
    } guard{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        throw std::runtime_error(path + ": cannot read the management key: " + errno_text());
    if (!S_ISREG(st.st_mode)) throw std::runtime_error(path + ": the management key is not a file");
    if (st.st_mode & 0027) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        throw std::runtime_error(path + ": the management key has mode " + mode +
                                 ": other users may read or change it (chmod 600 it)");
    }
    if (st.st_size > static_cast<off_t>(max_key_file_bytes))
        throw std::runtime_error(path + ": the management key file is larger than 64 KiB");
    std::string text(static_cast<size_t>(st.st_size), '\0');
    size_t got = 0;
    while (got < text.size()) {
        ssize_t n = ::read(fd, text.data() + got, text.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0)
            throw std::runtime_error(path + ": cannot read the management key: " + errno_text());
        if (n == 0) break;
        got += static_cast<size_t>(n);
    }
    text.resize(got);
    try {
        return parse_management_key(text);
    } catch (const std::runtime_error& e) {
        throw std::runtime_error(path + ": not a management key file: " + e.what());
    }
}

management_key load_or_create_management_key(const std::string& path, bool* created) {
    if (created) *created = false;
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 || errno != ENOENT) return read_management_key(path);
    // Written whole to a private temporary file, then linked into place: a reader never
    // sees half a key, and a key another process made meanwhile is kept.
    management_key key = generate_management_key();
    std::string text = format_management_key(key);
    std::string tmp = path + ".tmp." + std::to_string(::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        throw std::runtime_error(path + ": cannot create the management key: " + errno_text());
    bool ok = ::fchmod(fd, 0600) == 0;
    for (size_t done = 0; ok && done < text.size();) {
        ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            ok = false;
        else
            done += static_cast<size_t>(n);
    }
    ok = ok && ::fsync(fd) == 0;
    int saved = errno;
    ::close(fd);
    if (!ok) {
        ::unlink(tmp.c_str());
        errno = saved;
        throw std::runtime_error(path + ": cannot write the management key: " + errno_text());
    }
    int linked = ::link(tmp.c_str(), path.c_str());
    saved = errno;
    ::unlink(tmp.c_str());
    if (linked != 0) {
        if (saved == EEXIST) return read_management_key(path);
        errno = saved;
        throw std::runtime_error(path + ": cannot create the management key: " + errno_text());
    }
    if (created) *created = true;
    return key;
}

std::string string_to_sign(std::string_view method, std::string_view target, int64_t timestamp,
                           std::string_view nonce, std::string_view body) {
    std::string s = auth_scheme;
    s += '\n';
    s += method;
    s += '\n';
    s += target;
    s += '\n';
    s += std::to_string(timestamp);
    s += '\n';
    s += nonce;
    s += '\n';
    s += hex_sha256(body);
    return s;
}

std::string sign_request(const management_key& key, std::string_view method,
                         std::string_view target, std::string_view body, int64_t now,
                         std::string_view nonce) {
    std::string n(nonce);
    if (n.empty()) {
        uint8_t random[16];
        if (RAND_bytes(random, sizeof random) != 1)
            throw std::runtime_error("no random bytes for a nonce");
        dns::append_hex(n, random, false);
    }
    std::string mac;
    dns::append_base64(mac, mac_of(key, string_to_sign(method, target, now, n, body)));
    return std::string(auth_scheme) + " ts=" + std::to_string(now) + ", nonce=" + n +
           ", mac=" + mac;
}

request_verifier::request_verifier(management_key key, std::chrono::seconds window,
                                   size_t max_remembered)
    : key_(std::move(key)),
      window_(window.count()),
      max_remembered_(std::max<size_t>(1, max_remembered)) {}

void request_verifier::set_key(management_key key) {
    key_ = std::move(key);
}

auth_result request_verifier::verify(std::string_view authorization, std::string_view method,
                                     std::string_view target, std::string_view body, int64_t now) {
    if (trim(authorization).empty())
        return {false, "no credentials (every request must be signed with the management key)"};
    credentials c;
    if (auto why = parse_authorization(authorization, c); !why.empty()) return {false, why};
    if (c.ts < now - window_ || c.ts > now + window_)
        return {false, "the request's time is " + std::to_string(c.ts - now) +
                           " s off the server's clock (at most " + std::to_string(window_) +
                           " s allowed; check both clocks)"};
    auto expected = mac_of(key_, string_to_sign(method, target, c.ts, c.nonce, body));
    if (c.mac.size() != expected.size() ||
        CRYPTO_memcmp(c.mac.data(), expected.data(), expected.size()) != 0)
        return {false, "wrong MAC: the request was not signed with this server's management key"};
    // Only requests signed with the key get this far, so nobody else can fill the cache.
    while (!seen_.empty() && seen_.begin()->first < now - window_)
        seen_.erase(seen_.begin());
    auto entry = std::make_pair(c.ts, c.nonce);
    if (c.ts <= floor_ || seen_.count(entry))
        return {false, "replayed request: this timestamp and nonce were used before"};
    seen_.insert(std::move(entry));
    if (seen_.size() > max_remembered_) {
        floor_ = std::max(floor_, seen_.begin()->first);
        while (!seen_.empty() && seen_.begin()->first <= floor_)
            seen_.erase(seen_.begin());
    }
    return {true, ""};
}

}  // namespace hsync::api
