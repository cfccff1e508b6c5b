// TSIG (RFC 8945): HMAC, key files, signing and verifying messages.
#include "dnssec/tsig.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "dns/text.h"
#include "dns/wire.h"
#include "dnssec/keyfile.h"
#include "dnssec/ossl.h"

namespace hsync::dnssec {

namespace {

using mac_ptr = std::unique_ptr<EVP_MAC, ossl::deleter<EVP_MAC_free>>;
using mac_ctx_ptr = std::unique_ptr<EVP_MAC_CTX, ossl::deleter<EVP_MAC_CTX_free>>;

struct algorithm_info {
    tsig_algorithm alg;
    std::string_view text;  // also the algorithm name's single label
    const char* digest;     // OpenSSL digest name
    size_t size;
};

constexpr algorithm_info algorithms[] = {
    {tsig_algorithm::hmac_sha1, "hmac-sha1", "SHA1", 20},
    {tsig_algorithm::hmac_sha256, "hmac-sha256", "SHA256", 32},
    {tsig_algorithm::hmac_sha384, "hmac-sha384", "SHA384", 48},
    {tsig_algorithm::hmac_sha512, "hmac-sha512", "SHA512", 64},
};

const algorithm_info& info(tsig_algorithm alg) {
    for (const auto& a : algorithms)
        if (a.alg == alg) return a;
    throw dnssec_error("unknown TSIG algorithm");
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// An incremental HMAC (OpenSSL 3 EVP_MAC).
class hmac_ctx {
  public:
    hmac_ctx(tsig_algorithm alg, std::span<const uint8_t> secret) {
        // A zero-length key would make EVP_MAC_init keep a previous key: refuse it.
        if (secret.empty()) throw dnssec_error("TSIG secret is empty");
        mac_ptr mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
        if (!mac) throw dnssec_error("HMAC unavailable: " + ossl::last_error());
        ctx_.reset(EVP_MAC_CTX_new(mac.get()));
        if (!ctx_) throw dnssec_error("HMAC: " + ossl::last_error());
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(
                                   OSSL_MAC_PARAM_DIGEST, const_cast<char*>(info(alg).digest), 0),
                               OSSL_PARAM_construct_end()};
        if (EVP_MAC_init(ctx_.get(), secret.data(), secret.size(), params) != 1)
            throw dnssec_error("HMAC init: " + ossl::last_error());
    }
    void update(std::span<const uint8_t> data) {
        if (data.empty()) return;
        if (EVP_MAC_update(ctx_.get(), data.data(), data.size()) != 1)
            throw dnssec_error("HMAC: " + ossl::last_error());
    }
    std::vector<uint8_t> final() {
        std::vector<uint8_t> out(EVP_MAX_MD_SIZE);
        size_t len = 0;
        if (EVP_MAC_final(ctx_.get(), out.data(), &len, out.size()) != 1)
            throw dnssec_error("HMAC: " + ossl::last_error());
        out.resize(len);
        return out;
    }

  private:
    mac_ctx_ptr ctx_;
};

void put_u16(std::vector<uint8_t>& v, uint16_t x) {
    v.push_back(static_cast<uint8_t>(x >> 8));
    v.push_back(static_cast<uint8_t>(x));
}

void put_u48(std::vector<uint8_t>& v, uint64_t x) {
    for (int shift = 40; shift >= 0; shift -= 8)
        v.push_back(static_cast<uint8_t>(x >> shift));
}

uint16_t get_u16(std::span<const uint8_t> w, size_t at) {
    return static_cast<uint16_t>(w[at] << 8 | w[at + 1]);
}

// The message as its signer saw it before adding the TSIG: the received bytes up to the
// TSIG, ID replaced by the original ID and ARCOUNT less one (RFC 8945 §4.3.2, §5.2).
std::vector<uint8_t> unsigned_form(std::span<const uint8_t> wire, const dns::message& parsed,
                                   uint16_t original_id) {
    if (parsed.signature_offset < dns::header_size || parsed.signature_offset > wire.size() ||
        parsed.original_arcount == 0)
        throw dns::wire_error("TSIG position does not match the message");
    std::vector<uint8_t> m(wire.begin(),
                           wire.begin() + static_cast<ptrdiff_t>(parsed.signature_offset));
    m[0] = static_cast<uint8_t>(original_id >> 8);
    m[1] = static_cast<uint8_t>(original_id);
    uint16_t arcount = static_cast<uint16_t>(parsed.original_arcount - 1);
    m[10] = static_cast<uint8_t>(arcount >> 8);
    m[11] = static_cast<uint8_t>(arcount);
    return m;
}

bool time_ok(uint64_t time_signed, uint16_t fudge, int64_t now) {
    int64_t diff = now - static_cast<int64_t>(time_signed);
    if (diff < 0) diff = -diff;
    return diff <= fudge;
}

tsig_result fail(tsig_result r, tsig_status status, uint16_t rcode, uint16_t error,
                 std::string reason) {
    r.status = status;
    r.rcode = rcode;
    r.error = error;
    r.reason = std::move(reason);
    return r;
}

std::string time_text(uint64_t t) {
    return std::to_string(t);
}

// §5.2.2.1: a MAC longer than the hash, or shorter than both 10 octets and half the hash,
// is FORMERR; anything else shorter than the hash is truncation, which we refuse.
enum class mac_length { full, truncated, illegal };
mac_length check_mac_length(size_t got, size_t full) {
    if (got == full) return mac_length::full;
    if (got > full || got < std::max<size_t>(10, (full + 1) / 2)) return mac_length::illegal;
    return mac_length::truncated;
}

}  // namespace

std::string tsig_algorithm_text(tsig_algorithm alg) {
    return std::string(info(alg).text);
}

dns::name tsig_algorithm_name(tsig_algorithm alg) {
    dns::name root;
    return dns::name::from_text(info(alg).text, &root);
}

size_t tsig_mac_size(tsig_algorithm alg) {
    return info(alg).size;
}

tsig_algorithm tsig_algorithm_from_text(std::string_view text) {
    std::string t = lower(text);
    if (!t.empty() && t.back() == '.') t.pop_back();
    for (const auto& a : algorithms)
        if (t == a.text) return a.alg;
    if (t.starts_with("hmac-md5"))
        throw dnssec_error("TSIG algorithm " + std::string(text) +
                           " refused: HMAC-MD5 must not be used (RFC 8945 §6)");
    for (const auto& a : algorithms)
        if (t.starts_with(std::string(a.text) + "-"))
            throw dnssec_error("TSIG algorithm " + std::string(text) +
                               " refused: truncated MACs are not supported");
    throw dnssec_error("unknown TSIG algorithm " + std::string(text) +
                       " (use hmac-sha256, hmac-sha384, hmac-sha512 or hmac-sha1)");
}

std::optional<tsig_algorithm> tsig_algorithm_from_name(const dns::name& name) {
    for (const auto& a : algorithms)
        if (name == tsig_algorithm_name(a.alg)) return a.alg;
    return std::nullopt;
}

std::vector<uint8_t> hmac(tsig_algorithm alg, std::span<const uint8_t> secret,
                          std::initializer_list<std::span<const uint8_t>> parts) {
    hmac_ctx ctx(alg, secret);
    for (auto p : parts)
        ctx.update(p);
    return ctx.final();
}

tsig_key generate_tsig_key(const dns::name& name, tsig_algorithm alg) {
    tsig_key k{name, alg, std::vector<uint8_t>(tsig_mac_size(alg))};
    if (RAND_bytes(k.secret.data(), static_cast<int>(k.secret.size())) != 1)
        throw dnssec_error("random bytes: " + ossl::last_error());
    return k;
}

// ------------------------------------------------------------------ keyring, key files

tsig_keyring::tsig_keyring(std::vector<tsig_key> keys) {
    for (auto& k : keys)
        add(std::move(k));
}

void tsig_keyring::add(tsig_key key) {
    dns::name n = key.name;
    keys_.insert_or_assign(n, std::move(key));
}

const tsig_key* tsig_keyring::find(const dns::name& key_name) const {
    auto it = keys_.find(key_name);
    return it == keys_.end() ? nullptr : &it->second;
}

namespace {

// Tokens of named.conf syntax: words, quoted strings, and the punctuation { } ;.
struct conf_token {
    std::string text;
    bool quoted = false;
    size_t line = 0;
};

std::vector<conf_token> conf_tokens(std::string_view s) {
    std::vector<conf_token> out;
    size_t line = 1;
    auto err = [&](const std::string& what) {
        return dns::text_error("key file line " + std::to_string(line) + ": " + what);
    };
    for (size_t i = 0; i < s.size();) {
        char c = s[i];
        if (c == '\n') {
            ++line;
            ++i;
        } else if (std::isspace(static_cast<unsigned char>(c))) {
            ++i;
        } else if (c == '#' || (c == '/' && i + 1 < s.size() && s[i + 1] == '/')) {
            while (i < s.size() && s[i] != '\n')
                ++i;
        } else if (c == '/' && i + 1 < s.size() && s[i + 1] == '*') {
            size_t end = s.find("*/", i + 2);
            if (end == std::string_view::npos) throw err("comment /* is not closed");
            line += static_cast<size_t>(std::count(s.begin() + static_cast<ptrdiff_t>(i),
                                                   s.begin() + static_cast<ptrdiff_t>(end), '\n'));
            i = end + 2;
        } else if (c == '{' || c == '}' || c == ';') {
            out.push_back({std::string(1, c), false, line});
            ++i;
        } else if (c == '"') {
            size_t start_line = line;
            std::string text;
            ++i;
            while (i < s.size() && s[i] != '"') {
                if (s[i] == '\\' && i + 1 < s.size()) ++i;
                if (s[i] == '\n') ++line;
                text += s[i++];
            }
            if (i == s.size()) throw err("quoted string is not closed");
            ++i;
            out.push_back({std::move(text), true, start_line});
        } else {
            size_t start = i;
            while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i])) && s[i] != '{' &&
                   s[i] != '}' && s[i] != ';' && s[i] != '"')
                ++i;
            out.push_back({std::string(s.substr(start, i - start)), false, line});
        }
    }
    return out;
}

dns::name key_name_from_text(std::string_view text) {
    dns::name root;
    return dns::name::from_text(text, &root);
}

}  // namespace

std::vector<tsig_key> parse_tsig_key_file(std::string_view text) {
    auto tokens = conf_tokens(text);
    std::vector<tsig_key> keys;
    size_t i = 0;
    auto at_line = [&](size_t k) {
        return "key file line " +
               std::to_string(k < tokens.size() ? tokens[k].line
                                                : (tokens.empty() ? 1 : tokens.back().line)) +
               ": ";
    };
    auto expect = [&](std::string_view what) {
        if (i >= tokens.size() || tokens[i].quoted || tokens[i].text != what)
            throw dns::text_error(at_line(i) + "expected '" + std::string(what) + "'" +
                                  (i < tokens.size() ? ", found '" + tokens[i].text + "'"
                                                     : " at the end of the file"));
        ++i;
    };
    auto value = [&](std::string_view what) -> const conf_token& {
        if (i >= tokens.size() ||
            (!tokens[i].quoted &&
             (tokens[i].text == ";" || tokens[i].text == "{" || tokens[i].text == "}")))
            throw dns::text_error(at_line(i) + "expected " + std::string(what));
        return tokens[i++];
    };
    while (i < tokens.size()) {
        expect("key");
        const conf_token& name_tok = value("a key name");
        tsig_key k;
        try {
            k.name = key_name_from_text(name_tok.text);
        } catch (const dns::text_error& e) {
            throw dns::text_error(at_line(i - 1) + "bad key name: " + e.what());
        }
        expect("{");
        bool have_alg = false, have_secret = false;
        while (i < tokens.size() && !(tokens[i].text == "}" && !tokens[i].quoted)) {
            size_t stmt = i;
            std::string kw = lower(value("'algorithm' or 'secret'").text);
            if (kw == "algorithm") {
                k.algorithm = tsig_algorithm_from_text(value("an algorithm").text);
                have_alg = true;
            } else if (kw == "secret") {
                const conf_token& t = value("a base64 secret");
                // BIND accepts base64 split by white space inside the quotes.
                std::string b64;
                for (char c : t.text)
                    if (!std::isspace(static_cast<unsigned char>(c))) b64 += c;
                k.secret.clear();
                try {
                    dns::parse_base64(b64, k.secret);
                } catch (const dns::text_error& e) {
                    throw dns::text_error(at_line(stmt) + "secret: " + e.what());
                }
                if (k.secret.empty()) throw dns::text_error(at_line(stmt) + "secret is empty");
                have_secret = true;
            } else {
                throw dns::text_error(at_line(stmt) + "unknown key statement '" + kw + "'");
            }
            expect(";");
        }
        expect("}");
        expect(";");
        if (!have_alg || !have_secret)
            throw dns::text_error(at_line(i - 1) + "key \"" + name_tok.text + "\" lacks " +
                                  (have_alg ? "a secret" : "an algorithm"));
        keys.push_back(std::move(k));
    }
    return keys;
}

std::vector<tsig_key> read_tsig_key_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw dnssec_error("cannot read TSIG key file " + path);
    std::string text;
    text.resize(max_key_file_size + 1);
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<size_t>(in.gcount()));
    if (text.size() > max_key_file_size)
        throw dnssec_error("TSIG key file " + path + " is larger than 64 KB");
    try {
        return parse_tsig_key_file(text);
    } catch (const dns::text_error& e) {
        throw dns::text_error(path + ": " + e.what());
    }
}

std::string format_tsig_key_file(std::span<const tsig_key> keys) {
    std::string out;
    for (const auto& k : keys) {
        std::string n = k.name.to_text();
        if (n.size() > 1) n.pop_back();  // BIND writes key names without the final dot
        out += "key \"" + n + "\" {\n\talgorithm " + tsig_algorithm_text(k.algorithm) +
               ";\n\tsecret \"";
        dns::append_base64(out, k.secret);
        out += "\";\n};\n";
    }
    return out;
}

tsig_key parse_tsig_key_spec(std::string_view spec) {
    tsig_key k;
    size_t last = spec.rfind(':');
    if (last == std::string_view::npos)
        throw dns::text_error("TSIG key must be [algorithm:]name:secret");
    std::string_view secret = spec.substr(last + 1);
    std::string_view rest = spec.substr(0, last);
    size_t first = rest.find(':');
    if (first != std::string_view::npos) {
        k.algorithm = tsig_algorithm_from_text(rest.substr(0, first));
        rest = rest.substr(first + 1);
    }
    if (rest.empty()) throw dns::text_error("TSIG key name is empty");
    k.name = key_name_from_text(rest);
    dns::parse_base64(secret, k.secret);
    if (k.secret.empty()) throw dns::text_error("TSIG secret is empty");
    return k;
}

// ------------------------------------------------------------------ records

tsig_fields tsig_fields::parse(std::span<const uint8_t> rdata) {
    dns::wire_reader r(rdata);
    tsig_fields f;
    f.algorithm = r.read_name(false);
    f.time_signed = r.u48();
    f.fudge = r.u16();
    auto mac = r.bytes(r.u16());
    f.mac.assign(mac.begin(), mac.end());
    f.original_id = r.u16();
    f.error = r.u16();
    auto other = r.bytes(r.u16());
    f.other_data.assign(other.begin(), other.end());
    if (!r.at_end()) throw dns::wire_error("TSIG RDATA has trailing octets");
    return f;
}

std::vector<uint8_t> tsig_fields::to_wire() const {
    if (mac.size() > 0xFFFF || other_data.size() > 0xFFFF)
        throw dns::wire_error("TSIG field longer than 65535 octets");
    std::vector<uint8_t> out;
    dns::wire_writer w(out);
    w.name(algorithm, false);
    w.u48(time_signed);
    w.u16(fudge);
    w.u16(static_cast<uint16_t>(mac.size()));
    w.bytes(mac);
    w.u16(original_id);
    w.u16(error);
    w.u16(static_cast<uint16_t>(other_data.size()));
    w.bytes(other_data);
    return out;
}

void append_additional_record(std::vector<uint8_t>& wire, const dns::rr& record) {
    if (wire.size() < dns::header_size) throw dns::wire_error("message shorter than its header");
    uint16_t arcount = get_u16(wire, 10);
    if (arcount == 0xFFFF) throw dns::wire_error("additional section already has 65535 records");
    std::vector<uint8_t> rr_wire;
    dns::wire_writer w(rr_wire);
    record.to_wire(w, false);
    if (wire.size() + rr_wire.size() > dns::max_message_size)
        throw dns::wire_error("message would exceed 65535 octets with its signature");
    wire.insert(wire.end(), rr_wire.begin(), rr_wire.end());
    ++arcount;
    wire[10] = static_cast<uint8_t>(arcount >> 8);
    wire[11] = static_cast<uint8_t>(arcount);
}

std::vector<uint8_t> tsig_compute_mac(const tsig_key& key, std::span<const uint8_t> prior_mac,
                                      std::span<const uint8_t> unsigned_messages,
                                      std::span<const uint8_t> message, const tsig_fields& fields,
                                      bool timers_only) {
    hmac_ctx ctx(key.algorithm, key.secret);
    std::vector<uint8_t> v;
    if (!prior_mac.empty()) {
        // §4.3.1 (request MAC) and §5.3.1 (prior MAC): MAC size, then the MAC.
        put_u16(v, static_cast<uint16_t>(prior_mac.size()));
        ctx.update(v);
        ctx.update(prior_mac);
        v.clear();
    }
    ctx.update(unsigned_messages);
    ctx.update(message);
    if (!timers_only) {
        // §4.3.3 TSIG variables: names in canonical (lower-case, uncompressed) form.
        auto kn = key.name.canonical();
        v.insert(v.end(), kn.wire().begin(), kn.wire().end());
        put_u16(v, dns::rr_class::ANY);
        v.insert(v.end(), 4, 0);  // TTL 0
        auto an = fields.algorithm.canonical();
        v.insert(v.end(), an.wire().begin(), an.wire().end());
        put_u48(v, fields.time_signed);
        put_u16(v, fields.fudge);
        put_u16(v, fields.error);
        put_u16(v, static_cast<uint16_t>(fields.other_data.size()));
        v.insert(v.end(), fields.other_data.begin(), fields.other_data.end());
    } else {
        // §4.3.3 "timers only": Time Signed and Fudge.
        put_u48(v, fields.time_signed);
        put_u16(v, fields.fudge);
    }
    ctx.update(v);
    return ctx.final();
}

std::string_view tsig_status_text(tsig_status status) {
    switch (status) {
        case tsig_status::ok:
            return "ok";
        case tsig_status::unsigned_message:
            return "unsigned";
        case tsig_status::formerr:
            return "FORMERR";
        case tsig_status::badkey:
            return "BADKEY";
        case tsig_status::badsig:
            return "BADSIG";
        case tsig_status::badtime:
            return "BADTIME";
        case tsig_status::badtrunc:
            return "BADTRUNC";
        case tsig_status::peer_error:
            return "peer error";
        case tsig_status::too_many_unsigned:
            return "too many unsigned messages";
    }
    return "?";
}

namespace {

std::string error_text(uint16_t e) {
    switch (e) {
        case tsig_error::BADSIG:
            return "BADSIG";
        case tsig_error::BADKEY:
            return "BADKEY";
        case tsig_error::BADTIME:
            return "BADTIME";
        case tsig_error::BADTRUNC:
            return "BADTRUNC";
        default:
            return "error " + std::to_string(e);
    }
}

// Parses the TSIG record of `parsed`; on failure returns the FORMERR result.
std::optional<tsig_result> read_tsig(const dns::message& parsed, tsig_result& r) {
    const dns::rr& t = *parsed.tsig;
    r.key_name = t.owner;
    try {
        r.fields = tsig_fields::parse(t.rdata);
    } catch (const dns::wire_error& e) {
        return fail(r, tsig_status::formerr, dns::rcode::FORMERR, 0,
                    std::string("malformed TSIG record: ") + e.what());
    }
    // §4.2: class ANY, TTL 0.
    if (t.rclass != dns::rr_class::ANY || t.ttl != 0)
        return fail(r, tsig_status::formerr, dns::rcode::FORMERR, 0,
                    "TSIG record must have class ANY and TTL 0");
    return std::nullopt;
}

}  // namespace

tsig_result tsig_verify_request(std::span<const uint8_t> wire, const dns::message& parsed,
                                const tsig_key_provider& keys, int64_t now) {
    tsig_result r;
    if (!parsed.tsig) {
        r.reason = "message has no TSIG";
        return r;
    }
    if (auto bad = read_tsig(parsed, r)) return *bad;
    // §5.2.1 key check.
    const tsig_key* key = keys.find(r.key_name);
    if (!key)
        return fail(r, tsig_status::badkey, dns::rcode::NOTAUTH, tsig_error::BADKEY,
                    "unknown TSIG key " + r.key_name.to_text());
    auto alg = tsig_algorithm_from_name(r.fields.algorithm);
    if (!alg || *alg != key->algorithm)
        return fail(r, tsig_status::badkey, dns::rcode::NOTAUTH, tsig_error::BADKEY,
                    "TSIG key " + r.key_name.to_text() + " is not for algorithm " +
                        r.fields.algorithm.to_text());
    // §5.2.2 MAC check, after the length check of §5.2.2.1.
    size_t full = tsig_mac_size(key->algorithm);
    mac_length len = check_mac_length(r.fields.mac.size(), full);
    if (len == mac_length::illegal)
        return fail(r, tsig_status::formerr, dns::rcode::FORMERR, 0,
                    "TSIG MAC of " + std::to_string(r.fields.mac.size()) +
                        " octets is not a legal length for " + tsig_algorithm_text(*alg));
    std::vector<uint8_t> computed;
    try {
        computed = tsig_compute_mac(*key, {}, {}, unsigned_form(wire, parsed, r.fields.original_id),
                                    r.fields, false);
    } catch (const dns::wire_error& e) {
        return fail(r, tsig_status::formerr, dns::rcode::FORMERR, 0, e.what());
    }
    if (CRYPTO_memcmp(computed.data(), r.fields.mac.data(), r.fields.mac.size()) != 0)
        return fail(r, tsig_status::badsig, dns::rcode::NOTAUTH, tsig_error::BADSIG,
                    "TSIG MAC does not match (key " + r.key_name.to_text() + ")");
    r.key = *key;
    // §5.2.3 time check.
    if (!time_ok(r.fields.time_signed, r.fields.fudge, now))
        return fail(r, tsig_status::badtime, dns::rcode::NOTAUTH, tsig_error::BADTIME,
                    "TSIG time signed " + time_text(r.fields.time_signed) + " is more than " +
                        std::to_string(r.fields.fudge) + " s from our time " + std::to_string(now));
    // §5.2.4 truncation check: we accept no truncation.
    if (len == mac_length::truncated)
        return fail(r, tsig_status::badtrunc, dns::rcode::NOTAUTH, tsig_error::BADTRUNC,
                    "truncated TSIG MAC refused");
    r.status = tsig_status::ok;
    r.reason = "TSIG ok (key " + r.key_name.to_text() + ")";
    return r;
}

void tsig_answer(std::vector<uint8_t>& response, const tsig_result& request, int64_t now) {
    switch (request.status) {
        case tsig_status::ok:
            tsig_session::responder(request).sign(response, now);
            return;
        case tsig_status::badtime: {
            // §5.2.3: signed; Time Signed is the request's (so the client's own time check
            // passes) and Other Data carries our time for the client to see the skew.
            std::vector<uint8_t> other;
            put_u48(other, static_cast<uint64_t>(now) & 0xFFFFFFFFFFFFULL);
            tsig_session::responder(request).sign(response,
                                                  static_cast<int64_t>(request.fields.time_signed),
                                                  tsig_error::BADTIME, other);
            return;
        }
        case tsig_status::badkey:
        case tsig_status::badsig:
        case tsig_status::badtrunc: {
            // §5.3.2: errors about the key or the MAC are answered unsigned (empty MAC).
            if (response.size() < dns::header_size)
                throw dns::wire_error("message shorter than its header");
            tsig_fields f;
            f.algorithm = request.fields.algorithm;
            f.time_signed = static_cast<uint64_t>(now) & 0xFFFFFFFFFFFFULL;
            f.fudge = tsig_default_fudge;
            f.original_id = get_u16(response, 0);
            f.error = request.error;
            dns::rr t{request.key_name, dns::rr_type::TSIG, dns::rr_class::ANY, 0, f.to_wire()};
            append_additional_record(response, t);
            return;
        }
        default:
            return;  // unsigned request, or FORMERR: no TSIG in the answer
    }
}

// ------------------------------------------------------------------ sessions

tsig_session::tsig_session(tsig_key key, uint16_t fudge) : key_(std::move(key)), fudge_(fudge) {}

tsig_session tsig_session::awaiting_response(tsig_key key, std::span<const uint8_t> request_mac,
                                             uint16_t fudge) {
    tsig_session s(std::move(key), fudge);
    s.phase_ = phase::responses;
    s.prior_mac_.assign(request_mac.begin(), request_mac.end());
    return s;
}

tsig_session tsig_session::responder(const tsig_result& request, uint16_t fudge) {
    if (!request.key) throw std::logic_error("TSIG responder needs a verified request");
    return responder(*request.key, request.fields.mac, fudge);
}

tsig_session tsig_session::responder(tsig_key key, std::span<const uint8_t> request_mac,
                                     uint16_t fudge) {
    tsig_session s(std::move(key), fudge);
    s.responder_ = true;
    s.phase_ = phase::responses;
    s.prior_mac_.assign(request_mac.begin(), request_mac.end());
    return s;
}

void tsig_session::sign(std::vector<uint8_t>& wire, int64_t now, uint16_t error,
                        std::span<const uint8_t> other_data) {
    if (!responder_ && phase_ != phase::request)
        throw std::logic_error("TSIG requester signs only its request");
    if (wire.size() < dns::header_size) throw dns::wire_error("message shorter than its header");
    tsig_fields f;
    f.algorithm = tsig_algorithm_name(key_.algorithm);
    f.time_signed = static_cast<uint64_t>(now) & 0xFFFFFFFFFFFFULL;
    f.fudge = fudge_;
    f.original_id = get_u16(wire, 0);
    f.error = error;
    f.other_data.assign(other_data.begin(), other_data.end());
    bool timers_only = responder_ && responses_ > 0;
    std::span<const uint8_t> prior;
    if (responder_) prior = prior_mac_;
    f.mac = tsig_compute_mac(key_, prior, pending_, wire, f, timers_only);
    dns::rr t{key_.name, dns::rr_type::TSIG, dns::rr_class::ANY, 0, f.to_wire()};
    append_additional_record(wire, t);
    prior_mac_ = f.mac;
    pending_.clear();
    unsigned_run_ = 0;
    if (responder_) {
        ++responses_;
    } else {
        phase_ = phase::responses;
    }
}

void tsig_session::pass_unsigned(std::span<const uint8_t> wire) {
    if (!responder_ || responses_ == 0)
        throw std::logic_error("only a responder's later messages may go unsigned");
    if (unsigned_run_ == 99) throw std::logic_error("TSIG: more than 99 unsigned messages");
    ++unsigned_run_;
    pending_.insert(pending_.end(), wire.begin(), wire.end());
}

std::vector<uint8_t> tsig_session::sign(const dns::message& m, int64_t now) {
    dns::message copy = m;
    copy.tsig.reset();
    copy.sig0.reset();
    std::vector<uint8_t> wire;
    if (copy.to_wire(wire)) throw dns::wire_error("message too big to sign without truncation");
    sign(wire, now);
    return wire;
}

tsig_result tsig_session::verify(std::span<const uint8_t> wire, const dns::message& parsed,
                                 int64_t now) {
    if (responder_ || phase_ != phase::responses)
        throw std::logic_error("TSIG session verifies responses after its request");
    tsig_result r;
    r.key_name = key_.name;
    if (!parsed.tsig) {
        // §5.3.1: unsigned messages may come between signed ones, covered by the next MAC;
        // the first response must be signed.
        if (responses_ == 0) {
            r.reason = "response is not signed";
            return r;
        }
        if (++unsigned_run_ > 99)
            return fail(r, tsig_status::too_many_unsigned, dns::rcode::FORMERR, 0,
                        "more than 99 unsigned messages in a row");
        pending_.insert(pending_.end(), wire.begin(), wire.end());
        r.reason = "unsigned message, to be covered by the next TSIG";
        return r;
    }
    if (auto bad = read_tsig(parsed, r)) return *bad;
    auto alg = tsig_algorithm_from_name(r.fields.algorithm);
    if (!(r.key_name == key_.name) || !alg || *alg != key_.algorithm)
        return fail(r, tsig_status::badkey, dns::rcode::NOTAUTH, tsig_error::BADKEY,
                    "response signed with key " + r.key_name.to_text() + " " +
                        r.fields.algorithm.to_text() + ", not ours");
    if (r.fields.error != 0 && r.fields.mac.empty())
        return fail(r, tsig_status::peer_error, dns::rcode::NOTAUTH, r.fields.error,
                    "peer answered " + error_text(r.fields.error) + " (unsigned)");
    mac_length len = check_mac_length(r.fields.mac.size(), tsig_mac_size(key_.algorithm));
    if (len != mac_length::full)
        return fail(
            r, len == mac_length::illegal ? tsig_status::formerr : tsig_status::badtrunc,
            dns::rcode::FORMERR, 0,
            "response TSIG MAC of " + std::to_string(r.fields.mac.size()) + " octets refused");
    std::vector<uint8_t> computed;
    try {
        computed = tsig_compute_mac(key_, prior_mac_, pending_,
                                    unsigned_form(wire, parsed, r.fields.original_id), r.fields,
                                    responses_ > 0);
    } catch (const dns::wire_error& e) {
        return fail(r, tsig_status::formerr, dns::rcode::FORMERR, 0, e.what());
    }
    if (CRYPTO_memcmp(computed.data(), r.fields.mac.data(), computed.size()) != 0)
        return fail(r, tsig_status::badsig, dns::rcode::NOTAUTH, tsig_error::BADSIG,
                    responses_ == 0 && pending_.empty()
                        ? "response TSIG MAC does not match"
                        : "TSIG MAC of message " + std::to_string(responses_ + unsigned_run_ + 1) +
                              " of the response does not match");
    r.key = key_;
    if (r.fields.error != 0) {
        std::string extra;
        if (r.fields.error == tsig_error::BADTIME && r.fields.other_data.size() == 6) {
            uint64_t t = 0;
            for (uint8_t b : r.fields.other_data)
                t = t << 8 | b;
            extra = ", server time " + std::to_string(t);
        }
        return fail(r, tsig_status::peer_error, dns::rcode::NOTAUTH, r.fields.error,
                    "peer answered " + error_text(r.fields.error) + extra);
    }
    if (!time_ok(r.fields.time_signed, r.fields.fudge, now))
        return fail(r, tsig_status::badtime, dns::rcode::NOTAUTH, tsig_error::BADTIME,
                    "response time signed " + time_text(r.fields.time_signed) +
                        " is outside the fudge of our time " + std::to_string(now));
    prior_mac_ = r.fields.mac;
    pending_.clear();
    unsigned_run_ = 0;
    ++responses_;
    r.status = tsig_status::ok;
    r.reason = "TSIG ok (key " + r.key_name.to_text() + ")";
    return r;
}

}  // namespace hsync::dnssec
