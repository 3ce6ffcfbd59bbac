// VerifiedSet (src/fcache/verified_set.h): what a handle remembers having
// verified in one generation. It must never claim an offset it was not told
// about (that would serve an unverified value), and it stays within its
// fixed size by forgetting, which costs only a verification.

#include "src/fcache/verified_set.h"

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace ucache::fcache_internal {
namespace {

TEST(VerifiedSetTest, RemembersWhatWasInsertedAndNothingElse) {
  VerifiedSet set;
  for (uint64_t off : {uint64_t{64}, uint64_t{4096}, uint64_t{1} << 40}) {
    EXPECT_FALSE(set.Contains(off)) << off;
  }
  set.Insert(64);
  set.Insert(8192);
  EXPECT_TRUE(set.Contains(64));
  EXPECT_TRUE(set.Contains(8192));
  EXPECT_FALSE(set.Contains(80));
  EXPECT_FALSE(set.Contains(8192 + 16));
  set.Insert(64);  // again: still there
  EXPECT_TRUE(set.Contains(64));
}

TEST(VerifiedSetTest, OffsetsAnywhereInALogWork) {
  VerifiedSet set;
  const uint64_t top = ~uint64_t{0} & ~uint64_t{15};
  set.Insert(top);
  EXPECT_TRUE(set.Contains(top));
  EXPECT_FALSE(set.Contains(top - 16));
  set.Insert(uint64_t{1} << 63);
  EXPECT_TRUE(set.Contains(uint64_t{1} << 63));
}

TEST(VerifiedSetTest, ACollisionForgetsTheOlderEntry) {
  VerifiedSet set;
  const uint64_t first = 64;
  set.Insert(first);
  // Inserting offsets that do not share its slot leaves `first` alone; the
  // first one that does replaces it.
  uint64_t colliding = 0;
  for (uint64_t off = 80; off < (uint64_t{1} << 30); off += 16) {
    set.Insert(off);
    if (!set.Contains(first)) {
      colliding = off;
      break;
    }
  }
  ASSERT_NE(colliding, 0u) << "no offset shares a slot with 64";
  EXPECT_TRUE(set.Contains(colliding));
  set.Insert(first);
  EXPECT_TRUE(set.Contains(first));
  EXPECT_FALSE(set.Contains(colliding));
}

TEST(VerifiedSetTest, HoldsAtMostItsFixedNumberOfOffsets) {
  auto set = std::make_unique<VerifiedSet>();
  EXPECT_LE(sizeof(VerifiedSet), size_t{32} << 10);  // 32 KiB per generation
  constexpr uint64_t kInserted = 100000;
  for (uint64_t i = 1; i <= kInserted; ++i) set->Insert(i * 4096);
  uint64_t remembered = 0;
  for (uint64_t i = 1; i <= kInserted; ++i) {
    remembered += set->Contains(i * 4096);
  }
  EXPECT_LE(remembered, 4096u);
  // Most slots are in use: large records spread over the table.
  EXPECT_GT(remembered, 3000u);
  EXPECT_TRUE(set->Contains(kInserted * 4096)) << "the newest is kept";
}

// A generation rebuilt over the same log takes in what the one it replaced
// had verified, and nothing else.
TEST(VerifiedSetTest, CopyFromTakesInExactlyTheOtherSetsOffsets) {
  auto from = std::make_unique<VerifiedSet>();
  auto to = std::make_unique<VerifiedSet>();
  for (uint64_t i = 1; i <= 100; ++i) from->Insert(i << 20);
  to->CopyFrom(*from);
  for (uint64_t i = 1; i <= 100; ++i) {
    EXPECT_EQ(to->Contains(i << 20), from->Contains(i << 20)) << i;
  }
  EXPECT_TRUE(to->Contains(100 << 20));
  EXPECT_FALSE(to->Contains(64));
  EXPECT_FALSE(to->Contains((100 << 20) + 16));
}

TEST(VerifiedSetTest, ConcurrentReadersNeverSeeAnOffsetNotInserted) {
  auto set = std::make_unique<VerifiedSet>();
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> wrong{0};
  std::thread writer([&] {
    for (uint64_t i = 0; i < 200000; ++i) set->Insert(64 + 32 * (i % 50000));
    stop = true;
  });
  std::thread reader([&] {
    // Offsets 64 + 32 * i + 16 are never inserted.
    for (uint64_t i = 0; !stop.load(); i = (i + 1) % 50000) {
      wrong += set->Contains(80 + 32 * i);
    }
  });
  writer.join();
  reader.join();
  EXPECT_EQ(wrong.load(), 0u);
}

}  // namespace
}  // namespace ucache::fcache_internal
