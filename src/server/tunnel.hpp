// server/: the byte tunnel a connection becomes after a 101 to a WebSocket handshake
// (SPEC 15). Bytes flow both ways unchanged until both sides have closed; each
// half-close is passed on. Each direction has one relay buffer and reads again only
// once its last piece is written, so a peer that stops reading stops the other side's
// reads: the tunnel never holds more than its two buffers, whatever the peers send.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "net/deadline.hpp"
#include "net/frame_pool.hpp"
#include "net/io.hpp"
#include "net/stream.hpp"

namespace gatehouse::server {

class Tunnel {
 public:
  // Per direction: large enough for a TLS record, small enough that 10,000 tunnels fit.
  static constexpr std::size_t kBuffer = 16 * 1024;

  enum class End : std::uint8_t { closed, idle, shutdown, error };

  // `idle`: no byte either way for this long closes the tunnel.
  Tunnel(net::Stream& client, net::Stream& upstream, net::Clock::duration idle);
  ~Tunnel();
  Tunnel(const Tunnel&) = delete;
  Tunnel& operator=(const Tunnel&) = delete;

  // Relays until both directions have ended. `client_ahead`: bytes the client sent
  // after its handshake, which go upstream first.
  net::Task<void> run(std::string_view client_ahead);
  // Ends both directions now (the drain after shutdown_grace).
  void close(End why);

  std::uint64_t bytes_up() const { return up_.bytes; }      // client -> upstream
  std::uint64_t bytes_down() const { return down_.bytes; }  // upstream -> client
  End end() const { return end_; }
  static std::string_view to_string(End e);

  // The idle deadline's target: cancelling the tunnel closes it.
  void cancel() { close(End::idle); }

 private:
  // One side: its stream, whether its reads have ended, and whether a close_notify
  // towards it waits for that (a TLS shutdown is not started beside a pending read).
  struct Side {
    net::Stream& stream;
    bool read_done = false;
    bool close_notify_pending = false;
  };
  struct Direction {
    Side& from;
    Side& to;
    char* buffer;
    std::uint64_t bytes = 0;
  };

  net::Task<void> pump(Direction& d);
  // Passes on a half-close: FIN for TCP, close_notify for TLS.
  net::Task<void> shut_write(Side& s);
  void activity();

  std::unique_ptr<char[]> buffers_;  // both directions' relay buffers, one allocation
  Side client_;
  Side upstream_;
  Direction up_;
  Direction down_;
  net::Clock::duration idle_;
  std::shared_ptr<net::Deadline> deadline_;
  End end_ = End::closed;
  bool aborted_ = false;
};

}  // namespace gatehouse::server

template <>
inline constexpr bool gatehouse::net::pooled_coroutines<gatehouse::server::Tunnel> = true;
