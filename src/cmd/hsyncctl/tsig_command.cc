// `hsyncctl tsig ...` and `hsyncctl sig0 ...`: sign and verify raw DNS messages (files of
// wire-format bytes, no TCP length prefix) with TSIG (RFC 8945) or SIG(0) (RFC 2931), for
// operators checking what a peer sends and for the interop tests.
//
//   hsyncctl tsig keygen k.example. [--algorithm hmac-sha256]   -> BIND key file text
//   hsyncctl tsig sign --key FILE (--in MSG | --update ZONE --add RR... | --query NAME)
//                      --out FILE
//   hsyncctl tsig verify --key FILE [--request REQ] MSG...   (with --request: the MSGs are
//                      the response stream to REQ, in order)
//   hsyncctl sig0 sign --key Kname.+AAA+TTTTT (...same message choices...) --out FILE
//   hsyncctl sig0 verify --key Kname.+AAA+TTTTT.key [--request REQ] MSG...
//
// --time sets "now" (seconds since the epoch) for signing and verifying. verify prints one
// line per message ("FILE: ok ..." or "FILE: STATUS: reason") and exits 1 if any failed.
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "cmd/hsyncctl/commands.h"
#include "dns/message.h"
#include "dns/rdata.h"
#include "dns/rr.h"
#include "dnssec/key.h"
#include "dnssec/keyfile.h"
#include "dnssec/sig0.h"
#include "dnssec/tsig.h"

namespace hsync::cmd {

namespace {

std::vector<uint8_t> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw dnssec::dnssec_error("cannot read " + path);
    std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
    if (data.size() > dns::max_message_size)
        throw dns::wire_error(path + " is larger than a DNS message can be");
    return data;
}

void write_file(const std::string& path, std::span<const uint8_t> data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data.data()),
              static_cast<std::streamsize>(data.size()));
    if (!out) throw dnssec::dnssec_error("cannot write " + path);
}

int64_t now_or(std::optional<int64_t> t) {
    return t ? *t : static_cast<int64_t>(std::time(nullptr));
}

// The message to sign: a file, or one built here.
struct message_options {
    std::string in;
    std::string update_zone;
    std::vector<std::string> add;
    std::string query_name;
    std::string query_type = "SOA";
    std::string opcode = "QUERY";
    std::optional<uint16_t> id;
    std::string out;
    std::optional<int64_t> time;
};

void add_message_options(CLI::App* sub, message_options& o) {
    sub->add_option("--in", o.in, "Sign this wire-format message file");
    sub->add_option("--update", o.update_zone, "Build an RFC 2136 UPDATE for this zone");
    sub->add_option("--add", o.add, "UPDATE: add this RR (\"owner TTL CLASS TYPE rdata\")");
    sub->add_option("--query", o.query_name, "Build a query for this name");
    sub->add_option("--type", o.query_type, "Query type (default SOA)");
    sub->add_option("--opcode", o.opcode, "Query opcode: QUERY or NOTIFY");
    sub->add_option("--id", o.id, "Message ID (default random)");
    sub->add_option("--out,-o", o.out, "Write the signed message here")->required();
    sub->add_option("--time", o.time, "Signing time, seconds since the epoch (default now)");
}

std::vector<uint8_t> build_message(const message_options& o) {
    int sources = int(!o.in.empty()) + int(!o.update_zone.empty()) + int(!o.query_name.empty());
    if (sources != 1) throw CLI::ValidationError("give exactly one of --in, --update, --query");
    if (!o.in.empty()) return read_file(o.in);
    dns::message m;
    m.id = o.id ? *o.id : static_cast<uint16_t>(std::random_device{}());
    if (!o.update_zone.empty()) {
        // RFC 2136 §2: the zone section holds the zone's SOA question, class IN.
        dns::name zone = dns::name::from_text(o.update_zone);
        m.opcode = dns::opcode::UPDATE;
        m.questions.push_back({zone, dns::rr_type::SOA, dns::rr_class::IN});
        for (const auto& line : o.add)
            m.authority.push_back(dns::rr::from_text(line, zone));
    } else {
        m.questions.push_back({dns::name::from_text(o.query_name),
                               dns::type_from_text(o.query_type), dns::rr_class::IN});
        if (o.opcode == "NOTIFY" || o.opcode == "notify") {
            m.opcode = dns::opcode::NOTIFY;
            m.aa = true;  // RFC 1996 §3.7
        } else if (o.opcode != "QUERY" && o.opcode != "query") {
            throw CLI::ValidationError("--opcode must be QUERY or NOTIFY");
        }
    }
    std::vector<uint8_t> wire;
    m.to_wire(wire);
    return wire;
}

// A TSIG key from a BIND key file (the one named, or the only one) or from -y.
dnssec::tsig_keyring load_keys(const std::string& file, const std::string& spec) {
    if (file.empty() == spec.empty()) throw CLI::ValidationError("give one of --key or -y");
    if (!spec.empty()) return dnssec::tsig_keyring({dnssec::parse_tsig_key_spec(spec)});
    return dnssec::tsig_keyring(dnssec::read_tsig_key_file(file));
}

dnssec::tsig_key pick_key(const std::string& file, const std::string& spec,
                          const std::string& name) {
    if (!spec.empty()) return dnssec::parse_tsig_key_spec(spec);
    auto keys = dnssec::read_tsig_key_file(file);
    if (keys.empty()) throw dnssec::dnssec_error(file + " holds no key");
    if (name.empty()) {
        if (keys.size() > 1)
            throw CLI::ValidationError(file + " holds several keys: choose one with --key-name");
        return keys.front();
    }
    dnssec::tsig_keyring ring(keys);
    const auto* k = ring.find(dns::name::from_text(name, nullptr));
    if (!k) throw dnssec::dnssec_error("no key " + name + " in " + file);
    return *k;
}

void finish(size_t failed, size_t total) {
    if (failed)
        throw dnssec::dnssec_error(std::to_string(failed) + " of " + std::to_string(total) +
                                   " messages failed verification");
}

struct tsig_options {
    std::string key_file, spec, key_name, request;
    std::vector<std::string> files;
    std::optional<int64_t> time;
    uint16_t fudge = dnssec::tsig_default_fudge;
    message_options msg;
    std::string keygen_name, keygen_alg = "hmac-sha256";
};

void run_tsig_sign(const tsig_options& o) {
    dnssec::tsig_session s(pick_key(o.key_file, o.spec, o.key_name), o.fudge);
    std::vector<uint8_t> wire = build_message(o.msg);
    s.sign(wire, now_or(o.msg.time));
    write_file(o.msg.out, wire);
}

void run_tsig_verify(const tsig_options& o) {
    int64_t now = now_or(o.time);
    auto ring = load_keys(o.key_file, o.spec);
    size_t failed = 0;
    if (o.request.empty()) {
        for (const auto& f : o.files) {
            auto wire = read_file(f);
            auto m = dns::message::parse(wire);
            auto r = dnssec::tsig_verify_request(wire, m, ring, now);
            std::printf("%s: %s: %s\n", f.c_str(),
                        std::string(dnssec::tsig_status_text(r.status)).c_str(), r.reason.c_str());
            if (!r.ok()) ++failed;
        }
        finish(failed, o.files.size());
        return;
    }
    // Responses to a request: its key and MAC start the session.
    auto req_wire = read_file(o.request);
    auto req = dns::message::parse(req_wire);
    if (!req.tsig) throw dnssec::dnssec_error(o.request + " is not signed with TSIG");
    const auto* key = ring.find(req.tsig->owner);
    if (!key) throw dnssec::dnssec_error("no key " + req.tsig->owner.to_text());
    auto fields = dnssec::tsig_fields::parse(req.tsig->rdata);
    auto s = dnssec::tsig_session::awaiting_response(*key, fields.mac, o.fudge);
    for (size_t i = 0; i < o.files.size(); ++i) {
        const auto& f = o.files[i];
        auto wire = read_file(f);
        auto m = dns::message::parse(wire);
        auto r = s.verify(wire, m, now);
        bool acceptable = r.ok() || (r.status == dnssec::tsig_status::unsigned_message &&
                                     s.complete() == false && i > 0 && i + 1 < o.files.size());
        std::printf("%s: %s: %s\n", f.c_str(),
                    std::string(dnssec::tsig_status_text(r.status)).c_str(), r.reason.c_str());
        if (!acceptable) {
            ++failed;
            break;  // the stream is broken: later MACs cannot verify
        }
    }
    if (!failed && !s.complete()) {
        std::printf("stream: the last message is not signed\n");
        ++failed;
    }
    finish(failed, o.files.size());
}

struct sig0_options {
    std::string key, request;
    std::vector<std::string> files;
    std::optional<int64_t> time;
    uint32_t before = dnssec::sig0_default_window, after = dnssec::sig0_default_window;
    message_options msg;
};

void run_sig0_sign(const sig0_options& o) {
    dnssec::key k = dnssec::read_key_files(o.key, true);
    std::vector<uint8_t> wire = build_message(o.msg);
    std::vector<uint8_t> request;
    if (!o.request.empty()) request = read_file(o.request);
    dnssec::sig0_sign(wire, k, now_or(o.msg.time), request, o.before, o.after);
    write_file(o.msg.out, wire);
}

void run_sig0_verify(const sig0_options& o) {
    dnssec::key k = dnssec::read_key_files(o.key, false);
    std::vector<uint8_t> request;
    if (!o.request.empty()) request = read_file(o.request);
    int64_t now = now_or(o.time);
    size_t failed = 0;
    for (const auto& f : o.files) {
        auto wire = read_file(f);
        auto m = dns::message::parse(wire);
        auto r = dnssec::sig0_verify(wire, m, k, now, request);
        std::printf("%s: %s: %s\n", f.c_str(),
                    std::string(dnssec::sig0_status_text(r.status)).c_str(), r.reason.c_str());
        if (!r.ok()) ++failed;
    }
    finish(failed, o.files.size());
}

}  // namespace

void add_tsig_commands(CLI::App& app) {
    auto t = std::make_shared<tsig_options>();
    auto* tsig = app.add_subcommand("tsig", "TSIG (RFC 8945): keys, sign and verify messages");
    tsig->require_subcommand(1);

    auto* keygen = tsig->add_subcommand("keygen", "Print a new TSIG key in BIND key-file syntax");
    keygen->add_option("name", t->keygen_name, "Key name")->required();
    keygen->add_option("--algorithm,-a", t->keygen_alg,
                       "hmac-sha256 (default), hmac-sha384, "
                       "hmac-sha512, hmac-sha1");
    keygen->callback([t] {
        auto k = dnssec::generate_tsig_key(dns::name::from_text(t->keygen_name, nullptr),
                                           dnssec::tsig_algorithm_from_text(t->keygen_alg));
        std::printf("%s", dnssec::format_tsig_key_file(std::span(&k, 1)).c_str());
    });

    auto* sign = tsig->add_subcommand("sign", "Sign a DNS message with TSIG");
    sign->add_option("--key,-k", t->key_file, "BIND key file (key \"name\" { ... };)");
    sign->add_option("-y", t->spec, "[algorithm:]name:base64secret");
    sign->add_option("--key-name", t->key_name, "Which key of the file");
    sign->add_option("--fudge", t->fudge, "Fudge in seconds (default 300)");
    add_message_options(sign, t->msg);
    sign->callback([t] { run_tsig_sign(*t); });

    auto* verify = tsig->add_subcommand("verify", "Verify TSIG-signed DNS messages");
    verify->add_option("--key,-k", t->key_file, "BIND key file");
    verify->add_option("-y", t->spec, "[algorithm:]name:base64secret");
    verify->add_option("--request", t->request,
                       "The signed request: MSG files are its response stream, in order");
    verify->add_option("--time", t->time, "Verification time (default now)");
    verify->add_option("files", t->files, "Message files")->required();
    verify->callback([t] { run_tsig_verify(*t); });

    auto s = std::make_shared<sig0_options>();
    auto* sig0 = app.add_subcommand("sig0", "SIG(0) (RFC 2931): sign and verify messages");
    sig0->require_subcommand(1);
    auto* ssign = sig0->add_subcommand("sign", "Sign a DNS message with SIG(0)");
    ssign->add_option("--key,-k", s->key, "Key files (Kname.+AAA+TTTTT, with .private)")
        ->required();
    ssign->add_option("--request", s->request, "The request this message answers");
    ssign->add_option("--before", s->before, "Inception this many seconds before now (300)");
    ssign->add_option("--after", s->after, "Expiration this many seconds after now (300)");
    add_message_options(ssign, s->msg);
    ssign->callback([s] { run_sig0_sign(*s); });

    auto* sverify = sig0->add_subcommand("verify", "Verify SIG(0)-signed DNS messages");
    sverify->add_option("--key,-k", s->key, "KEY record file (Kname.+AAA+TTTTT.key)")->required();
    sverify->add_option("--request", s->request, "The request the messages answer");
    sverify->add_option("--time", s->time, "Verification time (default now)");
    sverify->add_option("files", s->files, "Message files")->required();
    sverify->callback([s] { run_sig0_verify(*s); });
}

}  // namespace hsync::cmd
