// A failed try's GatewayError in retries.on terms (SPEC section 13).
#include <gtest/gtest.h>

#include "proxy/retry_cause.hpp"

namespace gatehouse::proxy {
namespace {

using balance::Failure;

TEST(RetryCause, ConnectFailuresReachedNothing) {
  for (auto err : {net::ConnectError::timeout, net::ConnectError::refused}) {
    const auto o = try_outcome(errors::connect_failed(err), {false, false, false});
    ASSERT_TRUE(o);
    EXPECT_EQ(o->failure, Failure::connect_failure);
    EXPECT_FALSE(o->reached_upstream);
    EXPECT_FALSE(o->response_started);
  }
}

TEST(RetryCause, AfterConnecting) {
  const TryProgress sent{true, true, false};
  auto o = try_outcome(errors::no_response(true, false, false), sent);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->failure, Failure::timeout);
  EXPECT_TRUE(o->reached_upstream);
  o = try_outcome(errors::no_response(false, false, true), sent);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->failure, Failure::reset);
  // Connected, but the request's first byte was never written.
  o = try_outcome(errors::no_response(false, false, false), {true, false, false});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->failure, Failure::reset);
  EXPECT_FALSE(o->reached_upstream);
  // Cut after the head was relayed: the response had started.
  o = try_outcome(errors::broken_response(), {true, true, true});
  ASSERT_TRUE(o);
  EXPECT_TRUE(o->response_started);
}

TEST(RetryCause, NotTheUpstreamsFailure) {
  const TryProgress p{true, true, false};
  EXPECT_FALSE(try_outcome(errors::client_gone(), p));
  EXPECT_FALSE(try_outcome(errors::body_too_large(true), p));
  EXPECT_FALSE(try_outcome(errors::bad_chunked_body(), p));
  EXPECT_FALSE(try_outcome(errors::internal(), p));
  EXPECT_FALSE(try_outcome(errors::draining(), p));
}

}  // namespace
}  // namespace gatehouse::proxy
