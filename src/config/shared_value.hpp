// config/: settings most endpoints leave alone or set alike (health_check, retries,
// circuit_breaker, tls, fallback, rate_limit), held by a pointer to an immutable value that
// equal endpoints share (the loader interns them): 100,000 endpoints with the same
// health_check hold one, not 100,000 copies of 120 bytes plus their heap blocks.
// Compared by value; edit() makes a copy of its own before changing a shared one.
#pragma once

#include <memory>
#include <optional>
#include <utility>

namespace gatehouse::config {

template <typename T>
class Shared {
 public:
  Shared() : p_(default_value()) {}
  Shared(T value) : p_(make(std::move(value))) {}  // NOLINT: implicit
  Shared& operator=(T value) {
    p_ = make(std::move(value));
    return *this;
  }

  const T& operator*() const { return *p_; }
  const T* operator->() const { return p_.get(); }
  const T& get() const { return *p_; }
  // The value to change: a copy of its own first unless it is the only holder.
  T& edit() {
    if (p_.use_count() != 1) p_ = make(*p_);  // the default has its static holder too
    return const_cast<T&>(*p_);  // every value is made as a non-const T (make)
  }
  // The same object (a cheaper test than equality, which it implies).
  bool same_object(const Shared& o) const { return p_ == o.p_; }
  const void* identity() const { return p_.get(); }
  // An equal value in an object of its own, allocated now (on the calling thread's heap).
  Shared copied() const { return Shared(T(*p_)); }

  friend bool operator==(const Shared& a, const Shared& b) {
    return a.p_ == b.p_ || *a.p_ == *b.p_;
  }

 private:
  static const std::shared_ptr<const T>& default_value() {
    static const std::shared_ptr<const T> d = make(T{});
    return d;
  }
  static std::shared_ptr<const T> make(T value) { return std::make_shared<T>(std::move(value)); }
  std::shared_ptr<const T> p_;
};

// The same for an optional setting: empty (no pointer) when not set.
template <typename T>
class SharedOptional {
 public:
  SharedOptional() = default;
  SharedOptional(std::nullopt_t) {}  // NOLINT: implicit, as std::optional
  SharedOptional(T value) : p_(make(std::move(value))) {}  // NOLINT
  SharedOptional(std::optional<T> value) {  // NOLINT
    if (value) p_ = make(std::move(*value));
  }
  SharedOptional& operator=(std::nullopt_t) {
    p_.reset();
    return *this;
  }
  SharedOptional& operator=(T value) {
    p_ = make(std::move(value));
    return *this;
  }
  SharedOptional& operator=(std::optional<T> value) {
    if (value) p_ = make(std::move(*value));
    else p_.reset();
    return *this;
  }

  bool has_value() const { return p_ != nullptr; }
  explicit operator bool() const { return p_ != nullptr; }
  const T& operator*() const { return *p_; }
  const T* operator->() const { return p_.get(); }
  const T& value() const {
    if (!p_) throw std::bad_optional_access();
    return *p_;
  }
  void reset() { p_.reset(); }
  // The value to change (set): a copy of its own first unless it is the only holder.
  T& edit() {
    if (!p_) p_ = make(T{});
    else if (p_.use_count() != 1) p_ = make(*p_);
    return const_cast<T&>(*p_);  // every value is made as a non-const T (make)
  }
  bool same_object(const SharedOptional& o) const { return p_ == o.p_; }
  const void* identity() const { return p_.get(); }
  SharedOptional copied() const { return p_ ? SharedOptional(T(*p_)) : SharedOptional(); }

  friend bool operator==(const SharedOptional& a, const SharedOptional& b) {
    if (a.p_ == b.p_) return true;
    return a.p_ && b.p_ && *a.p_ == *b.p_;
  }
  friend bool operator==(const SharedOptional& a, std::nullopt_t) { return !a.p_; }

 private:
  static std::shared_ptr<const T> make(T value) { return std::make_shared<T>(std::move(value)); }
  std::shared_ptr<const T> p_;
};

}  // namespace gatehouse::config
