#include "admin/dashboard.hpp"

#include <algorithm>
#include <string>

namespace gatehouse::admin {

namespace {

constexpr std::string_view kPage = "index.html";

// The CSP is exactly SPEC 16's: scripts, styles, images and fetches from the gateway's
// own origin only (so no inline script or style either; the page has none). Framing is
// refused with X-Frame-Options; nothing is cached, since the page carries the current
// config's scopes.
constexpr std::string_view kHeaders =
    "Content-Security-Policy: default-src 'self'\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "X-Frame-Options: DENY\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "Cache-Control: no-store\r\n";

std::string_view content_type_of(std::string_view name) {
  auto ends_with = [&](std::string_view ext) {
    return name.size() >= ext.size() && name.substr(name.size() - ext.size()) == ext;
  };
  if (ends_with(".html")) return "text/html; charset=utf-8";
  if (ends_with(".js")) return "text/javascript; charset=utf-8";
  if (ends_with(".css")) return "text/css; charset=utf-8";
  if (ends_with(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

const WebAsset* find_asset(std::string_view name) {
  for (const auto& a : web_assets())
    if (a.name == name) return &a;
  return nullptr;
}

void append_html_escaped(std::string& out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
}

Reply page_reply(std::string_view name, std::string body) {
  Reply r;
  r.content_type = std::string(content_type_of(name));
  r.body = std::move(body);
  r.extra_headers = std::string(kHeaders);
  return r;
}

}  // namespace

std::string dashboard_page(bool token_needed, std::string_view stats_scope,
                           std::string_view reload_scope, std::string_view scope_claim) {
  const WebAsset* page = find_asset(kPage);
  if (!page) return {};
  const std::pair<std::string_view, std::string_view> fills[] = {
      {"@AUTH@", token_needed ? "bearer" : "none"},
      {"@STATS_SCOPE@", stats_scope},
      {"@RELOAD_SCOPE@", reload_scope},
      {"@SCOPE_CLAIM@", scope_claim}};
  std::string out;
  out.reserve(page->body.size() + 128);
  std::string_view rest = page->body;
  while (!rest.empty()) {
    const auto at = rest.find('@');
    if (at == std::string_view::npos) {
      out.append(rest);
      break;
    }
    out.append(rest.substr(0, at));
    rest.remove_prefix(at);
    bool filled = false;
    for (const auto& [key, value] : fills) {
      if (rest.substr(0, key.size()) == key) {
        append_html_escaped(out, value);
        rest.remove_prefix(key.size());
        filled = true;
        break;
      }
    }
    if (!filled) {
      out += '@';
      rest.remove_prefix(1);
    }
  }
  return out;
}

Reply dashboard_reply(const registry::Snapshot& snap, bool insecure_admin,
                      std::string_view method, std::string_view path) {
  // The page is only useful with the API it reads: without auth.jwt both are absent.
  if (!snap.verifier && !insecure_admin)
    return error_reply(ErrorCode::no_route, "no route for this path");
  if (method != "GET" && method != "HEAD")
    return error_reply(ErrorCode::method_not_allowed, "method not allowed", "Allow: GET, HEAD\r\n");
  constexpr std::string_view base = "/dashboard";
  std::string_view rest = path.substr(std::min(path.size(), base.size()));
  if (rest.empty() || rest == "/") {
    const auto& scopes = snap.config->auth.scopes;
    const auto& jwt = snap.config->auth.jwt;
    const std::string_view claim = jwt ? std::string_view(jwt->scope_claim) : "scope";
    return page_reply(kPage, dashboard_page(!insecure_admin, scopes.stats, scopes.reload, claim));
  }
  rest.remove_prefix(1);
  const WebAsset* asset = rest == kPage ? nullptr : find_asset(rest);
  if (!asset) return error_reply(ErrorCode::no_route, "no route for this path");
  return page_reply(asset->name, std::string(asset->body));
}

}  // namespace gatehouse::admin
