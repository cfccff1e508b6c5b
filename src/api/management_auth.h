// Authentication of management API requests (docs/configuration.md, "Management API").
//
// The daemon and its clients share one secret, kept in a key file only the service user
// can read. Every request carries
//
//   Authorization: HSYNC-HMAC ts=1764990000, nonce=9f0c...e1, mac=BASE64
//
// with mac = HMAC-SHA256(secret, string_to_sign(...)): the method, the request target as
// sent (path and query), the timestamp, the nonce and the SHA-256 of the body, one per
// line. The server accepts a timestamp within +-window of its own clock, compares the MAC
// in constant time, and remembers every accepted (timestamp, nonce) until it leaves the
// window, so a request captured on the way cannot be played again. The secret itself is
// never sent.
#pragma once

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hsync::api {

inline constexpr const char* management_key_name = "hsync-management";
inline constexpr const char* auth_scheme = "HSYNC-HMAC";
inline constexpr size_t management_key_min_bytes = 16;  // 128 bits
inline constexpr size_t management_key_bytes = 32;      // what the daemon generates

struct management_key {
    std::vector<uint8_t> secret;
};

// A key file is either a BIND key clause, as rndc.key and tsig-keygen write it,
//   key "hsync-management" { algorithm hmac-sha256; secret "BASE64"; };
// (the key of that name when the file has several, else its only key), or a single line
// of base64 (comment lines starting with '#' allowed). Throws std::runtime_error whose
// text never quotes the secret.
management_key parse_management_key(std::string_view text);
// The BIND form, with a comment saying what it is.
std::string format_management_key(const management_key& key);
// A new random secret of management_key_bytes.
management_key generate_management_key();

// Reads a key file. Refuses a file that other users may read or write (group read is
// allowed, for an operators' group). Throws std::runtime_error naming the file.
management_key read_management_key(const std::string& path);
// Reads `path`, or creates it (mode 0600, a fresh key) when it does not exist; `created`
// says which. Throws std::runtime_error naming the file.
management_key load_or_create_management_key(const std::string& path, bool* created = nullptr);

// The text the MAC covers.
std::string string_to_sign(std::string_view method, std::string_view target, int64_t timestamp,
                           std::string_view nonce, std::string_view body);
// The Authorization header value for a request made at `now` (seconds since the epoch).
// An empty `nonce` means a fresh random one (tests pass their own).
std::string sign_request(const management_key& key, std::string_view method,
                         std::string_view target, std::string_view body, int64_t now,
                         std::string_view nonce = {});

struct auth_result {
    bool ok = false;
    std::string reason;  // why not, for the 401 reply and the log; never secret material
};

// The server's side: checks each request's Authorization header and remembers the
// nonces it accepted. Not thread-safe (the management server runs on one loop).
class request_verifier {
  public:
    explicit request_verifier(management_key key,
                              std::chrono::seconds window = std::chrono::seconds(300),
                              size_t max_remembered = 65536);
    // A new secret (SIGHUP after the file changed); remembered nonces stay.
    void set_key(management_key key);
    auth_result verify(std::string_view authorization, std::string_view method,
                       std::string_view target, std::string_view body, int64_t now);
    size_t remembered() const { return seen_.size(); }

  private:
    management_key key_;
    int64_t window_;
    size_t max_remembered_;
    // Accepted (timestamp, nonce), oldest first. When it is full the oldest are dropped
    // and every timestamp up to theirs is refused from then on, so memory stays bounded
    // without reopening a window for replays.
    std::set<std::pair<int64_t, std::string>> seen_;
    int64_t floor_ = INT64_MIN;
};

}  // namespace hsync::api
