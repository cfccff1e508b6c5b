// Per-zone choice of transport and synchronization model from every agent's capabilities.
#include "roles/agent/negotiation.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dns/edns.h"
#include "dns/rr.h"
#include "roles/agent/hsync_set.h"

namespace {

using namespace hsync;
using agent::capabilities;
using agent::negotiated;
using agent::sync_model;
using agent::transport_kind;

namespace tr = dns::ms_transport;
namespace sy = dns::ms_sync;

dns::name n(const char* text) {
    return dns::name::from_text(text);
}

constexpr capabilities baseline{tr::DNS, sy::LEADER_FOLLOWER};
constexpr capabilities everything{tr::DNS | tr::API, sy::LEADER_FOLLOWER | sy::PEER};

TEST(AgentNegotiation, TableOfCapabilities) {
    struct negotiation_case {
        const char* what;
        std::vector<capabilities> agents;
        negotiated expected;
    };
    const negotiation_case cases[] = {
        {"no agents: baselines", {}, {transport_kind::dns, sync_model::leader_follower}},
        {"one agent with everything", {everything}, {transport_kind::api, sync_model::peer}},
        {"all with everything",
         {everything, everything, everything},
         {transport_kind::api, sync_model::peer}},
        {"one without API",
         {everything, {tr::DNS, sy::LEADER_FOLLOWER | sy::PEER}, everything},
         {transport_kind::dns, sync_model::peer}},
        {"one without peer",
         {everything, {tr::DNS | tr::API, sy::LEADER_FOLLOWER}},
         {transport_kind::api, sync_model::leader_follower}},
        {"one baseline only",
         {everything, baseline},
         {transport_kind::dns, sync_model::leader_follower}},
        {"baseline bits missing are assumed",
         {{tr::API, sy::PEER}, {tr::API, sy::PEER}},
         {transport_kind::api, sync_model::peer}},
        {"nothing set at all",
         {{0, 0}, everything},
         {transport_kind::dns, sync_model::leader_follower}},
        {"unknown bits are ignored",
         {{0xFD, 0xFD}, {0xFF, 0xFF}},
         {transport_kind::dns, sync_model::leader_follower}},
        {"unknown bits with API and peer",
         {{0x83, 0x43}, everything},
         {transport_kind::api, sync_model::peer}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.what);
        EXPECT_EQ(agent::negotiate(c.agents), c.expected);
    }
}

TEST(AgentNegotiation, NotYetUntilEveryAgentAnswered) {
    std::vector<dns::name> agents{n("b.p2."), n("A.P1."), n("c.p3."), n("a.p1.")};
    agent::zone_negotiation z(agents);
    EXPECT_FALSE(z.result());
    EXPECT_EQ(z.waiting_for().size(), 3u);  // a.p1. counted once
    EXPECT_TRUE(z.answered(n("a.p1."), everything));
    EXPECT_TRUE(z.answered(n("B.P2."), everything));
    EXPECT_FALSE(z.result());
    ASSERT_EQ(z.waiting_for().size(), 1u);
    EXPECT_EQ(z.waiting_for()[0].to_text(), "c.p3.");
    // Not an agent of the zone: nothing recorded.
    EXPECT_FALSE(z.answered(n("stranger."), baseline));
    EXPECT_FALSE(z.result());

    EXPECT_TRUE(z.answered(n("c.p3."), everything));
    ASSERT_TRUE(z.result());
    EXPECT_EQ(*z.result(), (negotiated{transport_kind::api, sync_model::peer}));
    EXPECT_TRUE(z.waiting_for().empty());

    // A later answer replaces the earlier one.
    EXPECT_TRUE(z.answered(n("c.p3."), baseline));
    EXPECT_EQ(*z.result(), (negotiated{transport_kind::dns, sync_model::leader_follower}));

    // A lost relation: not yet again.
    z.forget(n("C.p3."));
    EXPECT_FALSE(z.result());
    z.forget(n("stranger."));
    EXPECT_EQ(z.waiting_for().size(), 1u);
}

TEST(AgentNegotiation, AgentsFromHsyncSet) {
    std::vector<dns::rr> records;
    for (const char* rdata : {"ON AGENT YES a.p1.", "ON AGENT NO b.p2.", "OFF AGENT YES c.p3."})
        records.push_back(dns::rr::from_text(std::string("example. 3600 IN HSYNC ") + rdata));
    auto set = agent::read_hsync(records, n("example."));
    agent::zone_negotiation z(set);
    std::vector<std::string> waiting;
    for (const auto& w : z.waiting_for())
        waiting.push_back(w.to_text());
    EXPECT_EQ(waiting, (std::vector<std::string>{"a.p1.", "b.p2.", "c.p3."}));
    for (const char* a : {"a.p1.", "b.p2."})
        z.answered(n(a), everything);
    EXPECT_FALSE(z.result());
    z.answered(n("c.p3."), {tr::DNS, sy::LEADER_FOLLOWER | sy::PEER});
    EXPECT_EQ(*z.result(), (negotiated{transport_kind::dns, sync_model::peer}));
}

TEST(AgentNegotiation, TextForms) {
    EXPECT_STREQ(agent::to_text(transport_kind::api), "API");
    EXPECT_STREQ(agent::to_text(transport_kind::dns), "DNS");
    EXPECT_STREQ(agent::to_text(sync_model::peer), "peer");
    EXPECT_STREQ(agent::to_text(sync_model::leader_follower), "leader/follower");
}

}  // namespace
