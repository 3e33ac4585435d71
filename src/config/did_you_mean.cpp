#include "config/did_you_mean.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

namespace gatehouse::config::detail {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  const std::size_t n = a.size();
  const std::size_t m = b.size();
  // Three rolling rows are enough for the transposition case.
  std::vector<std::size_t> prev2(m + 1), prev(m + 1), cur(m + 1);
  for (std::size_t j = 0; j <= m; ++j) prev[j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
      }
    }
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[m];
}

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string suggest(std::string_view word, std::span<const std::string_view> candidates) {
  const std::string lword = lower(word);
  for (auto c : candidates) {
    if (lower(c) == lword) return std::string(c);
  }
  const std::size_t limit = word.size() <= 3 ? 1 : 2;
  std::size_t best = limit + 1;
  std::string_view best_word;
  for (auto c : candidates) {
    const std::size_t d = edit_distance(lword, lower(c));
    if (d < best) {
      best = d;
      best_word = c;
    }
  }
  return std::string(best_word);
}

}  // namespace gatehouse::config::detail
