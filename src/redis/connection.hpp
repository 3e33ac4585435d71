// redis/: one connection to Redis: TCP (or TLS for rediss://), AUTH and SELECT when
// opened, then one command at a time, each within a deadline.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "net/deadline.hpp"
#include "net/io.hpp"
#include "redis/resp.hpp"

namespace gatehouse::redis {

namespace asio = boost::asio;

// What went wrong, as gatehouse_redis_errors_total{kind} counts it.
enum class Error { none, connect, timeout, protocol };
std::string_view to_string(Error e);  // "connect" | "timeout" | "protocol"

class Connection {
 public:
  explicit Connection(net::Executor ex);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects (TLS handshake with `tls` for rediss://), then AUTH and SELECT as the
  // settings say, all before `deadline`. `why` receives a short reason for the log.
  net::Task<Error> open(const config::Redis& cfg, asio::ssl::context* tls,
                        net::Clock::time_point deadline, std::string& why);
  // Sends one command and reads its reply. An error reply is a reply (Error::none); a
  // connection that failed or timed out is no longer usable().
  net::Task<Error> call(std::span<const std::string_view> args, Reply& reply,
                        net::Clock::time_point deadline);
  bool usable() const { return usable_; }
  std::uint64_t generation = 0;  // the pool's settings generation it was opened with
  // The pool's count of open connections, decremented when this one is destroyed.
  std::shared_ptr<std::size_t> census;

 private:
  template <class Stream>
  net::Task<Error> exchange(Stream& stream, Reply& reply);
  net::Socket& lowest();

  net::Executor ex_;
  net::Socket socket_;                    // plain connections
  std::unique_ptr<net::TlsStream> tls_;   // rediss:// (owns its own socket)
  std::shared_ptr<net::Deadline> guard_;
  std::string out_;
  std::string in_;
  bool usable_ = false;
};

}  // namespace gatehouse::redis
