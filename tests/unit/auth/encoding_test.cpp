// Strict base64url and the duplicate-rejecting JSON parser.
#include <gtest/gtest.h>

#include <random>

#include "auth/base64url.hpp"
#include "auth/strict_json.hpp"

namespace gatehouse::auth {
namespace {

TEST(Base64url, DecodesTheUrlAlphabetWithoutPadding) {
  EXPECT_EQ(base64url_decode(""), "");
  EXPECT_EQ(base64url_decode("Zg"), "f");
  EXPECT_EQ(base64url_decode("Zm8"), "fo");
  EXPECT_EQ(base64url_decode("Zm9v"), "foo");
  EXPECT_EQ(base64url_decode("-_8"), std::string("\xfb\xff", 2));
}

TEST(Base64url, RejectsEverythingElse) {
  for (const char* bad : {"Zg==", "Zg=", "Zm9v=", "+/8", "Zm 9v", "Zm9v\n", "Z", "Zm9vY",
                          "Zh", "Zm9"}) {
    EXPECT_EQ(base64url_decode(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(base64url_decode(std::string_view("Zg\0A", 4)), std::nullopt);
}

TEST(Base64url, RoundTripsRandomBytes) {
  std::mt19937 rng(7);
  for (int len = 0; len < 70; ++len) {
    std::string bytes(static_cast<std::size_t>(len), '\0');
    for (auto& c : bytes) c = static_cast<char>(rng());
    const auto text = base64url_encode(bytes);
    EXPECT_EQ(text.find_first_of("+/="), std::string::npos);
    EXPECT_EQ(base64url_decode(text), bytes);
  }
}

JsonError parse(std::string_view text) {
  boost::json::value v;
  return parse_strict_json(text, v).error;
}

TEST(StrictJson, RejectsDuplicatesAtAnyDepth) {
  EXPECT_EQ(parse(R"({"a":1,"a":1})"), JsonError::duplicate_member);
  EXPECT_EQ(parse(R"({"a":{"b":1,"c":{"d":[1,{"e":1,"e":2}]}}})"), JsonError::duplicate_member);
  EXPECT_EQ(parse(R"({"a":1,"\u0061":2})"), JsonError::duplicate_member);
  EXPECT_EQ(parse(R"({"a":{"x":1},"b":{"x":1},"c":[{"x":1},{"x":2}]})"), JsonError::ok);
  boost::json::value v;
  EXPECT_EQ(parse_strict_json(R"({"kid":"k","kid":"k"})", v).detail, "kid");
}

TEST(StrictJson, Rfc8259Only) {
  EXPECT_EQ(parse(R"({"a":1} )"), JsonError::ok);
  EXPECT_EQ(parse(R"({"a":1} {})"), JsonError::syntax);
  EXPECT_EQ(parse(R"({"a":1,})"), JsonError::syntax);
  EXPECT_EQ(parse(R"({"a":1 /* c */})"), JsonError::syntax);
  EXPECT_EQ(parse("{\"a\":\"\xff\"}"), JsonError::syntax);
  EXPECT_EQ(parse(""), JsonError::syntax);
  EXPECT_EQ(parse(std::string(40, '[') + std::string(40, ']')), JsonError::too_deep);
}

TEST(StrictJson, BuildsTheValue) {
  boost::json::value v;
  ASSERT_EQ(parse_strict_json(R"({"s":"x\u00e9","i":-3,"u":18446744073709551615,"d":1.5,"b":true,"n":null,"a":[1,"2"]})", v).error,
            JsonError::ok);
  const auto& o = v.as_object();
  EXPECT_EQ(o.at("s").as_string(), "x\xc3\xa9");
  EXPECT_EQ(o.at("i").as_int64(), -3);
  EXPECT_EQ(o.at("u").as_uint64(), 18446744073709551615ull);
  EXPECT_EQ(o.at("d").as_double(), 1.5);
  EXPECT_TRUE(o.at("b").as_bool());
  EXPECT_TRUE(o.at("n").is_null());
  EXPECT_EQ(o.at("a").as_array().size(), 2u);
}

}  // namespace
}  // namespace gatehouse::auth
