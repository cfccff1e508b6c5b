// A DNS server transport: UDP and TCP listeners that hand every request to one handler.
//
// The server knows framing, limits and deadlines, nothing of DNS beyond the 12-byte
// header: the handler parses, answers (and truncates: it gets the size limit from the
// responder), signs. TCP follows RFC 7766: several queries in flight per connection,
// answered as they complete (§6.2.1.1), an idle timeout (§6.2.3), limits on connections
// per client address and in total, and a write timeout, so that one slow or abusive
// client cannot starve the others (§10).
//
// Threading: all of a server's work runs on the executor it was given; run that
// executor's io_context on one thread (or pass a strand). counters() may be read from any
// thread.
//
//     net::server_options o;
//     o.listen = {{asio::ip::make_address("127.0.0.1"), 0}};
//     net::dns_server s(ex, o, [](const net::request& q, net::responder& r)
//                                  -> net::awaitable<void> { co_await r.send(answer(q)); });
//     ... s.endpoints()[0].port ...
//     co_await s.stop(std::chrono::seconds(2));
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "net/asio.h"
#include "net/client.h"

namespace hsync::net {

struct request {
    std::span<const uint8_t> wire;  // at least 12 bytes; valid until the handler returns
    peer client;
    peer local;  // the listener's address (the wildcard if it was bound to one)
    bool tcp = false;
};

class responder {
  public:
    virtual ~responder() = default;
    // Sends one message. UDP: exactly one per request, at most max_size() bytes (the
    // handler truncates and sets TC itself); a second send or a larger message throws
    // std::logic_error. TCP: any number (zone transfers), each framed with its 2-byte
    // length and written in order; completes when written. Returns false if the message
    // could not go out (the connection is gone or timed out): stop producing.
    virtual awaitable<bool> send(std::vector<uint8_t> message) = 0;
    // UDP: the server's ceiling for a reply (server_options::max_udp_size); the handler
    // takes the smaller of this and what the client asked for (512 or its EDNS size).
    // TCP: 65535.
    virtual size_t max_size() const = 0;
    virtual bool tcp() const = 0;
};

// Called for every request that passed the transport's checks; may suspend (zone
// transfers, UPDATE writing to disk). An exception from it is counted and, if nothing was
// sent yet, answered with a bare SERVFAIL header.
using handler = std::function<awaitable<void>(const request&, responder&)>;

struct listen_endpoint {
    asio::ip::address address;
    uint16_t port = 53;  // 0: pick a free port, the same for UDP and TCP (tests)
    bool udp = true;
    bool tcp = true;
};

struct server_options {
    std::vector<listen_endpoint> listen;
    std::chrono::milliseconds tcp_idle_timeout{10'000};   // no query in flight, nothing read
    std::chrono::milliseconds tcp_write_timeout{10'000};  // one message
    size_t tcp_max_connections = 1000;
    size_t tcp_max_connections_per_client = 20;  // per remote address
    size_t tcp_max_in_flight = 32;               // per connection; more are read when some finish
    size_t udp_max_in_flight = 4096;             // per listener; more are dropped
    size_t max_udp_size = 4096;                  // the largest UDP reply the server sends
    // Gets one line per notable event (limits hit, timeouts, handler errors).
    std::function<void(const std::string&)> log;
};

// A snapshot; every field counts since start except tcp_connections_open.
struct server_counters {
    uint64_t udp_queries = 0;  // datagrams passed to the handler
    uint64_t tcp_queries = 0;  // TCP messages passed to the handler
    uint64_t udp_responses = 0;
    uint64_t tcp_responses = 0;
    uint64_t udp_dropped = 0;      // shorter than a header, QR set, overload, send failed
    uint64_t tcp_dropped = 0;      // TCP messages shorter than a header (connection closed)
    uint64_t tcp_connections = 0;  // accepted
    uint64_t tcp_connections_open = 0;
    uint64_t tcp_refused = 0;  // closed at once: global or per-client limit
    uint64_t tcp_idle_timeouts = 0;
    uint64_t tcp_write_timeouts = 0;
    uint64_t handler_errors = 0;
};

class dns_server {
  public:
    // Binds every endpoint (throws boost::system::system_error if one cannot be bound) and
    // starts serving on `ex`.
    dns_server(asio::any_io_executor ex, server_options options, handler h);
    // Closes everything at once; coroutines still running finish on their own (they keep
    // the state alive). Prefer co_await stop().
    ~dns_server();
    dns_server(const dns_server&) = delete;
    dns_server& operator=(const dns_server&) = delete;

    // The bound endpoints, ports resolved, in the order of options.listen.
    std::vector<listen_endpoint> endpoints() const;
    server_counters counters() const;

    // Stops accepting and reading; lets queries in flight finish and their answers go
    // out for up to `grace`, then closes every socket. Returns when all is closed.
    awaitable<void> stop(std::chrono::milliseconds grace = std::chrono::seconds(2));

    struct state;

  private:
    std::shared_ptr<state> state_;
};

}  // namespace hsync::net
