// A zone's HSYNC RRset read into the agents it names (draft-leon-distributed-multi-signer
// §"The HSYNC RRset", docs/protocol.md).
//
// RDATA: State u8 | NSMgmt u8 | Sign u8 | Identity (uncompressed domain name). State 1=ON
// 2=OFF, NSMgmt 1=OWNER 2=AGENT, Sign 1=YES 2=NO. The zone owner writes this RRset by hand,
// so it is read defensively: a record the agent cannot act on is left out and reported,
// never guessed at, and the rest of the RRset still counts.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dns/name.h"
#include "dns/record_store.h"
#include "dns/rr.h"

namespace hsync::agent {

enum class hsync_state : uint8_t { on = 1, off = 2 };
enum class ns_mgmt : uint8_t { owner = 1, agent = 2 };
enum class hsync_sign : uint8_t { yes = 1, no = 2 };

// The presentation tokens: "ON", "OWNER", "YES"...
const char* to_text(hsync_state state);
const char* to_text(ns_mgmt mgmt);
const char* to_text(hsync_sign sign);

// One agent named by the zone owner.
struct hsync_entry {
    dns::name identity;  // lower-cased (canonical form)
    hsync_state state = hsync_state::on;
    ns_mgmt nsmgmt = ns_mgmt::owner;
    hsync_sign sign = hsync_sign::yes;

    // A designated signer: State=ON and Sign=YES.
    bool signs() const { return state == hsync_state::on && sign == hsync_sign::yes; }
    // "ON AGENT YES agent.example."
    std::string to_text() const;
    friend bool operator==(const hsync_entry&, const hsync_entry&) = default;
};

// A record left out (or a disagreement in the RRset), for the log and `hsyncctl`.
struct hsync_problem {
    std::string reason;
    std::string record;  // the record in RFC 3597 form; empty for problems of the whole RRset
    std::string to_text() const;  // "reason: record"
};

struct hsync_set {
    std::vector<hsync_entry> entries;     // one per identity, canonical identity order
    std::vector<hsync_problem> problems;  // in the order found

    // Who manages the apex NS RRset. AGENT only when at least one entry has State=ON, every
    // State=ON entry says AGENT and no record was left out as malformed or conflicting: when
    // the owner's intent is unclear the owner's own NS RRset stands (draft §"Semantics of
    // the HSYNC NSMgmt Field"). The combiner's rule says AGENT whenever this one does (this
    // one may say OWNER more often), so the agent never sends NS the combiner would not use.
    ns_mgmt nsmgmt = ns_mgmt::owner;

    bool empty() const { return entries.empty(); }
    // The entry for `identity` (compared case-insensitively), or nullptr.
    const hsync_entry* find(const dns::name& identity) const;
    // Every entry but `own`, whatever its State and Sign: an agent with Sign=NO still takes
    // part in the zone's communication and one with State=OFF is being removed by the
    // others, so all are peers; callers filter further.
    std::vector<hsync_entry> remote_agents(const dns::name& own) const;
    // The leader candidate (leader/follower synchronization): the lowest identity in
    // canonical DNS order (RFC 4034 §6.1) among State=ON, Sign=YES entries. nullopt if none.
    std::optional<dns::name> leader_candidate() const;
};

// Reads the HSYNC records (type dns::hsync_code(), class IN) owned by `apex` in `records`;
// records of other owners and types are skipped, so a whole zone may be passed.
// Problems reported (each record left out names itself):
// - malformed RDATA: shorter than 4 octets, a State/NSMgmt/Sign value that is not 1 or 2
//   (0 is an error in every field; private-use State values 128-255 mean nothing to this
//   agent), an Identity that is not exactly one uncompressed name; a class other than IN;
// - the same record twice (identity compared case-insensitively): kept once;
// - two records for one identity that differ: both left out, since neither can be trusted
//   to be the owner's intent;
// - State=ON entries that disagree on NSMgmt (nsmgmt then OWNER).
hsync_set read_hsync(std::span<const dns::rr> records, const dns::name& apex);
// Same, from a sorted record_store (record_store::sort): only the records at `apex` are
// looked at (binary search), so reading a large zone costs O(log n + apex records).
hsync_set read_hsync(const dns::record_store& zone, const dns::name& apex);

// What changed between two readings of a zone's HSYNC RRset, keyed by identity; used to
// update the set of peers of the zone (start relations for added ones, "remove signer"
// for ones turned OFF...). Each list is in canonical identity order.
struct hsync_change {
    hsync_entry before;
    hsync_entry after;  // same identity, some other field differs
    friend bool operator==(const hsync_change&, const hsync_change&) = default;
};
struct hsync_diff {
    std::vector<hsync_entry> added;
    std::vector<hsync_entry> removed;
    std::vector<hsync_change> changed;
    bool empty() const { return added.empty() && removed.empty() && changed.empty(); }
};
hsync_diff diff(const hsync_set& before, const hsync_set& after);

}  // namespace hsync::agent
