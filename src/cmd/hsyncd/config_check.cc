#include "cmd/hsyncd/config_check.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include <unistd.h>

#include "cmd/hsyncd/roles.h"
#include "dns/error.h"
#include "dns/record_store.h"
#include "dns/zonefile.h"
#include "dnssec/keyfile.h"
#include "zone/zone_data.h"

namespace hsync::hsyncd {
namespace {

namespace fs = std::filesystem;

// Enough to show what is wrong with a file without flooding the terminal.
constexpr size_t max_per_file = 50;

class checker {
  public:
    explicit checker(check_result& r) : r_(r) {}

    void at(const std::string& file, size_t line, const std::string& text) {
        std::string where = file + (line ? ":" + std::to_string(line) : std::string());
        // One place that already has a problem (a key file the parser could not read) is
        // not reported again by the file checks.
        if (line && !seen_.insert(where).second) return;
        r_.problems.push_back(where + ": " + text);
    }
    void at_key(const config& cfg, const std::string& key, int line, const std::string& text) {
        at(cfg.file, static_cast<size_t>(line), key + ": " + text);
    }
    void remember(const config_error& e) {
        if (e.line()) seen_.insert(e.file() + ":" + std::to_string(e.line()));
        r_.problems.push_back(e.what());
    }

  private:
    check_result& r_;
    std::set<std::string> seen_;
};

std::string errno_text() {
    return std::strerror(errno);
}

// The zone file as the engine loads it (zone/engine.cc): every record must parse and lie
// in the zone, and the result must be servable (an SOA at the apex).
void check_zone_file(checker& ck, const config& cfg, const file_ref& ref, const zone_config& z,
                     check_result& r) {
    ++r.files_read;
    dns::name origin;
    try {
        origin = dns::name::from_text(z.name);
    } catch (const dns::dns_error&) {
        return;  // reported by the parser
    }
    dns::record_store records;
    size_t shown = 0, errors = 0;
    bool opened = true;
    dns::zone_reader reader(ref.path, origin);
    reader.read_located(
        [&](const dns::rr& rec, const dns::zone_position& where) {
            if (rec.owner.is_subdomain_of(origin)) {
                records.add(rec);
                return;
            }
            ++errors;
            if (shown++ < max_per_file)
                ck.at(std::string(where.file), where.line,
                      "error: " + rec.owner.to_text() + " is outside the zone " + z.name);
        },
        [&](const dns::zone_error& e) {
            ++errors;
            if (e.line == 0 && e.file == ref.path) {
                opened = false;
                ck.at_key(cfg, ref.key, ref.line, "zone file \"" + ref.path + "\": " + e.message);
                return;
            }
            if (shown++ < max_per_file) ck.at(e.file, e.line, "error: " + e.message);
        });
    if (!opened) return;
    if (shown > max_per_file)
        ck.at(ref.path, 0, "error: " + std::to_string(shown - max_per_file) + " more not shown");
    if (errors) {
        ck.at_key(cfg, ref.key, ref.line,
                  "zone " + z.name + " would not load: " + std::to_string(errors) + " error" +
                      (errors == 1 ? "" : "s") + " in \"" + ref.path + "\"");
        return;
    }
    if (records.empty()) {
        ck.at_key(cfg, ref.key, ref.line, "zone file \"" + ref.path + "\" has no records");
        return;
    }
    records.sort();
    try {
        zone::zone_data data(std::move(records), origin);
    } catch (const std::exception& e) {
        ck.at_key(cfg, ref.key, ref.line, "zone file \"" + ref.path + "\": " + e.what());
    }
}

// A file of DS/DNSKEY records, as libunbound reads trust anchors.
void check_anchor_file(checker& ck, const config& cfg, const file_ref& ref, check_result& r) {
    ++r.files_read;
    size_t anchors = 0;
    bool opened = true;
    // Anchor files often have no TTL (Debian's root.ds); unbound does not need one.
    dns::zone_options options;
    options.default_ttl = 3600;
    dns::zone_reader reader(ref.path, dns::name(), options);
    reader.read_located(
        [&](const dns::rr& rec, const dns::zone_position& where) {
            if (rec.type == dns::rr_type::DS || rec.type == dns::rr_type::DNSKEY)
                ++anchors;
            else
                ck.at(std::string(where.file), where.line,
                      "error: a trust anchor must be a DS or DNSKEY record");
        },
        [&](const dns::zone_error& e) {
            if (e.line == 0 && e.file == ref.path) {
                opened = false;
                ck.at_key(cfg, ref.key, ref.line, "\"" + ref.path + "\": " + e.message);
                return;
            }
            ck.at(e.file, e.line, "error: " + e.message);
        });
    if (opened && anchors == 0)
        ck.at_key(cfg, ref.key, ref.line, "\"" + ref.path + "\" holds no DS or DNSKEY record");
}

// A file the configuration names: can this user use it as the daemon will?
void check_access(checker& ck, const config& cfg, const file_ref& ref, check_result& r) {
    std::error_code ec;
    switch (ref.how) {
        case file_ref::use::read:
            if (::access(ref.path.c_str(), R_OK) != 0) {
                ck.at_key(cfg, ref.key, ref.line,
                          "cannot read \"" + ref.path + "\": " + errno_text());
                return;
            }
            if (fs::is_directory(ref.path, ec)) {
                ck.at_key(cfg, ref.key, ref.line, "\"" + ref.path + "\" is a directory");
                return;
            }
            for (size_t i = 0; i < cfg.zones.size(); ++i)
                if (ref.key == "zones[" + std::to_string(i) + "].file")
                    return check_zone_file(ck, cfg, ref, cfg.zones[i], r);
            if (ref.key.ends_with("trust-anchor-file")) return check_anchor_file(ck, cfg, ref, r);
            ++r.files_read;  // key files: the parser read them
            return;
        case file_ref::use::directory:
            // The state databases are created here at the first start.
            if (fs::is_directory(ref.path, ec) &&
                ::access(ref.path.c_str(), R_OK | W_OK | X_OK) != 0)
                ck.at_key(cfg, ref.key, ref.line,
                          "\"" + ref.path + "\" is not writable by this user (uid " +
                              std::to_string(::getuid()) + "): " + errno_text());
            return;
        case file_ref::use::key_pair:
            ++r.files_read;
            try {
                dnssec::read_key_files(ref.path);
            } catch (const std::exception& e) {
                ck.at_key(cfg, ref.key, ref.line, e.what());
            }
            return;
        case file_ref::use::append: {
            if (fs::exists(ref.path, ec)) {
                if (::access(ref.path.c_str(), W_OK) != 0)
                    ck.at_key(cfg, ref.key, ref.line,
                              "cannot append to \"" + ref.path + "\": " + errno_text());
                return;
            }
            fs::path dir = fs::path(ref.path).parent_path();
            if (!fs::is_directory(dir, ec))
                ck.at_key(cfg, ref.key, ref.line,
                          "directory \"" + dir.string() + "\" does not exist");
            else if (::access(dir.c_str(), W_OK | X_OK) != 0)
                ck.at_key(cfg, ref.key, ref.line,
                          "cannot create \"" + ref.path + "\": " + errno_text());
            return;
        }
    }
}

// A signer's keys from earlier runs (data-dir/keys/ZONE, BIND key files): each pair must
// still read, or the zone would fail to start.
void check_signer_keys(checker& ck, const config& cfg, check_result& r) {
    for (const auto& z : cfg.zones) {
        std::string dir_name = z.name.size() > 1 ? z.name.substr(0, z.name.size() - 1) : z.name;
        fs::path dir = fs::path(cfg.data_dir) / "keys" / dir_name;
        std::error_code ec;
        if (!fs::is_directory(dir, ec)) continue;  // none yet: made at the first start
        for (const auto& entry : fs::directory_iterator(dir, ec)) {
            if (entry.path().extension() != ".key") continue;
            ++r.files_read;
            try {
                dnssec::read_key_files(entry.path());
            } catch (const std::exception& e) {
                ck.at(cfg.file, static_cast<size_t>(z.line),
                      "zone " + z.name + ": key " + entry.path().string() + ": " + e.what());
            }
        }
        if (ec)
            ck.at(cfg.file, static_cast<size_t>(z.line),
                  "zone " + z.name + ": cannot list " + dir.string() + ": " + ec.message());
    }
}

}  // namespace

check_result check_config(const std::string& file) {
    check_result r;
    checker ck(r);
    parse_result parsed = load_config_all(file, true);
    // In the order of the lines (all in the configuration file); the files it names
    // come after.
    std::stable_sort(
        parsed.problems.begin(), parsed.problems.end(),
        [](const config_error& a, const config_error& b) { return a.line() < b.line(); });
    for (const auto& e : parsed.problems)
        ck.remember(e);
    r.cfg = std::move(parsed.cfg);
    const config& cfg = r.cfg;
    if (!cfg.role.empty() && !role_implemented(cfg.role))
        ck.at_key(cfg, "role", cfg.line_of("role"),
                  "\"" + cfg.role + "\" is not implemented yet in this build");
    for (const auto& ref : cfg.files)
        check_access(ck, cfg, ref, r);
    if (cfg.role == "signer") check_signer_keys(ck, cfg, r);
    return r;
}

}  // namespace hsync::hsyncd
