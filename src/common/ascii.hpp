// common/: ASCII helpers shared by the parsers (HTTP heads, JOSE headers).
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace gatehouse {

namespace detail {
// Eight bytes at once with 'A'..'Z' made lower case and every other byte (non-ASCII
// included) left as it is.
inline std::uint64_t ascii_lower8(std::uint64_t w) {
  constexpr std::uint64_t k7f = 0x7f7f7f7f7f7f7f7fULL, k80 = 0x8080808080808080ULL;
  const std::uint64_t low7 = w & k7f;
  const std::uint64_t ge_a = low7 + 0x3f3f3f3f3f3f3f3fULL;  // high bit: byte >= 'A'
  const std::uint64_t gt_z = low7 + 0x2525252525252525ULL;  // high bit: byte > 'Z'
  const std::uint64_t upper = (ge_a ^ gt_z) & ~w & k80;     // ASCII and in 'A'..'Z'
  return w | (upper >> 2);                                  // 0x80 >> 2 == 0x20
}
inline std::uint64_t load8(const char* p) {
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}
}  // namespace detail

// Case-insensitive ASCII comparison. Header names are compared on every request, so
// eight bytes at a time (the last word overlapping the one before it).
inline bool iequals(std::string_view a, std::string_view b) {
  const std::size_t n = a.size();
  if (n != b.size()) return false;
  const char* x = a.data();
  const char* y = b.data();
  if (n >= 8) {
    for (std::size_t i = 0; i + 8 <= n; i += 8)
      if (detail::ascii_lower8(detail::load8(x + i)) != detail::ascii_lower8(detail::load8(y + i)))
        return false;
    return detail::ascii_lower8(detail::load8(x + n - 8)) ==
           detail::ascii_lower8(detail::load8(y + n - 8));
  }
  for (std::size_t i = 0; i < n; ++i) {
    auto c = static_cast<unsigned char>(x[i]);
    auto d = static_cast<unsigned char>(y[i]);
    if (c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c + 32);
    if (d >= 'A' && d <= 'Z') d = static_cast<unsigned char>(d + 32);
    if (c != d) return false;
  }
  return true;
}

}  // namespace gatehouse
