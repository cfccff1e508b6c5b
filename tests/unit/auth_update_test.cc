// RFC 2136 UPDATE: each phase and rule as a table of cases, then the policy.
#include "zone/update.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "zone/journal.h"

namespace {

using namespace hsync;
namespace rc = dns::rcode;
namespace t = dns::rr_type;

const dns::name origin = dns::name::from_text("example.");

dns::record_store base_zone(uint32_t serial = 100) {
    std::vector<std::string> lines = {
        "example. 3600 IN SOA ns1.example. admin.example. " + std::to_string(serial) +
            " 3600 600 86400 300",
        "example. 3600 IN NS ns1.example.",
        "example. 3600 IN NS ns2.example.",
        "example. 3600 IN TXT \"apex\"",
        "ns1.example. 3600 IN A 192.0.2.1",
        "ns2.example. 3600 IN A 192.0.2.2",
        "www.example. 3600 IN A 192.0.2.10",
        "www.example. 3600 IN A 192.0.2.11",
        "alias.example. 3600 IN CNAME www.example.",
        "txt.example. 3600 IN TXT \"hello\"",
    };
    dns::record_store s;
    for (const auto& l : lines)
        s.add(dns::rr::from_text(l));
    s.sort();
    return s;
}

// Records as the tables write them: "owner TTL CLASS TYPE rdata", or with "-" for RDATA
// to mean none (class ANY/NONE prerequisites and deletions, RFC 2136 §2.4, §2.5).
dns::rr record(const std::string& line) {
    if (line.size() > 2 && line.substr(line.size() - 2) == " -") {
        std::vector<std::string> f;
        size_t p = 0;
        std::string s = line.substr(0, line.size() - 2);
        while (p < s.size()) {
            size_t q = s.find(' ', p);
            if (q == std::string::npos) q = s.size();
            f.push_back(s.substr(p, q - p));
            p = q + 1;
        }
        dns::rr r;
        r.owner = dns::name::from_text(f.at(0));
        r.ttl = static_cast<uint32_t>(std::stoul(f.at(1)));
        dns::class_from_text(f.at(2), r.rclass);
        r.type = dns::type_from_text(f.at(3));
        return r;
    }
    return dns::rr::from_text(line);
}

dns::message update_msg(const std::vector<std::string>& prereqs,
                        const std::vector<std::string>& updates,
                        const std::string& zone = "example.") {
    dns::message m;
    m.opcode = dns::opcode::UPDATE;
    m.questions.push_back({dns::name::from_text(zone), t::SOA, dns::rr_class::IN});
    for (const auto& p : prereqs)
        m.answer.push_back(record(p));
    for (const auto& u : updates)
        m.authority.push_back(record(u));
    return m;
}

zone::update_policy open_policy() {
    zone::update_policy p;
    p.allow_any = true;
    return p;
}

bool has(const dns::record_store& s, const std::string& line) {
    dns::rr r = dns::rr::from_text(line);
    r.canonicalize();
    for (size_t i = 0; i < s.size(); ++i) {
        auto v = s[i];
        if (v.owner_name() == r.owner && v.type == r.type && v.ttl == r.ttl &&
            std::equal(v.rdata.begin(), v.rdata.end(), r.rdata.begin(), r.rdata.end()))
            return true;
    }
    return false;
}

uint32_t serial_of(const dns::record_store& s) {
    return zone::soa_serial(s[*zone::find_soa(s)].rdata);
}

struct rcode_case {
    const char* what;
    std::vector<std::string> prereqs;
    std::vector<std::string> updates;
    uint16_t rcode;
};

// RFC 2136 §3.2: each prerequisite kind, met and not met, and the malformed ones.
TEST(Update, Prerequisites) {
    const std::vector<rcode_case> cases = {
        {"name in use, met", {"www.example. 0 ANY ANY -"}, {}, rc::NOERROR},
        {"name in use, not met", {"nope.example. 0 ANY ANY -"}, {}, rc::NXDOMAIN},
        {"empty non-terminal is not in use", {"x.nope.example. 0 ANY ANY -"}, {}, rc::NXDOMAIN},
        {"name not in use, met", {"nope.example. 0 NONE ANY -"}, {}, rc::NOERROR},
        {"name not in use, not met", {"www.example. 0 NONE ANY -"}, {}, rc::YXDOMAIN},
        {"RRset exists, met", {"www.example. 0 ANY A -"}, {}, rc::NOERROR},
        {"RRset exists, not met", {"www.example. 0 ANY AAAA -"}, {}, rc::NXRRSET},
        {"RRset does not exist, met", {"www.example. 0 NONE AAAA -"}, {}, rc::NOERROR},
        {"RRset does not exist, not met", {"www.example. 0 NONE A -"}, {}, rc::YXRRSET},
        {"value-dependent, equal",
         {"www.example. 0 IN A 192.0.2.11", "www.example. 0 IN A 192.0.2.10"},
         {},
         rc::NOERROR},
        {"value-dependent, equal with duplicates and case",
         {"ALIAS.example. 0 IN CNAME WWW.Example.", "alias.example. 0 IN CNAME www.example."},
         {},
         rc::NOERROR},
        {"value-dependent, fewer", {"www.example. 0 IN A 192.0.2.10"}, {}, rc::NXRRSET},
        {"value-dependent, more",
         {"www.example. 0 IN A 192.0.2.10", "www.example. 0 IN A 192.0.2.11",
          "www.example. 0 IN A 192.0.2.12"},
         {},
         rc::NXRRSET},
        {"value-dependent, absent RRset", {"www.example. 0 IN AAAA 2001:db8::1"}, {}, rc::NXRRSET},
        {"TTL not zero", {"www.example. 60 ANY A -"}, {}, rc::FORMERR},
        {"outside the zone", {"www.example.net. 0 ANY A -"}, {}, rc::NOTZONE},
        {"ANY with RDATA", {"www.example. 0 ANY A 192.0.2.10"}, {}, rc::FORMERR},
        {"NONE with RDATA", {"www.example. 0 NONE A 192.0.2.10"}, {}, rc::FORMERR},
        {"other class", {"www.example. 0 CH A -"}, {}, rc::FORMERR},
        {"first failing prerequisite decides",
         {"nope.example. 0 ANY ANY -", "www.example. 0 NONE A -"},
         {},
         rc::NXDOMAIN},
        {"prerequisites stop the update",
         {"www.example. 0 NONE A -"},
         {"new.example. 300 IN A 192.0.2.50"},
         rc::YXRRSET},
    };
    auto zone = base_zone();
    for (const auto& c : cases) {
        auto r = zone::apply_update(zone, origin, update_msg(c.prereqs, c.updates), open_policy());
        EXPECT_EQ(r.rcode, c.rcode) << c.what << ": " << r.reason;
        if (r.rcode != rc::NOERROR) {
            EXPECT_TRUE(r.diff.empty()) << c.what;
        }
    }
}

// RFC 2136 §3.1 and §3.4.1.
TEST(Update, ZoneSectionAndPrescan) {
    auto zone = base_zone();
    auto run = [&](dns::message m) {
        return zone::apply_update(zone, origin, m, open_policy()).rcode;
    };
    dns::message none = update_msg({}, {});
    none.questions.clear();
    EXPECT_EQ(run(none), rc::FORMERR);
    dns::message two = update_msg({}, {});
    two.questions.push_back(two.questions[0]);
    EXPECT_EQ(run(two), rc::FORMERR);
    dns::message type_a = update_msg({}, {});
    type_a.questions[0].qtype = t::A;
    EXPECT_EQ(run(type_a), rc::FORMERR);
    EXPECT_EQ(run(update_msg({}, {}, "example.net.")), rc::NOTAUTH);
    EXPECT_EQ(run(update_msg({}, {}, "www.example.")), rc::NOTAUTH);
    dns::message chaos = update_msg({}, {});
    chaos.questions[0].qclass = dns::rr_class::CH;
    EXPECT_EQ(run(chaos), rc::NOTAUTH);
    dns::message query = update_msg({}, {});
    query.opcode = dns::opcode::QUERY;
    EXPECT_EQ(run(query), rc::FORMERR);

    const std::vector<rcode_case> cases = {
        {"outside the zone", {}, {"www.example.net. 300 IN A 192.0.2.1"}, rc::NOTZONE},
        {"add of a meta type", {}, {"www.example. 300 IN ANY -"}, rc::FORMERR},
        {"add without RDATA", {}, {"www.example. 300 IN A -"}, rc::FORMERR},
        {"delete RRset with TTL", {}, {"www.example. 300 ANY A -"}, rc::FORMERR},
        {"delete RRset with RDATA", {}, {"www.example. 0 ANY A 192.0.2.10"}, rc::FORMERR},
        {"delete RRset of type AXFR", {}, {"www.example. 0 ANY AXFR -"}, rc::FORMERR},
        {"delete RR with TTL", {}, {"www.example. 300 NONE A 192.0.2.10"}, rc::FORMERR},
        {"delete RR of type ANY", {}, {"www.example. 0 NONE ANY -"}, rc::FORMERR},
        {"other class", {}, {"www.example. 300 CH A 192.0.2.10"}, rc::FORMERR},
        {"all or nothing: a good record before a bad one",
         {},
         {"new.example. 300 IN A 192.0.2.50", "www.example. 300 IN ANY -"},
         rc::FORMERR},
    };
    for (const auto& c : cases) {
        auto r = zone::apply_update(zone, origin, update_msg(c.prereqs, c.updates), open_policy());
        EXPECT_EQ(r.rcode, c.rcode) << c.what << ": " << r.reason;
        EXPECT_TRUE(r.diff.empty()) << c.what;
    }
}

struct apply_case {
    const char* what;
    std::vector<std::string> updates;
    std::vector<std::string> present;  // records (with TTL) that must be in the result
    std::vector<std::string> absent;   // records that must not be
    bool changes = true;               // false: NOERROR with an empty diff
};

// RFC 2136 §3.4.2, each rule; the zone after the update is checked record by record.
TEST(Update, Application) {
    const std::vector<apply_case> cases = {
        {"add a record",
         {"new.example. 300 IN A 192.0.2.50"},
         {"new.example. 300 IN A 192.0.2.50"},
         {}},
        {"add to an RRset takes the new TTL for the whole RRset",
         {"www.example. 300 IN A 192.0.2.12"},
         {"www.example. 300 IN A 192.0.2.10", "www.example. 300 IN A 192.0.2.11",
          "www.example. 300 IN A 192.0.2.12"},
         {}},
        {"duplicate ignored", {"WWW.example. 3600 IN A 192.0.2.10"}, {}, {}, false},
        {"duplicate with another TTL changes the RRset's TTL",
         {"www.example. 60 IN A 192.0.2.10"},
         {"www.example. 60 IN A 192.0.2.10", "www.example. 60 IN A 192.0.2.11"},
         {}},
        {"delete an RRset",
         {"www.example. 0 ANY A -"},
         {},
         {"www.example. 3600 IN A 192.0.2.10", "www.example. 3600 IN A 192.0.2.11"}},
        {"delete an absent RRset is no change", {"www.example. 0 ANY AAAA -"}, {}, {}, false},
        {"delete all RRsets of a name",
         {"alias.example. 0 ANY ANY -"},
         {},
         {"alias.example. 3600 IN CNAME www.example."}},
        {"delete all RRsets at the apex keeps SOA and NS",
         {"example. 0 ANY ANY -"},
         {"example. 3600 IN NS ns1.example.", "example. 3600 IN NS ns2.example."},
         {"example. 3600 IN TXT \"apex\""}},
        {"apex NS RRset cannot be deleted", {"example. 0 ANY NS -"}, {}, {}, false},
        {"apex SOA RRset cannot be deleted", {"example. 0 ANY SOA -"}, {}, {}, false},
        {"SOA RR cannot be deleted",
         {"example. 0 NONE SOA ns1.example. admin.example. 100 3600 600 86400 300"},
         {},
         {},
         false},
        {"delete one RR",
         {"www.example. 0 NONE A 192.0.2.10"},
         {"www.example. 3600 IN A 192.0.2.11"},
         {"www.example. 3600 IN A 192.0.2.10"}},
        {"delete an absent RR is no change", {"www.example. 0 NONE A 192.0.2.99"}, {}, {}, false},
        {"delete one apex NS",
         {"example. 0 NONE NS ns2.example."},
         {"example. 3600 IN NS ns1.example."},
         {"example. 3600 IN NS ns2.example."}},
        {"the last apex NS stays",
         {"example. 0 NONE NS ns2.example.", "example. 0 NONE NS ns1.example."},
         {"example. 3600 IN NS ns1.example."},
         {"example. 3600 IN NS ns2.example."}},
        {"CNAME where other data exists is ignored",
         {"www.example. 300 IN CNAME other.example."},
         {},
         {"www.example. 300 IN CNAME other.example."},
         false},
        {"other data where a CNAME exists is ignored",
         {"alias.example. 300 IN A 192.0.2.60"},
         {},
         {"alias.example. 300 IN A 192.0.2.60"},
         false},
        {"a CNAME replaces the CNAME",
         {"alias.example. 300 IN CNAME other.example."},
         {"alias.example. 300 IN CNAME other.example."},
         {"alias.example. 3600 IN CNAME www.example."}},
        {"an NSEC may join a CNAME",
         {"alias.example. 300 IN NSEC www.example. CNAME RRSIG NSEC"},
         {"alias.example. 300 IN NSEC www.example. CNAME RRSIG NSEC"},
         {}},
        {"CNAME at a new name",
         {"new.example. 300 IN CNAME www.example."},
         {"new.example. 300 IN CNAME www.example."},
         {}},
        {"SOA at a non-apex name is ignored",
         {"www.example. 300 IN SOA ns1.example. admin.example. 500 1 1 1 1"},
         {},
         {},
         false},
        {"updates apply in order: delete then add",
         {"www.example. 0 ANY A -", "www.example. 300 IN A 192.0.2.99"},
         {"www.example. 300 IN A 192.0.2.99"},
         {"www.example. 3600 IN A 192.0.2.10"}},
        {"updates apply in order: add then delete",
         {"new.example. 300 IN A 192.0.2.50", "new.example. 0 ANY ANY -"},
         {},
         {"new.example. 300 IN A 192.0.2.50"},
         false},
        {"delete all then re-add keeps the rest out",
         {"www.example. 0 ANY ANY -", "www.example. 300 IN TXT \"x\""},
         {"www.example. 300 IN TXT \"x\""},
         {"www.example. 3600 IN A 192.0.2.11"}},
    };
    auto zone = base_zone();
    for (const auto& c : cases) {
        SCOPED_TRACE(c.what);
        auto r = zone::apply_update(zone, origin, update_msg({}, c.updates), open_policy());
        ASSERT_EQ(r.rcode, rc::NOERROR) << c.what << ": " << r.reason;
        EXPECT_EQ(!r.diff.empty(), c.changes) << c.what;
        if (r.diff.empty()) continue;
        EXPECT_EQ(r.diff.from_serial, 100u) << c.what;
        EXPECT_EQ(r.diff.to_serial, 101u) << c.what;
        auto after = zone::apply(zone, r.diff);  // throws if the diff does not fit
        EXPECT_EQ(serial_of(after), 101u) << c.what;
        for (const auto& p : c.present)
            EXPECT_TRUE(has(after, p)) << c.what << ": missing " << p;
        for (const auto& a : c.absent)
            EXPECT_FALSE(has(after, a)) << c.what << ": still has " << a;
        EXPECT_TRUE(has(after, "example. 3600 IN NS ns1.example.")) << c.what;
    }
}

// RFC 2136 §3.4.2.2 and §3.6: the SOA in an update, and the serial bump.
TEST(Update, SoaSerial) {
    auto zone = base_zone();
    auto run = [&](const dns::record_store& z, std::vector<std::string> updates) {
        auto r = zone::apply_update(z, origin, update_msg({}, updates), open_policy());
        EXPECT_EQ(r.rcode, rc::NOERROR) << r.reason;
        return r;
    };
    // A higher serial from the update is taken as is, with its other fields.
    auto r = run(zone, {"example. 600 IN SOA ns1.example. admin.example. 200 1800 600 86400 60",
                        "new.example. 300 IN A 192.0.2.50"});
    EXPECT_EQ(r.diff.to_serial, 200u);
    auto after = zone::apply(zone, r.diff);
    EXPECT_TRUE(
        has(after, "example. 600 IN SOA ns1.example. admin.example. 200 1800 600 86400 60"));
    // Just the SOA is a change too.
    r = run(zone, {"example. 3600 IN SOA ns1.example. admin.example. 150 3600 600 86400 300"});
    EXPECT_EQ(r.diff.to_serial, 150u);
    // A lower or equal serial is ignored; the other change still bumps by one.
    r = run(zone, {"example. 3600 IN SOA ns1.example. admin.example. 50 3600 600 86400 300",
                   "new.example. 300 IN A 192.0.2.50"});
    EXPECT_EQ(r.diff.to_serial, 101u);
    r = run(zone, {"example. 3600 IN SOA ns1.example. admin.example. 100 1 1 1 1"});
    EXPECT_TRUE(r.diff.empty());
    // RFC 1982: past 2^32-1 comes 1 (0 is skipped), and that still counts as higher.
    auto top = base_zone(4294967295u);
    r = run(top, {"new.example. 300 IN A 192.0.2.50"});
    EXPECT_EQ(r.diff.from_serial, 4294967295u);
    EXPECT_EQ(r.diff.to_serial, 1u);
    EXPECT_EQ(serial_of(zone::apply(top, r.diff)), 1u);
    // The diff is an IXFR sequence: SOAs lead both lists.
    EXPECT_EQ(r.diff.removed.at(0).type, t::SOA);
    EXPECT_EQ(r.diff.added.at(0).type, t::SOA);
}

// RFC 2136 §3.3 with our policy: rules per key; one refused record refuses the update.
TEST(Update, Policy) {
    auto zone = base_zone();
    dns::name k1 = dns::name::from_text("k1.");
    dns::name k2 = dns::name::from_text("k2.");
    zone::update_policy p;
    p.rules.push_back({k1,
                       zone::update_rule::match_kind::subdomain,
                       dns::name::from_text("www.example."),
                       {t::A, t::AAAA}});
    p.rules.push_back(
        {k1, zone::update_rule::match_kind::wildcard, dns::name::from_text("*.dyn.example."), {}});
    // An agent of docs/protocol.md: apex DNSKEY, CDS, CDNSKEY, CSYNC and NS only.
    p.rules.push_back({k2,
                       zone::update_rule::match_kind::exact,
                       origin,
                       {t::DNSKEY, t::CDS, t::CDNSKEY, t::CSYNC, t::NS}});
    struct policy_case {
        const char* what;
        std::optional<dns::name> key;
        std::vector<std::string> updates;
        uint16_t rcode;
    };
    const std::vector<policy_case> cases = {
        {"allowed type and name", k1, {"www.example. 300 IN A 192.0.2.12"}, rc::NOERROR},
        {"below the subdomain", k1, {"a.www.example. 300 IN AAAA 2001:db8::1"}, rc::NOERROR},
        {"type not allowed", k1, {"www.example. 300 IN TXT \"x\""}, rc::REFUSED},
        {"one refused record refuses all",
         k1,
         {"www.example. 300 IN A 192.0.2.12", "txt.example. 300 IN TXT \"x\""},
         rc::REFUSED},
        {"other key", k2, {"www.example. 300 IN A 192.0.2.12"}, rc::REFUSED},
        {"unsigned", std::nullopt, {"www.example. 300 IN A 192.0.2.12"}, rc::REFUSED},
        {"wildcard matches below", k1, {"h.dyn.example. 300 IN TXT \"x\""}, rc::NOERROR},
        {"wildcard matches deeper", k1, {"a.h.dyn.example. 300 IN TXT \"x\""}, rc::NOERROR},
        {"wildcard does not match its parent", k1, {"dyn.example. 300 IN TXT \"x\""}, rc::REFUSED},
        {"exact apex NS", k2, {"example. 300 IN NS ns3.example."}, rc::NOERROR},
        {"exact apex, other type", k2, {"example. 300 IN A 192.0.2.1"}, rc::REFUSED},
        {"exact, not below", k2, {"sub.example. 300 IN NS ns3.example."}, rc::REFUSED},
        {"delete all at a name with allowed types", k1, {"www.example. 0 ANY ANY -"}, rc::NOERROR},
        {"delete all at a name with other types", k2, {"example. 0 ANY ANY -"}, rc::REFUSED},
        {"delete RRset of an allowed type", k2, {"example. 0 ANY CDS -"}, rc::NOERROR},
        {"delete RR of another type", k2, {"example. 0 NONE TXT \"apex\""}, rc::REFUSED},
    };
    for (const auto& c : cases) {
        auto r = zone::apply_update(zone, origin, update_msg({}, c.updates), p, c.key);
        EXPECT_EQ(r.rcode, c.rcode) << c.what << ": " << r.reason;
        if (r.rcode != rc::NOERROR) {
            EXPECT_TRUE(r.diff.empty()) << c.what;
        }
    }
    // No rules and no allow_any: nothing is allowed.
    EXPECT_EQ(zone::apply_update(zone, origin, update_msg({}, {"www.example. 300 IN A 192.0.2.12"}),
                                 zone::update_policy{}, k1)
                  .rcode,
              rc::REFUSED);
    // Too many update records.
    auto small = open_policy();
    small.max_records = 2;
    auto three = update_msg({}, {"a.example. 300 IN A 192.0.2.1", "b.example. 300 IN A 192.0.2.1",
                                 "c.example. 300 IN A 192.0.2.1"});
    EXPECT_EQ(zone::apply_update(zone, origin, three, small).rcode, rc::REFUSED);
    small.max_records = 3;
    EXPECT_EQ(zone::apply_update(zone, origin, three, small).rcode, rc::NOERROR);
}

// The update touches only the names it names: the diff of a small update to a large zone
// is small and exactly the change.
TEST(Update, LargeZoneSmallChange) {
    dns::record_store z;
    z.add(dns::rr::from_text(
        "example. 3600 IN SOA ns1.example. admin.example. 7 3600 600 86400 300"));
    z.add(dns::rr::from_text("example. 3600 IN NS ns1.example."));
    for (int i = 0; i < 50000; ++i)
        z.add(dns::rr::from_text("h" + std::to_string(i) + ".example. 300 IN A 192.0.2.1"));
    z.sort();
    auto r = zone::apply_update(
        z, origin,
        update_msg({"h123.example. 0 ANY A -"},
                   {"h123.example. 0 ANY A -", "h123.example. 300 IN A 192.0.2.2",
                    "n.example. 300 IN TXT \"x\""}),
        open_policy());
    ASSERT_EQ(r.rcode, rc::NOERROR) << r.reason;
    EXPECT_EQ(r.diff.removed.size(), 2u);  // SOA 7, h123 A .1
    EXPECT_EQ(r.diff.added.size(), 3u);    // SOA 8, h123 A .2, n TXT
    auto after = zone::apply(z, r.diff);
    EXPECT_EQ(after.size(), z.size() + 1);
    EXPECT_EQ(serial_of(after), 8u);
}

}  // namespace
