// Bounded reading and writing of DNS wire format (RFC 1035 §4).
//
// wire_reader is the one cursor every wire parser uses: every read is checked against the
// end of the buffer and throws wire_error when it would pass it; names are read with
// compression pointers that must point strictly backwards (so no loop is possible).
// wire_writer appends to a byte vector and compresses names where the caller allows it
// (RFC 3597 §4: only in the RDATA of the RFC 1035 types, never in newer ones).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "dns/error.h"
#include "dns/name.h"

namespace hsync::dns {

class wire_reader {
  public:
    // `message` is the whole DNS message (compression pointers are offsets into it).
    explicit wire_reader(std::span<const uint8_t> message, size_t position = 0)
        : data_(message), pos_(position), end_(message.size()) {}

    size_t position() const { return pos_; }
    size_t remaining() const { return end_ - pos_; }
    bool at_end() const { return pos_ == end_; }
    std::span<const uint8_t> message() const { return data_; }

    // Reads are bounded by `end`, which may be set below the message's end (for RDATA).
    size_t end() const { return end_; }
    void set_end(size_t end) {
        if (end > data_.size()) throw wire_error("length runs past the end of the message");
        end_ = end;
    }

    uint8_t u8() {
        need(1);
        return data_[pos_++];
    }
    uint16_t u16() {
        need(2);
        uint16_t v = static_cast<uint16_t>(data_[pos_] << 8 | data_[pos_ + 1]);
        pos_ += 2;
        return v;
    }
    uint32_t u32() {
        need(4);
        uint32_t v = static_cast<uint32_t>(data_[pos_]) << 24 |
                     static_cast<uint32_t>(data_[pos_ + 1]) << 16 |
                     static_cast<uint32_t>(data_[pos_ + 2]) << 8 | data_[pos_ + 3];
        pos_ += 4;
        return v;
    }
    uint64_t u48() {
        uint64_t high = u16();
        return high << 32 | u32();
    }
    std::span<const uint8_t> bytes(size_t n) {
        need(n);
        auto s = data_.subspan(pos_, n);
        pos_ += n;
        return s;
    }
    void skip(size_t n) { bytes(n); }

    // Reads a name; follows compression pointers only if `allow_compression`.
    name read_name(bool allow_compression = true);
    // Same, appending the uncompressed wire form to `out`.
    void read_name_into(std::vector<uint8_t>& out, bool allow_compression = true);

  private:
    void need(size_t n) const {
        if (n > end_ - pos_) throw wire_error("message truncated: read past the end");
    }
    size_t read_name_raw(uint8_t* out, bool allow_compression);

    std::span<const uint8_t> data_;
    size_t pos_;
    size_t end_;
};

class wire_writer {
  public:
    explicit wire_writer(std::vector<uint8_t>& out) : out_(out), base_(out.size()) {}

    size_t size() const { return out_.size() - base_; }
    std::vector<uint8_t>& buffer() { return out_; }

    void u8(uint8_t v) { out_.push_back(v); }
    void u16(uint16_t v) {
        out_.push_back(static_cast<uint8_t>(v >> 8));
        out_.push_back(static_cast<uint8_t>(v));
    }
    void u32(uint32_t v) {
        u16(static_cast<uint16_t>(v >> 16));
        u16(static_cast<uint16_t>(v));
    }
    void u48(uint64_t v) {
        u16(static_cast<uint16_t>(v >> 32));
        u32(static_cast<uint32_t>(v));
    }
    void bytes(std::span<const uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }

    // Overwrites a u16 written earlier (e.g. RDLENGTH once the RDATA is known).
    void patch_u16(size_t offset, uint16_t v) {
        out_[base_ + offset] = static_cast<uint8_t>(v >> 8);
        out_[base_ + offset + 1] = static_cast<uint8_t>(v);
    }

    // Writes a name; with `compress`, replaces the longest suffix already written (at an
    // offset below 0x4000) by a pointer, and remembers this name's suffixes for later.
    void name(const dns::name& n, bool compress);
    void name(std::span<const uint8_t> wire_name, bool compress);

  private:
    std::vector<uint8_t>& out_;
    size_t base_;  // start of the message in `out_` (pointer offsets are relative to it)
    // Suffix (wire bytes) -> offset of its first occurrence.
    std::unordered_map<std::string, uint16_t> suffixes_;
};

}  // namespace hsync::dns
