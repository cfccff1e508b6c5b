// A DNSSEC-validating stub resolver on libunbound, for the agent's discovery and the
// parent's CDS/CSYNC scanner. hsync never validates on its own: libunbound does, from the
// trust anchors given here, and says secure, insecure or bogus.
//
// Queries are asynchronous on the caller's executor: libunbound works in its own thread
// (ub_ctx_async), its result pipe (ub_fd) is watched by the loop, and ub_process runs on
// the loop, so callbacks and results never cross threads. Every query has a deadline; a
// query that passes it is cancelled (ub_cancel) and returns `security::timeout`. Failures
// are values, never exceptions; only a bad configuration throws, from the constructor.
//
//     net::resolver_options o;
//     o.trust_anchors = {"lab. 3600 IN DS 12345 13 2 ..."};
//     o.forwarder = net::peer{addr, 5353};                    // everything not in a stub
//     o.stubs[child] = {net::peer{child_ns_addr, 5300}};      // one zone: these servers
//     net::resolver r(ex, o);
//     auto res = co_await r.resolve(name, dns::rr_type::CDS);
//     if (res.verdict == net::security::secure) use(res.records);
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "dns/name.h"
#include "dns/rdata.h"
#include "dns/rr.h"
#include "net/asio.h"
#include "net/client.h"

namespace hsync::net {

// A configuration libunbound refuses (a bad trust anchor, option or address).
class resolver_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct resolver_options {
    // Trust anchors as RR text, DS or DNSKEY ("lab. 3600 IN DS 12345 13 2 ABCD...").
    std::vector<std::string> trust_anchors;
    // Files of such records, in zone-file form (as unbound's trust-anchor-file).
    std::vector<std::string> trust_anchor_files;
    // Where every name not below a stub zone goes (forward-zone "."); with a forwarder
    // libunbound never fetches root hints. Without one, names outside the stubs are
    // resolved from the built-in root hints.
    std::optional<peer> forwarder;
    // Zones whose queries go straight to these authoritative servers, by address (a
    // stub-zone without priming); the chain of trust above them still comes through the
    // forwarder. A stub wins over the forwarder for names below it.
    std::map<dns::name, std::vector<peer>> stubs;
    // Deadline of one resolve() call, from the call to its result.
    std::chrono::milliseconds timeout{5000};
    // libunbound's cache-max-ttl: how long answers (and the keys that validated them) stay
    // cached, in seconds. 0 makes every query go to the servers (a scanner wants fresh
    // data). TTLs in the returned records are capped by it; resolve_result::ttl is not
    // (see there). Unset: libunbound's default (one day).
    std::optional<uint32_t> cache_max_ttl;
    // More unbound.conf settings, ("name", "value") without the colon, applied last
    // (e.g. {"edns-buffer-size", "1232"}).
    std::vector<std::pair<std::string, std::string>> settings;
};

enum class security {
    secure,    // validated from a trust anchor (a positive answer or an authenticated denial)
    insecure,  // no chain of trust: provably unsigned, or no trust anchor above the name
    bogus,     // validation failed: `reason` says why (libunbound's why_bogus)
    timeout,   // no result before the deadline (the query was cancelled)
    servfail,  // resolution failed without a validation verdict (servers did not answer...)
    error,     // libunbound refused the query, or its answer packet does not parse
};
std::string to_string(security s);  // "secure", "insecure", "bogus", "timeout", ...

struct resolve_result {
    dns::name qname;
    uint16_t qtype = 0;
    uint16_t qclass = dns::rr_class::IN;

    security verdict = security::error;
    std::string reason;  // why bogus, or what failed; empty for secure and insecure
    uint16_t rcode = 0;  // of the answer (NOERROR, NXDOMAIN, SERVFAIL...)
    bool nxdomain = false;
    bool havedata = false;  // the answer has records of the asked type

    // The answer section: the records of the asked type (for ANY: every type but RRSIG)
    // and the RRSIGs covering them, apart. `answer` is the whole section (CNAMEs and
    // their RRSIGs too); `authority` holds the denial proof (SOA, NSEC, NSEC3, RRSIGs) of
    // a negative answer. All four are empty for a bogus answer: data that failed
    // validation is not handed on.
    std::vector<dns::rr> records;
    std::vector<dns::rr> signatures;
    std::vector<dns::rr> answer;
    std::vector<dns::rr> authority;

    // Seconds until the data should be looked at again: the smallest TTL of `records`,
    // or for a negative answer libunbound's negative TTL. When the records are signed,
    // TTLs above the RRSIG's original TTL are lowered to it, and TTLs the cache has cut
    // (cache_max_ttl below the zone's TTL) are replaced by that original TTL.
    uint32_t ttl = 0;
    std::chrono::steady_clock::duration elapsed{};

    bool secure() const { return verdict == security::secure; }
    // An answer came back (with a verdict), as opposed to timeout, servfail or error.
    bool answered() const {
        return verdict == security::secure || verdict == security::insecure ||
               verdict == security::bogus;
    }
};

// Fills r.records, r.signatures, r.answer, r.authority, r.rcode and r.havedata from an
// answer packet (wire form) for r.qname/qtype/qclass. A packet that does not parse or
// answers another question makes r.verdict `error` with the reason, and returns false.
bool read_answer_packet(std::span<const uint8_t> packet, resolve_result& r);

// One libunbound context. Use it from the thread that runs its executor; any number of
// resolve() calls may be in flight at once. The destructor cancels what is in flight
// (those calls return `error`, "resolver closed") and deletes the context; a coroutine
// still suspended in resolve() may outlive the resolver.
class resolver {
  public:
    // Throws resolver_error if libunbound refuses the configuration.
    resolver(asio::any_io_executor ex, const resolver_options& options);
    ~resolver();
    resolver(const resolver&) = delete;
    resolver& operator=(const resolver&) = delete;

    // Resolves and validates; never throws for what the network or libunbound does.
    awaitable<resolve_result> resolve(const dns::name& qname, uint16_t qtype,
                                      uint16_t qclass = dns::rr_class::IN);

    size_t in_flight() const;  // queries submitted and not yet answered or cancelled
    const resolver_options& options() const { return options_; }

    struct state;  // the context and the queries in flight (resolver.cc)

  private:
    resolver_options options_;
    std::shared_ptr<state> state_;
};

// "127.0.0.1#5353" / "127.0.0.1@5353" / "::1" (port 53) / "[::1]:5353". Throws
// resolver_error on anything else.
peer parse_peer(std::string_view text, uint16_t default_port = 53);

}  // namespace hsync::net
