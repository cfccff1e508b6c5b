// The agent's identity zone and discovery readers (roles/agent/identity.h, discovery.h):
// the published records by their presentation text, the signer's own keys in a zone signed
// next to other providers' keys, the URI/SVCB/TLSA readers (SVCB against RFC 9460
// Appendix D) and the stored form of a discovered peer.
#include "roles/agent/identity.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "dns/make_rr.h"
#include "dns/rdata.h"
#include "dns/record_store.h"
#include "dns/rr.h"
#include "dns/zonefile.h"
#include "dnssec/ds.h"
#include "dnssec/key.h"
#include "dnssec/zone_signer.h"
#include "roles/agent/discovery.h"
#include "zone/zone_data.h"

using namespace hsync;
using namespace hsync::agent;

namespace {

dns::name N(std::string_view s) {
    return dns::name::from_text(s);
}

net::asio::ip::address ip(const char* text) {
    return net::asio::ip::make_address(text);
}

constexpr uint8_t ecdsa = dnssec::algorithm::ECDSAP256SHA256;
constexpr int64_t t0 = 1700000000;

std::vector<std::string> texts(const dns::record_store& s) {
    std::vector<std::string> out;
    for (size_t i = 0; i < s.size(); ++i) {
        std::string t;
        s[i].append_text(t);
        // Fields are tab-separated; the expectations are written with single spaces.
        std::replace(t.begin(), t.end(), '\t', ' ');
        out.push_back(t);
    }
    return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

// The RDATAs of `type` at `owner`, in store order.
std::vector<std::vector<uint8_t>> rdatas(const dns::record_store& s, const dns::name& owner,
                                         uint16_t type) {
    std::vector<std::vector<uint8_t>> out;
    for (size_t i = 0; i < s.size(); ++i)
        if (s[i].type == type && s[i].owner_name() == owner)
            out.emplace_back(s[i].rdata.begin(), s[i].rdata.end());
    return out;
}

spki_digest digest_of(uint8_t first) {
    spki_digest d;
    for (size_t i = 0; i < d.size(); ++i)
        d[i] = static_cast<uint8_t>(first + i);
    return d;
}

std::string hex_of(std::span<const uint8_t> b) {
    static const char* digits = "0123456789ABCDEF";
    std::string out;
    for (uint8_t c : b) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

identity_settings settings_p1() {
    identity_settings s;
    s.identity = N("agent.p1.example.");
    s.ttl = 60;
    s.dns.target = N("dns.agent.p1.example.");
    s.dns.addresses = {ip("192.0.2.1")};
    s.dns.port = 5399;
    s.nameservers.push_back({N("ns.agent.p1.example."), {ip("192.0.2.1")}});
    s.provider_nameservers = {N("ns1.provider.example.")};
    return s;
}

class IdentityRecords : public ::testing::Test {
  protected:
    identity_settings s = settings_p1();
    dnssec::key sig0 =
        dnssec::key::generate(N("dns.agent.p1.example."), ecdsa, dnssec::key_role::sig0);
    dnssec::key ksk_a = dnssec::key::generate(N("example.com."), ecdsa, dnssec::key_role::ksk);
    dnssec::key zsk_a = dnssec::key::generate(N("example.com."), ecdsa, dnssec::key_role::zsk);
    dnssec::key csk_b = dnssec::key::generate(N("example.net."), ecdsa, dnssec::key_role::csk);
    std::vector<zone_keys> zones;

    void SetUp() override {
        zone_keys a;
        a.zone = N("example.com.");
        a.dnskeys = {ksk_a.rdata(), zsk_a.rdata()};
        std::sort(a.dnskeys.begin(), a.dnskeys.end());
        a.cds = {dnssec::make_cds(ksk_a, 2, 60).rdata};
        zone_keys b;
        b.zone = N("example.net.");
        b.dnskeys = {csk_b.rdata()};
        b.cds = {dnssec::make_cds(csk_b, 2, 60).rdata};
        zones = {a, b};
    }
};

TEST_F(IdentityRecords, DnsTransportRecordsByTheirText) {
    auto out = identity_records(s, sig0, std::nullopt, zones, 2024010101);
    auto t = texts(out);
    // The SOA's MNAME is the first nameserver; its negative TTL is the zone's TTL.
    EXPECT_TRUE(contains(t,
                         "agent.p1.example. 60 IN SOA ns.agent.p1.example. "
                         "hostmaster.agent.p1.example. 2024010101 3600 600 1209600 60"))
        << ::testing::PrintToString(t);
    EXPECT_TRUE(contains(t, "agent.p1.example. 60 IN NS ns.agent.p1.example."));
    EXPECT_TRUE(contains(t, "ns.agent.p1.example. 60 IN A 192.0.2.1"));
    // RFC 7553 §4.4: priority, weight, then the target as a quoted string.
    EXPECT_TRUE(contains(
        t, "_dns._tcp.agent.p1.example. 60 IN URI 10 10 \"dns://dns.agent.p1.example:5399/\""));
    // RFC 9460 §2.1: ServiceMode, target "." (the owner itself).
    EXPECT_TRUE(contains(t, "dns.agent.p1.example. 60 IN SVCB 1 . ipv4hint=192.0.2.1"));
    EXPECT_EQ(rdatas(out, N("dns.agent.p1.example."), dns::rr_type::KEY),
              std::vector<std::vector<uint8_t>>{sig0.rdata()});
    // Without an API nothing of it is published.
    EXPECT_TRUE(rdatas(out, N("_https._tcp.agent.p1.example."), dns::rr_type::URI).empty());
    for (const auto& line : t)
        EXPECT_EQ(line.find(" TLSA "), std::string::npos) << line;
}

TEST_F(IdentityRecords, SvcbWireMatchesRfc9460Encoding) {
    auto out = identity_records(s, sig0, std::nullopt, zones, 1);
    // RFC 9460 Appendix D.2: SvcPriority 1, TargetName root, then key 4 (ipv4hint) with
    // length 4 and 192.0.2.1, as in the vector "... ipv4hint=192.0.2.1".
    const std::vector<uint8_t> expected{0x00, 0x01, 0x00, 0x00, 0x04, 0x00,
                                        0x04, 0xc0, 0x00, 0x02, 0x01};
    EXPECT_EQ(rdatas(out, N("dns.agent.p1.example."), dns::rr_type::SVCB),
              std::vector<std::vector<uint8_t>>{expected});
    // Both families: ipv4hint (4) before ipv6hint (6), as §2.2 requires.
    s.dns.addresses = {ip("2001:db8::1"), ip("192.0.2.1")};
    out = identity_records(s, sig0, std::nullopt, zones, 1);
    const std::vector<uint8_t> both{0x00, 0x01, 0x00, 0x00, 0x04, 0x00, 0x04, 0xc0,
                                    0x00, 0x02, 0x01, 0x00, 0x06, 0x00, 0x10, 0x20,
                                    0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00,
                                    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01};
    EXPECT_EQ(rdatas(out, N("dns.agent.p1.example."), dns::rr_type::SVCB),
              std::vector<std::vector<uint8_t>>{both});
    EXPECT_TRUE(contains(texts(out),
                         "dns.agent.p1.example. 60 IN SVCB 1 . ipv4hint=192.0.2.1 "
                         "ipv6hint=2001:db8::1"));
}

TEST_F(IdentityRecords, URIWireIsPriorityWeightTarget) {
    auto out = identity_records(s, sig0, std::nullopt, zones, 1);
    std::vector<uint8_t> expected{0, 10, 0, 10};
    std::string target = "dns://dns.agent.p1.example:5399/";
    expected.insert(expected.end(), target.begin(), target.end());
    EXPECT_EQ(rdatas(out, N("_dns._tcp.agent.p1.example."), dns::rr_type::URI),
              std::vector<std::vector<uint8_t>>{expected});
}

TEST_F(IdentityRecords, PerZoneKeysAndProviderNameservers) {
    s.provider_nameservers = {N("ns1.provider.example."), N("ns2.provider.example.")};
    auto out = identity_records(s, sig0, std::nullopt, zones, 1);
    auto t = texts(out);
    const auto& a = zones[0];
    EXPECT_EQ(rdatas(out, N("example.com.agent.p1.example."), dns::rr_type::DNSKEY), a.dnskeys);
    EXPECT_EQ(rdatas(out, N("example.com.agent.p1.example."), dns::rr_type::CDS), a.cds);
    EXPECT_EQ(rdatas(out, N("example.net.agent.p1.example."), dns::rr_type::DNSKEY),
              zones[1].dnskeys);
    EXPECT_EQ(rdatas(out, N("example.net.agent.p1.example."), dns::rr_type::CDS), zones[1].cds);
    for (const char* zone : {"example.com.", "example.net."}) {
        std::string owner = std::string("_ns.") + zone + "agent.p1.example.";
        EXPECT_TRUE(contains(t, owner + " 60 IN PTR ns1.provider.example.")) << owner;
        EXPECT_TRUE(contains(t, owner + " 60 IN PTR ns2.provider.example.")) << owner;
    }
    // No NS below the apex: it would be a zone cut.
    for (size_t i = 0; i < out.size(); ++i)
        if (out[i].type == dns::rr_type::NS) {
            EXPECT_EQ(out[i].owner_name(), N("agent.p1.example."));
        }
    // CDS text: key tag, algorithm 13, digest type 2 (RFC 4509), the SHA-256 digest.
    auto cds = dnssec::make_ds(ksk_a, 2, 60, dns::rr_type::CDS);
    EXPECT_TRUE(contains(t, "example.com.agent.p1.example. 60 IN CDS " +
                                std::to_string(ksk_a.tag()) + " 13 2 " +
                                hex_of(std::span(cds.rdata).subspan(4))))
        << ::testing::PrintToString(t);
}

TEST_F(IdentityRecords, ApiRecordsWithTlsa) {
    s.api = transport_endpoint{N("api.agent.p1.example."), {ip("192.0.2.2")}, 8443};
    auto digest = digest_of(0xa0);
    auto out = identity_records(s, sig0, digest, zones, 1);
    auto t = texts(out);
    EXPECT_TRUE(contains(
        t, "_https._tcp.agent.p1.example. 60 IN URI 10 10 \"https://api.agent.p1.example:8443/\""))
        << ::testing::PrintToString(t);
    EXPECT_TRUE(contains(t, "api.agent.p1.example. 60 IN SVCB 1 . ipv4hint=192.0.2.2"));
    // RFC 6698 §2.2: usage, selector, matching type, the association data in hex.
    EXPECT_TRUE(contains(t, "_8443._tcp.api.agent.p1.example. 60 IN TLSA 3 1 1 " + hex_of(digest)))
        << ::testing::PrintToString(t);
    std::vector<uint8_t> tlsa{3, 1, 1};
    tlsa.insert(tlsa.end(), digest.begin(), digest.end());
    EXPECT_EQ(rdatas(out, N("_8443._tcp.api.agent.p1.example."), dns::rr_type::TLSA),
              std::vector<std::vector<uint8_t>>{tlsa});
}

TEST_F(IdentityRecords, ApiOnTheDnsTargetSharesItsSvcb) {
    s.api = transport_endpoint{s.dns.target, s.dns.addresses, 443};
    auto out = identity_records(s, sig0, digest_of(1), zones, 1);
    EXPECT_EQ(rdatas(out, s.dns.target, dns::rr_type::SVCB).size(), 1u);
    EXPECT_EQ(rdatas(out, N("_443._tcp.dns.agent.p1.example."), dns::rr_type::TLSA).size(), 1u);
}

TEST_F(IdentityRecords, ApiWithoutTlsDigestThrows) {
    s.api = transport_endpoint{N("api.agent.p1.example."), {ip("192.0.2.2")}, 8443};
    EXPECT_THROW(identity_records(s, sig0, std::nullopt, zones, 1), std::invalid_argument);
}

TEST_F(IdentityRecords, WithdrawnKeyIsNotPublished) {
    s.publish_key = false;
    auto out = identity_records(s, sig0, std::nullopt, zones, 1);
    for (size_t i = 0; i < out.size(); ++i)
        EXPECT_NE(out[i].type, dns::rr_type::KEY);
    // The rest of the DNS transport stays.
    EXPECT_EQ(rdatas(out, N("_dns._tcp.agent.p1.example."), dns::rr_type::URI).size(), 1u);
    EXPECT_EQ(rdatas(out, N("dns.agent.p1.example."), dns::rr_type::SVCB).size(), 1u);
}

TEST_F(IdentityRecords, GlueOnlyInsideTheZone) {
    s.nameservers.push_back({N("ns.elsewhere.example."), {ip("198.51.100.1")}});
    s.nameservers.push_back({N("ns6.agent.p1.example."), {ip("2001:db8::53")}});
    auto t = texts(identity_records(s, sig0, std::nullopt, zones, 1));
    EXPECT_TRUE(contains(t, "agent.p1.example. 60 IN NS ns.elsewhere.example."));
    EXPECT_TRUE(contains(t, "ns6.agent.p1.example. 60 IN AAAA 2001:db8::53"));
    for (const auto& line : t)
        EXPECT_EQ(line.find("198.51.100.1"), std::string::npos) << line;
}

TEST_F(IdentityRecords, SortedInCanonicalOrderWithoutDuplicates) {
    s.api = transport_endpoint{N("api.agent.p1.example."), {ip("192.0.2.2")}, 8443};
    // The same provider nameserver twice, and the same zone twice, give each record once.
    s.provider_nameservers = {N("ns1.provider.example."), N("ns1.provider.example.")};
    zones.push_back(zones[0]);
    auto out = identity_records(s, sig0, digest_of(7), zones, 1);
    auto copy = out;
    EXPECT_EQ(copy.sort(), 0u);
    EXPECT_EQ(texts(copy), texts(out));
    std::set<std::string> unique;
    for (const auto& line : texts(out))
        EXPECT_TRUE(unique.insert(line).second) << "twice: " << line;
    // Owners in RFC 4034 §6.1 order, written out: labels compared from the right, "_"
    // (0x5f) before letters, "net" before "ns".
    std::vector<std::string> owners;
    for (size_t i = 0; i < out.size(); ++i) {
        std::string o = out[i].owner_name().to_text();
        if (owners.empty() || owners.back() != o) owners.push_back(o);
    }
    EXPECT_EQ(owners, (std::vector<std::string>{
                          "agent.p1.example.",
                          "_dns._tcp.agent.p1.example.",
                          "_https._tcp.agent.p1.example.",
                          "api.agent.p1.example.",
                          "_8443._tcp.api.agent.p1.example.",
                          "example.com.agent.p1.example.",
                          "_ns.example.com.agent.p1.example.",
                          "dns.agent.p1.example.",
                          "example.net.agent.p1.example.",
                          "_ns.example.net.agent.p1.example.",
                          "ns.agent.p1.example.",
                      }));
    // Apex: NS (2) before SOA (6); at the DNS target KEY (25) before SVCB (64).
    EXPECT_EQ(out[0].type, dns::rr_type::NS);
    EXPECT_EQ(out[1].type, dns::rr_type::SOA);
    auto at_target = [&] {
        std::vector<uint16_t> types;
        for (size_t i = 0; i < out.size(); ++i)
            if (out[i].owner_name() == N("dns.agent.p1.example.")) types.push_back(out[i].type);
        return types;
    }();
    EXPECT_EQ(at_target, (std::vector<uint16_t>{dns::rr_type::KEY, dns::rr_type::SVCB}));
}

TEST_F(IdentityRecords, EveryRecordHasTheZoneTtlAndIsInTheZone) {
    s.api = transport_endpoint{N("api.agent.p1.example."), {ip("192.0.2.2")}, 8443};
    auto out = identity_records(s, sig0, digest_of(7), zones, 1);
    ASSERT_GT(out.size(), 10u);
    for (size_t i = 0; i < out.size(); ++i) {
        EXPECT_EQ(out[i].ttl, 60u);
        EXPECT_EQ(out[i].rclass, dns::rr_class::IN);
        EXPECT_TRUE(out[i].owner_name().is_subdomain_of(N("agent.p1.example.")));
    }
}

// --- own_keys --------------------------------------------------------------------------

dns::record_store load(const std::string& text, const dns::name& origin) {
    dns::record_store store;
    size_t errors = dns::zone_reader::from_memory(text, origin)
                        .read([&](const dns::rr& r) { store.add(r); },
                              [](const dns::zone_error& e) { ADD_FAILURE() << e.to_text(); });
    EXPECT_EQ(errors, 0u);
    store.sort();
    return store;
}

class OwnKeys : public ::testing::Test {
  protected:
    dns::name origin = N("example.com.");
    dnssec::key ksk = dnssec::key::generate(origin, ecdsa, dnssec::key_role::ksk);
    dnssec::key zsk = dnssec::key::generate(origin, ecdsa, dnssec::key_role::zsk);
    // Another provider's keys: in the DNSKEY RRset, but they sign nothing here.
    dnssec::key their_ksk = dnssec::key::generate(origin, ecdsa, dnssec::key_role::ksk);
    dnssec::key their_zsk = dnssec::key::generate(origin, ecdsa, dnssec::key_role::zsk);

    dns::record_store unsigned_zone() {
        auto z = load(
            "$TTL 300\n"
            "@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n"
            "@ IN NS ns1\n"
            "ns1 IN A 192.0.2.53\n"
            "www IN A 192.0.2.80\n",
            origin);
        z.add(their_ksk.to_rr(300));
        z.add(their_zsk.to_rr(300));
        z.sort();
        return z;
    }

    dns::record_store signed_zone() {
        dns::record_store out;
        dnssec::sign_options opt;
        opt.now = t0;
        opt.threads = 1;
        std::vector<dnssec::key> keys{ksk, zsk};
        dnssec::sign_zone(unsigned_zone(), origin, keys, opt,
                          [&](const dns::record_view& v) { out.add(v); });
        out.sort();
        return out;
    }
};

TEST_F(OwnKeys, OnlyTheKeysThatSignAndTheCdsOfTheKsk) {
    zone::zone_data data(signed_zone(), origin);
    ASSERT_TRUE(data.is_signed());
    // The zone's DNSKEY RRset holds all four keys.
    auto apex = data.find(origin);
    auto range = data.rrset(apex, dns::rr_type::DNSKEY);
    ASSERT_EQ(range.size(), 4u);

    auto keys = own_keys(data);
    EXPECT_EQ(keys.zone, origin);
    std::vector<std::vector<uint8_t>> expected{ksk.rdata(), zsk.rdata()};
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(keys.dnskeys, expected);
    ASSERT_EQ(keys.cds.size(), 1u);
    EXPECT_EQ(keys.cds[0], dnssec::make_cds(ksk, 2, 300).rdata);
    // RFC 4509 / RFC 7344: key tag, algorithm, digest type 2, 32 octets of SHA-256.
    ASSERT_EQ(keys.cds[0].size(), 4u + 32u);
    EXPECT_EQ(keys.cds[0][0] << 8 | keys.cds[0][1], ksk.tag());
    EXPECT_EQ(keys.cds[0][2], ecdsa);
    EXPECT_EQ(keys.cds[0][3], 2);
}

TEST_F(OwnKeys, UnsignedZoneHasNone) {
    zone::zone_data data(unsigned_zone(), origin);
    ASSERT_FALSE(data.is_signed());
    auto keys = own_keys(data);
    EXPECT_EQ(keys.zone, origin);
    EXPECT_TRUE(keys.dnskeys.empty());
    EXPECT_TRUE(keys.cds.empty());
}

// --- parse_uri_target ------------------------------------------------------------------

TEST(AgentUriTarget, Good) {
    auto d = parse_uri_target("dns://dns.example:5399/");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->scheme, "dns");
    EXPECT_EQ(d->host, N("dns.example."));
    EXPECT_EQ(d->port, 5399);
    EXPECT_EQ(d->path, "/");

    auto h = parse_uri_target("https://api.example:8443/hsync");
    ASSERT_TRUE(h);
    EXPECT_EQ(h->scheme, "https");
    EXPECT_EQ(h->host, N("api.example."));
    EXPECT_EQ(h->port, 8443);
    EXPECT_EQ(h->path, "/hsync");

    auto p53 = parse_uri_target("dns://x.example/");
    ASSERT_TRUE(p53);
    EXPECT_EQ(p53->port, 53);
    EXPECT_EQ(p53->path, "/");

    auto p443 = parse_uri_target("https://x.example");
    ASSERT_TRUE(p443);
    EXPECT_EQ(p443->port, 443);
    EXPECT_EQ(p443->path, "/");

    // Scheme and host are case-insensitive (RFC 3986 §3.1, §3.2.2); a trailing dot is fine.
    auto upper = parse_uri_target("HTTPS://X.EXAMPLE./");
    ASSERT_TRUE(upper);
    EXPECT_EQ(upper->scheme, "https");
    EXPECT_EQ(upper->host.to_text(), "x.example.");
    EXPECT_EQ(upper->port, 443);

    auto top = parse_uri_target("dns://x.example:65535/");
    ASSERT_TRUE(top);
    EXPECT_EQ(top->port, 65535);
}

TEST(AgentUriTarget, Bad) {
    for (const char* text : {
             "",
             "dns.example:5399/",
             "://dns.example:5399/",
             "dns://",
             "dns:///",
             "dns://:5399/",
             "dns://dns.example:0/",
             "dns://dns.example:70000/",
             "dns://dns.example:65536/",
             "dns://dns.example:x/",
             "dns://dns.example:/",
             "dns://dns.example:-1/",
             "dns://dns.example:+53/",
             "dns://[::1]/",
             "dns://[::1]:53/",
             "dns://dns example/",
             "dns://dns.example :53/",
             "dns://dns.example: 53/",
             "dns://user@dns.example/",
             "dns://dns..example/",
         })
        EXPECT_FALSE(parse_uri_target(text)) << '"' << text << '"';
}

TEST(AgentUriTarget, HostIsAHostName) {
    // HOST is a host name: not the root, no colon (an unbracketed IPv6 literal or a second
    // port), no control characters, no query or fragment.
    for (const char* text : {
             "dns://./",
             "dns://x.example:53:53/",
             "dns://2001:db8::1/",
             "dns://x.example\t/",
             "dns://x.example\n/",
             "dns://x.example?q/",
             "dns://x.example#f",
         }) {
        auto t = parse_uri_target(text);
        EXPECT_FALSE(t) << '"' << text << "\" read as host " << (t ? t->host.to_text() : "")
                        << " port " << (t ? t->port : 0);
    }
}

// --- uri_rdata_target, svcb_addresses, tlsa_311 ----------------------------------------

TEST(AgentUriRdata, Target) {
    std::vector<uint8_t> rdata{0, 10, 0, 1, 'd', 'n', 's', ':', '/', '/', 'x', '/'};
    EXPECT_EQ(uri_rdata_target(rdata), "dns://x/");
    EXPECT_FALSE(uri_rdata_target(std::vector<uint8_t>{}));
    EXPECT_FALSE(uri_rdata_target(std::vector<uint8_t>{0, 10, 0}));
    // RFC 7553 §4.5: the target is not empty.
    EXPECT_FALSE(uri_rdata_target(std::vector<uint8_t>{0, 10, 0, 10}));
    EXPECT_EQ(uri_rdata_target(std::vector<uint8_t>{0, 10, 0, 10, 'a'}), "a");
}

TEST(AgentSvcb, ServiceModeHints) {
    // 1 . ipv4hint=192.0.2.1,198.51.100.2 ipv6hint=2001:db8::1
    std::vector<uint8_t> rdata{0x00, 0x01, 0x00, 0x00, 0x04, 0x00, 0x08, 192,  0,    2,    1,   198,
                               51,   100,  2,    0x00, 0x06, 0x00, 0x10, 0x20, 0x01, 0x0d, 0xb8};
    rdata.insert(rdata.end(), 11, 0);
    rdata.push_back(1);
    dns::name target = N("junk.");
    auto a = svcb_addresses(rdata, &target);
    ASSERT_TRUE(a);
    EXPECT_EQ(*a, (std::vector<net::asio::ip::address>{ip("192.0.2.1"), ip("198.51.100.2"),
                                                       ip("2001:db8::1")}));
    EXPECT_TRUE(target.is_root());
    // Unknown keys are skipped (port: the URI's port wins, protocol.md §5).
    std::vector<uint8_t> with_port{0x00, 0x01, 0x00, 0x00, 0x03, 0x00, 0x02, 0x14, 0xe9,
                                   0x00, 0x04, 0x00, 0x04, 192,  0,    2,    9};
    EXPECT_EQ(svcb_addresses(with_port), (std::vector<net::asio::ip::address>{ip("192.0.2.9")}));
    // No hints: ServiceMode still, and no address.
    auto none = svcb_addresses(std::vector<uint8_t>{0x00, 0x01, 0x00});
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->empty());
}

TEST(AgentSvcb, Rfc9460AppendixDVectors) {
    // D.2, Figure 6: example.com. SVCB 1 foo.example.com. ipv6hint=2001:db8::1,2001:db8::53:1
    const std::vector<uint8_t> v6{0x00, 0x01, 0x03, 'f',  'o',  'o',  0x07, 'e',  'x',  'a',  'm',
                                  'p',  'l',  'e',  0x03, 'c',  'o',  'm',  0x00, 0x00, 0x06, 0x00,
                                  0x20, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                  0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8, 0x00,
                                  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x53, 0x00, 0x01};
    dns::name target;
    auto a = svcb_addresses(v6, &target);
    ASSERT_TRUE(a);
    EXPECT_EQ(target, N("foo.example.com."));
    EXPECT_EQ(*a, (std::vector<net::asio::ip::address>{ip("2001:db8::1"), ip("2001:db8::53:1")}));

    // D.2, Figure 8: example.com. SVCB 16 foo.example.org. (alpn=h2,h3-19
    //   mandatory=ipv4hint,alpn ipv4hint=192.0.2.1)
    const std::vector<uint8_t> mixed{0x00, 0x10, 0x03, 'f',  'o',  'o',  0x07, 'e',  'x',  'a',
                                     'm',  'p',  'l',  'e',  0x03, 'o',  'r',  'g',  0x00, 0x00,
                                     0x00, 0x00, 0x04, 0x00, 0x01, 0x00, 0x04, 0x00, 0x01, 0x00,
                                     0x09, 0x02, 'h',  '2',  0x05, 'h',  '3',  '-',  '1',  '9',
                                     0x00, 0x04, 0x00, 0x04, 0xc0, 0x00, 0x02, 0x01};
    auto m = svcb_addresses(mixed, &target);
    ASSERT_TRUE(m);
    EXPECT_EQ(target, N("foo.example.org."));
    EXPECT_EQ(*m, (std::vector<net::asio::ip::address>{ip("192.0.2.1")}));

    // D.1, Figure 2: example.com. HTTPS 0 foo.example.com. (AliasMode).
    const std::vector<uint8_t> alias{0x00, 0x00, 0x03, 'f', 'o',  'o', 0x07, 'e', 'x', 'a',
                                     'm',  'p',  'l',  'e', 0x03, 'c', 'o',  'm', 0x00};
    EXPECT_FALSE(svcb_addresses(alias, &target));
    EXPECT_EQ(target, N("foo.example.com."));
}

TEST(AgentSvcb, Malformed) {
    const std::vector<uint8_t> good{0x00, 0x01, 0x00, 0x00, 0x04, 0x00, 0x04, 192, 0, 2, 1};
    ASSERT_TRUE(svcb_addresses(good));
    // Every truncation of a good record is bad (a cut inside the priority, the name, a
    // key, a length or a value).
    for (size_t n = 0; n < good.size(); ++n) {
        if (n == 3) continue;  // "1 ." with no parameters is complete
        EXPECT_FALSE(svcb_addresses(std::span(good).first(n))) << n << " octets";
    }
    // ipv4hint of 5 octets, ipv6hint of 15.
    EXPECT_FALSE(svcb_addresses(
        std::vector<uint8_t>{0x00, 0x01, 0x00, 0x00, 0x04, 0x00, 0x05, 192, 0, 2, 1, 9}));
    std::vector<uint8_t> v6{0x00, 0x01, 0x00, 0x00, 0x06, 0x00, 0x0f};
    v6.insert(v6.end(), 15, 1);
    EXPECT_FALSE(svcb_addresses(v6));
    // AliasMode with hints is still AliasMode.
    EXPECT_FALSE(svcb_addresses(
        std::vector<uint8_t>{0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x04, 192, 0, 2, 1}));
    // A compression pointer has no place in SVCB RDATA (RFC 9460 §2.2).
    EXPECT_FALSE(svcb_addresses(
        std::vector<uint8_t>{0x00, 0x01, 0xc0, 0x0c, 0x00, 0x04, 0x00, 0x04, 192, 0, 2, 1}));
}

TEST(AgentSvcb, KeysOutOfOrderAreMalformed) {
    // RFC 9460 §2.2: keys strictly increasing, else the RR is malformed (which also rules
    // out a key given twice).
    std::vector<uint8_t> v6_then_v4{
        0x00, 0x01, 0x00, 0x00, 0x06, 0x00, 0x10, 0x20, 0x01, 0x0d, 0xb8, 0,   0, 0, 0, 0,
        0,    0,    0,    0,    0,    0,    1,    0x00, 0x04, 0x00, 0x04, 192, 0, 2, 1};
    EXPECT_FALSE(svcb_addresses(v6_then_v4));
    std::vector<uint8_t> v4_twice{0x00, 0x01, 0x00, 0x00, 0x04, 0x00, 0x04, 192, 0, 2,
                                  1,    0x00, 0x04, 0x00, 0x04, 192,  0,    2,   2};
    EXPECT_FALSE(svcb_addresses(v4_twice));
}

TEST(AgentSvcb, EmptyHintIsMalformed) {
    // RFC 9460 §7.3: "An empty list of addresses is invalid."
    EXPECT_FALSE(svcb_addresses(std::vector<uint8_t>{0x00, 0x01, 0x00, 0x00, 0x04, 0x00, 0x00}));
    EXPECT_FALSE(svcb_addresses(std::vector<uint8_t>{0x00, 0x01, 0x00, 0x00, 0x06, 0x00, 0x00}));
}

TEST(AgentTlsa, Only311WithSha256) {
    std::vector<uint8_t> rdata{3, 1, 1};
    auto d = digest_of(0x10);
    rdata.insert(rdata.end(), d.begin(), d.end());
    EXPECT_EQ(tlsa_311(rdata), d);
    for (size_t field = 0; field < 3; ++field)
        for (uint8_t v : {0, 2, 4, 255}) {
            auto other = rdata;
            if (v == other[field]) continue;
            other[field] = v;
            EXPECT_FALSE(tlsa_311(other)) << "field " << field << " = " << int(v);
        }
    auto longer = rdata;
    longer.push_back(0);
    EXPECT_FALSE(tlsa_311(longer));
    EXPECT_FALSE(tlsa_311(std::span(rdata).first(34)));
    EXPECT_FALSE(tlsa_311(std::span(rdata).first(3)));
    EXPECT_FALSE(tlsa_311(std::vector<uint8_t>{}));
    // 3 1 2 (SHA-512) of 64 octets is a valid TLSA, but not the one the draft names.
    std::vector<uint8_t> sha512{3, 1, 2};
    sha512.insert(sha512.end(), 64, 0xaa);
    EXPECT_FALSE(tlsa_311(sha512));
}

// --- discovered_peer --------------------------------------------------------------------

discovered_peer sample_peer(bool with_api) {
    discovered_peer p;
    p.dns.target = N("dns.agent.p2.example.");
    p.dns.port = 5399;
    p.dns.addresses = {ip("192.0.2.2"), ip("2001:db8::2")};
    p.key.owner = N("dns.agent.p2.example.");
    p.key.rdata = dnssec::key::generate(p.key.owner, ecdsa, dnssec::key_role::sig0).rdata();
    p.ttl = 3600;
    if (with_api) {
        p.api = transport_endpoint{N("api.agent.p2.example."), {ip("192.0.2.3")}, 8443};
        p.api_path = "/hsync/v1";
        p.tlsa = {digest_of(1), digest_of(2)};
    } else {
        p.api_error = "_https._tcp.agent.p2.example. URI: no such name";
    }
    return p;
}

void expect_same(const discovered_peer& a, const discovered_peer& b) {
    EXPECT_EQ(a.dns.target, b.dns.target);
    EXPECT_EQ(a.dns.port, b.dns.port);
    EXPECT_EQ(a.dns.addresses, b.dns.addresses);
    EXPECT_EQ(a.key.owner, b.key.owner);
    EXPECT_EQ(a.key.rdata, b.key.rdata);
    EXPECT_EQ(a.ttl, b.ttl);
    ASSERT_EQ(a.api.has_value(), b.api.has_value());
    if (a.api) {
        EXPECT_EQ(a.api->target, b.api->target);
        EXPECT_EQ(a.api->port, b.api->port);
        EXPECT_EQ(a.api->addresses, b.api->addresses);
    }
    EXPECT_EQ(a.api_path, b.api_path);
    EXPECT_EQ(a.tlsa, b.tlsa);
    EXPECT_EQ(a.api_error, b.api_error);
    EXPECT_EQ(a.fingerprint(), b.fingerprint());
}

TEST(AgentDiscoveredPeer, RoundTripWithoutApi) {
    auto p = sample_peer(false);
    auto text = p.to_text();
    EXPECT_EQ(text.rfind("hsync-discovered 1\n", 0), 0u) << text;
    auto back = discovered_peer::from_text(text);
    ASSERT_TRUE(back) << text;
    expect_same(p, *back);
    EXPECT_EQ(back->to_text(), text);
}

TEST(AgentDiscoveredPeer, RoundTripWithApi) {
    auto p = sample_peer(true);
    auto text = p.to_text();
    auto back = discovered_peer::from_text(text);
    ASSERT_TRUE(back) << text;
    expect_same(p, *back);
    EXPECT_EQ(back->to_text(), text);
}

TEST(AgentDiscoveredPeer, ApiErrorStaysOnOneLine) {
    auto p = sample_peer(false);
    p.api_error = "first\nsecond";
    auto back = discovered_peer::from_text(p.to_text());
    ASSERT_TRUE(back);
    EXPECT_EQ(back->api_error, "first second");
}

TEST(AgentDiscoveredPeer, BadText) {
    const std::string good = sample_peer(true).to_text();
    ASSERT_TRUE(discovered_peer::from_text(good));
    auto replace = [&](const std::string& from, const std::string& to) {
        std::string t = good;
        auto at = t.find(from);
        EXPECT_NE(at, std::string::npos) << from;
        if (at != std::string::npos) t.replace(at, from.size(), to);
        return t;
    };
    auto drop_lines = [&](const std::string& prefix) {
        std::string out;
        size_t pos = 0;
        while (pos < good.size()) {
            size_t end = good.find('\n', pos);
            std::string line = good.substr(pos, end - pos + 1);
            if (line.rfind(prefix, 0) != 0) out += line;
            pos = end + 1;
        }
        return out;
    };
    const std::string tlsa_line = "tlsa=" + hex_of(digest_of(1));
    std::string lower_tlsa = tlsa_line;
    std::transform(lower_tlsa.begin(), lower_tlsa.end(), lower_tlsa.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const auto& [what, text] : std::vector<std::pair<std::string, std::string>>{
             {"empty", ""},
             {"garbage", "\x01\x02garbage\xff"},
             {"header only", "hsync-discovered 1\n"},
             {"no header", good.substr(good.find('\n') + 1)},
             {"other version", replace("hsync-discovered 1", "hsync-discovered 2")},
             {"line without =", replace("ttl=3600", "ttl 3600")},
             {"bad port", replace("dns-port=5399", "dns-port=x")},
             {"bad ttl", replace("ttl=3600", "ttl=-1")},
             {"bad address", replace("dns-address=192.0.2.2", "dns-address=192.0.2")},
             {"bad target", replace("dns-target=dns.agent.p2.example.", "dns-target=a..b.")},
             {"odd hex key", good.substr(0, good.find("\nttl=")) + "0\nttl=3600\n"},
             {"bad hex key", replace("key=", "key=zz")},
             {"no key", drop_lines("key=")},
             {"no address", drop_lines("dns-address=")},
             {"short tlsa", replace(lower_tlsa, lower_tlsa.substr(0, lower_tlsa.size() - 2))},
             {"long tlsa", replace(lower_tlsa, lower_tlsa + "00")},
             {"bad tlsa hex", replace(lower_tlsa, "tlsa=" + std::string(64, 'g'))},
         })
        EXPECT_FALSE(discovered_peer::from_text(text)) << what << ":\n" << text;
}

TEST(AgentDiscoveredPeer, NumbersOutOfRange) {
    // A stored port above 65535 or a TTL above 2^32-1 is corrupt text, not a value.
    const auto good = sample_peer(true).to_text();
    for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
             {"dns-port=5399", "dns-port=70000"},
             {"api-port=8443", "api-port=65536"},
             {"ttl=3600", "ttl=4294967296"},
         }) {
        auto text = good;
        text.replace(text.find(from), from.size(), to);
        auto back = discovered_peer::from_text(text);
        EXPECT_FALSE(back) << to << " read as dns-port " << (back ? back->dns.port : 0)
                           << ", api-port " << (back && back->api ? back->api->port : 0) << ", ttl "
                           << (back ? back->ttl : 0);
    }
}

TEST(AgentDiscoveredPeer, Fingerprint) {
    auto p = sample_peer(true);
    const auto base = p.fingerprint();

    auto q = p;
    q.ttl = 60;
    q.api_error = "whatever";
    EXPECT_EQ(q.fingerprint(), base);

    q = p;
    q.dns.addresses[0] = ip("192.0.2.99");
    EXPECT_NE(q.fingerprint(), base);
    q = p;
    q.dns.addresses.push_back(ip("192.0.2.100"));
    EXPECT_NE(q.fingerprint(), base);
    q = p;
    q.dns.port = 5400;
    EXPECT_NE(q.fingerprint(), base);
    q = p;
    q.key.rdata = dnssec::key::generate(q.key.owner, ecdsa, dnssec::key_role::sig0).rdata();
    EXPECT_NE(q.fingerprint(), base);
    q = p;
    q.key.owner = N("other.agent.p2.example.");
    EXPECT_NE(q.fingerprint(), base);
    q = p;
    q.dns.target = N("dns2.agent.p2.example.");
    EXPECT_NE(q.fingerprint(), base);
}

}  // namespace
