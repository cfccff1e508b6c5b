// The combiner's pure logic: combine() rules, NSMgmt, apply_agent_update() (RFC 2136 over
// the agent data, only apex DNSKEY/CDS/CDNSKEY/CSYNC/NS), the serial policy and the
// persistent form of agent data.
#include "roles/combiner/combine.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dns/rdata.h"
#include "zone/journal.h"

namespace {

using namespace hsync;
using combiner::agent_data;
namespace rc = dns::rcode;
namespace t = dns::rr_type;

const dns::name origin = dns::name::from_text("example.");
const dns::name agent_key = dns::name::from_text("agent.key.");

std::string hsync_rr(const char* state, const char* nsmgmt) {
    return "example. 3600 IN TYPE" + std::to_string(dns::hsync_code()) + " " + std::string("\\# ") +
           "10 " + state + nsmgmt + "01 05616765 6e7400";
}

dns::record_store zone_of(const std::vector<std::string>& lines) {
    dns::record_store s;
    for (const auto& l : lines)
        s.add(dns::rr::from_text(l));
    s.sort();
    return s;
}

std::vector<std::string> owner_lines(uint32_t serial = 100) {
    return {
        "example. 3600 IN SOA ns1.example. admin.example. " + std::to_string(serial) +
            " 3600 600 86400 300",
        "example. 3600 IN NS ns1.owner.",
        "example. 3600 IN DNSKEY 257 3 13 "
        "mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==",
        "example. 3600 IN CDS 1 13 2 "
        "3490A6806D47F17A34C29E2CE80E8A999FFBE4BE8A999FFBE4BE3490A6806D47",
        "example. 3600 IN RRSIG SOA 13 1 3600 20300101000000 20200101000000 1 example. "
        "AAAA",
        "example. 3600 IN NSEC www.example. SOA NS RRSIG NSEC DNSKEY",
        "example. 3600 IN NSEC3PARAM 1 0 0 -",
        "example. 3600 IN TXT \"apex\"",
        "www.example. 3600 IN A 192.0.2.1",
        "www.example. 3600 IN RRSIG A 13 2 3600 20300101000000 20200101000000 1 example. "
        "AAAA",
        "sub.example. 3600 IN NS ns.sub.example.",
        "sub.example. 3600 IN DS 1 13 2 "
        "3490A6806D47F17A34C29E2CE80E8A999FFBE4BE8A999FFBE4BE3490A6806D47"};
}

std::vector<std::string> texts(const dns::record_store& s) {
    std::vector<std::string> out;
    for (size_t i = 0; i < s.size(); ++i)
        out.push_back(s[i].to_rr().to_text());
    return out;
}

bool has(const dns::record_store& s, const std::string& owner, uint16_t type) {
    for (size_t i = 0; i < s.size(); ++i)
        if (s[i].type == type && s[i].owner_name() == dns::name::from_text(owner)) return true;
    return false;
}

size_t count(const dns::record_store& s, uint16_t type) {
    size_t n = 0;
    for (size_t i = 0; i < s.size(); ++i)
        n += s[i].type == type;
    return n;
}

dns::message update_msg(const std::vector<std::string>& updates,
                        const std::vector<std::string>& prereqs = {}) {
    dns::message m;
    m.opcode = dns::opcode::UPDATE;
    m.questions.push_back({origin, t::SOA, dns::rr_class::IN});
    for (const auto& p : prereqs)
        m.answer.push_back(dns::rr::from_text(p));
    for (const auto& u : updates)
        m.authority.push_back(dns::rr::from_text(u));
    return m;
}

// A deletion record (no RDATA) of class ANY or NONE.
dns::rr deletion(const std::string& owner, uint16_t type, uint16_t rclass = dns::rr_class::ANY) {
    dns::rr r;
    r.owner = dns::name::from_text(owner);
    r.type = type;
    r.rclass = rclass;
    r.ttl = 0;
    return r;
}

agent_data with_agent(const std::vector<std::string>& adds) {
    auto r = combiner::apply_agent_update({}, origin, update_msg(adds), agent_key, 1000);
    EXPECT_EQ(r.rcode, rc::NOERROR) << r.reason;
    return r.data;
}

const std::string agent_dnskey =
    "example. 300 IN DNSKEY 256 3 13 "
    "oJMRESz5E4gYzS/q6XDrvU1qMPYIjCWzJaOau8XNEZeqCYKD5ar0IRd8KqXXFJkqmVfRvMGPmM1x8fGAa2XhSA==";
const std::string agent_cds =
    "example. 300 IN CDS 2 13 2 "
    "1111111111111111111111111111111111111111111111111111111111111111";

TEST(Combine, ReplacesAgentTypesAndDropsOwnerDnssec) {
    dns::record_store owner = zone_of(owner_lines());
    agent_data agent = with_agent({agent_dnskey, agent_cds, "example. 300 IN NS ns1.agent."});
    dns::record_store out = combiner::combine(owner, agent, origin, 500);
    auto txt = texts(out);
    // Owner's DNSKEY and CDS gone, the agent's in; no RRSIG/NSEC/NSEC3PARAM anywhere.
    EXPECT_EQ(count(out, t::DNSKEY), 1u);
    EXPECT_NE(std::find(txt.begin(), txt.end(), dns::rr::from_text(agent_dnskey).to_text()),
              txt.end());
    EXPECT_EQ(count(out, t::CDS), 1u);
    EXPECT_EQ(count(out, t::RRSIG), 0u);
    EXPECT_EQ(count(out, t::NSEC), 0u);
    EXPECT_EQ(count(out, t::NSEC3PARAM), 0u);
    // No HSYNC: NSMgmt OWNER, so the owner's NS stands and the agent's is not applied.
    EXPECT_NE(std::find(txt.begin(), txt.end(), "example.\t3600\tIN\tNS\tns1.owner."), txt.end())
        << txt[1];
    EXPECT_EQ(count(out, t::NS), 2u);  // apex (owner) + delegation
    // Everything else kept; SOA serial replaced.
    EXPECT_TRUE(has(out, "www.example.", t::A));
    EXPECT_TRUE(has(out, "sub.example.", t::DS));
    EXPECT_TRUE(has(out, "example.", t::TXT));
    auto soa = zone::find_soa(out);
    ASSERT_TRUE(soa);
    EXPECT_EQ(zone::soa_serial(out[*soa].rdata), 500u);
    // The result is in canonical order: sorting it changes nothing.
    dns::record_store again;
    for (size_t i = 0; i < out.size(); ++i)
        again.add(out[i].to_rr());
    again.sort();
    EXPECT_EQ(texts(again), txt);
}

TEST(Combine, OwnerAgentTypesDroppedEvenWithoutAgentData) {
    dns::record_store owner = zone_of(owner_lines());
    dns::record_store out = combiner::combine(owner, {}, origin, 101);
    EXPECT_EQ(count(out, t::DNSKEY), 0u);
    EXPECT_EQ(count(out, t::CDS), 0u);
    EXPECT_EQ(count(out, t::NS), 2u);
}

TEST(Combine, NsFollowsNsMgmt) {
    agent_data agent =
        with_agent({"example. 300 IN NS ns1.agent.", "example. 300 IN NS ns2.agent."});
    struct tc {
        std::vector<std::string> hsync;
        combiner::ns_mgmt want;
    } cases[] = {
        {{}, combiner::ns_mgmt::owner},
        {{hsync_rr("01", "01")}, combiner::ns_mgmt::owner},
        {{hsync_rr("01", "02")}, combiner::ns_mgmt::agent},
        // State=OFF records do not speak for the zone.
        {{hsync_rr("02", "01"), hsync_rr("01", "02")}, combiner::ns_mgmt::agent},
        {{hsync_rr("02", "02")}, combiner::ns_mgmt::owner},
        // Disagreement among State=ON records: the owner's NS stands.
        {{hsync_rr("01", "02"), "example. 3600 IN TYPE" + std::to_string(dns::hsync_code()) +
                                    " \\# 10 010101 05616765 6e7400"},
         combiner::ns_mgmt::owner},
    };
    for (const auto& c : cases) {
        auto lines = owner_lines();
        lines.insert(lines.end(), c.hsync.begin(), c.hsync.end());
        dns::record_store owner = zone_of(lines);
        EXPECT_EQ(combiner::ns_management(owner, origin), c.want) << c.hsync.size();
        dns::record_store out = combiner::combine(owner, agent, origin, 200);
        bool agent_ns = has(out, "example.", t::NS) && count(out, t::NS) == 3;
        EXPECT_EQ(agent_ns, c.want == combiner::ns_mgmt::agent);
        // HSYNC itself stays (the agents read it downstream).
        EXPECT_EQ(count(out, dns::hsync_code()), c.hsync.size());
    }
    // AGENT but the agent has no NS: the owner's NS stands (a zone needs an apex NS).
    auto lines = owner_lines();
    lines.push_back(hsync_rr("01", "02"));
    dns::record_store out = combiner::combine(zone_of(lines), {}, origin, 1);
    EXPECT_EQ(count(out, t::NS), 2u);
}

TEST(Combine, NoSoaThrows) {
    dns::record_store owner = zone_of({"www.example. 3600 IN A 192.0.2.1"});
    EXPECT_THROW(combiner::combine(owner, {}, origin, 1), dns::dns_error);
}

TEST(AgentUpdate, AddReplaceDeleteRecordsKeyAndTime) {
    auto r = combiner::apply_agent_update({}, origin, update_msg({agent_dnskey, agent_cds}),
                                          agent_key, 1234);
    ASSERT_EQ(r.rcode, rc::NOERROR) << r.reason;
    ASSERT_TRUE(r.changed);
    ASSERT_EQ(r.data.rrsets.size(), 2u);
    EXPECT_EQ(r.data.rrsets.at(t::DNSKEY).changed_at, 1234);
    EXPECT_EQ(r.data.rrsets.at(t::DNSKEY).changed_by, "agent.key.");
    EXPECT_EQ(r.data.rrsets.count(t::NS), 0u);

    // Replace NS as a whole (delete RRset + add): the apex-NS protection of RFC 2136
    // §3.4.2.3 does not apply to agent data.
    auto m = update_msg({"example. 300 IN NS ns1.agent."});
    auto r2 = combiner::apply_agent_update(r.data, origin, m, agent_key, 2000);
    ASSERT_EQ(r2.rcode, rc::NOERROR);
    m = update_msg({"example. 300 IN NS NS2.Agent."});
    m.authority.insert(m.authority.begin(), deletion("example.", t::NS));
    auto r3 = combiner::apply_agent_update(r2.data, origin, m, agent_key, 3000);
    ASSERT_EQ(r3.rcode, rc::NOERROR) << r3.reason;
    ASSERT_EQ(r3.data.rrsets.at(t::NS).records.size(), 1u);
    EXPECT_EQ(r3.data.rrsets.at(t::NS).records[0].to_text(), "example.\t300\tIN\tNS\tns2.agent.");
    EXPECT_EQ(r3.data.rrsets.at(t::NS).changed_at, 3000);
    EXPECT_EQ(r3.data.rrsets.at(t::DNSKEY).changed_at, 1234);  // untouched RRset keeps its time

    // Deleting the last NS leaves an empty (deleted) RRset, recorded.
    auto del = update_msg({});
    del.authority.push_back(deletion("example.", t::NS));
    auto r4 = combiner::apply_agent_update(r3.data, origin, del, agent_key, 4000);
    ASSERT_EQ(r4.rcode, rc::NOERROR);
    EXPECT_TRUE(r4.data.rrsets.at(t::NS).records.empty());
    EXPECT_EQ(r4.data.rrsets.at(t::NS).changed_at, 4000);

    // The same UPDATE again changes nothing.
    auto r5 = combiner::apply_agent_update(r4.data, origin, del, agent_key, 5000);
    EXPECT_EQ(r5.rcode, rc::NOERROR);
    EXPECT_FALSE(r5.changed);
    EXPECT_TRUE(r5.data == r4.data);
}

TEST(AgentUpdate, ForbiddenUpdatesRefusedWhole) {
    agent_data before = with_agent({agent_dnskey});
    struct tc {
        const char* what;
        dns::message m;
        uint16_t rcode;
    };
    std::vector<tc> cases;
    cases.push_back(
        {"A at apex", update_msg({agent_cds, "example. 300 IN A 192.0.2.1"}), rc::REFUSED});
    cases.push_back({"TXT at apex", update_msg({"example. 300 IN TXT \"x\""}), rc::REFUSED});
    cases.push_back({"SOA", update_msg({"example. 300 IN SOA a. b. 9 1 1 1 1"}), rc::REFUSED});
    cases.push_back({"DNSKEY below apex",
                     update_msg({agent_cds, "www.example. 300 IN DNSKEY 256 3 13 AAAA"}),
                     rc::REFUSED});
    cases.push_back({"NS below apex (a delegation)",
                     update_msg({"sub.example. 300 IN NS ns.other."}), rc::REFUSED});
    cases.push_back(
        {"outside the zone", update_msg({"example.org. 300 IN NS ns.other."}), rc::REFUSED});
    auto ch = update_msg({agent_cds});
    ch.authority[0].rclass = dns::rr_class::CH;
    cases.push_back({"class CH", ch, rc::REFUSED});
    auto any = update_msg({});
    any.authority.push_back(deletion("example.", t::ANY));
    cases.push_back({"delete all RRsets at the apex", any, rc::REFUSED});
    auto pre = update_msg({agent_cds}, {});
    pre.answer.push_back(deletion("www.example.", t::ANY));
    cases.push_back({"prerequisite below the apex", pre, rc::REFUSED});
    auto pre2 = update_msg({agent_cds}, {});
    pre2.answer.push_back(deletion("example.", t::A));
    cases.push_back({"prerequisite on type A", pre2, rc::REFUSED});
    // Too many records: 10,000 (the whole UPDATE refused, not the first 1,000 applied).
    auto big = update_msg({});
    for (int i = 0; i < 10000; ++i) {
        dns::rr r = dns::rr::from_text(agent_cds);
        r.rdata.back() = static_cast<uint8_t>(i);
        r.rdata[r.rdata.size() - 2] = static_cast<uint8_t>(i >> 8);
        big.authority.push_back(r);
    }
    cases.push_back({"10,000 records", big, rc::REFUSED});
    // Zone section.
    auto wrongzone = update_msg({agent_cds});
    wrongzone.questions[0].qname = dns::name::from_text("example.org.");
    cases.push_back({"other zone", wrongzone, rc::NOTAUTH});
    auto noq = update_msg({agent_cds});
    noq.questions.clear();
    cases.push_back({"no zone section", noq, rc::FORMERR});

    for (const auto& c : cases) {
        auto r = combiner::apply_agent_update(before, origin, c.m, agent_key, 9);
        EXPECT_EQ(r.rcode, c.rcode) << c.what << ": " << r.reason;
        EXPECT_FALSE(r.changed) << c.what;
        EXPECT_TRUE(r.data == before) << c.what;
        EXPECT_FALSE(r.reason.empty()) << c.what;
    }
}

TEST(AgentUpdate, MoreThanTheRrsetLimitRefused) {
    auto big = update_msg({});
    for (int i = 0; i < 20; ++i) {
        dns::rr r = dns::rr::from_text(agent_cds);
        r.rdata.back() = static_cast<uint8_t>(i);
        big.authority.push_back(r);
    }
    combiner::agent_update_limits lim;
    lim.max_rrset_records = 10;
    auto r = combiner::apply_agent_update({}, origin, big, agent_key, 1, lim);
    EXPECT_EQ(r.rcode, rc::REFUSED);
    EXPECT_TRUE(r.data.rrsets.empty());
    lim.max_rrset_records = 20;
    r = combiner::apply_agent_update({}, origin, big, agent_key, 1, lim);
    EXPECT_EQ(r.rcode, rc::NOERROR);
    EXPECT_EQ(r.data.rrsets.at(t::CDS).records.size(), 20u);
}

TEST(AgentUpdate, Prerequisites) {
    agent_data before = with_agent({agent_dnskey});
    auto yx = update_msg({agent_cds});
    yx.answer.push_back(deletion("example.", t::DNSKEY));  // class ANY: yxrrset
    auto ok = combiner::apply_agent_update(before, origin, yx, agent_key, 5);
    EXPECT_EQ(ok.rcode, rc::NOERROR) << ok.reason;
    EXPECT_TRUE(ok.changed);

    auto nx = update_msg({agent_cds});
    nx.answer.push_back(deletion("example.", t::DNSKEY, dns::rr_class::NONE));  // nxrrset
    auto r = combiner::apply_agent_update(before, origin, nx, agent_key, 5);
    EXPECT_EQ(r.rcode, rc::YXRRSET);
    EXPECT_TRUE(r.data == before);

    auto nocds = update_msg({agent_dnskey});
    nocds.answer.push_back(deletion("example.", t::CDS));  // yxrrset on a missing RRset
    r = combiner::apply_agent_update(before, origin, nocds, agent_key, 5);
    EXPECT_EQ(r.rcode, rc::NXRRSET);
    EXPECT_TRUE(r.data == before);

    // Value-dependent: the exact DNSKEY record must be there.
    auto exact = update_msg({agent_cds}, {agent_dnskey});
    exact.answer[0].ttl = 0;
    r = combiner::apply_agent_update(before, origin, exact, agent_key, 5);
    EXPECT_EQ(r.rcode, rc::NOERROR) << r.reason;
}

TEST(AgentUpdate, MalformedNsRdataIsFormerr) {
    auto m = update_msg({"example. 300 IN NS ns1.agent."});
    m.authority[0].rdata.push_back(0x42);
    auto r = combiner::apply_agent_update({}, origin, m, agent_key, 1);
    EXPECT_EQ(r.rcode, rc::FORMERR);
}

TEST(Serial, Policy) {
    // Follows the owner when the owner is ahead.
    EXPECT_EQ(combiner::next_serial(100, 200), 200u);
    // Agent change with the owner unchanged (or behind): last served + 1.
    EXPECT_EQ(combiner::next_serial(200, 200), 201u);
    EXPECT_EQ(combiner::next_serial(201, 200), 202u);
    EXPECT_EQ(combiner::next_serial(205, 203), 206u);
    // Owner catches up and passes: back to the owner's serial.
    EXPECT_EQ(combiner::next_serial(206, 207), 207u);
    // Wrap-around in RFC 1982 arithmetic: 0xFFFFFFFF + 1 skips 0.
    EXPECT_EQ(combiner::next_serial(0xFFFFFFFFu, 0xFFFFFFF0u), 1u);
    EXPECT_EQ(combiner::next_serial(0xFFFFFFF0u, 5), 5u);  // 5 is after 0xFFFFFFF0
    EXPECT_TRUE(dns::serial_lt(0xFFFFFFF0u, combiner::next_serial(0xFFFFFFF0u, 5)));
    // An owner that went backwards (e.g. restored from a backup) never moves us back.
    EXPECT_EQ(combiner::next_serial(1000, 10), 1001u);
    // Any sequence of inputs gives strictly increasing serials.
    uint32_t served = 0xFFFFFF00u;
    uint32_t owners[] = {0xFFFFFF00u, 0xFFFFFF00u, 0xFFFFFFFEu, 3, 3, 1, 40, 40};
    for (uint32_t o : owners) {
        uint32_t next = combiner::next_serial(served, o);
        EXPECT_TRUE(dns::serial_lt(served, next)) << served << " -> " << next;
        served = next;
    }
}

TEST(AgentData, EncodeDecodeRoundTrip) {
    agent_data d = with_agent({agent_dnskey, agent_cds, "example. 300 IN NS ns1.agent."});
    auto del = update_msg({});
    del.authority.push_back(deletion("example.", t::CDS));
    d = combiner::apply_agent_update(d, origin, del, agent_key, 77).data;
    ASSERT_TRUE(d.rrsets.at(t::CDS).records.empty());
    std::string text = combiner::encode_agent_data(d);
    agent_data back = combiner::decode_agent_data(text, origin);
    EXPECT_TRUE(back == d) << text;
    // A restart then an owner re-transfer combines to the same zone.
    dns::record_store owner = zone_of(owner_lines());
    EXPECT_EQ(texts(combiner::combine(owner, back, origin, 9)),
              texts(combiner::combine(owner, d, origin, 9)));
    EXPECT_THROW(combiner::decode_agent_data("garbage\n", origin), std::runtime_error);
    EXPECT_THROW(combiner::decode_agent_data("hsync-agent-data 1\nrr 300 00\n", origin),
                 std::runtime_error);
    EXPECT_THROW(combiner::decode_agent_data("hsync-agent-data 1\nrrset 1 0 k.\n", origin),
                 std::runtime_error);
    EXPECT_THROW(
        combiner::decode_agent_data("hsync-agent-data 1\nrrset 48 0 k.\nrr 3 0g\n", origin),
        std::runtime_error);
    EXPECT_TRUE(combiner::decode_agent_data("hsync-agent-data 1\n", origin).rrsets.empty());
}

}  // namespace

// Following an owner difference gives exactly what combining the new owner zone gives.
TEST(Combine, ChangeFollowsTheOwnerLikeAFullCombine) {
    agent_data agent = with_agent({agent_dnskey, agent_cds, "example. 300 IN NS ns1.agent."});
    auto before_lines = owner_lines(100);
    before_lines.push_back(hsync_rr("01", "02"));  // State=ON, NSMgmt=AGENT
    dns::record_store before = zone_of(before_lines);
    const std::vector<std::vector<std::string>> edits = {
        {"www.example. 3600 IN A 192.0.2.9"},
        {"new.example. 300 IN TXT \"new\"", "example. 3600 IN NS ns2.owner.",
         "example. 3600 IN DNSKEY 256 3 13 "
         "oJMRESz5E4gYzS/"
         "q6XDrvU1qMPYIjCWzJaOau8XNEZeqCYKD5ar0IRd8KqXXFJkqmVfRvMGPmM1x8fGAa2XhSA=="},
    };
    uint32_t owner_serial = 100, served = 500;
    dns::record_store combined = combiner::combine(before, agent, origin, served);
    for (const auto& added : edits) {
        auto lines = before_lines;
        lines[0] = owner_lines(++owner_serial)[0];
        lines.insert(lines.end(), added.begin(), added.end());
        lines.erase(std::remove(lines.begin(), lines.end(), "www.example. 3600 IN A 192.0.2.1"),
                    lines.end());
        dns::record_store after = zone_of(lines);
        auto owner_change = zone::diff(before, after);
        auto soa = zone::find_soa(combined);
        ASSERT_TRUE(soa);
        auto change = combiner::combine_change(owner_change, before, agent, origin,
                                               combined[*soa].to_rr(), ++served);
        ASSERT_TRUE(change);
        dns::record_store followed = zone::apply(combined, *change);
        EXPECT_EQ(texts(followed), texts(combiner::combine(after, agent, origin, served)));
        before = std::move(after);
        before_lines = std::move(lines);
        combined = std::move(followed);
    }
    // A changed HSYNC RRset may flip NS management: not followed, combined in full.
    auto lines = before_lines;
    lines[0] = owner_lines(++owner_serial)[0];
    lines.push_back(hsync_rr("01", "01"));
    auto owner_change = zone::diff(before, zone_of(lines));
    auto soa = zone::find_soa(combined);
    EXPECT_FALSE(combiner::combine_change(owner_change, before, agent, origin,
                                          combined[*soa].to_rr(), ++served));
}
