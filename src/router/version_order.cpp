// compare_versions (declared in router/route_table.hpp): natural order of versions.
#include <algorithm>
#include <string_view>

#include "router/route_table.hpp"

namespace gatehouse::router {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

int sign(int v) { return (v > 0) - (v < 0); }

// The run of digits or of non-digits that starts at `pos`.
std::string_view next_run(std::string_view s, std::size_t pos) {
  const bool digits = is_digit(s[pos]);
  std::size_t end = pos + 1;
  while (end < s.size() && is_digit(s[end]) == digits) ++end;
  return s.substr(pos, end - pos);
}

// Numeric comparison of two digit runs of any length (no overflow).
int compare_numbers(std::string_view a, std::string_view b) {
  a.remove_prefix(std::min(a.find_first_not_of('0'), a.size()));
  b.remove_prefix(std::min(b.find_first_not_of('0'), b.size()));
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  return sign(a.compare(b));
}

}  // namespace

int compare_versions(std::string_view a, std::string_view b) {
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < a.size() && j < b.size()) {
    const std::string_view ra = next_run(a, i);
    const std::string_view rb = next_run(b, j);
    const int c = (is_digit(ra[0]) && is_digit(rb[0])) ? compare_numbers(ra, rb)
                                                       : sign(ra.compare(rb));
    if (c != 0) return c;
    i += ra.size();
    j += rb.size();
  }
  if (i < a.size()) return 1;  // "v1.1" > "v1"
  if (j < b.size()) return -1;
  // Equal except for leading zeros ("v01" vs "v1"): fall back to the bytes so that 0
  // means identical and choosing the newest version never depends on input order.
  return sign(a.compare(b));
}

}  // namespace gatehouse::router
