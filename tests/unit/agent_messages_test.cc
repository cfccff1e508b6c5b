// The DNS form of agent messages (roles/agent/messages.h): HELLO/HEARTBEAT NOTIFYs and their
// responses, read back both by walking the wire octet by octet (RFC 1035 §4.1, RFC 6891
// §6.1.2) and with the message parser, their SIG(0) checked with the sender's KEY; the body
// of hsync's own operations (encode_sync/decode_sync) against the layout of messages.h.
#include "roles/agent/messages.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <vector>

#include "dns/edns.h"
#include "dns/message.h"
#include "dns/rdata.h"
#include "dnssec/key.h"
#include "dnssec/sig0.h"

using namespace hsync;
using namespace hsync::agent;

namespace {

dns::name N(std::string_view s) {
    return dns::name::from_text(s);
}

constexpr int64_t t0 = 1700000000;
constexpr uint8_t ecdsa = dnssec::algorithm::ECDSAP256SHA256;

// A resource record as it sits in the wire, read without the message parser.
struct raw_rr {
    size_t offset = 0;  // where its owner name starts
    uint16_t type = 0, rclass = 0;
    uint32_t ttl = 0;
    std::vector<uint8_t> rdata;
};

struct raw_message {
    uint16_t id = 0;
    uint8_t flags1 = 0, flags2 = 0;
    uint16_t qdcount = 0, ancount = 0, nscount = 0, arcount = 0;
    std::vector<raw_rr> records;  // answer, authority and additional, in order
};

uint16_t u16(std::span<const uint8_t> w, size_t at) {
    return static_cast<uint16_t>(w[at] << 8 | w[at + 1]);
}

// Skips a possibly compressed name (RFC 1035 §4.1.4).
size_t skip_name(std::span<const uint8_t> w, size_t at) {
    while (true) {
        uint8_t len = w[at];
        if ((len & 0xc0) == 0xc0) return at + 2;
        ++at;
        if (len == 0) return at;
        at += len;
    }
}

raw_message walk(std::span<const uint8_t> w) {
    raw_message m;
    m.id = u16(w, 0);
    m.flags1 = w[2];
    m.flags2 = w[3];
    m.qdcount = u16(w, 4);
    m.ancount = u16(w, 6);
    m.nscount = u16(w, 8);
    m.arcount = u16(w, 10);
    size_t at = 12;
    for (unsigned i = 0; i < m.qdcount; ++i)
        at = skip_name(w, at) + 4;
    for (unsigned i = 0; i < 0u + m.ancount + m.nscount + m.arcount; ++i) {
        raw_rr r;
        r.offset = at;
        at = skip_name(w, at);
        r.type = u16(w, at);
        r.rclass = u16(w, at + 2);
        r.ttl = static_cast<uint32_t>(u16(w, at + 4)) << 16 | u16(w, at + 6);
        uint16_t rdlength = u16(w, at + 8);
        at += 10;
        EXPECT_LE(at + rdlength, w.size());
        r.rdata.assign(w.begin() + at, w.begin() + at + rdlength);
        at += rdlength;
        m.records.push_back(std::move(r));
    }
    EXPECT_EQ(at, w.size()) << "octets after the last record";
    return m;
}

// The data of option `code` in OPT RDATA (RFC 6891 §6.1.2: code u16, length u16, data).
std::optional<std::vector<uint8_t>> option_data(const std::vector<uint8_t>& opt_rdata,
                                                uint16_t code) {
    size_t at = 0;
    while (at + 4 <= opt_rdata.size()) {
        uint16_t c = u16(opt_rdata, at);
        uint16_t len = u16(opt_rdata, at + 2);
        at += 4;
        if (at + len > opt_rdata.size()) return std::nullopt;
        if (c == code)
            return std::vector<uint8_t>(opt_rdata.begin() + at, opt_rdata.begin() + at + len);
        at += len;
    }
    return std::nullopt;
}

constexpr uint16_t ms_code = 65050;  // DESIGN.md §4, docs/protocol.md §4

class AgentMessages : public ::testing::Test {
  protected:
    dnssec::key key =
        dnssec::key::generate(N("dns.agent.p1.example."), ecdsa, dnssec::key_role::sig0);
    dnssec::key other =
        dnssec::key::generate(N("dns.agent.p1.example."), ecdsa, dnssec::key_role::sig0);
    dnssec::key responder =
        dnssec::key::generate(N("dns.agent.p2.example."), ecdsa, dnssec::key_role::sig0);
};

TEST_F(AgentMessages, NotifyOnTheWire) {
    auto wire =
        make_agent_notify(N("example.com."), dns::ms_operation::HELLO, capabilities{}, key, t0);
    auto raw = walk(wire);
    // RFC 1035 §4.1.1: QR=0, OPCODE=4 (NOTIFY, RFC 1996), AA=1; RCODE 0.
    EXPECT_EQ(raw.flags1 & 0x80, 0);
    EXPECT_EQ((raw.flags1 >> 3) & 0x0f, 4);
    EXPECT_EQ(raw.flags1 & 0x04, 0x04);
    EXPECT_EQ(raw.flags2 & 0x0f, 0);
    EXPECT_EQ(raw.qdcount, 1);
    EXPECT_EQ(raw.ancount, 0);
    EXPECT_EQ(raw.nscount, 0);
    ASSERT_EQ(raw.arcount, 2);
    ASSERT_EQ(raw.records.size(), 2u);

    // The question: example.com. SOA IN, uncompressed right after the header.
    const std::vector<uint8_t> question{7,   'e', 'x', 'a', 'm', 'p', 'l', 'e', 3,
                                        'c', 'o', 'm', 0,   0,   6,   0,   1};
    EXPECT_EQ(std::vector<uint8_t>(wire.begin() + 12, wire.begin() + 12 + question.size()),
              question);

    // OPT first (owner root, type 41), then the SIG(0) as the last record (RFC 2931 §3).
    const auto& opt = raw.records[0];
    EXPECT_EQ(opt.type, 41);
    EXPECT_EQ(wire[opt.offset], 0);
    // HELLO with no capabilities still sets the mandatory DNS and leader/follower bits.
    EXPECT_EQ(option_data(opt.rdata, ms_code), (std::vector<uint8_t>{1, 0x01, 0x01, 0}));
    // The option is exactly code, length 4, data: nothing else in the OPT.
    EXPECT_EQ(opt.rdata, (std::vector<uint8_t>{0xfe, 0x1a, 0x00, 0x04, 1, 0x01, 0x01, 0}));

    const auto& sig = raw.records[1];
    EXPECT_EQ(sig.type, 24);
    EXPECT_EQ(sig.rclass, 255);  // ANY
    EXPECT_EQ(sig.ttl, 0u);
    EXPECT_EQ(wire[sig.offset], 0);  // root owner
    ASSERT_GE(sig.rdata.size(), 18u);
    EXPECT_EQ(u16(sig.rdata, 0), 0);  // type covered
    EXPECT_EQ(sig.rdata[2], ecdsa);
    EXPECT_EQ(u16(sig.rdata, 16), key.tag());
}

TEST_F(AgentMessages, NotifyCapabilityBits) {
    auto wire =
        make_agent_notify(N("agent.p1.example."), dns::ms_operation::HEARTBEAT,
                          capabilities{dns::ms_transport::API, dns::ms_sync::PEER}, key, t0);
    auto raw = walk(wire);
    ASSERT_EQ(raw.records.size(), 2u);
    EXPECT_EQ(option_data(raw.records[0].rdata, ms_code), (std::vector<uint8_t>{2, 3, 3, 0}));

    auto private_op = make_agent_notify(N("agent.p1.example."), 200,
                                        capabilities{dns::ms_transport::DNS, 0}, key, t0);
    raw = walk(private_op);
    ASSERT_EQ(raw.records.size(), 2u);
    EXPECT_EQ(option_data(raw.records[0].rdata, ms_code), (std::vector<uint8_t>{200, 1, 1, 0}));
}

TEST_F(AgentMessages, NotifyParsedAndVerified) {
    auto wire = make_agent_notify(N("example.com."), dns::ms_operation::HELLO,
                                  capabilities{dns::ms_transport::API, 0}, key, t0);
    auto m = dns::message::parse(wire);
    EXPECT_EQ(m.opcode, dns::opcode::NOTIFY);
    EXPECT_TRUE(m.aa);
    EXPECT_FALSE(m.qr);
    ASSERT_EQ(m.questions.size(), 1u);
    EXPECT_EQ(m.questions[0].qname, N("example.com."));
    EXPECT_EQ(m.questions[0].qtype, dns::rr_type::SOA);
    EXPECT_EQ(m.questions[0].qclass, dns::rr_class::IN);
    EXPECT_TRUE(m.answer.empty());
    EXPECT_TRUE(m.authority.empty());
    EXPECT_TRUE(m.additional.empty());
    ASSERT_TRUE(m.opt);
    ASSERT_TRUE(m.sig0);
    EXPECT_FALSE(m.tsig);

    EXPECT_TRUE(dnssec::sig0_verify(wire, m, key, t0).ok());
    EXPECT_TRUE(dnssec::sig0_verify(wire, m, key, t0 + 299).ok());
    EXPECT_FALSE(dnssec::sig0_verify(wire, m, key, t0 + 301).ok());
    EXPECT_FALSE(dnssec::sig0_verify(wire, m, key, t0 - 301).ok());
    EXPECT_FALSE(dnssec::sig0_verify(wire, m, other, t0).ok());
    // Any changed octet of the signed part breaks the signature.
    auto tampered = wire;
    tampered[12 + 1] ^= 0x20;  // a letter of the question name
    auto tm = dns::message::parse(tampered);
    EXPECT_EQ(dnssec::sig0_verify(tampered, tm, key, t0).status,
              dnssec::sig0_status::bad_signature);
}

TEST_F(AgentMessages, NotifyIdsAreFresh) {
    std::set<uint16_t> ids;
    for (int i = 0; i < 8; ++i)
        ids.insert(walk(make_agent_notify(N("example.com."), 1, {}, key, t0)).id);
    EXPECT_GT(ids.size(), 1u);
}

TEST_F(AgentMessages, ResponseEchoesAndSignsOverTheRequest) {
    auto request = make_agent_notify(N("example.com."), dns::ms_operation::HELLO,
                                     capabilities{dns::ms_transport::API, 0}, key, t0);
    auto query = dns::message::parse(request);
    auto wire = make_agent_response(query, request, dns::rcode::NOERROR,
                                    capabilities{0, dns::ms_sync::PEER}, responder, t0 + 1);
    auto raw = walk(wire);
    EXPECT_EQ(raw.id, query.id);
    EXPECT_EQ(raw.flags1 & 0x80, 0x80);  // QR
    EXPECT_EQ((raw.flags1 >> 3) & 0x0f, 4);
    EXPECT_EQ(raw.flags2 & 0x0f, dns::rcode::NOERROR);
    ASSERT_EQ(raw.records.size(), 2u);
    EXPECT_EQ(raw.records[0].type, 41);
    // The request's operation, the responder's bits plus the mandatory ones.
    EXPECT_EQ(option_data(raw.records[0].rdata, ms_code), (std::vector<uint8_t>{1, 1, 3, 0}));
    EXPECT_EQ(raw.records[1].type, 24);

    auto m = dns::message::parse(wire);
    EXPECT_TRUE(m.qr);
    EXPECT_EQ(m.id, query.id);
    ASSERT_EQ(m.questions.size(), 1u);
    EXPECT_EQ(m.questions[0].qname, N("example.com."));
    EXPECT_EQ(m.questions[0].qtype, dns::rr_type::SOA);
    EXPECT_EQ(m.questions[0].qclass, dns::rr_class::IN);
    ASSERT_TRUE(m.sig0);
    EXPECT_TRUE(dnssec::sig0_verify(wire, m, responder, t0, request).ok());
    // RFC 2931 §3.1: the signature covers the request; another request does not match,
    // nor does none at all.
    auto another = make_agent_notify(N("example.com."), dns::ms_operation::HELLO,
                                     capabilities{dns::ms_transport::API, 0}, key, t0);
    EXPECT_EQ(dnssec::sig0_verify(wire, m, responder, t0, another).status,
              dnssec::sig0_status::bad_signature);
    EXPECT_FALSE(dnssec::sig0_verify(wire, m, responder, t0).ok());
    EXPECT_FALSE(dnssec::sig0_verify(wire, m, key, t0, request).ok());
}

TEST_F(AgentMessages, RefusalCarriesTheRcode) {
    auto request =
        make_agent_notify(N("agent.p1.example."), dns::ms_operation::HEARTBEAT, {}, key, t0);
    auto query = dns::message::parse(request);
    auto wire = make_agent_response(query, request, dns::rcode::REFUSED, {}, responder, t0);
    auto raw = walk(wire);
    EXPECT_EQ(raw.id, query.id);
    EXPECT_EQ(raw.flags2 & 0x0f, dns::rcode::REFUSED);
    ASSERT_EQ(raw.records.size(), 2u);
    EXPECT_EQ(option_data(raw.records[0].rdata, ms_code), (std::vector<uint8_t>{2, 1, 1, 0}));
    auto m = dns::message::parse(wire);
    EXPECT_EQ(m.rcode, dns::rcode::REFUSED);
    EXPECT_TRUE(dnssec::sig0_verify(wire, m, responder, t0, request).ok());
}

TEST_F(AgentMessages, IsAgentMessage) {
    dns::message plain;
    plain.id = 7;
    plain.opcode = dns::opcode::NOTIFY;
    plain.aa = true;
    plain.questions.push_back({N("example.com."), dns::rr_type::SOA, dns::rr_class::IN});
    EXPECT_FALSE(is_agent_message(plain));
    EXPECT_EQ(ms_option(plain), nullptr);

    // A plain NOTIFY with some other EDNS option is still the engine's.
    auto with_padding = plain;
    with_padding.opt.emplace();
    with_padding.opt->options.emplace_back(dns::padding_option{8});
    EXPECT_FALSE(is_agent_message(with_padding));

    auto with_option = plain;
    with_option.opt.emplace();
    with_option.opt->options.emplace_back(dns::multi_signer_option{});
    EXPECT_TRUE(is_agent_message(with_option));
    ASSERT_NE(ms_option(with_option), nullptr);

    // A SIG(0) alone is enough: something pretending to be an agent is the agent's to refuse.
    std::vector<uint8_t> w;
    plain.to_wire(w);
    dnssec::sig0_sign(w, key, t0);
    auto signed_plain = dns::message::parse(w);
    ASSERT_TRUE(signed_plain.sig0);
    EXPECT_TRUE(is_agent_message(signed_plain));

    auto made = dns::message::parse(make_agent_notify(N("example.com."), 1, {}, key, t0));
    EXPECT_TRUE(is_agent_message(made));
    ASSERT_NE(ms_option(made), nullptr);
    EXPECT_EQ(ms_option(made)->operation, 1);

    auto query = with_option;
    query.opcode = dns::opcode::QUERY;
    EXPECT_FALSE(is_agent_message(query));
    auto update = with_option;
    update.opcode = dns::opcode::UPDATE;
    EXPECT_FALSE(is_agent_message(update));
    // A response is never taken over as a request.
    auto response = with_option;
    response.qr = true;
    EXPECT_FALSE(is_agent_message(response));
}

// --- hsync's own operations: the body of REPORT, PROPOSE and INSTRUCT ---

// The option of an hsync REPORT whose OPERATION-BODY is `body` (TLVs as written by hand).
dns::multi_signer_option report_with(std::vector<uint8_t> body) {
    std::vector<uint8_t> data{sync_op::REPORT, dns::ms_transport::DNS,
                              dns::ms_sync::LEADER_FOLLOWER, 0};
    data.insert(data.end(), body.begin(), body.end());
    return dns::multi_signer_option::from_wire(data);
}

TEST(AgentSyncBody, EncodedOctets) {
    sync_body b;
    b.process = process_kind::add_signer;
    b.id = 0x01020304;
    b.step = 5;
    b.status = step_status::done;
    b.term = 7;
    b.serial = 0x0a0b0c0d;
    dns::multi_signer_option o;
    o.operation = sync_op::REPORT;
    o.body = encode_sync(b);
    std::vector<uint8_t> wire;
    o.to_wire(wire);
    // OPERATION | TRANSPORT | SYNCHRONIZATION | reserved, then key u16 | length u16 | value
    // for keys 1-6 in increasing order, each value big-endian.
    const std::vector<uint8_t> want{
        128,  0x01, 0x01, 0x00,                          // REPORT, DNS, leader/follower
        0x00, 0x01, 0x00, 0x01, 0x01,                    // PROCESS add-signer
        0x00, 0x02, 0x00, 0x04, 0x01, 0x02, 0x03, 0x04,  // PROCESS-ID
        0x00, 0x03, 0x00, 0x01, 0x05,                    // STEP 5
        0x00, 0x04, 0x00, 0x01, 0x02,                    // STATUS done
        0x00, 0x05, 0x00, 0x04, 0x00, 0x00, 0x00, 0x07,  // TERM 7
        0x00, 0x06, 0x00, 0x04, 0x0a, 0x0b, 0x0c, 0x0d,  // SERIAL
    };
    EXPECT_EQ(wire, want);
    EXPECT_EQ(decode_sync(dns::multi_signer_option::from_wire(wire)), b);
}

TEST(AgentSyncBody, RoundTrip) {
    for (const sync_body& b : {
             sync_body{},
             sync_body{process_kind::add_signer, 1, 1, step_status::working, 0, 0},
             sync_body{process_kind::add_signer, 0xffffffff, 13, step_status::failed, 0xffffffff,
                       0xffffffff},
             sync_body{process_kind::remove_signer, 0x80000000, 11, step_status::done, 3,
                       2024010101},
             sync_body{process_kind::remove_signer, 42, 6, step_status::working, 1, 0},
         }) {
        dns::multi_signer_option o;
        o.operation = sync_op::INSTRUCT;
        o.body = encode_sync(b);
        std::vector<uint8_t> wire;
        o.to_wire(wire);
        auto back = decode_sync(dns::multi_signer_option::from_wire(wire));
        ASSERT_TRUE(back);
        EXPECT_EQ(*back, b);
    }
}

TEST(AgentSyncBody, MissingKeysStayAtTheirDefaults) {
    EXPECT_EQ(decode_sync(report_with({})), sync_body{});
    // Only a TERM, as in a PROPOSE.
    auto b = decode_sync(report_with({0x00, 0x05, 0x00, 0x04, 0x00, 0x00, 0x01, 0x00}));
    ASSERT_TRUE(b);
    EXPECT_EQ(b->term, 256u);
    EXPECT_EQ(b->process, process_kind::none);
    EXPECT_EQ(b->id, 0u);
    EXPECT_EQ(b->step, 0);
}

TEST(AgentSyncBody, UnknownKeysIgnored) {
    auto b = decode_sync(report_with({
        0x00, 0x00, 0x00, 0x02, 0xff, 0xff,        // key 0
        0x00, 0x01, 0x00, 0x01, 0x02,              // PROCESS remove-signer
        0x00, 0x03, 0x00, 0x01, 0x0b,              // STEP 11
        0x00, 0x07, 0x00, 0x03, 0x01, 0x02, 0x03,  // key 7
        0x01, 0x00, 0x00, 0x00,                    // key 256, empty
        0xff, 0xff, 0x00, 0x01, 0x09,              // key 65535
    }));
    ASSERT_TRUE(b);
    EXPECT_EQ(b->process, process_kind::remove_signer);
    EXPECT_EQ(b->step, 11);
    EXPECT_EQ(b->status, step_status::working);
}

TEST(AgentSyncBody, Rejected) {
    const std::vector<std::vector<uint8_t>> bad{
        // A known key with the wrong length.
        {0x00, 0x01, 0x00, 0x02, 0x00, 0x01},
        {0x00, 0x01, 0x00, 0x00},
        {0x00, 0x02, 0x00, 0x03, 0x01, 0x02, 0x03},
        {0x00, 0x02, 0x00, 0x05, 0x00, 0x01, 0x02, 0x03, 0x04},
        {0x00, 0x03, 0x00, 0x02, 0x00, 0x05},
        {0x00, 0x04, 0x00, 0x00},
        {0x00, 0x05, 0x00, 0x02, 0x00, 0x07},
        {0x00, 0x06, 0x00, 0x08, 0, 0, 0, 0, 0, 0, 0, 1},
        // PROCESS beyond remove-signer.
        {0x00, 0x01, 0x00, 0x01, 0x03},
        {0x00, 0x01, 0x00, 0x01, 0xff},
        // STATUS is 1, 2 or 3.
        {0x00, 0x04, 0x00, 0x01, 0x00},
        {0x00, 0x04, 0x00, 0x01, 0x04},
        // STEP beyond the process's steps.
        {0x00, 0x01, 0x00, 0x01, 0x01, 0x00, 0x03, 0x00, 0x01, 14},
        {0x00, 0x01, 0x00, 0x01, 0x02, 0x00, 0x03, 0x00, 0x01, 12},
        {0x00, 0x01, 0x00, 0x01, 0x02, 0x00, 0x03, 0x00, 0x01, 0xff},
    };
    for (const auto& body : bad)
        EXPECT_FALSE(decode_sync(report_with(body))) << ::testing::PrintToString(body);

    // The last step of each is fine.
    EXPECT_TRUE(
        decode_sync(report_with({0x00, 0x01, 0x00, 0x01, 0x01, 0x00, 0x03, 0x00, 0x01, 13})));
    EXPECT_TRUE(
        decode_sync(report_with({0x00, 0x01, 0x00, 0x01, 0x02, 0x00, 0x03, 0x00, 0x01, 11})));
}

}  // namespace
