#include "dns/edns.h"

#include <algorithm>
#include <atomic>

#include "dns/error.h"
#include "dns/text.h"

namespace hsync::dns {
namespace {

std::atomic<uint16_t> g_multi_signer_code{edns_code::MULTI_SIGNER_DEFAULT};

uint16_t get_u16(std::span<const uint8_t> b, size_t at) {
    return static_cast<uint16_t>(b[at] << 8 | b[at + 1]);
}

void put_u16(std::vector<uint8_t>& out, size_t v) {
    out.push_back(static_cast<uint8_t>(v >> 8));
    out.push_back(static_cast<uint8_t>(v));
}

edns_option option_from_wire(uint16_t code, std::span<const uint8_t> data) {
    // The Multi-Signer code is configurable, so it is tested first.
    if (code == multi_signer_option_code()) return multi_signer_option::from_wire(data);
    if (code == edns_code::COOKIE) return cookie_option::from_wire(data);
    if (code == edns_code::PADDING) return padding_option{static_cast<uint16_t>(data.size())};
    return generic_option{code, {data.begin(), data.end()}};
}

void option_data_to_wire(const edns_option& option, std::vector<uint8_t>& out) {
    if (auto* ms = std::get_if<multi_signer_option>(&option)) {
        ms->to_wire(out);
    } else if (auto* c = std::get_if<cookie_option>(&option)) {
        c->to_wire(out);
    } else if (auto* p = std::get_if<padding_option>(&option)) {
        out.insert(out.end(), p->length, 0);
    } else {
        const auto& g = std::get<generic_option>(option);
        out.insert(out.end(), g.data.begin(), g.data.end());
    }
}

void append_bits(std::string& out, uint8_t value, uint8_t bit0, const char* name0, uint8_t bit1,
                 const char* name1) {
    std::string s;
    if (value & bit0) s += name0;
    if (value & bit1) s += s.empty() ? name1 : std::string("+") + name1;
    uint8_t rest = value & static_cast<uint8_t>(~(bit0 | bit1));
    if (rest || s.empty()) {
        if (!s.empty()) s += '+';
        s += "0x";
        append_hex(s, std::span<const uint8_t>(&rest, 1), false);
    }
    out += s;
}

}  // namespace

uint16_t multi_signer_option_code() {
    return g_multi_signer_code.load(std::memory_order_relaxed);
}
void set_multi_signer_option_code(uint16_t code) {
    g_multi_signer_code.store(code, std::memory_order_relaxed);
}

const ms_tlv* multi_signer_option::find(uint16_t key) const {
    auto it = std::lower_bound(body.begin(), body.end(), key,
                               [](const ms_tlv& t, uint16_t k) { return t.key < k; });
    return it != body.end() && it->key == key ? &*it : nullptr;
}

std::optional<std::span<const uint8_t>> multi_signer_option::value(uint16_t key) const {
    if (const ms_tlv* t = find(key)) return std::span<const uint8_t>(t->value);
    return std::nullopt;
}

void multi_signer_option::set(uint16_t key, std::span<const uint8_t> value) {
    auto it = std::lower_bound(body.begin(), body.end(), key,
                               [](const ms_tlv& t, uint16_t k) { return t.key < k; });
    if (it != body.end() && it->key == key)
        it->value.assign(value.begin(), value.end());
    else
        body.insert(it, ms_tlv{key, {value.begin(), value.end()}});
}

multi_signer_option multi_signer_option::from_wire(std::span<const uint8_t> data) {
    if (data.size() < 4) throw wire_error("Multi-Signer option shorter than its 4-octet header");
    multi_signer_option o;
    o.operation = data[0];
    o.transport = data[1];
    o.synchronization = data[2];
    o.reserved = data[3];
    size_t pos = 4;
    while (pos < data.size()) {
        if (data.size() - pos < 4) throw wire_error("Multi-Signer option: truncated TLV header");
        uint16_t key = get_u16(data, pos);
        uint16_t length = get_u16(data, pos + 2);
        pos += 4;
        if (length > data.size() - pos)
            throw wire_error("Multi-Signer option: TLV " + std::to_string(key) +
                             " runs past the end of the option");
        if (!o.body.empty() && key <= o.body.back().key)
            throw wire_error("Multi-Signer option: TLV keys not strictly increasing (" +
                             std::to_string(key) + " after " + std::to_string(o.body.back().key) +
                             ")");
        o.body.push_back(ms_tlv{key, {data.begin() + pos, data.begin() + pos + length}});
        pos += length;
    }
    return o;
}

void multi_signer_option::to_wire(std::vector<uint8_t>& out) const {
    size_t start = out.size();
    out.push_back(operation);
    out.push_back(transport);
    out.push_back(synchronization);
    out.push_back(reserved);
    for (size_t i = 0; i < body.size(); ++i) {
        if (i > 0 && body[i].key <= body[i - 1].key)
            throw wire_error("Multi-Signer option: TLV keys not strictly increasing");
        if (body[i].value.size() > 0xFFFF)
            throw wire_error("Multi-Signer option: TLV value longer than 65535 octets");
        put_u16(out, body[i].key);
        put_u16(out, body[i].value.size());
        out.insert(out.end(), body[i].value.begin(), body[i].value.end());
    }
    if (out.size() - start > 0xFFFF)
        throw wire_error("Multi-Signer option longer than 65535 octets");
}

cookie_option cookie_option::from_wire(std::span<const uint8_t> data) {
    // RFC 7873 §5.2.2: 8 octets (client only) or 16..40 (client + server).
    if (data.size() != 8 && (data.size() < 16 || data.size() > 40))
        throw wire_error("COOKIE option of " + std::to_string(data.size()) +
                         " octets (must be 8, or 16 to 40)");
    cookie_option c;
    std::copy_n(data.begin(), 8, c.client.begin());
    c.server.assign(data.begin() + 8, data.end());
    return c;
}

void cookie_option::to_wire(std::vector<uint8_t>& out) const {
    if (!server.empty() && (server.size() < 8 || server.size() > 32))
        throw wire_error("COOKIE: server cookie must be 8 to 32 octets");
    out.insert(out.end(), client.begin(), client.end());
    out.insert(out.end(), server.begin(), server.end());
}

uint16_t option_code(const edns_option& option) {
    if (std::holds_alternative<multi_signer_option>(option)) return multi_signer_option_code();
    if (std::holds_alternative<cookie_option>(option)) return edns_code::COOKIE;
    if (std::holds_alternative<padding_option>(option)) return edns_code::PADDING;
    return std::get<generic_option>(option).code;
}

edns edns::from_rr(const rr& opt) {
    // RFC 6891 §6.1.3: TTL = EXTENDED-RCODE u8 | VERSION u8 | DO bit | Z (15 bits).
    edns e;
    e.udp_payload_size = opt.rclass;
    e.extended_rcode = static_cast<uint8_t>(opt.ttl >> 24);
    e.version = static_cast<uint8_t>(opt.ttl >> 16);
    e.dnssec_ok = (opt.ttl & 0x8000) != 0;
    e.flags = static_cast<uint16_t>(opt.ttl & 0x7FFF);
    std::span<const uint8_t> data(opt.rdata);
    size_t pos = 0;
    while (pos < data.size()) {
        // RFC 6891 §6.1.2: OPTION-CODE u16 | OPTION-LENGTH u16 | OPTION-DATA.
        if (data.size() - pos < 4) throw wire_error("EDNS option header truncated");
        uint16_t code = get_u16(data, pos);
        uint16_t length = get_u16(data, pos + 2);
        pos += 4;
        if (length > data.size() - pos)
            throw wire_error("EDNS option " + std::to_string(code) +
                             " runs past the end of the OPT record");
        e.options.push_back(option_from_wire(code, data.subspan(pos, length)));
        pos += length;
    }
    return e;
}

rr edns::to_rr() const {
    rr r;
    r.type = rr_type::OPT;
    r.rclass = udp_payload_size;
    r.ttl = static_cast<uint32_t>(extended_rcode) << 24 | static_cast<uint32_t>(version) << 16 |
            (dnssec_ok ? 0x8000u : 0u) | (flags & 0x7FFFu);
    for (const auto& o : options) {
        put_u16(r.rdata, option_code(o));
        size_t length_at = r.rdata.size();
        put_u16(r.rdata, 0);
        option_data_to_wire(o, r.rdata);
        size_t length = r.rdata.size() - length_at - 2;
        if (length > 0xFFFF) throw wire_error("EDNS option longer than 65535 octets");
        r.rdata[length_at] = static_cast<uint8_t>(length >> 8);
        r.rdata[length_at + 1] = static_cast<uint8_t>(length);
    }
    if (r.rdata.size() > 0xFFFF) throw wire_error("OPT record longer than 65535 octets");
    return r;
}

void edns::append_text(std::string& out) const {
    out += "; EDNS: version: " + std::to_string(version) + ", flags:";
    if (dnssec_ok) out += " do";
    if (flags) {
        uint8_t f[2] = {static_cast<uint8_t>(flags >> 8), static_cast<uint8_t>(flags)};
        out += " MBZ: 0x";
        append_hex(out, f, false);
    }
    out += "; udp: " + std::to_string(udp_payload_size) + '\n';
    for (const auto& o : options) {
        if (auto* ms = std::get_if<multi_signer_option>(&o)) {
            out += "; MULTI-SIGNER: ";
            switch (ms->operation) {
                case ms_operation::HELLO:
                    out += "HELLO";
                    break;
                case ms_operation::HEARTBEAT:
                    out += "HEARTBEAT";
                    break;
                default:
                    out += "OP" + std::to_string(ms->operation);
            }
            out += " transport=";
            append_bits(out, ms->transport, ms_transport::DNS, "DNS", ms_transport::API, "API");
            out += " sync=";
            append_bits(out, ms->synchronization, ms_sync::LEADER_FOLLOWER, "LEADER-FOLLOWER",
                        ms_sync::PEER, "PEER");
            if (ms->reserved) out += " reserved=" + std::to_string(ms->reserved);
            for (const auto& t : ms->body) {
                out += ' ' + std::to_string(t.key) + '=';
                append_hex(out, t.value, false);
            }
        } else if (auto* c = std::get_if<cookie_option>(&o)) {
            out += "; COOKIE: ";
            append_hex(out, c->client, false);
            if (!c->server.empty()) {
                out += ' ';
                append_hex(out, c->server, false);
            }
        } else if (auto* p = std::get_if<padding_option>(&o)) {
            out += "; PADDING: " + std::to_string(p->length) + " octets";
        } else {
            const auto& g = std::get<generic_option>(o);
            out += "; OPT=" + std::to_string(g.code) + ": ";
            append_hex(out, g.data, false);
        }
        out += '\n';
    }
}

}  // namespace hsync::dns
