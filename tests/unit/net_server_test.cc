// dns_server on loopback with real sockets: our client, raw sockets that misbehave on
// purpose, and dig/kdig as clients we did not write.
#include "net/server.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include "dns/error.h"
#include "dns/message.h"
#include "dns/rdata.h"
#include "net/client.h"

using namespace hsync;
using namespace hsync::net;
using namespace std::chrono_literals;
using asio::ip::tcp;
using asio::ip::udp;
using boost::system::error_code;

namespace {

const auto loopback = asio::ip::make_address("127.0.0.1");
const auto loopback2 = asio::ip::make_address("127.0.0.2");

// Runs `a` on `io` (and whatever else is queued there) until it finishes or `limit`.
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

void run_void(asio::io_context& io, awaitable<void> a, std::chrono::milliseconds limit = 20s) {
    run(
        io,
        [](awaitable<void> inner) -> awaitable<int> {
            co_await std::move(inner);
            co_return 0;
        }(std::move(a)),
        limit);
}

awaitable<void> sleep_for(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor);
    t.expires_after(d);
    co_await t.async_wait(use_awaitable);
}

dns::message make_query(std::string_view qname, uint16_t qtype = dns::rr_type::A) {
    dns::message m;
    m.id = random_id();
    m.rd = true;
    m.questions.push_back({dns::name::from_text(qname), qtype, dns::rr_class::IN});
    return m;
}

std::vector<uint8_t> wire_of(const dns::message& m) {
    std::vector<uint8_t> out;
    m.to_wire(out);
    return out;
}

// The trivial handler: the question back with QR and AA set and one A record 192.0.2.1.
// Names starting with "slow" answer after 300 ms, so completion order differs from
// arrival order. Requests that do not parse throw (the server answers SERVFAIL).
awaitable<void> answer(const request& q, responder& r) {
    auto in = dns::message::parse(q.wire);
    if (!in.questions.empty() && in.questions[0].qname.to_text().starts_with("slow"))
        co_await sleep_for(300ms);
    dns::message out;
    out.id = in.id;
    out.qr = true;
    out.aa = true;
    out.opcode = in.opcode;
    out.rd = in.rd;
    out.questions = in.questions;
    if (!in.questions.empty())
        out.answer.push_back({in.questions[0].qname, dns::rr_type::A, dns::rr_class::IN, 300,
                              std::vector<uint8_t>{192, 0, 2, 1}});
    std::vector<uint8_t> wire;
    out.to_wire(wire, r.max_size());
    co_await r.send(std::move(wire));
}

struct net_server : ::testing::Test {
    asio::io_context io;
    std::unique_ptr<dns_server> server;
    uint16_t port = 0;

    void start(server_options o = {}, handler h = answer) {
        if (o.listen.empty()) o.listen = {{loopback, 0}};
        server = std::make_unique<dns_server>(io.get_executor(), std::move(o), std::move(h));
        port = server->endpoints().at(0).port;
        ASSERT_NE(port, 0);
    }
    peer at() const { return {loopback, port}; }
    void TearDown() override {
        if (server) run_void(io, server->stop(500ms));
    }

    query_result ask(std::string_view qname, bool over_tcp) {
        query_options o;
        o.timeout = 2s;
        o.retries = 0;
        o.tcp = over_tcp;
        return run(io, query(io.get_executor(), at(), make_query(qname), o));
    }
};

// A connected TCP socket from `from` (any port), for tests that speak raw framing.
awaitable<std::shared_ptr<tcp::socket>> connect_from(asio::ip::address from, peer to) {
    auto s = std::make_shared<tcp::socket>(co_await asio::this_coro::executor);
    s->open(tcp::v4());
    s->bind({from, 0});
    co_await s->async_connect(to.tcp(), use_awaitable);
    co_return s;
}

std::vector<uint8_t> framed(const std::vector<uint8_t>& m) {
    std::vector<uint8_t> out{static_cast<uint8_t>(m.size() >> 8), static_cast<uint8_t>(m.size())};
    out.insert(out.end(), m.begin(), m.end());
    return out;
}

// Reads one framed message, or nullopt on end of stream / error / `limit`.
awaitable<std::optional<std::vector<uint8_t>>> read_message(tcp::socket& s,
                                                            std::chrono::milliseconds limit) {
    asio::steady_timer t(s.get_executor());
    t.expires_after(limit);
    t.async_wait([&s](const error_code& ec) {
        if (!ec) s.cancel();
    });
    std::array<uint8_t, 2> len{};
    error_code ec;
    co_await asio::async_read(s, asio::buffer(len), asio::redirect_error(use_awaitable, ec));
    std::vector<uint8_t> body;
    if (!ec) {
        body.resize(size_t{len[0]} << 8 | len[1]);
        co_await asio::async_read(s, asio::buffer(body), asio::redirect_error(use_awaitable, ec));
    }
    t.cancel();
    co_await sleep_for(0ms);  // let the cancelled timer's handler run while `s` lives
    if (ec) co_return std::nullopt;
    co_return body;
}

// True if the server closed the connection within `limit` (end of stream or reset),
// false if it stayed open and silent.
awaitable<bool> peer_closed(tcp::socket& s, std::chrono::milliseconds limit) {
    asio::steady_timer t(s.get_executor());
    t.expires_after(limit);
    t.async_wait([&s](const error_code& ec) {
        if (!ec) s.cancel();
    });
    std::array<uint8_t, 1> byte{};
    error_code ec;
    co_await s.async_read_some(asio::buffer(byte), asio::redirect_error(use_awaitable, ec));
    t.cancel();
    co_await sleep_for(0ms);
    co_return ec == asio::error::eof || ec == asio::error::connection_reset;
}

// Runs a shell command with a time limit; returns its output and exit status.
std::pair<std::string, int> shell(const std::string& cmd) {
    std::string out;
    FILE* p = popen(("timeout 20 " + cmd + " 2>&1").c_str(), "r");
    if (!p) return {"popen failed", -1};
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
        out.append(buf.data(), n);
    int rc = pclose(p);
    return {out, WIFEXITED(rc) ? WEXITSTATUS(rc) : -1};
}

size_t count_of(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t i = text.find(what); i != std::string::npos; i = text.find(what, i + 1))
        ++n;
    return n;
}

}  // namespace

TEST_F(net_server, answers_udp_and_tcp_on_the_same_port) {
    start();
    auto u = ask("www.example.", false);
    ASSERT_TRUE(u) << u.error;
    EXPECT_FALSE(u.tcp);
    EXPECT_TRUE(u.response.qr);
    ASSERT_EQ(u.response.answer.size(), 1u);
    EXPECT_EQ(u.response.answer[0].rdata, (std::vector<uint8_t>{192, 0, 2, 1}));
    auto t = ask("www.example.", true);
    ASSERT_TRUE(t) << t.error;
    EXPECT_TRUE(t.tcp);
    auto c = server->counters();
    EXPECT_EQ(c.udp_queries, 1u);
    EXPECT_EQ(c.udp_responses, 1u);
    EXPECT_EQ(c.tcp_queries, 1u);
    EXPECT_EQ(c.tcp_responses, 1u);
    EXPECT_EQ(c.tcp_connections, 1u);
}

TEST_F(net_server, listens_on_ipv6_and_several_endpoints) {
    server_options o;
    o.listen = {{loopback, 0}, {asio::ip::make_address("::1"), 0}};
    start(o);
    auto eps = server->endpoints();
    ASSERT_EQ(eps.size(), 2u);
    EXPECT_NE(eps[1].port, 0);
    for (bool over_tcp : {false, true}) {
        query_options qo;
        qo.tcp = over_tcp;
        auto r = run(io, query(io.get_executor(), {eps[1].address, eps[1].port},
                               make_query("v6.example."), qo));
        ASSERT_TRUE(r) << r.error;
        EXPECT_EQ(r.tcp, over_tcp);
    }
}

TEST_F(net_server, tcp_pipelined_answers_come_as_they_complete) {
    start();
    auto slow = make_query("slow.example."), fast1 = make_query("fast1.example."),
         fast2 = make_query("fast2.example.");
    slow.id = 1;
    fast1.id = 2;
    fast2.id = 3;
    auto ids = run(io, [&]() -> awaitable<std::vector<uint16_t>> {
        auto s = co_await connect_from(loopback, at());
        std::vector<uint8_t> all;
        for (auto* m : {&slow, &fast1, &fast2}) {
            auto f = framed(wire_of(*m));
            all.insert(all.end(), f.begin(), f.end());
        }
        co_await asio::async_write(*s, asio::buffer(all), use_awaitable);  // one segment
        std::vector<uint16_t> got;
        for (int i = 0; i < 3; ++i) {
            auto m = co_await read_message(*s, 3s);
            if (!m) break;
            got.push_back(dns::message::parse(*m).id);
        }
        co_return got;
    }());
    EXPECT_EQ(ids, (std::vector<uint16_t>{2, 3, 1}));
    EXPECT_EQ(server->counters().tcp_connections, 1u);
    EXPECT_EQ(server->counters().tcp_queries, 3u);
}

TEST_F(net_server, per_connection_in_flight_limit_holds_back_reading) {
    server_options o;
    o.tcp_max_in_flight = 1;
    start(o);
    auto elapsed = run(io, [&]() -> awaitable<std::chrono::steady_clock::duration> {
        auto s = co_await connect_from(loopback, at());
        std::vector<uint8_t> all;
        for (int i = 0; i < 3; ++i) {
            auto f = framed(wire_of(make_query("slow" + std::to_string(i) + ".example.")));
            all.insert(all.end(), f.begin(), f.end());
        }
        auto t0 = std::chrono::steady_clock::now();
        co_await asio::async_write(*s, asio::buffer(all), use_awaitable);
        for (int i = 0; i < 3; ++i)
            if (!co_await read_message(*s, 3s)) break;
        co_return std::chrono::steady_clock::now() - t0;
    }());
    // One at a time: three 300 ms answers take at least 900 ms.
    EXPECT_GE(elapsed, 880ms);
    EXPECT_EQ(server->counters().tcp_responses, 3u);
}

TEST_F(net_server, per_client_limit_keeps_other_clients_served) {
    server_options o;
    // Room for 6 connections in all; without the per-client limit the abusive client
    // below would take every one of them.
    o.tcp_max_connections = 6;
    o.tcp_max_connections_per_client = 4;
    start(o);
    // An abusive client at 127.0.0.2 opens 10 idle connections.
    auto idle = run(io, [&]() -> awaitable<std::vector<std::shared_ptr<tcp::socket>>> {
        std::vector<std::shared_ptr<tcp::socket>> v;
        for (int i = 0; i < 10; ++i)
            v.push_back(co_await connect_from(loopback2, at()));
        co_await sleep_for(100ms);  // let the server accept them all
        co_return v;
    }());
    auto c = server->counters();
    EXPECT_EQ(c.tcp_connections, 4u);
    EXPECT_EQ(c.tcp_refused, 6u);
    EXPECT_EQ(c.tcp_connections_open, 4u);
    // Another client still gets answers, over TCP and UDP.
    auto t = ask("other.example.", true);
    EXPECT_TRUE(t) << t.error;
    auto u = ask("other.example.", false);
    EXPECT_TRUE(u) << u.error;
    // The refused connections were closed by the server; the 4 accepted ones stay open.
    size_t closed = 0;
    for (auto& s : idle)
        if (run(io, peer_closed(*s, 200ms))) ++closed;
    EXPECT_EQ(closed, 6u);
}

TEST_F(net_server, global_connection_limit) {
    server_options o;
    o.tcp_max_connections = 3;
    start(o);
    auto idle = run(io, [&]() -> awaitable<std::vector<std::shared_ptr<tcp::socket>>> {
        std::vector<std::shared_ptr<tcp::socket>> v;
        for (int i = 0; i < 3; ++i)
            v.push_back(co_await connect_from(loopback2, at()));
        co_await sleep_for(100ms);
        co_return v;
    }());
    auto t = ask("late.example.", true);
    EXPECT_FALSE(t);
    EXPECT_EQ(t.code, status::network_error) << t.error;
    EXPECT_EQ(server->counters().tcp_refused, 1u);
    idle.clear();  // they leave: room again
    run_void(io, sleep_for(100ms));
    EXPECT_TRUE(ask("late.example.", true));
}

TEST_F(net_server, idle_connections_time_out) {
    server_options o;
    o.tcp_idle_timeout = 200ms;
    start(o);
    auto t0 = std::chrono::steady_clock::now();
    auto got = run(io, [&]() -> awaitable<bool> {
        auto s = co_await connect_from(loopback, at());
        // One query answered; then silence until the server closes.
        co_await asio::async_write(*s, asio::buffer(framed(wire_of(make_query("a.example.")))),
                                   use_awaitable);
        auto first = co_await read_message(*s, 2s);
        bool closed = co_await peer_closed(*s, 3s);
        co_return first.has_value() && closed;
    }());
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_TRUE(got);
    EXPECT_GE(took, 190ms);
    EXPECT_LT(took, 2s);  // closed by the idle timeout, not by our 3 s read limit
    EXPECT_EQ(server->counters().tcp_idle_timeouts, 1u);
    EXPECT_EQ(server->counters().tcp_connections_open, 0u);
}

TEST_F(net_server, client_that_does_not_read_is_dropped) {
    server_options o;
    o.tcp_write_timeout = 300ms;
    o.tcp_idle_timeout = 10s;
    std::optional<bool> last_send;
    start(o, [&](const request& q, responder& r) -> awaitable<void> {
        auto in = dns::message::parse(q.wire);
        if (!q.tcp || !(in.questions.at(0).qname == dns::name::from_text("big.example."))) {
            co_await answer(q, r);
            co_return;
        }
        // A big "zone transfer": far more than the socket buffers hold.
        std::vector<uint8_t> big(60000, 0);
        big[0] = q.wire[0];
        big[1] = q.wire[1];
        big[2] = 0x80;
        for (int i = 0; i < 2000; ++i) {
            if (!co_await r.send(big)) {
                last_send = false;
                co_return;
            }
        }
        last_send = true;
    });
    auto s = run(io, [&]() -> awaitable<std::shared_ptr<tcp::socket>> {
        auto s = co_await connect_from(loopback2, at());
        co_await asio::async_write(*s, asio::buffer(framed(wire_of(make_query("big.example.")))),
                                   use_awaitable);
        co_return s;  // and never read
    }());
    auto t0 = std::chrono::steady_clock::now();
    while (!last_send && std::chrono::steady_clock::now() - t0 < 5s)
        io.run_one_for(50ms);
    ASSERT_TRUE(last_send.has_value()) << "the handler never learnt the client is gone";
    EXPECT_FALSE(*last_send);
    EXPECT_EQ(server->counters().tcp_write_timeouts, 1u);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
    EXPECT_TRUE(ask("still.example.", true));
}

TEST_F(net_server, malformed_input_is_dropped_and_service_goes_on) {
    start();
    run_void(io, [&]() -> awaitable<void> {
        // UDP: runts are dropped silently (RFC 1035 §4.1.1), and so is a response.
        udp::socket u(co_await asio::this_coro::executor, udp::endpoint(udp::v4(), 0));
        for (size_t n : {0, 1, 5, 11}) {
            std::vector<uint8_t> runt(n, 0xab);
            co_await u.async_send_to(asio::buffer(runt), at().udp(), use_awaitable);
        }
        auto response = wire_of(make_query("r.example."));
        response[2] |= 0x80;
        co_await u.async_send_to(asio::buffer(response), at().udp(), use_awaitable);
        // Garbage with a full header reaches the handler, which throws: SERVFAIL.
        std::vector<uint8_t> garbage{0x12, 0x34, 0x01, 0x00, 0xff, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0xff, 0xff, 0x07, 0x41};
        co_await u.async_send_to(asio::buffer(garbage), at().udp(), use_awaitable);
        std::vector<uint8_t> in(600);
        udp::endpoint from;
        asio::steady_timer t(u.get_executor());
        t.expires_after(2s);
        t.async_wait([&u](const error_code& ec) {
            if (!ec) u.cancel();
        });
        size_t n = co_await u.async_receive_from(asio::buffer(in), from, use_awaitable);
        t.cancel();
        EXPECT_EQ(n, 12u);
        EXPECT_EQ(in[0], 0x12);
        EXPECT_EQ(in[1], 0x34);
        EXPECT_EQ(in[2] & 0x80, 0x80);
        EXPECT_EQ(in[3] & 0x0f, dns::rcode::SERVFAIL);

        // TCP: length 0 and length 1 close that connection; garbage gets SERVFAIL.
        for (std::vector<uint8_t> bad :
             {std::vector<uint8_t>{0, 0}, std::vector<uint8_t>{0, 1, 0x55}}) {
            auto s = co_await connect_from(loopback, at());
            co_await asio::async_write(*s, asio::buffer(bad), use_awaitable);
            EXPECT_TRUE(co_await peer_closed(*s, 2s));
        }
        auto s = co_await connect_from(loopback, at());
        co_await asio::async_write(*s, asio::buffer(framed(garbage)), use_awaitable);
        auto reply = co_await read_message(*s, 2s);
        EXPECT_TRUE(reply && reply->size() == 12 && ((*reply)[3] & 0x0f) == dns::rcode::SERVFAIL);
        // A length announcing more than is sent, then the client goes away.
        auto half = co_await connect_from(loopback, at());
        std::vector<uint8_t> partial{0x01, 0x00, 1, 2, 3};
        co_await asio::async_write(*half, asio::buffer(partial), use_awaitable);
        half->close();
    }());
    auto c = server->counters();
    EXPECT_EQ(c.udp_dropped, 5u);
    EXPECT_EQ(c.tcp_dropped, 2u);
    EXPECT_EQ(c.handler_errors, 2u);
    EXPECT_TRUE(ask("after.example.", false));
    EXPECT_TRUE(ask("after.example.", true));
}

TEST_F(net_server, stop_with_open_connections_returns_promptly_and_finishes_answers) {
    start();
    auto t0 = std::chrono::steady_clock::now();
    auto result = run(io, [&]() -> awaitable<bool> {
        std::vector<std::shared_ptr<tcp::socket>> idle;
        for (int i = 0; i < 5; ++i)
            idle.push_back(co_await connect_from(loopback, at()));
        auto busy = co_await connect_from(loopback, at());
        co_await asio::async_write(
            *busy, asio::buffer(framed(wire_of(make_query("slow.example.")))), use_awaitable);
        co_await sleep_for(50ms);  // the query is in flight
        co_await server->stop(5s);
        // The answer in flight went out before the connection closed; then end of stream.
        auto answer_msg = co_await read_message(*busy, 1s);
        bool busy_closed = co_await peer_closed(*busy, 1s);
        bool idle_closed = true;
        for (auto& s : idle)
            idle_closed = (co_await peer_closed(*s, 1s)) && idle_closed;
        EXPECT_TRUE(answer_msg.has_value());
        EXPECT_TRUE(busy_closed);
        EXPECT_TRUE(idle_closed);
        co_return answer_msg.has_value() && busy_closed&& idle_closed;
    }());
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_TRUE(result);
    EXPECT_LT(took, 2s);
    EXPECT_EQ(server->counters().tcp_connections_open, 0u);
    // Nothing listens any more.
    auto r = run(io, query(io.get_executor(), at(), make_query("gone.example."),
                           query_options{.timeout = 200ms, .retries = 0, .tcp = true}));
    EXPECT_FALSE(r);
    server.reset();
}

TEST_F(net_server, stop_deadline_cuts_handlers_that_take_too_long) {
    start({}, [](const request&, responder& r) -> awaitable<void> {
        co_await sleep_for(10s);
        co_await r.send({});
    });
    auto t0 = std::chrono::steady_clock::now();
    run_void(io, [&]() -> awaitable<void> {
        auto s = co_await connect_from(loopback, at());
        co_await asio::async_write(*s, asio::buffer(framed(wire_of(make_query("x.example.")))),
                                   use_awaitable);
        co_await sleep_for(50ms);
        co_await server->stop(300ms);
    }());
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_GE(took, 300ms);
    EXPECT_LT(took, 1500ms);
    server.reset();
    io.stop();  // the sleeping handler is abandoned with the io_context
}

// Real clients: dig and kdig, with the server running on a thread of its own.
struct net_real_clients : net_server {
    std::thread runner;
    void start_threaded() {
        start();
        runner = std::thread([this] {
            auto guard = asio::make_work_guard(io);
            io.run();
        });
    }
    void TearDown() override {
        if (runner.joinable()) {
            auto f = asio::co_spawn(io, server->stop(500ms), asio::use_future);
            f.wait_for(5s);
            io.stop();
            runner.join();
        }
        server.reset();
    }
};

TEST_F(net_real_clients, dig_over_udp_and_tcp) {
    start_threaded();
    for (const char* transport : {"+notcp", "+tcp"}) {
        auto [out, rc] = shell("dig @127.0.0.1 -p " + std::to_string(port) + " " + transport +
                               " +tries=1 +time=3 www.example. A");
        EXPECT_EQ(rc, 0) << out;
        EXPECT_NE(out.find("status: NOERROR"), std::string::npos) << out;
        EXPECT_NE(out.find("flags: qr aa rd"), std::string::npos) << out;
        EXPECT_NE(out.find("www.example.\t\t300\tIN\tA\t192.0.2.1"), std::string::npos) << out;
    }
    auto c = server->counters();
    EXPECT_EQ(c.udp_queries, 1u);
    EXPECT_EQ(c.tcp_queries, 1u);
}

TEST_F(net_real_clients, kdig_keeps_one_tcp_connection_for_several_queries) {
    start_threaded();
    auto [out, rc] = shell("kdig @127.0.0.1 -p " + std::to_string(port) +
                           " +tcp +keepopen +timeout=3 +retry=0 a.example. A b.example. A "
                           "slow.example. A c.example. A");
    EXPECT_EQ(rc, 0) << out;
    EXPECT_EQ(count_of(out, "status: NOERROR"), 4u) << out;
    EXPECT_EQ(count_of(out, "\tA\t192.0.2.1"), 4u) << out;
    auto c = server->counters();
    EXPECT_EQ(c.tcp_queries, 4u);
    EXPECT_EQ(c.tcp_connections, 1u);
}
