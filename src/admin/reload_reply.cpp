#include <boost/json.hpp>

#include "admin/admin.hpp"

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
    json::array list;
    for (const auto& e : errors) {
      list.emplace_back(json::object{{"path", e.path},
                                     {"line", e.line},
                                     {"column", e.column},
                                     {"message", e.message}});
    }
    problem.as_object()["errors"] = std::move(list);
    r.status = status_of(ErrorCode::invalid_config);
    r.content_type = "application/problem+json";
    r.problem = ErrorCode::invalid_config;
    r.body = json::serialize(problem);
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
  r.body = json::serialize(report);
  return r;
}

}  // namespace gatehouse::admin
