// load_from_string / load_from_file: YAML text -> Config, or every error found.
#include <algorithm>
#include <array>
#include <atomic>
#include <exception>
#include <malloc.h>
#include <mutex>
#include <thread>

#include "config/config.hpp"
#include "config/files.hpp"
#include "config/prescan.hpp"
#include "config/sections.hpp"
#include "config/share_settings.hpp"
#include "config/source_index.hpp"
#include "config/utf8.hpp"
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

LoadSerial::LoadSerial() {
  static std::atomic<std::uint64_t> next{1};
  value = next.fetch_add(1, std::memory_order_relaxed);
}

namespace {

using namespace detail;

constexpr std::array<std::string_view, 11> kTopKeys = {
    "listen", "threads", "shutdown_grace", "watch",    "tls",      "log",
    "limits", "auth",    "defaults",       "endpoints", "redis"};

const char* root_kind(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Sequence: return "a sequence";
    default: return "an empty document";
  }
}

// `defaults_out` receives the endpoints' defaults (for parsing endpoints on their own).
void load_tree(Context& ctx, const YAML::Node& doc, Config& cfg, Defaults* defaults_out) {
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
  if (const Entry* e = root.find("redis")) {
    Redis redis;
    parse_redis(ctx, e->value, redis);
    cfg.redis = std::move(redis);
  }
  Defaults defaults;
  if (const Entry* e = root.find("defaults")) parse_defaults(ctx, e->value, defaults);
  cfg.default_connect_timeout = defaults.connect_timeout;
  cfg.default_timeout = defaults.timeout;
  if (defaults_out) *defaults_out = defaults;

  const Entry* e = root.find("endpoints");
  if (!e) return;
  auto items = as_sequence(ctx.errors, e->value, /*null_is_empty=*/true);
  if (!items) return;
  std::vector<EndpointDraft> drafts;
  drafts.reserve(items->size());
  SettingsSharer sharer;  // equal settings of consecutive endpoints: one object
  for (std::size_t i = 0; i < items->size(); ++i) {
    drafts.push_back(parse_endpoint(ctx, (*items)[i], i, cfg, defaults));
    sharer.share(drafts.back().ep);
  }
  validate_endpoints(ctx, drafts);
  // Exactly as many as there are: grown by doubling, a 100,000-endpoint vector would
  // keep room for 31,072 more (31 MiB).
  cfg.endpoints.reserve(drafts.size());
  for (auto& d : drafts) cfg.endpoints.push_back(std::move(d.ep));
}

}  // namespace

namespace {

Pos pos_of_offset(std::string_view text, std::size_t offset) {
  const std::string_view before = text.substr(0, offset);
  const auto line = 1 + std::count(before.begin(), before.end(), '\n');
  const std::size_t nl = before.rfind('\n');
  const std::size_t column = nl == std::string_view::npos ? offset + 1 : offset - nl;
  return {static_cast<int>(line), static_cast<int>(column)};
}

std::string too_large_message(const std::string& size) {
  return "the file is " + size + ", over the limit of 64 MiB (" +
         std::to_string(kMaxConfigBytes) + " bytes); it is not read";
}

// Checks on the raw bytes; each one refuses the file before YAML parsing.
bool refuse_text(const std::string& text, const Prescan& scan, Errors& errors) {
  if (auto bad = first_invalid_utf8(text)) {
    static constexpr char hex[] = "0123456789ABCDEF";
    const auto b = static_cast<unsigned char>(text[*bad]);
    errors.add("", pos_of_offset(text, *bad),
               std::string("the file is not UTF-8: the byte 0x") + hex[b >> 4] + hex[b & 0x0f] +
                   " at offset " + std::to_string(*bad) +
                   " (counted from 0) does not start a valid UTF-8 character");
    return true;
  }
  if (scan.too_deep.line > 0) {
    errors.add("", scan.too_deep,
               "the file is nested deeper than " + std::to_string(kMaxNesting) +
                   " levels (mappings and sequences inside each other); it is refused");
    return true;
  }
  if (scan.unclosed.open.line > 0) {
    errors.add("", scan.unclosed.open,
               std::string("invalid YAML: the ") +
                   (scan.unclosed.quote == '"' ? "double" : "single") +
                   " quote opened here is never closed: it swallows the rest of the file");
    return true;
  }
  return false;
}

}  // namespace

void detail::parse_yaml(const std::string& text, const Prescan& scan, Context& ctx, Config& cfg,
                        Defaults* defaults_out) {
  Errors& errors = ctx.errors;
  Documents docs;
  try {
    docs = read_documents(text);  // not YAML::LoadAll: it can loop forever
  } catch (const YAML::Exception& ex) {
    const Pos pos = ex.mark.is_null() ? Pos{} : Pos{ex.mark.line + 1, ex.mark.column + 1};
    Pos where;
    const std::string cause = syntax_error_cause(text, scan, pos, where);
    if (cause.empty()) {
      errors.add("", pos, "invalid YAML: " + ex.msg);
    } else {
      errors.add("", where,
                 "invalid YAML: " + cause + " (the parser stopped at line " +
                     std::to_string(pos.line) + ", col " + std::to_string(pos.column) + ": " +
                     ex.msg + ")");
    }
    return;
  }
  if (docs.stuck) {
    errors.add("", Pos{docs.stuck_at.line + 1, docs.stuck_at.column + 1},
               "invalid YAML: unexpected character (a ',' outside [ ] or { }?)");
    return;
  }
  if (docs.more) {
    errors.add("", Pos{docs.second.line + 1, docs.second.column + 1},
               "the file holds more than one YAML document");
  }
  load_tree(ctx, docs.first, cfg, defaults_out);
  // Valid YAML whose settings are wrong may still be a quote closed lines too late.
  if (errors.size() > 0 && scan.swallowing.open.line > 0) {
    const QuoteSpan& q = scan.swallowing;
    errors.add("", q.open,
               std::string("note: the ") + (q.quote == '"' ? "double" : "single") +
                   " quote opened here runs to line " + std::to_string(q.close.line) +
                   " and takes in what look like keys; is its closing quote missing?");
  }
}

namespace {
// The reuse path never fails a load: whatever goes wrong there, the whole file is parsed.
bool reused(const std::string& text, const Prescan& scan, const Config& previous, Context& ctx,
            Config& cfg) {
  try {
    return load_reusing(text, scan, previous, ctx, cfg);
  } catch (const std::exception&) {
    return false;
  }
}
}  // namespace

LoadResult load_from_string(const std::string& yaml_text, const std::string& path) {
  return load_from_string(yaml_text, path, nullptr);
}

LoadResult load_from_string(const std::string& yaml_text, const std::string& path,
                            const Config* previous) {
  LoadResult result;
  Errors errors;
  Context ctx{errors, path, {}};
  Config cfg;
  cfg.path = path;
  try {
    if (yaml_text.size() > kMaxConfigBytes) {
      errors.add("", {}, too_large_message(std::to_string(yaml_text.size()) + " bytes"));
    } else {
      const Prescan scan = prescan_yaml(yaml_text);
      if (!refuse_text(yaml_text, scan, errors)) {
        cfg.sha256 = sha256_hex(yaml_text);
        if (!previous || !reused(yaml_text, scan, *previous, ctx, cfg)) {
          parse_yaml(yaml_text, scan, ctx, cfg);
          if (errors.size() == 0 && scan.swallowing.open.line == 0) index_source(yaml_text, cfg);
        }
      }
    }
  } catch (const std::exception& ex) {
    errors.add("", {}, std::string("internal error while loading the configuration: ") + ex.what());
  } catch (...) {
    errors.add("", {}, "internal error while loading the configuration");
  }
  result.errors = std::move(errors.list());
  result.warnings = std::move(ctx.warnings);
  std::stable_sort(result.errors.begin(), result.errors.end(),
                   [](const ConfigError& a, const ConfigError& b) {
                     return std::pair(a.line, a.column) < std::pair(b.line, b.column);
                   });
  if (result.errors.empty()) result.config = std::move(cfg);
  return result;
}

namespace {
// glibc raises its trim threshold to twice the largest mmap'd block freed so far (the
// config text: 10 MiB at 100,000 endpoints), and a thread arena's free top is only given
// back above that threshold (malloc_trim does not cut it): the parse thread's arena kept
// ~5 MiB resident at 10,000 endpoints. A fixed threshold (glibc's default value) keeps it
// cut; it also fixes the mmap threshold at its default, 128 KiB.
void keep_heap_trim_threshold() {
  static std::once_flag once;
  std::call_once(once, [] { ::mallopt(M_TRIM_THRESHOLD, 128 * 1024); });
}
}  // namespace

LoadResult load_from_file(const std::string& path, const Config* previous) {
  keep_heap_trim_threshold();
  std::string error;
  bool too_large = false;
  auto text = detail::read_file(path, error, detail::kMaxConfigBytes, too_large);
  if (!text) {
    LoadResult result;
    result.errors.push_back(ConfigError{
        "", 0, 0, too_large ? path + ": " + too_large_message(error)
                            : "cannot read " + path + ": " + error});
    return result;
  }
  if (previous) return load_from_string(*text, path, previous);
  // A whole-file parse leaves yaml-cpp's node tree and every temporary interleaved with
  // the config it keeps: freed, they are holes in the heap that RSS never gives back. So
  // the parse runs on a thread of its own (glibc gives it its own arena) and only the
  // result is copied here, compactly; the parse's arena is then empty and returned.
  LoadResult parsed;
  std::exception_ptr failure;  // e.g. bad_alloc: thrown here, as without the thread
  std::thread([&] {
    try {
      parsed = load_from_string(*text, path, nullptr);
    } catch (...) {
      failure = std::current_exception();
    }
  }).join();
  if (failure) std::rethrow_exception(failure);
  LoadResult result;
  if (parsed.config) {
    result.config = Config(*parsed.config);
    result.config->endpoints = parsed.config->endpoints.deep_copy();  // not shared with it
    detail::SettingsCopier copier;  // nor their settings (what they share stays shared)
    for (std::size_t i = 0; i < result.config->endpoints.size(); ++i)
      copier.copy(result.config->endpoints.edit(i));
  }
  result.errors = parsed.errors;
  result.warnings = parsed.warnings;
  parsed = LoadResult{};
  ::malloc_trim(0);
  return result;
}

}  // namespace gatehouse::config
