// net/: whether a socket has something for its next read, without waiting.
#pragma once

#include <sys/socket.h>

#include <cerrno>

#include "net/io.hpp"

namespace gatehouse::net {

// True when a read would not block: bytes waiting, EOF, or an error (a reset) for the
// read to report. With edge-triggered epoll, readiness that came while nothing waited is
// not reported again, so a wait for readability must look first.
inline bool readable_now(Socket& socket) {
  char byte;
  const ssize_t r = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

}  // namespace gatehouse::net
