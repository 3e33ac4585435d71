// listen, threads, shutdown_grace, watch, tls (parse_tls.cpp), log and limits.
#include <array>

#include "config/addresses.hpp"
#include "config/files.hpp"
#include "config/sections.hpp"

namespace gatehouse::config::detail {
namespace {

constexpr std::array<std::string_view, 3> kLogKeys = {"level", "format", "access_log"};
constexpr std::array<std::string_view, 7> kLimitsKeys = {
    "max_request_line", "max_header_bytes", "max_headers",    "max_body",
    "header_timeout",   "idle_timeout",     "max_connections"};
constexpr std::array<std::string_view, 4> kLevels = {"debug", "info", "warning", "error"};
constexpr std::array<std::string_view, 2> kFormats = {"text", "json"};
constexpr std::uint64_t kMaxThreads = 1024;

template <std::size_t N>
std::optional<std::string> one_of(const MapReader& m, std::string_view key,
                                  const std::array<std::string_view, N>& allowed) {
  auto s = m.string(key);
  if (!s) return std::nullopt;
  for (auto a : allowed) {
    if (*s == a) return s;
  }
  std::string message = "must be one of";
  for (std::size_t i = 0; i < N; ++i) message += std::string(i == 0 ? " " : ", ") + std::string(allowed[i]);
  m.errors().add(m.find(key)->value, std::move(message));
  return std::nullopt;
}

void parse_log(Context& ctx, const Value& v, Log& log) {
  const MapReader m(ctx.errors, v, kLogKeys);
  if (!m.ok()) return;
  MapReader::assign(log.level, one_of(m, "level", kLevels));
  MapReader::assign(log.format, one_of(m, "format", kFormats));
  MapReader::assign(log.access_log, m.boolean("access_log"));
}

void parse_limits(Context& ctx, const Value& v, Limits& limits) {
  const MapReader m(ctx.errors, v, kLimitsKeys);
  if (!m.ok()) return;
  MapReader::assign(limits.max_request_line, m.size("max_request_line"));
  MapReader::assign(limits.max_header_bytes, m.size("max_header_bytes"));
  MapReader::assign(limits.max_headers, m.integer("max_headers", 1));
  MapReader::assign(limits.max_body, m.size("max_body"));
  MapReader::assign(limits.header_timeout, m.duration("header_timeout"));
  MapReader::assign(limits.idle_timeout, m.duration("idle_timeout"));
  MapReader::assign(limits.max_connections, m.integer("max_connections", 1));
}

}  // namespace

std::optional<std::string> Context::read_referenced_file(const Value& v, const std::string& file,
                                                         std::string& resolved) {
  resolved = resolve_path(config_path, file);
  std::string error;
  auto bytes = read_file(resolved, error);
  if (!bytes) errors.add(v.path, v.pos, "cannot read " + resolved + ": " + error);
  return bytes;
}

void parse_server(Context& ctx, const MapReader& root, Config& cfg) {
  if (const Entry* e = root.find("listen")) {
    if (auto text = as_string(ctx.errors, e->value)) {
      std::string host;
      std::uint16_t port = 0;
      if (auto err = parse_listen(*text, host, port); !err.empty()) {
        ctx.errors.add(e->value, err);
      } else {
        cfg.listen = *text;
        cfg.listen_host = std::move(host);
        cfg.listen_port = port;
      }
    }
  }
  MapReader::assign(cfg.threads, root.integer("threads", 0, kMaxThreads));
  MapReader::assign(cfg.shutdown_grace, root.duration("shutdown_grace", true));
  MapReader::assign(cfg.watch, root.boolean("watch"));
  if (const Entry* e = root.find("tls")) parse_tls(ctx, *e, cfg);
  if (const Entry* e = root.find("log")) parse_log(ctx, e->value, cfg.log);
  if (const Entry* e = root.find("limits")) parse_limits(ctx, e->value, cfg.limits);
}

}  // namespace gatehouse::config::detail
