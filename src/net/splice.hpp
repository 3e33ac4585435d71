// net/: moving a known number of bytes from one plain socket to another inside the
// kernel: splice(2) from the source socket into a pipe and from the pipe into the sink,
// so a large body never passes through user space (nothing is copied for it, no relay
// buffer is touched). TLS streams cannot do this: their bytes must be decrypted.
//
// Pipes come from a per-thread pool. A pipe is lent for one relay and given back empty;
// one that still holds bytes (the sink failed with the body half-way through) is closed,
// never lent again, so no later relay can receive another's bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "net/deadline.hpp"
#include "net/frame_pool.hpp"
#include "net/io.hpp"

namespace gatehouse::net {

// One end of a relay: its socket, and the deadline its waits run under.
struct SpliceEnd {
  Socket& socket;
  Deadline* deadline = nullptr;
  // Above zero: `deadline` is armed for this long around each wait on this end (a
  // client's idle_timeout). Zero: the caller armed `deadline` for the whole exchange;
  // once it has fired the relay stops.
  Clock::duration idle{};
};

struct SpliceResult {
  error_code ec;               // none: all the bytes reached the sink
  bool source_failed = false;  // the error (an early EOF, a reset, a timeout) was the source's
  std::uint64_t taken = 0;     // bytes read from the source
  std::uint64_t delivered = 0; // bytes written to the sink
};

class SplicePipe {
 public:
  SplicePipe() = default;
  SplicePipe(int read_fd, int write_fd) : rd_(read_fd), wr_(write_fd) {}
  SplicePipe(SplicePipe&& o) noexcept : rd_(o.rd_), wr_(o.wr_), held_(o.held_) {
    o.rd_ = o.wr_ = -1;
    o.held_ = 0;
  }
  SplicePipe& operator=(SplicePipe&& o) noexcept;
  SplicePipe(const SplicePipe&) = delete;
  SplicePipe& operator=(const SplicePipe&) = delete;
  ~SplicePipe() { close(); }

  explicit operator bool() const { return rd_ >= 0; }
  // Bytes taken from a source that no sink has had yet.
  std::size_t held() const { return held_; }

  // Moves exactly `count` bytes from `from` to `to`. Each round takes from the source
  // what the pipe has room for and gives the sink what it accepts, without waiting, so
  // the upstream read and the client write overlap; only when neither moved does it wait,
  // for the sink when the pipe holds bytes it refused, else for the source. Both sockets
  // must be plain TCP (or local stream) sockets with nothing of the body buffered in
  // user space: the caller writes those bytes first.
  Task<SpliceResult> relay(SpliceEnd from, SpliceEnd to, std::uint64_t count);

 private:
  void close();
  int rd_ = -1;
  int wr_ = -1;
  std::size_t held_ = 0;
};

// This thread's pipes (PipePool::this_thread()); a pool of its own in tests.
class PipePool {
 public:
  // A relay holds its pipe only while it runs, so the pipes in use are the relays in
  // flight on the thread; beyond this many, bodies take the relay buffer.
  static constexpr std::size_t kMaxPipes = 256;
  // What a relay keeps in its pipe at most: a 64 KiB body's rest fits in one round, a
  // larger one takes a round per 256 KiB (64 slots: room for it in page-sized pieces).
  static constexpr std::size_t kPipeSize = 256 * 1024;

  explicit PipePool(std::size_t max_pipes = kMaxPipes, std::size_t pipe_size = kPipeSize)
      : max_(max_pipes), size_(pipe_size) {}
  PipePool(const PipePool&) = delete;
  PipePool& operator=(const PipePool&) = delete;

  static PipePool& this_thread();

  // An empty pipe, or an invalid one when none can be had (the limit, or pipe2 failed:
  // out of descriptors): the caller uses its buffer then.
  SplicePipe take();
  // Back to the pool when empty; closed when it still holds bytes.
  void give(SplicePipe pipe);
  // Frees the idle pipes that stayed unused since the last sweep (about once a second).
  void sweep();

  std::size_t idle() const { return free_.size(); }
  std::size_t in_use() const { return in_use_; }

 private:
  std::vector<SplicePipe> free_;
  std::size_t low_water_ = 0;  // fewest idle pipes since the last sweep
  std::size_t in_use_ = 0;
  std::size_t max_;
  std::size_t size_;
};

}  // namespace gatehouse::net

// The relay runs on the request path: its frame comes from the per-thread pool.
template <>
inline constexpr bool gatehouse::net::pooled_coroutines<gatehouse::net::SplicePipe> = true;
