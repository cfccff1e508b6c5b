#include "zone/acl.h"

#include <stdexcept>

#include "dns/name.h"

namespace hsync::zone {
namespace {

bool in_prefix(const net::asio::ip::address& a, const net::asio::ip::address& network,
               unsigned prefix) {
    auto bytes_of = [](const net::asio::ip::address& x, std::array<unsigned char, 16>& out) {
        if (x.is_v4()) {
            // IPv4 and IPv4-mapped IPv6 compare as IPv4.
            auto b = x.to_v4().to_bytes();
            std::copy(b.begin(), b.end(), out.begin());
            return 4u;
        }
        auto v6 = x.to_v6();
        if (v6.is_v4_mapped()) {
            auto b = v6.to_v4().to_bytes();
            std::copy(b.begin(), b.end(), out.begin());
            return 4u;
        }
        auto b = v6.to_bytes();
        std::copy(b.begin(), b.end(), out.begin());
        return 16u;
    };
    std::array<unsigned char, 16> x{}, n{};
    unsigned lx = bytes_of(a, x), ln = bytes_of(network, n);
    if (lx != ln) return false;
    for (unsigned i = 0; i < prefix; ++i) {
        unsigned byte = i / 8, bit = 7 - i % 8;
        if (((x[byte] >> bit) & 1) != ((n[byte] >> bit) & 1)) return false;
    }
    return true;
}

}  // namespace

acl::rule acl::parse_rule(std::string_view text) {
    rule r;
    r.text = std::string(text);
    while (!text.empty() && text.front() == ' ')
        text.remove_prefix(1);
    if (!text.empty() && text.front() == '!') {
        r.negate = true;
        text.remove_prefix(1);
    }
    if (text == "any") {
        r.what = rule::kind::any;
        return r;
    }
    if (text == "none") {
        r.what = rule::kind::any;
        r.negate = !r.negate;
        return r;
    }
    if (text.substr(0, 4) == "key ") {
        r.what = rule::kind::key;
        std::string_view key = text.substr(4);
        while (!key.empty() && key.front() == ' ')
            key.remove_prefix(1);
        dns::name root;
        try {
            r.key = dns::name::from_text(key, &root).canonical().to_text();
        } catch (const std::exception&) {
            throw std::invalid_argument("bad key name in ACL element '" + r.text + "'");
        }
        return r;
    }
    r.what = rule::kind::address;
    std::string address(text);
    size_t slash = address.find('/');
    std::string host = address.substr(0, slash);
    boost::system::error_code ec;
    r.network = net::asio::ip::make_address(host, ec);
    if (ec)
        throw std::invalid_argument("ACL element '" + r.text +
                                    "' is not an address, prefix, 'key NAME', 'any' or 'none'");
    unsigned max = r.network.is_v4() ? 32 : 128;
    r.prefix_length = max;
    if (slash != std::string::npos) {
        std::string len = address.substr(slash + 1);
        if (len.empty() || len.size() > 3 ||
            len.find_first_not_of("0123456789") != std::string::npos || std::stoul(len) > max)
            throw std::invalid_argument("bad prefix length in ACL element '" + r.text + "'");
        r.prefix_length = static_cast<unsigned>(std::stoul(len));
    }
    if (r.network.is_v6() && r.network.to_v6().is_v4_mapped()) {
        r.network = r.network.to_v6().to_v4();
        r.prefix_length = r.prefix_length >= 96 ? r.prefix_length - 96 : 0;
    }
    return r;
}

acl acl::parse(const std::vector<std::string>& elements) {
    acl a;
    for (const auto& e : elements)
        a.rules_.push_back(parse_rule(e));
    return a;
}

acl acl::any() {
    return parse({"any"});
}
acl acl::none() {
    return acl();
}

bool acl::allows(const net::asio::ip::address& client, const std::string* key) const {
    for (const auto& r : rules_) {
        bool match = false;
        switch (r.what) {
            case rule::kind::any:
                match = true;
                break;
            case rule::kind::key:
                match = key && *key == r.key;
                break;
            case rule::kind::address:
                match = in_prefix(client, r.network, r.prefix_length);
                break;
        }
        if (match) return !r.negate;
    }
    return false;
}

std::string acl::to_text() const {
    std::string out;
    for (const auto& r : rules_) {
        if (!out.empty()) out += "; ";
        out += r.text;
    }
    return out.empty() ? "none" : out;
}

}  // namespace hsync::zone
