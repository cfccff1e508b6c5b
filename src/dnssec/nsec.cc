#include "dnssec/nsec.h"

#include <openssl/evp.h>

#include <algorithm>

#include "dns/error.h"
#include "dns/text.h"
#include "dns/wire.h"
#include "dnssec/key.h"
#include "dnssec/ossl.h"

namespace hsync::dnssec {

void append_type_bitmap(std::span<const uint16_t> types, std::vector<uint8_t>& out) {
    std::vector<uint16_t> sorted(types.begin(), types.end());
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    // One block per window of 256 types that has any bit set; each block as short as its
    // highest set bit allows (RFC 4034 §4.1.2).
    for (size_t i = 0; i < sorted.size();) {
        uint8_t window = static_cast<uint8_t>(sorted[i] >> 8);
        uint8_t bits[32] = {};
        size_t length = 0;
        for (; i < sorted.size() && (sorted[i] >> 8) == window; ++i) {
            uint8_t low = static_cast<uint8_t>(sorted[i]);
            bits[low / 8] |= static_cast<uint8_t>(0x80 >> (low % 8));
            length = low / 8 + 1u;
        }
        out.push_back(window);
        out.push_back(static_cast<uint8_t>(length));
        out.insert(out.end(), bits, bits + length);
    }
}

std::vector<uint16_t> parse_type_bitmap(std::span<const uint8_t> bitmap) {
    std::vector<uint16_t> types;
    int last_window = -1;
    for (size_t p = 0; p < bitmap.size();) {
        if (bitmap.size() - p < 2) throw dns::wire_error("type bit map truncated");
        uint8_t window = bitmap[p], length = bitmap[p + 1];
        if (window <= last_window) throw dns::wire_error("type bit map windows out of order");
        if (length == 0 || length > 32) throw dns::wire_error("type bit map block of bad length");
        if (p + 2 + length > bitmap.size()) throw dns::wire_error("type bit map truncated");
        for (size_t i = 0; i < length; ++i)
            for (int b = 0; b < 8; ++b)
                if (bitmap[p + 2 + i] & (0x80 >> b))
                    types.push_back(static_cast<uint16_t>(window << 8 | (i * 8 + b)));
        last_window = window;
        p += 2 + length;
    }
    return types;
}

std::vector<uint8_t> nsec_rdata(const dns::name& next, std::span<const uint16_t> types) {
    std::vector<uint8_t> out(next.wire().begin(), next.wire().end());
    append_type_bitmap(types, out);
    return out;
}

nsec_fields nsec_fields::parse(std::span<const uint8_t> rdata) {
    dns::wire_reader r(rdata);
    nsec_fields f;
    f.next = r.read_name(false);
    f.types = parse_type_bitmap(r.bytes(r.remaining()));
    return f;
}

nsec3_params nsec3_params::parse(std::span<const uint8_t> rdata) {
    dns::wire_reader r(rdata);
    nsec3_params p;
    p.algorithm = r.u8();
    p.flags = r.u8();
    p.iterations = r.u16();
    auto salt = r.bytes(r.u8());
    p.salt.assign(salt.begin(), salt.end());
    if (!r.at_end()) throw dns::wire_error("NSEC3PARAM RDATA has trailing octets");
    return p;
}

std::vector<uint8_t> nsec3_params::to_wire() const {
    if (salt.size() > 255) throw dnssec_error("NSEC3 salt longer than 255 octets");
    std::vector<uint8_t> out(5 + salt.size());
    out[0] = algorithm;
    out[1] = flags;
    out[2] = static_cast<uint8_t>(iterations >> 8);
    out[3] = static_cast<uint8_t>(iterations);
    out[4] = static_cast<uint8_t>(salt.size());
    std::copy(salt.begin(), salt.end(), out.begin() + 5);
    return out;
}

struct nsec3_hasher::impl {
    ossl::md_ctx_ptr ctx{EVP_MD_CTX_new()};
    EVP_MD* md = nullptr;
    uint16_t iterations;
    std::vector<uint8_t> salt;
    ~impl() { EVP_MD_free(md); }
};

nsec3_hasher::nsec3_hasher(uint16_t iterations, std::span<const uint8_t> salt) : impl_(new impl) {
    impl_->iterations = iterations;
    impl_->salt.assign(salt.begin(), salt.end());
    // Fetched once: the implicit fetch of EVP_sha1() per digest would dominate the cost.
    impl_->md = EVP_MD_fetch(nullptr, "SHA1", nullptr);
    if (!impl_->ctx || !impl_->md) {
        delete impl_;
        throw dnssec_error("NSEC3 hash: SHA-1 unavailable: " + ossl::last_error());
    }
}

nsec3_hasher::~nsec3_hasher() {
    delete impl_;
}

nsec3_hash_value nsec3_hasher::operator()(std::span<const uint8_t> owner_wire) {
    // RFC 5155 §5: IH(salt, x, 0) = H(x || salt); IH(salt, x, k) = H(IH(salt, x, k-1) || salt),
    // x the owner in canonical wire form.
    uint8_t lower[dns::max_name_length];
    size_t n = std::min(owner_wire.size(), sizeof lower);
    for (size_t pos = 0; pos < n;) {
        uint8_t len = owner_wire[pos];
        lower[pos] = len;
        for (size_t i = 1; i <= len && pos + i < n; ++i) {
            uint8_t c = owner_wire[pos + i];
            lower[pos + i] = (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + 32) : c;
        }
        pos += len + 1u;
    }
    nsec3_hash_value h{};
    EVP_MD_CTX* ctx = impl_->ctx.get();
    auto round = [&](const uint8_t* data, size_t size) {
        unsigned int out_len = 0;
        if (EVP_DigestInit_ex2(ctx, impl_->md, nullptr) != 1 ||
            EVP_DigestUpdate(ctx, data, size) != 1 ||
            EVP_DigestUpdate(ctx, impl_->salt.data(), impl_->salt.size()) != 1 ||
            EVP_DigestFinal_ex(ctx, h.data(), &out_len) != 1 || out_len != h.size())
            throw dnssec_error("NSEC3 hash: " + ossl::last_error());
    };
    round(lower, n);
    for (unsigned k = 0; k < impl_->iterations; ++k) {
        nsec3_hash_value prev = h;
        round(prev.data(), prev.size());
    }
    return h;
}

nsec3_hash_value nsec3_hash(const dns::name& owner, uint16_t iterations,
                            std::span<const uint8_t> salt) {
    nsec3_hasher h(iterations, salt);
    return h(owner.wire());
}

std::string nsec3_label(std::span<const uint8_t> hash) {
    std::string s;
    dns::append_base32hex(s, hash);
    for (auto& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    return s;
}

dns::name nsec3_owner(std::span<const uint8_t> hash, const dns::name& zone) {
    std::string label = nsec3_label(hash);
    std::vector<uint8_t> wire;
    wire.push_back(static_cast<uint8_t>(label.size()));
    wire.insert(wire.end(), label.begin(), label.end());
    wire.insert(wire.end(), zone.wire().begin(), zone.wire().end());
    return dns::name::from_wire(wire);
}

std::vector<uint8_t> nsec3_rdata(const nsec3_params& params, bool opt_out,
                                 std::span<const uint8_t> next_hash,
                                 std::span<const uint16_t> types) {
    nsec3_params with_flags = params;
    with_flags.flags = static_cast<uint8_t>(opt_out ? nsec3_flag_opt_out : 0);
    std::vector<uint8_t> out = with_flags.to_wire();
    out.push_back(static_cast<uint8_t>(next_hash.size()));
    out.insert(out.end(), next_hash.begin(), next_hash.end());
    append_type_bitmap(types, out);
    return out;
}

nsec3_fields nsec3_fields::parse(std::span<const uint8_t> rdata) {
    dns::wire_reader r(rdata);
    nsec3_fields f;
    f.algorithm = r.u8();
    f.flags = r.u8();
    f.iterations = r.u16();
    auto salt = r.bytes(r.u8());
    f.salt.assign(salt.begin(), salt.end());
    uint8_t hash_len = r.u8();
    if (hash_len == 0) throw dns::wire_error("NSEC3 next hashed owner name is empty");
    auto next = r.bytes(hash_len);
    f.next_hash.assign(next.begin(), next.end());
    f.types = parse_type_bitmap(r.bytes(r.remaining()));
    return f;
}

}  // namespace hsync::dnssec
