// net/: the transport under a Stream's OpenSSL connection: a BIO that writes records
// straight to the socket and reads them from bytes the Stream has already received.
//
// OpenSSL reading the socket itself costs two read(2) calls per record (its 5-byte
// header, then the rest), and when it runs dry the Stream has to wait with
// async_wait, which Asio implements as an epoll_ctl(2) every time. Here the Stream
// receives with async_read_some instead, as much as has arrived (several records, a
// pipelined request), in one system call and without re-arming epoll; OpenSSL takes
// its records from that buffer with a memcpy. The buffer is lent by a per-thread pool
// only while it holds bytes or a receive is pending, so a connection waiting outside
// the Stream (parked) holds none, like OpenSSL's released record buffers.
//
// Writes go to the socket as OpenSSL makes them, except while holding (below).
#pragma once

#include <cstddef>
#include <string>

struct bio_st;

namespace gatehouse::net {

class TlsIo {
 public:
  // The read-ahead sizes: a small one for requests and answers that come a few hundred
  // bytes at a time, a large one (a whole maximum-size record, header and AEAD
  // overhead included) once a receive has filled the small one.
  static constexpr std::size_t kSmall = 4 * 1024;
  static constexpr std::size_t kLarge = 5 + 16 * 1024 + 256;

  explicit TlsIo(int fd) : fd_(fd) {}
  ~TlsIo();
  TlsIo(const TlsIo&) = delete;
  TlsIo& operator=(const TlsIo&) = delete;

  // A new BIO over this object (null when out of memory); SSL_set_bio takes it.
  bio_st* make_bio();

  // Bytes received that OpenSSL has not taken yet.
  std::size_t buffered() const { return end_ - begin_; }
  // Where the next receive goes: a lent buffer, empty (only called when OpenSSL has
  // taken everything), of the size the last receive called for.
  char* receive_buffer(std::size_t& size);
  // The receive into receive_buffer() brought `n` bytes.
  void received(std::size_t n);
  // The peer closed its sending side: OpenSSL sees the end once the buffer is empty.
  void set_eof() { eof_ = true; }
  // Gives the buffer back to the pool if OpenSSL has taken all of it.
  void release_if_empty();

  // The errno of the send that failed (0: none); OpenSSL reports it as SSL_ERROR_SYSCALL.
  int write_error() const { return write_error_; }

  // Holding: the records OpenSSL writes are kept, in order, instead of sent, until
  // send_held() sends them (a server handshake's session tickets then leave with the
  // first answer instead of in two sends of their own). Holding goes on until
  // stop_holding(), which needs everything held to have been sent.
  void hold() { holding_ = true; }
  bool holding() const { return holding_; }
  bool has_held() const { return held_sent_ < held_.size(); }
  // Sends what is held, as far as the socket takes it: 0 when all of it is sent,
  // EAGAIN when the rest must wait for the socket, else the send's errno.
  int send_held();
  void stop_holding();

 private:
  static int bio_read(bio_st* b, char* out, std::size_t len, std::size_t* got);
  static int bio_write(bio_st* b, const char* in, std::size_t len, std::size_t* put);
  static long bio_ctrl(bio_st* b, int cmd, long num, void* ptr);

  int fd_;
  char* buf_ = nullptr;
  std::size_t size_ = 0;  // of buf_
  std::size_t begin_ = 0, end_ = 0;
  bool large_ = false;  // the next buffer lent is the large one
  bool eof_ = false;
  int write_error_ = 0;
  bool holding_ = false;
  std::string held_;
  std::size_t held_sent_ = 0;  // of held_
};

}  // namespace gatehouse::net
