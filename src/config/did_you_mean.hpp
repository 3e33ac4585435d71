// config/: "did you mean" suggestions for misspelt keys and values.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace gatehouse::config::detail {

// Optimal-string-alignment distance (Levenshtein plus adjacent transpositions).
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word` when it is close enough to be a likely typo
// (a case-only difference, or distance <= 2; <= 1 for words of up to 3 characters);
// "" otherwise.
std::string suggest(std::string_view word, std::span<const std::string_view> candidates);

}  // namespace gatehouse::config::detail
