// Access control lists as BIND operators write them: address prefixes, "key NAME" (the
// request must be signed with that TSIG/SIG(0) key), "any", "none", and "!" to negate.
// The first matching element decides; no match refuses.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/asio.h"

namespace hsync::zone {

class acl {
  public:
    // Elements: "192.0.2.0/24", "2001:db8::/32", "127.0.0.1", "key NAME", "any", "none",
    // each optionally prefixed by "!". Throws std::invalid_argument with a clear message.
    static acl parse(const std::vector<std::string>& elements);
    static acl any();
    static acl none();

    // `key` is the name of the key that signed the request, if any (lower-case, absolute).
    bool allows(const net::asio::ip::address& client, const std::string* key) const;
    bool empty() const { return rules_.empty(); }
    std::string to_text() const;

  private:
    struct rule {
        bool negate = false;
        enum class kind { address, key, any } what = kind::any;
        net::asio::ip::address network;
        unsigned prefix_length = 0;
        std::string key;  // canonical, absolute
        std::string text;
    };
    static rule parse_rule(std::string_view text);
    std::vector<rule> rules_;
};

}  // namespace hsync::zone
