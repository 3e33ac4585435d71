#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "logging/log.hpp"

namespace gatehouse::logging {
namespace {

std::string fixed3(double x) {
  std::string out;
  append_fixed3(out, x);
  return out;
}

std::string printf3(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", x);
  return buf;
}

TEST(AppendFixed3, FormatsLikePrintf) {
  for (double x : {0.0, 0.0004, 0.0005001, 0.001, 0.5, 1.0, 1.2345678, 9.9996, 12.03, 999.999,
                   1234567.891, 0.123})
    EXPECT_EQ(fixed3(x), printf3(x)) << x;
}

TEST(AppendFixed3, CarriesIntoTheIntegerPart) {
  EXPECT_EQ(fixed3(0.9999), "1.000");
  EXPECT_EQ(fixed3(41.99951), "42.000");
}

TEST(AppendFixed3, FallsBackForValuesOutsideTheFastPath) {
  EXPECT_EQ(fixed3(-1.5), printf3(-1.5));
  EXPECT_EQ(fixed3(1e13), printf3(1e13));
}

TEST(AppendFixed3, Appends) {
  std::string out = "duration_ms=";
  append_fixed3(out, 2.5);
  EXPECT_EQ(out, "duration_ms=2.500");
}

}  // namespace
}  // namespace gatehouse::logging
