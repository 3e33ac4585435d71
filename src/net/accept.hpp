// net/: taking connections off a listening socket with accept4(2), as Asio sockets.
//
// Asio's async_accept costs three system calls per connection that are not needed: it
// accepts a blocking socket and puts it in non-blocking mode (ioctl FIONBIO) on its
// first operation, the peer's address is a getpeername(2) of its own, and because an
// accepted socket is adopted with assign() (which must assume the descriptor may be
// shared), closing it removes it from epoll first (epoll_ctl DEL). accept4 with
// SOCK_NONBLOCK returns the peer's address and a non-blocking descriptor nobody else
// holds; adopt_accepted() tells the Asio socket both, so none of the three is made.
// (TCP_NODELAY needs no call either: Linux copies it from the listening socket.)
#pragma once

#include <sys/socket.h>

#include <optional>

#include "net/io.hpp"

namespace gatehouse::net {

struct Accepted {
  Socket socket;
  Tcp::endpoint peer;
};

// One accept4 on `acceptor` (which must be in non-blocking mode). The connection, or
// nullopt with `ec` set: would_block when none is waiting; no_descriptors,
// no_buffer_space or no_memory when the process or the system is out of them; other
// errors (a connection reset while it waited) concern that connection only.
std::optional<Accepted> accept_one(Acceptor& acceptor, error_code& ec);

// Makes `fd` (a connected, non-blocking TCP socket that only this process refers to:
// the result of accept4 with SOCK_NONBLOCK) the descriptor of `socket`, with Asio told
// that it is non-blocking already and that closing it removes it from epoll. Registers
// it with the event loop (epoll_ctl ADD). False with `ec` set if it cannot.
bool adopt_accepted(Socket& socket, const Tcp& protocol, int fd, error_code& ec);

}  // namespace gatehouse::net
