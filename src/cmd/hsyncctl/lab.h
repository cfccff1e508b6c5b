// `hsyncctl lab`: a whole DNS world on loopback (docs/lab.md).
//
//   lab_config.cc   the plan (processes, ports, keys, paths), generated configurations and
//                   zone files, zone-file edits: pure functions on values, plus file writes
//   lab_process.cc  starting processes (fork/exec, own session), checking and stopping them
//                   by recorded PID, ports, the state file DIR/lab.json
//   lab_sync.cc     talking to the running lab: SOA serials, the management API, waiting
//                   for propagation and for the agents' processes, the probe
//   lab_follow.cc   the delegation follower: Unbound's example.lab. stub follows the
//                   parent's NS set (unbound-control stub_add)
//   lab_command.cc  the command line: up, down, status, logs, edit, wait, probe, follow
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "dns/name.h"
#include "dns/rr.h"

namespace hsync::cmd::lab {

// A failure the user can act on: printed as one message, exit status 1. `port_in_use`
// marks a start-up failure that a new set of ports may cure.
struct lab_error : std::runtime_error {
    explicit lab_error(const std::string& what, bool in_use = false)
        : std::runtime_error(what), port_in_use(in_use) {}
    bool port_in_use;
};

inline constexpr std::string_view parent_zone = "lab.";
inline constexpr std::string_view child_zone = "example.lab.";
inline constexpr int max_providers = 9;  // planned: --providers plus --spare

// Progress lines for the user (stdout), one per call.
using reporter = std::function<void(const std::string&)>;

struct tsig_entry {
    std::string name;  // "p1-owner-xfr."
    std::string algorithm = "hmac-sha256";
    std::string secret;  // base64
    std::string file;    // DIR/keys/p1-owner-xfr.key (BIND key-file format)
    std::string purpose;
};

struct process_entry {
    std::string name;      // parent, parent-signer, owner, pN-combiner, pN-signer, pN-auth,
                           // pN-agent, resolver, delegation-follower
    std::string role;      // parent, auth, signer, combiner, agent, unbound, follower
    int provider = 0;      // 1..N for pN-*, 0 otherwise
    std::string zone;      // the zone it serves (the resolver: none)
    std::string upstream;  // the process it transfers the zone from ("" for primaries)
    uint16_t dns_port = 0;
    uint16_t mgmt_port = 0;  // 0: no management API (the resolver, the follower)
    std::string dir, config, log, data_dir;
    std::string zone_file;              // primaries: the zone file the lab edits
    std::vector<std::string> keys;      // TSIG key names in its configuration
    std::vector<std::string> argv;      // what it runs (argv[0] absolute)
    std::string identity;               // role agent: its identity (agent.pN.lab.)
    uint16_t api_port = 0;              // role agent: its REST API (HTTPS)
    std::string identity_ds;            // role agent: the DS of its identity zone's key, in lab.
    long pid = 0;                       // 0: not started
    unsigned long long start_time = 0;  // /proc/PID/stat field 22, to tell a reused PID

    bool is_hsyncd() const { return role != "unbound" && role != "follower"; }
};

inline constexpr const char* sync_peer = "peer";
inline constexpr const char* sync_leader_follower = "leader-follower";

struct lab_state {
    std::string dir;          // absolute
    int planned = 3;          // providers planned: 1..planned have ports, configs and keys
    std::vector<int> active;  // providers whose processes the lab started (up, edit)
    int spare = 1;            // --spare at up
    // --no-sign at up: spare providers that join with Sign=NO: no combiner or signer of
    // their own; their auth and agent transfer p1-signer's signed zone.
    std::vector<int> unsigned_providers;
    uint32_t ttl = 10;             // --ttl: zones' $TTL, DNSKEY, DS, the agents' identity zones
    std::string sync = sync_peer;  // --sync: peer | leader-follower
    int64_t created = 0;           // seconds since the epoch
    bool fixed_ports = false;      // --base-port given
    std::string hsyncd, unbound, unbound_control, hsyncctl;  // binaries
    std::string trust_anchor;  // the DNSKEY RR (text) Unbound trusts for lab.
    std::vector<tsig_entry> keys;
    std::vector<process_entry> processes;

    bool is_active(int provider) const;
    bool signs(int provider) const;
    const process_entry* find(std::string_view name) const;
    process_entry* find(std::string_view name);
    // pN-<what> (what: combiner, signer, auth, agent).
    const process_entry* provider_process(int n, std::string_view what) const;
    const tsig_entry* key(std::string_view name) const;
    // The process serving `zone` as its primary (parent or owner); nullptr if none.
    const process_entry* primary_of(std::string_view zone) const;

    nlohmann::json to_json() const;
    static lab_state from_json(const nlohmann::json& j);  // throws lab_error
};

// ------------------------------------------------------------------ lab_config.cc

// Ports a lab of `planned` providers needs: DNS + management per hsyncd, each agent's REST
// API, DNS for Unbound.
size_t ports_needed(int planned);

struct plan_options {
    int providers = 2;         // active at up: 1..providers
    int spare = 1;             // planned but not started: providers+1..providers+spare
    std::vector<int> no_sign;  // spare providers that will serve with Sign=NO
    uint32_t ttl = 10;
    std::string sync = sync_peer;
    std::string hsyncd, unbound, unbound_control, hsyncctl;
};
// The whole lab as planned: every process with its ports (taken in order from `ports`),
// directories, configuration paths, TSIG key names and files (secrets still empty).
lab_state make_plan(const std::string& dir, const plan_options& o,
                    const std::vector<uint16_t>& ports);
// Fills every key's secret with fresh random bytes.
void generate_secrets(lab_state& st);
std::string tsig_key_file_text(const tsig_entry& k);

std::string hsyncd_config(const lab_state& st, const process_entry& p);
// The key that signs p's management requests (its management-key-file; hsyncd creates it).
std::string management_key_path(const process_entry& p);
// Unbound's configuration; its example.lab. stub lists `stub_ports` (the auth servers of
// the providers the parent's delegation names; the follower keeps it current).
std::string unbound_config(const lab_state& st, const process_entry& p,
                           const std::vector<uint16_t>& stub_ports);
// The auth servers of the providers active at up (the parent's delegation then).
std::vector<uint16_t> initial_stub_ports(const lab_state& st);
// Unbound's remote control socket (unix): DIR/resolver/unbound.ctl.
std::string unbound_control_socket(const process_entry& resolver);
// DIR/trust-anchor: the lab's trust anchor for the parent role (a comment until known).
std::string trust_anchor_path(const lab_state& st);
std::string parent_zone_text(const lab_state& st, uint32_t serial);
std::string child_zone_text(const lab_state& st, uint32_t serial);
// The HSYNC identity of provider n: agent.pN.lab. (its agent's identity zone).
std::string provider_identity(int n);
// Provider n's nameserver for example.lab.: ns.pN.example.lab.
std::string provider_nameserver(int n);

// Makes every agent's identity zone key (in its data directory, where the agent finds it)
// and records its DS, so that lab. delegates the identity zones securely from the start.
void make_agent_identity_keys(lab_state& st);

// Writes the configurations, zone files and key files of a fresh plan.
void write_lab_files(const lab_state& st);

// A change to a zone file (lab edit).
struct zone_change {
    struct removal {
        dns::name owner;
        uint16_t type = 0;  // 0: every record at the name
        std::optional<std::vector<uint8_t>> rdata;
        std::string text;  // as the user wrote it, for messages
    };
    std::vector<dns::rr> add;
    std::vector<removal> remove;
    std::vector<std::pair<std::string, bool>> hsync_state;  // identity name, ON?
    // New providers: an HSYNC record ON, Sign YES with the NSMgmt the others use (or
    // `nsmgmt_agent`); one already there is set so.
    std::vector<std::string> hsync_add;
    std::vector<std::string> hsync_add_unsigned;  // of hsync_add: those joining with Sign=NO
    std::optional<bool> nsmgmt_agent;  // every HSYNC record's NSMgmt: AGENT (true) or OWNER
    uint32_t ttl = 10;                 // of an HSYNC RRset that does not exist yet
};
// "www 300 IN A 192.0.2.1" (names relative to origin; TTL default `ttl`). Throws lab_error.
dns::rr parse_add(std::string_view text, const dns::name& origin, uint32_t ttl);
// "NAME [TYPE [RDATA]]". Throws lab_error.
zone_change::removal parse_delete(std::string_view text, const dns::name& origin);
// "pN=on|off" -> identity of provider N and the state. Throws lab_error.
std::pair<std::string, bool> parse_hsync_state(std::string_view text, int planned);
// The identities (canonical text) of the zone's apex HSYNC records with State ON.
std::vector<std::string> hsync_on_identities(const std::vector<dns::rr>& zone,
                                             const dns::name& origin);

struct change_result {
    uint32_t old_serial = 0, new_serial = 0;
    size_t added = 0, removed = 0, hsync_changed = 0;  // hsync_changed: State or NSMgmt
    std::vector<std::string> notes;                    // e.g. "already there: ..."
};
// Applies `c` to the records of a zone (deletions, additions, new HSYNC records, States,
// NSMgmt), then raises the SOA serial by one (RFC 1982).
// Throws lab_error when a removal matches nothing, an HSYNC identity is missing, the
// change touches the SOA, or a record is outside the zone.
change_result apply_change(std::vector<dns::rr>& zone, const dns::name& origin,
                           const zone_change& c);
// Reads a zone file; throws lab_error with FILE:LINE for every bad record.
std::vector<dns::rr> read_zone_file(const std::string& path, const dns::name& origin);
// The zone as a file: a header comment, SOA first, then canonical order.
std::string zone_file_text(const std::vector<dns::rr>& zone, const dns::name& origin);

uint32_t soa_serial_of(const dns::rr& soa);
void set_soa_serial(dns::rr& soa, uint32_t serial);

// Writes via a temporary file and rename, so a reader never sees half a file.
void write_file_atomic(const std::string& path, const std::string& text, unsigned mode = 0644);

// ------------------------------------------------------------------ lab_process.cc

std::string default_lab_dir();
std::string state_path(const std::string& dir);
std::string marker_path(const std::string& dir);
// hsyncd next to this hsyncctl, or $HSYNCD; unbound from $HSYNC_UNBOUND or PATH+/usr/sbin.
std::string find_hsyncd();
std::string find_unbound();
// unbound-control from $HSYNC_UNBOUND_CONTROL, else next to `unbound`, else PATH+/usr/sbin.
std::string find_unbound_control(const std::string& unbound);
// This program (/proc/self/exe): the follower runs it as `lab follow`.
std::string find_hsyncctl();

// Saves DIR/lab.json atomically. Throws lab_error.
void save_state(const lab_state& st);
// nullopt when DIR/lab.json does not exist; throws lab_error when it cannot be read.
std::optional<lab_state> load_state(const std::string& dir);

// Starts p.argv in its own session (setsid), stdin /dev/null, stdout+stderr appended to
// p.log, working directory p.dir. `record` is called with p.pid set before the program
// is executed (the child waits for it), so the PID is on disk before anything relies on it.
void spawn(process_entry& p, const std::function<void()>& record);
// True if p.pid is alive (not a zombie) and still runs p.argv (and started when recorded).
bool is_running(const process_entry& p);
struct stop_report {
    int stopped = 0, killed = 0, gone = 0, foreign = 0;
};
// SIGTERM to every running process (reverse order), SIGKILL to those still there after
// `grace`. A PID that now runs something else is left alone (counted as foreign).
stop_report stop_processes(const std::vector<process_entry>& ps, std::chrono::milliseconds grace,
                           const reporter& say);

// Both a TCP and a UDP socket can be bound on 127.0.0.1:port now.
bool port_free(uint16_t port);
// `n` consecutive free ports below the system's ephemeral range (so that no outgoing
// connection takes one before its server binds it). Throws lab_error.
std::vector<uint16_t> pick_ports(size_t n);
bool tcp_connects(uint16_t port, std::chrono::milliseconds timeout);

// The last `lines` lines of a file ("" if unreadable).
std::string tail_file(const std::string& path, size_t lines);

// ------------------------------------------------------------------ lab_sync.cc

// SOA serial served by 127.0.0.1:port for zone (one UDP query, no recursion); nullopt if
// no answer. With `rd`, through a resolver; `ad` gets the AD flag.
std::optional<uint32_t> soa_serial(uint16_t port, std::string_view zone,
                                   std::chrono::milliseconds timeout, bool rd = false,
                                   bool* ad = nullptr);
// GET/POST on a process's management API; throws lab_error with the server's message.
nlohmann::json api_call(const process_entry& p, const char* method, const std::string& path,
                        std::chrono::milliseconds timeout = std::chrono::seconds(5));

// The serial each process serves for its zone, and the serial it took from upstream
// (combiner: owner serial; signer: unsigned serial).
struct hop_serial {
    std::string process, zone, upstream;
    std::optional<uint32_t> served, input;
    bool in_sync = false;  // serves (or has taken) what its upstream serves
};
std::vector<hop_serial> collect_serials(const lab_state& st);
// Waits until every hop is in sync; returns the serials. Throws lab_error on timeout.
std::vector<hop_serial> wait_settled(const lab_state& st, std::chrono::milliseconds timeout);

// Waits until the parent's signer has its keys and a signed lab.; returns the DNSKEY text
// of its KSK (the lab's trust anchor).
std::string wait_trust_anchor(const lab_state& st, std::chrono::milliseconds timeout);
// Waits until a signer has keys for its zone and has signed it.
void wait_signed(const process_entry& signer, std::chrono::milliseconds timeout);

// What an agent says of its multi-signer process for example.lab.
// (GET /agent/process/example.lab., docs/lab.md "lab wait").
struct agent_process {
    std::string agent;  // the lab's process name, pN-agent
    bool answered = false;
    std::string process, step_name, waiting_for, error, leader;
    int step = 0;
    std::vector<std::string> members;  // canonical identities
    std::string problem;               // no answer: why
};
agent_process query_agent_process(const process_entry& agent);
// Waits until every running agent says process "none" with no error and members equal to
// the owner's HSYNC State=ON identities, and every running hop is in sync. Says one line
// whenever an agent's process/step/waiting_for changes. Throws lab_error on timeout,
// naming the agents not done.
void wait_agents_done(const lab_state& st, std::chrono::milliseconds timeout, const reporter& say);

// The NS names `port` serves for `zone` (non-recursive; the referral's authority section or
// the answer), canonical text; nullopt if no usable answer.
std::optional<std::vector<std::string>> delegation_ns(uint16_t port, std::string_view zone,
                                                      std::chrono::milliseconds timeout);

// Replaces the zone file of `zone`'s primary with the change applied and reloads it
// through the management API. Returns what changed.
change_result edit_zone(const lab_state& st, std::string_view zone, const zone_change& c);

struct probe_options {
    std::vector<std::pair<std::string, uint16_t>> names;  // name, qtype
    std::chrono::milliseconds interval{200};
    std::chrono::milliseconds duration{10000};
    std::chrono::milliseconds timeout{2000};  // per query
    bool json = false;
    bool quiet = false;
    bool require_ad = false;  // an answer without AD fails the probe too
};
// Resolves the names through the lab's Unbound (RD, DO; UDP, TCP on TC) every interval
// for the duration; prints counts per RCODE and each SERVFAIL with its Extended DNS
// Error. Returns the exit status: 1 if any SERVFAIL or timeout (or, with require_ad,
// an answer without AD), else 0.
int run_probe(const lab_state& st, const probe_options& o);
// Parses "name[/TYPE],..." (relative names are taken as absolute). Throws lab_error.
std::vector<std::pair<std::string, uint16_t>> parse_probe_names(std::string_view list);

// One query through the resolver: rcode, AD, the answer's records as text, EDE.
struct resolve_result {
    bool answered = false;
    uint16_t rcode = 0;
    bool ad = false;
    std::vector<std::string> answer;
    std::optional<uint16_t> ede_code;
    std::string ede_text;
};
resolve_result resolve(uint16_t port, std::string_view name, uint16_t qtype,
                       std::chrono::milliseconds timeout);
std::string ede_name(uint16_t code);

// ------------------------------------------------------------------ lab_follow.cc

// `lab follow --dir DIR`: the delegation follower process. Polls parent-signer for the NS
// set of example.lab. and keeps Unbound's example.lab. stub at those providers' auth
// servers. Runs until killed; returns only on a start-up error (exit status).
int run_follower(const std::string& dir);
// The ports of the example.lab. stub in Unbound's configuration file (what the stub holds).
std::vector<uint16_t> configured_stub_ports(const std::string& unbound_config_path);

}  // namespace hsync::cmd::lab
