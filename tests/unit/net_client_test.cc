// The DNS client on loopback: against our dns_server and against raw sockets that answer
// late, wrongly or not at all.
#include "net/client.h"

#include <gtest/gtest.h>

#include <array>
#include <optional>

#include "dns/message.h"
#include "dns/rdata.h"
#include "net/server.h"

using namespace hsync;
using namespace hsync::net;
using namespace std::chrono_literals;
using asio::ip::tcp;
using asio::ip::udp;
using boost::system::error_code;

namespace {

const auto loopback = asio::ip::make_address("127.0.0.1");

template <class T>
T run(asio::io_context& io, awaitable<T> a, std::chrono::milliseconds limit = 20s) {
    std::optional<T> out;
    std::exception_ptr error;
    bool done = false;
    asio::co_spawn(io, std::move(a), [&](std::exception_ptr e, T v) {
        error = e;
        out = std::move(v);
        done = true;
    });
    auto until = std::chrono::steady_clock::now() + limit;
    while (!done && std::chrono::steady_clock::now() < until) {
        if (io.stopped()) io.restart();  // it stops whenever it runs out of work
        io.run_one_for(50ms);
    }
    if (error) std::rethrow_exception(error);
    if (!done) throw std::runtime_error("test coroutine did not finish in time");
    return std::move(*out);
}

awaitable<void> sleep_for(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor);
    t.expires_after(d);
    co_await t.async_wait(use_awaitable);
}

dns::message make_query(std::string_view qname, uint8_t opcode = dns::opcode::QUERY) {
    dns::message m;
    m.id = random_id();
    m.opcode = opcode;
    m.questions.push_back({dns::name::from_text(qname), dns::rr_type::SOA, dns::rr_class::IN});
    return m;
}

std::vector<uint8_t> wire_of(const dns::message& m) {
    std::vector<uint8_t> out;
    m.to_wire(out);
    return out;
}

// The answer to `q`: its question, QR set, one A record, ID `id` (default: q's).
std::vector<uint8_t> answer_to(const dns::message& q, std::optional<uint16_t> id = {},
                               bool tc = false) {
    dns::message a;
    a.id = id.value_or(q.id);
    a.qr = true;
    a.tc = tc;
    a.opcode = q.opcode;
    a.questions = q.questions;
    if (!tc)
        a.answer.push_back(
            {q.questions.at(0).qname, dns::rr_type::A, dns::rr_class::IN, 60, {192, 0, 2, 7}});
    return wire_of(a);
}

struct net_client : ::testing::Test {
    asio::io_context io;
    std::unique_ptr<dns_server> server;
    uint16_t port = 0;

    void start(handler h) {
        server_options o;
        o.listen = {{loopback, 0}};
        server = std::make_unique<dns_server>(io.get_executor(), o, std::move(h));
        port = server->endpoints().at(0).port;
    }
    void TearDown() override {
        if (server)
            run(io, [](dns_server& s) -> awaitable<int> {
                co_await s.stop(500ms);
                co_return 0;
            }(*server));
    }
    peer at() const { return {loopback, port}; }
};

// A UDP socket of the test's own that plays the server.
struct fake_udp {
    explicit fake_udp(asio::io_context& io) : socket(io, udp::endpoint(loopback, 0)) {}
    udp::socket socket;
    peer at() { return {loopback, socket.local_endpoint().port()}; }
    // Receives one datagram (or nothing within 3 s).
    awaitable<std::optional<std::pair<dns::message, udp::endpoint>>> receive() {
        std::vector<uint8_t> buf(65535);
        udp::endpoint from;
        asio::steady_timer t(socket.get_executor());
        t.expires_after(3s);
        t.async_wait([this](const error_code& ec) {
            if (!ec) socket.cancel();
        });
        error_code ec;
        size_t n = co_await socket.async_receive_from(asio::buffer(buf), from,
                                                      asio::redirect_error(use_awaitable, ec));
        t.cancel();
        co_await sleep_for(0ms);
        if (ec) co_return std::nullopt;
        co_return std::pair{dns::message::parse(std::span(buf.data(), n)), from};
    }
};

}  // namespace

TEST_F(net_client, udp_and_tcp_against_our_server) {
    start([](const request& q, responder& r) -> awaitable<void> {
        co_await r.send(answer_to(dns::message::parse(q.wire)));
    });
    auto q = make_query("example.");
    auto u = run(io, query(io.get_executor(), at(), q));
    ASSERT_TRUE(u) << u.error;
    EXPECT_FALSE(u.tcp);
    EXPECT_EQ(u.udp_sends, 1u);
    EXPECT_EQ(u.response.id, q.id);
    EXPECT_EQ(dns::message::parse(u.wire), u.response);
    auto t = run(io, query(io.get_executor(), at(), wire_of(q), {.tcp = true}));
    ASSERT_TRUE(t) << t.error;
    EXPECT_TRUE(t.tcp);
    EXPECT_EQ(t.udp_sends, 0u);
    EXPECT_EQ(t.response.answer.size(), 1u);
}

TEST_F(net_client, truncated_answer_is_retried_over_tcp) {
    start([](const request& q, responder& r) -> awaitable<void> {
        auto m = dns::message::parse(q.wire);
        co_await r.send(answer_to(m, {}, !q.tcp));  // TC over UDP, the full answer over TCP
    });
    auto r = run(io, query(io.get_executor(), at(), make_query("big.example.")));
    ASSERT_TRUE(r) << r.error;
    EXPECT_TRUE(r.tcp);
    EXPECT_FALSE(r.response.tc);
    EXPECT_EQ(r.udp_sends, 1u);
    EXPECT_EQ(r.response.answer.size(), 1u);
    EXPECT_EQ(server->counters().udp_queries, 1u);
    EXPECT_EQ(server->counters().tcp_queries, 1u);

    auto no = run(io, query(io.get_executor(), at(), make_query("big.example."),
                            {.tc_fallback_to_tcp = false}));
    ASSERT_TRUE(no) << no.error;
    EXPECT_FALSE(no.tcp);
    EXPECT_TRUE(no.response.tc);
}

TEST_F(net_client, udp_timeout_after_retries) {
    fake_udp silent(io);
    auto t0 = std::chrono::steady_clock::now();
    auto r = run(io, query(io.get_executor(), silent.at(), make_query("x."),
                           {.timeout = 150ms, .retries = 2}));
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(r.code, status::timeout);
    EXPECT_FALSE(r.error.empty());
    EXPECT_EQ(r.udp_sends, 3u);
    EXPECT_GE(took, 440ms);
    EXPECT_LT(took, 1500ms);
    // All three datagrams arrived, with the same bytes (same ID).
    int seen = 0;
    std::vector<uint8_t> buf(512);
    error_code ec;
    silent.socket.non_blocking(true);
    while (silent.socket.receive(asio::buffer(buf), 0, ec) > 0 && !ec)
        ++seen;
    EXPECT_EQ(seen, 3);
}

TEST_F(net_client, tcp_timeout_and_refused) {
    tcp::acceptor mute(io, tcp::endpoint(loopback, 0));  // accepts (backlog), never answers
    auto t0 = std::chrono::steady_clock::now();
    auto r = run(io, query(io.get_executor(), {loopback, mute.local_endpoint().port()},
                           make_query("x."), {.timeout = 200ms, .tcp = true}));
    EXPECT_EQ(r.code, status::timeout) << r.error;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
    uint16_t closed_port = mute.local_endpoint().port();
    mute.close();
    auto refused = run(io, query(io.get_executor(), {loopback, closed_port}, make_query("x."),
                                 {.timeout = 2s, .tcp = true}));
    EXPECT_EQ(refused.code, status::network_error) << refused.error;
}

TEST_F(net_client, mismatched_udp_answers_are_ignored) {
    fake_udp server_socket(io);
    udp::socket other_port(io, udp::endpoint(loopback, 0));
    auto q = make_query("match.example.");
    auto fake = [&]() -> awaitable<int> {
        auto got = co_await server_socket.receive();
        if (!got) co_return 0;
        auto& [in, from] = *got;
        auto& s = server_socket.socket;
        co_await s.async_send_to(asio::buffer(answer_to(in, uint16_t(in.id + 1))), from,
                                 use_awaitable);
        auto wrong_q = in;
        wrong_q.questions[0].qname = dns::name::from_text("other.example.");
        co_await s.async_send_to(asio::buffer(answer_to(wrong_q)), from, use_awaitable);
        auto not_response = wire_of(in);  // QR clear: the query itself
        co_await s.async_send_to(asio::buffer(not_response), from, use_awaitable);
        std::vector<uint8_t> garbage{
            uint8_t(in.id >> 8), uint8_t(in.id), 0x80, 0, 0, 9, 0, 0, 0, 0, 0, 0};
        co_await s.async_send_to(asio::buffer(garbage), from, use_awaitable);
        // The right answer from the wrong port (RFC 5452 §9.1).
        co_await other_port.async_send_to(asio::buffer(answer_to(in)), from, use_awaitable);
        co_await sleep_for(20ms);
        co_await s.async_send_to(asio::buffer(answer_to(in)), from, use_awaitable);
        co_return 1;
    };
    asio::co_spawn(io, fake(), asio::detached);
    auto r =
        run(io, query(io.get_executor(), server_socket.at(), q, {.timeout = 2s, .retries = 0}));
    ASSERT_TRUE(r) << r.error;
    EXPECT_EQ(r.mismatched, 5u);
    EXPECT_EQ(r.response.id, q.id);
    EXPECT_EQ(r.response.answer.size(), 1u);
}

TEST_F(net_client, mismatched_tcp_answer_is_an_error) {
    start([](const request& q, responder& r) -> awaitable<void> {
        auto m = dns::message::parse(q.wire);
        co_await r.send(answer_to(m, uint16_t(m.id ^ 0x5555)));
    });
    auto r = run(io, query(io.get_executor(), at(), make_query("x."), {.tcp = true}));
    EXPECT_EQ(r.code, status::bad_response) << r.error;
}

TEST_F(net_client, bad_queries_are_refused_before_sending) {
    auto r = run(io, query(io.get_executor(), {loopback, 9}, std::vector<uint8_t>{1, 2, 3}));
    EXPECT_EQ(r.code, status::bad_query);
    auto q = wire_of(make_query("x."));
    q[2] |= 0x80;
    r = run(io, query(io.get_executor(), {loopback, 9}, q));
    EXPECT_EQ(r.code, status::bad_query);
}

TEST_F(net_client, notify_is_retransmitted_until_answered) {
    fake_udp secondary(io);
    int received = 0;
    auto fake = [&]() -> awaitable<int> {
        for (;;) {
            auto got = co_await secondary.receive();
            if (!got) co_return 0;
            if (++received < 3) continue;  // the first two are "lost"
            co_await secondary.socket.async_send_to(asio::buffer(answer_to(got->first)),
                                                    got->second, use_awaitable);
            co_return 1;
        }
    };
    asio::co_spawn(io, fake(), asio::detached);
    auto q = make_query("zone.example.", dns::opcode::NOTIFY);
    q.aa = true;
    auto r = run(io, notify(io.get_executor(), secondary.at(), wire_of(q), 100ms, 5));
    ASSERT_TRUE(r) << r.error;
    EXPECT_EQ(r.udp_sends, 3u);
    EXPECT_EQ(received, 3);
    EXPECT_EQ(r.response.opcode, dns::opcode::NOTIFY);
}

TEST_F(net_client, transfer_reads_messages_until_told_to_stop) {
    // An "AXFR" of 5 messages; the question only in the first (RFC 5936 §2.2.1).
    start([](const request& q, responder& r) -> awaitable<void> {
        auto m = dns::message::parse(q.wire);
        for (int i = 0; i < 5; ++i) {
            dns::message a;
            a.id = m.id;
            a.qr = true;
            if (i == 0) a.questions = m.questions;
            a.answer.push_back({dns::name::from_text("r" + std::to_string(i) + ".example."),
                                dns::rr_type::A,
                                dns::rr_class::IN,
                                60,
                                {10, 0, 0, uint8_t(i)}});
            std::vector<uint8_t> w;
            a.to_wire(w);
            if (!co_await r.send(std::move(w))) co_return;
        }
    });
    auto q = make_query("example.");
    q.questions[0].qtype = 252;  // AXFR
    std::vector<std::string> owners;
    auto r = run(io, transfer(io.get_executor(), at(), wire_of(q), {},
                              [&](std::span<const uint8_t> raw, const dns::message& m) {
                                  EXPECT_EQ(dns::message::parse(raw), m);
                                  owners.push_back(m.answer.at(0).owner.to_text());
                                  return owners.size() < 5;
                              }));
    ASSERT_TRUE(r) << r.error;
    EXPECT_EQ(r.messages, 5u);
    EXPECT_EQ(owners.back(), "r4.example.");

    // The server goes quiet after 5 messages: waiting for a 6th times out.
    owners.clear();
    auto t0 = std::chrono::steady_clock::now();
    r = run(io, transfer(io.get_executor(), at(), wire_of(q), {.message_timeout = 200ms},
                         [&](std::span<const uint8_t>, const dns::message& m) {
                             owners.push_back(m.answer.at(0).owner.to_text());
                             return true;
                         }));
    EXPECT_EQ(r.code, status::timeout) << r.error;
    EXPECT_EQ(r.messages, 5u);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
}

TEST_F(net_client, transfer_overall_deadline_and_wrong_id) {
    start([](const request& q, responder& r) -> awaitable<void> {
        auto m = dns::message::parse(q.wire);
        bool wrong_id = m.questions.at(0).qname == dns::name::from_text("wrong.example.");
        for (int i = 0; i < 50; ++i) {
            dns::message a;
            a.id = wrong_id && i == 2 ? uint16_t(m.id + 1) : m.id;
            a.qr = true;
            a.questions = m.questions;
            std::vector<uint8_t> w;
            a.to_wire(w);
            if (!co_await r.send(std::move(w))) co_return;
            co_await sleep_for(100ms);
        }
    });
    auto t0 = std::chrono::steady_clock::now();
    auto r = run(io, transfer(io.get_executor(), at(), wire_of(make_query("slow.example.")),
                              {.message_timeout = 1s, .total_timeout = 350ms},
                              [](std::span<const uint8_t>, const dns::message&) { return true; }));
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(r.code, status::timeout) << r.error;
    EXPECT_GE(r.messages, 3u);
    EXPECT_LE(r.messages, 5u);
    EXPECT_LT(took, 2s);  // far below message_timeout x 50

    r = run(io, transfer(io.get_executor(), at(), wire_of(make_query("wrong.example.")), {},
                         [](std::span<const uint8_t>, const dns::message&) { return true; }));
    EXPECT_EQ(r.code, status::bad_response) << r.error;
    EXPECT_EQ(r.messages, 2u);
}
