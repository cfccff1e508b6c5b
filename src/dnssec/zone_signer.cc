#include "dnssec/zone_signer.h"

#include "dnssec/parallel.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <ctime>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "dns/rdata.h"
#include "dnssec/rrsig.h"

namespace hsync::dnssec {
namespace {

namespace T = dns::rr_type;

// Records a signer makes itself and never carries over from its input.
bool generated_type(uint16_t t) {
    return t == T::RRSIG || t == T::NSEC || t == T::NSEC3 || t == T::NSEC3PARAM;
}

enum class name_kind : uint8_t { apex, auth, delegation, glue };
enum signing_role : uint8_t { role_none, role_zone, role_key };

struct rrset_entry {
    uint32_t first;  // store index, or index into the apex sets for the apex
    uint32_t count;
    uint32_t ttl;
    uint16_t type;
    uint8_t role;
};

struct name_entry {
    uint32_t first_record, end_record;  // all its records in the store
    uint32_t first_rrset, rrset_count;  // its RRsets (without generated types)
    name_kind kind;
    bool has_ds;
};

// The apex RRsets, owned: the DNSKEY RRset may gain our keys, NSEC3PARAM is new.
struct owned_rrset {
    uint16_t type;
    uint32_t ttl;
    std::vector<std::vector<uint8_t>> rdata;
};

// Records made by one worker for one range, in the order they were made. Entry layout:
// u32 key (name or NSEC3 index) | u16 type | u32 ttl | u16 rdlength | rdata.
struct out_buffer {
    std::vector<uint8_t> bytes;
    size_t signatures_new = 0, signatures_kept = 0, rrsets = 0;

    void add(uint32_t key, uint16_t type, uint32_t ttl, std::span<const uint8_t> rdata) {
        uint8_t head[12];
        std::memcpy(head, &key, 4);
        std::memcpy(head + 4, &type, 2);
        std::memcpy(head + 6, &ttl, 4);
        uint16_t len = static_cast<uint16_t>(rdata.size());
        std::memcpy(head + 10, &len, 2);
        bytes.insert(bytes.end(), head, head + sizeof head);
        bytes.insert(bytes.end(), rdata.begin(), rdata.end());
    }
};

struct out_item {
    uint32_t key;
    uint16_t type;
    uint32_t ttl;
    std::span<const uint8_t> rdata;
};

// Walks the buffers of consecutive ranges as one sequence.
class out_cursor {
  public:
    explicit out_cursor(const std::vector<out_buffer>& buffers) : buffers_(buffers) { settle(); }
    bool valid() const { return buffer_ < buffers_.size(); }
    out_item peek() const {
        const uint8_t* p = buffers_[buffer_].bytes.data() + pos_;
        out_item it;
        uint16_t len;
        std::memcpy(&it.key, p, 4);
        std::memcpy(&it.type, p + 4, 2);
        std::memcpy(&it.ttl, p + 6, 4);
        std::memcpy(&len, p + 10, 2);
        it.rdata = {p + 12, len};
        return it;
    }
    void next() {
        pos_ += 12 + peek().rdata.size();
        settle();
    }

  private:
    void settle() {
        while (buffer_ < buffers_.size() && pos_ >= buffers_[buffer_].bytes.size()) {
            ++buffer_;
            pos_ = 0;
        }
    }
    const std::vector<out_buffer>& buffers_;
    size_t buffer_ = 0, pos_ = 0;
};

constexpr size_t names_per_chunk = 512;

class zone_signing {
  public:
    zone_signing(const dns::record_store& zone, const dns::name& origin, std::span<const key> keys,
                 const sign_options& options)
        : store_(zone), origin_(origin.canonical()), options_(options) {
        now_ = options.now ? options.now : static_cast<int64_t>(std::time(nullptr));
        now32_ = rrsig_time(now_);
        inception_ = options.inception ? options.inception : rrsig_time(now_ - 3600);
        expiration_ = options.expiration ? options.expiration : inception_ + 3600 + 30 * 86400u;
        if (!serial_lt(inception_, expiration_))
            throw dnssec_error("signature expiration must be after the inception");
        refresh_ = options.refresh ? options.refresh : (expiration_ - inception_) / 4;
        threads_ = options.threads ? options.threads : std::thread::hardware_concurrency();
        if (threads_ == 0) threads_ = 1;
        choose_keys(keys);
    }

    sign_stats run(const record_sink& out) {
        index();
        std::vector<out_buffer> name_out((names_.size() + names_per_chunk - 1) / names_per_chunk);
        parallel_for(name_out.size(), threads_, [&](size_t c) { sign_names(c, name_out[c]); });
        std::vector<out_buffer> nsec3_out;
        if (options_.nsec3) {
            build_nsec3_entries();
            nsec3_out.resize((nsec3_.size() + names_per_chunk - 1) / names_per_chunk);
            parallel_for(nsec3_out.size(), threads_,
                         [&](size_t c) { sign_nsec3(c, nsec3_out[c]); });
        }
        for (auto* list : {&name_out, &nsec3_out})
            for (const auto& b : *list) {
                stats_.signatures_new += b.signatures_new;
                stats_.signatures_kept += b.signatures_kept;
                stats_.rrsets_signed += b.rrsets;
            }
        stats_.dropped = input_generated_ - stats_.signatures_kept;
        emit(name_out, nsec3_out, out);
        return stats_;
    }

  private:
    // Per algorithm: data signed by its non-SEP keys (or its SEP keys if it has none), the
    // apex key RRsets by its SEP keys (or the others): KSK+ZSK and CSK alike.
    void choose_keys(std::span<const key> keys) {
        if (keys.empty()) throw dnssec_error("no signing keys given");
        for (const auto& k : keys) {
            std::string id =
                "key " + std::to_string(k.tag()) + " (" + algorithm_name(k.algorithm()) + ")";
            if (!(k.owner() == origin_))
                throw dnssec_error(id + " belongs to " + k.owner().to_text() + ", not to " +
                                   origin_.to_text());
            if (!k.has_private()) throw dnssec_error(id + " has no private key");
            if (!k.is_zone_key() || k.rr_type() != T::DNSKEY)
                throw dnssec_error(id + " is not a zone key (DNSKEY flags lack ZONE)");
            if (!algorithm_supported(k.algorithm()))
                throw dnssec_error(id + ": algorithm not supported for signing");
            keys_.push_back(&k);
        }
        std::vector<uint8_t> algs;
        for (const key* k : keys_)
            if (std::find(algs.begin(), algs.end(), k->algorithm()) == algs.end())
                algs.push_back(k->algorithm());
        for (uint8_t alg : algs) {
            std::vector<const key*> sep, other;
            for (const key* k : keys_)
                if (k->algorithm() == alg) (k->is_sep() ? sep : other).push_back(k);
            for (const key* k : other.empty() ? sep : other)
                zsk_.push_back(k);
            for (const key* k : sep.empty() ? other : sep)
                ksk_.push_back(k);
        }
    }

    // One pass over the sorted store: names, RRsets, zone cuts, old signatures.
    void index() {
        const size_t n = store_.size();
        if (n > 0xffffffffu) throw dnssec_error("zone too large (over 2^32 records)");
        std::optional<dns::name> cut;
        for (size_t i = 0; i < n;) {
            auto first = store_[i];
            size_t end = i + 1;
            while (end < n && dns::canonical_compare(store_[end].owner, first.owner) == 0)
                ++end;
            dns::name owner = first.owner_name();
            if (!owner.is_subdomain_of(origin_))
                throw dnssec_error(owner.to_text() + " is outside the zone " + origin_.to_text());
            name_entry e{};
            e.first_record = static_cast<uint32_t>(i);
            e.end_record = static_cast<uint32_t>(end);
            e.first_rrset = static_cast<uint32_t>(rrsets_.size());
            bool has_ns = false;
            for (size_t j = i; j < end;) {
                auto r = store_[j];
                size_t k = j + 1;
                while (k < end && store_[k].type == r.type && store_[k].rclass == r.rclass)
                    ++k;
                if (generated_type(r.type)) {
                    input_generated_ += k - j;
                } else {
                    rrsets_.push_back({static_cast<uint32_t>(j), static_cast<uint32_t>(k - j),
                                       r.ttl, r.type, role_none});
                    has_ns |= r.type == T::NS;
                    e.has_ds |= r.type == T::DS;
                    if (r.type == T::SOA && owner == origin_) soa_ = r;
                }
                j = k;
            }
            e.rrset_count = static_cast<uint32_t>(rrsets_.size() - e.first_rrset);
            if (e.rrset_count == 0) {
                // Only old DNSSEC records (e.g. an old NSEC3 owner): not a name of the zone,
                // but its RRSIGs may still be reusable.
                old_owners_.push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(end)});
                i = end;
                continue;
            }
            if (owner == origin_) {
                e.kind = name_kind::apex;
            } else if (cut && owner.is_subdomain_of(*cut)) {
                e.kind = name_kind::glue;
            } else {
                cut.reset();
                e.kind = has_ns ? name_kind::delegation : name_kind::auth;
                if (has_ns) cut = owner;
            }
            if (names_.empty() && e.kind != name_kind::apex)
                throw dnssec_error("no SOA record at the apex " + origin_.to_text());
            for (uint32_t s = e.first_rrset; s < e.first_rrset + e.rrset_count; ++s) {
                auto& set = rrsets_[s];
                switch (e.kind) {
                    case name_kind::apex:
                        set.role =
                            (set.type == T::DNSKEY || set.type == T::CDS || set.type == T::CDNSKEY)
                                ? role_key
                                : role_zone;
                        break;
                    case name_kind::auth:
                        set.role = role_zone;
                        break;
                    case name_kind::delegation:
                        set.role = set.type == T::DS ? role_zone : role_none;
                        break;
                    case name_kind::glue:
                        set.role = role_none;
                        break;
                }
            }
            names_.push_back(e);
            if (e.kind == name_kind::apex) build_apex();
            i = end;
        }
        if (names_.empty() || !soa_)
            throw dnssec_error("no SOA record at the apex " + origin_.to_text());
        stats_.names = names_.size();
        // RFC 9077 §3: NSEC/NSEC3 TTL = min(SOA TTL, SOA MINIMUM).
        auto soa = soa_->rdata;
        uint32_t minimum =
            soa.size() >= 4
                ? (uint32_t(soa[soa.size() - 4]) << 24 | uint32_t(soa[soa.size() - 3]) << 16 |
                   uint32_t(soa[soa.size() - 2]) << 8 | soa[soa.size() - 1])
                : 0;
        denial_ttl_ = std::min(soa_->ttl, minimum);
    }

    // Copies the apex RRsets; adds our DNSKEYs where missing and the NSEC3PARAM.
    void build_apex() {
        name_entry& apex = names_.back();
        uint32_t dnskey_ttl = 0;
        bool have_dnskey = false;
        for (uint32_t s = apex.first_rrset; s < apex.first_rrset + apex.rrset_count; ++s) {
            auto& set = rrsets_[s];
            owned_rrset o{set.type, set.ttl, {}};
            for (uint32_t r = set.first; r < set.first + set.count; ++r) {
                auto rd = store_[r].rdata;
                o.rdata.emplace_back(rd.begin(), rd.end());
            }
            if (set.type == T::DNSKEY) {
                have_dnskey = true;
                dnskey_ttl = set.ttl;
            }
            if (set.type == T::SOA && !have_dnskey) dnskey_ttl = set.ttl;
            set.first = static_cast<uint32_t>(apex_sets_.size());
            apex_sets_.push_back(std::move(o));
        }
        if (!have_dnskey) {
            if (keys_.front()->ttl) dnskey_ttl = *keys_.front()->ttl;
            apex_sets_.push_back({T::DNSKEY, dnskey_ttl, {}});
            rrsets_.push_back(
                {static_cast<uint32_t>(apex_sets_.size() - 1), 0, dnskey_ttl, T::DNSKEY, role_key});
            ++apex.rrset_count;
        }
        for (auto& set : apex_sets_)
            if (set.type == T::DNSKEY)
                for (const key* k : keys_) {
                    auto rd = k->rdata();
                    if (std::find(set.rdata.begin(), set.rdata.end(), rd) == set.rdata.end())
                        set.rdata.push_back(std::move(rd));
                }
        if (options_.nsec3) {
            // RFC 5155 §4.1.2: the NSEC3PARAM flags field is zero (opt-out lives in NSEC3).
            nsec3_params p = options_.nsec3_param;
            p.flags = 0;
            // TTL 0, as signers commonly publish it: only authoritative servers read it.
            apex_sets_.push_back({T::NSEC3PARAM, 0, {p.to_wire()}});
            rrsets_.push_back(
                {static_cast<uint32_t>(apex_sets_.size() - 1), 0, 0, T::NSEC3PARAM, role_zone});
            ++apex.rrset_count;
        }
        for (uint32_t s = apex.first_rrset; s < apex.first_rrset + apex.rrset_count; ++s)
            rrsets_[s].count = static_cast<uint32_t>(apex_sets_[rrsets_[s].first].rdata.size());
    }

    void rdata_of(const name_entry& e, const rrset_entry& s,
                  std::vector<std::span<const uint8_t>>& out) const {
        out.clear();
        if (e.kind == name_kind::apex) {
            for (const auto& r : apex_sets_[s.first].rdata)
                out.emplace_back(r);
        } else {
            for (uint32_t r = s.first; r < s.first + s.count; ++r)
                out.push_back(store_[r].rdata);
        }
    }

    // Types for the NSEC/NSEC3 bit map. At a cut only NS and DS are the parent's
    // (RFC 4035 §2.3); RRSIG appears where something is signed.
    void bitmap_types(const name_entry& e, std::vector<uint16_t>& types) const {
        types.clear();
        for (uint32_t s = e.first_rrset; s < e.first_rrset + e.rrset_count; ++s) {
            uint16_t t = rrsets_[s].type;
            if (e.kind == name_kind::delegation && t != T::NS && t != T::DS) continue;
            types.push_back(t);
        }
        if (options_.nsec3) {
            if (e.kind != name_kind::delegation || e.has_ds) types.push_back(T::RRSIG);
        } else {
            types.push_back(T::RRSIG);
            types.push_back(T::NSEC);
        }
    }

    // Keeps a still-good RRSIG of ours from `old` (store range) or makes a new one, for
    // every key of the role.
    void sign_set(const dns::name& owner, uint16_t type, uint32_t ttl,
                  std::span<const std::span<const uint8_t>> rdata, uint8_t role, uint32_t old_first,
                  uint32_t old_end, uint32_t out_key, out_buffer& out) const {
        ++out.rrsets;
        uint8_t labels = rrsig_labels(owner);
        for (const key* k : role == role_key ? ksk_ : zsk_) {
            bool kept = false;
            for (uint32_t i = old_first; i < old_end && !kept; ++i) {
                auto r = store_[i];
                if (r.type != T::RRSIG || r.rdata.size() < 18 ||
                    rrsig_type_covered(r.rdata) != type)
                    continue;
                if (r.rdata[2] != k->algorithm() || r.rdata[3] != labels ||
                    (r.rdata[16] << 8 | r.rdata[17]) != k->tag())
                    continue;
                rrsig_fields f;
                try {
                    f = rrsig_fields::parse(r.rdata);
                } catch (const dns::dns_error&) {
                    continue;
                }
                if (f.original_ttl != ttl || !(f.signer == origin_) ||
                    !serial_le(f.inception, now32_) ||
                    !serial_lt(static_cast<uint32_t>(now32_ + refresh_), f.expiration))
                    continue;
                if (!verify_rrsig(r.rdata, owner, type, dns::rr_class::IN, rdata, {k, 1}, now32_)
                         .ok())
                    continue;
                out.add(out_key, T::RRSIG, ttl, r.rdata);
                ++out.signatures_kept;
                kept = true;
            }
            if (kept) continue;
            auto sig =
                make_rrsig(*k, owner, type, dns::rr_class::IN, ttl, rdata, inception_, expiration_);
            out.add(out_key, T::RRSIG, ttl, sig);
            ++out.signatures_new;
        }
    }

    // The RRSIG records among a name's records (sorted by type, so contiguous).
    std::pair<uint32_t, uint32_t> old_sigs(uint32_t first, uint32_t end) const {
        uint32_t a = first;
        while (a < end && store_[a].type < T::RRSIG)
            ++a;
        uint32_t b = a;
        while (b < end && store_[b].type == T::RRSIG)
            ++b;
        return {a, b};
    }

    void sign_names(size_t chunk, out_buffer& out) const {
        size_t a = chunk * names_per_chunk, b = std::min(names_.size(), a + names_per_chunk);
        std::vector<std::span<const uint8_t>> rdata;
        std::vector<uint16_t> types;
        for (size_t ni = a; ni < b; ++ni) {
            const auto& e = names_[ni];
            if (e.kind == name_kind::glue) continue;
            dns::name owner = store_[e.first_record].owner_name();
            auto [sig_a, sig_b] = old_sigs(e.first_record, e.end_record);
            uint32_t key = static_cast<uint32_t>(ni);
            for (uint32_t s = e.first_rrset; s < e.first_rrset + e.rrset_count; ++s) {
                const auto& set = rrsets_[s];
                if (set.role == role_none) continue;
                rdata_of(e, set, rdata);
                sign_set(owner, set.type, set.ttl, rdata, set.role, sig_a, sig_b, key, out);
            }
            if (options_.nsec3) continue;
            // RFC 4034 §4.1.1: the next name in canonical order that has authoritative data
            // or a delegation; the last points back to the apex.
            size_t next = ni + 1;
            while (next < names_.size() && names_[next].kind == name_kind::glue)
                ++next;
            if (next == names_.size()) next = 0;
            bitmap_types(e, types);
            auto nsec = nsec_rdata(store_[names_[next].first_record].owner_name(), types);
            out.add(key, T::NSEC, denial_ttl_, nsec);
            std::span<const uint8_t> one[1] = {nsec};
            sign_set(owner, T::NSEC, denial_ttl_, one, role_zone, sig_a, sig_b, key, out);
        }
    }

    // ---- NSEC3 (RFC 5155 §7.1) ----

    static constexpr uint32_t ent_flag = 0x80000000u;

    struct nsec3_entry {
        nsec3_hash_value hash;
        uint32_t source;  // name index, or ent_flag | index into ent_offsets_
    };

    bool in_nsec3_chain(const name_entry& e) const {
        switch (e.kind) {
            case name_kind::apex:
            case name_kind::auth:
                return true;
            case name_kind::delegation:
                return e.has_ds || !options_.opt_out;
            case name_kind::glue:
                return false;
        }
        return false;
    }

    void build_nsec3_entries() {
        // Empty non-terminals: in canonical order an existing ancestor comes before its
        // descendants, so an ancestor of name i that is not also an ancestor of the
        // previous chained name has not been seen and does not exist.
        std::optional<dns::name> prev;
        for (size_t ni = 0; ni < names_.size(); ++ni) {
            const auto& e = names_[ni];
            if (!in_nsec3_chain(e)) continue;
            nsec3_.push_back({{}, static_cast<uint32_t>(ni)});
            dns::name owner = store_[e.first_record].owner_name();
            size_t depth = owner.label_count() - origin_.label_count();
            for (size_t up = 1; up < depth; ++up) {
                dns::name a = owner.parent(up);
                if (prev && prev->is_subdomain_of(a)) break;
                nsec3_.push_back({{}, ent_flag | static_cast<uint32_t>(ent_offsets_.size())});
                ent_offsets_.push_back(ent_wire_.size());
                a.to_lower();
                auto w = a.wire();
                ent_wire_.insert(ent_wire_.end(), w.begin(), w.end());
            }
            prev = owner;
        }
        const auto& param = options_.nsec3_param;
        size_t chunks = (nsec3_.size() + 4095) / 4096;
        parallel_for(chunks, threads_, [&](size_t c) {
            nsec3_hasher hash(param.iterations, param.salt);
            size_t a = c * 4096, b = std::min(nsec3_.size(), a + 4096);
            for (size_t i = a; i < b; ++i)
                nsec3_[i].hash = hash(source_wire(nsec3_[i].source));
        });
        std::sort(nsec3_.begin(), nsec3_.end(),
                  [](const nsec3_entry& x, const nsec3_entry& y) { return x.hash < y.hash; });
        for (size_t i = 1; i < nsec3_.size(); ++i)
            if (nsec3_[i].hash == nsec3_[i - 1].hash)
                throw dnssec_error("NSEC3 hash collision: choose another salt");
        stats_.nsec3 = nsec3_.size();
    }

    std::span<const uint8_t> source_wire(uint32_t source) const {
        if (source & ent_flag) {
            size_t i = source & ~ent_flag;
            size_t end = i + 1 < ent_offsets_.size() ? ent_offsets_[i + 1] : ent_wire_.size();
            return {ent_wire_.data() + ent_offsets_[i], end - ent_offsets_[i]};
        }
        return store_[names_[source].first_record].owner;
    }

    void sign_nsec3(size_t chunk, out_buffer& out) const {
        size_t a = chunk * names_per_chunk, b = std::min(nsec3_.size(), a + names_per_chunk);
        std::vector<uint16_t> types;
        for (size_t j = a; j < b; ++j) {
            const auto& entry = nsec3_[j];
            dns::name owner = nsec3_owner(entry.hash, origin_);
            const auto& next = nsec3_[(j + 1) % nsec3_.size()].hash;
            types.clear();
            if (!(entry.source & ent_flag)) bitmap_types(names_[entry.source], types);
            auto rdata = nsec3_rdata(options_.nsec3_param, options_.opt_out, next, types);
            uint32_t key = static_cast<uint32_t>(j);
            out.add(key, T::NSEC3, denial_ttl_, rdata);
            // Old RRSIGs at this hashed owner, if the input was signed the same way.
            uint32_t sig_a = 0, sig_b = 0;
            auto it = std::lower_bound(
                old_owners_.begin(), old_owners_.end(), owner,
                [&](const std::pair<uint32_t, uint32_t>& o, const dns::name& n) {
                    return dns::canonical_compare(store_[o.first].owner, n.wire()) < 0;
                });
            if (it != old_owners_.end() &&
                dns::canonical_compare(store_[it->first].owner, owner.wire()) == 0)
                std::tie(sig_a, sig_b) = old_sigs(it->first, it->second);
            std::span<const uint8_t> one[1] = {rdata};
            sign_set(owner, T::NSEC3, denial_ttl_, one, role_zone, sig_a, sig_b, key, out);
        }
    }

    // ---- output in canonical order ----

    void emit(const std::vector<out_buffer>& name_out, const std::vector<out_buffer>& nsec3_out,
              const record_sink& sink) {
        out_cursor names_cur(name_out), nsec3_cur(nsec3_out);
        std::vector<out_item> items;
        auto flush = [&](std::span<const uint8_t> owner) {
            std::sort(items.begin(), items.end(), [](const out_item& x, const out_item& y) {
                if (x.type != y.type) return x.type < y.type;
                size_t n = std::min(x.rdata.size(), y.rdata.size());
                if (n)
                    if (int c = std::memcmp(x.rdata.data(), y.rdata.data(), n)) return c < 0;
                return x.rdata.size() < y.rdata.size();
            });
            for (const auto& it : items) {
                dns::record_view v{owner, it.type, dns::rr_class::IN, it.ttl, it.rdata, 0};
                sink(v);
                ++stats_.records_out;
                if (it.type == T::NSEC) ++stats_.nsec;
            }
            items.clear();
        };
        auto emit_nsec3_before = [&](const std::span<const uint8_t>* owner) {
            while (nsec3_cur.valid()) {
                uint32_t j = nsec3_cur.peek().key;
                dns::name n3 = nsec3_owner(nsec3_[j].hash, origin_);
                if (owner && dns::canonical_compare(n3.wire(), *owner) >= 0) return;
                while (nsec3_cur.valid() && nsec3_cur.peek().key == j) {
                    items.push_back(nsec3_cur.peek());
                    nsec3_cur.next();
                }
                flush(n3.wire());
            }
        };
        for (size_t ni = 0; ni < names_.size(); ++ni) {
            const auto& e = names_[ni];
            auto owner = store_[e.first_record].owner;
            emit_nsec3_before(&owner);
            if (e.kind == name_kind::apex) {
                for (const auto& set : apex_sets_)
                    for (const auto& r : set.rdata)
                        items.push_back({0, set.type, set.ttl, r});
            } else {
                for (uint32_t s = e.first_rrset; s < e.first_rrset + e.rrset_count; ++s)
                    for (uint32_t r = rrsets_[s].first; r < rrsets_[s].first + rrsets_[s].count;
                         ++r) {
                        auto v = store_[r];
                        items.push_back({0, v.type, v.ttl, v.rdata});
                    }
            }
            while (names_cur.valid() && names_cur.peek().key == ni) {
                items.push_back(names_cur.peek());
                names_cur.next();
            }
            flush(owner);
        }
        emit_nsec3_before(nullptr);
    }

    const dns::record_store& store_;
    dns::name origin_;
    sign_options options_;
    int64_t now_;
    uint32_t now32_, inception_, expiration_, refresh_;
    unsigned threads_;
    std::vector<const key*> keys_, zsk_, ksk_;

    std::vector<name_entry> names_;
    std::vector<rrset_entry> rrsets_;
    std::vector<owned_rrset> apex_sets_;
    std::vector<std::pair<uint32_t, uint32_t>> old_owners_;  // names with only DNSSEC records
    std::optional<dns::record_view> soa_;
    uint32_t denial_ttl_ = 0;
    size_t input_generated_ = 0;

    std::vector<nsec3_entry> nsec3_;
    std::vector<size_t> ent_offsets_;
    std::vector<uint8_t> ent_wire_;

    sign_stats stats_;
};

}  // namespace

sign_stats sign_zone(const dns::record_store& zone, const dns::name& origin,
                     std::span<const key> keys, const sign_options& options,
                     const record_sink& out) {
    zone_signing s(zone, origin, keys, options);
    return s.run(out);
}

}  // namespace hsync::dnssec
