#include "auth/mint.hpp"

#include <openssl/pem.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <sstream>

#include "auth/base64url.hpp"
#include "auth/key_set.hpp"
#include "auth/signature.hpp"

namespace gatehouse::auth {
namespace {

Alg default_alg(KeyType type) {
  switch (type) {
    case KeyType::rsa: return Alg::RS256;
    case KeyType::rsa_pss: return Alg::PS256;
    case KeyType::ec_p256: return Alg::ES256;
    case KeyType::ec_p384: return Alg::ES384;
    case KeyType::ec_p521: return Alg::ES512;
    case KeyType::ed25519: return Alg::EdDSA;
    case KeyType::hmac: return Alg::HS256;
  }
  return Alg::HS256;
}

detail::PkeyPtr load_private_key(const MintOptions& o, std::string& error) {
  std::string pem = o.key_pem;
  if (pem.empty()) {
    std::ifstream in(o.key_file, std::ios::binary);
    if (!in) {
      error = o.key_file + ": cannot be read";
      return nullptr;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    pem = std::move(ss).str();
  }
  detail::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  // A null passphrase callback with a null password makes encrypted keys fail cleanly
  // instead of prompting on the terminal.
  static const auto no_password = [](char*, int, int, void*) { return 0; };
  detail::PkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr)
                          : nullptr);
  if (!key) {
    detail::clear_openssl_errors();
    error = (o.key_file.empty() ? std::string("key") : o.key_file) +
            ": holds no unencrypted PEM private key";
  }
  return key;
}

}  // namespace

bool mint_token(const MintOptions& o, std::string& out, std::string& error) {
  const bool with_secret = o.hmac_secret.has_value();
  const bool with_key = !o.key_file.empty() || !o.key_pem.empty();
  if (with_secret == with_key) {
    error = "give either an HMAC secret or a private key file";
    return false;
  }
  if (o.ttl.count() <= 0) {
    error = "ttl must be positive";
    return false;
  }
  std::optional<Alg> alg;
  if (!o.alg.empty()) {
    alg = alg_from_name(o.alg);
    if (!alg) {
      error = "unsupported algorithm \"" + o.alg + "\"";
      return false;
    }
  }

  detail::PkeyPtr key;
  if (with_secret) {
    if (!alg) alg = Alg::HS256;
    if (alg_family(*alg) != AlgFamily::hmac) {
      error = std::string(alg_name(*alg)) + " needs a private key, not an HMAC secret";
      return false;
    }
    if (o.hmac_secret->size() < kMinHmacSecret) {
      error = "the HMAC secret must be at least 32 bytes";
      return false;
    }
  } else {
    key = load_private_key(o, error);
    if (!key) return false;
    const auto type = classify_key(key.get(), error);
    if (!type) return false;
    if (!alg) alg = default_alg(*type);
    if (!algorithms_for(*type).contains(*alg)) {
      error = std::string(alg_name(*alg)) + " does not fit a " +
              std::string(key_type_name(*type)) + " key";
      return false;
    }
  }

  boost::json::object header;
  header["alg"] = alg_name(*alg);
  header["typ"] = "JWT";
  if (!o.kid.empty()) header["kid"] = o.kid;

  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       o.now.value_or(std::chrono::system_clock::now()).time_since_epoch())
                       .count();
  boost::json::object claims;
  if (!o.iss.empty()) claims["iss"] = o.iss;
  if (!o.sub.empty()) claims["sub"] = o.sub;
  if (!o.aud.empty()) claims["aud"] = o.aud;
  if (!o.scope.empty()) claims["scope"] = o.scope;
  claims["iat"] = now;
  claims["exp"] = now + o.ttl.count();

  std::string token = base64url_encode(boost::json::serialize(header));
  token += '.';
  base64url_encode_append(boost::json::serialize(claims), token);
  std::string sig;
  if (with_secret ? !sign_hmac(*alg, *o.hmac_secret, token, sig)
                  : !sign_with_key(*alg, key.get(), token, sig, error)) {
    if (error.empty()) error = "signing failed";
    return false;
  }
  token += '.';
  base64url_encode_append(sig, token);
  out = std::move(token);
  return true;
}

}  // namespace gatehouse::auth
