// Zone transfers as message building and consuming, no sockets: AXFR (RFC 5936) and IXFR
// (RFC 1995) responses out, and a receiver that checks an AXFR or IXFR response stream
// message by message and yields the zone or its differences.
//
// Out: xfr_stream makes the response messages in wire form one at a time, so a server
// sends each as soon as it is full and never holds the whole transfer. Each record is
// written once, straight from the record_store (owner, type, class, TTL, RDATA) into the
// message, while the message stays within `max_message_size`; the caller passes the
// budget left after the OPT and TSIG it adds. A single record bigger than the budget goes
// alone in its own message (up to 65535 octets; beyond that the transfer fails).
//
// Name compression (RFC 1035 §4.1.4), without a hash table: an owner name points at the
// longest suffix it shares with the previous owner of the message (in canonical order no
// earlier owner shares a longer one: a subtree is contiguous) or with the last RDATA name;
// the names in NS, CNAME, PTR, MX and SOA RDATA (the RFC 1035 types, RFC 3597 §4; never
// those of later types) at what they share with their owner or one of the last 8 RDATA
// names. On a 1M-record zone that is within 0.01% of a full dictionary of every name.
// Only offsets below 0x4000 can be pointed at, so default_xfr_message_size is 16 KiB, as
// Knot's and NSD's AXFR messages are: 64 KiB messages send their tails with fewer
// pointers (11% more octets) and save only headers and TSIGs.
//
// Costs: an AXFR is O(zone) in total and O(message) per xfr_stream::next(), with no
// allocation per record: about 50 ns per record (a 1M-record zone in 0.05 s, Release
// build, docs/PERFORMANCE.md). ixfr_stream touches the zone only for its SOA (O(1)) and
// the journal entries it sends: O(change log change), unless it falls back to the whole
// zone. The receiver costs O(records received); for IXFR that is the change only (applying
// it with journal.h apply() is O(zone), which the server does off its loop).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dns/error.h"
#include "dns/message.h"
#include "dns/name.h"
#include "dns/record_store.h"
#include "dns/zone_diff.h"

namespace hsync::zone {

inline constexpr size_t default_xfr_message_size = 16384;

// A transfer response we refuse (in), or cannot make (out); what() says why.
class xfr_error : public dns::dns_error {
  public:
    using dns::dns_error::dns_error;
};

// The response to one AXFR or IXFR query, as wire messages made on demand (see the top of
// this file). Made by axfr_stream() or ixfr_stream(); refers to the zone it was made from,
// which must outlive it (the query need not). Not thread-safe; may be moved between calls.
class xfr_stream {
  public:
    // Appends the next message (complete, without TSIG) to `out` and returns true; returns
    // false, appending nothing, once every message was made. Throws xfr_error if a record
    // cannot go in any message (more than 65535 octets with the header).
    bool next(std::vector<uint8_t>& out);

    bool done() const;
    // NOERROR, or the RCODE of the single error message (FORMERR, NOTAUTH, SERVFAIL).
    uint16_t rcode() const { return rcode_; }
    // The whole zone goes out: AXFR, or IXFR answered in AXFR form (RFC 1995 §4).
    bool full_zone() const { return full_zone_; }
    size_t messages() const { return messages_; }  // made so far
    size_t records() const { return records_; }    // answer records made so far

  private:
    friend xfr_stream axfr_stream(const dns::record_store&, const dns::message&, size_t);
    friend xfr_stream ixfr_stream(const dns::record_store&, std::span<const dns::zone_diff>,
                                  const dns::message&, size_t, bool);
    enum class stage : uint8_t { ready, first_soa, zone_body, removed, added, last_soa, end };
    struct header {
        uint16_t id = 0;
        bool rd = false, cd = false;
        dns::question question;
    };
    xfr_stream(header h, size_t max_message_size, const dns::record_store* zone, size_t soa,
               std::optional<dns::zone_diff> change, bool full_zone);
    xfr_stream(std::vector<uint8_t> single, uint16_t rcode);

    header header_;
    size_t max_ = 0;
    const dns::record_store* zone_ = nullptr;
    size_t soa_ = 0;
    std::optional<dns::zone_diff> change_;  // IXFR: the condensed difference sent
    std::vector<uint8_t> single_;           // stage::ready: the one prepared message
    std::vector<uint8_t> buf_;              // the message being built (reused)
    stage stage_ = stage::end;
    size_t index_ = 0;  // within zone_body, removed or added
    uint16_t rcode_ = dns::rcode::NOERROR;
    bool full_zone_ = false;
    size_t messages_ = 0, records_ = 0;
};

// RFC 5936 §2.2: the apex SOA first and last, every other record once, as many records per
// message as fit; the question only in the first message; every message has the query's
// ID, QR and AA set (RD and CD copied, §2.2.1). A query whose name is not the zone's apex
// gets one NOTAUTH message; a zone without an SOA one SERVFAIL message.
xfr_stream axfr_stream(const dns::record_store& zone, const dns::message& query,
                       size_t max_message_size);

// RFC 1995 §4. `journal` holds the zone's differences oldest first (the caller's whole
// journal; ixfr_stream picks the part from the client's serial). The client's serial is
// the SOA in the query's authority section (missing: FORMERR).
//   - client serial equal to or newer than the zone's: one message with the current SOA;
//   - journal reaching from the client's serial to the current one: the differences
//     condensed into one sequence (RFC 1995 §5), current SOA first and last;
//   - otherwise: the whole zone as axfr_stream sends it (question type IXFR).
// With `udp`, everything must fit in one message, else the answer is the current SOA
// alone, which tells the client to retry over TCP (RFC 1995 §2).
xfr_stream ixfr_stream(const dns::record_store& zone, std::span<const dns::zone_diff> journal,
                       const dns::message& query, size_t max_message_size, bool udp);

// The same answers as parsed messages, all at once: for tests and tools, not for serving
// large zones (every message is held and parsed back).
using emit_fn = std::function<void(dns::message&&)>;
void axfr_out(const dns::record_store& zone, const dns::message& query, size_t max_message_size,
              const emit_fn& emit);

void ixfr_out(const dns::record_store& zone, std::span<const dns::zone_diff> journal,
              const dns::message& query, size_t max_message_size, bool udp, const emit_fn& emit);

struct xfr_limits {
    size_t max_records = 10'000'000;     // records received in one transfer
    size_t max_bytes = size_t{1} << 30;  // memory the received records may take
};

class xfr_receiver {
  public:
    enum class kind {
        none,        // not finished
        up_to_date,  // IXFR: the primary's serial is not newer than ours (one SOA)
        axfr,        // the whole zone: zone()
        ixfr,        // differences from our serial: diffs()
    };

    // `zone` is the zone asked for; `qtype` AXFR or IXFR; for IXFR `our_serial` is the
    // serial we sent. `query_id`, if given, must be the ID of every response message.
    xfr_receiver(const dns::name& zone, uint16_t qtype, std::optional<uint32_t> our_serial = {},
                 std::optional<uint16_t> query_id = {}, xfr_limits limits = {});

    // Consumes one response message, in order. Throws xfr_error on an error RCODE, a
    // wrong question, a record outside the zone or of another class, a sequence that does
    // not follow RFC 1995 §4 / RFC 5936 §2.2 (SOA first and last, serials chaining
    // forward), records after the final SOA, or a limit passed. After an error the
    // receiver is spent: result() is kind::none and feed() and finish() throw.
    void feed(const dns::message& response);

    // True once the final SOA arrived. Over UDP, an IXFR answer that leaves this false
    // after its one message was the "use TCP" SOA (RFC 1995 §2).
    bool done() const { return kind_ != kind::none; }
    // Throws xfr_error if the stream ended before the final SOA.
    void finish() const;
    // AXFR: leave the records in arrival order (zone() unsorted); the caller sorts them,
    // for example off the thread that reads the stream. Default: sorted at the final SOA.
    void leave_unsorted() { sort_ = false; }

    kind result() const { return kind_; }
    uint32_t serial() const { return serial_; }  // the primary's serial (first SOA)
    const dns::record_store& zone() const {
        return zone_;
    }  // kind::axfr; sorted unless
       // leave_unsorted()
    dns::record_store take_zone() { return std::move(zone_); }
    const std::vector<dns::zone_diff>& diffs() const { return diffs_; }  // kind::ixfr
    std::vector<dns::zone_diff> take_diffs() { return std::move(diffs_); }
    size_t records() const { return records_; }
    size_t messages() const { return messages_; }

  private:
    enum class state { first_soa, second, axfr_body, ixfr_removed, ixfr_added, finished };
    void record(const dns::rr& r);
    void account(const dns::rr& r, size_t bytes);
    [[noreturn]] void fail(const std::string& why);

    dns::name zone_name_;
    uint16_t qtype_;
    std::optional<uint32_t> our_serial_;
    std::optional<uint16_t> query_id_;
    xfr_limits limits_;

    state state_ = state::first_soa;
    kind kind_ = kind::none;
    bool failed_ = false;
    bool sort_ = true;
    uint32_t serial_ = 0;
    dns::rr first_soa_;
    dns::record_store zone_;
    std::vector<dns::zone_diff> diffs_;
    size_t records_ = 0, bytes_ = 0, messages_ = 0;
};

}  // namespace hsync::zone
