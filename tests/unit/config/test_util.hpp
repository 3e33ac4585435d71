// Helpers for the config unit tests.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace gatehouse::config::testing {

inline std::string fixtures() { return GATEHOUSE_FIXTURES; }
inline std::string key_fixture(std::string_view name) {
  return fixtures() + "/keys/" + std::string(name);
}

// Loads inline YAML as if it were tests/fixtures/config/inline.yaml (so "../keys/x"
// names a key fixture). A leading newline is dropped so that the text after R"( starts
// on line 1.
inline LoadResult load(std::string_view yaml,
                       const std::string& path = fixtures() + "/config/inline.yaml") {
  if (!yaml.empty() && yaml.front() == '\n') yaml.remove_prefix(1);
  return load_from_string(std::string(yaml), path);
}

inline std::string dump(const LoadResult& r) {
  std::string out;
  for (const auto& e : r.errors) out += "  " + e.to_string() + "\n";
  return out.empty() ? "  (no errors)\n" : out;
}

// There is an error at `path`, at line:col, whose message contains `fragment`.
inline ::testing::AssertionResult has_error(const LoadResult& r, std::string_view path,
                                            int line, int column, std::string_view fragment) {
  for (const auto& e : r.errors) {
    if (e.path == path && e.line == line && e.column == column &&
        e.message.find(fragment) != std::string::npos) {
      return ::testing::AssertionSuccess();
    }
  }
  return ::testing::AssertionFailure()
         << "no error " << path << " (line " << line << ", col " << column << ") containing \""
         << fragment << "\"; got:\n"
         << dump(r);
}

// Exactly one error, and it is the one described.
inline ::testing::AssertionResult only_error(const LoadResult& r, std::string_view path, int line,
                                             int column, std::string_view fragment) {
  if (r.errors.size() != 1) {
    return ::testing::AssertionFailure() << "expected exactly one error; got:\n" << dump(r);
  }
  if (r.config) return ::testing::AssertionFailure() << "config set despite errors";
  return has_error(r, path, line, column, fragment);
}

inline ::testing::AssertionResult ok(const LoadResult& r) {
  if (r.errors.empty() && r.config) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected a valid config; got:\n" << dump(r);
}

// "endpoints:" on line 1 (after `before`), then one endpoint whose first key is on the
// next line and each further key on the line after, all keys at column 5.
inline LoadResult endpoint(std::initializer_list<std::string_view> lines,
                           std::string_view before = "") {
  std::string yaml(before);
  yaml += "endpoints:\n";
  bool first = true;
  for (auto line : lines) {
    yaml += first ? "  - " : "    ";
    yaml += line;
    yaml += '\n';
    first = false;
  }
  return load(yaml);
}

inline const Endpoint& first_endpoint(const LoadResult& r) { return r.config->endpoints.at(0); }

// A directory removed with its contents at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "gh-config-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string path() const { return path_.string(); }
  std::string write(const std::string& name, std::string_view content) const {
    const auto file = path_ / name;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << content;
    return file.string();
  }

 private:
  std::filesystem::path path_;
};

// Sets an environment variable for the scope of a test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() { ::unsetenv(name_.c_str()); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
};

}  // namespace gatehouse::config::testing
