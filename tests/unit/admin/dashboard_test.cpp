// The status page's server side (SPEC 16): which paths answer what, its headers, and the
// settings written into the page.
#include "admin/dashboard.hpp"

#include <gtest/gtest.h>

#include <memory>

#include "config/config.hpp"

namespace gatehouse::admin {
namespace {

registry::Snapshot snapshot_without_jwt() {
  registry::Snapshot snap;
  snap.config = std::make_shared<config::Config>();
  return snap;
}

TEST(Dashboard, EmbedsEveryWebFile) {
  for (std::string_view name : {"index.html", "app.js", "app.css", "favicon.svg"}) {
    bool found = false;
    for (const auto& a : web_assets()) {
      if (a.name == name) {
        found = true;
        EXPECT_FALSE(a.body.empty()) << name;
      }
    }
    EXPECT_TRUE(found) << name;
  }
}

TEST(Dashboard, AbsentWithoutJwtUnlessInsecure) {
  const auto snap = snapshot_without_jwt();
  for (std::string_view path : {"/dashboard", "/dashboard/", "/dashboard/app.js"}) {
    const auto r = dashboard_reply(snap, false, "GET", path);
    EXPECT_TRUE(r.is_error) << path;
    EXPECT_EQ(r.code, ErrorCode::no_route) << path;
  }
  // Absent means absent for every method, as the stats API.
  EXPECT_EQ(dashboard_reply(snap, false, "POST", "/dashboard").code, ErrorCode::no_route);
}

TEST(Dashboard, PageWithCspAndNoTokenWhenInsecure) {
  const auto snap = snapshot_without_jwt();
  for (std::string_view path : {"/dashboard", "/dashboard/"}) {
    const auto r = dashboard_reply(snap, true, "GET", path);
    ASSERT_FALSE(r.is_error) << path;
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
    EXPECT_NE(r.extra_headers.find("Content-Security-Policy: default-src 'self'\r\n"),
              std::string::npos);
    EXPECT_NE(r.body.find("name=\"gatehouse-auth\" content=\"none\""), std::string::npos);
    EXPECT_NE(r.body.find("name=\"viewport\""), std::string::npos);
    EXPECT_EQ(r.body.find("@AUTH@"), std::string::npos);
  }
}

TEST(Dashboard, AssetsHaveTheirTypes) {
  const auto snap = snapshot_without_jwt();
  EXPECT_EQ(dashboard_reply(snap, true, "GET", "/dashboard/app.js").content_type,
            "text/javascript; charset=utf-8");
  EXPECT_EQ(dashboard_reply(snap, true, "HEAD", "/dashboard/app.css").content_type,
            "text/css; charset=utf-8");
  EXPECT_EQ(dashboard_reply(snap, true, "GET", "/dashboard/favicon.svg").content_type,
            "image/svg+xml");
  // The page only exists with its settings filled in, never as the raw template.
  EXPECT_EQ(dashboard_reply(snap, true, "GET", "/dashboard/index.html").code, ErrorCode::no_route);
  EXPECT_EQ(dashboard_reply(snap, true, "GET", "/dashboard/nope.js").code, ErrorCode::no_route);
  EXPECT_EQ(dashboard_reply(snap, true, "GET", "/dashboard/app.js/x").code, ErrorCode::no_route);
}

TEST(Dashboard, OtherMethodsAre405WithAllow) {
  const auto snap = snapshot_without_jwt();
  const auto r = dashboard_reply(snap, true, "POST", "/dashboard");
  EXPECT_EQ(r.code, ErrorCode::method_not_allowed);
  EXPECT_EQ(r.extra_headers, "Allow: GET, HEAD\r\n");
}

TEST(Dashboard, SettingsAreEscaped) {
  const auto page = dashboard_page(true, "a\"b<c>", "x&y's", "scp");
  EXPECT_NE(page.find("content=\"bearer\""), std::string::npos);
  EXPECT_NE(page.find("content=\"a&quot;b&lt;c&gt;\""), std::string::npos);
  EXPECT_NE(page.find("content=\"x&amp;y&#39;s\""), std::string::npos);
  EXPECT_NE(page.find("name=\"gatehouse-scope-claim\" content=\"scp\""), std::string::npos);
}

}  // namespace
}  // namespace gatehouse::admin
