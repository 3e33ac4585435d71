// The `method` label never carries the client's own token.
#include <gtest/gtest.h>

#include "metrics/method.hpp"

namespace gatehouse::metrics {
namespace {

TEST(MethodLabel, StandardMethodsMapToThemselves) {
  for (std::string_view m : {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"})
    EXPECT_EQ(method_label(method_of(m)), m);
}

TEST(MethodLabel, AnythingElseIsOther) {
  for (std::string_view m : {"", "get", "Get", "CONNECT", "PROPFIND", "GETX", "GE", "BREW",
                             "DELETEX", "OPTIONS ", "X-EVIL\"}"})
    EXPECT_EQ(method_of(m), Method::other) << m;
  EXPECT_EQ(method_label(Method::other), "OTHER");
}

}  // namespace
}  // namespace gatehouse::metrics
