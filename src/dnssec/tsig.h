// Transaction signatures with shared secrets: TSIG (RFC 8945).
//
// A TSIG record is the last record of a message. Its MAC is an HMAC over the message as it
// was before the record was added (original ID, ARCOUNT without the TSIG) followed by the
// "TSIG variables" (§4.3.3); a response's MAC also covers the request's MAC (§4.3.1), and
// each later message of a multi-message answer (zone transfer) covers the previous MAC,
// the messages since then and only the timers (§5.3.1).
//
// Verification always works on the bytes received (the parsed message only says where the
// TSIG starts), never on a re-serialisation, and compares MACs in constant time.
//
// Algorithms: HMAC-SHA256 (the default), HMAC-SHA384, HMAC-SHA512, and HMAC-SHA1 for old
// peers. HMAC-MD5 is refused (RFC 8945 §6: MUST NOT be used). Truncated MACs (§5.2.2.1)
// are refused entirely, which RFC 8945 allows: we neither send nor accept them.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dns/message.h"
#include "dns/name.h"
#include "dnssec/key.h"

namespace hsync::dnssec {

// TSIG error field values (RFC 8945 §3, IANA "DNS RCODEs").
namespace tsig_error {
inline constexpr uint16_t NOERROR = 0, BADSIG = 16, BADKEY = 17, BADTIME = 18, BADTRUNC = 22;
}

inline constexpr uint16_t tsig_default_fudge = 300;  // RFC 8945 §10: 300 s recommended

enum class tsig_algorithm : uint8_t { hmac_sha1, hmac_sha256, hmac_sha384, hmac_sha512 };

// "hmac-sha256" etc. (the BIND key-file and dig -y spelling, also the name's first label).
std::string tsig_algorithm_text(tsig_algorithm alg);
// The algorithm name carried in the TSIG record ("hmac-sha256.").
dns::name tsig_algorithm_name(tsig_algorithm alg);
// MAC size in octets (the hash size).
size_t tsig_mac_size(tsig_algorithm alg);
// From text ("hmac-sha256", any case, a final dot allowed). Throws dnssec_error for
// HMAC-MD5, truncated variants ("hmac-sha256-128") and unknown names.
tsig_algorithm tsig_algorithm_from_text(std::string_view text);
// From the record's algorithm name; nullopt if not one we accept.
std::optional<tsig_algorithm> tsig_algorithm_from_name(const dns::name& name);

// HMAC (RFC 2104) of the concatenation of `parts`, for the TSIG algorithms.
std::vector<uint8_t> hmac(tsig_algorithm alg, std::span<const uint8_t> secret,
                          std::initializer_list<std::span<const uint8_t>> parts);

struct tsig_key {
    dns::name name;
    tsig_algorithm algorithm = tsig_algorithm::hmac_sha256;
    std::vector<uint8_t> secret;
};

// A new key with a random secret as long as the hash (RFC 8945 §6: at least that long).
tsig_key generate_tsig_key(const dns::name& name, tsig_algorithm alg = tsig_algorithm::hmac_sha256);

// Where servers find the key a request names (lookup by key name, case-insensitive).
class tsig_key_provider {
  public:
    virtual ~tsig_key_provider() = default;
    // nullptr if there is no key of that name.
    virtual const tsig_key* find(const dns::name& key_name) const = 0;
};

// The simple provider: keys in memory, e.g. from a BIND key file.
class tsig_keyring final : public tsig_key_provider {
  public:
    tsig_keyring() = default;
    explicit tsig_keyring(std::vector<tsig_key> keys);
    // Replaces a key of the same name.
    void add(tsig_key key);
    const tsig_key* find(const dns::name& key_name) const override;
    size_t size() const { return keys_.size(); }

  private:
    std::unordered_map<dns::name, tsig_key, dns::name_hash> keys_;
};

// BIND key files (named.conf syntax, as tsig-keygen writes them):
//   key "name" { algorithm hmac-sha256; secret "base64"; };
// Several keys per file; comments `#`, `//` and `/* */`. Throws dns::text_error with the
// line number for bad syntax, dnssec_error for a refused algorithm.
std::vector<tsig_key> parse_tsig_key_file(std::string_view text);
std::vector<tsig_key> read_tsig_key_file(const std::string& path);
std::string format_tsig_key_file(std::span<const tsig_key> keys);

// dig/nsupdate `-y [alg:]name:secret` (algorithm hmac-sha256 when omitted).
tsig_key parse_tsig_key_spec(std::string_view spec);

// The fields of TSIG RDATA (RFC 8945 §4.2).
struct tsig_fields {
    dns::name algorithm;
    uint64_t time_signed = 0;  // 48 bits
    uint16_t fudge = tsig_default_fudge;
    std::vector<uint8_t> mac;
    uint16_t original_id = 0;
    uint16_t error = 0;
    std::vector<uint8_t> other_data;

    static tsig_fields parse(std::span<const uint8_t> rdata);  // throws dns::wire_error
    std::vector<uint8_t> to_wire() const;
};

// What verification found, and what a server answers (RFC 8945 §5.2).
enum class tsig_status : uint8_t {
    ok,
    unsigned_message,   // no TSIG record where one was required
    formerr,            // malformed TSIG, or a MAC of an illegal length (§5.2.2.1)
    badkey,             // unknown key name, or the key's algorithm differs (§5.2.1)
    badsig,             // MAC mismatch (§5.2.2)
    badtime,            // time signed outside the fudge window (§5.2.3)
    badtrunc,           // a truncated MAC: we accept only the full length (§5.2.2.1)
    peer_error,         // a response carrying a TSIG error from the peer (§5.3.2)
    too_many_unsigned,  // more than 99 unsigned messages in a row (§5.3.1)
};
std::string_view tsig_status_text(tsig_status status);

struct tsig_result {
    tsig_status status = tsig_status::unsigned_message;
    uint16_t rcode = dns::rcode::NOERROR;  // the RCODE to answer with (server side)
    uint16_t error = tsig_error::NOERROR;  // the TSIG error field to answer with
    std::string reason;                    // for logs, an operator's words
    dns::name key_name;
    tsig_fields fields;           // as received (if a TSIG was there and parsed)
    std::optional<tsig_key> key;  // the key that verified it (ok, badtime, badtrunc)

    bool ok() const { return status == tsig_status::ok; }
};

// Verifies a request's TSIG (server side) with the key the provider has under its name.
// `wire` is the message as received and `parsed` its message::parse() result. A request
// without TSIG gives unsigned_message (rcode NOERROR: the caller decides whether it needs
// one). `now` is seconds since the epoch.
tsig_result tsig_verify_request(std::span<const uint8_t> wire, const dns::message& parsed,
                                const tsig_key_provider& keys, int64_t now);

// Appends the answer's TSIG to a server's `response` (a complete message without TSIG, its
// ID the request's) according to how the request verified: signed with the request MAC for
// ok and badtime (BADTIME carries the server's time in Other Data, §5.2.3), unsigned
// (empty MAC, §5.3.2) with the error for badkey, badsig, badtrunc and formerr. Does
// nothing for an unsigned request. For several response messages use tsig_session.
void tsig_answer(std::vector<uint8_t>& response, const tsig_result& request, int64_t now);

// One signed exchange: a request and its response(s), from either side.
//
//   requester: sign(request) then verify(response) for each response message;
//   responder: built from the request's MAC, sign(response) for each response message.
//
// Responses after the first use the previous MAC and the timers only (§5.3.1); a
// requester accepts up to 99 unsigned messages between signed ones and folds them into
// the next MAC. complete() says whether the last response seen was signed.
class tsig_session {
  public:
    // A requester that has sent nothing yet.
    explicit tsig_session(tsig_key key, uint16_t fudge = tsig_default_fudge);
    // A requester whose request (with MAC `request_mac`) was sent elsewhere.
    static tsig_session awaiting_response(tsig_key key, std::span<const uint8_t> request_mac,
                                          uint16_t fudge = tsig_default_fudge);
    // A responder to a verified request (`request.key` must be set).
    static tsig_session responder(const tsig_result& request, uint16_t fudge = tsig_default_fudge);
    static tsig_session responder(tsig_key key, std::span<const uint8_t> request_mac,
                                  uint16_t fudge = tsig_default_fudge);

    // Appends a signed TSIG record to `wire` (a complete message without one) and raises
    // ARCOUNT. The first message of each side uses the full variables; a responder's
    // later messages the timers only. Throws dns::wire_error if the message is too big.
    void sign(std::vector<uint8_t>& wire, int64_t now, uint16_t error = tsig_error::NOERROR,
              std::span<const uint8_t> other_data = {});
    std::vector<uint8_t> sign(const dns::message& m, int64_t now);
    // A responder sends `wire` without TSIG; the next signed message covers it (§5.3.1:
    // at most 99 in a row, and the last message of the stream must be signed).
    void pass_unsigned(std::span<const uint8_t> wire);

    // A requester verifies the next response message (bytes as received, and parsed).
    tsig_result verify(std::span<const uint8_t> wire, const dns::message& parsed, int64_t now);

    // True if the last response verified carried a valid TSIG (§5.3.1: the last MUST).
    bool complete() const { return unsigned_run_ == 0 && responses_ > 0; }
    const std::vector<uint8_t>& last_mac() const { return prior_mac_; }
    const tsig_key& key() const { return key_; }

  private:
    enum class phase : uint8_t { request, responses };
    tsig_key key_;
    uint16_t fudge_;
    bool responder_ = false;
    phase phase_ = phase::request;
    std::vector<uint8_t> prior_mac_;  // request MAC, then each response's MAC
    std::vector<uint8_t> pending_;    // unsigned messages since the last MAC (§5.3.1)
    unsigned responses_ = 0;          // signed responses made or verified
    unsigned unsigned_run_ = 0;
};

// Internal, exposed for tests: the MAC over `message` (its TSIG already removed, ID and
// ARCOUNT as the signer had them) with the given fields. `prior_mac` empty for a request;
// `timers_only` for the later messages of a multi-message response.
std::vector<uint8_t> tsig_compute_mac(const tsig_key& key, std::span<const uint8_t> prior_mac,
                                      std::span<const uint8_t> unsigned_messages,
                                      std::span<const uint8_t> message, const tsig_fields& fields,
                                      bool timers_only);

// Appends `record` (an RR written uncompressed) to a complete message and raises ARCOUNT.
// Throws dns::wire_error if the message would pass 65535 octets or 65535 records.
void append_additional_record(std::vector<uint8_t>& wire, const dns::rr& record);

}  // namespace hsync::dnssec
