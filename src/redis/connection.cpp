#include "redis/connection.hpp"

#include <boost/asio/write.hpp>

#include "net/connect.hpp"

namespace gatehouse::redis {

std::string_view to_string(Error e) {
  switch (e) {
    case Error::none: return "none";
    case Error::connect: return "connect";
    case Error::timeout: return "timeout";
    case Error::protocol: return "protocol";
  }
  return "protocol";
}

Connection::Connection(net::Executor ex)
    : ex_(ex), socket_(ex), guard_(std::make_shared<net::Deadline>(ex)) {}

Connection::~Connection() {
  guard_->stop();
  if (census) --*census;
}

net::Socket& Connection::lowest() { return tls_ ? tls_->next_layer() : socket_; }

net::Task<Error> Connection::open(const config::Redis& cfg, asio::ssl::context* tls,
                                  net::Clock::time_point deadline, std::string& why) {
  usable_ = false;
  if (cfg.tls) {
    if (!tls) {
      why = "no TLS context";
      co_return Error::connect;
    }
    tls_ = std::make_unique<net::TlsStream>(ex_, *tls);
  }
  net::Resolver resolver(ex_);
  net::error_code ec;
  const auto cerr = co_await net::connect(resolver, lowest(), cfg.host, cfg.port, deadline, &ec);
  if (cerr != net::ConnectError::none) {
    why = std::string(net::to_string(cerr)) + (ec ? ": " + ec.message() : "");
    co_return cerr == net::ConnectError::timeout ? Error::timeout : Error::connect;
  }
  if (tls_) {
    const std::string name = cfg.tls_settings.server_name.value_or(cfg.host);
    const auto herr = co_await net::handshake(*tls_, name, cfg.tls_settings.verify, deadline, &ec);
    if (herr != net::ConnectError::none) {
      why = "TLS handshake: " + ec.message();
      co_return herr == net::ConnectError::timeout ? Error::timeout : Error::connect;
    }
  }
  usable_ = true;
  Reply reply;
  if (!cfg.password.empty()) {
    const std::string_view args[] = {"AUTH", cfg.password};
    const Error e = co_await call(args, reply, deadline);
    if (e != Error::none) co_return e;
    if (reply.type == Reply::Type::error) {
      usable_ = false;
      why = "AUTH refused: " + reply.text.substr(0, 80);
      co_return Error::connect;
    }
  }
  if (cfg.db != 0) {
    const std::string db = std::to_string(cfg.db);
    const std::string_view args[] = {"SELECT", db};
    const Error e = co_await call(args, reply, deadline);
    if (e != Error::none) co_return e;
    if (reply.type == Reply::Type::error) {
      usable_ = false;
      why = "SELECT refused: " + reply.text.substr(0, 80);
      co_return Error::protocol;
    }
  }
  co_return Error::none;
}

template <class Stream>
net::Task<Error> Connection::exchange(Stream& stream, Reply& reply) {
  auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(out_), net::use_task);
  if (wec) co_return Error::connect;
  in_.clear();
  char buf[512];
  for (;;) {
    std::size_t used = 0;
    const auto st = parse_reply(in_, reply, used);
    if (st == ParseStatus::complete) {
      // One command at a time: anything after the reply is out of step.
      co_return used == in_.size() ? Error::none : Error::protocol;
    }
    if (st == ParseStatus::bad) co_return Error::protocol;
    auto [rec, n] = co_await stream.async_read_some(asio::buffer(buf), net::use_task);
    if (rec) co_return Error::connect;
    in_.append(buf, n);
  }
}

net::Task<Error> Connection::call(std::span<const std::string_view> args, Reply& reply,
                                  net::Clock::time_point deadline) {
  if (!usable_) co_return Error::connect;
  out_.clear();
  encode_command(args, out_);
  guard_->arm(deadline, &lowest());
  Error e = Error::none;
  if (tls_) e = co_await exchange(*tls_, reply);
  else e = co_await exchange(socket_, reply);
  guard_->disarm();
  if (guard_->fired()) e = Error::timeout;
  if (e != Error::none) {
    usable_ = false;
    net::error_code ignored;
    lowest().close(ignored);
  }
  co_return e;
}

}  // namespace gatehouse::redis
