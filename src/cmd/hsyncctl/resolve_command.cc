// `hsyncctl resolve`: one DNSSEC-validated lookup through net::resolver (libunbound), as
// the agent's discovery and the parent's scanner make them. Output as BIND's delv:
//
//   hsyncctl resolve NAME TYPE --trust-anchor 'lab. 3600 IN DS ...' [--trust-anchor-file F]
//            [--forward ADDR[#PORT]|ADDR@PORT] [--stub ZONE=ADDR[@PORT][,ADDR...]]...
//            [--timeout MS] [--cache-max-ttl S] [--class IN] [--json]
//
//   ; fully validated | ; unsigned answer | ; validation failed: REASON
//   ; resolution failed: REASON (timeout, SERVFAIL, error)
//   then the records and their RRSIGs, one per line.
//
// Exit status: 0 when the answer is secure (a validated denial too), 1 when it is not or
// the lookup failed, 2 for a usage error. The command parses its own arguments so that
// every usage error, CLI11's own included, exits with 2.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cmd/hsyncctl/commands.h"
#include "dns/error.h"
#include "dns/name.h"
#include "dns/rdata.h"
#include "net/asio.h"
#include "net/resolver.h"

namespace hsync::cmd {

namespace {

constexpr int usage_exit = 2;

struct resolve_args {
    std::string name, type;
    std::string qclass = "IN";
    std::vector<std::string> trust_anchors, trust_anchor_files, stubs;
    std::string forward;
    long long timeout_ms = 5000;
    std::optional<long long> cache_max_ttl;
    bool json = false;
};

[[noreturn]] void usage(const std::string& message) {
    std::fprintf(stderr, "hsyncctl resolve: %s\nRun with --help for more information.\n",
                 message.c_str());
    throw CLI::RuntimeError(usage_exit);
}

void define(CLI::App& cli, resolve_args& a) {
    cli.add_option("name", a.name, "Domain name to look up")->required();
    cli.add_option("type", a.type, "RR type (A, DS, CDS, TYPE65290...)")->required();
    cli.add_option("--trust-anchor,-a", a.trust_anchors,
                   "Trust anchor: a DS or DNSKEY record (\"lab. 3600 IN DS ...\"); repeatable")
        ->expected(1);
    cli.add_option("--trust-anchor-file", a.trust_anchor_files,
                   "File of DS or DNSKEY records in zone-file form; repeatable")
        ->expected(1);
    cli.add_option("--forward", a.forward,
                   "Forwarder for every name not in a stub zone: ADDR[#PORT] or ADDR@PORT");
    cli.add_option("--stub", a.stubs,
                   "Send queries for ZONE to these servers: ZONE=ADDR[@PORT][,ADDR...]; "
                   "repeatable")
        ->expected(1);
    cli.add_option("--timeout", a.timeout_ms, "Deadline in milliseconds (default 5000)");
    cli.add_option("--cache-max-ttl", a.cache_max_ttl, "libunbound's cache-max-ttl, seconds");
    cli.add_option("--class", a.qclass, "Query class (default IN)");
    cli.add_flag("--json", a.json, "Print a JSON object");
}

net::resolver_options make_options(const resolve_args& a) {
    net::resolver_options o;
    if (a.trust_anchors.empty() && a.trust_anchor_files.empty())
        usage("give a trust anchor (--trust-anchor or --trust-anchor-file)");
    o.trust_anchors = a.trust_anchors;
    o.trust_anchor_files = a.trust_anchor_files;
    if (a.timeout_ms <= 0 || a.timeout_ms > 3'600'000)
        usage("--timeout must be 1..3600000 milliseconds");
    o.timeout = std::chrono::milliseconds(a.timeout_ms);
    if (a.cache_max_ttl) {
        if (*a.cache_max_ttl < 0 || *a.cache_max_ttl > 0x7fffffff)
            usage("--cache-max-ttl must be 0..2147483647 seconds");
        o.cache_max_ttl = static_cast<uint32_t>(*a.cache_max_ttl);
    }
    try {
        if (!a.forward.empty()) o.forwarder = net::parse_peer(a.forward);
        dns::name root;
        for (const auto& s : a.stubs) {
            auto eq = s.find('=');
            if (eq == std::string::npos || eq == 0 || eq + 1 == s.size())
                usage("--stub wants ZONE=ADDR[@PORT], not \"" + s + "\"");
            auto zone = dns::name::from_text(s.substr(0, eq), &root);
            auto& servers = o.stubs[zone];
            std::string list = s.substr(eq + 1);
            for (size_t pos = 0; pos <= list.size();) {
                auto comma = std::min(list.find(',', pos), list.size());
                servers.push_back(net::parse_peer(list.substr(pos, comma - pos)));
                pos = comma + 1;
            }
        }
    } catch (const net::resolver_error& e) {
        usage(e.what());
    } catch (const dns::dns_error& e) {
        usage(e.what());
    }
    return o;
}

void print_text(const net::resolve_result& r) {
    std::string out;
    switch (r.verdict) {
        case net::security::secure:
            out = r.havedata ? "; fully validated\n" : "; negative response, fully validated\n";
            break;
        case net::security::insecure:
            out = r.havedata ? "; unsigned answer\n" : "; negative response, unsigned answer\n";
            break;
        case net::security::bogus:
            out = "; validation failed: " + r.reason + "\n";
            break;
        default:
            out = "; resolution failed: " + net::to_string(r.verdict) + ": " + r.reason + "\n";
            break;
    }
    if (r.answered() && !r.havedata) {
        out += r.nxdomain ? "; NXDOMAIN: " : "; no data: ";
        out += r.qname.to_text() + " " + dns::type_to_text(r.qtype) + "\n";
    }
    for (const auto& rec : r.records)
        out += rec.to_text() + "\n";
    for (const auto& sig : r.signatures)
        out += sig.to_text() + "\n";
    std::fputs(out.c_str(), stdout);
}

void print_json(const net::resolve_result& r) {
    nlohmann::json j;
    j["qname"] = r.qname.to_text();
    j["qtype"] = dns::type_to_text(r.qtype);
    j["security"] = net::to_string(r.verdict);
    j["reason"] = r.reason;
    j["rcode"] = r.rcode;
    j["nxdomain"] = r.nxdomain;
    j["havedata"] = r.havedata;
    j["records"] = nlohmann::json::array();
    for (const auto& rec : r.records)
        j["records"].push_back(rec.to_text());
    j["signatures"] = nlohmann::json::array();
    for (const auto& sig : r.signatures)
        j["signatures"].push_back(sig.to_text());
    j["ttl"] = r.ttl;
    j["elapsed_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(r.elapsed).count();
    std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
}

int run_resolve(std::vector<std::string> args) {
    CLI::App cli{"Look up NAME TYPE and validate it with DNSSEC (libunbound), as delv does",
                 "hsyncctl resolve"};
    resolve_args a;
    define(cli, a);
    try {
        std::reverse(args.begin(), args.end());  // CLI11 takes the vector reversed
        cli.parse(args);
    } catch (const CLI::CallForHelp&) {
        std::fputs(cli.help().c_str(), stdout);
        return 0;
    } catch (const CLI::ParseError& e) {
        usage(e.what());
    }

    dns::name qname;
    uint16_t qtype = 0, qclass = 0;
    try {
        dns::name root;
        qname = dns::name::from_text(a.name, &root);
        qtype = dns::type_from_text(a.type);
    } catch (const dns::dns_error& e) {
        usage(e.what());
    }
    if (!dns::class_from_text(a.qclass, qclass)) usage("unknown class " + a.qclass);
    auto options = make_options(a);

    net::asio::io_context io;
    net::resolve_result result;
    {
        std::optional<net::resolver> resolver;
        try {
            resolver.emplace(io.get_executor(), options);
        } catch (const net::resolver_error& e) {
            usage(e.what());
        }
        net::asio::co_spawn(
            io,
            [&]() -> net::awaitable<void> {
                result = co_await resolver->resolve(qname, qtype, qclass);
            },
            [](std::exception_ptr e) {
                if (e) std::rethrow_exception(e);
            });
        io.run();
    }
    if (a.json)
        print_json(result);
    else
        print_text(result);
    return result.secure() ? 0 : 1;
}

}  // namespace

void add_resolve_command(CLI::App& app) {
    auto* sub = app.add_subcommand(
        "resolve", "DNSSEC-validated lookup (libunbound), as delv: NAME TYPE --trust-anchor RR");
    // Every argument after "resolve" goes to run_resolve, which parses them itself.
    sub->prefix_command();
    sub->set_help_flag();
    sub->callback([sub] {
        int rc = run_resolve(sub->remaining());
        if (rc != 0) throw CLI::RuntimeError(rc);
    });
}

}  // namespace hsync::cmd
