// The multi-signer processes (docs/agent.md "Processes"; ../shared/spec/processes.md):
// "add signer" when an HSYNC record turns ON, "remove signer" when one turns OFF, as
// numbered steps every agent of the zone runs in step with the others.
//
// Everything here is a pure function of values, so the rules can be tested on their own:
// which process the HSYNC RRset asks for, what the provider's combiner must hold at each
// step (RFC 8901 model 2), the UPDATE that gets it there from what the signer serves, and
// when an agent may move on (no agent is ever more than one step ahead of another). The
// agent (sync.cc) does the I/O: it fetches the peers' data, sends the UPDATEs, watches the
// parent and exchanges the reports.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dns/name.h"
#include "dns/rr.h"
#include "roles/agent/hsync_set.h"

namespace hsync::agent {

enum class process_kind : uint8_t { none = 0, add_signer = 1, remove_signer = 2 };
const char* to_text(process_kind kind);  // "none", "add-signer", "remove-signer"

// What a step asks of the agent.
enum class step_action {
    check_prerequisites,  // every signer's keys known and secure, one algorithm
    communication,        // every agent of the zone reachable (HELLO done)
    compute,              // nothing to change: the next step publishes what this computes
    publish,              // the combiner gets the step's data; done when the signer serves it
    wait_parent_ds,       // the parent's nameservers all serve the group's DS set
    wait_parent_ns,       // the parent's nameservers all serve the group's NS set
    wait_ttl,             // a fixed time from the TTLs seen (DS, DNSKEY, NS wait times)
    stop_serving,         // the leaving signer stops answering for the zone
};

int step_count(process_kind kind);  // 13, 11 (0 for none)
// processes.md's name of the step (1-based), e.g. "publish the combined CDS/CDNSKEY set".
const char* step_name(process_kind kind, int step);
step_action action_of(process_kind kind, int step);

enum class step_status : uint8_t { working = 1, done = 2, failed = 3 };
const char* to_text(step_status status);

// One process of one zone as this agent runs it; stored before it is acted on.
struct zone_process {
    process_kind kind = process_kind::none;
    uint32_t id = 0;                       // process_id(): the same at every agent
    std::vector<dns::name> before, after;  // the providers before and after, canonical order
    int step = 0;                          // 1..step_count(kind)
    step_status status = step_status::working;
    int64_t started = 0;     // when the process began
    int64_t since = 0;       // when the step began
    int64_t wait_until = 0;  // wait_ttl: the end of the wait, fixed when the step began
    // Decided when the step that publishes them begins: false when the parent already
    // serves that DS set (that NS set), so nothing needs to be published or awaited.
    bool publish_cds = true;
    bool publish_csync = true;
    uint32_t csync_serial = 0;
    // Our signed serial when we finished the step before CSYNC (what our reports carry, so
    // that every signer computes the same CSYNC serial, also after a restart).
    uint32_t report_serial = 0;
    uint32_t term = 0;  // leader/follower: the leader's term this process runs under
    std::string error;  // status failed: why

    bool active() const { return kind != process_kind::none; }
    // "kind=add-signer id=... step=3 ..." (one line); from_text throws std::invalid_argument.
    std::string to_text() const;
    static zone_process from_text(std::string_view text);
    friend bool operator==(const zone_process&, const zone_process&) = default;
};

// A digest of the kind and the groups (for add-signer the after group only, since a
// provider that joins has no members yet): every agent that reads the same HSYNC change
// computes the same id, so reports about another process are told apart.
uint32_t process_id(process_kind kind, std::span<const dns::name> before,
                    std::span<const dns::name> after);

// The process the HSYNC RRset asks for, given the providers that are members now (those a
// finished process left in the group): "add signer" when a provider with State=ON is not
// a member (after: the members and every provider named, OFF ones included, since a
// joining provider has no members and must compute the same group; its id is taken from
// the named providers only), else "remove signer" when a member is not ON (OFF, or no
// longer named), else nullopt. Adding goes first, so that a group never shrinks below what
// still serves the zone. The returned process is at step 1.
std::optional<zone_process> needed_process(const hsync_set& set, std::span<const dns::name> members,
                                           int64_t now);

// A process whose target the HSYNC RRset no longer asks for (the change was reverted or
// changed again) is not abandoned half way: it is wound back by a new process from where
// it stands. Returns that process (at step 1), or nullopt when `current` still matches.
// An add-signer still at step 1 or 2 (nothing changed yet) is dropped: a process with kind
// none is returned, and needed_process() decides afresh.
std::optional<zone_process> rewind(const zone_process& current, const hsync_set& set, int64_t now);

// The agents whose reports count for the one-step rule: every provider of before or after
// that the RRset still names with Sign=YES (a leaving one too, until it has left).
std::vector<dns::name> participants(const zone_process& p, const hsync_set& set);

// What one provider publishes for the zone at <zone>.<identity> (and its _ns PTR).
struct provider_data {
    std::vector<std::vector<uint8_t>> dnskeys;  // the keys its signer signs with
    std::vector<std::vector<uint8_t>> cds;      // CDS of its KSKs/CSKs
    std::vector<dns::name> ns;                  // its nameservers for the zone
};
// The keys of a provider the others import (RFC 8901 §3, §7): its ZSKs (no SEP bit), or
// when it has none its CSKs (the SEP keys that then sign everything).
std::vector<std::vector<uint8_t>> imported_keys(const provider_data& d);

// What the provider's combiner must hold at the process's step, as seen by agent `own`.
struct combiner_target {
    std::vector<std::vector<uint8_t>> dnskeys;  // the other providers' keys (own: from the signer)
    std::vector<std::vector<uint8_t>> cds;      // empty: no CDS
    std::optional<std::vector<dns::name>> ns;   // nullopt: the owner's NS stand (NSMgmt=OWNER)
    bool csync = false;
    // A provider whose data the target needs is not known yet: no target (the identity).
    std::optional<dns::name> missing;
};
// With no active process, `p.after` are the members. A leaving agent (remove signer, not
// in after) keeps its keys and publishes no CDS, but follows the NS and CSYNC steps (it is
// in the parent's delegation until they are done).
combiner_target target_at(const zone_process& p, const dns::name& own, const hsync_set& set,
                          const std::map<dns::name, provider_data>& data);

// The apex RRsets the signer serves (the agent's own secondary copy of them).
struct served_apex {
    std::vector<std::vector<uint8_t>> dnskeys, cds;
    std::vector<dns::name> ns;
    std::vector<std::vector<uint8_t>> csync;
    uint32_t serial = 0;
    uint32_t dnskey_ttl = 0, ns_ttl = 0, soa_minimum = 0;
};
served_apex read_apex(std::span<const dns::rr> records, const dns::name& apex);

// The RFC 2136 update section that makes the combiner's agent data give `target`: each
// missing record added, each surplus one deleted (class NONE); a differing NS set or
// CSYNC replaced whole (class ANY delete, then the records). Empty: the signer already
// serves the target. `own_keys` are the signer's own DNSKEYs, never touched.
std::vector<dns::rr> plan_update(const combiner_target& target, const served_apex& served,
                                 std::span<const std::vector<uint8_t>> own_keys,
                                 const dns::name& zone, uint32_t csync_serial);
// True when `served` carries `target` (the step's publishing is done); with
// `csync_serial`, a CSYNC must carry that serial too.
bool serves(const combiner_target& target, const served_apex& served,
            std::span<const std::vector<uint8_t>> own_keys,
            std::optional<uint32_t> csync_serial = std::nullopt);

// The DS set the parent must end up with at a DS wait: the CDS of the step's group.
std::vector<std::vector<uint8_t>> expected_ds(const zone_process& p, const hsync_set& set,
                                              const std::map<dns::name, provider_data>& data);
// The NS set at an NS step: the nameservers of every ON provider of the step's group.
std::vector<dns::name> expected_ns(const zone_process& p, const hsync_set& set,
                                   const std::map<dns::name, provider_data>& data);

// One agent's report of where it is in a process.
struct step_report {
    uint32_t id = 0;
    int step = 0;
    step_status status = step_status::working;
    uint32_t serial = 0;  // its signed zone's serial when it finished the step before CSYNC
    friend bool operator==(const step_report&, const step_report&) = default;
};
// The one-step rule: every participant has finished `p.step` (reported it done, or is
// already one step further). `reports` holds every agent's latest, this one's included.
bool all_finished(const zone_process& p, std::span<const dns::name> participants,
                  const std::map<dns::name, step_report>& reports);
// Agents that have not finished `p.step`, for "waiting for".
std::vector<dns::name> not_finished(const zone_process& p, std::span<const dns::name> participants,
                                    const std::map<dns::name, step_report>& reports);

}  // namespace hsync::agent
