// common/: error codes and problem+json, clock, duration and size parsing.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace gatehouse {

// Strict duration: a non-negative integer followed by one unit of ms, s, m, h
// ("250ms", "10s", "5m", "1h"). No spaces, no signs, no fractions, no bare numbers.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// Strict size: a non-negative integer of bytes ("1024"), or with a unit of B, KiB,
// MiB, GiB ("16KiB", "10MiB"). Overflow and anything else -> nullopt.
std::optional<std::uint64_t> parse_size(std::string_view text);

}  // namespace gatehouse
