#include "dnssec/rrsig.h"

#include <algorithm>
#include <cstring>

#include "dns/error.h"
#include "dns/rdata.h"
#include "dns/wire.h"

namespace hsync::dnssec {
namespace {

// RDATA order of RFC 4034 §6.3: octet strings compared left-justified, shorter first.
bool rdata_less(std::span<const uint8_t> a, std::span<const uint8_t> b) {
    size_t n = std::min(a.size(), b.size());
    if (n)
        if (int c = std::memcmp(a.data(), b.data(), n)) return c < 0;
    return a.size() < b.size();
}

bool rdata_equal(std::span<const uint8_t> a, std::span<const uint8_t> b) {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

void put16(std::vector<uint8_t>& out, uint16_t v) {
    out.push_back(static_cast<uint8_t>(v >> 8));
    out.push_back(static_cast<uint8_t>(v));
}
void put32(std::vector<uint8_t>& out, uint32_t v) {
    put16(out, static_cast<uint16_t>(v >> 16));
    put16(out, static_cast<uint16_t>(v));
}

std::string time_text(uint32_t t) {
    std::string s;
    dns::append_time(s, t);
    return s;
}

verify_result fail(verify_status status, std::string reason) {
    return verify_result{status, std::move(reason)};
}

}  // namespace

rrsig_fields rrsig_fields::parse(std::span<const uint8_t> rdata) {
    dns::wire_reader r(rdata);
    rrsig_fields f;
    f.type_covered = r.u16();
    f.algorithm = r.u8();
    f.labels = r.u8();
    f.original_ttl = r.u32();
    f.expiration = r.u32();
    f.inception = r.u32();
    f.key_tag = r.u16();
    f.signer = r.read_name(false);  // never compressed (RFC 4034 §3.1.7)
    auto sig = r.bytes(r.remaining());
    f.signature.assign(sig.begin(), sig.end());
    return f;
}

void rrsig_fields::append_signed_prefix(std::vector<uint8_t>& out) const {
    put16(out, type_covered);
    out.push_back(algorithm);
    out.push_back(labels);
    put32(out, original_ttl);
    put32(out, expiration);
    put32(out, inception);
    put16(out, key_tag);
    auto canon = signer.canonical();
    auto s = canon.wire();
    out.insert(out.end(), s.begin(), s.end());
}

std::vector<uint8_t> rrsig_fields::to_wire() const {
    std::vector<uint8_t> out;
    out.reserve(18 + signer.wire_size() + signature.size());
    append_signed_prefix(out);
    out.insert(out.end(), signature.begin(), signature.end());
    return out;
}

uint16_t rrsig_type_covered(std::span<const uint8_t> rdata) {
    return rdata.size() < 2 ? 0 : static_cast<uint16_t>(rdata[0] << 8 | rdata[1]);
}

uint8_t rrsig_labels(const dns::name& owner) {
    size_t n = owner.label_count();
    if (owner.is_wildcard()) --n;
    return static_cast<uint8_t>(n);
}

bool serial_lt(uint32_t a, uint32_t b) {
    // RFC 1982 §3.2 with SERIAL_BITS = 32; the undefined midpoint counts as "not less".
    return a != b && static_cast<uint32_t>(b - a) < 0x80000000u;
}
bool serial_le(uint32_t a, uint32_t b) {
    return a == b || serial_lt(a, b);
}

void append_signed_data(const rrsig_fields& sig, const dns::name& owner, uint16_t rclass,
                        std::span<const std::span<const uint8_t>> rdata,
                        std::vector<uint8_t>& out) {
    sig.append_signed_prefix(out);

    // Owner: lower-cased; for a wildcard expansion "*." + the rightmost `labels` labels
    // (RFC 4035 §5.3.2).
    size_t count = owner.label_count();
    if (sig.labels > count) throw dns::wire_error("RRSIG labels field exceeds the owner's labels");
    std::vector<uint8_t> owner_wire;
    if (sig.labels < count) {
        auto suffix = owner.parent(count - sig.labels).canonical();
        owner_wire = {1, '*'};
        owner_wire.insert(owner_wire.end(), suffix.wire().begin(), suffix.wire().end());
    } else {
        auto c = owner.canonical();
        owner_wire.assign(c.wire().begin(), c.wire().end());
    }

    // Canonical RDATA, sorted, duplicates removed (RFC 4034 §6.2, §6.3).
    std::vector<uint8_t> canon;
    size_t total = 0;
    for (auto r : rdata)
        total += r.size();
    canon.reserve(total);
    std::vector<std::pair<size_t, size_t>> at;
    at.reserve(rdata.size());
    for (auto r : rdata) {
        size_t off = canon.size();
        canon.insert(canon.end(), r.begin(), r.end());
        dns::rdata_canonicalize(sig.type_covered, {canon.data() + off, r.size()});
        at.emplace_back(off, r.size());
    }
    std::vector<std::span<const uint8_t>> sorted;
    sorted.reserve(at.size());
    for (auto [off, len] : at)
        sorted.emplace_back(canon.data() + off, len);
    std::sort(sorted.begin(), sorted.end(), rdata_less);
    sorted.erase(std::unique(sorted.begin(), sorted.end(), rdata_equal), sorted.end());

    for (auto r : sorted) {
        if (r.size() > 0xffff) throw dns::wire_error("RDATA longer than 65535 octets");
        out.insert(out.end(), owner_wire.begin(), owner_wire.end());
        put16(out, sig.type_covered);
        put16(out, rclass);
        put32(out, sig.original_ttl);
        put16(out, static_cast<uint16_t>(r.size()));
        out.insert(out.end(), r.begin(), r.end());
    }
}

std::vector<uint8_t> make_rrsig(const key& k, const dns::name& owner, uint16_t type,
                                uint16_t rclass, uint32_t ttl,
                                std::span<const std::span<const uint8_t>> rdata, uint32_t inception,
                                uint32_t expiration) {
    rrsig_fields f;
    f.type_covered = type;
    f.algorithm = k.algorithm();
    f.labels = rrsig_labels(owner);
    f.original_ttl = ttl;
    f.expiration = expiration;
    f.inception = inception;
    f.key_tag = k.tag();
    f.signer = k.owner().canonical();
    std::vector<uint8_t> data;
    append_signed_data(f, owner, rclass, rdata, data);
    f.signature = k.sign(data);
    return f.to_wire();
}

dns::rr sign_rrset(const key& k, std::span<const dns::rr> rrset, uint32_t inception,
                   uint32_t expiration) {
    if (rrset.empty()) throw dnssec_error("cannot sign an empty RRset");
    std::vector<std::span<const uint8_t>> rdata;
    for (const auto& r : rrset)
        rdata.emplace_back(r.rdata);
    const auto& first = rrset.front();
    dns::rr out;
    out.owner = first.owner;
    out.type = dns::rr_type::RRSIG;
    out.rclass = first.rclass;
    out.ttl = first.ttl;
    out.rdata = make_rrsig(k, first.owner, first.type, first.rclass, first.ttl, rdata, inception,
                           expiration);
    return out;
}

verify_result verify_rrsig(std::span<const uint8_t> rrsig_rdata, const dns::name& owner,
                           uint16_t type, uint16_t rclass,
                           std::span<const std::span<const uint8_t>> rdata,
                           std::span<const key> keys, uint32_t now) {
    rrsig_fields f;
    try {
        f = rrsig_fields::parse(rrsig_rdata);
    } catch (const dns::dns_error& e) {
        return fail(verify_status::malformed, std::string("malformed RRSIG: ") + e.what());
    }
    std::string who =
        "RRSIG by key " + std::to_string(f.key_tag) + " algorithm " + std::to_string(f.algorithm);
    if (f.type_covered != type)
        return fail(verify_status::wrong_type, who + " covers " +
                                                   dns::type_to_text(f.type_covered) + ", not " +
                                                   dns::type_to_text(type));
    if (f.labels > owner.label_count())
        return fail(verify_status::bad_labels, who + ": labels field " + std::to_string(f.labels) +
                                                   " exceeds the owner's " +
                                                   std::to_string(owner.label_count()) + " labels");
    // RFC 4035 §5.3.1: the signer must be the zone, an ancestor of (or equal to) the owner.
    if (!owner.is_subdomain_of(f.signer))
        return fail(verify_status::wrong_signer,
                    who + ": signer " + f.signer.to_text() + " is not above the owner");
    if (serial_lt(f.expiration, f.inception))
        return fail(verify_status::bad_window, who + ": expiration " + time_text(f.expiration) +
                                                   " is before inception " +
                                                   time_text(f.inception));
    if (serial_lt(now, f.inception))
        return fail(verify_status::not_yet_valid,
                    who + ": signature not yet valid (inception " + time_text(f.inception) + ")");
    if (serial_lt(f.expiration, now))
        return fail(verify_status::expired,
                    who + ": signature expired (expiration " + time_text(f.expiration) + ")");

    std::vector<uint8_t> data;
    bool found = false, unsupported = false;
    for (const auto& k : keys) {
        if (k.tag() != f.key_tag || k.algorithm() != f.algorithm || !k.is_zone_key() ||
            k.protocol() != key_protocol || !(k.owner() == f.signer))
            continue;
        found = true;
        if (!algorithm_supported(k.algorithm())) {
            unsupported = true;
            continue;
        }
        if (data.empty()) {
            try {
                append_signed_data(f, owner, rclass, rdata, data);
            } catch (const dns::dns_error& e) {
                return fail(verify_status::malformed, who + ": " + e.what());
            }
        }
        try {
            if (k.verify(data, f.signature)) return {};
        } catch (const dnssec_error&) {
            unsupported = true;  // a DNSKEY whose public key is unusable
        }
    }
    if (!found) return fail(verify_status::no_key, who + ": no such key in the DNSKEY RRset");
    if (unsupported)
        return fail(verify_status::unsupported,
                    who + ": algorithm or key not usable for verification");
    return fail(verify_status::bad_signature, who + ": bad signature");
}

verify_result verify_rrsig(const dns::rr& rrsig, std::span<const dns::rr> rrset,
                           std::span<const key> keys, uint32_t now) {
    if (rrset.empty()) return fail(verify_status::wrong_type, "empty RRset");
    std::vector<std::span<const uint8_t>> rdata;
    for (const auto& r : rrset)
        rdata.emplace_back(r.rdata);
    return verify_rrsig(rrsig.rdata, rrset.front().owner, rrset.front().type, rrset.front().rclass,
                        rdata, keys, now);
}

}  // namespace hsync::dnssec
