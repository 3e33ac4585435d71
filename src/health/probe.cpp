#include "health/probe.hpp"

#include <cstdint>

#ifndef GATEHOUSE_VERSION
#define GATEHOUSE_VERSION "dev"
#endif

namespace gatehouse::health {

std::string host_header(const config::UpstreamUrl& url) {
  // Built with append: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string.
  std::string host;
  const bool v6 = url.host.find(':') != std::string::npos;
  if (v6) host.push_back('[');
  host.append(url.host);
  if (v6) host.push_back(']');
  const bool default_port = url.port == (url.https ? 443 : 80);
  if (!default_port) host.append(":").append(std::to_string(url.port));
  return host;
}

std::string probe_request(const config::Endpoint& ep) { return probe_request(ep, ep.url); }

std::string probe_request(const config::Endpoint& ep, const config::UpstreamUrl& server) {
  const std::string& path = ep.health_check->path.empty() ? std::string("/") : ep.health_check->path;
  std::string req;
  req.reserve(128 + path.size());
  req.append("GET ").append(path).append(" HTTP/1.1\r\nHost: ").append(host_header(server));
  req.append("\r\nUser-Agent: gatehouse-health-check/" GATEHOUSE_VERSION
             "\r\nAccept: */*\r\nConnection: close\r\n\r\n");
  return req;
}

bool status_expected(int status, const std::vector<config::StatusRange>& expected) {
  for (const auto& r : expected)
    if (status >= r.lo && status <= r.hi) return true;
  return false;
}

std::chrono::milliseconds probe_offset(std::string_view id, std::chrono::milliseconds interval) {
  if (interval.count() <= 0) return std::chrono::milliseconds(0);
  std::uint64_t h = 14695981039346656037ull;  // FNV-1a, then a final mix so similar ids spread
  for (unsigned char c : id) {
    h ^= c;
    h *= 1099511628211ull;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return std::chrono::milliseconds(h % static_cast<std::uint64_t>(interval.count()));
}

std::chrono::milliseconds probe_offset(std::string_view id, std::chrono::milliseconds interval,
                                       std::size_t index, std::size_t count) {
  const auto base = probe_offset(id, interval);
  if (count <= 1 || interval.count() <= 0) return base;
  const auto step = interval.count() * static_cast<std::int64_t>(index) /
                    static_cast<std::int64_t>(count);
  return std::chrono::milliseconds((base.count() + step) % interval.count());
}

}  // namespace gatehouse::health
