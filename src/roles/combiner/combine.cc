#include "roles/combiner/combine.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "dns/error.h"
#include "dns/rdata.h"
#include "dns/wire.h"
#include "zone/journal.h"
#include "zone/update.h"

namespace hsync::combiner {
namespace {

namespace t = dns::rr_type;
namespace rc = dns::rcode;

// The owner's DNSSEC records: the signer makes its own (RRSIG, NSEC/NSEC3 chains,
// NSEC3PARAM) and a ZONEMD (RFC 8976) no longer matches once agent data is in.
bool owner_dnssec_type(uint16_t type) {
    return type == t::RRSIG || type == t::NSEC || type == t::NSEC3 || type == t::NSEC3PARAM ||
           type == t::ZONEMD;
}

// RFC 2136 §3.4.2.3/§3.4.2.4 protect the apex NS RRset from deletion in a real zone; the
// agent's NS data is not a zone's NS RRset and must be replaceable as a whole, so it is
// updated under a private stand-in type and mapped back afterwards.
constexpr uint16_t ns_stand_in = 65533;

bool same_records(const std::vector<dns::rr>& a, const std::vector<dns::rr>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (!(a[i].owner == b[i].owner) || a[i].type != b[i].type || a[i].rclass != b[i].rclass ||
            a[i].ttl != b[i].ttl || a[i].rdata != b[i].rdata)
            return false;
    return true;
}

bool canonical_less(const dns::rr& a, const dns::rr& b) {
    return dns::canonical_compare(a, b) < 0;
}

dns::rr synthetic_soa(const dns::name& origin) {
    dns::rr soa;
    soa.owner = origin;
    soa.type = t::SOA;
    soa.rclass = dns::rr_class::IN;
    dns::wire_writer w(soa.rdata);
    w.name(origin, false);
    w.name(origin, false);
    for (int i = 0; i < 5; ++i)
        w.u32(i == 0 ? 1 : 0);
    return soa;
}

}  // namespace

bool is_agent_type(uint16_t type) {
    return std::find(std::begin(agent_types), std::end(agent_types), type) != std::end(agent_types);
}

bool agent_data::operator==(const agent_data& other) const {
    if (rrsets.size() != other.rrsets.size()) return false;
    for (auto a = rrsets.begin(), b = other.rrsets.begin(); a != rrsets.end(); ++a, ++b)
        if (a->first != b->first || !same_records(a->second.records, b->second.records) ||
            a->second.changed_at != b->second.changed_at ||
            a->second.changed_by != b->second.changed_by)
            return false;
    return true;
}

ns_mgmt ns_management(const dns::record_store& owner, const dns::name& origin) {
    auto [first, last] = zone::owner_range(owner, origin.canonical());
    size_t on = 0;
    for (size_t i = first; i < last; ++i) {
        auto v = owner[i];
        if (v.type != dns::hsync_code()) continue;
        // RDATA: State u8 | NSMgmt u8 | Sign u8 | Identity (docs/protocol.md).
        if (v.rdata.size() < 4) return ns_mgmt::owner;
        if (v.rdata[0] != 1) continue;  // only State=ON records speak for the zone
        if (v.rdata[1] != 2) return ns_mgmt::owner;
        ++on;
    }
    return on ? ns_mgmt::agent : ns_mgmt::owner;
}

std::optional<dns::zone_diff> combine_change(const dns::zone_diff& owner_change,
                                             const dns::record_store& owner_before,
                                             const agent_data& agent, const dns::name& origin,
                                             const dns::rr& served_soa, uint32_t served_serial) {
    dns::name apex = origin.canonical();
    for (const auto* list : {&owner_change.removed, &owner_change.added})
        for (const auto& r : *list)
            if (r.type == dns::hsync_code() && r.owner == apex) return std::nullopt;
    auto agent_ns = agent.rrsets.find(t::NS);
    bool use_agent_ns = ns_management(owner_before, origin) == ns_mgmt::agent &&
                        agent_ns != agent.rrsets.end() && !agent_ns->second.records.empty();
    auto kept = [&](const dns::rr& r) {
        if (owner_dnssec_type(r.type) || r.type == t::SOA) return false;
        if (r.owner == apex && is_agent_type(r.type) && (r.type != t::NS || use_agent_ns))
            return false;
        return true;
    };
    dns::zone_diff out;
    out.from_serial = zone::soa_serial(served_soa.rdata);
    out.to_serial = served_serial;
    dns::rr soa = served_soa;
    out.removed.push_back(soa);
    zone::set_soa_serial(soa.rdata, served_serial);
    // The owner's SOA fields other than the serial (timers, MNAME, TTL) follow the owner.
    for (const auto& r : owner_change.added)
        if (r.type == t::SOA && r.owner == apex) {
            soa = r;
            zone::set_soa_serial(soa.rdata, served_serial);
        }
    out.added.push_back(std::move(soa));
    for (const auto& r : owner_change.removed)
        if (kept(r)) out.removed.push_back(r);
    for (const auto& r : owner_change.added)
        if (kept(r)) out.added.push_back(r);
    return out;
}

dns::record_store combine(const dns::record_store& owner, const agent_data& agent,
                          const dns::name& origin, uint32_t served_serial) {
    dns::name apex = origin.canonical();
    auto [first, last] = zone::owner_range(owner, apex);
    auto agent_ns = agent.rrsets.find(t::NS);
    bool use_agent_ns = ns_management(owner, origin) == ns_mgmt::agent &&
                        agent_ns != agent.rrsets.end() && !agent_ns->second.records.empty();

    std::vector<dns::rr> top;
    bool soa = false;
    for (size_t i = first; i < last; ++i) {
        auto v = owner[i];
        if (owner_dnssec_type(v.type)) continue;
        if (is_agent_type(v.type) && (v.type != t::NS || use_agent_ns)) continue;
        dns::rr r = v.to_rr();
        if (r.type == t::SOA) {
            zone::set_soa_serial(r.rdata, served_serial);
            soa = true;
        }
        top.push_back(std::move(r));
    }
    if (!soa) throw dns::dns_error("the owner's zone has no SOA at " + apex.to_text());
    for (const auto& [type, set] : agent.rrsets) {
        if (type == t::NS && !use_agent_ns) continue;
        top.insert(top.end(), set.records.begin(), set.records.end());
    }
    std::sort(top.begin(), top.end(), canonical_less);

    // The owner's store is in canonical order, so the apex comes first (records before it
    // would be outside the zone) and the rest can be copied in order: no sort of the whole.
    dns::record_store out;
    auto copy = [&](size_t from, size_t to) {
        for (size_t i = from; i < to; ++i) {
            auto v = owner[i];
            if (!owner_dnssec_type(v.type)) out.add(v);
        }
    };
    copy(0, first);
    for (const auto& r : top)
        out.add(r);
    copy(last, owner.size());
    return out;
}

agent_update_result apply_agent_update(const agent_data& agent, const dns::name& origin,
                                       const dns::message& update, const dns::name& key,
                                       int64_t now, const agent_update_limits& limits) {
    agent_update_result res;
    res.data = agent;
    auto fail = [&](uint16_t rcode, std::string reason) {
        res.rcode = rcode;
        res.reason = std::move(reason);
        return res;
    };
    // Zone section first (RFC 2136 §3.1), as apply_update would.
    if (update.questions.size() != 1 || update.questions[0].qtype != t::SOA)
        return fail(rc::FORMERR, "the zone section must hold one SOA question");
    if (!(update.questions[0].qname == origin) || update.questions[0].qclass != dns::rr_class::IN)
        return fail(rc::NOTAUTH, "not this zone");
    if (update.answer.size() + update.authority.size() > limits.max_update_records)
        return fail(rc::REFUSED, "more than " + std::to_string(limits.max_update_records) +
                                     " prerequisite and update records");

    // Only the apex and the agent's types, in the classes RFC 2136 uses; checked before
    // anything is evaluated so that nothing of a forbidden UPDATE is applied.
    auto class_ok = [](uint16_t c) {
        return c == dns::rr_class::IN || c == dns::rr_class::ANY || c == dns::rr_class::NONE;
    };
    for (const auto& r : update.answer) {
        if (!(r.owner == origin))
            return fail(rc::REFUSED, "prerequisite on " + r.owner.to_text() +
                                         ": the combiner keeps only apex data of the agent");
        if (!is_agent_type(r.type) && r.type != t::ANY && r.type != t::SOA)
            return fail(rc::REFUSED,
                        "prerequisite on type " + dns::type_to_text(r.type) + " at the apex");
        if (!class_ok(r.rclass))
            return fail(rc::REFUSED, "prerequisite in class " + dns::class_to_text(r.rclass));
    }
    for (const auto& r : update.authority) {
        if (!(r.owner == origin))
            return fail(rc::REFUSED, "update of " + r.owner.to_text() + ": only the apex " +
                                         origin.to_text() + " may be changed");
        if (!is_agent_type(r.type))
            return fail(rc::REFUSED, "update of type " + dns::type_to_text(r.type) +
                                         ": only DNSKEY, CDS, CDNSKEY, CSYNC and NS");
        if (!class_ok(r.rclass))
            return fail(rc::REFUSED, "update in class " + dns::class_to_text(r.rclass));
    }

    // NS under its stand-in type; RDATA canonical (names lower-cased) before the switch.
    auto to_stand_in = [&](dns::rr r) {
        if (r.type == t::NS) {
            if (!r.rdata.empty()) {
                dns::wire_reader rd(r.rdata);
                rd.read_name(false);
                if (rd.remaining() != 0) throw dns::wire_error("NS RDATA longer than its name");
                r.canonicalize();
            }
            r.type = ns_stand_in;
        }
        return r;
    };
    dns::message m = update;
    dns::record_store working;
    try {
        for (auto& r : m.answer)
            r = to_stand_in(r);
        for (auto& r : m.authority)
            r = to_stand_in(r);
        working.add(synthetic_soa(origin));
        for (const auto& [type, set] : agent.rrsets)
            for (const auto& r : set.records)
                working.add(to_stand_in(r));
        working.sort();
    } catch (const dns::dns_error& e) {
        return fail(rc::FORMERR, std::string("malformed NS record: ") + e.what());
    }
    zone::update_policy policy;
    policy.allow_any = true;
    policy.max_records = limits.max_update_records;
    zone::update_result u = zone::apply_update(working, origin, m, policy, key);
    if (u.rcode != rc::NOERROR) return fail(u.rcode, u.reason);
    if (u.diff.empty()) return res;
    dns::record_store next = zone::apply(working, u.diff);

    std::map<uint16_t, std::vector<dns::rr>> now_sets;
    for (size_t i = 0; i < next.size(); ++i) {
        dns::rr r = next[i].to_rr();
        if (r.type == t::SOA) continue;
        if (r.type == ns_stand_in) r.type = t::NS;
        now_sets[r.type].push_back(std::move(r));
    }
    std::string key_text = key.canonical().to_text();
    for (uint16_t type : agent_types) {
        auto& records = now_sets[type];
        std::sort(records.begin(), records.end(), canonical_less);
        if (records.size() > limits.max_rrset_records)
            return fail(rc::REFUSED, dns::type_to_text(type) + " RRset would have " +
                                         std::to_string(records.size()) + " records (at most " +
                                         std::to_string(limits.max_rrset_records) + ")");
        auto old = agent.rrsets.find(type);
        const std::vector<dns::rr> none;
        const auto& before = old == agent.rrsets.end() ? none : old->second.records;
        if (same_records(before, records)) continue;
        res.data.rrsets[type] = agent_rrset{std::move(records), now, key_text};
        res.changed = true;
    }
    if (!res.changed) res.data = agent;
    return res;
}

// Format, one item a line:
//   rrset TYPE-NUMBER CHANGED-AT KEY     (KEY "-" when none)
//   rr TTL HEX-RDATA                     (records of the RRset above, owner = origin, IN)
std::string encode_agent_data(const agent_data& data) {
    static const char* hex = "0123456789abcdef";
    std::string out = "hsync-agent-data 1\n";
    for (const auto& [type, set] : data.rrsets) {
        out += "rrset " + std::to_string(type) + " " + std::to_string(set.changed_at) + " " +
               (set.changed_by.empty() ? "-" : set.changed_by) + "\n";
        for (const auto& r : set.records) {
            out += "rr " + std::to_string(r.ttl) + " ";
            for (uint8_t b : r.rdata) {
                out.push_back(hex[b >> 4]);
                out.push_back(hex[b & 15]);
            }
            out += r.rdata.empty() ? "-\n" : "\n";
        }
    }
    return out;
}

agent_data decode_agent_data(std::string_view text, const dns::name& origin) {
    agent_data out;
    std::istringstream in{std::string(text)};
    std::string line;
    int n = 0;
    agent_rrset* current = nullptr;
    uint16_t current_type = 0;
    auto bad = [&](const std::string& why) {
        throw std::runtime_error("agent data line " + std::to_string(n) + ": " + why);
    };
    auto hexval = [&](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        bad("bad hex digit");
        return 0;
    };
    while (std::getline(in, line)) {
        ++n;
        std::istringstream f(line);
        std::string word;
        f >> word;
        if (n == 1) {
            if (line != "hsync-agent-data 1") bad("unknown format");
            continue;
        }
        if (word == "rrset") {
            long long type = -1, at = 0;
            std::string key;
            if (!(f >> type >> at >> key) || !is_agent_type(static_cast<uint16_t>(type)) ||
                type > 65535)
                bad("bad rrset line");
            current_type = static_cast<uint16_t>(type);
            current = &out.rrsets[current_type];
            current->changed_at = at;
            current->changed_by = key == "-" ? std::string() : key;
        } else if (word == "rr") {
            long long ttl = -1;
            std::string hex;
            if (!current || !(f >> ttl >> hex) || ttl < 0 || ttl > 0xFFFFFFFFll) bad("bad rr line");
            dns::rr r;
            r.owner = origin.canonical();
            r.type = current_type;
            r.rclass = dns::rr_class::IN;
            r.ttl = static_cast<uint32_t>(ttl);
            if (hex != "-") {
                if (hex.size() % 2 || hex.size() > 2 * 65535) bad("bad RDATA length");
                for (size_t i = 0; i < hex.size(); i += 2)
                    r.rdata.push_back(
                        static_cast<uint8_t>(hexval(hex[i]) * 16 + hexval(hex[i + 1])));
            }
            current->records.push_back(std::move(r));
        } else if (!word.empty()) {
            bad("unknown item " + word);
        }
    }
    if (n == 0) bad("empty");
    return out;
}

}  // namespace hsync::combiner
