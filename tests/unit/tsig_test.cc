// TSIG (RFC 8945): HMAC known answers (RFC 4231, RFC 2202), key files, and hand-built
// requests, responses and multi-message streams that must verify or fail with the right
// error.
#include "dnssec/tsig.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dns/error.h"
#include "dns/message.h"
#include "dns/text.h"
#include "test_util.h"

using hsync::test::hex;

using namespace hsync;
using namespace hsync::dnssec;

namespace {

std::vector<uint8_t> bytes(std::string_view s) {
    return {s.begin(), s.end()};
}

dns::name N(std::string_view s) {
    return dns::name::from_text(s);
}

tsig_key test_key(std::string_view name = "k.example.",
                  tsig_algorithm alg = tsig_algorithm::hmac_sha256) {
    tsig_key k{N(name), alg, {}};
    dns::parse_base64("jHf3Um4yvOszrU6U8+HbaBI6LCLvFYs7jDA4OWWjyzo=", k.secret);
    return k;
}

constexpr int64_t t0 = 1700000000;

std::vector<uint8_t> query_wire(uint16_t id = 0x1234) {
    dns::message m;
    m.id = id;
    m.opcode = dns::opcode::UPDATE;
    m.questions.push_back({N("example."), dns::rr_type::SOA, dns::rr_class::IN});
    m.authority.push_back(dns::rr::from_text("new.example. 300 IN A 192.0.2.7"));
    std::vector<uint8_t> w;
    m.to_wire(w);
    return w;
}

struct checked {
    std::vector<uint8_t> wire;
    dns::message msg;
};

checked parse(std::vector<uint8_t> w) {
    auto m = dns::message::parse(w);
    return {std::move(w), std::move(m)};
}

tsig_result verify_req(const std::vector<uint8_t>& w, const tsig_key_provider& ring,
                       int64_t now = t0) {
    auto m = dns::message::parse(w);
    return tsig_verify_request(w, m, ring, now);
}

// Rewrites the TSIG RDATA of a signed message through `edit` (the rest stays as written).
std::vector<uint8_t> edit_tsig(const std::vector<uint8_t>& w, auto edit) {
    auto m = dns::message::parse(w);
    auto f = tsig_fields::parse(m.tsig->rdata);
    edit(f, *m.tsig);
    m.tsig->rdata = f.to_wire();
    std::vector<uint8_t> out;
    m.to_wire(out);
    return out;
}

}  // namespace

// RFC 4231 §4.2, §4.3, §4.7 and RFC 2202 §3 test cases 1 and 2.
TEST(Tsig, HmacKnownAnswers) {
    std::vector<uint8_t> key1(20, 0x0b), jefe = bytes("Jefe"), key6(131, 0xaa);
    auto hi = bytes("Hi There"), what = bytes("what do ya want for nothing?");
    auto big = bytes("Test Using Larger Than Block-Size Key - Hash Key First");
    EXPECT_EQ(hex(hmac(tsig_algorithm::hmac_sha256, key1, {hi})),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    EXPECT_EQ(hex(hmac(tsig_algorithm::hmac_sha384, key1, {hi})),
              "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
              "faea9ea9076ede7f4af152e8b2fa9cb6");
    EXPECT_EQ(hex(hmac(tsig_algorithm::hmac_sha512, key1, {hi})),
              "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
              "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854");
    EXPECT_EQ(hex(hmac(tsig_algorithm::hmac_sha256, jefe, {what})),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    EXPECT_EQ(hex(hmac(tsig_algorithm::hmac_sha384, jefe, {what})),
              "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
              "8e2240ca5e69e2c78b3239ecfab21649");
    EXPECT_EQ(hex(hmac(tsig_algorithm::hmac_sha512, jefe, {what})),
              "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
              "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
    EXPECT_EQ(hex(hmac(tsig_algorithm::hmac_sha256, key6, {big})),
              "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    EXPECT_EQ(hex(hmac(tsig_algorithm::hmac_sha1, key1, {hi})),
              "b617318655057264e28bc0b6fb378c8ef146be00");
    EXPECT_EQ(hex(hmac(tsig_algorithm::hmac_sha1, jefe, {what})),
              "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    // Parts are concatenated.
    EXPECT_EQ(hex(hmac(tsig_algorithm::hmac_sha256, jefe,
                       {bytes("what do ya "), bytes(""), bytes("want for nothing?")})),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    EXPECT_THROW(hmac(tsig_algorithm::hmac_sha256, {}, {hi}), dnssec_error);
}

TEST(Tsig, Algorithms) {
    EXPECT_EQ(tsig_algorithm_from_text("HMAC-SHA256"), tsig_algorithm::hmac_sha256);
    EXPECT_EQ(tsig_algorithm_from_text("hmac-sha1."), tsig_algorithm::hmac_sha1);
    EXPECT_EQ(tsig_algorithm_name(tsig_algorithm::hmac_sha384).to_text(), "hmac-sha384.");
    EXPECT_EQ(tsig_mac_size(tsig_algorithm::hmac_sha512), 64u);
    EXPECT_THROW(tsig_algorithm_from_text("hmac-md5"), dnssec_error);
    EXPECT_THROW(tsig_algorithm_from_text("hmac-md5.sig-alg.reg.int"), dnssec_error);
    EXPECT_THROW(tsig_algorithm_from_text("hmac-sha256-128"), dnssec_error);
    EXPECT_THROW(tsig_algorithm_from_text("gss-tsig"), dnssec_error);
    EXPECT_FALSE(tsig_algorithm_from_name(N("hmac-md5.sig-alg.reg.int.")));
    EXPECT_EQ(tsig_algorithm_from_name(N("HMAC-SHA512.")), tsig_algorithm::hmac_sha512);
}

TEST(Tsig, KeyFiles) {
    const char* text = R"(# two keys, as tsig-keygen writes them
key "k.example" {
	algorithm hmac-sha256;
	secret "jHf3Um4yvOszrU6U8+HbaBI6LCLvFYs7jDA4OWWjyzo=";
};
/* a comment
   over lines */ key other. { algorithm HMAC-SHA512; // trailing
  secret "AAEC
          AwQ=";
};
)";
    auto keys = parse_tsig_key_file(text);
    ASSERT_EQ(keys.size(), 2u);
    EXPECT_EQ(keys[0].name, N("k.example."));
    EXPECT_EQ(keys[0].algorithm, tsig_algorithm::hmac_sha256);
    EXPECT_EQ(keys[0].secret, test_key().secret);
    EXPECT_EQ(keys[1].name, N("other."));
    EXPECT_EQ(keys[1].algorithm, tsig_algorithm::hmac_sha512);
    EXPECT_EQ(hex(keys[1].secret), "0001020304");
    // Written and read back.
    auto again = parse_tsig_key_file(format_tsig_key_file(keys));
    ASSERT_EQ(again.size(), 2u);
    EXPECT_EQ(again[1].secret, keys[1].secret);
    EXPECT_NE(format_tsig_key_file(keys).find("key \"k.example\" {"), std::string::npos);

    try {
        parse_tsig_key_file("key \"a\" {\n algorithm hmac-sha256;\n};\n");
        FAIL() << "a key without secret was accepted";
    } catch (const dns::text_error& e) {
        EXPECT_NE(std::string(e.what()).find("lacks a secret"), std::string::npos) << e.what();
    }
    try {
        parse_tsig_key_file("key \"a\" {\n algorithm hmac-sha256;\n secret \"!!\";\n};\n");
        FAIL() << "bad base64 accepted";
    } catch (const dns::text_error& e) {
        EXPECT_NE(std::string(e.what()).find("line 3"), std::string::npos) << e.what();
    }
    EXPECT_THROW(parse_tsig_key_file("key a { algorithm hmac-md5; secret \"AAAA\"; };"),
                 dnssec_error);
    EXPECT_THROW(parse_tsig_key_file("options { };"), dns::text_error);
    EXPECT_THROW(parse_tsig_key_file("key a { algorithm hmac-sha1; secret \"AAAA\"; }"),
                 dns::text_error);  // missing final ';'
    EXPECT_THROW(parse_tsig_key_file("key a { /* open"), dns::text_error);

    auto spec = parse_tsig_key_spec("hmac-sha384:k.example:AAEC");
    EXPECT_EQ(spec.algorithm, tsig_algorithm::hmac_sha384);
    EXPECT_EQ(spec.name, N("k.example."));
    EXPECT_EQ(parse_tsig_key_spec("k:AAEC").algorithm, tsig_algorithm::hmac_sha256);
    EXPECT_THROW(parse_tsig_key_spec("hmac-md5:k:AAEC"), dnssec_error);
    EXPECT_THROW(parse_tsig_key_spec("nocolon"), dns::text_error);

    auto g = generate_tsig_key(N("g."), tsig_algorithm::hmac_sha384);
    EXPECT_EQ(g.secret.size(), 48u);
    EXPECT_NE(g.secret, generate_tsig_key(N("g."), tsig_algorithm::hmac_sha384).secret);
}

TEST(Tsig, SignAndVerifyRequest) {
    tsig_keyring ring({test_key(), test_key("other.", tsig_algorithm::hmac_sha512)});
    for (auto alg : {tsig_algorithm::hmac_sha1, tsig_algorithm::hmac_sha256,
                     tsig_algorithm::hmac_sha384, tsig_algorithm::hmac_sha512}) {
        auto key = test_key("alg.example.", alg);
        tsig_keyring one({key});
        tsig_session s(key);
        auto w = query_wire();
        s.sign(w, t0);
        auto r = verify_req(w, one);
        EXPECT_TRUE(r.ok()) << tsig_algorithm_text(alg) << ": " << r.reason;
        EXPECT_EQ(r.fields.mac.size(), tsig_mac_size(alg));
    }
    tsig_session s(test_key());
    auto w = query_wire();
    s.sign(w, t0);
    auto c = parse(w);
    ASSERT_TRUE(c.msg.tsig);
    EXPECT_EQ(c.msg.tsig->owner, N("k.example."));
    EXPECT_EQ(c.msg.tsig->rclass, dns::rr_class::ANY);
    EXPECT_EQ(c.msg.tsig->ttl, 0u);
    auto f = tsig_fields::parse(c.msg.tsig->rdata);
    EXPECT_EQ(f.algorithm.to_text(), "hmac-sha256.");
    EXPECT_EQ(f.time_signed, uint64_t(t0));
    EXPECT_EQ(f.fudge, 300);
    EXPECT_EQ(f.original_id, 0x1234);
    EXPECT_EQ(f.error, 0);
    EXPECT_EQ(s.last_mac(), f.mac);
    // The same message through dns::message.
    tsig_session s2(test_key());
    EXPECT_EQ(s2.sign(dns::message::parse(query_wire()), t0), w);

    auto r = verify_req(w, ring);
    ASSERT_TRUE(r.ok()) << r.reason;
    EXPECT_EQ(r.rcode, dns::rcode::NOERROR);
    ASSERT_TRUE(r.key);
    EXPECT_EQ(r.key->name, N("k.example."));

    // A forwarder changed the ID: verification uses the original ID (§4.3.2).
    auto fw = w;
    fw[0] = 0xAB;
    EXPECT_TRUE(verify_req(fw, ring).ok());

    // No TSIG.
    auto none = verify_req(query_wire(), ring);
    EXPECT_EQ(none.status, tsig_status::unsigned_message);
    EXPECT_EQ(none.rcode, dns::rcode::NOERROR);
}

TEST(Tsig, FlippedBitIsBadsig) {
    tsig_keyring ring({test_key()});
    tsig_session s(test_key());
    auto w = query_wire();
    s.sign(w, t0);
    auto c = parse(w);
    // Every bit of the signed message before the TSIG (except the ID, which is replaced by
    // the original ID, and ARCOUNT, which the parser checks) must be covered.
    size_t checked = 0;
    for (size_t i = 2; i < c.msg.signature_offset; ++i) {
        if (i == 10 || i == 11) continue;
        auto bad = w;
        bad[i] ^= 0x01;
        dns::message m;
        try {
            m = dns::message::parse(bad);
        } catch (const dns::wire_error&) {
            continue;  // no longer a message at all
        }
        auto r = tsig_verify_request(bad, m, ring, t0);
        EXPECT_EQ(r.status, tsig_status::badsig) << "octet " << i << ": " << r.reason;
        EXPECT_EQ(r.rcode, dns::rcode::NOTAUTH);
        EXPECT_EQ(r.error, tsig_error::BADSIG);
        EXPECT_FALSE(r.key);
        ++checked;
    }
    EXPECT_GT(checked, 20u);
    // A bit of the MAC, of the time, of the other data.
    auto mac_bad = edit_tsig(w, [](tsig_fields& f, dns::rr&) { f.mac[5] ^= 0x80; });
    EXPECT_EQ(verify_req(mac_bad, ring).status, tsig_status::badsig);
    auto time_bad = edit_tsig(w, [](tsig_fields& f, dns::rr&) { f.time_signed += 1; });
    EXPECT_EQ(verify_req(time_bad, ring).status, tsig_status::badsig);
    auto other = edit_tsig(w, [](tsig_fields& f, dns::rr&) { f.other_data = {1}; });
    EXPECT_EQ(verify_req(other, ring).status, tsig_status::badsig);
    // Another secret under the same name.
    auto wrong = test_key();
    wrong.secret[0] ^= 1;
    EXPECT_EQ(verify_req(w, tsig_keyring({wrong})).status, tsig_status::badsig);
    // The key name's case does not matter (canonical form in the MAC).
    auto upper = edit_tsig(w, [](tsig_fields&, dns::rr& r) { r.owner = N("K.EXAMPLE."); });
    EXPECT_TRUE(verify_req(upper, ring).ok());
}

TEST(Tsig, BadKey) {
    tsig_session s(test_key());
    auto w = query_wire();
    s.sign(w, t0);
    auto r = verify_req(w, tsig_keyring({test_key("k2.example.")}));
    EXPECT_EQ(r.status, tsig_status::badkey);
    EXPECT_EQ(r.rcode, dns::rcode::NOTAUTH);
    EXPECT_EQ(r.error, tsig_error::BADKEY);
    EXPECT_NE(r.reason.find("unknown TSIG key k.example."), std::string::npos) << r.reason;
    // Same name, other algorithm.
    r = verify_req(w, tsig_keyring({test_key("k.example.", tsig_algorithm::hmac_sha512)}));
    EXPECT_EQ(r.status, tsig_status::badkey);
    // An algorithm we refuse (MD5) is unknown: BADKEY.
    auto md5 = edit_tsig(
        w, [](tsig_fields& f, dns::rr&) { f.algorithm = N("hmac-md5.sig-alg.reg.int."); });
    EXPECT_EQ(verify_req(md5, tsig_keyring({test_key()})).status, tsig_status::badkey);

    // The answer: unsigned, empty MAC, error BADKEY (§5.3.2).
    auto req = dns::message::parse(w);
    r = verify_req(w, tsig_keyring({test_key("k2.example.")}));
    dns::message resp;
    resp.id = req.id;
    resp.qr = true;
    resp.rcode = r.rcode;
    std::vector<uint8_t> rw;
    resp.to_wire(rw);
    tsig_answer(rw, r, t0);
    auto rp = dns::message::parse(rw);
    ASSERT_TRUE(rp.tsig);
    auto f = tsig_fields::parse(rp.tsig->rdata);
    EXPECT_EQ(f.error, tsig_error::BADKEY);
    EXPECT_TRUE(f.mac.empty());
    EXPECT_EQ(rp.rcode, dns::rcode::NOTAUTH);
    // The requester sees the peer's error, unauthenticated.
    auto cr = s.verify(rw, rp, t0);
    EXPECT_EQ(cr.status, tsig_status::peer_error);
    EXPECT_EQ(cr.error, tsig_error::BADKEY);
}

TEST(Tsig, TimeSkewIsBadtime) {
    tsig_keyring ring({test_key()});
    tsig_session s(test_key());
    auto w = query_wire();
    s.sign(w, t0);
    EXPECT_TRUE(verify_req(w, ring, t0 + 300).ok());
    EXPECT_TRUE(verify_req(w, ring, t0 - 300).ok());
    auto r = verify_req(w, ring, t0 + 301);
    EXPECT_EQ(r.status, tsig_status::badtime);
    EXPECT_EQ(r.rcode, dns::rcode::NOTAUTH);
    EXPECT_EQ(r.error, tsig_error::BADTIME);
    EXPECT_TRUE(r.key);  // the MAC was good
    EXPECT_EQ(verify_req(w, ring, t0 - 301).status, tsig_status::badtime);

    // The BADTIME answer is signed, carries the request's time signed and our time in
    // Other Data (§5.2.3).
    auto req = dns::message::parse(w);
    dns::message resp;
    resp.id = req.id;
    resp.qr = true;
    resp.opcode = req.opcode;
    resp.rcode = r.rcode;
    resp.questions = req.questions;
    std::vector<uint8_t> rw;
    resp.to_wire(rw);
    tsig_answer(rw, r, t0 + 1000);
    auto rp = dns::message::parse(rw);
    ASSERT_TRUE(rp.tsig);
    auto f = tsig_fields::parse(rp.tsig->rdata);
    EXPECT_EQ(f.error, tsig_error::BADTIME);
    EXPECT_EQ(f.time_signed, uint64_t(t0));
    EXPECT_EQ(hex(f.other_data), "00006553f4e8");  // t0 + 1000 = 0x6553F4E8 as 48 bits
    EXPECT_EQ(f.mac.size(), 32u);
    // The requester verifies the MAC and learns the server's time.
    auto cr = s.verify(rw, rp, t0);
    EXPECT_EQ(cr.status, tsig_status::peer_error) << cr.reason;
    EXPECT_EQ(cr.error, tsig_error::BADTIME);
    EXPECT_NE(cr.reason.find("server time 1700001000"), std::string::npos) << cr.reason;
}

TEST(Tsig, TruncatedMacRefused) {
    tsig_keyring ring({test_key()});
    tsig_session s(test_key());
    auto w = query_wire();
    s.sign(w, t0);
    // A legal truncation (16 of 32 octets, the correct prefix): BADTRUNC, we take none.
    auto t16 = edit_tsig(w, [](tsig_fields& f, dns::rr&) { f.mac.resize(16); });
    auto r = verify_req(t16, ring);
    EXPECT_EQ(r.status, tsig_status::badtrunc);
    EXPECT_EQ(r.error, tsig_error::BADTRUNC);
    // A wrong truncated MAC is still BADSIG.
    auto t16bad = edit_tsig(w, [](tsig_fields& f, dns::rr&) {
        f.mac.resize(16);
        f.mac[0] ^= 1;
    });
    EXPECT_EQ(verify_req(t16bad, ring).status, tsig_status::badsig);
    // Shorter than half the hash, or than 10 octets, or longer than the hash: FORMERR.
    for (size_t n : {0, 8, 15, 33}) {
        auto t = edit_tsig(w, [n](tsig_fields& f, dns::rr&) { f.mac.resize(n); });
        auto rr = verify_req(t, ring);
        EXPECT_EQ(rr.status, tsig_status::formerr) << n;
        EXPECT_EQ(rr.rcode, dns::rcode::FORMERR) << n;
    }
    // HMAC-SHA1: 10 octets is the floor.
    auto k1 = test_key("k.example.", tsig_algorithm::hmac_sha1);
    tsig_session s1(k1);
    auto w1 = query_wire();
    s1.sign(w1, t0);
    auto t9 = edit_tsig(w1, [](tsig_fields& f, dns::rr&) { f.mac.resize(9); });
    EXPECT_EQ(verify_req(t9, tsig_keyring({k1})).status, tsig_status::formerr);
    auto t10 = edit_tsig(w1, [](tsig_fields& f, dns::rr&) { f.mac.resize(10); });
    EXPECT_EQ(verify_req(t10, tsig_keyring({k1})).status, tsig_status::badtrunc);
}

TEST(Tsig, MalformedTsigIsFormerr) {
    tsig_keyring ring({test_key()});
    tsig_session s(test_key());
    auto w = query_wire();
    s.sign(w, t0);
    auto in = edit_tsig(w, [](tsig_fields&, dns::rr& r) { r.rclass = dns::rr_class::IN; });
    EXPECT_EQ(verify_req(in, ring).status, tsig_status::formerr);
    auto ttl = edit_tsig(w, [](tsig_fields&, dns::rr& r) { r.ttl = 5; });
    EXPECT_EQ(verify_req(ttl, ring).status, tsig_status::formerr);
}

TEST(Tsig, ResponseCoversRequestMac) {
    tsig_keyring ring({test_key()});
    tsig_session client(test_key());
    auto q = query_wire();
    client.sign(q, t0);
    auto r = verify_req(q, ring);
    ASSERT_TRUE(r.ok());

    auto make_response = [&] {
        auto req = dns::message::parse(q);
        dns::message resp;
        resp.id = req.id;
        resp.qr = true;
        resp.opcode = req.opcode;
        resp.questions = req.questions;
        std::vector<uint8_t> rw;
        resp.to_wire(rw);
        return rw;
    };
    auto rw = make_response();
    tsig_answer(rw, r, t0 + 2);
    auto c = parse(rw);
    auto cr = client.verify(c.wire, c.msg, t0 + 3);
    EXPECT_TRUE(cr.ok()) << cr.reason;
    EXPECT_TRUE(client.complete());

    // Signed as if it were a request (no request MAC): BADSIG for the requester.
    auto alone = make_response();
    tsig_session other(test_key());
    other.sign(alone, t0);
    auto client2 = tsig_session::awaiting_response(test_key(), r.fields.mac);
    auto a = parse(alone);
    EXPECT_EQ(client2.verify(a.wire, a.msg, t0).status, tsig_status::badsig);
    // An unsigned response.
    auto plain = make_response();
    auto p = parse(plain);
    auto client3 = tsig_session::awaiting_response(test_key(), r.fields.mac);
    EXPECT_EQ(client3.verify(p.wire, p.msg, t0).status, tsig_status::unsigned_message);
    EXPECT_FALSE(client3.complete());
    // Signed by another key.
    auto k2 = test_key("k2.example.");
    auto other_key = make_response();
    tsig_session::responder(k2, r.fields.mac).sign(other_key, t0);
    auto o = parse(other_key);
    auto client4 = tsig_session::awaiting_response(test_key(), r.fields.mac);
    EXPECT_EQ(client4.verify(o.wire, o.msg, t0).status, tsig_status::badkey);
    // Response time outside the fudge.
    auto late = make_response();
    tsig_answer(late, r, t0 + 1000);
    auto l = parse(late);
    auto client5 = tsig_session::awaiting_response(test_key(), r.fields.mac);
    EXPECT_EQ(client5.verify(l.wire, l.msg, t0).status, tsig_status::badtime);
}

namespace {

// A zone-transfer-like stream: message i has one TXT record "i".
std::vector<uint8_t> stream_message(uint16_t id, int i) {
    dns::message m;
    m.id = id;
    m.qr = true;
    m.aa = true;
    if (i == 0) m.questions.push_back({N("example."), dns::rr_type::AXFR, dns::rr_class::IN});
    m.answer.push_back(dns::rr::from_text("r" + std::to_string(i) + ".example. 300 IN TXT \"" +
                                          std::to_string(i) + "\""));
    std::vector<uint8_t> w;
    m.to_wire(w);
    return w;
}

struct stream {
    std::vector<uint8_t> request_mac;
    std::vector<std::vector<uint8_t>> messages;
};

// `signed_at[i]` says whether message i carries a TSIG.
stream make_stream(const std::vector<bool>& signed_at) {
    tsig_session client(test_key());
    auto q = query_wire(7);
    client.sign(q, t0);
    auto r = verify_req(q, tsig_keyring({test_key()}));
    auto server = tsig_session::responder(r);
    stream s;
    s.request_mac = client.last_mac();
    for (size_t i = 0; i < signed_at.size(); ++i) {
        auto w = stream_message(7, static_cast<int>(i));
        if (signed_at[i])
            server.sign(w, t0 + static_cast<int64_t>(i));
        else
            server.pass_unsigned(w);
        s.messages.push_back(std::move(w));
    }
    return s;
}

// Verifies the stream; returns the index of the first failure, or -1 if all fine and the
// last was signed.
int verify_stream(const stream& s, std::string* why = nullptr) {
    auto client = tsig_session::awaiting_response(test_key(), s.request_mac);
    for (size_t i = 0; i < s.messages.size(); ++i) {
        auto m = dns::message::parse(s.messages[i]);
        auto r = client.verify(s.messages[i], m, t0);
        bool fine = r.ok() || (r.status == tsig_status::unsigned_message && i > 0);
        if (!fine) {
            if (why) *why = r.reason;
            return static_cast<int>(i);
        }
    }
    return client.complete() ? -1 : static_cast<int>(s.messages.size());
}

}  // namespace

TEST(Tsig, MultiMessageStream) {
    // All signed.
    auto all = make_stream({true, true, true, true, true});
    EXPECT_EQ(verify_stream(all), -1);
    // The later messages use the timers only: their TSIG still has full fields on the wire.
    auto m2 = dns::message::parse(all.messages[2]);
    EXPECT_EQ(tsig_fields::parse(m2.tsig->rdata).time_signed, uint64_t(t0 + 2));

    // Unsigned messages between signed ones (§5.3.1).
    auto gaps = make_stream({true, false, false, true, false, true});
    EXPECT_EQ(verify_stream(gaps), -1);

    // A tampered signed middle message fails there.
    auto bad = all;
    bad.messages[2][bad.messages[2].size() - 60] ^= 0x01;  // inside the TXT record
    std::string why;
    int at = verify_stream(bad, &why);
    EXPECT_EQ(at, 2) << why;
    // A tampered unsigned middle message fails at the next signed one.
    auto bad_gap = gaps;
    bad_gap.messages[1].back() ^= 0x01;
    EXPECT_EQ(verify_stream(bad_gap, &why), 3) << why;
    // Dropping a message breaks the chain.
    auto dropped = all;
    dropped.messages.erase(dropped.messages.begin() + 2);
    EXPECT_EQ(verify_stream(dropped), 2);
    // Reordering too.
    auto swapped = all;
    std::swap(swapped.messages[1], swapped.messages[2]);
    EXPECT_EQ(verify_stream(swapped), 1);
    // The last message must be signed.
    auto open_end = make_stream({true, true, false});
    EXPECT_EQ(verify_stream(open_end), 3);
    // The first must be signed too.
    auto first_unsigned = gaps;
    first_unsigned.messages[0] = stream_message(7, 0);
    EXPECT_EQ(verify_stream(first_unsigned), 0);
    // A stream cut from another request does not verify.
    auto other = make_stream({true, true});
    other.request_mac[0] ^= 1;
    EXPECT_EQ(verify_stream(other), 0);
}

TEST(Tsig, AtMost99UnsignedInARow) {
    std::vector<bool> ok_run(1, true);
    ok_run.insert(ok_run.end(), 99, false);
    ok_run.push_back(true);
    EXPECT_EQ(verify_stream(make_stream(ok_run)), -1);

    // A requester refuses the 100th unsigned message.
    tsig_session client(test_key());
    auto q = query_wire(7);
    client.sign(q, t0);
    auto r = verify_req(q, tsig_keyring({test_key()}));
    auto server = tsig_session::responder(r);
    auto first = stream_message(7, 0);
    server.sign(first, t0);
    auto f = parse(first);
    ASSERT_TRUE(client.verify(f.wire, f.msg, t0).ok());
    auto plain = stream_message(7, 1);
    auto p = dns::message::parse(plain);
    for (int i = 0; i < 99; ++i)
        ASSERT_EQ(client.verify(plain, p, t0).status, tsig_status::unsigned_message);
    EXPECT_EQ(client.verify(plain, p, t0).status, tsig_status::too_many_unsigned);
    // And a responder will not send it.
    for (int i = 0; i < 99; ++i)
        server.pass_unsigned(plain);
    EXPECT_THROW(server.pass_unsigned(plain), std::logic_error);
}

TEST(Tsig, AppendRecordLimits) {
    std::vector<uint8_t> tiny(5, 0);
    EXPECT_THROW(tsig_session(test_key()).sign(tiny, t0), dns::wire_error);
    auto w = query_wire();
    w[10] = w[11] = 0xFF;
    EXPECT_THROW(tsig_session(test_key()).sign(w, t0), dns::wire_error);
}
