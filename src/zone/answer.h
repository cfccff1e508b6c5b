// The auth role's query engine: one query message and one zone snapshot in, the response
// message out. Pure: no I/O, no clock, no state; safe to call from any thread.
//
// Choices (docs/ may repeat them):
//  - Minimal responses (BIND's "minimal-responses no-auth"): positive answers carry no
//    authority NS; additional data only where it saves a lookup (A/AAAA of in-zone NS, MX
//    and SRV targets, glue in referrals).
//  - QTYPE ANY gets every RRset at the name (RFC 8482 §4 allows it; the caller's
//    to_wire(max) truncates over UDP, so the client retries over TCP). RRSIG/NSEC are
//    included only with DO on a signed zone, as BIND does.
//  - CNAME and DNAME chains are followed inside the zone, at most 16 links; a loop stops
//    at the first name seen twice. The RCODE is that of the last name (RFC 6604 §3).
//  - Class other than IN, CHAOS included, is REFUSED (we serve no CHAOS zones such as
//    version.bind). QTYPE MAILA/MAILB/TKEY: NOTIMP; other meta types (OPT, TSIG, type
//    128-255 in the meta range BIND marks): FORMERR, as BIND does. AXFR/IXFR belong to
//    the caller; if they reach answer(), NOTIMP.
//  - The caller drops messages with QR set (never answer a response); answer() gives
//    FORMERR if it gets one.
#pragma once

#include <cstdint>
#include <optional>

#include "dns/message.h"
#include "zone/zone_data.h"

namespace hsync::zone {

// The UDP payload size we advertise in every OPT we send (the DNS flag day 2020 value).
inline constexpr uint16_t our_udp_payload_size = 1232;
// CNAME/DNAME links followed in one answer.
inline constexpr int max_chain_length = 16;

// The response skeleton: ID, QR, opcode, RD and CD copied; the question copied if there
// is exactly one; an OPT (our payload size, version 0, DO echoed: RFC 3225 §3) if the
// query had one. AA clear, RCODE NOERROR.
dns::message make_response(const dns::message& query);

// make_response() with `rcode` (BADVERS needs the query's OPT, which is then echoed).
dns::message error_response(const dns::message& query, uint16_t rcode);

// The RCODE for a query that cannot be answered whatever the zone, or nullopt:
// BADVERS for EDNS version > 0 (RFC 6891 §6.1.3), NOTIMP for opcodes other than QUERY,
// FORMERR for QR set or a question count other than one, REFUSED for a class other than
// IN, NOTIMP/FORMERR for meta QTYPEs (see above).
std::optional<uint16_t> check_query(const dns::message& query);

// Answers `query` from `zone` (nullptr: not a zone of ours -> REFUSED; a qname outside
// the zone is REFUSED too). RFC 1034 §4.3.2 with RFC 2308 negative answers, RFC 4592
// wildcards, RFC 6672 DNAME, and for DO queries to a signed zone RFC 4035 §3.1 RRSIGs
// and NSEC proofs or RFC 5155 §7.2 NSEC3 proofs.
dns::message answer(const zone_data* zone, const dns::message& query);

}  // namespace hsync::zone
