// EDNS(0) (RFC 6891): the OPT pseudo-RR's fields and its options as typed values.
//
// Options hsync reads are typed (the Multi-Signer option of docs/protocol.md, COOKIE of
// RFC 7873, PADDING of RFC 7830); every other option is kept verbatim as a
// generic_option and written back unchanged, in the order received.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "dns/rr.h"

namespace hsync::dns {

// EDNS option codes (IANA "DNS EDNS0 Option Codes (OPT)").
namespace edns_code {
inline constexpr uint16_t NSID = 3, CLIENT_SUBNET = 8, EXPIRE = 9, COOKIE = 10, TCP_KEEPALIVE = 11,
                          PADDING = 12, EDE = 15;
// The Multi-Signer option's default code (docs/protocol.md: local/experimental range).
inline constexpr uint16_t MULTI_SIGNER_DEFAULT = 65050;
}  // namespace edns_code

// The Multi-Signer option code in force. Set once at start-up, before any parsing, if all
// providers of a zone agreed on another code.
uint16_t multi_signer_option_code();
void set_multi_signer_option_code(uint16_t code);

// Multi-Signer OPERATION values. 1 and 2 come from the draft; 3-127 are left to it;
// 128-255 are private use, where hsync's own operations live (docs/protocol.md).
namespace ms_operation {
inline constexpr uint8_t HELLO = 1, HEARTBEAT = 2;
inline constexpr uint8_t PRIVATE_FIRST = 128;
}  // namespace ms_operation

// TRANSPORT and SYNCHRONIZATION are bit sets. "Bit N" in docs/protocol.md means the value
// 1 << N counted from the least significant bit, so bit 0 is 0x01 and bit 1 is 0x02.
namespace ms_transport {
inline constexpr uint8_t DNS = 0x01;  // bit 0: always set by a sender
inline constexpr uint8_t API = 0x02;  // bit 1
}  // namespace ms_transport
namespace ms_sync {
inline constexpr uint8_t LEADER_FOLLOWER = 0x01;  // bit 0: always set by a sender
inline constexpr uint8_t PEER = 0x02;             // bit 1
}  // namespace ms_sync

// One `key u16 | length u16 | value` element of an OPERATION-BODY.
struct ms_tlv {
    uint16_t key = 0;
    std::vector<uint8_t> value;
    friend bool operator==(const ms_tlv&, const ms_tlv&) = default;
};

// Payload: OPERATION u8 | TRANSPORT u8 | SYNCHRONIZATION u8 | reserved u8 | OPERATION-BODY.
struct multi_signer_option {
    uint8_t operation = 0;
    uint8_t transport = ms_transport::DNS;
    uint8_t synchronization = ms_sync::LEADER_FOLLOWER;
    // Must be sent as 0. A received non-zero value is accepted and kept (and written back)
    // rather than refused: being liberal here lets a later revision of the draft use it
    // without breaking older agents.
    uint8_t reserved = 0;
    std::vector<ms_tlv> body;  // keys strictly increasing

    // The TLV with `key`, or nullptr. Unknown keys stay in `body`; users ignore them.
    const ms_tlv* find(uint16_t key) const;
    std::optional<std::span<const uint8_t>> value(uint16_t key) const;
    // Inserts or replaces the TLV with `key`, keeping the keys in increasing order.
    void set(uint16_t key, std::span<const uint8_t> value);

    // Option data (without code and length). Throws wire_error if shorter than 4 octets,
    // if a TLV overruns the option or if keys are not strictly increasing.
    static multi_signer_option from_wire(std::span<const uint8_t> data);
    // Appends the option data. Throws wire_error if keys are not strictly increasing or
    // the data would exceed 65535 octets.
    void to_wire(std::vector<uint8_t>& out) const;

    friend bool operator==(const multi_signer_option&, const multi_signer_option&) = default;
};

// RFC 7873 §4: an 8-octet client cookie, optionally followed by an 8 to 32 octet server
// cookie.
struct cookie_option {
    std::array<uint8_t, 8> client{};
    std::vector<uint8_t> server;  // empty, or 8..32 octets

    // Throws wire_error on any other length (RFC 7873 §5.2.2: FORMERR).
    static cookie_option from_wire(std::span<const uint8_t> data);
    void to_wire(std::vector<uint8_t>& out) const;
    friend bool operator==(const cookie_option&, const cookie_option&) = default;
};

// RFC 7830: only the length matters; receivers ignore the content, and it is written back
// as zeros (§4).
struct padding_option {
    uint16_t length = 0;
    friend bool operator==(const padding_option&, const padding_option&) = default;
};

// Any other option, kept verbatim.
struct generic_option {
    uint16_t code = 0;
    std::vector<uint8_t> data;
    friend bool operator==(const generic_option&, const generic_option&) = default;
};

using edns_option =
    std::variant<multi_signer_option, cookie_option, padding_option, generic_option>;

// The code an option is written with.
uint16_t option_code(const edns_option& option);

// The OPT pseudo-RR (RFC 6891 §6.1.2, §6.1.3).
struct edns {
    uint16_t udp_payload_size = 1232;  // CLASS field; values below 512 are treated as 512
    // Upper 8 bits of the 12-bit RCODE. Inside a message, message::rcode holds the full
    // value: parsing copies the bits here, writing takes them from message::rcode.
    uint8_t extended_rcode = 0;
    uint8_t version = 0;
    bool dnssec_ok = false;  // DO, the top bit of the flags (RFC 3225)
    uint16_t flags = 0;      // the other 15 flag bits (Z), kept as received, DO bit clear
    std::vector<edns_option> options;

    // Reads the OPT record's fields and options; the caller checks where it was in the
    // message. Throws wire_error on a malformed option.
    static edns from_rr(const rr& opt);
    rr to_rr() const;  // owner root, type OPT; throws wire_error if RDATA exceeds 65535

    // The first option of type T, or nullptr.
    template <typename T>
    const T* find() const {
        for (const auto& o : options)
            if (const T* p = std::get_if<T>(&o)) return p;
        return nullptr;
    }
    const multi_signer_option* multi_signer() const { return find<multi_signer_option>(); }
    const cookie_option* cookie() const { return find<cookie_option>(); }

    // dig-like lines, each starting with "; ", for logs.
    void append_text(std::string& out) const;

    friend bool operator==(const edns&, const edns&) = default;
};

}  // namespace hsync::dns
