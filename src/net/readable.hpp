// net/: whether a socket has something for its next read, without waiting.
#pragma once

#include <sys/socket.h>

#include <cerrno>

#include "net/io.hpp"
#include "net/read_ready.hpp"

namespace gatehouse::net {

// True when a read would not block: bytes waiting, EOF, or an error (a reset) for the
// read to report. With edge-triggered epoll, readiness that came while nothing waited is
// not reported again, so a wait for readability must look first.
// A socket found empty is marked so (net/read_ready.hpp): its next read waits for the
// next edge without trying first. A socket already known empty (a short read or an
// earlier look since its last edge, and watched for its FIN) is not looked at: the
// pooled upstream connection, asked right before each request goes out, costs no system
// call. What the event loop has not collected yet is not seen then; it is found by the
// response read, as it would be had it arrived just after a look.
inline bool readable_now(Socket& socket) {
  if (known_drained(socket)) return false;
  char byte;
  const ssize_t r = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return true;
  if (errno != EINTR)
    if (bool* ready = read_ready_flag(socket)) *ready = false;
  return false;
}

}  // namespace gatehouse::net
