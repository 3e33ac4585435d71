#include "http/chunked.hpp"

#include "http/message.hpp"

namespace gatehouse::http {

namespace {
int hex_value(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
// Bytes allowed inside a chunk extension or a trailer line: visible ASCII, space,
// tab and obs-text. CR, LF, NUL and other controls are not.
bool is_field_byte(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }
}  // namespace

void ChunkedDecoder::reset() {
  state_ = State::size_first;
  size_ = remaining_ = body_bytes_ = 0;
  digits_ = 0;
  trailer_bytes_ = 0;
}

ChunkedDecoder::Result ChunkedDecoder::step(unsigned char c) {
  switch (state_) {
    case State::size_first: {
      const int v = hex_value(c);
      if (v < 0) return Result::error;
      size_ = static_cast<std::uint64_t>(v);
      digits_ = 1;
      state_ = State::size;
      return Result::need_more;
    }
    case State::size: {
      const int v = hex_value(c);
      if (v >= 0) {
        if (++digits_ > 15) return Result::error;  // keeps size below 2^60
        size_ = size_ * 16 + static_cast<std::uint64_t>(v);
        return Result::need_more;
      }
      if (c == ';' || c == ' ' || c == '\t') {
        ext_bytes_ = 0;
        state_ = c == ';' ? State::ext_name_start : State::ext_bws;
        return Result::need_more;
      }
      if (c == '\r') {
        state_ = State::size_lf;
        return Result::need_more;
      }
      return Result::error;  // bare LF, junk
    }
    case State::ext_bws:
    case State::ext_name_start:
    case State::ext_name:
    case State::ext_after_name:
    case State::ext_value_start:
    case State::ext_token:
    case State::ext_quoted:
    case State::ext_quoted_pair:
    case State::ext_after_value:
      if (++ext_bytes_ > kMaxExtensionBytes) return Result::error;
      return step_ext(c);
    case State::size_lf:
      if (c != '\n') return Result::error;
      if (size_ == 0) {
        state_ = State::trailer_start;
      } else {
        remaining_ = size_;
        body_bytes_ += size_;
        state_ = State::data;
      }
      return Result::need_more;
    case State::data:
      return Result::error;  // handled by decode()
    case State::data_cr:
      if (c != '\r') return Result::error;
      state_ = State::data_lf;
      return Result::need_more;
    case State::data_lf:
      if (c != '\n') return Result::error;
      state_ = State::size_first;
      return Result::need_more;
    case State::trailer_start:
      if (c == '\r') {
        state_ = State::end_lf;
        return Result::need_more;
      }
      if (c == ' ' || c == '\t' || !is_tchar(c)) return Result::error;  // obs-fold, junk
      state_ = State::trailer_line;
      [[fallthrough]];
    case State::trailer_line:
      if (++trailer_bytes_ > max_trailer_bytes_) return Result::error;
      if (c == '\r') {
        state_ = State::trailer_lf;
        return Result::need_more;
      }
      return is_field_byte(c) ? Result::need_more : Result::error;
    case State::trailer_lf:
      if (c != '\n') return Result::error;
      state_ = State::trailer_start;
      return Result::need_more;
    case State::end_lf:
      if (c != '\n') return Result::error;
      state_ = State::finished;
      return Result::done;
    case State::finished:
      return Result::done;
  }
  return Result::error;
}

ChunkedDecoder::Result ChunkedDecoder::step_ext(unsigned char c) {
  const bool ws = c == ' ' || c == '\t';
  auto go = [this](State next) {
    state_ = next;
    return Result::need_more;
  };
  switch (state_) {
    case State::ext_bws:  // BWS before a ";" (after the size or a value)
      if (ws) return Result::need_more;
      if (c == ';') return go(State::ext_name_start);
      return Result::error;
    case State::ext_name_start:  // after ";": BWS, then a token ("2;" alone is refused)
      if (ws) return Result::need_more;
      if (is_tchar(c)) return go(State::ext_name);
      return Result::error;
    case State::ext_name:
      if (is_tchar(c)) return Result::need_more;
      if (ws) return go(State::ext_after_name);
      if (c == '=') return go(State::ext_value_start);
      if (c == ';') return go(State::ext_name_start);
      if (c == '\r') return go(State::size_lf);
      return Result::error;
    case State::ext_after_name:  // BWS may only precede "=" or the next ";"
      if (ws) return Result::need_more;
      if (c == '=') return go(State::ext_value_start);
      if (c == ';') return go(State::ext_name_start);
      return Result::error;
    case State::ext_value_start:
      if (ws) return Result::need_more;
      if (c == '"') return go(State::ext_quoted);
      if (is_tchar(c)) return go(State::ext_token);
      return Result::error;
    case State::ext_token:
      if (is_tchar(c)) return Result::need_more;
      if (ws) return go(State::ext_bws);
      if (c == ';') return go(State::ext_name_start);
      if (c == '\r') return go(State::size_lf);
      return Result::error;
    case State::ext_quoted:  // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
      if (c == '"') return go(State::ext_after_value);
      if (c == '\\') return go(State::ext_quoted_pair);
      if (c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
          (c >= 0x5d && c <= 0x7e) || c >= 0x80)
        return Result::need_more;
      return Result::error;  // CR or LF: the quoted value never ends
    case State::ext_quoted_pair:  // "\" ( HTAB / SP / VCHAR / obs-text )
      if (c == '\t' || c == ' ' || (c >= 0x21 && c <= 0x7e) || c >= 0x80)
        return go(State::ext_quoted);
      return Result::error;
    case State::ext_after_value:  // right after a closing quote
      if (ws) return go(State::ext_bws);
      if (c == ';') return go(State::ext_name_start);
      if (c == '\r') return go(State::size_lf);
      return Result::error;
    default:
      return Result::error;
  }
}

}  // namespace gatehouse::http
