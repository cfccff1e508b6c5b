#include "dns/message.h"

#include <algorithm>

#include "dns/error.h"
#include "dns/wire.h"

namespace hsync::dns {
namespace {

// RFC 1035 §4.1.1 header flag bits.
constexpr uint16_t f_qr = 0x8000, f_aa = 0x0400, f_tc = 0x0200, f_rd = 0x0100, f_ra = 0x0080,
                   f_z = 0x0040, f_ad = 0x0020, f_cd = 0x0010;

// The smallest question is a root name, type and class; the smallest record adds a TTL
// and RDLENGTH (RFC 1035 §4.1.2, §4.1.3).
constexpr size_t min_question_size = 5;
constexpr size_t min_rr_size = 11;

enum class section { answer, authority, additional };

const char* section_name(section s) {
    switch (s) {
        case section::answer:
            return "answer";
        case section::authority:
            return "authority";
        default:
            return "additional";
    }
}

// RFC 2931 §3: SIG(0) is a SIG at the root whose type covered is 0.
bool is_sig0(const rr& r) {
    return r.type == rr_type::SIG && r.owner.is_root() && r.rdata.size() >= 2 && r.rdata[0] == 0 &&
           r.rdata[1] == 0;
}

bool same_rr(const rr& a, const rr& b) {
    return std::ranges::equal(a.owner.wire(), b.owner.wire()) && a.type == b.type &&
           a.rclass == b.rclass && a.ttl == b.ttl && a.rdata == b.rdata;
}

bool same_rrs(const std::vector<rr>& a, const std::vector<rr>& b) {
    return std::ranges::equal(a, b, same_rr);
}

bool same_optional_rr(const std::optional<rr>& a, const std::optional<rr>& b) {
    if (a.has_value() != b.has_value()) return false;
    return !a || same_rr(*a, *b);
}

// In a message the RCODE's upper bits live in message::rcode, compared there.
bool same_edns(const std::optional<edns>& a, const std::optional<edns>& b) {
    if (a.has_value() != b.has_value()) return false;
    if (!a) return true;
    edns x = *a;
    x.extended_rcode = b->extended_rcode;
    return x == *b;
}

void read_section(wire_reader& reader, message& m, std::vector<rr>& out, uint16_t count,
                  section where) {
    out.reserve(count);  // bounded: parse() checked count * 11 fits in the bytes left
    for (uint16_t i = 0; i < count; ++i) {
        size_t offset = reader.position();
        rr r = rr::from_wire(reader);
        if (r.type == rr_type::OPT) {
            // RFC 6891 §6.1.1: one OPT at most, owner root, in the additional section.
            if (where != section::additional)
                throw wire_error(std::string("OPT record in the ") + section_name(where) +
                                 " section");
            if (m.opt) throw wire_error("more than one OPT record");
            if (!r.owner.is_root()) throw wire_error("OPT record owner is not the root");
            m.opt = edns::from_rr(r);
            continue;
        }
        bool tsig = r.type == rr_type::TSIG;
        if (tsig || is_sig0(r)) {
            // RFC 8945 §5.1 and RFC 2931 §3: the last record of the message, or FORMERR.
            if (where != section::additional || i + 1 != count)
                throw wire_error(std::string(tsig ? "TSIG" : "SIG(0)") +
                                 " record is not the last record of the message");
            m.signature_offset = offset;
            (tsig ? m.tsig : m.sig0) = std::move(r);
            continue;
        }
        out.push_back(std::move(r));
    }
}

void write_rr(wire_writer& w, const rr& r) {
    if (!r.rdata.empty()) {
        r.to_wire(w, true);
        return;
    }
    // Empty RDATA (RFC 2136 §2.4, §2.5: UPDATE prerequisites and deletions) has no fields
    // to compress; only the owner is.
    w.name(r.owner, true);
    w.u16(r.type);
    w.u16(r.rclass);
    w.u32(r.ttl);
    w.u16(0);
}

void append_section(std::string& out, const char* title, const std::vector<rr>& records) {
    if (records.empty()) return;
    out += "\n;; ";
    out += title;
    out += " SECTION:\n";
    for (const auto& r : records) {
        r.append_text(out);
        out += '\n';
    }
}

}  // namespace

std::string opcode_to_text(uint8_t op) {
    switch (op) {
        case opcode::QUERY:
            return "QUERY";
        case opcode::IQUERY:
            return "IQUERY";
        case opcode::STATUS:
            return "STATUS";
        case opcode::NOTIFY:
            return "NOTIFY";
        case opcode::UPDATE:
            return "UPDATE";
        case opcode::DSO:
            return "DSO";
        default:
            return std::to_string(op);
    }
}

message message::parse(std::span<const uint8_t> wire) {
    if (wire.size() > max_message_size) throw wire_error("message longer than 65535 octets");
    if (wire.size() < header_size) throw wire_error("message shorter than the 12-octet DNS header");
    wire_reader reader(wire);
    message m;
    m.id = reader.u16();
    uint16_t flags = reader.u16();
    m.qr = flags & f_qr;
    m.opcode = static_cast<uint8_t>(flags >> 11 & 0xF);
    m.aa = flags & f_aa;
    m.tc = flags & f_tc;
    m.rd = flags & f_rd;
    m.ra = flags & f_ra;
    m.z = flags & f_z;
    m.ad = flags & f_ad;
    m.cd = flags & f_cd;
    m.rcode = flags & 0xF;
    uint16_t qdcount = reader.u16();
    uint16_t ancount = reader.u16();
    uint16_t nscount = reader.u16();
    uint16_t arcount = reader.u16();
    // Refuse counts the bytes cannot hold before reserving anything by them.
    size_t least =
        qdcount * min_question_size + (size_t{ancount} + nscount + arcount) * min_rr_size;
    if (least > reader.remaining())
        throw wire_error("header counts " + std::to_string(qdcount) + " questions and " +
                         std::to_string(size_t{ancount} + nscount + arcount) +
                         " records, more than the " + std::to_string(reader.remaining()) +
                         " octets after the header can hold");
    m.original_arcount = arcount;

    m.questions.reserve(qdcount);
    for (uint16_t i = 0; i < qdcount; ++i) {
        question q;
        q.qname = reader.read_name(true);
        q.qtype = reader.u16();
        q.qclass = reader.u16();
        m.questions.push_back(q);
    }
    read_section(reader, m, m.answer, ancount, section::answer);
    read_section(reader, m, m.authority, nscount, section::authority);
    read_section(reader, m, m.additional, arcount, section::additional);
    if (!reader.at_end())
        throw wire_error(std::to_string(reader.remaining()) +
                         " octets of trailing garbage after the last record");
    if (m.opt) m.rcode = static_cast<uint16_t>(m.opt->extended_rcode << 4 | m.rcode);
    return m;
}

bool message::to_wire(std::vector<uint8_t>& out, size_t max_size) const {
    if (tsig && sig0) throw wire_error("message has both a TSIG and a SIG(0) record");
    if (rcode > 0xFFF) throw wire_error("RCODE " + std::to_string(rcode) + " above 4095");
    if (rcode > 0xF && !opt)
        throw wire_error("RCODE " + std::to_string(rcode) + " needs EDNS (RFC 6891 §6.1.3)");
    if (questions.size() > 0xFFFF) throw wire_error("more than 65535 questions");
    max_size = std::min(max_size, max_message_size);

    // OPT and TSIG/SIG(0) are written uncompressed, so their size is known before the
    // records and truncation can make room for them.
    std::vector<uint8_t> tail;
    uint16_t tail_count = 0;
    {
        wire_writer tw(tail);
        if (opt) {
            edns e = *opt;
            e.extended_rcode = static_cast<uint8_t>(rcode >> 4);
            e.to_rr().to_wire(tw, false);
            ++tail_count;
        }
        for (const auto* sig : {&tsig, &sig0}) {
            if (!*sig) continue;
            if ((*sig)->rdata.size() > 0xFFFF) throw wire_error("RDATA longer than 65535 octets");
            (*sig)->to_wire(tw, false);
            ++tail_count;
        }
    }

    size_t base = out.size();
    wire_writer w(out);
    w.u16(id);
    uint16_t flags =
        static_cast<uint16_t>((qr ? f_qr : 0) | (opcode & 0xF) << 11 | (aa ? f_aa : 0) |
                              (tc ? f_tc : 0) | (rd ? f_rd : 0) | (ra ? f_ra : 0) | (z ? f_z : 0) |
                              (ad ? f_ad : 0) | (cd ? f_cd : 0) | (rcode & 0xF));
    w.u16(flags);
    w.u16(static_cast<uint16_t>(questions.size()));
    for (int i = 0; i < 3; ++i)
        w.u16(0);  // patched below
    for (const auto& q : questions) {
        w.name(q.qname, true);
        w.u16(q.qtype);
        w.u16(q.qclass);
    }
    if (w.size() + tail.size() > max_message_size)
        throw wire_error("message longer than 65535 octets even without its records");

    // Records go in while they fit; the first that does not is cut off with all after it.
    // Pointers only point backwards, so cutting at a record boundary leaves the rest valid.
    const std::vector<rr>* sections[3] = {&answer, &authority, &additional};
    size_t kept[3] = {0, 0, 0};
    bool truncated = false;
    for (size_t s = 0; s < 3 && !truncated; ++s) {
        for (const auto& r : *sections[s]) {
            if (r.rdata.size() > 0xFFFF) throw wire_error("RDATA longer than 65535 octets");
            size_t before = w.size();
            write_rr(w, r);
            if (w.size() + tail.size() > max_size) {
                out.resize(base + before);
                truncated = true;
                break;
            }
            ++kept[s];
        }
    }
    if (kept[2] + tail_count > 0xFFFF) throw wire_error("more than 65535 additional records");
    w.bytes(tail);
    if (truncated) w.patch_u16(2, static_cast<uint16_t>(flags | f_tc));
    w.patch_u16(6, static_cast<uint16_t>(kept[0]));
    w.patch_u16(8, static_cast<uint16_t>(kept[1]));
    w.patch_u16(10, static_cast<uint16_t>(kept[2] + tail_count));
    return truncated;
}

std::string message::to_text() const {
    bool update = opcode == opcode::UPDATE;
    std::string out = ";; ->>HEADER<<- opcode: " + opcode_to_text(opcode) + ", status: " +
                      // 16 is BADVERS in a header (RFC 6891 §9), BADSIG only inside TSIG.
                      (rcode == rcode::BADVERS ? std::string("BADVERS") : rcode_to_text(rcode)) +
                      ", id: " + std::to_string(id) + "\n;; flags:";
    const std::pair<bool, const char*> bits[] = {{qr, "qr"}, {aa, "aa"}, {tc, "tc"}, {rd, "rd"},
                                                 {ra, "ra"}, {z, "z"},   {ad, "ad"}, {cd, "cd"}};
    for (const auto& [set, label] : bits)
        if (set) out += std::string(" ") + label;
    size_t arcount = additional.size() + (opt ? 1 : 0) + (tsig ? 1 : 0) + (sig0 ? 1 : 0);
    out += update ? "; ZONE: " : "; QUERY: ";
    out += std::to_string(questions.size());
    out += update ? ", PREREQ: " : ", ANSWER: ";
    out += std::to_string(answer.size());
    out += update ? ", UPDATE: " : ", AUTHORITY: ";
    out += std::to_string(authority.size()) + ", ADDITIONAL: " + std::to_string(arcount) + '\n';
    if (opt) {
        out += "\n;; OPT PSEUDOSECTION:\n";
        opt->append_text(out);
    }
    if (!questions.empty()) {
        out += update ? "\n;; ZONE SECTION:\n" : "\n;; QUESTION SECTION:\n";
        for (const auto& q : questions) {
            out += ';';
            q.qname.append_text(out);
            out += "\t\t" + class_to_text(q.qclass) + '\t' + type_to_text(q.qtype) + '\n';
        }
    }
    append_section(out, update ? "PREREQUISITE" : "ANSWER", answer);
    append_section(out, update ? "UPDATE" : "AUTHORITY", authority);
    append_section(out, "ADDITIONAL", additional);
    if (tsig) {
        out += "\n;; TSIG PSEUDOSECTION:\n";
        tsig->append_text(out);
        out += '\n';
    }
    if (sig0) {
        out += "\n;; SIG0 PSEUDOSECTION:\n";
        sig0->append_text(out);
        out += '\n';
    }
    return out;
}

bool operator==(const message& a, const message& b) {
    auto same_questions = [](const question& x, const question& y) {
        return std::ranges::equal(x.qname.wire(), y.qname.wire()) && x.qtype == y.qtype &&
               x.qclass == y.qclass;
    };
    return a.id == b.id && a.qr == b.qr && a.opcode == b.opcode && a.aa == b.aa && a.tc == b.tc &&
           a.rd == b.rd && a.ra == b.ra && a.z == b.z && a.ad == b.ad && a.cd == b.cd &&
           a.rcode == b.rcode && std::ranges::equal(a.questions, b.questions, same_questions) &&
           same_rrs(a.answer, b.answer) && same_rrs(a.authority, b.authority) &&
           same_rrs(a.additional, b.additional) && same_edns(a.opt, b.opt) &&
           same_optional_rr(a.tsig, b.tsig) && same_optional_rr(a.sig0, b.sig0);
}

}  // namespace hsync::dns
