// net/: coroutine frames of the request path come from per-thread free lists.
//
// Every request-path member coroutine (read head, the pipeline's phases, forward,
// exchange, relay, ...) is a heap-allocated frame of a hundred bytes to over a
// kilobyte, several per request. Asio's own frame recycling caches a handful of
// blocks under 1 KiB and, on a miss, throws a cached block away: with frames of varying
// sizes most requests ended in malloc and free. Here each size class has its own free
// list per thread, so in steady state no frame touches malloc, and a freed frame is
// reused while still in cache.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <coroutine>
#include <cstddef>

#include "net/io.hpp"

namespace gatehouse::net {

namespace frame_pool {
void* allocate(std::size_t size);
void deallocate(void* p, std::size_t size) noexcept;
// Gives this thread's unused frames back to the allocator (after a load peak).
void release_unused() noexcept;
}  // namespace frame_pool

// A class whose member coroutines take their frames from the pool: specialise to true.
template <class Class>
inline constexpr bool pooled_coroutines = false;

// Asio's promise with its frame allocation replaced.
template <class T>
struct PooledFrame : boost::asio::detail::awaitable_frame<T, Executor> {
  using Base = boost::asio::detail::awaitable_frame<T, Executor>;

  static void* operator new(std::size_t size) { return frame_pool::allocate(size); }
  static void operator delete(void* p, std::size_t size) noexcept {
    frame_pool::deallocate(p, size);
  }

  // Awaiting another awaitable: Asio's awaitable accepts only a handle typed with its
  // own frame, so hand it the same frame under that type.
  using Base::await_transform;
  template <class U>
  auto await_transform(Task<U> task) {
    struct Awaiter {
      Task<U> inner;
      bool await_ready() const noexcept { return false; }
      void await_suspend(std::coroutine_handle<PooledFrame> h) {
        inner.await_suspend(std::coroutine_handle<Base>::from_address(h.address()));
      }
      U await_resume() { return inner.await_resume(); }
    };
    return Awaiter{Base::await_transform(std::move(task))};
  }
};

}  // namespace gatehouse::net

// The member coroutines of an opted-in class (their first parameter is the object) use
// PooledFrame. Asio finds its frame from the promise with coroutine_handle<awaitable_frame>::
// from_promise: PooledFrame adds no data and no alignment, so the address is the same.
template <class T, class Class, class... Args>
  requires gatehouse::net::pooled_coroutines<Class>
struct std::coroutine_traits<gatehouse::net::Task<T>, Class&, Args...> {
  using promise_type = gatehouse::net::PooledFrame<T>;
  using asio_promise = typename promise_type::Base;
  static_assert(sizeof(promise_type) == sizeof(asio_promise));
  static_assert(alignof(promise_type) == alignof(asio_promise));
};
