// HTTPS between agents, authenticated both ways by keys published in DNS (TLSA 3 1 1,
// DANE-EE with SPKI SHA-256; RFC 6698, RFC 7671 §5.1): no WebPKI, no name or expiry
// checks, only "is this the key the peer's validated TLSA record names".
//
// The server requires a client certificate and hands each request's handler the client
// key's digest; the handler compares it with the TLSA of the agent the request claims to
// come from. The client checks the server key against the digests it was given before a
// byte of the request is sent, and presents its own certificate.
//
// Bodies are opaque text here (JSON to the callers); the transport bounds their size.
// Everything runs on the executor given (one thread); nothing blocks.
//
//     net::dane_https_server s(ex, identity, {.listen = {addr, 8443}});
//     s.on_post("/hello", [](const net::https_request& r) -> net::awaitable<net::https_reply> {
//         if (r.client_spki != expected) co_return {403, R"({"error":"unknown agent"})"};
//         co_return {200, R"({"ok":true})"};
//     });
//     ...
//     auto r = co_await net::dane_post(ex, {addr, 8443}, "api.agent.p2.lab", "/hello", body,
//                                      identity, {peer_tlsa_digest});
//     if (!r.ok) log(r.error);
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "net/asio.h"
#include "net/client.h"
#include "net/tls_identity.h"

namespace hsync::net {

// ---- server -------------------------------------------------------------------------------

struct https_request {
    std::string path;           // the request target as sent (no query parsing)
    std::string body;           // at most dane_https_options::max_body_size bytes
    std::string content_type;   // as sent; empty if absent
    spki_digest client_spki{};  // TLSA 3 1 1 data of the client's certificate
    peer client;                // remote address and port
};

struct https_reply {
    unsigned status = 200;
    std::string body;  // sent with Content-Type: application/json
};

// Handlers may suspend; one that throws is answered 500 (and logged).
using https_handler = std::function<awaitable<https_reply>(const https_request&)>;
using https_sync_handler = std::function<https_reply(const https_request&)>;

struct dane_https_options {
    asio::ip::tcp::endpoint listen;     // port 0: any free port (tests; see endpoint())
    size_t max_body_size = 64 * 1024;   // larger: 413 and the connection closed
    size_t max_header_size = 8 * 1024;  // larger: 431 and the connection closed
    // The TLS handshake, and each request from its first byte (or from the end of the
    // previous answer: keep-alive idle time) to its last.
    std::chrono::milliseconds read_timeout{10'000};
    std::chrono::milliseconds write_timeout{10'000};  // one answer
    size_t max_connections = 64;  // more are closed at once, without a handshake
    size_t max_requests_per_connection = 1000;
    // One line per notable event (refused connection, failed handshake, bad request,
    // handler error).
    std::function<void(const std::string&)> log;
};

// Counts since start, except connections_open.
struct dane_https_counters {
    uint64_t connections = 0;  // accepted
    uint64_t connections_open = 0;
    uint64_t connections_refused = 0;  // over max_connections
    uint64_t handshake_failures = 0;   // no client certificate, not TLS, timeout
    uint64_t requests = 0;             // passed to a handler
    uint64_t bad_requests = 0;         // answered 400, 404, 405, 413 or 431
    uint64_t handler_errors = 0;       // handler threw: 500
    uint64_t timeouts = 0;             // handshake, read or write took too long
};

class dane_https_server {
  public:
    // Binds and starts accepting on `ex` (throws boost::system::system_error if the
    // address cannot be bound). The identity is copied (it shares the OpenSSL objects).
    dane_https_server(asio::any_io_executor ex, const tls_identity& identity,
                      dane_https_options options);
    // stop().
    ~dane_https_server();
    dane_https_server(const dane_https_server&) = delete;
    dane_https_server& operator=(const dane_https_server&) = delete;

    // POST on exactly `path` goes to `handler` (replacing one registered before). Other
    // methods on a known path get 405, unknown paths 404. May be called at any time.
    void on_post(std::string path, https_handler handler);
    void on_post(std::string path, https_sync_handler handler);

    asio::ip::tcp::endpoint endpoint() const;  // the bound address and port
    dane_https_counters counters() const;      // on the executor's thread (not atomic)

    // Closes the listener and every connection at once; handlers still running finish
    // and their answers are dropped. Call on the executor's thread.
    void stop();

    struct state;

  private:
    std::shared_ptr<state> state_;
};

// ---- client -------------------------------------------------------------------------------

struct dane_post_result {
    bool ok = false;      // connected, server key matched, answered 2xx
    unsigned status = 0;  // the HTTP status, 0 if none arrived
    std::string body;     // the answer's body (for any status)
    // Empty if ok; else what failed, for an operator: "connect: ...", "TLS handshake: ...",
    // "server certificate does not match the TLSA record (...)", "timeout ...", "HTTP 404",
    // "response: ...".
    std::string error;
    spki_digest server_spki{};  // the key the server presented (zero if none was seen)
};

// One POST over a new connection: connect to `server`, TLS handshake with SNI
// `server_name`, the server's leaf key checked against `expected_server_spki` (one match
// is enough; other certificate contents are ignored), `own` presented as the client
// certificate, then `path` posted with `json_body` and the answer read. `timeout` bounds
// the whole exchange. Never throws for network or peer failures.
awaitable<dane_post_result> dane_post(asio::any_io_executor ex, peer server,
                                      std::string server_name, std::string path,
                                      std::string json_body, tls_identity own,
                                      std::vector<spki_digest> expected_server_spki,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(10),
                                      size_t max_response_size = 1024 * 1024);

}  // namespace hsync::net
