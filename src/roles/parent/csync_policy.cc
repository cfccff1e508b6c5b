#include "roles/parent/csync_policy.h"

#include <algorithm>
#include <optional>
#include <tuple>
#include <utility>

#include "dns/error.h"
#include "dns/make_rr.h"
#include "dnssec/nsec.h"
#include "dnssec/rrsig.h"

namespace hsync::parent {

namespace {

csync_decision decided(csync_outcome outcome, std::string reason) {
    return decision<csync_decision>(outcome, std::move(reason));
}

csync_decision refused(std::string reason) {
    return decided(csync_outcome::refused, std::move(reason));
}

std::string status_text(const validated_rrset& rrset) {
    return std::string(validation_name(rrset.status)) +
           (rrset.reason.empty() ? "" : " (" + rrset.reason + ")");
}

// The serial of SOA RDATA (RFC 1035 §3.3.13), nullopt if it does not parse.
std::optional<uint32_t> soa_serial(std::span<const uint8_t> rdata) {
    dns::field_span fields[8];
    try {
        dns::rdata_check(dns::rr_type::SOA, rdata);
        if (dns::rdata_fields(dns::rr_type::SOA, rdata, fields) < 3) return std::nullopt;
    } catch (const dns::dns_error&) {
        return std::nullopt;
    }
    const uint8_t* p = rdata.data() + fields[2].offset;
    return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

// Glue in a comparable form: owner, type, canonical RDATA.
using glue_entry = std::tuple<dns::name, uint16_t, std::vector<uint8_t>>;

bool is_listed(const std::vector<uint16_t>& types, uint16_t type) {
    return std::binary_search(types.begin(), types.end(), type);
}

const validated_rrset* find_addresses(const csync_answer& a, const dns::name& host, uint16_t type) {
    for (const auto& h : a.addresses)
        if (h.host == host) return type == dns::rr_type::A ? &h.a : &h.aaaa;
    return nullptr;
}

}  // namespace

std::string_view csync_outcome_name(csync_outcome o) {
    switch (o) {
        case csync_outcome::unchanged:
            return "unchanged";
        case csync_outcome::updated:
            return "updated";
        case csync_outcome::refused:
            return "refused";
    }
    return "unknown";
}

csync_fields csync_fields::parse(std::span<const uint8_t> rdata) {
    if (rdata.size() < 6) throw dns::wire_error("CSYNC RDATA shorter than 6 octets");
    csync_fields f;
    f.serial =
        uint32_t{rdata[0]} << 24 | uint32_t{rdata[1]} << 16 | uint32_t{rdata[2]} << 8 | rdata[3];
    f.flags = static_cast<uint16_t>(rdata[4] << 8 | rdata[5]);
    f.types = dnssec::parse_type_bitmap(rdata.subspan(6));
    return f;
}

csync_decision decide_csync(const dns::name& child, std::span<const csync_answer> answers,
                            std::span<const dns::rr> current_ns,
                            std::span<const dns::rr> current_glue, const csync_policy& policy) {
    if (answers.empty()) return refused("no nameserver answers to decide on");
    std::vector<std::string> servers;
    for (const auto& a : answers)
        servers.push_back(a.server);

    // 1. CSYNC and SOA validated, of the right shape.
    for (const auto& a : answers) {
        for (auto [rrset, type] :
             {std::pair{&a.csync, dns::rr_type::CSYNC}, std::pair{&a.soa, dns::rr_type::SOA}}) {
            if (rrset->status != validation::secure)
                return refused(a.server + ": the " + dns::type_to_text(type) + " answer is " +
                               status_text(*rrset));
            std::string why = check_shape(rrset->records, child, type);
            if (!why.empty()) return refused(a.server + ": " + why);
        }
    }

    // 2. One CSYNC record, the same everywhere (RFC 9975).
    std::vector<std::string> fingerprints;
    for (const auto& a : answers) {
        fingerprints.emplace_back();
        append_fingerprint(canonical_rdata_set(a.csync.records), fingerprints.back());
    }
    std::string split = disagreement(servers, fingerprints);
    if (!split.empty()) return refused("the nameservers disagree on CSYNC: " + split);
    const rdata_set csync = canonical_rdata_set(answers.front().csync.records);
    if (csync.empty()) return decided(csync_outcome::unchanged, "no CSYNC published");
    if (csync.size() > 1)
        return refused(std::to_string(csync.size()) + " CSYNC records; hsync accepts one");
    csync_fields f;
    try {
        f = csync_fields::parse(csync.front());
    } catch (const dns::dns_error& e) {
        return refused(std::string("malformed CSYNC record: ") + e.what());
    }

    // 3. and 4. Flags.
    if (!(f.flags & csync_flag::IMMEDIATE))
        return refused(
            "not processed: immediate flag clear (hsync processes only CSYNC "
            "records with the immediate flag)");
    if (f.flags & csync_flag::SOAMINIMUM) {
        for (const auto& a : answers) {
            auto soa = canonical_rdata_set(a.soa.records);
            std::optional<uint32_t> serial;
            if (soa.size() == 1) serial = soa_serial(soa.front());
            if (!serial) return refused(a.server + ": no single valid SOA record");
            if (!dnssec::serial_le(f.serial, *serial))
                return refused("waiting: " + a.server + " serves SOA serial " +
                               std::to_string(*serial) + ", before the CSYNC serial " +
                               std::to_string(f.serial) + " (soaminimum)");
        }
    }

    // 5. The types synced.
    csync_decision result;
    for (uint16_t t : f.types)
        if (t != dns::rr_type::NS && t != dns::rr_type::A && t != dns::rr_type::AAAA)
            result.ignored_types.push_back(t);
    const bool sync_ns = is_listed(f.types, dns::rr_type::NS);
    const bool sync_a = is_listed(f.types, dns::rr_type::A);
    const bool sync_aaaa = is_listed(f.types, dns::rr_type::AAAA);
    if (!sync_ns && !sync_a && !sync_aaaa) {
        result.outcome = csync_outcome::unchanged;
        result.reason = "the CSYNC record lists none of NS, A and AAAA";
        return result;
    }

    // 6. The NS set.
    rdata_set ns;
    if (sync_ns) {
        fingerprints.clear();
        for (const auto& a : answers) {
            if (a.ns.status != validation::secure)
                return refused(a.server + ": the NS answer is " + status_text(a.ns));
            std::string why = check_shape(a.ns.records, child, dns::rr_type::NS);
            if (!why.empty()) return refused(a.server + ": " + why);
            fingerprints.emplace_back();
            append_fingerprint(canonical_rdata_set(a.ns.records), fingerprints.back());
        }
        split = disagreement(servers, fingerprints);
        if (!split.empty()) return refused("the nameservers disagree on NS: " + split);
        ns = canonical_rdata_set(answers.front().ns.records);
        if (ns.empty()) return refused("the child's NS RRset is empty; a delegation needs NS");
    } else {
        ns = canonical_rdata_set(current_ns);
        if (ns.empty())
            return refused(
                "the parent has no NS for the child, and the CSYNC record does not "
                "list NS");
    }
    if (ns.size() > policy.max_records)
        return refused(std::to_string(ns.size()) + " NS records, more than the " +
                       std::to_string(policy.max_records) + " accepted");

    // 7. Glue for the in-bailiwick names of the new NS set.
    std::vector<glue_entry> glue;
    for (const auto& rdata : ns) {
        dns::name host;
        try {
            host = dns::name::from_wire(rdata);
        } catch (const dns::dns_error& e) {
            return refused(std::string("malformed NS record: ") + e.what());
        }
        if (!host.is_subdomain_of(child)) continue;
        size_t before = glue.size();
        for (auto [type, listed] :
             {std::pair{dns::rr_type::A, sync_a}, std::pair{dns::rr_type::AAAA, sync_aaaa}}) {
            const std::string what = dns::type_to_text(type) + " records of " + host.to_text();
            rdata_set addresses;
            if (listed) {
                fingerprints.clear();
                for (const auto& a : answers) {
                    const validated_rrset* rrset = find_addresses(a, host, type);
                    if (!rrset) return refused(a.server + ": no answer for the " + what);
                    if (rrset->status != validation::secure)
                        return refused(a.server + ": the " + what + " are " + status_text(*rrset));
                    std::string why = check_shape(rrset->records, host, type);
                    if (!why.empty()) return refused(a.server + ": " + why);
                    fingerprints.emplace_back();
                    append_fingerprint(canonical_rdata_set(rrset->records), fingerprints.back());
                }
                split = disagreement(servers, fingerprints);
                if (!split.empty())
                    return refused("the nameservers disagree on the " + what + ": " + split);
                addresses =
                    canonical_rdata_set(find_addresses(answers.front(), host, type)->records);
            } else {
                std::vector<dns::rr> kept;
                for (const auto& r : current_glue)
                    if (r.type == type && r.owner == host) kept.push_back(r);
                addresses = canonical_rdata_set(kept);
            }
            if (addresses.size() > policy.max_records)
                return refused(std::to_string(addresses.size()) + " " + what + ", more than the " +
                               std::to_string(policy.max_records) + " accepted");
            for (auto& address : addresses)
                glue.emplace_back(host.canonical(), type, std::move(address));
        }
        if (glue.size() == before)
            return refused("the in-bailiwick nameserver " + host.to_text() +
                           " would have no glue address");
    }
    std::sort(glue.begin(), glue.end());

    // 8. Compare with the delegation as it is.
    std::vector<glue_entry> old_glue;
    for (const auto& r : current_glue) {
        if ((r.type != dns::rr_type::A && r.type != dns::rr_type::AAAA) ||
            !r.owner.is_subdomain_of(child))
            continue;
        old_glue.emplace_back(r.owner.canonical(), r.type, r.rdata);
    }
    std::sort(old_glue.begin(), old_glue.end());
    old_glue.erase(std::unique(old_glue.begin(), old_glue.end()), old_glue.end());
    if (ns == canonical_rdata_set(current_ns) && glue == old_glue) {
        result.outcome = csync_outcome::unchanged;
        result.reason = "NS and glue already as the child publishes them";
        return result;
    }

    const uint32_t ttl = current_ns.empty() ? policy.default_ttl : current_ns.front().ttl;
    result.outcome = csync_outcome::updated;
    for (auto& rdata : ns)
        result.ns.push_back(dns::make_rr(child, dns::rr_type::NS, ttl, std::move(rdata)));
    for (auto& [owner, type, rdata] : glue)
        result.glue.push_back(dns::make_rr(owner, type, ttl, std::move(rdata)));
    result.reason = "NS and glue updated from CSYNC serial " + std::to_string(f.serial) + ": " +
                    std::to_string(result.ns.size()) + " NS, " +
                    std::to_string(result.glue.size()) + " glue";
    return result;
}

}  // namespace hsync::parent
