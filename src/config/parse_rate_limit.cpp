// rate_limit (under `defaults` and each endpoint, merged field by field) and the
// top-level `redis` section (SPEC sections 2 and 14).
#include <boost/url/parse.hpp>

#include <array>
#include <cctype>
#include <cstdlib>

#include "config/addresses.hpp"
#include "config/files.hpp"
#include "config/keys.hpp"
#include "config/sections.hpp"

namespace gatehouse::config::detail {
namespace {

constexpr std::array<std::string_view, 5> kRateLimitKeys = {"requests", "per", "burst", "key",
                                                           "shared"};
constexpr std::array<std::string_view, 6> kRedisKeys = {"url",     "password_env", "password_file",
                                                       "timeout", "on_error",     "tls"};
constexpr std::array<std::string_view, 3> kRedisTlsKeys = {"ca_file", "server_name", "verify"};
// Keeps every bucket's arithmetic (in nanoseconds, 64 bits) far from overflow.
constexpr std::uint64_t kMaxTokens = 1'000'000'000;
constexpr long double kMaxFillNs = 4.0e18L;

// "" when `key` is a valid rate-limit key, else what is wrong with it.
std::string check_key(const std::string& key) {
  if (key == "client_ip" || key == "endpoint") return {};
  const auto colon = key.find(':');
  const std::string kind = key.substr(0, colon == std::string::npos ? key.size() : colon);
  if (colon != std::string::npos && (kind == "header" || kind == "jwt_claim")) {
    const std::string name = key.substr(colon + 1);
    if (name.empty()) return "needs a name after \"" + kind + ":\"";
    if (kind == "header" && !is_token(name)) return "the header name is not a valid field name";
    if (kind == "jwt_claim" && has_space_or_control(name))
      return "the claim name must not contain whitespace or control characters";
    return {};
  }
  return "must be client_ip, header:NAME, jwt_claim:NAME or endpoint";
}

bool port_of(std::string_view text, std::uint16_t& port) {
  if (text.empty() || text.size() > 5) return false;
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value < 1 || value > 65535) return false;
  port = static_cast<std::uint16_t>(value);
  return true;
}

}  // namespace

void parse_rate_limit(Context& ctx, const Value& v, RateLimit& out, RateLimitOrigin& origin) {
  const MapReader m(ctx.errors, v, kRateLimitKeys);
  if (!m.ok()) return;
  origin.where = {v.path, v.pos};
  MapReader::assign(out.requests, m.integer("requests", 1, kMaxTokens));
  // An invalid value is reported as such, not as a missing one.
  if (m.has("requests")) origin.requests = true;
  MapReader::assign(out.per, m.duration("per"));
  MapReader::assign(out.burst, m.integer("burst", 0, kMaxTokens));
  if (auto key = m.string("key")) {
    if (auto err = check_key(*key); !err.empty()) {
      ctx.errors.add(m.find("key")->value, err);
    } else {
      out.key = *key;
      origin.key = {m.find("key")->value.path, m.find("key")->value.pos};
    }
  }
  if (auto shared = m.boolean("shared")) {
    out.shared = *shared;
    origin.shared = {m.find("shared")->value.path, m.find("shared")->value.pos};
  }
}

void check_rate_limit(Context& ctx, const RateLimit& rl, const RateLimitOrigin& origin,
                      const std::string& path, const Endpoint& ep, bool has_redis) {
  // Inherited settings are reported where they were written, under the endpoint's path.
  const auto blame = [&](const Located& at, std::string_view key, std::string message) {
    const bool inherited = at.path.rfind("defaults.", 0) == 0;
    if (inherited) message += " (set in defaults.rate_limit)";
    ctx.errors.add(join_path(path, key), at.pos, std::move(message));
  };
  if (!origin.requests) {
    blame(origin.where, "requests", "is required");
    return;
  }
  if (rl.requests == 0) return;  // its invalid value is reported already
  const long double interval_ns =
      static_cast<long double>(rl.per.count()) * 1e6L / static_cast<long double>(rl.requests);
  if (interval_ns < 1.0L) {
    blame(origin.where, "requests", "is more than one token per nanosecond of `per`");
  } else if (interval_ns * static_cast<long double>(rl.requests + rl.burst) > kMaxFillNs) {
    blame(origin.where, "per", "makes the bucket take over a century to fill");
  }
  if (rl.key.rfind("jwt_claim:", 0) == 0 && ep.auth_type != "jwt") {
    blame(origin.key, "key", "jwt_claim keys need auth_type: jwt (the claim is read after verification)");
  }
  if (rl.shared && !has_redis) {
    blame(origin.shared, "shared", "needs a top-level redis section (where shared buckets live)");
  }
}

void parse_redis(Context& ctx, const Value& v, Redis& out) {
  const MapReader m(ctx.errors, v, kRedisKeys);
  if (!m.ok()) return;
  bool url_ok = false;
  if (const Entry* e = m.find("url")) {
    if (auto text = as_string(ctx.errors, e->value)) {
      std::string err;
      auto parsed = boost::urls::parse_uri(boost::core::string_view(text->data(), text->size()));
      std::string scheme = parsed ? std::string(parsed->scheme()) : std::string();
      for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (!parsed || (scheme != "redis" && scheme != "rediss") || !parsed->has_authority()) {
        err = "must be a redis:// or rediss:// URL";
      } else if (parsed->has_userinfo()) {
        err = "must not carry credentials: set redis.password_env or redis.password_file";
      } else if (parsed->has_query() || parsed->has_fragment()) {
        err = "must not carry a query or a fragment";
      } else {
        out.url = *text;
        out.tls = scheme == "rediss";
        const auto& u = *parsed;
        if (u.host_type() == boost::urls::host_type::ipv4 ||
            u.host_type() == boost::urls::host_type::ipv6) {
          out.host = std::string(u.host_address());
        } else if (u.host_type() == boost::urls::host_type::name) {
          out.host = std::string(u.encoded_host_address());
          if (out.host.find('%') != std::string::npos) err = "host must not be percent-encoded";
        } else {
          err = "has an unsupported host";
        }
        if (err.empty() && out.host.empty()) err = "must have a host";
        if (err.empty() && u.has_port()) {
          const std::string_view port(u.port().data(), u.port().size());
          if (!port_of(port, out.port)) err = "port must be from 1 to 65535";
        }
        std::string path(u.encoded_path());
        if (err.empty() && !path.empty() && path != "/") {
          const std::string db = path.substr(1);
          char* end = nullptr;
          const unsigned long n = std::strtoul(db.c_str(), &end, 10);
          if (db.empty() || db.size() > 5 || *end != '\0' || !std::isdigit(static_cast<unsigned char>(db[0])))
            err = "path must be a database number, e.g. /0";
          else
            out.db = static_cast<std::uint32_t>(n);
        }
      }
      if (err.empty()) url_ok = true;
      else ctx.errors.add(e->value, err);
    }
  } else {
    ctx.errors.add(m.key_path("url"), m.pos(), "is required");
  }

  const Entry* env = m.find("password_env");
  const Entry* file = m.find("password_file");
  if (env && file) {
    ctx.errors.add(file->value.path, file->key_pos,
                   "set either password_env or password_file, not both");
  } else if (env) {
    if (auto name = as_string(ctx.errors, env->value)) {
      out.password_env = *name;
      if (const char* value = std::getenv(name->c_str())) out.password = value;
      else ctx.errors.add(env->value, "environment variable is not set");
    }
  } else if (file) {
    if (auto name = as_string(ctx.errors, file->value)) {
      std::string resolved;
      auto bytes = ctx.read_referenced_file(file->value, *name, resolved);
      out.password_file = resolved;
      if (bytes) {
        if (!bytes->empty() && bytes->back() == '\n') bytes->pop_back();
        if (!bytes->empty() && bytes->back() == '\r') bytes->pop_back();
        out.password = std::move(*bytes);
      }
    }
  }
  MapReader::assign(out.timeout, m.duration("timeout"));
  if (auto s = m.string("on_error")) {
    if (*s == "allow" || *s == "deny") out.deny_on_error = *s == "deny";
    else ctx.errors.add(m.find("on_error")->value, "must be one of allow, deny");
  }
  if (const Entry* e = m.find("tls")) {
    const MapReader t(ctx.errors, e->value, kRedisTlsKeys);
    if (!t.ok()) return;
    if (url_ok && !out.tls) {
      ctx.errors.add(e->value.path, e->key_pos, "applies to rediss:// URLs only");
    }
    if (auto ca = t.string("ca_file")) {
      std::string resolved;
      const Value& cv = t.find("ca_file")->value;
      if (auto pem = ctx.read_referenced_file(cv, *ca, resolved)) {
        out.tls_settings.ca_sha256 = sha256_hex(*pem);
        if (count_pem_certificates(*pem) == 0)
          ctx.errors.add(cv.path, cv.pos, resolved + " holds no PEM certificate");
      }
      out.tls_settings.ca_file = resolved;
    }
    if (auto name = t.string("server_name")) {
      if (has_space_or_control(*name)) ctx.errors.add(t.find("server_name")->value, "must be a host name");
      else out.tls_settings.server_name = *name;
    }
    MapReader::assign(out.tls_settings.verify, t.boolean("verify"));
  }
}

}  // namespace gatehouse::config::detail
