// hsyncd's configuration: a YAML file parsed into plain structs, every field checked.
// A bad file gives a config_error naming the file, the line, the key's path and the
// reason, e.g.
//   config.yaml:12: zones[1].primaries[0]: "1.2.3.4:x" is not ADDR:PORT
// parse_config() throws the first one; parse_config_all() goes on after each and returns
// them all (hsyncd --check). Unknown keys are errors, so a typo never passes silently.
// docs/configuration.md describes every key.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "net/asio.h"
#include "roles/signer/policy.h"

namespace hsync::hsyncd {

class config_error : public std::runtime_error {
  public:
    // `what()` is the full "FILE:LINE: PATH: MESSAGE" text.
    config_error(std::string file, int line, std::string path, std::string message);
    const std::string& file() const { return file_; }
    int line() const { return line_; }  // 1-based; 0 when unknown
    const std::string& path() const { return path_; }
    const std::string& message() const { return message_; }

  private:
    std::string file_, path_, message_;
    int line_;
};

struct endpoint {
    net::asio::ip::address address;
    uint16_t port = 53;
    std::string to_string() const;  // "192.0.2.1:53", "[2001:db8::1]:53"
    bool operator==(const endpoint&) const = default;
};

// Parses "ADDR:PORT", "[V6]:PORT", or a bare address (then `default_port`). Addresses
// only: hostnames are refused (a server must not depend on DNS to start).
std::optional<endpoint> parse_endpoint(std::string_view text, uint16_t default_port);

struct tsig_key {
    std::string name;       // canonical (lower-case, absolute)
    std::string algorithm;  // "hmac-sha256", ... (lower-case, no trailing dot)
    std::vector<uint8_t> secret;
    std::string origin;  // "config.yaml:7" or the key file, for messages
};

// An ACL after resolution: named ACLs expanded, each element valid for zone::acl::parse
// ("192.0.2.0/24", "key NAME", "any", "none", optionally "!"-negated).
using acl_elements = std::vector<std::string>;

struct update_rule {
    enum class match_kind { exact, subdomain, wildcard };
    enum class key_kind { tsig, sig0 };
    std::string key;  // canonical name of a TSIG key, or owner of a SIG(0) KEY record
    key_kind key_type = key_kind::tsig;
    match_kind match = match_kind::subdomain;
    std::string name;             // canonical absolute name (default: the zone apex)
    std::vector<uint16_t> types;  // empty: every type except SOA-at-apex rules of RFC 2136
};

struct zone_config {
    enum class zone_type { primary, secondary };
    std::string name;  // canonical absolute
    zone_type type = zone_type::primary;
    std::string file;                 // primary: zone file path (made absolute)
    std::vector<endpoint> primaries;  // secondary: where transfers come from
    std::string transfer_key;         // secondary: TSIG key name for SOA/XFR, or empty
    std::vector<endpoint> notify;     // NOTIFY targets (RFC 1996)
    acl_elements allow_transfer;      // default: none
    acl_elements allow_notify;        // default: the primaries' addresses
    acl_elements allow_update;        // default: none
    std::vector<update_rule> update_policy;
    // Overrides of the SOA timers (RFC 1035 §3.3.13), in seconds; none: use the SOA's.
    std::optional<uint32_t> refresh, retry, expire;
    std::string dnssec_policy;          // role signer: a dnssec-policies name ("default" if unset)
    std::vector<std::string> children;  // role parent: delegations to scan (empty: all)
    int line = 0;                       // where the zone is defined, for messages at run time
};

struct limits_config {
    unsigned tcp_clients = 100;        // TCP connections at once, all clients together
    unsigned tcp_per_client = 10;      // TCP connections at once from one address
    uint32_t tcp_idle_timeout = 10;    // seconds without a full query before closing
    unsigned tcp_pipeline = 32;        // queries in flight on one connection (RFC 7766 §6.2.1.1)
    uint16_t udp_payload_size = 1232;  // our EDNS(0) buffer size (DNS flag day 2020)
};

// Role parent (docs/parent.md): how children are scanned and what is accepted.
struct parent_config {
    uint32_t scan_interval = 3600;         // seconds between scans of a child
    uint32_t notify_min_interval = 5;      // seconds between NOTIFY-started scans of a child
    std::vector<uint8_t> digest_types{2};  // DS digest types published (SHA-256)
    bool initial_ds = false;               // RFC 8078 §3.3 "accept after delay"
    uint32_t initial_ds_delay = 86400;     // seconds the same CDS must be seen first
    uint32_t ds_ttl = 3600;                // TTL of a child's first DS (later: the DS's own)
    uint32_t timeout_ms = 3000;            // per lookup
    unsigned max_parallel = 16;            // children scanned at once
    // The validating resolver: trust anchors (DS or DNSKEY records in presentation form,
    // and/or a file of them), and where names above the children are looked up.
    std::vector<std::string> trust_anchors;
    std::string trust_anchor_file;
    std::optional<endpoint> forward;
    std::vector<std::pair<std::string, std::vector<endpoint>>> stubs;  // zone -> servers
    // Where to reach a child's nameserver by name, when not at its glue address, port 53.
    std::map<std::string, endpoint> nameservers;
    // RFC 9859: DSYNC records published for the zones, pointing at this server.
    std::string dsync_target;  // empty: none
    uint16_t dsync_port = 53;
};

// A path the configuration names, kept for the checks that look at the file system
// (config_check.h). Every path key registers itself here when parsed.
struct file_ref {
    enum class use {
        read,       // a file that is read (zone file, key file, trust anchors)
        directory,  // an existing directory the daemon writes in (data-dir)
        append,     // a file the daemon creates or appends to (log-file)
        key_pair,   // a DNSSEC key in BIND's files: PATH.key and PATH.private
    };
    std::string key;   // the key's path, e.g. "zones[0].file"
    int line = 0;      // where the key is
    std::string path;  // absolute
    use how = use::read;
};

// Role agent (docs/agent.md): its identity, what it publishes, timers and its resolver.
struct agent_config {
    struct nameserver {
        std::string name;
        std::vector<net::asio::ip::address> addresses;
    };
    std::string identity;  // canonical absolute
    uint32_t ttl = 300;
    std::string dns_target;  // default dns.<identity>
    std::vector<net::asio::ip::address> dns_addresses;
    uint16_t dns_port = 53;
    std::vector<nameserver> nameservers;            // of the identity zone
    std::vector<std::string> provider_nameservers;  // NS published at <zone>.<identity>
    std::string sig0_key;                           // empty: generated in the data directory
    uint32_t heartbeat_interval = 60;
    uint32_t retry_initial = 10, retry_max = 3600;
    uint32_t message_timeout_ms = 2000;
    bool peer_sync = true;
    bool publish_key = true;
    // The REST API (optional): where it listens and what it publishes.
    struct api_config {
        endpoint listen;
        std::string target;  // default api.<identity>
        std::vector<net::asio::ip::address> addresses;
        std::string key_file, cert_file;  // empty: generated in the data directory
        bool publish_own_tlsa = true;
        std::vector<std::string> extra_tlsa;  // hex SHA-256 digests
    };
    std::optional<api_config> api;
    std::vector<endpoint> identity_notify;
    acl_elements identity_allow_transfer;
    // The validating resolver (as the parent's).
    std::vector<std::string> trust_anchors;
    std::string trust_anchor_file;
    std::optional<endpoint> forward;
    std::vector<std::pair<std::string, std::vector<endpoint>>> stubs;
    uint32_t timeout_ms = 3000;
    // Synchronization (docs/agent.md): where the agent sends its UPDATEs (its provider's
    // combiner, with a TSIG key of tsig-keys), and the parent's nameservers it asks for DS
    // and NS (empty: looked up through the resolver, port 53).
    std::optional<endpoint> combiner;
    std::string combiner_key;
    std::vector<endpoint> parent_nameservers;
};

struct config {
    std::string file;  // the file it came from, as given
    std::string role;  // auth | combiner | signer | agent | parent
    std::vector<endpoint> listen;
    std::string data_dir;  // absolute
    std::string log_level = "info";
    std::string log_file;  // absolute or empty
    // Loopback only: the API has no TLS (a non-loopback address is refused).
    endpoint management{net::asio::ip::make_address("127.0.0.1"), 8053};
    // The secret that signs management requests (absolute); default DATA_DIR/management.key,
    // created on first start.
    std::string management_key_file;
    std::vector<tsig_key> tsig_keys;
    std::map<std::string, acl_elements> acls;
    std::vector<zone_config> zones;
    limits_config limits;
    // Role signer. A policy named "default" always exists (the built-in values unless the
    // file defines one with that name).
    std::vector<signer::signing_policy> dnssec_policies;
    parent_config parent;  // role parent
    agent_config agent;    // role agent

    std::vector<file_ref> files;                     // every path named, in file order
    std::map<std::string, int> key_lines;            // key path ("zones[0].file") -> its line
    int line_of(const std::string& key_path) const;  // 0 when not in the file

    const tsig_key* find_key(const std::string& canonical_name) const;
    const zone_config* find_zone(const std::string& canonical_name) const;
    const signer::signing_policy* find_policy(const std::string& name) const;
};

inline constexpr const char* known_roles[] = {"auth", "combiner", "signer", "agent", "parent"};

// Parses `text` as the content of `file` (relative paths inside are resolved against the
// file's directory). With `check_files`, data-dir must be an existing directory and key
// files are read; key files are always read when referenced. Throws the first
// config_error.
config parse_config(const std::string& text, const std::string& file, bool check_files = true);

// Reads and parses a file. Throws config_error (also when the file cannot be read).
config load_config(const std::string& file, bool check_files = true);

// The same walk, going on after each error: every problem found, in the order found (no
// two alike). `cfg` holds what parsed; it is only usable when `problems` is empty.
struct parse_result {
    config cfg;
    std::vector<config_error> problems;
};
parse_result parse_config_all(const std::string& text, const std::string& file,
                              bool check_files = true);
parse_result load_config_all(const std::string& file, bool check_files = true);

// Parses a BIND key file (`key "name" { algorithm hmac-sha256; secret "..."; };`, one or
// more keys). Throws config_error naming `file` and the line.
std::vector<tsig_key> parse_bind_key_file(const std::string& text, const std::string& file);

}  // namespace hsync::hsyncd
