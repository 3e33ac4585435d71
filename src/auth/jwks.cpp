// KeySet::add_jwks: JWK public keys (RFC 7517, RFC 7518 section 6, RFC 8037) to EVP_PKEYs.
#include <openssl/core_names.h>

#include <bit>

#include "auth/base64url.hpp"
#include "auth/key_set.hpp"
#include "auth/strict_json.hpp"

namespace gatehouse::auth {
namespace {

using detail::PkeyPtr;

// Builds a public key of `type_name` from `params`, then has OpenSSL check it
// (an EC point on its curve, a sane RSA modulus and exponent).
PkeyPtr from_params(const char* type_name, detail::ParamBldPtr& bld, std::string& error) {
  detail::ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  detail::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type_name, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    detail::clear_openssl_errors();
    error = "is not a valid public key";
    return nullptr;
  }
  PkeyPtr key(raw);
  detail::PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    detail::clear_openssl_errors();
    error = "is not a valid public key";
    return nullptr;
  }
  return key;
}

PkeyPtr rsa_key(const std::string& n, const std::string& e, std::string& error) {
  // Size first, so a small key gets that message rather than a generic one.
  std::size_t lead = 0;
  while (lead < n.size() && n[lead] == 0) ++lead;
  const int bits = lead == n.size()
                       ? 0
                       : static_cast<int>((n.size() - lead - 1) * 8 +
                                          std::bit_width(static_cast<unsigned char>(n[lead])));
  if (bits < kMinRsaBits) {
    error = "RSA key of " + std::to_string(bits) + " bits is too small (at least 2048)";
    return nullptr;
  }
  detail::BnPtr bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()),
                               static_cast<int>(n.size()), nullptr));
  detail::BnPtr bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()),
                               static_cast<int>(e.size()), nullptr));
  detail::ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    error = "out of memory";
    return nullptr;
  }
  return from_params("RSA", bld, error);
}

PkeyPtr ec_key(const char* group, const std::string& x, const std::string& y,
               std::string& error) {
  std::string point(1, '\x04');  // uncompressed SEC1 point
  point += x;
  point += y;
  detail::ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    error = "out of memory";
    return nullptr;
  }
  return from_params("EC", bld, error);
}

// One JWK: returns false with `error` on a bad key; sets `skip` for non-signing keys.
bool parse_jwk(const boost::json::object& jwk, PkeyPtr& key, std::string& kid,
               std::string& alg, bool& skip, std::string& error) {
  auto member = [&](const char* name, std::string& out) -> int {  // 0 absent, 1 ok, -1 bad
    const auto* v = jwk.if_contains(name);
    if (!v) return 0;
    if (!v->is_string()) {
      error = std::string("\"") + name + "\" must be a string";
      return -1;
    }
    out.assign(v->as_string().data(), v->as_string().size());
    return 1;
  };
  auto b64 = [&](const char* name, std::string& out) -> bool {
    std::string text;
    const int r = member(name, text);
    if (r == 0) error = std::string("missing \"") + name + "\"";
    if (r != 1) return false;
    if (!base64url_decode(text, out) || out.empty()) {
      error = std::string("\"") + name + "\" is not base64url";
      return false;
    }
    return true;
  };

  error.clear();
  std::string use, kty;
  if (member("use", use) < 0 || member("kid", kid) < 0 || member("alg", alg) < 0) return false;
  if (!use.empty() && use != "sig") {
    skip = true;
    return true;
  }
  if (jwk.contains("d")) {
    error = "holds private key material (\"d\"); publish public keys only";
    return false;
  }
  if (member("kty", kty) != 1) {
    if (error.empty()) error = "missing \"kty\"";
    return false;
  }
  if (kty == "RSA") {
    std::string n, e;
    if (!b64("n", n) || !b64("e", e)) return false;
    key = rsa_key(n, e, error);
  } else if (kty == "EC") {
    std::string crv, x, y;
    if (member("crv", crv) < 0) return false;
    std::size_t size = 0;
    const char* group = nullptr;
    if (crv == "P-256") size = 32, group = "P-256";
    else if (crv == "P-384") size = 48, group = "P-384";
    else if (crv == "P-521") size = 66, group = "P-521";
    else {
      error = "unsupported EC \"crv\" \"" + crv + "\"";
      return false;
    }
    if (!b64("x", x) || !b64("y", y)) return false;
    if (x.size() != size || y.size() != size) {  // RFC 7518 6.2.1.2: full length
      error = "\"x\"/\"y\" do not fit curve " + crv;
      return false;
    }
    key = ec_key(group, x, y, error);
  } else if (kty == "OKP") {
    std::string crv, x;
    if (member("crv", crv) < 0) return false;
    if (crv != "Ed25519") {
      error = "unsupported OKP \"crv\" \"" + crv + "\" (only Ed25519)";
      return false;
    }
    if (!b64("x", x)) return false;
    if (x.size() != 32) {
      error = "\"x\" is not an Ed25519 public key";
      return false;
    }
    key.reset(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                          reinterpret_cast<const unsigned char*>(x.data()),
                                          x.size()));
    if (!key) {
      detail::clear_openssl_errors();
      error = "is not a valid Ed25519 public key";
    }
  } else if (kty == "oct") {
    error = "symmetric keys (kty \"oct\") are not accepted; use hmac_secret_env or hmac_secret_file";
    return false;
  } else {
    error = "unsupported \"kty\" \"" + kty + "\"";
    return false;
  }
  return key != nullptr;
}

}  // namespace

bool KeySet::add_jwks(std::string_view json, std::string& error) {
  boost::json::value doc;
  const auto parsed = parse_strict_json(json, doc);
  if (parsed.error == JsonError::duplicate_member) {
    error = "duplicate JSON member \"" + parsed.detail + "\"";
    return false;
  }
  if (parsed.error != JsonError::ok) {
    error = "is not valid JSON: " + parsed.detail;
    return false;
  }
  const auto* obj = doc.if_object();
  const auto* list = obj ? obj->if_contains("keys") : nullptr;
  if (!list || !list->is_array()) {
    error = "must be a JWKS document: {\"keys\": [...]}";
    return false;
  }
  std::size_t i = 0;
  for (const auto& entry : list->as_array()) {
    const std::string where = "keys[" + std::to_string(i++) + "]: ";
    if (!entry.is_object()) {
      error = where + "must be an object";
      return false;
    }
    PkeyPtr key;
    std::string kid, alg;
    bool skip = false;
    if (!parse_jwk(entry.as_object(), key, kid, alg, skip, error) ||
        (!skip && !add_public_key(std::move(key), std::move(kid), alg, error))) {
      error = where + error;
      return false;
    }
  }
  return true;
}

}  // namespace gatehouse::auth
