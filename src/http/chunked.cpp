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
      if (c == ';') {
        state_ = State::ext;
        return Result::need_more;
      }
      if (c == '\r') {
        state_ = State::size_lf;
        return Result::need_more;
      }
      return Result::error;  // whitespace, bare LF, junk
    }
    case State::ext:
      if (c == '\r') {
        state_ = State::size_lf;
        return Result::need_more;
      }
      return is_field_byte(c) ? Result::need_more : Result::error;
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

}  // namespace gatehouse::http
