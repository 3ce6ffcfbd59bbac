#include "src/remote/shard_ring.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ucache::remote_internal {
namespace {

constexpr int kKeys = 20000;

std::vector<size_t> Picks(const ShardRing& ring) {
  std::vector<size_t> out;
  for (int i = 0; i < kKeys; ++i)
    out.push_back(ring.Pick("key" + std::to_string(i)));
  return out;
}

TEST(ShardRingTest, SharesFollowWeights) {
  const ShardRing ring({{"a", 1}, {"b", 3}});
  int b = 0;
  for (size_t p : Picks(ring)) b += p == 1;
  EXPECT_NEAR(static_cast<double>(b) / kKeys, 0.75, 0.02);
}

TEST(ShardRingTest, AddingAShardMovesOnlyItsShare) {
  const std::vector<size_t> before = Picks(ShardRing({{"a", 1}, {"b", 1}}));
  const std::vector<size_t> after =
      Picks(ShardRing({{"a", 1}, {"b", 1}, {"c", 1}}));
  int moved = 0;
  for (int i = 0; i < kKeys; ++i) {
    if (before[i] != after[i]) {
      ++moved;
      EXPECT_EQ(after[i], 2u) << "a key moved between old shards";
    }
  }
  EXPECT_NEAR(static_cast<double>(moved) / kKeys, 1.0 / 3, 0.02);
}

TEST(ShardRingTest, OrderOfShardsDoesNotMatter) {
  const std::vector<size_t> ab = Picks(ShardRing({{"a", 1}, {"b", 2}}));
  const std::vector<size_t> ba = Picks(ShardRing({{"b", 2}, {"a", 1}}));
  for (int i = 0; i < kKeys; ++i) ASSERT_EQ(ab[i], 1 - ba[i]);
}

}  // namespace
}  // namespace ucache::remote_internal
