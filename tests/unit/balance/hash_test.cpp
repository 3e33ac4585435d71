// hash (SPEC section 13): consistent hashing. The same key goes to the same server while
// the available set is unchanged; removing one of N servers, or one becoming
// unavailable, moves only the keys that were on it, and they come back when it recovers;
// a request without the key goes round robin.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "balance/balancer.hpp"
#include "balance/hash_ring.hpp"

namespace gatehouse::balance {
namespace {

constexpr int kKeys = 10000;

std::vector<ServerSpec> servers(std::size_t n, std::uint32_t weight = 1) {
  std::vector<ServerSpec> out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back({weight, "http://10.0.3." + std::to_string(i + 1) + ":8080"});
  }
  return out;
}

std::string key(int i) { return "user-" + std::to_string(i); }

// Server identity of each key's owner.
std::vector<std::string> owners(const HashRing& ring, const std::vector<ServerSpec>& specs,
                                const Availability& available) {
  std::vector<std::string> out;
  for (int i = 0; i < kKeys; ++i) {
    const std::size_t s = ring.pick(key(i), available);
    out.push_back(s == kNone ? "" : specs.at(s).identity);
  }
  return out;
}

const std::vector<bool> kAll(16, true);

TEST(HashRing, SameKeySameServer) {
  const auto specs = servers(5);
  const HashRing ring(specs);
  EXPECT_EQ(ring.points(), 5u * HashRing::kPointsPerWeight);
  for (int i = 0; i < 100; ++i) {
    const std::size_t first = ring.pick(key(i), Availability(kAll));
    for (int j = 0; j < 3; ++j) EXPECT_EQ(ring.pick(key(i), Availability(kAll)), first);
  }
  // Another ring built from the same servers agrees (nothing depends on the process).
  const HashRing again(specs);
  EXPECT_EQ(owners(ring, specs, Availability(kAll)), owners(again, specs, Availability(kAll)));
}

TEST(HashRing, SpreadsKeysEvenlyAndByWeight) {
  const auto specs = servers(10);
  const HashRing ring(specs);
  std::vector<int> counts(10, 0);
  for (int i = 0; i < kKeys; ++i) ++counts[ring.pick(key(i), Availability(kAll))];
  for (int c : counts) EXPECT_NEAR(c, kKeys / 10, kKeys / 40) << "a server's share of keys";

  auto weighted = servers(3);
  weighted[1].weight = 2;  // 1:2:1
  const HashRing wring(weighted);
  std::vector<int> w(3, 0);
  for (int i = 0; i < kKeys; ++i) ++w[wring.pick(key(i), Availability(kAll))];
  EXPECT_NEAR(w[1], kKeys / 2, kKeys / 20);
  EXPECT_NEAR(w[0], kKeys / 4, kKeys / 20);
}

TEST(HashRing, RemovingOneOfTenMovesOnlyItsKeys) {
  const auto ten = servers(10);
  auto nine = ten;
  nine.erase(nine.begin() + 3);  // the others keep their identities, not their positions
  const auto before = owners(HashRing(ten), ten, Availability(kAll));
  const auto after = owners(HashRing(nine), nine, Availability(kAll));
  int moved = 0;
  for (int i = 0; i < kKeys; ++i) {
    if (before[i] == ten[3].identity) {
      EXPECT_NE(after[i], ten[3].identity);
      ++moved;
    } else {
      ASSERT_EQ(after[i], before[i]) << key(i) << " moved though its server stayed";
    }
  }
  // Only about a tenth of the keys had to move.
  EXPECT_NEAR(moved, kKeys / 10, kKeys / 40);
}

TEST(HashRing, AnUnavailableServerLosesOnlyItsKeysAndGetsThemBack) {
  const auto ten = servers(10);
  const HashRing ring(ten);
  const auto before = owners(ring, ten, Availability(kAll));
  std::vector<bool> without_7(10, true);
  without_7[7] = false;
  const auto during = owners(ring, ten, Availability(without_7));
  int moved = 0;
  for (int i = 0; i < kKeys; ++i) {
    if (before[i] == ten[7].identity) {
      EXPECT_NE(during[i], ten[7].identity);
      ++moved;
    } else {
      ASSERT_EQ(during[i], before[i]) << key(i);
    }
  }
  EXPECT_NEAR(moved, kKeys / 10, kKeys / 40);
  // Unavailable is the same as removed: its keys go where removal would send them.
  auto nine = ten;
  nine.erase(nine.begin() + 7);
  EXPECT_EQ(during, owners(HashRing(nine), nine, Availability(kAll)));
  // Recovered: every key is back where it was.
  EXPECT_EQ(owners(ring, ten, Availability(kAll)), before);
}

TEST(HashRing, AddingAServerTakesKeysOnlyForItself) {
  const auto ten = servers(10);
  const auto eleven = servers(11);
  const auto before = owners(HashRing(ten), ten, Availability(kAll));
  const auto after = owners(HashRing(eleven), eleven, Availability(kAll));
  int taken = 0;
  for (int i = 0; i < kKeys; ++i) {
    if (after[i] == before[i]) continue;
    EXPECT_EQ(after[i], eleven[10].identity) << key(i);
    ++taken;
  }
  EXPECT_NEAR(taken, kKeys / 11, kKeys / 40);
}

TEST(HashRing, NoServerAvailable) {
  const auto specs = servers(3);
  const HashRing ring(specs);
  const std::vector<bool> none(3, false);
  EXPECT_EQ(ring.pick("k", Availability(none)), kNone);
  EXPECT_EQ(HashRing(std::vector<ServerSpec>{}).pick("k", Availability(kAll)), kNone);
}

TEST(HashBalancer, KeyedRequestsFollowTheRingKeylessOnesGoRoundRobin) {
  BalancerSpec spec;
  spec.policy = config::LoadBalancing::hash;
  spec.servers = servers(3);
  auto b = make_balancer(spec);
  const HashRing ring(spec.servers);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(b->pick(0, Availability(kAll), key(i)), ring.pick(key(i), Availability(kAll)));
  }
  std::vector<std::size_t> keyless;
  for (int i = 0; i < 6; ++i) keyless.push_back(b->pick(0, Availability(kAll), std::nullopt));
  EXPECT_EQ(keyless, (std::vector<std::size_t>{0, 1, 2, 0, 1, 2}));
  // A retry with the key's server excluded goes to the next server on the ring.
  const std::size_t home = b->pick(0, Availability(kAll), "alice");
  const auto elsewhere = [home](std::size_t i) { return i != home; };
  const std::size_t next = b->pick_retry(0, Availability::of(elsewhere), "alice");
  EXPECT_NE(next, home);
  EXPECT_NE(next, kNone);
  EXPECT_EQ(next, b->pick_retry(0, Availability::of(elsewhere), "alice"));
}

TEST(Hash64, StableValues) {
  // Pinned: a change of the function would move every key of every running ring.
  EXPECT_EQ(hash64(""), 0xefd01f60ba992926ULL);
  EXPECT_EQ(hash64("user-1"), 0x41a2fca5c68401c5ULL);
  EXPECT_EQ(hash64("http://10.0.0.1:80"), 0xd9eb4e5ab98014b4ULL);
  EXPECT_NE(hash64("a"), hash64("b"));
}

}  // namespace
}  // namespace gatehouse::balance
