#include "net/accept.hpp"

#include <boost/version.hpp>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace gatehouse::net {

namespace {

// What Asio knows of a descriptor lives in its socket implementation's state bits
// (boost/asio/detail/socket_ops.hpp), which it offers no way to set without the system
// call each stands for. They are reached through the protected implementation member.
static_assert(BOOST_VERSION == 108100,
              "adopt_accepted() sets Asio 1.81's socket state bits: check them for this Boost");
namespace socket_ops = asio::detail::socket_ops;

struct SocketState : Socket {
  static socket_ops::state_type& of(Socket& s) {
    return (s.*&SocketState::impl_).get_implementation().state_;
  }
};

}  // namespace

bool adopt_accepted(Socket& socket, const Tcp& protocol, int fd, error_code& ec) {
  socket.assign(protocol, fd, ec);
  if (ec) return false;
  auto& state = SocketState::of(socket);
  // Non-blocking already (SOCK_NONBLOCK): the first asynchronous operation does not set it.
  state |= socket_ops::internal_non_blocking;
  // Not a duplicate of anyone's descriptor: close(2) takes it out of epoll by itself.
  state &= ~socket_ops::possible_dup;
  return true;
}

std::optional<Accepted> accept_one(Acceptor& acceptor, error_code& ec) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  const int fd = ::accept4(acceptor.native_handle(), reinterpret_cast<sockaddr*>(&addr), &len,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) {
    ec.assign(errno, boost::system::system_category());
    return std::nullopt;
  }
  Accepted a{Socket(acceptor.get_executor()), Tcp::endpoint()};
  if (len <= a.peer.capacity()) {
    std::memcpy(a.peer.data(), &addr, len);
    a.peer.resize(len);
  }
  if (!adopt_accepted(a.socket, a.peer.protocol(), fd, ec)) {
    ::close(fd);
    return std::nullopt;
  }
  ec = {};
  return a;
}

}  // namespace gatehouse::net
