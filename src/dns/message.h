// DNS messages (RFC 1035 §4.1) with EDNS(0) (RFC 6891), TSIG (RFC 8945) and SIG(0)
// (RFC 2931) recognised.
//
// parse() is bounded: it checks the header counts against the bytes present before it
// allocates anything, and refuses trailing bytes. The OPT pseudo-RR is lifted out of the
// additional section into `opt`; a TSIG or SIG(0) that ends the additional section is
// lifted into `tsig` / `sig0` together with where it started in the received bytes, since
// its verification covers the message as received, not a re-serialisation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dns/edns.h"
#include "dns/name.h"
#include "dns/rr.h"

namespace hsync::dns {

namespace opcode {
inline constexpr uint8_t QUERY = 0, IQUERY = 1, STATUS = 2, NOTIFY = 4, UPDATE = 5, DSO = 6;
}

namespace rcode {
inline constexpr uint16_t NOERROR = 0, FORMERR = 1, SERVFAIL = 2, NXDOMAIN = 3, NOTIMP = 4,
                          REFUSED = 5, YXDOMAIN = 6, YXRRSET = 7, NXRRSET = 8, NOTAUTH = 9,
                          NOTZONE = 10, BADVERS = 16, BADCOOKIE = 23;
}

inline constexpr size_t max_message_size = 65535;
inline constexpr size_t header_size = 12;

struct question {
    name qname;
    uint16_t qtype = 0;
    uint16_t qclass = rr_class::IN;
};

struct message {
    // Header (RFC 1035 §4.1.1, RFC 4035 §3.2 for AD and CD).
    uint16_t id = 0;
    bool qr = false;
    uint8_t opcode = opcode::QUERY;  // 4 bits
    bool aa = false, tc = false, rd = false, ra = false;
    bool z = false;  // the reserved bit, kept as received
    bool ad = false, cd = false;
    // The full 12-bit RCODE: the header's 4 bits plus, with EDNS, the OPT's upper 8 bits
    // (RFC 6891 §6.1.3). Values above 15 need `opt`.
    uint16_t rcode = rcode::NOERROR;

    std::vector<question> questions;  // UPDATE: the zone section
    std::vector<rr> answer;           // UPDATE: prerequisites
    std::vector<rr> authority;        // UPDATE: updates
    std::vector<rr> additional;       // without OPT, TSIG and SIG(0)

    std::optional<edns> opt;
    // A TSIG (type 250) or SIG(0) (type 24 at the root covering type 0) that was the last
    // record of the additional section (RFC 8945 §5.1, RFC 2931 §3). At most one is set.
    std::optional<rr> tsig;
    std::optional<rr> sig0;
    // For a parsed message with tsig or sig0: the octet offset where that record starts
    // (the signed data is the message up to there) and ARCOUNT as received (it counts
    // that record). Not written by to_wire, not compared by operator==.
    size_t signature_offset = 0;
    uint16_t original_arcount = 0;

    // Throws wire_error on anything malformed; the text names what.
    static message parse(std::span<const uint8_t> wire);

    // Appends the message to `out`: header, questions, answer, authority, additional, then
    // OPT, then TSIG or SIG(0) (written as stored; signing is done by whoever fills them).
    // Owner names and RDATA names of the RFC 1035 types are compressed (TSIG and SIG(0)
    // are not). If the message would exceed `max_size` (clamped to 65535), whole records
    // are dropped from the end (additional, then authority, then answer) and TC is set in
    // the written header (RFC 1035 §4.2.1, RFC 2181 §9); the question, OPT and TSIG/SIG(0)
    // are always kept. Returns true if records were dropped. `this` is not changed.
    // Throws wire_error if the message cannot be encoded (RCODE > 15 without OPT, more
    // than 65535 questions, both tsig and sig0 set).
    bool to_wire(std::vector<uint8_t>& out, size_t max_size = max_message_size) const;

    // A dig-like rendering for logs: header lines, OPT pseudo-section, sections.
    std::string to_text() const;

    // Same header, questions, records (names compared octet for octet, case included),
    // EDNS and TSIG/SIG(0); not where the signature was in received bytes.
    friend bool operator==(const message& a, const message& b);
};

std::string opcode_to_text(uint8_t opcode);  // QUERY, NOTIFY, UPDATE, ... or the number

}  // namespace hsync::dns
