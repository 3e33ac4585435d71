// Certificates made at test time (no fixture that expires): self-signed RSA or ECDSA
// leaves with the DNS names and validity a test asks for, optionally signed by a CA.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace gatehouse::testing {

enum class KeyType { rsa, ec };

struct TestCert {
  std::string cert_pem;
  std::string key_pem;
  std::shared_ptr<EVP_PKEY> key;
  std::shared_ptr<X509> cert;
};

inline std::string to_pem(X509* x) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, x);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

inline std::string to_pem(EVP_PKEY* k) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, k, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

// `dns`: subjectAltName DNS names (none: no extension). Validity from `from` to `to`
// seconds relative to now. `issuer`: signed by it (else self-signed).
inline TestCert make_cert(KeyType type, const std::vector<std::string>& dns,
                          long from = -3600, long to = 30L * 24 * 3600,
                          const std::string& cn = "gatehouse unit test",
                          const TestCert* issuer = nullptr, bool ca = false) {
  EVP_PKEY* key = type == KeyType::rsa ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048})
                                       : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (!key) throw std::runtime_error("keygen failed");
  X509* x = X509_new();
  X509_set_version(x, 2);
  static long serial = 1;
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), from);
  X509_gmtime_adj(X509_getm_notAfter(x), to);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer->cert.get()) : name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, issuer ? issuer->cert.get() : x, x, nullptr, nullptr, 0);
  const auto add = [&](int nid, const std::string& value) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
    if (!ext) throw std::runtime_error("extension failed");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  };
  if (!dns.empty()) {
    std::string san;
    for (const auto& d : dns) san += (san.empty() ? "DNS:" : ",DNS:") + d;
    add(NID_subject_alt_name, san);
  }
  add(NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
  if (!X509_sign(x, issuer ? issuer->key.get() : key, EVP_sha256()))
    throw std::runtime_error("sign failed");
  TestCert out;
  out.cert_pem = to_pem(x);
  out.key_pem = to_pem(key);
  out.key.reset(key, EVP_PKEY_free);
  out.cert.reset(x, X509_free);
  return out;
}

}  // namespace gatehouse::testing
