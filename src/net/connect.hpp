// net/: opening a client connection: resolve, connect (each address in turn), and the
// TLS handshake, all within one deadline. The upstream pool and the health checker
// both open their connections here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "net/deadline.hpp"
#include "net/io.hpp"
#include "net/stream.hpp"
#include "net/tls_client.hpp"

namespace gatehouse::net {

enum class ConnectError { none, refused, timeout, tls, resolve };

// Short names for logs: "refused", "timeout", "tls", "resolve".
std::string_view to_string(ConnectError e);

// Resolves `host` (an IP literal needs no lookup) with `resolver` and connects `socket`
// to the first address that accepts, with TCP_NODELAY. `why` (optional) receives the
// underlying error.
Task<ConnectError> connect(Resolver& resolver, Socket& socket, const std::string& host,
                           std::uint16_t port, Clock::time_point deadline,
                           error_code* why = nullptr);

// The client handshake on a Stream whose TLS was started, with prepare_client().
Task<ConnectError> handshake(Stream& stream, const std::string& server_name, bool verify,
                             Clock::time_point deadline, error_code* why = nullptr);

// The client handshake on an established `stream` (asio::ssl::stream over a socket or a
// socket reference), after prepare_client().
template <class TlsStreamType>
Task<ConnectError> handshake(TlsStreamType& stream, const std::string& server_name, bool verify,
                             Clock::time_point deadline, error_code* why = nullptr) {
  prepare_client(stream.native_handle(), server_name, verify);
  auto guard = std::make_shared<Deadline>(stream.get_executor());
  guard->arm(deadline, &stream.lowest_layer());
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::client, use_task);
  const bool timed_out = guard->fired();
  guard->stop();
  if (why) *why = ec;
  if (!ec) co_return ConnectError::none;
  co_return timed_out ? ConnectError::timeout : ConnectError::tls;
}

}  // namespace gatehouse::net
