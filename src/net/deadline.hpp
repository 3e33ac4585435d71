// net/: a lazily re-armed deadline guarding one cancellable I/O object at a time.
#pragma once

#include <memory>

#include "net/io.hpp"

namespace gatehouse::net {

// Moving the deadline later is a store, not a timer operation: the timer wakes at its
// old expiry, sees the new deadline and sleeps again. Only an earlier deadline re-arms
// it. When the deadline passes, the guarded object's pending operations are cancelled
// and fired() turns true, so the caller can tell a timeout from a peer error.
//
// The guarded object is anything with cancel(error_code&) or cancel() (a socket, a
// resolver, a timer); it is reached through one function pointer, used only when the
// deadline fires.
class Deadline : public std::enable_shared_from_this<Deadline> {
 public:
  explicit Deadline(Executor ex) : timer_(ex) {}

  template <class Cancellable>
  void arm(Clock::time_point when, Cancellable* target) {
    when_ = when;
    target_ = target;
    cancel_ = &cancel_target<Cancellable>;
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
  template <class Cancellable>
  static void cancel_target(void* target) {
    auto* t = static_cast<Cancellable*>(target);
    if constexpr (requires(error_code& ec) { t->cancel(ec); }) {
      error_code ignored;
      t->cancel(ignored);
    } else {
      t->cancel();
    }
  }

  void on_wait() {
    waiting_ = false;
    if (stopped_ || target_ == nullptr) return;
    if (Clock::now() >= when_) {
      fired_ = true;
      void* target = target_;
      target_ = nullptr;
      cancel_(target);
      return;
    }
    waiting_ = true;
    timer_.expires_at(when_);
    timer_.async_wait([self = shared_from_this()](const error_code&) { self->on_wait(); });
  }

  Timer timer_;
  Clock::time_point when_{};
  void* target_ = nullptr;
  void (*cancel_)(void*) = nullptr;
  bool waiting_ = false;
  bool fired_ = false;
  bool stopped_ = false;
};

}  // namespace gatehouse::net
