#include "test_support.hpp"

#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>

#include "auth/base64url.hpp"
#include "auth/signature.hpp"

namespace gatehouse::auth::testing {

TempDir::TempDir() {
  std::random_device rd;
  path_ = std::filesystem::temp_directory_path() /
          ("gh-auth-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, std::string_view content) const {
  const auto p = path_ / name;
  std::ofstream out(p, std::ios::binary);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  return p.string();
}

std::string fixture(const std::string& name) {
  return std::string(GATEHOUSE_FIXTURES) + "/auth/" + name;
}

EVP_PKEY* test_key(const std::string& name) {
  static std::mutex mu;
  static std::map<std::string, detail::PkeyPtr> keys;
  std::lock_guard lock(mu);
  auto& slot = keys[name];
  if (!slot) {
    EVP_PKEY* k = nullptr;
    if (name == "rsa" || name == "rsa2") k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048});
    else if (name == "ec256") k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    else if (name == "ec384") k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
    else if (name == "ec521") k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-521");
    else if (name == "ed25519") k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    if (!k) throw std::runtime_error("cannot generate test key " + name);
    slot.reset(k);
  }
  return slot.get();
}

namespace {
std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}
std::string bn_b64(const EVP_PKEY* key, const char* param) {
  BIGNUM* bn = nullptr;
  EVP_PKEY_get_bn_param(key, param, &bn);
  std::string bytes(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(bytes.data()));
  BN_free(bn);
  return base64url_encode(bytes);
}
}  // namespace

std::string private_pem(EVP_PKEY* key) {
  detail::BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return bio_text(bio.get());
}

std::string public_pem(EVP_PKEY* key) {
  detail::BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(bio.get(), key);
  return bio_text(bio.get());
}

std::string public_jwk(EVP_PKEY* key, const std::string& kid, const std::string& alg) {
  boost::json::object jwk;
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
      jwk["kty"] = "RSA";
      jwk["n"] = bn_b64(key, OSSL_PKEY_PARAM_RSA_N);
      jwk["e"] = bn_b64(key, OSSL_PKEY_PARAM_RSA_E);
      break;
    case EVP_PKEY_EC: {
      char group[32] = {};
      std::size_t len = 0;
      EVP_PKEY_get_group_name(key, group, sizeof group, &len);
      const std::string g(group);
      const std::size_t size = g == "prime256v1" ? 32 : g == "secp384r1" ? 48 : 66;
      unsigned char point[1 + 2 * 66];
      std::size_t plen = 0;
      EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &plen);
      jwk["kty"] = "EC";
      jwk["crv"] = size == 32 ? "P-256" : size == 48 ? "P-384" : "P-521";
      jwk["x"] = base64url_encode(std::string_view(reinterpret_cast<char*>(point) + 1, size));
      jwk["y"] = base64url_encode(std::string_view(reinterpret_cast<char*>(point) + 1 + size, size));
      break;
    }
    case EVP_PKEY_ED25519: {
      unsigned char raw[32];
      std::size_t len = sizeof raw;
      EVP_PKEY_get_raw_public_key(key, raw, &len);
      jwk["kty"] = "OKP";
      jwk["crv"] = "Ed25519";
      jwk["x"] = base64url_encode(std::string_view(reinterpret_cast<char*>(raw), len));
      break;
    }
    default: throw std::runtime_error("public_jwk: unsupported key");
  }
  if (!kid.empty()) jwk["kid"] = kid;
  if (!alg.empty()) jwk["alg"] = alg;
  return boost::json::serialize(jwk);
}

std::string signing_input(std::string_view header, std::string_view payload) {
  return base64url_encode(header) + "." + base64url_encode(payload);
}

std::string make_token(std::string_view header, std::string_view payload, std::string_view alg_text,
                       EVP_PKEY* key, std::string_view secret) {
  const auto alg = alg_from_name(alg_text);
  if (!alg) throw std::runtime_error("make_token: unknown alg");
  std::string input = signing_input(header, payload);
  std::string sig, error;
  const bool ok = alg_family(*alg) == AlgFamily::hmac ? sign_hmac(*alg, secret, input, sig)
                                                      : sign_with_key(*alg, key, input, sig, error);
  if (!ok) throw std::runtime_error("make_token: " + error);
  return input + "." + base64url_encode(sig);
}

std::string header_json(std::string_view alg, std::string_view extra) {
  std::string h = "{\"alg\":\"" + std::string(alg) + "\"";
  if (!extra.empty()) {
    h += ',';
    h += extra;
  }
  return h + "}";
}

std::string claims_json(std::string_view extra, std::int64_t exp) {
  std::string c = "{\"exp\":" + std::to_string(exp);
  if (!extra.empty()) {
    c += ',';
    c += extra;
  }
  return c + "}";
}

config::Jwt jwt_config(std::vector<std::string> algorithms) {
  config::Jwt jwt;
  for (const auto& a : algorithms) {
    if (a.rfind("HS", 0) == 0) jwt.hmac_secret = kSecret;
  }
  jwt.algorithms = std::move(algorithms);
  jwt.leeway = std::chrono::seconds(30);
  return jwt;
}

Harness make_verifier(const config::Jwt& jwt, std::size_t cache_capacity) {
  Harness h;
  h.verifier = Verifier::create(jwt, h.clock, h.error, cache_capacity);
  return h;
}

}  // namespace gatehouse::auth::testing
