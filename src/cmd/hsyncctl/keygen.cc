// `hsyncctl keygen`: makes a key pair and writes it as BIND key files, as dnssec-keygen
// does, so the key works with hsync and with BIND's tools alike. Prints the base name.
//
//   hsyncctl keygen --algorithm 13 --ksk example.        -> Kexample.+013+12345
//   hsyncctl keygen --algorithm 15 --sig0 agent.example. (KEY 512 3 15, for SIG(0))
//
// `hsyncctl keyinfo FILE...` loads key files (ours or BIND's), checks that the private half
// belongs to the public one, and prints what a DNS operator compares: base name, key tag,
// the record, and DS digests.
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "cmd/hsyncctl/commands.h"
#include "dns/name.h"
#include "dns/rdata.h"
#include "dns/text.h"
#include "dnssec/ds.h"
#include "dnssec/key.h"
#include "dnssec/keyfile.h"

namespace hsync::cmd {

namespace {

struct keygen_options {
    std::string algorithm = "13";
    bool ksk = false, zsk = false, csk = false, sig0 = false;
    std::string name;
    std::string dir = ".";
    unsigned bits = 0;
    int64_t ttl = -1;
};

uint8_t parse_algorithm(const std::string& text) {
    for (int alg = 1; alg < 256; ++alg) {
        auto a = static_cast<uint8_t>(alg);
        if (dnssec::algorithm_supported(a) && dnssec::algorithm_name(a) == text) return a;
    }
    auto a = static_cast<uint8_t>(dns::parse_unsigned(text, 255, "algorithm"));
    if (!dnssec::algorithm_supported(a))
        throw dnssec::dnssec_error("algorithm " + text +
                                   " is not supported (use 8, 10, 13, 14, 15 or 16)");
    return a;
}

void run_keygen(const keygen_options& o) {
    if (int(o.ksk) + int(o.zsk) + int(o.csk) + int(o.sig0) > 1)
        throw CLI::ValidationError("keygen", "give only one of --ksk, --zsk, --csk, --sig0");
    dnssec::key_role role = o.ksk    ? dnssec::key_role::ksk
                            : o.csk  ? dnssec::key_role::csk
                            : o.sig0 ? dnssec::key_role::sig0
                                     : dnssec::key_role::zsk;
    uint8_t alg = parse_algorithm(o.algorithm);
    dns::name owner = dns::name::from_text(o.name, nullptr);
    dnssec::key k = dnssec::key::generate(owner, alg, role, o.bits);
    auto now = static_cast<int64_t>(std::time(nullptr));
    k.timing.created = k.timing.publish = k.timing.activate = now;
    if (o.ttl >= 0) k.ttl = static_cast<uint32_t>(o.ttl);
    std::string base = dnssec::write_key_files(k, o.dir);
    std::printf("%s\n", base.c_str());
}

struct keyinfo_options {
    std::vector<std::string> files;
    std::vector<unsigned> digests{2};
};

void run_keyinfo(const keyinfo_options& o) {
    for (const auto& file : o.files) {
        dnssec::key k = dnssec::read_key_files(file, false);
        std::printf("base %s\n", dnssec::key_file_base(k).c_str());
        std::printf("tag %u\n", unsigned{k.tag()});
        std::printf("private %s\n", k.has_private() ? "yes" : "no");
        std::string hex;
        dns::append_hex(hex, k.rdata(), false);
        std::printf("rdata %s\n", hex.c_str());
        std::string record = k.owner().to_text() + " IN " + dns::type_to_text(k.rr_type()) + " ";
        dns::rdata_to_text(k.rr_type(), k.rdata(), record);
        std::printf("record %s\n", record.c_str());
        for (unsigned d : o.digests) {
            if (d > 255 || !dnssec::digest_type_supported(static_cast<uint8_t>(d)))
                throw dnssec::dnssec_error("unsupported digest type " + std::to_string(d));
            std::string ds;
            dns::rdata_to_text(dns::rr_type::DS,
                               dnssec::ds_rdata(k.owner(), k.rdata(), static_cast<uint8_t>(d)), ds);
            std::printf("ds %s\n", ds.c_str());
        }
    }
}

}  // namespace

void add_keygen_command(CLI::App& app) {
    auto o = std::make_shared<keygen_options>();
    auto* sub = app.add_subcommand(
        "keygen", "Generate a DNSSEC key pair as BIND key files (Kname.+AAA+TTTTT.key/.private)");
    sub->add_option("--algorithm,-a", o->algorithm,
                    "8 RSASHA256, 10 RSASHA512, 13 ECDSAP256SHA256, 14 ECDSAP384SHA384, "
                    "15 ED25519, 16 ED448 (number or name)")
        ->capture_default_str();
    auto* ksk = sub->add_flag("--ksk", o->ksk, "Key-signing key (DNSKEY flags 257)");
    auto* zsk = sub->add_flag("--zsk", o->zsk, "Zone-signing key (DNSKEY flags 256, the default)");
    auto* csk = sub->add_flag("--csk", o->csk, "Combined signing key (DNSKEY flags 257)");
    auto* sig0 = sub->add_flag("--sig0", o->sig0, "SIG(0) key for DNS messages (KEY flags 512)");
    for (auto* a : {ksk, zsk, csk, sig0})
        for (auto* b : {ksk, zsk, csk, sig0})
            if (a != b) a->excludes(b);
    sub->add_option("--dir,-K", o->dir, "Directory for the key files")->capture_default_str();
    sub->add_option("--bits,-b", o->bits, "RSA modulus size (1024..4096, default 2048)");
    sub->add_option("--ttl,-L", o->ttl, "TTL of the key record in the .key file")
        ->check(CLI::Range(int64_t{0}, int64_t{2147483647}));
    sub->add_option("name", o->name, "Owner name of the key, e.g. example.")->required();
    sub->callback([o] { run_keygen(*o); });

    auto i = std::make_shared<keyinfo_options>();
    auto* info = app.add_subcommand(
        "keyinfo", "Show key tag, record and DS of key files (Kname.+AAA+TTTTT[.key|.private])");
    info->add_option("--digest,-d", i->digests,
                     "DS digest type to show: 1, 2, 4 (default 2; repeat for more)")
        ->allow_extra_args(false);
    info->add_option("files", i->files, "Key files or their base names")->required();
    info->callback([i] { run_keyinfo(*i); });
}

}  // namespace hsync::cmd
