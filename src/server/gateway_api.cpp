// The gateway's own API as a kind of route: /healthz, /readyz, /endpoints/*, /metrics,
// /dashboard.
#include "admin/admin.hpp"
#include "admin/dashboard.hpp"
#include "admin/metrics_page.hpp"
#include "logging/log.hpp"
#include "server/connection.hpp"
#include "server/server.hpp"
#include "server/pipeline.hpp"
#include "server/worker.hpp"

namespace gatehouse::server {

namespace {
bool is_under(std::string_view path, std::string_view prefix) {
  return path.size() >= prefix.size() && path.substr(0, prefix.size()) == prefix &&
         (path.size() == prefix.size() || path[prefix.size()] == '/');
}
}  // namespace

net::Task<void> Pipeline::gateway_api() {
  const bool get = ctx_.req.method == "GET" || ctx_.req.method == "HEAD";
  if (ctx_.path == "/healthz" || ctx_.path == "/readyz") {
    if (!get) {
      co_await send_gateway_error(proxy::errors::method_not_allowed(), "Allow: GET, HEAD\r\n");
    } else if (ctx_.path == "/healthz") {
      co_await send_response(200, "application/json", "{\"status\":\"ok\"}");
    } else if (w_.server.draining() || !w_.server.ready()) {
      co_await send_gateway_error(proxy::errors::draining());
    } else {
      co_await send_response(200, "application/json", "{\"status\":\"ready\"}");
    }
    co_return;
  }
  if (is_under(ctx_.path, "/endpoints")) {
    co_await handle_admin();
    co_return;
  }
  if (ctx_.path == "/metrics") {
    co_await handle_metrics();
    co_return;
  }
  if (is_under(ctx_.path, "/dashboard")) {
    ctx_.snap = w_.server.snapshot(w_);
    co_await send_reply(admin::dashboard_reply(*ctx_.snap, w_.server.options().insecure_admin,
                                               ctx_.req.method, ctx_.path));
    co_return;
  }
  co_await send_gateway_error(proxy::errors::no_route());
  co_return;
}

net::Task<void> Pipeline::handle_admin() {
  ctx_.snap = w_.server.snapshot(w_);
  const auto& snap = *ctx_.snap;
  const bool insecure = w_.server.options().insecure_admin;
  // Without auth.jwt the API does not exist unless --insecure-admin says otherwise.
  if (!snap.verifier && !insecure) {
    co_await send_gateway_error(proxy::errors::no_route());
    co_return;
  }
  constexpr std::string_view stats = "/endpoints/stats";
  if (ctx_.path == "/endpoints/reload") {
    if (ctx_.req.method != "POST") {
      co_await send_gateway_error(proxy::errors::method_not_allowed(), "Allow: POST\r\n");
      co_return;
    }
    if (!insecure) {
      const bool allowed = co_await admit_admin(snap, snap.config->auth.scopes.reload);
      if (!allowed) co_return;
    }
    ctx_.snap.reset();  // this request does not need the old table while the file is read
    const auto outcome = co_await w_.server.reload_from_worker();
    co_await send_reply(admin::reload_reply(outcome.ok, outcome.applied, outcome.config_version,
                                            outcome.diff, outcome.errors, ctx_.request_id));
    co_return;
  }
  const bool is_stats = is_under(ctx_.path, stats);
  if (!is_stats) {
    co_await send_gateway_error(proxy::errors::no_route());
    co_return;
  }
  if (ctx_.req.method != "GET" && ctx_.req.method != "HEAD") {
    co_await send_gateway_error(proxy::errors::method_not_allowed(), "Allow: GET, HEAD\r\n");
    co_return;
  }
  if (!insecure) {
    const bool allowed = co_await admit_admin(snap, snap.config->auth.scopes.stats);
    if (!allowed) co_return;
  }
  const auto info = w_.server.config_info();
  if (ctx_.path.size() == stats.size()) {
    co_await send_reply(admin::stats_all(snap, info, ctx_.req.query));
  } else {
    std::string_view rest = std::string_view(ctx_.path).substr(stats.size() + 1);
    if (rest.empty() || rest.find('/') != std::string_view::npos) {
      co_await send_gateway_error(proxy::errors::no_route());
    } else {
      co_await send_reply(admin::stats_one(snap, rest));
    }
  }
}

net::Task<void> Pipeline::handle_metrics() {
  if (ctx_.req.method != "GET" && ctx_.req.method != "HEAD") {
    co_await send_gateway_error(proxy::errors::method_not_allowed(), "Allow: GET, HEAD\r\n");
    co_return;
  }
  ctx_.snap = w_.server.snapshot(w_);
  const auto& snap = *ctx_.snap;
  const std::string& scope = snap.config->auth.scopes.metrics;
  // "" = open. A scope needs a token, checked like the stats API's; without auth.jwt it
  // cannot be checked, and the API is absent as the stats API is (--insecure-admin: open).
  if (!scope.empty() && !w_.server.options().insecure_admin) {
    if (!snap.verifier) {
      co_await send_gateway_error(proxy::errors::no_route());
      co_return;
    }
    const bool allowed = co_await admit_admin(snap, scope);
    if (!allowed) co_return;
  }
  const admin::ProcessMetrics process{
      w_.server.connections_open.load(std::memory_order_relaxed), GATEHOUSE_VERSION};
  co_await send_reply(admin::metrics_reply(snap, w_.server.metrics(), process));
}

net::Task<bool> Pipeline::admit_admin(const registry::Snapshot& snap, const std::string& scope) {
  if (scope.empty()) co_return true;  // "" = this API needs no token (auth.scopes)
  const std::string required[] = {scope};
  const auto outcome = admin::authorize(*snap.verifier, ctx_.req.fields, required);
  if (outcome.verdict == admin::AuthVerdict::ok) co_return true;
  log_auth_refusal(outcome);
  co_await send_reply(admin::auth_failure_reply(outcome));
  co_return false;
}

void Pipeline::log_auth_refusal(const admin::AuthOutcome& outcome) {
  logging::debug("bearer token refused",
                 {{"request_id", std::string_view(ctx_.request_id)},
                  {"path", std::string_view(ctx_.path)},
                  {"reason", std::string_view(outcome.reason)}});
}

}  // namespace gatehouse::server
