#include "dns/wire.h"

#include <cstring>

namespace hsync::dns {

size_t wire_reader::read_name_raw(uint8_t* out, bool allow_compression) {
    size_t size = 0;
    size_t pos = pos_;
    size_t limit = pos_;  // every pointer must point below this: strictly backwards
    bool jumped = false;
    while (true) {
        if (pos >= data_.size() || (!jumped && pos >= end_))
            throw wire_error("domain name runs past the end of the message");
        uint8_t len = data_[pos];
        if ((len & 0xC0) == 0xC0) {
            if (!allow_compression)
                throw wire_error("compression pointer where compression is not allowed");
            if (pos + 1 >= data_.size() || (!jumped && pos + 1 >= end_))
                throw wire_error("compression pointer truncated");
            size_t target = static_cast<size_t>(len & 0x3F) << 8 | data_[pos + 1];
            if (target >= limit) throw wire_error("compression pointer does not point backwards");
            if (!jumped) pos_ = pos + 2;
            jumped = true;
            limit = target;
            pos = target;
            continue;
        }
        if (len & 0xC0) throw wire_error("unknown label type in domain name");
        if (size + len + 1 > max_name_length)
            throw wire_error("domain name longer than 255 octets");
        if (pos + len >= data_.size() || (!jumped && pos + 1 + len > end_))
            throw wire_error("domain name runs past the end of the message");
        std::memcpy(out + size, &data_[pos], len + 1u);
        size += len + 1u;
        pos += len + 1u;
        if (len == 0) break;
    }
    if (!jumped) pos_ = pos;
    return size;
}

name wire_reader::read_name(bool allow_compression) {
    name result;
    result.size_ = static_cast<uint8_t>(read_name_raw(result.wire_.data(), allow_compression));
    return result;
}

void wire_reader::read_name_into(std::vector<uint8_t>& out, bool allow_compression) {
    uint8_t buf[max_name_length];
    size_t n = read_name_raw(buf, allow_compression);
    out.insert(out.end(), buf, buf + n);
}

void wire_writer::name(const dns::name& n, bool compress) {
    name(n.wire(), compress);
}

void wire_writer::name(std::span<const uint8_t> wire, bool compress) {
    if (!compress) {
        bytes(wire);
        return;
    }
    size_t pos = 0;
    std::string key;
    while (wire[pos] != 0) {
        // Case-sensitive match, so the names a receiver decompresses keep their case.
        key.assign(reinterpret_cast<const char*>(wire.data() + pos), wire.size() - pos);
        auto it = suffixes_.find(key);
        if (it != suffixes_.end()) {
            u16(static_cast<uint16_t>(0xC000 | it->second));
            return;
        }
        size_t offset = size();
        if (offset < 0x4000) suffixes_.emplace(key, static_cast<uint16_t>(offset));
        out_.insert(out_.end(), wire.begin() + pos, wire.begin() + pos + wire[pos] + 1);
        pos += wire[pos] + 1;
    }
    u8(0);
}

}  // namespace hsync::dns
