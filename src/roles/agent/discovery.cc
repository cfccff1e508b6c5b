#include "roles/agent/discovery.h"

#include <algorithm>
#include <charconv>
#include <exception>
#include <sstream>

#include "dns/rdata.h"
#include "dns/text.h"

namespace hsync::agent {

namespace {

std::string hex(std::span<const uint8_t> bytes) {
    std::string out;
    dns::append_hex(out, bytes, false);
    return out;
}

// One lookup: the records of `type` at `qname`, or the failure in operator words.
struct lookup {
    std::vector<dns::rr> records;
    uint32_t ttl = 0;
    std::optional<discovery_failure> failure;
    std::string detail;
};

net::awaitable<lookup> look_up(net::resolver& resolver, const dns::name& qname, uint16_t type,
                               const char* type_name) {
    auto res = co_await resolver.resolve(qname, type);
    lookup out;
    std::string what = qname.to_text() + " " + type_name + ": ";
    switch (res.verdict) {
        case net::security::secure:
            if (res.nxdomain) {
                out.failure = discovery_failure::nxdomain;
                out.detail = what + "no such name";
            } else if (!res.havedata || res.records.empty()) {
                out.failure = discovery_failure::nodata;
                out.detail = what + "no record";
            } else {
                out.records = std::move(res.records);
                out.ttl = res.ttl;
            }
            break;
        case net::security::insecure:
            out.failure = discovery_failure::insecure;
            out.detail = what + "insecure (not DNSSEC-signed, or no chain of trust)";
            break;
        case net::security::bogus:
            out.failure = discovery_failure::bogus;
            out.detail = what + "bogus (" + res.reason + ")";
            break;
        case net::security::timeout:
            out.failure = discovery_failure::timeout;
            out.detail = what + "timeout";
            break;
        default:
            out.failure = discovery_failure::servfail;
            out.detail = what + net::to_string(res.verdict) +
                         (res.reason.empty() ? "" : " (" + res.reason + ")");
            break;
    }
    co_return out;
}

// URI then SVCB: the target, its port and addresses. Fills `fail` on failure.
net::awaitable<std::optional<std::pair<transport_endpoint, std::string>>> endpoint_of(
    net::resolver& resolver, const dns::name& uri_owner, const char* scheme, uint32_t& ttl,
    lookup& fail) {
    auto uri = co_await look_up(resolver, uri_owner, dns::rr_type::URI, "URI");
    if (uri.failure) {
        fail = std::move(uri);
        co_return std::nullopt;
    }
    ttl = std::min(ttl, uri.ttl);
    // The lowest priority, then the highest weight (RFC 7553 §4.2, as one target).
    std::sort(uri.records.begin(), uri.records.end(), [](const dns::rr& a, const dns::rr& b) {
        return std::tie(a.rdata[0], a.rdata[1], b.rdata[2], b.rdata[3]) <
               std::tie(b.rdata[0], b.rdata[1], a.rdata[2], a.rdata[3]);
    });
    std::optional<uri_target> target;
    for (const auto& r : uri.records) {
        auto text = uri_rdata_target(r.rdata);
        if (!text) continue;
        auto t = parse_uri_target(*text);
        if (t && t->scheme == scheme) {
            target = std::move(t);
            break;
        }
    }
    if (!target) {
        fail.failure = discovery_failure::nodata;
        fail.detail =
            uri_owner.to_text() + " URI: no usable \"" + scheme + "://HOST:PORT/\" target";
        co_return std::nullopt;
    }
    auto svcb = co_await look_up(resolver, target->host, dns::rr_type::SVCB, "SVCB");
    if (svcb.failure) {
        fail = std::move(svcb);
        co_return std::nullopt;
    }
    ttl = std::min(ttl, svcb.ttl);
    transport_endpoint e;
    e.target = target->host;
    e.port = target->port;
    for (const auto& r : svcb.records)
        if (auto addrs = svcb_addresses(r.rdata))
            for (const auto& a : *addrs)
                if (std::find(e.addresses.begin(), e.addresses.end(), a) == e.addresses.end())
                    e.addresses.push_back(a);
    if (e.addresses.empty()) {
        fail.failure = discovery_failure::nodata;
        fail.detail = target->host.to_text() + " SVCB: no ipv4hint or ipv6hint";
        co_return std::nullopt;
    }
    co_return std::make_pair(std::move(e), target->path);
}

}  // namespace

std::string discovered_peer::fingerprint() const {
    std::string out = dns.target.to_text() + " " + std::to_string(dns.port);
    for (const auto& a : dns.addresses)
        out += " " + a.to_string();
    out += " " + key.owner.to_text() + " " + hex(key.rdata);
    return out;
}

std::string discovered_peer::to_text() const {
    std::ostringstream o;
    o << "hsync-discovered 1\n";
    o << "dns-target=" << dns.target.to_text() << "\ndns-port=" << dns.port << "\n";
    for (const auto& a : dns.addresses)
        o << "dns-address=" << a.to_string() << "\n";
    o << "key-owner=" << key.owner.to_text() << "\nkey=" << hex(key.rdata) << "\n";
    o << "ttl=" << ttl << "\n";
    if (api) {
        o << "api-target=" << api->target.to_text() << "\napi-port=" << api->port << "\n";
        for (const auto& a : api->addresses)
            o << "api-address=" << a.to_string() << "\n";
        o << "api-path=" << api_path << "\n";
        for (const auto& d : tlsa)
            o << "tlsa=" << hex(d) << "\n";
    }
    std::string err = api_error;
    std::replace(err.begin(), err.end(), '\n', ' ');
    if (!err.empty()) o << "api-error=" << err << "\n";
    return o.str();
}

std::optional<discovered_peer> discovered_peer::from_text(std::string_view text) {
    discovered_peer p;
    transport_endpoint api;
    bool has_api = false, header = false;
    try {
        size_t pos = 0;
        while (pos < text.size()) {
            size_t end = text.find('\n', pos);
            if (end == std::string_view::npos) end = text.size();
            std::string_view line = text.substr(pos, end - pos);
            pos = end + 1;
            if (!header) {
                if (line != "hsync-discovered 1") return std::nullopt;
                header = true;
                continue;
            }
            auto eq = line.find('=');
            if (eq == std::string_view::npos) return std::nullopt;
            std::string key(line.substr(0, eq));
            std::string value(line.substr(eq + 1));
            auto number = [&](unsigned long max) {
                unsigned long v = 0;
                auto [e, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
                if (ec != std::errc{} || e != value.data() + value.size() || v > max)
                    throw std::invalid_argument(key);
                return v;
            };
            if (key == "dns-target")
                p.dns.target = dns::name::from_text(value);
            else if (key == "dns-port")
                p.dns.port = static_cast<uint16_t>(number(65535));
            else if (key == "dns-address")
                p.dns.addresses.push_back(net::asio::ip::make_address(value));
            else if (key == "key-owner")
                p.key.owner = dns::name::from_text(value);
            else if (key == "key")
                dns::parse_hex(value, p.key.rdata);
            else if (key == "ttl")
                p.ttl = static_cast<uint32_t>(number(UINT32_MAX));
            else if (key == "api-target") {
                api.target = dns::name::from_text(value);
                has_api = true;
            } else if (key == "api-port")
                api.port = static_cast<uint16_t>(number(65535));
            else if (key == "api-address")
                api.addresses.push_back(net::asio::ip::make_address(value));
            else if (key == "api-path")
                p.api_path = value;
            else if (key == "tlsa") {
                std::vector<uint8_t> d;
                dns::parse_hex(value, d);
                if (d.size() != 32) return std::nullopt;
                spki_digest s;
                std::copy(d.begin(), d.end(), s.begin());
                p.tlsa.push_back(s);
            } else if (key == "api-error")
                p.api_error = value;
        }
    } catch (const std::exception&) {
        return std::nullopt;
    }
    if (!header || p.key.rdata.empty() || p.dns.addresses.empty()) return std::nullopt;
    if (has_api) p.api = std::move(api);
    return p;
}

net::awaitable<discovery_outcome> discover(net::resolver& resolver, const dns::name& identity,
                                           bool want_api) {
    discovery_outcome out;
    discovered_peer p;
    p.ttl = UINT32_MAX;
    lookup fail;
    auto dns_owner = dns::name::from_text("_dns._tcp.").concat(identity);
    auto dns_end = co_await endpoint_of(resolver, dns_owner, "dns", p.ttl, fail);
    if (!dns_end) {
        out.failure = *fail.failure;
        out.detail = fail.detail;
        co_return out;
    }
    p.dns = std::move(dns_end->first);
    auto key = co_await look_up(resolver, p.dns.target, dns::rr_type::KEY, "KEY");
    if (key.failure) {
        out.failure = *key.failure;
        out.detail = key.detail;
        co_return out;
    }
    p.ttl = std::min(p.ttl, key.ttl);
    p.key.owner = p.dns.target;
    p.key.rdata = key.records.front().rdata;

    if (want_api) {
        uint32_t api_ttl = UINT32_MAX;
        lookup api_fail;
        auto api_owner = dns::name::from_text("_https._tcp.").concat(identity);
        auto api_end = co_await endpoint_of(resolver, api_owner, "https", api_ttl, api_fail);
        if (!api_end) {
            p.api_error = api_fail.detail;
        } else {
            auto tlsa_owner =
                dns::name::from_text("_" + std::to_string(api_end->first.port) + "._tcp.")
                    .concat(api_end->first.target);
            auto tlsa = co_await look_up(resolver, tlsa_owner, dns::rr_type::TLSA, "TLSA");
            if (tlsa.failure) {
                p.api_error = tlsa.detail;
            } else {
                for (const auto& r : tlsa.records)
                    if (auto d = tlsa_311(r.rdata)) p.tlsa.push_back(*d);
                if (p.tlsa.empty()) {
                    p.api_error = tlsa_owner.to_text() + " TLSA: no 3 1 1 record";
                } else {
                    p.api = std::move(api_end->first);
                    p.api_path = api_end->second;
                    p.ttl = std::min({p.ttl, api_ttl, tlsa.ttl});
                }
            }
        }
    }
    out.found = std::move(p);
    co_return out;
}

}  // namespace hsync::agent
