// The management API of hsyncd: HTTP/1.1 + JSON on localhost, used by hsyncctl.
//
//   GET  /status               role, version, pid, uptime, zone count
//   GET  /zones                {"zones": [zone...]}
//   GET  /zones/NAME           one zone (NAME with or without the final dot)
//   POST /zones/NAME/reload    reload the zone (file or transfer)
//   POST /zones/NAME/notify    send NOTIFY to the zone's targets (RFC 1996)
//   GET  /zones/NAME/agent-data  the combiner's agent data (docs/combiner.md)
//   GET  /metrics              Prometheus text format 0.0.4
//
// Every request must carry the management key's signature (management_auth.h) when the
// server has a key, and hsyncd always gives it one; without it: 401, nothing done.
// Errors are JSON {"error": "..."} with 400 (bad request), 401 (no or bad credentials),
// 404 (no such zone or path), 405 (wrong method), 413/431 (request too large) or 500 (the
// action failed).
// The server runs on the role's io_context: role calls happen on the loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "api/management_auth.h"
#include "net/asio.h"
#include "roles/role.h"

namespace hsync::api {

struct server_info {
    std::string version;
    double started_at = 0;  // seconds since the epoch
    long pid = 0;
    std::function<double()> now;  // seconds since the epoch; injected for tests
    // More samples for /metrics (the server's own counters).
    std::function<std::vector<roles::metric>()> extra_metrics;
};

struct http_reply {
    unsigned status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::string allow;  // for 405
};

// Answers one request (no I/O besides what the role does). `target` is the request
// target, e.g. "/zones/example.com./reload?x=1" (the query is ignored).
http_reply handle_request(roles::role& role, const server_info& info, std::string_view method,
                          std::string_view target);

// "example.com" / "Example.COM." -> "example.com."; nullopt when not a domain name.
std::optional<std::string> normalize_zone_name(std::string_view text);

struct management_options {
    net::asio::ip::tcp::endpoint endpoint;  // port 0: the system picks one (tests)
    size_t max_header_bytes = 8192;
    size_t max_body_bytes = 8192;
    std::chrono::milliseconds timeout{5000};  // per request: read + answer
    unsigned max_connections = 16;
    server_info info;
    // The shared secret every request must be signed with; none: no authentication (unit
    // tests of the API itself).
    std::optional<management_key> key;
    std::chrono::seconds auth_window{300};  // accepted clock difference, and nonce memory
};

class management_server {
  public:
    // Binds and starts accepting on `io`. Throws boost::system::system_error when the
    // address cannot be bound.
    management_server(net::asio::io_context& io, roles::role& role, management_options options);
    ~management_server();
    management_server(const management_server&) = delete;
    management_server& operator=(const management_server&) = delete;

    net::asio::ip::tcp::endpoint local_endpoint() const;
    // A new key for the requests from now on (SIGHUP); only when the server has one.
    void set_key(management_key key);
    // Closes the listener and every open connection; idempotent.
    void stop();

    struct state;

  private:
    std::shared_ptr<state> state_;
};

// A client for one request on a fresh connection (hsyncctl, tests).
struct client_reply {
    unsigned status = 0;
    std::string content_type;
    std::string body;
};

// `server` is "ADDR:PORT" or "[V6]:PORT" (a bare address means port 8053). With `key`, the
// request is signed (Authorization: HSYNC-HMAC ...). Throws std::runtime_error with a text
// like "cannot reach hsyncd at 127.0.0.1:8053: Connection refused" on a network error or
// timeout.
client_reply http_request(const std::string& server, std::string_view method,
                          std::string_view target, std::chrono::milliseconds timeout,
                          const management_key* key = nullptr);

}  // namespace hsync::api
