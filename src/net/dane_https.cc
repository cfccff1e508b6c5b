#include "net/dane_https.h"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <limits>
#include <map>
#include <set>

namespace hsync::net {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using boost::system::error_code;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

// How long a closing connection may take to say goodbye (close_notify, or the rest of a
// request we refused) before it is cut.
constexpr std::chrono::milliseconds close_grace{1000};
// What a refused request may still send before the connection is cut anyway.
constexpr size_t max_drain_bytes = 1 << 20;

// Client certificates are matched by the handler against the TLSA of the agent the
// request is from, by key alone (DANE-EE): chain, names and dates mean nothing here.
// OpenSSL still checks that the client holds the certificate's private key
// (CertificateVerify), which is what makes the key digest an identity.
int accept_any_certificate(int, X509_STORE_CTX*) {
    return 1;
}

void use_identity(ssl::context& ctx, const tls_identity& id) {
    SSL_CTX* native = ctx.native_handle();
    if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1 ||
        SSL_CTX_use_certificate(native, id.certificate()) != 1 ||
        SSL_CTX_use_PrivateKey(native, id.key()) != 1 || SSL_CTX_check_private_key(native) != 1)
        throw tls_error("TLS context: " + dnssec::ossl::last_error());
    // Every connection does a full handshake, so every request is authenticated by a
    // certificate actually presented on it.
    SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(native, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(native, 0);
}

bool is_ssl_error(const error_code& ec) {
    return ec.category() == asio::error::get_ssl_category() ||
           ec.category() == ssl::error::get_stream_category();
}

bool is_quiet_close(const error_code& ec) {
    return ec == http::error::end_of_stream || ec == asio::error::eof ||
           ec == ssl::error::stream_truncated || ec == asio::error::connection_reset;
}

std::string hex_list(std::span<const spki_digest> digests) {
    std::string out;
    for (const auto& d : digests) {
        if (!out.empty()) out += ", ";
        out += to_hex(d);
    }
    return out;
}

std::string ms_text(std::chrono::milliseconds d) {
    return std::to_string(d.count()) + " ms";
}

}  // namespace

// ---- server -------------------------------------------------------------------------------

struct https_connection;

struct dane_https_server::state : std::enable_shared_from_this<dane_https_server::state> {
    state(asio::any_io_executor e, dane_https_options o)
        : ex(std::move(e)), opt(std::move(o)), ssl_ctx(ssl::context::tls_server), acceptor(ex) {}

    asio::any_io_executor ex;
    dane_https_options opt;
    ssl::context ssl_ctx;
    tcp::acceptor acceptor;
    tcp::endpoint bound;
    std::map<std::string, https_handler, std::less<>> routes;
    std::set<std::shared_ptr<https_connection>> connections;
    bool stopped = false;
    dane_https_counters n;

    void log(const std::string& line) const {
        if (opt.log) opt.log(line);
    }
};

struct https_connection : std::enable_shared_from_this<https_connection> {
    https_connection(std::shared_ptr<dane_https_server::state> s, tcp::socket socket)
        : st(std::move(s)), stream(std::move(socket), st->ssl_ctx) {}

    std::shared_ptr<dane_https_server::state> st;
    tls_stream stream;
    peer client;
    bool closed = false;

    beast::tcp_stream& tcp() { return beast::get_lowest_layer(stream); }

    void close() {
        if (closed) return;
        closed = true;
        tcp().close();
        --st->n.connections_open;
        st->connections.erase(shared_from_this());
    }
};

namespace {

using response = http::response<http::string_body>;

response make_response(unsigned status, std::string body, unsigned version, bool keep_alive) {
    // Beast rejects codes outside 0-999; HTTP knows 100-599.
    if (status < 100 || status > 599) status = 500;
    response res{static_cast<http::status>(status), version};
    res.set(http::field::server, "hsync");
    res.set(http::field::content_type, "application/json");
    res.keep_alive(keep_alive);
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

response error_response(http::status status, std::string_view reason, unsigned version,
                        bool keep_alive) {
    // `reason` is always one of our own fixed texts: no JSON escaping needed.
    return make_response(static_cast<unsigned>(status),
                         "{\"error\":\"" + std::string(reason) + "\"}", version, keep_alive);
}

awaitable<https_reply> call_sync(https_sync_handler handler, const https_request& request) {
    co_return handler(request);
}

// Ends a connection politely: close_notify, and a short wait for the peer's.
awaitable<void> close_gracefully(std::shared_ptr<https_connection> c) {
    error_code ec;
    c->tcp().expires_after(close_grace);
    co_await c->stream.async_shutdown(asio::redirect_error(use_awaitable, ec));
    c->close();
}

// Ends a connection whose request was refused before it was read in full. The answer is
// written; close_notify follows, then whatever the client still sends is swallowed
// (bounded), because closing a socket with unread data resets the connection and can
// destroy the answer before the client has read it.
awaitable<void> close_after_refusal(std::shared_ptr<https_connection> c) {
    error_code ec;
    c->tcp().expires_after(close_grace);
    co_await c->stream.async_shutdown(asio::redirect_error(use_awaitable, ec));
    if (c->closed || !ec) {
        c->close();
        co_return;
    }
    // The client kept sending (OpenSSL stops the shutdown at application data).
    ec = {};
    c->tcp().socket().shutdown(tcp::socket::shutdown_send, ec);
    std::array<char, 4096> sink;
    size_t drained = 0;
    while (!ec && drained < max_drain_bytes && !c->closed) {
        drained += co_await c->tcp().async_read_some(asio::buffer(sink),
                                                     asio::redirect_error(use_awaitable, ec));
    }
    c->close();
}

awaitable<void> serve_connection(std::shared_ptr<https_connection> c) {
    auto st = c->st;
    error_code ec;

    c->tcp().expires_after(st->opt.read_timeout);
    co_await c->stream.async_handshake(ssl::stream_base::server,
                                       asio::redirect_error(use_awaitable, ec));
    if (c->closed) co_return;
    X509* peer_cert = ec ? nullptr : SSL_get0_peer_certificate(c->stream.native_handle());
    if (ec || !peer_cert) {
        ++st->n.handshake_failures;
        if (ec == beast::error::timeout) ++st->n.timeouts;
        st->log("HTTPS from " + c->client.to_string() + ": TLS handshake failed: " +
                (ec ? ec.message() : std::string("no client certificate")));
        c->close();
        co_return;
    }
    spki_digest client_spki{};
    try {
        client_spki = spki_sha256(peer_cert);
    } catch (const std::exception& e) {
        ++st->n.handshake_failures;
        st->log("HTTPS from " + c->client.to_string() + ": client certificate: " + e.what());
        c->close();
        co_return;
    }

    // Holds one request's header and body at most, plus what a pipelining client sent
    // ahead; anything beyond is refused.
    beast::flat_buffer buffer(st->opt.max_header_size + st->opt.max_body_size + 16 * 1024);
    for (size_t served = 0; !c->closed && !st->stopped; ++served) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(static_cast<uint32_t>(
            std::min<size_t>(st->opt.max_header_size, std::numeric_limits<uint32_t>::max())));
        parser.body_limit(st->opt.max_body_size);
        c->tcp().expires_after(st->opt.read_timeout);
        co_await http::async_read(c->stream, buffer, parser,
                                  asio::redirect_error(use_awaitable, ec));
        if (c->closed || st->stopped) break;
        if (ec) {
            if (is_quiet_close(ec)) {
                c->close();
                break;
            }
            if (ec == beast::error::timeout) {
                ++st->n.timeouts;
                st->log("HTTPS from " + c->client.to_string() + ": no complete request within " +
                        ms_text(st->opt.read_timeout));
                c->close();
                break;
            }
            if (is_ssl_error(ec)) {
                st->log("HTTPS from " + c->client.to_string() + ": " + ec.message());
                c->close();
                break;
            }
            // A request we will not read to its end: answer, then close.
            ++st->n.bad_requests;
            auto status = http::status::bad_request;
            std::string_view reason = "malformed HTTP request";
            if (ec == http::error::body_limit) {
                status = http::status::payload_too_large;
                reason = "request body too large";
            } else if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
                status = http::status::request_header_fields_too_large;
                reason = "request header too large";
            }
            st->log("HTTPS from " + c->client.to_string() + ": " + std::string(reason) + " (" +
                    ec.message() + ")");
            auto res = error_response(status, reason, 11, false);
            c->tcp().expires_after(st->opt.write_timeout);
            co_await http::async_write(c->stream, res, asio::redirect_error(use_awaitable, ec));
            if (c->closed) break;
            co_await close_after_refusal(c);
            break;
        }

        auto& req = parser.get();
        bool keep_alive = req.keep_alive() && served + 1 < st->opt.max_requests_per_connection;
        std::string target(req.target());
        response res;
        auto route = st->routes.find(target);
        if (route == st->routes.end()) {
            ++st->n.bad_requests;
            res =
                error_response(http::status::not_found, "no such path", req.version(), keep_alive);
        } else if (req.method() != http::verb::post) {
            ++st->n.bad_requests;
            res = error_response(http::status::method_not_allowed, "only POST", req.version(),
                                 keep_alive);
            res.set(http::field::allow, "POST");
        } else {
            https_request request;
            request.path = std::move(target);
            request.body = std::move(req.body());
            request.content_type = std::string(req[http::field::content_type]);
            request.client_spki = client_spki;
            request.client = c->client;
            // A copy, so that on_post replacing the route cannot free a running handler.
            https_handler handler = route->second;
            ++st->n.requests;
            std::string failure;
            https_reply reply;
            try {
                reply = co_await handler(request);
            } catch (const std::exception& e) {
                failure = e.what();
            } catch (...) {
                failure = "unknown exception";
            }
            if (c->closed || st->stopped) break;
            if (!failure.empty()) {
                ++st->n.handler_errors;
                st->log("HTTPS " + request.path + " from " + c->client.to_string() +
                        ": handler failed: " + failure);
                res = error_response(http::status::internal_server_error, "internal error",
                                     req.version(), keep_alive);
            } else {
                res = make_response(reply.status, std::move(reply.body), req.version(), keep_alive);
            }
        }
        c->tcp().expires_after(st->opt.write_timeout);
        co_await http::async_write(c->stream, res, asio::redirect_error(use_awaitable, ec));
        if (c->closed) break;
        if (ec) {
            if (ec == beast::error::timeout) ++st->n.timeouts;
            c->close();
            break;
        }
        if (!keep_alive) {
            co_await close_gracefully(c);
            break;
        }
    }
    c->close();
}

awaitable<void> accept_loop(std::shared_ptr<dane_https_server::state> st) {
    asio::steady_timer pause(st->ex);
    while (!st->stopped) {
        tcp::socket socket(st->ex);
        error_code ec;
        co_await st->acceptor.async_accept(socket, asio::redirect_error(use_awaitable, ec));
        if (st->stopped || ec == asio::error::operation_aborted ||
            ec == asio::error::bad_descriptor)
            break;
        if (ec) {
            // Out of descriptors, most likely: wait instead of spinning.
            st->log("HTTPS accept on " + peer{st->bound.address(), st->bound.port()}.to_string() +
                    ": " + ec.message());
            pause.expires_after(std::chrono::milliseconds(100));
            co_await pause.async_wait(asio::redirect_error(use_awaitable, ec));
            continue;
        }
        auto remote = socket.remote_endpoint(ec);
        if (ec) continue;
        peer client{remote.address(), remote.port()};
        if (st->connections.size() >= st->opt.max_connections) {
            ++st->n.connections_refused;
            st->log("HTTPS connection from " + client.to_string() + " refused: limit of " +
                    std::to_string(st->opt.max_connections) + " connections");
            socket.close(ec);
            continue;
        }
        socket.set_option(tcp::no_delay(true), ec);
        auto c = std::make_shared<https_connection>(st, std::move(socket));
        c->client = client;
        ++st->n.connections;
        ++st->n.connections_open;
        st->connections.insert(c);
        asio::co_spawn(st->ex, serve_connection(c), asio::detached);
    }
}

}  // namespace

dane_https_server::dane_https_server(asio::any_io_executor ex, const tls_identity& identity,
                                     dane_https_options options)
    : state_(std::make_shared<state>(std::move(ex), std::move(options))) {
    use_identity(state_->ssl_ctx, identity);
    SSL_CTX* native = state_->ssl_ctx.native_handle();
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                       accept_any_certificate);
    static const unsigned char session_context[] = "hsync-dane-https";
    SSL_CTX_set_session_id_context(native, session_context, sizeof session_context - 1);

    auto& acceptor = state_->acceptor;
    acceptor.open(state_->opt.listen.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(state_->opt.listen);
    acceptor.listen();
    state_->bound = acceptor.local_endpoint();
    asio::co_spawn(state_->ex, accept_loop(state_), asio::detached);
}

dane_https_server::~dane_https_server() {
    stop();
}

void dane_https_server::on_post(std::string path, https_handler handler) {
    state_->routes[std::move(path)] = std::move(handler);
}

void dane_https_server::on_post(std::string path, https_sync_handler handler) {
    on_post(std::move(path), https_handler([h = std::move(handler)](const https_request& r) {
                return call_sync(h, r);
            }));
}

tcp::endpoint dane_https_server::endpoint() const {
    return state_->bound;
}

dane_https_counters dane_https_server::counters() const {
    return state_->n;
}

void dane_https_server::stop() {
    if (state_->stopped) return;
    state_->stopped = true;
    error_code ignored;
    state_->acceptor.close(ignored);
    // close() removes the connection from the set.
    auto open = state_->connections;
    for (const auto& c : open)
        c->close();
}

// ---- client -------------------------------------------------------------------------------

awaitable<dane_post_result> dane_post(asio::any_io_executor ex, peer server,
                                      std::string server_name, std::string path,
                                      std::string json_body, tls_identity own,
                                      std::vector<spki_digest> expected_server_spki,
                                      std::chrono::milliseconds timeout, size_t max_response_size) {
    dane_post_result out;
    const std::string where = server.to_string();
    if (expected_server_spki.empty()) {
        out.error = "no TLSA digest to check " + where + " against";
        co_return out;
    }

    ssl::context ctx(ssl::context::tls_client);
    try {
        use_identity(ctx, own);
    } catch (const std::exception& e) {
        out.error = e.what();
        co_return out;
    }

    // The server's key as seen by the verification callback, so that a refused
    // handshake can say which key it was.
    struct key_check {
        bool seen = false;
        bool matched = false;
        spki_digest spki{};
    } check;
    auto matches = [&](const spki_digest& d) {
        return std::find(expected_server_spki.begin(), expected_server_spki.end(), d) !=
               expected_server_spki.end();
    };
    auto mismatch_text = [&](const spki_digest& d) {
        return "server certificate does not match the TLSA record (SPKI SHA-256 " + to_hex(d) +
               " not among " + hex_list(expected_server_spki) + ")";
    };

    tls_stream stream(ex, ctx);
    // DANE-EE (RFC 7671 §5.1): the leaf key decides; the chain, names and dates do not.
    stream.set_verify_mode(ssl::verify_peer);
    stream.set_verify_callback([&](bool, ssl::verify_context& vc) {
        X509_STORE_CTX* store = vc.native_handle();
        if (X509_STORE_CTX_get_error_depth(store) != 0) return true;
        try {
            check.spki = spki_sha256(X509_STORE_CTX_get_current_cert(store));
        } catch (const std::exception&) {
            return false;  // never let an exception cross OpenSSL's C frames
        }
        check.seen = true;
        check.matched = matches(check.spki);
        return check.matched;
    });
    // SNI for servers that host several names; not for an address literal (RFC 6066 §3).
    error_code parse_ec;
    asio::ip::make_address(server_name, parse_ec);
    if (!server_name.empty() && parse_ec)
        SSL_set_tlsext_host_name(stream.native_handle(), server_name.c_str());

    auto& tcp_layer = beast::get_lowest_layer(stream);
    tcp_layer.expires_after(timeout);
    error_code ec;
    co_await tcp_layer.async_connect(server.tcp(), asio::redirect_error(use_awaitable, ec));
    if (ec) {
        out.error = ec == beast::error::timeout
                        ? "timeout: no connection to " + where + " within " + ms_text(timeout)
                        : "connect: " + where + ": " + ec.message();
        co_return out;
    }

    co_await stream.async_handshake(ssl::stream_base::client,
                                    asio::redirect_error(use_awaitable, ec));
    if (check.seen) out.server_spki = check.spki;
    if (check.seen && !check.matched) {
        out.error = mismatch_text(check.spki);
        co_return out;
    }
    if (ec) {
        out.error = ec == beast::error::timeout ? "timeout: TLS handshake with " + where +
                                                      " not done within " + ms_text(timeout)
                                                : "TLS handshake: " + where + ": " + ec.message();
        co_return out;
    }
    // Checked again on the certificate the session ended up with, whatever the callback
    // was or was not shown.
    X509* leaf = SSL_get0_peer_certificate(stream.native_handle());
    if (!leaf) {
        out.error = "TLS handshake: " + where + " presented no certificate";
        co_return out;
    }
    try {
        out.server_spki = spki_sha256(leaf);
    } catch (const std::exception& e) {
        out.error = std::string("TLS handshake: server certificate: ") + e.what();
        co_return out;
    }
    if (!matches(out.server_spki)) {
        out.error = mismatch_text(out.server_spki);
        co_return out;
    }

    http::request<http::string_body> req{http::verb::post, path, 11};
    req.set(http::field::host, server_name.empty() ? server.address.to_string() : server_name);
    req.set(http::field::user_agent, "hsync");
    req.set(http::field::content_type, "application/json");
    req.keep_alive(false);
    req.body() = std::move(json_body);
    req.prepare_payload();
    co_await http::async_write(stream, req, asio::redirect_error(use_awaitable, ec));
    auto write_error = ec;
    if (write_error && (write_error == beast::error::timeout || is_ssl_error(write_error))) {
        out.error = write_error == beast::error::timeout
                        ? "timeout: request to " + where + " not sent within " + ms_text(timeout)
                        : "TLS handshake: " + where + ": " + write_error.message() +
                              " (the server may have refused our certificate)";
        co_return out;
    }

    // Read even when the write failed: a server refusing a request early (413) closes
    // while the body is still coming, and its answer says more than "broken pipe".
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(max_response_size);
    co_await http::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
    if (ec && write_error) {
        out.error = "request: " + where + ": " + write_error.message();
        co_return out;
    }
    if (ec) {
        out.error = ec == beast::error::timeout
                        ? "timeout: no answer from " + where + " within " + ms_text(timeout)
                    : is_ssl_error(ec) ? "TLS handshake: " + where + ": " + ec.message() +
                                             " (the server may have refused our certificate)"
                                       : "response: " + where + ": " + ec.message();
        co_return out;
    }
    auto& res = parser.get();
    out.status = res.result_int();
    out.body = std::move(res.body());
    out.ok = out.status >= 200 && out.status < 300;
    if (!out.ok) {
        out.error = "HTTP " + std::to_string(out.status);
        if (!res.reason().empty()) out.error += " " + std::string(res.reason());
    }
    tcp_layer.close();
    co_return out;
}

}  // namespace hsync::net
