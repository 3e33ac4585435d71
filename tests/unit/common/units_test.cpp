#include "common/units.hpp"

#include <gtest/gtest.h>

namespace gatehouse {
namespace {

using std::chrono::milliseconds;

TEST(ParseDuration, AcceptsEachUnit) {
  EXPECT_EQ(parse_duration("250ms"), milliseconds(250));
  EXPECT_EQ(parse_duration("10s"), milliseconds(10'000));
  EXPECT_EQ(parse_duration("5m"), milliseconds(300'000));
  EXPECT_EQ(parse_duration("1h"), milliseconds(3'600'000));
  EXPECT_EQ(parse_duration("0s"), milliseconds(0));
  EXPECT_EQ(parse_duration("0ms"), milliseconds(0));
  EXPECT_EQ(parse_duration("007s"), milliseconds(7000));
}

TEST(ParseDuration, RejectsAnythingNotStrict) {
  for (const char* text : {"10", "1.5s", "-1s", "+1s", "10 s", " 10s", "10s ", "10S", "10Ms",
                           "", "s", "ms", "1d", "10sec", "1m30s", "1e3ms", "0x10s", "10ns"}) {
    EXPECT_EQ(parse_duration(text), std::nullopt) << '"' << text << '"';
  }
}

TEST(ParseDuration, RejectsOverflow) {
  EXPECT_EQ(parse_duration("99999999999999999999ms"), std::nullopt);  // > 2^64
  EXPECT_EQ(parse_duration("18446744073709551615ms"), std::nullopt);  // > int64 ms
  EXPECT_EQ(parse_duration("9223372036854775807h"), std::nullopt);    // multiply overflows
  EXPECT_EQ(parse_duration("9223372036854775807ms"),
            milliseconds(9223372036854775807LL));
}

TEST(ParseSize, AcceptsBytesAndBinaryUnits) {
  EXPECT_EQ(parse_size("1024"), 1024u);
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_size("5B"), 5u);
  EXPECT_EQ(parse_size("16KiB"), 16u * 1024);
  EXPECT_EQ(parse_size("10MiB"), 10u * 1024 * 1024);
  EXPECT_EQ(parse_size("1GiB"), 1024ull * 1024 * 1024);
  EXPECT_EQ(parse_size("18446744073709551615"), 18446744073709551615ull);
}

TEST(ParseSize, RejectsAnythingNotStrict) {
  for (const char* text : {"16kib", "1KB", "1kB", "1K", "1k", "1MB", "1TiB", "1.5MiB", "-1",
                           "+1", "", "KiB", "1 KiB", " 1", "1 ", "1b", "0x10"}) {
    EXPECT_EQ(parse_size(text), std::nullopt) << '"' << text << '"';
  }
}

TEST(ParseSize, RejectsOverflow) {
  EXPECT_EQ(parse_size("18446744073709551616"), std::nullopt);
  EXPECT_EQ(parse_size("17179869184GiB"), std::nullopt);  // exactly 2^64
  EXPECT_EQ(parse_size("17179869183GiB"), 17179869183ull * 1024 * 1024 * 1024);
}

}  // namespace
}  // namespace gatehouse
