// load_from_string / load_from_file: YAML text -> Config, or every error found.
#include <algorithm>
#include <array>

#include "config/config.hpp"
#include "config/files.hpp"
#include "config/sections.hpp"
#include "config/yaml_documents.hpp"

namespace gatehouse::config {

std::string ConfigError::to_string() const {
  std::string out;
  if (!path.empty()) out = path;
  if (line > 0) {
    if (!out.empty()) out += ' ';
    out += (path.empty() ? "line " : "(line ") + std::to_string(line) + ", col " +
           std::to_string(column) + (path.empty() ? "" : ")");
  }
  if (!out.empty()) out += ": ";
  return out + message;
}

namespace {

using namespace detail;

constexpr std::array<std::string_view, 10> kTopKeys = {
    "listen", "threads", "shutdown_grace", "watch",    "tls",
    "log",    "limits",  "auth",           "defaults", "endpoints"};

const char* root_kind(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Sequence: return "a sequence";
    default: return "an empty document";
  }
}

void load_tree(Context& ctx, const YAML::Node& doc, Config& cfg) {
  if (!doc.IsMap()) {
    Pos pos = pos_of(doc);
    ctx.errors.add("", pos,
                   std::string("the configuration must be a YAML mapping of settings "
                               "(listen, endpoints, ...), got ") +
                       root_kind(doc));
    return;
  }
  const MapReader root(ctx.errors, Value{"", doc, pos_of(doc)}, kTopKeys);
  parse_server(ctx, root, cfg);
  if (const Entry* e = root.find("auth")) parse_auth(ctx, e->value, cfg.auth);
  Defaults defaults;
  if (const Entry* e = root.find("defaults")) parse_defaults(ctx, e->value, defaults);
  cfg.default_connect_timeout = defaults.connect_timeout;
  cfg.default_timeout = defaults.timeout;

  const Entry* e = root.find("endpoints");
  if (!e) return;
  auto items = as_sequence(ctx.errors, e->value, /*null_is_empty=*/true);
  if (!items) return;
  std::vector<EndpointDraft> drafts;
  drafts.reserve(items->size());
  for (std::size_t i = 0; i < items->size(); ++i) {
    drafts.push_back(parse_endpoint(ctx, (*items)[i], i, cfg, defaults));
  }
  validate_endpoints(ctx, drafts);
  for (auto& d : drafts) cfg.endpoints.push_back(std::move(d.ep));
}

}  // namespace

LoadResult load_from_string(const std::string& yaml_text, const std::string& path) {
  LoadResult result;
  Errors errors;
  Context ctx{errors, path};
  Config cfg;
  cfg.path = path;
  try {
    cfg.sha256 = sha256_hex(yaml_text);
    Documents docs;
    try {
      docs = read_documents(yaml_text);  // not YAML::LoadAll: it can loop forever
    } catch (const YAML::Exception& ex) {
      const Pos pos = ex.mark.is_null() ? Pos{} : Pos{ex.mark.line + 1, ex.mark.column + 1};
      errors.add("", pos, "invalid YAML: " + ex.msg);
    }
    if (errors.size() == 0 && docs.stuck) {
      errors.add("", Pos{docs.stuck_at.line + 1, docs.stuck_at.column + 1},
                 "invalid YAML: unexpected character (a ',' outside [ ] or { }?)");
    } else if (errors.size() == 0) {
      if (docs.more) {
        errors.add("", Pos{docs.second.line + 1, docs.second.column + 1},
                   "the file holds more than one YAML document");
      }
      load_tree(ctx, docs.first, cfg);
    }
  } catch (const std::exception& ex) {
    errors.add("", {}, std::string("internal error while loading the configuration: ") + ex.what());
  } catch (...) {
    errors.add("", {}, "internal error while loading the configuration");
  }
  result.errors = std::move(errors.list());
  std::stable_sort(result.errors.begin(), result.errors.end(),
                   [](const ConfigError& a, const ConfigError& b) {
                     return std::pair(a.line, a.column) < std::pair(b.line, b.column);
                   });
  if (result.errors.empty()) result.config = std::move(cfg);
  return result;
}

LoadResult load_from_file(const std::string& path) {
  std::string error;
  auto text = detail::read_file(path, error);
  if (!text) {
    LoadResult result;
    result.errors.push_back(ConfigError{"", 0, 0, "cannot read " + path + ": " + error});
    return result;
  }
  return load_from_string(*text, path);
}

}  // namespace gatehouse::config
