// Stream's TLS branch byte for byte: a Stream on one end of a socket pair, its
// coroutines run by an io_context on this thread, and on the other end an OpenSSL client
// over memory BIOs, so each test decides how the client's records reach the socket
// (several in one write, one in several pieces, the end with or without close_notify)
// and what has arrived before the server reads.
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <cerrno>
#include <algorithm>
#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <thread>

#include "net/stream.hpp"
#include "net/tls_server.hpp"
#include "test_certs.hpp"

namespace gatehouse::net {
namespace {

using namespace std::chrono_literals;
using testing::KeyType;
using testing::make_cert;
using testing::TestCert;

// The client: OpenSSL over memory BIOs; the test moves the bytes.
class Client {
 public:
  explicit Client(int fd) : fd_(fd) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    ssl_ = SSL_new(ctx_);
    in_ = BIO_new(BIO_s_mem());
    out_ = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl_, in_, out_);
    SSL_set_connect_state(ssl_);
    SSL_set_tlsext_host_name(ssl_, "localhost");
  }
  ~Client() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    ::close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  int fd() const { return fd_; }
  SSL* ssl() { return ssl_; }
  // The records OpenSSL made since the last call.
  std::string produced() {
    std::string out;
    char buf[4096];
    for (int n; (n = BIO_read(out_, buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    return out;
  }
  std::string seal(const std::string& plain) {
    EXPECT_EQ(SSL_write(ssl_, plain.data(), static_cast<int>(plain.size())), static_cast<int>(plain.size()));
    return produced();
  }
  void send_raw(const std::string& bytes) {
    for (std::size_t off = 0; off < bytes.size();) {
      const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      ASSERT_GT(n, 0);
      off += static_cast<std::size_t>(n);
    }
  }
  // What the socket holds now, as it came.
  std::string receive_raw() {
    std::string out;
    char buf[16384];
    for (ssize_t n; (n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    return out;
  }
  void feed(const std::string& raw) { BIO_write(in_, raw.data(), static_cast<int>(raw.size())); }
  // Decrypts what has been fed (session tickets are taken in silently).
  std::string open() {
    std::string out;
    char buf[16384];
    for (int n; (n = SSL_read(ssl_, buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    ERR_clear_error();
    return out;
  }

 private:
  int fd_;
  SSL_CTX* ctx_;
  SSL* ssl_;
  BIO* in_;
  BIO* out_;
};

struct Read {
  bool done = false;
  error_code ec;
  std::string data;
};

class StreamTls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cert_ = new TestCert(make_cert(KeyType::ec, {"localhost"})); }
  static void TearDownTestSuite() {
    delete cert_;
    cert_ = nullptr;
  }

  void SetUp() override {
    ServerTls::Settings s;
    s.certificates = {{"ec.pem", cert_->cert_pem, cert_->key_pem}};
    std::string error;
    tls_ = ServerTls::create(s, error);
    ASSERT_TRUE(tls_) << error;
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    Socket socket(ctx_.get_executor());
    socket.assign(Tcp::v4(), fds[0]);
    server_ = std::make_unique<Stream>(std::move(socket));
    client_ = std::make_unique<Client>(fds[1]);
    ASSERT_TRUE(server_->start_tls(tls_->context()));
  }
  void TearDown() override {
    server_->close();
    ctx_.restart();
    ctx_.run_for(100ms);  // lets any read still pending see the close
  }

  // Runs the server's handlers until `done` holds; false after 5 s.
  template <class Pred>
  bool run_until(Pred done) {
    const auto deadline = Clock::now() + 5s;
    while (!done()) {
      if (Clock::now() > deadline) return false;
      if (ctx_.stopped()) ctx_.restart();
      ctx_.run_one_for(2ms);
    }
    return true;
  }
  // Runs the server's handlers for `d`: for what must not happen.
  void run_for(std::chrono::milliseconds d) {
    ctx_.restart();
    ctx_.run_for(d);
  }

  // The handshake, the client's bytes going over as they are made; `request` is sealed
  // and sent in the same write as the client's Finished, as browsers do.
  void handshake(const std::string& request = {}) {
    bool server_done = false;
    error_code server_ec;
    asio::co_spawn(ctx_, [&]() -> Task<void> {
      const auto ec = co_await server_->handshake(/*server=*/true);
      server_ec = ec;
      server_done = true;
    }, asio::detached);
    bool client_done = false;
    ASSERT_TRUE(run_until([&] {
      if (!client_done) {
        client_->feed(client_->receive_raw());
        const int r = SSL_do_handshake(client_->ssl());
        if (r == 1) client_done = true;
        else EXPECT_EQ(SSL_get_error(client_->ssl(), r), SSL_ERROR_WANT_READ);
        std::string flight = client_->produced();
        if (client_done && !request.empty()) flight += client_->seal(request);
        client_->send_raw(flight);
      }
      return client_done && server_done;
    }));
    ASSERT_FALSE(server_ec) << server_ec.message();
  }

  // A read_some of the server's; its result lives as long as the test (a read still
  // pending when a check fails completes at TearDown).
  Read& start_read(std::size_t size = 64 * 1024) {
    Read& r = reads_.emplace_back();
    asio::co_spawn(ctx_, [this, &r, size]() -> Task<void> {
      std::string buf(size, '\0');
      auto [ec, n] = co_await server_->read_some(buf.data(), buf.size());
      r.ec = ec;
      r.data.assign(buf.data(), n);
      r.done = true;
    }, asio::detached);
    return r;
  }
  std::string read_exactly(std::size_t total) {
    std::string out;
    while (out.size() < total) {
      Read& r = start_read();
      EXPECT_TRUE(run_until([&] { return r.done; }));
      EXPECT_FALSE(r.ec) << r.ec.message();
      if (!r.done || r.ec) break;
      out += r.data;
    }
    return out;
  }
  // Nothing left in the server's socket: what the stream has, it has received.
  void handshake_from_bytes_received_first(std::size_t given);
  // One write of the server's, run to its end.
  void write_and_run(const std::string& data) {
    bool done = false;
    asio::co_spawn(ctx_, [&]() -> Task<void> {
      const asio::const_buffer b = asio::buffer(data);
      auto [ec, n] = co_await server_->write(std::span<const asio::const_buffer>(&b, 1));
      EXPECT_FALSE(ec) << ec.message();
      EXPECT_EQ(n, data.size());
      done = true;
    }, asio::detached);
    ASSERT_TRUE(run_until([&] { return done; }));
  }
  bool server_socket_empty() {
    char byte;
    return ::recv(server_->socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0 &&
           (errno == EAGAIN || errno == EWOULDBLOCK);
  }

  static TestCert* cert_;
  asio::io_context ctx_;
  std::shared_ptr<ServerTls> tls_;
  std::unique_ptr<Stream> server_;
  std::unique_ptr<Client> client_;
  std::deque<Read> reads_;
};
TestCert* StreamTls::cert_ = nullptr;

// As the listener starts TLS: the first bytes of the client's hello were received before
// the TLS layer existed and are handed to start_tls; the rest comes through the socket.
// `given`: how many of the hello's bytes are handed over (the rest is sent).
void StreamTls::handshake_from_bytes_received_first(std::size_t given) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  Socket socket(ctx_.get_executor());
  socket.assign(Tcp::v4(), fds[0]);
  server_->close();
  server_ = std::make_unique<Stream>(std::move(socket));
  client_ = std::make_unique<Client>(fds[1]);
  ASSERT_EQ(SSL_get_error(client_->ssl(), SSL_do_handshake(client_->ssl())), SSL_ERROR_WANT_READ);
  const std::string hello = client_->produced();
  ASSERT_GT(hello.size(), 100u);
  given = std::min(given, hello.size());
  ASSERT_TRUE(server_->start_tls(tls_->context(), std::string_view(hello).substr(0, given)));
  client_->send_raw(hello.substr(given));
  handshake("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(read_exactly(27), "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
}

TEST_F(StreamTls, HandshakeFromTheFirstByteReceivedBeforeStartTls) {
  handshake_from_bytes_received_first(1);
}

TEST_F(StreamTls, HandshakeFromAWholeHelloReceivedBeforeStartTls) {
  handshake_from_bytes_received_first(Stream::kFirstBytes);
}

TEST_F(StreamTls, StartTlsRefusesMoreReceivedBytesThanItTakes) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  Socket socket(ctx_.get_executor());
  socket.assign(Tcp::v4(), fds[0]);
  Stream stream(std::move(socket));
  const std::string too_many(Stream::kFirstBytes + 1, '\x16');
  EXPECT_FALSE(stream.start_tls(tls_->context(), too_many));
  EXPECT_FALSE(stream.is_tls());
  ::close(fds[1]);
}

TEST_F(StreamTls, ARequestSentWithTheClientFinishedIsHeldAndReadWithoutWaiting) {
  handshake("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
  // One receive took the Finished and the request: the socket is empty, and the stream
  // says it has input (a connection parked on socket readability would hang otherwise).
  EXPECT_TRUE(server_socket_empty());
  EXPECT_TRUE(server_->has_buffered_input());
  EXPECT_TRUE(server_->readable_now());
  Read& r = start_read();
  ASSERT_TRUE(run_until([&] { return r.done; }));
  EXPECT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.data, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
  EXPECT_FALSE(server_->has_buffered_input());
}

TEST_F(StreamTls, PipelinedRecordsInOneWriteAreReadOneByOneFromTheStream) {
  handshake();
  std::string records = client_->seal("GET /a HTTP/1.1\r\n\r\n");  // one by one: in order
  records += client_->seal("GET /b HT");
  records += client_->seal("TP/1.1\r\n\r\n");
  client_->send_raw(records);
  Read& first = start_read();
  ASSERT_TRUE(run_until([&] { return first.done; }));
  EXPECT_FALSE(first.ec) << first.ec.message();
  EXPECT_EQ(first.data, "GET /a HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(server_socket_empty());
  EXPECT_TRUE(server_->has_buffered_input());
  // The second request comes in two records, both already received.
  const std::string second = "GET /b HTTP/1.1\r\n\r\n";
  EXPECT_EQ(read_exactly(second.size()), second);
  EXPECT_FALSE(server_->has_buffered_input());
}

TEST_F(StreamTls, ARecordArrivingInPiecesIsReadWhenWhole) {
  handshake();
  const std::string body(3000, 'x');
  const std::string record = client_->seal(body);
  Read& r = start_read();
  client_->send_raw(record.substr(0, 3));  // part of the record header
  run_for(20ms);
  EXPECT_FALSE(r.done);
  client_->send_raw(record.substr(3, 500));
  run_for(20ms);
  EXPECT_FALSE(r.done);
  client_->send_raw(record.substr(503));
  ASSERT_TRUE(run_until([&] { return r.done; }));
  EXPECT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.data, body);
}

TEST_F(StreamTls, BulkDataInFullRecordsArrivesIntact) {
  handshake();
  std::string body(256 * 1024, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i * 7 % 26);
  std::string records;
  for (std::size_t off = 0; off < body.size(); off += 16384) records += client_->seal(body.substr(off, 16384));
  bool sent = false;
  std::thread sender([&] {
    client_->send_raw(records);  // more than the socket holds: sent as the server reads
    sent = true;
  });
  EXPECT_EQ(read_exactly(body.size()), body);
  sender.join();
  EXPECT_TRUE(sent);
}

TEST_F(StreamTls, CloseNotifyThenFinIsTheEndOfTheStream) {
  handshake();
  const std::string last = client_->seal("last");
  SSL_shutdown(client_->ssl());
  client_->send_raw(last + client_->produced());
  ::shutdown(client_->fd(), SHUT_WR);
  EXPECT_EQ(read_exactly(4), "last");
  Read& end = start_read();
  ASSERT_TRUE(run_until([&] { return end.done; }));
  EXPECT_EQ(end.ec, asio::error::eof) << end.ec.message();
}

TEST_F(StreamTls, FinWithoutCloseNotifyIsATruncation) {
  handshake();
  const std::string record = client_->seal("cut short");
  client_->send_raw(record.substr(0, record.size() - 4));  // and the rest never comes
  ::shutdown(client_->fd(), SHUT_WR);
  Read& r = start_read();
  ASSERT_TRUE(run_until([&] { return r.done; }));
  EXPECT_EQ(r.ec, asio::ssl::error::stream_truncated) << r.ec.message();
}

// Records in `raw`, counted by their headers.
std::size_t record_count(const std::string& raw) {
  std::size_t records = 0;
  for (std::size_t off = 0; off + 5 <= raw.size(); ++records)
    off += 5 + ((static_cast<unsigned char>(raw[off + 3]) << 8) | static_cast<unsigned char>(raw[off + 4]));
  return records;
}

TEST_F(StreamTls, TheSessionTicketsGoOutWithTheFirstAnswerInOneSend) {
  handshake("GET / HTTP/1.1\r\n\r\n");
  // The handshake is over and the request is in, but nothing more has been sent: the
  // tickets wait for the answer.
  EXPECT_EQ(client_->receive_raw(), "");
  EXPECT_EQ(read_exactly(18), "GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(client_->receive_raw(), "");
  write_and_run("HTTP/1.1 200 OK\r\n\r\n");
  const std::string raw = client_->receive_raw();
  // Two records (the one ticket of a full handshake, the answer) in what one receive took.
  EXPECT_EQ(record_count(raw), 2u);
  client_->feed(raw);
  EXPECT_EQ(client_->open(), "HTTP/1.1 200 OK\r\n\r\n");
  SSL_SESSION* session = SSL_get1_session(client_->ssl());
  ASSERT_NE(session, nullptr);
  EXPECT_EQ(SSL_SESSION_is_resumable(session), 1);  // a ticket came
  SSL_SESSION_free(session);
}

TEST_F(StreamTls, TheLastAnswerLeavesWithTheCloseNotifyInOneSend) {
  handshake("GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(read_exactly(18), "GET / HTTP/1.0\r\n\r\n");
  server_->last_write_next();
  write_and_run("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(client_->receive_raw(), "");  // kept for the close_notify
  bool closed = false;
  asio::co_spawn(ctx_, [&]() -> Task<void> {
    co_await server_->send_close_notify();
    closed = true;
  }, asio::detached);
  ASSERT_TRUE(run_until([&] { return closed; }));
  const std::string raw = client_->receive_raw();
  // The ticket, the answer and the close_notify alert.
  EXPECT_EQ(record_count(raw), 3u);
  client_->feed(raw);
  EXPECT_EQ(client_->open(), "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
  EXPECT_NE(SSL_get_shutdown(client_->ssl()) & SSL_RECEIVED_SHUTDOWN, 0);
}

TEST_F(StreamTls, ALastAnswerOfMoreThanOneRecordGoesOutAsItIsWritten) {
  handshake();
  server_->last_write_next();
  const std::string answer(40 * 1024, 'a');
  write_and_run(answer);
  client_->feed(client_->receive_raw());
  EXPECT_EQ(client_->open(), answer);  // all of it without the close_notify
  EXPECT_EQ(SSL_get_shutdown(client_->ssl()) & SSL_RECEIVED_SHUTDOWN, 0);
}

TEST_F(StreamTls, AKeptLastAnswerGoesOutWhenTheStreamIsClosed) {
  handshake();
  server_->last_write_next();
  write_and_run("bye");
  EXPECT_EQ(client_->receive_raw(), "");
  server_->close();
  client_->feed(client_->receive_raw());
  EXPECT_EQ(client_->open(), "bye");
}

TEST_F(StreamTls, TheServersOrderPicksAes128UnderTls13) {
  handshake();
  // The client offered OpenSSL's default order (AES-256 with SHA-384 first).
  EXPECT_STREQ(SSL_get_version(client_->ssl()), "TLSv1.3");
  EXPECT_STREQ(SSL_CIPHER_get_name(SSL_get_current_cipher(client_->ssl())), "TLS_AES_128_GCM_SHA256");
}

TEST_F(StreamTls, TheSessionTicketsAreSentBeforeWaitingForTheClient) {
  handshake();
  EXPECT_EQ(client_->receive_raw(), "");
  Read& r = start_read();  // nothing to read: the stream waits, after sending what it held
  run_for(20ms);
  EXPECT_FALSE(r.done);
  client_->feed(client_->receive_raw());
  EXPECT_EQ(client_->open(), "");
  SSL_SESSION* session = SSL_get1_session(client_->ssl());
  ASSERT_NE(session, nullptr);
  EXPECT_EQ(SSL_SESSION_is_resumable(session), 1);
  SSL_SESSION_free(session);
  client_->send_raw(client_->seal("next"));
  ASSERT_TRUE(run_until([&] { return r.done; }));
  EXPECT_EQ(r.data, "next");
}

TEST_F(StreamTls, AHeadAndBodyGoOutAsOneRecordAlsoAfterWaitingForTheSocket) {
  handshake();
  // A first answer takes the session tickets with it.
  write_and_run("first");
  client_->feed(client_->receive_raw());
  EXPECT_EQ(client_->open(), "first");
  // Fill the server's socket so the write must wait for the client to read.
  const std::string filler(4096, 'f');
  std::size_t stuffed = 0;
  for (ssize_t n; (n = ::send(server_->socket().native_handle(), filler.data(), filler.size(),
                              MSG_DONTWAIT | MSG_NOSIGNAL)) > 0;)
    stuffed += static_cast<std::size_t>(n);
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n";
  const std::string body(5000, 'b');
  bool written = false;
  error_code write_ec;
  asio::co_spawn(ctx_, [&]() -> Task<void> {
    const asio::const_buffer parts[] = {asio::buffer(head), asio::buffer(body)};
    auto [ec, n] = co_await server_->write(parts);
    write_ec = ec;
    EXPECT_EQ(n, head.size() + body.size());
    written = true;
  }, asio::detached);
  run_for(20ms);
  EXPECT_FALSE(written);  // waiting for room
  std::string raw;
  ASSERT_TRUE(run_until([&] {
    raw += client_->receive_raw();
    return written;
  }));
  EXPECT_FALSE(write_ec) << write_ec.message();
  raw += client_->receive_raw();
  ASSERT_GT(raw.size(), stuffed);
  const std::string records = raw.substr(stuffed);
  // One application-data record: its header's length covers all that came.
  ASSERT_GE(records.size(), 5u);
  EXPECT_EQ(static_cast<unsigned char>(records[0]), 23);
  const std::size_t len = (static_cast<unsigned char>(records[3]) << 8) | static_cast<unsigned char>(records[4]);
  EXPECT_EQ(len + 5, records.size());
  client_->feed(records);
  EXPECT_EQ(client_->open(), head + body);
}

}  // namespace
}  // namespace gatehouse::net
