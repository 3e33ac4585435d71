// Helpers shared by the libFuzzer targets: property checks that stop the run with a
// readable reason, and input-derived split points (a message that arrives in pieces
// must be treated exactly like the same bytes arriving at once).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

// A violated property is a crash to libFuzzer: it prints the reason, writes the
// reproducer and shows the (symbolised) stack of the abort.
#define FUZZ_CHECK(cond)                                                              \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "property violated: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)

namespace gatehouse::fuzz {

// A small deterministic generator seeded from the input, so a reproducer replays the
// same split points.
class Splitter {
 public:
  explicit Splitter(std::uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ULL + 1) {}

  std::uint64_t next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return state_;
  }

  // Splits [0, size) into pieces of 1..max_piece bytes.
  std::vector<std::string_view> pieces(std::string_view data, std::size_t max_piece) {
    std::vector<std::string_view> out;
    std::size_t pos = 0;
    while (pos < data.size()) {
      const std::size_t n = 1 + static_cast<std::size_t>(next() % max_piece);
      out.push_back(data.substr(pos, n));
      pos += n;
    }
    return out;
  }

 private:
  std::uint64_t state_;
};

inline std::uint64_t hash_bytes(std::string_view data) {
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char c : data) h = (h ^ c) * 1099511628211ULL;
  return h;
}

inline void append_chunk(std::string& out, std::string_view data) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string size;
  for (std::size_t n = data.size(); n > 0; n /= 16) size.insert(size.begin(), kHex[n % 16]);
  out.append(size.empty() ? "0" : size).append("\r\n").append(data).append("\r\n");
}

}  // namespace gatehouse::fuzz
