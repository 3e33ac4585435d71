// config/: UTF-8 checks for configuration text and for the messages made from it, so
// that every error report (a terminal line, a 422 JSON body) is valid UTF-8.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace gatehouse::config {

// Length of the well-formed UTF-8 sequence starting at `text[i]` (1 to 4), or 0 when
// the bytes there are not one (a stray continuation byte, an overlong form, a
// surrogate, a value over U+10FFFF, a sequence cut short).
std::size_t utf8_sequence_length(std::string_view text, std::size_t i);

// Offset (from 0) of the first byte where `text` stops being well-formed UTF-8: the
// start of the first ill-formed sequence. nullopt when all of it is UTF-8.
std::optional<std::size_t> first_invalid_utf8(std::string_view text);

// `text` with every byte that is not part of well-formed UTF-8 written as \xNN.
std::string escape_invalid_utf8(std::string_view text);

}  // namespace gatehouse::config
