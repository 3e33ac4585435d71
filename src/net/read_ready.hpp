// net/read_ready.hpp: whether a read on a socket may find bytes, as the event loop knows
// it, so a read that would only meet EAGAIN is not made.
//
// Asio's reactor (epoll, edge-triggered) tries every read at once ("speculatively")
// unless the last one found the end of the stream. A read that is bound to fail costs
// a system call: on a proxied keep-alive exchange, the upstream's response read right
// after the request is sent, and the client's next request read right after the
// response. nginx keeps a ready flag per connection instead, cleared when a read finds
// the socket empty and set by the next readiness event. Asio keeps that very flag for
// its reactor (a descriptor's "try speculative" bit, set by every readable event it
// receives) but clears it only at end of stream. read_ready_flag() hands it out, so it
// can be cleared when the socket is known to be empty:
//
// - net::readable_now() clears it when its look (recv MSG_PEEK) finds the receive queue
//   empty: any byte, FIN or error arriving after that look raises a new edge, reported
//   by a later epoll_wait, which sets the flag again. With the flag clear, Asio queues a
//   read for the next edge without a system call.
// - mark_drained() clears it after a read that took fewer bytes than it asked for, which
//   leaves the receive queue empty, but only while the socket's epoll registration
//   watches for the peer's FIN (EPOLLRDHUP, as nginx registers it) and no event so far
//   has reported one (or a hang-up or an error). Without that, a short read is no proof:
//   a FIN that arrived behind the bytes is still pending, its edge already reported, and
//   a read waiting for the next edge would wait for one that never comes. The first
//   mark on a socket adds EPOLLRDHUP to its registration (one epoll_ctl per connection);
//   the modification reports again whatever is pending, so that mark may clear too.
//   From then on a FIN, even one behind bytes, is in the event that reports it, and the
//   descriptor keeps the last reported events (Asio's descriptor_state::task_result_).
//
// known_drained() tells that the flag is clear and the socket watched, so nothing can
// have arrived except what the event loop has not collected yet: the pooled upstream
// connection is handed out without a look (proxy::UpstreamPool::acquire), as nginx does.
//
// These are Asio's private state, reached through the one access rule that allows it
// (an explicit instantiation may name a private member). They are only reached for the
// Asio release this was checked against (Boost 1.81's Asio 1.26, epoll reactor); any
// other build gets nullptr / false and reads as Asio does by itself.
#pragma once

#include <boost/asio/version.hpp>

#include "net/io.hpp"

#if BOOST_ASIO_VERSION == 102600 && defined(BOOST_ASIO_HAS_EPOLL) && \
    !defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT) && !defined(BOOST_ASIO_DISABLE_EPOLL)
#define GATEHOUSE_READ_READY_FLAG 1
#include <sys/epoll.h>

#include <boost/asio/detail/epoll_reactor.hpp>
#endif

namespace gatehouse::net {

#ifdef GATEHOUSE_READ_READY_FLAG
namespace read_ready_detail {

using Reactor = asio::detail::epoll_reactor;
using State = Reactor::descriptor_state;
using SocketImpl = asio::detail::io_object_impl<asio::detail::reactive_socket_service<Tcp>, Executor>;
using BasicSocket = asio::basic_socket<Tcp, Executor>;

// Each tag names one private member's pointer type; the explicit instantiation below
// defines get() for it.
struct ImplTag {
  using type = SocketImpl BasicSocket::*;
  friend type get(ImplTag);
};
struct SpeculativeTag {
  using type = bool (State::*)[Reactor::max_ops];
  friend type get(SpeculativeTag);
};
struct RegisteredTag {
  using type = uint32_t State::*;
  friend type get(RegisteredTag);
};
struct ReactorTag {
  using type = Reactor* State::*;
  friend type get(ReactorTag);
};
struct EpollFdTag {
  using type = int Reactor::*;
  friend type get(EpollFdTag);
};
struct ReportedTag {  // the events last reported for the descriptor
  using type = unsigned int asio::detail::scheduler_operation::*;
  friend type get(ReportedTag);
};
template <class Tag, typename Tag::type Member>
struct Expose {
  friend typename Tag::type get(Tag) { return Member; }
};
template struct Expose<ImplTag, &BasicSocket::impl_>;
template struct Expose<SpeculativeTag, &State::try_speculative_>;
template struct Expose<RegisteredTag, &State::registered_events_>;
template struct Expose<ReactorTag, &State::reactor_>;
template struct Expose<EpollFdTag, &Reactor::epoll_fd_>;
template struct Expose<ReportedTag, &asio::detail::scheduler_operation::task_result_>;

inline State* state_of(Socket& socket) {
  BasicSocket& base = socket;
  return (base.*get(ImplTag{})).get_implementation().reactor_data_;
}

// An event that reported the peer's FIN, a hang-up or an error: a read must be tried.
inline bool fin_reported(State& state) {
  // descriptor_state derives privately from the operation that holds the events; the
  // cast notation is the one allowed to name an inaccessible base.
  auto& op = (asio::detail::scheduler_operation&)state;
  return (op.*get(ReportedTag{}) & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
}

}  // namespace read_ready_detail

// The socket's read-ready flag, or nullptr (not open, or no such flag in this build).
inline bool* read_ready_flag(Socket& socket) {
  using namespace read_ready_detail;
  State* state = state_of(socket);
  if (state == nullptr) return nullptr;
  return &(state->*get(SpeculativeTag{}))[Reactor::read_op];
}

// After a read that took fewer bytes than it asked for: clears the read-ready flag when
// no FIN can be pending unseen (see above). Costs one epoll_ctl the first time on a
// socket, nothing after.
inline void mark_drained(Socket& socket) {
  using namespace read_ready_detail;
  State* state = state_of(socket);
  if (state == nullptr) return;
  uint32_t& registered = state->*get(RegisteredTag{});
  if ((registered & EPOLLRDHUP) == 0) {
    if (registered == 0) return;  // not registered with the reactor
    epoll_event ev{};
    ev.events = registered | EPOLLRDHUP;
    ev.data.ptr = state;
    Reactor* reactor = state->*get(ReactorTag{});
    if (::epoll_ctl(reactor->*get(EpollFdTag{}), EPOLL_CTL_MOD, socket.native_handle(), &ev) != 0)
      return;
    registered = ev.events;
  } else if (fin_reported(*state)) {
    return;
  }
  (state->*get(SpeculativeTag{}))[Reactor::read_op] = false;
}

// True when the flag is clear on a socket watched for its FIN and no FIN, hang-up or
// error has been reported: nothing arrived that the event loop has collected. (Asio also
// clears the flag when a read meets the end of the stream; a socket that has read its
// end is not asked.)
inline bool known_drained(Socket& socket) {
  using namespace read_ready_detail;
  State* state = state_of(socket);
  return state != nullptr && !(state->*get(SpeculativeTag{}))[Reactor::read_op] &&
         (state->*get(RegisteredTag{}) & EPOLLRDHUP) != 0 && !fin_reported(*state);
}
#else
inline bool* read_ready_flag(Socket&) { return nullptr; }
inline void mark_drained(Socket&) {}
inline bool known_drained(Socket&) { return false; }
#endif

}  // namespace gatehouse::net
