// Verification cost per token (auth/): HS256, RS256, ES256, EdDSA uncached, and a
// cache hit. Keys are generated at start; tokens are minted by auth/ itself.
#include <benchmark/benchmark.h>

#include <openssl/pem.h>

#include <memory>
#include <string>

#include "auth/mint.hpp"
#include "auth/verifier.hpp"

namespace {

using namespace gatehouse::auth;

const std::string kSecret = "bench-secret-bench-secret-bench-secret";

std::string pem_of(EVP_PKEY* key, bool private_key) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (private_key) PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  else PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  return out;
}

struct Setup {
  std::unique_ptr<Verifier> verifier;
  std::string token;
};

// A realistic token: sub, scope, aud, iss, iat, exp; verifier checks iss and aud.
Setup make(const char* alg, EVP_PKEY* key, std::size_t cache_capacity) {
  MintOptions mint;
  mint.alg = alg;
  mint.sub = "service-account-42";
  mint.scope = "gatehouse:stats gatehouse:admin orders:read";
  mint.aud = "gatehouse";
  mint.iss = "https://id.example.com";
  mint.ttl = std::chrono::hours(1);
  gatehouse::config::Jwt jwt;
  jwt.algorithms = {alg};
  jwt.audience = "gatehouse";
  jwt.issuer = "https://id.example.com";
  KeySet keys;
  std::string error;
  if (key) {
    mint.key_pem = pem_of(key, true);
    keys.add_pem(pem_of(key, false), error);
  } else {
    mint.hmac_secret = kSecret;
    keys.add_hmac_secret(kSecret, error);
  }
  Setup s;
  if (!mint_token(mint, s.token, error)) throw std::runtime_error(error);
  s.verifier = std::make_unique<Verifier>(jwt, std::move(keys), real_clock(),
                                          cache_capacity);
  return s;
}

void run(benchmark::State& state, const Setup& s, bool cached) {
  for (auto _ : state) {
    auto r = cached ? s.verifier->verify(s.token) : s.verifier->verify_uncached(s.token);
    if (!r.ok()) {
      state.SkipWithError(r.reason.c_str());
      break;
    }
    benchmark::DoNotOptimize(r);
  }
  state.counters["token_bytes"] = static_cast<double>(s.token.size());
}

void BM_JwtVerify_HS256(benchmark::State& state) {
  static const Setup s = make("HS256", nullptr, 0);
  run(state, s, false);
}
void BM_JwtVerify_RS256(benchmark::State& state) {
  static const Setup s = make("RS256", EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048}), 0);
  run(state, s, false);
}
void BM_JwtVerify_ES256(benchmark::State& state) {
  static const Setup s = make("ES256", EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), 0);
  run(state, s, false);
}
void BM_JwtVerify_EdDSA(benchmark::State& state) {
  static const Setup s = make("EdDSA", EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"), 0);
  run(state, s, false);
}
void BM_JwtVerify_CachedHit_RS256(benchmark::State& state) {
  static const Setup s = make("RS256", EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048}), 10000);
  run(state, s, true);
}

BENCHMARK(BM_JwtVerify_HS256);
BENCHMARK(BM_JwtVerify_RS256);
BENCHMARK(BM_JwtVerify_ES256);
BENCHMARK(BM_JwtVerify_EdDSA);
BENCHMARK(BM_JwtVerify_CachedHit_RS256);
BENCHMARK(BM_JwtVerify_CachedHit_RS256)->Threads(2)->Name("BM_JwtVerify_CachedHit_RS256_2threads");

}  // namespace
