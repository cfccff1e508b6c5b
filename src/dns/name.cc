#include "dns/name.h"

#include <algorithm>
#include <cstring>

#include "dns/error.h"

namespace hsync::dns {
namespace {

constexpr uint8_t lower(uint8_t c) {
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

// Offsets of each label's length byte, leftmost first; returns the count (root excluded).
size_t label_offsets(std::span<const uint8_t> wire, std::array<uint8_t, 128>& offsets) {
    size_t count = 0;
    size_t pos = 0;
    while (pos < wire.size() && wire[pos] != 0) {
        offsets[count++] = static_cast<uint8_t>(pos);
        pos += wire[pos] + 1;
    }
    return count;
}

bool needs_escape(uint8_t c) {
    switch (c) {
        case '.':
        case '\\':
        case '"':
        case '(':
        case ')':
        case ';':
        case '@':
        case '$':
            return true;
        default:
            return false;
    }
}

}  // namespace

void append_label_text(std::string& out, const uint8_t* label, size_t length) {
    for (size_t i = 0; i < length; ++i) {
        uint8_t c = label[i];
        if (c <= 0x20 || c >= 0x7f) {
            char buf[5] = {'\\', static_cast<char>('0' + c / 100),
                           static_cast<char>('0' + (c / 10) % 10), static_cast<char>('0' + c % 10),
                           0};
            out.append(buf, 4);
        } else {
            if (needs_escape(c)) out.push_back('\\');
            out.push_back(static_cast<char>(c));
        }
    }
}

name name::from_text(std::string_view text, const name* origin) {
    if (text.empty()) throw text_error("empty domain name");
    if (text == "@") {
        if (!origin) throw text_error("'@' used but no origin is known");
        return *origin;
    }
    name result;
    if (text == ".") return result;

    uint8_t* out = result.wire_.data();
    size_t size = 0;         // bytes written so far
    size_t label_start = 0;  // position of the current label's length byte
    size_t label_length = 0;
    bool absolute = false;
    size = 1;  // reserve the first length byte
    auto put = [&](uint8_t c) {
        if (label_length >= max_label_length)
            throw text_error("label longer than 63 octets in '" + std::string(text) + "'");
        if (size >= max_name_length)
            throw text_error("domain name longer than 255 octets: '" + std::string(text) + "'");
        out[size++] = c;
        ++label_length;
    };
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '\\') {
            if (i + 1 >= text.size())
                throw text_error("domain name ends in a lone backslash: '" + std::string(text) +
                                 "'");
            char d = text[i + 1];
            if (d >= '0' && d <= '9') {
                if (i + 3 >= text.size() || !(text[i + 2] >= '0' && text[i + 2] <= '9') ||
                    !(text[i + 3] >= '0' && text[i + 3] <= '9'))
                    throw text_error("bad \\DDD escape in domain name '" + std::string(text) + "'");
                int v = (d - '0') * 100 + (text[i + 2] - '0') * 10 + (text[i + 3] - '0');
                if (v > 255)
                    throw text_error("\\DDD escape above 255 in domain name '" + std::string(text) +
                                     "'");
                put(static_cast<uint8_t>(v));
                i += 3;
            } else {
                put(static_cast<uint8_t>(d));
                i += 1;
            }
        } else if (c == '.') {
            if (label_length == 0)
                throw text_error("empty label in domain name '" + std::string(text) + "'");
            out[label_start] = static_cast<uint8_t>(label_length);
            if (i + 1 == text.size()) {
                absolute = true;
                break;
            }
            label_start = size;
            if (size >= max_name_length)
                throw text_error("domain name longer than 255 octets: '" + std::string(text) + "'");
            ++size;
            label_length = 0;
        } else {
            put(static_cast<uint8_t>(c));
        }
    }
    if (!absolute) {
        if (label_length == 0)
            throw text_error("empty label in domain name '" + std::string(text) + "'");
        out[label_start] = static_cast<uint8_t>(label_length);
        if (!origin)
            throw text_error("relative domain name '" + std::string(text) +
                             "' but no origin is known");
        if (size + origin->size_ > max_name_length)
            throw text_error("domain name longer than 255 octets: '" + std::string(text) + "." +
                             origin->to_text() + "'");
        std::memcpy(out + size, origin->wire_.data(), origin->size_);
        size += origin->size_;
    } else {
        if (size + 1 > max_name_length)
            throw text_error("domain name longer than 255 octets: '" + std::string(text) + "'");
        out[size++] = 0;
    }
    result.size_ = static_cast<uint8_t>(size);
    return result;
}

name name::from_wire(std::span<const uint8_t> wire) {
    if (wire.empty() || wire.size() > max_name_length)
        throw wire_error("domain name of bad length " + std::to_string(wire.size()));
    size_t pos = 0;
    while (true) {
        if (pos >= wire.size()) throw wire_error("domain name runs past its end");
        uint8_t len = wire[pos];
        if (len == 0) break;
        if (len > max_label_length) throw wire_error("label longer than 63 octets or compressed");
        pos += len + 1;
    }
    if (pos + 1 != wire.size()) throw wire_error("trailing bytes after domain name");
    name result;
    std::memcpy(result.wire_.data(), wire.data(), wire.size());
    result.size_ = static_cast<uint8_t>(wire.size());
    return result;
}

void name::append_text(std::string& out) const {
    if (size_ == 1) {
        out.push_back('.');
        return;
    }
    size_t pos = 0;
    while (wire_[pos] != 0) {
        append_label_text(out, &wire_[pos + 1], wire_[pos]);
        out.push_back('.');
        pos += wire_[pos] + 1;
    }
}

std::string name::to_text() const {
    std::string out;
    out.reserve(size_ + 8);
    append_text(out);
    return out;
}

size_t name::label_count() const {
    size_t count = 0;
    for (size_t pos = 0; wire_[pos] != 0; pos += wire_[pos] + 1)
        ++count;
    return count;
}

bool name::is_subdomain_of(const name& ancestor) const {
    if (ancestor.size_ > size_) return false;
    // Walk our labels until the remaining suffix has the ancestor's length, then compare:
    // the suffix must start on a label boundary.
    size_t pos = 0;
    while (size_ - pos > ancestor.size_)
        pos += wire_[pos] + 1;
    if (size_ - pos != ancestor.size_) return false;
    for (size_t i = 0; i < ancestor.size_; ++i)
        if (lower(wire_[pos + i]) != lower(ancestor.wire_[i])) return false;
    return true;
}

name name::parent(size_t n) const {
    size_t pos = 0;
    for (size_t i = 0; i < n && wire_[pos] != 0; ++i)
        pos += wire_[pos] + 1;
    name result;
    result.size_ = static_cast<uint8_t>(size_ - pos);
    std::memcpy(result.wire_.data(), wire_.data() + pos, result.size_);
    return result;
}

name name::concat(const name& suffix) const {
    if (size_t{size_} - 1 + suffix.size_ > max_name_length)
        throw dns_error("domain name longer than 255 octets");
    name result;
    std::memcpy(result.wire_.data(), wire_.data(), size_ - 1);
    std::memcpy(result.wire_.data() + size_ - 1, suffix.wire_.data(), suffix.size_);
    result.size_ = static_cast<uint8_t>(size_ - 1 + suffix.size_);
    return result;
}

void name::to_lower() {
    for (size_t pos = 0; wire_[pos] != 0; pos += wire_[pos] + 1)
        for (size_t i = 1; i <= wire_[pos]; ++i)
            wire_[pos + i] = lower(wire_[pos + i]);
}

name name::canonical() const {
    name copy = *this;
    copy.to_lower();
    return copy;
}

bool operator==(const name& a, const name& b) {
    if (a.size_ != b.size_) return false;
    for (size_t i = 0; i < a.size_; ++i)
        if (lower(a.wire_[i]) != lower(b.wire_[i])) return false;
    return true;
}

int canonical_compare(std::span<const uint8_t> a, std::span<const uint8_t> b) {
    std::array<uint8_t, 128> la, lb;
    size_t na = label_offsets(a, la);
    size_t nb = label_offsets(b, lb);
    while (na > 0 && nb > 0) {
        --na;
        --nb;
        const uint8_t* pa = &a[la[na]];
        const uint8_t* pb = &b[lb[nb]];
        size_t len = std::min(pa[0], pb[0]);
        for (size_t i = 1; i <= len; ++i) {
            uint8_t ca = lower(pa[i]), cb = lower(pb[i]);
            if (ca != cb) return ca < cb ? -1 : 1;
        }
        if (pa[0] != pb[0]) return pa[0] < pb[0] ? -1 : 1;
    }
    if (na == nb) return 0;
    return na < nb ? -1 : 1;
}

std::strong_ordering operator<=>(const name& a, const name& b) {
    int c = canonical_compare(a.wire(), b.wire());
    return c < 0 ? std::strong_ordering::less
                 : (c > 0 ? std::strong_ordering::greater : std::strong_ordering::equal);
}

size_t name::hash() const {
    // FNV-1a over the lower-cased wire form.
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < size_; ++i) {
        h ^= lower(wire_[i]);
        h *= 1099511628211ULL;
    }
    return static_cast<size_t>(h);
}

}  // namespace hsync::dns
