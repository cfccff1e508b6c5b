#include "dns/name.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dns/error.h"
#include "dns/wire.h"
#include "test_util.h"

using hsync::test::hex;

using hsync::dns::name;
using hsync::dns::text_error;
using hsync::dns::wire_error;
using hsync::dns::wire_reader;
using hsync::dns::wire_writer;

namespace {}  // namespace

TEST(Name, PresentationRoundTrip) {
    struct {
        const char* in;
        const char* wire_hex;
        const char* out;
    } cases[] = {
        {".", "00", "."},
        {"example.", "076578616d706c6500", "example."},
        {"a.B.c.",
         "0161014201630"
         "0",
         "a.B.c."},
        {"a\\.b.c.", "03612e62016300", "a\\.b.c."},
        {"\\065.c.", "0141016300", "A.c."},
        {"\\000.c.", "0100016300", "\\000.c."},
        {"sp\\032ace.", "0673702061636500", "sp\\032ace."},
        {"q\\\"uote.", "067122756f746500", "q\\\"uote."},
        {"at\\@.x.", "03617440017800", "at\\@.x."},
        {"*.wild.", "012a0477696c6400", "*.wild."},
    };
    for (const auto& c : cases) {
        name n = name::from_text(c.in);
        std::string want = c.wire_hex;
        std::erase(want, ' ');
        EXPECT_EQ(hex(n.wire()), want) << c.in;
        EXPECT_EQ(n.to_text(), c.out) << c.in;
        EXPECT_EQ(name::from_text(n.to_text()), n) << c.in;
    }
}

TEST(Name, RelativeAndOrigin) {
    name origin = name::from_text("example.com.");
    EXPECT_EQ(name::from_text("www", &origin).to_text(), "www.example.com.");
    EXPECT_EQ(name::from_text("@", &origin).to_text(), "example.com.");
    EXPECT_EQ(name::from_text("a.b.", &origin).to_text(), "a.b.");
    EXPECT_THROW(name::from_text("www"), text_error);
    EXPECT_THROW(name::from_text("@"), text_error);
}

TEST(Name, Limits) {
    std::string label63(63, 'a');
    EXPECT_NO_THROW(name::from_text(label63 + "."));
    EXPECT_THROW(name::from_text(std::string(64, 'a') + "."), text_error);
    // 4 labels of 63 = 4*64 = 256 + root > 255
    std::string long_name = label63 + "." + label63 + "." + label63 + "." + label63 + ".";
    EXPECT_THROW(name::from_text(long_name), text_error);
    // 3*64 + 62+1 + 1 = 255 exactly
    std::string max_name =
        label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b') + ".";
    name n = name::from_text(max_name);
    EXPECT_EQ(n.wire_size(), 255u);
    std::string over = label63 + "." + label63 + "." + label63 + "." + std::string(62, 'b') + ".";
    EXPECT_THROW(name::from_text(over), text_error);
    name origin = name::from_text(label63 + "." + label63 + "." + label63 + ".");
    EXPECT_THROW(name::from_text(std::string(62, 'c'), &origin), text_error);
    for (const char* bad : {"", "a..b.", "..", ".a.", "a\\", "a\\25", "a\\256.", "\\2a."})
        EXPECT_THROW(name::from_text(bad), text_error) << bad;
}

TEST(Name, CaseInsensitiveEqualityAndHash) {
    name a = name::from_text("WWW.Example.COM.");
    name b = name::from_text("www.example.com.");
    EXPECT_EQ(a, b);
    EXPECT_EQ(a.hash(), b.hash());
    EXPECT_EQ(a.canonical().to_text(), "www.example.com.");
    EXPECT_EQ(a.to_text(), "WWW.Example.COM.");
    EXPECT_NE(a, name::from_text("www.example.org."));
}

TEST(Name, CanonicalOrderRfc4034Section6_1) {
    // The example list of RFC 4034 §6.1, in canonical order.
    std::vector<std::string> ordered = {
        "example.",         "a.example.",      "yljkjljk.a.example.",
        "Z.a.example.",     "zABC.a.EXAMPLE.", "z.example.",
        "\\001.z.example.", "*.z.example.",    "\\200.z.example.",
    };
    for (size_t i = 0; i + 1 < ordered.size(); ++i) {
        name a = name::from_text(ordered[i]), b = name::from_text(ordered[i + 1]);
        EXPECT_TRUE(a < b) << ordered[i] << " < " << ordered[i + 1];
        EXPECT_TRUE(b > a);
    }
    EXPECT_TRUE(name::from_text("Z.a.example.") == name::from_text("z.A.example."));
}

TEST(Name, SubdomainAndParent) {
    name n = name::from_text("a.b.example.");
    EXPECT_TRUE(n.is_subdomain_of(name::from_text("EXAMPLE.")));
    EXPECT_TRUE(n.is_subdomain_of(name()));
    EXPECT_TRUE(n.is_subdomain_of(n));
    EXPECT_FALSE(n.is_subdomain_of(name::from_text("b.example.com.")));
    EXPECT_FALSE(name::from_text("xb.example.").is_subdomain_of(name::from_text("b.example.")));
    EXPECT_EQ(n.parent().to_text(), "b.example.");
    EXPECT_EQ(n.parent(3).to_text(), ".");
    EXPECT_EQ(n.label_count(), 3u);
    EXPECT_TRUE(name::from_text("*.x.").is_wildcard());
}

TEST(WireReader, CompressionPointers) {
    // Header-less buffer: "example." at 0, then "www" + pointer to 0 at 9.
    std::vector<uint8_t> msg = {7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 3, 'w', 'w', 'w', 0xC0, 0};
    wire_reader r(msg, 9);
    EXPECT_EQ(r.read_name().to_text(), "www.example.");
    EXPECT_EQ(r.position(), msg.size());

    wire_reader no_compression(msg, 9);
    EXPECT_THROW(no_compression.read_name(false), wire_error);

    // Pointer to itself, forward pointer, pointer loop, pointer past the end.
    std::vector<std::vector<uint8_t>> bad = {
        {0xC0, 0x00},
        {0xC0, 0x02, 0x00},
        {0x01, 'a', 0xC0, 0x00},  // read from 2: points to 0 which reaches 2 again
        {0xC0},
        {0x05, 'a', 'b'},
        {0x40, 0x00},
    };
    for (size_t i = 0; i < bad.size(); ++i) {
        wire_reader rb(bad[i], i == 2 ? 2 : 0);
        EXPECT_THROW(rb.read_name(), wire_error) << "case " << i;
    }
}

TEST(WireWriter, CompressesOnlyWhenAsked) {
    std::vector<uint8_t> out;
    wire_writer w(out);
    w.name(name::from_text("example."), true);
    w.name(name::from_text("www.example."), true);
    w.name(name::from_text("www.example."), false);
    EXPECT_EQ(hex(out),
              "076578616d706c6500"
              "03777777c000"
              "03777777076578616d706c6500");
    wire_reader r(out, 9);
    EXPECT_EQ(r.read_name().to_text(), "www.example.");
}
