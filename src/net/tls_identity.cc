#include "net/tls_identity.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace hsync::net {

namespace ossl = dnssec::ossl;

namespace {

using bio_ptr = std::unique_ptr<BIO, ossl::deleter<BIO_free_all>>;
using asn1_integer_ptr = std::unique_ptr<ASN1_INTEGER, ossl::deleter<ASN1_INTEGER_free>>;
using x509_extension_ptr = std::unique_ptr<X509_EXTENSION, ossl::deleter<X509_EXTENSION_free>>;
using general_names_ptr = std::unique_ptr<GENERAL_NAMES, ossl::deleter<GENERAL_NAMES_free>>;

// PEM files of keys and certificates are a few kilobytes; anything far larger is not one.
constexpr size_t max_pem_file_size = 1 << 20;

[[noreturn]] void fail(const std::string& what) {
    throw tls_error(what + ": " + ossl::last_error());
}

// Never prompt for a passphrase on the terminal: an encrypted key file is an error.
int no_passphrase(char*, int, int, void*) {
    return -1;
}

std::string read_small_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw tls_error("cannot open " + path.string() + ": " + std::strerror(errno));
    std::string text;
    char buf[4096];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        text.append(buf, static_cast<size_t>(in.gcount()));
        if (text.size() > max_pem_file_size) throw tls_error(path.string() + ": file is too large");
    }
    if (in.bad()) throw tls_error("cannot read " + path.string());
    return text;
}

bio_ptr memory_bio(std::string_view text) {
    bio_ptr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
    if (!bio) fail("BIO_new_mem_buf");
    return bio;
}

std::string bio_text(BIO* bio) {
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

ossl::pkey_ptr parse_key(std::string_view pem, const std::string& source) {
    if (pem.size() > max_pem_file_size) throw tls_error(source + ": too large for a key");
    auto bio = memory_bio(pem);
    ossl::pkey_ptr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
    if (!key) fail(source + ": no usable PEM private key (an encrypted key is not supported)");
    return key;
}

x509_ptr parse_certificate(std::string_view pem, const std::string& source) {
    if (pem.size() > max_pem_file_size) throw tls_error(source + ": too large for a certificate");
    auto bio = memory_bio(pem);
    x509_ptr cert(PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr));
    if (!cert) fail(source + ": no PEM certificate");
    return cert;
}

// A host name as it may appear in CN and a dNSName: letters, digits, '-', '_', '.', and
// a leading "*." for a wildcard; no trailing dot.
std::string certificate_name(std::string_view dns_name) {
    std::string name(dns_name);
    if (!name.empty() && name.back() == '.') name.pop_back();
    if (name.empty() || name.size() > 253)
        throw tls_error("certificate name '" + std::string(dns_name) + "' is empty or too long");
    for (size_t i = 0; i < name.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(name[i]);
        bool ok = std::isalnum(c) || c == '-' || c == '_' || c == '.' || (c == '*' && i == 0);
        if (!ok)
            throw tls_error("certificate name '" + std::string(dns_name) +
                            "' has a character not allowed in a host name");
    }
    return name;
}

void add_extension(X509* cert, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    x509_extension_ptr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    if (!ext || X509_add_ext(cert, ext.get(), -1) != 1)
        fail(std::string("certificate extension ") + OBJ_nid2sn(nid));
}

void add_dns_alt_name(X509* cert, const std::string& name) {
    general_names_ptr names(sk_GENERAL_NAME_new_null());
    GENERAL_NAME* entry = GENERAL_NAME_new();
    ASN1_IA5STRING* text = ASN1_IA5STRING_new();
    if (!names || !entry || !text ||
        ASN1_STRING_set(text, name.data(), static_cast<int>(name.size())) != 1) {
        GENERAL_NAME_free(entry);
        ASN1_IA5STRING_free(text);
        fail("subjectAltName");
    }
    GENERAL_NAME_set0_value(entry, GEN_DNS, text);  // entry owns text now
    if (sk_GENERAL_NAME_push(names.get(), entry) == 0) {
        GENERAL_NAME_free(entry);
        fail("subjectAltName");
    }
    if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1)
        fail("subjectAltName");
}

// A self-signed X.509 v3 certificate for `key`.
x509_ptr self_signed(EVP_PKEY* key, std::string_view dns_name, std::chrono::seconds validity) {
    std::string name = certificate_name(dns_name);
    x509_ptr cert(X509_new());
    if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) fail("X509_new");

    // RFC 5280 §4.1.2.2: positive, at most 20 octets; random so that two certificates
    // generated for the same name never share issuer and serial.
    std::array<unsigned char, 16> serial_bytes{};
    if (RAND_bytes(serial_bytes.data(), serial_bytes.size()) != 1) fail("RAND_bytes");
    serial_bytes[0] = static_cast<unsigned char>((serial_bytes[0] & 0x7f) | 0x40);
    auto serial_bn = ossl::bn_from_bytes(serial_bytes);
    asn1_integer_ptr serial(BN_to_ASN1_INTEGER(serial_bn.get(), nullptr));
    if (!serial || X509_set_serialNumber(cert.get(), serial.get()) != 1) fail("serial number");

    // An hour back, so a peer whose clock is a little behind does not see it as not yet
    // valid (DANE-EE peers ignore the dates; curl -k and WebPKI tools do not).
    if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(validity.count())))
        fail("validity");

    X509_NAME* subject = X509_get_subject_name(cert.get());
    if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1,
                                   0) != 1 ||
        X509_set_issuer_name(cert.get(), subject) != 1)
        fail("subject name");
    if (X509_set_pubkey(cert.get(), key) != 1) fail("X509_set_pubkey");

    add_extension(cert.get(), NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert.get(), NID_key_usage, "critical,digitalSignature");
    add_extension(cert.get(), NID_ext_key_usage, "serverAuth,clientAuth");
    add_extension(cert.get(), NID_subject_key_identifier, "hash");
    add_dns_alt_name(cert.get(), name);

    if (X509_sign(cert.get(), key, EVP_sha256()) <= 0) fail("X509_sign");
    return cert;
}

void fsync_directory(const std::filesystem::path& dir) {
    int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;  // the rename happened; only its durability is less certain
    ::fsync(fd);
    ::close(fd);
}

// Replaces `path` with `text` so that a reader sees either the old file or the whole
// new one, never a part: write a temporary file beside it, fsync, rename.
void write_atomically(const std::filesystem::path& path, std::string_view text, mode_t mode) {
    std::array<unsigned char, 6> tag{};
    if (RAND_bytes(tag.data(), tag.size()) != 1) fail("RAND_bytes");
    std::filesystem::path temp = path;
    temp += ".tmp-" + to_hex(tag);
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) throw tls_error("cannot create " + temp.string() + ": " + std::strerror(errno));
    auto give_up = [&](const std::string& what) {
        int err = errno;
        ::close(fd);
        ::unlink(temp.c_str());
        throw tls_error(what + " " + temp.string() + ": " + std::strerror(err));
    };
    if (::fchmod(fd, mode) != 0) give_up("cannot set the mode of");  // whatever the umask
    size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) give_up("cannot write");
        done += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0) give_up("cannot sync");
    if (::close(fd) != 0) {
        int err = errno;
        ::unlink(temp.c_str());
        throw tls_error("cannot write " + temp.string() + ": " + std::strerror(err));
    }
    if (::rename(temp.c_str(), path.c_str()) != 0) {
        int err = errno;
        ::unlink(temp.c_str());
        throw tls_error("cannot rename " + temp.string() + " to " + path.string() + ": " +
                        std::strerror(err));
    }
    fsync_directory(path.parent_path());
}

}  // namespace

tls_identity::tls_identity(ossl::pkey_ptr key, x509_ptr cert)
    : key_(std::move(key)), cert_(std::move(cert)) {
    if (X509_check_private_key(cert_.get(), key_.get()) != 1)
        fail("the private key does not belong to the certificate");
    spki_ = net::spki_sha256(cert_.get());
}

tls_identity::tls_identity(const tls_identity& other) : spki_(other.spki_) {
    if (other.key_) {
        EVP_PKEY_up_ref(other.key_.get());
        key_.reset(other.key_.get());
    }
    if (other.cert_) {
        X509_up_ref(other.cert_.get());
        cert_.reset(other.cert_.get());
    }
}

tls_identity& tls_identity::operator=(const tls_identity& other) {
    if (this != &other) *this = tls_identity(other);
    return *this;
}

tls_identity tls_identity::generate(std::string_view dns_name, std::chrono::seconds validity) {
    ossl::pkey_ptr key(EVP_EC_gen("P-256"));
    if (!key) fail("generating an EC P-256 key");
    auto cert = self_signed(key.get(), dns_name, validity);
    return tls_identity(std::move(key), std::move(cert));
}

tls_identity tls_identity::from_pem(std::string_view key_pem, std::string_view cert_pem) {
    return tls_identity(parse_key(key_pem, "private key"),
                        parse_certificate(cert_pem, "certificate"));
}

tls_identity tls_identity::load(const std::filesystem::path& key_file,
                                const std::filesystem::path& cert_file) {
    std::string key_text = read_small_file(key_file);
    auto key = parse_key(key_text, key_file.string());
    OPENSSL_cleanse(key_text.data(), key_text.size());
    auto cert = parse_certificate(read_small_file(cert_file), cert_file.string());
    if (X509_check_private_key(cert.get(), key.get()) != 1)
        fail(key_file.string() + " is not the private key of " + cert_file.string());
    return tls_identity(std::move(key), std::move(cert));
}

tls_identity tls_identity::load_or_generate(const std::filesystem::path& key_file,
                                            const std::filesystem::path& cert_file,
                                            std::string_view dns_name) {
    std::error_code ec;
    bool have_key = std::filesystem::exists(key_file, ec);
    bool have_cert = std::filesystem::exists(cert_file, ec);
    if (have_key && have_cert) return load(key_file, cert_file);
    if (have_cert)
        throw tls_error(cert_file.string() + " exists but its private key " + key_file.string() +
                        " does not");
    if (have_key) {
        // save() writes the key first: a start interrupted between the two files leaves
        // the key alone. A new certificate for the same key keeps the published TLSA valid.
        std::string key_text = read_small_file(key_file);
        auto key = parse_key(key_text, key_file.string());
        OPENSSL_cleanse(key_text.data(), key_text.size());
        auto cert = self_signed(key.get(), dns_name, std::chrono::days(3650));
        tls_identity id(std::move(key), std::move(cert));
        write_atomically(cert_file, id.certificate_pem(), 0644);
        return id;
    }
    auto id = generate(dns_name);
    id.save(key_file, cert_file);
    return id;
}

void tls_identity::save(const std::filesystem::path& key_file,
                        const std::filesystem::path& cert_file) const {
    std::string key_text = key_pem();
    try {
        write_atomically(key_file, key_text, 0600);
    } catch (...) {
        OPENSSL_cleanse(key_text.data(), key_text.size());
        throw;
    }
    OPENSSL_cleanse(key_text.data(), key_text.size());
    write_atomically(cert_file, certificate_pem(), 0644);
}

std::string tls_identity::certificate_pem() const {
    bio_ptr bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_X509(bio.get(), cert_.get()) != 1) fail("PEM_write_bio_X509");
    return bio_text(bio.get());
}

std::string tls_identity::key_pem() const {
    bio_ptr bio(BIO_new(BIO_s_mem()));
    if (!bio ||
        PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
        fail("PEM_write_bio_PrivateKey");
    return bio_text(bio.get());
}

spki_digest spki_sha256(const X509* cert) {
    if (!cert) throw tls_error("no certificate");
    const X509_PUBKEY* spki = X509_get_X509_PUBKEY(cert);
    unsigned char* der = nullptr;
    int n = spki ? i2d_X509_PUBKEY(spki, &der) : -1;
    if (n <= 0) fail("encoding the certificate's SubjectPublicKeyInfo");
    spki_digest out{};
    unsigned int size = 0;
    bool ok =
        EVP_Digest(der, static_cast<size_t>(n), out.data(), &size, EVP_sha256(), nullptr) == 1 &&
        size == out.size();
    OPENSSL_free(der);
    if (!ok) fail("SHA-256");
    return out;
}

std::string to_hex(std::span<const uint8_t> bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (uint8_t b : bytes) {
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 0x0f]);
    }
    return out;
}

}  // namespace hsync::net
