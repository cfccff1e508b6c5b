#include "dns/text.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <string>
#include <vector>

#include "dns/error.h"

using namespace hsync::dns;

namespace {

std::vector<uint8_t> bytes_of(std::string_view s) {
    return {s.begin(), s.end()};
}

std::string string_of(const std::vector<uint8_t>& b) {
    return {b.begin(), b.end()};
}

}  // namespace

TEST(Text, TokenizeLine) {
    struct {
        const char* line;
        std::vector<std::pair<std::string, bool>> want;
    } cases[] = {
        {"", {}},
        {"   \t ", {}},
        {"a b\tc", {{"a", false}, {"b", false}, {"c", false}}},
        {"  www  IN\t\tA 1.2.3.4  ",
         {{"www", false}, {"IN", false}, {"A", false}, {"1.2.3.4", false}}},
        {"a\\ b c", {{"a\\ b", false}, {"c", false}}},
        {"\"hello world\" x", {{"hello world", true}, {"x", false}}},
        {"\"a\\\"b\" c", {{"a\\\"b", true}, {"c", false}}},
        {"\"\"", {{"", true}}},
        {"\"x;y\" ; comment \"open", {{"x;y", true}}},
        {"a;b", {{"a", false}}},
        {"a\\;b", {{"a\\;b", false}}},
        {"; only a comment", {}},
        {"\"a\"\"b\"", {{"a", true}, {"b", true}}},
        {"\\065\\032 z", {{"\\065\\032", false}, {"z", false}}},
        {"a\\", {{"a\\", false}}},
    };
    for (const auto& c : cases) {
        std::string_view line = c.line;
        auto tokens = tokenize_line(line);
        ASSERT_EQ(tokens.size(), c.want.size()) << c.line;
        for (size_t i = 0; i < tokens.size(); ++i) {
            EXPECT_EQ(tokens[i].text, c.want[i].first) << c.line;
            EXPECT_EQ(tokens[i].quoted, c.want[i].second) << c.line;
            // Views point into the line.
            EXPECT_GE(tokens[i].text.data(), line.data()) << c.line;
            EXPECT_LE(tokens[i].text.data() + tokens[i].text.size(), line.data() + line.size());
        }
    }
    for (const char* bad : {"\"open", "a \"b c", "\"ends in escape\\\"", "\"\\"}) {
        EXPECT_THROW(tokenize_line(bad), text_error) << bad;
    }
}

TEST(Text, ParseUnsigned) {
    struct {
        const char* text;
        uint64_t max;
        uint64_t want;
    } good[] = {
        {"0", 255, 0},
        {"255", 255, 255},
        {"000000000000000000000000255", 255, 255},
        {"65535", 65535, 65535},
        {"4294967295", 4294967295u, 4294967295u},
        {"18446744073709551615", UINT64_MAX, UINT64_MAX},
        {"5", 5, 5},
    };
    for (const auto& c : good)
        EXPECT_EQ(parse_unsigned(c.text, c.max, "value"), c.want) << c.text;
    struct {
        const char* text;
        uint64_t max;
    } bad[] = {
        {"", 255},   {"256", 255}, {"-1", 255},   {"+1", 255},
        {"1a", 255}, {" 1", 255},  {"0x10", 255}, {"18446744073709551616", UINT64_MAX},
        {"9", 5},    {"6", 5},     {"1.5", 255},
    };
    for (const auto& c : bad)
        EXPECT_THROW(parse_unsigned(c.text, c.max, "value"), text_error) << c.text;
    try {
        parse_unsigned("300", 255, "algorithm");
        FAIL() << "no exception";
    } catch (const text_error& e) {
        EXPECT_NE(std::string(e.what()).find("algorithm"), std::string::npos) << e.what();
    }
}

TEST(Text, ParseTtl) {
    struct {
        const char* text;
        uint32_t want;
    } good[] = {
        {"0", 0},
        {"3600", 3600},
        {"4294967295", 4294967295u},
        {"1h30m", 5400},
        {"1H30M", 5400},
        {"1W", 604800},
        {"1w", 604800},
        {"2d3h", 183600},
        {"1s2w", 1209601},  // any order, as BIND
        {"1h1h", 7200},     // repeated units add up, as BIND
        {"0s", 0},
        {"01h", 3600},
        {"4294967295s", 4294967295u},
        {"7101w3d6h28m15s", 4294967295u},
        {"1w2d3h4m5s", 788645},
    };
    for (const auto& c : good)
        EXPECT_EQ(parse_ttl(c.text), c.want) << c.text;
    for (const char* bad :
         {"", "1h30", "h", "1hh", "1x", "4294967296", "4294967296s", "4294967295s1s", "5000000w",
          "7101w3d6h28m16s", "99999999999999999999s", "-1", "1 h", "1.5h", "w1"}) {
        EXPECT_THROW(parse_ttl(bad), text_error) << bad;
    }
}

TEST(Text, TimeRoundTrip) {
    struct {
        const char* text;
        uint32_t seconds;
    } cases[] = {
        {"19700101000000", 0},           {"19700101000001", 1},
        {"20000229120000", 951825600},   {"20240229000000", 1709164800},
        {"20380119031407", 2147483647u}, {"20380119031408", 2147483648u},
        {"21060207062815", 4294967295u}, {"20231231235959", 1704067199},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(parse_time(c.text), c.seconds) << c.text;
        std::string out = "x";
        append_time(out, c.seconds);
        EXPECT_EQ(out, std::string("x") + c.text) << c.seconds;
    }
}

TEST(Text, TimeWrapsAndNumbers) {
    struct {
        const char* text;
        uint32_t want;
    } good[] = {
        {"21060207062816", 0},            // 2^32 wraps (RFC 4034 §3.1.5)
        {"19691231235959", 4294967295u},  // -1 modulo 2^32
        {"99991231235959", 4294197631u},  // as BIND 9.18 reads it
        {"20231231235960", 1704067200},   // leap second, accepted as BIND does
        {"0", 0},
        {"1", 1},
        {"4294967295", 4294967295u},
        {"1700000000", 1700000000},
    };
    for (const auto& c : good)
        EXPECT_EQ(parse_time(c.text), c.want) << c.text;
    for (const char* bad : {"", "4294967296", "12345678901", "2023123123595", "202312312359590",
                            "20230230000000", "20230229000000", "21000229000000", "20231301000000",
                            "20230001000000", "20230100000000", "20231231240000", "20231231236000",
                            "20231231235961", "+1", "2023-12-31", "2023123123595x"}) {
        EXPECT_THROW(parse_time(bad), text_error) << bad;
    }
    // Every day boundary of a span around leap years survives a round trip.
    for (uint64_t s = 0; s <= 4294967295u; s += 86400 * 7 + 3601) {
        std::string out;
        append_time(out, static_cast<uint32_t>(s));
        ASSERT_EQ(out.size(), 14u);
        ASSERT_EQ(parse_time(out), s) << out;
    }
}

TEST(Text, CharacterString) {
    struct {
        const char* text;
        bool quoted;
        std::string want;  // unescaped bytes, without the length prefix
    } cases[] = {
        {"hello", false, "hello"},
        {"hello world", true, "hello world"},
        {"", true, ""},
        {"a\\\"b", true, "a\"b"},
        {"a\\\\b", false, "a\\b"},
        {"\\065\\066C", false, "ABC"},
        {"\\000\\255", true, std::string("\0\xff", 2)},
        {"a\\ b", false, "a b"},
        {"x\\;y", false, "x;y"},
        {"\\0651", false, "A1"},
        {"\\t", true, "t"},
    };
    for (const auto& c : cases) {
        std::vector<uint8_t> out{0xaa};
        parse_character_string({c.text, c.quoted}, out);
        ASSERT_EQ(out.size(), c.want.size() + 2) << c.text;
        EXPECT_EQ(out[0], 0xaa);
        EXPECT_EQ(out[1], c.want.size()) << c.text;
        EXPECT_EQ(std::string(out.begin() + 2, out.end()), c.want) << c.text;

        std::vector<uint8_t> raw;
        parse_escaped_bytes(c.text, raw);
        EXPECT_EQ(string_of(raw), c.want) << c.text;
    }
    std::string max(255, 'x');
    std::vector<uint8_t> out;
    parse_character_string({max, false}, out);
    EXPECT_EQ(out.size(), 256u);
    EXPECT_EQ(out[0], 255);

    std::string too_long(256, 'x');
    std::string too_long_escaped = std::string(254, 'x') + "\\065\\066";
    for (const std::string& bad :
         {too_long, too_long_escaped, std::string("\\256"), std::string("\\1"), std::string("\\12"),
          std::string("\\12x"), std::string("abc\\"), std::string("\\999")}) {
        std::vector<uint8_t> o{1, 2};
        EXPECT_THROW(parse_character_string({bad, true}, o), text_error) << bad;
        EXPECT_EQ(o, (std::vector<uint8_t>{1, 2})) << "output restored for " << bad;
    }
    // Without the 255 limit.
    std::vector<uint8_t> raw;
    parse_escaped_bytes(std::string(1000, 'y') + "\\032", raw);
    EXPECT_EQ(raw.size(), 1001u);
    EXPECT_EQ(raw.back(), ' ');
    EXPECT_THROW(parse_escaped_bytes("\\300", raw), text_error);
    EXPECT_EQ(raw.size(), 1001u);
}

TEST(Text, AppendQuoted) {
    // Expected texts are what named-checkzone -D (BIND 9.18) prints for the same TXT data.
    struct {
        std::string bytes;
        const char* want;
    } cases[] = {
        {"", "\"\""},
        {"a\"b\\c", "\"a\\\"b\\\\c\""},
        {std::string("\0\x1f \x7f\xff~", 6), "\"\\000\\031 \\127\\255~\""},
        {"x;y", "\"x;y\""},
        {"\xc3\xa9", "\"\\195\\169\""},
        {"a b", "\"a b\""},
        {"(", "\"(\""},
    };
    for (const auto& c : cases) {
        std::string out = "TXT ";
        auto b = bytes_of(c.bytes);
        append_quoted(out, b);
        EXPECT_EQ(out, std::string("TXT ") + c.want);
        // Reading the output back gives the bytes again.
        auto tokens = tokenize_line(out);
        ASSERT_EQ(tokens.size(), 2u);
        std::vector<uint8_t> back;
        parse_character_string(tokens[1], back);
        EXPECT_EQ(std::vector<uint8_t>(back.begin() + 1, back.end()), b);
    }
    std::vector<uint8_t> all;
    for (int i = 0; i < 256; ++i)
        all.push_back(static_cast<uint8_t>(i));
    std::string out;
    append_quoted(out, std::span(all).first(255));
    auto tokens = tokenize_line(out);
    ASSERT_EQ(tokens.size(), 1u);
    std::vector<uint8_t> back;
    parse_character_string(tokens[0], back);
    EXPECT_EQ(std::vector<uint8_t>(back.begin() + 1, back.end()),
              std::vector<uint8_t>(all.begin(), all.begin() + 255));
}

TEST(Text, Hex) {
    struct {
        std::string bytes;
        const char* upper;
        const char* lower;
    } cases[] = {
        {"", "", ""},
        {std::string("\0", 1), "00", "00"},
        {"\x01\x23\x45\x67\x89\xab\xcd\xef", "0123456789ABCDEF", "0123456789abcdef"},
        {"\xff", "FF", "ff"},
    };
    for (const auto& c : cases) {
        auto b = bytes_of(c.bytes);
        std::string out = "-";
        append_hex(out, b);
        EXPECT_EQ(out, std::string("-") + c.upper);
        out = "-";
        append_hex(out, b, false);
        EXPECT_EQ(out, std::string("-") + c.lower);
        for (const char* text : {c.upper, c.lower}) {
            std::vector<uint8_t> back{7};
            parse_hex(text, back);
            EXPECT_EQ(string_of(back), "\x07" + c.bytes) << text;
        }
    }
    std::vector<uint8_t> mixed;
    parse_hex("aBcD", mixed);
    EXPECT_EQ(mixed, (std::vector<uint8_t>{0xab, 0xcd}));
    for (const char* bad : {"0", "abc", "0g", "g0", "0x", " 0", "00 ", "-", "+1"}) {
        std::vector<uint8_t> o{9};
        EXPECT_THROW(parse_hex(bad, o), text_error) << bad;
        EXPECT_EQ(o, std::vector<uint8_t>{9}) << bad;
    }
}

TEST(Text, Base64) {
    // RFC 4648 §10.
    struct {
        const char* data;
        const char* encoded;
    } cases[] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (const auto& c : cases) {
        std::string out = ">";
        append_base64(out, bytes_of(c.data));
        EXPECT_EQ(out, std::string(">") + c.encoded);
        std::vector<uint8_t> back{1};
        parse_base64(c.encoded, back);
        EXPECT_EQ(string_of(back), std::string("\x01") + c.data) << c.encoded;
    }
    std::vector<uint8_t> all;
    for (int i = 0; i < 256; ++i)
        all.push_back(static_cast<uint8_t>(255 - i));
    for (size_t n = 0; n <= all.size(); ++n) {
        std::string text;
        append_base64(text, std::span(all).first(n));
        std::vector<uint8_t> back;
        parse_base64(text, back);
        ASSERT_EQ(back, std::vector<uint8_t>(all.begin(), all.begin() + n)) << text;
    }
    std::string out;
    append_base64(out, std::vector<uint8_t>{0xfb, 0xff});
    EXPECT_EQ(out, "+/8=");
    // Bad characters, bad padding, non-zero pad bits (BIND rejects AAB= and AR== too),
    // whitespace, the URL-safe alphabet.
    for (const char* bad :
         {"A", "AB", "ABC", "AAB=", "AR==", "Zm9=", "AQ==AQ==", "====", "A===", "=AAA", "A=AA",
          "Zg=", "Zg===", "Zm9v Zg==", "Zm9v\n", "-_-_", "Zm.v"}) {
        std::vector<uint8_t> o{5};
        EXPECT_THROW(parse_base64(bad, o), text_error) << bad;
        EXPECT_EQ(o, std::vector<uint8_t>{5}) << bad;
    }
}

TEST(Text, Base32hex) {
    // RFC 4648 §10, without the padding (RFC 5155 §3.3 prints none).
    struct {
        const char* data;
        const char* encoded;
        const char* padded;
    } cases[] = {
        {"", "", ""},
        {"f", "CO", "CO======"},
        {"fo", "CPNG", "CPNG===="},
        {"foo", "CPNMU", "CPNMU==="},
        {"foob", "CPNMUOG", "CPNMUOG="},
        {"fooba", "CPNMUOJ1", "CPNMUOJ1"},
        {"foobar", "CPNMUOJ1E8", "CPNMUOJ1E8======"},
    };
    for (const auto& c : cases) {
        std::string out = ">";
        append_base32hex(out, bytes_of(c.data));
        EXPECT_EQ(out, std::string(">") + c.encoded);
        std::string lower = c.encoded;
        for (char& ch : lower)
            ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        for (const std::string& text : {std::string(c.encoded), lower, std::string(c.padded)}) {
            std::vector<uint8_t> back{1};
            parse_base32hex(text, back);
            EXPECT_EQ(string_of(back), std::string("\x01") + c.data) << text;
        }
    }
    std::vector<uint8_t> all;
    for (int i = 0; i < 256; ++i)
        all.push_back(static_cast<uint8_t>(i * 37));
    for (size_t n = 0; n <= 40; ++n) {
        std::string text;
        append_base32hex(text, std::span(all).first(n));
        std::vector<uint8_t> back;
        parse_base32hex(text, back);
        ASSERT_EQ(back, std::vector<uint8_t>(all.begin(), all.begin() + n)) << text;
    }
    // A 20-octet SHA-1 NSEC3 hash: 32 characters, upper case.
    std::string hash;
    append_base32hex(hash, std::vector<uint8_t>(20, 0xff));
    EXPECT_EQ(hash, "VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVV");
    // Wrong lengths, non-zero pad bits (BIND rejects CPNMUOJ1E9), letters past V, bad padding.
    for (const char* bad : {"C", "CPN", "CPNMUO", "CPNMUOJ1E9", "CP", "CPNMUOJ1W8", "cpnmuoj1ez",
                            "CO=", "CO=====", "C=O=====", "CO======CO", "CO ", "========"}) {
        std::vector<uint8_t> o{5};
        EXPECT_THROW(parse_base32hex(bad, o), text_error) << bad;
        EXPECT_EQ(o, std::vector<uint8_t>{5}) << bad;
    }
}
