// Reloads that take unchanged endpoints from the running config instead of parsing them:
// the result must be what a whole-file parse gives, and anything the split cannot vouch
// for must be parsed whole.
#include <gtest/gtest.h>

#include <string>

#include "config/diff.hpp"
#include "config/source_index.hpp"
#include "test_util.hpp"

namespace gatehouse::config {
namespace {

using testing::fixtures;

const std::string kPath = fixtures() + "/config/inline.yaml";

std::string file(const std::string& items, const std::string& defaults_timeout = "30s") {
  return "listen: 127.0.0.1:8080\n"
         "defaults:\n"
         "  timeout: " + defaults_timeout + "\n"
         "endpoints:\n" + items +
         "log: { level: info }\n";
}

const std::string kThree =
    "  - { url: http://127.0.0.1:9001/a, name: a }\n"
    "  # a comment that belongs to the item above\n"
    "  - url: http://127.0.0.1:9001/b\n"
    "    name: b\n"
    "    timeout: 5s\n"
    "  - { url: http://127.0.0.1:9001/c, name: c }\n";

Config load_ok(const std::string& text, const Config* previous = nullptr) {
  auto r = load_from_string(text, kPath, previous);
  EXPECT_TRUE(r.config) << testing::dump(r);
  return r.config ? std::move(*r.config) : Config{};
}

// A marker a real parse never produces: an endpoint carrying it was copied from
// `previous`, not parsed.
void mark(Config& cfg) {
  for (std::size_t i = 0; i < cfg.endpoints.size(); ++i) cfg.endpoints.edit(i).max_body = 4242;
}

void expect_same_as_full_parse(const Config& got, const std::string& text) {
  const Config full = load_ok(text);
  ASSERT_EQ(got.endpoints.size(), full.endpoints.size());
  for (std::size_t i = 0; i < full.endpoints.size(); ++i) {
    const Endpoint& a = got.endpoints[i];
    const Endpoint& b = full.endpoints[i];
    EXPECT_TRUE(same_endpoint(a, b)) << b.id;
    EXPECT_EQ(a.index, b.index) << b.id;
    EXPECT_EQ(a.line, b.line) << b.id;
    EXPECT_EQ(a.column, b.column) << b.id;
  }
  EXPECT_EQ(got.listen, full.listen);
  EXPECT_EQ(got.sha256, full.sha256);
}

TEST(ConfigReuse, AWholeFileParseIndexesEveryItem) {
  const Config cfg = load_ok(file(kThree));
  ASSERT_EQ(cfg.source.items.size(), 3u);
  EXPECT_EQ(cfg.source.items[1].line_offset, 0u);
  EXPECT_TRUE(cfg.source.items[0].reusable);
}

TEST(ConfigReuse, UnchangedItemsAreCopiedAndTheChangedOneParsed) {
  Config before = load_ok(file(kThree));
  mark(before);
  std::string items = kThree;
  items.replace(items.find("timeout: 5s"), 11, "timeout: 7s");
  const Config after = load_ok(file(items), &before);
  ASSERT_EQ(after.endpoints.size(), 3u);
  EXPECT_EQ(after.endpoints[0].max_body, 4242u);  // copied
  EXPECT_EQ(after.endpoints[2].max_body, 4242u);
  EXPECT_NE(after.endpoints[1].max_body, 4242u);  // parsed
  EXPECT_EQ(after.endpoints[1].timeout, std::chrono::seconds(7));
  EXPECT_EQ(after.source.items.size(), 3u);
}

// An endpoint taken unchanged at its place is the running config's object itself (a
// pointer copy, not 1.5 KiB and ten heap blocks); a moved one is a copy with its new
// place, and the running config's endpoints are left as they were.
TEST(ConfigReuse, AnEndpointTakenAtItsPlaceIsSharedNotCopied) {
  const Config before = load_ok(file(kThree));
  std::string items = kThree;
  items.replace(items.find("timeout: 5s"), 11, "timeout: 7s");
  const Config after = load_ok(file(items), &before);
  ASSERT_EQ(after.endpoints.size(), 3u);
  EXPECT_EQ(&after.endpoints[0], &before.endpoints[0]);
  EXPECT_EQ(&after.endpoints[2], &before.endpoints[2]);
  EXPECT_NE(&after.endpoints[1], &before.endpoints[1]);
  EXPECT_EQ(before.endpoints[1].timeout, std::chrono::seconds(5));

  const Config moved = load_ok(file("  - { url: http://127.0.0.1:9001/n, name: n }\n" + kThree),
                               &before);
  ASSERT_EQ(moved.endpoints.size(), 4u);
  EXPECT_NE(&moved.endpoints[1], &before.endpoints[0]);
  EXPECT_EQ(moved.endpoints[1].index, 1u);
  EXPECT_EQ(before.endpoints[0].index, 0u);
  EXPECT_EQ(before.endpoints[0].line, 5);
}

// The same item text twice is a duplicate id: reported as the whole-file parse reports it.
TEST(ConfigReuse, AnItemRepeatedIsTheWholeFileParsesDuplicate) {
  const Config before = load_ok(file(kThree));
  const std::string text = file(kThree + "  - { url: http://127.0.0.1:9001/c, name: c }\n");
  const auto reused = load_from_string(text, kPath, &before);
  const auto full = load_from_string(text, kPath);
  ASSERT_FALSE(reused.config);
  ASSERT_EQ(reused.errors.size(), full.errors.size());
  ASSERT_FALSE(full.errors.empty());
  for (std::size_t i = 0; i < full.errors.size(); ++i)
    EXPECT_EQ(reused.errors[i].to_string(), full.errors[i].to_string());
}

TEST(ConfigReuse, MovedItemsTakeTheirNewIndexAndLine) {
  const Config before = load_ok(file(kThree));
  const std::string items = "  - { url: http://127.0.0.1:9001/n, name: n }\n"
                            "\n" + kThree;
  const std::string text = file(items);
  const Config after = load_ok(text, &before);
  expect_same_as_full_parse(after, text);
  EXPECT_EQ(after.endpoints[2].id, "b");
  EXPECT_EQ(after.endpoints[2].index, 2u);
  EXPECT_EQ(after.endpoints[2].line, 9);
}

TEST(ConfigReuse, TakenItemsNeedNoComparisonInTheDiff) {
  Config before = load_ok(file(kThree));
  const std::string items = "  - { url: http://127.0.0.1:9001/n, name: n }\n" + kThree;
  std::string changed = items;
  changed.replace(changed.find("timeout: 5s"), 11, "timeout: 7s");
  const Config after = load_ok(file(changed), &before);
  // n is new, b parsed again, a and c taken from `before` (now one place further down).
  EXPECT_FALSE(taken_unchanged(before, 0, after, 0));
  EXPECT_TRUE(taken_unchanged(before, 0, after, 1));
  EXPECT_FALSE(taken_unchanged(before, 1, after, 2));
  EXPECT_TRUE(taken_unchanged(before, 2, after, 3));
  const ConfigDiff d = diff(before, after);
  EXPECT_EQ(d.added, std::vector<std::string>{"n"});
  EXPECT_EQ(d.updated, std::vector<std::string>{"b"});
  EXPECT_EQ(d.unchanged, (std::vector<std::string>{"a", "c"}));
  EXPECT_TRUE(d.removed.empty());
  // A copy of the running config may have been changed since: it vouches for nothing,
  // so its changed endpoint is compared and found changed.
  Config copy = before;
  copy.endpoints.edit(0).timeout = std::chrono::seconds(3);
  EXPECT_EQ(before.endpoints[0].timeout, std::chrono::seconds(30));  // its own copy changed
  EXPECT_FALSE(taken_unchanged(copy, 0, after, 1));
  EXPECT_EQ(diff(copy, after).updated, (std::vector<std::string>{"a", "b"}));
}

TEST(ConfigDiff, EndpointsThatMovedOrWentAreFoundById) {
  const Config before = load_ok(file(kThree));
  const Config after = load_ok(file("  - { url: http://127.0.0.1:9001/c, name: c }\n"
                                    "  - { url: http://127.0.0.1:9001/a, name: a }\n"));
  const ConfigDiff d = diff(before, after);
  EXPECT_EQ(d.unchanged, (std::vector<std::string>{"c", "a"}));
  EXPECT_EQ(d.removed, std::vector<std::string>{"b"});
  EXPECT_TRUE(d.added.empty());
}

TEST(ConfigReuse, ASettingsChangeParsesEverything) {
  Config before = load_ok(file(kThree));
  mark(before);
  const std::string text = file(kThree, "20s");
  const Config after = load_ok(text, &before);
  for (const auto& ep : after.endpoints) EXPECT_NE(ep.max_body, 4242u) << ep.id;
  expect_same_as_full_parse(after, text);
  EXPECT_EQ(after.endpoints[0].timeout, std::chrono::seconds(20));
}

TEST(ConfigReuse, AliasesAreNeverSplit) {
  const std::string items =
      "  - { url: http://127.0.0.1:9001/a, name: a, circuit_breaker: &cb { failure_threshold: 2 } }\n"
      "  - { url: http://127.0.0.1:9001/b, name: b, circuit_breaker: *cb }\n";
  Config before = load_ok(file(items));
  EXPECT_TRUE(before.source.items.empty());
  EXPECT_FALSE(detail::split_endpoints(file(items)));
}

TEST(ConfigReuse, AFileReadByAnItemIsReadAgain) {
  const std::string items = "  - url: https://127.0.0.1:9443/a\n"
                            "    name: a\n"
                            "    tls: { ca_file: ../keys/ca.pem }\n"
                            "  - { url: http://127.0.0.1:9001/b, name: b }\n";
  Config before = load_ok(file(items));
  ASSERT_EQ(before.source.items.size(), 2u);
  EXPECT_FALSE(before.source.items[0].reusable);
  mark(before);
  const Config after = load_ok(file(items), &before);
  EXPECT_NE(after.endpoints[0].max_body, 4242u);
  EXPECT_EQ(after.endpoints[1].max_body, 4242u);
}

TEST(ConfigReuse, AnErrorInAChangedItemIsReportedAsByAWholeParse) {
  const Config before = load_ok(file(kThree));
  std::string items = kThree;
  items.replace(items.find("timeout: 5s"), 11, "timeout: 5x");
  const auto with = load_from_string(file(items), kPath, &before);
  const auto without = load_from_string(file(items), kPath);
  ASSERT_FALSE(with.config);
  ASSERT_EQ(with.errors.size(), without.errors.size());
  for (std::size_t i = 0; i < with.errors.size(); ++i)
    EXPECT_EQ(with.errors[i].to_string(), without.errors[i].to_string());
  EXPECT_TRUE(testing::has_error(with, "endpoints[1].timeout", 9, 14, ""));
}

TEST(ConfigReuse, ADuplicateIdAcrossCopiedItemsIsStillFound) {
  const Config before = load_ok(file(kThree));
  const std::string text = file(kThree + "  - { url: http://127.0.0.1:9001/d, name: a }\n");
  const auto r = load_from_string(text, kPath, &before);
  EXPECT_FALSE(r.config);
  EXPECT_TRUE(testing::has_error(r, "endpoints[3].name", 11, 43, "duplicate endpoint id"));
}

TEST(ConfigReuse, APrefixClashWithATakenItemIsReportedAsByTheWholeFileParse) {
  const Config before = load_ok(file(kThree));
  std::string items = kThree;
  items.replace(items.find("timeout: 5s"), 11, "prefix: /c");
  const std::string text = file(items);
  const auto with = load_from_string(text, kPath, &before);
  const auto without = load_from_string(text, kPath);
  ASSERT_FALSE(with.config);
  ASSERT_FALSE(without.errors.empty());
  ASSERT_EQ(with.errors.size(), without.errors.size());
  for (std::size_t i = 0; i < with.errors.size(); ++i)
    EXPECT_EQ(with.errors[i].to_string(), without.errors[i].to_string());
}

TEST(ConfigReuse, ChangedItemsLeaveTheRestIdentical) {
  const Config before = load_ok(file(kThree));
  std::string items = kThree;
  items.replace(items.find("name: c"), 7, "name: c2");
  const std::string text = file(items);
  const Config after = load_ok(text, &before);
  expect_same_as_full_parse(after, text);
}

TEST(SplitEndpoints, FindsEachItemOfABlockSequence) {
  const std::string text = file(kThree);
  const auto split = detail::split_endpoints(text);
  ASSERT_TRUE(split);
  ASSERT_EQ(split->items.size(), 3u);
  EXPECT_EQ(split->items[0].line, 5);
  EXPECT_EQ(split->items[1].line, 7);
  EXPECT_EQ(split->items[2].line, 10);
  EXPECT_EQ(text.substr(split->end, 4), "log:");
}

TEST(SplitEndpoints, LeavesOtherShapesToTheParser) {
  EXPECT_FALSE(detail::split_endpoints("endpoints: [{ url: http://a/ }]\n"));
  EXPECT_FALSE(detail::split_endpoints("endpoints:\n  - { url: http://a/ }\n---\nx: 1\n"));
  EXPECT_FALSE(detail::split_endpoints("endpoints:\n  - { url: http://a/ }\nendpoints:\n  - {}\n"));
  EXPECT_FALSE(detail::split_endpoints("\"endpoints\":\n  - { url: http://a/ }\n"));
  EXPECT_FALSE(detail::split_endpoints("endpoints:\n    - { url: http://a/ }\n  - {}\n"));
  EXPECT_FALSE(detail::split_endpoints("endpoints:\n\t- { url: http://a/ }\n"));
  EXPECT_FALSE(detail::split_endpoints("listen: x\n"));
  EXPECT_TRUE(detail::split_endpoints("endpoints:\n- { url: http://a/ }\n- url: http://b/\n  name: b\n"));
}

}  // namespace
}  // namespace gatehouse::config
