#include "roles/agent/messages.h"

#include <variant>

#include "dns/rdata.h"
#include "dnssec/sig0.h"
#include "net/client.h"

namespace hsync::agent {

namespace {

dns::edns option_record(uint8_t operation, const capabilities& caps) {
    dns::edns e;
    dns::multi_signer_option o;
    o.operation = operation;
    // The baselines are mandatory: a sender always sets them (protocol.md §4).
    o.transport = static_cast<uint8_t>(caps.transport | dns::ms_transport::DNS);
    o.synchronization = static_cast<uint8_t>(caps.synchronization | dns::ms_sync::LEADER_FOLLOWER);
    e.options.emplace_back(std::move(o));
    return e;
}

}  // namespace

std::vector<uint8_t> make_agent_notify(const dns::name& qname, uint8_t operation,
                                       const capabilities& caps, const dnssec::key& key,
                                       int64_t now) {
    dns::message m;
    m.id = net::random_id();
    m.opcode = dns::opcode::NOTIFY;
    m.aa = true;  // RFC 1996 §3.7
    m.questions.push_back({qname, dns::rr_type::SOA, dns::rr_class::IN});
    m.opt = option_record(operation, caps);
    return dnssec::sig0_sign(m, key, now);
}

std::vector<uint8_t> make_agent_response(const dns::message& query,
                                         std::span<const uint8_t> request, uint16_t rcode,
                                         const capabilities& caps, const dnssec::key& key,
                                         int64_t now) {
    dns::message m;
    m.id = query.id;
    m.qr = true;
    m.opcode = query.opcode;
    m.aa = rcode == dns::rcode::NOERROR;
    m.rcode = rcode;
    m.questions = query.questions;
    const auto* asked = ms_option(query);
    m.opt = option_record(asked ? asked->operation : 0, caps);
    return dnssec::sig0_sign(m, key, now, request);
}

const dns::multi_signer_option* ms_option(const dns::message& m) {
    if (!m.opt) return nullptr;
    for (const auto& o : m.opt->options)
        if (const auto* ms = std::get_if<dns::multi_signer_option>(&o)) return ms;
    return nullptr;
}

bool is_agent_message(const dns::message& m) {
    return m.opcode == dns::opcode::NOTIFY && !m.qr && (m.sig0 || ms_option(m));
}

}  // namespace hsync::agent
