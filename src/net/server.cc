#include "net/server.h"

#include <array>
#include <map>
#include <set>
#include <stdexcept>

#include "dns/message.h"

namespace hsync::net {

namespace {

using clock_type = std::chrono::steady_clock;
using asio::ip::tcp;
using asio::ip::udp;
using boost::system::error_code;

constexpr auto forever = clock_type::time_point::max();

// A bare SERVFAIL header for a request the handler failed on: the ID, opcode and RD of
// the request (RFC 1035 §4.1.1), no sections.
std::vector<uint8_t> servfail_for(std::span<const uint8_t> request) {
    std::vector<uint8_t> out(dns::header_size, 0);
    out[0] = request[0];
    out[1] = request[1];
    out[2] = static_cast<uint8_t>(0x80 | (request[2] & 0x79));  // QR, opcode, RD
    out[3] = static_cast<uint8_t>(dns::rcode::SERVFAIL);
    return out;
}

struct atomic_counters {
    std::atomic<uint64_t> udp_queries{0}, tcp_queries{0}, udp_responses{0}, tcp_responses{0},
        udp_dropped{0}, tcp_dropped{0}, tcp_connections{0}, tcp_connections_open{0}, tcp_refused{0},
        tcp_idle_timeouts{0}, tcp_write_timeouts{0}, handler_errors{0};
};

struct udp_listener {
    explicit udp_listener(asio::any_io_executor ex) : socket(ex) {}
    udp::socket socket;
    peer local;
    size_t in_flight = 0;
};

struct tcp_listener {
    explicit tcp_listener(asio::any_io_executor ex) : acceptor(ex) {}
    tcp::acceptor acceptor;
    peer local;
};

peer to_peer(const udp::endpoint& e) {
    return {e.address(), e.port()};
}
peer to_peer(const tcp::endpoint& e) {
    return {e.address(), e.port()};
}

}  // namespace

struct connection;

struct dns_server::state : std::enable_shared_from_this<dns_server::state> {
    state(asio::any_io_executor e, server_options o, handler h)
        : ex(std::move(e)), opt(std::move(o)), handle(std::move(h)) {}

    asio::any_io_executor ex;
    server_options opt;
    handler handle;
    std::vector<std::unique_ptr<udp_listener>> udp;
    std::vector<std::unique_ptr<tcp_listener>> tcp;
    std::vector<listen_endpoint> bound;
    std::set<std::shared_ptr<connection>> connections;
    std::map<asio::ip::address, size_t> per_client;
    bool stopping = false;
    bool stopped = false;
    size_t tasks = 0;  // coroutines alive; stop() lets them unwind
    atomic_counters n;

    void log(const std::string& line) const {
        if (opt.log) opt.log(line);
    }
    void close_all();
};

namespace {

// Counts a coroutine as alive for its whole run.
struct task_guard {
    explicit task_guard(dns_server::state& s) : st(s) { ++st.tasks; }
    ~task_guard() { --st.tasks; }
    task_guard(const task_guard&) = delete;
    task_guard& operator=(const task_guard&) = delete;
    dns_server::state& st;
};

}  // namespace

// One TCP client connection (RFC 7766). A reader takes framed queries and starts a task
// for each, up to tcp_max_in_flight at once; tasks write their answers when they finish,
// one message at a time; a watchdog closes the connection when it has been idle too long
// or a write takes too long.
struct connection : std::enable_shared_from_this<connection> {
    connection(std::shared_ptr<dns_server::state> s, tcp::socket sock)
        : st(std::move(s)), socket(std::move(sock)), watchdog_timer(st->ex), wake(st->ex) {
        wake.expires_at(forever);  // only ever cancelled: a condition variable
    }

    std::shared_ptr<dns_server::state> st;
    tcp::socket socket;
    peer client, local;
    asio::steady_timer watchdog_timer;
    asio::steady_timer wake;  // cancelled when a write or a task ends
    size_t in_flight = 0;
    bool writing = false;
    bool reading_done = false;
    bool closed = false;
    clock_type::time_point idle_deadline{}, write_deadline{};

    // RFC 7766 §6.2.3: the idle timeout runs only while no query is outstanding.
    clock_type::time_point deadline() const {
        if (writing) return write_deadline;
        if (in_flight > 0) return forever;
        return idle_deadline;
    }

    void close() {
        if (closed) return;
        closed = true;
        error_code ignored;
        socket.shutdown(tcp::socket::shutdown_both, ignored);
        socket.close(ignored);
        watchdog_timer.cancel();
        wake.cancel();
        auto it = st->per_client.find(client.address);
        if (it != st->per_client.end() && --it->second == 0) st->per_client.erase(it);
        --st->n.tcp_connections_open;
        st->connections.erase(shared_from_this());
    }

    void maybe_finish() {
        if (reading_done && in_flight == 0 && !writing) close();
    }

    awaitable<void> wait_wake() {
        error_code ec;
        co_await wake.async_wait(asio::redirect_error(use_awaitable, ec));
    }

    // Writes one framed message after the ones before it (RFC 1035 §4.2.2).
    awaitable<bool> write(std::vector<uint8_t> msg) {
        auto self = shared_from_this();
        while (writing && !closed)
            co_await wait_wake();
        if (closed) co_return false;
        writing = true;
        write_deadline = clock_type::now() + st->opt.tcp_write_timeout;
        watchdog_timer.cancel();  // the write deadline may be earlier than the one it sleeps to
        std::array<uint8_t, 2> length{static_cast<uint8_t>(msg.size() >> 8),
                                      static_cast<uint8_t>(msg.size() & 0xff)};
        std::array<asio::const_buffer, 2> buffers{asio::buffer(length), asio::buffer(msg)};
        error_code ec;
        co_await asio::async_write(socket, buffers, asio::redirect_error(use_awaitable, ec));
        writing = false;
        wake.cancel();
        if (ec) {
            close();
            co_return false;
        }
        ++st->n.tcp_responses;
        idle_deadline = clock_type::now() + st->opt.tcp_idle_timeout;
        co_return true;
    }
};

namespace {

class udp_responder final : public responder {
  public:
    udp_responder(dns_server::state& s, udp_listener& l, udp::endpoint to)
        : st_(s), listener_(l), to_(std::move(to)) {}

    awaitable<bool> send(std::vector<uint8_t> message) override {
        if (sent_) throw std::logic_error("a second UDP reply to one request");
        if (message.size() > st_.opt.max_udp_size)
            throw std::logic_error("UDP reply of " + std::to_string(message.size()) +
                                   " bytes above the limit of " +
                                   std::to_string(st_.opt.max_udp_size));
        sent_ = true;
        // The socket is non-blocking: a full send buffer drops the reply (as a lost
        // datagram would) instead of making the server wait.
        error_code ec;
        listener_.socket.send_to(asio::buffer(message), to_, 0, ec);
        if (ec) {
            ++st_.n.udp_dropped;
            co_return false;
        }
        ++st_.n.udp_responses;
        co_return true;
    }
    size_t max_size() const override { return st_.opt.max_udp_size; }
    bool tcp() const override { return false; }
    bool sent() const { return sent_; }

  private:
    dns_server::state& st_;
    udp_listener& listener_;
    udp::endpoint to_;
    bool sent_ = false;
};

class tcp_responder final : public responder {
  public:
    explicit tcp_responder(std::shared_ptr<connection> c) : c_(std::move(c)) {}

    awaitable<bool> send(std::vector<uint8_t> message) override {
        if (message.size() > dns::max_message_size)
            throw std::logic_error("TCP message of " + std::to_string(message.size()) + " bytes");
        sent_ = true;
        co_return co_await c_->write(std::move(message));
    }
    size_t max_size() const override { return dns::max_message_size; }
    bool tcp() const override { return true; }
    bool sent() const { return sent_; }

  private:
    std::shared_ptr<connection> c_;
    bool sent_ = false;
};

// Runs the handler; returns the error text if it threw.
template <class Responder>
awaitable<std::string> run_handler(dns_server::state& st, const request& q, Responder& r) {
    std::string error;
    try {
        co_await st.handle(q, r);
    } catch (const std::exception& e) {
        error = e.what();
    } catch (...) {
        error = "unknown exception";
    }
    if (!error.empty()) {
        ++st.n.handler_errors;
        st.log("handler failed for " + q.client.to_string() + (q.tcp ? " (TCP): " : ": ") + error);
    }
    co_return error;
}

awaitable<void> udp_task(std::shared_ptr<dns_server::state> st, udp_listener* l,
                         std::vector<uint8_t> wire, udp::endpoint from) {
    task_guard guard(*st);
    udp_responder r(*st, *l, from);
    request q{wire, to_peer(from), l->local, false};
    std::string error = co_await run_handler(*st, q, r);
    if (!error.empty() && !r.sent()) co_await r.send(servfail_for(wire));
    --l->in_flight;
}

awaitable<void> udp_loop(std::shared_ptr<dns_server::state> st, udp_listener* l) {
    task_guard guard(*st);
    std::vector<uint8_t> buffer(dns::max_message_size);
    while (!st->stopping) {
        udp::endpoint from;
        error_code ec;
        size_t n = co_await l->socket.async_receive_from(asio::buffer(buffer), from,
                                                         asio::redirect_error(use_awaitable, ec));
        if (st->stopping || ec == asio::error::operation_aborted ||
            ec == asio::error::bad_descriptor)
            break;
        if (ec) continue;  // e.g. an ICMP error reported on the socket
        // RFC 1035 §4.1.1: no header, nothing to answer. A datagram with QR set is a
        // response: answering it could start a loop between two servers.
        if (n < dns::header_size || (buffer[2] & 0x80) != 0 ||
            l->in_flight >= st->opt.udp_max_in_flight) {
            ++st->n.udp_dropped;
            continue;
        }
        ++st->n.udp_queries;
        ++l->in_flight;
        asio::co_spawn(st->ex,
                       udp_task(st, l,
                                std::vector<uint8_t>(buffer.begin(),
                                                     buffer.begin() + static_cast<ptrdiff_t>(n)),
                                from),
                       asio::detached);
    }
}

awaitable<void> tcp_task(std::shared_ptr<connection> c, std::vector<uint8_t> wire) {
    task_guard guard(*c->st);
    tcp_responder r(c);
    request q{wire, c->client, c->local, true};
    std::string error = co_await run_handler(*c->st, q, r);
    if (!error.empty() && !r.sent()) co_await r.send(servfail_for(wire));
    --c->in_flight;
    c->wake.cancel();  // the reader may wait for a free slot
    if (c->in_flight == 0) {
        c->idle_deadline =
            std::max(c->idle_deadline, clock_type::now() + c->st->opt.tcp_idle_timeout);
        c->watchdog_timer.cancel();  // the idle deadline applies again
    }
    c->maybe_finish();
}

awaitable<void> tcp_reader(std::shared_ptr<connection> c) {
    auto& st = *c->st;
    task_guard guard(st);
    std::array<uint8_t, 2> length{};
    while (!c->closed && !st.stopping) {
        while (c->in_flight >= st.opt.tcp_max_in_flight && !c->closed)
            co_await c->wait_wake();
        if (c->closed || st.stopping) break;
        error_code ec;
        co_await asio::async_read(c->socket, asio::buffer(length),
                                  asio::redirect_error(use_awaitable, ec));
        if (ec) break;
        size_t n = size_t{length[0]} << 8 | length[1];
        if (n < dns::header_size) {
            // Not a DNS message; the framing cannot be trusted after it.
            ++st.n.tcp_dropped;
            st.log("TCP message of " + std::to_string(n) + " bytes from " + c->client.to_string() +
                   ": connection closed");
            c->close();
            break;
        }
        std::vector<uint8_t> wire(n);
        co_await asio::async_read(c->socket, asio::buffer(wire),
                                  asio::redirect_error(use_awaitable, ec));
        if (ec) break;
        c->idle_deadline = clock_type::now() + st.opt.tcp_idle_timeout;
        ++st.n.tcp_queries;
        ++c->in_flight;
        asio::co_spawn(st.ex, tcp_task(c, std::move(wire)), asio::detached);
    }
    c->reading_done = true;
    c->maybe_finish();
}

awaitable<void> tcp_watchdog(std::shared_ptr<connection> c) {
    auto& st = *c->st;
    task_guard guard(st);
    while (!c->closed) {
        c->watchdog_timer.expires_at(c->deadline());
        error_code ec;
        co_await c->watchdog_timer.async_wait(asio::redirect_error(use_awaitable, ec));
        if (c->closed) break;
        if (clock_type::now() >= c->deadline()) {
            if (c->writing) {
                ++st.n.tcp_write_timeouts;
                st.log("TCP client " + c->client.to_string() + " does not read: connection closed");
            } else {
                ++st.n.tcp_idle_timeouts;
            }
            c->close();
        }
    }
}

awaitable<void> accept_loop(std::shared_ptr<dns_server::state> st, tcp_listener* l) {
    task_guard guard(*st);
    asio::steady_timer pause(st->ex);
    while (!st->stopping) {
        tcp::socket socket(st->ex);
        error_code ec;
        co_await l->acceptor.async_accept(socket, asio::redirect_error(use_awaitable, ec));
        if (st->stopping || ec == asio::error::operation_aborted ||
            ec == asio::error::bad_descriptor)
            break;
        if (ec) {
            // Out of descriptors, most likely: wait instead of spinning.
            st->log("TCP accept on " + l->local.to_string() + ": " + ec.message());
            pause.expires_after(std::chrono::milliseconds(100));
            co_await pause.async_wait(asio::redirect_error(use_awaitable, ec));
            continue;
        }
        auto remote = socket.remote_endpoint(ec);
        if (ec) continue;
        // RFC 7766 §10: limits in total and per client address.
        size_t from_client = 0;
        if (auto it = st->per_client.find(remote.address()); it != st->per_client.end())
            from_client = it->second;
        if (st->connections.size() >= st->opt.tcp_max_connections ||
            from_client >= st->opt.tcp_max_connections_per_client) {
            ++st->n.tcp_refused;
            st->log("TCP connection from " + to_peer(remote).to_string() + " refused: " +
                    (from_client >= st->opt.tcp_max_connections_per_client
                         ? "per-client limit of " +
                               std::to_string(st->opt.tcp_max_connections_per_client)
                         : "limit of " + std::to_string(st->opt.tcp_max_connections)) +
                    " connections");
            error_code ignored;
            socket.close(ignored);
            continue;
        }
        error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        auto local = socket.local_endpoint(ignored);
        auto c = std::make_shared<connection>(st, std::move(socket));
        c->client = to_peer(remote);
        c->local = ignored ? l->local : to_peer(local);
        c->idle_deadline = clock_type::now() + st->opt.tcp_idle_timeout;
        ++st->per_client[remote.address()];
        st->connections.insert(c);
        ++st->n.tcp_connections;
        ++st->n.tcp_connections_open;
        asio::co_spawn(st->ex, tcp_reader(c), asio::detached);
        asio::co_spawn(st->ex, tcp_watchdog(c), asio::detached);
    }
}

std::unique_ptr<udp_listener> open_udp(asio::any_io_executor ex, const asio::ip::address& a,
                                       uint16_t port, error_code& ec) {
    auto l = std::make_unique<udp_listener>(ex);
    udp::endpoint e(a, port);
    l->socket.open(e.protocol(), ec);
    if (!ec && a.is_v6()) l->socket.set_option(asio::ip::v6_only(true), ec);
    if (!ec) l->socket.bind(e, ec);
    if (!ec) l->socket.non_blocking(true, ec);
    if (!ec) l->local = to_peer(l->socket.local_endpoint(ec));
    return l;
}

std::unique_ptr<tcp_listener> open_tcp(asio::any_io_executor ex, const asio::ip::address& a,
                                       uint16_t port, error_code& ec) {
    auto l = std::make_unique<tcp_listener>(ex);
    tcp::endpoint e(a, port);
    l->acceptor.open(e.protocol(), ec);
    if (!ec && a.is_v6()) l->acceptor.set_option(asio::ip::v6_only(true), ec);
    if (!ec) l->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) l->acceptor.bind(e, ec);
    if (!ec) l->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) l->local = to_peer(l->acceptor.local_endpoint(ec));
    return l;
}

}  // namespace

void dns_server::state::close_all() {
    error_code ignored;
    for (auto& l : tcp)
        l->acceptor.close(ignored);
    for (auto& l : udp)
        l->socket.close(ignored);
    auto open = connections;  // close() erases from the set
    for (auto& c : open)
        c->close();
}

dns_server::dns_server(asio::any_io_executor ex, server_options options, handler h)
    : state_(std::make_shared<state>(std::move(ex), std::move(options), std::move(h))) {
    auto& st = *state_;
    for (const auto& want : st.opt.listen) {
        error_code ec;
        std::unique_ptr<udp_listener> u;
        std::unique_ptr<tcp_listener> t;
        // Port 0 with both transports: take the UDP port the system picks and try it for
        // TCP; if that port is taken for TCP, try another.
        for (int attempt = 0; attempt < 50; ++attempt) {
            ec.clear();
            u.reset();
            t.reset();
            uint16_t port = want.port;
            if (want.udp) {
                u = open_udp(st.ex, want.address, port, ec);
                if (ec) break;
                port = u->local.port;
            }
            if (want.tcp) {
                t = open_tcp(st.ex, want.address, port, ec);
                if (ec == asio::error::address_in_use && want.port == 0 && want.udp) continue;
            }
            break;
        }
        if (ec)
            throw boost::system::system_error(
                ec, "listen on " + peer{want.address, want.port}.to_string());
        listen_endpoint got = want;
        got.port = u ? u->local.port : t ? t->local.port : want.port;
        st.bound.push_back(got);
        if (u) st.udp.push_back(std::move(u));
        if (t) st.tcp.push_back(std::move(t));
    }
    for (auto& u : st.udp)
        asio::co_spawn(st.ex, udp_loop(state_, u.get()), asio::detached);
    for (auto& t : st.tcp)
        asio::co_spawn(st.ex, accept_loop(state_, t.get()), asio::detached);
}

dns_server::~dns_server() {
    if (!state_->stopped) {
        state_->stopping = true;
        state_->stopped = true;
        state_->close_all();
    }
}

std::vector<listen_endpoint> dns_server::endpoints() const {
    return state_->bound;
}

server_counters dns_server::counters() const {
    const auto& n = state_->n;
    server_counters c;
    c.udp_queries = n.udp_queries;
    c.tcp_queries = n.tcp_queries;
    c.udp_responses = n.udp_responses;
    c.tcp_responses = n.tcp_responses;
    c.udp_dropped = n.udp_dropped;
    c.tcp_dropped = n.tcp_dropped;
    c.tcp_connections = n.tcp_connections;
    c.tcp_connections_open = n.tcp_connections_open;
    c.tcp_refused = n.tcp_refused;
    c.tcp_idle_timeouts = n.tcp_idle_timeouts;
    c.tcp_write_timeouts = n.tcp_write_timeouts;
    c.handler_errors = n.handler_errors;
    return c;
}

awaitable<void> dns_server::stop(std::chrono::milliseconds grace) {
    auto st = state_;
    if (st->stopped) co_return;
    st->stopping = true;
    error_code ignored;
    for (auto& l : st->tcp)
        l->acceptor.close(ignored);
    for (auto& l : st->udp)
        l->socket.cancel(ignored);  // the socket stays for answers in flight
    // Readers see end of input and stop; connections close once their answers are out.
    for (auto& c : std::set(st->connections))
        c->socket.shutdown(tcp::socket::shutdown_receive, ignored);

    auto in_flight = [&] {
        if (!st->connections.empty()) return true;
        for (auto& l : st->udp)
            if (l->in_flight > 0) return true;
        return false;
    };
    asio::steady_timer tick(st->ex);
    const auto until = clock_type::now() + grace;
    while (in_flight() && clock_type::now() < until) {
        tick.expires_after(std::chrono::milliseconds(5));
        co_await tick.async_wait(asio::redirect_error(use_awaitable, ignored));
    }
    st->stopped = true;
    st->close_all();
    // Let the aborted operations unwind; a handler that never returns is not waited for.
    const auto unwind = clock_type::now() + std::chrono::milliseconds(100);
    while (st->tasks > 0 && clock_type::now() < unwind) {
        tick.expires_after(std::chrono::milliseconds(1));
        co_await tick.async_wait(asio::redirect_error(use_awaitable, ignored));
    }
}

}  // namespace hsync::net
