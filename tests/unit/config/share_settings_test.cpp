// Endpoint settings held by Shared (config/shared_value.hpp): endpoints that set them alike
// hold one object, a file load keeps them shared, and changing one copies it first.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "config/config.hpp"

namespace gatehouse::config {
namespace {

const std::string kText =
    "endpoints:\n"
    "  - { url: http://127.0.0.1:9001/a, name: a, health_check: false }\n"
    "  - { url: http://127.0.0.1:9001/b, name: b, health_check: false }\n"
    "  - { url: http://127.0.0.1:9001/c, name: c, health_check: { path: /up } }\n"
    "  - { url: http://127.0.0.1:9001/d, name: d, health_check: false,\n"
    "      retries: { attempts: 2 } }\n";

void expect_shared_alike(const Config& cfg) {
  const auto& e = cfg.endpoints;
  ASSERT_EQ(e.size(), 4u);
  EXPECT_TRUE(e[0].health_check.same_object(e[1].health_check));
  EXPECT_FALSE(e[1].health_check.same_object(e[2].health_check));
  EXPECT_FALSE(e[0].health_check->enabled);
  EXPECT_EQ(e[2].health_check->path, "/up");
  EXPECT_TRUE(e[2].health_check->enabled);
  EXPECT_FALSE(e[3].health_check->enabled);
  EXPECT_TRUE(e[0].retries.same_object(e[2].retries));
  EXPECT_FALSE(e[0].retries.same_object(e[3].retries));
  EXPECT_EQ(e[3].retries->attempts, 2u);
  EXPECT_EQ(e[0].retries->attempts, 0u);
  EXPECT_TRUE(e[0].circuit_breaker.same_object(e[3].circuit_breaker));
  EXPECT_TRUE(e[0].tls.same_object(e[3].tls));
}

TEST(ShareSettings, EqualSettingsOfEndpointsAreOneObject) {
  auto r = load_from_string(kText, "/tmp/share_settings.yaml");
  ASSERT_TRUE(r.config);
  expect_shared_alike(*r.config);
}

TEST(ShareSettings, AFileLoadKeepsThemShared) {
  const std::string path = ::testing::TempDir() + "share_settings_test.yaml";
  std::ofstream(path) << kText;
  auto r = load_from_file(path);
  std::remove(path.c_str());
  ASSERT_TRUE(r.config);
  expect_shared_alike(*r.config);
}

TEST(ShareSettings, ChangingASharedValueCopiesItFirst) {
  auto r = load_from_string(kText, "/tmp/share_settings.yaml");
  ASSERT_TRUE(r.config);
  Config& cfg = *r.config;
  cfg.endpoints.edit(0).health_check.edit().path = "/changed";
  EXPECT_EQ(cfg.endpoints[0].health_check->path, "/changed");
  EXPECT_EQ(cfg.endpoints[1].health_check->path, "/health");
  EXPECT_FALSE(cfg.endpoints[0].health_check.same_object(cfg.endpoints[1].health_check));
  // Equal values compare equal whether shared or not.
  Shared<HealthCheck> a, b = HealthCheck{};
  EXPECT_FALSE(a.same_object(b));
  EXPECT_TRUE(a == b);
  SharedOptional<Fallback> none, some = Fallback{};
  EXPECT_FALSE(none == some);
  EXPECT_TRUE(none == std::nullopt);
  EXPECT_EQ(some->status, 200);
}

}  // namespace
}  // namespace gatehouse::config
