// `hsyncctl zone check|print`: the zone-file reader and the zone checks, offline.
#include <cstdio>
#include <string>

#include "cmd/hsyncctl/commands.h"
#include "dns/error.h"
#include "dns/record_store.h"
#include "dns/zonefile.h"

namespace hsync::cmd {
namespace {

struct zone_args {
    std::string file;
    std::string origin;
    std::string format = "text";
    bool parse_only = false;
    bool no_zone_checks = false;  // print: a record list or fragment, not a whole zone
};

struct loaded_zone {
    dns::name origin;
    dns::record_store records;
    size_t errors = 0;
    size_t duplicates = 0;
    size_t ttl_fixes = 0;
    uint32_t serial = 0;
};

void report(const std::string& file, const std::string& message) {
    std::fprintf(stderr, "%s: error: %s\n", file.c_str(), message.c_str());
}

// Reads the file, printing every bad record; then the checks a zone must pass as a whole
// (the ones named-checkzone makes by default): one SOA at the apex, apex NS, no data
// outside the zone, CNAME alone at its name, in-zone NS targets with addresses.
loaded_zone load(const zone_args& args) {
    loaded_zone z;
    dns::name root;
    z.origin = dns::name::from_text(args.origin.empty() ? "." : args.origin, &root);
    dns::zone_reader reader(args.file, z.origin);
    size_t out_of_zone = 0;
    z.errors = reader.read(
        [&](const dns::rr& r) {
            if (!r.owner.is_subdomain_of(z.origin)) {
                if (out_of_zone++ < 10)
                    report(args.file,
                           r.owner.to_text() + " is outside the zone " + z.origin.to_text());
                return;
            }
            z.records.add(r);
        },
        [&](const dns::zone_error& e) { std::fprintf(stderr, "%s\n", e.to_text().c_str()); });
    z.errors += out_of_zone;
    z.duplicates = z.records.sort(&z.ttl_fixes);

    // Whole-zone checks over the sorted records: one pass, a name at a time.
    auto fail = [&](const std::string& message) {
        report(args.file, message);
        ++z.errors;
    };
    size_t apex_soa = 0, apex_ns = 0;
    const dns::name apex_name = z.origin.canonical();
    std::vector<uint32_t> in_zone_ns;  // NS records whose target lies inside the zone
    for (size_t i = 0; i < z.records.size();) {
        auto first = z.records[i];
        const bool apex = dns::canonical_compare(first.owner, apex_name.wire()) == 0;
        size_t end = i;
        bool cname = false, other = false;
        size_t cnames = 0;
        for (; end < z.records.size() &&
               dns::canonical_compare(z.records[end].owner, first.owner) == 0;
             ++end) {
            auto r = z.records[end];
            switch (r.type) {
                case dns::rr_type::CNAME:
                    cname = true;
                    ++cnames;
                    break;
                case dns::rr_type::RRSIG:
                case dns::rr_type::NSEC:
                    break;
                case dns::rr_type::NS:
                    if (apex) ++apex_ns;
                    if (dns::name::from_wire(r.rdata).is_subdomain_of(apex_name))
                        in_zone_ns.push_back(static_cast<uint32_t>(end));
                    other = true;
                    break;
                case dns::rr_type::SOA:
                    if (apex) {
                        ++apex_soa;
                        dns::wire_reader soa(r.rdata);
                        soa.read_name(false);
                        soa.read_name(false);
                        z.serial = soa.u32();
                    } else {
                        fail("SOA record at " + dns::name::from_wire(r.owner).to_text() +
                             " is not at the zone apex");
                    }
                    other = true;
                    break;
                default:
                    other = true;
                    break;
            }
        }
        if (cname && other)
            fail(dns::name::from_wire(first.owner).to_text() + ": CNAME and other data");
        if (cnames > 1)
            fail(dns::name::from_wire(first.owner).to_text() + ": more than one CNAME record");
        i = end;
    }
    if (apex_soa == 0) fail("no SOA record at the zone apex " + z.origin.to_text());
    if (apex_soa > 1) fail("more than one SOA record at the zone apex");
    if (apex_ns == 0) fail("no NS records at the zone apex " + z.origin.to_text());
    // In-zone NS targets need an address: found by binary search in the sorted records.
    for (uint32_t at : in_zone_ns) {
        auto ns = z.records[at];
        std::span<const uint8_t> target = ns.rdata;
        size_t lo = 0, hi = z.records.size();
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (dns::canonical_compare(z.records[mid].owner, target) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        bool address = false;
        for (size_t k = lo; k < z.records.size() &&
                            dns::canonical_compare(z.records[k].owner, target) == 0 && !address;
             ++k)
            address =
                z.records[k].type == dns::rr_type::A || z.records[k].type == dns::rr_type::AAAA;
        if (!address)
            fail(dns::name::from_wire(ns.owner).to_text() + ": NS target " +
                 dns::name::from_wire(target).to_text() +
                 " is in the zone but has no A or AAAA record");
    }
    return z;
}

// A record list or zone fragment, as ldns-read-zone reads one: every record that parses,
// whatever its owner; no SOA or NS needed. Bad records are reported and skipped.
loaded_zone load_fragment(const zone_args& args) {
    loaded_zone z;
    dns::name root;
    z.origin = dns::name::from_text(args.origin.empty() ? "." : args.origin, &root);
    z.errors = dns::zone_reader(args.file, z.origin)
                   .read([&](const dns::rr& r) { z.records.add(r); },
                         [&](const dns::zone_error& e) {
                             std::fprintf(stderr, "%s\n", e.to_text().c_str());
                         });
    z.duplicates = z.records.sort(&z.ttl_fixes);
    return z;
}

void print_hex(std::string& out, std::span<const uint8_t> bytes) {
    if (bytes.empty()) {
        out.push_back('-');
        return;
    }
    dns::append_hex(out, bytes, false);
}

}  // namespace

void add_zone_commands(CLI::App& app) {
    auto* zone = app.add_subcommand("zone", "Zone files and served zones");
    zone->require_subcommand(1);
    add_zone_sign_commands(*zone);

    auto args = std::make_shared<zone_args>();
    auto* check =
        zone->add_subcommand("check", "Check a zone file; report every error with FILE:LINE");
    check->add_option("file", args->file, "Zone file")->required();
    check->add_option("--origin", args->origin, "Zone name ($ORIGIN at the start)")->required();
    check->add_flag("--parse-only", args->parse_only,
                    "Only read and check each record, keeping none (constant memory; no "
                    "whole-zone checks)");
    check->callback([args] {
        if (args->parse_only) {
            dns::name root;
            dns::name origin =
                dns::name::from_text(args->origin.empty() ? "." : args->origin, &root);
            size_t records = 0;
            size_t errors = dns::zone_reader(args->file, origin)
                                .read([&](const dns::rr&) { ++records; },
                                      [&](const dns::zone_error& e) {
                                          std::fprintf(stderr, "%s\n", e.to_text().c_str());
                                      });
            if (errors) {
                std::fprintf(stderr, "%s: %zu error%s\n", args->file.c_str(), errors,
                             errors == 1 ? "" : "s");
                throw CLI::RuntimeError(1);
            }
            std::printf("zone %s: %zu records read\n", origin.to_text().c_str(), records);
            return;
        }
        loaded_zone z = load(*args);
        if (z.errors) {
            std::fprintf(stderr, "%s: %zu error%s\n", args->file.c_str(), z.errors,
                         z.errors == 1 ? "" : "s");
            throw CLI::RuntimeError(1);
        }
        size_t rrsets = 0, names = 0;
        for (size_t i = 0; i < z.records.size(); ++i) {
            auto r = z.records[i];
            bool new_name = i == 0 || dns::canonical_compare(z.records[i - 1].owner, r.owner) != 0;
            if (new_name) ++names;
            if (new_name || z.records[i - 1].type != r.type) ++rrsets;
        }
        std::string serial = std::to_string(z.serial);
        std::printf("zone %s: serial %s, %zu records, %zu RRsets, %zu names",
                    z.origin.to_text().c_str(), serial.c_str(), z.records.size(), rrsets, names);
        if (z.duplicates) std::printf(", %zu duplicates ignored", z.duplicates);
        if (z.ttl_fixes) std::printf(", %zu TTLs set to their RRset's", z.ttl_fixes);
        std::printf("\n");
    });

    auto pargs = std::make_shared<zone_args>();
    auto* print =
        zone->add_subcommand("print", "Print a zone in canonical order (text or wire form)");
    print->add_option("file", pargs->file, "Zone file")->required();
    print->add_option("--origin", pargs->origin,
                      "Zone name ($ORIGIN at the start); required unless --no-zone-checks "
                      "(then the root)");
    print->add_flag("--no-zone-checks", pargs->no_zone_checks,
                    "A record list or zone fragment: print every record that parses, whatever "
                    "its owner, without the whole-zone checks (SOA, apex NS, CNAME); errors "
                    "still go to stderr and make the exit status 1");
    print
        ->add_option("--format", pargs->format,
                     "text: presentation; wire: hex owner, class, TTL, type, hex RDATA")
        ->check(CLI::IsMember({"text", "wire"}));
    print->callback([pargs] {
        if (pargs->origin.empty() && !pargs->no_zone_checks)
            throw CLI::ValidationError("--origin", "is required (or give --no-zone-checks)");
        loaded_zone z = pargs->no_zone_checks ? load_fragment(*pargs) : load(*pargs);
        if (z.errors && !pargs->no_zone_checks) {
            std::fprintf(stderr, "%s: %zu error%s, nothing printed\n", pargs->file.c_str(),
                         z.errors, z.errors == 1 ? "" : "s");
            throw CLI::RuntimeError(1);
        }
        bool wire = pargs->format == "wire";
        std::string line;
        for (size_t i = 0; i < z.records.size(); ++i) {
            auto r = z.records[i];
            line.clear();
            if (wire) {
                print_hex(line, r.owner);
                line += ' ' + std::to_string(r.rclass) + ' ' + std::to_string(r.ttl) + ' ' +
                        std::to_string(r.type) + ' ';
                print_hex(line, r.rdata);
            } else {
                r.append_text(line);
            }
            line.push_back('\n');
            std::fwrite(line.data(), 1, line.size(), stdout);
        }
        if (z.errors) {
            std::fflush(stdout);
            std::fprintf(stderr, "%s: %zu error%s, %zu records printed\n", pargs->file.c_str(),
                         z.errors, z.errors == 1 ? "" : "s", z.records.size());
            throw CLI::RuntimeError(1);
        }
    });
}

}  // namespace hsync::cmd
