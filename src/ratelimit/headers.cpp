#include "ratelimit/headers.hpp"

#include <cstring>

namespace gatehouse::ratelimit {

namespace {
char* put(char* p, std::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

// Decimal digits, two at a time from a table, written backwards into a 20-byte scratch
// and copied out with one fixed-size store pair: no length pass, no bounds checks (a
// uint64 has at most 20 digits; `p` has room for them).
constexpr char kPairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

char* put(char* p, std::uint64_t v) {
  char scratch[20];
  char* q = scratch + sizeof scratch;
  while (v >= 100) {
    const auto pair = static_cast<std::size_t>(v % 100) * 2;
    v /= 100;
    q -= 2;
    std::memcpy(q, kPairs + pair, 2);
  }
  if (v >= 10) {
    q -= 2;
    std::memcpy(q, kPairs + static_cast<std::size_t>(v) * 2, 2);
  } else {
    *--q = static_cast<char>('0' + v);
  }
  const auto n = static_cast<std::size_t>(scratch + sizeof scratch - q);
  std::memcpy(p, q, n);
  return p + n;
}
}  // namespace

std::string HeaderBlock::limit_fields_of(std::uint64_t limit) {
  char buf[kMaxLimitFields];
  char* p = put(buf, "RateLimit-Limit: ");
  p = put(p, limit);
  p = put(p, "\r\nRateLimit-Remaining: ");
  return std::string(buf, p);
}

void HeaderBlock::set(std::string_view limit_fields, const Decision& d) {
  // 64 + 20 + 20 + 20 bytes at most: within buf_.
  char* p = put(buf_.data(), limit_fields.substr(0, kMaxLimitFields));
  p = put(p, d.remaining);
  p = put(p, "\r\nRateLimit-Reset: ");
  p = put(p, d.reset_s);
  p = put(p, "\r\n");
  len_ = static_cast<std::size_t>(p - buf_.data());
}

std::size_t format_retry_after(std::uint64_t seconds, char* out) {
  char* p = put(out, "Retry-After: ");
  p = put(p, seconds);
  p = put(p, "\r\n");
  return static_cast<std::size_t>(p - out);
}

}  // namespace gatehouse::ratelimit
