// The TLS identity and the DANE-authenticated HTTPS transport, over loopback sockets: our
// client against our server, raw clients that misbehave on purpose, and openssl, curl
// and ldns-dane as code we did not write.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "net/dane_https.h"
#include "net/tls_identity.h"

using namespace hsync;
using namespace hsync::net;
using namespace std::chrono_literals;
using asio::ip::tcp;
using boost::system::error_code;
namespace fs = std::filesystem;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;

namespace {

const auto loopback = asio::ip::make_address("127.0.0.1");

// Runs `a` on `io` until it finishes or `limit` passes.
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
        if (io.stopped()) io.restart();
        io.run_one_for(50ms);
    }
    if (error) std::rethrow_exception(error);
    if (!done) throw std::runtime_error("test coroutine did not finish in time");
    return std::move(*out);
}

// Runs a shell command with a time limit; returns its output (stderr too) and exit status.
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

bool have_program(const std::string& name) {
    return shell("sh -c 'command -v " + name + "'").second == 0;
}

fs::path make_temp_dir() {
    std::string tmpl = (fs::temp_directory_path() / "hsync-dane-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    return tmpl;
}

void write_text(const fs::path& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

unsigned file_mode(const fs::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return 0;
    return st.st_mode & 07777;
}

std::string cert_text(X509* cert) {
    BIO* bio = BIO_new(BIO_s_mem());
    X509_print(bio, cert);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<size_t>(n));
    BIO_free(bio);
    return out;
}

// What a raw client saw.
struct raw_outcome {
    error_code handshake;  // TLS handshake (or connect)
    error_code write;
    error_code read;       // the read that ended the exchange (eof when the server closed)
    std::string received;  // every byte read
};

// A TLS client of our own making: any certificate or none, any protocol ceiling; sends
// `bytes` after the handshake and reads until the server closes or `wait` passes.
awaitable<raw_outcome> raw_tls_exchange(tcp::endpoint to, const tls_identity* cert,
                                        std::string bytes, int max_version = 0,
                                        std::chrono::milliseconds wait = 3s) {
    raw_outcome out;
    ssl::context ctx(ssl::context::tls_client);
    ctx.set_verify_mode(ssl::verify_none);
    if (max_version) SSL_CTX_set_max_proto_version(ctx.native_handle(), max_version);
    if (cert) {
        SSL_CTX_use_certificate(ctx.native_handle(), cert->certificate());
        SSL_CTX_use_PrivateKey(ctx.native_handle(), cert->key());
    }
    beast::ssl_stream<beast::tcp_stream> stream(co_await asio::this_coro::executor, ctx);
    auto& layer = beast::get_lowest_layer(stream);
    layer.expires_after(wait);
    co_await layer.async_connect(to, asio::redirect_error(use_awaitable, out.handshake));
    if (out.handshake) co_return out;
    co_await stream.async_handshake(ssl::stream_base::client,
                                    asio::redirect_error(use_awaitable, out.handshake));
    if (out.handshake) co_return out;
    co_await asio::async_write(stream, asio::buffer(bytes),
                               asio::redirect_error(use_awaitable, out.write));
    std::array<char, 4096> buf;
    while (!out.read) {
        size_t n = co_await stream.async_read_some(asio::buffer(buf),
                                                   asio::redirect_error(use_awaitable, out.read));
        out.received.append(buf.data(), n);
    }
    co_return out;
}

// Plain TCP: sends `bytes`, reads until the server closes or `wait` passes.
awaitable<raw_outcome> raw_tcp_exchange(tcp::endpoint to, std::string bytes,
                                        std::chrono::milliseconds wait = 3s) {
    raw_outcome out;
    beast::tcp_stream stream(co_await asio::this_coro::executor);
    stream.expires_after(wait);
    co_await stream.async_connect(to, asio::redirect_error(use_awaitable, out.handshake));
    if (out.handshake) co_return out;
    co_await asio::async_write(stream, asio::buffer(bytes),
                               asio::redirect_error(use_awaitable, out.write));
    std::array<char, 4096> buf;
    while (!out.read) {
        size_t n = co_await stream.async_read_some(asio::buffer(buf),
                                                   asio::redirect_error(use_awaitable, out.read));
        out.received.append(buf.data(), n);
    }
    co_return out;
}

std::string post_text(const std::string& path, const std::string& body, bool close = true) {
    return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
           (close ? "Connection: close\r\n" : "") +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

size_t count_of(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
        ++n;
    return n;
}

// ---- identity ------------------------------------------------------------------------------

struct tls_identity_test : ::testing::Test {
    fs::path dir = make_temp_dir();
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
};

TEST_F(tls_identity_test, generated_certificate_names_the_host_and_lasts_ten_years) {
    auto id = tls_identity::generate("api.agent.p1.lab.");
    X509* cert = id.certificate();
    EXPECT_EQ(X509_get_version(cert), X509_VERSION_3);
    std::string text = cert_text(cert);
    EXPECT_NE(text.find("Subject: CN=api.agent.p1.lab"), std::string::npos) << text;
    EXPECT_NE(text.find("Issuer: CN=api.agent.p1.lab"), std::string::npos) << text;
    EXPECT_NE(text.find("DNS:api.agent.p1.lab"), std::string::npos) << text;
    EXPECT_NE(text.find("prime256v1"), std::string::npos) << text;
    EXPECT_EQ(EVP_PKEY_get_base_id(id.key()), EVP_PKEY_EC);

    int days = 0, seconds = 0;
    ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(cert), X509_get0_notAfter(cert)),
              1);
    EXPECT_GE(days, 3649);
    EXPECT_LE(days, 3651);
    EXPECT_EQ(X509_verify(cert, id.key()), 1);  // self-signed

    // Random serials: two certificates for one name never share issuer and serial.
    auto other = tls_identity::generate("api.agent.p1.lab");
    EXPECT_NE(
        ASN1_INTEGER_cmp(X509_get0_serialNumber(cert), X509_get0_serialNumber(other.certificate())),
        0);
    EXPECT_NE(id.spki_sha256(), other.spki_sha256());
}

TEST_F(tls_identity_test, names_that_are_not_host_names_are_refused) {
    EXPECT_THROW(tls_identity::generate(""), tls_error);
    EXPECT_THROW(tls_identity::generate("a b.example"), tls_error);
    EXPECT_THROW(tls_identity::generate("a,DNS:evil.example"), tls_error);
}

TEST_F(tls_identity_test, saved_key_is_private_and_loads_to_the_same_digest) {
    auto key = dir / "tls.key", cert = dir / "tls.crt";
    auto first = tls_identity::load_or_generate(key, cert, "api.agent.p1.lab");
    EXPECT_EQ(file_mode(key), 0600u);
    EXPECT_EQ(file_mode(cert), 0644u);
    for (const auto& e : fs::directory_iterator(dir))  // no temporary files left behind
        EXPECT_TRUE(e.path() == key || e.path() == cert) << e.path();

    auto second = tls_identity::load_or_generate(key, cert, "api.agent.p1.lab");
    EXPECT_EQ(second.spki_sha256(), first.spki_sha256());
    EXPECT_EQ(second.certificate_pem(), first.certificate_pem());
    auto third = tls_identity::load(key, cert);
    EXPECT_EQ(third.spki_sha256(), first.spki_sha256());
    EXPECT_EQ(spki_sha256(third.certificate()), first.spki_sha256());
}

TEST_F(tls_identity_test, a_lone_key_gets_a_new_certificate_with_the_same_digest) {
    auto key = dir / "tls.key", cert = dir / "tls.crt";
    auto first = tls_identity::load_or_generate(key, cert, "api.agent.p1.lab");
    fs::remove(cert);
    auto again = tls_identity::load_or_generate(key, cert, "api.agent.p1.lab");
    EXPECT_EQ(again.spki_sha256(), first.spki_sha256());
    EXPECT_TRUE(fs::exists(cert));

    fs::remove(key);
    try {
        tls_identity::load_or_generate(key, cert, "api.agent.p1.lab");
        ADD_FAILURE() << "a certificate without its key was accepted";
    } catch (const tls_error& e) {
        EXPECT_NE(std::string(e.what()).find("tls.key"), std::string::npos) << e.what();
    }
}

TEST_F(tls_identity_test, bad_files_are_errors_that_name_the_file) {
    auto a = tls_identity::generate("a.example"), b = tls_identity::generate("b.example");
    a.save(dir / "a.key", dir / "a.crt");
    b.save(dir / "b.key", dir / "b.crt");
    auto message = [](auto&& f) -> std::string {
        try {
            f();
        } catch (const tls_error& e) {
            return e.what();
        }
        return "no error";
    };
    EXPECT_NE(message([&] { tls_identity::load(dir / "a.key", dir / "b.crt"); }).find("a.key"),
              std::string::npos);
    write_text(dir / "junk.pem", "-----BEGIN PRIVATE KEY-----\nnot base64\n");
    EXPECT_NE(message([&] { tls_identity::load(dir / "junk.pem", dir / "a.crt"); }).find("junk"),
              std::string::npos);
    EXPECT_NE(message([&] { tls_identity::load(dir / "a.key", dir / "junk.pem"); }).find("junk"),
              std::string::npos);
    EXPECT_NE(message([&] { tls_identity::load(dir / "missing", dir / "a.crt"); }).find("missing"),
              std::string::npos);
    // An encrypted key is refused rather than prompting on a terminal.
    auto [out, rc] = shell("openssl pkey -in " + (dir / "a.key").string() + " -aes256 -passout " +
                           "pass:secret -out " + (dir / "enc.key").string());
    ASSERT_EQ(rc, 0) << out;
    EXPECT_NE(message([&] { tls_identity::load(dir / "enc.key", dir / "a.crt"); }).find("enc.key"),
              std::string::npos);
}

TEST_F(tls_identity_test, operator_supplied_rsa_pair_loads) {
    auto [out, rc] =
        shell("openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=op.example -days 30 -keyout " +
              (dir / "op.key").string() + " -out " + (dir / "op.crt").string());
    ASSERT_EQ(rc, 0) << out;
    auto id = tls_identity::load(dir / "op.key", dir / "op.crt");
    EXPECT_EQ(EVP_PKEY_get_base_id(id.key()), EVP_PKEY_RSA);
}

// openssl and ldns-dane compute the same TLSA 3 1 1 data as we do.
TEST_F(tls_identity_test, digest_agrees_with_openssl_and_ldns_dane) {
    auto id = tls_identity::load_or_generate(dir / "k.pem", dir / "c.pem", "api.agent.p1.lab");
    std::string expected = to_hex(id.spki_sha256());
    ASSERT_EQ(expected.size(), 64u);

    auto [out, rc] = shell("openssl x509 -in " + (dir / "c.pem").string() +
                           " -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum");
    ASSERT_EQ(rc, 0) << out;
    EXPECT_EQ(out.substr(0, 64), expected) << out;

    if (!have_program("ldns-dane")) GTEST_SKIP() << "ldns-dane (ldnsutils) is not installed";
    auto [lout, lrc] =
        shell("ldns-dane -c " + (dir / "c.pem").string() + " create api.agent.p1.lab 443 3 1 1");
    ASSERT_EQ(lrc, 0) << lout;
    EXPECT_NE(lout.find("_443._tcp.api.agent.p1.lab."), std::string::npos) << lout;
    EXPECT_NE(lout.find("3 1 1 " + expected), std::string::npos) << lout;
}

// ---- transport -----------------------------------------------------------------------------

// A server on a thread of its own (so blocking tools can talk to it) and a client
// io_context on the test's thread.
struct dane_https_test : ::testing::Test {
    fs::path dir = make_temp_dir();
    tls_identity server_id = tls_identity::generate("api.agent.p1.lab");
    tls_identity client_id = tls_identity::generate("api.agent.p2.lab");
    asio::io_context server_io;
    std::unique_ptr<dane_https_server> server;
    std::thread runner;
    asio::io_context client_io;

    std::atomic<int> calls{0};
    std::mutex mutex;
    std::optional<https_request> last;   // under mutex
    std::vector<std::string> log_lines;  // under mutex

    void start(dane_https_options o = {}) {
        o.listen = {loopback, 0};
        o.log = [this](const std::string& line) {
            std::lock_guard lock(mutex);
            log_lines.push_back(line);
        };
        server = std::make_unique<dane_https_server>(server_io.get_executor(), server_id, o);
        server->on_post("/hello", [this](const https_request& r) -> awaitable<https_reply> {
            ++calls;
            {
                std::lock_guard lock(mutex);
                last = r;
            }
            co_return https_reply{200, R"({"echo":)" + r.body + "}"};
        });
        server->on_post("/beat", [this](const https_request&) {
            ++calls;
            return https_reply{202, R"({"beat":true})"};
        });
        server->on_post("/fail", [](const https_request&) -> https_reply {
            throw std::runtime_error("handler exploded");
        });
        runner = std::thread([this] {
            auto guard = asio::make_work_guard(server_io);
            server_io.run();
        });
    }

    tcp::endpoint endpoint() const { return server->endpoint(); }
    peer server_peer() const { return {loopback, endpoint().port()}; }

    dane_https_counters counters() {
        std::promise<dane_https_counters> p;
        asio::post(server_io, [&] { p.set_value(server->counters()); });
        return p.get_future().get();
    }

    // Counters settle after the server has noticed a client going away.
    template <class Pred>
    bool eventually(Pred pred, std::chrono::milliseconds limit = 5s) {
        auto until = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < until) {
            if (pred()) return true;
            std::this_thread::sleep_for(20ms);
        }
        return pred();
    }

    dane_post_result post(const std::string& path, const std::string& body,
                          std::vector<spki_digest> expected, std::chrono::milliseconds timeout = 5s,
                          std::optional<peer> to = std::nullopt) {
        return run(client_io,
                   dane_post(client_io.get_executor(), to ? *to : server_peer(), "api.agent.p1.lab",
                             path, body, client_id, std::move(expected), timeout));
    }

    void TearDown() override {
        if (runner.joinable()) {
            std::promise<void> stopped;
            asio::post(server_io, [&] {
                server->stop();
                stopped.set_value();
            });
            stopped.get_future().wait_for(5s);
            server_io.stop();
            runner.join();
        }
        server.reset();
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
};

TEST_F(dane_https_test, matching_keys_both_ways_round_trip) {
    start();
    auto r = post("/hello", R"({"zone":"example.com."})", {server_id.spki_sha256()});
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.body, R"({"echo":{"zone":"example.com."}})");
    EXPECT_TRUE(r.error.empty());
    EXPECT_EQ(r.server_spki, server_id.spki_sha256());

    std::lock_guard lock(mutex);
    ASSERT_TRUE(last);
    EXPECT_EQ(last->path, "/hello");
    EXPECT_EQ(last->body, R"({"zone":"example.com."})");
    EXPECT_EQ(last->content_type, "application/json");
    EXPECT_EQ(last->client_spki, client_id.spki_sha256());
    EXPECT_EQ(last->client.address, loopback);
    EXPECT_NE(last->client.port, 0);
}

TEST_F(dane_https_test, sync_handler_and_status_codes) {
    start();
    auto beat = post("/beat", "{}", {server_id.spki_sha256()});
    EXPECT_TRUE(beat.ok) << beat.error;
    EXPECT_EQ(beat.status, 202u);
    EXPECT_EQ(beat.body, R"({"beat":true})");

    auto missing = post("/nowhere", "{}", {server_id.spki_sha256()});
    EXPECT_FALSE(missing.ok);
    EXPECT_EQ(missing.status, 404u);
    EXPECT_EQ(missing.error, "HTTP 404 Not Found");

    auto failing = post("/fail", "{}", {server_id.spki_sha256()});
    EXPECT_EQ(failing.status, 500u);
    EXPECT_EQ(failing.error, "HTTP 500 Internal Server Error");
    EXPECT_EQ(failing.body.find("exploded"), std::string::npos);  // no internals leak out
    EXPECT_TRUE(eventually([&] { return counters().handler_errors == 1; }));
}

TEST_F(dane_https_test, any_of_several_published_digests_is_enough) {
    start();
    auto retired = tls_identity::generate("old.example").spki_sha256();
    auto r = post("/hello", "{}", {retired, server_id.spki_sha256()});
    EXPECT_TRUE(r.ok) << r.error;
}

TEST_F(dane_https_test, wrong_server_digest_is_named_and_nothing_is_sent) {
    start();
    auto wrong = tls_identity::generate("impostor.example").spki_sha256();
    auto r = post("/hello", R"({"secret":1})", {wrong});
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.status, 0u);
    EXPECT_EQ(r.error, "server certificate does not match the TLSA record (SPKI SHA-256 " +
                           to_hex(server_id.spki_sha256()) + " not among " + to_hex(wrong) + ")");
    EXPECT_EQ(r.server_spki, server_id.spki_sha256());
    EXPECT_TRUE(eventually([&] { return counters().connections_open == 0; }));
    EXPECT_EQ(calls.load(), 0);
    EXPECT_EQ(counters().requests, 0u);

    auto none = post("/hello", "{}", {});
    EXPECT_FALSE(none.ok);
    EXPECT_NE(none.error.find("no TLSA digest"), std::string::npos) << none.error;
}

// RFC 7671 §5.1: with DANE-EE the key is all that counts, an expired certificate too.
TEST_F(dane_https_test, expired_server_certificate_is_accepted_by_its_key) {
    server_id = tls_identity::generate("api.agent.p1.lab", -std::chrono::seconds(60));
    start();
    auto r = post("/hello", "{}", {server_id.spki_sha256()});
    EXPECT_TRUE(r.ok) << r.error;
}

TEST_F(dane_https_test, client_without_certificate_is_refused) {
    start();
    // TLS 1.3: the client's handshake ends before the server has seen its (missing)
    // certificate; the refusal arrives as an alert instead of an answer.
    auto r13 = run(client_io, raw_tls_exchange(endpoint(), nullptr, post_text("/hello", "{}")));
    EXPECT_EQ(r13.received.find("HTTP/1.1"), std::string::npos) << r13.received;
    EXPECT_TRUE(r13.handshake || r13.read != asio::error::eof) << r13.read.message();
    // TLS 1.2: the handshake itself fails.
    auto r12 = run(client_io, raw_tls_exchange(endpoint(), nullptr, post_text("/hello", "{}"),
                                               TLS1_2_VERSION));
    EXPECT_TRUE(r12.handshake) << "TLS 1.2 handshake without a client certificate succeeded";
    EXPECT_EQ(r12.received, "");

    EXPECT_TRUE(eventually([&] { return counters().handshake_failures == 2; }))
        << counters().handshake_failures;
    EXPECT_EQ(calls.load(), 0);
    {
        std::lock_guard lock(mutex);
        ASSERT_FALSE(log_lines.empty());
        EXPECT_NE(log_lines[0].find("TLS handshake failed"), std::string::npos) << log_lines[0];
    }

    // With a certificate, TLS 1.2 works too.
    auto ok12 = run(client_io, raw_tls_exchange(endpoint(), &client_id, post_text("/hello", "{}"),
                                                TLS1_2_VERSION));
    EXPECT_FALSE(ok12.handshake) << ok12.handshake.message();
    EXPECT_EQ(ok12.received.rfind("HTTP/1.1 200", 0), 0u) << ok12.read.message();
}

TEST_F(dane_https_test, server_that_does_not_speak_tls_fails_the_handshake) {
    start();
    tcp::acceptor plain(client_io, {loopback, 0});
    asio::co_spawn(
        client_io,
        [&]() -> awaitable<void> {
            auto s = co_await plain.async_accept(use_awaitable);
            co_await asio::async_write(s, asio::buffer(std::string("HTTP/1.1 400 Bad\r\n\r\n")),
                                       use_awaitable);
            error_code ec;
            s.shutdown(tcp::socket::shutdown_both, ec);
        },
        asio::detached);
    auto r = post("/hello", "{}", {server_id.spki_sha256()}, 5s,
                  peer{loopback, plain.local_endpoint().port()});
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error.rfind("TLS handshake: ", 0), 0u) << r.error;
}

TEST_F(dane_https_test, oversized_body_is_refused_and_the_server_keeps_serving) {
    dane_https_options o;
    o.max_body_size = 64 * 1024;
    start(o);
    auto big =
        post("/hello", "\"" + std::string(100 * 1024, 'x') + "\"", {server_id.spki_sha256()});
    EXPECT_FALSE(big.ok);
    EXPECT_EQ(big.status, 413u) << big.error;
    EXPECT_EQ(big.error, "HTTP 413 Payload Too Large");
    EXPECT_EQ(calls.load(), 0);
    // Far larger than the server swallows: refused one way or another, never accepted.
    auto huge = post("/hello", std::string(4 << 20, 'z'), {server_id.spki_sha256()});
    EXPECT_FALSE(huge.ok);
    EXPECT_TRUE(huge.status == 413 || huge.error.rfind("request: ", 0) == 0) << huge.error;

    auto just_fits =
        post("/hello", "\"" + std::string(64 * 1024 - 2, 'y') + "\"", {server_id.spki_sha256()});
    EXPECT_TRUE(just_fits.ok) << just_fits.error;
    EXPECT_EQ(calls.load(), 1);
    EXPECT_TRUE(eventually([&] { return counters().bad_requests == 2; }));
}

TEST_F(dane_https_test, oversized_header_is_refused) {
    dane_https_options o;
    o.max_header_size = 2048;
    start(o);
    std::string request =
        "POST /hello HTTP/1.1\r\nHost: x\r\nX-Padding: " + std::string(4096, 'p') +
        "\r\nContent-Length: 2\r\n\r\n{}";
    auto r = run(client_io, raw_tls_exchange(endpoint(), &client_id, request));
    EXPECT_EQ(r.received.rfind("HTTP/1.1 431", 0), 0u) << r.received;
    EXPECT_EQ(calls.load(), 0);
}

TEST_F(dane_https_test, garbage_bytes_do_not_stop_the_server) {
    start();
    // Not TLS at all.
    std::string noise;
    for (int i = 0; i < 3000; ++i)
        noise.push_back(static_cast<char>((i * 7919) & 0xff));
    auto plain = run(client_io, raw_tcp_exchange(endpoint(), noise));
    EXPECT_FALSE(plain.handshake);
    EXPECT_TRUE(plain.read) << "the server kept a garbage connection open";
    auto http_in_clear = run(client_io, raw_tcp_exchange(endpoint(), post_text("/hello", "{}")));
    EXPECT_EQ(http_in_clear.received.find("200"), std::string::npos);

    // TLS with a certificate, then bytes that are not HTTP: 400 and closed.
    auto junk =
        run(client_io, raw_tls_exchange(endpoint(), &client_id, "\x01\x02 NOT HTTP\r\n\r\n"));
    EXPECT_EQ(junk.received.rfind("HTTP/1.1 400", 0), 0u) << junk.received;
    EXPECT_NE(junk.received.find("Connection: close"), std::string::npos) << junk.received;
    EXPECT_TRUE(junk.read);

    // A bad Content-Length.
    auto bad_length = run(client_io, raw_tls_exchange(endpoint(), &client_id,
                                                      "POST /hello HTTP/1.1\r\nHost: x\r\n"
                                                      "Content-Length: -5\r\n\r\n"));
    EXPECT_EQ(bad_length.received.rfind("HTTP/1.1 400", 0), 0u) << bad_length.received;

    auto r = post("/hello", "{}", {server_id.spki_sha256()});
    EXPECT_TRUE(r.ok) << r.error;
    EXPECT_EQ(calls.load(), 1);
    EXPECT_GE(counters().handshake_failures, 2u);
}

TEST_F(dane_https_test, keep_alive_serves_several_requests_on_one_connection) {
    start();
    std::string two = post_text("/hello", "1", false) + post_text("/beat", "2", true);
    auto r = run(client_io, raw_tls_exchange(endpoint(), &client_id, two));
    EXPECT_EQ(count_of(r.received, "HTTP/1.1 "), 2u) << r.received;
    EXPECT_NE(r.received.find(R"({"echo":1})"), std::string::npos) << r.received;
    EXPECT_NE(r.received.find("HTTP/1.1 202"), std::string::npos) << r.received;
    EXPECT_EQ(calls.load(), 2);
    EXPECT_EQ(counters().connections, 1u);

    auto get = run(client_io, raw_tls_exchange(endpoint(), &client_id,
                                               "GET /hello HTTP/1.1\r\nHost: x\r\n"
                                               "Connection: close\r\n\r\n"));
    EXPECT_EQ(get.received.rfind("HTTP/1.1 405", 0), 0u) << get.received;
    EXPECT_NE(get.received.find("Allow: POST"), std::string::npos) << get.received;
}

TEST_F(dane_https_test, silent_client_is_timed_out) {
    dane_https_options o;
    o.read_timeout = 300ms;
    start(o);
    auto t0 = std::chrono::steady_clock::now();
    // Connects and says nothing: no handshake within the read timeout.
    auto idle = run(client_io, raw_tcp_exchange(endpoint(), ""));
    EXPECT_TRUE(idle.read);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2500ms);
    // Handshake done, then a request that never ends.
    auto slow = run(client_io, raw_tls_exchange(endpoint(), &client_id,
                                                "POST /hello HTTP/1.1\r\nContent-Length: 10\r\n"
                                                "\r\n{"));
    EXPECT_TRUE(slow.read);
    EXPECT_TRUE(eventually([&] { return counters().timeouts == 2; })) << counters().timeouts;
    EXPECT_EQ(calls.load(), 0);
}

TEST_F(dane_https_test, connection_limit_refuses_extra_connections) {
    dane_https_options o;
    o.max_connections = 1;
    start(o);
    // One silent connection holds the only slot.
    tcp::socket holder(client_io);
    holder.connect(endpoint());
    ASSERT_TRUE(eventually([&] { return counters().connections_open == 1; }));
    auto refused = post("/hello", "{}", {server_id.spki_sha256()});
    EXPECT_FALSE(refused.ok);
    EXPECT_EQ(refused.error.rfind("TLS handshake: ", 0), 0u) << refused.error;
    EXPECT_EQ(counters().connections_refused, 1u);
    holder.close();
    ASSERT_TRUE(eventually([&] { return counters().connections_open == 0; }));
    auto r = post("/hello", "{}", {server_id.spki_sha256()});
    EXPECT_TRUE(r.ok) << r.error;
}

TEST_F(dane_https_test, client_errors_name_the_step) {
    // Nothing listens on the port.
    tcp::acceptor probe(client_io, {loopback, 0});
    uint16_t closed_port = probe.local_endpoint().port();
    probe.close();
    start();
    auto refused = post("/hello", "{}", {server_id.spki_sha256()}, 2s, peer{loopback, closed_port});
    EXPECT_EQ(refused.error.rfind("connect: 127.0.0.1#" + std::to_string(closed_port), 0), 0u)
        << refused.error;

    // Accepts, never answers.
    tcp::acceptor mute(client_io, {loopback, 0});
    auto t0 = std::chrono::steady_clock::now();
    auto silent = post("/hello", "{}", {server_id.spki_sha256()}, 300ms,
                       peer{loopback, mute.local_endpoint().port()});
    EXPECT_EQ(silent.error.rfind("timeout", 0), 0u) << silent.error;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
}

TEST_F(dane_https_test, client_and_server_share_one_io_context) {
    // As in an agent: one thread runs everything; nothing may block it.
    asio::io_context io;
    dane_https_options o;
    o.listen = {loopback, 0};
    dane_https_server local(io.get_executor(), server_id, o);
    spki_digest seen{};
    local.on_post("/hello", [&](const https_request& r) -> awaitable<https_reply> {
        seen = r.client_spki;
        asio::steady_timer t(co_await asio::this_coro::executor);
        t.expires_after(50ms);  // a handler that suspends
        co_await t.async_wait(use_awaitable);
        co_return https_reply{200, "{}"};
    });
    auto r = run(io, dane_post(io.get_executor(), {loopback, local.endpoint().port()}, "x",
                               "/hello", "{}", client_id, {server_id.spki_sha256()}, 5s));
    EXPECT_TRUE(r.ok) << r.error;
    EXPECT_EQ(seen, client_id.spki_sha256());
    local.stop();
    auto after = run(io, dane_post(io.get_executor(), {loopback, local.endpoint().port()}, "x",
                                   "/hello", "{}", client_id, {server_id.spki_sha256()}, 2s));
    EXPECT_FALSE(after.ok);
    EXPECT_EQ(after.error.rfind("connect: ", 0), 0u) << after.error;
}

// ---- programs we did not write -------------------------------------------------------------

TEST_F(dane_https_test, curl_with_client_certificate_gets_the_answer) {
    if (!have_program("curl")) GTEST_SKIP() << "curl is not installed";
    client_id.save(dir / "client.key", dir / "client.crt");
    start();
    std::string url = "https://127.0.0.1:" + std::to_string(endpoint().port()) + "/hello";
    auto [out, rc] = shell("curl -sS -k --max-time 10 --cert " + (dir / "client.crt").string() +
                           " --key " + (dir / "client.key").string() +
                           " -H 'Content-Type: application/json' -d '{\"from\":\"curl\"}' " + url);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_EQ(out, R"({"echo":{"from":"curl"}})");
    {
        std::lock_guard lock(mutex);
        ASSERT_TRUE(last);
        EXPECT_EQ(last->client_spki, client_id.spki_sha256());
    }
    // Without a certificate: refused, the handler not called.
    auto [out2, rc2] = shell("curl -sS -k --max-time 10 -d '{}' " + url);
    EXPECT_NE(rc2, 0) << out2;
    EXPECT_EQ(calls.load(), 1);
}

// OpenSSL's own DANE code (s_client -dane_tlsa_rrdata) accepts our server by the digest
// we publish, and rejects it by another.
TEST_F(dane_https_test, openssl_dane_verifies_our_server) {
    client_id.save(dir / "client.key", dir / "client.crt");
    start();
    std::string base =
        "openssl s_client </dev/null -connect 127.0.0.1:" + std::to_string(endpoint().port()) +
        " -cert " + (dir / "client.crt").string() + " -key " + (dir / "client.key").string() +
        " -dane_tlsa_domain api.agent.p1.lab -verify_return_error ";
    auto [out, rc] =
        shell(base + "-dane_tlsa_rrdata '3 1 1 " + to_hex(server_id.spki_sha256()) + "'");
    EXPECT_EQ(rc, 0) << out;
    EXPECT_NE(out.find("Verification: OK"), std::string::npos) << out;
    EXPECT_NE(out.find("DANE TLSA 3 1 1"), std::string::npos) << out;

    auto wrong = tls_identity::generate("x.example").spki_sha256();
    auto [bad, brc] = shell(base + "-dane_tlsa_rrdata '3 1 1 " + to_hex(wrong) + "'");
    EXPECT_NE(brc, 0) << bad;
}

// ldns-dane, fed the TLSA record from a file, verifies our server too.
TEST_F(dane_https_test, ldns_dane_verifies_our_server) {
    if (!have_program("ldns-dane")) GTEST_SKIP() << "ldns-dane (ldnsutils) is not installed";
    start();
    std::string port = std::to_string(endpoint().port());
    write_text(dir / "tlsa", "_" + port + "._tcp.api.agent.p1.lab. 3600 IN TLSA 3 1 1 " +
                                 to_hex(server_id.spki_sha256()) + "\n");
    auto [out, rc] =
        shell("ldns-dane -n -d -a 127.0.0.1 -t " + (dir / "tlsa").string() + " verify");
    EXPECT_EQ(rc, 0) << out;
    EXPECT_NE(out.find("dane-validated successfully"), std::string::npos) << out;
}

}  // namespace
