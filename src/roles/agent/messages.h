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
#include "dnssec/key.h"
#include "roles/agent/negotiation.h"

namespace hsync::agent {

// A NOTIFY for `qname` SOA (HELLO: the zone; HEARTBEAT: the sender's identity) with the
// option {operation, caps}, a fresh random ID and a SIG(0) by `key` valid now ±300 s.
std::vector<uint8_t> make_agent_notify(const dns::name& qname, uint8_t operation,
                                       const capabilities& caps, const dnssec::key& key,
                                       int64_t now);

// The response to an agent message: `rcode`, the question echoed, the option with the
// request's operation and our capabilities, signed over the request as RFC 2931 says.
std::vector<uint8_t> make_agent_response(const dns::message& query,
                                         std::span<const uint8_t> request, uint16_t rcode,
                                         const capabilities& caps, const dnssec::key& key,
                                         int64_t now);

// The Multi-Signer option of a message, if it has one.
const dns::multi_signer_option* ms_option(const dns::message& m);

// A request the agent takes over from the engine: a NOTIFY that carries the option or a
// SIG(0) (an agent message, or something pretending to be one). Other NOTIFYs (from the
// agent's signer, TSIG-signed) are the engine's.
bool is_agent_message(const dns::message& m);

}  // namespace hsync::agent
