// http/: a strict, incremental decoder for the chunked transfer coding.
#pragma once

#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <string_view>

namespace gatehouse::http {

// Feed bytes with decode(); it reports spans of body data through the callback and
// stops at the end of the message (last chunk and trailers consumed; trailers are
// validated and dropped). Chunk extensions are validated against RFC 9112's grammar and
// dropped.
class ChunkedDecoder {
 public:
  enum class Result { need_more, done, error };

  explicit ChunkedDecoder(std::size_t max_trailer_bytes = 32 * 1024)
      : max_trailer_bytes_(max_trailer_bytes) {}

  void reset();

  // Consumes from `in`; sets `consumed` to the bytes used (everything unless `done`,
  // where the bytes after the message are left for the next one). `on_data(view)` is
  // called for each piece of body data.
  template <class OnData>
  Result decode(std::string_view in, std::size_t& consumed, OnData&& on_data) {
    std::size_t i = 0;
    if (state_ == State::finished) {
      consumed = 0;
      return Result::done;
    }
    while (i < in.size()) {
      if (state_ == State::data) {
        const std::size_t take = static_cast<std::size_t>(
            std::min<std::uint64_t>(remaining_, in.size() - i));
        on_data(in.substr(i, take));
        i += take;
        remaining_ -= take;
        if (remaining_ == 0) state_ = State::data_cr;
        continue;
      }
      const Result r = step(static_cast<unsigned char>(in[i]));
      ++i;
      if (r == Result::error) {
        consumed = i;
        return r;
      }
      if (r == Result::done) {
        consumed = i;
        return r;
      }
    }
    consumed = i;
    return Result::need_more;
  }

  std::uint64_t body_bytes() const { return body_bytes_; }

  // Inside a chunk's data: how much of it is still to come (0 elsewhere). The caller
  // may move up to that many bytes itself (splice) and report them with skip_data().
  std::uint64_t data_left() const { return state_ == State::data ? remaining_ : 0; }
  void skip_data(std::uint64_t n) {
    remaining_ -= std::min(n, remaining_);
    if (state_ == State::data && remaining_ == 0) state_ = State::data_cr;
  }

  // Extensions are dropped, so their bytes are bounded per chunk line: a client cannot
  // keep a connection busy with a line that never ends.
  static constexpr std::size_t kMaxExtensionBytes = 4096;

 private:
  // The ext_* states follow RFC 9112 7.1.1: chunk-ext = *( BWS ";" BWS name
  // [ BWS "=" BWS ( token / quoted-string ) ] ).
  enum class State {
    size_first, size, ext_bws, ext_name_start, ext_name, ext_after_name, ext_value_start,
    ext_token, ext_quoted, ext_quoted_pair, ext_after_value, size_lf, data, data_cr, data_lf,
    trailer_start, trailer_line, trailer_lf, end_lf, finished
  };
  Result step(unsigned char c);
  Result step_ext(unsigned char c);

  State state_ = State::size_first;
  std::uint64_t size_ = 0;
  std::uint64_t remaining_ = 0;
  std::uint64_t body_bytes_ = 0;
  unsigned digits_ = 0;
  std::size_t trailer_bytes_ = 0;
  std::size_t ext_bytes_ = 0;  // of the current chunk line's extensions
  std::size_t max_trailer_bytes_;
};

}  // namespace gatehouse::http
