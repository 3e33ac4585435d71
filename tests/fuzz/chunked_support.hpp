// Runs the chunked decoder over a byte stream, whole or in pieces, and keeps what it
// reported, so two runs over the same bytes can be compared.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "http/chunked.hpp"

namespace gatehouse::fuzz {

struct Decoded {
  http::ChunkedDecoder::Result result = http::ChunkedDecoder::Result::need_more;
  std::string body;           // the data spans, concatenated
  std::size_t consumed = 0;   // bytes taken from the stream (the message's size when done)
  std::uint64_t body_bytes = 0;
};

inline Decoded decode_pieces(std::size_t max_trailer, const std::vector<std::string_view>& in) {
  http::ChunkedDecoder decoder(max_trailer);
  Decoded d;
  for (std::string_view piece : in) {
    std::size_t used = 0;
    d.result = decoder.decode(piece, used, [&](std::string_view data) { d.body.append(data); });
    FUZZ_CHECK(used <= piece.size());
    d.consumed += used;
    if (d.result != http::ChunkedDecoder::Result::need_more) break;
    FUZZ_CHECK(used == piece.size());  // need_more means everything was taken
  }
  d.body_bytes = decoder.body_bytes();
  if (d.result == http::ChunkedDecoder::Result::done) {
    // Once done, the decoder stays done and takes nothing more.
    std::size_t again = 1;
    const auto r = decoder.decode("0\r\n\r\n", again, [](std::string_view) {});
    FUZZ_CHECK(r == http::ChunkedDecoder::Result::done && again == 0);
  }
  return d;
}

// Decodes `stream` at once and in input-derived pieces; both must agree exactly.
inline Decoded decode_checked(std::size_t max_trailer, std::string_view stream, Splitter& split) {
  const Decoded whole = decode_pieces(max_trailer, {stream});
  const Decoded parts = decode_pieces(max_trailer, split.pieces(stream, 1 + split.next() % 16));
  if (!stream.empty()) {
    FUZZ_CHECK(whole.result == parts.result);
    FUZZ_CHECK(whole.consumed == parts.consumed);
    FUZZ_CHECK(whole.body == parts.body);
  }
  if (whole.result == http::ChunkedDecoder::Result::done)
    FUZZ_CHECK(whole.body.size() == whole.body_bytes);
  return whole;
}

}  // namespace gatehouse::fuzz
