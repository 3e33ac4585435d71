// auth/: minting tokens for `gatehouse token` (operators and tests).
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace gatehouse::auth {

struct MintOptions {
  // "" = HS256 with a secret; with a key, inferred from it (RSA -> RS256, RSA-PSS ->
  // PS256, P-256/384/521 -> ES256/384/512, Ed25519 -> EdDSA).
  std::string alg;
  std::optional<std::string> hmac_secret;  // raw bytes (--secret-env), at least 32
  std::string key_file;                    // private key PEM path (--key-file)
  std::string key_pem;                     // or the PEM text itself
  std::string kid;                         // header; "" = omitted
  std::string sub, scope, aud, iss;        // claims; "" = omitted; scope space-separated
  std::chrono::seconds ttl{3600};          // exp = iat + ttl
  std::optional<std::chrono::system_clock::time_point> now;  // default: the system clock
};

// Writes a compact JWS to `out`, or returns false with a one-line `error`.
bool mint_token(const MintOptions& options, std::string& out, std::string& error);

}  // namespace gatehouse::auth
