#include "zone/xfr.h"

#include <algorithm>
#include <cstring>
#include <initializer_list>

#include "dns/rdata.h"
#include "dns/wire.h"
#include "zone/journal.h"

namespace hsync::zone {
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

std::vector<uint8_t> error_wire(const dns::message& query, uint16_t rcode, size_t max) {
    dns::message m = response_to(query);
    m.aa = false;
    m.rcode = rcode;
    m.questions = query.questions;
    std::vector<uint8_t> wire;
    m.to_wire(wire, max);
    return wire;
}

std::vector<uint8_t> soa_wire(const dns::record_store& zone, size_t soa, const dns::message& query,
                              size_t max) {
    dns::message m = response_to(query);
    m.questions = query.questions;
    m.answer.push_back(zone[soa].to_rr());
    std::vector<uint8_t> wire;
    m.to_wire(wire, max);
    return wire;
}

// The zone's apex SOA after checking the query names that apex; else the RCODE to answer.
std::optional<size_t> check_query(const dns::record_store& zone, const dns::message& query,
                                  uint16_t& rcode) {
    if (query.questions.size() != 1) {
        rcode = dns::rcode::FORMERR;
        return std::nullopt;
    }
    auto soa = find_soa(zone);
    if (!soa) {
        rcode = dns::rcode::SERVFAIL;
        return std::nullopt;
    }
    const auto& q = query.questions[0];
    if (!(q.qname == zone[*soa].owner_name()) || q.qclass != zone[*soa].rclass) {
        rcode = dns::rcode::NOTAUTH;
        return std::nullopt;
    }
    return soa;
}

// --- the message writer ---

constexpr uint16_t no_target = 0xFFFF;
constexpr size_t max_pointer_target = 0x3FFF;  // 14 bits (RFC 1035 §4.1.4)
// Room for the header, a question and one record of any size written past the budget
// before the writer sees it does not fit.
constexpr size_t buffer_size = 2 * dns::max_message_size + 2 * (dns::max_name_length + 16);

// One record to write, wherever it lives (record_store or dns::rr).
struct record_ref {
    std::span<const uint8_t> owner;  // uncompressed wire form
    uint16_t type = 0, rclass = 0;
    uint32_t ttl = 0;
    std::span<const uint8_t> rdata;  // uncompressed
};

record_ref ref(const dns::record_view& v) {
    return {v.owner, v.type, v.rclass, v.ttl, v.rdata};
}
record_ref ref(const dns::rr& r) {
    return {r.owner.wire(), r.type, r.rclass, r.ttl, r.rdata};
}

// Labels are a few octets: compared inline.
inline bool same_octets(const uint8_t* a, const uint8_t* b, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (a[i] != b[i]) return false;
    return true;
}

// An uncompressed name cut into labels, and where in the message each of its suffixes
// can be pointed at (no_target: nowhere below 0x4000).
struct split_name {
    const uint8_t* wire = nullptr;
    size_t size = 0;     // octets, the root label included
    size_t labels = 0;   // the root not counted
    uint8_t start[128];  // label i starts at wire + start[i]
    uint16_t at[128];

    // Splits the name at the start of `w` (it may be followed by other data). Returns its
    // length, or 0 if it is not a well-formed uncompressed name.
    size_t split(std::span<const uint8_t> w) {
        wire = w.data();
        labels = 0;
        size_t pos = 0;
        while (pos < w.size() && pos < dns::max_name_length) {
            uint8_t len = w[pos];
            if (len == 0) return size = pos + 1;
            if (len > dns::max_label_length) return 0;
            start[labels++] = static_cast<uint8_t>(pos);
            pos += size_t{len} + 1;
        }
        return 0;
    }

    bool label_equal(size_t i, const split_name& o, size_t j) const {
        return same_octets(wire + start[i], o.wire + o.start[j], size_t{wire[start[i]]} + 1);
    }
};

inline void put16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
inline void put32(uint8_t* p, uint32_t v) {
    put16(p, static_cast<uint16_t>(v >> 16));
    put16(p + 2, static_cast<uint16_t>(v));
}

// The longest suffix of `n` that `c` shares and that can be pointed at: `k` the first
// label of n it stands for (n.labels: none), `m` the same label in c.
void shared_suffix(const split_name& n, const split_name& c, size_t& k, size_t& m) {
    size_t i = n.labels, j = c.labels;
    while (i > 0 && j > 0 && n.label_equal(i - 1, c, j - 1)) {
        --i;
        --j;
    }
    for (size_t x = j; x < c.labels; ++x)
        if (c.at[x] != no_target) {
            k = i + (x - j);
            m = x;
            return;
        }
    k = n.labels;
}

// Writes `n` at `b + pos`: its labels up to the longest suffix it shares with one of
// `candidates` (null entries skipped) that can be pointed at, then a pointer to it (or the
// whole name if there is none). Fills n.at. Case-sensitive, so a receiver gets every name
// with the case we hold. Returns the position after the name.
size_t put_name(uint8_t* b, size_t pos, split_name& n,
                std::initializer_list<const split_name*> candidates,
                std::span<const split_name> more = {}) {
    size_t k = n.labels, m = 0;  // as shared_suffix() says
    const split_name* src = nullptr;
    auto consider = [&](const split_name* c) {
        if (!c || k == 0) return;
        size_t ck = 0, cm = 0;
        shared_suffix(n, *c, ck, cm);
        if (ck < k) {
            k = ck;
            m = cm;
            src = c;
        }
    };
    for (const split_name* c : candidates)
        consider(c);
    for (const split_name& c : more)
        consider(&c);
    size_t literal = k < n.labels ? n.start[k] : n.size;
    std::memcpy(b + pos, n.wire, literal);
    for (size_t l = 0; l < k; ++l) {
        size_t off = pos + n.start[l];
        n.at[l] = off <= max_pointer_target ? static_cast<uint16_t>(off) : no_target;
    }
    pos += literal;
    if (!src) return pos;
    put16(b + pos, static_cast<uint16_t>(0xC000 | src->at[m]));
    for (size_t l = k; l < n.labels; ++l)
        n.at[l] = src->at[m + (l - k)];
    return pos + 2;
}

// The last RDATA names written in a message, as compression candidates: reverse zones,
// MX and NS targets often share a domain with a recent one, not with their own owner.
struct recent_targets {
    static constexpr size_t size = 8;
    split_name names[size];
    size_t count = 0, next = 0;
    split_name scratch;  // the name being written, kept by keep()

    std::span<const split_name> all() const { return {names, count}; }
    const split_name* last() const { return count ? &names[(next + size - 1) % size] : nullptr; }
    void keep() {
        names[next] = scratch;
        next = (next + 1) % size;
        count = std::min(count + 1, size);
    }
};

// RDATA of the RFC 1035 types whose names may be compressed (RFC 3597 §4): octets before
// the names, how many names, and the octets that must follow them.
struct compressible {
    size_t prefix;
    int names;
    size_t suffix;
};
std::optional<compressible> compressible_rdata(uint16_t type) {
    switch (type) {
        case t::NS:
        case t::CNAME:
        case t::PTR:
            return compressible{0, 1, 0};
        case t::MX:
            return compressible{2, 1, 0};
        case t::SOA:
            return compressible{0, 2, 20};
        default:
            return std::nullopt;
    }
}

// Writes RDLENGTH and RDATA at `b + pos`, names compressed against the record's owner
// and the recent RDATA names; the last name written is left in `recent.scratch`, and
// `wrote` says whether there was one.
size_t put_rdata(uint8_t* b, size_t pos, uint16_t type, std::span<const uint8_t> rdata,
                 const split_name& owner, recent_targets& recent, bool& wrote) {
    wrote = false;
    size_t start = pos + 2;
    if (auto c = compressible_rdata(type); c && rdata.size() > c->prefix) {
        size_t p = start;
        std::memcpy(b + p, rdata.data(), c->prefix);
        p += c->prefix;
        auto rest = rdata.subspan(c->prefix);
        bool ok = true;
        for (int i = 0; i < c->names && ok; ++i) {
            size_t len = recent.scratch.split(rest);
            if (!len) {
                ok = false;
                break;
            }
            p = put_name(b, p, recent.scratch, {&owner}, recent.all());
            rest = rest.subspan(len);
        }
        if (ok && rest.size() == c->suffix) {
            if (!rest.empty()) std::memcpy(b + p, rest.data(), rest.size());
            p += rest.size();
            put16(b + pos, static_cast<uint16_t>(p - start));
            wrote = true;
            return p;
        }
        // Malformed RDATA (never from a checked store): written as it is.
    }
    put16(b + pos, static_cast<uint16_t>(rdata.size()));
    if (!rdata.empty())  // empty RDATA (e.g. an APL or NULL record) has no pointer to copy
        std::memcpy(b + start, rdata.data(), rdata.size());
    return start + rdata.size();
}

}  // namespace

xfr_stream::xfr_stream(header h, size_t max_message_size, const dns::record_store* zone, size_t soa,
                       std::optional<dns::zone_diff> change, bool full_zone)
    : header_(std::move(h)),
      max_(std::min(max_message_size, dns::max_message_size)),
      zone_(zone),
      soa_(soa),
      change_(std::move(change)),
      stage_(stage::first_soa),
      full_zone_(full_zone) {}

xfr_stream::xfr_stream(std::vector<uint8_t> single, uint16_t rcode)
    : single_(std::move(single)), stage_(stage::ready), rcode_(rcode) {}

bool xfr_stream::done() const {
    return stage_ == stage::end;
}

bool xfr_stream::next(std::vector<uint8_t>& out) {
    if (stage_ == stage::end) return false;
    if (stage_ == stage::ready) {
        out.insert(out.end(), single_.begin(), single_.end());
        single_ = {};
        stage_ = stage::end;
        ++messages_;
        return true;
    }
    if (buf_.size() < buffer_size) buf_.resize(buffer_size);
    uint8_t* b = buf_.data();

    // Header (RFC 1035 §4.1.1): QR, opcode QUERY, AA; RD and CD as the query had them.
    std::memset(b, 0, dns::header_size);
    put16(b, header_.id);
    b[2] = static_cast<uint8_t>(0x80 | 0x04 | (header_.rd ? 0x01 : 0));
    b[3] = static_cast<uint8_t>(header_.cd ? 0x10 : 0);
    size_t pos = dns::header_size;

    // Two slots for the owner names: the previous owner (what the next owner is compressed
    // against) and the one being written, swapped when a record with a new owner is kept;
    // and the recent RDATA names (glue's owner is often the NS target just written).
    split_name names[2];
    int prev = -1;
    recent_targets recent;
    if (messages_ == 0) {  // RFC 5936 §2.2.1: the question in the first message only
        const auto& q = header_.question;
        names[0].split(q.qname.wire());
        pos = put_name(b, pos, names[0], {});
        put16(b + pos, q.qtype);
        put16(b + pos + 2, q.qclass);
        pos += 4;
        put16(b + 4, 1);
        prev = 0;
    }

    size_t count = 0;
    while (count < 0xFFFF) {
        record_ref r;
        switch (stage_) {
            case stage::first_soa:
            case stage::last_soa:
                r = ref((*zone_)[soa_]);
                break;
            case stage::zone_body: {
                // Every record once; the apex SOA frames the zone and no other belongs.
                for (; index_ < zone_->size(); ++index_) {
                    auto v = (*zone_)[index_];
                    if (v.type == t::SOA) continue;
                    r = ref(v);
                    break;
                }
                if (index_ == zone_->size()) {
                    stage_ = stage::last_soa;
                    continue;
                }
                break;
            }
            case stage::removed:
            case stage::added: {
                const auto& list = stage_ == stage::removed ? change_->removed : change_->added;
                if (index_ == list.size()) {
                    stage_ = stage_ == stage::removed ? stage::added : stage::last_soa;
                    index_ = 0;
                    continue;
                }
                r = ref(list[index_]);
                break;
            }
            case stage::ready:
            case stage::end:
                break;
        }
        if (stage_ == stage::end) break;

        size_t before = pos;
        const split_name* p = prev < 0 ? nullptr : &names[prev];
        int slot = prev;
        if (p && p->labels > 0 && p->at[0] != no_target && p->size == r.owner.size() &&
            std::memcmp(p->wire, r.owner.data(), p->size) == 0) {
            put16(b + pos, static_cast<uint16_t>(0xC000 | p->at[0]));  // same owner again
            pos += 2;
        } else {
            slot = prev == 0 ? 1 : 0;
            if (names[slot].split(r.owner) != r.owner.size())
                throw xfr_error("malformed owner name in zone data");
            pos = put_name(b, pos, names[slot], {p, recent.last()});
        }
        put16(b + pos, r.type);
        put16(b + pos + 2, r.rclass);
        put32(b + pos + 4, r.ttl);
        bool wrote = false;
        pos = put_rdata(b, pos + 8, r.type, r.rdata, names[slot], recent, wrote);

        if (pos > max_ && count > 0) {
            pos = before;  // does not fit: the next message starts with it
            break;
        }
        if (pos > dns::max_message_size)
            throw xfr_error("a record of " + std::to_string(pos - before) +
                            " octets does not fit in a DNS message");
        prev = slot;
        if (wrote) recent.keep();
        ++count;
        switch (stage_) {
            case stage::first_soa:
                stage_ = full_zone_ ? stage::zone_body : stage::removed;
                index_ = 0;
                break;
            case stage::last_soa:
                stage_ = stage::end;
                break;
            default:
                ++index_;
                break;
        }
    }
    put16(b + 6, static_cast<uint16_t>(count));
    out.insert(out.end(), b, b + pos);
    ++messages_;
    records_ += count;
    return true;
}

xfr_stream axfr_stream(const dns::record_store& zone, const dns::message& query,
                       size_t max_message_size) {
    uint16_t rcode = dns::rcode::NOERROR;
    auto soa = check_query(zone, query, rcode);
    if (!soa) return xfr_stream(error_wire(query, rcode, max_message_size), rcode);
    return xfr_stream({query.id, query.rd, query.cd, query.questions[0]}, max_message_size, &zone,
                      *soa, std::nullopt, true);
}

xfr_stream ixfr_stream(const dns::record_store& zone, std::span<const dns::zone_diff> journal,
                       const dns::message& query, size_t max_message_size, bool udp) {
    uint16_t rcode = dns::rcode::NOERROR;
    auto soa = check_query(zone, query, rcode);
    if (!soa) return xfr_stream(error_wire(query, rcode, max_message_size), rcode);
    auto single_soa = [&] {
        xfr_stream s(soa_wire(zone, *soa, query, max_message_size), dns::rcode::NOERROR);
        s.records_ = 1;
        return s;
    };
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
        return xfr_stream(error_wire(query, dns::rcode::FORMERR, max_message_size),
                          dns::rcode::FORMERR);
    }
    uint32_t current = soa_serial(zone[*soa].rdata);
    if (!dns::serial_lt(client, current)) return single_soa();

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
    bool full = !condensed;
    xfr_stream s({query.id, query.rd, query.cd, query.questions[0]}, max_message_size, &zone, *soa,
                 std::move(condensed), full);
    if (!udp) return s;
    // RFC 1995 §2: over UDP it all fits in one message, or the SOA alone says "use TCP".
    std::vector<uint8_t> one;
    try {
        s.next(one);
    } catch (const xfr_error&) {
        return single_soa();
    }
    if (!s.done()) return single_soa();
    xfr_stream r(std::move(one), dns::rcode::NOERROR);
    r.records_ = s.records_;
    r.full_zone_ = full;
    return r;
}

namespace {

void drain(xfr_stream s, const emit_fn& emit) {
    std::vector<uint8_t> wire;
    while (s.next(wire)) {
        emit(dns::message::parse(wire));
        wire.clear();
    }
}

}  // namespace

void axfr_out(const dns::record_store& zone, const dns::message& query, size_t max_message_size,
              const emit_fn& emit) {
    drain(axfr_stream(zone, query, max_message_size), emit);
}

void ixfr_out(const dns::record_store& zone, std::span<const dns::zone_diff> journal,
              const dns::message& query, size_t max_message_size, bool udp, const emit_fn& emit) {
    drain(ixfr_stream(zone, journal, query, max_message_size, udp), emit);
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
                if (sort_) zone_.sort();
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

}  // namespace hsync::zone
