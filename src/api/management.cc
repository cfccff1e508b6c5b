#include "api/management.h"

#include <algorithm>
#include <set>
#include <stdexcept>
#include <vector>

// clang-format off
#include "net/asio.h"
// clang-format on
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "api/metrics.h"
#include "dns/error.h"
#include "dns/name.h"
#include "zone/log.h"

namespace hsync::api {

namespace asio = net::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;

namespace {

std::string to_body(const json& j) {
    // Replace invalid UTF-8 instead of throwing: zone names may hold any octet.
    return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

http_reply error_reply(unsigned status, const std::string& message) {
    http_reply r;
    r.status = status;
    r.body = to_body(json{{"error", message}});
    return r;
}

json zone_json(const roles::zone_status& z) {
    json j;
    j["name"] = z.name;
    j["kind"] = z.kind;
    j["serial"] = z.serial ? json(*z.serial) : json(nullptr);
    j["source"] = z.source;
    j["loaded_at"] = z.loaded_at ? json(*z.loaded_at) : json(nullptr);
    j["last_refresh"] = z.last_refresh ? json(*z.last_refresh) : json(nullptr);
    j["last_error"] = z.last_error;
    j["records"] = z.records;
    j["details"] = json::object();
    for (const auto& [k, v] : z.details)
        j["details"][k] = v;
    return j;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::optional<std::string> percent_decode(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out += s[i];
            continue;
        }
        if (i + 2 >= s.size()) return std::nullopt;
        int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> parts;
    while (!path.empty()) {
        auto slash = path.find('/');
        auto part = path.substr(0, slash);
        if (!part.empty()) parts.push_back(part);
        if (slash == std::string_view::npos) break;
        path.remove_prefix(slash + 1);
    }
    return parts;
}

http_reply method_not_allowed(const char* allow) {
    auto r = error_reply(405, std::string("method not allowed; use ") + allow);
    r.allow = allow;
    return r;
}

http_reply metrics_reply(roles::role& role, const server_info& info, double now) {
    std::vector<roles::metric> all = role.metrics();
    roles::metric build;
    build.name = "hsync_build_info";
    build.help = "Version and role of this hsyncd; always 1.";
    build.type = "gauge";
    build.labels = {{"version", info.version}, {"role", role.name()}};
    build.value = 1;
    all.push_back(build);
    roles::metric up;
    up.name = "hsync_uptime_seconds";
    up.help = "Seconds since hsyncd started.";
    up.type = "gauge";
    up.value = now - info.started_at;
    all.push_back(up);
    if (info.extra_metrics)
        for (auto& m : info.extra_metrics())
            all.push_back(std::move(m));
    for (auto& m : process_metrics(info.started_at))
        all.push_back(std::move(m));
    http_reply r;
    r.content_type = prometheus_content_type;
    r.body = format_prometheus(all);
    return r;
}

}  // namespace

std::optional<std::string> normalize_zone_name(std::string_view text) {
    if (text.empty() || text.size() > 1024) return std::nullopt;
    std::string s(text);
    if (s.back() != '.' || (s.size() >= 2 && s[s.size() - 2] == '\\')) s += '.';
    try {
        return dns::name::from_text(s).canonical().to_text();
    } catch (const dns::dns_error&) {
        return std::nullopt;
    }
}

http_reply handle_request(roles::role& role, const server_info& info, std::string_view method,
                          std::string_view target) {
    try {
        auto q = target.find_first_of("?#");
        std::string_view path = target.substr(0, q);
        if (path.empty() || path.front() != '/') return error_reply(400, "bad request target");
        auto parts = split_path(path);
        bool get = method == "GET" || method == "HEAD";
        double now = info.now ? info.now() : info.started_at;

        if (parts.size() == 1 && parts[0] == "status") {
            if (!get) return method_not_allowed("GET");
            json j;
            j["role"] = role.name();
            j["version"] = info.version;
            j["pid"] = info.pid;
            j["started_at"] = static_cast<int64_t>(info.started_at);
            j["uptime"] = static_cast<int64_t>(now - info.started_at);
            j["zones"] = role.zones().size();
            http_reply r;
            r.body = to_body(j);
            return r;
        }
        if (parts.size() == 1 && parts[0] == "metrics") {
            if (!get) return method_not_allowed("GET");
            return metrics_reply(role, info, now);
        }
        if (!parts.empty() && parts[0] == "zones") {
            if (parts.size() == 1) {
                if (!get) return method_not_allowed("GET");
                json list = json::array();
                for (const auto& z : role.zones())
                    list.push_back(zone_json(z));
                http_reply r;
                r.body = to_body(json{{"zones", list}});
                return r;
            }
            const bool key_step = parts.size() == 5 && parts[2] == "keys";
            if (parts.size() > 3 && !key_step)
                return error_reply(404, "no such endpoint: " + std::string(path));
            auto decoded = percent_decode(parts[1]);
            auto zone = decoded ? normalize_zone_name(*decoded) : std::nullopt;
            if (!zone)
                return error_reply(400, "\"" + std::string(parts[1]) + "\" is not a zone name");
            auto status = role.zone(*zone);
            if (parts.size() == 2) {
                if (!get) return method_not_allowed("GET");
                if (!status) return error_reply(404, "zone " + *zone + " is not served here");
                json j = zone_json(*status);
                // A signer's key list, structured, so an agent can tell its keys from others'.
                if (role.name() == "signer")
                    if (auto data = role.zone_data_json(*zone)) j["signing"] = json::parse(*data);
                http_reply r;
                r.body = to_body(j);
                return r;
            }
            if (key_step) {
                // POST /zones/NAME/keys/{publish ROLE|activate TAG|retire TAG|remove TAG}
                if (method != "POST") return method_not_allowed("POST");
                if (!status) return error_reply(404, "zone " + *zone + " is not served here");
                std::string step(parts[3]), arg(parts[4]);
                std::string err = role.key_command(*zone, step, arg);
                if (!err.empty()) {
                    log::warn(
                        "management_action_failed",
                        {{"action", "key " + step + " " + arg}, {"zone", *zone}, {"error", err}});
                    return error_reply(409, err);
                }
                log::info("management_action",
                          {{"action", "key " + step + " " + arg}, {"zone", *zone}});
                http_reply r;
                r.body = to_body(json{{"zone", *zone},
                                      {"action", "key " + step + " " + arg},
                                      {"result", "done; the zone is signed again"}});
                return r;
            }
            std::string_view action = parts[2];
            if ((action == "agent-data" && role.name() != "signer") ||
                (action == "keys" && role.name() == "signer")) {
                if (!get) return method_not_allowed("GET");
                if (!status) return error_reply(404, "zone " + *zone + " is not served here");
                auto data = role.zone_data_json(*zone);
                if (!data)
                    return error_reply(404, "zone " + *zone + " has no " +
                                                (action == "keys" ? "keys" : "agent data") +
                                                " here (role " + role.name() + ")");
                http_reply r;
                r.body = to_body(json::parse(*data));
                return r;
            }
            if (action != "reload" && action != "notify")
                return error_reply(404, "no such endpoint: " + std::string(path));
            if (method != "POST") return method_not_allowed("POST");
            if (!status) return error_reply(404, "zone " + *zone + " is not served here");
            std::string err =
                action == "reload" ? role.reload_zone(*zone) : role.notify_zone(*zone);
            if (!err.empty()) {
                log::warn("management_action_failed",
                          {{"action", action}, {"zone", *zone}, {"error", err}});
                return error_reply(500, err);
            }
            log::info("management_action", {{"action", action}, {"zone", *zone}});
            http_reply r;
            r.body =
                to_body(json{{"zone", *zone},
                             {"action", action},
                             {"result", action == "reload" ? "reload started" : "notify sent"}});
            return r;
        }
        if (parts.size() >= 2 && parts.size() <= 4 && parts[0] == role.name()) {
            // GET /ROLE/TOPIC[/ARG], POST /ROLE/TOPIC/ARG/ACTION (role.h)
            std::string topic(parts[1]), arg;
            if (parts.size() >= 3) {
                auto decoded = percent_decode(parts[2]);
                if (!decoded) return error_reply(400, "bad request target");
                arg = *decoded;
            }
            if (parts.size() <= 3) {
                if (!get) return method_not_allowed("GET");
                auto view = role.role_view(topic, arg);
                if (!view) return error_reply(404, "no such endpoint: " + std::string(path));
                http_reply r;
                r.body = to_body(json::parse(*view));
                return r;
            }
            if (method != "POST") return method_not_allowed("POST");
            std::string action(parts[3]);
            auto err = role.role_action(topic, arg, action);
            if (!err) return error_reply(404, "no such endpoint: " + std::string(path));
            if (!err->empty()) {
                log::warn("management_action_failed",
                          {{"action", topic + " " + action}, {"name", arg}, {"error", *err}});
                return error_reply(409, *err);
            }
            log::info("management_action", {{"action", topic + " " + action}, {"name", arg}});
            http_reply r;
            r.body = to_body(json{{"name", arg}, {"action", action}, {"result", "started"}});
            return r;
        }
        return error_reply(404, "no such endpoint: " + std::string(path));
    } catch (const std::exception& e) {
        log::error("management_error", {{"target", target}, {"error", e.what()}});
        return error_reply(500, std::string("internal error: ") + e.what());
    }
}

// ----------------------------------------------------------------------------- server

struct management_server::state : std::enable_shared_from_this<management_server::state> {
    state(asio::io_context& io, roles::role& r, management_options o)
        : acceptor(io), role(r), options(std::move(o)) {
        if (options.key) verifier.emplace(*options.key, options.auth_window);
    }
    tcp::acceptor acceptor;
    roles::role& role;
    management_options options;
    std::optional<request_verifier> verifier;
    std::set<beast::tcp_stream*> sessions;
    bool stopped = false;
    uint64_t unauthorized = 0;  // requests refused with 401
    // Refused requests are logged at most `log_burst` per minute, so a flood of them
    // cannot flood the log; the next line says how many were left out.
    static constexpr unsigned log_burst = 20;
    double log_minute = 0;
    unsigned logged_this_minute = 0;
    uint64_t not_logged = 0;
};

namespace {

using state_ptr = std::shared_ptr<management_server::state>;

double wall_clock() {
    using namespace std::chrono;
    return duration<double>(system_clock::now().time_since_epoch()).count();
}

void log_unauthorized(management_server::state& s, const std::string& peer, std::string_view method,
                      std::string_view target, const std::string& why, double now) {
    if (now - s.log_minute >= 60) {
        s.log_minute = now;
        s.logged_this_minute = 0;
    }
    if (s.logged_this_minute >= s.log_burst) {
        ++s.not_logged;
        return;
    }
    ++s.logged_this_minute;
    if (s.not_logged) {
        log::warn("management_unauthorized", {{"peer", peer},
                                              {"method", method},
                                              {"target", target},
                                              {"reason", why},
                                              {"not_logged_before", s.not_logged}});
        s.not_logged = 0;
    } else {
        log::warn("management_unauthorized",
                  {{"peer", peer}, {"method", method}, {"target", target}, {"reason", why}});
    }
}

http::response<http::string_body> to_response(const http_reply& r, unsigned version,
                                              bool keep_alive, const std::string& server) {
    http::response<http::string_body> res{static_cast<http::status>(r.status), version};
    res.set(http::field::server, server);
    res.set(http::field::content_type, r.content_type);
    res.set(http::field::cache_control, "no-store");
    if (!r.allow.empty()) res.set(http::field::allow, r.allow);
    if (r.status == 401) res.set(http::field::www_authenticate, auth_scheme);
    res.keep_alive(keep_alive);
    res.body() = r.body;
    res.prepare_payload();
    return res;
}

asio::awaitable<void> session(state_ptr s, tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    s->sessions.insert(&stream);
    struct unregister {
        state_ptr s;
        beast::tcp_stream* p;
        ~unregister() { s->sessions.erase(p); }
    } guard{s, &stream};
    std::string server = "hsyncd/" + s->options.info.version;
    beast::flat_buffer buffer(s->options.max_header_bytes + s->options.max_body_bytes);
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(static_cast<uint32_t>(s->options.max_header_bytes));
        parser.body_limit(s->options.max_body_bytes);
        stream.expires_after(s->options.timeout);
        boost::system::error_code ec;
        co_await http::async_read(stream, buffer, parser,
                                  asio::redirect_error(asio::use_awaitable, ec));
        if (s->stopped) co_return;
        if (ec) {
            if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
                ec == asio::error::operation_aborted || ec == asio::error::connection_reset)
                break;
            // A malformed or oversized request: answer once, then close.
            http_reply r;
            if (ec == http::error::body_limit)
                r = error_reply(413, "request body too large");
            else if (ec == http::error::header_limit || ec == http::error::buffer_overflow)
                r = error_reply(431, "request header too large");
            else
                r = error_reply(400, "bad HTTP request: " + ec.message());
            auto res = to_response(r, 11, false, server);
            co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
            // Lingering close: closing with unread input sends a RST that can destroy the
            // answer before the client reads it, so drain a bounded amount first.
            stream.socket().shutdown(tcp::socket::shutdown_send, ec);
            stream.expires_after(std::chrono::seconds(1));
            char sink[4096];
            for (size_t drained = 0; !ec && drained < (1u << 20) && !s->stopped;) {
                drained += co_await stream.async_read_some(
                    asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ec));
            }
            co_return;
        }
        auto req = parser.release();
        std::string_view method(req.method_string().data(), req.method_string().size());
        std::string_view target(req.target().data(), req.target().size());
        http_reply r;
        bool authorized = true;
        if (s->verifier) {
            double now = s->options.info.now ? s->options.info.now() : wall_clock();
            auto auth = req[http::field::authorization];
            auto result = s->verifier->verify(std::string_view(auth.data(), auth.size()), method,
                                              target, req.body(), static_cast<int64_t>(now));
            if (!result.ok) {
                authorized = false;
                ++s->unauthorized;
                boost::system::error_code pec;
                auto peer = stream.socket().remote_endpoint(pec);
                log_unauthorized(*s, pec ? "-" : peer.address().to_string(), method, target,
                                 result.reason, now);
                r = error_reply(401, "unauthorized: " + result.reason);
            }
        }
        if (authorized) r = handle_request(s->role, s->options.info, method, target);
        if (s->stopped) co_return;
        auto res = to_response(r, req.version(), req.keep_alive(), server);
        if (req.method() == http::verb::head) {
            res.body().clear();
            res.content_length(r.body.size());
        }
        co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
        if (ec || !req.keep_alive() || s->stopped) break;
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> accept_loop(state_ptr s) {
    for (;;) {
        boost::system::error_code ec;
        tcp::socket socket =
            co_await s->acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (s->stopped || ec == asio::error::operation_aborted) co_return;
        if (ec) {
            // EMFILE and the like: wait a little instead of spinning.
            log::warn("management_accept_failed", {{"error", ec.message()}});
            asio::steady_timer t(s->acceptor.get_executor(), std::chrono::milliseconds(100));
            co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            if (s->stopped) co_return;
            continue;
        }
        if (s->sessions.size() >= s->options.max_connections) {
            socket.close(ec);  // over the limit: refuse rather than queue
            continue;
        }
        asio::co_spawn(s->acceptor.get_executor(), session(s, std::move(socket)), asio::detached);
    }
}

}  // namespace

management_server::management_server(asio::io_context& io, roles::role& role,
                                     management_options options)
    : state_(std::make_shared<state>(io, role, std::move(options))) {
    std::weak_ptr<state> weak = state_;
    auto role_metrics = std::move(state_->options.info.extra_metrics);
    state_->options.info.extra_metrics = [weak, role_metrics] {
        std::vector<roles::metric> out;
        if (role_metrics) out = role_metrics();
        if (auto s = weak.lock(); s && s->verifier) {
            roles::metric m;
            m.name = "hsync_management_unauthorized_total";
            m.help = "Management API requests refused for missing, wrong or replayed credentials.";
            m.type = "counter";
            m.value = static_cast<double>(s->unauthorized);
            out.push_back(std::move(m));
        }
        return out;
    };
    auto& a = state_->acceptor;
    a.open(state_->options.endpoint.protocol());
    a.set_option(tcp::acceptor::reuse_address(true));
    a.bind(state_->options.endpoint);
    a.listen();
    asio::co_spawn(io, accept_loop(state_), asio::detached);
}

management_server::~management_server() {
    stop();
}

tcp::endpoint management_server::local_endpoint() const {
    return state_->acceptor.local_endpoint();
}

void management_server::set_key(management_key key) {
    if (state_->verifier) state_->verifier->set_key(std::move(key));
}

void management_server::stop() {
    if (state_->stopped) return;
    state_->stopped = true;
    boost::system::error_code ec;
    state_->acceptor.close(ec);
    for (auto* s : state_->sessions)
        s->socket().close(ec);
}

// ----------------------------------------------------------------------------- client

client_reply http_request(const std::string& server, std::string_view method,
                          std::string_view target, std::chrono::milliseconds timeout,
                          const management_key* key) {
    std::string host = server, port = "8053";
    if (!server.empty() && server.front() == '[') {
        auto close = server.find(']');
        if (close == std::string::npos) throw std::runtime_error("bad server address " + server);
        host = server.substr(1, close - 1);
        if (close + 1 < server.size()) {
            if (server[close + 1] != ':') throw std::runtime_error("bad server address " + server);
            port = server.substr(close + 2);
        }
    } else if (std::count(server.begin(), server.end(), ':') == 1) {
        host = server.substr(0, server.find(':'));
        port = server.substr(server.find(':') + 1);
    }
    boost::system::error_code ec;
    auto address = asio::ip::make_address(host, ec);
    unsigned long port_num = 0;
    try {
        size_t used = 0;
        port_num = std::stoul(port, &used);
        if (used != port.size() || port_num > 65535) throw std::invalid_argument("port");
    } catch (const std::exception&) {
        ec = asio::error::invalid_argument;
    }
    if (ec) throw std::runtime_error("\"" + server + "\" is not ADDR:PORT");
    tcp::endpoint ep(address, static_cast<uint16_t>(port_num));

    asio::io_context io;
    beast::tcp_stream stream(io);
    http::request<http::string_body> req{http::string_to_verb(std::string(method)),
                                         std::string(target), 11};
    req.set(http::field::host, server);
    req.set(http::field::user_agent, "hsyncctl");
    req.set(http::field::connection, "close");
    if (key)
        req.set(http::field::authorization,
                sign_request(*key, method, target, req.body(), static_cast<int64_t>(wall_clock())));
    req.prepare_payload();
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64u << 20);  // zone lists of many thousands of zones still fit
    boost::system::error_code result;
    const char* stage = "connect to";
    stream.expires_after(timeout);
    stream.async_connect(ep, [&](boost::system::error_code e) {
        if (e) {
            result = e;
            return;
        }
        stage = "send to";
        http::async_write(stream, req, [&](boost::system::error_code e2, size_t) {
            if (e2) {
                result = e2;
                return;
            }
            stage = "read from";
            http::async_read(stream, buffer, parser,
                             [&](boost::system::error_code e3, size_t) { result = e3; });
        });
    });
    io.run();
    if (result) {
        std::string why = result == beast::error::timeout ? "timed out" : result.message();
        throw std::runtime_error(std::string("cannot ") + stage + " hsyncd at " + server + ": " +
                                 why);
    }
    auto res = parser.release();
    client_reply out;
    out.status = res.result_int();
    out.content_type = std::string(res[http::field::content_type]);
    out.body = std::move(res.body());
    return out;
}

}  // namespace hsync::api
