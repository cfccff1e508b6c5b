#include "net/client.h"

#include <algorithm>
#include <array>
#include <memory>
#include <random>

#include "dns/error.h"

namespace hsync::net {

namespace {

using clock_type = std::chrono::steady_clock;
using boost::system::error_code;

// Cancels the socket's pending operations when a deadline passes (STYLE.md item 10).
// Every arm() starts a new generation, so an expiry that was already queued when the
// deadline moved cannot cancel the next wait. The socket is shared with the timer's
// handler, which may run after the coroutine that owns both has finished.
template <class Socket>
class deadline {
  public:
    deadline(asio::any_io_executor ex, std::shared_ptr<Socket> socket)
        : timer_(ex), socket_(std::move(socket)), generation_(std::make_shared<uint64_t>(0)) {}
    ~deadline() { disarm(); }
    deadline(const deadline&) = delete;
    deadline& operator=(const deadline&) = delete;

    void arm(clock_type::time_point at) {
        at_ = at;
        uint64_t mine = ++*generation_;
        timer_.expires_at(at);
        timer_.async_wait([socket = socket_, generation = generation_, mine](const error_code& ec) {
            if (ec || *generation != mine) return;
            error_code ignored;
            socket->cancel(ignored);
        });
    }
    void disarm() {
        ++*generation_;
        timer_.cancel();
    }
    bool passed() const { return clock_type::now() >= at_; }

  private:
    asio::steady_timer timer_;
    std::shared_ptr<Socket> socket_;
    std::shared_ptr<uint64_t> generation_;
    clock_type::time_point at_{};
};

// Writes one message with its 2-byte length (RFC 1035 §4.2.2).
awaitable<error_code> write_framed(asio::ip::tcp::socket& socket, std::span<const uint8_t> msg) {
    std::array<uint8_t, 2> length{static_cast<uint8_t>(msg.size() >> 8),
                                  static_cast<uint8_t>(msg.size() & 0xff)};
    std::array<asio::const_buffer, 2> buffers{asio::buffer(length),
                                              asio::buffer(msg.data(), msg.size())};
    error_code ec;
    co_await asio::async_write(socket, buffers, asio::redirect_error(use_awaitable, ec));
    co_return ec;
}

// Reads one length-framed message into `out` (at most 65535 bytes by construction).
awaitable<error_code> read_framed(asio::ip::tcp::socket& socket, std::vector<uint8_t>& out) {
    std::array<uint8_t, 2> length{};
    error_code ec;
    co_await asio::async_read(socket, asio::buffer(length),
                              asio::redirect_error(use_awaitable, ec));
    if (ec) co_return ec;
    out.resize(size_t{length[0]} << 8 | length[1]);
    if (!out.empty())
        co_await asio::async_read(socket, asio::buffer(out),
                                  asio::redirect_error(use_awaitable, ec));
    co_return ec;
}

// The error of a failed wait: our own deadline, or the network.
status failure(const error_code& ec, bool deadline_passed) {
    return ec == asio::error::operation_aborted || deadline_passed ? status::timeout
                                                                   : status::network_error;
}

struct prepared {
    std::vector<uint8_t> wire;
    dns::message parsed;
};

// Checks that `wire` is a query we can send and parses it for matching the answer.
bool prepare(std::vector<uint8_t> wire, prepared& out, std::string& error) {
    if (wire.size() < dns::header_size || wire.size() > dns::max_message_size) {
        error = "query of " + std::to_string(wire.size()) + " bytes";
        return false;
    }
    try {
        out.parsed = dns::message::parse(wire);
    } catch (const dns::wire_error& e) {
        error = std::string("query does not parse: ") + e.what();
        return false;
    }
    if (out.parsed.qr) {
        error = "query has QR set";
        return false;
    }
    out.wire = std::move(wire);
    return true;
}

// One exchange over a fresh TCP connection (RFC 7766 §6.2.1: we send one query and
// close; a pipelining client is a later concern).
awaitable<void> tcp_exchange(asio::any_io_executor ex, const peer& server, const prepared& q,
                             std::chrono::milliseconds timeout, query_result& r) {
    auto socket = std::make_shared<asio::ip::tcp::socket>(ex);
    deadline<asio::ip::tcp::socket> dl(ex, socket);
    dl.arm(clock_type::now() + timeout);
    r.tcp = true;
    error_code ec;
    co_await socket->async_connect(server.tcp(), asio::redirect_error(use_awaitable, ec));
    if (!ec) ec = co_await write_framed(*socket, q.wire);
    std::vector<uint8_t> in;
    if (!ec) ec = co_await read_framed(*socket, in);
    if (ec) {
        r.code = failure(ec, dl.passed());
        r.error = "TCP to " + server.to_string() + ": " +
                  (r.code == status::timeout ? std::string("timed out") : ec.message());
        co_return;
    }
    try {
        r.response = dns::message::parse(in);
    } catch (const dns::wire_error& e) {
        r.code = status::bad_response;
        r.error = "TCP answer from " + server.to_string() + " does not parse: " + e.what();
        co_return;
    }
    if (!response_matches(q.parsed, r.response)) {
        r.code = status::bad_response;
        r.error = "TCP answer from " + server.to_string() + " does not match the query";
        co_return;
    }
    r.wire = std::move(in);
    r.code = status::ok;
    r.error.clear();
}

// UDP with retransmission: the same bytes (same ID) each time, so a late answer to an
// earlier send still counts. Unrelated datagrams are ignored until the deadline.
awaitable<void> udp_exchange(asio::any_io_executor ex, const peer& server, const prepared& q,
                             const query_options& o, query_result& r) {
    using asio::ip::udp;
    auto socket = std::make_shared<udp::socket>(ex);
    error_code ec;
    socket->open(server.address.is_v4() ? udp::v4() : udp::v6(), ec);
    if (!ec) socket->bind(udp::endpoint(server.address.is_v4() ? udp::v4() : udp::v6(), 0), ec);
    if (ec) {
        r.code = status::network_error;
        r.error = "UDP socket: " + ec.message();
        co_return;
    }
    deadline<udp::socket> dl(ex, socket);
    // Sized to each datagram as it arrives, not 64 KiB per query in flight: a refresh of
    // 10,000 zones at once must not hold 640 MB of receive buffers.
    std::vector<uint8_t> buffer;
    const udp::endpoint expected = server.udp();
    r.code = status::timeout;
    r.error = "no answer from " + server.to_string();
    for (unsigned attempt = 0; attempt <= o.retries; ++attempt) {
        dl.arm(clock_type::now() + o.timeout);
        co_await socket->async_send_to(asio::buffer(q.wire), expected,
                                       asio::redirect_error(use_awaitable, ec));
        if (ec == asio::error::operation_aborted) continue;
        if (ec) {
            r.code = status::network_error;
            r.error = "UDP to " + server.to_string() + ": " + ec.message();
            co_return;
        }
        ++r.udp_sends;
        for (;;) {
            udp::endpoint from;
            co_await socket->async_wait(udp::socket::wait_read,
                                        asio::redirect_error(use_awaitable, ec));
            if (ec == asio::error::operation_aborted) break;
            size_t n = 0;
            if (!ec) {
                // FIONREAD on a UDP socket is the size of the next datagram (Linux).
                size_t pending = socket->available(ec);
                if (!ec) {
                    buffer.resize(std::clamp<size_t>(pending, 1, dns::max_message_size));
                    n = socket->receive_from(asio::buffer(buffer), from, 0, ec);
                    if (ec == asio::error::would_block) continue;
                }
            }
            if (ec) {
                // ICMP errors surface here on some systems; the next send may still work.
                if (dl.passed()) break;
                continue;
            }
            // Cheap checks first: source address and port (RFC 5452 §9.1), then the ID.
            if (from != expected || n < dns::header_size || buffer[0] != q.wire[0] ||
                buffer[1] != q.wire[1]) {
                ++r.mismatched;
            } else {
                try {
                    auto response = dns::message::parse(std::span(buffer.data(), n));
                    if (response_matches(q.parsed, response)) {
                        r.response = std::move(response);
                        r.wire.assign(buffer.begin(), buffer.begin() + static_cast<ptrdiff_t>(n));
                        r.code = status::ok;
                        r.error.clear();
                        co_return;
                    }
                } catch (const dns::wire_error&) {
                    // A forged or broken datagram must not end the wait for the real one.
                }
                ++r.mismatched;
            }
            if (dl.passed()) break;
        }
    }
}

}  // namespace

std::string peer::to_string() const {
    return address.to_string() + "#" + std::to_string(port);
}

std::string to_string(status s) {
    switch (s) {
        case status::ok:
            return "ok";
        case status::timeout:
            return "timeout";
        case status::network_error:
            return "network error";
        case status::bad_response:
            return "bad response";
        case status::bad_query:
            return "bad query";
    }
    return "unknown";
}

uint16_t random_id() {
    thread_local std::random_device device;
    return static_cast<uint16_t>(device());
}

bool response_matches(const dns::message& query, const dns::message& response) {
    if (!response.qr || response.id != query.id || response.opcode != query.opcode) return false;
    if (response.questions.empty()) return response.rcode != dns::rcode::NOERROR;
    if (response.questions.size() != query.questions.size()) return false;
    for (size_t i = 0; i < query.questions.size(); ++i) {
        const auto &a = query.questions[i], &b = response.questions[i];
        if (!(a.qname == b.qname) || a.qtype != b.qtype || a.qclass != b.qclass) return false;
    }
    return true;
}

awaitable<query_result> query(asio::any_io_executor ex, peer server, std::vector<uint8_t> wire,
                              query_options o) {
    auto start = clock_type::now();
    query_result r;
    prepared q;
    if (!prepare(std::move(wire), q, r.error)) {
        r.code = status::bad_query;
        co_return r;
    }
    if (o.tcp) {
        co_await tcp_exchange(ex, server, q, o.timeout, r);
    } else {
        co_await udp_exchange(ex, server, q, o, r);
        // RFC 7766 §5 / RFC 1035 §4.2.1: a truncated answer is retried over TCP.
        if (r && r.response.tc && o.tc_fallback_to_tcp) {
            query_result t;
            t.udp_sends = r.udp_sends;
            t.mismatched = r.mismatched;
            co_await tcp_exchange(ex, server, q, o.timeout, t);
            r = std::move(t);
        }
    }
    r.elapsed = clock_type::now() - start;
    co_return r;
}

awaitable<query_result> query(asio::any_io_executor ex, peer server, const dns::message& msg,
                              query_options o) {
    std::vector<uint8_t> wire;
    try {
        msg.to_wire(wire);
    } catch (const dns::wire_error& e) {
        query_result r;
        r.code = status::bad_query;
        r.error = std::string("query does not encode: ") + e.what();
        co_return r;
    }
    co_return co_await query(ex, server, std::move(wire), o);
}

awaitable<query_result> notify(asio::any_io_executor ex, peer server, std::vector<uint8_t> wire,
                               std::chrono::milliseconds timeout, unsigned retries) {
    query_options o;
    o.timeout = timeout;
    o.retries = retries;
    o.tcp = false;
    o.tc_fallback_to_tcp = false;
    co_return co_await query(ex, server, std::move(wire), o);
}

awaitable<transfer_result> transfer(asio::any_io_executor ex, peer server,
                                    std::vector<uint8_t> wire, transfer_options o,
                                    transfer_callback on_message) {
    transfer_result r;
    prepared q;
    if (!prepare(std::move(wire), q, r.error)) {
        r.code = status::bad_query;
        co_return r;
    }
    auto socket = std::make_shared<asio::ip::tcp::socket>(ex);
    deadline<asio::ip::tcp::socket> dl(ex, socket);
    const auto overall = clock_type::now() + o.total_timeout;
    auto next_deadline = [&] { return std::min(clock_type::now() + o.message_timeout, overall); };
    auto fail = [&](const error_code& ec, const char* step) {
        r.code = failure(ec, dl.passed());
        r.error = "transfer from " + server.to_string() + ": " + step + ": " +
                  (r.code == status::timeout ? std::string("timed out") : ec.message());
    };

    dl.arm(next_deadline());
    error_code ec;
    co_await socket->async_connect(server.tcp(), asio::redirect_error(use_awaitable, ec));
    if (ec) {
        fail(ec, "connect");
        co_return r;
    }
    ec = co_await write_framed(*socket, q.wire);
    if (ec) {
        fail(ec, "send");
        co_return r;
    }
    std::vector<uint8_t> in;
    for (;;) {
        dl.arm(next_deadline());
        ec = co_await read_framed(*socket, in);
        if (ec == asio::error::eof) {
            r.code = status::network_error;
            r.error = "transfer from " + server.to_string() + ": connection closed after " +
                      std::to_string(r.messages) + " messages, before the end";
            co_return r;
        }
        if (ec) {
            fail(ec, "read");
            co_return r;
        }
        dns::message m;
        try {
            m = dns::message::parse(in);
        } catch (const dns::wire_error& e) {
            r.code = status::bad_response;
            r.error = "transfer from " + server.to_string() + ": message " +
                      std::to_string(r.messages + 1) + " does not parse: " + e.what();
            co_return r;
        }
        // RFC 5936 §2.2: every message has the query's ID; the question is copied into
        // the first one and may be left out of the others.
        bool matches = m.questions.empty() ? m.qr && m.id == q.parsed.id && r.messages > 0
                                           : response_matches(q.parsed, m);
        if (!matches && m.qr && m.id == q.parsed.id && m.rcode != dns::rcode::NOERROR)
            matches = true;  // an error answer without question still ends the transfer
        if (!matches) {
            r.code = status::bad_response;
            r.error = "transfer from " + server.to_string() + ": message " +
                      std::to_string(r.messages + 1) + " does not match the query";
            co_return r;
        }
        ++r.messages;
        r.bytes += in.size();
        if (!on_message(in, m)) break;
    }
    r.code = status::ok;
    r.error.clear();
    co_return r;
}

}  // namespace hsync::net
