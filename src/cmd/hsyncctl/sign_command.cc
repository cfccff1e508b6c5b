// `hsyncctl zone sign|verify`: whole-zone DNSSEC signing and verification, offline.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "dns/error.h"
#include "dns/rdata.h"
#include "dns/record_store.h"
#include "dns/text.h"
#include "dns/zonefile.h"
#include "dnssec/keyfile.h"
#include "dnssec/rrsig.h"
#include "dnssec/zone_signer.h"
#include "dnssec/zone_verifier.h"

namespace hsync::cmd {

void add_zone_sign_commands(CLI::App& zone);

namespace {

dns::name parse_origin(const std::string& text) {
    dns::name root;
    return dns::name::from_text(text.empty() ? "." : text, &root);  // "example" = "example."
}

// Reads a zone into a sorted store; prints every bad record and fails if there was one.
dns::record_store load_zone(const std::string& file, const dns::name& origin) {
    dns::record_store store;
    size_t outside = 0;
    dns::zone_reader reader(file, origin);
    size_t errors = reader.read(
        [&](const dns::rr& r) {
            if (!r.owner.is_subdomain_of(origin)) {
                if (outside++ < 10)
                    std::fprintf(stderr, "%s: error: %s is outside the zone %s\n", file.c_str(),
                                 r.owner.to_text().c_str(), origin.to_text().c_str());
                return;
            }
            store.add(r);
        },
        [](const dns::zone_error& e) { std::fprintf(stderr, "%s\n", e.to_text().c_str()); });
    if (errors + outside > 0)
        throw dns::text_error(file + ": " + std::to_string(errors + outside) +
                              " bad record(s); nothing done");
    store.sort();
    return store;
}

// YYYYMMDDHHmmSS, seconds since the epoch, "now", "now+N" or "+N" (seconds from now).
int64_t parse_when(const std::string& text, int64_t now) {
    std::string_view t = text;
    if (t.starts_with("now")) t.remove_prefix(3);
    if (t.empty()) return now;
    if (t[0] == '+')
        return now +
               static_cast<int64_t>(dns::parse_unsigned(t.substr(1), 1u << 31, "time offset"));
    return dns::parse_time(t);
}

// Output buffered in large blocks: a signed zone of millions of records is written fast.
class writer {
  public:
    explicit writer(const std::string& path) {
        if (path.empty() || path == "-") {
            f_ = stdout;
        } else {
            f_ = std::fopen(path.c_str(), "w");
            if (!f_) throw dns::text_error("cannot write " + path);
            close_ = true;
        }
        buf_.reserve(1 << 20);
    }
    ~writer() {
        if (close_) std::fclose(f_);
    }
    // With `rfc3597`, HSYNC is written as TYPEnnn with generic RDATA (RFC 3597 §5), also
    // where RRSIG, NSEC and NSEC3 name it, so BIND, Knot and ldns can read the zone.
    bool rfc3597 = false;

    void line(const dns::record_view& v) {
        uint16_t hsync = dns::hsync_code();
        if (rfc3597 && v.type == hsync) {
            v.owner_name().append_text(buf_);
            buf_ += "\t" + std::to_string(v.ttl) + "\tIN\tTYPE" + std::to_string(hsync) + "\t";
            dns::rdata_to_generic_text(v.rdata, buf_);
        } else if (rfc3597 && (v.type == dns::rr_type::RRSIG || v.type == dns::rr_type::NSEC ||
                               v.type == dns::rr_type::NSEC3)) {
            size_t start = buf_.size();
            v.append_text(buf_);
            std::string mnemonic = dns::type_to_text(hsync),
                        generic = "TYPE" + std::to_string(hsync);
            // Whole words only: after a blank, before a blank or the end.
            for (size_t at = start; (at = buf_.find(mnemonic, at)) != std::string::npos;) {
                size_t end = at + mnemonic.size();
                bool word = (buf_[at - 1] == ' ' || buf_[at - 1] == '\t') &&
                            (end == buf_.size() || buf_[end] == ' ' || buf_[end] == '\t');
                if (word) buf_.replace(at, mnemonic.size(), generic);
                at += word ? generic.size() : mnemonic.size();
            }
        } else {
            v.append_text(buf_);
        }
        buf_.push_back('\n');
        if (buf_.size() >= (1 << 20)) flush();
    }
    void finish(const std::string& path) {
        flush();
        if (std::fflush(f_) != 0 || std::ferror(f_))
            throw dns::text_error("write error on " + (path.empty() ? "stdout" : path));
    }

  private:
    void flush() {
        std::fwrite(buf_.data(), 1, buf_.size(), f_);
        buf_.clear();
    }
    std::FILE* f_;
    bool close_ = false;
    std::string buf_;
};

struct sign_args {
    std::string file, origin, output, inception, expiration, salt = "-", now;
    std::vector<std::string> keys;
    bool nsec3 = false, opt_out = false, rfc3597 = false;
    unsigned iterations = 0, threads = 0;
    uint32_t refresh = 0;
};

struct verify_args {
    std::string file, origin, ds_file, time;
    unsigned threads = 0;
    bool verbose = false;
};

void run_sign(const sign_args& a) {
    dns::name origin = parse_origin(a.origin);
    int64_t now = static_cast<int64_t>(std::time(nullptr));
    if (!a.now.empty()) now = parse_when(a.now, now);
    dnssec::sign_options opt;
    opt.now = now;
    if (!a.inception.empty()) opt.inception = dnssec::rrsig_time(parse_when(a.inception, now));
    if (!a.expiration.empty()) opt.expiration = dnssec::rrsig_time(parse_when(a.expiration, now));
    opt.refresh = a.refresh;
    opt.threads = a.threads;
    opt.nsec3 = a.nsec3 || a.opt_out || a.iterations > 0 || a.salt != "-";
    opt.opt_out = a.opt_out;
    if (a.iterations > 2500)
        throw dns::text_error("--iterations: at most 2500 (RFC 9276 §3.1 says 0)");
    opt.nsec3_param.iterations = static_cast<uint16_t>(a.iterations);
    if (a.salt != "-" && !a.salt.empty()) dns::parse_hex(a.salt, opt.nsec3_param.salt);
    if (opt.nsec3_param.salt.size() > 255) throw dns::text_error("--salt: at most 255 octets");

    std::vector<dnssec::key> keys;
    for (const auto& path : a.keys)
        keys.push_back(dnssec::read_key_files(path, true));

    auto t0 = std::chrono::steady_clock::now();
    auto store = load_zone(a.file, origin);
    auto t1 = std::chrono::steady_clock::now();
    writer out(a.output);
    out.rfc3597 = a.rfc3597;
    auto stats = dnssec::sign_zone(store, origin, keys, opt,
                                   [&](const dns::record_view& v) { out.line(v); });
    out.finish(a.output);
    auto t2 = std::chrono::steady_clock::now();
    auto secs = [](auto d) { return std::chrono::duration<double>(d).count(); };
    std::fprintf(stderr,
                 "%s: %zu names, %zu RRsets signed: %zu new signatures, %zu kept; %zu %s; "
                 "%zu records written (load %.2fs, sign+write %.2fs)\n",
                 origin.to_text().c_str(), stats.names, stats.rrsets_signed, stats.signatures_new,
                 stats.signatures_kept, opt.nsec3 ? stats.nsec3 : stats.nsec,
                 opt.nsec3 ? "NSEC3" : "NSEC", stats.records_out, secs(t1 - t0), secs(t2 - t1));
}

void run_verify(const verify_args& a) {
    dns::name origin = parse_origin(a.origin);
    dnssec::zone_verify_options opt;
    int64_t now = static_cast<int64_t>(std::time(nullptr));
    opt.now = a.time.empty() ? now : parse_when(a.time, now);
    opt.threads = a.threads;
    if (!a.ds_file.empty()) {
        dns::zone_reader reader(a.ds_file, origin);
        size_t errors = reader.read(
            [&](const dns::rr& r) {
                if (r.type == dns::rr_type::DS) opt.ds.push_back(r);
            },
            [](const dns::zone_error& e) { std::fprintf(stderr, "%s\n", e.to_text().c_str()); });
        if (errors) throw dns::text_error(a.ds_file + ": bad DS file");
        if (opt.ds.empty()) throw dns::text_error(a.ds_file + ": no DS records");
    }
    auto store = load_zone(a.file, origin);
    auto report = dnssec::verify_zone(store, origin, opt);
    if (a.verbose)
        for (const auto& n : report.notes)
            std::printf("%s\n", n.c_str());
    for (const auto& e : report.errors)
        std::fprintf(stderr, "%s: error: %s\n", a.file.c_str(), e.c_str());
    if (!report.ok()) {
        std::fprintf(stderr, "%s: zone %s does NOT verify: %zu error(s)\n", a.file.c_str(),
                     origin.to_text().c_str(), report.errors.size());
        throw CLI::RuntimeError(1);
    }
    std::printf("%s: zone %s verifies: %zu names, %zu RRsets, %zu signatures, %s%s\n",
                a.file.c_str(), origin.to_text().c_str(), report.names, report.rrsets,
                report.signatures, report.nsec3 ? "NSEC3" : "NSEC",
                report.opt_out ? " opt-out" : "");
}

}  // namespace

void add_zone_sign_commands(CLI::App& zone) {
    auto sa = std::make_shared<sign_args>();
    auto* sign = zone.add_subcommand("sign", "Sign a zone (RRSIG and NSEC or NSEC3)");
    sign->add_option("file", sa->file, "Zone file")->required();
    sign->add_option("--origin", sa->origin, "Zone name")->required();
    sign->add_option("--key,-k", sa->keys,
                     "Key (BIND base name Kzone.+AAA+TTTTT, or its .key/.private file); repeat")
        ->required();
    sign->add_flag("--nsec3", sa->nsec3, "NSEC3 instead of NSEC (RFC 5155)");
    sign->add_flag("--opt-out", sa->opt_out, "NSEC3 opt-out: no NSEC3 for insecure delegations");
    sign->add_option("--iterations", sa->iterations, "NSEC3 extra iterations (default 0)");
    sign->add_option("--salt", sa->salt, "NSEC3 salt in hex, '-' for none (default)");
    sign->add_option("--inception", sa->inception,
                     "Signature inception: YYYYMMDDHHmmSS, seconds, now, now+N (default now-1h)");
    sign->add_option("--expiration", sa->expiration,
                     "Signature expiration (default inception + 30 days)");
    sign->add_option("--refresh", sa->refresh,
                     "Keep existing signatures valid for longer than this (seconds; default "
                     "a quarter of the validity)");
    sign->add_option("--now", sa->now, "Pretend the time is this (for tests)");
    sign->add_option("--threads", sa->threads, "Worker threads (default: all cores)");
    sign->add_option("--output,-o", sa->output, "Signed zone file (default stdout)");
    sign->add_flag("--rfc3597", sa->rfc3597,
                   "Write HSYNC as TYPE65290 in RFC 3597 form (for BIND, Knot, ldns)");
    sign->callback([sa] { run_sign(*sa); });

    auto va = std::make_shared<verify_args>();
    auto* verify = zone.add_subcommand("verify", "Verify a signed zone's DNSSEC completely");
    verify->add_option("file", va->file, "Zone file")->required();
    verify->add_option("--origin", va->origin, "Zone name")->required();
    verify->add_option("--ds", va->ds_file, "File with the parent's DS records for the zone");
    verify->add_option("--time", va->time, "Verify at this time instead of now");
    verify->add_option("--threads", va->threads, "Worker threads (default: all cores)");
    verify->add_flag("--verbose,-v", va->verbose, "Print the keys and what was checked");
    verify->callback([va] { run_verify(*va); });
}

}  // namespace hsync::cmd
