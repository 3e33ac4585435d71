// The status page of SPEC 16: GET /dashboard and the files it loads (/dashboard/app.js,
// /dashboard/app.css, /dashboard/favicon.svg), built into the binary from web/ at build
// time (cmake/embed_web.cmake). The page itself only reads the stats API and calls the
// reload API; every decision about access is the server's.
#pragma once

#include <span>
#include <string_view>

#include "admin/admin.hpp"

namespace gatehouse::admin {

// One file of web/, as embedded (name relative to web/).
struct WebAsset {
  std::string_view name;
  std::string_view body;
};

// Every embedded file (defined in the generated web_assets.cpp).
std::span<const WebAsset> web_assets();

// The answer for a path under /dashboard: 404 like the stats API when the snapshot has
// no auth.jwt and `insecure_admin` is off, 405 for a method other than GET/HEAD, the page
// for /dashboard and /dashboard/, an asset for /dashboard/<name>, else 404.
Reply dashboard_reply(const registry::Snapshot& snap, bool insecure_admin,
                      std::string_view method, std::string_view path);

// The page with its settings filled in: how it authenticates ("bearer" or "none"), the
// configured stats and reload scopes and the scope claim's name, HTML-escaped.
std::string dashboard_page(bool token_needed, std::string_view stats_scope,
                           std::string_view reload_scope, std::string_view scope_claim);

}  // namespace gatehouse::admin
