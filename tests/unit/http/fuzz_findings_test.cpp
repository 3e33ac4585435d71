// Inputs found by tests/fuzz/request_fuzz.cpp, kept as regression tests.
#include <gtest/gtest.h>

#include <string>

#include "http/message.hpp"

using namespace gatehouse::http;

namespace {
ParseStatus parse(std::string_view raw, HeadError& err) {
  RequestHead head;
  return parse_request(raw, HeadLimits{}, head, err);
}
}  // namespace

// A request line with a bare CR in it was refused while its LF had not arrived yet,
// but once the LF was there the parser waited for the rest of the head (and the client
// got 408 after header_timeout instead of 400): the verdict depended on how the bytes
// were split. SPEC 4: a complete request line that is not `method SP request-target
// SP HTTP/1.x` -> 400 at once.
TEST(HttpFuzzFindings, CompleteRequestLineWithBareCrIsRefusedAtOnce) {
  const std::string line = std::string("GET /f HTTP/1.1\r\x08") + "\r\n";
  HeadError err = HeadError::none;
  ASSERT_EQ(parse(line.substr(0, line.size() - 2), err), ParseStatus::error);  // before the LF
  EXPECT_EQ(err, HeadError::malformed);
  for (const std::string& buf : {line, line + "Host: h\r\n", line + "Host: h\r\n\r\n"}) {
    err = HeadError::none;
    EXPECT_EQ(parse(buf, err), ParseStatus::error) << buf;
    EXPECT_EQ(err, HeadError::malformed) << buf;
  }
}

// The same for a request line that is complete and invalid in other ways.
TEST(HttpFuzzFindings, CompleteInvalidRequestLineIsRefusedBeforeTheHeadEnds) {
  for (const char* line : {"GET /x\r\n", "GARBAGE\r\n", "GET  /x HTTP/1.1\r\n", "GET /x HTTP/2\r\n"}) {
    HeadError err = HeadError::none;
    EXPECT_EQ(parse(line, err), ParseStatus::error) << line;
    EXPECT_EQ(err, HeadError::malformed) << line;
  }
}
