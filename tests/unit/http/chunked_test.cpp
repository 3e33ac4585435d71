#include <gtest/gtest.h>

#include <string>

#include "http/chunked.hpp"

using gatehouse::http::ChunkedDecoder;

namespace {
struct Out {
  ChunkedDecoder::Result result;
  std::string data;
  std::size_t consumed;
};

Out decode_all(std::string_view in, std::size_t step = 0) {
  ChunkedDecoder d;
  Out out{ChunkedDecoder::Result::need_more, {}, 0};
  if (step == 0) step = in.size();
  std::size_t pos = 0;
  while (pos < in.size()) {
    std::size_t used = 0;
    const auto piece = in.substr(pos, step);
    out.result = d.decode(piece, used, [&](std::string_view s) { out.data.append(s); });
    pos += used;
    out.consumed = pos;
    if (out.result != ChunkedDecoder::Result::need_more) break;
  }
  return out;
}
}  // namespace

TEST(Chunked, DecodesWholeMessage) {
  const auto o = decode_all("5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\nNEXT");
  EXPECT_EQ(o.result, ChunkedDecoder::Result::done);
  EXPECT_EQ(o.data, "hello world");
  EXPECT_EQ(o.consumed, std::string_view("5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n").size());
}

TEST(Chunked, DecodesByteByByte) {
  const auto o = decode_all("a\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n", 1);
  EXPECT_EQ(o.result, ChunkedDecoder::Result::done);
  EXPECT_EQ(o.data, "0123456789");
}

TEST(Chunked, RefusesInvalidSizes) {
  EXPECT_EQ(decode_all("x\r\n").result, ChunkedDecoder::Result::error);
  EXPECT_EQ(decode_all(" 5\r\nhello\r\n").result, ChunkedDecoder::Result::error);
  EXPECT_EQ(decode_all("5 \r\nhello\r\n").result, ChunkedDecoder::Result::error);
  EXPECT_EQ(decode_all("-5\r\nhello\r\n").result, ChunkedDecoder::Result::error);
  EXPECT_EQ(decode_all("0x5\r\nhello\r\n").result, ChunkedDecoder::Result::error);
  EXPECT_EQ(decode_all("fffffffffffffffff\r\n").result, ChunkedDecoder::Result::error);
}

TEST(Chunked, RefusesBareLfAndMissingCrlf) {
  EXPECT_EQ(decode_all("5\nhello\r\n0\r\n\r\n").result, ChunkedDecoder::Result::error);
  EXPECT_EQ(decode_all("5\r\nhelloX\r\n").result, ChunkedDecoder::Result::error);
  EXPECT_EQ(decode_all("0\r\n\n").result, ChunkedDecoder::Result::error);
}

TEST(Chunked, RefusesBadTrailers) {
  EXPECT_EQ(decode_all("0\r\n folded\r\n\r\n").result, ChunkedDecoder::Result::error);
  EXPECT_EQ(decode_all(std::string_view("0\r\nX: a\0\r\n\r\n", 11)).result,
            ChunkedDecoder::Result::error);
}

TEST(Chunked, CountsBodyBytes) {
  ChunkedDecoder d;
  std::size_t used = 0;
  d.decode("3\r\nabc\r\n4\r\n", used, [](std::string_view) {});
  EXPECT_EQ(d.body_bytes(), 7u);  // counted when a size line completes, before the data
}
