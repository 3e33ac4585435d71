// net/: one byte stream, plain TCP or TLS over TCP: the upstream connections and the
// downstream (client) connections both read and write through it, so neither has a
// plain and a TLS copy of its I/O. The socket is the only file descriptor it exposes.
//
// TLS is OpenSSL over the socket (not asio::ssl::stream, which copies every byte through
// two 17 KiB buffers and a 34 KiB BIO pair per connection): records are written straight
// to the socket, and read from what one receive brought (net/tls_io.hpp); an OpenSSL
// call that wants more bytes receives them, one that cannot write waits for the socket,
// and it is tried again. With SSL_MODE_RELEASE_BUFFERS and the pooled read-ahead, a TLS
// connection that waits outside the stream holds no buffers at all.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <tuple>

#include "net/frame_pool.hpp"
#include "net/io.hpp"

struct ssl_st;

namespace gatehouse::net {

class TlsIo;

class Stream {
 public:
  explicit Stream(Executor ex) : socket_(ex) {}
  explicit Stream(Socket socket) : socket_(std::move(socket)) {}
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // The TCP socket under the stream (for connect, deadlines, readiness waits).
  Socket& socket() { return socket_; }
  bool is_tls() const { return ssl_ != nullptr; }
  ssl_st* ssl() { return ssl_.get(); }
  // The most start_tls takes as bytes already received.
  static constexpr std::size_t kFirstBytes = 4 * 1024;
  // Layers TLS from `ctx` over the (connected, non-blocking) socket; the handshake comes
  // next. `received`: bytes the caller has read from the socket already (the start of
  // the client's hello, at most kFirstBytes), which OpenSSL reads first. False when
  // OpenSSL cannot make the connection's state (out of memory).
  bool start_tls(asio::ssl::context& ctx, std::string_view received = {});
  // The TLS handshake, as the server or as the client (after net::prepare_client).
  Task<error_code> handshake(bool server);

  // Reads some bytes into `data`; returns the count (0 with an error). The end of a TLS
  // stream is asio::error::eof after close_notify, asio::ssl::error::stream_truncated
  // without one (as asio::ssl::stream reports them).
  Task<std::tuple<error_code, std::size_t>> read_some(char* data, std::size_t size);
  // Writes everything; returns the bytes written before an error too.
  Task<std::tuple<error_code, std::size_t>> write(std::span<const asio::const_buffer> buffers);
  // write() in two steps, for callers that mostly need only the first, which is no
  // coroutine: try_write sends what a plain socket takes now (one sendmsg of up to 8
  // parts, no wait) and returns true when that ended the write (all sent, or an error in
  // `ec`), `done` being the bytes sent; otherwise (TLS, more than 8 parts, a full socket)
  // write_rest(buffers, done) sends the rest and returns the bytes of that rest.
  bool try_write(std::span<const asio::const_buffer> buffers, std::size_t& done, error_code& ec);
  Task<std::tuple<error_code, std::size_t>> write_rest(std::span<const asio::const_buffer> buffers,
                                                       std::size_t done);
  // read_some of a plain stream in three steps, for the request path's hot reads, which
  // pay no coroutine frame of their own that way: read_now is the at-once part (true
  // when it ended the read: bytes in `n`, or EOF or an error in `ec`); otherwise the
  // caller awaits read_wait (the event loop's read) and passes its result to
  // read_waited, which marks the socket drained as socket_read does. Callers check
  // is_tls() first: a TLS stream reads through read_some.
  bool read_now(char* data, std::size_t size, error_code& ec, std::size_t& n);
  auto read_wait(char* data, std::size_t size) {
    write_waited_ = false;  // see socket_read
    return socket_.async_read_some(asio::buffer(data, size), use_op);
  }
  void read_waited(const error_code& ec, std::size_t n, std::size_t size);
  // What a plain stream already holds, without waiting (0 for TLS, or when nothing has
  // arrived, or on EOF or an error: the next read_some meets those).
  std::size_t try_read(char* data, std::size_t size);

  // From now on a read that takes fewer bytes than it asked for marks the socket drained
  // (net/read_ready.hpp), the first such read adding the FIN watch with one epoll_ctl:
  // for connections that live for more than one exchange.
  // watch_fin(false): reads and writes overlap from now on (a tunnel): no marks.
  void watch_fin(bool on = true) { watch_fin_ = on; }

  // Bytes inside the TLS layer that no read has taken yet (no system call).
  bool has_buffered_input();
  // True when a read would not block: bytes (in the TLS layer or the socket), EOF, or an
  // error for the read to report.
  bool readable_now();
  // Bytes written that the peer has not acknowledged yet (SIOCOUTQ).
  std::int64_t unsent_bytes();

  // TLS: sends close_notify (without waiting for the peer's), so a client reading to
  // the end sees a clean end rather than a truncation. Plain: nothing.
  Task<void> send_close_notify();
  // TLS: the next write is the connection's last answer, whole, and close_notify comes
  // next. A write of one record is then kept (with anything still held) and leaves with
  // the close_notify in one send, which close() follows with the FIN: the client reads
  // the answer and the end at once. A larger write goes out as it is made. A read, a
  // failure and every close send what is kept. Plain: nothing.
  void last_write_next() { last_write_ = tls_io_ != nullptr; }

  void cancel();
  // Half-closes the sending side, then closes: the peer sees the end of what was sent
  // (a FIN) before the reset that closing with unread bytes causes. For when the peer
  // may still be sending (an answer refusing a request, say).
  void shutdown_and_close();
  // Closes (a FIN when nothing unread is left, as the half-close would send).
  void close();

 private:
  enum class Op { handshake, read, write, shutdown };
  // One OpenSSL call, retried after waiting for the socket whenever it wants to read or
  // write; returns the bytes it moved.
  Task<std::tuple<error_code, std::size_t>> ssl_call(Op op, void* data, std::size_t size);
  // One OpenSSL call without waiting: SSL_ERROR_NONE, or what it reported.
  int ssl_once(Op op, void* data, std::size_t size, std::size_t& moved);
  // The error an OpenSSL call that failed for good reports (what it wrote, an alert,
  // is sent first as far as the socket takes it).
  error_code ssl_failure(int ssl_error);
  // A server handshake holds what it writes from its last flight on (net/tls_io.hpp):
  // send_held() sends it all, waiting for the socket if it must; release_held() then
  // ends the holding. The held session tickets thus go out with the first answer, or
  // before the stream waits for the client.
  Task<error_code> send_held();
  Task<error_code> release_held();
  Task<std::tuple<error_code, std::size_t>> tls_write(std::span<const asio::const_buffer> buffers);
  Task<std::tuple<error_code, std::size_t>> plain_write(std::span<const asio::const_buffer> buffers);
  Task<std::tuple<error_code, std::size_t>> plain_write_rest(
      std::span<const asio::const_buffer> buffers, std::size_t done);
  // Reads some bytes from the socket itself (plain data, or TLS records for OpenSSL).
  Task<std::tuple<error_code, std::size_t>> socket_read(char* data, std::size_t size);

  struct SslFree {
    void operator()(ssl_st* ssl) const;
  };
  struct TlsIoFree {
    void operator()(TlsIo* io) const;
  };
  static constexpr std::size_t kWriteParts = 8;  // the most try_write sends in one sendmsg
  Socket socket_;
  bool watch_fin_ = false;
  bool write_waited_ = false;  // a write waited for the socket (see socket_read)
  bool last_write_ = false;    // see last_write_next
  std::unique_ptr<TlsIo, TlsIoFree> tls_io_;  // outlives ssl_, whose BIO points to it
  std::unique_ptr<ssl_st, SslFree> ssl_;
};

}  // namespace gatehouse::net

// Reads and writes on the request path: their frames come from the per-thread pool.
template <>
inline constexpr bool gatehouse::net::pooled_coroutines<gatehouse::net::Stream> = true;
