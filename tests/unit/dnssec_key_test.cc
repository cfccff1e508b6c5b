// DNSSEC keys: known answers from the RFCs (key tags, DS digests, signatures), generation
// and sign/verify for every algorithm, BIND key files in and out, CDS/CDNSKEY.
#include "dnssec/key.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "dns/error.h"
#include "dns/rr.h"
#include "dns/text.h"
#include "dnssec/ds.h"
#include "dnssec/keyfile.h"
#include "test_util.h"

using hsync::test::hex;

using namespace hsync;
using namespace hsync::dnssec;

namespace {

std::vector<uint8_t> b64(std::string_view s) {
    std::vector<uint8_t> out;
    dns::parse_base64(s, out);
    return out;
}

std::vector<uint8_t> bytes(std::string_view s) {
    return {s.begin(), s.end()};
}

dns::name N(const char* s) {
    return dns::name::from_text(s);
}

// The data an RRSIG signs (RFC 4034 §3.1.8.1) for a single-record RRset: RRSIG RDATA
// without the signature, then the record in canonical form with the original TTL.
std::vector<uint8_t> signed_data(const dns::rr& rrsig, const dns::rr& record) {
    // RRSIG RDATA: 18 fixed octets, the signer's name, the signature.
    std::vector<uint8_t> out(rrsig.rdata.begin(), rrsig.rdata.begin() + 18);
    size_t pos = 18;
    while (rrsig.rdata[pos] != 0)
        pos += rrsig.rdata[pos] + 1;
    out.insert(out.end(), rrsig.rdata.begin() + 18, rrsig.rdata.begin() + pos + 1);
    dns::rr r = record;
    r.canonicalize();
    auto owner = r.owner.wire();
    out.insert(out.end(), owner.begin(), owner.end());
    uint32_t original_ttl = static_cast<uint32_t>(rrsig.rdata[4]) << 24 | rrsig.rdata[5] << 16 |
                            rrsig.rdata[6] << 8 | rrsig.rdata[7];
    for (uint8_t b :
         {uint8_t(r.type >> 8), uint8_t(r.type), uint8_t(r.rclass >> 8), uint8_t(r.rclass),
          uint8_t(original_ttl >> 24), uint8_t(original_ttl >> 16), uint8_t(original_ttl >> 8),
          uint8_t(original_ttl), uint8_t(r.rdata.size() >> 8), uint8_t(r.rdata.size())})
        out.push_back(b);
    out.insert(out.end(), r.rdata.begin(), r.rdata.end());
    return out;
}

std::vector<uint8_t> signature_of(const dns::rr& rrsig) {
    size_t pos = 18;
    while (rrsig.rdata[pos] != 0)
        pos += rrsig.rdata[pos] + 1;
    return {rrsig.rdata.begin() + pos + 1, rrsig.rdata.end()};
}

// RFC 4034 §5.4 (and RFC 4509 §2.3, same key).
const char* rfc4034_dnskey =
    "dskey.example.com. 86400 IN DNSKEY 256 3 5 AQOeiiR0GOMYkDshWoSKz9Xz"
    "fwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvx"
    "egXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/r"
    "ljwvFw==";

TEST(DnssecKey, Rfc4034KeyTagAndDigests) {
    dns::rr r = dns::rr::from_text(rfc4034_dnskey);
    EXPECT_EQ(key_tag(r.rdata), 60485);
    key k = key::from_rr(r);
    EXPECT_EQ(k.tag(), 60485);
    EXPECT_EQ(k.flags(), 256);
    EXPECT_FALSE(k.is_sep());
    // RFC 4034 §5.4: SHA-1.
    EXPECT_EQ(hex(ds_digest(r.owner, r.rdata, digest_type::SHA1)),
              "2bb183af5f22588179a53b0a98631fad1a292118");
    // RFC 4509 §2.3: SHA-256.
    EXPECT_EQ(hex(ds_digest(r.owner, r.rdata, digest_type::SHA256)),
              "d4b7d520e7bb5f0f67674a0cceb1e3e0614b93c4f9e99b8383f6a1e4469da50a");
    // The owner is hashed in canonical (lower-case) form.
    EXPECT_EQ(ds_digest(N("DSKEY.Example.COM."), r.rdata, digest_type::SHA256),
              ds_digest(r.owner, r.rdata, digest_type::SHA256));
    dns::rr ds = dns::rr::from_text(
        "dskey.example.com. 86400 IN DS 60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118");
    EXPECT_EQ(ds_rdata(r.owner, r.rdata, digest_type::SHA1), ds.rdata);
    EXPECT_TRUE(ds_matches(ds.rdata, r.owner, r.rdata));
    ds.rdata.back() ^= 1;
    EXPECT_FALSE(ds_matches(ds.rdata, r.owner, r.rdata));
    // Algorithm 5 is not one we sign or verify with: tag and digest still work, verify says so.
    EXPECT_THROW(k.verify(bytes("x"), bytes("y")), dnssec_error);
    EXPECT_THROW(ds_digest(r.owner, r.rdata, 3), dnssec_error);
}

TEST(DnssecKey, KeyTagRsaMd5UsesModulusBits) {
    // RFC 4034 Appendix B.1: the tag is the second-to-last two octets of the modulus.
    std::vector<uint8_t> rdata{0x01, 0x00, 3, 1, 1, 3, 0xaa, 0xbb, 0xcc, 0x12, 0x34, 0x56};
    EXPECT_EQ(key_tag(rdata), 0x1234);
}

// RFC 6605 §6.1 (P-256) and §6.2 (P-384): key, DS, and a signature to verify (ECDSA
// signatures are randomized, so ours cannot be compared byte for byte).
struct ecdsa_vector {
    uint8_t alg;
    const char* priv;
    const char* dnskey;
    const char* ds;
    const char* rrsig;
};
const ecdsa_vector rfc6605[] = {
    {13, "GU6SnQ/Ou+xC5RumuIUIuJZteXT2z0O/ok1s38Et6mQ=",
     "example.net. 3600 IN DNSKEY 257 3 13 GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edb"
     "krSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==",
     "example.net. 3600 IN DS 55648 13 2 b4c8c1fe2e7477127b27115656ad6256f424625bf5c1"
     "e2770ce6d6e37df61d17",
     "www.example.net. 3600 IN RRSIG A 13 3 3600 20100909100439 20100812100439 55648 "
     "example.net. qx6wLYqmh+l9oCKTN6qIc+bw6ya+KJ8oMz0YP107epXA"
     "yGmt+3SNruPFKG7tZoLBLlUzGGus7ZwmwWep666VCw=="},
    {14, "WURgWHCcYIYUPWgeLmiPY2DJJk02vgrmTfitxgqcL4vwW7BOrbawVmVe0d9V94SR",
     "example.net. 3600 IN DNSKEY 257 3 14 "
     "xKYaNhWdGOfJ+nPrL8/arkwf2EY3MDJ+SErKivBVSum1w/egsXvSADtNJ"
     "hyem5RCOpgQ6K8X1DRSEkrbYQ+OB+v8/uX45NBwY8rp65F6Glur8I/mlVNgF6W/qTI37m40",
     "example.net. 3600 IN DS 10771 14 4 72d7b62976ce06438e9c0bf319013cf801f09ecc84b8d7e9"
     "495f27e305c6a9b0563a9b5f4d288405c3008a946df983d6",
     "www.example.net. 3600 IN RRSIG A 14 3 3600 20100909102025 20100812102025 10771 "
     "example.net. /L5hDKIvGDyI1fcARX3z65qrmPsVz73QD1Mr5CEqOiLP95hxQouuroGCeZOvzFaxsT8Glr74"
     "hbavRKayJNuydCuzWTSSPdz7wnqXL5bdcJzusdnI0RSMROxxwGipWcJm"},
};

TEST(DnssecKey, Rfc6605Ecdsa) {
    dns::rr a = dns::rr::from_text("www.example.net. 3600 IN A 192.0.2.1");
    for (const auto& v : rfc6605) {
        SCOPED_TRACE(int(v.alg));
        dns::rr dnskey = dns::rr::from_text(v.dnskey);
        dns::rr ds = dns::rr::from_text(v.ds);
        dns::rr rrsig = dns::rr::from_text(v.rrsig);
        key pub = key::from_rr(dnskey);
        EXPECT_EQ(pub.tag(), v.alg == 13 ? 55648 : 10771);
        EXPECT_EQ(ds_rdata(dnskey.owner, dnskey.rdata, ds.rdata[3]), ds.rdata);

        // The private key derives exactly the published public key.
        auto s = software_signer::from_private_bytes(v.alg, b64(v.priv));
        EXPECT_EQ(s->public_key(),
                  std::vector<uint8_t>(pub.public_key().begin(), pub.public_key().end()));
        EXPECT_EQ(s->private_bytes(), b64(v.priv));

        auto data = signed_data(rrsig, a);
        auto sig = signature_of(rrsig);
        EXPECT_EQ(sig.size(), v.alg == 13 ? 64u : 96u);
        EXPECT_TRUE(pub.verify(data, sig));
        auto bad = sig;
        bad[5] ^= 0x40;
        EXPECT_FALSE(pub.verify(data, bad));
        data.back() ^= 1;
        EXPECT_FALSE(pub.verify(data, sig));
        data.back() ^= 1;

        // Our signature with their key: r||s of fixed width, verified by the public key.
        key k = key::from_signer(dnskey.owner, 257, std::move(s));
        EXPECT_EQ(k.rdata(), dnskey.rdata);
        auto ours = k.sign(data);
        EXPECT_EQ(ours.size(), sig.size());
        EXPECT_TRUE(pub.verify(data, ours));
    }
}

// RFC 8080 §6 (signatures as corrected by erratum 4935): EdDSA is deterministic, so our
// signature must equal the published bytes.
struct eddsa_vector {
    uint8_t alg;
    const char* priv;
    const char* pub;
    uint16_t tag;
    const char* sig;
};
const eddsa_vector rfc8080[] = {
    {15, "ODIyNjAzODQ2MjgwODAxMjI2NDUxOTAyMDQxNDIyNjI=",
     "l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=", 3613,
     "oL9krJun7xfBOIWcGHi7mag5/hdZrKWw15jPGrHpjQeRAvTdszaPD+QLs3fx8A4M3e23mRZ9VrbpMngwcrqNAg=="},
    {16, "xZ+5Cgm463xugtkY5B0Jx6erFTXp13rYegst0qRtNsOYnaVpMx0Z/c5EiA9x8wWbDDct/U3FhYWA",
     "3kgROaDjrh0H2iuixWBrc8g2EpBBLCdGzHmn+G2MpTPhpj/OiBVHHSfPodx1FYYUcJKm1MDpJtIA", 9713,
     "3cPAHkmlnxcDHMyg7vFC34l0blBhuG1qpwLmjInI8w1CMB29FkEAIJUA0amxWndkmnBZ6SKiwZSAxGILn/"
     "NBtOXft0+Gj7FSvOKxE/07+4RQvE581N3Aj/JtIyaiYVdnYtyMWbSNyGEY2213WKsJlwEA"},
};

TEST(DnssecKey, Rfc8080EdDsaDeterministic) {
    dns::rr mx = dns::rr::from_text("example.com. 3600 IN MX 10 mail.example.com.");
    for (const auto& v : rfc8080) {
        SCOPED_TRACE(int(v.alg));
        key k = key::from_signer(N("example.com."), 257,
                                 software_signer::from_private_bytes(v.alg, b64(v.priv)));
        EXPECT_EQ(std::vector<uint8_t>(k.public_key().begin(), k.public_key().end()), b64(v.pub));
        EXPECT_EQ(k.tag(), v.tag);
        dns::rr rrsig = dns::rr::from_text(
            "example.com. 3600 IN RRSIG MX " + std::to_string(v.alg) +
            " 2 3600 1440021600 1438207200 " + std::to_string(v.tag) + " example.com. " + v.sig);
        auto data = signed_data(rrsig, mx);
        if (v.alg == 15) {  // RRSIG fields + canonical MX, as other implementations compute it
            EXPECT_EQ(hex(data),
                      "000f0f0200000e1055d4fc6055b94ce00e1d076578616d706c6503636f6d00076578616d70"
                      "6c6503636f6d00000f000100000e100014000a046d61696c076578616d706c6503636f6d"
                      "00");
        }
        EXPECT_EQ(k.sign(data), b64(v.sig));
        EXPECT_TRUE(k.verify(data, b64(v.sig)));
    }
    // RFC 8080 §6.1: DS of the Ed25519 key.
    key k = key::from_signer(N("example.com."), 257,
                             software_signer::from_private_bytes(15, b64(rfc8080[0].priv)));
    dns::rr ds = dns::rr::from_text(
        "example.com. 3600 IN DS 3613 15 2 "
        "3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304b");
    EXPECT_EQ(make_ds(k, digest_type::SHA256, 3600).rdata, ds.rdata);
}

TEST(DnssecKey, GenerateSignVerifyEveryAlgorithm) {
    struct {
        uint8_t alg;
        size_t key_size, sig_size;
    } cases[] = {{8, 0, 128},  {10, 0, 256}, {13, 64, 64},
                 {14, 96, 96}, {15, 32, 64}, {16, 57, 114}};
    for (const auto& c : cases) {
        SCOPED_TRACE(int(c.alg));
        // RSA at 1024 bits keeps the test quick; the default is 2048.
        key k = key::generate(N("Example."), c.alg, key_role::zsk, c.alg == 8 ? 1024 : 2048);
        EXPECT_EQ(k.algorithm(), c.alg);
        EXPECT_EQ(k.flags(), 256);
        EXPECT_EQ(k.protocol(), 3);
        EXPECT_EQ(k.rr_type(), dns::rr_type::DNSKEY);
        if (c.key_size) {
            EXPECT_EQ(k.public_key().size(), c.key_size);
        }
        auto data = bytes("the data an RRSIG covers");
        auto sig = k.sign(data);
        EXPECT_EQ(sig.size(), c.sig_size);
        EXPECT_TRUE(k.verify(data, sig));
        // A verifier built only from the DNSKEY RDATA agrees.
        key pub = key::from_rdata(k.owner(), k.rdata());
        EXPECT_FALSE(pub.has_private());
        EXPECT_EQ(pub.tag(), k.tag());
        EXPECT_TRUE(pub.verify(data, sig));
        EXPECT_THROW(pub.sign(data), dnssec_error);
        auto bad = sig;
        bad[bad.size() / 2] ^= 1;
        EXPECT_FALSE(pub.verify(data, bad));
        EXPECT_FALSE(pub.verify(data, std::span(sig).first(sig.size() - 1)));
        EXPECT_FALSE(pub.verify(data, {}));
        data[0] ^= 1;
        EXPECT_FALSE(pub.verify(data, sig));
    }
}

TEST(DnssecKey, RsaPublicKeyFieldRfc3110) {
    key k = key::generate(N("example."), algorithm::RSASHA256, key_role::ksk, 1024);
    auto f = k.public_key();
    ASSERT_GE(f.size(), 4u);
    EXPECT_EQ(f[0], 3);  // exponent length: 65537 is 3 octets
    EXPECT_EQ(hex(f.subspan(1, 3)), "010001");
    EXPECT_EQ(f.size(), 4u + 128);
    EXPECT_EQ(k.flags(), 257);
    EXPECT_TRUE(k.is_sep());
}

TEST(DnssecKey, RolesAndFlags) {
    EXPECT_EQ(role_flags(key_role::zsk), 256);
    EXPECT_EQ(role_flags(key_role::ksk), 257);
    EXPECT_EQ(role_flags(key_role::csk), 257);
    EXPECT_EQ(role_flags(key_role::sig0), 512);
    key sig0 = key::generate(N("agent.example."), algorithm::ED25519, key_role::sig0);
    EXPECT_EQ(sig0.rr_type(), dns::rr_type::KEY);
    EXPECT_EQ(sig0.flags(), 512);
    EXPECT_EQ(sig0.protocol(), 3);
    EXPECT_EQ(sig0.to_rr(300).type, dns::rr_type::KEY);
    EXPECT_THROW(key::generate(N("example."), 7, key_role::zsk), dnssec_error);
    EXPECT_THROW(key::generate(N("example."), 8, key_role::zsk, 512), dnssec_error);
    EXPECT_THROW(key::generate(N("example."), 8, key_role::zsk, 8192), dnssec_error);
}

TEST(DnssecKey, BadPublicKeysAreRefused) {
    // Wrong lengths.
    EXPECT_THROW(verifier(13, std::vector<uint8_t>(63, 1)), dnssec_error);
    EXPECT_THROW(verifier(15, std::vector<uint8_t>(31, 1)), dnssec_error);
    EXPECT_THROW(verifier(16, std::vector<uint8_t>(32, 1)), dnssec_error);
    // A P-256 "point" that is not on the curve.
    std::vector<uint8_t> off_curve(64, 0);
    off_curve[31] = 1;
    off_curve[63] = 1;
    EXPECT_THROW(verifier(13, off_curve), dnssec_error);
    // RSA: truncated, bad exponent length, tiny modulus, even exponent.
    EXPECT_THROW(verifier(8, std::vector<uint8_t>{}), dnssec_error);
    EXPECT_THROW(verifier(8, std::vector<uint8_t>{0, 1}), dnssec_error);
    EXPECT_THROW(verifier(8, std::vector<uint8_t>{9, 1, 0, 1}), dnssec_error);
    std::vector<uint8_t> small{3, 1, 0, 1};
    small.resize(4 + 32, 0xff);
    EXPECT_THROW(verifier(8, small), dnssec_error);
    std::vector<uint8_t> even{1, 2};
    even.resize(2 + 128, 0xff);
    EXPECT_THROW(verifier(8, even), dnssec_error);
    // A DNSKEY with such a key still has a tag; it just cannot verify.
    std::vector<uint8_t> rdata{1, 0, 3, 13};
    rdata.insert(rdata.end(), off_curve.begin(), off_curve.end());
    key k = key::from_rdata(N("example."), rdata);
    EXPECT_EQ(k.tag(), key_tag(rdata));
    EXPECT_THROW(k.verify(bytes("a"), std::vector<uint8_t>(64)), dnssec_error);
    EXPECT_THROW(key::from_rdata(N("example."), std::vector<uint8_t>{1, 0, 3}), dns::wire_error);
    // Bad private keys.
    EXPECT_THROW(software_signer::from_private_bytes(13, std::vector<uint8_t>(32, 0)),
                 dnssec_error);
    EXPECT_THROW(software_signer::from_private_bytes(13, std::vector<uint8_t>(32, 0xff)),
                 dnssec_error);
    EXPECT_THROW(software_signer::from_private_bytes(15, std::vector<uint8_t>(31, 1)),
                 dnssec_error);
    EXPECT_THROW(software_signer::from_private_bytes(13, std::vector<uint8_t>(33, 1)),
                 dnssec_error);
    EXPECT_THROW(software_signer::from_private_bytes(13, std::vector<uint8_t>{}), dnssec_error);
    // BIND writes an ECDSA private key without its leading zero octets (1 key in 256 has
    // one): the shorter integer is the same key.
    std::vector<uint8_t> padded(32, 0x5a);
    padded[0] = 0;
    std::vector<uint8_t> stripped(padded.begin() + 1, padded.end());
    EXPECT_EQ(software_signer::from_private_bytes(13, stripped)->public_key(),
              software_signer::from_private_bytes(13, padded)->public_key());
}

TEST(DnssecDs, CdsCdnskeyAndDelete) {
    key k = key::generate(N("example."), algorithm::ECDSAP256SHA256, key_role::ksk);
    dns::rr cds = make_cds(k, digest_type::SHA256, 3600);
    EXPECT_EQ(cds.type, dns::rr_type::CDS);
    EXPECT_EQ(cds.rdata.size(), 4u + 32);
    EXPECT_TRUE(ds_matches(cds.rdata, k.owner(), k.rdata()));
    dns::rr ds384 = make_ds(k, digest_type::SHA384, 3600);
    EXPECT_EQ(ds384.type, dns::rr_type::DS);
    EXPECT_EQ(ds384.rdata.size(), 4u + 48);
    EXPECT_TRUE(ds_matches(ds384.rdata, k.owner(), k.rdata()));
    EXPECT_FALSE(ds_matches(ds384.rdata, N("other."), k.rdata()));
    dns::rr cdnskey = make_cdnskey(k, 3600);
    EXPECT_EQ(cdnskey.type, dns::rr_type::CDNSKEY);
    EXPECT_EQ(cdnskey.rdata, k.rdata());
    // RFC 8078 §4.
    dns::rr del_cds = dns::rr::from_text("example. 0 IN CDS 0 0 0 00");
    dns::rr del_cdnskey = dns::rr::from_text("example. 0 IN CDNSKEY 0 3 0 AA==");
    EXPECT_EQ(make_cds_delete(N("example."), 0).rdata, del_cds.rdata);
    EXPECT_EQ(make_cdnskey_delete(N("example."), 0).rdata, del_cdnskey.rdata);
    EXPECT_TRUE(is_cds_delete(del_cds.rdata));
    EXPECT_TRUE(is_cdnskey_delete(del_cdnskey.rdata));
    EXPECT_FALSE(is_cds_delete(cds.rdata));
    EXPECT_FALSE(is_cdnskey_delete(cdnskey.rdata));
}

// Files as dnssec-keygen (BIND 9.18) wrote them.
const char* bind_ecdsa_key =
    "; This is a zone-signing key, keyid 50595, for example.\n"
    "; Created: 20261128101929 (Sat Nov 28 10:19:29 2026)\n"
    "; Publish: 20261128101929 (Sat Nov 28 10:19:29 2026)\n"
    "; Activate: 20261128101929 (Sat Nov 28 10:19:29 2026)\n"
    "example. IN DNSKEY 256 3 13 kZkgOhlXa2hpC9lWV4CaDHo5VzDRKE+5FTib0ll9bLAHLX/wUk0KOz2j "
    "jDhtMI5FVhKfl54vQU55o/es8KINfQ==\n";
const char* bind_ecdsa_private =
    "Private-key-format: v1.3\n"
    "Algorithm: 13 (ECDSAP256SHA256)\n"
    "PrivateKey: RGJFTqUeuPw3Ph80R/MAwMEohSTjLyuJVUUUeNUb0e4=\n"
    "Created: 20261128101929\n"
    "Publish: 20261128101929\n"
    "Activate: 20261128101929\n";
const char* bind_sig0_key =
    "agent.example. IN KEY 512 3 13 fzWAuHhVZoRdEK/SKcFC2/GBDLgoECgxwbBShIngBd1QCa+BKB5Y4zNe "
    "wbcfZ/t1clxFDT9ObXl9z+88+cWIsg==\n";
const char* bind_sig0_private =
    "Private-key-format: v1.3\n"
    "Algorithm: 13 (ECDSAP256SHA256)\n"
    "PrivateKey: rn33kEoqeQVdVsogTxFeMERKQvfRXlOPl++kr4AC8hQ=\n"
    "Created: 20261128101929\n";

TEST(DnssecKeyFile, ReadsBindFiles) {
    key k = parse_key_pair(bind_ecdsa_key, bind_ecdsa_private);
    EXPECT_EQ(k.tag(), 50595);
    EXPECT_EQ(key_file_base(k), "Kexample.+013+50595");
    EXPECT_EQ(k.flags(), 256);
    EXPECT_FALSE(k.ttl.has_value());
    ASSERT_TRUE(k.timing.created.has_value());
    EXPECT_EQ(format_key_time(*k.timing.created), "20261128101929");
    EXPECT_TRUE(k.timing.activate.has_value());
    EXPECT_FALSE(k.timing.inactive.has_value());
    auto sig = k.sign(bytes("data"));
    EXPECT_TRUE(key::from_rdata(k.owner(), k.rdata()).verify(bytes("data"), sig));

    key s = parse_key_pair(bind_sig0_key, bind_sig0_private);
    EXPECT_EQ(s.tag(), 13304);
    EXPECT_EQ(s.rr_type(), dns::rr_type::KEY);
    EXPECT_EQ(s.flags(), 512);

    // A TTL on the record line is kept; parentheses may spread the record.
    key t = parse_public_key_file(
        "ttl.example. 300 IN DNSKEY 257 3 13 ( "
        "ygw6Ley2US8qgAETLGZ7GQ+3MTbjroEqKEabkQBGBs3ordTnJ6Pj\n"
        "  JvRoabfPy/0c0sBs4KRn8UrdowCl7HO0GQ== ) ; comment\n");
    ASSERT_TRUE(t.ttl.has_value());
    EXPECT_EQ(*t.ttl, 300u);
    EXPECT_EQ(t.tag(), 53637);
}

TEST(DnssecKeyFile, RoundTripEveryAlgorithm) {
    for (uint8_t alg : {8, 10, 13, 14, 15, 16}) {
        SCOPED_TRACE(int(alg));
        key k = key::generate(N("example."), alg, key_role::csk, 1024);
        k.timing.created = k.timing.publish = 1700000000;
        k.timing.sync_publish = 1700003600;
        k.ttl = 3600;
        std::string pub = format_public_key_file(k);
        std::string priv = format_private_key_file(k);
        EXPECT_NE(priv.find("Private-key-format: v1.3\n"), std::string::npos);
        EXPECT_NE(priv.find("Algorithm: " + std::to_string(alg) + " (" + algorithm_name(alg) + ")"),
                  std::string::npos);
        EXPECT_NE(priv.find("SyncPublish: 20231114231320\n"), std::string::npos);
        key back = parse_key_pair(pub, priv);
        EXPECT_EQ(back.rdata(), k.rdata());
        EXPECT_EQ(back.tag(), k.tag());
        EXPECT_EQ(back.owner(), k.owner());
        EXPECT_EQ(back.ttl, k.ttl);
        EXPECT_EQ(back.timing.created, k.timing.created);
        EXPECT_EQ(back.timing.sync_publish, k.timing.sync_publish);
        EXPECT_FALSE(back.timing.activate.has_value());
        auto sig = back.sign(bytes("round trip"));
        EXPECT_TRUE(k.verify(bytes("round trip"), sig));
        EXPECT_EQ(format_private_key_file(back), priv);
    }
}

TEST(DnssecKeyFile, WritesAndReadsFiles) {
    auto dir = std::filesystem::temp_directory_path() /
               ("hsync-keyfile-test-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    key k = key::generate(N("example."), algorithm::ED25519, key_role::ksk);
    std::string base = write_key_files(k, dir);
    EXPECT_EQ(base, key_file_base(k));
    auto perms = std::filesystem::status(dir / (base + ".private")).permissions();
    EXPECT_EQ(perms & (std::filesystem::perms::group_all | std::filesystem::perms::others_all),
              std::filesystem::perms::none);
    EXPECT_THROW(write_key_files(k, dir), dnssec_error);  // never overwrites
    for (auto p : {dir / base, dir / (base + ".key"), dir / (base + ".private")}) {
        key back = read_key_files(p);
        EXPECT_TRUE(back.has_private());
        EXPECT_EQ(back.rdata(), k.rdata());
    }
    std::filesystem::remove(dir / (base + ".private"));
    EXPECT_THROW(read_key_files(dir / base), dnssec_error);
    EXPECT_FALSE(read_key_files(dir / base, false).has_private());
    std::filesystem::remove_all(dir);
}

TEST(DnssecKeyFile, RefusesBadFiles) {
    // Private files.
    const char* bad_private[] = {
        "",
        "Algorithm: 13 (ECDSAP256SHA256)\nPrivateKey: "
        "RGJFTqUeuPw3Ph80R/MAwMEohSTjLyuJVUUUeNUb0e4=\n",
        "Private-key-format: v2.0\nAlgorithm: 13\nPrivateKey: "
        "RGJFTqUeuPw3Ph80R/MAwMEohSTjLyuJVUUUeNUb0e4=\n",
        "Private-key-format: v1.3\nPrivateKey: RGJFTqUeuPw3Ph80R/MAwMEohSTjLyuJVUUUeNUb0e4=\n",
        "Private-key-format: v1.3\nAlgorithm: 13\n",
        "Private-key-format: v1.3\nAlgorithm: 13\nPrivateKey: not*base64\n",
        "Private-key-format: v1.3\nAlgorithm: 13\nPrivateKey: AAAA\n",
        "Private-key-format: v1.3\nAlgorithm: 7 (NSEC3RSASHA1)\nModulus: AAAA\n",
        "Private-key-format: v1.3\nAlgorithm: 13\nAlgorithm: 13\n",
        "Private-key-format: v1.3\nAlgorithm: 13\nPrivateKey: "
        "RGJFTqUeuPw3Ph80R/MAwMEohSTjLyuJVUUUeNUb0e4=\nCreated: 2026112810192\n",
        "Private-key-format: v1.3\nAlgorithm: 13\nPrivateKey: "
        "RGJFTqUeuPw3Ph80R/MAwMEohSTjLyuJVUUUeNUb0e4=\nCreated: 20261328101929\n",
        "Private-key-format: v1.3\nAlgorithm: 8 (RSASHA256)\nModulus: AQAB\n",
        "Private-key-format: v1.3\nno colon here\n",
    };
    for (const char* text : bad_private) {
        SCOPED_TRACE(text);
        EXPECT_THROW(parse_private_key_file(text), dns::dns_error);
    }
    // Public files.
    const char* bad_public[] = {
        "",
        "; only a comment\n",
        "example. IN A 192.0.2.1\n",
        "example. CH DNSKEY 256 3 13 "
        "kZkgOhlXa2hpC9lWV4CaDHo5VzDRKE+5FTib0ll9bLAHLX/wUk0KOz2jjDhtMI5FVhKfl54vQU55o/"
        "es8KINfQ==\n",
        "example. IN DNSKEY 256 3 13 ( AAAA\n",
        "example. IN DNSKEY 256 3 13 AAAA\nexample. IN DNSKEY 256 3 13 AAAA\n",
        "example. IN DNSKEY 256 3 13 AAAA )\n",
    };
    for (const char* text : bad_public) {
        SCOPED_TRACE(text);
        EXPECT_THROW(parse_public_key_file(text), dns::dns_error);
    }
    // The halves of two different keys.
    key other = key::generate(N("example."), algorithm::ECDSAP256SHA256, key_role::zsk);
    EXPECT_THROW(parse_key_pair(format_public_key_file(other), bind_ecdsa_private), dnssec_error);
    EXPECT_THROW(parse_key_pair(bind_ecdsa_key, bind_sig0_private), dnssec_error);
    // An RSA private key whose parts do not belong together.
    key rsa = key::generate(N("example."), algorithm::RSASHA256, key_role::zsk, 1024);
    std::string priv = format_private_key_file(rsa);
    auto pos = priv.find("Prime1: ") + 10;
    priv[pos] = priv[pos] == 'A' ? 'B' : 'A';
    EXPECT_THROW(parse_private_key_file(priv), dnssec_error);
}

TEST(DnssecKeyFile, Times) {
    EXPECT_EQ(parse_key_time("19700101000000"), 0);
    EXPECT_EQ(parse_key_time("20231114221320"), 1700000000);
    EXPECT_EQ(format_key_time(1700000000), "20231114221320");
    EXPECT_THROW(parse_key_time("2023111422132"), dns::text_error);
    EXPECT_THROW(parse_key_time("2023111422132x"), dns::text_error);
    EXPECT_THROW(parse_key_time("20230230000000"), dns::text_error);
}

}  // namespace
