// Authentication of the management API: key files, request signatures, the verifier's
// time window and replay memory, and a real server refusing what is not signed.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <thread>

#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "api/management.h"
#include "api/management_auth.h"
#include "dns/text.h"

namespace hsync::api {
namespace {

namespace fs = std::filesystem;

management_key key_of(uint8_t fill) {
    return management_key{std::vector<uint8_t>(32, fill)};
}

std::string base64(const std::vector<uint8_t>& b) {
    std::string out;
    dns::append_base64(out, b);
    return out;
}

TEST(ManagementKey, ParsesBindAndPlainForms) {
    auto k = key_of(7);
    EXPECT_EQ(parse_management_key(format_management_key(k)).secret, k.secret);
    EXPECT_EQ(parse_management_key("# comment\n" + base64(k.secret) + "\n").secret, k.secret);
    // base64 has '/' and '+': still the plain form.
    EXPECT_EQ(parse_management_key(base64(key_of(0xff).secret)).secret, key_of(0xff).secret);
    // rndc.key / tsig-keygen style, several keys: the one named hsync-management.
    std::string two = "key \"other\" { algorithm hmac-sha256; secret \"" +
                      base64(key_of(1).secret) + "\"; };\nkey \"hsync-management\" {\n" +
                      " algorithm hmac-sha256; secret \"" + base64(key_of(2).secret) + "\"; };\n";
    EXPECT_EQ(parse_management_key(two).secret, key_of(2).secret);
}

TEST(ManagementKey, RefusesWeakOrBrokenKeysWithoutQuotingThem) {
    EXPECT_THROW(parse_management_key(""), std::runtime_error);
    EXPECT_THROW(parse_management_key(base64(std::vector<uint8_t>(8, 1))), std::runtime_error);
    EXPECT_THROW(
        parse_management_key("key \"hsync-management\" { algorithm hmac-sha512; secret \"" +
                             base64(key_of(3).secret) + "\"; };"),
        std::runtime_error);
    const std::string almost = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0!";
    for (const std::string& text :
         {"# a comment\n" + almost + "\n" + almost + "\n",
          std::string(
              "key \"hsync-management\" {\n algorithm hmac-sha256;\n c2VjcmV0c2VjcmV0;\n};\n"),
          almost,
          "key \"hsync-management\" { algorithm hmac-sha256; secret \"" + almost + "\"; };"}) {
        try {
            parse_management_key(text);
            FAIL() << "accepted " << text;
        } catch (const std::runtime_error& e) {
            EXPECT_EQ(std::string(e.what()).find("c2VjcmV0"), std::string::npos) << e.what();
        }
    }
}

class KeyFile : public testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("hsync-key-test-" + std::to_string(::getpid()) + "-" +
                testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    fs::path dir_;
};

TEST_F(KeyFile, CreatedOnceWithMode0600) {
    std::string path = (dir_ / "management.key").string();
    bool created = false;
    auto k1 = load_or_create_management_key(path, &created);
    EXPECT_TRUE(created);
    EXPECT_EQ(k1.secret.size(), management_key_bytes);
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    auto k2 = load_or_create_management_key(path, &created);
    EXPECT_FALSE(created);
    EXPECT_EQ(k1.secret, k2.secret);
    EXPECT_EQ(read_management_key(path).secret, k1.secret);
    // No temporary file is left behind.
    EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(KeyFile, RefusesAFileOthersCanRead) {
    std::string path = (dir_ / "k").string();
    std::ofstream(path) << base64(key_of(5).secret) << "\n";
    ::chmod(path.c_str(), 0644);
    try {
        read_management_key(path);
        FAIL() << "accepted mode 0644";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("mode 0644"), std::string::npos) << e.what();
    }
    ::chmod(path.c_str(), 0640);  // an operators' group may read it
    EXPECT_EQ(read_management_key(path).secret, key_of(5).secret);
    EXPECT_THROW(read_management_key((dir_ / "missing").string()), std::runtime_error);
}

TEST(RequestSignature, StringToSignIsFixed) {
    EXPECT_EQ(string_to_sign("POST", "/zones/example./reload?x=1", 1700000000,
                             "00112233445566778899aabbccddeeff", ""),
              "HSYNC-HMAC\nPOST\n/zones/example./reload?x=1\n1700000000\n"
              "00112233445566778899aabbccddeeff\n"
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    auto h = sign_request(key_of(1), "GET", "/status", "", 1700000000, "abcdefabcdefabcdef");
    EXPECT_EQ(h.rfind("HSYNC-HMAC ts=1700000000, nonce=abcdefabcdefabcdef, mac=", 0), 0u) << h;
    // Fresh nonces differ.
    EXPECT_NE(sign_request(key_of(1), "GET", "/status", "", 1),
              sign_request(key_of(1), "GET", "/status", "", 1));
}

TEST(RequestVerifier, AcceptsSignedRefusesEverythingElse) {
    const int64_t now = 1700000000;
    request_verifier v(key_of(1));
    auto good = sign_request(key_of(1), "POST", "/zones/a./reload", "", now);
    EXPECT_TRUE(v.verify(good, "POST", "/zones/a./reload", "", now + 10).ok);
    // The same header again: a replay.
    auto again = v.verify(good, "POST", "/zones/a./reload", "", now + 11);
    EXPECT_FALSE(again.ok);
    EXPECT_NE(again.reason.find("replayed"), std::string::npos) << again.reason;

    auto other = sign_request(key_of(2), "GET", "/status", "", now);
    auto wrong = v.verify(other, "GET", "/status", "", now);
    EXPECT_FALSE(wrong.ok);
    EXPECT_NE(wrong.reason.find("wrong MAC"), std::string::npos) << wrong.reason;

    // Anything the MAC covers, changed.
    auto h = sign_request(key_of(1), "GET", "/zones", "", now);
    EXPECT_FALSE(v.verify(h, "POST", "/zones", "", now).ok);
    EXPECT_FALSE(v.verify(h, "GET", "/zones?x", "", now).ok);
    EXPECT_FALSE(v.verify(h, "GET", "/zones", "body", now).ok);
    EXPECT_TRUE(v.verify(h, "GET", "/zones", "", now).ok);

    EXPECT_FALSE(v.verify("", "GET", "/status", "", now).ok);
    EXPECT_FALSE(v.verify("Bearer abc", "GET", "/status", "", now).ok);
    EXPECT_FALSE(v.verify("HSYNC-HMAC ts=1", "GET", "/status", "", now).ok);
    EXPECT_FALSE(
        v.verify("HSYNC-HMAC ts=x, nonce=abcdefabcdefabcdef, mac=AAAA", "GET", "/", "", now).ok);
    EXPECT_FALSE(v.verify(std::string(5000, 'A'), "GET", "/", "", now).ok);
    // A MAC of the wrong length is refused, not compared past its end.
    EXPECT_FALSE(v.verify("HSYNC-HMAC ts=1700000000, nonce=abcdefabcdefabcdef, mac=AAAA", "GET",
                          "/", "", now)
                     .ok);
    EXPECT_EQ(v.remembered(), 2u);
}

TEST(RequestVerifier, TimeWindow) {
    const int64_t now = 1700000000;
    request_verifier v(key_of(1), std::chrono::seconds(300));
    EXPECT_TRUE(
        v.verify(sign_request(key_of(1), "GET", "/", "", now - 300), "GET", "/", "", now).ok);
    EXPECT_TRUE(
        v.verify(sign_request(key_of(1), "GET", "/", "", now + 300), "GET", "/", "", now).ok);
    auto old = v.verify(sign_request(key_of(1), "GET", "/", "", now - 301), "GET", "/", "", now);
    EXPECT_FALSE(old.ok);
    EXPECT_NE(old.reason.find("-301 s off"), std::string::npos) << old.reason;
    EXPECT_FALSE(
        v.verify(sign_request(key_of(1), "GET", "/", "", now + 301), "GET", "/", "", now).ok);
    // Nonces are forgotten once their time has left the window.
    EXPECT_EQ(v.remembered(), 2u);
    EXPECT_TRUE(
        v.verify(sign_request(key_of(1), "GET", "/", "", now + 700), "GET", "/", "", now + 700).ok);
    EXPECT_EQ(v.remembered(), 1u);
}

TEST(RequestVerifier, BoundedMemoryNeverReopensReplays) {
    const int64_t now = 1700000000;
    request_verifier v(key_of(1), std::chrono::seconds(300), 4);
    std::vector<std::string> headers;
    for (int i = 0; i < 6; ++i) {
        headers.push_back(sign_request(key_of(1), "GET", "/", "", now + i));
        EXPECT_TRUE(v.verify(headers.back(), "GET", "/", "", now + 5).ok) << i;
        EXPECT_LE(v.remembered(), 4u);
    }
    // Dropped from memory or not, none of them is accepted twice.
    for (const auto& h : headers)
        EXPECT_FALSE(v.verify(h, "GET", "/", "", now + 5).ok) << h;
    // Older than what was dropped: refused, though inside the window.
    EXPECT_FALSE(
        v.verify(sign_request(key_of(1), "GET", "/", "", now), "GET", "/", "", now + 5).ok);
    EXPECT_TRUE(
        v.verify(sign_request(key_of(1), "GET", "/", "", now + 6), "GET", "/", "", now + 6).ok);
}

class fake_role final : public roles::role {
  public:
    std::string name() const override { return "auth"; }
    std::vector<roles::zone_status> zones() const override {
        return {zone("example.com.").value()};
    }
    std::optional<roles::zone_status> zone(const std::string& n) const override {
        if (n != "example.com.") return std::nullopt;
        roles::zone_status z;
        z.name = n;
        z.kind = "primary";
        return z;
    }
    std::string reload_zone(const std::string& n) override {
        reloads.push_back(n);
        return {};
    }
    std::string notify_zone(const std::string&) override { return {}; }
    std::vector<roles::metric> metrics() const override { return {}; }
    std::vector<std::string> reloads;
};

class AuthenticatedServer : public testing::Test {
  protected:
    void SetUp() override {
        management_options o;
        o.endpoint = {net::asio::ip::make_address("127.0.0.1"), 0};
        o.info.version = "0.1.0";
        o.info.now = [] {
            using namespace std::chrono;
            return duration<double>(system_clock::now().time_since_epoch()).count();
        };
        o.key = key_;
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
    size_t reloads() {
        std::promise<size_t> p;
        net::asio::post(io_, [&] { p.set_value(role_.reloads.size()); });
        return p.get_future().get();
    }

    management_key key_ = key_of(9);
    net::asio::io_context io_;
    fake_role role_;
    std::unique_ptr<management_server> server_;
    std::optional<net::asio::executor_work_guard<net::asio::io_context::executor_type>> guard_;
    std::thread thread_;
    std::string address_;
};

TEST_F(AuthenticatedServer, RefusesUnsignedWrongAndReplayedRequests) {
    auto r = http_request(address_, "POST", "/zones/example.com/reload", std::chrono::seconds(5));
    EXPECT_EQ(r.status, 401u);
    EXPECT_NE(r.body.find("no credentials"), std::string::npos) << r.body;
    auto wrong = key_of(8);
    r = http_request(address_, "POST", "/zones/example.com/reload", std::chrono::seconds(5),
                     &wrong);
    EXPECT_EQ(r.status, 401u);
    r = http_request(address_, "GET", "/metrics", std::chrono::seconds(5));
    EXPECT_EQ(r.status, 401u);
    EXPECT_EQ(reloads(), 0u);

    r = http_request(address_, "POST", "/zones/example.com/reload", std::chrono::seconds(5), &key_);
    EXPECT_EQ(r.status, 200u) << r.body;
    EXPECT_EQ(reloads(), 1u);

    // A captured request, sent again byte for byte.
    auto now = static_cast<int64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
    std::string request = "POST /zones/example.com/reload HTTP/1.1\r\nHost: x\r\nAuthorization: " +
                          sign_request(key_, "POST", "/zones/example.com/reload", "", now) +
                          "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    EXPECT_NE(raw(request).find("HTTP/1.1 200"), std::string::npos);
    std::string replay = raw(request);
    EXPECT_NE(replay.find("HTTP/1.1 401"), std::string::npos) << replay;
    EXPECT_NE(replay.find("WWW-Authenticate: HSYNC-HMAC"), std::string::npos) << replay;
    EXPECT_NE(replay.find("replayed"), std::string::npos) << replay;
    EXPECT_EQ(reloads(), 2u);

    r = http_request(address_, "GET", "/metrics", std::chrono::seconds(5), &key_);
    EXPECT_EQ(r.status, 200u);
    EXPECT_NE(r.body.find("\nhsync_management_unauthorized_total 4\n"), std::string::npos)
        << r.body;
    EXPECT_EQ(r.body.find(base64(key_.secret)), std::string::npos);

    // A new key (SIGHUP) takes over at once.
    std::promise<void> done;
    net::asio::post(io_, [&] {
        server_->set_key(key_of(10));
        done.set_value();
    });
    done.get_future().get();
    EXPECT_EQ(http_request(address_, "GET", "/status", std::chrono::seconds(5), &key_).status,
              401u);
    auto next = key_of(10);
    EXPECT_EQ(http_request(address_, "GET", "/status", std::chrono::seconds(5), &next).status,
              200u);
}

}  // namespace
}  // namespace hsync::api
