// Found by tests/fuzz/config_fuzz.cpp: yaml-cpp's LoadAll never returned (allocating
// all the while) on a ',' outside any flow collection, so `gatehouse check`, start-up
// and reload hung until the machine ran out of memory.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <string>
#include <thread>

#include "config/config.hpp"

using gatehouse::config::load_from_string;
using gatehouse::config::LoadResult;

namespace {

// Loads on another thread; a load that does not return in time fails the test and
// ends the process (the stuck thread cannot be stopped).
LoadResult load_within_deadline(const std::string& text) {
  std::packaged_task<LoadResult()> task([text] { return load_from_string(text, "/nonexistent/x.yaml"); });
  auto result = task.get_future();
  std::thread worker(std::move(task));
  if (result.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    std::fprintf(stderr, "load_from_string did not return within 10 s for %s\n", text.c_str());
    std::_Exit(1);
  }
  // Joined, not detached: the thread's exit frees its per-thread library state, which
  // LeakSanitizer would otherwise report when the process ends first.
  worker.join();
  return result.get();
}

}  // namespace

TEST(YamlDocuments, StrayCommaIsAnErrorNotAHang) {
  for (const std::string text : {",", ",\n", ",listen: %8.5080\n", ",a"}) {
    const LoadResult r = load_within_deadline(text);
    ASSERT_FALSE(r.config) << text;
    ASSERT_EQ(r.errors.size(), 1u) << text;
    EXPECT_NE(r.errors[0].message.find("invalid YAML"), std::string::npos) << r.errors[0].message;
    EXPECT_EQ(r.errors[0].line, 1) << text;
  }
  // The comma after a node: the parser gets stuck on the second "document".
  const LoadResult r = load_within_deadline("!x ,");
  ASSERT_FALSE(r.config);
  ASSERT_FALSE(r.errors.empty());
  EXPECT_EQ(r.errors[0].line, 1);
}

TEST(YamlDocuments, SecondDocumentIsStillReportedWhereItStarts) {
  const LoadResult r = load_within_deadline("endpoints: []\n---\nlisten: x\n");
  ASSERT_FALSE(r.config);
  ASSERT_FALSE(r.errors.empty());
  EXPECT_NE(r.errors[0].message.find("more than one YAML document"), std::string::npos);
  EXPECT_EQ(r.errors[0].line, 3);
  EXPECT_EQ(r.errors[0].column, 1);
}

TEST(YamlDocuments, EmptyAndSingleDocumentsLoadAsBefore) {
  EXPECT_FALSE(load_within_deadline("").errors.empty());  // an empty document is refused
  const LoadResult r = load_within_deadline("---\nendpoints: []\n...\n");
  EXPECT_TRUE(r.errors.empty() || r.errors[0].message.find("more than one") == std::string::npos);
}
