#include "server/capture.hpp"

#include "health/cache_rules.hpp"
#include "http/headers.hpp"

namespace gatehouse::server {

void ResponseCapture::start(health::ResponseCache* cache, const http::RequestHead& req,
                            const http::ResponseHead& res, std::string_view path) {
  on_ = false;
  data_.clear();
  if (!cache || (req.method != "GET" && req.method != "HEAD")) return;
  if (res.status < 200 || res.status > 299) return;
  if (!health::storable(req.method, health::has_credentials(req.fields), res.status,
                        res.fields)) {
    // The newest successful answer may not be kept: an older one is no longer "the
    // last successful response".
    cache->erase(req.method, path, req.query);
    return;
  }
  limit_ = cache->max_entry_bytes();
  if (res.body == http::BodyKind::length && res.content_length > limit_) return;
  on_ = true;
}

void ResponseCapture::piece(std::string_view data) {
  if (!on_) return;
  if (data_.size() + data.size() > limit_) {
    on_ = false;  // too large to keep
    data_.clear();
    return;
  }
  data_.append(data);
}

void ResponseCapture::finish(health::ResponseCache* cache, const http::RequestHead& req,
                             const http::ResponseHead& res, std::string_view path,
                             bool complete) {
  if (!on_) return;
  on_ = false;
  if (!complete) return;
  health::CachedResponse entry;
  entry.status = res.status;
  for (const auto& f : res.fields) {
    if (http::is_hop_by_hop(f.name) || http::named_by_connection(f.name, res.connection_tokens) ||
        http::iequals(f.name, "content-length") || http::iequals(f.name, "x-request-id") ||
        http::iequals(f.name, "age"))
      continue;
    entry.headers.emplace_back(std::string(f.name), std::string(f.value));
    if (http::iequals(f.name, "cache-control")) {
      health::CacheControl cc;
      health::parse_cache_control(f.value, cc);
      entry.is_public = entry.is_public || cc.is_public;
    }
  }
  entry.body = std::move(data_);
  data_.clear();
  cache->store(req.method, path, req.query, std::move(entry));
}

void ResponseCapture::trim() {
  // Swapping with an empty string frees it (assigning one would keep the capacity).
  std::string().swap(data_);
}

}  // namespace gatehouse::server
