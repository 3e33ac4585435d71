#include "net/connect.hpp"

#include <vector>

namespace gatehouse::net {

std::string_view to_string(ConnectError e) {
  switch (e) {
    case ConnectError::none: return "none";
    case ConnectError::refused: return "refused";
    case ConnectError::timeout: return "timeout";
    case ConnectError::tls: return "tls";
    case ConnectError::resolve: return "resolve";
  }
  return "refused";
}

Task<ConnectError> connect(Resolver& resolver, Socket& socket, const std::string& host,
                           std::uint16_t port, Clock::time_point deadline, error_code* why) {
  auto guard = std::make_shared<Deadline>(resolver.get_executor());
  std::vector<Tcp::endpoint> targets;
  error_code ec;
  const auto addr = asio::ip::make_address(host, ec);
  if (!ec) {
    targets.emplace_back(addr, port);
  } else {
    guard->arm(deadline, &resolver);
    auto [rec, results] = co_await resolver.async_resolve(host, std::to_string(port), use_task);
    guard->disarm();
    if (rec) {
      const bool timed_out = guard->fired();
      guard->stop();
      if (why) *why = rec;
      co_return timed_out ? ConnectError::timeout : ConnectError::resolve;
    }
    for (const auto& r : results) targets.push_back(r.endpoint());
  }

  error_code cec = asio::error::host_unreachable;
  for (const auto& target : targets) {
    error_code ignored;
    socket.close(ignored);
    // open() first so the deadline can cancel the connect itself.
    socket.open(target.protocol(), ignored);
    guard->arm(deadline, &socket);
    auto [e] = co_await socket.async_connect(target, use_task);
    cec = e;
    if (!cec) break;
    if (guard->fired()) break;
  }
  const bool timed_out = guard->fired();
  guard->stop();
  if (why) *why = cec;
  if (cec) co_return timed_out ? ConnectError::timeout : ConnectError::refused;
  socket.set_option(Tcp::no_delay(true), ec);
  co_return ConnectError::none;
}

Task<ConnectError> handshake(Stream& stream, const std::string& server_name, bool verify,
                             Clock::time_point deadline, error_code* why) {
  prepare_client(stream.ssl(), server_name, verify);
  auto guard = std::make_shared<Deadline>(stream.socket().get_executor());
  guard->arm(deadline, &stream.socket());
  const auto ec = co_await stream.handshake(/*server=*/false);
  const bool timed_out = guard->fired();
  guard->stop();
  if (why) *why = ec;
  if (!ec) co_return ConnectError::none;
  co_return timed_out ? ConnectError::timeout : ConnectError::tls;
}

}  // namespace gatehouse::net
