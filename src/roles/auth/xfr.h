// Zone transfers as message building and consuming, no sockets: AXFR (RFC 5936) and IXFR
// (RFC 1995) responses out, and a receiver that checks an AXFR or IXFR response stream
// message by message and yields the zone or its differences.
//
// Packing: records go into a message while its wire size (with name compression, exactly
// as dns::message::to_wire will write it) stays within `max_message_size`; the caller
// passes the budget left after the OPT and TSIG it adds. default_xfr_message_size is what
// we use over TCP: close to 64 KiB like Knot, so a 1M-record zone needs few messages (and
// few TSIG computations). A single record bigger than the budget goes alone in its own
// message.
//
// Costs: axfr_out is O(zone). ixfr_out touches the zone only for its SOA (O(1)) and the
// journal entries it sends: O(change log change). The receiver costs O(records received);
// for IXFR that is the change only (applying it with journal.h apply() is O(zone), which
// is accepted for now).
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

namespace hsync::auth {

inline constexpr size_t default_xfr_message_size = 64000;

using emit_fn = std::function<void(dns::message&&)>;

// RFC 5936 §2.2: the apex SOA first and last, every other record once, as many records per
// message as fit; the question only in the first message; every message has the query's
// ID, QR and AA set. A query whose name is not the zone's apex gets one NOTAUTH message;
// a zone without an SOA one SERVFAIL message.
void axfr_out(const dns::record_store& zone, const dns::message& query, size_t max_message_size,
              const emit_fn& emit);

// RFC 1995 §4. `journal` holds the zone's differences oldest first (the caller's whole
// journal; ixfr_out picks the part from the client's serial). The client's serial is the
// SOA in the query's authority section (missing: FORMERR).
//   - client serial equal to or newer than the zone's: one message with the current SOA;
//   - journal reaching from the client's serial to the current one: the differences
//     condensed into one sequence (RFC 1995 §5), current SOA first and last;
//   - otherwise: the whole zone as axfr_out sends it (question type IXFR).
// With `udp`, everything must fit in one message, else the answer is the current SOA
// alone, which tells the client to retry over TCP (RFC 1995 §2).
void ixfr_out(const dns::record_store& zone, std::span<const dns::zone_diff> journal,
              const dns::message& query, size_t max_message_size, bool udp, const emit_fn& emit);

// A transfer response we refuse; what() says why.
class xfr_error : public dns::dns_error {
  public:
    using dns::dns_error::dns_error;
};

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

    kind result() const { return kind_; }
    uint32_t serial() const { return serial_; }              // the primary's serial (first SOA)
    const dns::record_store& zone() const { return zone_; }  // sorted; kind::axfr
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
    uint32_t serial_ = 0;
    dns::rr first_soa_;
    dns::record_store zone_;
    std::vector<dns::zone_diff> diffs_;
    size_t records_ = 0, bytes_ = 0, messages_ = 0;
};

}  // namespace hsync::auth
