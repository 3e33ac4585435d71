#include "net/splice.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace gatehouse::net {

namespace {

constexpr unsigned kFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
constexpr std::size_t kMaxHeld = PipePool::kPipeSize;

error_code last_error() { return error_code(errno, boost::system::system_category()); }

// The caller's exchange deadline has passed (an end without an idle limit).
bool expired(const SpliceEnd& end) {
  return end.deadline && end.idle == Clock::duration::zero() && end.deadline->fired();
}

// splice(2) reads and writes without waiting only on a non-blocking socket (the flag
// covers the pipe); Asio's own flag is set at its first operation, this makes sure.
bool make_non_blocking(Socket& s) {
  if (s.non_blocking()) return true;
  error_code ec;
  s.non_blocking(true, ec);
  return !ec;
}

}  // namespace

SplicePipe& SplicePipe::operator=(SplicePipe&& o) noexcept {
  if (this != &o) {
    close();
    rd_ = o.rd_;
    wr_ = o.wr_;
    held_ = o.held_;
    o.rd_ = o.wr_ = -1;
    o.held_ = 0;
  }
  return *this;
}

void SplicePipe::close() {
  if (rd_ >= 0) ::close(rd_);
  if (wr_ >= 0) ::close(wr_);
  rd_ = wr_ = -1;
  held_ = 0;
}

Task<SpliceResult> SplicePipe::relay(SpliceEnd from, SpliceEnd to, std::uint64_t count) {
  SpliceResult r;
  if (!make_non_blocking(from.socket) || !make_non_blocking(to.socket)) {
    r.ec = asio::error::operation_not_supported;
    co_return r;
  }
  const int src = from.socket.native_handle();
  const int dst = to.socket.native_handle();
  std::uint64_t left = count;
  for (;;) {
    if (expired(from) || expired(to)) {
      r.ec = asio::error::timed_out;
      r.source_failed = expired(from);
      co_return r;
    }
    bool moved = false;
    bool sink_blocked = false;
    // At most kMaxHeld in the pipe: a slot holds a whole socket buffer fragment, so
    // a pipe's slots alone would let a stalled sink pin megabytes of the kernel's memory.
    if (left > 0 && held_ < kMaxHeld) {
      const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(left, kMaxHeld - held_));
      const ssize_t n = ::splice(src, nullptr, wr_, nullptr, want, kFlags);
      if (n > 0) {
        held_ += static_cast<std::size_t>(n);
        left -= static_cast<std::uint64_t>(n);
        r.taken += static_cast<std::uint64_t>(n);
        moved = true;
      } else if (n == 0) {
        r.ec = asio::error::eof;  // the source ended inside the body
        r.source_failed = true;
        co_return r;
      } else if (errno == EINTR) {
        moved = true;
      } else if (errno != EAGAIN) {
        // EAGAIN: the source has nothing now, or the pipe's slots are full (then the
        // sink's turn below frees room).
        r.ec = last_error();
        r.source_failed = true;
        co_return r;
      }
    }
    if (held_ > 0) {
      const ssize_t n = ::splice(rd_, nullptr, dst, nullptr, held_, kFlags);
      if (n > 0) {
        held_ -= static_cast<std::size_t>(n);
        r.delivered += static_cast<std::uint64_t>(n);
        moved = true;
      } else if (n < 0 && errno == EINTR) {
        moved = true;
      } else if (n < 0 && errno != EAGAIN) {
        r.ec = last_error();
        co_return r;
      } else {
        sink_blocked = true;
      }
    }
    if (left == 0 && held_ == 0) co_return r;
    if (moved) continue;
    // Nothing moved: wait for the sink when the pipe holds bytes it refused, else for
    // the source. Each wait follows an EAGAIN of this very round, with no poll of the
    // event loop in between, so the next readiness edge reaches it.
    SpliceEnd& end = sink_blocked ? to : from;
    const bool timed = end.deadline && end.idle > Clock::duration::zero();
    if (timed) end.deadline->arm(Clock::now() + end.idle, &end.socket);
    auto [ec] = co_await end.socket.async_wait(
        sink_blocked ? Socket::wait_write : Socket::wait_read, use_op);
    if (timed) end.deadline->disarm();
    if (ec) {
      r.ec = ec;
      r.source_failed = !sink_blocked;
      co_return r;
    }
  }
}

PipePool& PipePool::this_thread() {
  thread_local PipePool pool;
  return pool;
}

SplicePipe PipePool::take() {
  if (!free_.empty()) {
    SplicePipe p = std::move(free_.back());
    free_.pop_back();
    low_water_ = std::min(low_water_, free_.size());
    ++in_use_;
    return p;
  }
  low_water_ = 0;
  if (in_use_ >= max_) return {};
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return {};
  // Larger than the default 64 KiB where allowed (an unprivileged user past its pipe
  // quota keeps the default): fewer rounds per large body.
  (void)::fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(size_));
  ++in_use_;
  return SplicePipe(fds[0], fds[1]);
}

void PipePool::give(SplicePipe pipe) {
  if (!pipe) return;
  if (in_use_ > 0) --in_use_;
  if (pipe.held() > 0) return;  // closed here: its bytes belong to a relay that failed
  free_.push_back(std::move(pipe));
}

void PipePool::sweep() {
  free_.erase(free_.begin(), free_.begin() + static_cast<std::ptrdiff_t>(low_water_));
  low_water_ = free_.size();
}

}  // namespace gatehouse::net
