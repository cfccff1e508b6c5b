// What an agent publishes about itself, and how it reads what others publish
// (docs/protocol.md §5, §6): the records of its identity zone as values, the own keys it
// takes from its signer's zone, and the URI/SVCB/TLSA readers discovery uses.
//
// Pure: no sockets, no clock. The role signs the records with the signer layer
// (signer::sign_full) and serves them with the engine.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dns/name.h"
#include "dns/record_store.h"
#include "dnssec/key.h"
#include "net/asio.h"
#include "zone/zone_data.h"

namespace hsync::agent {

using spki_digest = std::array<uint8_t, 32>;  // TLSA 3 1 1 association data

// Where a transport of the agent is reached: the URI target, its addresses (SVCB hints)
// and the port (in the URI only, as the draft says).
struct transport_endpoint {
    dns::name target;
    std::vector<net::asio::ip::address> addresses;
    uint16_t port = 0;
};

// A nameserver of the identity zone; its addresses become glue records when it is inside
// the zone.
struct identity_nameserver {
    dns::name name;
    std::vector<net::asio::ip::address> addresses;
};

struct identity_settings {
    dns::name identity;  // the zone apex, e.g. agent.p1.lab.
    uint32_t ttl = 300;  // every record's TTL (and the SOA's negative TTL)
    transport_endpoint dns;
    std::optional<transport_endpoint> api;  // with the REST API enabled
    std::vector<identity_nameserver> nameservers;
    // The provider's nameservers, published for every zone as PTR records at
    // _ns.<zone>.<identity> (an NS RRset there would be a delegation).
    std::vector<dns::name> provider_nameservers;
    // False takes the SIG(0) KEY out of the zone (a compromised key): peers then stop
    // trusting our messages until a new one is published.
    bool publish_key = true;
    // With the API: publish the TLSA of our certificate's key, and these digests too (the
    // next key's, ahead of a certificate rollover).
    bool publish_own_tlsa = true;
    std::vector<spki_digest> extra_tlsa;
};

// What the agent's signer uses for one zone, as published at <zone>.<identity>.
struct zone_keys {
    dns::name zone;
    std::vector<std::vector<uint8_t>> dnskeys;  // DNSKEY RDATA, sorted
    std::vector<std::vector<uint8_t>> cds;      // CDS RDATA (SHA-256) of the KSKs/CSKs, sorted
    friend bool operator==(const zone_keys&, const zone_keys&) = default;
};

// The signer's own keys in its signed zone: the DNSKEYs whose key tag and algorithm made
// an RRSIG in the zone (a signer signs only with its own keys; the keys of other providers
// are in the DNSKEY RRset but sign nothing here), with a CDS for each SEP key among them.
// Empty when the zone is not signed.
zone_keys own_keys(const zone::zone_data& signed_zone);

// The identity zone's records (SOA with `serial`, NS and glue, the URI/SVCB/KEY of the DNS
// transport, with the API its URI/SVCB/TLSA, and per zone DNSKEY and CDS at
// <zone>.<identity> and the provider's nameservers as PTR at _ns.<zone>.<identity>),
// unsigned and sorted. `tls` is required when settings.api is set.
dns::record_store identity_records(const identity_settings& settings, const dnssec::key& sig0_key,
                                   const std::optional<spki_digest>& tls,
                                   std::span<const zone_keys> zones, uint32_t serial);

// A URI record's target "dns://host:port/" or "https://host:port/path", read.
struct uri_target {
    std::string scheme;  // "dns", "https"
    dns::name host;
    uint16_t port = 0;
    std::string path;  // "/" when absent
};
// nullopt when the text is not SCHEME://HOST[:PORT][/PATH] with a valid host name. The
// port defaults to 53 for dns and 443 for https.
std::optional<uri_target> parse_uri_target(std::string_view text);
// The target string of URI RDATA (priority u16, weight u16, target); nullopt if too short.
std::optional<std::string> uri_rdata_target(std::span<const uint8_t> rdata);

// The addresses of SVCB RDATA in ServiceMode (ipv4hint, ipv6hint); the target name is
// returned in `target` ("." means the owner). nullopt for AliasMode or bad RDATA.
std::optional<std::vector<net::asio::ip::address>> svcb_addresses(std::span<const uint8_t> rdata,
                                                                  dns::name* target = nullptr);

// The association data of a TLSA 3 1 1 record; nullopt for any other usage, selector or
// matching type, or a digest that is not 32 octets.
std::optional<spki_digest> tlsa_311(std::span<const uint8_t> rdata);

}  // namespace hsync::agent
