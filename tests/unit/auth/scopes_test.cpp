// Scope extraction (string or array, configurable claim) and the checks routes make.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "auth/scopes.hpp"
#include "test_support.hpp"

namespace gatehouse::auth {
namespace {

using namespace testing;
using Scopes = std::vector<std::string>;

std::optional<Scopes> extract(const char* json, std::string_view claim = "scope") {
  const auto v = boost::json::parse(json);
  Scopes out;
  if (!extract_scopes(v.as_object(), claim, out)) return std::nullopt;
  return out;
}

TEST(Scopes, SpaceSeparatedString) {
  EXPECT_EQ(extract(R"({"scope":"gatehouse:stats gatehouse:admin"})"),
            (Scopes{"gatehouse:stats", "gatehouse:admin"}));
  EXPECT_EQ(extract(R"({"scope":"  a   b "})"), (Scopes{"a", "b"}));
  EXPECT_EQ(extract(R"({"scope":""})"), Scopes{});
}

TEST(Scopes, ArrayOfStrings) {
  EXPECT_EQ(extract(R"({"scp":["orders:read","orders:write"]})", "scp"),
            (Scopes{"orders:read", "orders:write"}));
  EXPECT_EQ(extract(R"({"scope":[]})"), Scopes{});
}

TEST(Scopes, AbsentOrWrongType) {
  EXPECT_EQ(extract(R"({"sub":"x"})"), Scopes{});
  EXPECT_EQ(extract(R"({"scope":["a",1]})"), std::nullopt);
  EXPECT_EQ(extract(R"({"scope":{"a":true}})"), std::nullopt);
  EXPECT_EQ(extract(R"({"scope":7})"), std::nullopt);
  // Only the configured claim counts.
  EXPECT_EQ(extract(R"({"scope":"a"})", "scp"), Scopes{});
}

TEST(Scopes, RequiredChecks) {
  const Scopes granted{"gatehouse:stats", "orders:read"};
  EXPECT_TRUE(has_scope(granted, "gatehouse:stats"));
  EXPECT_FALSE(has_scope(granted, "gatehouse:admin"));
  EXPECT_FALSE(has_scope(granted, "gatehouse"));  // whole scopes, not prefixes
  EXPECT_TRUE(has_scope(granted, ""));            // "" = no scope needed
  EXPECT_EQ(first_missing_scope(granted, {"orders:read", "orders:write"}), "orders:write");
  EXPECT_EQ(first_missing_scope(granted, {"orders:read", "gatehouse:stats"}), std::nullopt);
  EXPECT_EQ(first_missing_scope(granted, {}), std::nullopt);
}

TEST(Scopes, ThroughTheVerifierWithAConfiguredClaimName) {
  auto jwt = jwt_config({"HS256"});
  jwt.scope_claim = "scp";
  auto h = make_verifier(jwt);
  const auto ok = h.verifier->verify(
      make_token(header_json("HS256"), claims_json("\"scp\":[\"a\",\"b\"],\"scope\":\"c\""), "HS256"));
  ASSERT_TRUE(ok.ok()) << ok.reason;
  EXPECT_EQ(ok.token->scopes, (Scopes{"a", "b"}));
  EXPECT_EQ(h.verifier->verify(make_token(header_json("HS256"), claims_json("\"scp\":5"), "HS256")).error,
            VerifyError::bad_claims);
}

}  // namespace
}  // namespace gatehouse::auth
