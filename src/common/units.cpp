#include "common/units.hpp"

#include <limits>

namespace gatehouse {
namespace {

// Splits "123unit" into its digits and unit; false when there are no leading digits
// or the number does not fit in 64 bits.
bool split_number(std::string_view text, std::uint64_t& value, std::string_view& unit) {
  std::size_t i = 0;
  value = 0;
  constexpr auto max = std::numeric_limits<std::uint64_t>::max();
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    const auto digit = static_cast<std::uint64_t>(text[i] - '0');
    if (value > (max - digit) / 10) return false;
    value = value * 10 + digit;
    ++i;
  }
  if (i == 0) return false;
  unit = text.substr(i);
  return true;
}

bool checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) return false;
  out = a * b;
  return true;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  std::uint64_t value = 0;
  std::string_view unit;
  if (!split_number(text, value, unit)) return std::nullopt;
  std::uint64_t factor = 0;
  if (unit == "ms") {
    factor = 1;
  } else if (unit == "s") {
    factor = 1000;
  } else if (unit == "m") {
    factor = 60 * 1000;
  } else if (unit == "h") {
    factor = 60 * 60 * 1000;
  } else {
    return std::nullopt;
  }
  std::uint64_t ms = 0;
  if (!checked_mul(value, factor, ms)) return std::nullopt;
  using Rep = std::chrono::milliseconds::rep;
  if (ms > static_cast<std::uint64_t>(std::numeric_limits<Rep>::max())) return std::nullopt;
  return std::chrono::milliseconds(static_cast<Rep>(ms));
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::uint64_t value = 0;
  std::string_view unit;
  if (!split_number(text, value, unit)) return std::nullopt;
  std::uint64_t factor = 0;
  if (unit.empty() || unit == "B") {
    factor = 1;
  } else if (unit == "KiB") {
    factor = 1024;
  } else if (unit == "MiB") {
    factor = 1024 * 1024;
  } else if (unit == "GiB") {
    factor = 1024 * 1024 * 1024;
  } else {
    return std::nullopt;
  }
  std::uint64_t bytes = 0;
  if (!checked_mul(value, factor, bytes)) return std::nullopt;
  return bytes;
}

}  // namespace gatehouse
