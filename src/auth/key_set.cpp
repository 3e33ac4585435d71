#include "auth/key_set.hpp"

#include <openssl/core_names.h>
#include <openssl/pem.h>

#include <fstream>
#include <sstream>

namespace gatehouse::auth {
namespace {

constexpr std::size_t kMaxKeyFile = 1024 * 1024;

EVP_MAC* hmac_mac() {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  return mac;
}

bool read_file(const std::string& path, std::string& out, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot be read";
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  out = std::move(ss).str();
  if (out.size() > kMaxKeyFile) {
    error = path + ": larger than 1 MiB";
    return false;
  }
  return true;
}

}  // namespace

AlgSet algorithms_for(KeyType type) {
  AlgSet s;
  switch (type) {
    case KeyType::hmac: return AlgSet::family(AlgFamily::hmac);
    case KeyType::rsa:
      return AlgSet::family(AlgFamily::rsa_pkcs1) | AlgSet::family(AlgFamily::rsa_pss);
    case KeyType::rsa_pss: return AlgSet::family(AlgFamily::rsa_pss);
    case KeyType::ec_p256: s.add(Alg::ES256); return s;
    case KeyType::ec_p384: s.add(Alg::ES384); return s;
    case KeyType::ec_p521: s.add(Alg::ES512); return s;
    case KeyType::ed25519: s.add(Alg::EdDSA); return s;
  }
  return s;
}

std::string_view key_type_name(KeyType type) {
  switch (type) {
    case KeyType::hmac: return "HMAC secret";
    case KeyType::rsa: return "RSA";
    case KeyType::rsa_pss: return "RSA-PSS";
    case KeyType::ec_p256: return "EC P-256";
    case KeyType::ec_p384: return "EC P-384";
    case KeyType::ec_p521: return "EC P-521";
    case KeyType::ed25519: return "Ed25519";
  }
  return "?";
}

std::optional<KeyType> classify_key(const EVP_PKEY* key, std::string& error) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
    case EVP_PKEY_RSA_PSS: {
      const int bits = EVP_PKEY_get_bits(key);
      if (bits < kMinRsaBits) {
        error = "RSA key of " + std::to_string(bits) + " bits is too small (at least 2048)";
        return std::nullopt;
      }
      return EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA ? KeyType::rsa : KeyType::rsa_pss;
    }
    case EVP_PKEY_EC: {
      char group[64] = {};
      std::size_t len = 0;
      if (EVP_PKEY_get_group_name(key, group, sizeof group, &len) != 1) group[0] = 0;
      const std::string_view g(group);
      if (g == "prime256v1" || g == "P-256") return KeyType::ec_p256;
      if (g == "secp384r1" || g == "P-384") return KeyType::ec_p384;
      if (g == "secp521r1" || g == "P-521") return KeyType::ec_p521;
      error = "unsupported EC curve " + std::string(g);
      return std::nullopt;
    }
    case EVP_PKEY_ED25519: return KeyType::ed25519;
    default: error = "unsupported key type"; return std::nullopt;
  }
}

std::optional<KeySet> KeySet::from_config(const config::Jwt& jwt, std::string& error) {
  KeySet set;
  for (const auto& name : jwt.algorithms) {
    if (!alg_from_name(name)) {
      error = "auth.jwt.algorithms: unsupported algorithm \"" + name + "\"";
      return std::nullopt;
    }
  }
  if (!jwt.hmac_secret.empty() && !set.add_hmac_secret(jwt.hmac_secret, error)) {
    return std::nullopt;
  }
  std::string text;
  if (jwt.public_key_file) {
    if (!read_file(*jwt.public_key_file, text, error)) return std::nullopt;
    if (!set.add_pem(text, error)) {
      error = *jwt.public_key_file + ": " + error;
      return std::nullopt;
    }
  }
  if (jwt.jwks_file) {
    if (!read_file(*jwt.jwks_file, text, error)) return std::nullopt;
    if (!set.add_jwks(text, error)) {
      error = *jwt.jwks_file + ": " + error;
      return std::nullopt;
    }
  }
  return set;
}

bool KeySet::add_hmac_secret(std::string_view secret, std::string& error) {
  if (secret.size() < kMinHmacSecret) {
    error = "the HMAC secret must be at least 32 bytes";
    return false;
  }
  Key key;
  key.type = KeyType::hmac;
  key.algorithms = algorithms_for(KeyType::hmac);
  key.secret.assign(secret);
  static const char* const digests[3] = {"SHA256", "SHA384", "SHA512"};
  for (int i = 0; i < 3; ++i) {
    detail::MacCtxPtr ctx(EVP_MAC_CTX_new(hmac_mac()));
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digests[i]), 0),
        OSSL_PARAM_construct_end()};
    if (!ctx || EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(secret.data()),
                             secret.size(), params) != 1) {
      detail::clear_openssl_errors();
      error = "cannot set up HMAC";
      return false;
    }
    key.hmac[i] = std::move(ctx);
  }
  keys_.push_back(std::move(key));
  return true;
}

bool KeySet::add_pem(std::string_view pem, std::string& error) {
  if (pem.find("PRIVATE KEY-----") != std::string_view::npos) {
    error = "holds a private key; give the public key only";
    return false;
  }
  detail::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) {
    error = "out of memory";
    return false;
  }
  int count = 0;
  for (;; ++count) {
    detail::PkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
    if (!key) break;
    if (!add_public_key(std::move(key), "", "", error)) {
      error = "key " + std::to_string(count + 1) + ": " + error;
      return false;
    }
  }
  detail::clear_openssl_errors();  // the read that ended the loop left one behind
  if (count == 0) {
    error = "holds no PEM public key (-----BEGIN PUBLIC KEY-----)";
    return false;
  }
  return true;
}

bool KeySet::add_public_key(detail::PkeyPtr pkey, std::string kid, std::string_view alg,
                            std::string& error) {
  const auto type = classify_key(pkey.get(), error);
  if (!type) return false;
  Key key;
  key.type = *type;
  key.algorithms = algorithms_for(*type);
  if (!alg.empty()) {
    const auto a = alg_from_name(alg);
    if (!a || !key.algorithms.contains(*a)) {
      error = "\"alg\" " + std::string(alg) + " does not fit a " +
              std::string(key_type_name(*type)) + " key";
      return false;
    }
    key.algorithms = AlgSet();
    key.algorithms.add(*a);
  }
  if (!kid.empty()) {
    for (const auto& k : keys_) {
      if (k.kid == kid) {
        error = "duplicate \"kid\" \"" + kid + "\"";
        return false;
      }
    }
    any_kid_ = true;
  }
  key.kid = std::move(kid);
  key.pkey = std::move(pkey);
  keys_.push_back(std::move(key));
  return true;
}

const Key* KeySet::select(Alg alg, std::optional<std::string_view> kid,
                          KeySelection& why) const {
  if (kid && any_kid_) {
    for (const auto& k : keys_) {
      if (k.kid == *kid) {
        if (!k.algorithms.contains(alg)) {
          why = KeySelection::kid_alg_mismatch;
          return nullptr;
        }
        why = KeySelection::ok;
        return &k;
      }
    }
    why = KeySelection::unknown_kid;
    return nullptr;
  }
  // No kid, or no configured key has one (HMAC secret and PEM keys): the kid cannot
  // select, so exactly one key must fit the algorithm.
  const Key* found = nullptr;
  for (const auto& k : keys_) {
    if (!k.algorithms.contains(alg)) continue;
    if (found) {
      why = KeySelection::ambiguous;
      return nullptr;
    }
    found = &k;
  }
  why = found ? KeySelection::ok : KeySelection::no_key;
  return found;
}

}  // namespace gatehouse::auth
