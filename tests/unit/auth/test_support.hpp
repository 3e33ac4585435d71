// Helpers for the auth/ tests: a settable clock, temp files, keys generated at run
// time, and hand-made tokens (so attacks can be built byte by byte).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/clock.hpp"
#include "auth/openssl_util.hpp"
#include "auth/verifier.hpp"
#include "config/config.hpp"

namespace gatehouse::auth::testing {

inline constexpr std::int64_t kNow = 1'800'000'000;  // 2027-01-15

// Wall-clock time only (JWT times are wall-clock), set in whole seconds.
class TestClock final : public Clock {
 public:
  explicit TestClock(std::int64_t seconds = kNow) { set(seconds); }
  SteadyTime steady_now() const override { return SteadyTime(t_.time_since_epoch()); }
  SystemTime system_now() const override { return t_; }
  void set(std::int64_t seconds) { t_ = std::chrono::system_clock::time_point(std::chrono::seconds(seconds)); }
  void advance(std::int64_t seconds) { t_ += std::chrono::seconds(seconds); }

 private:
  std::chrono::system_clock::time_point t_;
};

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string write(const std::string& name, std::string_view content) const;

 private:
  std::filesystem::path path_;
};

std::string fixture(const std::string& name);  // tests/fixtures/auth/<name>

// Keys generated once per process: "rsa", "rsa2", "ec256", "ec384", "ec521", "ed25519".
EVP_PKEY* test_key(const std::string& name);
std::string private_pem(EVP_PKEY* key);
std::string public_pem(EVP_PKEY* key);
// The public JWK of `key` as JSON text; kid/alg omitted when "".
std::string public_jwk(EVP_PKEY* key, const std::string& kid = "", const std::string& alg = "");

inline const std::string kSecret = "0123456789abcdef0123456789abcdef-test-secret";

// base64url(header) "." base64url(payload), unsigned.
std::string signing_input(std::string_view header_json, std::string_view payload_json);
// A signed token: HS* with `secret`, anything else with `key` (ES* as R||S).
std::string make_token(std::string_view header_json, std::string_view payload_json,
                       std::string_view alg, EVP_PKEY* key = nullptr,
                       std::string_view secret = kSecret);
// {"alg":"<alg>"} and {"exp": kNow + 600} with optional extra members.
std::string header_json(std::string_view alg, std::string_view extra = "");
std::string claims_json(std::string_view extra = "", std::int64_t exp = kNow + 600);

// auth.jwt with the given allow-list and the test HMAC secret (when an HS* is listed).
config::Jwt jwt_config(std::vector<std::string> algorithms);

struct Harness {
  std::shared_ptr<TestClock> clock = std::make_shared<TestClock>();
  std::unique_ptr<Verifier> verifier;
  std::string error;
};
// An uncached verifier for `jwt` (cache_capacity 0 unless given).
Harness make_verifier(const config::Jwt& jwt, std::size_t cache_capacity = 0);

}  // namespace gatehouse::auth::testing
