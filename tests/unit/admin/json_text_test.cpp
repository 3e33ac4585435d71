// The JSON text of the gateway's own answers: plain decimals (SPEC section 7's stats
// example) and the 422 reload body (valid UTF-8, at most 1,000 errors, error_count).
#include "admin/json_text.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>
#include <limits>

#include "admin/admin.hpp"
#include "config/utf8.hpp"

namespace gatehouse::admin {
namespace {

namespace json = boost::json;

TEST(JsonText, DoublesArePlainDecimals) {
  EXPECT_EQ(to_json(json::value(0.992)), "0.992");
  EXPECT_EQ(to_json(json::value(8.5)), "8.5");
  EXPECT_EQ(to_json(json::value(1.0)), "1");
  EXPECT_EQ(to_json(json::value(0.0001)), "0.0001");
  EXPECT_EQ(to_json(json::value(1500.25)), "1500.25");
  EXPECT_EQ(to_json(json::value(-2.5)), "-2.5");
  EXPECT_EQ(to_json(json::value(std::nan(""))), "null");
  EXPECT_EQ(to_json(json::value(std::numeric_limits<double>::infinity())), "null");
}

TEST(JsonText, SameDocumentAsBoostJson) {
  const json::value v = json::parse(
      R"({"a":[1,-2,3.25,true,null,"x\"y\n\u0001"],"b":{"c":0.992,"d":18446744073709551615}})");
  const std::string text = to_json(v);
  EXPECT_EQ(json::parse(text), v);
  EXPECT_EQ(text.find('E'), std::string::npos) << text;
  EXPECT_EQ(text,
            R"({"a":[1,-2,3.25,true,null,"x\"y\n\u0001"],"b":{"c":0.992,"d":18446744073709551615}})");
}

TEST(ReloadReply, ErrorListIsCappedWithTheTotalCount) {
  std::vector<config::ConfigError> errors;
  for (int i = 0; i < 1500; ++i) errors.push_back({"k", i + 1, 1, "bad"});
  const Reply r = reload_reply(false, false, 3, {}, errors, "rid");
  EXPECT_EQ(r.status, 422);
  const json::object doc = json::parse(r.body).as_object();
  EXPECT_EQ(doc.at("code"), "invalid_config");
  EXPECT_EQ(doc.at("errors").as_array().size(), 1000u);
  EXPECT_EQ(doc.at("error_count").to_number<std::int64_t>(), 1500);
  EXPECT_EQ(doc.at("errors").as_array()[999].as_object().at("line").to_number<int>(), 1000);
}

TEST(ReloadReply, BodyIsValidUtf8WhateverTheMessagesHold) {
  const std::vector<config::ConfigError> errors = {
      {"a\xff", 1, 2, "cannot read /etc/\xc3(x: gone"}, {"b", 3, 4, "ok \xc3\xa9"}};
  const Reply r = reload_reply(false, false, 1, {}, errors, "rid");
  EXPECT_EQ(config::first_invalid_utf8(r.body), std::nullopt) << r.body;
  const json::object doc = json::parse(r.body).as_object();
  const auto& list = doc.at("errors").as_array();
  EXPECT_EQ(list[0].as_object().at("path"), "a\\xFF");
  EXPECT_EQ(list[0].as_object().at("message"), "cannot read /etc/\\xC3(x: gone");
  EXPECT_EQ(list[1].as_object().at("message"), "ok \xc3\xa9");
  EXPECT_EQ(doc.at("error_count").to_number<int>(), 2);
}

TEST(ReloadReply, ReportListsEveryGroup) {
  config::ConfigDiff d;
  d.added = {"a"};
  d.removed = {"legacy"};
  const Reply r = reload_reply(true, true, 4, d, {}, "rid");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body,
            R"({"result":"applied","config_version":4,"added":["a"],"removed":["legacy"],)"
            R"("updated":[],"unchanged":[],"disabled":[],"restart_required":[]})");
}

}  // namespace
}  // namespace gatehouse::admin
