// auth/: JOSE/JWT verification (RFC 7515, 7518, 7519, 8725) for the gateway API and
// `auth_type: jwt` endpoints, key loading, scope checks, a verified-token cache and
// token minting. No exceptions on the verify path: an error code plus a short reason
// for debug logs (never for response bodies). Depends on common/ and config/ only.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/algorithm.hpp"
#include "auth/clock.hpp"
#include "auth/key_set.hpp"
#include "config/config.hpp"

namespace gatehouse::auth {

inline constexpr std::size_t kMaxTokenSize = 8 * 1024;

enum class VerifyError {
  ok,
  too_large,           // over 8 KiB, rejected unparsed
  malformed,           // not three segments (a five-segment JWE included), empty parts
  bad_encoding,        // a segment is not strict base64url
  bad_json,            // header or claims not a JSON object
  duplicate_member,    // a member name repeated in the header or the claims
  bad_header,          // alg missing or not a string, kid not a string, ...
  alg_none,            // "none" in any letter case
  alg_not_allowed,     // not in auth.jwt.algorithms (or unknown)
  crit_unsupported,    // a crit header: we understand no extensions
  unknown_kid,
  no_key,              // no configured key may verify this alg
  ambiguous_key,       // no kid and several keys fit
  key_alg_mismatch,    // the kid names a key bound to other algorithms
  bad_signature,       // wrong length/encoding for the alg, or ECDSA r/s out of range
  signature_mismatch,  // well-formed but wrong
  bad_claims,          // exp missing, a time not a finite number, iss/aud/sub/scope of the wrong type
  expired,
  not_yet_valid,       // nbf in the future
  issued_in_future,    // iat in the future
  wrong_issuer,
  wrong_audience,
};

std::string_view to_string(VerifyError e);

struct VerifiedToken {
  std::string alg;
  std::string kid;
  std::string subject;              // "" when absent
  std::vector<std::string> scopes;  // from auth.jwt.scope_claim
  double exp = 0;
  std::optional<double> nbf;
};

struct VerifyResult {
  VerifyError error = VerifyError::ok;
  std::string reason;  // short, for debug logs only
  std::shared_ptr<const VerifiedToken> token;  // set when ok
  bool ok() const { return error == VerifyError::ok; }
};

class TokenCache;

class Verifier {
 public:
  // Throws nothing; returns nullptr with `error` when the keys cannot be loaded or an
  // algorithm is unknown. `clock` nullptr = the real clock. `cache_capacity` 0 disables
  // the cache.
  static std::unique_ptr<Verifier> create(const config::Jwt& jwt,
                                          std::shared_ptr<const Clock> clock,
                                          std::string& error,
                                          std::size_t cache_capacity = 10000);
  Verifier(const config::Jwt& jwt, KeySet keys, std::shared_ptr<const Clock> clock,
           std::size_t cache_capacity = 10000);
  ~Verifier();
  Verifier(const Verifier&) = delete;
  Verifier& operator=(const Verifier&) = delete;

  // Cache first (exp/nbf re-checked on every hit), then the full check. Thread-safe.
  VerifyResult verify(std::string_view token) const;
  VerifyResult verify_uncached(std::string_view token) const;

  void clear_cache();
  std::size_t cache_size() const;
  const KeySet& keys() const { return keys_; }

 private:
  VerifyResult check_claims(std::string_view payload_b64, Alg alg, std::string_view kid) const;
  VerifyResult check_times(double exp, std::optional<double> nbf, double now) const;

  KeySet keys_;
  AlgSet allowed_;
  std::optional<std::string> issuer_;
  std::optional<std::string> audience_;
  double leeway_ = 0;
  std::string scope_claim_;
  std::shared_ptr<const Clock> clock_;
  std::unique_ptr<TokenCache> cache_;
  // Tells this verifier's entries in the threads' fronts (verifier.cpp) from any other:
  // drawn from a process-wide counter when the verifier is made and again by
  // clear_cache, so no front entry outlives a clear.
  mutable std::atomic<std::uint64_t> generation_;
};

}  // namespace gatehouse::auth
