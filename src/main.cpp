// CLI wiring only: parse arguments, load the config, hand over to the server.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "auth/mint.hpp"
#include "common/units.hpp"
#include "config/config.hpp"
#include "config/utf8.hpp"
#include "logging/log.hpp"
#include "net/tls_memory.hpp"
#include "router/route_listing.hpp"
#include "server/server.hpp"

using namespace gatehouse;

namespace {

int print_errors(const config::LoadResult& result) {
  // Messages quote values escaped; escaping again keeps every line valid UTF-8 whatever
  // else a message holds (a file name, an OS error text).
  for (const auto& e : result.errors) std::cerr << config::escape_invalid_utf8(e.to_string()) << "\n";
  std::cerr << result.errors.size() << (result.errors.size() == 1 ? " error" : " errors") << "\n";
  return 1;
}

std::string count_of(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

int cmd_check(const std::string& file, bool routes) {
  const auto result = config::load_from_file(file);
  if (!result.errors.empty()) return print_errors(result);
  const auto& cfg = *result.config;
  for (const auto& w : result.warnings)
    std::cerr << "warning: " << config::escape_invalid_utf8(w.to_string()) << "\n";
  std::size_t enabled = 0;
  for (const auto& ep : cfg.endpoints) enabled += ep.disabled ? 0 : 1;
  std::cout << file << ": ok (" << count_of(cfg.endpoints.size(), "endpoint", "endpoints")
            << ", " << enabled << " enabled)\n";
  if (routes) {
    const router::RouteTable table(cfg.endpoints);
    if (table.size() == 0) {
      std::cout << "no routes: no endpoint is enabled\n";
    } else {
      std::cout << "\n" << router::format_routes(table, cfg.endpoints);
    }
  }
  return 0;
}

int cmd_run(const std::string& file, const std::string& cli_level, bool insecure_admin) {
  // Every thread (the logger's, the workers', the health checker's) inherits these
  // signals blocked; the server unblocks them on the main thread alone while it serves.
  server::block_control_signals();
  logging::install_crash_handlers();
  auto result = config::load_from_file(file);
  if (!result.errors.empty()) return print_errors(result);
  auto cfg = std::make_shared<const config::Config>(std::move(*result.config));

  std::string override_level;
  if (const char* env = std::getenv("GATEHOUSE_LOG_LEVEL"); env && *env) override_level = env;
  if (!cli_level.empty()) override_level = cli_level;
  const std::string level_text = override_level.empty() ? cfg->log.level : override_level;
  const auto level = logging::parse_level(level_text);
  if (!level) {
    std::cerr << "invalid log level '" << level_text << "' (debug, info, warning, error)\n";
    return 2;
  }
  logging::setup(*level, *logging::parse_format(cfg->log.format), cfg->log.access_log);
  if (insecure_admin)
    logging::warning("--insecure-admin: the stats and reload APIs answer without a token");
  for (const auto& w : result.warnings)
    logging::warning("config warning", {{"detail", std::string_view(w.to_string())}});

  server::Server srv(std::move(cfg), server::Options{insecure_admin, override_level});
  const int code = srv.run();
  logging::flush();
  return code;
}

struct TokenArgs {
  std::string secret_env, key_file, alg, kid, sub, scope, aud, iss, ttl = "1h";
};

int cmd_token(const TokenArgs& a) {
  if (a.secret_env.empty() == a.key_file.empty()) {
    std::cerr << "token: give exactly one of --secret-env VAR or --key-file PEM\n";
    return 2;
  }
  auth::MintOptions o;
  o.alg = a.alg;
  o.kid = a.kid;
  o.sub = a.sub;
  o.scope = a.scope;
  o.aud = a.aud;
  o.iss = a.iss;
  const auto ttl = parse_duration(a.ttl);
  if (!ttl || ttl->count() <= 0) {
    std::cerr << "token: --ttl must be a positive duration such as 15m or 1h\n";
    return 2;
  }
  o.ttl = std::chrono::duration_cast<std::chrono::seconds>(*ttl);
  if (o.ttl.count() == 0) o.ttl = std::chrono::seconds(1);
  if (!a.secret_env.empty()) {
    const char* secret = std::getenv(a.secret_env.c_str());
    if (!secret) {
      std::cerr << "token: environment variable " << a.secret_env << " is not set\n";
      return 1;
    }
    o.hmac_secret = std::string(secret);
  } else {
    o.key_file = a.key_file;
  }
  std::string token, error;
  if (!auth::mint_token(o, token, error)) {
    std::cerr << "token: " << error << "\n";
    return 1;
  }
  std::cout << token << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Before anything can touch OpenSSL: its allocations then come from per-thread lists.
  net::tls_memory::install();
  CLI::App app{"gatehouse: an API gateway driven by one YAML file"};
  app.require_subcommand(0, 1);

  std::string file, level;
  bool insecure_admin = false;
  // `gatehouse -c FILE` runs the gateway.
  app.add_option("-c,--config", file, "configuration file");
  app.add_option("--log-level", level, "debug, info, warning or error");
  app.add_flag("--insecure-admin", insecure_admin, "serve the admin APIs without tokens");

  auto* run = app.add_subcommand("run", "run the gateway");
  std::string run_file, run_level;
  bool run_insecure = false;
  run->add_option("-c,--config", run_file, "configuration file")->required();
  run->add_option("--log-level", run_level, "debug, info, warning or error");
  run->add_flag("--insecure-admin", run_insecure, "serve the admin APIs without tokens");

  auto* check = app.add_subcommand("check", "validate a configuration file");
  std::string check_file;
  bool check_routes = false;
  check->add_option("-c,--config", check_file, "configuration file")->required();
  check->add_flag("--routes", check_routes,
                  "also print the route table (prefix, methods, endpoint, servers)");

  auto* version = app.add_subcommand("version", "print the version");
  app.set_version_flag("--version", std::string("gatehouse ") + GATEHOUSE_VERSION,
                       "print the version and exit");

  auto* token = app.add_subcommand("token", "mint a JWT; prints only the token");
  TokenArgs targs;
  token->add_option("--secret-env", targs.secret_env, "sign HS256/384/512 with this variable's bytes");
  token->add_option("--key-file", targs.key_file, "sign with this private key PEM");
  token->add_option("--alg", targs.alg, "algorithm (default: HS256, or inferred from the key)");
  token->add_option("--kid", targs.kid, "key id header");
  token->add_option("--sub", targs.sub, "subject claim");
  token->add_option("--scope", targs.scope, "space-separated scopes");
  token->add_option("--aud", targs.aud, "audience claim");
  token->add_option("--iss", targs.iss, "issuer claim");
  token->add_option("--ttl", targs.ttl, "lifetime, e.g. 15m or 1h (default 1h)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  if (*version) {
    std::cout << "gatehouse " << GATEHOUSE_VERSION << "\n";
    return 0;
  }
  if (*check) return cmd_check(check_file, check_routes);
  if (*token) return cmd_token(targs);
  if (*run) return cmd_run(run_file, run_level.empty() ? level : run_level,
                           run_insecure || insecure_admin);
  if (!file.empty()) return cmd_run(file, level, insecure_admin);
  std::cerr << app.help() << "\n";
  return 2;
}
