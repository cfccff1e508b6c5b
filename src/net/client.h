// DNS client operations over UDP and TCP: one query (with retransmission and the TC
// fallback to TCP), a zone transfer (AXFR/IXFR: many length-framed messages over TCP),
// and NOTIFY (RFC 1996).
//
// The client works on wire bytes, so a caller can sign them (TSIG, SIG(0)) before they
// leave and verify the bytes that came back; the parsed message comes along for
// convenience. Every network wait has a deadline. Failures are values (`status` plus a
// sentence), never exceptions, except from a caller's own callback.
//
//     net::query_options o{.timeout = 1s, .retries = 2};
//     auto r = co_await net::query(ex, {addr, 53}, q, o);
//     if (!r) log(r.error); else use(r.response);
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "dns/message.h"
#include "net/asio.h"

namespace hsync::net {

// An address and port, for either transport.
struct peer {
    asio::ip::address address;
    uint16_t port = 53;

    std::string to_string() const;  // 192.0.2.1#53, 2001:db8::1#53 (dig's form)
    asio::ip::udp::endpoint udp() const { return {address, port}; }
    asio::ip::tcp::endpoint tcp() const { return {address, port}; }
    friend bool operator==(const peer&, const peer&) = default;
};

enum class status {
    ok,
    timeout,        // no (matching) answer before the deadline, after all retries
    network_error,  // connect refused, connection reset or closed early, send failed
    bad_response,   // a TCP answer that does not parse or does not match the query
    bad_query,      // the bytes to send are not a DNS query we can send
};
std::string to_string(status s);

struct query_options {
    // Per attempt. UDP waits this long for each of the 1 + retries sends; a TCP query
    // gets it for connect, write and read together.
    std::chrono::milliseconds timeout{2000};
    unsigned retries = 2;            // UDP retransmissions after the first send
    bool tcp = false;                // TCP from the start
    bool tc_fallback_to_tcp = true;  // RFC 7766 §5: a truncated UDP answer is retried on TCP
};

struct query_result {
    status code = status::timeout;
    std::string error;          // what went wrong, for a log line; empty when ok
    std::vector<uint8_t> wire;  // the response as received (verify signatures on this)
    dns::message response;      // parsed `wire`
    bool tcp = false;           // the response came over TCP
    unsigned udp_sends = 0;     // datagrams sent, retransmissions included
    unsigned mismatched = 0;    // UDP datagrams ignored: wrong source, ID or question
    std::chrono::steady_clock::duration elapsed{};

    explicit operator bool() const { return code == status::ok; }
};

// Sends `query` (wire bytes; at least a header and one question) and returns the first
// response whose source, ID, opcode and question match it (RFC 5452 §9.1, RFC 1035
// §7.3); other datagrams are counted in `mismatched` and ignored while the attempt's
// deadline runs. A response with TC set is retried over TCP if the options allow, else
// returned as it is.
awaitable<query_result> query(asio::any_io_executor ex, peer server, std::vector<uint8_t> query,
                              query_options options = {});
// The same for a message: encoded with to_wire() (no size limit) and sent as above.
awaitable<query_result> query(asio::any_io_executor ex, peer server, const dns::message& query,
                              query_options options = {});

// NOTIFY (RFC 1996 §3.6, §4.4): UDP only, the same bytes retransmitted after every
// `timeout` until a matching answer or `retries` resends are used up; the response is
// returned whatever its RCODE (NOTIMP and REFUSED are answers too).
awaitable<query_result> notify(asio::any_io_executor ex, peer server, std::vector<uint8_t> query,
                               std::chrono::milliseconds timeout = std::chrono::seconds(2),
                               unsigned retries = 5);

struct transfer_options {
    std::chrono::milliseconds message_timeout{10'000};  // connect, and between messages
    std::chrono::milliseconds total_timeout{600'000};   // the whole transfer
};

struct transfer_result {
    status code = status::timeout;
    std::string error;
    size_t messages = 0;  // messages passed to the callback
    size_t bytes = 0;     // their total size
    explicit operator bool() const { return code == status::ok; }
};

// Called for every response message of a transfer, in order; return false to stop (the
// caller saw the final SOA, or an error RCODE, or a TSIG failure). The span and message
// are valid only during the call.
using transfer_callback =
    std::function<bool(std::span<const uint8_t> raw, const dns::message& parsed)>;

// AXFR/IXFR over TCP (RFC 5936 §2.2, RFC 1995): sends `query` and reads length-framed
// responses until the callback returns false. Every message must carry the query's ID
// and, if it has a question, the query's question; anything else ends the transfer with
// bad_response. The connection closing before the callback says stop is an error.
// Exceptions from the callback propagate.
awaitable<transfer_result> transfer(asio::any_io_executor ex, peer server,
                                    std::vector<uint8_t> query, transfer_options options,
                                    transfer_callback on_message);

// A random message ID (RFC 5452 §4.3), from the OS's generator.
uint16_t random_id();

// True if `response` answers `query`: same ID and opcode, QR set, and the same question
// (name compared without regard to case), or no question at all with an error RCODE
// (some servers answer FORMERR or NOTIMP that way).
bool response_matches(const dns::message& query, const dns::message& response);

}  // namespace hsync::net
