#include "roles/agent/identity.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>
#include <utility>

#include "dns/error.h"
#include "dns/make_rr.h"
#include "dns/rdata.h"
#include "dns/wire.h"
#include "dnssec/ds.h"

namespace hsync::agent {

namespace {

void put16(std::vector<uint8_t>& out, uint16_t v) {
    dns::wire_writer(out).u16(v);
}

void put32(std::vector<uint8_t>& out, uint32_t v) {
    dns::wire_writer(out).u32(v);
}

// Uncompressed and lower-cased: the canonical form RRSIGs are made over.
void put_name(std::vector<uint8_t>& out, const dns::name& n) {
    dns::wire_writer(out).name(n.canonical(), false);
}

std::vector<uint8_t> name_rdata(const dns::name& n) {
    std::vector<uint8_t> out;
    put_name(out, n);
    return out;
}

// URI RDATA (RFC 7553): priority 10, weight 10, the target octets.
std::vector<uint8_t> uri_rdata(const std::string& target) {
    std::vector<uint8_t> out;
    put16(out, 10);
    put16(out, 10);
    out.insert(out.end(), target.begin(), target.end());
    return out;
}

// SVCB RDATA in ServiceMode (RFC 9460): priority 1, target "." (the owner), ipv4hint and
// ipv6hint (keys 4 and 6, in increasing order).
std::vector<uint8_t> svcb_rdata(const std::vector<net::asio::ip::address>& addresses) {
    std::vector<uint8_t> out;
    put16(out, 1);
    out.push_back(0);
    std::vector<uint8_t> v4, v6;
    for (const auto& a : addresses) {
        if (a.is_v4()) {
            auto b = a.to_v4().to_bytes();
            v4.insert(v4.end(), b.begin(), b.end());
        } else {
            auto b = a.to_v6().to_bytes();
            v6.insert(v6.end(), b.begin(), b.end());
        }
    }
    if (!v4.empty()) {
        put16(out, 4);
        put16(out, static_cast<uint16_t>(v4.size()));
        out.insert(out.end(), v4.begin(), v4.end());
    }
    if (!v6.empty()) {
        put16(out, 6);
        put16(out, static_cast<uint16_t>(v6.size()));
        out.insert(out.end(), v6.begin(), v6.end());
    }
    return out;
}

std::string host_text(const dns::name& n) {
    std::string t = n.to_text();
    if (t.size() > 1 && t.back() == '.') t.pop_back();
    return t;
}

}  // namespace

zone_keys own_keys(const zone::zone_data& signed_zone) {
    zone_keys out;
    out.zone = signed_zone.origin();
    auto apex = signed_zone.find(signed_zone.origin());
    if (apex == zone::zone_data::npos) return out;
    const auto& records = signed_zone.records();
    // Every (key tag, algorithm) that made a signature anywhere in the zone.
    std::set<std::pair<uint16_t, uint8_t>> signing;
    for (size_t i = 0; i < records.size(); ++i) {
        auto r = records[i];
        if (r.type != dns::rr_type::RRSIG || r.rdata.size() < 18) continue;
        signing.emplace(static_cast<uint16_t>(r.rdata[16] << 8 | r.rdata[17]), r.rdata[2]);
    }
    auto range = signed_zone.rrset(apex, dns::rr_type::DNSKEY);
    for (uint32_t i = range.first; i < range.end; ++i) {
        auto r = records[i];
        try {
            auto k = dnssec::key::from_rdata(out.zone, r.rdata);
            if (!signing.count({k.tag(), k.algorithm()})) continue;
            out.dnskeys.emplace_back(r.rdata.begin(), r.rdata.end());
            if (k.is_sep()) out.cds.push_back(dnssec::make_cds(k, 2, r.ttl).rdata);
        } catch (const dns::dns_error&) {
            // A DNSKEY we cannot read is not one our signer made.
        }
    }
    // rdata_less, not vector's <=>: g++ 12 with LTO warns on the latter's memcmp bound.
    std::sort(out.dnskeys.begin(), out.dnskeys.end(), dns::rdata_less());
    std::sort(out.cds.begin(), out.cds.end(), dns::rdata_less());
    return out;
}

dns::record_store identity_records(const identity_settings& s, const dnssec::key& sig0_key,
                                   const std::optional<spki_digest>& tls,
                                   std::span<const zone_keys> zones, uint32_t serial) {
    const dns::name& apex = s.identity;
    const uint32_t ttl = s.ttl;
    dns::record_store out;
    auto add = [&](const dns::name& owner, uint16_t type, std::vector<uint8_t> rdata) {
        out.add(dns::make_rr(owner.canonical(), type, ttl, std::move(rdata)));
    };
    auto child = [&](std::string_view label) {
        dns::name rel = dns::name::from_text(std::string(label) + ".");
        return rel.concat(apex);
    };

    // SOA: the first nameserver as MNAME; refresh/retry/expire only matter to secondaries.
    {
        std::vector<uint8_t> soa;
        put_name(soa, s.nameservers.empty() ? apex : s.nameservers.front().name);
        put_name(soa, child("hostmaster"));
        put32(soa, serial);
        put32(soa, 3600);
        put32(soa, 600);
        put32(soa, 14 * 86400);
        put32(soa, ttl);
        add(apex, dns::rr_type::SOA, std::move(soa));
    }
    for (const auto& ns : s.nameservers) {
        add(apex, dns::rr_type::NS, name_rdata(ns.name));
        if (!ns.name.is_subdomain_of(apex)) continue;
        for (const auto& a : ns.addresses) {
            if (a.is_v4()) {
                auto b = a.to_v4().to_bytes();
                add(ns.name, dns::rr_type::A, {b.begin(), b.end()});
            } else {
                auto b = a.to_v6().to_bytes();
                add(ns.name, dns::rr_type::AAAA, {b.begin(), b.end()});
            }
        }
    }

    // DNS transport: URI at _dns._tcp, SVCB and the SIG(0) KEY at the target.
    add(child("_dns._tcp"), dns::rr_type::URI,
        uri_rdata("dns://" + host_text(s.dns.target) + ":" + std::to_string(s.dns.port) + "/"));
    add(s.dns.target, dns::rr_type::SVCB, svcb_rdata(s.dns.addresses));
    if (s.publish_key) add(s.dns.target, dns::rr_type::KEY, sig0_key.rdata());

    if (s.api) {
        if (!tls) throw std::invalid_argument("the API is enabled but there is no TLS key");
        add(child("_https._tcp"), dns::rr_type::URI,
            uri_rdata("https://" + host_text(s.api->target) + ":" + std::to_string(s.api->port) +
                      "/"));
        if (!(s.api->target == s.dns.target))
            add(s.api->target, dns::rr_type::SVCB, svcb_rdata(s.api->addresses));
        auto port_label = dns::name::from_text("_" + std::to_string(s.api->port) + "._tcp.");
        auto tlsa_owner = port_label.concat(s.api->target);
        auto add_tlsa = [&](const spki_digest& d) {
            std::vector<uint8_t> tlsa{3, 1, 1};
            tlsa.insert(tlsa.end(), d.begin(), d.end());
            add(tlsa_owner, dns::rr_type::TLSA, std::move(tlsa));
        };
        if (s.publish_own_tlsa) add_tlsa(*tls);
        for (const auto& d : s.extra_tlsa)
            add_tlsa(d);
    }

    for (const auto& z : zones) {
        dns::name owner = z.zone.concat(apex);
        for (const auto& k : z.dnskeys)
            add(owner, dns::rr_type::DNSKEY, k);
        for (const auto& c : z.cds)
            add(owner, dns::rr_type::CDS, c);
        // NS at <zone>.<identity> would be a zone cut (resolvers follow it as a
        // referral), so the provider's nameservers are PTRs at _ns.<zone>.<identity>
        // (docs/protocol.md §6).
        dns::name ns_owner = dns::name::from_text("_ns.").concat(owner);
        for (const auto& ns : s.provider_nameservers)
            add(ns_owner, dns::rr_type::PTR, name_rdata(ns));
    }
    out.sort();
    return out;
}

std::optional<uri_target> parse_uri_target(std::string_view text) {
    auto sep = text.find("://");
    if (sep == std::string_view::npos || sep == 0) return std::nullopt;
    uri_target t;
    t.scheme = std::string(text.substr(0, sep));
    std::transform(t.scheme.begin(), t.scheme.end(), t.scheme.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string_view rest = text.substr(sep + 3);
    auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    t.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
    std::string_view host = authority;
    t.port = t.scheme == "https" ? 443 : 53;
    if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        auto port_text = authority.substr(colon + 1);
        unsigned port = 0;
        auto [end, ec] =
            std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
        if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 ||
            port > 65535)
            return std::nullopt;
        t.port = static_cast<uint16_t>(port);
    }
    // A host name (letters, digits, '-', '_' in dot-separated labels), not an address
    // literal or anything a URI parser might read otherwise.
    if (t.scheme.empty() || !std::isalpha(static_cast<unsigned char>(t.scheme[0])) ||
        t.scheme.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789+.-") != std::string::npos)
        return std::nullopt;
    if (host.empty() || host == "." || host.front() == '.' ||
        host.find("..") != std::string_view::npos ||
        host.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") !=
            std::string_view::npos)
        return std::nullopt;
    try {
        std::string absolute(host);
        if (absolute.back() != '.') absolute += '.';
        t.host = dns::name::from_text(absolute).canonical();
    } catch (const dns::dns_error&) {
        return std::nullopt;
    }
    return t;
}

std::optional<std::string> uri_rdata_target(std::span<const uint8_t> rdata) {
    if (rdata.size() < 5) return std::nullopt;
    return std::string(rdata.begin() + 4, rdata.end());
}

std::optional<std::vector<net::asio::ip::address>> svcb_addresses(std::span<const uint8_t> rdata,
                                                                  dns::name* target) {
    try {
        dns::wire_reader r(rdata);
        uint16_t priority = r.u16();
        dns::name t = r.read_name(false);
        if (target) *target = t;
        if (priority == 0) return std::nullopt;
        std::vector<net::asio::ip::address> out;
        int last_key = -1;
        while (r.remaining() > 0) {
            uint16_t key = r.u16();
            uint16_t length = r.u16();
            auto value = r.bytes(length);
            // RFC 9460 §2.2: keys strictly increasing; §7.3: an empty hint is invalid.
            if (static_cast<int>(key) <= last_key) return std::nullopt;
            last_key = key;
            if ((key == 4 || key == 6) && length == 0) return std::nullopt;
            if (key == 4) {
                if (length % 4) return std::nullopt;
                for (size_t i = 0; i < length; i += 4) {
                    net::asio::ip::address_v4::bytes_type b;
                    std::copy_n(value.begin() + i, 4, b.begin());
                    out.emplace_back(net::asio::ip::address_v4(b));
                }
            } else if (key == 6) {
                if (length % 16) return std::nullopt;
                for (size_t i = 0; i < length; i += 16) {
                    net::asio::ip::address_v6::bytes_type b;
                    std::copy_n(value.begin() + i, 16, b.begin());
                    out.emplace_back(net::asio::ip::address_v6(b));
                }
            }
        }
        return out;
    } catch (const dns::dns_error&) {
        return std::nullopt;
    }
}

std::optional<spki_digest> tlsa_311(std::span<const uint8_t> rdata) {
    if (rdata.size() != 3 + 32 || rdata[0] != 3 || rdata[1] != 1 || rdata[2] != 1)
        return std::nullopt;
    spki_digest d;
    std::copy(rdata.begin() + 3, rdata.end(), d.begin());
    return d;
}

}  // namespace hsync::agent
