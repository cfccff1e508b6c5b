#include "zone/acl.h"

#include <gtest/gtest.h>

using hsync::zone::acl;
namespace ip = hsync::net::asio::ip;

TEST(Acl, FirstMatchDecides) {
    acl a = acl::parse({"!192.0.2.66", "192.0.2.0/24", "2001:db8::/32", "key xfr-key"});
    std::string key = "xfr-key.";
    std::string other = "other.";
    EXPECT_TRUE(a.allows(ip::make_address("192.0.2.1"), nullptr));
    EXPECT_FALSE(a.allows(ip::make_address("192.0.2.66"), nullptr));
    EXPECT_FALSE(a.allows(ip::make_address("198.51.100.1"), nullptr));
    EXPECT_TRUE(a.allows(ip::make_address("198.51.100.1"), &key));
    EXPECT_FALSE(a.allows(ip::make_address("198.51.100.1"), &other));
    EXPECT_TRUE(a.allows(ip::make_address("2001:db8::53"), nullptr));
    EXPECT_FALSE(a.allows(ip::make_address("2001:db9::53"), nullptr));
    EXPECT_TRUE(a.allows(ip::make_address("::ffff:192.0.2.1"), nullptr));  // v4-mapped
}

TEST(Acl, AnyNoneAndEmpty) {
    EXPECT_TRUE(acl::any().allows(ip::make_address("203.0.113.9"), nullptr));
    EXPECT_FALSE(acl::none().allows(ip::make_address("127.0.0.1"), nullptr));
    EXPECT_FALSE(acl::parse({"none", "any"}).allows(ip::make_address("127.0.0.1"), nullptr));
    EXPECT_TRUE(acl::parse({"127.0.0.0/8"}).allows(ip::make_address("127.1.2.3"), nullptr));
}

TEST(Acl, BadElementsRefused) {
    for (const char* bad : {"192.0.2.0/33", "300.1.1.1", "host.example", "10.0.0.0/", "key "})
        EXPECT_THROW(acl::parse({bad}), std::invalid_argument) << bad;
}
