// The parent role's NS and glue decision (src/roles/parent/csync_policy.h): CSYNC flags,
// serial arithmetic, consistency across nameservers, glue only in bailiwick.
#include "roles/parent/csync_policy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "dns/rr.h"

using namespace hsync;
using dns::name;
using parent::csync_answer;
using parent::csync_outcome;
using parent::decide_csync;
using parent::validation;

namespace {

const name child = name::from_text("child.example.");

dns::rr rr(const std::string& line) {
    return dns::rr::from_text(line);
}

std::vector<dns::rr> rrs(const std::vector<std::string>& lines) {
    std::vector<dns::rr> out;
    for (const auto& l : lines)
        out.push_back(rr(l));
    return out;
}

parent::validated_rrset secure(std::vector<dns::rr> records) {
    parent::validated_rrset out;
    out.records = std::move(records);
    out.status = validation::secure;
    return out;
}

std::string soa(uint32_t serial) {
    return "child.example. 3600 IN SOA ns1.child.example. hostmaster.child.example. " +
           std::to_string(serial) + " 7200 3600 1209600 3600";
}

// A nameserver of the child that moved from ns1.child.example. to ns2.child.example.
// (keeping ns.other.net.), with `csync` as its CSYNC RDATA.
csync_answer answer(std::string server, const std::string& csync, uint32_t serial = 2024010101) {
    csync_answer a;
    a.server = std::move(server);
    a.csync = secure({rr("child.example. 3600 IN CSYNC " + csync)});
    a.soa = secure({rr(soa(serial))});
    a.ns = secure(rrs({"child.example. 3600 IN NS ns2.child.example.",
                       "child.example. 3600 IN NS ns.other.net."}));
    parent::host_addresses ns2;
    ns2.host = name::from_text("ns2.child.example.");
    ns2.a = secure({rr("ns2.child.example. 3600 IN A 192.0.2.2")});
    ns2.aaaa = secure({rr("ns2.child.example. 3600 IN AAAA 2001:db8::2")});
    a.addresses.push_back(ns2);
    return a;
}

// The parent's delegation now (functions: the type registry is not ready during static
// initialisation).
std::vector<dns::rr> current_ns() {
    return rrs({"child.example. 86400 IN NS ns1.child.example.",
                "child.example. 86400 IN NS ns.other.net."});
}
std::vector<dns::rr> current_glue() {
    return rrs({"ns1.child.example. 86400 IN A 192.0.2.1",
                // sibling glue: not this child's
                "ns.sibling.example. 86400 IN A 198.51.100.9"});
}

std::vector<std::string> texts(const std::vector<dns::rr>& records) {
    std::vector<std::string> out;
    for (const auto& r : records) {
        std::string text = r.to_text();
        std::replace(text.begin(), text.end(), '\t', ' ');
        out.push_back(text);
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

TEST(CsyncPolicy, NsReplacedWithGlue) {
    std::vector answers{answer("192.0.2.53", "2024010101 3 A NS AAAA"),
                        answer("198.51.100.53", "2024010101 3 A NS AAAA")};
    auto d = decide_csync(child, answers, current_ns(), current_glue(), {});
    ASSERT_EQ(d.outcome, csync_outcome::updated) << d.reason;
    EXPECT_EQ(texts(d.ns), (std::vector<std::string>{
                               "child.example. 86400 IN NS ns.other.net.",
                               "child.example. 86400 IN NS ns2.child.example.",
                           }));
    // ns1's glue goes with ns1; ns2 gets both addresses; no glue for ns.other.net.
    EXPECT_EQ(texts(d.glue), (std::vector<std::string>{
                                 "ns2.child.example. 86400 IN A 192.0.2.2",
                                 "ns2.child.example. 86400 IN AAAA 2001:db8::2",
                             }));
    EXPECT_TRUE(d.ignored_types.empty());

    // Applied, the same signal is unchanged.
    auto again = decide_csync(child, answers, d.ns, d.glue, {});
    EXPECT_EQ(again.outcome, csync_outcome::unchanged) << again.reason;
}

TEST(CsyncPolicy, NewDelegationTakesTheDefaultTtl) {
    parent::csync_policy policy;
    policy.default_ttl = 600;
    auto d = decide_csync(child, std::vector{answer("192.0.2.53", "2024010101 1 NS A AAAA")}, {},
                          {}, policy);
    ASSERT_EQ(d.outcome, csync_outcome::updated) << d.reason;
    for (const auto& r : d.ns)
        EXPECT_EQ(r.ttl, 600u);
}

TEST(CsyncPolicy, SoaMinimumWaitsForTheSerial) {
    // CSYNC serial 2024010102, but the nameserver still serves 2024010101.
    auto d = decide_csync(child,
                          std::vector{answer("192.0.2.53", "2024010101 3 NS A AAAA"),
                                      answer("198.51.100.53", "2024010102 3 NS A AAAA")},
                          current_ns(), current_glue(), {});
    EXPECT_EQ(d.outcome, csync_outcome::refused);  // first: they disagree on CSYNC

    auto lagging = answer("198.51.100.53", "2024010102 3 NS A AAAA", 2024010101);
    d = decide_csync(
        child, std::vector{answer("192.0.2.53", "2024010102 3 NS A AAAA", 2024010102), lagging},
        current_ns(), current_glue(), {});
    EXPECT_EQ(d.outcome, csync_outcome::refused);
    EXPECT_EQ(d.reason.rfind("waiting", 0), 0u) << d.reason;
    EXPECT_NE(d.reason.find("198.51.100.53"), std::string::npos) << d.reason;

    // Without soaminimum the serial does not matter.
    d = decide_csync(child, std::vector{answer("192.0.2.53", "2024010102 1 NS A AAAA", 5)},
                     current_ns(), current_glue(), {});
    EXPECT_EQ(d.outcome, csync_outcome::updated) << d.reason;

    // Serial arithmetic (RFC 1982): 5 comes after 4294967295.
    d = decide_csync(child, std::vector{answer("192.0.2.53", "4294967295 3 NS A AAAA", 5)},
                     current_ns(), current_glue(), {});
    EXPECT_EQ(d.outcome, csync_outcome::updated) << d.reason;
    d = decide_csync(child, std::vector{answer("192.0.2.53", "5 3 NS A AAAA", 4294967295u)},
                     current_ns(), current_glue(), {});
    EXPECT_EQ(d.outcome, csync_outcome::refused);
    EXPECT_EQ(d.reason.rfind("waiting", 0), 0u) << d.reason;
}

TEST(CsyncPolicy, ImmediateFlagClearIsNotProcessed) {
    auto d = decide_csync(child, std::vector{answer("192.0.2.53", "2024010101 2 NS A AAAA")},
                          current_ns(), current_glue(), {});
    EXPECT_EQ(d.outcome, csync_outcome::refused);
    EXPECT_EQ(d.reason.rfind("not processed: immediate flag clear", 0), 0u) << d.reason;
}

TEST(CsyncPolicy, DisagreeingNameserversAreRefusedByName) {
    auto other = answer("198.51.100.53", "2024010101 3 NS A AAAA");
    other.ns = secure({rr("child.example. 3600 IN NS ns3.child.example.")});
    auto d = decide_csync(child, std::vector{answer("192.0.2.53", "2024010101 3 NS A AAAA"), other},
                          current_ns(), current_glue(), {});
    EXPECT_EQ(d.outcome, csync_outcome::refused);
    EXPECT_NE(d.reason.find("NS: 192.0.2.53 | 198.51.100.53"), std::string::npos) << d.reason;

    // The same for the addresses of an in-bailiwick nameserver.
    other = answer("198.51.100.53", "2024010101 3 NS A AAAA");
    other.addresses[0].a = secure({rr("ns2.child.example. 3600 IN A 192.0.2.99")});
    d = decide_csync(child, std::vector{answer("192.0.2.53", "2024010101 3 NS A AAAA"), other},
                     current_ns(), current_glue(), {});
    EXPECT_EQ(d.outcome, csync_outcome::refused);
    EXPECT_NE(d.reason.find("A records of ns2.child.example."), std::string::npos) << d.reason;

    // A nameserver without CSYNC disagrees with one that has it.
    other = answer("198.51.100.53", "2024010101 3 NS A AAAA");
    other.csync.records.clear();
    d = decide_csync(child, std::vector{answer("192.0.2.53", "2024010101 3 NS A AAAA"), other},
                     current_ns(), current_glue(), {});
    EXPECT_EQ(d.outcome, csync_outcome::refused);
    EXPECT_NE(d.reason.find("CSYNC"), std::string::npos) << d.reason;
}

TEST(CsyncPolicy, EmptyNsIsRefused) {
    auto a = answer("192.0.2.53", "2024010101 3 NS A AAAA");
    a.ns.records.clear();
    auto d = decide_csync(child, std::vector{a}, current_ns(), current_glue(), {});
    EXPECT_EQ(d.outcome, csync_outcome::refused);
    EXPECT_NE(d.reason.find("empty"), std::string::npos) << d.reason;
}

TEST(CsyncPolicy, AnswersThatAreNotSecureAreRefused) {
    for (auto status : {validation::insecure, validation::bogus, validation::timeout}) {
        auto a = answer("192.0.2.53", "2024010101 3 NS A AAAA");
        a.csync.status = status;
        auto d = decide_csync(child, std::vector{a}, current_ns(), current_glue(), {});
        EXPECT_EQ(d.outcome, csync_outcome::refused);
        EXPECT_NE(d.reason.find(std::string(parent::validation_name(status))), std::string::npos)
            << d.reason;
    }
    auto a = answer("192.0.2.53", "2024010101 3 NS A AAAA");
    a.ns.status = validation::bogus;
    auto d = decide_csync(child, std::vector{a}, current_ns(), current_glue(), {});
    EXPECT_EQ(d.outcome, csync_outcome::refused);
    EXPECT_NE(d.reason.find("the NS answer is bogus"), std::string::npos) << d.reason;
    a = answer("192.0.2.53", "2024010101 3 NS A AAAA");
    a.addresses[0].aaaa.status = validation::timeout;
    d = decide_csync(child, std::vector{a}, current_ns(), current_glue(), {});
    EXPECT_EQ(d.outcome, csync_outcome::refused);
    EXPECT_NE(d.reason.find("AAAA records of ns2.child.example. are timeout"), std::string::npos)
        << d.reason;
}

TEST(CsyncPolicy, OtherTypesInTheBitmapAreIgnored) {
    auto d = decide_csync(child, std::vector{answer("192.0.2.53", "2024010101 3 NS A AAAA MX DS")},
                          current_ns(), current_glue(), {});
    ASSERT_EQ(d.outcome, csync_outcome::updated) << d.reason;
    EXPECT_EQ(d.ignored_types, (std::vector<uint16_t>{dns::rr_type::MX, dns::rr_type::DS}));

    d = decide_csync(child, std::vector{answer("192.0.2.53", "2024010101 3 MX")}, current_ns(),
                     current_glue(), {});
    EXPECT_EQ(d.outcome, csync_outcome::unchanged) << d.reason;
}

TEST(CsyncPolicy, InBailiwickNameserverWithoutGlueIsRefused) {
    auto a = answer("192.0.2.53", "2024010101 3 NS A AAAA");
    a.addresses[0].a.records.clear();
    a.addresses[0].aaaa.records.clear();
    auto d = decide_csync(child, std::vector{a}, current_ns(), current_glue(), {});
    EXPECT_EQ(d.outcome, csync_outcome::refused);
    EXPECT_NE(d.reason.find("no glue"), std::string::npos) << d.reason;

    // NS listed without A/AAAA: ns2 would have no glue from the parent either.
    d = decide_csync(child, std::vector{answer("192.0.2.53", "2024010101 3 NS")}, current_ns(),
                     current_glue(), {});
    EXPECT_EQ(d.outcome, csync_outcome::refused);
    EXPECT_NE(d.reason.find("no glue"), std::string::npos) << d.reason;

    // The scanner did not fetch the addresses at all.
    a = answer("192.0.2.53", "2024010101 3 NS A AAAA");
    a.addresses.clear();
    d = decide_csync(child, std::vector{a}, current_ns(), current_glue(), {});
    EXPECT_EQ(d.outcome, csync_outcome::refused);
    EXPECT_NE(d.reason.find("no answer"), std::string::npos) << d.reason;
}

TEST(CsyncPolicy, AddressesOnlyKeepTheParentsNs) {
    // A and AAAA listed, NS not: glue of the parent's in-bailiwick ns1 is refreshed.
    auto a = answer("192.0.2.53", "2024010101 3 A AAAA");
    parent::host_addresses ns1;
    ns1.host = name::from_text("NS1.child.example.");
    ns1.a = secure({rr("ns1.child.example. 3600 IN A 192.0.2.11")});
    ns1.aaaa = secure({});
    a.addresses.push_back(ns1);
    auto d = decide_csync(child, std::vector{a}, current_ns(), current_glue(), {});
    ASSERT_EQ(d.outcome, csync_outcome::updated) << d.reason;
    EXPECT_EQ(texts(d.ns), texts(current_ns()));
    EXPECT_EQ(texts(d.glue),
              (std::vector<std::string>{"ns1.child.example. 86400 IN A 192.0.2.11"}));

    // AAAA only: the parent's A glue for ns1 stays as it is, so nothing changes.
    a = answer("192.0.2.53", "2024010101 3 AAAA");
    ns1.a = secure({});
    a.addresses.push_back(ns1);
    d = decide_csync(child, std::vector{a}, current_ns(), current_glue(), {});
    EXPECT_EQ(d.outcome, csync_outcome::unchanged) << d.reason;
}

TEST(CsyncPolicy, NoCsyncAndMalformedCsync) {
    auto a = answer("192.0.2.53", "2024010101 3 NS");
    a.csync.records.clear();
    EXPECT_EQ(decide_csync(child, std::vector{a}, current_ns(), current_glue(), {}).outcome,
              csync_outcome::unchanged);

    a = answer("192.0.2.53", "2024010101 3 NS A AAAA");
    a.csync.records.push_back(rr("child.example. 3600 IN CSYNC 2024010101 1 NS"));
    auto d = decide_csync(child, std::vector{a}, current_ns(), current_glue(), {});
    EXPECT_EQ(d.outcome, csync_outcome::refused);
    EXPECT_NE(d.reason.find("2 CSYNC records"), std::string::npos) << d.reason;

    EXPECT_EQ(decide_csync(child, {}, current_ns(), current_glue(), {}).outcome,
              csync_outcome::refused);
}

TEST(CsyncPolicy, CsyncFieldsParse) {
    auto f = parent::csync_fields::parse(rr("child.example. CSYNC 66 3 A NS AAAA").rdata);
    EXPECT_EQ(f.serial, 66u);
    EXPECT_EQ(f.flags, parent::csync_flag::IMMEDIATE | parent::csync_flag::SOAMINIMUM);
    EXPECT_EQ(f.types,
              (std::vector<uint16_t>{dns::rr_type::A, dns::rr_type::NS, dns::rr_type::AAAA}));
    EXPECT_THROW(parent::csync_fields::parse(std::vector<uint8_t>{0, 0, 0, 1, 0}), dns::wire_error);
}

TEST(CsyncPolicy, AnRrsetLeftUnfilledIsNotSecure) {
    auto a = answer("192.0.2.53", "2024010101 3 NS A AAAA");
    a.soa = parent::validated_rrset{};
    auto d = decide_csync(child, std::vector{a}, current_ns(), current_glue(), {});
    EXPECT_EQ(d.outcome, csync_outcome::refused);
    EXPECT_NE(d.reason.find("the SOA answer is timeout"), std::string::npos) << d.reason;
}
