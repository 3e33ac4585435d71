// server/: the copy of a successful response kept for the `cached` fallback: started at
// the response head when the answer may be stored, fed every body piece, stored when the
// body completed within the entry size bound.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "health/response_cache.hpp"
#include "http/message.hpp"

namespace gatehouse::server {

class ResponseCapture {
 public:
  void start(health::ResponseCache* cache, const http::RequestHead& req,
             const http::ResponseHead& res, std::string_view path);
  void piece(std::string_view data);
  // A copy is being taken: every body piece must come through piece().
  bool active() const { return on_; }
  // Stores the copy when the body completed; drops it otherwise.
  void finish(health::ResponseCache* cache, const http::RequestHead& req,
              const http::ResponseHead& res, std::string_view path, bool complete);
  // Frees the buffer: a large one after each request, any on an idle connection.
  void release() {
    if (data_.capacity() > 4096) trim();
  }
  void trim();

 private:
  std::string data_;
  std::uint64_t limit_ = 0;
  bool on_ = false;
};

}  // namespace gatehouse::server
