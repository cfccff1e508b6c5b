// Transaction signatures on arbitrary input: the bytes are parsed as a DNS message and run
// through TSIG verification (fixed key, as a request and as a response, and the answer a
// server would build) and SIG(0) verification (fixed Ed25519 KEY). The same bytes are also
// read as a TCP stream (2-octet length before each message): the first message is a
// request, the rest its multi-message response. Nothing may crash, leak or throw anything
// but the documented errors.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "dns/error.h"
#include "dns/message.h"
#include "dns/text.h"
#include "dnssec/key.h"
#include "dnssec/sig0.h"
#include "dnssec/tsig.h"

using namespace hsync;

namespace {

// The seeds in fuzz/corpus/tsig/ were captured from dig/kdig/nsupdate with this secret
// and from dig -k / nsupdate -k with this Ed25519 KEY, so they verify all the way.
const dnssec::tsig_key& fixed_tsig_key() {
    static const dnssec::tsig_key k = [] {
        dnssec::tsig_key key{
            dns::name::from_text("k.example."), dnssec::tsig_algorithm::hmac_sha256, {}};
        dns::parse_base64("jHf3Um4yvOszrU6U8+HbaBI6LCLvFYs7jDA4OWWjyzo=", key.secret);
        return key;
    }();
    return k;
}

const std::vector<uint8_t>& fixed_key_rdata() {
    static const std::vector<uint8_t> rdata = [] {
        dnssec::key_rdata r;
        r.flags = 512;
        r.algorithm = dnssec::algorithm::ED25519;
        dns::parse_base64("VwAFNH1NrEGZBQi3f0U0J8zUXI7ddbnzJmAF8zkG9Cc=", r.public_key);
        return r.to_wire();
    }();
    return rdata;
}

int64_t time_of(const dns::message& m) {
    if (m.tsig) {
        try {
            return static_cast<int64_t>(dnssec::tsig_fields::parse(m.tsig->rdata).time_signed);
        } catch (const dns::wire_error&) {
        }
    }
    if (m.sig0 && m.sig0->rdata.size() >= 12) {
        const auto& d = m.sig0->rdata;  // inception, RFC 4034 §3.1 offset 12
        return int64_t{d[12]} << 24 | d[13] << 16 | d[14] << 8 | d[15];
    }
    return 1700000000;
}

void one_message(std::span<const uint8_t> wire) {
    dns::message m;
    try {
        m = dns::message::parse(wire);
    } catch (const dns::wire_error&) {
        return;
    }
    static const dnssec::tsig_keyring ring({fixed_tsig_key()});
    int64_t now = time_of(m);
    auto r = dnssec::tsig_verify_request(wire, m, ring, now);
    // What a server answers.
    dns::message resp;
    resp.id = m.id;
    resp.qr = true;
    resp.rcode = r.rcode;
    std::vector<uint8_t> rw;
    resp.to_wire(rw);
    dnssec::tsig_answer(rw, r, now);
    (void)dns::message::parse(rw);
    // As a response to a request with a fixed MAC.
    std::vector<uint8_t> mac(32, 0x5a);
    auto s = dnssec::tsig_session::awaiting_response(fixed_tsig_key(), mac);
    (void)s.verify(wire, m, now);

    auto v = dnssec::sig0_verify(wire, m, dns::name::from_text("k.example."), fixed_key_rdata(),
                                 now + 1);
    (void)v;
}

void as_stream(std::span<const uint8_t> data) {
    std::vector<std::span<const uint8_t>> msgs;
    while (data.size() >= 2) {
        size_t len = size_t{data[0]} << 8 | data[1];
        if (len > data.size() - 2) return;
        msgs.push_back(data.subspan(2, len));
        data = data.subspan(2 + len);
    }
    if (msgs.size() < 2 || !data.empty()) return;
    std::vector<dns::message> parsed;
    for (auto w : msgs) {
        try {
            parsed.push_back(dns::message::parse(w));
        } catch (const dns::wire_error&) {
            return;
        }
    }
    if (!parsed[0].tsig) return;
    dnssec::tsig_fields req;
    try {
        req = dnssec::tsig_fields::parse(parsed[0].tsig->rdata);
    } catch (const dns::wire_error&) {
        return;
    }
    auto s = dnssec::tsig_session::awaiting_response(fixed_tsig_key(), req.mac);
    int64_t now = static_cast<int64_t>(req.time_signed);
    for (size_t i = 1; i < msgs.size(); ++i) {
        auto r = s.verify(msgs[i], parsed[i], now);
        if (!r.ok() && r.status != dnssec::tsig_status::unsigned_message) break;
    }
    (void)s.complete();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::span<const uint8_t> in(data, size);
    one_message(in);
    as_stream(in);
    return 0;
}
