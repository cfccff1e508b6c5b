#include "dnssec/zone_verifier.h"

#include "dnssec/parallel.h"

#include <algorithm>
#include <atomic>
#include <bitset>
#include <ctime>
#include <exception>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "dns/rdata.h"
#include "dns/text.h"
#include "dnssec/ds.h"
#include "dnssec/key.h"
#include "dnssec/nsec.h"
#include "dnssec/rrsig.h"

namespace hsync::dnssec {
namespace {

namespace T = dns::rr_type;

enum class name_kind : uint8_t { apex, auth, delegation, glue, denial_only };

struct vset {
    uint32_t first, count;
    uint16_t type;
};

struct vname {
    uint32_t first_set, set_count;
    name_kind kind;
    bool has_ds;
};

std::string types_text(const std::vector<uint16_t>& types) {
    std::string s;
    for (auto t : types) {
        if (!s.empty()) s += ' ';
        s += dns::type_to_text(t);
    }
    return s.empty() ? "(none)" : s;
}

std::string hash_text(std::span<const uint8_t> h) {
    return nsec3_label(h);
}

constexpr size_t chunk_names = 512;

class zone_verification {
  public:
    zone_verification(const dns::record_store& zone, const dns::name& origin,
                      const zone_verify_options& options)
        : store_(zone), origin_(origin.canonical()), options_(options) {
        int64_t now = options.now ? options.now : static_cast<int64_t>(std::time(nullptr));
        now32_ = rrsig_time(now);
        threads_ = options.threads ? options.threads : std::thread::hardware_concurrency();
        if (threads_ == 0) threads_ = 1;
    }

    zone_verify_report run() {
        index();
        if (names_.empty() || names_[0].kind != name_kind::apex) {
            error("no records at the apex " + origin_.to_text());
            return std::move(report_);
        }
        if (!check_dnskey()) return std::move(report_);
        check_signatures();
        if (find_set(names_[0], T::NSEC3PARAM))
            check_nsec3();
        else
            check_nsec();
        check_ds();
        return std::move(report_);
    }

  private:
    void error(std::string message) { report_.errors.push_back(std::move(message)); }

    dns::name owner_of(const vname& n) const {
        return store_[sets_[n.first_set].first].owner_name();
    }
    std::span<const uint8_t> owner_wire(const vname& n) const {
        return store_[sets_[n.first_set].first].owner;
    }
    const vset* find_set(const vname& n, uint16_t type) const {
        for (uint32_t s = n.first_set; s < n.first_set + n.set_count; ++s)
            if (sets_[s].type == type) return &sets_[s];
        return nullptr;
    }
    std::vector<std::span<const uint8_t>> rdata_of(const vset& s) const {
        std::vector<std::span<const uint8_t>> out;
        for (uint32_t r = s.first; r < s.first + s.count; ++r)
            out.push_back(store_[r].rdata);
        return out;
    }

    void index() {
        const size_t n = store_.size();
        std::optional<dns::name> cut;
        for (size_t i = 0; i < n;) {
            auto first = store_[i];
            size_t end = i + 1;
            while (end < n && dns::canonical_compare(store_[end].owner, first.owner) == 0)
                ++end;
            dns::name owner = first.owner_name();
            vname e{static_cast<uint32_t>(sets_.size()), 0, name_kind::auth, false};
            bool has_ns = false, data = false;
            for (size_t j = i; j < end;) {
                uint16_t t = store_[j].type;
                size_t k = j + 1;
                while (k < end && store_[k].type == t)
                    ++k;
                sets_.push_back({static_cast<uint32_t>(j), static_cast<uint32_t>(k - j), t});
                has_ns |= t == T::NS;
                e.has_ds |= t == T::DS;
                data |= t != T::RRSIG && t != T::NSEC && t != T::NSEC3;
                j = k;
            }
            e.set_count = static_cast<uint32_t>(sets_.size() - e.first_set);
            if (!owner.is_subdomain_of(origin_)) {
                error(owner.to_text() + ": outside the zone " + origin_.to_text());
                e.kind = name_kind::glue;
            } else if (owner == origin_) {
                e.kind = name_kind::apex;
            } else if (cut && owner.is_subdomain_of(*cut)) {
                e.kind = name_kind::glue;
            } else if (!data) {
                e.kind = name_kind::denial_only;
            } else {
                cut.reset();
                e.kind = has_ns ? name_kind::delegation : name_kind::auth;
                if (has_ns) cut = owner;
            }
            names_.push_back(e);
            i = end;
        }
        report_.names = names_.size();
    }

    // Checks one RRset's signatures; returns the algorithms that validly sign it and
    // whether a SEP key did.
    std::bitset<256> signed_by(const dns::name& owner, const vname& n, const vset& s,
                               std::vector<std::string>* reasons, bool* by_sep,
                               size_t& examined) const {
        std::bitset<256> algs;
        const vset* sigs = find_set(n, T::RRSIG);
        if (!sigs) return algs;
        auto rdata = rdata_of(s);
        for (uint32_t r = sigs->first; r < sigs->first + sigs->count; ++r) {
            auto sig = store_[r].rdata;
            if (rrsig_type_covered(sig) != s.type) continue;
            ++examined;
            auto result =
                verify_rrsig(sig, owner, s.type, store_[s.first].rclass, rdata, keys_, now32_);
            if (result.ok()) {
                algs.set(sig[2]);
                if (by_sep) {
                    uint16_t tag = static_cast<uint16_t>(sig[16] << 8 | sig[17]);
                    for (const auto& k : keys_)
                        if (k.tag() == tag && k.algorithm() == sig[2] && k.is_sep()) *by_sep = true;
                }
            } else if (reasons) {
                reasons->push_back(result.reason);
            }
        }
        return algs;
    }

    std::string failure(const dns::name& owner, uint16_t type, const std::string& what,
                        const std::vector<std::string>& reasons) const {
        std::string m = owner.to_text() + " " + dns::type_to_text(type) + ": " + what;
        for (size_t i = 0; i < reasons.size() && i < 3; ++i)
            m += "; " + reasons[i];
        if (reasons.size() > 3) m += "; and " + std::to_string(reasons.size() - 3) + " more";
        return m;
    }

    bool check_dnskey() {
        const vname& apex = names_[0];
        const vset* dnskey = find_set(apex, T::DNSKEY);
        if (!dnskey) {
            error(origin_.to_text() + " DNSKEY: no DNSKEY RRset at the apex");
            return false;
        }
        bool have_sep = false;
        for (uint32_t r = dnskey->first; r < dnskey->first + dnskey->count; ++r) {
            try {
                keys_.push_back(key::from_rdata(origin_, store_[r].rdata));
                const key& k = keys_.back();
                have_sep |= k.is_sep() && k.is_zone_key();
                report_.notes.push_back("DNSKEY " + std::to_string(k.tag()) + " flags " +
                                        std::to_string(k.flags()) + " " +
                                        algorithm_name(k.algorithm()));
            } catch (const dns::dns_error& e) {
                error(origin_.to_text() + " DNSKEY: unusable key: " + e.what());
            }
        }
        std::vector<std::string> reasons;
        bool by_sep = false;
        size_t examined = 0;
        auto algs = signed_by(origin_, apex, *dnskey, &reasons, &by_sep, examined);
        report_.signatures += examined;
        ++report_.rrsets;
        bool any_valid = algs.any();
        if (!any_valid) {
            error(failure(origin_, T::DNSKEY, examined ? "no valid signature" : "not signed",
                          reasons));
            // Go on checking the rest against every algorithm of the zone's keys.
            for (const auto& k : keys_)
                if (k.is_zone_key()) algs.set(k.algorithm());
            if (algs.none()) return false;
        }
        if (have_sep && !by_sep && any_valid)
            error(origin_.to_text() +
                  " DNSKEY: not signed by a key with the SEP bit (only by zone-signing keys)");
        algs_ = algs;
        std::string list;
        for (size_t a = 0; a < 256; ++a)
            if (algs_.test(a)) list += (list.empty() ? "" : ", ") + algorithm_name(uint8_t(a));
        report_.notes.push_back("signing algorithms: " + list);
        return true;
    }

    // Every authoritative RRset needs a valid RRSIG of each algorithm that signs the
    // DNSKEY RRset (RFC 4035 §2.2).
    void check_signatures() {
        size_t chunks = (names_.size() + chunk_names - 1) / chunk_names;
        std::vector<std::vector<std::string>> errors(chunks);
        std::vector<size_t> rrsets(chunks), sigs(chunks);
        parallel_for(chunks, threads_, [&](size_t c) {
            size_t a = c * chunk_names, b = std::min(names_.size(), a + chunk_names);
            for (size_t i = a; i < b; ++i) {
                const vname& n = names_[i];
                if (n.kind == name_kind::glue) continue;
                dns::name owner = owner_of(n);
                for (uint32_t s = n.first_set; s < n.first_set + n.set_count; ++s) {
                    const vset& set = sets_[s];
                    if (set.type == T::RRSIG) continue;
                    if (n.kind == name_kind::apex && set.type == T::DNSKEY) continue;  // done
                    if (n.kind == name_kind::delegation && set.type != T::DS && set.type != T::NSEC)
                        continue;
                    ++rrsets[c];
                    std::vector<std::string> reasons;
                    size_t examined = 0;
                    auto algs = signed_by(owner, n, set, &reasons, nullptr, examined);
                    sigs[c] += examined;
                    if (examined == 0) {
                        errors[c].push_back(failure(owner, set.type, "not signed", {}));
                        continue;
                    }
                    auto missing = algs_ & ~algs;
                    if (missing.none()) continue;
                    std::string what = "no valid signature";
                    if (algs.any()) {
                        what += " of algorithm";
                        for (size_t x = 0; x < 256; ++x)
                            if (missing.test(x)) {
                                what += ' ';
                                what += algorithm_name(uint8_t(x));
                            }
                    }
                    errors[c].push_back(failure(owner, set.type, what, reasons));
                }
            }
        });
        for (size_t c = 0; c < chunks; ++c) {
            report_.rrsets += rrsets[c];
            report_.signatures += sigs[c];
            for (auto& e : errors[c])
                error(std::move(e));
        }
    }

    // Types a denial record must list at name `n` (RFC 4034 §4.1.2, RFC 4035 §2.3,
    // RFC 5155 §7.1): at a cut only NS and DS.
    std::vector<uint16_t> expected_types(const vname& n, bool nsec3) const {
        std::vector<uint16_t> types;
        bool secure = n.kind != name_kind::delegation || n.has_ds;
        for (uint32_t s = n.first_set; s < n.first_set + n.set_count; ++s) {
            uint16_t t = sets_[s].type;
            if (t == T::RRSIG || t == T::NSEC || t == T::NSEC3) continue;
            if (n.kind == name_kind::delegation && t != T::NS && t != T::DS) continue;
            types.push_back(t);
        }
        if (nsec3) {
            if (secure) types.push_back(T::RRSIG);
        } else {
            types.push_back(T::RRSIG);
            types.push_back(T::NSEC);
        }
        std::sort(types.begin(), types.end());
        return types;
    }

    void check_nsec() {
        std::vector<size_t> chain;
        for (size_t i = 0; i < names_.size(); ++i) {
            const vname& n = names_[i];
            bool needs = n.kind == name_kind::apex || n.kind == name_kind::auth ||
                         n.kind == name_kind::delegation;
            if (needs)
                chain.push_back(i);
            else if (find_set(n, T::NSEC))
                error(owner_of(n).to_text() + " NSEC: at a name that is not authoritative");
        }
        report_.notes.push_back("denial of existence: NSEC, " + std::to_string(chain.size()) +
                                " names");
        for (size_t k = 0; k < chain.size(); ++k) {
            const vname& n = names_[chain[k]];
            dns::name owner = owner_of(n);
            const vset* nsec = find_set(n, T::NSEC);
            if (!nsec) {
                error(owner.to_text() + ": no NSEC record (the chain skips this name)");
                continue;
            }
            if (nsec->count != 1) {
                error(owner.to_text() + " NSEC: " + std::to_string(nsec->count) +
                      " NSEC records, expected one");
                continue;
            }
            nsec_fields f;
            try {
                f = nsec_fields::parse(store_[nsec->first].rdata);
            } catch (const dns::dns_error& e) {
                error(owner.to_text() + " NSEC: malformed: " + e.what());
                continue;
            }
            dns::name expected = owner_of(names_[chain[(k + 1) % chain.size()]]);
            if (!(f.next == expected))
                error(owner.to_text() + " NSEC: next name is " + f.next.to_text() + ", expected " +
                      expected.to_text());
            auto want = expected_types(n, false);
            if (f.types != want)
                error(owner.to_text() + " NSEC: type bit map lists " + types_text(f.types) +
                      ", expected " + types_text(want));
        }
    }

    // Ancestors of the chained names (between them and the apex) that have no records of
    // their own: empty non-terminals (RFC 5155 §7.1). Names come in canonical order.
    std::set<std::vector<uint8_t>> empty_non_terminals(const std::vector<size_t>& names) const {
        std::set<std::vector<uint8_t>> ents;
        std::optional<dns::name> prev;
        for (size_t i : names) {
            dns::name owner = owner_of(names_[i]);
            size_t depth = owner.label_count() - origin_.label_count();
            for (size_t up = 1; up < depth; ++up) {
                dns::name a = owner.parent(up);
                if (prev && prev->is_subdomain_of(a)) break;
                a.to_lower();
                auto w = a.wire();
                ents.insert(std::vector<uint8_t>(w.begin(), w.end()));
            }
            prev = owner;
        }
        return ents;
    }

    void check_nsec3() {
        const vset* param_set = find_set(names_[0], T::NSEC3PARAM);
        nsec3_params param;
        try {
            param = nsec3_params::parse(store_[param_set->first].rdata);
        } catch (const dns::dns_error& e) {
            error(origin_.to_text() + " NSEC3PARAM: malformed: " + e.what());
            return;
        }
        if (param.algorithm != nsec3_sha1) {
            error(origin_.to_text() + " NSEC3PARAM: unknown hash algorithm " +
                  std::to_string(param.algorithm));
            return;
        }

        // The NSEC3 records, by hash.
        struct have {
            nsec3_hash_value hash;
            nsec3_fields f;
            std::string owner;
        };
        std::vector<have> records;
        bool opt_out = false;
        for (const vname& n : names_) {
            const vset* s = find_set(n, T::NSEC3);
            if (find_set(n, T::NSEC) && n.kind != name_kind::glue)
                error(owner_of(n).to_text() + " NSEC: NSEC record in an NSEC3 zone");
            if (!s) continue;
            dns::name owner = owner_of(n);
            std::string where = owner.to_text() + " NSEC3";
            auto w = owner.wire();
            std::vector<uint8_t> hash;
            bool good = owner.label_count() == origin_.label_count() + 1 && w[0] == 32;
            if (good) {
                try {
                    dns::parse_base32hex(
                        std::string_view(reinterpret_cast<const char*>(w.data() + 1), 32), hash);
                } catch (const dns::dns_error&) {
                    good = false;
                }
            }
            if (!good || hash.size() != nsec3_hash_size) {
                error(where + ": owner is not a hashed name directly below the apex");
                continue;
            }
            for (uint32_t r = s->first; r < s->first + s->count; ++r) {
                have h;
                std::copy(hash.begin(), hash.end(), h.hash.begin());
                h.owner = owner.to_text();
                try {
                    h.f = nsec3_fields::parse(store_[r].rdata);
                } catch (const dns::dns_error& e) {
                    error(where + ": malformed: " + e.what());
                    continue;
                }
                if (h.f.algorithm != param.algorithm || h.f.iterations != param.iterations ||
                    h.f.salt != param.salt) {
                    error(where + ": parameters differ from the NSEC3PARAM");
                    continue;
                }
                opt_out |= (h.f.flags & nsec3_flag_opt_out) != 0;
                records.push_back(std::move(h));
            }
        }
        report_.nsec3 = true;
        report_.opt_out = opt_out;

        // What must (or, with opt-out, may) have an NSEC3.
        std::vector<size_t> required, all;
        for (size_t i = 0; i < names_.size(); ++i) {
            const vname& n = names_[i];
            bool chained = n.kind == name_kind::apex || n.kind == name_kind::auth ||
                           n.kind == name_kind::delegation;
            if (!chained) continue;
            all.push_back(i);
            if (n.kind != name_kind::delegation || n.has_ds || !opt_out) required.push_back(i);
        }
        auto ents_required = empty_non_terminals(required);
        auto ents_all = empty_non_terminals(all);

        struct want {
            nsec3_hash_value hash;
            bool required;
            int64_t name;  // index into names_, or -1 for an empty non-terminal
            std::string text;
        };
        std::vector<want> wants;
        for (size_t i : all) {
            const vname& n = names_[i];
            bool req = n.kind != name_kind::delegation || n.has_ds || !opt_out;
            wants.push_back({{}, req, static_cast<int64_t>(i), owner_of(n).to_text()});
        }
        std::vector<std::vector<uint8_t>> ent_wires(ents_all.begin(), ents_all.end());
        for (const auto& w : ent_wires)
            wants.push_back({{},
                             ents_required.count(w) > 0,
                             -1,
                             dns::name::from_wire(w).to_text() + " (empty non-terminal)"});
        size_t hchunks = (wants.size() + 4095) / 4096;
        parallel_for(hchunks, threads_, [&](size_t c) {
            nsec3_hasher hasher(param.iterations, param.salt);
            size_t a = c * 4096, b = std::min(wants.size(), a + 4096);
            for (size_t i = a; i < b; ++i) {
                if (wants[i].name >= 0)
                    wants[i].hash = hasher(owner_wire(names_[wants[i].name]));
                else
                    wants[i].hash = hasher(ent_wires[i - all.size()]);
            }
        });
        auto by_hash = [](const auto& x, const auto& y) { return x.hash < y.hash; };
        std::sort(wants.begin(), wants.end(), by_hash);
        std::sort(records.begin(), records.end(), by_hash);
        report_.notes.push_back("denial of existence: NSEC3, " + std::to_string(records.size()) +
                                " records, " + std::to_string(param.iterations) + " iterations" +
                                (opt_out ? ", opt-out" : ""));

        // Every name that needs one has its NSEC3.
        for (const auto& w : wants) {
            auto it = std::lower_bound(records.begin(), records.end(), w, by_hash);
            if (it == records.end() || it->hash != w.hash) {
                if (w.required)
                    error(w.text + ": no NSEC3 record (hash " + hash_text(w.hash) + ")");
                continue;
            }
            std::vector<uint16_t> expected;
            if (w.name >= 0) expected = expected_types(names_[w.name], true);
            if (it->f.types != expected)
                error(it->owner + " NSEC3: type bit map lists " + types_text(it->f.types) +
                      ", expected " + types_text(expected) + " for " + w.text);
        }
        // Every NSEC3 belongs to a name, and the chain is closed and ordered.
        for (size_t i = 0; i < records.size(); ++i) {
            const auto& h = records[i];
            if (i > 0 && records[i - 1].hash == h.hash) {
                error(h.owner + " NSEC3: more than one NSEC3 record");
                continue;
            }
            auto it = std::lower_bound(wants.begin(), wants.end(), h, by_hash);
            if (it == wants.end() || it->hash != h.hash)
                error(h.owner + " NSEC3: matches no name of the zone");
            const auto& next = records[(i + 1) % records.size()].hash;
            if (!std::equal(h.f.next_hash.begin(), h.f.next_hash.end(), next.begin(), next.end()))
                error(h.owner + " NSEC3: next hashed owner is " + hash_text(h.f.next_hash) +
                      ", expected " + hash_text(next));
        }
    }

    void check_ds() {
        if (options_.ds.empty()) return;
        const vname& apex = names_[0];
        const vset* dnskey = find_set(apex, T::DNSKEY);
        const vset* sigs = find_set(apex, T::RRSIG);
        auto rdata = rdata_of(*dnskey);
        size_t matched = 0;
        for (const auto& ds : options_.ds) {
            if (ds.type != T::DS || !(ds.owner == origin_)) {
                error(ds.owner.to_text() + " " + dns::type_to_text(ds.type) +
                      ": not a DS record of " + origin_.to_text());
                continue;
            }
            for (const auto& k : keys_) {
                auto krd = k.rdata();
                if (!ds_matches(ds.rdata, origin_, krd)) continue;
                // The key must itself sign the DNSKEY RRset, or the chain of trust breaks.
                bool signs = false;
                for (uint32_t r = sigs ? sigs->first : 0; sigs && r < sigs->first + sigs->count;
                     ++r) {
                    auto sig = store_[r].rdata;
                    if (rrsig_type_covered(sig) != T::DNSKEY) continue;
                    if (sig.size() < 18 || (sig[16] << 8 | sig[17]) != k.tag()) continue;
                    signs |= verify_rrsig(sig, origin_, T::DNSKEY, dns::rr_class::IN, rdata,
                                          {&k, 1}, now32_)
                                 .ok();
                }
                if (signs) {
                    ++matched;
                    report_.notes.push_back("DS matches key " + std::to_string(k.tag()) +
                                            ", which signs the DNSKEY RRset");
                } else {
                    // A DS published ahead of a key rollover: fine as long as another matches.
                    report_.notes.push_back("DS matches key " + std::to_string(k.tag()) +
                                            ", which does not sign the DNSKEY RRset");
                }
            }
        }
        if (matched == 0)
            error(origin_.to_text() +
                  " DS: no DS record matches a key that signs the DNSKEY RRset");
    }

    const dns::record_store& store_;
    dns::name origin_;
    zone_verify_options options_;
    uint32_t now32_;
    unsigned threads_;
    std::vector<vname> names_;
    std::vector<vset> sets_;
    std::vector<key> keys_;
    std::bitset<256> algs_;
    zone_verify_report report_;
};

}  // namespace

zone_verify_report verify_zone(const dns::record_store& zone, const dns::name& origin,
                               const zone_verify_options& options) {
    zone_verification v(zone, origin, options);
    return v.run();
}

}  // namespace hsync::dnssec
