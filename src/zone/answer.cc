#include "zone/answer.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace hsync::zone {
namespace {

namespace rr_type = dns::rr_type;
using node_id = zone_data::node_id;
constexpr node_id npos = zone_data::npos;

// The name in RDATA at `offset` (uncompressed wire form), or nullopt if malformed.
std::optional<dns::name> rdata_name(std::span<const uint8_t> rdata, size_t offset) {
    if (offset >= rdata.size()) return std::nullopt;
    try {
        size_t pos = offset;
        while (pos < rdata.size() && rdata[pos] != 0)
            pos += 1 + rdata[pos];
        if (pos >= rdata.size()) return std::nullopt;
        return dns::name::from_wire(rdata.subspan(offset, pos + 1 - offset));
    } catch (const dns::wire_error&) {
        return std::nullopt;
    }
}

// The ancestor-or-self of `n` with `labels` labels.
dns::name ancestor(const dns::name& n, size_t labels) {
    return n.parent(n.label_count() - labels);
}

// "*.<encloser>" (always fits: the encloser is shorter than the name it encloses).
dns::name wildcard_at(const dns::name& encloser) {
    uint8_t buf[dns::max_name_length + 2] = {1, '*'};
    auto w = encloser.wire();
    std::memcpy(buf + 2, w.data(), w.size());
    return dns::name::from_wire(
        std::span<const uint8_t>(buf, std::min(w.size() + 2, dns::max_name_length)));
}

class responder {
  public:
    responder(const zone_data& z, dns::message& r, bool dnssec) : z_(z), r_(r), dnssec_(dnssec) {}

    void run(dns::name cur, uint16_t qtype);

  private:
    enum class sec { answer, authority, additional };
    std::vector<dns::rr>& section(sec s) {
        return s == sec::answer ? r_.answer : s == sec::authority ? r_.authority : r_.additional;
    }

    void push(sec s, uint32_t idx, const dns::name* owner, const uint32_t* ttl) {
        dns::rr rec = z_.records()[idx].to_rr();
        if (owner) rec.owner = *owner;
        if (ttl) rec.ttl = *ttl;
        section(s).push_back(std::move(rec));
    }

    // Adds the RRset of `type` at `node` and, with DNSSEC, its RRSIGs. Proof records in
    // the authority section are added once. Returns false if there is no such RRset.
    bool add_rrset(sec s, node_id node, uint16_t type, const dns::name* owner = nullptr,
                   const uint32_t* ttl = nullptr, bool sigs = true) {
        auto rg = z_.rrset(node, type);
        if (rg.empty()) return false;
        if (s == sec::authority) {
            if (std::find(added_.begin(), added_.end(), rg.first) != added_.end()) return true;
            added_.push_back(rg.first);
        }
        for (uint32_t i = rg.first; i < rg.end; ++i)
            push(s, i, owner, ttl);
        if (dnssec_ && sigs) {
            // An RRSIG's TTL is that of the RRset it covers (RFC 4034 §3); the store keeps
            // one TTL for all RRSIGs at a name, so take the covered RRset's.
            const uint32_t sig_ttl = ttl ? *ttl : z_.records()[rg.first].ttl;
            auto sg = z_.rrsigs(node, type);
            for (uint32_t i = sg.first; i < sg.end; ++i)
                push(s, i, owner, &sig_ttl);
        }
        return true;
    }

    // Every RRset at `node` (QTYPE ANY). ANY asks for every type, RRSIG and NSEC included
    // (RFC 4035 §3.1.1), so they are given without DO too, as BIND does; with DO each
    // RRSIG comes after the RRset it covers.
    bool add_all(node_id node, const dns::name* owner) {
        auto rg = z_.node_records(node);
        bool any = false;
        uint16_t last = 0;
        for (uint32_t i = rg.first; i < rg.end; ++i) {
            uint16_t t = z_.records()[i].type;
            if (i != rg.first && t == last) continue;
            last = t;
            if (t == rr_type::RRSIG) {
                if (!dnssec_) {
                    for (uint32_t j = i; j < rg.end && z_.records()[j].type == t; ++j) {
                        auto v = z_.records()[j];
                        uint32_t sig_ttl = v.ttl;
                        if (v.rdata.size() >= 2) {
                            auto covered = z_.rrset(node, uint16_t(v.rdata[0] << 8 | v.rdata[1]));
                            if (!covered.empty()) sig_ttl = z_.records()[covered.first].ttl;
                        }
                        push(sec::answer, j, owner, &sig_ttl);
                        any = true;
                    }
                }
                continue;
            }
            any |= add_rrset(sec::answer, node, t, owner);
        }
        return any;
    }

    void add_nsec3(const zone_data::nsec3_entry* e) {
        if (!e) return;
        if (std::find(added_.begin(), added_.end(), e->records.first) != added_.end()) return;
        added_.push_back(e->records.first);
        uint32_t ttl = 0;
        for (uint32_t i = e->records.first; i < e->records.end; ++i)
            if (z_.records()[i].type == rr_type::NSEC3) ttl = z_.records()[i].ttl;
        for (uint32_t i = e->records.first; i < e->records.end; ++i) {
            auto v = z_.records()[i];
            bool ours = v.type == rr_type::NSEC3 ||
                        (v.type == rr_type::RRSIG && v.rdata.size() >= 2 &&
                         uint16_t(v.rdata[0] << 8 | v.rdata[1]) == rr_type::NSEC3);
            if (ours) push(sec::authority, i, nullptr, &ttl);
        }
    }

    void add_nsec_covering(const dns::name& n) {
        node_id id = z_.nsec_covering(n);
        if (id != npos) add_rrset(sec::authority, id, rr_type::NSEC);
    }

    void add_soa() {
        uint32_t ttl = z_.negative_ttl();
        add_rrset(sec::authority, 0, rr_type::SOA, nullptr, &ttl);
    }

    // RFC 5155 §7.2.1: the NSEC3 matching the closest provable encloser of `n` (starting
    // the search at `labels` labels, walking up past names without an NSEC3, which opt-out
    // leaves out) and the NSEC3 covering the next closer name. Returns the encloser.
    dns::name closest_encloser_proof(const dns::name& n, size_t labels) {
        const size_t apex_labels = z_.origin().label_count();
        for (size_t l = std::max(apex_labels, std::min(labels, n.label_count()));; --l) {
            dns::name ce = ancestor(n, l);
            if (auto m = z_.nsec3_match(z_.nsec3_hash(ce)); m || l <= apex_labels) {
                add_nsec3(m);
                if (l < n.label_count())
                    add_nsec3(z_.nsec3_cover(z_.nsec3_hash(ancestor(n, l + 1))));
                return ce;
            }
        }
    }

    // NODATA at an existing name (RFC 2308 §2.2; RFC 4035 §3.1.3.1; RFC 5155 §7.2.3/7.2.4).
    void nodata(const dns::name& n, node_id node) {
        add_soa();
        if (!dnssec_) return;
        if (z_.nsec3()) {
            if (auto m = z_.nsec3_match(z_.nsec3_hash(n)))
                add_nsec3(m);
            else  // an opt-out span (empty non-terminal or insecure delegation, DS query)
                closest_encloser_proof(n, n.label_count() - 1);
        } else if (!add_rrset(sec::authority, node, rr_type::NSEC)) {
            add_nsec_covering(n);  // an empty non-terminal: RFC 4035 §3.1.3.2
        }
    }

    // RFC 2308 §2.1; RFC 4035 §3.1.3.2; RFC 5155 §7.2.2.
    void nxdomain(const dns::name& n, const zone_data::lookup_result& lr) {
        r_.rcode = dns::rcode::NXDOMAIN;
        add_soa();
        if (!dnssec_) return;
        if (z_.nsec3()) {
            dns::name ce = closest_encloser_proof(n, lr.encloser_labels);
            add_nsec3(z_.nsec3_cover(z_.nsec3_hash(wildcard_at(ce))));
        } else {
            add_nsec_covering(n);
            add_nsec_covering(wildcard_at(z_.node_name(lr.closest_encloser)));
        }
    }

    // A wildcard answer proves the query name itself does not exist (RFC 4035 §3.1.3.3,
    // RFC 5155 §7.2.6: the NSEC3 covering the next closer name).
    void wildcard_proof(const dns::name& n, const zone_data::lookup_result& lr) {
        if (!dnssec_) return;
        if (z_.nsec3())
            add_nsec3(z_.nsec3_cover(z_.nsec3_hash(ancestor(n, lr.encloser_labels + 1))));
        else
            add_nsec_covering(n);
    }

    // RFC 4035 §3.1.3.4, RFC 5155 §7.2.5.
    void wildcard_nodata(const dns::name& n, const zone_data::lookup_result& lr, node_id wc) {
        add_soa();
        if (!dnssec_) return;
        if (z_.nsec3()) {
            dns::name ce = closest_encloser_proof(n, lr.encloser_labels);
            add_nsec3(z_.nsec3_match(z_.nsec3_hash(wildcard_at(ce))));
        } else {
            add_nsec_covering(n);
            add_rrset(sec::authority, wc, rr_type::NSEC);
        }
    }

    // RFC 1034 §4.3.2 step 3b, RFC 4035 §3.1.4: NS (unsigned), DS or the proof there is
    // none, glue. AA is cleared by the caller unless the answer holds authoritative data.
    void referral(node_id cut) {
        add_rrset(sec::authority, cut, rr_type::NS, nullptr, nullptr, false);
        // DS only for DO queries (RFC 4035 §3.1.4.1); the zone is signed if dnssec_.
        if (dnssec_ && !add_rrset(sec::authority, cut, rr_type::DS)) {
            dns::name n = z_.node_name(cut);
            if (z_.nsec3()) {
                if (auto m = z_.nsec3_match(z_.nsec3_hash(n)))
                    add_nsec3(m);
                else  // opt-out: RFC 5155 §7.2.7
                    closest_encloser_proof(n, n.label_count() - 1);
            } else {
                add_rrset(sec::authority, cut, rr_type::NSEC);
            }
        }
        add_targets(cut, rr_type::NS, true);
    }

    // Additional section processing (RFC 1035 §3.3.2, §3.3.9, RFC 2782): A and AAAA of
    // targets inside the zone. Glue (below a cut) only for referrals, unsigned.
    void add_targets(node_id node, uint16_t type, bool glue) {
        size_t offset = type == rr_type::MX ? 2 : type == rr_type::SRV ? 6 : 0;
        auto rg = z_.rrset(node, type);
        for (uint32_t i = rg.first; i < rg.end; ++i) {
            auto target = rdata_name(z_.records()[i].rdata, offset);
            if (!target || target->is_root() || !target->is_subdomain_of(z_.origin())) continue;
            const node_id node = z_.find(*target);
            if (node == npos) continue;
            auto lr = z_.lookup(target->canonical(), false);
            const bool below_cut = lr.delegation != npos;
            if ((below_cut && !glue) || lr.dname != npos) continue;
            if (std::find(extra_.begin(), extra_.end(), node) != extra_.end()) continue;
            extra_.push_back(node);
            add_rrset(sec::additional, node, rr_type::A, nullptr, nullptr, !below_cut);
            add_rrset(sec::additional, node, rr_type::AAAA, nullptr, nullptr, !below_cut);
        }
    }

    void positive_extras(node_id node, uint16_t type) {
        if (type == rr_type::NS || type == rr_type::MX || type == rr_type::SRV)
            add_targets(node, type, false);
    }

    const zone_data& z_;
    dns::message& r_;
    bool dnssec_;
    std::vector<uint32_t> added_;  // first records of authority RRsets already added
    std::vector<node_id> extra_;   // nodes whose addresses are in the additional section
};

void responder::run(dns::name cur, uint16_t qtype) {
    std::vector<dns::name> seen;
    for (int link = 0; link <= max_chain_length; ++link) {
        if (std::find(seen.begin(), seen.end(), cur) != seen.end()) return;  // a loop
        seen.push_back(cur);
        const auto lr = z_.lookup(cur, qtype == rr_type::DS);

        if (lr.delegation != npos) {
            referral(lr.delegation);
            if (r_.answer.empty()) r_.aa = false;
            return;
        }

        if (lr.dname != npos) {
            // RFC 6672 §3.1: the DNAME, then a CNAME from the query name to the name with
            // the DNAME owner replaced by its target, TTL of the DNAME, unsigned.
            add_rrset(sec::answer, lr.dname, rr_type::DNAME);
            auto dn = z_.rrset(lr.dname, rr_type::DNAME);
            auto dv = z_.records()[dn.first];
            auto target = rdata_name(dv.rdata, 0);
            if (!target) return;
            size_t prefix = cur.wire_size() - z_.node_owner(lr.dname).size();
            if (prefix + target->wire_size() > dns::max_name_length) {
                r_.rcode = dns::rcode::YXDOMAIN;  // RFC 6672 §2.2
                return;
            }
            std::vector<uint8_t> w(cur.data(), cur.data() + prefix);
            w.insert(w.end(), target->wire().begin(), target->wire().end());
            dns::name next = dns::name::from_wire(w);
            dns::rr cname;
            cname.owner = cur;
            cname.type = rr_type::CNAME;
            cname.ttl = dv.ttl;
            cname.rdata = w;
            r_.answer.push_back(std::move(cname));
            if (!next.is_subdomain_of(z_.origin())) return;
            cur = next.canonical();
            continue;
        }

        if (lr.exact != npos) {
            const node_id node = lr.exact;
            if (qtype == rr_type::ANY) {
                if (!add_all(node, nullptr)) nodata(cur, node);
                return;
            }
            if (qtype != rr_type::CNAME && add_rrset(sec::answer, node, rr_type::CNAME)) {
                auto target =
                    rdata_name(z_.records()[z_.rrset(node, rr_type::CNAME).first].rdata, 0);
                if (!target || !target->is_subdomain_of(z_.origin())) return;
                cur = target->canonical();
                continue;
            }
            if (add_rrset(sec::answer, node, qtype)) {
                positive_extras(node, qtype);
                return;
            }
            nodata(cur, node);
            return;
        }

        // No such name: a wildcard at the closest encloser (RFC 4592 §3.3.1) or NXDOMAIN.
        const node_id wc = z_.wildcard_of(lr.closest_encloser);
        if (wc == npos) {
            nxdomain(cur, lr);
            return;
        }
        if (qtype == rr_type::ANY) {
            if (add_all(wc, &cur))
                wildcard_proof(cur, lr);
            else
                wildcard_nodata(cur, lr, wc);
            return;
        }
        if (qtype != rr_type::CNAME && add_rrset(sec::answer, wc, rr_type::CNAME, &cur)) {
            wildcard_proof(cur, lr);
            auto target = rdata_name(z_.records()[z_.rrset(wc, rr_type::CNAME).first].rdata, 0);
            if (!target || !target->is_subdomain_of(z_.origin())) return;
            cur = target->canonical();
            continue;
        }
        if (add_rrset(sec::answer, wc, qtype, &cur)) {
            wildcard_proof(cur, lr);
            positive_extras(wc, qtype);
            return;
        }
        wildcard_nodata(cur, lr, wc);
        return;
    }
}

bool is_meta_formerr(uint16_t qtype) {
    // BIND's meta types other than those handled elsewhere: OPT, TSIG (and Q-range
    // types it marks meta) get FORMERR.
    return qtype == rr_type::OPT || qtype == rr_type::TSIG;
}

}  // namespace

dns::message make_response(const dns::message& query) {
    dns::message r;
    r.id = query.id;
    r.qr = true;
    r.opcode = query.opcode;
    r.rd = query.rd;
    r.cd = query.cd;
    if (query.questions.size() == 1) r.questions = query.questions;
    if (query.opt) {
        dns::edns e;
        e.udp_payload_size = our_udp_payload_size;
        e.version = 0;
        e.dnssec_ok = query.opt->dnssec_ok;
        r.opt = std::move(e);
    }
    return r;
}

dns::message error_response(const dns::message& query, uint16_t rcode) {
    dns::message r = make_response(query);
    r.rcode = rcode;
    if (rcode > 15 && !r.opt) r.rcode = dns::rcode::SERVFAIL;  // cannot be encoded
    return r;
}

std::optional<uint16_t> check_query(const dns::message& query) {
    if (query.opt && query.opt->version > 0) return dns::rcode::BADVERS;
    if (query.qr) return dns::rcode::FORMERR;
    if (query.opcode != dns::opcode::QUERY) return dns::rcode::NOTIMP;
    if (query.questions.size() != 1) return dns::rcode::FORMERR;
    const auto& q = query.questions[0];
    if (q.qclass != dns::rr_class::IN) return dns::rcode::REFUSED;
    switch (q.qtype) {
        case rr_type::AXFR:
        case rr_type::IXFR:
        case 253:  // MAILB
        case 254:  // MAILA
        case rr_type::TKEY:
            return dns::rcode::NOTIMP;
        default:
            break;
    }
    if (is_meta_formerr(q.qtype)) return dns::rcode::FORMERR;
    return std::nullopt;
}

dns::message answer(const zone_data* zone, const dns::message& query) {
    if (auto rc = check_query(query)) return error_response(query, *rc);
    const auto& q = query.questions[0];
    dns::name qname = q.qname.canonical();
    if (!zone || !qname.is_subdomain_of(zone->origin()))
        return error_response(query, dns::rcode::REFUSED);
    dns::message r = make_response(query);
    r.aa = true;
    const bool dnssec = zone->is_signed() && query.opt && query.opt->dnssec_ok;
    responder(*zone, r, dnssec).run(qname, q.qtype);
    return r;
}

}  // namespace hsync::zone
