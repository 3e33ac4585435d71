#include <algorithm>
#include <boost/json.hpp>

#include "admin/admin.hpp"
#include "admin/json_text.hpp"
#include "config/utf8.hpp"

namespace gatehouse::admin {

namespace json = boost::json;

namespace {
json::array to_array(const std::vector<std::string>& items) {
  json::array a;
  for (const auto& s : items) a.emplace_back(s);
  return a;
}
}  // namespace

Reply reload_reply(bool ok, bool applied, std::uint64_t config_version,
                   const config::ConfigDiff& diff, const std::vector<config::ConfigError>& errors,
                   std::string_view request_id) {
  Reply r;
  if (!ok) {
    json::value problem = json::parse(problem_json(
        ErrorCode::invalid_config, "the new configuration is invalid; the running one is kept",
        request_id));
    // The loader quotes values escaped; escaping again here keeps the body valid UTF-8
    // JSON whatever a message holds (a file name, an OS error text).
    json::array list;
    const std::size_t listed = std::min(errors.size(), kMaxListedErrors);
    list.reserve(listed);
    for (std::size_t i = 0; i < listed; ++i) {
      const auto& e = errors[i];
      list.emplace_back(json::object{{"path", config::escape_invalid_utf8(e.path)},
                                     {"line", e.line},
                                     {"column", e.column},
                                     {"message", config::escape_invalid_utf8(e.message)}});
    }
    problem.as_object()["errors"] = std::move(list);
    problem.as_object()["error_count"] = errors.size();
    r.status = status_of(ErrorCode::invalid_config);
    r.content_type = "application/problem+json";
    r.problem = ErrorCode::invalid_config;
    r.body = to_json(problem);
    return r;
  }
  json::object report;
  report["result"] = applied ? "applied" : "unchanged";
  report["config_version"] = config_version;
  report["added"] = to_array(diff.added);
  report["removed"] = to_array(diff.removed);
  report["updated"] = to_array(diff.updated);
  report["unchanged"] = to_array(diff.unchanged);
  report["disabled"] = to_array(diff.disabled);
  report["restart_required"] = to_array(diff.restart_required);
  r.body = to_json(report);
  return r;
}

}  // namespace gatehouse::admin
