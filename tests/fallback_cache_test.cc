// Tests of the fallback tier: LRU order against a reference model, both
// bounds, TTL with an injected clock, exact stats, and a thread hammer (run
// it under TSan: bazel test --config=tsan //tests:fallback_cache_test).

#include "ucache/fallback_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <list>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace ucache {
namespace {

using std::chrono::milliseconds;

FallbackCacheOptions Bounds(size_t max_entries, size_t max_bytes) {
  FallbackCacheOptions options;
  options.max_entries = max_entries;
  options.max_bytes = max_bytes;
  return options;
}

std::string GetOrMiss(FallbackCache& cache, std::string_view key) {
  std::shared_ptr<const std::string> v = cache.Get(key);
  return v ? *v : "<miss>";
}

TEST(FallbackCacheTest, PutGetOverwriteErase) {
  FallbackCache cache;
  EXPECT_EQ(GetOrMiss(cache, "a"), "<miss>");
  cache.Put("a", "1");
  cache.Put("a", "2");
  cache.Put(std::string("b\0c", 3), "");
  EXPECT_EQ(GetOrMiss(cache, "a"), "2");
  EXPECT_EQ(GetOrMiss(cache, std::string("b\0c", 3)), "");
  cache.Erase("a");
  EXPECT_EQ(GetOrMiss(cache, "a"), "<miss>");
  cache.Clear();
  EXPECT_EQ(cache.GetStats().entries, 0u);
  EXPECT_EQ(cache.GetStats().bytes, 0u);
}

// Random operations against a list kept in least-recently-used order.
TEST(FallbackCacheTest, MatchesReferenceLru) {
  constexpr size_t kCapacity = 16;
  FallbackCache cache(Bounds(kCapacity, 0));
  std::list<std::pair<std::string, std::string>> model;  // most recent first
  auto find = [&](const std::string& k) {
    for (auto it = model.begin(); it != model.end(); ++it) {
      if (it->first == k) return it;
    }
    return model.end();
  };
  std::mt19937 rng(7);
  uint64_t evictions = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string key = std::to_string(rng() % 40);
    if (rng() % 3 == 0) {
      const std::string value = std::to_string(i);
      cache.Put(key, value);
      if (auto it = find(key); it != model.end()) model.erase(it);
      model.emplace_front(key, value);
      if (model.size() > kCapacity) {
        model.pop_back();
        ++evictions;
      }
    } else {
      auto it = find(key);
      const std::string want = it == model.end() ? "<miss>" : it->second;
      ASSERT_EQ(GetOrMiss(cache, key), want) << "step " << i;
      if (it != model.end()) model.splice(model.begin(), model, it);
    }
  }
  EXPECT_EQ(cache.GetStats().entries, model.size());
  EXPECT_EQ(cache.GetStats().evictions, evictions);
}

TEST(FallbackCacheTest, ByteBoundEvictsLeastRecentlyUsedAndDropsOversized) {
  FallbackCache cache(Bounds(100, 30));
  cache.Put("a", std::string(9, 'a'));  // 10 bytes
  cache.Put("b", std::string(9, 'b'));
  cache.Put("c", std::string(9, 'c'));
  EXPECT_EQ(cache.GetStats().bytes, 30u);
  EXPECT_NE(cache.Get("a"), nullptr);  // b is now the least recently used
  cache.Put("d", std::string(9, 'd'));
  EXPECT_EQ(GetOrMiss(cache, "b"), "<miss>");
  EXPECT_NE(cache.Get("a"), nullptr);
  EXPECT_EQ(cache.GetStats().evictions, 1u);

  cache.Put("a", std::string(40, 'x'));  // larger than the bound: not kept
  EXPECT_EQ(GetOrMiss(cache, "a"), "<miss>") << "old value must not survive";
  EXPECT_LE(cache.GetStats().bytes, 30u);
}

TEST(FallbackCacheTest, TtlWithFakeClock) {
  std::atomic<int64_t> now{1000};
  FallbackCacheOptions options;
  options.clock = [&] { return now.load(); };
  FallbackCache cache(options);
  cache.Put("short", "s", milliseconds(10));
  cache.Put("forever", "f");
  now += 9;
  EXPECT_EQ(GetOrMiss(cache, "short"), "s");
  now += 1;
  EXPECT_EQ(GetOrMiss(cache, "short"), "<miss>");
  now += 1'000'000;
  EXPECT_EQ(GetOrMiss(cache, "forever"), "f");
  EXPECT_EQ(cache.GetStats().entries, 1u);
}

// `now + ttl` used to overflow for a TTL near milliseconds::max(): the
// value expired at once, though the caller asked for practically forever.
TEST(FallbackCacheTest, HugeTtlMeansForever) {
  std::atomic<int64_t> now{1000};
  FallbackCacheOptions options;
  options.clock = [&] { return now.load(); };
  FallbackCache cache(options);
  cache.Put("k", "v", milliseconds::max());
  now += 1'000'000'000;
  EXPECT_EQ(GetOrMiss(cache, "k"), "v");
}

TEST(FallbackCacheTest, ExactStats) {
  FallbackCache cache(Bounds(2, size_t{64} << 20));
  cache.Put("a", "1");
  cache.Put("b", "22");
  EXPECT_NE(cache.Get("a"), nullptr);
  EXPECT_EQ(cache.Get("z"), nullptr);
  cache.Put("c", "333");  // evicts b
  const FallbackCacheStats s = cache.GetStats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.evictions, 1u);
  EXPECT_EQ(s.entries, 2u);
  EXPECT_EQ(s.bytes, 2u + 4u);
}

TEST(FallbackCacheTest, ValueOutlivesEviction) {
  FallbackCache cache(Bounds(1, size_t{64} << 20));
  cache.Put("a", "alpha");
  std::shared_ptr<const std::string> held = cache.Get("a");
  cache.Put("b", "beta");
  EXPECT_EQ(GetOrMiss(cache, "a"), "<miss>");
  EXPECT_EQ(*held, "alpha");
}

TEST(FallbackCacheTest, ThreadHammerKeepsBounds) {
  FallbackCache cache(Bounds(64, 4096));
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < 20000; ++i) {
        const std::string key = std::to_string(rng() % 200);
        if (rng() % 2) {
          cache.Put(key, "v" + key);
        } else if (auto v = cache.Get(key); v && *v != "v" + key) {
          ++wrong;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_LE(cache.GetStats().entries, 64u);
  EXPECT_LE(cache.GetStats().bytes, 4096u);
}

}  // namespace
}  // namespace ucache
