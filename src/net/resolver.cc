#include "net/resolver.h"

#include <unbound.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <limits>
#include <unordered_map>

#include "dns/error.h"
#include "dns/message.h"
#include "dnssec/rrsig.h"

namespace hsync::net {

namespace {

using clock_type = std::chrono::steady_clock;
using boost::system::error_code;

// One resolve() call. The context's callback gets a raw pointer to it, valid because the
// resolver's table holds it until the result is processed or the query is cancelled.
struct query_state {
    explicit query_state(const asio::any_io_executor& ex) : timer(ex) {}
    ~query_state() {
        if (result) ub_resolve_free(result);
    }
    query_state(const query_state&) = delete;
    query_state& operator=(const query_state&) = delete;

    asio::steady_timer timer;  // the deadline; cancelled early when the result is in
    int async_id = 0;
    bool done = false;    // the callback ran, or the resolver closed
    bool closed = false;  // the resolver closed before the result
    int err = 0;
    ub_result* result = nullptr;
};

// libunbound's callback, called from ub_process on the loop's thread.
void on_result(void* data, int err, ub_result* result) {
    auto* q = static_cast<query_state*>(data);
    q->done = true;
    q->err = err;
    q->result = result;
    q->timer.cancel();
}

std::string ub_address(const peer& p) {
    return p.address.to_string() + "@" + std::to_string(p.port);
}

void set_option(ub_ctx* ctx, const std::string& name, const std::string& value) {
    std::string key = name;
    if (key.empty() || key.back() != ':') key += ':';
    if (int rc = ub_ctx_set_option(ctx, key.c_str(), value.c_str()); rc != 0)
        throw resolver_error("libunbound option " + key + " " + value + ": " + ub_strerror(rc));
}

// libunbound reads trust anchors only at the first query, and then fails every query
// alike; checking them here makes a bad one a configuration error with its text.
void check_trust_anchor(const std::string& text) {
    dns::rr r;
    try {
        r = dns::rr::from_text(text);
    } catch (const dns::dns_error& e) {
        throw resolver_error("trust anchor \"" + text + "\": " + e.what());
    }
    if (r.type != dns::rr_type::DS && r.type != dns::rr_type::DNSKEY)
        throw resolver_error("trust anchor \"" + text + "\" is neither DS nor DNSKEY");
}

std::string rcode_text(uint16_t rcode) {
    switch (rcode) {
        case dns::rcode::NOERROR:
            return "NOERROR";
        case dns::rcode::FORMERR:
            return "FORMERR";
        case dns::rcode::SERVFAIL:
            return "SERVFAIL";
        case dns::rcode::NXDOMAIN:
            return "NXDOMAIN";
        case dns::rcode::NOTIMP:
            return "NOTIMP";
        case dns::rcode::REFUSED:
            return "REFUSED";
        default:
            return "RCODE" + std::to_string(rcode);
    }
}

std::string millis(std::chrono::milliseconds d) {
    return std::to_string(d.count()) + " ms";
}

}  // namespace

// The context and what is in flight. Shared by the resolver and the coroutines in
// resolve(), so that a coroutine resumed after the resolver is gone finds it closed.
struct resolver::state : std::enable_shared_from_this<resolver::state> {
    asio::any_io_executor ex;
    ub_ctx* ctx = nullptr;
    std::optional<asio::posix::stream_descriptor> fd;  // ub_fd(ctx), owned by libunbound
    std::unordered_map<int, std::shared_ptr<query_state>> queries;  // by async_id
    bool watching = false;
    bool closed = false;
    std::chrono::milliseconds timeout{};
    bool ttl_capped = false;
    uint32_t cache_max_ttl = 0;

    explicit state(asio::any_io_executor e) : ex(std::move(e)) {}
    ~state() { close(); }

    // Waits for the result pipe while anything is in flight. libunbound writes a result
    // into the pipe from its thread; ub_process reads every result there and calls
    // on_result for each. The wait is armed again in the same handler, before the loop
    // polls again, so no readiness edge is lost; a result already waiting when a wait is
    // armed (one that raced a cancel) is found by ub_poll.
    void watch() {
        if (watching || closed || !fd || !busy()) return;
        watching = true;
        auto handler = [weak = weak_from_this()](const error_code& ec) {
            auto s = weak.lock();
            if (!s) return;
            s->watching = false;
            if (s->closed) return;
            if (ec && ec != asio::error::operation_aborted) {
                s->fail_all(std::string("waiting for libunbound: ") + ec.message());
                return;
            }
            s->process();
            s->watch();
        };
        if (ub_poll(ctx))
            asio::post(ex, [handler] { handler(error_code{}); });
        else
            fd->async_wait(asio::posix::descriptor_base::wait_read, handler);
    }

    void process() {
        if (int rc = ub_process(ctx); rc != 0) {
            fail_all(std::string("libunbound: ") + ub_strerror(rc));
            return;
        }
        std::erase_if(queries, [](const auto& q) { return q.second->done; });
    }

    // Ends every query in flight with `error` (the context cannot go on).
    void fail_all(const std::string& why) {
        for (auto& [id, q] : queries) {
            if (q->done) continue;
            ub_cancel(ctx, id);
            q->done = true;
            q->err = UB_PIPE;
            q->closed = true;
            failure = why;
            q->timer.cancel();
        }
        queries.clear();
    }
    std::string failure;

    // A query whose deadline passed or whose coroutine is gone.
    void forget(query_state& q) {
        if (!q.done && !closed) {
            ub_cancel(ctx, q.async_id);  // its callback will not be called
            q.done = true;
        }
        if (auto it = queries.find(q.async_id); it != queries.end() && it->second.get() == &q)
            queries.erase(it);
        // Nothing left to wait for: end the wait, so that an io_context with nothing else
        // to do returns from run().
        if (watching && fd && !busy()) fd->cancel();
    }

    bool busy() const {
        return std::any_of(queries.begin(), queries.end(),
                           [](const auto& q) { return !q.second->done; });
    }

    void close() {
        if (closed) return;
        closed = true;
        for (auto& [id, q] : queries) {
            if (q->done) continue;
            if (ctx) ub_cancel(ctx, id);
            q->done = true;
            q->closed = true;
            q->timer.cancel();
        }
        queries.clear();
        if (fd) {
            fd->release();  // cancels the wait; the descriptor stays libunbound's to close
            fd.reset();
        }
        if (ctx) {
            ub_ctx_delete(ctx);  // stops and joins libunbound's thread
            ctx = nullptr;
        }
    }
};

std::string to_string(security s) {
    switch (s) {
        case security::secure:
            return "secure";
        case security::insecure:
            return "insecure";
        case security::bogus:
            return "bogus";
        case security::timeout:
            return "timeout";
        case security::servfail:
            return "servfail";
        case security::error:
            return "error";
    }
    return "unknown";
}

bool read_answer_packet(std::span<const uint8_t> packet, resolve_result& r) {
    dns::message m;
    try {
        m = dns::message::parse(packet);
    } catch (const std::exception& e) {
        r.verdict = security::error;
        r.reason = std::string("libunbound's answer packet does not parse: ") + e.what();
        return false;
    }
    if (m.questions.size() != 1 || !(m.questions[0].qname == r.qname) ||
        m.questions[0].qtype != r.qtype || m.questions[0].qclass != r.qclass) {
        r.verdict = security::error;
        r.reason = "libunbound's answer packet is not for " + r.qname.to_text() + " " +
                   dns::type_to_text(r.qtype);
        return false;
    }
    r.rcode = m.rcode;
    r.records.clear();
    r.signatures.clear();
    const bool any = r.qtype == dns::rr_type::ANY;
    for (const auto& rec : m.answer) {
        if (rec.rclass != r.qclass) continue;
        if (rec.type == dns::rr_type::RRSIG) {
            if (any || dnssec::rrsig_type_covered(rec.rdata) == r.qtype)
                r.signatures.push_back(rec);
        } else if (any || rec.type == r.qtype) {
            r.records.push_back(rec);
        }
    }
    r.havedata = !r.records.empty();
    r.answer = std::move(m.answer);
    r.authority = std::move(m.authority);
    return true;
}

resolver::resolver(asio::any_io_executor ex, const resolver_options& options)
    : options_(options), state_(std::make_shared<state>(ex)) {
    auto& s = *state_;
    s.timeout = options.timeout;
    s.ttl_capped = options.cache_max_ttl.has_value();
    s.cache_max_ttl = options.cache_max_ttl.value_or(0);
    s.ctx = ub_ctx_create();
    if (!s.ctx) throw resolver_error("libunbound: cannot create a context");
    // From here on, a throw destroys state_, whose close() deletes the context.
    auto check = [](int rc, const std::string& what) {
        if (rc != 0) throw resolver_error(what + ": " + ub_strerror(rc));
    };
    check(ub_ctx_async(s.ctx, 1), "libunbound: threads");
    // Servers on loopback (the lab, tests, a local forwarder) must be allowed.
    set_option(s.ctx, "do-not-query-localhost", "no");
    set_option(s.ctx, "module-config", "validator iterator");
    set_option(s.ctx, "val-permissive-mode", "no");
    set_option(s.ctx, "harden-dnssec-stripped", "yes");
    if (options.cache_max_ttl) {
        set_option(s.ctx, "cache-max-ttl", std::to_string(*options.cache_max_ttl));
        set_option(s.ctx, "cache-max-negative-ttl", std::to_string(*options.cache_max_ttl));
    }
    for (const auto& ta : options.trust_anchors) {
        check_trust_anchor(ta);
        check(ub_ctx_add_ta(s.ctx, ta.c_str()), "trust anchor \"" + ta + "\"");
    }
    for (const auto& file : options.trust_anchor_files) {
        if (!std::ifstream(file)) throw resolver_error("cannot read trust anchor file " + file);
        check(ub_ctx_add_ta_file(s.ctx, file.c_str()), "trust anchor file " + file);
    }
    if (options.forwarder)
        check(ub_ctx_set_fwd(s.ctx, ub_address(*options.forwarder).c_str()),
              "forwarder " + options.forwarder->to_string());
    for (const auto& [zone, servers] : options.stubs) {
        if (servers.empty())
            throw resolver_error("stub zone " + zone.to_text() + " has no server address");
        for (const auto& p : servers)
            check(ub_ctx_set_stub(s.ctx, zone.to_text().c_str(), ub_address(p).c_str(), 0),
                  "stub zone " + zone.to_text() + " at " + p.to_string());
    }
    for (const auto& [name, value] : options.settings)
        set_option(s.ctx, name, value);
    int fd = ub_fd(s.ctx);
    if (fd < 0) throw resolver_error("libunbound: no result descriptor");
    s.fd.emplace(ex, fd);
}

resolver::~resolver() {
    state_->close();
}

size_t resolver::in_flight() const {
    return static_cast<size_t>(std::count_if(state_->queries.begin(), state_->queries.end(),
                                             [](const auto& q) { return !q.second->done; }));
}

awaitable<resolve_result> resolver::resolve(const dns::name& qname, uint16_t qtype,
                                            uint16_t qclass) {
    // Only the frame's own values from here: the resolver may be gone when it resumes.
    std::shared_ptr<state> s = state_;
    const auto start = clock_type::now();
    resolve_result r;
    r.qname = qname;
    r.qtype = qtype;
    r.qclass = qclass;
    if (s->closed) {
        r.reason = "resolver closed";
        co_return r;
    }

    auto q = std::make_shared<query_state>(s->ex);
    const std::string text = qname.to_text();
    int id = 0;
    int rc = ub_resolve_async(s->ctx, text.c_str(), qtype, qclass, q.get(), &on_result, &id);
    if (rc != 0) {
        r.reason = std::string("libunbound: ") + ub_strerror(rc);
        co_return r;
    }
    q->async_id = id;
    s->queries.emplace(id, q);
    // Cancels the query if this frame is destroyed while it waits (its io_context gone).
    struct forget_on_exit {
        std::shared_ptr<state> s;
        std::shared_ptr<query_state> q;
        ~forget_on_exit() { s->forget(*q); }
    } guard{s, q};
    s->watch();

    q->timer.expires_at(start + s->timeout);
    error_code ec;
    co_await q->timer.async_wait(asio::redirect_error(use_awaitable, ec));
    r.elapsed = clock_type::now() - start;

    if (!q->done) {
        s->forget(*q);
        r.verdict = security::timeout;
        r.reason = "no answer within " + millis(s->timeout);
        co_return r;
    }
    if (q->closed) {
        r.reason = s->failure.empty() ? "resolver closed" : s->failure;
        co_return r;
    }
    if (q->err != 0 || !q->result) {
        r.reason = std::string("libunbound: ") + ub_strerror(q->err ? q->err : UB_NOMEM);
        co_return r;
    }

    const ub_result& u = *q->result;
    r.rcode = static_cast<uint16_t>(u.rcode);
    r.nxdomain = u.nxdomain != 0;
    if (u.answer_packet && u.answer_len > 0) {
        std::span<const uint8_t> packet(static_cast<const uint8_t*>(u.answer_packet),
                                        static_cast<size_t>(u.answer_len));
        if (!read_answer_packet(packet, r)) co_return r;
    }
    r.havedata = u.havedata != 0;
    r.rcode = static_cast<uint16_t>(u.rcode);  // libunbound's, also without a packet

    if (u.bogus) {
        r.verdict = security::bogus;
        r.reason = u.why_bogus ? u.why_bogus : "validation failed";
        // Data that failed validation is not handed on: no caller can use it by mistake.
        r.records.clear();
        r.signatures.clear();
        r.answer.clear();
        r.authority.clear();
        r.havedata = false;
    } else if (r.rcode != dns::rcode::NOERROR && r.rcode != dns::rcode::NXDOMAIN) {
        r.verdict = security::servfail;
        r.reason = u.why_bogus ? u.why_bogus : rcode_text(r.rcode);
    } else {
        r.verdict = u.secure ? security::secure : security::insecure;
    }

    // TTL: the records' smallest; RRSIG original TTLs where the cache cut them.
    if (!r.records.empty()) {
        uint32_t ttl = std::numeric_limits<uint32_t>::max();
        for (const auto& rec : r.records)
            ttl = std::min(ttl, rec.ttl);
        uint32_t original = std::numeric_limits<uint32_t>::max();
        for (const auto& sig : r.signatures) {
            try {
                original = std::min(original, dnssec::rrsig_fields::parse(sig.rdata).original_ttl);
            } catch (const dns::dns_error&) {
                // A signature we cannot read says nothing about the TTL.
            }
        }
        if (original != std::numeric_limits<uint32_t>::max()) {
            if (s->ttl_capped && ttl >= s->cache_max_ttl) ttl = original;
            ttl = std::min(ttl, original);
        }
        r.ttl = ttl;
    } else {
        r.ttl = u.ttl > 0 ? static_cast<uint32_t>(u.ttl) : 0;
    }
    co_return r;
}

peer parse_peer(std::string_view text, uint16_t default_port) {
    const std::string whole(text);
    std::string_view addr = text, port;
    bool has_port = false;
    if (!text.empty() && text.front() == '[') {  // [2001:db8::1]:5353
        auto close = text.find(']');
        if (close == std::string_view::npos) throw resolver_error("bad address \"" + whole + "\"");
        addr = text.substr(1, close - 1);
        auto rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':' && rest.front() != '#' && rest.front() != '@')
                throw resolver_error("bad address \"" + whole + "\"");
            port = rest.substr(1);
            has_port = true;
        }
    } else if (auto sep = text.find_first_of("#@"); sep != std::string_view::npos) {
        addr = text.substr(0, sep);
        port = text.substr(sep + 1);
        has_port = true;
    } else if (std::count(text.begin(), text.end(), ':') == 1) {  // 192.0.2.1:5353
        auto sep = text.find(':');
        addr = text.substr(0, sep);
        port = text.substr(sep + 1);
        has_port = true;
    }
    peer p;
    error_code ec;
    p.address = asio::ip::make_address(std::string(addr), ec);
    if (ec) throw resolver_error("bad address \"" + whole + "\"");
    p.port = default_port;
    if (has_port) {
        unsigned value = 0;
        auto [end, err] = std::from_chars(port.data(), port.data() + port.size(), value);
        if (port.empty() || err != std::errc{} || end != port.data() + port.size() || value == 0 ||
            value > 65535)
            throw resolver_error("bad port in \"" + whole + "\"");
        p.port = static_cast<uint16_t>(value);
    }
    return p;
}

}  // namespace hsync::net
