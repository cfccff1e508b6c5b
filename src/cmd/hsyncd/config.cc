#include "cmd/hsyncd/config.h"

#include "dnssec/tsig.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "dns/error.h"
#include "dns/name.h"
#include "dns/rdata.h"
#include "dns/text.h"
#include "dnssec/key.h"
#include "roles/signer/keys.h"
#include "zone/acl.h"

namespace hsync::hsyncd {

config_error::config_error(std::string file, int line, std::string path, std::string message)
    : std::runtime_error(file + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": " +
                         (path.empty() ? std::string() : path + ": ") + message),
      file_(std::move(file)),
      path_(std::move(path)),
      message_(std::move(message)),
      line_(line) {}

std::string endpoint::to_string() const {
    if (address.is_v6()) return "[" + address.to_string() + "]:" + std::to_string(port);
    return address.to_string() + ":" + std::to_string(port);
}

std::optional<endpoint> parse_endpoint(std::string_view text, uint16_t default_port) {
    std::string_view host = text, port_text;
    bool has_port = false;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        host = text.substr(1, close - 1);
        auto rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return std::nullopt;
            port_text = rest.substr(1);
            has_port = true;
        }
    } else if (std::count(text.begin(), text.end(), ':') == 1) {
        auto colon = text.find(':');
        host = text.substr(0, colon);
        port_text = text.substr(colon + 1);
        has_port = true;
    }  // else: bare IPv4 or bare IPv6 (several colons)
    endpoint e;
    boost::system::error_code ec;
    e.address = net::asio::ip::make_address(std::string(host), ec);
    if (ec || host.empty()) return std::nullopt;
    if (e.address.is_v6() && e.address.to_v6().scope_id() != 0) return std::nullopt;
    e.port = default_port;
    if (has_port) {
        unsigned p = 0;
        auto [ptr, err] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), p);
        if (err != std::errc() || ptr != port_text.data() + port_text.size() || port_text.empty() ||
            p > 65535)
            return std::nullopt;
        e.port = static_cast<uint16_t>(p);
    }
    return e;
}

const tsig_key* config::find_key(const std::string& name) const {
    for (const auto& k : tsig_keys)
        if (k.name == name) return &k;
    return nullptr;
}

const zone_config* config::find_zone(const std::string& name) const {
    for (const auto& z : zones)
        if (z.name == name) return &z;
    return nullptr;
}

const signer::signing_policy* config::find_policy(const std::string& name) const {
    for (const auto& p : dnssec_policies)
        if (p.name == name) return &p;
    return nullptr;
}

int config::line_of(const std::string& key_path) const {
    auto it = key_lines.find(key_path);
    return it == key_lines.end() ? 0 : it->second;
}

namespace {

namespace fs = std::filesystem;

std::string quote(std::string_view s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j)
        row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
            diag = up;
        }
    }
    return row[b.size()];
}

// What the walk needs to report errors and resolve paths. fail() ends the part of the walk
// it is in (a key, a list item); attempt() runs such a part and keeps its error, so that
// one walk finds every problem.
struct context {
    std::string file;
    fs::path base_dir;
    bool check_files = true;
    std::vector<config_error>* problems = nullptr;
    std::vector<file_ref>* files = nullptr;
    std::map<std::string, int>* lines = nullptr;
    // A tsig-keys entry failed: a reference to an unknown key may be to one of its keys,
    // so it is not reported again.
    mutable bool keys_incomplete = false;

    // True when the part ran to its end.
    template <class F>
    bool attempt(F&& part) const {
        try {
            part();
            return true;
        } catch (const config_error& e) {
            problems->push_back(e);
            return false;
        }
    }
    // An error after which the walk goes on where it is.
    void report(const YAML::Node& at, const std::string& path, const std::string& message) const {
        int line = at.IsDefined() && at.Mark().line >= 0 ? at.Mark().line + 1 : 0;
        problems->push_back(config_error(file, line, path, message));
    }

    [[noreturn]] void fail(const YAML::Node& at, const std::string& path,
                           const std::string& message) const {
        int line = at.IsDefined() && at.Mark().line >= 0 ? at.Mark().line + 1 : 0;
        throw config_error(file, line, path, message);
    }
    [[noreturn]] void fail(const YAML::Mark& m, const std::string& path,
                           const std::string& message) const {
        throw config_error(file, m.line >= 0 ? m.line + 1 : 0, path, message);
    }

    std::string resolve(const std::string& p) const {
        fs::path path(p);
        if (path.is_relative()) path = base_dir / path;
        return path.lexically_normal().string();
    }
};

std::string join(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
}
std::string index(const std::string& path, size_t i) {
    return path + "[" + std::to_string(i) + "]";
}

// A mapping whose keys are checked against the allowed set (unknown and repeated keys
// are errors).
class mapping {
  public:
    mapping(const context& c, const YAML::Node& node, std::string path,
            std::initializer_list<std::string_view> allowed)
        : c_(c), node_(node), path_(std::move(path)) {
        if (!node.IsMap())
            c.fail(node, path_.empty() ? "(top level)" : path_,
                   "must be a mapping of keys to values");
        for (auto it = node.begin(); it != node.end(); ++it) {
            // Copies: the iterator's pair is a temporary proxy.
            YAML::Node k = it->first;
            YAML::Node v = it->second;
            if (!k.IsScalar()) {
                c.report(k, path_, "keys must be plain words");
                continue;
            }
            std::string key = k.Scalar();
            if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
                std::string msg = "unknown key";
                std::string_view best;
                size_t best_d = 3;
                for (auto a : allowed) {
                    size_t d = edit_distance(key, a);
                    if (d < best_d) best_d = d, best = a;
                }
                if (!best.empty()) msg += " (did you mean " + quote(best) + "?)";
                c.report(k, join(path_, key), msg);
                continue;
            }
            bool twice = false;
            for (const auto& e : entries_)
                if (e.key == key) {
                    c.report(
                        k, join(path_, key),
                        "given twice (first on line " + std::to_string(e.key_mark.line + 1) + ")");
                    twice = true;
                }
            if (twice) continue;
            if (c.lines) (*c.lines)[join(path_, key)] = k.Mark().line + 1;
            entries_.push_back({key, k.Mark(), v});
        }
    }

    const YAML::Node* get(std::string_view key) const {
        for (const auto& e : entries_)
            if (e.key == key) return &e.value;
        return nullptr;
    }
    const YAML::Node& require(std::string_view key, const std::string& why = {}) const {
        if (const auto* v = get(key)) return *v;
        c_.fail(node_, path_.empty() ? std::string(key) : path_,
                (path_.empty() ? std::string("is required") : quote(key) + " is required") +
                    (why.empty() ? "" : " " + why));
    }
    std::string path(std::string_view key) const { return join(path_, key); }
    const YAML::Node& node() const { return node_; }

  private:
    struct entry {
        std::string key;
        YAML::Mark key_mark;
        YAML::Node value;
    };
    const context& c_;
    YAML::Node node_;
    std::string path_;
    std::vector<entry> entries_;
};

std::string scalar(const context& c, const YAML::Node& n, const std::string& path) {
    if (n.IsNull()) c.fail(n, path, "needs a value");
    if (!n.IsScalar()) c.fail(n, path, "must be a single value, not a list or mapping");
    return n.Scalar();
}

// A list, or a single value standing for a one-element list.
std::vector<std::pair<YAML::Node, std::string>> items(const context& c, const YAML::Node& n,
                                                      const std::string& path) {
    std::vector<std::pair<YAML::Node, std::string>> out;
    if (n.IsScalar()) {
        out.emplace_back(n, path);
    } else if (n.IsSequence()) {
        for (size_t i = 0; i < n.size(); ++i)
            out.emplace_back(n[i], index(path, i));
    } else if (!n.IsNull()) {
        c.fail(n, path, "must be a list");
    }
    return out;
}

uint64_t integer(const context& c, const YAML::Node& n, const std::string& path, uint64_t min,
                 uint64_t max) {
    std::string s = scalar(c, n, path);
    uint64_t v = 0;
    auto [ptr, err] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (err != std::errc() || ptr != s.data() + s.size() || s.empty())
        c.fail(n, path, quote(s) + " is not a whole number");
    if (v < min || v > max)
        c.fail(n, path,
               quote(s) + " is out of range " + std::to_string(min) + ".." + std::to_string(max));
    return v;
}

// Seconds, or a number with a unit: s, m, h, d, w ("90", "30m", "1d").
uint32_t duration(const context& c, const YAML::Node& n, const std::string& path, uint32_t min,
                  uint32_t max) {
    std::string s = scalar(c, n, path);
    uint64_t unit = 1;
    std::string_view digits = s;
    if (!s.empty() && !std::isdigit(static_cast<unsigned char>(s.back()))) {
        switch (std::tolower(static_cast<unsigned char>(s.back()))) {
            case 's':
                unit = 1;
                break;
            case 'm':
                unit = 60;
                break;
            case 'h':
                unit = 3600;
                break;
            case 'd':
                unit = 86400;
                break;
            case 'w':
                unit = 604800;
                break;
            default:
                c.fail(n, path,
                       quote(s) + " is not a duration (seconds, or N followed by s|m|h|d|w)");
        }
        digits.remove_suffix(1);
    }
    uint64_t v = 0;
    auto [ptr, err] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (err != std::errc() || ptr != digits.data() + digits.size() || digits.empty())
        c.fail(n, path, quote(s) + " is not a duration (seconds, or N followed by s|m|h|d|w)");
    if (v > max / unit || v * unit < min || v * unit > max)
        c.fail(n, path,
               quote(s) + " is out of range " + std::to_string(min) + ".." + std::to_string(max) +
                   " seconds");
    return static_cast<uint32_t>(v * unit);
}

bool boolean(const context& c, const YAML::Node& n, const std::string& path) {
    std::string s = scalar(c, n, path);
    if (s == "true") return true;
    if (s == "false") return false;
    c.fail(n, path, quote(s) + " is not true or false");
}

template <size_t N>
std::string one_of(const context& c, const YAML::Node& n, const std::string& path,
                   const char* const (&choices)[N]) {
    std::string s = scalar(c, n, path);
    std::string list;
    for (const char* ch : choices) {
        if (s == ch) return s;
        list += list.empty() ? "" : "|";
        list += ch;
    }
    c.fail(n, path, quote(s) + " is not one of " + list);
}

endpoint endpoint_value(const context& c, const YAML::Node& n, const std::string& path,
                        uint16_t default_port) {
    std::string s = scalar(c, n, path);
    auto e = parse_endpoint(s, default_port);
    if (!e) c.fail(n, path, quote(s) + " is not ADDR:PORT");
    return *e;
}

// A path (relative to the configuration's directory), registered for the file checks.
std::string path_value(const context& c, const YAML::Node& n, const std::string& path,
                       file_ref::use how) {
    std::string p = c.resolve(scalar(c, n, path));
    if (c.files) c.files->push_back({path, n.Mark().line + 1, p, how});
    return p;
}

std::vector<endpoint> endpoint_list(const context& c, const YAML::Node& n, const std::string& path,
                                    uint16_t default_port) {
    std::vector<endpoint> out;
    for (const auto& [item, p] : items(c, n, path)) {
        endpoint e = endpoint_value(c, item, p, default_port);
        if (std::find(out.begin(), out.end(), e) != out.end())
            c.fail(item, p, e.to_string() + " is listed twice");
        out.push_back(e);
    }
    return out;
}

// A domain name, made absolute and canonical; relative to `origin` when given.
std::string domain(const context& c, const YAML::Node& n, const std::string& path,
                   const dns::name* origin = nullptr) {
    std::string s = scalar(c, n, path);
    try {
        if (!origin && (s.empty() || s.back() != '.')) s += '.';
        return dns::name::from_text(s, origin).canonical().to_text();
    } catch (const dns::dns_error& e) {
        c.fail(n, path, quote(n.Scalar()) + " is not a domain name: " + e.what());
    }
}

// ------------------------------------------------------------------------- TSIG keys

constexpr const char* tsig_algorithms[] = {"hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384",
                                           "hmac-sha512"};

// Checks an algorithm and a secret; returns an error text or empty.
std::string check_key_material(std::string& algorithm, const std::string& secret_text,
                               std::vector<uint8_t>& secret) {
    std::transform(algorithm.begin(), algorithm.end(), algorithm.begin(),
                   [](unsigned char ch) { return std::tolower(ch); });
    if (!algorithm.empty() && algorithm.back() == '.') algorithm.pop_back();
    if (std::find_if(std::begin(tsig_algorithms), std::end(tsig_algorithms),
                     [&](const char* a) { return algorithm == a; }) == std::end(tsig_algorithms)) {
        std::string list;
        for (const char* a : tsig_algorithms)
            list += (list.empty() ? "" : "|") + std::string(a);
        return "algorithm " + quote(algorithm) + " is not supported (use one of " + list + ")";
    }
    try {
        dns::parse_base64(secret_text, secret);
    } catch (const dns::dns_error& e) {
        return "secret is not valid base64: " + std::string(e.what());
    }
    if (secret.empty()) return "secret is empty";
    return {};
}

}  // namespace

// BIND key files are read by the DNSSEC layer's parser (the one `hsyncctl tsig` uses);
// its errors name the line, which becomes the config error's line.
std::vector<tsig_key> parse_bind_key_file(const std::string& text, const std::string& file) {
    std::vector<dnssec::tsig_key> parsed;
    try {
        parsed = dnssec::parse_tsig_key_file(text);
    } catch (const dns::dns_error& e) {
        std::string message = e.what();
        int line = 0;
        const std::string prefix = "key file line ";
        if (message.rfind(prefix, 0) == 0) {
            line = std::atoi(message.c_str() + prefix.size());
            size_t colon = message.find(": ");
            if (colon != std::string::npos) message = message.substr(colon + 2);
        }
        throw config_error(file, line, "", message);
    }
    if (parsed.empty()) throw config_error(file, 1, "", "no key statement found");
    std::vector<tsig_key> keys;
    for (auto& k : parsed) {
        tsig_key out;
        out.name = k.name.canonical().to_text();
        out.algorithm = dnssec::tsig_algorithm_text(k.algorithm);
        out.secret = std::move(k.secret);
        out.origin = file;
        keys.push_back(std::move(out));
    }
    return keys;
}

namespace {

void add_key(const context& c, config& cfg, tsig_key k, const YAML::Node& at,
             const std::string& path) {
    if (const auto* old = cfg.find_key(k.name))
        c.fail(at, path,
               "key " + quote(k.name) + " is defined twice (also at " + old->origin + ")");
    cfg.tsig_keys.push_back(std::move(k));
}

void parse_tsig_key(const context& c, const YAML::Node& node, const std::string& p, config& cfg);

void parse_tsig_keys(const context& c, const YAML::Node& n, const std::string& path, config& cfg) {
    if (!n.IsSequence() && !n.IsNull()) c.fail(n, path, "must be a list of keys");
    for (size_t i = 0; i < n.size(); ++i) {
        if (!c.attempt([&] { parse_tsig_key(c, n[i], index(path, i), cfg); }))
            c.keys_incomplete = true;
    }
}

void parse_tsig_key(const context& c, const YAML::Node& node, const std::string& p, config& cfg) {
    mapping m(c, node, p, {"name", "algorithm", "secret", "key-file"});
    if (const auto* kf = m.get("key-file")) {
        if (m.get("name") || m.get("algorithm") || m.get("secret"))
            c.fail(node, p, "give either key-file or name/algorithm/secret, not both");
        std::string file = path_value(c, *kf, m.path("key-file"), file_ref::use::read);
        std::ifstream in(file);
        if (!in)
            c.fail(*kf, m.path("key-file"),
                   "cannot read " + quote(file) + ": " + std::strerror(errno));
        std::stringstream ss;
        ss << in.rdbuf();
        std::vector<tsig_key> keys;
        try {
            keys = parse_bind_key_file(ss.str(), file);
        } catch (const config_error& e) {
            c.fail(*kf, m.path("key-file"), e.what());
        }
        for (auto& k : keys)
            add_key(c, cfg, std::move(k), *kf, m.path("key-file"));
        return;
    }
    tsig_key k;
    k.origin = c.file + ":" + std::to_string(node.Mark().line + 1);
    k.name = domain(c, m.require("name", "(or key-file)"), m.path("name"));
    k.algorithm = scalar(c, m.require("algorithm"), m.path("algorithm"));
    const auto& secret = m.require("secret");
    std::string err =
        check_key_material(k.algorithm, scalar(c, secret, m.path("secret")), k.secret);
    if (!err.empty())
        c.fail(err.starts_with("algorithm") ? *m.get("algorithm") : secret,
               m.path(err.starts_with("algorithm") ? "algorithm" : "secret"), err);
    add_key(c, cfg, std::move(k), node, p);
}

// ------------------------------------------------------------------------- ACLs

bool valid_acl_name(std::string_view s) {
    if (s.empty() || s == "any" || s == "none" || s == "key") return false;
    return std::all_of(s.begin(), s.end(),
                       [](unsigned char ch) { return std::isalnum(ch) || ch == '-' || ch == '_'; });
}

// Resolves one ACL (list or single value) into elements; named ACLs expand in place.
class acl_resolver {
  public:
    acl_resolver(const context& c, const config& cfg, const YAML::Node* acls) : c_(c), cfg_(cfg) {
        if (acls) raw_ = *acls;
    }

    // Read-only lookup: operator[] on a non-const node would insert the key.
    YAML::Node lookup(const std::string& name) const {
        const YAML::Node& r = raw_;
        return r.IsMap() ? r[name] : YAML::Node(YAML::NodeType::Undefined);
    }

    acl_elements resolve(const YAML::Node& n, const std::string& path) {
        acl_elements out;
        for (const auto& [item, p] : items(c_, n, path)) {
            std::string e = scalar(c_, item, p);
            std::string_view body = e;
            while (!body.empty() && body.front() == ' ')
                body.remove_prefix(1);
            bool negated = !body.empty() && body.front() == '!';
            std::string_view rest = negated ? body.substr(1) : body;
            while (!rest.empty() && rest.front() == ' ')
                rest.remove_prefix(1);
            if (valid_acl_name(rest) && lookup(std::string(rest)).IsDefined()) {
                if (negated)
                    c_.fail(item, p,
                            "negating a named ACL (" + quote(e) +
                                ") is not supported: write the negated elements inline");
                auto inner = named(std::string(rest), item, p);
                out.insert(out.end(), inner.begin(), inner.end());
                continue;
            }
            if (rest.starts_with("key ") || rest.starts_with("key\t")) {
                std::string key_name(rest.substr(4));
                key_name.erase(0, key_name.find_first_not_of(" \t"));
                if (key_name.empty() || key_name.back() != '.') key_name += '.';
                try {
                    key_name = dns::name::from_text(key_name).canonical().to_text();
                } catch (const dns::dns_error& ex) {
                    c_.fail(item, p, quote(e) + ": bad key name: " + ex.what());
                }
                if (!cfg_.find_key(key_name) && !c_.keys_incomplete)
                    c_.fail(item, p, quote(e) + " names a key that tsig-keys does not define");
                out.push_back(std::string(negated ? "!" : "") + "key " + key_name);
                continue;
            }
            try {
                zone::acl::parse({std::string(body)});
            } catch (const std::exception& ex) {
                if (valid_acl_name(rest))
                    c_.fail(item, p,
                            quote(e) +
                                " is neither a defined ACL nor an address, prefix, "
                                "\"key NAME\", any or none");
                c_.fail(item, p, ex.what());
            }
            out.emplace_back(body);
        }
        return out;
    }

    acl_elements named(const std::string& name, const YAML::Node& at, const std::string& path) {
        if (auto it = done_.find(name); it != done_.end()) return it->second;
        if (active_.count(name)) c_.fail(at, path, "ACL " + quote(name) + " includes itself");
        active_.insert(name);
        auto r = resolve(lookup(name), "acls." + name);
        active_.erase(name);
        done_[name] = r;
        return r;
    }

  private:
    const context& c_;
    const config& cfg_;
    YAML::Node raw_;
    std::map<std::string, acl_elements> done_;
    std::set<std::string> active_;
};

// ------------------------------------------------------------------------- zones

update_rule parse_update_rule(const context& c, const YAML::Node& n, const std::string& path,
                              const config& cfg, const dns::name& apex) {
    mapping m(c, n, path, {"key", "key-type", "match", "name", "types"});
    update_rule r;
    static const char* const key_types[] = {"tsig", "sig0"};
    if (const auto* kt = m.get("key-type"))
        r.key_type = one_of(c, *kt, m.path("key-type"), key_types) == "sig0"
                         ? update_rule::key_kind::sig0
                         : update_rule::key_kind::tsig;
    const auto& key = m.require("key");
    r.key = domain(c, key, m.path("key"));
    if (r.key_type == update_rule::key_kind::tsig && !cfg.find_key(r.key) && !c.keys_incomplete)
        c.fail(key, m.path("key"),
               quote(key.Scalar()) +
                   " is not defined in tsig-keys (for a SIG(0) KEY set "
                   "key-type: sig0)");
    static const char* const matches[] = {"exact", "subdomain", "wildcard"};
    if (const auto* mt = m.get("match")) {
        std::string s = one_of(c, *mt, m.path("match"), matches);
        r.match = s == "exact"      ? update_rule::match_kind::exact
                  : s == "wildcard" ? update_rule::match_kind::wildcard
                                    : update_rule::match_kind::subdomain;
    }
    r.name = apex.to_text();
    if (const auto* nm = m.get("name")) {
        r.name = domain(c, *nm, m.path("name"), &apex);
        if (!dns::name::from_text(r.name).is_subdomain_of(apex))
            c.fail(*nm, m.path("name"), quote(nm->Scalar()) + " is outside the zone");
    }
    if (const auto* ts = m.get("types")) {
        for (const auto& [item, p] : items(c, *ts, m.path("types"))) {
            std::string t = scalar(c, item, p);
            uint16_t code = 0;
            if (t == "ANY") continue;  // empty list = any type
            if (!dns::type_from_text(t, code)) c.fail(item, p, quote(t) + " is not an RR type");
            r.types.push_back(code);
        }
    }
    return r;
}

zone_config parse_zone(const context& c, const YAML::Node& n, const std::string& path,
                       const config& cfg, acl_resolver& acls) {
    mapping m(c, n, path,
              {"name", "type", "file", "primaries", "transfer-key", "notify", "allow-transfer",
               "allow-notify", "allow-update", "update-policy", "refresh", "retry", "expire",
               "dnssec-policy", "children"});
    zone_config z;
    z.line = n.Mark().line + 1;
    // Without a name or a type nothing else of the zone can be judged; after them, each
    // key is checked on its own.
    const auto& name_node = m.require("name");
    z.name = domain(c, name_node, m.path("name"));
    dns::name apex = dns::name::from_text(z.name);
    static const char* const types[] = {"primary", "secondary"};
    std::string type =
        one_of(c, m.require("type", "(primary or secondary)"), m.path("type"), types);
    z.type =
        type == "primary" ? zone_config::zone_type::primary : zone_config::zone_type::secondary;
    if (z.type == zone_config::zone_type::primary) {
        c.attempt([&] {
            z.file = path_value(c, m.require("file", "for a primary zone"), m.path("file"),
                                file_ref::use::read);
        });
        for (const char* k : {"primaries", "transfer-key", "allow-notify"})
            if (const auto* v = m.get(k))
                c.report(*v, m.path(k), "applies only to secondary zones");
    } else {
        if (const auto* v = m.get("file"))
            c.report(*v, m.path("file"),
                     "applies only to primary zones (a secondary keeps its copy under data-dir)");
        c.attempt([&] {
            const auto& prim = m.require("primaries", "for a secondary zone");
            z.primaries = endpoint_list(c, prim, m.path("primaries"), 53);
            if (z.primaries.empty())
                c.fail(prim, m.path("primaries"),
                       "needs at least one ADDR:PORT for a secondary zone");
        });
        if (const auto* tk = m.get("transfer-key"))
            c.attempt([&] {
                z.transfer_key = domain(c, *tk, m.path("transfer-key"));
                if (!cfg.find_key(z.transfer_key) && !c.keys_incomplete)
                    c.fail(*tk, m.path("transfer-key"),
                           quote(tk->Scalar()) + " is not defined in tsig-keys");
            });
        if (const auto* an = m.get("allow-notify")) {
            c.attempt([&] { z.allow_notify = acls.resolve(*an, m.path("allow-notify")); });
        } else {
            for (const auto& p : z.primaries)
                z.allow_notify.push_back(p.address.to_string());
        }
    }
    if (const auto* v = m.get("notify"))
        c.attempt([&] { z.notify = endpoint_list(c, *v, m.path("notify"), 53); });
    if (const auto* v = m.get("allow-transfer"))
        c.attempt([&] { z.allow_transfer = acls.resolve(*v, m.path("allow-transfer")); });
    if (const auto* v = m.get("allow-update"))
        c.attempt([&] { z.allow_update = acls.resolve(*v, m.path("allow-update")); });
    if (const auto* v = m.get("update-policy"))
        c.attempt([&] {
            // No structured bindings: clang 14 cannot capture them in a lambda.
            for (const auto& entry : items(c, *v, m.path("update-policy"))) {
                const auto& item = entry.first;
                const auto& p = entry.second;
                c.attempt(
                    [&] { z.update_policy.push_back(parse_update_rule(c, item, p, cfg, apex)); });
            }
        });
    // RFC 1912 §2.2 gives sane ranges; we only refuse the absurd.
    if (const auto* v = m.get("refresh"))
        c.attempt([&] { z.refresh = duration(c, *v, m.path("refresh"), 1, 2419200); });
    if (const auto* v = m.get("retry"))
        c.attempt([&] { z.retry = duration(c, *v, m.path("retry"), 1, 2419200); });
    if (const auto* v = m.get("expire"))
        c.attempt([&] { z.expire = duration(c, *v, m.path("expire"), 1, 31536000); });
    if (z.expire && z.refresh && *z.expire < *z.refresh)
        c.report(*m.get("expire"), m.path("expire"), "is shorter than refresh");
    if (const auto* v = m.get("dnssec-policy")) {
        c.attempt([&] {
            if (!cfg.role.empty() && cfg.role != "signer")
                c.fail(*v, m.path("dnssec-policy"), "applies only to role signer");
            z.dnssec_policy = scalar(c, *v, m.path("dnssec-policy"));
            if (!cfg.find_policy(z.dnssec_policy))
                c.fail(*v, m.path("dnssec-policy"),
                       quote(z.dnssec_policy) + " is not defined in dnssec-policies");
        });
    } else if (cfg.role == "signer") {
        z.dnssec_policy = "default";
    }
    if (const auto* v = m.get("children"))
        c.attempt([&] {
            if (!cfg.role.empty() && cfg.role != "parent")
                c.fail(*v, m.path("children"), "applies only to role parent");
            for (const auto& entry : items(c, *v, m.path("children"))) {
                const auto& item = entry.first;
                const auto& p = entry.second;
                c.attempt([&] {
                    std::string child = domain(c, item, p);
                    if (!dns::name::from_text(child).is_subdomain_of(apex) || child == z.name)
                        c.fail(item, p, quote(child) + " is not below the zone " + z.name);
                    z.children.push_back(child);
                });
            }
        });
    // The roles that transform a zone get it by transfer (the factory refuses the rest).
    if (cfg.role == "signer" && z.type != zone_config::zone_type::secondary)
        c.report(n, path,
                 "a signer's zone must be type secondary (a secondary of the provider's "
                 "combiner)");
    if (cfg.role == "combiner" && z.type != zone_config::zone_type::secondary)
        c.report(n, path,
                 "a combiner's zone must be type secondary (a secondary of the zone owner's "
                 "primary)");
    return z;
}

uint8_t algorithm_value(const context& c, const YAML::Node& n, const std::string& path) {
    std::string s = scalar(c, n, path);
    std::string upper;
    for (char ch : s)
        upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
    for (unsigned a = 1; a < 256; ++a) {
        uint8_t alg = static_cast<uint8_t>(a);
        if (!dnssec::algorithm_supported(alg)) continue;
        if (upper == dnssec::algorithm_name(alg) || s == std::to_string(a)) return alg;
    }
    std::string list;
    for (unsigned a = 1; a < 256; ++a)
        if (dnssec::algorithm_supported(static_cast<uint8_t>(a)))
            list += (list.empty() ? "" : ", ") + dnssec::algorithm_name(static_cast<uint8_t>(a));
    c.fail(n, path, quote(s) + " is not a signing algorithm we support (" + list + ")");
}

signer::signing_policy parse_policy(const context& c, const YAML::Node& n,
                                    const std::string& path) {
    mapping m(
        c, n, path,
        {"name", "algorithm", "keys", "dnskey-ttl", "signature-validity", "signature-refresh",
         "nsec3", "nsec3-iterations", "nsec3-salt", "nsec3-opt-out", "publish-cds", "zsk-lifetime",
         "ksk-lifetime", "propagation-delay", "publish-safety", "retire-safety"});
    signer::signing_policy p;
    const auto& name_node = m.require("name");
    p.name = scalar(c, name_node, m.path("name"));
    if (p.name.empty()) c.fail(name_node, m.path("name"), "is empty");
    if (const auto* v = m.get("algorithm"))
        p.algorithm = algorithm_value(c, *v, m.path("algorithm"));
    if (const auto* v = m.get("keys")) {
        static const char* const kinds[] = {"ksk-zsk", "csk"};
        p.csk = one_of(c, *v, m.path("keys"), kinds) == "csk";
    }
    if (const auto* v = m.get("dnskey-ttl"))
        p.dnskey_ttl = duration(c, *v, m.path("dnskey-ttl"), 0, 604800);
    if (const auto* v = m.get("signature-validity"))
        p.validity = duration(c, *v, m.path("signature-validity"), 7200, 365 * 86400);
    if (const auto* v = m.get("signature-refresh"))
        p.refresh = duration(c, *v, m.path("signature-refresh"), 600, 365 * 86400);
    else
        p.refresh = p.validity / 2;
    // A refresh as long as the validity re-signs everything at every check.
    if (p.refresh >= p.validity)
        c.fail(m.get("signature-refresh") ? *m.get("signature-refresh") : n,
               m.path("signature-refresh"),
               "must be shorter than signature-validity (" + std::to_string(p.validity) + " s)");
    if (const auto* v = m.get("nsec3")) p.nsec3 = boolean(c, *v, m.path("nsec3"));
    if (const auto* v =
            m.get("nsec3-iterations"))  // RFC 9276 §3.1: 0; validators give up above 150
        p.nsec3_iterations =
            static_cast<uint16_t>(integer(c, *v, m.path("nsec3-iterations"), 0, 150));
    if (const auto* v = m.get("nsec3-salt")) {
        std::string hex = scalar(c, *v, m.path("nsec3-salt"));
        if (hex != "-") {
            if (hex.size() % 2 || hex.size() > 510 ||
                !std::all_of(hex.begin(), hex.end(),
                             [](unsigned char ch) { return std::isxdigit(ch); }))
                c.fail(*v, m.path("nsec3-salt"), quote(hex) + " is not hex (or - for none)");
            for (size_t i = 0; i < hex.size(); i += 2)
                p.nsec3_salt.push_back(
                    static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
        }
    }
    if (const auto* v = m.get("nsec3-opt-out"))
        p.nsec3_opt_out = boolean(c, *v, m.path("nsec3-opt-out"));
    if (const auto* v = m.get("publish-cds")) p.publish_cds = boolean(c, *v, m.path("publish-cds"));
    if (const auto* v = m.get("zsk-lifetime"))
        p.zsk_lifetime = duration(c, *v, m.path("zsk-lifetime"), 0, 10 * 365 * 86400);
    if (const auto* v = m.get("ksk-lifetime"))
        p.ksk_lifetime = duration(c, *v, m.path("ksk-lifetime"), 0, 10 * 365 * 86400);
    if (const auto* v = m.get("propagation-delay"))
        p.propagation_delay = duration(c, *v, m.path("propagation-delay"), 0, 7 * 86400);
    if (const auto* v = m.get("publish-safety"))
        p.publish_safety = duration(c, *v, m.path("publish-safety"), 0, 30 * 86400);
    if (const auto* v = m.get("retire-safety"))
        p.retire_safety = duration(c, *v, m.path("retire-safety"), 0, 30 * 86400);
    if (p.zsk_lifetime && p.zsk_lifetime <= signer::publish_interval(p))
        c.fail(*m.get("zsk-lifetime"), m.path("zsk-lifetime"),
               "must be longer than dnskey-ttl + propagation-delay + publish-safety (" +
                   std::to_string(signer::publish_interval(p)) + " s)");
    return p;
}

// The validating resolver of the parent and the agent: trust anchors, forwarder, stubs.
template <typename Config>
void parse_resolver(const context& c, const YAML::Node& r, const std::string& path, Config& p,
                    const char* need_anchor) {
    mapping rm(c, r, path, {"trust-anchors", "trust-anchor-file", "forward", "stubs", "timeout"});
    if (const auto* v = rm.get("trust-anchors"))
        for (const auto& [item, ip] : items(c, *v, rm.path("trust-anchors"))) {
            std::string text = scalar(c, item, ip);
            try {
                auto rr = dns::rr::from_text(text);
                if (rr.type != dns::rr_type::DS && rr.type != dns::rr_type::DNSKEY)
                    c.fail(item, ip, "is not a DS or DNSKEY record");
            } catch (const dns::dns_error& e) {
                c.fail(item, ip, quote(text) + " is not a record: " + e.what());
            }
            p.trust_anchors.push_back(text);
        }
    if (const auto* v = rm.get("trust-anchor-file")) {
        p.trust_anchor_file = path_value(c, *v, rm.path("trust-anchor-file"), file_ref::use::read);
        if (c.check_files && !fs::exists(p.trust_anchor_file))
            c.fail(*v, rm.path("trust-anchor-file"),
                   quote(p.trust_anchor_file) + " does not exist");
    }
    if (p.trust_anchors.empty() && p.trust_anchor_file.empty())
        c.fail(r, rm.path("trust-anchors"), need_anchor);
    if (const auto* v = rm.get("forward"))
        p.forward = endpoint_value(c, *v, rm.path("forward"), 53);
    if (const auto* v = rm.get("stubs"))
        for (const auto& [item, ip] : items(c, *v, rm.path("stubs"))) {
            mapping sm(c, item, ip, {"zone", "servers"});
            std::string zone = domain(c, sm.require("zone"), sm.path("zone"));
            auto servers = endpoint_list(c, sm.require("servers"), sm.path("servers"), 53);
            if (servers.empty()) c.fail(item, sm.path("servers"), "needs at least one ADDR:PORT");
            p.stubs.emplace_back(zone, std::move(servers));
        }
    if (const auto* v = rm.get("timeout"))
        p.timeout_ms = static_cast<uint32_t>(integer(c, *v, rm.path("timeout"), 100, 60000));
}

agent_config parse_agent(const context& c, const YAML::Node& n, const std::string& path,
                         const config& cfg) {
    mapping m(
        c, n, path,
        {"identity", "ttl", "dns-target", "dns-addresses", "dns-port", "nameservers",
         "provider-nameservers", "sig0-key", "heartbeat-interval", "retry-initial", "retry-max",
         "message-timeout", "peer-sync", "publish-key", "identity-notify", "identity-allow-transfer",
         "resolver", "api", "combiner", "parent-nameservers"});
    agent_config a;
    a.identity = domain(c, m.require("identity"), m.path("identity"));
    if (a.identity == ".") c.fail(m.require("identity"), m.path("identity"), "cannot be the root");
    if (const auto* v = m.get("ttl")) a.ttl = duration(c, *v, m.path("ttl"), 1, 86400);
    a.dns_target = "dns." + a.identity;
    if (const auto* v = m.get("dns-target")) a.dns_target = domain(c, *v, m.path("dns-target"));
    if (const auto* v = m.get("dns-addresses"))
        for (const auto& [item, ip] : items(c, *v, m.path("dns-addresses")))
            a.dns_addresses.push_back(endpoint_value(c, item, ip, 53).address);
    if (a.dns_addresses.empty())
        for (const auto& e : cfg.listen)
            if (!e.address.is_unspecified()) a.dns_addresses.push_back(e.address);
    if (a.dns_addresses.empty())
        c.fail(n, m.path("dns-addresses"),
               "is required when every listen address is a wildcard (peers must know where to "
               "send)");
    a.dns_port = cfg.listen.empty() ? 53 : cfg.listen.front().port;
    if (const auto* v = m.get("dns-port"))
        a.dns_port = static_cast<uint16_t>(integer(c, *v, m.path("dns-port"), 1, 65535));
    if (const auto* v = m.get("nameservers"))
        for (const auto& [item, ip] : items(c, *v, m.path("nameservers"))) {
            mapping nm(c, item, ip, {"name", "addresses"});
            agent_config::nameserver ns;
            ns.name = domain(c, nm.require("name"), nm.path("name"));
            if (const auto* av = nm.get("addresses"))
                for (const auto& [ai, aip] : items(c, *av, nm.path("addresses")))
                    ns.addresses.push_back(endpoint_value(c, ai, aip, 53).address);
            a.nameservers.push_back(std::move(ns));
        }
    if (a.nameservers.empty())
        c.fail(n, m.path("nameservers"),
               "is required: the nameservers of the identity zone (as its parent delegates it)");
    if (const auto* v = m.get("provider-nameservers"))
        for (const auto& [item, ip] : items(c, *v, m.path("provider-nameservers")))
            a.provider_nameservers.push_back(domain(c, item, ip));
    if (const auto* v = m.get("api")) {
        mapping am(c, *v, m.path("api"),
                   {"listen", "target", "addresses", "key-file", "cert-file", "publish-own-tlsa",
                    "extra-tlsa"});
        agent_config::api_config api;
        api.listen = endpoint_value(c, am.require("listen"), am.path("listen"), 443);
        api.target = "api." + a.identity;
        if (const auto* t = am.get("target")) api.target = domain(c, *t, am.path("target"));
        if (const auto* av = am.get("addresses"))
            for (const auto& [item, ip] : items(c, *av, am.path("addresses")))
                api.addresses.push_back(endpoint_value(c, item, ip, 443).address);
        if (api.addresses.empty() && !api.listen.address.is_unspecified())
            api.addresses.push_back(api.listen.address);
        if (api.addresses.empty())
            c.fail(*v, am.path("addresses"), "is required when api.listen is a wildcard address");
        if (const auto* k = am.get("key-file")) api.key_file = c.resolve(scalar(c, *k, am.path("key-file")));
        if (const auto* k = am.get("cert-file")) api.cert_file = c.resolve(scalar(c, *k, am.path("cert-file")));
        if (api.key_file.empty() != api.cert_file.empty())
            c.fail(*v, am.path("key-file"), "key-file and cert-file go together");
        if (const auto* b = am.get("publish-own-tlsa"))
            api.publish_own_tlsa = boolean(c, *b, am.path("publish-own-tlsa"));
        if (const auto* x = am.get("extra-tlsa"))
            for (const auto& [item, ip] : items(c, *x, am.path("extra-tlsa"))) {
                std::string hex = scalar(c, item, ip);
                if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
                    c.fail(item, ip, quote(hex) + " is not a SHA-256 digest (64 hex digits)");
                api.extra_tlsa.push_back(hex);
            }
        a.api = std::move(api);
    }
    if (const auto* v = m.get("sig0-key")) {
        a.sig0_key = path_value(c, *v, m.path("sig0-key"), file_ref::use::key_pair);
        if (c.check_files && !fs::exists(a.sig0_key) && !fs::exists(a.sig0_key + ".private"))
            c.fail(*v, m.path("sig0-key"), quote(a.sig0_key) + " does not exist");
    }
    if (const auto* v = m.get("heartbeat-interval"))
        a.heartbeat_interval = duration(c, *v, m.path("heartbeat-interval"), 1, 86400);
    if (const auto* v = m.get("retry-initial"))
        a.retry_initial = duration(c, *v, m.path("retry-initial"), 1, 86400);
    if (const auto* v = m.get("retry-max"))
        a.retry_max = duration(c, *v, m.path("retry-max"), 1, 7 * 86400);
    if (a.retry_max < a.retry_initial)
        c.fail(m.get("retry-max") ? *m.get("retry-max") : n, m.path("retry-max"),
               "is shorter than retry-initial");
    if (const auto* v = m.get("message-timeout"))
        a.message_timeout_ms =
            static_cast<uint32_t>(integer(c, *v, m.path("message-timeout"), 100, 60000));
    if (const auto* v = m.get("peer-sync")) a.peer_sync = boolean(c, *v, m.path("peer-sync"));
    if (const auto* v = m.get("publish-key"))
        a.publish_key = boolean(c, *v, m.path("publish-key"));
    if (const auto* v = m.get("identity-notify"))
        a.identity_notify = endpoint_list(c, *v, m.path("identity-notify"), 53);
    if (const auto* v = m.get("identity-allow-transfer"))
        for (const auto& [item, ip] : items(c, *v, m.path("identity-allow-transfer")))
            a.identity_allow_transfer.push_back(scalar(c, item, ip));
    if (const auto* v = m.get("combiner")) {
        mapping cm(c, *v, m.path("combiner"), {"server", "key"});
        a.combiner = endpoint_value(c, cm.require("server"), cm.path("server"), 53);
        const auto& k = cm.require("key");
        c.attempt([&] {
            a.combiner_key = domain(c, k, cm.path("key"));
            if (!cfg.find_key(a.combiner_key) && !c.keys_incomplete)
                c.fail(k, cm.path("key"), quote(k.Scalar()) + " is not defined in tsig-keys");
        });
    }
    if (const auto* v = m.get("parent-nameservers"))
        a.parent_nameservers = endpoint_list(c, *v, m.path("parent-nameservers"), 53);
    if (const auto* r = m.get("resolver"))
        parse_resolver(c, *r, m.path("resolver"), a,
                       "an agent needs a trust anchor to validate its peers' records");
    else
        c.fail(n, m.path("resolver"), "is required (trust anchors for validating peers)");
    return a;
}

parent_config parse_parent(const context& c, const YAML::Node& n, const std::string& path) {
    mapping m(
        c, n, path,
        {"scan-interval", "notify-min-interval", "digest-types", "initial-ds", "initial-ds-delay",
         "ds-ttl", "timeout", "max-parallel-scans", "resolver", "nameservers", "dsync"});
    parent_config p;
    if (const auto* v = m.get("scan-interval"))
        p.scan_interval = duration(c, *v, m.path("scan-interval"), 1, 7 * 86400);
    if (const auto* v = m.get("notify-min-interval"))
        p.notify_min_interval = duration(c, *v, m.path("notify-min-interval"), 0, 86400);
    if (const auto* v = m.get("digest-types")) {
        p.digest_types.clear();
        for (const auto& [item, ip] : items(c, *v, m.path("digest-types"))) {
            std::string d = scalar(c, item, ip);
            // RFC 8624 §3.3: SHA-1 MUST NOT be used to make DS records.
            if (d == "2" || d == "SHA-256" || d == "sha256")
                p.digest_types.push_back(2);
            else if (d == "4" || d == "SHA-384" || d == "sha384")
                p.digest_types.push_back(4);
            else
                c.fail(item, ip,
                       quote(d) + " is not a digest type we publish (2/SHA-256, 4/SHA-384)");
        }
        if (p.digest_types.empty()) c.fail(*v, m.path("digest-types"), "needs at least one type");
    }
    if (const auto* v = m.get("initial-ds")) {
        static const char* const kinds[] = {"off", "accept-after-delay"};
        p.initial_ds = one_of(c, *v, m.path("initial-ds"), kinds) != "off";
    }
    if (const auto* v = m.get("initial-ds-delay"))
        p.initial_ds_delay = duration(c, *v, m.path("initial-ds-delay"), 0, 30 * 86400);
    if (const auto* v = m.get("ds-ttl")) p.ds_ttl = duration(c, *v, m.path("ds-ttl"), 0, 604800);
    if (const auto* v = m.get("timeout"))
        p.timeout_ms = static_cast<uint32_t>(integer(c, *v, m.path("timeout"), 100, 60000));
    if (const auto* v = m.get("max-parallel-scans"))
        p.max_parallel =
            static_cast<unsigned>(integer(c, *v, m.path("max-parallel-scans"), 1, 1024));
    if (const auto* r = m.get("resolver"))
        parse_resolver(c, *r, m.path("resolver"), p,
                       "a parent needs a trust anchor to validate children");
    else
        c.fail(n, m.path("resolver"), "is required (trust anchors for validating children)");
    if (const auto* v = m.get("nameservers")) {
        if (!v->IsMap())
            c.fail(*v, m.path("nameservers"), "must map nameserver names to ADDR:PORT");
        for (auto it = v->begin(); it != v->end(); ++it) {
            YAML::Node k = it->first, val = it->second;
            std::string host = domain(c, k, m.path("nameservers"));
            p.nameservers[host] = endpoint_value(c, val, join(m.path("nameservers"), host), 53);
        }
    }
    if (const auto* v = m.get("dsync")) {
        mapping dm(c, *v, m.path("dsync"), {"target", "port"});
        p.dsync_target = domain(c, dm.require("target"), dm.path("target"));
        if (const auto* port = dm.get("port"))
            p.dsync_port = static_cast<uint16_t>(integer(c, *port, dm.path("port"), 1, 65535));
    }
    return p;
}

limits_config parse_limits(const context& c, const YAML::Node& n, const std::string& path) {
    mapping m(
        c, n, path,
        {"tcp-clients", "tcp-per-client", "tcp-idle-timeout", "tcp-pipeline", "udp-payload-size"});
    limits_config l;
    if (const auto* v = m.get("tcp-clients"))
        l.tcp_clients = static_cast<unsigned>(integer(c, *v, m.path("tcp-clients"), 1, 65535));
    if (const auto* v = m.get("tcp-per-client"))
        l.tcp_per_client =
            static_cast<unsigned>(integer(c, *v, m.path("tcp-per-client"), 1, 65535));
    if (l.tcp_per_client > l.tcp_clients)
        c.fail(m.get("tcp-per-client") ? *m.get("tcp-per-client") : n, m.path("tcp-per-client"),
               "is larger than tcp-clients (" + std::to_string(l.tcp_clients) + ")");
    if (const auto* v = m.get("tcp-idle-timeout"))
        l.tcp_idle_timeout = duration(c, *v, m.path("tcp-idle-timeout"), 1, 3600);
    if (const auto* v = m.get("tcp-pipeline"))
        l.tcp_pipeline = static_cast<unsigned>(integer(c, *v, m.path("tcp-pipeline"), 1, 65535));
    // RFC 6891 §6.2.5: below 512 is treated as 512; above 4096 fragments too often.
    if (const auto* v = m.get("udp-payload-size"))
        l.udp_payload_size =
            static_cast<uint16_t>(integer(c, *v, m.path("udp-payload-size"), 512, 4096));
    return l;
}

}  // namespace

namespace {

// The whole walk; every error goes to c.problems.
void walk(const context& c, const YAML::Node& root, config& cfg) {
    mapping top(c, root, "",
                {"role", "listen", "data-dir", "log-level", "log-file", "management",
                 "management-key-file", "allow-remote-management", "tsig-keys", "acls", "zones",
                 "limits", "dnssec-policies", "parent", "agent"});
    // An unknown role leaves cfg.role empty: the role-specific checks are then skipped
    // rather than reported against a role nobody asked for.
    c.attempt([&] { cfg.role = one_of(c, top.require("role"), "role", known_roles); });
    const bool role_known = !cfg.role.empty();

    c.attempt([&] {
        const auto& listen = top.require("listen");
        cfg.listen = endpoint_list(c, listen, "listen", 53);
        if (cfg.listen.empty()) c.fail(listen, "listen", "needs at least one ADDR:PORT");
    });

    c.attempt([&] {
        const auto& dd = top.require("data-dir");
        cfg.data_dir = path_value(c, dd, "data-dir", file_ref::use::directory);
        if (c.check_files) {
            std::error_code ec;
            if (!fs::is_directory(cfg.data_dir, ec))
                c.fail(dd, "data-dir", quote(cfg.data_dir) + " is not an existing directory");
        }
    });

    if (const auto* v = top.get("log-level"))
        c.attempt([&] {
            static const char* const levels[] = {"error", "warn", "info", "debug"};
            cfg.log_level = one_of(c, *v, "log-level", levels);
        });
    if (const auto* v = top.get("log-file"))
        c.attempt([&] { cfg.log_file = path_value(c, *v, "log-file", file_ref::use::append); });

    // The API is authenticated (a shared key) but not encrypted: there is no TLS on it, so
    // it listens on loopback only; remote operators come in through SSH.
    if (const auto* v = top.get("allow-remote-management"))
        c.attempt([&] {
            if (boolean(c, *v, "allow-remote-management"))
                c.fail(*v, "allow-remote-management",
                       "true is not supported: the management API has no TLS, so it listens on "
                       "loopback only (reach it through an SSH tunnel)");
        });
    if (const auto* v = top.get("management"))
        c.attempt([&] {
            cfg.management = endpoint_value(c, *v, "management", 8053);
            if (!cfg.management.address.is_loopback())
                c.fail(*v, "management",
                       cfg.management.to_string() +
                           " is not a loopback address; the management API has no TLS, so it "
                           "listens on loopback only (reach it through an SSH tunnel)");
        });
    // Not a file_ref: the daemon creates it (mode 0600) when it is missing, and reads it
    // itself (api::load_or_create_management_key).
    cfg.management_key_file = (fs::path(cfg.data_dir) / "management.key").string();
    if (const auto* v = top.get("management-key-file"))
        c.attempt(
            [&] { cfg.management_key_file = c.resolve(scalar(c, *v, "management-key-file")); });

    if (const auto* v = top.get("tsig-keys"))
        if (!c.attempt([&] { parse_tsig_keys(c, *v, "tsig-keys", cfg); })) c.keys_incomplete = true;

    const YAML::Node* acl_node = top.get("acls");
    if (acl_node && !acl_node->IsMap() && !acl_node->IsNull())
        c.report(*acl_node, "acls", "must be a mapping of ACL names to lists");
    acl_resolver acls(c, cfg, acl_node && acl_node->IsMap() ? acl_node : nullptr);
    if (acl_node && acl_node->IsMap()) {
        for (auto it = acl_node->begin(); it != acl_node->end(); ++it)
            c.attempt([&] {
                std::string name = scalar(c, it->first, "acls");
                if (!valid_acl_name(name))
                    c.fail(it->first, "acls." + name,
                           "is not a valid ACL name (letters, digits, '-', '_'; not "
                           "any/none/key)");
                if (cfg.acls.count(name)) c.fail(it->first, "acls." + name, "is defined twice");
                cfg.acls[name] = acls.named(name, it->second, "acls." + name);
            });
    }

    cfg.dnssec_policies.push_back(signer::signing_policy{});  // "default", maybe replaced
    if (const auto* v = top.get("dnssec-policies"))
        c.attempt([&] {
            if (role_known && cfg.role != "signer")
                c.fail(*v, "dnssec-policies", "applies only to role signer");
            if (!v->IsSequence() && !v->IsNull())
                c.fail(*v, "dnssec-policies", "must be a list of policies");
            std::map<std::string, int> seen;
            for (size_t i = 0; i < v->size(); ++i)
                c.attempt([&] {
                    std::string p = index("dnssec-policies", i);
                    auto policy = parse_policy(c, (*v)[i], p);
                    int line = (*v)[i].Mark().line + 1;
                    if (auto it = seen.find(policy.name); it != seen.end())
                        c.fail((*v)[i], p,
                               "policy " + quote(policy.name) + " is defined twice (also on line " +
                                   std::to_string(it->second) + ")");
                    seen[policy.name] = line;
                    if (policy.name == "default")
                        cfg.dnssec_policies.front() = std::move(policy);
                    else
                        cfg.dnssec_policies.push_back(std::move(policy));
                });
        });

    if (const auto* v = top.get("zones"))
        c.attempt([&] {
            if (!v->IsSequence() && !v->IsNull()) c.fail(*v, "zones", "must be a list of zones");
            for (size_t i = 0; i < v->size(); ++i)
                c.attempt([&] {
                    std::string p = index("zones", i);
                    zone_config z = parse_zone(c, (*v)[i], p, cfg, acls);
                    if (const auto* old = cfg.find_zone(z.name))
                        c.fail((*v)[i], p,
                               "zone " + quote(z.name) + " is defined twice (also on line " +
                                   std::to_string(old->line) + ")");
                    cfg.zones.push_back(std::move(z));
                });
        });

    if (const auto* v = top.get("limits"))
        c.attempt([&] { cfg.limits = parse_limits(c, *v, "limits"); });
    if (const auto* v = top.get("parent")) {
        c.attempt([&] {
            if (role_known && cfg.role != "parent")
                c.fail(*v, "parent", "applies only to role parent");
            cfg.parent = parse_parent(c, *v, "parent");
        });
    } else if (cfg.role == "parent") {
        c.report(root, "parent", "role parent needs a parent: section (resolver trust anchors)");
    }
    if (const auto* v = top.get("agent")) {
        c.attempt([&] {
            if (role_known && cfg.role != "agent") c.fail(*v, "agent", "applies only to role agent");
            cfg.agent = parse_agent(c, *v, "agent", cfg);
        });
    } else if (cfg.role == "agent") {
        c.report(root, "agent", "role agent needs an agent: section (identity, resolver)");
    }
}

}  // namespace

parse_result parse_config_all(const std::string& text, const std::string& file, bool check_files) {
    parse_result r;
    r.cfg.file = file;
    context c;
    c.file = file;
    c.base_dir = fs::absolute(fs::path(file)).parent_path();
    c.check_files = check_files;
    c.problems = &r.problems;
    c.files = &r.cfg.files;
    c.lines = &r.cfg.key_lines;

    YAML::Node root;
    try {
        auto docs = YAML::LoadAll(text);
        if (docs.size() > 1)
            throw config_error(file, 0, "", "holds more than one YAML document (remove \"---\")");
        if (!docs.empty()) root = docs[0];
        if (!root.IsDefined() || root.IsNull())
            throw config_error(file, 1, "", "the configuration is empty (\"role\" is required)");
    } catch (const YAML::ParserException& e) {
        r.problems.emplace_back(file, e.mark.line >= 0 ? e.mark.line + 1 : 0, "",
                                "YAML syntax error: " + e.msg);
        return r;
    } catch (const config_error& e) {
        r.problems.push_back(e);
        return r;
    }
    c.attempt([&] { walk(c, root, r.cfg); });

    // A named ACL (or key file) used in several places fails the same way in each.
    std::vector<config_error> unique;
    for (auto& p : r.problems)
        if (std::none_of(unique.begin(), unique.end(),
                         [&](const config_error& u) { return std::string(u.what()) == p.what(); }))
            unique.push_back(std::move(p));
    r.problems = std::move(unique);
    return r;
}

parse_result load_config_all(const std::string& file, bool check_files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        parse_result r;
        r.cfg.file = file;
        r.problems.emplace_back(file, 0, "",
                                "cannot read the file: " + std::string(std::strerror(errno)));
        return r;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    // Bound what we read: a configuration is small; a huge file is a mistake.
    if (ss.str().size() > (16u << 20)) {
        parse_result r;
        r.cfg.file = file;
        r.problems.emplace_back(file, 0, "", "is larger than 16 MiB");
        return r;
    }
    return parse_config_all(ss.str(), file, check_files);
}

config parse_config(const std::string& text, const std::string& file, bool check_files) {
    auto r = parse_config_all(text, file, check_files);
    if (!r.problems.empty()) throw r.problems.front();
    return std::move(r.cfg);
}

config load_config(const std::string& file, bool check_files) {
    auto r = load_config_all(file, check_files);
    if (!r.problems.empty()) throw r.problems.front();
    return std::move(r.cfg);
}

}  // namespace hsync::hsyncd
