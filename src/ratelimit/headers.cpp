#include "ratelimit/headers.hpp"

#include <charconv>
#include <cstring>

namespace gatehouse::ratelimit {

namespace {
char* put(char* p, std::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}
char* put(char* p, std::uint64_t v) { return std::to_chars(p, p + 20, v).ptr; }
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
