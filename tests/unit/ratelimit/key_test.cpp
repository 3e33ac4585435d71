// Key extraction (SPEC 14 `key`).
#include <gtest/gtest.h>

#include <vector>

#include "auth/base64url.hpp"
#include "ratelimit/key.hpp"

namespace gatehouse::ratelimit {
namespace {

std::string key(std::string_view spec, std::vector<http::Field> fields, std::string_view ip = "10.1.2.3") {
  std::string scratch = "stale";
  return std::string(key_of(KeySpec::parse(spec), ip, fields, scratch));
}

TEST(Key, ClientIpIsThePeerNeverXForwardedFor) {
  EXPECT_EQ(key("client_ip", {{"X-Forwarded-For", "1.1.1.1"}}), "10.1.2.3");
}

TEST(Key, HeaderIsMatchedCaseInsensitively) {
  EXPECT_EQ(key("header:X-User-Id", {{"x-user-id", "alice"}}), "alice");
  EXPECT_EQ(key("header:X-User-Id", {{"X-Other", "alice"}}), "") << "absent: the empty key";
}

TEST(Key, EndpointIsOneBucket) { EXPECT_EQ(key("endpoint", {{"X-User", "a"}}), ""); }

TEST(Key, JwtClaimFromTheBearerToken) {
  const auto token = [](std::string_view claims) {
    return "Bearer " + auth::base64url_encode(R"({"alg":"HS256"})") + "." +
           auth::base64url_encode(claims) + ".c2ln";
  };
  EXPECT_EQ(key("jwt_claim:sub", {{"Authorization", token(R"({"sub":"alice","n":1})")}}), "alice");
  EXPECT_EQ(key("jwt_claim:n", {{"Authorization", token(R"({"sub":"alice","n":12})")}}), "12");
  EXPECT_EQ(key("jwt_claim:tenant", {{"Authorization", token(R"({"sub":"alice"})")}}), "");
  EXPECT_EQ(key("jwt_claim:sub", {}), "");
}

}  // namespace
}  // namespace gatehouse::ratelimit
