// config/: the endpoints of a Config. Read like a std::vector<Endpoint>; each endpoint is
// held by a shared pointer, so a reload that takes an endpoint unchanged from the running
// config shares it (a pointer copy) instead of copying ~1.5 KiB and ten heap blocks.
// Copying a list shares its endpoints; edit() copies a shared one before changing it, so a
// list still behaves as a value.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <vector>

namespace gatehouse::config {

template <typename E>
class BasicEndpointList {
 public:
  using value_type = E;
  using Pointer = std::shared_ptr<const E>;
  using size_type = std::size_t;

  class const_iterator {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = E;
    using difference_type = std::ptrdiff_t;
    using pointer = const E*;
    using reference = const E&;
    const_iterator() = default;
    explicit const_iterator(typename std::vector<Pointer>::const_iterator it)
        : it_(it) {}
    reference operator*() const { return **it_; }
    pointer operator->() const { return it_->get(); }
    reference operator[](difference_type n) const { return *it_[n]; }
    const_iterator& operator++() { ++it_; return *this; }
    const_iterator operator++(int) { auto t = *this; ++it_; return t; }
    const_iterator& operator--() { --it_; return *this; }
    const_iterator operator--(int) { auto t = *this; --it_; return t; }
    const_iterator& operator+=(difference_type n) { it_ += n; return *this; }
    const_iterator& operator-=(difference_type n) { it_ -= n; return *this; }
    friend const_iterator operator+(const_iterator a, difference_type n) { return a += n; }
    friend const_iterator operator+(difference_type n, const_iterator a) { return a += n; }
    friend const_iterator operator-(const_iterator a, difference_type n) { return a -= n; }
    friend difference_type operator-(const const_iterator& a, const const_iterator& b) {
      return a.it_ - b.it_;
    }
    friend bool operator==(const const_iterator& a, const const_iterator& b) = default;
    friend auto operator<=>(const const_iterator& a, const const_iterator& b) = default;

   private:
    typename std::vector<Pointer>::const_iterator it_{};
  };
  using iterator = const_iterator;

  BasicEndpointList() = default;
  // Hand-built lists (tests, tools): every endpoint moved into a pointer of its own.
  BasicEndpointList(std::vector<E> endpoints) {  // NOLINT: implicit, reads like a vector
    items_.reserve(endpoints.size());
    for (auto& e : endpoints) push_back(std::move(e));
  }
  BasicEndpointList(std::initializer_list<E> endpoints) {
    items_.reserve(endpoints.size());
    for (const auto& e : endpoints) push_back(E(e));
  }

  size_type size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  const E& operator[](size_type i) const { return *items_[i]; }
  const E& at(size_type i) const { return *items_.at(i); }
  const E& front() const { return *items_.front(); }
  const E& back() const { return *items_.back(); }
  const_iterator begin() const { return const_iterator(items_.begin()); }
  const_iterator end() const { return const_iterator(items_.end()); }
  void reserve(size_type n) { items_.reserve(n); }
  void clear() { items_.clear(); }

  void push_back(E e) { items_.push_back(std::make_shared<E>(std::move(e))); }
  // Shares an endpoint of another list (shared() of it), e.g. one a reload found unchanged.
  void push_back(Pointer shared) { items_.push_back(std::move(shared)); }
  const Pointer& shared(size_type i) const { return items_[i]; }
  // The endpoint to change: a copy of its own first when another list shares it. Every
  // endpoint was made as a non-const E (push_back), so changing one no one else holds
  // is allowed.
  E& edit(size_type i) {
    auto& p = items_[i];
    if (p.use_count() > 1) p = std::make_shared<E>(*p);
    return const_cast<E&>(*p);
  }
  // A list sharing nothing with this one: each endpoint copied (allocated afresh, e.g.
  // on this thread's heap rather than on the one the parse used).
  BasicEndpointList deep_copy() const {
    BasicEndpointList out;
    out.items_.reserve(items_.size());
    for (const auto& p : items_) out.push_back(E(*p));
    return out;
  }

 private:
  std::vector<Pointer> items_;
};

}  // namespace gatehouse::config
