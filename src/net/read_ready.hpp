// net/read_ready.hpp: whether a read on a socket may find bytes, as the event loop knows
// it, so a read that would only meet EAGAIN is not made.
//
// Asio's reactor (epoll, edge-triggered) tries every read at once ("speculatively")
// unless the last one found the end of the stream. A read that is bound to fail costs
// a system call: on a proxied keep-alive exchange, the upstream's response read right
// after the request is sent on a pooled connection. nginx keeps a ready flag per
// connection instead, cleared when a read finds the socket empty and set by the next
// readiness event. Asio keeps that very flag for its reactor (a descriptor's "try
// speculative" bit, set by every readable event it receives) but clears it only at end
// of stream. read_ready_flag() hands it out, so net::readable_now() can clear it when
// its look (recv MSG_PEEK) finds the receive queue empty: any byte, FIN or error
// arriving after that look raises a new edge, reported by a later epoll_wait, which
// sets the flag again. With the flag clear, Asio queues a read for the next edge
// without a system call. The pooled upstream connection is looked at right before each
// request goes out (proxy::UpstreamPool::acquire), so its response read is never tried
// before the response can be there.
//
// Only a look that found nothing clears it. A short read is no such proof: a FIN that
// arrived behind the bytes is still pending (and its edge already reported), so a read
// waiting for the next edge would wait for one that never comes.
//
// The flag is Asio's private state, reached through the one access rule that allows it
// (an explicit instantiation may name a private member). It is only reached for the
// Asio release this was checked against (Boost 1.81's Asio 1.26, epoll reactor); any
// other build gets nullptr and reads as Asio does by itself.
#pragma once

#include <boost/asio/version.hpp>

#include "net/io.hpp"

#if BOOST_ASIO_VERSION == 102600 && defined(BOOST_ASIO_HAS_EPOLL) && \
    !defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT) && !defined(BOOST_ASIO_DISABLE_EPOLL)
#define GATEHOUSE_READ_READY_FLAG 1
#include <boost/asio/detail/epoll_reactor.hpp>
#endif

namespace gatehouse::net {

#ifdef GATEHOUSE_READ_READY_FLAG
namespace read_ready_detail {

using Reactor = asio::detail::epoll_reactor;
using SocketImpl = asio::detail::io_object_impl<asio::detail::reactive_socket_service<Tcp>, Executor>;
using BasicSocket = asio::basic_socket<Tcp, Executor>;

// Each tag names one private member's pointer type; the explicit instantiation below
// defines get() for it.
struct ImplTag {
  using type = SocketImpl BasicSocket::*;
  friend type get(ImplTag);
};
struct SpeculativeTag {
  using type = bool (Reactor::descriptor_state::*)[Reactor::max_ops];
  friend type get(SpeculativeTag);
};
template <class Tag, typename Tag::type Member>
struct Expose {
  friend typename Tag::type get(Tag) { return Member; }
};
template struct Expose<ImplTag, &BasicSocket::impl_>;
template struct Expose<SpeculativeTag, &Reactor::descriptor_state::try_speculative_>;

}  // namespace read_ready_detail

// The socket's read-ready flag, or nullptr (not open, or no such flag in this build).
inline bool* read_ready_flag(Socket& socket) {
  using namespace read_ready_detail;
  BasicSocket& base = socket;
  auto* state = (base.*get(ImplTag{})).get_implementation().reactor_data_;
  if (state == nullptr) return nullptr;
  return &((*state).*get(SpeculativeTag{}))[Reactor::read_op];
}
#else
inline bool* read_ready_flag(Socket&) { return nullptr; }
#endif

}  // namespace gatehouse::net
