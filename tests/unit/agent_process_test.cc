// The multi-signer processes (roles/agent/process.h) checked against
// ../shared/spec/processes.md ("add signer" steps 1-13, "remove signer" steps 1-11, the
// one-step rule), RFC 8901 model 2 (every DNSKEY RRset holds every provider's ZSK, a CSK is
// imported, the CDS of every KSK/CSK is published by all), RFC 7477 (CSYNC RDATA) and
// RFC 2136 §2.5 (the classes of the update section): the steps, which process the HSYNC
// RRset asks for, what a combiner holds at each step, the UPDATE that gets it there, the
// stored form, winding a process back and when an agent may move on.
#include "roles/agent/process.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "dns/rdata.h"
#include "dns/rr.h"
#include "roles/agent/hsync_set.h"

using namespace hsync;
using namespace hsync::agent;

namespace {

using rdata = std::vector<uint8_t>;

dns::name N(std::string_view s) {
    return dns::name::from_text(s);
}

constexpr int64_t t0 = 1700000000;
constexpr auto add_signer = process_kind::add_signer;
constexpr auto remove_signer = process_kind::remove_signer;

const dns::name zone = N("example.");
const dns::name p1 = N("agent.p1."), p2 = N("agent.p2."), p3 = N("agent.p3.");

// DNSKEY RDATA (RFC 4034 §2.1): flags u16 | protocol 3 | algorithm 13 | public key. Flags
// 256 is a ZSK, 257 (SEP bit set) a KSK, or a CSK when the provider has no ZSK.
rdata dnskey(uint16_t flags, uint8_t seed) {
    rdata r{static_cast<uint8_t>(flags >> 8), static_cast<uint8_t>(flags & 0xff), 3, 13};
    for (uint8_t i = 0; i < 8; ++i)
        r.push_back(static_cast<uint8_t>(seed + i));
    return r;
}

// CDS RDATA (RFC 7344 §3.1, the DS form): key tag u16 | algorithm 13 | digest type 2 | digest.
rdata cds(uint16_t tag) {
    rdata r{static_cast<uint8_t>(tag >> 8), static_cast<uint8_t>(tag & 0xff), 13, 2};
    for (uint8_t i = 0; i < 8; ++i)
        r.push_back(static_cast<uint8_t>(0xc0 + i));
    return r;
}

const rdata z1 = dnskey(256, 0x10), k1 = dnskey(257, 0x20);
const rdata z2 = dnskey(256, 0x30), k2 = dnskey(257, 0x40);
const rdata z3 = dnskey(256, 0x50), k3 = dnskey(257, 0x60);
const rdata c1 = cds(1001), c2 = cds(1002), c3 = cds(1003);

// A set of RDATA as the module keeps them: sorted, no duplicates.
std::vector<rdata> keys(std::vector<rdata> v) {
    std::sort(v.begin(), v.end(), dns::rdata_less{});
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
}

// Names in canonical order (RFC 4034 §6.1).
std::vector<dns::name> names(std::initializer_list<const char*> texts) {
    std::vector<dns::name> v;
    for (const char* t : texts)
        v.push_back(N(t));
    std::sort(v.begin(), v.end());
    return v;
}

bool contains(const std::vector<dns::name>& v, const dns::name& n) {
    return std::find(v.begin(), v.end(), n) != v.end();
}

// The HSYNC RRset of example. from the records' RDATA ("ON AGENT YES agent.p1.").
hsync_set hsync(std::initializer_list<const char*> records) {
    std::vector<dns::rr> rrs;
    for (const char* r : records)
        rrs.push_back(dns::rr::from_text(std::string("example. 3600 IN HSYNC ") + r));
    auto set = read_hsync(rrs, zone);
    EXPECT_TRUE(set.problems.empty());
    return set;
}

// What each provider publishes: p1 and p2 have a KSK and a ZSK, as has p3.
std::map<dns::name, provider_data> three_providers() {
    return {
        {p1, {{z1, k1}, {c1}, names({"ns1.p1.", "ns2.p1."})}},
        {p2, {{z2, k2}, {c2}, names({"ns1.p2."})}},
        {p3, {{z3, k3}, {c3}, names({"ns1.p3."})}},
    };
}

// A process at `step`, its groups in canonical order as needed_process makes them.
zone_process process(process_kind kind, std::vector<dns::name> before, std::vector<dns::name> after,
                     int step) {
    zone_process p;
    p.kind = kind;
    std::sort(before.begin(), before.end());
    std::sort(after.begin(), after.end());
    p.before = before;
    p.after = after;
    p.id = process_id(kind, before, after);
    p.step = step;
    p.since = t0;
    return p;
}

// The steady state of a group (no process): `after` are the members.
zone_process steady(std::vector<dns::name> members) {
    zone_process p;
    std::sort(members.begin(), members.end());
    p.after = members;
    return p;
}

// --- the steps ---

TEST(AgentProcessSteps, Counts) {
    EXPECT_EQ(step_count(process_kind::none), 0);
    EXPECT_EQ(step_count(add_signer), 13);
    EXPECT_EQ(step_count(remove_signer), 11);
    EXPECT_STREQ(to_text(process_kind::none), "none");
    EXPECT_STREQ(to_text(add_signer), "add-signer");
    EXPECT_STREQ(to_text(remove_signer), "remove-signer");
    EXPECT_STREQ(to_text(step_status::working), "working");
    EXPECT_STREQ(to_text(step_status::done), "done");
    EXPECT_STREQ(to_text(step_status::failed), "failed");
}

TEST(AgentProcessSteps, AddSignerActions) {
    // processes.md "Add signer" 1-13.
    const step_action want[] = {
        step_action::check_prerequisites,  // 1 check prerequisites
        step_action::communication,        // 2 secure communication
        step_action::publish,              // 3 every ZSK/CSK into every DNSKEY RRset
        step_action::compute,              // 4 compute CDS/CDNSKEY
        step_action::publish,              // 5 publish the combined CDS set
        step_action::wait_parent_ds,       // 6 the parent's DS set
        step_action::publish,              // 7 remove CDS/CDNSKEY
        step_action::wait_ttl,             // 8 max(DS-Wait-Time, DNSKEY-Wait-Time)
        step_action::compute,              // 9 combine the NS records
        step_action::publish,              // 10 publish the NS set
        step_action::publish,              // 11 publish CSYNC
        step_action::wait_parent_ns,       // 12 the parent's NS set
        step_action::publish,              // 13 remove CSYNC
    };
    for (int s = 1; s <= 13; ++s) {
        SCOPED_TRACE("step " + std::to_string(s));
        EXPECT_EQ(action_of(add_signer, s), want[s - 1]);
        EXPECT_STRNE(step_name(add_signer, s), "");
    }
    EXPECT_NE(std::string(step_name(add_signer, 5)).find("CDS"), std::string::npos);
    EXPECT_NE(std::string(step_name(add_signer, 9)).find("NS"), std::string::npos);
    EXPECT_NE(std::string(step_name(add_signer, 11)).find("CSYNC"), std::string::npos);
}

TEST(AgentProcessSteps, RemoveSignerActions) {
    // processes.md "Remove signer" 1-11.
    const step_action want[] = {
        step_action::publish,         // 1 remove the leaving signer's NS
        step_action::publish,         // 2 publish CSYNC
        step_action::wait_parent_ns,  // 3 the parent's NS set
        step_action::publish,         // 4 remove CSYNC
        step_action::wait_ttl,        // 5 NS-Wait-Time
        step_action::stop_serving,    // 6 the leaving signer stops answering
        step_action::compute,         // 7 compute CDS/CDNSKEY of the remaining
        step_action::publish,         // 8 publish it
        step_action::publish,         // 9 remove the leaving signer's ZSK/CSK
        step_action::wait_parent_ds,  // 10 the parent's DS set
        step_action::publish,         // 11 remove CDS/CDNSKEY
    };
    for (int s = 1; s <= 11; ++s) {
        SCOPED_TRACE("step " + std::to_string(s));
        EXPECT_EQ(action_of(remove_signer, s), want[s - 1]);
        EXPECT_STRNE(step_name(remove_signer, s), "");
    }
    EXPECT_NE(std::string(step_name(remove_signer, 1)).find("NS"), std::string::npos);
    EXPECT_NE(std::string(step_name(remove_signer, 9)).find("ZSK"), std::string::npos);
}

// --- which process the HSYNC RRset asks for ---

TEST(AgentProcessNeeded, FirstOnRecordsStartAddSigner) {
    auto set = hsync({"ON AGENT YES agent.p1.", "ON AGENT YES agent.p2."});
    auto p = needed_process(set, {}, t0);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->kind, add_signer);
    EXPECT_TRUE(p->before.empty());
    EXPECT_EQ(p->after, (std::vector<dns::name>{p1, p2}));
    EXPECT_EQ(p->step, 1);
    EXPECT_EQ(p->status, step_status::working);
    EXPECT_EQ(p->since, t0);
    EXPECT_EQ(p->id, process_id(add_signer, {}, p->after));
    EXPECT_TRUE(p->active());
}

TEST(AgentProcessNeeded, NewOnRecordAddsASigner) {
    auto set =
        hsync({"ON AGENT YES agent.p1.", "ON AGENT YES agent.p2.", "ON AGENT YES agent.p3."});
    const std::vector<dns::name> members{p1, p2};
    auto p = needed_process(set, members, t0);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->kind, add_signer);
    EXPECT_EQ(p->before, (std::vector<dns::name>{p1, p2}));
    EXPECT_EQ(p->after, (std::vector<dns::name>{p1, p2, p3}));
    EXPECT_EQ(p->step, 1);
    EXPECT_EQ(p->id, process_id(add_signer, p->before, p->after));
}

TEST(AgentProcessNeeded, MemberTurnedOffRemovesIt) {
    auto set =
        hsync({"ON AGENT YES agent.p1.", "ON AGENT YES agent.p2.", "OFF AGENT YES agent.p3."});
    const std::vector<dns::name> members{p1, p2, p3};
    auto p = needed_process(set, members, t0);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->kind, remove_signer);
    EXPECT_EQ(p->before, (std::vector<dns::name>{p1, p2, p3}));
    EXPECT_EQ(p->after, (std::vector<dns::name>{p1, p2}));
    EXPECT_EQ(p->step, 1);
    EXPECT_EQ(p->id, process_id(remove_signer, p->before, p->after));

    // A member the RRset no longer names at all is removed the same way.
    auto unnamed =
        needed_process(hsync({"ON AGENT YES agent.p1.", "ON AGENT YES agent.p2."}), members, t0);
    ASSERT_TRUE(unnamed);
    EXPECT_EQ(unnamed->kind, remove_signer);
    EXPECT_EQ(unnamed->after, (std::vector<dns::name>{p1, p2}));
}

TEST(AgentProcessNeeded, AddGoesFirst) {
    // p2 turned OFF and p3 is new in the same change: p3 is added first, and the add does
    // not shrink the group (p2 still serves the zone until a remove takes it out).
    auto set =
        hsync({"ON AGENT YES agent.p1.", "OFF AGENT YES agent.p2.", "ON AGENT YES agent.p3."});
    const std::vector<dns::name> members{p1, p2};
    auto p = needed_process(set, members, t0);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->kind, add_signer);
    EXPECT_EQ(p->before, (std::vector<dns::name>{p1, p2}));
    EXPECT_TRUE(contains(p->after, p3));
    EXPECT_TRUE(contains(p->after, p1));
}

TEST(AgentProcessNeeded, NothingToDo) {
    auto set = hsync({"ON AGENT YES agent.p1.", "ON AGENT NO agent.p2."});
    EXPECT_FALSE(needed_process(set, std::vector<dns::name>{p1, p2}, t0));
    // Members given in another case are the same providers.
    EXPECT_FALSE(needed_process(set, std::vector<dns::name>{N("Agent.P1."), N("AGENT.p2.")}, t0));
    EXPECT_FALSE(needed_process(hsync({}), {}, t0));
}

TEST(AgentProcessNeeded, ProcessIdIsADigestOfKindAndGroups) {
    const std::vector<dns::name> before{p1, p2}, after{p1, p2, p3};
    uint32_t id = process_id(add_signer, before, after);
    EXPECT_NE(id, 0u);
    // The same groups in another order or case give the same id at every agent.
    const std::vector<dns::name> before2{N("AGENT.P2."), N("agent.p1.")};
    const std::vector<dns::name> after2{N("agent.P3."), p1, N("Agent.p2.")};
    EXPECT_EQ(process_id(add_signer, before2, after2), id);
    // Another kind, or other groups, give another id.
    EXPECT_NE(process_id(remove_signer, before, after), id);
    EXPECT_NE(process_id(add_signer, before, std::vector<dns::name>{p1, p3}), id);
    // An add is named by the group it makes: the joining provider, which has no members
    // yet, computes the same id as the members do.
    EXPECT_EQ(process_id(add_signer, std::vector<dns::name>{}, after), id);
    // A remove by both groups: a provider moved from one to the other is another change.
    EXPECT_NE(process_id(remove_signer, std::vector<dns::name>{p1}, after),
              process_id(remove_signer, before, after));
    EXPECT_NE(
        process_id(remove_signer, std::vector<dns::name>{p1, p2, p3}, std::vector<dns::name>{p1}),
        process_id(remove_signer, std::vector<dns::name>{p1, p2, p3}, std::vector<dns::name>{p2}));
}

// --- who takes part ---

TEST(AgentProcessParticipants, SigningProvidersOfBothGroups) {
    auto set = hsync({"ON AGENT YES agent.p1.", "ON AGENT NO agent.p2.", "OFF AGENT YES agent.p3.",
                      "ON AGENT YES agent.p4."});
    // p3 is leaving but still named with Sign=YES: it counts until it has left; p2 does not
    // sign; p4 is not in the process.
    auto p = process(remove_signer, {p1, p2, p3}, {p1, p2}, 4);
    EXPECT_EQ(participants(p, set), (std::vector<dns::name>{p1, p3}));
}

// --- what each combiner holds (RFC 8901 model 2) ---

class AgentProcessTarget : public ::testing::Test {
  protected:
    std::map<dns::name, provider_data> data = three_providers();
    hsync_set all_on =
        hsync({"ON AGENT YES agent.p1.", "ON AGENT YES agent.p2.", "ON AGENT YES agent.p3."});
    hsync_set p3_off =
        hsync({"ON AGENT YES agent.p1.", "ON AGENT YES agent.p2.", "OFF AGENT YES agent.p3."});
};

TEST_F(AgentProcessTarget, AddSignerAtEveryStep) {
    const auto ns_before = names({"ns1.p1.", "ns2.p1.", "ns1.p2."});
    const auto ns_after = names({"ns1.p1.", "ns2.p1.", "ns1.p2.", "ns1.p3."});
    for (int s = 1; s <= 13; ++s) {
        SCOPED_TRACE("step " + std::to_string(s));
        auto p = process(add_signer, {p1, p2}, {p1, p2, p3}, s);
        auto t = target_at(p, p1, all_on, data);
        EXPECT_FALSE(t.missing);
        // Step 3 puts every signer's ZSK into every other's DNSKEY RRset; never a KSK.
        EXPECT_EQ(t.dnskeys, s < 3 ? keys({z2}) : keys({z2, z3}));
        // Steps 5-6: the CDS of every KSK of the new group, own included; removed at 7.
        EXPECT_EQ(t.cds, s == 5 || s == 6 ? keys({c1, c2, c3}) : keys({}));
        // Step 10 publishes the combined NS set (step 9 only computes it).
        ASSERT_TRUE(t.ns);
        EXPECT_EQ(*t.ns, s < 10 ? ns_before : ns_after);
        // CSYNC published at 11, kept while waiting at 12, removed at 13.
        EXPECT_EQ(t.csync, s == 11 || s == 12);
    }
}

TEST_F(AgentProcessTarget, AddSignerEverySignerHoldsTheOthersZsks) {
    for (int s : {3, 5, 8, 13}) {
        SCOPED_TRACE("step " + std::to_string(s));
        auto p = process(add_signer, {p1, p2}, {p1, p2, p3}, s);
        EXPECT_EQ(target_at(p, p1, all_on, data).dnskeys, keys({z2, z3}));
        EXPECT_EQ(target_at(p, p2, all_on, data).dnskeys, keys({z1, z3}));
        EXPECT_EQ(target_at(p, p3, all_on, data).dnskeys, keys({z1, z2}));
    }
    // The combined CDS set is published by all, the new signer too.
    auto p = process(add_signer, {p1, p2}, {p1, p2, p3}, 5);
    for (const auto& own : {p1, p2, p3})
        EXPECT_EQ(target_at(p, own, all_on, data).cds, keys({c1, c2, c3}));
}

TEST_F(AgentProcessTarget, AddSignerSkipsWhatTheParentAlreadyHas) {
    auto p = process(add_signer, {p1, p2}, {p1, p2, p3}, 5);
    p.publish_cds = false;
    EXPECT_TRUE(target_at(p, p1, all_on, data).cds.empty());
    p = process(add_signer, {p1, p2}, {p1, p2, p3}, 11);
    p.publish_csync = false;
    EXPECT_FALSE(target_at(p, p1, all_on, data).csync);
}

TEST_F(AgentProcessTarget, OwnerManagesNs) {
    auto owner =
        hsync({"ON OWNER YES agent.p1.", "ON OWNER YES agent.p2.", "ON OWNER YES agent.p3."});
    ASSERT_EQ(owner.nsmgmt, ns_mgmt::owner);
    for (int s = 1; s <= 13; ++s) {
        SCOPED_TRACE("add step " + std::to_string(s));
        auto t = target_at(process(add_signer, {p1, p2}, {p1, p2, p3}, s), p1, owner, data);
        EXPECT_FALSE(t.ns);
        EXPECT_EQ(t.dnskeys, s < 3 ? keys({z2}) : keys({z2, z3}));
    }
    for (int s = 1; s <= 11; ++s) {
        SCOPED_TRACE("remove step " + std::to_string(s));
        auto t = target_at(process(remove_signer, {p1, p2, p3}, {p1, p2}, s), p1, owner, data);
        EXPECT_FALSE(t.ns);
    }
}

TEST_F(AgentProcessTarget, RemoveSignerAtEveryStep) {
    const auto ns_remaining = names({"ns1.p1.", "ns2.p1.", "ns1.p2."});
    for (int s = 1; s <= 11; ++s) {
        SCOPED_TRACE("step " + std::to_string(s));
        auto p = process(remove_signer, {p1, p2, p3}, {p1, p2}, s);
        for (const auto& [own, other_zsk] : {std::pair{p1, z2}, std::pair{p2, z1}}) {
            SCOPED_TRACE("own " + own.to_text());
            auto t = target_at(p, own, p3_off, data);
            EXPECT_FALSE(t.missing);
            // Step 1 takes the leaving signer's NS out at the remaining signers.
            ASSERT_TRUE(t.ns);
            EXPECT_EQ(*t.ns, ns_remaining);
            // CSYNC published at 2, kept while waiting at 3, removed at 4.
            EXPECT_EQ(t.csync, s == 2 || s == 3);
            // Steps 8-10: the CDS of the remaining KSKs; removed at 11.
            EXPECT_EQ(t.cds, s >= 8 && s <= 10 ? keys({c1, c2}) : keys({}));
            // The leaving ZSK stays until step 9 removes it.
            EXPECT_EQ(t.dnskeys, s < 9 ? keys({other_zsk, z3}) : keys({other_zsk}));
        }
    }
}

TEST_F(AgentProcessTarget, LeavingAgentKeepsItsKeysAndFollowsTheNsSteps) {
    // The leaving signer is still in the parent's delegation until step 3, and a parent
    // acts on CSYNC only when every nameserver of the delegation agrees (RFC 9975): it
    // publishes the remaining signers' NS set and the CSYNC too. Its keys stay as they
    // were and it publishes no CDS (the parent scans only the remaining signers by then).
    auto before = target_at(steady({p1, p2, p3}), p3, p3_off, data);
    EXPECT_EQ(before.dnskeys, keys({z1, z2}));
    for (int s = 1; s <= 11; ++s) {
        SCOPED_TRACE("step " + std::to_string(s));
        auto p = process(remove_signer, {p1, p2, p3}, {p1, p2}, s);
        auto t = target_at(p, p3, p3_off, data);
        EXPECT_EQ(t.dnskeys, before.dnskeys);
        EXPECT_TRUE(t.cds.empty());
        ASSERT_TRUE(t.ns);
        EXPECT_EQ(*t.ns, names({"ns1.p1.", "ns2.p1.", "ns1.p2."}));
        EXPECT_EQ(t.csync, s == 2 || s == 3);
    }
}

TEST_F(AgentProcessTarget, CskOnlyProviderHasItsCskImported) {
    const rdata csk3 = dnskey(257, 0x70);
    data[p3] = {{csk3}, {c3}, names({"ns1.p3."})};
    auto p = process(add_signer, {p1, p2}, {p1, p2, p3}, 3);
    EXPECT_EQ(target_at(p, p1, all_on, data).dnskeys, keys({z2, csk3}));
    EXPECT_EQ(target_at(p, p2, all_on, data).dnskeys, keys({z1, csk3}));
    // The CSK signer imports the others' ZSKs, never its own key.
    EXPECT_EQ(target_at(p, p3, all_on, data).dnskeys, keys({z1, z2}));

    provider_data d;
    d.dnskeys = {csk3};
    EXPECT_EQ(imported_keys(d), std::vector<rdata>{csk3});
    d.dnskeys = {k2, z2};
    EXPECT_EQ(imported_keys(d), std::vector<rdata>{z2});
}

TEST_F(AgentProcessTarget, NonSigningProviderOnlyJoinsNs) {
    auto set = hsync({"ON AGENT YES agent.p1.", "ON AGENT YES agent.p2.", "ON AGENT NO agent.p3."});
    ASSERT_EQ(set.nsmgmt, ns_mgmt::agent);
    for (int s = 1; s <= 13; ++s) {
        SCOPED_TRACE("step " + std::to_string(s));
        auto t = target_at(process(add_signer, {p1, p2}, {p1, p2, p3}, s), p1, set, data);
        EXPECT_EQ(t.dnskeys, keys({z2}));
        EXPECT_EQ(t.cds, s == 5 || s == 6 ? keys({c1, c2}) : keys({}));
        ASSERT_TRUE(t.ns);
        EXPECT_EQ(contains(*t.ns, N("ns1.p3.")), s >= 10);
    }
}

TEST_F(AgentProcessTarget, MissingProviderData) {
    data.erase(p3);
    // Steps 1-2 need nothing of p3 yet.
    for (int s : {1, 2}) {
        auto t = target_at(process(add_signer, {p1, p2}, {p1, p2, p3}, s), p1, all_on, data);
        EXPECT_FALSE(t.missing) << "step " << s;
    }
    auto t = target_at(process(add_signer, {p1, p2}, {p1, p2, p3}, 3), p1, all_on, data);
    ASSERT_TRUE(t.missing);
    EXPECT_EQ(*t.missing, p3);
    // No target: nothing is sent and the step is not done.
    served_apex served;
    served.dnskeys = keys({z1, k1});
    const std::vector<rdata> own{z1, k1};
    EXPECT_TRUE(plan_update(t, served, own, zone, 0).empty());
    EXPECT_FALSE(serves(t, served, own));
}

TEST_F(AgentProcessTarget, RemovedFromHsyncLeavingSignerZskStaysUntilStep9) {
    // The leaving provider's record was deleted rather than turned OFF. Its signer still
    // answers until step 6 and its DS stays at the parent until step 10, so the remaining
    // signers keep its ZSK until step 9 (processes.md "Remove signer" 9).
    auto set = hsync({"ON AGENT YES agent.p1.", "ON AGENT YES agent.p2."});
    for (int s = 1; s <= 11; ++s) {
        SCOPED_TRACE("step " + std::to_string(s));
        auto t = target_at(process(remove_signer, {p1, p2, p3}, {p1, p2}, s), p1, set, data);
        EXPECT_EQ(t.dnskeys, s < 9 ? keys({z2, z3}) : keys({z2}));
    }
}

TEST_F(AgentProcessTarget, ParentExpectations) {
    // The DS set awaited at add step 6 and remove step 10; the NS set at add 12, remove 3.
    EXPECT_EQ(expected_ds(process(add_signer, {p1, p2}, {p1, p2, p3}, 6), all_on, data),
              keys({c1, c2, c3}));
    EXPECT_EQ(expected_ds(process(remove_signer, {p1, p2, p3}, {p1, p2}, 10), p3_off, data),
              keys({c1, c2}));
    EXPECT_EQ(expected_ns(process(add_signer, {p1, p2}, {p1, p2, p3}, 12), all_on, data),
              names({"ns1.p1.", "ns2.p1.", "ns1.p2.", "ns1.p3."}));
    EXPECT_EQ(expected_ns(process(remove_signer, {p1, p2, p3}, {p1, p2}, 3), p3_off, data),
              names({"ns1.p1.", "ns2.p1.", "ns1.p2."}));
}

// --- the UPDATE (RFC 2136 §2.5) ---

std::string hex(const rdata& r) {
    static const char digits[] = "0123456789abcdef";
    std::string s;
    for (uint8_t b : r) {
        s += digits[b >> 4];
        s += digits[b & 15];
    }
    return s;
}

// "CLASS TYPE RDATA-in-hex" of one update record.
std::string line(uint16_t rclass, uint16_t type, const rdata& r) {
    return std::to_string(rclass) + " " + std::to_string(type) + " " + hex(r);
}

// The update's records as sorted lines; each is owned by the zone's apex and every
// delete (class NONE or ANY) has TTL 0 and, for ANY, no RDATA (RFC 2136 §2.5.2-2.5.4).
std::vector<std::string> lines(const std::vector<dns::rr>& update) {
    std::vector<std::string> out;
    for (const auto& r : update) {
        EXPECT_EQ(r.owner, zone);
        if (r.rclass != dns::rr_class::IN) {
            EXPECT_EQ(r.ttl, 0u) << line(r.rclass, r.type, r.rdata);
        }
        if (r.rclass == dns::rr_class::ANY) {
            EXPECT_TRUE(r.rdata.empty());
        }
        out.push_back(line(r.rclass, r.type, r.rdata));
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}

rdata wire_of(const dns::name& n) {
    return rdata(n.wire().begin(), n.wire().end());
}

// RFC 7477 §2.1: SOA serial u32 | flags u16 (immediate 1 | soaminimum 2) | type bit map
// (RFC 4034 §4.1.2) for A (1), NS (2), AAAA (28): window 0, 4 octets.
rdata csync_of(uint32_t serial) {
    return {static_cast<uint8_t>(serial >> 24),
            static_cast<uint8_t>(serial >> 16),
            static_cast<uint8_t>(serial >> 8),
            static_cast<uint8_t>(serial),
            0x00,
            0x03,
            0x00,
            0x04,
            0x60,
            0x00,
            0x00,
            0x08};
}

// An update applied as RFC 2136 §3.4.2 says: class IN adds, NONE deletes the record, ANY
// deletes the RRset.
void apply_update(served_apex& a, const std::vector<dns::rr>& update) {
    for (const auto& r : update) {
        if (r.type == dns::rr_type::NS) {
            if (r.rclass == dns::rr_class::ANY) a.ns.clear();
            if (r.rclass == dns::rr_class::IN) a.ns.push_back(dns::name::from_wire(r.rdata));
            if (r.rclass == dns::rr_class::NONE) std::erase(a.ns, dns::name::from_wire(r.rdata));
            continue;
        }
        auto& set = r.type == dns::rr_type::DNSKEY ? a.dnskeys
                    : r.type == dns::rr_type::CDS  ? a.cds
                                                   : a.csync;
        ASSERT_TRUE(r.type == dns::rr_type::DNSKEY || r.type == dns::rr_type::CDS ||
                    r.type == dns::rr_type::CSYNC);
        if (r.rclass == dns::rr_class::ANY) set.clear();
        if (r.rclass == dns::rr_class::NONE) std::erase(set, r.rdata);
        if (r.rclass == dns::rr_class::IN) set.push_back(r.rdata);
    }
    a.dnskeys = keys(a.dnskeys);
    a.cds = keys(a.cds);
    a.csync = keys(a.csync);
    std::sort(a.ns.begin(), a.ns.end());
    a.ns.erase(std::unique(a.ns.begin(), a.ns.end()), a.ns.end());
}

class AgentProcessUpdate : public AgentProcessTarget {
  protected:
    const std::vector<rdata> own{z1, k1};
    served_apex served = [] {
        served_apex a;
        a.dnskeys = keys({z1, k1, z2});
        a.ns = names({"ns1.p1.", "ns2.p1.", "ns1.p2."});
        a.serial = 2024010101;
        a.dnskey_ttl = 7200;
        a.ns_ttl = 86400;
        a.soa_minimum = 300;
        return a;
    }();
};

TEST_F(AgentProcessUpdate, NothingToSendWhenServed) {
    auto t = target_at(steady({p1, p2}), p1, all_on, data);
    EXPECT_TRUE(serves(t, served, own));
    EXPECT_TRUE(plan_update(t, served, own, zone, 0).empty());
}

TEST_F(AgentProcessUpdate, AddsTheNewZsk) {
    auto t = target_at(process(add_signer, {p1, p2}, {p1, p2, p3}, 3), p1, all_on, data);
    EXPECT_FALSE(serves(t, served, own));
    auto update = plan_update(t, served, own, zone, 0);
    EXPECT_EQ(lines(update), (std::vector<std::string>{line(1, 48, z3)}));
    ASSERT_EQ(update.size(), 1u);
    // Added to the RRset with its TTL (RFC 2181 §5.2: one TTL per RRset).
    EXPECT_EQ(update[0].ttl, 7200u);
}

TEST_F(AgentProcessUpdate, DeletesSurplusForeignKeysNeverOwnOnes) {
    served.dnskeys = keys({z1, k1, z2, z3, k3});
    auto t = target_at(process(remove_signer, {p1, p2, p3}, {p1, p2}, 9), p1, p3_off, data);
    ASSERT_EQ(t.dnskeys, keys({z2}));
    auto update = plan_update(t, served, own, zone, 0);
    // Class NONE, TTL 0, the record's RDATA (RFC 2136 §2.5.4); CDS of steps 8-10 added.
    EXPECT_EQ(lines(update),
              sorted({line(254, 48, z3), line(254, 48, k3), line(1, 59, c1), line(1, 59, c2)}));
    for (const auto& r : update)
        EXPECT_FALSE(r.type == dns::rr_type::DNSKEY && (r.rdata == z1 || r.rdata == k1));

    // A target that names no key at all still leaves the signer's own keys alone.
    combiner_target bare;
    auto none = plan_update(bare, served, own, zone, 0);
    EXPECT_EQ(lines(none), sorted({line(254, 48, z2), line(254, 48, z3), line(254, 48, k3)}));
}

TEST_F(AgentProcessUpdate, CdsAddedAndRemoved) {
    auto t = target_at(process(add_signer, {p1, p2}, {p1, p2, p3}, 5), p1, all_on, data);
    served.dnskeys = keys({z1, k1, z2, z3});
    served.cds = keys({c1});
    EXPECT_EQ(lines(plan_update(t, served, own, zone, 0)),
              sorted({line(1, 59, c2), line(1, 59, c3)}));
    // Step 7 takes the CDS set away again.
    served.cds = keys({c1, c2, c3});
    t = target_at(process(add_signer, {p1, p2}, {p1, p2, p3}, 7), p1, all_on, data);
    EXPECT_EQ(lines(plan_update(t, served, own, zone, 0)),
              sorted({line(254, 59, c1), line(254, 59, c2), line(254, 59, c3)}));
}

TEST_F(AgentProcessUpdate, NsReplacedWhole) {
    served.dnskeys = keys({z1, k1, z2, z3});
    auto t = target_at(process(add_signer, {p1, p2}, {p1, p2, p3}, 10), p1, all_on, data);
    auto update = plan_update(t, served, own, zone, 0);
    ASSERT_EQ(update.size(), 5u);
    // The RRset deleted first (class ANY, TTL 0, no RDATA), then every name of the new set.
    EXPECT_EQ(line(update[0].rclass, update[0].type, update[0].rdata), line(255, 2, {}));
    EXPECT_EQ(update[0].ttl, 0u);
    EXPECT_EQ(lines(update),
              sorted({line(255, 2, {}), line(1, 2, wire_of(N("ns1.p1."))),
                      line(1, 2, wire_of(N("ns2.p1."))), line(1, 2, wire_of(N("ns1.p2."))),
                      line(1, 2, wire_of(N("ns1.p3.")))}));
    for (size_t i = 1; i < update.size(); ++i)
        EXPECT_EQ(update[i].ttl, 86400u);

    // NSMgmt=OWNER: the owner's NS stand, whatever the signer serves.
    served.ns = names({"ns.owner."});
    t.ns.reset();
    EXPECT_TRUE(plan_update(t, served, own, zone, 0).empty());
    EXPECT_TRUE(serves(t, served, own));
}

TEST_F(AgentProcessUpdate, Csync) {
    served.dnskeys = keys({z1, k1, z2, z3});
    served.ns = names({"ns1.p1.", "ns2.p1.", "ns1.p2.", "ns1.p3."});
    auto t = target_at(process(add_signer, {p1, p2}, {p1, p2, p3}, 11), p1, all_on, data);
    ASSERT_TRUE(t.csync);
    EXPECT_FALSE(serves(t, served, own));
    auto update = plan_update(t, served, own, zone, 0x01020304);
    ASSERT_EQ(update.size(), 1u);
    EXPECT_EQ(update[0].rclass, dns::rr_class::IN);
    EXPECT_EQ(update[0].type, dns::rr_type::CSYNC);
    EXPECT_EQ(update[0].rdata,
              (rdata{0x01, 0x02, 0x03, 0x04, 0x00, 0x03, 0x00, 0x04, 0x60, 0x00, 0x00, 0x08}));
    EXPECT_EQ(update[0].rdata, csync_of(0x01020304));

    // Served as wanted: nothing more.
    served.csync = {csync_of(0x01020304)};
    EXPECT_TRUE(serves(t, served, own));
    EXPECT_TRUE(plan_update(t, served, own, zone, 0x01020304).empty());

    // Another serial: the RRset replaced.
    update = plan_update(t, served, own, zone, 0x01020305);
    ASSERT_EQ(update.size(), 2u);
    EXPECT_EQ(line(update[0].rclass, update[0].type, update[0].rdata), line(255, 62, {}));
    EXPECT_EQ(line(update[1].rclass, update[1].type, update[1].rdata),
              line(1, 62, csync_of(0x01020305)));

    // Step 13 removes it: the whole RRset deleted.
    t = target_at(process(add_signer, {p1, p2}, {p1, p2, p3}, 13), p1, all_on, data);
    EXPECT_FALSE(t.csync);
    EXPECT_FALSE(serves(t, served, own));
    EXPECT_EQ(lines(plan_update(t, served, own, zone, 0x01020304)),
              (std::vector<std::string>{line(255, 62, {})}));
}

TEST_F(AgentProcessUpdate, ApplyingThePlanServesEveryStep) {
    // Each step's update, applied as a primary would, leaves the signer serving the target
    // and nothing more to send.
    for (auto [kind, count] : {std::pair{add_signer, 13}, std::pair{remove_signer, 11}}) {
        served_apex a = served;
        if (kind == remove_signer) {
            a.dnskeys = keys({z1, k1, z2, z3});
            a.ns = names({"ns1.p1.", "ns2.p1.", "ns1.p2.", "ns1.p3."});
        }
        for (int s = 1; s <= count; ++s) {
            SCOPED_TRACE(std::string(to_text(kind)) + " step " + std::to_string(s));
            auto p = kind == add_signer ? process(add_signer, {p1, p2}, {p1, p2, p3}, s)
                                        : process(remove_signer, {p1, p2, p3}, {p1, p2}, s);
            auto t = target_at(p, p1, kind == add_signer ? all_on : p3_off, data);
            apply_update(a, plan_update(t, a, own, zone, 77));
            EXPECT_TRUE(serves(t, a, own));
            EXPECT_TRUE(plan_update(t, a, own, zone, 77).empty());
            // The signer's own keys are still there.
            EXPECT_TRUE(
                std::binary_search(a.dnskeys.begin(), a.dnskeys.end(), z1, dns::rdata_less{}));
            EXPECT_TRUE(
                std::binary_search(a.dnskeys.begin(), a.dnskeys.end(), k1, dns::rdata_less{}));
        }
    }
}

TEST(AgentProcessApex, ReadApex) {
    auto rr = [](const char* owner, uint32_t ttl, uint16_t type, rdata rd) {
        dns::rr r;
        r.owner = N(owner);
        r.type = type;
        r.ttl = ttl;
        r.rdata = std::move(rd);
        return r;
    };
    std::vector<dns::rr> records{
        dns::rr::from_text(
            "example. 3600 IN SOA ns1.p1. hostmaster.example. 2024010101 7200 3600 1209600 300"),
        dns::rr::from_text("example. 86400 IN NS NS1.P1."),
        dns::rr::from_text("example. 86400 IN NS ns1.p2."),
        dns::rr::from_text("sub.example. 3600 IN NS ns.elsewhere."),
        dns::rr::from_text("www.example. 300 IN A 192.0.2.1"),
        rr("example.", 7200, dns::rr_type::DNSKEY, z2),
        rr("example.", 7200, dns::rr_type::DNSKEY, k1),
        rr("example.", 7200, dns::rr_type::DNSKEY, z1),
        rr("sub.example.", 600, dns::rr_type::DNSKEY, z3),
        rr("example.", 0, dns::rr_type::CDS, c1),
        rr("example.", 3600, dns::rr_type::CSYNC, csync_of(2024010101)),
    };
    auto a = read_apex(records, zone);
    EXPECT_EQ(a.serial, 2024010101u);
    EXPECT_EQ(a.soa_minimum, 300u);
    EXPECT_EQ(a.ns, names({"ns1.p1.", "ns1.p2."}));
    EXPECT_EQ(a.ns_ttl, 86400u);
    EXPECT_EQ(a.dnskeys, keys({z1, k1, z2}));
    EXPECT_EQ(a.dnskey_ttl, 7200u);
    EXPECT_EQ(a.cds, keys({c1}));
    EXPECT_EQ(a.csync, std::vector<rdata>{csync_of(2024010101)});

    auto empty = read_apex({}, zone);
    EXPECT_EQ(empty.serial, 0u);
    EXPECT_TRUE(empty.ns.empty());
    EXPECT_TRUE(empty.dnskeys.empty());
}

// --- winding a process back ---

TEST(AgentProcessRewind, StillMatching) {
    auto all_on =
        hsync({"ON AGENT YES agent.p1.", "ON AGENT YES agent.p2.", "ON AGENT YES agent.p3."});
    auto p3_off =
        hsync({"ON AGENT YES agent.p1.", "ON AGENT YES agent.p2.", "OFF AGENT YES agent.p3."});
    auto p3_gone = hsync({"ON AGENT YES agent.p1.", "ON AGENT YES agent.p2."});
    for (int s = 1; s <= 13; ++s)
        EXPECT_FALSE(rewind(process(add_signer, {p1, p2}, {p1, p2, p3}, s), all_on, t0)) << s;
    for (int s = 1; s <= 11; ++s) {
        EXPECT_FALSE(rewind(process(remove_signer, {p1, p2, p3}, {p1, p2}, s), p3_off, t0)) << s;
        EXPECT_FALSE(rewind(process(remove_signer, {p1, p2, p3}, {p1, p2}, s), p3_gone, t0)) << s;
    }
    EXPECT_FALSE(rewind(zone_process{}, all_on, t0));
}

TEST(AgentProcessRewind, AddUndoneMidWay) {
    auto p3_gone = hsync({"ON AGENT YES agent.p1.", "ON AGENT YES agent.p2."});
    auto p3_off =
        hsync({"ON AGENT YES agent.p1.", "ON AGENT YES agent.p2.", "OFF AGENT YES agent.p3."});
    for (const auto* set : {&p3_gone, &p3_off}) {
        for (int s : {3, 5, 8, 10, 12}) {
            SCOPED_TRACE("step " + std::to_string(s));
            auto current = process(add_signer, {p1, p2}, {p1, p2, p3}, s);
            auto next = rewind(current, *set, t0 + 100);
            ASSERT_TRUE(next);
            // From where it stands (p3's keys, CDS or NS may be out): a remove that takes p3
            // out again.
            EXPECT_EQ(next->kind, remove_signer);
            EXPECT_EQ(next->before, (std::vector<dns::name>{p1, p2, p3}));
            EXPECT_EQ(next->after, (std::vector<dns::name>{p1, p2}));
            EXPECT_EQ(next->step, 1);
            EXPECT_EQ(next->since, t0 + 100);
            EXPECT_EQ(next->id, process_id(remove_signer, next->before, next->after));
            EXPECT_NE(next->id, current.id);
            // The new process matches the RRset.
            EXPECT_FALSE(rewind(*next, *set, t0 + 200));
        }
    }
}

TEST(AgentProcessRewind, AddDroppedBeforeAnythingChanged) {
    // At steps 1-2 nothing is published yet: the add is dropped (a process of kind none)
    // and needed_process decides afresh, here that nothing is needed.
    auto p3_off =
        hsync({"ON AGENT YES agent.p1.", "ON AGENT YES agent.p2.", "OFF AGENT YES agent.p3."});
    for (int s : {1, 2}) {
        SCOPED_TRACE("step " + std::to_string(s));
        auto next = rewind(process(add_signer, {p1, p2}, {p1, p2, p3}, s), p3_off, t0);
        ASSERT_TRUE(next);
        EXPECT_FALSE(next->active());
        EXPECT_FALSE(needed_process(p3_off, std::vector<dns::name>{p1, p2}, t0));
    }
}

TEST(AgentProcessRewind, RemoveUndone) {
    auto p3_on =
        hsync({"ON AGENT YES agent.p1.", "ON AGENT YES agent.p2.", "ON AGENT YES agent.p3."});
    for (int s : {1, 4, 6, 9, 11}) {
        SCOPED_TRACE("step " + std::to_string(s));
        auto next = rewind(process(remove_signer, {p1, p2, p3}, {p1, p2}, s), p3_on, t0 + 5);
        ASSERT_TRUE(next);
        EXPECT_EQ(next->kind, add_signer);
        EXPECT_EQ(next->before, (std::vector<dns::name>{p1, p2}));
        EXPECT_EQ(next->after, (std::vector<dns::name>{p1, p2, p3}));
        EXPECT_EQ(next->step, 1);
        EXPECT_EQ(next->since, t0 + 5);
        EXPECT_EQ(next->id, process_id(add_signer, next->before, next->after));
        EXPECT_FALSE(rewind(*next, p3_on, t0 + 6));
    }
}

TEST(AgentProcessRewind, ANewProcessMatchesTheRrsetThatAskedForIt) {
    // Whatever needed_process starts, the next pass must not wind it back at once (nor
    // drop it: needed_process would only start it again).
    const std::vector<dns::name> members{p1, p2};
    for (const auto& set : {
             hsync({"ON AGENT YES agent.p1.", "ON AGENT YES agent.p2.", "ON AGENT YES agent.p3."}),
             hsync({"ON AGENT YES agent.p1.", "OFF AGENT YES agent.p2."}),
             hsync({"ON AGENT YES agent.p1."}),
             // Add first: p3 is new while p2 turned OFF.
             hsync({"ON AGENT YES agent.p1.", "OFF AGENT YES agent.p2.", "ON AGENT YES agent.p3."}),
         }) {
        auto p = needed_process(set, members, t0);
        ASSERT_TRUE(p);
        auto next = rewind(*p, set, t0 + 1);
        EXPECT_FALSE(next) << p->to_text() << " became " << (next ? next->to_text() : "");
    }
    // The add that goes first keeps the member turned OFF in its groups until a remove takes
    // it out: it still matches at every later step too.
    auto set =
        hsync({"ON AGENT YES agent.p1.", "OFF AGENT YES agent.p2.", "ON AGENT YES agent.p3."});
    auto p = needed_process(set, members, t0);
    ASSERT_TRUE(p);
    for (int s = 1; s <= 13; ++s) {
        p->step = s;
        auto next = rewind(*p, set, t0 + 1);
        EXPECT_FALSE(next) << "step " << s << " became " << (next ? next->to_text() : "");
    }
}

TEST(AgentProcessRewind, RemainingMemberTurnedOffDuringRemove) {
    // p3 is being removed from {p1, p2, p3} when p2 turns OFF too. Whatever comes next
    // must not keep p2, and an "add signer" that adds nobody is no process at all.
    auto set =
        hsync({"ON AGENT YES agent.p1.", "OFF AGENT YES agent.p2.", "OFF AGENT YES agent.p3."});
    auto next = rewind(process(remove_signer, {p1, p2, p3}, {p1, p2}, 4), set, t0);
    if (next) {
        EXPECT_EQ(next->kind, remove_signer) << next->to_text();
        EXPECT_FALSE(contains(next->after, p2)) << next->to_text();
        EXPECT_NE(next->before, next->after) << next->to_text();
    }
}

// --- the stored form ---

TEST(AgentProcessText, RoundTrip) {
    zone_process p = process(remove_signer, {p1, p2, p3}, {p1, p2}, 7);
    p.id = 0xdeadbeef;
    p.status = step_status::failed;
    p.since = t0;
    p.wait_until = t0 + 3600;
    p.publish_cds = false;
    p.publish_csync = true;
    p.csync_serial = 4000000000u;
    p.term = 4;
    p.error = "parent ns1.example. answered REFUSED: key=value, twice";
    auto text = p.to_text();
    EXPECT_EQ(text.find('\n'), std::string::npos);
    EXPECT_EQ(zone_process::from_text(text), p);

    zone_process q = process(add_signer, {}, {p1}, 1);
    q.publish_cds = true;
    q.publish_csync = false;
    EXPECT_EQ(zone_process::from_text(q.to_text()), q);

    zone_process idle;
    EXPECT_EQ(zone_process::from_text(idle.to_text()), idle);

    zone_process last = process(add_signer, {p1}, {p1, p2}, 13);
    last.status = step_status::done;
    EXPECT_EQ(zone_process::from_text(last.to_text()), last);
}

TEST(AgentProcessText, Rejected) {
    const std::string good = process(add_signer, {p1}, {p1, p2}, 3).to_text();
    EXPECT_NO_THROW(zone_process::from_text(good));
    auto with = [&](const std::string& from, const std::string& to) {
        std::string t = good;
        auto at = t.find(from);
        EXPECT_NE(at, std::string::npos) << from;
        return t.replace(at, from.size(), to);
    };
    for (const std::string& bad : {
             std::string(""),
             std::string("garbage"),
             std::string("hsync-process 2 kind=add-signer step=1"),
             with("step=3", "step=14"),
             with("step=3", "step=0"),
             with("step=3", "step=-1"),
             with("step=3", "step=three"),
             with("kind=add-signer", "kind=swap-signer"),
             with("status=working", "status=sleeping"),
             with("id=", "id=x"),
         })
        EXPECT_THROW(zone_process::from_text(bad), std::invalid_argument) << bad;
    // A remove has 11 steps.
    auto removing = process(remove_signer, {p1, p2}, {p1}, 11).to_text();
    EXPECT_NO_THROW(zone_process::from_text(removing));
    removing.replace(removing.find("step=11"), 7, "step=12");
    EXPECT_THROW(zone_process::from_text(removing), std::invalid_argument);
}

// --- the one-step rule ---

TEST(AgentProcessOneStep, EveryParticipantFinishedTheStep) {
    auto p = process(add_signer, {p1, p2}, {p1, p2, p3}, 5);
    const std::vector<dns::name> parts{p1, p2, p3};
    const step_report done{p.id, 5, step_status::done, 0};
    std::map<dns::name, step_report> reports{{p1, done}, {p2, done}, {p3, done}};
    EXPECT_TRUE(all_finished(p, parts, reports));
    EXPECT_TRUE(not_finished(p, parts, reports).empty());

    // One step further counts as finished (whatever its status there).
    reports[p2] = {p.id, 6, step_status::working, 0};
    EXPECT_TRUE(all_finished(p, parts, reports));

    // Still working at the step, failed at it, or a step behind: not finished.
    for (const auto& r : {step_report{p.id, 5, step_status::working, 0},
                          step_report{p.id, 5, step_status::failed, 0},
                          step_report{p.id, 4, step_status::done, 0}}) {
        reports[p3] = r;
        EXPECT_FALSE(all_finished(p, parts, reports));
        EXPECT_EQ(not_finished(p, parts, reports), std::vector<dns::name>{p3});
    }

    // A report about another process does not count.
    reports[p3] = {p.id + 1, 5, step_status::done, 0};
    EXPECT_FALSE(all_finished(p, parts, reports));
    EXPECT_EQ(not_finished(p, parts, reports), std::vector<dns::name>{p3});

    // Nor does a missing one.
    reports.erase(p3);
    reports.erase(p1);
    EXPECT_FALSE(all_finished(p, parts, reports));
    EXPECT_EQ(not_finished(p, parts, reports), (std::vector<dns::name>{p1, p3}));

    // Reports of agents that do not take part change nothing.
    reports = {{p1, done}, {p2, done}, {N("agent.p9."), {p.id, 1, step_status::working, 0}}};
    EXPECT_TRUE(all_finished(p, std::vector<dns::name>{p1, p2}, reports));
}

}  // namespace
