// The RESP codec: commands as arrays of bulk strings; replies parsed incrementally.
#include <gtest/gtest.h>

#include <vector>

#include "redis/resp.hpp"

namespace gatehouse::redis {
namespace {

TEST(Resp, EncodesCommands) {
  std::string out;
  const std::string_view args[] = {"GET", "a\r\nb"};
  encode_command(args, out);
  EXPECT_EQ(out, "*2\r\n$3\r\nGET\r\n$4\r\na\r\nb\r\n");
}

TEST(Resp, ParsesTheScriptAnswerInAnySplit) {
  const std::string wire = "*4\r\n:1\r\n:49\r\n:20000\r\n:0\r\n";
  for (std::size_t cut = 0; cut < wire.size(); ++cut) {
    Reply r;
    std::size_t used = 0;
    EXPECT_EQ(parse_reply(std::string_view(wire).substr(0, cut), r, used), ParseStatus::incomplete) << cut;
  }
  Reply r;
  std::size_t used = 0;
  ASSERT_EQ(parse_reply(wire, r, used), ParseStatus::complete);
  EXPECT_EQ(used, wire.size());
  ASSERT_EQ(r.type, Reply::Type::array);
  ASSERT_EQ(r.elements.size(), 4u);
  EXPECT_EQ(r.elements[2].integer, 20000);
}

TEST(Resp, ErrorsNilAndBulk) {
  Reply r;
  std::size_t used = 0;
  ASSERT_EQ(parse_reply("-NOSCRIPT No matching script\r\n", r, used), ParseStatus::complete);
  EXPECT_EQ(r.type, Reply::Type::error);
  EXPECT_EQ(r.text, "NOSCRIPT No matching script");
  ASSERT_EQ(parse_reply("$-1\r\n", r, used), ParseStatus::complete);
  EXPECT_EQ(r.type, Reply::Type::nil);
  ASSERT_EQ(parse_reply("$5\r\nhello\r\n", r, used), ParseStatus::complete);
  EXPECT_EQ(r.text, "hello");
}

TEST(Resp, RefusesMalformedAndOversized) {
  Reply r;
  std::size_t used = 0;
  EXPECT_EQ(parse_reply("?x\r\n", r, used), ParseStatus::bad);
  EXPECT_EQ(parse_reply(":12a\r\n", r, used), ParseStatus::bad);
  EXPECT_EQ(parse_reply("$3\r\nabcd\r\n", r, used), ParseStatus::bad);
  EXPECT_EQ(parse_reply("$999999999\r\n", r, used), ParseStatus::bad);
  EXPECT_EQ(parse_reply("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", r, used), ParseStatus::bad);
  EXPECT_EQ(parse_reply(std::string(5000, 'x'), r, used), ParseStatus::bad);
}

}  // namespace
}  // namespace gatehouse::redis
