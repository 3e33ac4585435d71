// net/: the Asio layer under everything that does I/O (aliases, deadlines, the frame
// pool, TLS client contexts, resolve+connect).
// io.hpp: the Asio types every networking file uses. Streams are declared with the
// concrete io_context executor (no any_io_executor type erasure on the hot path) and
// completion tokens return error codes as values (no exceptions on the request path).
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

namespace gatehouse::net {

namespace asio = boost::asio;
using Executor = asio::io_context::executor_type;
template <class T = void>
using Task = asio::awaitable<T, Executor>;
inline constexpr auto use_task = asio::as_tuple(asio::use_awaitable_t<Executor>{});
// The same results, awaited as an operation: no coroutine frame of Asio's own per call
// (use_awaitable makes one). For the request path's socket operations.
inline constexpr auto use_op = asio::as_tuple(asio::deferred);
using Tcp = asio::ip::tcp;
using Socket = asio::basic_stream_socket<Tcp, Executor>;
using Acceptor = asio::basic_socket_acceptor<Tcp, Executor>;
using Resolver = asio::ip::basic_resolver<Tcp, Executor>;
using Clock = std::chrono::steady_clock;
using Timer = asio::basic_waitable_timer<Clock, asio::wait_traits<Clock>, Executor>;
using TlsStream = asio::ssl::stream<Socket>;
using error_code = boost::system::error_code;

}  // namespace gatehouse::net
