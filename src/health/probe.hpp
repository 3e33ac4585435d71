// health/: the pure parts of an active health probe (what is sent, when, and what
// counts as healthy), kept apart from the socket code so they are testable alone.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace gatehouse::health {

// "host" or "host:port" (port only when not the scheme's default), IPv6 bracketed.
std::string host_header(const config::UpstreamUrl& url);

// GET {health_check.path} HTTP/1.1 with Host = the upstream's host and
// Connection: close. The path is absolute on the upstream's origin: the url's base
// path is not prepended.
std::string probe_request(const config::Endpoint& ep);
// The same for one server of the endpoint (SPEC 13: each server is probed on its own).
std::string probe_request(const config::Endpoint& ep, const config::UpstreamUrl& server);

bool status_expected(int status, const std::vector<config::StatusRange>& expected);

// Where in each interval this endpoint's probe fires: a stable hash of the id spread
// over [0, interval), so a thousand endpoints do not probe in one burst and an
// endpoint keeps its slot across reloads.
std::chrono::milliseconds probe_offset(std::string_view id, std::chrono::milliseconds interval);
// Server `index` of `count` of one endpoint: the endpoint's offset moved by
// index/count of the interval, so its servers' probes are spread evenly over it (server
// 0 keeps the endpoint's own slot).
std::chrono::milliseconds probe_offset(std::string_view id, std::chrono::milliseconds interval,
                                       std::size_t index, std::size_t count);

}  // namespace gatehouse::health
