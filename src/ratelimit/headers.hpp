// ratelimit/: the RateLimit-* fields every response of a rate-limited endpoint carries
// once it passed the rate-limit phase (SPEC section 14), formatted once per request into
// a fixed buffer that the response writers append as is.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "ratelimit/bucket.hpp"

namespace gatehouse::ratelimit {

class HeaderBlock {
 public:
  // RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, each ending in CRLF.
  // `limit_fields` is limit_fields_of(the limit), made once per limiter.
  void set(std::string_view limit_fields, const Decision& d);
  // "RateLimit-Limit: N\r\nRateLimit-Remaining: ", the part that never changes.
  static std::string limit_fields_of(std::uint64_t limit);
  void clear() { len_ = 0; }
  bool empty() const { return len_ == 0; }
  std::string_view view() const { return {buf_.data(), len_}; }

 private:
  static constexpr std::size_t kMaxLimitFields = 64;  // 40 bytes and 20 digits
  std::array<char, 160> buf_{};
  std::size_t len_ = 0;
};

// "Retry-After: N\r\n" into `out` (at least 32 bytes); returns its length.
std::size_t format_retry_after(std::uint64_t seconds, char* out);

}  // namespace gatehouse::ratelimit
