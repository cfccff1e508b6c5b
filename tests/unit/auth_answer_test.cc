// The auth role's query engine: zone_data's index and answer()'s sections for every case of
// RFC 1034 §4.3.2, RFC 2308, RFC 4592, RFC 6672, and the DNSSEC proofs of RFC 4035 §3.1 and
// RFC 5155 §7.2 over zones signed with our signer. Every RRSIG in a DO answer is verified.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "dns/record_store.h"
#include "dns/zonefile.h"
#include "dnssec/nsec.h"
#include "dnssec/rrsig.h"
#include "dnssec/zone_signer.h"
#include "zone/answer.h"
#include "zone/zone_data.h"

using namespace hsync;
using dns::name;
namespace rr_type = dns::rr_type;
namespace rcode = dns::rcode;

namespace {

constexpr int64_t now = 1700000000;

name n(const std::string& text) {
    return name::from_text(text);
}

const char* zone_text = R"(
$TTL 3600
@           IN SOA ns1 hostmaster 1 7200 900 1209600 300
@           NS    ns1
@           NS    ns.other.net.
@           MX    10 mail
ns1         A     192.0.2.1
ns1         AAAA  2001:db8::1
mail        A     192.0.2.2
www         A     192.0.2.3
alias       CNAME www
chain       CNAME alias
ext         CNAME www.example.net.
dangling    CNAME nothere
loop1       CNAME loop2
loop2       CNAME loop1
*.wild      TXT   "wild"
*.wild      MX    10 mail
host.wild   A     192.0.2.9
*.wc        CNAME www
a.b.ent     A     192.0.2.4
sub         NS    ns.sub
sub         NS    ns.other.net.
sub         DS    12345 13 2 0102030405060708091011121314151617181920212223242526272829303132
ns.sub      A     192.0.2.53
insecure    NS    ns.insecure
ns.insecure A     192.0.2.54
dn          DNAME example.net.
_sip._tcp   SRV   0 5 5060 www
)";

dns::record_store load(const std::string& text, const name& origin) {
    dns::record_store store;
    size_t errors = dns::zone_reader::from_memory(text, origin)
                        .read([&](const dns::rr& r) { store.add(r); },
                              [](const dns::zone_error& e) { ADD_FAILURE() << e.to_text(); });
    EXPECT_EQ(errors, 0u);
    store.sort();
    return store;
}

struct test_zone {
    std::vector<dnssec::key> keys;
    std::unique_ptr<zone::zone_data> zone;
};

test_zone make_zone(int mode /*0 unsigned, 1 NSEC, 2 NSEC3, 3 NSEC3 opt-out*/) {
    test_zone t;
    name origin = n("example.");
    dns::record_store in = load(zone_text, origin);
    if (mode == 0) {
        t.zone = std::make_unique<zone::zone_data>(std::move(in), origin);
        return t;
    }
    t.keys.push_back(dnssec::key::generate(origin, 13, dnssec::key_role::csk));
    dnssec::sign_options opt;
    opt.now = now;
    opt.nsec3 = mode >= 2;
    opt.opt_out = mode == 3;
    dns::record_store out;
    dnssec::sign_zone(in, origin, t.keys, opt,
                      [&](const dns::record_view& v) { out.add(v.to_rr()); });
    out.sort();
    t.zone = std::make_unique<zone::zone_data>(std::move(out), origin);
    return t;
}

const test_zone& zone(int mode) {
    static std::map<int, test_zone> zones;
    auto it = zones.find(mode);
    if (it == zones.end()) it = zones.emplace(mode, make_zone(mode)).first;
    return it->second;
}

dns::message query(const std::string& qname, uint16_t qtype, bool dnssec_ok = false,
                   bool edns = true) {
    dns::message q;
    q.id = 4242;
    q.rd = true;
    q.questions.push_back({n(qname), qtype, dns::rr_class::IN});
    if (edns || dnssec_ok) {
        q.opt.emplace();
        q.opt->udp_payload_size = 4096;
        q.opt->dnssec_ok = dnssec_ok;
    }
    return q;
}

// "owner TTL TYPE rdata"; RRSIGs as "owner TTL RRSIG covered labels", NSEC3 as
// "NSEC3" (their owners are hashes; nsec3_proves checks them).
std::string line(const dns::rr& r) {
    std::string s = r.owner.to_text() + " " + std::to_string(r.ttl) + " ";
    if (r.type == rr_type::RRSIG) {
        auto f = dnssec::rrsig_fields::parse(r.rdata);
        return s + "RRSIG " + dns::type_to_text(f.type_covered) + " " + std::to_string(f.labels);
    }
    if (r.type == rr_type::NSEC3) return "NSEC3";
    s += dns::type_to_text(r.type) + " ";
    dns::rdata_to_text(r.type, r.rdata, s);
    return s;
}

std::vector<std::string> lines(const std::vector<dns::rr>& section) {
    std::vector<std::string> out;
    for (const auto& r : section)
        out.push_back(line(r));
    std::sort(out.begin(), out.end());
    return out;
}

using L = std::vector<std::string>;
std::vector<std::string> sorted(L v) {
    std::sort(v.begin(), v.end());
    return v;
}

// Every RRSIG in the message verifies over the RRset it follows (same owner and type in
// the same section), with the zone's keys.
void verify_sigs(const dns::message& m, const test_zone& t) {
    for (const auto* sec : {&m.answer, &m.authority, &m.additional}) {
        for (const auto& sig : *sec) {
            if (sig.type != rr_type::RRSIG) continue;
            uint16_t covered = dnssec::rrsig_type_covered(sig.rdata);
            std::vector<dns::rr> set;
            for (const auto& r : *sec)
                if (r.type == covered && r.owner == sig.owner) set.push_back(r);
            ASSERT_FALSE(set.empty()) << "RRSIG without RRset: " << line(sig);
            auto res = dnssec::verify_rrsig(sig, set, t.keys, uint32_t(now));
            EXPECT_TRUE(res.ok()) << line(sig) << ": " << res.reason;
        }
    }
}

// What the NSEC3 records of the authority section prove about `target`.
enum class proof { matches, covers };
bool nsec3_proves(const dns::message& m, const test_zone& t, const std::string& target, proof p,
                  bool want_opt_out = false) {
    const auto& z = *t.zone;
    auto h = z.nsec3_hash(n(target));
    std::string label = dnssec::nsec3_label(h);
    for (const auto& r : m.authority) {
        if (r.type != rr_type::NSEC3) continue;
        auto f = dnssec::nsec3_fields::parse(r.rdata);
        std::string own(reinterpret_cast<const char*>(r.owner.data()) + 1, r.owner.data()[0]);
        std::string next = dnssec::nsec3_label(f.next_hash);
        if (want_opt_out && !(f.flags & dnssec::nsec3_flag_opt_out)) continue;
        if (p == proof::matches && own == label) return true;
        if (p == proof::covers) {
            bool c = own < next ? (own < label && label < next) : (own < label || label < next);
            if (c) return true;
        }
    }
    return false;
}

// The NSEC records of the authority section: does one cover (or match) `target`?
bool nsec_covers(const dns::message& m, const std::string& target) {
    name t = n(target);
    for (const auto& r : m.authority) {
        if (r.type != rr_type::NSEC) continue;
        auto f = dnssec::nsec_fields::parse(r.rdata);
        bool last = f.next == n("example.");
        if (r.owner < t && (last || t < f.next)) return true;
    }
    return false;
}

size_t count(const std::vector<dns::rr>& s, uint16_t type) {
    return std::count_if(s.begin(), s.end(), [&](const dns::rr& r) { return r.type == type; });
}

// ---------------------------------------------------------------------------------------
// zone_data

TEST(AuthZoneData, IndexesNodesAndEmptyNonTerminals) {
    const auto& z = *zone(0).zone;
    EXPECT_EQ(z.serial(), 1u);
    EXPECT_EQ(z.negative_ttl(), 300u);
    EXPECT_FALSE(z.is_signed());
    EXPECT_FALSE(z.nsec3());
    EXPECT_EQ(z.origin(), n("example."));
    EXPECT_EQ(z.find(n("EXAMPLE.")), 0u);
    auto www = z.find(n("WwW.example."));
    ASSERT_NE(www, z.npos);
    EXPECT_EQ(z.node_name(www), n("www.example."));
    EXPECT_EQ(z.rrset(www, rr_type::A).size(), 1u);
    EXPECT_TRUE(z.rrset(www, rr_type::AAAA).empty());
    // b.ent and ent exist without records; _tcp too.
    for (const char* ent : {"ent.example.", "b.ent.example.", "_tcp.example."}) {
        auto id = z.find(n(ent));
        ASSERT_NE(id, z.npos) << ent;
        EXPECT_TRUE(z.is_empty_nonterminal(id)) << ent;
    }
    EXPECT_EQ(z.find(n("nope.example.")), z.npos);
    EXPECT_EQ(z.find(n("c.ent.example.")), z.npos);
    EXPECT_NE(z.wildcard_of(z.find(n("wild.example."))), z.npos);
    EXPECT_EQ(z.wildcard_of(0), z.npos);

    auto lr = z.lookup(n("x.y.sub.example."), false);
    EXPECT_EQ(lr.delegation, z.find(n("sub.example.")));
    lr = z.lookup(n("sub.example."), true);  // DS: answered above the cut
    EXPECT_EQ(lr.delegation, z.npos);
    EXPECT_EQ(lr.exact, z.find(n("sub.example.")));
    lr = z.lookup(n("q.x.b.ent.example."), false);
    EXPECT_EQ(lr.exact, z.npos);
    EXPECT_EQ(lr.closest_encloser, z.find(n("b.ent.example.")));
    EXPECT_EQ(lr.encloser_labels, 3u);
    lr = z.lookup(n("a.b.dn.example."), false);
    EXPECT_EQ(lr.dname, z.find(n("dn.example.")));
}

TEST(AuthZoneData, NoSoaIsRefused) {
    EXPECT_THROW(
        zone::zone_data(load("www.example. 60 IN A 192.0.2.1\n", n("example.")), n("example.")),
        zone::zone_data_error);
    EXPECT_THROW(zone::zone_data(dns::record_store(), n("example.")), zone::zone_data_error);
}

TEST(AuthZoneData, SignedIndexes) {
    const auto& nsec = *zone(1).zone;
    EXPECT_TRUE(nsec.is_signed());
    EXPECT_FALSE(nsec.nsec3());
    const auto& nsec3 = *zone(2).zone;
    EXPECT_TRUE(nsec3.is_signed());
    ASSERT_TRUE(nsec3.nsec3());
    EXPECT_GT(nsec3.nsec3_count(), 20u);
    // NSEC3 owners are not names of the zone.
    auto h = nsec3.nsec3_hash(n("www.example."));
    ASSERT_NE(nsec3.nsec3_match(h), nullptr);
    EXPECT_EQ(nsec3.find(dnssec::nsec3_owner(h, n("example."))), nsec3.npos);
    // The same node set as the unsigned zone.
    EXPECT_EQ(nsec3.node_count(), zone(0).zone->node_count());
}

TEST(AuthZoneData, BuildsManyRecordsQuickly) {
    dns::record_store s;
    name origin = n("big.");
    s.add(dns::rr::from_text("big. 3600 IN SOA ns hm 1 2 3 4 5", origin));
    dns::rr a = dns::rr::from_text("x 3600 IN A 192.0.2.1", origin);
    for (int i = 0; i < 200000; ++i) {
        a.owner =
            name::from_text("h" + std::to_string(i) + ".d" + std::to_string(i % 1000), &origin);
        s.add(a);
    }
    s.sort();
    auto t0 = std::chrono::steady_clock::now();
    zone::zone_data z(std::move(s), origin);
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    EXPECT_EQ(z.node_count(), 1u + 1000 + 200000);
    EXPECT_NE(z.find(n("h199999.d999.big.")), z.npos);
    EXPECT_TRUE(z.is_empty_nonterminal(z.find(n("d7.big."))));
    std::printf("zone_data build, 200k records: %lld ms (this build type), index %zu bytes\n",
                static_cast<long long>(ms), z.memory_overhead());
    EXPECT_LT(ms, 20000);  // sanitizer Debug builds are slow; Release is far below 1 s
}

// ---------------------------------------------------------------------------------------
// Unsigned answers: exact sections.

struct answer_case {
    const char* label;
    const char* qname;
    uint16_t qtype;
    uint16_t rcode;
    bool aa;
    L answer, authority, additional;
};

const char* soa_neg = "example. 300 SOA ns1.example. hostmaster.example. 1 7200 900 1209600 300";

TEST(AuthAnswer, UnsignedCases) {
    const answer_case cases[] = {
        {"exact",
         "www.example.",
         rr_type::A,
         rcode::NOERROR,
         true,
         {"www.example. 3600 A 192.0.2.3"},
         {},
         {}},
        {"exact, any case",
         "WWW.Example.",
         rr_type::A,
         rcode::NOERROR,
         true,
         {"www.example. 3600 A 192.0.2.3"},
         {},
         {}},
        {"nodata", "www.example.", rr_type::AAAA, rcode::NOERROR, true, {}, {soa_neg}, {}},
        {"nxdomain", "nope.example.", rr_type::A, rcode::NXDOMAIN, true, {}, {soa_neg}, {}},
        {"nxdomain below a name",
         "x.www.example.",
         rr_type::A,
         rcode::NXDOMAIN,
         true,
         {},
         {soa_neg},
         {}},
        {"cname",
         "alias.example.",
         rr_type::A,
         rcode::NOERROR,
         true,
         {"alias.example. 3600 CNAME www.example.", "www.example. 3600 A 192.0.2.3"},
         {},
         {}},
        {"cname chain",
         "chain.example.",
         rr_type::A,
         rcode::NOERROR,
         true,
         {"chain.example. 3600 CNAME alias.example.", "alias.example. 3600 CNAME www.example.",
          "www.example. 3600 A 192.0.2.3"},
         {},
         {}},
        {"cname qtype",
         "alias.example.",
         rr_type::CNAME,
         rcode::NOERROR,
         true,
         {"alias.example. 3600 CNAME www.example."},
         {},
         {}},
        {"cname out of zone",
         "ext.example.",
         rr_type::A,
         rcode::NOERROR,
         true,
         {"ext.example. 3600 CNAME www.example.net."},
         {},
         {}},
        {"cname to nothing",
         "dangling.example.",
         rr_type::A,
         rcode::NXDOMAIN,
         true,
         {"dangling.example. 3600 CNAME nothere.example."},
         {soa_neg},
         {}},
        {"cname to nodata",
         "alias.example.",
         rr_type::AAAA,
         rcode::NOERROR,
         true,
         {"alias.example. 3600 CNAME www.example."},
         {soa_neg},
         {}},
        {"cname loop",
         "loop1.example.",
         rr_type::A,
         rcode::NOERROR,
         true,
         {"loop1.example. 3600 CNAME loop2.example.", "loop2.example. 3600 CNAME loop1.example."},
         {},
         {}},
        {"referral",
         "x.sub.example.",
         rr_type::A,
         rcode::NOERROR,
         false,
         {},
         {"sub.example. 3600 NS ns.sub.example.", "sub.example. 3600 NS ns.other.net."},
         {"ns.sub.example. 3600 A 192.0.2.53"}},
        {"referral at the cut",
         "sub.example.",
         rr_type::NS,
         rcode::NOERROR,
         false,
         {},
         {"sub.example. 3600 NS ns.sub.example.", "sub.example. 3600 NS ns.other.net."},
         {"ns.sub.example. 3600 A 192.0.2.53"}},
        {"glue is not ours",
         "ns.sub.example.",
         rr_type::A,
         rcode::NOERROR,
         false,
         {},
         {"sub.example. 3600 NS ns.sub.example.", "sub.example. 3600 NS ns.other.net."},
         {"ns.sub.example. 3600 A 192.0.2.53"}},
        {"ds at the cut is the parent's",
         "sub.example.",
         rr_type::DS,
         rcode::NOERROR,
         true,
         {"sub.example. 3600 DS 12345 13 2 "
          "0102030405060708091011121314151617181920212223242526272829303132"},
         {},
         {}},
        {"ds below the cut is a referral",
         "a.sub.example.",
         rr_type::DS,
         rcode::NOERROR,
         false,
         {},
         {"sub.example. 3600 NS ns.sub.example.", "sub.example. 3600 NS ns.other.net."},
         {"ns.sub.example. 3600 A 192.0.2.53"}},
        {"empty non-terminal",
         "b.ent.example.",
         rr_type::A,
         rcode::NOERROR,
         true,
         {},
         {soa_neg},
         {}},
        {"wildcard",
         "x.wild.example.",
         rr_type::TXT,
         rcode::NOERROR,
         true,
         {"x.wild.example. 3600 TXT \"wild\""},
         {},
         {}},
        {"wildcard, deeper",
         "x.y.wild.example.",
         rr_type::TXT,
         rcode::NOERROR,
         true,
         {"x.y.wild.example. 3600 TXT \"wild\""},
         {},
         {}},
        {"wildcard additional",
         "x.wild.example.",
         rr_type::MX,
         rcode::NOERROR,
         true,
         {"x.wild.example. 3600 MX 10 mail.example."},
         {},
         {"mail.example. 3600 A 192.0.2.2"}},
        {"wildcard nodata", "x.wild.example.", rr_type::A, rcode::NOERROR, true, {}, {soa_neg}, {}},
        {"existing name blocks the wildcard",
         "host.wild.example.",
         rr_type::TXT,
         rcode::NOERROR,
         true,
         {},
         {soa_neg},
         {}},
        {"closest encloser without wildcard",
         "x.host.wild.example.",
         rr_type::TXT,
         rcode::NXDOMAIN,
         true,
         {},
         {soa_neg},
         {}},
        {"wildcard cname",
         "y.wc.example.",
         rr_type::A,
         rcode::NOERROR,
         true,
         {"y.wc.example. 3600 CNAME www.example.", "www.example. 3600 A 192.0.2.3"},
         {},
         {}},
        {"mx additional",
         "example.",
         rr_type::MX,
         rcode::NOERROR,
         true,
         {"example. 3600 MX 10 mail.example."},
         {},
         {"mail.example. 3600 A 192.0.2.2"}},
        {"ns additional",
         "example.",
         rr_type::NS,
         rcode::NOERROR,
         true,
         {"example. 3600 NS ns1.example.", "example. 3600 NS ns.other.net."},
         {},
         {"ns1.example. 3600 A 192.0.2.1", "ns1.example. 3600 AAAA 2001:db8::1"}},
        {"srv additional",
         "_sip._tcp.example.",
         rr_type::SRV,
         rcode::NOERROR,
         true,
         {"_sip._tcp.example. 3600 SRV 0 5 5060 www.example."},
         {},
         {"www.example. 3600 A 192.0.2.3"}},
        {"dname",
         "a.b.dn.example.",
         rr_type::A,
         rcode::NOERROR,
         true,
         {"dn.example. 3600 DNAME example.net.", "a.b.dn.example. 3600 CNAME a.b.example.net."},
         {},
         {}},
        {"dname owner itself", "dn.example.", rr_type::A, rcode::NOERROR, true, {}, {soa_neg}, {}},
        {"dname qtype at owner",
         "dn.example.",
         rr_type::DNAME,
         rcode::NOERROR,
         true,
         {"dn.example. 3600 DNAME example.net."},
         {},
         {}},
        {"any",
         "ns1.example.",
         rr_type::ANY,
         rcode::NOERROR,
         true,
         {"ns1.example. 3600 A 192.0.2.1", "ns1.example. 3600 AAAA 2001:db8::1"},
         {},
         {}},
        {"any at a wildcard",
         "q.wild.example.",
         rr_type::ANY,
         rcode::NOERROR,
         true,
         {"q.wild.example. 3600 TXT \"wild\"", "q.wild.example. 3600 MX 10 mail.example."},
         {},
         {}},
        {"any at an empty non-terminal",
         "ent.example.",
         rr_type::ANY,
         rcode::NOERROR,
         true,
         {},
         {soa_neg},
         {}},
    };
    const auto& t = zone(0);
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        auto q = query(c.qname, c.qtype);
        auto r = zone::answer(t.zone.get(), q);
        EXPECT_TRUE(r.qr);
        EXPECT_EQ(r.id, 4242);
        EXPECT_TRUE(r.rd);
        EXPECT_FALSE(r.ra);
        EXPECT_EQ(r.rcode, c.rcode);
        EXPECT_EQ(r.aa, c.aa);
        ASSERT_EQ(r.questions.size(), 1u);
        EXPECT_EQ(r.questions[0].qname.to_text(), n(c.qname).to_text());  // case kept
        ASSERT_TRUE(r.opt.has_value());
        EXPECT_EQ(r.opt->udp_payload_size, zone::our_udp_payload_size);
        EXPECT_EQ(lines(r.answer), sorted(c.answer));
        EXPECT_EQ(lines(r.authority), sorted(c.authority));
        EXPECT_EQ(lines(r.additional), sorted(c.additional));
        // The response must encode and parse back.
        std::vector<uint8_t> wire;
        r.to_wire(wire);
        EXPECT_EQ(dns::message::parse(wire), r);
    }
}

TEST(AuthAnswer, AnyAtApexReturnsEverything) {
    auto r = zone::answer(zone(0).zone.get(), query("example.", rr_type::ANY));
    EXPECT_EQ(count(r.answer, rr_type::SOA), 1u);
    EXPECT_EQ(count(r.answer, rr_type::NS), 2u);
    EXPECT_EQ(count(r.answer, rr_type::MX), 1u);
    EXPECT_EQ(r.answer.size(), 4u);
}

TEST(AuthAnswer, DnameTooLongIsYxdomain) {
    std::string text = std::string("$TTL 60\n@ SOA ns hm 1 2 3 4 5\nd DNAME ") +
                       std::string(60, 'a') + "." + std::string(60, 'b') + "." +
                       std::string(60, 'c') + "." + std::string(60, 'd') + ".\n";
    zone::zone_data z(load(text, n("e.")), n("e."));
    auto r = zone::answer(&z, query(std::string(60, 'x') + ".d.e.", rr_type::A));
    EXPECT_EQ(r.rcode, rcode::YXDOMAIN);
    EXPECT_EQ(count(r.answer, rr_type::DNAME), 1u);
    EXPECT_EQ(count(r.answer, rr_type::CNAME), 0u);
}

TEST(AuthAnswer, Errors) {
    const auto* z = zone(0).zone.get();
    struct err_case {
        const char* label;
        dns::message q;
        const zone::zone_data* zone;
        uint16_t rcode;
    };
    auto with = [](dns::message m, auto fn) {
        fn(m);
        return m;
    };
    const err_case cases[] = {
        {"not our zone", query("www.example.", rr_type::A), nullptr, rcode::REFUSED},
        {"name outside the zone", query("www.example.org.", rr_type::A), z, rcode::REFUSED},
        {"no question",
         with(query("www.example.", rr_type::A), [](auto& m) { m.questions.clear(); }), z,
         rcode::FORMERR},
        {"two questions",
         with(query("www.example.", rr_type::A),
              [](auto& m) { m.questions.push_back(m.questions[0]); }),
         z, rcode::FORMERR},
        {"status opcode",
         with(query("www.example.", rr_type::A), [](auto& m) { m.opcode = dns::opcode::STATUS; }),
         z, rcode::NOTIMP},
        {"response as query", with(query("www.example.", rr_type::A), [](auto& m) { m.qr = true; }),
         z, rcode::FORMERR},
        {"chaos",
         with(query("version.bind.", rr_type::TXT),
              [](auto& m) { m.questions[0].qclass = dns::rr_class::CH; }),
         z, rcode::REFUSED},
        {"class any",
         with(query("www.example.", rr_type::A),
              [](auto& m) { m.questions[0].qclass = dns::rr_class::ANY; }),
         z, rcode::REFUSED},
        {"qtype OPT", query("www.example.", rr_type::OPT), z, rcode::FORMERR},
        {"qtype TSIG", query("www.example.", rr_type::TSIG), z, rcode::FORMERR},
        {"qtype TKEY", query("www.example.", rr_type::TKEY), z, rcode::NOTIMP},
        {"qtype MAILA", query("www.example.", 254), z, rcode::NOTIMP},
        {"qtype AXFR", query("example.", rr_type::AXFR), z, rcode::NOTIMP},
        {"qtype IXFR", query("example.", rr_type::IXFR), z, rcode::NOTIMP},
        {"edns version 1",
         with(query("www.example.", rr_type::A), [](auto& m) { m.opt->version = 1; }), z,
         rcode::BADVERS},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        auto r = zone::answer(c.zone, c.q);
        EXPECT_EQ(r.rcode, c.rcode);
        EXPECT_TRUE(r.qr);
        EXPECT_FALSE(r.aa);
        EXPECT_EQ(r.id, c.q.id);
        EXPECT_EQ(r.rd, c.q.rd);
        EXPECT_TRUE(r.answer.empty() && r.authority.empty() && r.additional.empty());
        EXPECT_EQ(r.questions.size(), c.q.questions.size() == 1 ? 1u : 0u);
        ASSERT_TRUE(r.opt.has_value());
        EXPECT_EQ(r.opt->version, 0);
        EXPECT_EQ(r.opt->udp_payload_size, zone::our_udp_payload_size);
        std::vector<uint8_t> wire;
        r.to_wire(wire);
        auto back = dns::message::parse(wire);
        EXPECT_EQ(back.rcode, c.rcode);
    }
    // Without EDNS there is no OPT in the response.
    auto r = zone::answer(nullptr, query("www.example.", rr_type::A, false, false));
    EXPECT_FALSE(r.opt.has_value());
    EXPECT_EQ(r.rcode, rcode::REFUSED);
}

// ---------------------------------------------------------------------------------------
// DNSSEC: NSEC zone.

struct dnssec_case {
    const char* label;
    const char* qname;
    uint16_t qtype;
    uint16_t rcode;
    bool aa;
    L answer, authority, additional;
};

TEST(AuthAnswerDnssec, NsecCases) {
    const char* soa = "example. 300 SOA ns1.example. hostmaster.example. 1 7200 900 1209600 300";
    const char* soa_sig = "example. 300 RRSIG SOA 1";
    const dnssec_case cases[] = {
        {"exact",
         "www.example.",
         rr_type::A,
         rcode::NOERROR,
         true,
         {"www.example. 3600 A 192.0.2.3", "www.example. 3600 RRSIG A 2"},
         {},
         {}},
        {"nodata",
         "www.example.",
         rr_type::AAAA,
         rcode::NOERROR,
         true,
         {},
         {soa, soa_sig, "www.example. 300 NSEC example. A RRSIG NSEC",
          "www.example. 300 RRSIG NSEC 2"},
         {}},
        {"nxdomain: covering NSEC and no-wildcard NSEC",
         "nope.example.",
         rr_type::A,
         rcode::NXDOMAIN,
         true,
         {},
         {soa, soa_sig, "mail.example. 300 NSEC ns1.example. A RRSIG NSEC",
          "mail.example. 300 RRSIG NSEC 2",
          "example. 300 NSEC _sip._tcp.example. NS SOA MX RRSIG NSEC DNSKEY",
          "example. 300 RRSIG NSEC 1"},
         {}},
        {"empty non-terminal",
         "b.ent.example.",
         rr_type::A,
         rcode::NOERROR,
         true,
         {},
         {soa, soa_sig, "dn.example. 300 NSEC a.b.ent.example. DNAME RRSIG NSEC",
          "dn.example. 300 RRSIG NSEC 2"},
         {}},
        {"wildcard: RRSIG labels and the no-exact-match NSEC",
         "x.wild.example.",
         rr_type::TXT,
         rcode::NOERROR,
         true,
         {"x.wild.example. 3600 TXT \"wild\"", "x.wild.example. 3600 RRSIG TXT 2"},
         {"host.wild.example. 300 NSEC www.example. A RRSIG NSEC",
          "host.wild.example. 300 RRSIG NSEC 3"},
         {}},
        {"wildcard nodata",
         "x.wild.example.",
         rr_type::A,
         rcode::NOERROR,
         true,
         {},
         {soa, soa_sig, "host.wild.example. 300 NSEC www.example. A RRSIG NSEC",
          "host.wild.example. 300 RRSIG NSEC 3",
          "*.wild.example. 300 NSEC host.wild.example. MX TXT RRSIG NSEC",
          "*.wild.example. 300 RRSIG NSEC 2"},
         {}},
        {"secure referral",
         "x.sub.example.",
         rr_type::A,
         rcode::NOERROR,
         false,
         {},
         {"sub.example. 3600 NS ns.sub.example.", "sub.example. 3600 NS ns.other.net.",
          "sub.example. 3600 DS 12345 13 2 "
          "0102030405060708091011121314151617181920212223242526272829303132",
          "sub.example. 3600 RRSIG DS 2"},
         {"ns.sub.example. 3600 A 192.0.2.53"}},
        {"insecure referral: NSEC without DS",
         "x.insecure.example.",
         rr_type::A,
         rcode::NOERROR,
         false,
         {},
         {"insecure.example. 3600 NS ns.insecure.example.",
          "insecure.example. 300 NSEC loop1.example. NS RRSIG NSEC",
          "insecure.example. 300 RRSIG NSEC 2"},
         {"ns.insecure.example. 3600 A 192.0.2.54"}},
        {"ds nodata at an insecure cut",
         "insecure.example.",
         rr_type::DS,
         rcode::NOERROR,
         true,
         {},
         {soa, soa_sig, "insecure.example. 300 NSEC loop1.example. NS RRSIG NSEC",
          "insecure.example. 300 RRSIG NSEC 2"},
         {}},
        {"signed additional",
         "example.",
         rr_type::MX,
         rcode::NOERROR,
         true,
         {"example. 3600 MX 10 mail.example.", "example. 3600 RRSIG MX 1"},
         {},
         {"mail.example. 3600 A 192.0.2.2", "mail.example. 3600 RRSIG A 2"}},
        {"cname to nothing",
         "dangling.example.",
         rr_type::A,
         rcode::NXDOMAIN,
         true,
         {"dangling.example. 3600 CNAME nothere.example.", "dangling.example. 3600 RRSIG CNAME 2"},
         {soa, soa_sig, "mail.example. 300 NSEC ns1.example. A RRSIG NSEC",
          "mail.example. 300 RRSIG NSEC 2",
          "example. 300 NSEC _sip._tcp.example. NS SOA MX RRSIG NSEC DNSKEY",
          "example. 300 RRSIG NSEC 1"},
         {}},
        {"dname signed, cname not",
         "a.dn.example.",
         rr_type::A,
         rcode::NOERROR,
         true,
         {"dn.example. 3600 DNAME example.net.", "dn.example. 3600 RRSIG DNAME 2",
          "a.dn.example. 3600 CNAME a.example.net."},
         {},
         {}},
    };
    const auto& t = zone(1);
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        auto r = zone::answer(t.zone.get(), query(c.qname, c.qtype, true));
        EXPECT_EQ(r.rcode, c.rcode);
        EXPECT_EQ(r.aa, c.aa);
        ASSERT_TRUE(r.opt.has_value());
        EXPECT_TRUE(r.opt->dnssec_ok);
        EXPECT_EQ(lines(r.answer), sorted(c.answer));
        EXPECT_EQ(lines(r.authority), sorted(c.authority));
        EXPECT_EQ(lines(r.additional), sorted(c.additional));
        verify_sigs(r, t);
    }
    // The semantic check agrees with the listed NSECs.
    auto r = zone::answer(t.zone.get(), query("nope.example.", rr_type::A, true));
    EXPECT_TRUE(nsec_covers(r, "nope.example."));
    EXPECT_TRUE(nsec_covers(r, "*.example."));
    // Without DO: no DNSSEC records.
    r = zone::answer(t.zone.get(), query("www.example.", rr_type::AAAA, false));
    EXPECT_EQ(lines(r.authority), L{soa});
    r = zone::answer(t.zone.get(), query("x.sub.example.", rr_type::A, false));
    EXPECT_EQ(count(r.authority, rr_type::DS), 0u);
    // ANY with DO includes the NSEC and every RRSIG.
    r = zone::answer(t.zone.get(), query("www.example.", rr_type::ANY, true));
    EXPECT_EQ(
        lines(r.answer),
        sorted({"www.example. 3600 A 192.0.2.3", "www.example. 3600 RRSIG A 2",
                "www.example. 300 NSEC example. A RRSIG NSEC", "www.example. 300 RRSIG NSEC 2"}));
    verify_sigs(r, t);
}

// ---------------------------------------------------------------------------------------
// DNSSEC: NSEC3 zones (RFC 5155 §7.2).

struct nsec3_case {
    const char* label;
    int mode;
    const char* qname;
    uint16_t qtype;
    uint16_t rcode;
    size_t answers;
    size_t nsec3s;
    std::vector<std::pair<std::string, proof>> proves;
    bool opt_out = false;  // the covering proof must have the opt-out flag
};

TEST(AuthAnswerDnssec, Nsec3Cases) {
    const nsec3_case cases[] = {
        {"nodata: matching NSEC3",
         2,
         "www.example.",
         rr_type::AAAA,
         rcode::NOERROR,
         0,
         1,
         {{"www.example.", proof::matches}}},
        {"nxdomain: closest encloser proof and no wildcard",
         2,
         "nope.example.",
         rr_type::A,
         rcode::NXDOMAIN,
         0,
         3,
         {{"example.", proof::matches},
          {"nope.example.", proof::covers},
          {"*.example.", proof::covers}}},
        {"nxdomain deeper",
         2,
         "a.b.www.example.",
         rr_type::A,
         rcode::NXDOMAIN,
         0,
         3,
         {{"www.example.", proof::matches},
          {"b.www.example.", proof::covers},
          {"*.www.example.", proof::covers}}},
        {"empty non-terminal",
         2,
         "b.ent.example.",
         rr_type::A,
         rcode::NOERROR,
         0,
         1,
         {{"b.ent.example.", proof::matches}}},
        {"wildcard answer: next closer covered",
         2,
         "x.y.wild.example.",
         rr_type::TXT,
         rcode::NOERROR,
         2,
         1,
         {{"y.wild.example.", proof::covers}}},
        {"wildcard nodata",
         2,
         "x.wild.example.",
         rr_type::A,
         rcode::NOERROR,
         0,
         3,
         {{"wild.example.", proof::matches},
          {"x.wild.example.", proof::covers},
          {"*.wild.example.", proof::matches}}},
        {"insecure referral: matching NSEC3",
         2,
         "x.insecure.example.",
         rr_type::A,
         rcode::NOERROR,
         0,
         1,
         {{"insecure.example.", proof::matches}}},
        {"secure referral: DS, no NSEC3",
         2,
         "x.sub.example.",
         rr_type::A,
         rcode::NOERROR,
         0,
         0,
         {}},
        {"opt-out referral: closest provable encloser",
         3,
         "x.insecure.example.",
         rr_type::A,
         rcode::NOERROR,
         0,
         2,
         {{"example.", proof::matches}, {"insecure.example.", proof::covers}},
         true},
        {"opt-out DS nodata",
         3,
         "insecure.example.",
         rr_type::DS,
         rcode::NOERROR,
         0,
         2,
         {{"example.", proof::matches}, {"insecure.example.", proof::covers}},
         true},
        {"opt-out secure referral", 3, "x.sub.example.", rr_type::A, rcode::NOERROR, 0, 0, {}},
        {"opt-out nxdomain",
         3,
         "nope.example.",
         rr_type::A,
         rcode::NXDOMAIN,
         0,
         3,
         {{"example.", proof::matches},
          {"nope.example.", proof::covers},
          {"*.example.", proof::covers}}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        const auto& t = zone(c.mode);
        auto r = zone::answer(t.zone.get(), query(c.qname, c.qtype, true));
        EXPECT_EQ(r.rcode, c.rcode);
        EXPECT_EQ(r.answer.size(), c.answers);
        EXPECT_EQ(count(r.authority, rr_type::NSEC3), c.nsec3s);
        EXPECT_EQ(count(r.authority, rr_type::NSEC), 0u);
        // Every NSEC3 comes with its RRSIG.
        size_t nsec3_sigs = 0;
        for (const auto& rec : r.authority)
            if (rec.type == rr_type::RRSIG &&
                dnssec::rrsig_type_covered(rec.rdata) == rr_type::NSEC3)
                ++nsec3_sigs;
        EXPECT_EQ(nsec3_sigs, c.nsec3s);
        for (const auto& [target, p] : c.proves)
            EXPECT_TRUE(nsec3_proves(r, t, target, p, p == proof::covers && c.opt_out))
                << target << (p == proof::matches ? " not matched" : " not covered");
        verify_sigs(r, t);
    }
}

TEST(AuthAnswerDnssec, BrokenNsec3ChainDoesNotCrash) {
    // An NSEC3 zone with NSEC3PARAM but none of its NSEC3 records: answers lack proofs but
    // are still made (the closest encloser search stops at the apex).
    const auto& t = zone(2);
    dns::record_store s;
    const auto& all = t.zone->records();
    for (size_t i = 0; i < all.size(); ++i)
        if (all[i].type != rr_type::NSEC3) s.add(all[i].to_rr());
    s.sort();
    zone::zone_data z(std::move(s), n("example."));
    EXPECT_TRUE(z.nsec3());
    EXPECT_EQ(z.nsec3_count(), 0u);
    for (const char* q : {"example.", "nope.example.", "x.insecure.example.", "x.wild.example."}) {
        auto r = zone::answer(&z, query(q, rr_type::AAAA, true));
        EXPECT_EQ(count(r.authority, rr_type::NSEC3), 0u) << q;
        EXPECT_EQ(count(r.authority, rr_type::SOA) + count(r.authority, rr_type::NS), 1u) << q;
    }
}

}  // namespace
