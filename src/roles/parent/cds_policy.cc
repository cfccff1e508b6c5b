#include "roles/parent/cds_policy.h"

#include <algorithm>
#include <iterator>
#include <optional>
#include <utility>

#include "dns/make_rr.h"
#include "dnssec/key.h"
#include "dnssec/rrsig.h"

namespace hsync::parent {

namespace {

cds_decision decided(cds_outcome outcome, std::string reason) {
    return decision<cds_decision>(outcome, std::move(reason));
}

cds_decision refused(std::string reason) {
    return decided(cds_outcome::refused, std::move(reason));
}

// Octets of a digest of each known type (RFC 4509 §2.2, RFC 6605 §4); 0 if unknown.
size_t digest_size(uint8_t type) {
    switch (type) {
        case dnssec::digest_type::SHA1:
            return 20;
        case dnssec::digest_type::SHA256:
            return 32;
        case dnssec::digest_type::SHA384:
            return 48;
        default:
            return 0;
    }
}

uint16_t ds_key_tag(const std::vector<uint8_t>& ds) {
    return static_cast<uint16_t>(ds[0] << 8 | ds[1]);
}

std::string tag_list(const rdata_set& records, uint16_t (*tag_of)(const std::vector<uint8_t>&)) {
    std::vector<uint16_t> tags;
    for (const auto& r : records)
        tags.push_back(tag_of(r));
    std::sort(tags.begin(), tags.end());
    tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
    std::string out;
    for (uint16_t t : tags)
        out += (out.empty() ? "" : " ") + std::to_string(t);
    return out;
}

// What is wrong with one CDS record, "" if nothing (the delete form is handled before).
std::string check_cds(const std::vector<uint8_t>& ds) {
    if (ds.size() < 5) return "a CDS record shorter than 5 octets";
    std::string who = "the CDS for key tag " + std::to_string(ds_key_tag(ds));
    uint8_t alg = ds[2], type = ds[3];
    if (!dnssec::algorithm_supported(alg))
        return who + " uses algorithm " + dnssec::algorithm_name(alg) +
               ", which hsync cannot validate";
    if (!dnssec::digest_type_supported(type))
        return who + " uses unknown digest type " + std::to_string(type);
    if (ds.size() - 4 != digest_size(type))
        return who + " has a digest of " + std::to_string(ds.size() - 4) + " octets, not the " +
               std::to_string(digest_size(type)) + " of digest type " + std::to_string(type);
    return {};
}

std::string check_cdnskey(const std::vector<uint8_t>& rdata) {
    dnssec::key_rdata k;
    try {
        k = dnssec::key_rdata::parse(rdata);
    } catch (const dns::dns_error& e) {
        return std::string("a malformed CDNSKEY record: ") + e.what();
    }
    std::string who = "the CDNSKEY with key tag " + std::to_string(dnssec::key_tag(rdata));
    if (k.protocol != dnssec::key_protocol)
        return who + " has protocol " + std::to_string(k.protocol) + ", not 3";
    if (!(k.flags & dnssec::key_flag::ZONE)) return who + " is not a zone key (flags)";
    if (k.flags & dnssec::key_flag::REVOKE) return who + " is revoked (RFC 5011)";
    if (!dnssec::algorithm_supported(k.algorithm))
        return who + " uses algorithm " + dnssec::algorithm_name(k.algorithm) +
               ", which hsync cannot validate";
    return {};
}

// The zone keys of a DNSKEY RRset that can be read (others cannot sign anything we accept).
std::vector<dnssec::key> zone_keys(const dns::name& child, std::span<const dns::rr> dnskeys) {
    std::vector<dnssec::key> keys;
    for (const auto& r : dnskeys) {
        try {
            auto k = dnssec::key::from_rdata(child, r.rdata);
            if (k.is_zone_key() && k.protocol() == dnssec::key_protocol) keys.push_back(k);
        } catch (const dns::dns_error&) {
        }
    }
    return keys;
}

// The keys that some record of `ds` points to.
std::vector<dnssec::key> keys_matching(const dns::name& child, std::span<const dnssec::key> keys,
                                       const rdata_set& ds) {
    std::vector<dnssec::key> out;
    for (const auto& k : keys) {
        auto rdata = k.rdata();
        if (std::any_of(ds.begin(), ds.end(),
                        [&](const auto& d) { return dnssec::ds_matches(d, child, rdata); }))
            out.push_back(k);
    }
    return out;
}

// "" if one of `rrset`'s RRSIGs is valid at `now` with one of `keys`; else the last reason.
// `keys` are the keys the caller trusts here: an RRSIG by another key is named as such.
std::string signed_by(const validated_rrset& rrset, std::span<const dnssec::key> keys,
                      uint32_t now) {
    std::string last = "no RRSIG";
    for (const auto& sig : rrset.rrsigs) {
        auto result = dnssec::verify_rrsig(sig, rrset.records, keys, now);
        if (result.ok()) return {};
        last = result.reason;
        if (sig.rdata.size() >= 18) {
            uint16_t tag = static_cast<uint16_t>(sig.rdata[16] << 8 | sig.rdata[17]);
            if (std::none_of(keys.begin(), keys.end(),
                             [&](const dnssec::key& k) { return k.tag() == tag; }))
                last = "its RRSIG is by key " + std::to_string(tag) + ", which it does not";
        }
    }
    return last;
}

bool accepted(const cds_policy& policy, uint8_t digest_type) {
    return std::find(policy.digest_types.begin(), policy.digest_types.end(), digest_type) !=
           policy.digest_types.end();
}

// Step 7 of the header: the CDS and CDNSKEY RRsets of every nameserver signed by a key that
// `trusted_ds` points to.
std::optional<std::string> check_signers(const dns::name& child,
                                         std::span<const cds_answer> answers,
                                         const rdata_set& trusted_ds, bool initial, uint32_t now) {
    const char* which = initial ? "the new DS" : "the current DS";
    for (const auto& a : answers) {
        auto anchored = keys_matching(child, zone_keys(child, a.dnskey.records), trusted_ds);
        if (anchored.empty()) return a.server + ": no key of its DNSKEY RRset matches " + which;
        for (const validated_rrset* rrset : {&a.cds, &a.cdnskey}) {
            if (rrset->records.empty()) continue;
            std::string why = signed_by(*rrset, anchored, now);
            if (!why.empty())
                return a.server + ": the " + dns::type_to_text(rrset->records.front().type) +
                       " RRset is not signed by a key " + which +
                       " points to (RFC 7344 §4.1): " + why;
        }
    }
    return std::nullopt;
}

// Step 8: the new DS set keeps, on every nameserver, a key that signs the DNSKEY RRset.
std::optional<std::string> check_lock_out(const dns::name& child,
                                          std::span<const cds_answer> answers,
                                          const rdata_set& new_ds, uint32_t now) {
    for (const auto& a : answers) {
        bool reachable = false;
        for (const auto& k : keys_matching(child, zone_keys(child, a.dnskey.records), new_ds)) {
            if (signed_by(a.dnskey, std::span(&k, 1), now).empty()) {
                reachable = true;
                break;
            }
        }
        if (!reachable)
            return "the new DS set would lock the child out: on " + a.server +
                   " none of its records matches a key that signs the DNSKEY RRset";
    }
    return std::nullopt;
}

}  // namespace

std::string_view cds_outcome_name(cds_outcome o) {
    switch (o) {
        case cds_outcome::unchanged:
            return "unchanged";
        case cds_outcome::updated:
            return "updated";
        case cds_outcome::removed:
            return "removed";
        case cds_outcome::refused:
            return "refused";
    }
    return "unknown";
}

cds_decision decide_cds(const dns::name& child, std::span<const cds_answer> answers,
                        std::span<const dns::rr> current_ds, const cds_policy& policy,
                        uint32_t now) {
    if (answers.empty()) return refused("no nameserver answers to decide on");
    const bool has_ds = !current_ds.empty();

    // 1. Validation status. Without DS the child cannot validate as secure: insecure is
    // expected, and the initial-DS rules below take the place of the chain of trust.
    for (const auto& a : answers) {
        for (const validated_rrset* rrset : {&a.cds, &a.cdnskey, &a.dnskey}) {
            if (rrset->status == validation::secure) continue;
            if (rrset->status == validation::insecure && !has_ds) continue;
            const char* what = rrset == &a.cds ? "CDS" : rrset == &a.cdnskey ? "CDNSKEY" : "DNSKEY";
            return refused(a.server + ": the " + what + " answer is " +
                           std::string(validation_name(rrset->status)) +
                           (rrset->reason.empty() ? "" : " (" + rrset->reason + ")"));
        }
    }

    // 2. Shape and size.
    std::vector<std::string> servers, fingerprints;
    for (const auto& a : answers) {
        for (auto [rrset, type] :
             {std::pair{&a.cds, dns::rr_type::CDS}, std::pair{&a.cdnskey, dns::rr_type::CDNSKEY},
              std::pair{&a.dnskey, dns::rr_type::DNSKEY}}) {
            std::string why = check_shape(rrset->records, child, type);
            if (!why.empty()) return refused(a.server + ": " + why);
        }
        auto cds = canonical_rdata_set(a.cds.records);
        auto cdnskey = canonical_rdata_set(a.cdnskey.records);
        for (auto [set, what] : {std::pair{&cds, "CDS"}, std::pair{&cdnskey, "CDNSKEY"}}) {
            if (set->size() > policy.max_records)
                return refused(a.server + ": " + std::to_string(set->size()) + " " + what +
                               " records, more than the " + std::to_string(policy.max_records) +
                               " accepted");
        }
        servers.push_back(a.server);
        fingerprints.emplace_back();
        append_fingerprint(cds, fingerprints.back());
        append_fingerprint(cdnskey, fingerprints.back());
    }

    // 3. Consistency across nameservers (RFC 9975).
    std::string split = disagreement(servers, fingerprints);
    if (!split.empty()) return refused("the nameservers disagree on CDS/CDNSKEY: " + split);

    const rdata_set cds = canonical_rdata_set(answers.front().cds.records);
    const rdata_set cdnskey = canonical_rdata_set(answers.front().cdnskey.records);
    const rdata_set old_ds = canonical_rdata_set(current_ds);

    // 4. No signal, or the delete signal (RFC 8078 §4).
    if (cds.empty() && cdnskey.empty())
        return decided(cds_outcome::unchanged, "no CDS or CDNSKEY published");
    bool cds_delete =
        std::any_of(cds.begin(), cds.end(), [](const auto& r) { return dnssec::is_cds_delete(r); });
    bool cdnskey_delete = std::any_of(cdnskey.begin(), cdnskey.end(),
                                      [](const auto& r) { return dnssec::is_cdnskey_delete(r); });
    if (cds_delete && cds.size() > 1)
        return refused("the CDS delete record (RFC 8078 §4) is not alone in its RRset");
    if (cdnskey_delete && cdnskey.size() > 1)
        return refused("the CDNSKEY delete record (RFC 8078 §4) is not alone in its RRset");
    if (cds_delete || cdnskey_delete) {
        if ((!cds.empty() && !cds_delete) || (!cdnskey.empty() && !cdnskey_delete))
            return refused(
                "CDS and CDNSKEY are inconsistent: one asks to delete the DS, the "
                "other does not");
        if (!has_ds) return decided(cds_outcome::unchanged, "delete requested, and there is no DS");
        if (auto why = check_signers(child, answers, old_ds, false, now)) return refused(*why);
        return decided(cds_outcome::removed, "DS removed as the child asked (RFC 8078 §4)");
    }

    if (!has_ds && !policy.allow_initial_ds)
        return refused(
            "the delegation has no DS, and taking the first DS from CDS/CDNSKEY "
            "(RFC 8078 §3) is not allowed by policy");

    // 5. Every record usable.
    for (const auto& r : cds) {
        std::string why = check_cds(r);
        if (!why.empty()) return refused(why);
    }
    for (const auto& r : cdnskey) {
        std::string why = check_cdnskey(r);
        if (!why.empty()) return refused(why);
    }

    // 6. The new DS set.
    rdata_set new_ds;
    if (!cds.empty()) {
        std::vector<uint8_t> types_in_use;
        for (const auto& r : cds) {
            if (!accepted(policy, r[3])) continue;
            new_ds.push_back(r);
            if (std::find(types_in_use.begin(), types_in_use.end(), r[3]) == types_in_use.end())
                types_in_use.push_back(r[3]);
        }
        if (new_ds.empty()) return refused("no CDS record uses a digest type the parent accepts");
        if (!cdnskey.empty()) {
            rdata_set derived;
            for (const auto& k : cdnskey)
                for (uint8_t type : types_in_use)
                    derived.push_back(dnssec::ds_rdata(child, k, type));
            std::sort(derived.begin(), derived.end(), dns::rdata_less{});
            if (derived != new_ds) {
                rdata_set cds_only, cdnskey_only;
                std::set_difference(new_ds.begin(), new_ds.end(), derived.begin(), derived.end(),
                                    std::back_inserter(cds_only), dns::rdata_less{});
                std::set_difference(derived.begin(), derived.end(), new_ds.begin(), new_ds.end(),
                                    std::back_inserter(cdnskey_only), dns::rdata_less{});
                std::string detail;
                if (!cds_only.empty())
                    detail += "CDS for key tags " + tag_list(cds_only, ds_key_tag) +
                              " without a matching CDNSKEY";
                if (!cdnskey_only.empty())
                    detail += std::string(detail.empty() ? "" : "; ") + "CDNSKEY key tags " +
                              tag_list(cdnskey_only, ds_key_tag) + " without a matching CDS";
                return refused("CDS and CDNSKEY are inconsistent: " + detail);
            }
        }
    } else {
        for (const auto& k : cdnskey)
            for (uint8_t type : policy.digest_types)
                if (dnssec::digest_type_supported(type) && type != dnssec::digest_type::SHA1)
                    new_ds.push_back(dnssec::ds_rdata(child, k, type));
        if (new_ds.empty())
            return refused("the policy has no digest type to make DS records from CDNSKEY with");
        std::sort(new_ds.begin(), new_ds.end(), dns::rdata_less{});
        new_ds.erase(std::unique(new_ds.begin(), new_ds.end()), new_ds.end());
    }
    if (new_ds == old_ds)
        return decided(cds_outcome::unchanged, "the CDS/CDNSKEY set matches the current DS");

    // 7. Signed by a key the current DS points to (RFC 7344 §4.1). 8. No lock-out.
    if (auto why = check_signers(child, answers, has_ds ? old_ds : new_ds, !has_ds, now))
        return refused(*why);
    if (auto why = check_lock_out(child, answers, new_ds, now)) return refused(*why);

    cds_decision d;
    d.outcome = cds_outcome::updated;
    d.initial = !has_ds;
    uint32_t ttl = has_ds ? current_ds.front().ttl : policy.default_ds_ttl;
    for (auto& r : new_ds)
        d.ds.push_back(dns::make_rr(child, dns::rr_type::DS, ttl, std::move(r)));
    d.reason = std::string(d.initial ? "first DS set" : "DS set replaced") + ": key tags " +
               tag_list(canonical_rdata_set(d.ds), ds_key_tag);
    return d;
}

}  // namespace hsync::parent
