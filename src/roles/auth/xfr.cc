#include "roles/auth/xfr.h"

#include <algorithm>

#include "dns/rdata.h"
#include "dns/wire.h"
#include "roles/auth/journal.h"

namespace hsync::auth {
namespace {

namespace t = dns::rr_type;

bool is_meta(uint16_t type) {
    return type == t::OPT || (type >= 128 && type <= 255);
}

dns::message response_to(const dns::message& query) {
    dns::message m;
    m.id = query.id;
    m.qr = true;
    m.opcode = dns::opcode::QUERY;
    m.aa = true;
    m.rd = query.rd;  // RFC 5936 §2.2.1: copied from the query
    m.cd = query.cd;
    return m;
}

void emit_error(const dns::message& query, uint16_t rcode, const emit_fn& emit) {
    dns::message m = response_to(query);
    m.aa = false;
    m.rcode = rcode;
    m.questions = query.questions;
    emit(std::move(m));
}

// Fills messages up to a wire size, measuring each record with the same writer (and so the
// same compression) that dns::message::to_wire uses.
class packer {
  public:
    // `single`: at most one message; records that do not fit set overflowed() instead.
    packer(const dns::message& query, size_t max_size, bool single, const emit_fn& emit)
        : query_(query),
          max_(std::min(max_size, dns::max_message_size)),
          single_(single),
          emit_(emit) {
        start();
    }

    void add(dns::rr&& r) {
        if (overflow_) return;
        r.to_wire(*writer_, true);
        if (buf_.size() > max_ && !cur_.answer.empty()) {
            if (single_) {
                overflow_ = true;
                return;
            }
            flush();
            start();
            r.to_wire(*writer_, true);  // alone if it is still too big: it must go somewhere
        }
        cur_.answer.push_back(std::move(r));
    }

    // Sends what is pending (at least one message in all).
    void finish() {
        if (overflow_) return;
        if (!cur_.answer.empty() || sent_ == 0) flush();
    }

    bool overflowed() const { return overflow_; }

  private:
    void start() {
        cur_ = response_to(query_);
        if (sent_ == 0) cur_.questions = query_.questions;  // RFC 5936 §2.2.1: first only
        buf_.clear();
        writer_.emplace(buf_);
        for (int i = 0; i < 6; ++i)
            writer_->u16(0);
        for (const auto& q : cur_.questions) {
            writer_->name(q.qname, true);
            writer_->u16(q.qtype);
            writer_->u16(q.qclass);
        }
    }
    void flush() {
        ++sent_;
        emit_(std::move(cur_));
        cur_ = dns::message();
    }

    const dns::message& query_;
    size_t max_;
    bool single_;
    const emit_fn& emit_;
    dns::message cur_;
    std::vector<uint8_t> buf_;
    std::optional<dns::wire_writer> writer_;
    size_t sent_ = 0;
    bool overflow_ = false;
};

// The zone's apex SOA after checking the query names that apex; else emits the error.
std::optional<size_t> check_query(const dns::record_store& zone, const dns::message& query,
                                  const emit_fn& emit) {
    if (query.questions.size() != 1) {
        emit_error(query, dns::rcode::FORMERR, emit);
        return std::nullopt;
    }
    auto soa = find_soa(zone);
    if (!soa) {
        emit_error(query, dns::rcode::SERVFAIL, emit);
        return std::nullopt;
    }
    const auto& q = query.questions[0];
    if (!(q.qname == zone[*soa].owner_name()) || q.qclass != zone[*soa].rclass) {
        emit_error(query, dns::rcode::NOTAUTH, emit);
        return std::nullopt;
    }
    return soa;
}

void single_soa(const dns::record_store& zone, size_t soa, const dns::message& query,
                const emit_fn& emit) {
    dns::message m = response_to(query);
    m.questions = query.questions;
    m.answer.push_back(zone[soa].to_rr());
    emit(std::move(m));
}

// The whole zone, SOA first and last (RFC 5936 §2.2, RFC 1995 §4 for IXFR). Returns false
// if `single` and it did not fit in one message (nothing was emitted then).
bool full_zone(const dns::record_store& zone, size_t soa, const dns::message& query,
               size_t max_size, bool single, const emit_fn& emit) {
    std::vector<dns::message> held;
    emit_fn hold = [&](dns::message&& m) { held.push_back(std::move(m)); };
    packer p(query, max_size, single, single ? hold : emit);
    p.add(zone[soa].to_rr());
    for (size_t i = 0; i < zone.size() && !p.overflowed(); ++i) {
        auto v = zone[i];
        if (v.type == t::SOA) continue;  // the apex SOA frames the zone; no other belongs
        p.add(v.to_rr());
    }
    p.add(zone[soa].to_rr());
    p.finish();
    if (p.overflowed()) return false;
    for (auto& m : held)
        emit(std::move(m));
    return true;
}

}  // namespace

void axfr_out(const dns::record_store& zone, const dns::message& query, size_t max_message_size,
              const emit_fn& emit) {
    auto soa = check_query(zone, query, emit);
    if (!soa) return;
    full_zone(zone, *soa, query, max_message_size, false, emit);
}

void ixfr_out(const dns::record_store& zone, std::span<const dns::zone_diff> journal,
              const dns::message& query, size_t max_message_size, bool udp, const emit_fn& emit) {
    auto soa = check_query(zone, query, emit);
    if (!soa) return;
    // RFC 1995 §3: the client's version is the SOA in the authority section.
    const auto& qname = query.questions[0].qname;
    auto theirs =
        std::find_if(query.authority.begin(), query.authority.end(),
                     [&](const dns::rr& r) { return r.type == t::SOA && r.owner == qname; });
    uint32_t client = 0;
    try {
        if (theirs == query.authority.end()) throw journal_error("no SOA");
        client = soa_serial(theirs->rdata);
    } catch (const journal_error&) {
        emit_error(query, dns::rcode::FORMERR, emit);
        return;
    }
    uint32_t current = soa_serial(zone[*soa].rdata);
    if (!dns::serial_lt(client, current)) {
        single_soa(zone, *soa, query, emit);
        return;
    }

    // The newest journal entry that starts at the client's serial, if the chain from there
    // reaches the current serial.
    std::optional<dns::zone_diff> condensed;
    for (size_t k = journal.size(); k-- > 0;) {
        if (journal[k].from_serial != client) continue;
        if (journal.back().to_serial != current) break;
        try {
            dns::zone_diff d = condense(journal.subspan(k));
            bool framed = !d.removed.empty() && d.removed[0].type == t::SOA &&
                          soa_serial(d.removed[0].rdata) == client && !d.added.empty() &&
                          d.added[0].type == t::SOA && soa_serial(d.added[0].rdata) == current;
            if (framed) condensed = std::move(d);
        } catch (const journal_error&) {
            // A broken journal is not the client's problem: send the whole zone instead.
        }
        break;
    }
    if (!condensed) {
        if (!full_zone(zone, *soa, query, max_message_size, udp, emit))
            single_soa(zone, *soa, query, emit);
        return;
    }

    std::vector<dns::message> held;
    emit_fn hold = [&](dns::message&& m) { held.push_back(std::move(m)); };
    packer p(query, max_message_size, udp, udp ? hold : emit);
    p.add(zone[*soa].to_rr());
    for (auto* list : {&condensed->removed, &condensed->added})
        for (auto& r : *list)
            p.add(std::move(r));
    p.add(zone[*soa].to_rr());
    p.finish();
    if (p.overflowed()) {
        single_soa(zone, *soa, query, emit);  // RFC 1995 §2: retry over TCP
        return;
    }
    for (auto& m : held)
        emit(std::move(m));
}

xfr_receiver::xfr_receiver(const dns::name& zone, uint16_t qtype,
                           std::optional<uint32_t> our_serial, std::optional<uint16_t> query_id,
                           xfr_limits limits)
    : zone_name_(zone.canonical()),
      qtype_(qtype),
      our_serial_(our_serial),
      query_id_(query_id),
      limits_(limits) {}

void xfr_receiver::fail(const std::string& why) {
    failed_ = true;
    kind_ = kind::none;  // nothing of a refused stream is to be used
    throw xfr_error((qtype_ == t::IXFR ? "IXFR of " : "AXFR of ") + zone_name_.to_text() + ": " +
                    why);
}

void xfr_receiver::finish() const {
    if (failed_) throw xfr_error("transfer of " + zone_name_.to_text() + " failed earlier");
    if (!done())
        throw xfr_error("transfer of " + zone_name_.to_text() +
                        (state_ == state::first_soa ? " ended before any record"
                                                    : " ended before the final SOA"));
}

void xfr_receiver::account(const dns::rr& r, size_t bytes) {
    ++records_;
    bytes_ += bytes;
    if (records_ > limits_.max_records)
        fail("more than " + std::to_string(limits_.max_records) + " records");
    if (bytes_ > limits_.max_bytes)
        fail("more than " + std::to_string(limits_.max_bytes) + " octets of records (at " +
             r.owner.to_text() + ")");
}

void xfr_receiver::feed(const dns::message& m) {
    if (failed_) throw xfr_error("transfer of " + zone_name_.to_text() + " failed earlier");
    ++messages_;
    if (state_ == state::finished) fail("message after the end of the transfer");
    if (query_id_ && m.id != *query_id_)
        fail("response ID " + std::to_string(m.id) + " does not match the query's");
    if (!m.qr) fail("message is not a response");
    if (m.opcode != dns::opcode::QUERY) fail("response opcode " + dns::opcode_to_text(m.opcode));
    if (m.rcode != dns::rcode::NOERROR) fail("primary answered " + dns::rcode_to_text(m.rcode));
    if (m.tc) fail("response truncated");
    if (m.questions.size() > 1) fail("response has more than one question");
    // RFC 5936 §2.2.1: the question is in the first message and may be in later ones.
    if (!m.questions.empty()) {
        const auto& q = m.questions[0];
        if (!(q.qname == zone_name_) || q.qtype != qtype_ || q.qclass != dns::rr_class::IN)
            fail("response question does not match the query");
    }
    if (messages_ == 1 && m.answer.empty()) fail("first response message has no records");
    for (const auto& r : m.answer)
        record(r);
}

void xfr_receiver::record(const dns::rr& in) {
    if (state_ == state::finished) fail("records after the final SOA");
    if (in.rclass != dns::rr_class::IN)
        fail("record of class " + dns::class_to_text(in.rclass) + ": " + in.owner.to_text());
    if (!in.owner.is_subdomain_of(zone_name_)) fail("record outside the zone: " + in.to_text());
    if (is_meta(in.type)) fail("meta type " + dns::type_to_text(in.type) + " in the answer");
    if (in.rdata.empty()) {
        try {
            dns::rdata_check(in.type, in.rdata);
        } catch (const dns::dns_error&) {
            fail("record without RDATA: " + in.owner.to_text() + " " + dns::type_to_text(in.type));
        }
    }
    bool is_soa = in.type == t::SOA;
    if (is_soa && !(in.owner == zone_name_)) fail("SOA below the apex: " + in.owner.to_text());
    dns::rr r = in;
    r.canonicalize();
    uint32_t s = 0;
    if (is_soa) {
        try {
            s = soa_serial(r.rdata);
        } catch (const journal_error& e) {
            fail(e.what());
        }
    }
    auto store_bytes = [](const dns::rr& x) { return x.owner.wire_size() + x.rdata.size() + 24; };
    auto diff_bytes = [](const dns::rr& x) { return sizeof(dns::rr) + x.rdata.size(); };
    auto serial_text = [](uint32_t v) { return std::to_string(v); };

    switch (state_) {
        case state::first_soa:
            if (!is_soa) fail("response does not start with the SOA");
            account(r, store_bytes(r));
            first_soa_ = r;
            serial_ = s;
            // RFC 1995 §4: our version is current (or the primary is behind): one SOA.
            if (qtype_ == t::IXFR && our_serial_ && !dns::serial_lt(*our_serial_, s)) {
                kind_ = kind::up_to_date;
                state_ = state::finished;
            } else {
                state_ = state::second;
            }
            return;
        case state::second:
            if (is_soa && qtype_ == t::IXFR && s != serial_) {
                // RFC 1995 §4: a second SOA starts the difference sequences.
                if (our_serial_ && s != *our_serial_)
                    fail("differences start at serial " + serial_text(s) + ", we have " +
                         serial_text(*our_serial_));
                if (!dns::serial_lt(s, serial_))
                    fail("difference from serial " + serial_text(s) + " is not older than " +
                         serial_text(serial_));
                account(r, diff_bytes(r));
                diffs_.emplace_back();
                diffs_.back().from_serial = s;
                diffs_.back().removed.push_back(std::move(r));
                state_ = state::ixfr_removed;
                return;
            }
            zone_.add(first_soa_);
            state_ = state::axfr_body;
            [[fallthrough]];
        case state::axfr_body:
            if (is_soa) {
                if (s != serial_ || r.rdata != first_soa_.rdata)
                    fail("SOA with serial " + serial_text(s) +
                         " inside the zone does not match the first SOA (serial " +
                         serial_text(serial_) + ")");
                zone_.sort();
                kind_ = kind::axfr;
                state_ = state::finished;
                return;
            }
            account(r, store_bytes(r));
            zone_.add(r);
            return;
        case state::ixfr_removed: {
            auto& d = diffs_.back();
            account(r, diff_bytes(r));
            if (is_soa) {
                if (!dns::serial_lt(d.from_serial, s))
                    fail("serial goes backwards: difference from " + serial_text(d.from_serial) +
                         " to " + serial_text(s));
                if (dns::serial_lt(serial_, s))
                    fail("difference to serial " + serial_text(s) + " goes past the zone's " +
                         serial_text(serial_));
                d.to_serial = s;
                d.added.push_back(std::move(r));
                state_ = state::ixfr_added;
            } else {
                d.removed.push_back(std::move(r));
            }
            return;
        }
        case state::ixfr_added: {
            auto& d = diffs_.back();
            if (is_soa) {
                if (d.to_serial == serial_) {  // the final SOA
                    if (s != serial_ || r.rdata != first_soa_.rdata)
                        fail("final SOA (serial " + serial_text(s) +
                             ") does not match the first (serial " + serial_text(serial_) + ")");
                    kind_ = kind::ixfr;
                    state_ = state::finished;
                    return;
                }
                if (s != d.to_serial)
                    fail("difference starts at serial " + serial_text(s) +
                         " but the previous one ended at " + serial_text(d.to_serial));
                account(r, diff_bytes(r));
                diffs_.emplace_back();
                diffs_.back().from_serial = s;
                diffs_.back().removed.push_back(std::move(r));
                state_ = state::ixfr_removed;
                return;
            }
            account(r, diff_bytes(r));
            d.added.push_back(std::move(r));
            return;
        }
        case state::finished:
            break;
    }
    fail("records after the final SOA");
}

}  // namespace hsync::auth
