// Connection: the reads of request bodies and the writes of answers, under the client
// deadline (idle_timeout).
#include "server/connection.hpp"

#include <algorithm>

#include "server/request_context.hpp"

namespace gatehouse::server {

namespace asio = boost::asio;
using net::Clock;

namespace {
// Writes up to this size go out under one idle_timeout deadline (every proxied piece
// does); larger ones in slices, each with its own.
constexpr std::size_t kWholeWrite = 256 * 1024;
constexpr std::size_t kSlice = 64 * 1024;

std::size_t total_of(std::span<const asio::const_buffer> buffers) {
  std::size_t total = 0;
  for (const auto& b : buffers) total += b.size();
  return total;
}
}  // namespace

net::Task<std::tuple<net::error_code, std::size_t>> Connection::read_body(char* data,
                                                                        std::size_t size) {
  client_deadline_->arm(Clock::now() + limits().idle_timeout, &stream_.socket());
  auto [ec, n] = co_await stream_.read_some(data, size);
  client_deadline_->disarm();
  co_return std::tuple{ec, n};
}

net::Task<net::error_code> Connection::write(std::span<const asio::const_buffer> buffers) {
  std::size_t done = 0;
  net::error_code ec;
  if (write_now(buffers, ec, done)) co_return ec;
  ec = co_await write_rest(buffers, done);
  co_return ec;
}

net::Task<net::error_code> Connection::write(std::string_view data) {
  const asio::const_buffer b(data.data(), data.size());
  const auto ec = co_await write(std::span<const asio::const_buffer>(&b, 1));
  co_return ec;
}

// Mostly the socket takes it all at once: no deadline, no wait.
bool Connection::write_now(std::span<const asio::const_buffer> buffers, net::error_code& ec,
                           std::size_t& done) {
  if (total_of(buffers) > kWholeWrite) {  // in slices, by write_rest
    done = 0;
    return false;
  }
  const bool ended = stream_.try_write(buffers, done, ec);
  ctx().bytes_out += done;
  return ended;
}

net::Task<net::error_code> Connection::write_rest(std::span<const asio::const_buffer> buffers,
                                                  std::size_t done) {
  if (total_of(buffers) > kWholeWrite) {  // write_now sent nothing of it
    const auto ec = co_await write_sliced(buffers);
    co_return ec;
  }
  // The rest of a write of at most kWholeWrite bytes (all of it for TLS or a full socket).
  client_deadline_->arm(Clock::now() + limits().idle_timeout, &stream_.socket());
  auto [ec, more] = co_await stream_.write_rest(buffers, done);
  client_deadline_->disarm();
  ctx().bytes_out += more;
  co_return ec;
}

// A large answer of the gateway's own (stats of many endpoints, metrics, a long error
// list) goes out in slices, and its deadline moves with progress: what counts is the
// bytes the client has acknowledged, not the writes (with megabytes of socket buffer a
// write can wait longer than idle_timeout for a client that reads steadily). A client
// that acknowledges nothing for idle_timeout is cut off.
net::Task<net::error_code> Connection::write_sliced(std::span<const asio::const_buffer> buffers) {
  const config::Limits limits = this->limits();
  // (Signed: the queue may still hold bytes of an earlier answer on this connection.)
  std::int64_t written = 0;
  for (const auto& b : buffers) {
    const char* data = static_cast<const char*>(b.data());
    for (std::size_t off = 0; off < b.size();) {
      const std::size_t len = std::min(kSlice, b.size() - off);
      const std::int64_t acked_before = written - stream_.unsent_bytes();
      client_deadline_->arm(Clock::now() + limits.idle_timeout, &stream_.socket());
      const asio::const_buffer slice(data + off, len);
      auto [ec, n] = co_await stream_.write(std::span<const asio::const_buffer>(&slice, 1));
      const bool timed_out = client_deadline_->fired();
      client_deadline_->disarm();
      ctx().bytes_out += n;
      written += static_cast<std::int64_t>(n);
      off += n;
      if (ec && !(timed_out && written - stream_.unsent_bytes() > acked_before)) co_return ec;
    }
  }
  co_return net::error_code{};
}

}  // namespace gatehouse::server
