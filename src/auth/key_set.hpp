// auth/: the verification keys, built from auth.jwt. The key for a token always comes
// from here: jku, x5u, jwk and x5c headers are never followed.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/algorithm.hpp"
#include "auth/openssl_util.hpp"
#include "config/config.hpp"

namespace gatehouse::auth {

enum class KeyType { hmac, rsa, rsa_pss, ec_p256, ec_p384, ec_p521, ed25519 };

// What each key type may verify: RSA -> RS*/PS*, an RSA-PSS key -> PS*, P-256 -> ES256,
// P-384 -> ES384, P-521 -> ES512, Ed25519 -> EdDSA, the HMAC secret -> HS*.
AlgSet algorithms_for(KeyType type);
std::string_view key_type_name(KeyType type);

// The type of a public or private EVP_PKEY; nullopt (with `error`) for unsupported
// types, curves, and RSA keys under 2048 bits.
std::optional<KeyType> classify_key(const EVP_PKEY* key, std::string& error);

struct Key {
  KeyType type = KeyType::hmac;
  std::string kid;              // "" = the key has no kid (HMAC secret, PEM keys)
  AlgSet algorithms;            // its type's algorithms, narrowed by a JWKS "alg"
  std::string secret;           // HMAC only
  detail::PkeyPtr pkey;         // everything else
  std::array<detail::MacCtxPtr, 3> hmac;  // keyed HS256/384/512 contexts, copied per use
};

enum class KeySelection {
  ok,
  unknown_kid,       // the token names a kid no configured key has
  kid_alg_mismatch,  // the named key may not verify the token's alg
  no_key,            // no key may verify this alg
  ambiguous,         // no kid, and more than one key may verify this alg
};

inline constexpr std::size_t kMinHmacSecret = 32;
inline constexpr int kMinRsaBits = 2048;

class KeySet {
 public:
  KeySet() = default;
  KeySet(KeySet&&) noexcept = default;
  KeySet& operator=(KeySet&&) noexcept = default;

  // The HMAC secret (when set) plus the keys of public_key_file or jwks_file.
  static std::optional<KeySet> from_config(const config::Jwt& jwt, std::string& error);

  bool add_hmac_secret(std::string_view secret, std::string& error);
  // Every PUBLIC KEY block; a PEM holding a private key is refused.
  bool add_pem(std::string_view pem, std::string& error);
  // {"keys": [...]}: RSA (n, e), EC (crv P-256/384/521, x, y), OKP (crv Ed25519, x).
  // Keys with "use" other than "sig" are skipped; "d" (private material), "oct" keys,
  // duplicate kids and duplicate JSON members are errors.
  bool add_jwks(std::string_view json, std::string& error);
  // `alg` "" = every algorithm the key's type allows.
  bool add_public_key(detail::PkeyPtr key, std::string kid, std::string_view alg,
                      std::string& error);

  // A kid selects among keys that carry kids; an unknown kid is refused when any key
  // carries one (a JWKS). Without a usable kid, exactly one key must fit `alg`.
  const Key* select(Alg alg, std::optional<std::string_view> kid, KeySelection& why) const;

  const std::vector<Key>& keys() const { return keys_; }
  bool empty() const { return keys_.empty(); }

 private:
  std::vector<Key> keys_;
  bool any_kid_ = false;
};

}  // namespace gatehouse::auth
