// The management API: requests against a running server on loopback with a fake role,
// the pure request handler, the Prometheus text format, and the log line format.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <nlohmann/json.hpp>

#include "api/management.h"
#include "api/metrics.h"
#include "zone/log.h"

namespace hsync::api {
namespace {

using json = nlohmann::json;

class fake_role final : public roles::role {
  public:
    std::string name() const override { return "auth"; }
    std::vector<roles::zone_status> zones() const override { return zones_; }
    std::optional<roles::zone_status> zone(const std::string& n) const override {
        for (const auto& z : zones_)
            if (z.name == n) return z;
        return std::nullopt;
    }
    std::string reload_zone(const std::string& n) override {
        reloads.push_back(n);
        return n == "broken.example." ? "broken.example.zone:3: bad TTL" : "";
    }
    std::string notify_zone(const std::string& n) override {
        notifies.push_back(n);
        return {};
    }
    std::vector<roles::metric> metrics() const override {
        return {{"hsync_queries_total", "Queries answered.", "counter", {{"rcode", "NOERROR"}}, 42},
                {"hsync_queries_total", "", "counter", {{"rcode", "NXDOMAIN"}}, 3},
                {"hsync_zones", "Zones served.", "gauge", {}, 2}};
    }

    std::vector<roles::zone_status> zones_ = [] {
        roles::zone_status a;
        a.name = "example.com.";
        a.kind = "primary";
        a.serial = 2026112801;
        a.source = "/zones/example.com.zone";
        a.loaded_at = 1795860000;
        a.records = 12;
        a.details = {{"notify", "192.0.2.1:53"}};
        roles::zone_status b;
        b.name = "broken.example.";
        b.kind = "secondary";
        b.source = "192.0.2.53:53";
        b.last_error = "refresh failed: timeout";
        return std::vector<roles::zone_status>{a, b};
    }();
    std::vector<std::string> reloads, notifies;
};

server_info info() {
    server_info i;
    i.version = "0.1.0";
    i.started_at = 1000;
    i.pid = 4242;
    i.now = [] { return 1090.5; };
    return i;
}

TEST(ManagementHandler, Status) {
    fake_role role;
    auto r = handle_request(role, info(), "GET", "/status");
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.content_type, "application/json");
    auto j = json::parse(r.body);
    EXPECT_EQ(j["role"], "auth");
    EXPECT_EQ(j["version"], "0.1.0");
    EXPECT_EQ(j["pid"], 4242);
    EXPECT_EQ(j["uptime"], 90);
    EXPECT_EQ(j["zones"], 2);
}

TEST(ManagementHandler, ZonesAndOneZone) {
    fake_role role;
    auto j = json::parse(handle_request(role, info(), "GET", "/zones").body);
    ASSERT_EQ(j["zones"].size(), 2u);
    EXPECT_EQ(j["zones"][0]["name"], "example.com.");
    EXPECT_EQ(j["zones"][0]["serial"], 2026112801u);
    EXPECT_EQ(j["zones"][0]["details"]["notify"], "192.0.2.1:53");
    EXPECT_TRUE(j["zones"][1]["serial"].is_null());
    EXPECT_TRUE(j["zones"][1]["loaded_at"].is_null());
    EXPECT_EQ(j["zones"][1]["last_error"], "refresh failed: timeout");

    // With or without the final dot, any case, percent-encoded.
    for (const char* t :
         {"/zones/example.com.", "/zones/EXAMPLE.com", "/zones/example%2Ecom?x=1"}) {
        auto r = handle_request(role, info(), "GET", t);
        EXPECT_EQ(r.status, 200u) << t;
        EXPECT_EQ(json::parse(r.body)["records"], 12) << t;
    }
}

TEST(ManagementHandler, Errors) {
    fake_role role;
    auto expect_error = [&](const char* method, const char* target, unsigned status,
                            const std::string& message) {
        auto r = handle_request(role, info(), method, target);
        EXPECT_EQ(r.status, status) << method << " " << target;
        auto j = json::parse(r.body);
        EXPECT_EQ(j["error"], message) << method << " " << target;
    };
    expect_error("GET", "/zones/nope.example", 404, "zone nope.example. is not served here");
    expect_error("POST", "/zones/nope.example/reload", 404,
                 "zone nope.example. is not served here");
    expect_error("GET", "/nothing", 404, "no such endpoint: /nothing");
    expect_error("GET", "/zones/example.com./frobnicate", 404,
                 "no such endpoint: /zones/example.com./frobnicate");
    expect_error("GET", "/zones/a..b", 400, "\"a..b\" is not a zone name");
    expect_error("GET", "/zones/%zz", 400, "\"%zz\" is not a zone name");
    expect_error("GET", "/zones/example.com./reload", 405, "method not allowed; use POST");
    expect_error("DELETE", "/status", 405, "method not allowed; use GET");
    expect_error("POST", "/zones/broken.example/reload", 500, "broken.example.zone:3: bad TTL");
    EXPECT_EQ(handle_request(role, info(), "POST", "/status").allow, "GET");
    EXPECT_TRUE(role.notifies.empty());
}

TEST(ManagementHandler, ReloadAndNotifyCallTheRole) {
    fake_role role;
    auto r = handle_request(role, info(), "POST", "/zones/Example.Com/reload");
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(json::parse(r.body)["zone"], "example.com.");
    r = handle_request(role, info(), "POST", "/zones/example.com./notify");
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(json::parse(r.body)["result"], "notify sent");
    EXPECT_EQ(role.reloads, (std::vector<std::string>{"example.com."}));
    EXPECT_EQ(role.notifies, (std::vector<std::string>{"example.com."}));
}

TEST(Metrics, PrometheusTextFormat) {
    std::vector<roles::metric> m = {
        {"hsync_queries_total",
         "Queries answered.\nBy rcode \\ type.",
         "counter",
         {{"rcode", "NOERROR"}, {"zone", "we\"ird\\z\none."}},
         42},
        {"hsync_zones", "Zones served.", "gauge", {}, 2.5},
        {"hsync_queries_total", "ignored", "gauge", {{"rcode", "NXDOMAIN"}}, 1e20},
        {"bad name-1", "", "weird", {{"bad-label", "v"}}, std::numeric_limits<double>::infinity()},
    };
    EXPECT_EQ(format_prometheus(m),
              "# HELP hsync_queries_total Queries answered.\\nBy rcode \\\\ type.\n"
              "# TYPE hsync_queries_total counter\n"
              "hsync_queries_total{rcode=\"NOERROR\",zone=\"we\\\"ird\\\\z\\none.\"} 42\n"
              "hsync_queries_total{rcode=\"NXDOMAIN\"} 1e+20\n"
              "# HELP hsync_zones Zones served.\n"
              "# TYPE hsync_zones gauge\n"
              "hsync_zones 2.5\n"
              "# TYPE bad_name_1 untyped\n"
              "bad_name_1{bad_label=\"v\"} +Inf\n");
    EXPECT_EQ(format_sample_value(std::nan("")), "NaN");
    EXPECT_EQ(format_sample_value(-3), "-3");
    EXPECT_EQ(format_sample_value(0.1), "0.10000000000000001");
}

TEST(Metrics, EndpointHasRoleAndProcessMetrics) {
    fake_role role;
    auto r = handle_request(role, info(), "GET", "/metrics");
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
    for (const char* want :
         {"\nhsync_queries_total{rcode=\"NOERROR\"} 42\n",
          "\nhsync_queries_total{rcode=\"NXDOMAIN\"} 3\n",
          "hsync_build_info{role=\"auth\",version=\"0.1.0\"} 1\n", "\nhsync_uptime_seconds 90.5\n",
          "# TYPE process_cpu_seconds_total counter\n", "\nprocess_resident_memory_bytes ",
          "\nprocess_open_fds ", "\nprocess_start_time_seconds 1000\n"})
        EXPECT_NE(r.body.find(want), std::string::npos) << want << "\n" << r.body;
    // Each family's TYPE line appears once, before its samples.
    EXPECT_EQ(r.body.find("# TYPE hsync_queries_total"),
              r.body.rfind("# TYPE hsync_queries_total"));
}

// A real server on loopback, the io_context on its own thread (as in hsyncd, the role
// is only called from the loop thread).
class ManagementServer : public testing::Test {
  protected:
    void SetUp() override {
        management_options o;
        o.endpoint = {net::asio::ip::make_address("127.0.0.1"), 0};
        o.info = info();
        o.timeout = std::chrono::milliseconds(500);
        o.max_connections = 4;
        server_ = std::make_unique<management_server>(io_, role_, o);
        address_ = "127.0.0.1:" + std::to_string(server_->local_endpoint().port());
        guard_.emplace(io_.get_executor());
        thread_ = std::thread([this] { io_.run(); });
    }
    void TearDown() override {
        net::asio::post(io_, [this] { server_->stop(); });
        guard_.reset();
        thread_.join();
        server_.reset();
    }
    client_reply get(const std::string& target, const char* method = "GET") {
        return http_request(address_, method, target, std::chrono::seconds(5));
    }
    // Sends raw bytes, returns all the server answered before closing (or timeout).
    std::string raw(const std::string& bytes) {
        net::asio::io_context io;
        net::asio::ip::tcp::socket s(io);
        s.connect(server_->local_endpoint());
        net::asio::write(s, net::asio::buffer(bytes));
        std::string out;
        boost::system::error_code ec;
        char buf[4096];
        for (;;) {
            size_t n = s.read_some(net::asio::buffer(buf), ec);
            if (ec) break;
            out.append(buf, n);
        }
        return out;
    }

    net::asio::io_context io_;
    fake_role role_;
    std::unique_ptr<management_server> server_;
    std::optional<net::asio::executor_work_guard<net::asio::io_context::executor_type>> guard_;
    std::thread thread_;
    std::string address_;
};

TEST_F(ManagementServer, AnswersOverHttp) {
    auto r = get("/status");
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.content_type, "application/json");
    EXPECT_EQ(json::parse(r.body)["role"], "auth");

    r = get("/zones/example.com/notify", "POST");
    EXPECT_EQ(r.status, 200u);
    r = get("/zones/unknown.example");
    EXPECT_EQ(r.status, 404u);
    EXPECT_EQ(json::parse(r.body)["error"], "zone unknown.example. is not served here");
    r = get("/metrics");
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_NE(r.body.find("hsync_zones 2\n"), std::string::npos);
}

TEST_F(ManagementServer, KeepAliveServesSeveralRequestsOnOneConnection) {
    std::string out =
        raw("GET /status HTTP/1.1\r\nHost: x\r\n\r\n"
            "GET /zones HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    size_t first = out.find("HTTP/1.1 200 OK");
    ASSERT_NE(first, std::string::npos) << out;
    EXPECT_NE(out.find("HTTP/1.1 200 OK", first + 1), std::string::npos) << out;
    EXPECT_NE(out.find("\"zones\": ["), std::string::npos) << out;
}

TEST_F(ManagementServer, BoundedRequests) {
    std::string big_header =
        "GET /status HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(20000, 'a') + "\r\n\r\n";
    EXPECT_NE(raw(big_header).find("HTTP/1.1 431"), std::string::npos);
    std::string big_body =
        "POST /zones/example.com/reload HTTP/1.1\r\nHost: x\r\n"
        "Content-Length: 100000\r\n\r\n" +
        std::string(100000, 'b');
    EXPECT_NE(raw(big_body).find("HTTP/1.1 413"), std::string::npos);
    EXPECT_NE(raw("NOT HTTP AT ALL\r\n\r\n").find("HTTP/1.1 400"), std::string::npos);
    // A client that sends half a request is dropped after the timeout (500 ms here).
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(raw("GET /sta"), "");
    auto waited = std::chrono::steady_clock::now() - t0;
    EXPECT_GE(waited, std::chrono::milliseconds(400));
    EXPECT_LT(waited, std::chrono::seconds(3));
    // The server still answers.
    EXPECT_EQ(get("/status").status, 200u);
    EXPECT_TRUE(role_.reloads.empty());
}

TEST(ManagementClient, ReportsUnreachableServer) {
    // Bind and close to get a port where nothing listens.
    net::asio::io_context io;
    net::asio::ip::tcp::acceptor a(io, {net::asio::ip::make_address("127.0.0.1"), 0});
    auto port = a.local_endpoint().port();
    a.close();
    try {
        http_request("127.0.0.1:" + std::to_string(port), "GET", "/status",
                     std::chrono::seconds(2));
        FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_EQ(std::string(e.what()), "cannot connect to hsyncd at 127.0.0.1:" +
                                             std::to_string(port) + ": Connection refused");
    }
    EXPECT_THROW(http_request("localhost:x", "GET", "/", std::chrono::seconds(1)),
                 std::runtime_error);
}

TEST(Log, LogfmtLines) {
    EXPECT_EQ(log::format_event(log::level::info, "auth", "zone_loaded",
                                {{"zone", "example."}, {"serial", 5u}, {"records", 12}}),
              "level=info role=auth event=zone_loaded zone=example. serial=5 records=12");
    EXPECT_EQ(log::format_event(log::level::error, "auth", "reload_failed",
                                {{"error", "c.yaml:3: bad \"x\""}, {"empty", ""}, {"ok", true}}),
              "level=error role=auth event=reload_failed error=\"c.yaml:3: bad \\\"x\\\"\" "
              "empty=\"\" ok=true");
    // Text from the network can never break the line or forge fields.
    EXPECT_EQ(log::format_event(log::level::warn, "", "q", {{"qname", "a\nlevel=error\x01"}}),
              "level=warn event=q qname=\"a\\nlevel=error\\x01\"");
    log::level l;
    EXPECT_TRUE(log::parse_level("debug", l));
    EXPECT_EQ(l, log::level::debug);
    EXPECT_FALSE(log::parse_level("verbose", l));
}

}  // namespace
}  // namespace hsync::api
