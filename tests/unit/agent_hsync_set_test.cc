// The agent's reading of a zone's HSYNC RRset: valid entries, every kind of record left
// out, NSMgmt, own and remote entries, the leader candidate and the difference of two sets.
#include "roles/agent/hsync_set.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dns/rdata.h"
#include "dns/record_store.h"
#include "dns/rr.h"

namespace {

using namespace hsync;
using agent::hsync_sign;
using agent::hsync_state;
using agent::ns_mgmt;

const dns::name apex = dns::name::from_text("example.");

dns::name n(const char* text) {
    return dns::name::from_text(text);
}

// "ON AGENT YES agent.p1." at the apex.
dns::rr hsync(const std::string& rdata, const char* owner = "example.") {
    return dns::rr::from_text(std::string(owner) + " 3600 IN HSYNC " + rdata);
}

// An HSYNC record with raw RDATA, as a broken primary or a hand-made file could send it.
dns::rr raw_hsync(std::vector<uint8_t> rdata) {
    dns::rr r;
    r.owner = apex;
    r.type = dns::hsync_code();
    r.ttl = 3600;
    r.rdata = std::move(rdata);
    return r;
}

std::vector<uint8_t> rdata_of(uint8_t state, uint8_t nsmgmt, uint8_t sign, const char* identity) {
    std::vector<uint8_t> d{state, nsmgmt, sign};
    dns::name id = n(identity);
    d.insert(d.end(), id.wire().begin(), id.wire().end());
    return d;
}

agent::hsync_set read(const std::vector<dns::rr>& records) {
    return agent::read_hsync(records, apex);
}

std::vector<std::string> entry_texts(const agent::hsync_set& set) {
    std::vector<std::string> out;
    for (const auto& e : set.entries)
        out.push_back(e.to_text());
    return out;
}

TEST(AgentHsyncSet, ReadsEntriesInCanonicalIdentityOrder) {
    auto set = read({hsync("ON AGENT YES z.p3."), hsync("OFF AGENT NO Agent.P1."),
                     hsync("1 2 1 b.p2."), dns::rr::from_text("example. 3600 IN NS ns.p1."),
                     hsync("ON AGENT YES elsewhere.", "www.example.")});
    EXPECT_TRUE(set.problems.empty());
    EXPECT_EQ(entry_texts(set),
              (std::vector<std::string>{"OFF AGENT NO agent.p1.", "ON AGENT YES b.p2.",
                                        "ON AGENT YES z.p3."}));
    EXPECT_EQ(set.nsmgmt, ns_mgmt::agent);
    // Identities are lower-cased.
    EXPECT_EQ(set.entries[0].identity.to_text(), "agent.p1.");
}

TEST(AgentHsyncSet, EmptyWithoutHsync) {
    auto set = read({dns::rr::from_text("example. 3600 IN NS ns.p1.")});
    EXPECT_TRUE(set.empty());
    EXPECT_TRUE(set.problems.empty());
    EXPECT_EQ(set.nsmgmt, ns_mgmt::owner);
    EXPECT_FALSE(set.leader_candidate());
}

TEST(AgentHsyncSet, ReadsFromRecordStoreApexOnly) {
    dns::record_store zone;
    for (const char* line :
         {"example. 3600 IN SOA ns.example. admin.example. 1 3600 600 86400 300",
          "example. 3600 IN HSYNC ON OWNER YES b.p2.", "example. 3600 IN HSYNC ON OWNER NO a.p1.",
          "a.example. 3600 IN HSYNC ON OWNER YES below.apex.", "zzz.example. 3600 IN A 192.0.2.1",
          "aaa. 3600 IN HSYNC ON OWNER YES other.zone."})
        zone.add(dns::rr::from_text(line));
    zone.sort();
    auto set = agent::read_hsync(zone, n("EXAMPLE."));
    EXPECT_TRUE(set.problems.empty());
    EXPECT_EQ(entry_texts(set),
              (std::vector<std::string>{"ON OWNER NO a.p1.", "ON OWNER YES b.p2."}));
    EXPECT_EQ(set.nsmgmt, ns_mgmt::owner);
    EXPECT_TRUE(agent::read_hsync(dns::record_store(), apex).empty());
}

// Each malformed record is left out with a reason naming it; the others still count.
TEST(AgentHsyncSet, MalformedRecordsAreReportedAndLeftOut) {
    struct bad_case {
        const char* what;
        dns::rr record;
        const char* reason;
    };
    dns::rr wrong_class = hsync("ON AGENT YES c.p.");
    wrong_class.rclass = dns::rr_class::CH;
    std::vector<uint8_t> compressed{1, 2, 1, 1, 'x', 0xC0, 0x0C};
    std::vector<uint8_t> trailing = rdata_of(1, 2, 1, "t.p.");
    trailing.push_back(7);
    std::vector<uint8_t> long_label{1, 2, 1, 64};
    long_label.resize(4 + 64, 'a');
    long_label.push_back(0);
    const bad_case cases[] = {
        {"empty", raw_hsync({}), "HSYNC RDATA of 0 octets, at least 4 needed"},
        {"truncated", raw_hsync({1, 2, 1}), "HSYNC RDATA of 3 octets, at least 4 needed"},
        {"State 0", raw_hsync(rdata_of(0, 2, 1, "s.p.")), "HSYNC State value 0 is an error"},
        {"NSMgmt 0", raw_hsync(rdata_of(1, 0, 1, "s.p.")), "HSYNC NSMgmt value 0 is an error"},
        {"Sign 0", raw_hsync(rdata_of(1, 2, 0, "s.p.")), "HSYNC Sign value 0 is an error"},
        {"Sign 3", raw_hsync(rdata_of(1, 2, 3, "s.p.")),
         "HSYNC Sign value 3 is not one this agent can act on"},
        {"private State", raw_hsync(rdata_of(200, 2, 1, "s.p.")),
         "HSYNC State value 200 is not one this agent can act on"},
        {"name cut short", raw_hsync({1, 2, 1, 5, 'a', 'b'}), "HSYNC Identity: "},
        {"compressed name", raw_hsync(compressed), "HSYNC Identity: "},
        {"label too long", raw_hsync(long_label), "HSYNC Identity: "},
        {"bytes after name", raw_hsync(trailing), "HSYNC Identity: "},
        {"class", wrong_class, "HSYNC record of class CH, not IN"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.what);
        auto set = read({hsync("ON AGENT YES good.p."), c.record});
        ASSERT_EQ(set.problems.size(), 1u);
        EXPECT_EQ(set.problems[0].reason.rfind(c.reason, 0), 0u) << set.problems[0].reason;
        EXPECT_NE(set.problems[0].record.find("TYPE" + std::to_string(dns::hsync_code())),
                  std::string::npos);
        EXPECT_EQ(entry_texts(set), std::vector<std::string>{"ON AGENT YES good.p."});
        // The owner's intent is unclear: the owner's NS stands.
        EXPECT_EQ(set.nsmgmt, ns_mgmt::owner);
    }
}

TEST(AgentHsyncSet, DuplicateRecordsCountOnce) {
    auto set = read(
        {hsync("ON AGENT YES a.p1."), hsync("ON AGENT YES A.P1."), hsync("ON AGENT YES a.p1.")});
    EXPECT_EQ(entry_texts(set), std::vector<std::string>{"ON AGENT YES a.p1."});
    ASSERT_EQ(set.problems.size(), 2u);
    EXPECT_EQ(set.problems[0].reason, "HSYNC record given more than once");
    // A harmless repetition does not make the owner's intent unclear.
    EXPECT_EQ(set.nsmgmt, ns_mgmt::agent);
}

TEST(AgentHsyncSet, ConflictingRecordsAreAllIgnored) {
    auto set = read({hsync("ON AGENT YES a.p1."), hsync("ON AGENT YES b.p2."),
                     hsync("OFF AGENT YES B.p2."), hsync("ON AGENT YES b.p2.")});
    EXPECT_EQ(entry_texts(set), std::vector<std::string>{"ON AGENT YES a.p1."});
    ASSERT_EQ(set.problems.size(), 3u);
    for (const auto& p : set.problems)
        EXPECT_EQ(p.reason, "HSYNC records for b.p2. disagree; all of them are ignored");
    EXPECT_EQ(set.nsmgmt, ns_mgmt::owner);
    EXPECT_EQ(set.find(n("b.p2.")), nullptr);
}

TEST(AgentHsyncSet, NsmgmtDisagreementMeansOwner) {
    auto set = read(
        {hsync("ON AGENT YES a.p1."), hsync("ON OWNER YES b.p2."), hsync("ON AGENT NO c.p3.")});
    EXPECT_EQ(set.entries.size(), 3u);
    ASSERT_EQ(set.problems.size(), 1u);
    EXPECT_EQ(set.problems[0].to_text(),
              "HSYNC records with State=ON disagree on NSMgmt (OWNER: b.p2.; AGENT: a.p1., "
              "c.p3.): the zone owner manages NS");
    EXPECT_EQ(set.nsmgmt, ns_mgmt::owner);
}

TEST(AgentHsyncSet, NsmgmtOfOffEntriesDoesNotCount) {
    auto set = read({hsync("ON AGENT YES a.p1."), hsync("OFF OWNER YES b.p2.")});
    EXPECT_TRUE(set.problems.empty());
    EXPECT_EQ(set.nsmgmt, ns_mgmt::agent);
    // Only OFF entries: nobody speaks for the zone.
    EXPECT_EQ(read({hsync("OFF AGENT YES b.p2.")}).nsmgmt, ns_mgmt::owner);
    EXPECT_EQ(read({hsync("ON OWNER YES b.p2.")}).nsmgmt, ns_mgmt::owner);
}

TEST(AgentHsyncSet, FindsOwnEntryAndRemoteAgents) {
    auto set = read(
        {hsync("ON AGENT YES a.p1."), hsync("ON AGENT NO b.p2."), hsync("OFF AGENT YES c.p3.")});
    const auto* own = set.find(n("B.P2."));
    ASSERT_NE(own, nullptr);
    EXPECT_EQ(own->sign, hsync_sign::no);
    EXPECT_EQ(set.find(n("d.p4.")), nullptr);
    EXPECT_EQ(set.find(n("a.p1.x.")), nullptr);

    std::vector<std::string> remote;
    for (const auto& e : set.remote_agents(n("b.P2.")))
        remote.push_back(e.identity.to_text());
    EXPECT_EQ(remote, (std::vector<std::string>{"a.p1.", "c.p3."}));
    // An agent the zone does not name has every entry as a remote agent.
    EXPECT_EQ(set.remote_agents(n("stranger.")).size(), 3u);
}

TEST(AgentHsyncSet, LeaderCandidateIsLowestSigningIdentity) {
    // Canonical order compares labels from the right: "z.a." sorts before "a.b.".
    auto set =
        read({hsync("ON AGENT YES a.b."), hsync("ON AGENT YES z.a."), hsync("ON AGENT NO a.a."),
              hsync("OFF AGENT YES a."), hsync("ON AGENT YES zz.b.")});
    ASSERT_TRUE(set.leader_candidate());
    EXPECT_EQ(set.leader_candidate()->to_text(), "z.a.");
    EXPECT_FALSE(read({hsync("ON AGENT NO a.a."), hsync("OFF AGENT YES b.")}).leader_candidate());
}

TEST(AgentHsyncSet, DiffAddedRemovedChanged) {
    auto before = read(
        {hsync("ON AGENT YES a.p1."), hsync("ON AGENT YES b.p2."), hsync("ON AGENT YES c.p3.")});
    auto after = read({hsync("ON AGENT YES a.p1."), hsync("OFF AGENT YES b.p2."),
                       hsync("ON AGENT YES d.p4."), hsync("ON AGENT YES 0.p0.")});
    auto d = agent::diff(before, after);
    ASSERT_EQ(d.added.size(), 2u);
    EXPECT_EQ(d.added[0].identity.to_text(), "0.p0.");
    EXPECT_EQ(d.added[1].identity.to_text(), "d.p4.");
    ASSERT_EQ(d.removed.size(), 1u);
    EXPECT_EQ(d.removed[0].identity.to_text(), "c.p3.");
    ASSERT_EQ(d.changed.size(), 1u);
    EXPECT_EQ(d.changed[0].before.state, hsync_state::on);
    EXPECT_EQ(d.changed[0].after.state, hsync_state::off);
    EXPECT_EQ(d.changed[0].after.identity.to_text(), "b.p2.");

    EXPECT_TRUE(agent::diff(before, before).empty());
    auto from_nothing = agent::diff(agent::hsync_set{}, before);
    EXPECT_EQ(from_nothing.added.size(), 3u);
    EXPECT_TRUE(from_nothing.removed.empty());
    auto to_nothing = agent::diff(before, agent::hsync_set{});
    EXPECT_EQ(to_nothing.removed.size(), 3u);
    EXPECT_TRUE(to_nothing.added.empty());
}

TEST(AgentHsyncSet, TextForms) {
    EXPECT_STREQ(agent::to_text(hsync_state::off), "OFF");
    EXPECT_STREQ(agent::to_text(ns_mgmt::agent), "AGENT");
    EXPECT_STREQ(agent::to_text(hsync_sign::no), "NO");
    agent::hsync_problem whole{"why", ""};
    EXPECT_EQ(whole.to_text(), "why");
}

}  // namespace
