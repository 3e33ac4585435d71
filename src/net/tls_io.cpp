#include "net/tls_io.hpp"
#include "net/pooling.hpp"

#include <openssl/bio.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <new>
#include <string>
#include <vector>

namespace gatehouse::net {

namespace {

char* allocate(bool large) {
  return static_cast<char*>(::operator new(large ? TlsIo::kLarge : TlsIo::kSmall));
}

// This thread's unused read-ahead buffers, per size. Bounded: after a load peak the
// surplus goes back to the allocator as it is returned.
class BufferPool {
 public:
  static constexpr std::size_t kKeep = 128;
  ~BufferPool();
  char* take(bool large) {
    auto& list = free_[large];
    if (!kPooling || list.empty()) return allocate(large);
    char* b = list.back();
    list.pop_back();
    return b;
  }
  void give(char* b, bool large);

 private:
  std::vector<char*> free_[2];
};

thread_local BufferPool pool;
// Trivially destructible, so it can be read after `pool` is gone (a stream destroyed
// while its thread or the process ends frees its buffer straight away).
thread_local bool pool_gone = false;

BufferPool::~BufferPool() {
  pool_gone = true;
  for (auto& list : free_)
    for (char* b : list) ::operator delete(b);
}

void BufferPool::give(char* b, bool large) {
  auto& list = free_[large];
  if (!kPooling || list.size() >= kKeep) {
    ::operator delete(b);
    return;
  }
  list.push_back(b);
}

void give_back(char* b, bool large) {
  if (pool_gone) ::operator delete(b);
  else pool.give(b, large);
}

BIO_METHOD* make_method(int (*read)(BIO*, char*, std::size_t, std::size_t*),
                        int (*write)(BIO*, const char*, std::size_t, std::size_t*),
                        long (*ctrl)(BIO*, int, long, void*)) {
  BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "gatehouse stream");
  if (!m) return nullptr;
  BIO_meth_set_read_ex(m, read);
  BIO_meth_set_write_ex(m, write);
  BIO_meth_set_ctrl(m, ctrl);
  BIO_meth_set_create(m, [](BIO* b) {
    BIO_set_init(b, 1);
    return 1;
  });
  return m;
}

}  // namespace

TlsIo::~TlsIo() {
  if (buf_) give_back(buf_, size_ == kLarge);
}

BIO* TlsIo::make_bio() {
  static BIO_METHOD* const method = make_method(bio_read, bio_write, bio_ctrl);
  if (!method) return nullptr;
  BIO* b = BIO_new(method);
  if (b) BIO_set_data(b, this);
  return b;
}

char* TlsIo::receive_buffer(std::size_t& size) {
  if (buf_ && (size_ == kLarge) != large_) release_if_empty();
  if (!buf_) {
    buf_ = pool_gone ? allocate(large_) : pool.take(large_);
    size_ = large_ ? kLarge : kSmall;
  }
  if (begin_ > 0) {  // not expected (OpenSSL asks for more only once it took all), but cheap
    std::memmove(buf_, buf_ + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  size = size_ - end_;
  return buf_ + end_;
}

void TlsIo::received(std::size_t n) {
  end_ += n;
  // A receive that filled its buffer had more behind it: bulk data (a body) is coming,
  // worth a whole record per system call. A large buffer only half used: back to small.
  large_ = end_ == size_ || (size_ == kLarge && n > kSmall);
}

void TlsIo::release_if_empty() {
  if (!buf_ || begin_ != end_) return;
  give_back(buf_, size_ == kLarge);
  buf_ = nullptr;
  size_ = begin_ = end_ = 0;
}

int TlsIo::bio_read(BIO* b, char* out, std::size_t len, std::size_t* got) {
  auto* self = static_cast<TlsIo*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  const std::size_t have = self->end_ - self->begin_;
  if (have == 0) {
    // Nothing yet: OpenSSL reports SSL_ERROR_WANT_READ and the Stream receives. After
    // the peer's FIN it is the end instead (BIO_eof), which OpenSSL reports as an
    // unexpected EOF unless a close_notify came first.
    if (!self->eof_) BIO_set_retry_read(b);
    *got = 0;
    return 0;
  }
  const std::size_t n = len < have ? len : have;
  std::memcpy(out, self->buf_ + self->begin_, n);
  self->begin_ += n;
  if (self->begin_ == self->end_) self->begin_ = self->end_ = 0;  // the next receive fills it all
  *got = n;
  return 1;
}

int TlsIo::send_held() {
  while (held_sent_ < held_.size()) {
    const ssize_t r = ::send(fd_, held_.data() + held_sent_, held_.size() - held_sent_,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno == EWOULDBLOCK ? EAGAIN : errno;
    }
    held_sent_ += static_cast<std::size_t>(r);
  }
  std::string().swap(held_);  // an idle connection keeps no buffer
  held_sent_ = 0;
  return 0;
}

void TlsIo::stop_holding() { holding_ = false; }

int TlsIo::bio_write(BIO* b, const char* in, std::size_t len, std::size_t* put) {
  auto* self = static_cast<TlsIo*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  *put = 0;
  if (self->holding_) {
    self->held_.append(in, len);
    *put = len;
    return 1;
  }
  const ssize_t r = ::send(self->fd_, in, len, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (r >= 0) {
    *put = static_cast<std::size_t>(r);
    return 1;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
    BIO_set_retry_write(b);
    return 0;
  }
  self->write_error_ = errno;
  return 0;
}

long TlsIo::bio_ctrl(BIO* b, int cmd, long, void*) {
  const auto* self = static_cast<const TlsIo*>(BIO_get_data(b));
  switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;  // every write is sent as it is made
    case BIO_CTRL_EOF: return self->eof_ && self->end_ == self->begin_;
    case BIO_CTRL_PENDING: return static_cast<long>(self->end_ - self->begin_);
    case BIO_CTRL_WPENDING: return 0;
    default: return 0;
  }
}

}  // namespace gatehouse::net
