// proxy/: a lazily re-armed deadline guarding one socket at a time.
#pragma once

#include <memory>

#include "proxy/io.hpp"

namespace gatehouse::net {

// Moving the deadline later is a store, not a timer operation: the timer wakes at its
// old expiry, sees the new deadline and sleeps again. Only an earlier deadline re-arms
// it. When the deadline passes, the guarded socket's pending operations are cancelled
// and fired() turns true, so the caller can tell a timeout from a peer error.
class Deadline : public std::enable_shared_from_this<Deadline> {
 public:
  explicit Deadline(Executor ex) : timer_(ex) {}

  void arm(Clock::time_point when, Socket* target) {
    when_ = when;
    target_ = target;
    fired_ = false;
    if (!waiting_) {
      waiting_ = true;
      timer_.expires_at(when);
      timer_.async_wait([self = shared_from_this()](const error_code&) { self->on_wait(); });
    } else if (when < timer_.expiry()) {
      timer_.expires_at(when);  // the pending wait completes early and re-arms
    }
  }
  void disarm() { target_ = nullptr; }
  // Disarmed for long (an idle connection): drops the pending wait too, so it holds no
  // timer memory meanwhile.
  void release() {
    target_ = nullptr;
    if (waiting_) timer_.cancel();
  }
  void stop() {
    stopped_ = true;
    target_ = nullptr;
    timer_.cancel();
  }
  bool fired() const { return fired_; }

 private:
  void on_wait() {
    waiting_ = false;
    if (stopped_ || target_ == nullptr) return;
    if (Clock::now() >= when_) {
      fired_ = true;
      error_code ignored;
      target_->cancel(ignored);
      target_ = nullptr;
      return;
    }
    waiting_ = true;
    timer_.expires_at(when_);
    timer_.async_wait([self = shared_from_this()](const error_code&) { self->on_wait(); });
  }

  Timer timer_;
  Clock::time_point when_{};
  Socket* target_ = nullptr;
  bool waiting_ = false;
  bool fired_ = false;
  bool stopped_ = false;
};

}  // namespace gatehouse::net
