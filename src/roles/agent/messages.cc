#include "roles/agent/messages.h"

#include <algorithm>
#include <variant>

#include "dns/rdata.h"
#include "dnssec/sig0.h"
#include "net/client.h"

namespace hsync::agent {

namespace {

dns::edns option_record(uint8_t operation, const capabilities& caps,
                        std::vector<dns::ms_tlv> body = {}) {
    dns::edns e;
    dns::multi_signer_option o;
    o.operation = operation;
    o.body = std::move(body);
    // The baselines are mandatory: a sender always sets them (protocol.md §4).
    o.transport = static_cast<uint8_t>(caps.transport | dns::ms_transport::DNS);
    o.synchronization = static_cast<uint8_t>(caps.synchronization | dns::ms_sync::LEADER_FOLLOWER);
    e.options.emplace_back(std::move(o));
    return e;
}

}  // namespace

std::vector<uint8_t> make_agent_notify(const dns::name& qname, uint8_t operation,
                                       const capabilities& caps, const dnssec::key& key,
                                       int64_t now, std::vector<dns::ms_tlv> body, uint16_t qtype) {
    dns::message m;
    m.id = net::random_id();
    m.opcode = dns::opcode::NOTIFY;
    m.aa = true;  // RFC 1996 §3.7
    m.questions.push_back({qname, qtype, dns::rr_class::IN});
    m.opt = option_record(operation, caps, std::move(body));
    return dnssec::sig0_sign(m, key, now);
}

std::vector<uint8_t> make_agent_response(const dns::message& query,
                                         std::span<const uint8_t> request, uint16_t rcode,
                                         const capabilities& caps, const dnssec::key& key,
                                         int64_t now, std::vector<dns::ms_tlv> body) {
    dns::message m;
    m.id = query.id;
    m.qr = true;
    m.opcode = query.opcode;
    m.aa = rcode == dns::rcode::NOERROR;
    m.rcode = rcode;
    m.questions = query.questions;
    const auto* asked = ms_option(query);
    m.opt = option_record(asked ? asked->operation : 0, caps, std::move(body));
    return dnssec::sig0_sign(m, key, now, request);
}

namespace {

enum : uint16_t { key_process = 1, key_id, key_step, key_status, key_term, key_serial };

std::vector<uint8_t> be(uint32_t v, size_t n) {
    std::vector<uint8_t> out(n);
    for (size_t i = 0; i < n; ++i)
        out[i] = static_cast<uint8_t>(v >> (8 * (n - 1 - i)));
    return out;
}

}  // namespace

std::vector<dns::ms_tlv> encode_sync(const sync_body& b) {
    std::vector<dns::ms_tlv> out;
    out.push_back({key_process, be(static_cast<uint8_t>(b.process), 1)});
    out.push_back({key_id, be(b.id, 4)});
    out.push_back({key_step, be(static_cast<uint32_t>(std::clamp(b.step, 0, 255)), 1)});
    out.push_back({key_status, be(static_cast<uint8_t>(b.status), 1)});
    out.push_back({key_term, be(b.term, 4)});
    out.push_back({key_serial, be(b.serial, 4)});
    return out;
}

std::optional<sync_body> decode_sync(const dns::multi_signer_option& o) {
    sync_body b;
    auto read = [&](uint16_t key, size_t n, uint32_t& out) {
        auto v = o.value(key);
        if (!v) return true;
        if (v->size() != n) return false;
        out = 0;
        for (uint8_t c : *v)
            out = out << 8 | c;
        return true;
    };
    uint32_t process = 0, step = 0, status = 1;
    if (!read(key_process, 1, process) || !read(key_id, 4, b.id) || !read(key_step, 1, step) ||
        !read(key_status, 1, status) || !read(key_term, 4, b.term) ||
        !read(key_serial, 4, b.serial))
        return std::nullopt;
    if (process > 2 || status < 1 || status > 3) return std::nullopt;
    b.process = static_cast<process_kind>(process);
    b.step = static_cast<int>(step);
    b.status = static_cast<step_status>(status);
    if (b.process != process_kind::none && b.step > step_count(b.process)) return std::nullopt;
    return b;
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
