// The server tests' stand-in for a network connection: a connected pair of local stream
// sockets, both ends as the TCP socket type the gateway uses (its TCP-only options fail
// harmlessly on them).
#pragma once

#include <sys/socket.h>

#include <stdexcept>
#include <utility>

#include "net/io.hpp"

namespace gatehouse::server::testing {

inline std::pair<net::Socket, net::Socket> socket_pair(boost::asio::io_context& ctx) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    throw std::runtime_error("socketpair");
  net::Socket a(ctx.get_executor()), b(ctx.get_executor());
  a.assign(net::Tcp::v4(), fds[0]);
  b.assign(net::Tcp::v4(), fds[1]);
  return {std::move(a), std::move(b)};
}

}  // namespace gatehouse::server::testing
