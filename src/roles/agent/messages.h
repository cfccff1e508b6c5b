// The DNS form of agent messages (docs/protocol.md §4, §7): HELLO and HEARTBEAT are
// NOTIFYs carrying the Multi-Signer EDNS option, signed with SIG(0); their responses carry
// the responder's capabilities the same way and are signed too.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "dns/edns.h"
#include "dns/message.h"
#include "dns/name.h"
#include "dns/rdata.h"
#include "dnssec/key.h"
#include "roles/agent/negotiation.h"
#include "roles/agent/process.h"

namespace hsync::agent {

// A NOTIFY for `qname` SOA (HELLO: the zone; HEARTBEAT: the sender's identity) with the
// option {operation, caps}, a fresh random ID and a SIG(0) by `key` valid now ±300 s.
// `body` is the operation's body (hsync's own operations, below); `qtype` the question's
// type (SOA, DNSKEY for a data-changed notice).
std::vector<uint8_t> make_agent_notify(const dns::name& qname, uint8_t operation,
                                       const capabilities& caps, const dnssec::key& key,
                                       int64_t now, std::vector<dns::ms_tlv> body = {},
                                       uint16_t qtype = dns::rr_type::SOA);

// The response to an agent message: `rcode`, the question echoed, the option with the
// request's operation and our capabilities, signed over the request as RFC 2931 says.
std::vector<uint8_t> make_agent_response(const dns::message& query,
                                         std::span<const uint8_t> request, uint16_t rcode,
                                         const capabilities& caps, const dnssec::key& key,
                                         int64_t now, std::vector<dns::ms_tlv> body = {});

// hsync's own operations (private use, docs/protocol.md §11), each a NOTIFY signed with
// SIG(0) as HELLO is:
// - REPORT (question <zone> SOA): where the sender is in the zone's process;
// - PROPOSE (<zone> SOA): the leader candidate asks for the TERM; NOERROR acknowledges it,
//   REFUSED refuses it with the highest term the responder has seen in the answer's body;
// - INSTRUCT (<zone> SOA): the leader tells the followers to go to STEP;
// - CHANGED (<zone>.<sender identity> DNSKEY): the sender's per-zone data changed.
namespace sync_op {
inline constexpr uint8_t REPORT = 128, PROPOSE = 129, INSTRUCT = 130, CHANGED = 131;
}
// The body keys (each value big-endian): 1 PROCESS u8 (0 none, 1 add-signer, 2
// remove-signer), 2 PROCESS-ID u32, 3 STEP u8, 4 STATUS u8 (1 working, 2 done, 3 failed),
// 5 TERM u32, 6 SERIAL u32.
struct sync_body {
    process_kind process = process_kind::none;
    uint32_t id = 0;
    int step = 0;
    step_status status = step_status::working;
    uint32_t term = 0;
    uint32_t serial = 0;
    friend bool operator==(const sync_body&, const sync_body&) = default;
};
std::vector<dns::ms_tlv> encode_sync(const sync_body& b);
// nullopt when a known key has the wrong length or value; missing keys stay 0.
std::optional<sync_body> decode_sync(const dns::multi_signer_option& o);

// The Multi-Signer option of a message, if it has one.
const dns::multi_signer_option* ms_option(const dns::message& m);

// A request the agent takes over from the engine: a NOTIFY that carries the option or a
// SIG(0) (an agent message, or something pretending to be one). Other NOTIFYs (from the
// agent's signer, TSIG-signed) are the engine's.
bool is_agent_message(const dns::message& m);

}  // namespace hsync::agent
