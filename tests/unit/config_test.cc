// hsyncd's configuration parser: a good file gives the expected structs; each kind of bad
// file gives one message with the right line and key path.
//
// config.cc lives in the hsyncd executable and needs yaml-cpp, so unit_tests compiles it
// only when tests/CMakeLists.txt adds src/cmd/hsyncd/config.cc, links yaml-cpp and
// defines HSYNC_WITH_HSYNCD_CONFIG; until then the placeholder below FAILS on purpose.
#include <gtest/gtest.h>

#ifdef HSYNC_WITH_HSYNCD_CONFIG

#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include "cmd/hsyncd/config.h"

namespace hsync::hsyncd {
namespace {

namespace fs = std::filesystem;

const char* good = R"(# a complete configuration
role: auth
listen:
  - 127.0.0.1:5353
  - "[::1]:5353"
data-dir: /tmp
log-level: debug
management: 127.0.0.1:9053
tsig-keys:
  - name: xfr.key
    algorithm: hmac-sha256
    secret: "c2VjcmV0c2VjcmV0c2VjcmV0"
  - {name: upd, algorithm: HMAC-SHA512., secret: "YWJjZA=="}
acls:
  internal: [127.0.0.0/8, "::1"]
  transfer: [internal, "key xfr.key", "!192.0.2.1"]
zones:
  - name: Example.COM
    type: primary
    file: zones/example.com.zone
    notify: [127.0.0.1:5300, "[::1]"]
    allow-transfer: transfer
    allow-update: "key upd"
    update-policy:
      - {key: upd, match: subdomain, name: dyn, types: [A, AAAA, TXT]}
      - {key: sig0.example.com., key-type: sig0, match: exact}
  - name: example.net.
    type: secondary
    primaries: ["192.0.2.53", "[2001:db8::53]:5353"]
    transfer-key: xfr.key
    refresh: 30m
    retry: 60
    expire: 2w
limits:
  tcp-clients: 200
  tcp-per-client: 5
  tcp-idle-timeout: 30s
  udp-payload-size: 1400
)";

TEST(Config, GoodFileParsesIntoStructs) {
    config c = parse_config(good, "/etc/hsync/hsyncd.yaml", false);
    EXPECT_EQ(c.role, "auth");
    ASSERT_EQ(c.listen.size(), 2u);
    EXPECT_EQ(c.listen[0].to_string(), "127.0.0.1:5353");
    EXPECT_EQ(c.listen[1].to_string(), "[::1]:5353");
    EXPECT_EQ(c.data_dir, "/tmp");
    EXPECT_EQ(c.log_level, "debug");
    EXPECT_EQ(c.management.to_string(), "127.0.0.1:9053");
    ASSERT_EQ(c.tsig_keys.size(), 2u);
    EXPECT_EQ(c.tsig_keys[0].name, "xfr.key.");
    EXPECT_EQ(c.tsig_keys[0].algorithm, "hmac-sha256");
    EXPECT_EQ(std::string(c.tsig_keys[0].secret.begin(), c.tsig_keys[0].secret.end()),
              "secretsecretsecret");
    EXPECT_EQ(c.tsig_keys[1].algorithm, "hmac-sha512");
    EXPECT_EQ(c.acls.at("transfer"),
              (acl_elements{"127.0.0.0/8", "::1", "key xfr.key.", "!192.0.2.1"}));

    ASSERT_EQ(c.zones.size(), 2u);
    const auto& p = c.zones[0];
    EXPECT_EQ(p.name, "example.com.");
    EXPECT_EQ(p.type, zone_config::zone_type::primary);
    EXPECT_EQ(p.file, "/etc/hsync/zones/example.com.zone");  // relative to the config file
    ASSERT_EQ(p.notify.size(), 2u);
    EXPECT_EQ(p.notify[1].to_string(), "[::1]:53");
    EXPECT_EQ(p.allow_transfer.size(), 4u);
    EXPECT_EQ(p.allow_update, (acl_elements{"key upd."}));
    ASSERT_EQ(p.update_policy.size(), 2u);
    EXPECT_EQ(p.update_policy[0].name, "dyn.example.com.");
    EXPECT_EQ(p.update_policy[0].match, update_rule::match_kind::subdomain);
    EXPECT_EQ(p.update_policy[0].types, (std::vector<uint16_t>{1, 28, 16}));
    EXPECT_EQ(p.update_policy[1].key_type, update_rule::key_kind::sig0);
    EXPECT_EQ(p.update_policy[1].name, "example.com.");
    EXPECT_TRUE(p.update_policy[1].types.empty());

    const auto& s = c.zones[1];
    EXPECT_EQ(s.type, zone_config::zone_type::secondary);
    ASSERT_EQ(s.primaries.size(), 2u);
    EXPECT_EQ(s.primaries[0].to_string(), "192.0.2.53:53");
    EXPECT_EQ(s.primaries[1].to_string(), "[2001:db8::53]:5353");
    EXPECT_EQ(s.transfer_key, "xfr.key.");
    EXPECT_EQ(s.allow_notify, (acl_elements{"192.0.2.53", "2001:db8::53"}));  // default
    EXPECT_EQ(s.refresh, 1800u);
    EXPECT_EQ(s.retry, 60u);
    EXPECT_EQ(s.expire, 14u * 86400);
    EXPECT_EQ(c.limits.tcp_clients, 200u);
    EXPECT_EQ(c.limits.tcp_per_client, 5u);
    EXPECT_EQ(c.limits.tcp_idle_timeout, 30u);
    EXPECT_EQ(c.limits.tcp_pipeline, 32u);  // default
    EXPECT_EQ(c.limits.udp_payload_size, 1400);
    EXPECT_NE(c.find_zone("example.net."), nullptr);
    EXPECT_EQ(c.find_key("nope."), nullptr);
}

TEST(Config, MinimalFileGetsDefaults) {
    config c = parse_config("role: auth\nlisten: 127.0.0.1:53\ndata-dir: .\n", "x.yaml", false);
    EXPECT_EQ(c.management.to_string(), "127.0.0.1:8053");
    EXPECT_EQ(c.log_level, "info");
    EXPECT_TRUE(c.zones.empty());
    EXPECT_EQ(c.limits.tcp_clients, 100u);
}

TEST(Config, ManagementKeyFile) {
    config c = parse_config("role: auth\nlisten: 127.0.0.1:53\ndata-dir: /var/lib/hsync\n",
                            "/etc/hsync/auth.yaml", false);
    EXPECT_EQ(c.management_key_file, "/var/lib/hsync/management.key");
    c = parse_config(
        "role: auth\nlisten: 127.0.0.1:53\ndata-dir: /var/lib/hsync\n"
        "management: \"[::1]:8054\"\nmanagement-key-file: keys/mgmt.key\n"
        "allow-remote-management: false\n",
        "/etc/hsync/auth.yaml", false);
    EXPECT_EQ(c.management_key_file, "/etc/hsync/keys/mgmt.key");
    EXPECT_EQ(c.management.to_string(), "[::1]:8054");
}

struct bad_case {
    const char* what;
    std::string yaml;
    int line;
    const char* message;  // the exact text after "c.yaml:LINE: "
};

const std::string head = "role: auth\nlisten: [127.0.0.1:5353]\ndata-dir: /tmp\n";  // lines 1-3
const std::string signer_head = "role: signer\nlisten: [127.0.0.1:5353]\ndata-dir: /tmp\n";

class ConfigBad : public testing::TestWithParam<bad_case> {};

TEST_P(ConfigBad, OneMessageWithLineAndPath) {
    const auto& c = GetParam();
    try {
        parse_config(c.yaml, "c.yaml", false);
        FAIL() << c.what << ": accepted";
    } catch (const config_error& e) {
        EXPECT_EQ(e.line(), c.line) << c.what << ": " << e.what();
        std::string expected = "c.yaml:" + std::to_string(c.line) + ": " + c.message;
        if (c.line == 0) expected = std::string("c.yaml: ") + c.message;
        EXPECT_EQ(std::string(e.what()), expected) << c.what;
    }
}

INSTANTIATE_TEST_SUITE_P(
    Table, ConfigBad,
    testing::Values(
        bad_case{"bad primary port",
                 head + "tsig-keys: []\nzones:\n  - {name: a., type: primary, file: f}\n"
                        "  - name: b.\n    type: secondary\n    primaries:\n      - 1.2.3.4:53\n"
                        "      - 1.2.3.4:x\n",
                 11, "zones[1].primaries[1]: \"1.2.3.4:x\" is not ADDR:PORT"},
        bad_case{"unknown top-level key with suggestion", head + "lisen: []\n", 4,
                 "lisen: unknown key (did you mean \"listen\"?)"},
        bad_case{"unknown zone key",
                 head + "zones:\n  - name: a.\n    type: primary\n    file: f\n    frobnicate: 1\n",
                 8, "zones[0].frobnicate: unknown key"},
        bad_case{"missing role", "listen: [127.0.0.1:53]\ndata-dir: /tmp\n", 1,
                 "role: is required"},
        bad_case{"unknown role", "role: resolver\n", 1,
                 "role: \"resolver\" is not one of auth|combiner|signer|agent|parent"},
        bad_case{"empty file", "# nothing\n", 1,
                 "the configuration is empty (\"role\" is required)"},
        bad_case{"YAML syntax", "role: auth\nlisten: [127.0.0.1:53\n", 3,
                 "YAML syntax error: end of sequence flow not found"},
        bad_case{"hostname in listen", "role: auth\nlisten:\n  - localhost:53\n", 3,
                 "listen[0]: \"localhost:53\" is not ADDR:PORT"},
        bad_case{"duplicate key", "role: auth\nrole: signer\n", 2,
                 "role: given twice (first on line 1)"},
        bad_case{"remote management", head + "management: 192.0.2.1:8053\n", 4,
                 "management: 192.0.2.1:8053 is not a loopback address; the management API "
                 "has no TLS, so it listens on loopback only (reach it through an SSH tunnel)"},
        bad_case{"remote management allowed", head + "allow-remote-management: true\n", 4,
                 "allow-remote-management: true is not supported: the management API has no "
                 "TLS, so it listens on loopback only (reach it through an SSH tunnel)"},
        bad_case{"bad log level", head + "log-level: verbose\n", 4,
                 "log-level: \"verbose\" is not one of error|warn|info|debug"},
        bad_case{
            "bad base64",
            head + "tsig-keys:\n  - name: k\n    algorithm: hmac-sha256\n    secret: \"!!!\"\n", 7,
            "tsig-keys[0].secret: secret is not valid base64: bad base64 '!!!': length is not a "
            "multiple of 4"},
        bad_case{"weak algorithm",
                 head + "tsig-keys:\n  - name: k\n    algorithm: hmac-md5\n    secret: YWJj\n", 6,
                 "tsig-keys[0].algorithm: algorithm \"hmac-md5\" is not supported (use one of "
                 "hmac-sha1|hmac-sha224|hmac-sha256|hmac-sha384|hmac-sha512)"},
        bad_case{"primary without file", head + "zones:\n  - name: a.\n    type: primary\n", 5,
                 "zones[0]: \"file\" is required for a primary zone"},
        bad_case{"secondary with undefined key",
                 head + "zones:\n  - name: a.\n    type: secondary\n    primaries: [192.0.2.1]\n"
                        "    transfer-key: nokey\n",
                 8, "zones[0].transfer-key: \"nokey\" is not defined in tsig-keys"},
        bad_case{"undefined ACL element",
                 head + "zones:\n  - name: a.\n    type: primary\n    file: f\n"
                        "    allow-transfer: [trusted]\n",
                 8,
                 "zones[0].allow-transfer[0]: \"trusted\" is neither a defined ACL nor an "
                 "address, prefix, \"key NAME\", any or none"},
        bad_case{"bad prefix", head + "acls:\n  x: [192.0.2.0/33]\n", 5,
                 "acls.x[0]: bad prefix length in ACL element '192.0.2.0/33'"},
        bad_case{"ACL key not defined", head + "acls:\n  x: [\"key foo\"]\n", 5,
                 "acls.x[0]: \"key foo\" names a key that tsig-keys does not define"},
        bad_case{"ACL cycle", head + "acls:\n  a: [b]\n  b: [a]\n", 6,
                 "acls.b[0]: ACL \"a\" includes itself"},
        bad_case{"duplicate zone",
                 head + "zones:\n  - {name: a., type: primary, file: f}\n"
                        "  - {name: A, type: primary, file: g}\n",
                 6, "zones[1]: zone \"a.\" is defined twice (also on line 5)"},
        bad_case{
            "bad zone name", head + "zones:\n  - {name: \"a..b\", type: primary, file: f}\n", 5,
            "zones[0].name: \"a..b\" is not a domain name: empty label in domain name 'a..b.'"},
        bad_case{"bad RR type in policy",
                 head + "tsig-keys: [{name: k, algorithm: hmac-sha256, secret: YWJj}]\n"
                        "zones:\n  - name: a.\n    type: primary\n    file: f\n"
                        "    update-policy:\n      - key: k\n        types: [A, BOGUS]\n",
                 11, "zones[0].update-policy[0].types[1]: \"BOGUS\" is not an RR type"},
        bad_case{"policy name outside zone",
                 head + "tsig-keys: [{name: k, algorithm: hmac-sha256, secret: YWJj}]\n"
                        "zones:\n  - name: a.\n    type: primary\n    file: f\n"
                        "    update-policy: [{key: k, name: b.}]\n",
                 9, "zones[0].update-policy[0].name: \"b.\" is outside the zone"},
        bad_case{"bad duration",
                 head + "zones:\n  - {name: a., type: secondary, primaries: [::1], refresh: 5y}\n",
                 5,
                 "zones[0].refresh: \"5y\" is not a duration (seconds, or N followed by "
                 "s|m|h|d|w)"},
        bad_case{"limit out of range", head + "limits:\n  tcp-clients: 0\n", 5,
                 "limits.tcp-clients: \"0\" is out of range 1..65535"},
        bad_case{"per-client above total",
                 head + "limits:\n  tcp-clients: 4\n  tcp-per-client: 8\n", 6,
                 "limits.tcp-per-client: is larger than tcp-clients (4)"},
        bad_case{"zones not a list", head + "zones:\n  name: a.\n", 5,
                 "zones: must be a list of zones"},
        bad_case{"empty listen", "role: auth\nlisten: []\n", 2,
                 "listen: needs at least one ADDR:PORT"},
        bad_case{"policy outside role signer", head + "dnssec-policies: []\n", 4,
                 "dnssec-policies: applies only to role signer"},
        bad_case{"undefined policy",
                 signer_head + "zones:\n  - name: a.\n    type: secondary\n    primaries: [::1]\n"
                               "    dnssec-policy: strict\n",
                 8, "zones[0].dnssec-policy: \"strict\" is not defined in dnssec-policies"},
        bad_case{"refresh not shorter than validity",
                 signer_head + "dnssec-policies:\n  - name: p\n    signature-validity: 7d\n"
                               "    signature-refresh: 7d\n",
                 7,
                 "dnssec-policies[0].signature-refresh: must be shorter than signature-validity "
                 "(604800 s)"},
        bad_case{"unknown algorithm",
                 signer_head + "dnssec-policies:\n  - name: p\n    algorithm: gost\n", 6,
                 "dnssec-policies[0].algorithm: \"gost\" is not a signing algorithm we support "
                 "(RSASHA256, RSASHA512, ECDSAP256SHA256, ECDSAP384SHA384, ED25519, ED448)"},
        bad_case{"signer zone not secondary",
                 signer_head + "zones:\n  - {name: a., type: primary, file: f}\n", 5,
                 "zones[0]: a signer's zone must be type secondary (a secondary of the provider's "
                 "combiner)"}));

TEST(Config, SignerPoliciesAndTheDefault) {
    config c = parse_config(signer_head +
                                "dnssec-policies:\n  - name: csk-nsec3\n    algorithm: 15\n"
                                "    keys: csk\n    nsec3: true\n    nsec3-salt: aabb\n"
                                "    zsk-lifetime: 90d\n"
                                "zones:\n  - {name: a., type: secondary, primaries: [::1], "
                                "dnssec-policy: csk-nsec3}\n  - {name: b., type: secondary, "
                                "primaries: [::1]}\n",
                            "c.yaml", false);
    ASSERT_EQ(c.zones.size(), 2u);
    EXPECT_EQ(c.zones[0].dnssec_policy, "csk-nsec3");
    EXPECT_EQ(c.zones[1].dnssec_policy, "default");
    const auto* p = c.find_policy("csk-nsec3");
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->algorithm, 15);
    EXPECT_TRUE(p->csk);
    EXPECT_TRUE(p->nsec3);
    EXPECT_EQ(p->nsec3_salt, (std::vector<uint8_t>{0xaa, 0xbb}));
    EXPECT_EQ(p->zsk_lifetime, 90u * 86400);
    EXPECT_EQ(p->refresh, p->validity / 2);  // default: half the validity
    const auto* d = c.find_policy("default");
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->algorithm, 13);
    EXPECT_FALSE(d->csk);
}

TEST(Config, DataDirMustExistWhenFilesAreChecked) {
    try {
        parse_config("role: auth\nlisten: 127.0.0.1:53\ndata-dir: /nonexistent/hsync\n", "c.yaml",
                     true);
        FAIL() << "accepted";
    } catch (const config_error& e) {
        EXPECT_EQ(std::string(e.what()),
                  "c.yaml:3: data-dir: \"/nonexistent/hsync\" is not an existing directory");
    }
}

TEST(Config, BindKeyFile) {
    auto dir = fs::temp_directory_path() / ("hsync-config-test-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    {
        std::ofstream(dir / "tsig.key") << "// made by tsig-keygen\nkey \"Transfer.Key\" {\n"
                                           "\talgorithm hmac-sha384;\n\tsecret \"YWJjZGVm\";\n};\n"
                                           "# second\nkey other { algorithm hmac-sha256; "
                                           "secret \"eHl6\"; };\n";
        std::ofstream(dir / "broken.key")
            << "key \"k\" {\n\talgorithm hmac-sha256;\n\tsecret \"YWJj\"\n};\n";
    }
    config c =
        parse_config(head + "tsig-keys:\n  - key-file: tsig.key\nacls:\n  a: [\"key other\"]\n",
                     (dir / "hsyncd.yaml").string(), false);
    ASSERT_EQ(c.tsig_keys.size(), 2u);
    EXPECT_EQ(c.tsig_keys[0].name, "transfer.key.");
    EXPECT_EQ(c.tsig_keys[0].algorithm, "hmac-sha384");
    EXPECT_EQ(std::string(c.tsig_keys[0].secret.begin(), c.tsig_keys[0].secret.end()), "abcdef");
    EXPECT_EQ(c.tsig_keys[1].name, "other.");

    try {
        parse_config(head + "tsig-keys:\n  - key-file: broken.key\n", (dir / "c.yaml").string(),
                     false);
        FAIL() << "accepted a key file with a missing ';'";
    } catch (const config_error& e) {
        EXPECT_EQ(e.line(), 5);
        EXPECT_NE(std::string(e.what()).find("broken.key:4: expected ';', found '}'"),
                  std::string::npos)
            << e.what();
    }
    fs::remove_all(dir);
}

// hsyncd --check: one walk reports every mistake, each at its own line, and a mistake in
// one place does not hide the others nor make up new ones.
TEST(Config, AllProblemsOfOneFile) {
    auto r = parse_config_all(head +
                                  "colour: blue\n"                                      // 4
                                  "tsig-keys:\n"                                        // 5
                                  "  - {name: k, algorithm: hmac-md5, secret: YWJj}\n"  // 6
                                  "zones:\n"                                            // 7
                                  "  - name: a.\n"                                      // 8
                                  "    type: secondary\n"                               // 9
                                  "    primaries: [192.0.2.1:x]\n"                      // 10
                                  "    transfer-key: k\n"                               // 11
                                  "    refresh: 5y\n"                                   // 12
                                  "  - {name: b., type: primary}\n"                     // 13
                                  "limits:\n  tcp-clients: 0\n",                        // 14-15
                              "c.yaml", false);
    std::vector<std::string> got;
    for (const auto& p : r.problems)
        got.push_back(p.what());
    EXPECT_EQ(got, (std::vector<std::string>{
                       "c.yaml:4: colour: unknown key",
                       "c.yaml:6: tsig-keys[0].algorithm: algorithm \"hmac-md5\" is not supported "
                       "(use one of hmac-sha1|hmac-sha224|hmac-sha256|hmac-sha384|hmac-sha512)",
                       // transfer-key k is not reported: its definition failed above.
                       "c.yaml:10: zones[0].primaries[0]: \"192.0.2.1:x\" is not ADDR:PORT",
                       "c.yaml:12: zones[0].refresh: \"5y\" is not a duration (seconds, or N "
                       "followed by s|m|h|d|w)",
                       "c.yaml:13: zones[1]: \"file\" is required for a primary zone",
                       "c.yaml:15: limits.tcp-clients: \"0\" is out of range 1..65535"}));
    // parse_config throws the first of them.
    try {
        parse_config(head + "colour: blue\nlimits:\n  tcp-clients: 0\n", "c.yaml", false);
        FAIL() << "accepted";
    } catch (const config_error& e) {
        EXPECT_EQ(e.line(), 4);
    }
}

// Every path the file names is kept with its key and line, for the file checks.
TEST(Config, PathsAreRegisteredWithTheirLines) {
    auto r = parse_config_all(
        "role: auth\nlisten: [127.0.0.1:53]\ndata-dir: /var/lib/x\nlog-file: log/h.log\n"
        "zones:\n  - name: a.\n    type: primary\n    file: a.zone\n",
        "/etc/hsync/c.yaml", false);
    ASSERT_TRUE(r.problems.empty()) << r.problems.front().what();
    ASSERT_EQ(r.cfg.files.size(), 3u);
    EXPECT_EQ(r.cfg.files[0].key, "data-dir");
    EXPECT_EQ(r.cfg.files[0].line, 3);
    EXPECT_EQ(r.cfg.files[0].how, file_ref::use::directory);
    EXPECT_EQ(r.cfg.files[1].path, "/etc/hsync/log/h.log");
    EXPECT_EQ(r.cfg.files[1].how, file_ref::use::append);
    EXPECT_EQ(r.cfg.files[2].key, "zones[0].file");
    EXPECT_EQ(r.cfg.files[2].line, 8);
    EXPECT_EQ(r.cfg.files[2].path, "/etc/hsync/a.zone");
    EXPECT_EQ(r.cfg.line_of("zones[0].file"), 8);
    EXPECT_EQ(r.cfg.line_of("role"), 1);
    EXPECT_EQ(r.cfg.line_of("nothing"), 0);
}

TEST(Config, EndpointParsing) {
    EXPECT_EQ(parse_endpoint("192.0.2.1:53", 1)->to_string(), "192.0.2.1:53");
    EXPECT_EQ(parse_endpoint("192.0.2.1", 99)->to_string(), "192.0.2.1:99");
    EXPECT_EQ(parse_endpoint("[2001:db8::1]:8053", 1)->to_string(), "[2001:db8::1]:8053");
    EXPECT_EQ(parse_endpoint("2001:db8::1", 53)->to_string(), "[2001:db8::1]:53");
    for (const char* bad : {"", ":53", "192.0.2.1:", "192.0.2.1:65536", "192.0.2.1:5x",
                            "[2001:db8::1]53", "[2001:db8::1", "host.example:53", "1.2.3:4"})
        EXPECT_FALSE(parse_endpoint(bad, 53)) << bad;
}

}  // namespace
}  // namespace hsync::hsyncd

#else

TEST(Config, ParserIsLinkedIntoUnitTests) {
    FAIL() << "tests/unit/config_test.cc is not compiled: tests/CMakeLists.txt must add "
              "src/cmd/hsyncd/config.cc to unit_tests, link yaml-cpp and define "
              "HSYNC_WITH_HSYNCD_CONFIG";
}

#endif
