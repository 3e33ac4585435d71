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

bool status_expected(int status, const std::vector<config::StatusRange>& expected);

// Where in each interval this endpoint's probe fires: a stable hash of the id spread
// over [0, interval), so a thousand endpoints do not probe in one burst and an
// endpoint keeps its slot across reloads.
std::chrono::milliseconds probe_offset(std::string_view id, std::chrono::milliseconds interval);

}  // namespace gatehouse::health
