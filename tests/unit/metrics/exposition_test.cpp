// The Prometheus text format (0.0.4) as written by metrics/exposition.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "metrics/exposition.hpp"
#include "metrics/histogram.hpp"

namespace gatehouse::metrics {
namespace {

TEST(Exposition, LabelValueEscapesBackslashQuoteAndNewline) {
  EXPECT_EQ(escape_label_value("plain-id@v1"), "plain-id@v1");
  EXPECT_EQ(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(escape_label_value("\\"), "\\\\");
  EXPECT_EQ(escape_label_value("\"\""), "\\\"\\\"");
  EXPECT_EQ(escape_label_value(""), "");
  // Other bytes, UTF-8 included, pass through unchanged.
  EXPECT_EQ(escape_label_value("http://h:1/a b\t\xc3\xa9"), "http://h:1/a b\t\xc3\xa9");
}

TEST(Exposition, HelpTextEscapesBackslashAndNewlineOnly) {
  std::string out;
  append_family_header(out, "x_total", "counter", "a \"q\" \\ b\nc");
  EXPECT_EQ(out, "# HELP x_total a \"q\" \\\\ b\\nc\n# TYPE x_total counter\n");
}

TEST(Exposition, SampleWithAndWithoutLabels) {
  std::string out;
  Sample(out, "up").value(std::uint64_t{1});
  Sample(out, "x_total").label("endpoint", "a\"b").escaped_label("m", "pre\\\\done").value(std::int64_t{-3});
  EXPECT_EQ(out, "up 1\nx_total{endpoint=\"a\\\"b\",m=\"pre\\\\done\"} -3\n");
}

std::string num(double v) {
  std::string s;
  append_number(s, v);
  return s;
}

TEST(Exposition, NumbersArePrometheusFloats) {
  EXPECT_EQ(num(0.0), "0");
  EXPECT_EQ(num(0.5), "0.5");
  EXPECT_EQ(num(1.0), "1");
  EXPECT_EQ(num(1767225600.123), "1767225600.123");
  EXPECT_EQ(num(1e-9), "1e-09");
  EXPECT_EQ(num(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(num(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(num(std::nan("")), "NaN");
  // Shortest text that reads back exactly.
  EXPECT_EQ(std::stod(num(0.1 + 0.2)), 0.1 + 0.2);
  std::string s;
  append_number(s, std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(s, "18446744073709551615");
}

TEST(Exposition, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  const std::string_view bounds[] = {"0.1", "1", "10"};
  const std::uint64_t counts[] = {1, 0, 2, 3};  // last: above 10
  std::string out;
  append_histogram(out, "d_seconds", "endpoint=\"e\"", bounds, counts, 42.5);
  EXPECT_EQ(out,
            "d_seconds_bucket{endpoint=\"e\",le=\"0.1\"} 1\n"
            "d_seconds_bucket{endpoint=\"e\",le=\"1\"} 1\n"
            "d_seconds_bucket{endpoint=\"e\",le=\"10\"} 3\n"
            "d_seconds_bucket{endpoint=\"e\",le=\"+Inf\"} 6\n"
            "d_seconds_sum{endpoint=\"e\"} 42.5\n"
            "d_seconds_count{endpoint=\"e\"} 6\n");
}

TEST(Exposition, HistogramWithoutLabels) {
  const std::string_view bounds[] = {"1"};
  const std::uint64_t counts[] = {0, 0};
  std::string out;
  append_histogram(out, "h", "", bounds, counts, 0.0);
  EXPECT_EQ(out, "h_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n");
}

TEST(Histogram, BoundsAreInclusiveAndAscending) {
  static_assert(kBucketLabels.size() == kBucketBoundsNs.size());
  for (std::size_t i = 1; i < kBucketBoundsNs.size(); ++i)
    EXPECT_LT(kBucketBoundsNs[i - 1], kBucketBoundsNs[i]);
  // Each label is its bound in seconds.
  for (std::size_t i = 0; i < kBucketBoundsNs.size(); ++i)
    EXPECT_DOUBLE_EQ(std::stod(std::string(kBucketLabels[i])) * 1e9,
                     static_cast<double>(kBucketBoundsNs[i])) << kBucketLabels[i];
  EXPECT_EQ(bucket_of(0), 0u);
  EXPECT_EQ(bucket_of(100'000), 0u);  // le: a value equal to the bound is in it
  EXPECT_EQ(bucket_of(100'001), 1u);
  EXPECT_EQ(bucket_of(1'000'000), 3u);
  EXPECT_EQ(bucket_of(10'000'000'000), kBuckets - 2);
  EXPECT_EQ(bucket_of(10'000'000'001), kBuckets - 1);  // +Inf
}

}  // namespace
}  // namespace gatehouse::metrics
