// server/: one downstream (client) connection: the stream, the read buffer and head
// reading, the keep-alive loop, parking and trimming an idle connection, drain, the
// client deadline, and the reads and writes towards the client. Each request whose head
// it has read runs through the Pipeline, which is lent to it by the worker while it reads
// and serves requests: a parked connection holds its socket, its deadline, its frame and
// this object's own few hundred bytes.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "config/config.hpp"
#include "net/deadline.hpp"
#include "net/frame_pool.hpp"
#include "net/io.hpp"
#include "net/stream.hpp"
#include "net/tls_server.hpp"
#include "server/pipeline.hpp"
#include "server/request_context.hpp"
#include "server/worker.hpp"

namespace gatehouse::server {

class Tunnel;

// The bytes read from the client: the current request's head and body bytes, then
// whatever the client pipelined after it.
struct ReadBuffer {
  std::vector<char> data;
  std::size_t len = 0;   // bytes held
  std::size_t used = 0;  // bytes that belong to the current request
  std::string_view unused() const { return {data.data() + used, len - used}; }
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // `peer`: the client's address, as accept returned it.
  Connection(Worker& worker, net::Socket socket, const net::Tcp::endpoint& peer);
  ~Connection();

  // Serves the connection. While it is parked (idle, without buffers) no coroutine of
  // it is alive: run() returns, and wake() runs it again when the client sends more.
  net::Task<void> run();
  // run() in a coroutine of its own, with an unexpected exception logged: at accept, and
  // again after each wake().
  void resume();
  // Drain: a connection waiting for its next request is closed now.
  void close_if_idle();
  // Idle keep-alive connections give their buffers back (called every 100 ms by the
  // worker): an idle connection then costs little more than its socket.
  // Returns true when it asked this connection to trim.
  bool trim_if_idle(net::Clock::time_point now);

  // A WebSocket tunnel (tunnel.hpp) over this connection: the drain closes it once
  // shutdown_grace is over.
  void set_tunnel(Tunnel* t) { tunnel_ = t; }
  void close_tunnel();

  // For the pipeline.
  ReadBuffer& input() { return in_; }
  net::Stream& stream() { return stream_; }
  bool is_tls() const { return stream_.is_tls(); }
  // The client deadline, for waits on the client's socket outside read_body() and
  // write() (the splice relay arms it for idle_timeout around each one, as they do).
  net::Deadline& client_deadline() { return *client_deadline_; }
  // The verified client certificate's subject (mTLS, RFC 4514); "" without one.
  const std::string& client_cert_subject() const { return client_cert_subject_; }
  const std::string& client_ip() const { return client_ip_; }
  // Writes everything, under the client deadline (idle_timeout; a large answer in
  // slices whose deadline follows the client's progress). Counts bytes_out.
  net::Task<net::error_code> write(std::span<const boost::asio::const_buffer> buffers);
  net::Task<net::error_code> write(std::string_view data);
  // write() in two steps, for the request path's answers, which mostly need only the
  // first (no coroutine frame, no deadline): write_now sends what the socket takes now
  // and returns true when that ended the write (all sent, or an error in `ec`);
  // otherwise write_rest(buffers, done) writes the rest; write() is the two together.
  bool write_now(std::span<const boost::asio::const_buffer> buffers, net::error_code& ec,
                 std::size_t& done);
  net::Task<net::error_code> write_rest(std::span<const boost::asio::const_buffer> buffers,
                                        std::size_t done);
  // Reads some request-body bytes within idle_timeout.
  net::Task<std::tuple<net::error_code, std::size_t>> read_body(char* data, std::size_t size);
  // The limits of the live config (a copy: a reload may retire the snapshot meanwhile).
  config::Limits limits();

 private:
  // A write of more than kWholeWrite bytes (connection_io.cpp), in slices.
  net::Task<net::error_code> write_sliced(std::span<const boost::asio::const_buffer> buffers);
  // With `tls` on listen (SPEC 12): the server handshake within header_timeout, or, for
  // a plain-HTTP request, its 400. False: the connection ends.
  net::Task<bool> start_tls_if_configured();
  net::Task<bool> read_head();
  // A head that could not be read (malformed, too slow): answered, logged.
  net::Task<void> refuse_head(const proxy::GatewayError& e);
  // Gives the read buffer and the pipeline back to the worker.
  void trim();
  // The request state, from the worker's spares (or new), and back.
  void take_pipeline();
  void give_pipeline();
  RequestContext& ctx() { return pipeline_->context(); }
  // Gives the buffers and the pipeline back and waits for the client's next bytes with a
  // plain completion handler (an operation of about a hundred bytes instead of run()'s,
  // co_spawn's and Asio's awaitable frames): true, run() returns. False: bytes (or EOF)
  // are there already, the buffers are taken again and run() goes on. The deadline is
  // armed.
  bool park();
  void wait_readable();
  // The parked connection's wait ended: the client sent more (its buffers are taken
  // again), or the idle deadline, drain or the peer ended it (run() only closes).
  void wake(const net::error_code& ec);
  void unpark();
  // At the end: true when nothing the client sent can be left unread, so closing needs
  // no half-close first.
  bool client_done_sending();

  Worker& w_;
  net::Stream stream_;
  std::shared_ptr<net::Deadline> client_deadline_;
  std::string client_ip_;
  ReadBuffer in_;
  PipelinePtr pipeline_;  // null while parked
  std::uint64_t requests_ = 0;  // requests handled on this connection
  bool idle_ = false;
  bool trim_requested_ = false;
  bool parked_ = false;         // read_head() returned to wait without buffers
  bool started_ = false;        // run() has taken the connection past the TLS handshake
  net::Clock::time_point idle_since_{};
  bool closed_ = false;
  bool peer_closed_ = false;    // a read met the client's end or a reset
  Tunnel* tunnel_ = nullptr;
  std::shared_ptr<net::ServerTls> tls_;  // the certificates this connection was served with
  std::string client_cert_subject_;
};

}  // namespace gatehouse::server

template <>
inline constexpr bool gatehouse::net::pooled_coroutines<gatehouse::server::Connection> = true;
