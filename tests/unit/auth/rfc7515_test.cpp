// RFC 7515 Appendix A: the specification's own examples, byte for byte.
#include <gtest/gtest.h>

#include "auth/base64url.hpp"
#include "test_support.hpp"

namespace gatehouse::auth {
namespace {

using testing::fixture;
using testing::make_verifier;

// All four examples carry exp 1300819380 (2011-03-22T18:43:00Z).
constexpr std::int64_t kBeforeExp = 1300819000;
constexpr std::int64_t kAfterExp = 1300819380 + 31;  // past exp + 30 s leeway

constexpr const char* kA1 =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
constexpr const char* kA1Key =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";

constexpr const char* kA2 =
    "eyJhbGciOiJSUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5j"
    "ujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07"
    "Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipU"
    "TI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";

constexpr const char* kA3 =
    "eyJhbGciOiJFUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

constexpr const char* kA5 =
    "eyJhbGciOiJub25lIn0"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    ".";

config::Jwt a1_config() {
  config::Jwt jwt;
  jwt.algorithms = {"HS256"};
  jwt.hmac_secret = *base64url_decode(kA1Key);
  return jwt;
}

TEST(Rfc7515, A1Hs256) {
  auto h = make_verifier(a1_config());
  ASSERT_TRUE(h.verifier) << h.error;
  h.clock->set(kBeforeExp);
  const auto r = h.verifier->verify(kA1);
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(r.token->alg, "HS256");
  EXPECT_EQ(r.token->exp, 1300819380);

  h.clock->set(kAfterExp);
  EXPECT_EQ(h.verifier->verify(kA1).error, VerifyError::expired);
}

TEST(Rfc7515, A1TamperedSignatureRejected) {
  auto h = make_verifier(a1_config());
  h.clock->set(kBeforeExp);
  std::string token = kA1;
  token.back() = token.back() == 'k' ? 'A' : 'k';
  EXPECT_NE(h.verifier->verify(token).error, VerifyError::ok);
}

TEST(Rfc7515, A2Rs256WithTheRfcJwk) {
  config::Jwt jwt;
  jwt.algorithms = {"RS256"};
  jwt.jwks_file = fixture("rfc7515_a2.jwks.json");
  auto h = make_verifier(jwt);
  ASSERT_TRUE(h.verifier) << h.error;
  h.clock->set(kBeforeExp);
  const auto r = h.verifier->verify(kA2);
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(r.token->alg, "RS256");

  // One changed payload byte breaks it.
  std::string tampered = kA2;
  tampered[25] = tampered[25] == 'A' ? 'B' : 'A';
  EXPECT_EQ(h.verifier->verify(tampered).error, VerifyError::signature_mismatch);
}

TEST(Rfc7515, A3Es256WithTheRfcJwk) {
  config::Jwt jwt;
  jwt.algorithms = {"ES256"};
  jwt.jwks_file = fixture("rfc7515_a3.jwks.json");
  auto h = make_verifier(jwt);
  ASSERT_TRUE(h.verifier) << h.error;
  h.clock->set(kBeforeExp);
  const auto r = h.verifier->verify(kA3);
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(r.token->alg, "ES256");

  std::string tampered = kA3;
  tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_NE(h.verifier->verify(tampered).error, VerifyError::ok);
}

TEST(Rfc7515, A5UnsecuredRejected) {
  // Even with every algorithm allowed and keys for all of them present.
  auto jwt = a1_config();
  jwt.algorithms = {"HS256", "HS384", "HS512"};
  auto h = make_verifier(jwt);
  ASSERT_TRUE(h.verifier) << h.error;
  h.clock->set(kBeforeExp);
  EXPECT_EQ(h.verifier->verify(kA5).error, VerifyError::alg_none);
}

}  // namespace
}  // namespace gatehouse::auth
