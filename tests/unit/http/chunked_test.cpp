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

// RFC 9112 7.1.1: chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )
TEST(ChunkExtensions, GrammarAccepted) {
  for (std::string_view in :
       {"2;a\r\nok\r\n0\r\n\r\n", "2;a=b\r\nok\r\n0\r\n\r\n", "2;a=b;c\r\nok\r\n0\r\n\r\n",
        "2 ; a = b\r\nok\r\n0\r\n\r\n", "2;a=\"x y\"\r\nok\r\n0\r\n\r\n",
        "2;a=\"q\\\"uote\\\\\"\r\nok\r\n0\r\n\r\n", "2;a=\"\"\r\nok\r\n0;end\r\n\r\n",
        "2;a=\"x\";b\r\nok\r\n0\r\n\r\n", "2\t;a\r\nok\r\n0\r\n\r\n"}) {
    for (std::size_t step : {std::size_t{0}, std::size_t{1}}) {
      const auto o = decode_all(in, step);
      EXPECT_EQ(o.result, ChunkedDecoder::Result::done) << in;
      EXPECT_EQ(o.data, "ok") << in;
    }
  }
}

TEST(ChunkExtensions, OutsideTheGrammarRefused) {
  for (std::string_view in :
       {"2;\r\nok\r\n0\r\n\r\n",           // ";" with no name
        "2;;a\r\nok\r\n0\r\n\r\n",         // empty name
        "2;=b\r\nok\r\n0\r\n\r\n",         // no name before "="
        "2;a=\r\nok\r\n0\r\n\r\n",         // no value
        "2;a=\"x\r\nok\r\n0\r\n\r\n",      // unterminated quoted value
        "2;a=\"x\r\n\"\r\nok\r\n0\r\n\r\n",  // CR LF inside quotes
        "2;a b\r\nok\r\n0\r\n\r\n",        // two tokens
        "2;a \r\nok\r\n0\r\n\r\n",         // BWS before the CRLF
        "2 \r\nok\r\n0\r\n\r\n",           // BWS with no extension
        "2;a=b c\r\nok\r\n0\r\n\r\n",      // junk after a value
        "2;a=@\r\nok\r\n0\r\n\r\n",        // "@" is no token character
        "2;a=\"x\"y\r\nok\r\n0\r\n\r\n",   // junk after a quoted value
        "2;a=\"\\\x01\"\r\nok\r\n0\r\n\r\n",  // quoted-pair of a control
        "2;\xff\r\nok\r\n0\r\n\r\n"}) {    // obs-text is no token
    for (std::size_t step : {std::size_t{0}, std::size_t{1}}) {
      const auto o = decode_all(in, step);
      EXPECT_EQ(o.result, ChunkedDecoder::Result::error) << in;
      EXPECT_TRUE(o.data.empty()) << in;
    }
  }
}

TEST(ChunkExtensions, LengthIsBounded) {
  const std::string ok = "2;a=" + std::string(ChunkedDecoder::kMaxExtensionBytes - 10, 'x') +
                         "\r\nok\r\n0\r\n\r\n";
  EXPECT_EQ(decode_all(ok).result, ChunkedDecoder::Result::done);
  const std::string long_ext =
      "2;a=" + std::string(ChunkedDecoder::kMaxExtensionBytes, 'x') + "\r\nok\r\n0\r\n\r\n";
  EXPECT_EQ(decode_all(long_ext).result, ChunkedDecoder::Result::error);
}
