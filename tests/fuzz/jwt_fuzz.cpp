// libFuzzer target for auth/: the token verifier (cached and uncached), the strict
// JSON parser, base64url and JWKS loading, all on the same input.
//
// An input with exactly one '.' is treated as "header.payload" and signed with the
// fuzzer's known HMAC secret first, so HS* inputs get past the signature and the
// fuzzer reaches the claims checks too (a signing oracle; real attackers have none).
//
// Build (see docs/security.md): clang++-14 -fsanitize=fuzzer,address,undefined.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "auth/base64url.hpp"
#include "auth/key_set.hpp"
#include "auth/signature.hpp"
#include "auth/strict_json.hpp"
#include "auth/verifier.hpp"

namespace {

using namespace gatehouse::auth;

class FixedClock final : public Clock {
 public:
  SteadyTime steady_now() const override { return SteadyTime(std::chrono::seconds(1'000)); }
  SystemTime system_now() const override {
    return SystemTime(std::chrono::seconds(1'800'000'000));
  }
};

const std::string kSecret = "fuzz-secret-fuzz-secret-fuzz-secret!";

struct State {
  std::unique_ptr<Verifier> uncached;
  std::unique_ptr<Verifier> cached;
};

// One key of every type with kids k0..k4 (as from a JWKS), plus the HMAC secret.
// Both verifiers share the same key objects, so their answers must agree.
KeySet make_keys() {
  static EVP_PKEY* const generated[] = {
      EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048}),
      EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"),
      EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"),
      EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-521"),
      EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")};
  KeySet keys;
  std::string error;
  keys.add_hmac_secret(kSecret, error);
  int n = 0;
  for (EVP_PKEY* k : generated) {
    EVP_PKEY_up_ref(k);
    keys.add_public_key(detail::PkeyPtr(k), "k" + std::to_string(n++), "", error);
  }
  return keys;
}

State& state() {
  static State s = [] {
    gatehouse::config::Jwt jwt;
    jwt.algorithms = {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256",
                      "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"};
    jwt.issuer = "iss";
    jwt.audience = "aud";
    auto clock = std::make_shared<FixedClock>();
    State st;
    st.uncached = std::make_unique<Verifier>(jwt, make_keys(), clock, 0);
    st.cached = std::make_unique<Verifier>(jwt, make_keys(), clock, 64);
    return st;
  }();
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  State& s = state();

  std::string token(input);
  if (input.find('.') != std::string_view::npos &&
      input.find('.') == input.rfind('.')) {
    std::string sig;
    // The header names the alg; sign with the HS size the fuzzer picks by byte 0.
    const Alg alg = size > 0 && data[0] % 3 == 1 ? Alg::HS384
                    : size > 0 && data[0] % 3 == 2 ? Alg::HS512 : Alg::HS256;
    if (sign_hmac(alg, kSecret, input, sig)) token += "." + base64url_encode(sig);
  }
  const auto a = s.uncached->verify(token);
  const auto b = s.cached->verify(token);
  const auto c = s.cached->verify(token);  // a cache hit when b passed
  if (a.error != b.error || b.error != c.error) __builtin_trap();
  if (a.ok() && (!a.token || a.token->exp <= 0)) __builtin_trap();

  boost::json::value v;
  (void)parse_strict_json(input, v);
  std::string bytes;
  if (base64url_decode(input, bytes) && base64url_encode(bytes) != input) __builtin_trap();

  if (size < 4096) {
    KeySet keys;
    std::string error;
    (void)keys.add_jwks(input, error);
  }
  return 0;
}
