#include "roles/signer/sign.h"

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

#include "dns/rdata.h"
#include "dns/text.h"
#include "dnssec/ds.h"
#include "dnssec/nsec.h"
#include "dnssec/rrsig.h"
#include "zone/journal.h"

namespace hsync::signer {

namespace T = dns::rr_type;
using dnssec::key;

namespace {

bool generated_type(uint16_t t) {
    return t == T::RRSIG || t == T::NSEC || t == T::NSEC3 || t == T::NSEC3PARAM;
}

bool key_set_type(uint16_t t) {
    return t == T::DNSKEY || t == T::CDS || t == T::CDNSKEY;
}

uint32_t rdata_u32(std::span<const uint8_t> d, size_t at) {
    return uint32_t(d[at]) << 24 | uint32_t(d[at + 1]) << 16 | uint32_t(d[at + 2]) << 8 | d[at + 3];
}

// An RRset larger than this cannot be sent with its signatures in one DNS message (64 KiB
// over TCP, less header and question): such a zone is refused rather than served broken.
constexpr size_t max_rrset_octets = 64000;

[[noreturn]] void oversized(const dns::name& owner, uint16_t type, size_t octets) {
    throw dnssec::dnssec_error("RRset " + owner.to_text() + " " + dns::type_to_text(type) + " is " +
                               std::to_string(octets) +
                               " octets, more than fits in a DNS message with its signatures (" +
                               std::to_string(max_rrset_octets) + ")");
}

bool rr_less(const dns::rr& a, const dns::rr& b) {
    int c = dns::canonical_compare(a, b);
    return c < 0 || (c == 0 && a.ttl < b.ttl);
}

bool rr_same(const dns::rr& a, const dns::rr& b) {
    return dns::canonical_compare(a, b) == 0 && a.ttl == b.ttl;
}

// The apex as we publish it: serial set, our DNSKEYs in (policy TTL for the whole RRset),
// our CDS/CDNSKEY if the policy wants them and the input has none.
void fix_apex(std::vector<dns::rr>& apex, const sign_context& ctx) {
    bool have_cds = false;
    for (auto& r : apex) {
        if (r.type == T::SOA) zone::set_soa_serial(r.rdata, ctx.serial);
        if (r.type == T::DNSKEY) r.ttl = ctx.policy->dnskey_ttl;
        if (r.type == T::CDS || r.type == T::CDNSKEY) have_cds = true;
    }
    for (const zone_key* k : ctx.keys->published()) {
        dns::rr d = k->key.to_rr(ctx.policy->dnskey_ttl);
        if (std::none_of(apex.begin(), apex.end(), [&](const dns::rr& r) {
                return r.type == T::DNSKEY && r.rdata == d.rdata;
            }))
            apex.push_back(std::move(d));
    }
    if (ctx.policy->publish_cds && !have_cds) {
        for (const auto& k : ctx.keys->keys) {
            if (!k.signs_keys() || k.state != key_state::active) continue;
            apex.push_back(dnssec::make_cds(k.key, 2, ctx.policy->dnskey_ttl));  // SHA-256
            apex.push_back(dnssec::make_cdnskey(k.key, ctx.policy->dnskey_ttl));
        }
    }
}

std::vector<dns::rr> records_at(const dns::record_store& zone, const dns::name& owner) {
    auto [first, end] = zone::owner_range(zone, owner);
    std::vector<dns::rr> out;
    out.reserve(end - first);
    for (size_t i = first; i < end; ++i)
        out.push_back(zone[i].to_rr());
    return out;
}

// The records of `owner` as they are to be signed.
std::vector<dns::rr> prepared_at(const dns::record_store& unsigned_zone, const dns::name& owner,
                                 const sign_context& ctx) {
    std::vector<dns::rr> out = records_at(unsigned_zone, owner);
    std::erase_if(out, [](const dns::rr& r) { return generated_type(r.type); });
    if (owner == ctx.origin && !out.empty()) fix_apex(out, ctx);
    std::sort(out.begin(), out.end(), rr_less);
    out.erase(std::unique(out.begin(), out.end(),
                          [](const dns::rr& a, const dns::rr& b) {
                              return dns::canonical_compare(a, b) == 0;
                          }),
              out.end());
    // One TTL per RRset (RFC 2181 §5.2): the first one's, as record_store::sort does.
    size_t octets = 0;
    for (size_t i = 0; i < out.size(); ++i) {
        if (i > 0 && out[i].type == out[i - 1].type) {
            out[i].ttl = out[i - 1].ttl;
        } else {
            octets = 0;
        }
        octets += out[i].owner.wire_size() + 10 + out[i].rdata.size();
        if (octets > max_rrset_octets) oversized(owner, out[i].type, octets);
    }
    return out;
}

dnssec::sign_options options_of(const sign_context& ctx) {
    dnssec::sign_options o;
    o.now = ctx.now;
    o.inception = dnssec::rrsig_time(ctx.now - 3600);  // clock skew
    o.expiration = dnssec::rrsig_time(ctx.now + ctx.policy->validity);
    o.refresh = ctx.policy->refresh;
    o.nsec3 = ctx.policy->nsec3;
    o.nsec3_param.iterations = ctx.policy->nsec3_iterations;
    o.nsec3_param.salt = ctx.policy->nsec3_salt;
    o.opt_out = ctx.policy->nsec3_opt_out;
    o.threads = ctx.threads;
    return o;
}

}  // namespace

dns::record_store prepare(const dns::record_store& unsigned_zone, const sign_context& ctx) {
    dns::record_store out;
    auto [apex_first, apex_end] = zone::owner_range(unsigned_zone, ctx.origin);
    if (apex_first == apex_end) throw std::runtime_error("the unsigned zone has no apex records");
    for (const auto& r : prepared_at(unsigned_zone, ctx.origin, ctx))
        out.add(r);
    size_t octets = 0;  // of the RRset being read
    for (size_t i = 0; i < unsigned_zone.size(); ++i) {
        if (i == apex_first) {
            i = apex_end - 1;
            continue;
        }
        auto v = unsigned_zone[i];
        if (generated_type(v.type)) continue;
        bool same_set =
            i > 0 && v.type == unsigned_zone[i - 1].type &&
            std::equal(v.owner.begin(), v.owner.end(), unsigned_zone[i - 1].owner.begin(),
                       unsigned_zone[i - 1].owner.end());
        octets = (same_set ? octets : 0) + v.owner.size() + 10 + v.rdata.size();
        if (octets > max_rrset_octets) oversized(v.owner_name(), v.type, octets);
        out.add(v);
    }
    out.sort();
    return out;
}

dns::record_store sign_full(const dns::record_store& unsigned_zone, const sign_context& ctx,
                            dnssec::sign_stats* stats) {
    dns::record_store input = prepare(unsigned_zone, ctx);
    std::vector<key> keys = ctx.keys->signing_keys();
    if (keys.empty()) throw std::runtime_error("no active key");
    dns::record_store out;
    auto s = dnssec::sign_zone(input, ctx.origin, keys, options_of(ctx),
                               [&](const dns::record_view& v) { out.add(v.to_rr()); });
    if (stats) *stats = s;
    out.sort();
    return out;
}

std::optional<dns::zone_diff> sign_incremental(const dns::record_store& signed_zone,
                                               const dns::record_store& unsigned_zone,
                                               std::span<const dns::name> changed,
                                               const sign_context& ctx, incremental_stats* stats,
                                               size_t max_names,
                                               const zone::zone_data* signed_index) {
    const auto& policy = *ctx.policy;
    const dns::name& origin = ctx.origin;
    const bool nsec3 = policy.nsec3;
    dnssec::nsec3_params chain;  // as sign_full() makes it
    chain.iterations = policy.nsec3_iterations;
    chain.salt = policy.nsec3_salt;
    if (nsec3) {
        // The NSEC3 chain is followed through the served zone's index of it; a chain made
        // with other parameters is signed in full.
        if (!signed_index || !signed_index->nsec3()) return std::nullopt;
        const auto& have = *signed_index->nsec3_param();
        if (have.iterations != chain.iterations || have.salt != chain.salt) return std::nullopt;
    }
    std::vector<key> active = ctx.keys->signing_keys();
    if (active.empty()) throw std::runtime_error("no active key");
    auto soa_index = zone::find_soa(signed_zone);
    if (!soa_index) return std::nullopt;

    // Our signatures over the apex DNSKEY and SOA must be made by exactly the active keys;
    // otherwise the key set changed and every RRset needs new signatures.
    {
        std::set<std::pair<uint16_t, uint8_t>> want_keys, want_data, have_keys, have_data;
        for (const auto& k : ctx.keys->keys) {
            if (k.state != key_state::active) continue;
            if (k.signs_keys()) want_keys.insert({k.key.tag(), k.key.algorithm()});
            if (k.signs_data()) want_data.insert({k.key.tag(), k.key.algorithm()});
        }
        for (const auto& r : records_at(signed_zone, origin)) {
            if (r.type != T::RRSIG || r.rdata.size() < 18) continue;
            uint16_t covered = dnssec::rrsig_type_covered(r.rdata);
            std::pair<uint16_t, uint8_t> id{uint16_t(r.rdata[16] << 8 | r.rdata[17]), r.rdata[2]};
            if (covered == T::DNSKEY) have_keys.insert(id);
            if (covered == T::SOA) have_data.insert(id);
        }
        if (want_keys != have_keys || want_data != have_data) return std::nullopt;
    }

    std::vector<dns::name> targets(changed.begin(), changed.end());
    targets.push_back(origin);
    for (auto& n : targets)
        n.to_lower();
    std::sort(targets.begin(), targets.end());
    targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
    // NSEC3 owners among them (a signature refresh lists every owner with RRSIGs that
    // expire soon, hashed ones too) are not names of the zone: their NSEC3 is remade in
    // the chain step below, kept apart from the names.
    std::vector<dnssec::nsec3_hash_value> hashed_targets;
    if (nsec3)
        std::erase_if(targets, [&](const dns::name& x) {
            auto w = x.wire();
            if (x.label_count() != origin.label_count() + 1 || !x.is_subdomain_of(origin))
                return false;
            std::vector<uint8_t> raw;
            try {
                dns::parse_base32hex(
                    std::string_view(reinterpret_cast<const char*>(w.data() + 1), w[0]), raw);
            } catch (const std::exception&) {
                return false;
            }
            dnssec::nsec3_hash_value h{};
            if (raw.size() != h.size()) return false;
            std::copy(raw.begin(), raw.end(), h.begin());
            if (!signed_index->nsec3_match(h)) return false;
            hashed_targets.push_back(h);
            return true;
        });
    if (max_names == 0) max_names = std::max<size_t>(100, signed_zone.size() / 10);
    if (targets.size() > max_names) return std::nullopt;

    auto has_type = [](const dns::record_store& z, const dns::name& n, uint16_t type) {
        auto [a, b] = zone::owner_range(z, n);
        for (size_t i = a; i < b; ++i)
            if (z[i].type == type) return true;
        return false;
    };
    // A zone cut made or removed, or a DNAME anywhere near, changes what is authoritative
    // below it: full signing. Names below an unchanged cut (glue) are copied unsigned.
    std::set<dns::name> occluded, cuts;
    for (const auto& x : targets) {
        if (!x.is_subdomain_of(origin)) throw std::runtime_error(x.to_text() + " is out of zone");
        if (x == origin) continue;
        bool ns_old = has_type(signed_zone, x, T::NS), ns_new = has_type(unsigned_zone, x, T::NS);
        if (ns_old != ns_new) return std::nullopt;
        if (ns_new) cuts.insert(x);
        for (size_t up = 0; up + origin.label_count() < x.label_count(); ++up) {
            dns::name a = x.parent(up);
            if (has_type(unsigned_zone, a, T::DNAME) || has_type(signed_zone, a, T::DNAME))
                return std::nullopt;
            if (up > 0 && has_type(unsigned_zone, a, T::NS)) occluded.insert(x);
        }
    }

    // Which names enter or leave the NSEC chain (NSEC3: below, after the names).
    auto in_new = [&](const dns::name& n) {
        if (occluded.count(n)) return false;
        auto [a, b] = zone::owner_range(unsigned_zone, n);
        for (size_t i = a; i < b; ++i)
            if (!generated_type(unsigned_zone[i].type)) return true;
        return false;
    };
    std::vector<dns::name> added, removed;  // sorted (targets are)
    for (const auto& x : nsec3 ? std::vector<dns::name>{} : targets) {
        bool was = has_type(signed_zone, x, T::NSEC), is = in_new(x);
        if (is && !was) added.push_back(x);
        if (was && !is) removed.push_back(x);
    }
    auto is_removed = [&](const dns::name& n) {
        return std::binary_search(removed.begin(), removed.end(), n);
    };
    // Neighbours in the new chain: the old chain's NSEC owners less the removed ones, plus
    // the added ones.
    auto nsec_owner_before = [&](size_t pos) -> std::optional<dns::name> {
        while (pos-- > 0) {
            auto v = signed_zone[pos];
            if (v.type != T::NSEC) continue;
            dns::name n = v.owner_name();
            if (!is_removed(n)) return n;
        }
        return std::nullopt;
    };
    auto predecessor = [&](const dns::name& x) {
        auto [first, end] = zone::owner_range(signed_zone, x);
        (void)end;
        dns::name best = origin;
        if (auto p = nsec_owner_before(first)) best = *p;
        auto it = std::lower_bound(added.begin(), added.end(), x);
        if (it != added.begin() && *(it - 1) > best) best = *(it - 1);
        return best;
    };
    auto successor = [&](const dns::name& y) {
        auto [first, end] = zone::owner_range(signed_zone, y);
        (void)first;
        std::optional<dns::name> best;
        for (size_t i = end; i < signed_zone.size(); ++i) {
            auto v = signed_zone[i];
            if (v.type != T::NSEC) continue;
            dns::name n = v.owner_name();
            if (!is_removed(n)) {
                best = n;
                break;
            }
        }
        auto it = std::upper_bound(added.begin(), added.end(), y);
        if (it != added.end() && (!best || *it < *best)) best = *it;
        return best ? *best : origin;  // the last name's NSEC points at the apex
    };
    std::vector<dns::name> work = targets;
    for (const auto* list : {&added, &removed})
        for (const auto& x : *list)
            work.push_back(predecessor(x));
    std::sort(work.begin(), work.end());
    work.erase(std::unique(work.begin(), work.end()), work.end());

    const uint32_t inception = dnssec::rrsig_time(ctx.now - 3600);
    const uint32_t expiration = dnssec::rrsig_time(ctx.now + policy.validity);
    const uint32_t keep_until = dnssec::rrsig_time(ctx.now + policy.refresh);

    incremental_stats st;
    // Signatures for one RRset at `y`: each fitting active key's RRSIG is kept from `old`
    // when the RRset is `same` as before and the RRSIG does not expire soon, else made.
    auto sign_rrset = [&](const dns::name& y, uint16_t type, uint32_t ttl,
                          std::span<const std::span<const uint8_t>> rdata, bool same,
                          const std::vector<dns::rr>& old, std::vector<dns::rr>& fresh) {
        bool by_ksk = y == origin && key_set_type(type);
        for (const auto& k : active) {
            bool ksk = k.is_sep();
            const zone_key* zk = ctx.keys->find(k.tag());
            bool fits = zk ? (by_ksk ? zk->signs_keys() : zk->signs_data()) : (by_ksk ? ksk : !ksk);
            if (!fits) continue;
            bool kept = false;
            if (same) {
                for (const auto& r : old) {
                    if (r.type != T::RRSIG || r.rdata.size() < 18 ||
                        dnssec::rrsig_type_covered(r.rdata) != type ||
                        r.rdata[2] != k.algorithm() ||
                        (r.rdata[16] << 8 | r.rdata[17]) != k.tag() ||
                        rdata_u32(r.rdata, 4) != ttl ||
                        !dnssec::serial_lt(keep_until, rdata_u32(r.rdata, 8)))
                        continue;
                    fresh.push_back(r);
                    ++st.signatures_kept;
                    kept = true;
                    break;
                }
            }
            if (kept) continue;
            fresh.push_back({y, T::RRSIG, dns::rr_class::IN, ttl,
                             dnssec::make_rrsig(k, y, type, dns::rr_class::IN, ttl, rdata,
                                                inception, expiration)});
            ++st.signatures_new;
        }
    };
    // Only what differs between a name's old and new records goes into the difference.
    dns::zone_diff change;
    auto add_difference = [&change](std::vector<dns::rr>& old, std::vector<dns::rr>& fresh) {
        size_t i = 0, j = 0;
        while (i < old.size() || j < fresh.size()) {
            if (j == fresh.size() || (i < old.size() && rr_less(old[i], fresh[j]))) {
                change.removed.push_back(std::move(old[i++]));
            } else if (i == old.size() || rr_less(fresh[j], old[i])) {
                change.added.push_back(std::move(fresh[j++]));
            } else {
                ++i;
                ++j;
            }
        }
    };
    change.from_serial = zone::soa_serial(signed_zone[*soa_index].rdata);
    change.to_serial = ctx.serial;
    uint32_t denial_ttl = 0;

    for (const auto& y : work) {
        std::vector<dns::rr> old = records_at(signed_zone, y);
        std::sort(old.begin(), old.end(), rr_less);
        std::vector<dns::rr> fresh;
        std::vector<dns::rr> data = prepared_at(unsigned_zone, y, ctx);
        if (occluded.count(y)) {
            fresh = std::move(data);  // glue: not signed, not in the NSEC chain
        } else if (!data.empty()) {
            // A delegation whose NSEC is remade only because a neighbour changed is a cut too.
            const bool cut =
                y != origin && (cuts.count(y) > 0 || has_type(unsigned_zone, y, T::NS));
            ++st.names;
            // RFC 4034 §4: the NSEC TTL is the SOA's negative TTL (RFC 9077: the smaller of
            // the SOA's TTL and MINIMUM). The apex comes first in `work`.
            if (y == origin)
                for (const auto& r : data)
                    if (r.type == T::SOA)
                        denial_ttl = std::min(r.ttl, rdata_u32(r.rdata, r.rdata.size() - 4));
            // The NSEC, then every RRset signed (kept where unchanged and not expiring).
            // At a cut only NS and DS are the parent's, and only DS is signed (RFC 4035 §2.2).
            std::vector<uint16_t> types;
            for (const auto& r : data)
                if ((types.empty() || types.back() != r.type) &&
                    (!cut || r.type == T::NS || r.type == T::DS))
                    types.push_back(r.type);
            if (!nsec3) {
                types.push_back(T::RRSIG);
                types.push_back(T::NSEC);
                std::sort(types.begin(), types.end());
                dns::rr nsec{y, T::NSEC, dns::rr_class::IN, denial_ttl,
                             dnssec::nsec_rdata(successor(y), types)};
                data.push_back(std::move(nsec));
            } else if (y == origin) {
                // RFC 5155 §4.1.2: flags zero; TTL 0 as sign_full() publishes it.
                data.push_back({y, T::NSEC3PARAM, dns::rr_class::IN, 0, chain.to_wire()});
            }
            std::sort(data.begin(), data.end(), rr_less);
            for (size_t a = 0; a < data.size();) {
                size_t b = a;
                while (b < data.size() && data[b].type == data[a].type)
                    ++b;
                uint16_t type = data[a].type;
                uint32_t ttl = data[a].ttl;
                if (cut && type != T::DS && type != T::NSEC) {
                    a = b;
                    continue;
                }
                std::vector<std::span<const uint8_t>> rdata;
                for (size_t i = a; i < b; ++i)
                    rdata.push_back(data[i].rdata);
                // Unchanged: the old RRset has exactly these records with this TTL.
                std::vector<const dns::rr*> old_set;
                for (const auto& r : old)
                    if (r.type == type) old_set.push_back(&r);
                bool same = old_set.size() == b - a;
                for (size_t i = 0; same && i < old_set.size(); ++i)
                    same = rr_same(*old_set[i], data[a + i]);
                sign_rrset(y, type, ttl, rdata, same, old, fresh);
                a = b;
            }
            fresh.insert(fresh.end(), std::make_move_iterator(data.begin()),
                         std::make_move_iterator(data.end()));
            std::sort(fresh.begin(), fresh.end(), rr_less);
        }
        add_difference(old, fresh);
    }
    if (nsec3) {
        // The NSEC3 chain (RFC 5155 §7.1): every authoritative name and delegation, and the
        // empty non-terminals above them. A change can add or remove the touched names and
        // their ancestors (empty non-terminals come and go), change their type bitmaps, and
        // re-link the chain where hashes come and go: those NSEC3 records are remade, the
        // rest keep theirs.
        std::set<dns::name> candidates(targets.begin(), targets.end());
        for (const auto& x : targets)
            for (size_t up = 1; up + origin.label_count() < x.label_count(); ++up)
                candidates.insert(x.parent(up));
        auto below_cut = [&](const dns::name& y) {
            for (size_t up = 1; up + origin.label_count() < y.label_count(); ++up)
                if (has_type(unsigned_zone, y.parent(up), T::NS)) return true;
            return false;
        };
        auto has_data = [&](const dns::name& y) {
            auto [a, b] = zone::owner_range(unsigned_zone, y);
            for (size_t i = a; i < b; ++i)
                if (!generated_type(unsigned_zone[i].type)) return true;
            return false;
        };
        // Something below `y` in the chain: authoritative data or, with opt-out, a secure
        // delegation (an insecure one and all below it are skipped: RFC 5155 §7.1 leaves
        // out empty non-terminals that lead only to such). Looks at most this many records
        // below `y`; past that, sign in full.
        bool too_far = false;
        auto has_chained_descendant = [&](const dns::name& y) {
            auto [a, b] = zone::owner_range(unsigned_zone, y);
            (void)a;
            std::optional<dns::name> skip;
            for (size_t i = b, seen = 0; i < unsigned_zone.size(); ++i) {
                if (++seen > 10000) {
                    too_far = true;
                    return false;
                }
                auto v = unsigned_zone[i];
                dns::name below = v.owner_name();
                if (!below.is_subdomain_of(y)) return false;
                if ((skip && below.is_subdomain_of(*skip)) || generated_type(v.type)) continue;
                if (!policy.nsec3_opt_out || !has_type(unsigned_zone, below, T::NS) ||
                    has_type(unsigned_zone, below, T::DS))
                    return true;
                skip = below;
            }
            return false;
        };
        auto in_chain = [&](const dns::name& y) {
            if (y == origin) return true;
            if (below_cut(y)) return false;
            if (!has_data(y)) return has_chained_descendant(y);
            // With opt-out an insecure delegation has no NSEC3 (RFC 5155 §6).
            return !policy.nsec3_opt_out || !has_type(unsigned_zone, y, T::NS) ||
                   has_type(unsigned_zone, y, T::DS);
        };
        struct link {
            dnssec::nsec3_hash_value hash;
            const dns::name* name;
            bool in;
        };
        std::vector<link> links;
        std::vector<dnssec::nsec3_hash_value> gone, come;
        for (const auto& y : candidates) {
            auto h = dnssec::nsec3_hash(y, chain.iterations, chain.salt);
            bool was = signed_index->nsec3_match(h) != nullptr;
            bool is = in_chain(y);
            links.push_back({h, &y, is});
            if (was && !is) gone.push_back(h);
            if (is && !was) come.push_back(h);
        }
        if (too_far) return std::nullopt;
        std::sort(gone.begin(), gone.end());
        std::sort(come.begin(), come.end());
        auto entries = signed_index->nsec3_entries();
        auto is_gone = [&](const dnssec::nsec3_hash_value& h) {
            return std::binary_search(gone.begin(), gone.end(), h);
        };
        // Neighbours in the new chain: the old chain less `gone`, plus `come`.
        auto neighbour = [&](const dnssec::nsec3_hash_value& h, bool after) {
            std::optional<dnssec::nsec3_hash_value> best;
            auto better = [&](const dnssec::nsec3_hash_value& c) {
                if (c == h) return;
                bool side = after ? h < c : c < h;
                if (!best) {
                    best = c;
                    return;
                }
                bool best_side = after ? h < *best : *best < h;
                if (side != best_side) {
                    if (side) best = c;
                } else if (after ? c < *best : *best < c) {
                    best = c;
                }
            };
            // Old chain: walk from h's place, past removed entries, both ways round.
            if (!entries.empty()) {
                auto it = std::lower_bound(entries.begin(), entries.end(), h,
                                           [](const zone::zone_data::nsec3_entry& e,
                                              const auto& v) { return e.hash < v; });
                size_t n = entries.size(), at = size_t(it - entries.begin());
                for (size_t step = 0; step < n; ++step) {
                    size_t k = after ? (at + step) % n : (at + n - 1 - step) % n;
                    const auto& c = entries[k].hash;
                    if (c == h || is_gone(c)) continue;
                    better(c);
                    break;
                }
            }
            auto it = std::lower_bound(come.begin(), come.end(), h);
            if (after) {
                if (it != come.end() && *it == h) ++it;
                if (it != come.end())
                    better(*it);
                else if (!come.empty())
                    better(come.front());
            } else {
                if (it != come.begin())
                    better(*(it - 1));
                else if (!come.empty())
                    better(come.back());
            }
            return best ? *best : h;  // a chain of one links to itself
        };
        // What to remake: every candidate in the new chain, and the new predecessor of
        // every hash that came or went.
        std::map<dnssec::nsec3_hash_value, const dns::name*> remake;
        for (const auto& l : links)
            if (l.in) remake[l.hash] = l.name;
        for (const auto& h : hashed_targets)  // signatures to refresh; link as it is
            if (!is_gone(h)) remake.emplace(h, nullptr);
        for (const auto* list : {&gone, &come})
            for (const auto& h : *list) {
                auto p = neighbour(h, false);
                if (!is_gone(p) && p != h) remake.emplace(p, nullptr);
            }
        for (const auto& h : gone) {
            dns::name owner = dnssec::nsec3_owner(h, origin);
            std::vector<dns::rr> old = records_at(signed_zone, owner), none;
            add_difference(old, none);
        }
        std::vector<uint16_t> types;
        for (const auto& [h, y] : remake) {
            dns::name owner = dnssec::nsec3_owner(h, origin);
            std::vector<dns::rr> old = records_at(signed_zone, owner);
            std::sort(old.begin(), old.end(), rr_less);
            auto next = neighbour(h, true);
            types.clear();
            if (y) {
                // The bitmap as sign_full() writes it: a delegation lists NS and DS (and
                // RRSIG only with a DS); empty non-terminals list nothing.
                const bool cut = *y != origin && has_type(unsigned_zone, *y, T::NS);
                bool ds = false;
                for (const auto& r : prepared_at(unsigned_zone, *y, ctx)) {
                    if (cut && r.type != T::NS && r.type != T::DS) continue;
                    if (r.type == T::DS) ds = true;
                    if (types.empty() || types.back() != r.type) types.push_back(r.type);
                }
                if (*y == origin) types.push_back(T::NSEC3PARAM);
                if (!types.empty() && (!cut || ds)) types.push_back(T::RRSIG);
                std::sort(types.begin(), types.end());
            } else {
                // Only its next hash changes: the bitmap stays as it was.
                bool found = false;
                for (const auto& r : old)
                    if (r.type == T::NSEC3) {
                        types = dnssec::nsec3_fields::parse(r.rdata).types;
                        found = true;
                    }
                if (!found) throw std::logic_error("NSEC3 chain lost a link: " + owner.to_text());
            }
            dns::rr record{owner, T::NSEC3, dns::rr_class::IN, denial_ttl,
                           dnssec::nsec3_rdata(chain, policy.nsec3_opt_out, next, types)};
            bool same = false;
            for (const auto& r : old)
                if (r.type == T::NSEC3) same = rr_same(r, record);
            std::vector<dns::rr> fresh;
            std::span<const uint8_t> rdata[1] = {record.rdata};
            sign_rrset(owner, T::NSEC3, denial_ttl, rdata, same, old, fresh);
            fresh.push_back(std::move(record));
            std::sort(fresh.begin(), fresh.end(), rr_less);
            add_difference(old, fresh);
        }
    }
    // The SOAs first, as an IXFR difference lists them (RFC 1995 §4).
    for (auto* list : {&change.removed, &change.added}) {
        auto it = std::find_if(list->begin(), list->end(), [&](const dns::rr& r) {
            return r.type == T::SOA && r.owner == origin;
        });
        if (it == list->end()) throw std::logic_error("incremental signing lost the SOA");
        std::rotate(list->begin(), it, it + 1);
    }
    if (stats) *stats = st;
    return change;
}

std::vector<dns::name> expiring_owners(const dns::record_store& signed_zone,
                                       const sign_context& ctx, size_t limit) {
    const uint32_t keep_until = dnssec::rrsig_time(ctx.now + ctx.policy->refresh);
    std::vector<dns::name> out;
    std::span<const uint8_t> last;
    for (size_t i = 0; i < signed_zone.size() && out.size() < limit; ++i) {
        auto v = signed_zone[i];
        if (v.type != T::RRSIG || v.rdata.size() < 18) continue;
        if (dnssec::serial_lt(keep_until, rdata_u32(v.rdata, 8))) continue;
        if (!last.empty() && std::equal(last.begin(), last.end(), v.owner.begin(), v.owner.end()))
            continue;
        last = v.owner;
        out.push_back(v.owner_name());
    }
    return out;
}

std::optional<uint32_t> earliest_expiration(const dns::record_store& signed_zone) {
    std::optional<uint32_t> best;
    for (size_t i = 0; i < signed_zone.size(); ++i) {
        auto v = signed_zone[i];
        if (v.type != T::RRSIG || v.rdata.size() < 18) continue;
        uint32_t e = rdata_u32(v.rdata, 8);
        if (!best || dnssec::serial_lt(e, *best)) best = e;
    }
    return best;
}

uint32_t max_ttl(const dns::record_store& zone) {
    uint32_t m = 0;
    for (size_t i = 0; i < zone.size(); ++i)
        m = std::max(m, zone[i].ttl);
    return m;
}

}  // namespace hsync::signer
