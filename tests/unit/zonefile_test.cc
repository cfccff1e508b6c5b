#include "dns/zonefile.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "dns/name.h"
#include "dns/rr.h"

using hsync::dns::name;
using hsync::dns::rr;
using hsync::dns::zone_error;
using hsync::dns::zone_options;
using hsync::dns::zone_reader;

namespace {

struct result {
    std::vector<std::string> records;  // "owner ttl class type rdata", single spaces
    std::vector<std::string> errors;   // "FILE:LINE: error: ..."
    size_t count = 0;
};

std::string squeeze(std::string s) {
    for (char& c : s)
        if (c == '\t') c = ' ';
    return s;
}

result run(const zone_reader& reader) {
    result r;
    r.count = reader.read([&](const rr& x) { r.records.push_back(squeeze(x.to_text())); },
                          [&](const zone_error& e) { r.errors.push_back(e.to_text()); });
    return r;
}

result parse(std::string_view text, zone_options opt = {}) {
    return run(zone_reader::from_memory(text, name::from_text("example."), opt, "z"));
}

const std::string data_dir = std::string(HSYNC_TEST_DATA) + "/zones/";

// Every case runs with several chunk sizes so records straddle chunk ends everywhere.
const size_t chunk_sizes[] = {1, 2, 7, 64, 1 << 20};

struct zone_case {
    const char* what;
    const char* text;
    std::vector<std::string> records;
    std::vector<std::string> errors;
    uint32_t default_ttl = 0;
};

void check_cases(const std::vector<zone_case>& cases) {
    for (const auto& c : cases) {
        for (size_t chunk : chunk_sizes) {
            zone_options opt;
            opt.chunk_size = chunk;
            opt.default_ttl = c.default_ttl;
            result r = parse(c.text, opt);
            SCOPED_TRACE(std::string(c.what) + " (chunk " + std::to_string(chunk) + ")");
            EXPECT_EQ(r.records, c.records);
            EXPECT_EQ(r.errors, c.errors);
            EXPECT_EQ(r.count, c.errors.size());
        }
    }
}

}  // namespace

TEST(ZoneFile, Syntax) {
    check_cases({
        {"@, relative and absolute owners",
         "@ 300 IN A 192.0.2.1\nwww 300 IN A 192.0.2.2\nabs.other. 300 IN A 192.0.2.3\n",
         {"example. 300 IN A 192.0.2.1", "www.example. 300 IN A 192.0.2.2",
          "abs.other. 300 IN A 192.0.2.3"},
         {}},
        {"omitted owner is the previous owner",
         "www 300 IN A 192.0.2.1\n\t300 IN AAAA 2001:db8::1\n  TXT \"x\"\n",
         {"www.example. 300 IN A 192.0.2.1", "www.example. 300 IN AAAA 2001:db8::1",
          "www.example. 300 IN TXT \"x\""},
         {}},
        {"TTL and class in either order, or omitted",
         "$TTL 60\na 300 IN A 192.0.2.1\nb IN 301 A 192.0.2.1\nc IN A 192.0.2.1\n"
         "d 1h30m A 192.0.2.1\ne CLASS1 A 192.0.2.1\nf A 192.0.2.1\n",
         {"a.example. 300 IN A 192.0.2.1", "b.example. 301 IN A 192.0.2.1",
          "c.example. 60 IN A 192.0.2.1", "d.example. 5400 IN A 192.0.2.1",
          "e.example. 60 IN A 192.0.2.1", "f.example. 60 IN A 192.0.2.1"},
         {}},
        {"$ORIGIN relative to the current origin, and absolute",
         "$ORIGIN sub\nwww 1 A 192.0.2.1\n$ORIGIN other.\nx 1 A 192.0.2.2\n@ 1 NS ns\n",
         {"www.sub.example. 1 IN A 192.0.2.1", "x.other. 1 IN A 192.0.2.2",
          "other. 1 IN NS ns.other."},
         {}},
        {"$TTL with units, lower case",
         "$ttl 1w2d\nx A 192.0.2.1\n",
         {"x.example. 777600 IN A 192.0.2.1"},
         {}},
        {"no $TTL: SOA MINIMUM becomes the default (BIND)",
         "@ IN SOA ns host 1 2 3 4 300\nns 7200 A 192.0.2.1\nwww A 192.0.2.2\n",
         {"example. 300 IN SOA ns.example. host.example. 1 2 3 4 300",
          "ns.example. 7200 IN A 192.0.2.1", "www.example. 300 IN A 192.0.2.2"},
         {}},
        {"no $TTL, SOA with a TTL: the last explicit TTL (RFC 1035)",
         "@ 600 IN SOA ns host 1 2 3 4 300\n NS ns\nns 7200 A 192.0.2.1\nwww A 192.0.2.2\n",
         {"example. 600 IN SOA ns.example. host.example. 1 2 3 4 300",
          "example. 600 IN NS ns.example.", "ns.example. 7200 IN A 192.0.2.1",
          "www.example. 7200 IN A 192.0.2.2"},
         {}},
        {"no TTL at all is refused; later records still read",
         "x A 192.0.2.1\ny 5 A 192.0.2.2\nz A 192.0.2.3\n",
         {"y.example. 5 IN A 192.0.2.2", "z.example. 5 IN A 192.0.2.3"},
         {"z:1: error: no TTL specified and no $TTL before this record"}},
        {"caller's default TTL", "x A 192.0.2.1\n", {"x.example. 99 IN A 192.0.2.1"}, {}, 99},
        {"parentheses across lines with comments",
         "@ 1 IN SOA ns host ( ; comment (\n 1 ; serial )\n 2 3 4\n 5 )\nnext 1 A 192.0.2.1\n",
         {"example. 1 IN SOA ns.example. host.example. 1 2 3 4 5",
          "next.example. 1 IN A 192.0.2.1"},
         {}},
        {"quoted strings keep ; ( ) and escapes",
         "t 1 TXT \"a;b\" \"(c)\" \"say \\\"hi\\\"\" ; real comment\n",
         {"t.example. 1 IN TXT \"a;b\" \"(c)\" \"say \\\"hi\\\"\""},
         {}},
        {"comments, blank lines, CRLF, no final newline",
         "; only a comment\n\n   \r\na 1 A 192.0.2.1;glued comment\r\nb 1 A 192.0.2.2",
         {"a.example. 1 IN A 192.0.2.1", "b.example. 1 IN A 192.0.2.2"},
         {}},
        {"escaped delimiters in names",
         "a\\;b 1 A 192.0.2.1\nc\\ d 1 A 192.0.2.2\n",
         {"a\\;b.example. 1 IN A 192.0.2.1", "c\\032d.example. 1 IN A 192.0.2.2"},
         {}},
        {"$GENERATE basic form and ${offset,width,base}",
         "$TTL 60\n$GENERATE 1-3/2 h$ A 10.0.0.$\n"
         "$GENERATE 1-2 h${1,3,x} 30 IN CNAME x${-1,2,d}\n$GENERATE 10-11 p$ PTR \"${0,0,X}.x\"\n",
         {"h1.example. 60 IN A 10.0.0.1", "h3.example. 60 IN A 10.0.0.3",
          "h002.example. 30 IN CNAME x00.example.", "h003.example. 30 IN CNAME x01.example.",
          "p10.example. 60 IN PTR A.x.example.", "p11.example. 60 IN PTR B.x.example."},
         {}},
    });
}

// Error texts come from other parts of the library; check lines and the reader's own words.
TEST(ZoneFile, ErrorLinesAndMessages) {
    std::string text =
        "$TTL 60\na A 192.0.2.1\nb CH TXT \"x\"\nc A (\n  192.0.2.300\n)\nd BOGUS 1\n"
        "e A 192.0.2.5 )\n$FOO bar\nf TXT \"open\ng AXFR \\# 0\nh ( A\n   192.0.2.8 )\n"
        "i A 192.0.2.9 ; ok\nj A\nk (A 192.0.2.11\n";
    for (size_t chunk : chunk_sizes) {
        zone_options opt;
        opt.chunk_size = chunk;
        result r = parse(text, opt);
        ASSERT_EQ(r.errors.size(), 9u) << "chunk " << chunk;
        EXPECT_EQ(r.count, 9u);
        const char* want[] = {"z:3: error: class 'CH' is not the zone's class IN",
                              "z:4: error: ",
                              "z:7: error: unknown RR type 'BOGUS'",
                              "z:8: error: unbalanced ')'",
                              "z:9: error: unknown directive '$FOO'",
                              "z:10: error: missing closing '\"'",
                              "z:11: error: meta type 'AXFR' is not allowed in a zone",
                              "z:15: error: ",
                              "z:16: error: unbalanced '(': missing ')'"};
        for (size_t i = 0; i < 9; ++i)
            EXPECT_EQ(r.errors[i].rfind(want[i], 0), 0u) << r.errors[i] << " chunk " << chunk;
        EXPECT_EQ(r.records.size(), 3u);
    }
}

TEST(ZoneFile, MoreErrors) {
    check_cases({
        {"no owner before the first record",
         "  1 A 192.0.2.1\nx 1 A 192.0.2.2\n",
         {"x.example. 1 IN A 192.0.2.2"},
         {"z:1: error: no owner name and no previous record to take it from"}},
        {"directive arguments",
         "$TTL\n$ORIGIN a. b.\n$INCLUDE\nx 1 A 192.0.2.1\n",
         {"x.example. 1 IN A 192.0.2.1"},
         {"z:1: error: $TTL takes exactly one TTL",
          "z:2: error: $ORIGIN takes exactly one domain name",
          "z:3: error: $INCLUDE takes a file name and an optional origin"}},
        {"missing type",
         "x 1 IN\ny 1 A 192.0.2.1\n",
         {"y.example. 1 IN A 192.0.2.1"},
         {"z:1: error: missing RR type"}},
        {"$GENERATE errors",
         "$GENERATE 5-1 x$ 1 A 10.0.0.$\n$GENERATE 1-2 x${1,2,q} 1 A 10.0.0.1\n"
         "$GENERATE 1-2 x$\n",
         {},
         {"z:1: error: $GENERATE: empty or backwards range",
          "z:2: error: $GENERATE: bad modifier '${1,2,q}' (want ${offset[,width[,base]]}, base "
          "d, o, x or X)",
          "z:3: error: $GENERATE wants: range lhs [ttl] [class] type rhs"}},
    });
}

TEST(ZoneFile, LongLinesAreErrorsNotAllocations) {
    std::string text = "a 1 A 192.0.2.1\nb 1 TXT \"" + std::string(300, 'x') + "\"\n" +
                       "c 1 TXT (" + std::string(200, '\n') + ")\n" + "d 1 A 192.0.2.4\n";
    for (size_t chunk : chunk_sizes) {
        zone_options opt;
        opt.chunk_size = chunk;
        opt.max_record_bytes = 100;
        result r = parse(text, opt);
        SCOPED_TRACE(chunk);
        EXPECT_EQ(r.records, (std::vector<std::string>{"a.example. 1 IN A 192.0.2.1",
                                                       "d.example. 1 IN A 192.0.2.4"}));
        ASSERT_EQ(r.errors.size(), 2u);
        EXPECT_EQ(r.errors[0], "z:2: error: line or record longer than 100 bytes");
        EXPECT_EQ(r.errors[1], "z:3: error: line or record longer than 100 bytes");
    }
}

TEST(ZoneFile, BinaryJunkGivesErrors) {
    std::string junk;
    uint32_t x = 12345;
    for (int i = 0; i < 20000; ++i) {
        x = x * 1103515245 + 12345;
        char c = char(x >> 16);
        // Without parentheses, so that no '(' swallows the good record at the end.
        junk += c == '(' || c == ')' ? 'x' : c;
    }
    junk += "\nok 1 A 192.0.2.1\n";
    for (size_t chunk : {size_t(7), size_t(1) << 20}) {
        zone_options opt;
        opt.chunk_size = chunk;
        result r = parse(junk, opt);
        EXPECT_GT(r.count, 0u);
        ASSERT_FALSE(r.records.empty());
        EXPECT_EQ(r.records.back(), "ok.example. 1 IN A 192.0.2.1");
    }
}

TEST(ZoneFile, IncludeWithOriginAndTinyChunks) {
    std::vector<std::string> want = {
        "example. 3600 IN SOA ns1.example. hostmaster.example. 2024010101 7200 3600 1209600 300",
        "example. 3600 IN NS ns1.example.",
        "ns1.example. 3600 IN A 192.0.2.1",
        "www.sub.example. 3600 IN A 192.0.2.2",
        "x.deeper.sub.example. 3600 IN A 192.0.2.3",
        "y.deeper.sub.example. 60 IN A 192.0.2.4",
        "ns1.example. 3600 IN AAAA 2001:db8::1",
        "txt.example. 3600 IN TXT \"semi;colon\" \"(paren)\" \"esc\\\"quote\""};
    result big = run(zone_reader(data_dir + "main.zone", name::from_text("example.")));
    EXPECT_EQ(big.records, want);
    ASSERT_EQ(big.errors.size(), 1u);
    // Errors in an included file name that file and its line.
    EXPECT_EQ(big.errors[0].rfind(data_dir + "sub/inc2.zone:2: error: ", 0), 0u) << big.errors[0];
    zone_options tiny;
    tiny.chunk_size = 7;
    result small = run(zone_reader(data_dir + "main.zone", name::from_text("example."), tiny));
    EXPECT_EQ(small.records, big.records);
    EXPECT_EQ(small.errors, big.errors);
}

TEST(ZoneFile, IncludeLoopAndDepthAreRefused) {
    result r = run(zone_reader(data_dir + "loop_a.zone", name::from_text("example.")));
    EXPECT_EQ(r.records, (std::vector<std::string>{"a.example. 60 IN A 192.0.2.1",
                                                   "b.example. 60 IN A 192.0.2.2",
                                                   "c.example. 60 IN A 192.0.2.3"}));
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0], data_dir + "loop_b.zone:2: error: $INCLUDE loop: '" + data_dir +
                               "loop_a.zone' is already being read");

    // A chain of 20 files: the 17th level is refused (limit 16), the rest is read.
    auto dir = std::filesystem::temp_directory_path() /
               ("hsync_zonefile_depth_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    for (int i = 0; i < 20; ++i) {
        std::ofstream f(dir / ("d" + std::to_string(i) + ".zone"));
        f << "l" << i << " 1 A 192.0.2.1\n$INCLUDE d" << i + 1 << ".zone\n";
    }
    result d = run(zone_reader((dir / "d0.zone").string(), name::from_text("example.")));
    EXPECT_EQ(d.records.size(), 17u);
    ASSERT_EQ(d.errors.size(), 1u);
    EXPECT_NE(d.errors[0].find("d16.zone:2: error: $INCLUDE nested more than 16 levels"),
              std::string::npos)
        << d.errors[0];
    std::filesystem::remove_all(dir);
}

TEST(ZoneFile, IncludeCanBeDisabledAndMissingFiles) {
    zone_options opt;
    opt.allow_include = false;
    result r = parse("$INCLUDE /etc/passwd\n", opt);
    EXPECT_EQ(r.errors, std::vector<std::string>{"z:1: error: $INCLUDE is not allowed here"});
    result m = run(zone_reader(data_dir + "does-not-exist.zone", name::from_text("example.")));
    ASSERT_EQ(m.errors.size(), 1u);
    EXPECT_EQ(m.errors[0].rfind(data_dir + "does-not-exist.zone:0: error: cannot open", 0), 0u);
}

TEST(ZoneFile, ErrorText) {
    EXPECT_EQ((zone_error{"db.example", 12, "bad"}.to_text()), "db.example:12: error: bad");
}
