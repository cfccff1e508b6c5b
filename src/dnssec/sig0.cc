// SIG(0) (RFC 2931): signing and verifying whole messages with a KEY-record key.
#include "dnssec/sig0.h"

#include "dns/wire.h"
#include "dnssec/tsig.h"

namespace hsync::dnssec {

namespace {

// SIG RDATA up to the signature: type covered, algorithm, labels, original TTL,
// expiration, inception, key tag (18 octets), then the signer name.
constexpr size_t fixed_prefix = 18;

uint32_t sig_time(int64_t t) {
    return rrsig_time(t);
}

// RFC 2931 §3.1: the data a SIG(0) signs (see sig0.h for how we read "full query").
std::vector<uint8_t> signed_data(std::span<const uint8_t> rdata_prefix,
                                 std::span<const uint8_t> request,
                                 std::span<const uint8_t> message) {
    std::vector<uint8_t> data;
    data.reserve(rdata_prefix.size() + request.size() + message.size());
    data.insert(data.end(), rdata_prefix.begin(), rdata_prefix.end());
    data.insert(data.end(), request.begin(), request.end());
    data.insert(data.end(), message.begin(), message.end());
    return data;
}

sig0_result fail(sig0_result r, sig0_status status, std::string reason) {
    r.status = status;
    r.reason = std::move(reason);
    return r;
}

}  // namespace

std::string_view sig0_status_text(sig0_status status) {
    switch (status) {
        case sig0_status::ok:
            return "ok";
        case sig0_status::no_signature:
            return "no SIG(0)";
        case sig0_status::malformed:
            return "malformed SIG(0)";
        case sig0_status::signer_mismatch:
            return "signer name mismatch";
        case sig0_status::key_mismatch:
            return "key tag/algorithm mismatch";
        case sig0_status::not_yet_valid:
            return "not yet valid";
        case sig0_status::expired:
            return "expired";
        case sig0_status::unusable_key:
            return "unusable key";
        case sig0_status::bad_signature:
            return "bad signature";
    }
    return "?";
}

void sig0_sign(std::vector<uint8_t>& wire, const dns::name& signer_name, uint16_t key_tag,
               const signer& s, uint32_t inception, uint32_t expiration,
               std::span<const uint8_t> request) {
    if (wire.size() < dns::header_size) throw dns::wire_error("message shorter than its header");
    rrsig_fields f;
    f.type_covered = 0;  // RFC 2931 §3: type covered, labels and original TTL are 0
    f.algorithm = s.algorithm();
    f.labels = 0;
    f.original_ttl = 0;
    f.expiration = expiration;
    f.inception = inception;
    f.key_tag = key_tag;
    f.signer = signer_name;
    std::vector<uint8_t> rdata = f.to_wire();  // no signature yet: exactly the prefix
    std::vector<uint8_t> sig = s.sign(signed_data(rdata, request, wire));
    rdata.insert(rdata.end(), sig.begin(), sig.end());
    // RFC 2931 §3: owner root, class ANY, TTL 0.
    dns::rr record{dns::name(), dns::rr_type::SIG, dns::rr_class::ANY, 0, std::move(rdata)};
    append_additional_record(wire, record);
}

void sig0_sign(std::vector<uint8_t>& wire, const key& k, int64_t now,
               std::span<const uint8_t> request, uint32_t before, uint32_t after) {
    if (!k.has_private())
        throw dnssec_error("SIG(0) key " + k.owner().to_text() + " has no private key");
    sig0_sign(wire, k.owner(), k.tag(), *k.private_key(), sig_time(now - before),
              sig_time(now + after), request);
}

std::vector<uint8_t> sig0_sign(const dns::message& m, const key& k, int64_t now,
                               std::span<const uint8_t> request) {
    dns::message copy = m;
    copy.tsig.reset();
    copy.sig0.reset();
    std::vector<uint8_t> wire;
    if (copy.to_wire(wire)) throw dns::wire_error("message too big to sign without truncation");
    sig0_sign(wire, k, now, request);
    return wire;
}

sig0_result sig0_verify(std::span<const uint8_t> wire, const dns::message& parsed, const key& k,
                        int64_t now, std::span<const uint8_t> request) {
    return sig0_verify(wire, parsed, k.owner(), k.rdata(), now, request);
}

sig0_result sig0_verify(std::span<const uint8_t> wire, const dns::message& parsed,
                        const dns::name& signer_name, std::span<const uint8_t> key_record,
                        int64_t now, std::span<const uint8_t> request) {
    sig0_result r;
    if (!parsed.sig0) {
        r.reason = "message is not signed with SIG(0)";
        return r;
    }
    const dns::rr& sig = *parsed.sig0;
    try {
        r.fields = rrsig_fields::parse(sig.rdata);
    } catch (const dns::wire_error& e) {
        return fail(r, sig0_status::malformed, std::string("malformed SIG(0) RDATA: ") + e.what());
    }
    const rrsig_fields& f = r.fields;
    if (f.labels != 0 || f.original_ttl != 0)
        return fail(r, sig0_status::malformed, "SIG(0) labels and original TTL must be 0");
    if (!(f.signer == signer_name))
        return fail(r, sig0_status::signer_mismatch,
                    "SIG(0) signer " + f.signer.to_text() + " is not " + signer_name.to_text());
    uint16_t tag = key_tag(key_record);
    key_rdata kr;
    try {
        kr = key_rdata::parse(key_record);
    } catch (const dns::wire_error& e) {
        return fail(r, sig0_status::unusable_key, std::string("KEY RDATA: ") + e.what());
    }
    if (f.key_tag != tag || f.algorithm != kr.algorithm)
        return fail(r, sig0_status::key_mismatch,
                    "SIG(0) names key " + std::to_string(f.key_tag) + " algorithm " +
                        std::to_string(f.algorithm) + ", the key is " + std::to_string(tag) +
                        " algorithm " + std::to_string(kr.algorithm));
    // Cheap checks before the crypto: a stale message costs no signature check.
    uint32_t t = sig_time(now);
    if (serial_lt(t, f.inception))
        return fail(r, sig0_status::not_yet_valid,
                    "SIG(0) not valid before " + std::to_string(f.inception) + " (now " +
                        std::to_string(t) + ")");
    if (serial_lt(f.expiration, t))
        return fail(r, sig0_status::expired,
                    "SIG(0) expired at " + std::to_string(f.expiration) + " (now " +
                        std::to_string(t) + ")");
    // The message as signed: bytes up to the SIG, ARCOUNT less one. The RDATA prefix is
    // taken as received (its signer name's case included), uncompressed.
    if (parsed.signature_offset < dns::header_size || parsed.signature_offset > wire.size() ||
        parsed.original_arcount == 0)
        return fail(r, sig0_status::malformed, "SIG(0) position does not match the message");
    std::vector<uint8_t> msg(wire.begin(),
                             wire.begin() + static_cast<ptrdiff_t>(parsed.signature_offset));
    uint16_t arcount = static_cast<uint16_t>(parsed.original_arcount - 1);
    msg[10] = static_cast<uint8_t>(arcount >> 8);
    msg[11] = static_cast<uint8_t>(arcount);
    size_t prefix = fixed_prefix + f.signer.wire_size();
    std::span<const uint8_t> rdata_prefix(sig.rdata.data(), prefix);
    try {
        verifier v(kr.algorithm, kr.public_key);
        if (!v.verify(signed_data(rdata_prefix, request, msg), f.signature))
            return fail(r, sig0_status::bad_signature,
                        "SIG(0) signature by " + f.signer.to_text() + " does not verify");
    } catch (const dnssec_error& e) {
        return fail(r, sig0_status::unusable_key, std::string("SIG(0) key unusable: ") + e.what());
    }
    r.status = sig0_status::ok;
    r.reason = "SIG(0) ok (" + f.signer.to_text() + " key " + std::to_string(tag) + ")";
    return r;
}

}  // namespace hsync::dnssec
