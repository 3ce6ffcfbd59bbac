// Tests of RecentHits, memoize's table of recent small hits: what it
// remembers, what it forgets, and that a reader racing writers never sees a
// value torn between two of them.

#include "ucache/internal/recent_hits.h"

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace ucache::memoize_internal {
namespace {

using Stamp = Cache::HitStamp;

constexpr Stamp kHolds{7, 9, Stamp::kChangeCount};

bool Always(const Stamp&) { return true; }

TEST(RecentHitsTest, RemembersAValueWithItsStampForRecall) {
  RecentHits<double> hits;
  hits.Remember(RecentKey{1, 2}, kHolds, 2.5);
  Stamp seen;
  std::optional<double> v = hits.Find(RecentKey{1, 2}, [&](const Stamp& s) {
    seen = s;
    return true;
  });
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, 2.5);
  EXPECT_EQ(seen.local, kHolds.local);
  EXPECT_EQ(seen.store, kHolds.store);
  EXPECT_EQ(seen.kind, kHolds.kind);
  EXPECT_FALSE(hits.Find(RecentKey{1, 2}, [](const Stamp&) { return false; }))
      << "served what the cache no longer vouches for";
  EXPECT_FALSE(hits.Find(RecentKey{1, 3}, Always));
  EXPECT_FALSE(hits.Find(RecentKey{2, 2}, Always));
}

TEST(RecentHitsTest, AnUnstampedHitIsNotRemembered) {
  RecentHits<int> hits;
  EXPECT_FALSE(hits.Find(RecentKey{0, 0}, Always)) << "an empty slot served";
  hits.Remember(RecentKey{0, 0}, Stamp{}, 5);
  EXPECT_FALSE(hits.Find(RecentKey{0, 0}, Always));
}

TEST(RecentHitsTest, ANewKeyReplacesTheOneInItsSlot) {
  RecentHits<int64_t> hits;
  // Keys that share a slot with {0, 0}: found by trying, since the slot is
  // a mix of both words.
  std::vector<RecentKey> keys;
  hits.Remember(RecentKey{0, 0}, kHolds, -1);
  for (uint64_t i = 1; keys.size() < 3 && i < 100000; ++i) {
    RecentHits<int64_t> probe;
    probe.Remember(RecentKey{0, 0}, kHolds, -1);
    probe.Remember(RecentKey{i, i}, kHolds, 1);
    if (!probe.Find(RecentKey{0, 0}, Always)) keys.push_back(RecentKey{i, i});
  }
  ASSERT_EQ(keys.size(), 3u);
  for (size_t i = 0; i < keys.size(); ++i) {
    hits.Remember(keys[i], kHolds, static_cast<int64_t>(i));
    EXPECT_EQ(hits.Find(keys[i], Always), static_cast<int64_t>(i));
    EXPECT_FALSE(hits.Find(RecentKey{0, 0}, Always));
    if (i > 0) {
      EXPECT_FALSE(hits.Find(keys[i - 1], Always));
    }
  }
  // Keys of other slots are kept beside it.
  int kept = 0;
  for (uint64_t i = 1; i <= 64; ++i) {
    hits.Remember(RecentKey{i << 32, 0}, kHolds, static_cast<int64_t>(i));
  }
  for (uint64_t i = 1; i <= 64; ++i) {
    kept += hits.Find(RecentKey{i << 32, 0}, Always) == static_cast<int64_t>(i);
  }
  EXPECT_GT(kept, 16) << "64 keys crowded into a few of 128 slots";
}

TEST(RecentHitsTest, OnlySmallTriviallyCopyableResultsAreKept) {
  static_assert(RecentHits<double>::kEnabled);
  struct Two {
    double a, b;
  };
  static_assert(RecentHits<Two>::kEnabled);
  static_assert(!RecentHits<std::pair<double, double>>::kEnabled,
                "std::pair is not trivially copyable");
  static_assert(!RecentHits<std::string>::kEnabled);
  static_assert(!RecentHits<std::vector<double>>::kEnabled);
  struct Triple {
    double a, b, c;
  };
  static_assert(!RecentHits<Triple>::kEnabled);
  RecentHits<std::string> hits;
  hits.Remember(RecentKey{1, 1}, kHolds, "kept?");
  EXPECT_FALSE(hits.Find(RecentKey{1, 1}, Always));
}

// Writers store values whose two words agree, each under a key that names
// it; readers racing them must only ever see whole values of their key.
TEST(RecentHitsTest, ReadersRacingWritersSeeOnlyWholeValues) {
  struct Pair {
    uint64_t first, second;
  };
  RecentHits<Pair> hits;
  constexpr uint64_t kKeys = 4;  // few keys: many writes to each slot
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> found{0};
  std::atomic<uint64_t> torn{0};
  std::vector<std::thread> threads;
  for (uint64_t w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      for (uint64_t n = w; !stop.load(std::memory_order_relaxed); n += 2) {
        const uint64_t key = n % kKeys;
        const uint64_t v = (n << 8) | key;
        hits.Remember(RecentKey{key, 0}, kHolds, Pair{v, v});
      }
    });
  }
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&] {
      for (uint64_t n = 0; n < 2'000'000; ++n) {
        const uint64_t key = n % kKeys;
        if (std::optional<Pair> p = hits.Find(RecentKey{key, 0}, Always)) {
          found.fetch_add(1, std::memory_order_relaxed);
          if (p->first != p->second || (p->first & 0xff) != key) {
            torn.fetch_add(1, std::memory_order_relaxed);
          }
        }
      }
    });
  }
  for (size_t i = 2; i < threads.size(); ++i) threads[i].join();
  stop.store(true);
  threads[0].join();
  threads[1].join();
  EXPECT_EQ(torn.load(), 0u);
  EXPECT_GT(found.load(), 0u) << "the race never produced a hit to check";
}

}  // namespace
}  // namespace ucache::memoize_internal
