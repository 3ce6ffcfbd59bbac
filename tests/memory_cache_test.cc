// Tests of the memory tier through its public API: reads and writes, the
// entry and byte bounds, TTL with an injected clock, exact stats, option
// checks, eviction order end to end (also against an LRU model while hits
// are deferred), and a multi-threaded hammer (run it under TSan:
// bazel test --config=tsan //tests:memory_cache_test).

#include "ucache/memory_cache.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <list>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace ucache {
namespace {

using std::chrono::milliseconds;

#define ASSERT_STATUS_OK(expr)                              \
  do {                                                      \
    const ::ucache::Status _s = (expr);                     \
    ASSERT_TRUE(_s.ok()) << #expr << ": " << _s.ToString(); \
  } while (0)

std::unique_ptr<MemoryCache> OpenOrDie(const MemoryCacheOptions& options) {
  Result<std::unique_ptr<MemoryCache>> cache = MemoryCache::Open(options);
  EXPECT_TRUE(cache.ok()) << cache.status().ToString();
  return cache.ok() ? std::move(*cache) : nullptr;
}

std::string GetOrMiss(MemoryCache& cache, std::string_view key) {
  std::string value;
  Status s = cache.Get(key, &value);
  if (s.IsNotFound()) return "<miss>";
  EXPECT_TRUE(s.ok()) << s.ToString();
  return value;
}

// A clock the test moves by hand; atomic because the cache may call it from
// any thread.
class FakeClock {
 public:
  std::function<int64_t()> Fn() {
    return [this] { return now_.load(); };
  }
  void Advance(int64_t ms) { now_ += ms; }

 private:
  std::atomic<int64_t> now_{1'000'000};
};

const EvictionPolicy kAllPolicies[] = {
    EvictionPolicy::kLru, EvictionPolicy::kLfu, EvictionPolicy::kFifo,
    EvictionPolicy::kTinyLfu};

TEST(MemoryCacheTest, PutGetOverwriteErase) {
  for (EvictionPolicy policy : kAllPolicies) {
    MemoryCacheOptions options;
    options.policy = policy;
    auto cache = OpenOrDie(options);
    EXPECT_EQ(GetOrMiss(*cache, "k"), "<miss>");
    ASSERT_STATUS_OK(cache->Put("k", "v1"));
    EXPECT_EQ(GetOrMiss(*cache, "k"), "v1");
    EXPECT_TRUE(cache->Contains("k"));
    ASSERT_STATUS_OK(cache->Put("k", "second value"));
    EXPECT_EQ(GetOrMiss(*cache, "k"), "second value");
    ASSERT_STATUS_OK(cache->Erase("k"));
    EXPECT_EQ(GetOrMiss(*cache, "k"), "<miss>");
    EXPECT_FALSE(cache->Contains("k"));
    EXPECT_TRUE(cache->Erase("never-there").ok());
    EXPECT_EQ(cache->GetStats().entries, 0u);
    EXPECT_EQ(cache->GetStats().bytes, 0u);
  }
}

TEST(MemoryCacheTest, BinaryKeysAndValuesAndEmptyValue) {
  auto cache = OpenOrDie({});
  const std::string key("a\0b\xff", 4);
  const std::string value("\0\1\2\0", 4);
  ASSERT_STATUS_OK(cache->Put(key, value));
  ASSERT_STATUS_OK(cache->Put("empty", ""));
  ASSERT_STATUS_OK(cache->Put("", "empty key"));
  EXPECT_EQ(GetOrMiss(*cache, key), value);
  EXPECT_EQ(GetOrMiss(*cache, "empty"), "");
  EXPECT_EQ(GetOrMiss(*cache, ""), "empty key");
  EXPECT_EQ(GetOrMiss(*cache, std::string("a\0b", 3)), "<miss>");
}

TEST(MemoryCacheTest, KeysAndValuesOfEverySizeAroundTheInlineLimits) {
  // Keys of up to 16 bytes live inside the entry, longer ones beside it;
  // values of up to 32 bytes too, longer ones in a shared string; values of
  // up to 256 bytes are copied under the shard lock, longer ones after it.
  // Keys that differ only in their last byte, and prefixes of one another,
  // must never be confused.
  auto cache = OpenOrDie({});
  const size_t sizes[] = {0, 1, 15, 16, 17, 31, 32, 33, 100};
  for (size_t n : sizes) {
    const std::string key(n, 'k');
    ASSERT_STATUS_OK(cache->Put(key, std::string(n, 'v')));
    ASSERT_STATUS_OK(cache->Put(key + "x", "longer"));
  }
  for (size_t n : sizes) {
    const std::string key(n, 'k');
    EXPECT_EQ(GetOrMiss(*cache, key), std::string(n, 'v')) << n;
    EXPECT_EQ(GetOrMiss(*cache, key + "x"), "longer") << n;
    EXPECT_EQ(GetOrMiss(*cache, key + "y"), "<miss>") << n;
  }
  // Shared, a small value leaves the entry for a string of its own; it
  // reads the same, and an overwrite of either size replaces it.
  for (size_t n : sizes) {
    const std::string key(n, 'k');
    std::shared_ptr<const std::string> shared = cache->GetShared(key);
    ASSERT_NE(shared, nullptr) << n;
    EXPECT_EQ(*shared, std::string(n, 'v')) << n;
    EXPECT_EQ(cache->GetShared(key), shared) << n;  // one string
    EXPECT_EQ(GetOrMiss(*cache, key), std::string(n, 'v')) << n;
    const std::string other(n < 32 ? 40 : 3, 'w');
    ASSERT_STATUS_OK(cache->Put(key, other));
    EXPECT_EQ(GetOrMiss(*cache, key), other) << n;
    EXPECT_EQ(*shared, std::string(n, 'v')) << n;  // still the old value
  }
  for (size_t n : {255, 256, 257, 4096}) {
    std::string value(n, 'a');
    value.back() = 'z';
    ASSERT_STATUS_OK(cache->Put("big", value));
    std::string got = "stale";
    ASSERT_STATUS_OK(cache->Get("big", &got));
    EXPECT_EQ(got, value) << n;
  }
}

TEST(MemoryCacheTest, KeysOf4GiBOrMoreAreRefused) {
  auto cache = OpenOrDie({});
  const std::string bytes = "k";
  // Never read: the length is refused first.
  const std::string_view huge(bytes.data(), size_t{1} << 32);
  EXPECT_EQ(cache->Put(huge, "v").code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(cache->GetStats().entries, 0u);
}

TEST(MemoryCacheTest, GetVariants) {
  auto cache = OpenOrDie({});
  ASSERT_STATUS_OK(cache->Put("k", "v"));
  EXPECT_EQ(cache->GetOptional("k"), std::optional<std::string>("v"));
  EXPECT_EQ(cache->GetOptional("nope"), std::nullopt);
  EXPECT_EQ(cache->GetShared("nope"), nullptr);
  std::string untouched = "x";
  EXPECT_TRUE(cache->Get("nope", &untouched).IsNotFound());
  EXPECT_EQ(untouched, "x");
}

// A value that fits the reader's room is copied there, with no reference
// returned; a larger one is shared as GetShared shares it.
TEST(MemoryCacheTest, GetSharedCopiesWhatFitsTheReadersRoom) {
  auto cache = OpenOrDie({});
  ASSERT_STATUS_OK(cache->Put("small", "1234", {}, MemoryStamp{7, 8}));
  ASSERT_STATUS_OK(cache->Put("large", "123456789"));
  char buffer[8];
  MemoryCopy copy;
  copy.buffer = buffer;
  copy.capacity = sizeof(buffer);
  MemoryStamp stamp;
  EXPECT_EQ(cache->GetShared("small", &stamp, &copy), nullptr);
  ASSERT_TRUE(copy.copied);
  EXPECT_EQ(std::string_view(buffer, copy.size), "1234");
  EXPECT_EQ(stamp.changes, 7u);
  EXPECT_EQ(stamp.version, 8u);

  MemoryCopy large;
  large.buffer = buffer;
  large.capacity = sizeof(buffer);
  std::shared_ptr<const std::string> shared =
      cache->GetShared("large", nullptr, &large);
  ASSERT_NE(shared, nullptr);
  EXPECT_EQ(*shared, "123456789");
  EXPECT_FALSE(large.copied);

  MemoryCopy missed;
  missed.buffer = buffer;
  missed.capacity = sizeof(buffer);
  EXPECT_EQ(cache->GetShared("nope", nullptr, &missed), nullptr);
  EXPECT_FALSE(missed.copied);
  EXPECT_EQ(cache->GetStats().hits, 2u);
  EXPECT_EQ(cache->GetStats().misses, 1u);
}

TEST(MemoryCacheTest, SharedValueOutlivesOverwriteEvictionAndCache) {
  MemoryCacheOptions options;
  options.max_entries = 1;
  auto cache = OpenOrDie(options);
  ASSERT_STATUS_OK(cache->Put("k", "first"));
  std::shared_ptr<const std::string> held = cache->GetShared("k");
  ASSERT_NE(held, nullptr);
  ASSERT_STATUS_OK(cache->Put("k", "second"));
  ASSERT_STATUS_OK(cache->Put("other", "evicts k"));
  cache.reset();
  EXPECT_EQ(*held, "first");
}

TEST(MemoryCacheTest, EntryBoundHoldsForEveryPolicyAndShardCount) {
  for (EvictionPolicy policy : kAllPolicies) {
    for (size_t shards : {1, 4, 16}) {
      MemoryCacheOptions options;
      options.policy = policy;
      options.shards = shards;
      options.max_entries = 1000;
      options.max_bytes = 0;
      auto cache = OpenOrDie(options);
      for (int i = 0; i < 20000; ++i) {
        ASSERT_STATUS_OK(cache->Put("key" + std::to_string(i), "v"));
        ASSERT_LE(cache->GetStats().entries, 1000u);
      }
      const MemoryCacheStats stats = cache->GetStats();
      EXPECT_EQ(stats.entries + stats.evictions, 20000u);
      // Hashing spreads keys well enough that every shard fills up.
      EXPECT_GE(stats.entries, 990u)
          << static_cast<int>(policy) << " " << shards;
    }
  }
}

TEST(MemoryCacheTest, ByteBoundCountsKeyValueAndOverhead) {
  for (EvictionPolicy policy : kAllPolicies) {
    MemoryCacheOptions options;
    options.policy = policy;
    options.shards = 1;
    options.max_bytes = 100 * 1024;
    auto cache = OpenOrDie(options);
    std::mt19937_64 rng(1);
    for (int i = 0; i < 5000; ++i) {
      const std::string key = "k" + std::to_string(i);
      const std::string value(rng() % 2000, 'x');
      ASSERT_STATUS_OK(cache->Put(key, value));
      const MemoryCacheStats stats = cache->GetStats();
      ASSERT_LE(stats.bytes, options.max_bytes);
    }
    // With one small entry, bytes is exactly its weight.
    cache->Clear();
    ASSERT_STATUS_OK(cache->Put("abc", "12345"));
    EXPECT_EQ(cache->GetStats().bytes, 3 + 5 + kEntryOverheadBytes);
    EXPECT_EQ(cache->GetStats().entries, 1u);
    // Overwriting re-weighs.
    ASSERT_STATUS_OK(cache->Put("abc", "1"));
    EXPECT_EQ(cache->GetStats().bytes, 3 + 1 + kEntryOverheadBytes);
  }
}

TEST(MemoryCacheTest, ByteBoundAcrossShards) {
  MemoryCacheOptions options;
  options.shards = 8;
  options.max_bytes = 8 << 20;
  auto cache = OpenOrDie(options);
  EXPECT_EQ(cache->options().shards, 8u);
  const std::string value(10000, 'v');
  for (int i = 0; i < 5000; ++i) {
    ASSERT_STATUS_OK(cache->Put("k" + std::to_string(i), value));
  }
  const MemoryCacheStats stats = cache->GetStats();
  EXPECT_LE(stats.bytes, options.max_bytes);
  EXPECT_GT(stats.bytes, options.max_bytes * 9 / 10);
}

TEST(MemoryCacheTest, OversizedEntryIsRefusedAndOldValueDropped) {
  MemoryCacheOptions options;
  options.shards = 1;
  options.max_bytes = 1024;
  auto cache = OpenOrDie(options);
  ASSERT_STATUS_OK(cache->Put("k", "small"));
  Status s = cache->Put("k", std::string(2000, 'x'));
  EXPECT_TRUE(s.IsNoSpace()) << s.ToString();
  EXPECT_EQ(GetOrMiss(*cache, "k"), "<miss>");
  EXPECT_EQ(cache->GetStats().bytes, 0u);
  // Exactly at the bound fits.
  const size_t fits = 1024 - kEntryOverheadBytes - 1;
  ASSERT_STATUS_OK(cache->Put("k", std::string(fits, 'y')));
  EXPECT_EQ(cache->GetStats().bytes, 1024u);
}

TEST(MemoryCacheTest, LruEvictionOrderEndToEnd) {
  MemoryCacheOptions options;
  options.policy = EvictionPolicy::kLru;
  options.shards = 1;
  options.max_entries = 3;
  auto cache = OpenOrDie(options);
  ASSERT_STATUS_OK(cache->Put("a", "1"));
  ASSERT_STATUS_OK(cache->Put("b", "2"));
  ASSERT_STATUS_OK(cache->Put("c", "3"));
  EXPECT_EQ(GetOrMiss(*cache, "a"), "1");  // b is now least recent
  EXPECT_TRUE(cache->Contains("b"));       // Contains is not a use
  ASSERT_STATUS_OK(cache->Put("d", "4"));
  EXPECT_FALSE(cache->Contains("b"));
  EXPECT_TRUE(cache->Contains("a"));
  EXPECT_TRUE(cache->Contains("c"));
  EXPECT_TRUE(cache->Contains("d"));
}

// A shard shows hits to its policy in batches (shard.h); the batch must be
// applied, in order, before anything else changes the shard, and the table
// moves entries (inline and shared values alike) under it. Against a
// plain LRU list, over random gets, puts and erases of a small key space
// (so that gets often hit, puts often evict, and a batch is often pending
// when an erase, an expiry or an eviction comes), the cache must hold
// exactly the model's keys after every step. Run under ASan, a batch that
// outlived its entry is also a use after free.
TEST(MemoryCacheTest, LruOrderMatchesAModelWhileHitsAreDeferred) {
  FakeClock clock;
  MemoryCacheOptions options;
  options.policy = EvictionPolicy::kLru;
  options.shards = 1;
  options.max_entries = 24;
  options.max_bytes = 0;
  options.clock = clock.Fn();
  auto cache = OpenOrDie(options);
  std::list<std::string> model;            // front = least recent
  std::map<std::string, int64_t> expires;  // key -> expiry (0 = never)
  std::map<std::string, std::string> values;
  auto drop = [&](const std::string& key) {
    model.remove(key);
    expires.erase(key);
    values.erase(key);
  };
  std::mt19937_64 rng(11);
  int64_t now = 0;
  for (int step = 0; step < 20000; ++step) {
    const std::string key = "k" + std::to_string(rng() % 40);
    // Expired entries leave the cache when they are next looked up; drop
    // them from the model when the cache would see them.
    auto expired = [&](const std::string& k) {
      auto it = expires.find(k);
      return it != expires.end() && it->second != 0 && now >= it->second;
    };
    switch (rng() % 8) {
      case 0:
      case 1:
      case 2:
      case 3: {  // get; one in four shares the value, which moves a small
                 // one out of its entry into a string of its own
        std::string got = "<miss>";
        if (rng() % 4 == 0) {
          if (auto shared = cache->GetShared(key)) got = *shared;
        } else {
          got = GetOrMiss(*cache, key);
        }
        const bool hit = got != "<miss>";
        if (expired(key)) drop(key);
        const bool in_model =
            std::find(model.begin(), model.end(), key) != model.end();
        ASSERT_EQ(hit, in_model) << "step " << step << " key " << key;
        if (hit) {
          ASSERT_EQ(got, values[key]) << "step " << step;
        }
        if (hit)
          model.splice(model.end(), model,
                       std::find(model.begin(), model.end(), key));
        break;
      }
      case 4:
      case 5: {  // put, one in four with a time to live
        const int64_t ttl = rng() % 4 == 0 ? 1 + rng() % 50 : 0;
        // Inline (up to 32 bytes) or shared, each value distinct.
        const size_t sizes[] = {1, 32, 33, 100};
        std::string value = std::to_string(step) + "/";
        value.resize(std::max(sizes[rng() % 4], value.size()), 'v');
        ASSERT_STATUS_OK(cache->Put(key, value, milliseconds(ttl)));
        drop(key);
        model.push_back(key);
        expires[key] = ttl == 0 ? 0 : now + ttl;
        values[key] = value;
        if (model.size() > options.max_entries) {
          const std::string oldest = model.front();
          drop(oldest);
        }
        break;
      }
      case 6:  // erase
        ASSERT_STATUS_OK(cache->Erase(key));
        drop(key);
        break;
      default:  // time passes
        clock.Advance(static_cast<int64_t>(rng() % 5));
        now = clock.Fn()() - 1'000'000;
        break;
    }
    if (step % 97 == 0) {
      // Contains drops expired entries, as the model does here.
      for (int k = 0; k < 40; ++k) {
        const std::string probe = "k" + std::to_string(k);
        if (expired(probe)) drop(probe);
        const bool in_model =
            std::find(model.begin(), model.end(), probe) != model.end();
        ASSERT_EQ(cache->Contains(probe), in_model)
            << "step " << step << " key " << probe;
      }
    }
  }
}

TEST(MemoryCacheTest, FifoAndLfuEvictionOrderEndToEnd) {
  MemoryCacheOptions options;
  options.shards = 1;
  options.max_entries = 2;
  options.policy = EvictionPolicy::kFifo;
  auto fifo = OpenOrDie(options);
  ASSERT_STATUS_OK(fifo->Put("a", "1"));
  ASSERT_STATUS_OK(fifo->Put("b", "2"));
  EXPECT_EQ(GetOrMiss(*fifo, "a"), "1");
  ASSERT_STATUS_OK(fifo->Put("c", "3"));
  EXPECT_FALSE(fifo->Contains("a"));  // first in, first out despite the hit

  options.policy = EvictionPolicy::kLfu;
  auto lfu = OpenOrDie(options);
  ASSERT_STATUS_OK(lfu->Put("a", "1"));
  ASSERT_STATUS_OK(lfu->Put("b", "2"));
  EXPECT_EQ(GetOrMiss(*lfu, "a"), "1");
  EXPECT_EQ(GetOrMiss(*lfu, "a"), "1");
  EXPECT_EQ(GetOrMiss(*lfu, "b"), "2");  // b is more recent, a more frequent
  ASSERT_STATUS_OK(lfu->Put("c", "3"));  // room is made for c
  EXPECT_TRUE(lfu->Contains("a"));
  EXPECT_FALSE(lfu->Contains("b"));
  EXPECT_TRUE(lfu->Contains("c"));
}

TEST(MemoryCacheTest, DefaultPolicyKeepsHotKeysThroughAScan) {
  MemoryCacheOptions options;  // kTinyLfu
  options.shards = 1;
  options.max_entries = 1000;
  auto cache = OpenOrDie(options);
  auto use = [&](const std::string& key) {
    if (cache->GetShared(key) == nullptr)
      ASSERT_STATUS_OK(cache->Put(key, key));
  };
  // A skewed (log-uniform) workload long enough for the window to adapt,
  // with a hot set of 200 keys used throughout.
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0, 1);
  for (int i = 0; i < 200'000; ++i) {
    use("z" + std::to_string(static_cast<int>(std::pow(1e5, u(rng)))));
    if (i % 4 == 0) use("hot" + std::to_string(i % 800 / 4));
  }
  // A scan of 20,000 keys used once each.
  for (int i = 0; i < 20000; ++i) use("scan" + std::to_string(i));
  int survivors = 0;
  for (int k = 0; k < 200; ++k) {
    survivors += cache->Contains("hot" + std::to_string(k));
  }
  EXPECT_GE(survivors, 190);
}

TEST(MemoryCacheTest, TtlWithFakeClock) {
  FakeClock clock;
  MemoryCacheOptions options;
  options.clock = clock.Fn();
  options.default_ttl = milliseconds(1000);
  auto cache = OpenOrDie(options);
  ASSERT_STATUS_OK(cache->Put("default", "d"));
  ASSERT_STATUS_OK(cache->Put("short", "s", milliseconds(10)));
  ASSERT_STATUS_OK(cache->Put("long", "l", milliseconds(5000)));

  clock.Advance(9);
  EXPECT_EQ(GetOrMiss(*cache, "short"), "s");
  clock.Advance(1);  // exactly at expiry: gone
  EXPECT_EQ(GetOrMiss(*cache, "short"), "<miss>");
  EXPECT_FALSE(cache->Contains("short"));

  clock.Advance(989);  // t = 999
  EXPECT_TRUE(cache->Contains("default"));
  clock.Advance(1);  // t = 1000
  EXPECT_FALSE(cache->Contains("default"));
  EXPECT_EQ(GetOrMiss(*cache, "long"), "l");

  // An overwrite restarts the time to live.
  clock.Advance(3000);  // t = 4000
  ASSERT_STATUS_OK(cache->Put("long", "l2", milliseconds(5000)));
  clock.Advance(4000);  // t = 8000: past the first expiry, not the second
  EXPECT_EQ(GetOrMiss(*cache, "long"), "l2");

  const MemoryCacheStats stats = cache->GetStats();
  EXPECT_EQ(stats.expirations, 2u);
  EXPECT_EQ(stats.entries, 1u);
}

TEST(MemoryCacheTest, HugeTtlSaturates) {
  FakeClock clock;
  MemoryCacheOptions options;
  options.clock = clock.Fn();
  auto cache = OpenOrDie(options);
  ASSERT_STATUS_OK(cache->Put("k", "v", milliseconds::max()));
  clock.Advance(int64_t{1} << 50);
  EXPECT_EQ(GetOrMiss(*cache, "k"), "v");
}

TEST(MemoryCacheTest, NoTtlMeansForever) {
  FakeClock clock;
  MemoryCacheOptions options;
  options.clock = clock.Fn();
  auto cache = OpenOrDie(options);
  ASSERT_STATUS_OK(cache->Put("k", "v"));
  clock.Advance(int64_t{1} << 40);
  EXPECT_EQ(GetOrMiss(*cache, "k"), "v");
}

TEST(MemoryCacheTest, PurgeExpiredDropsOnlyExpired) {
  FakeClock clock;
  MemoryCacheOptions options;
  options.clock = clock.Fn();
  options.shards = 4;
  auto cache = OpenOrDie(options);
  for (int i = 0; i < 100; ++i) {
    const milliseconds ttl(i % 2 == 0 ? 100 : 0);
    ASSERT_STATUS_OK(cache->Put("k" + std::to_string(i), "v", ttl));
  }
  clock.Advance(100);
  EXPECT_EQ(cache->PurgeExpired(), 50u);
  const MemoryCacheStats stats = cache->GetStats();
  EXPECT_EQ(stats.entries, 50u);
  EXPECT_EQ(stats.expirations, 50u);
  EXPECT_EQ(stats.bytes, 50 * (2 + 1 + kEntryOverheadBytes) +
                             45 * 1);  // k11..k99 are one byte longer
}

TEST(MemoryCacheTest, StatsAreExactSingleThreaded) {
  MemoryCacheOptions options;
  options.policy = EvictionPolicy::kLru;
  options.shards = 2;
  options.max_entries = 200;  // at least 64 a shard: 2 shards kept
  options.max_bytes = 0;
  auto cache = OpenOrDie(options);
  ASSERT_EQ(cache->options().shards, 2u);
  std::mt19937_64 rng(5);
  uint64_t hits = 0, misses = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string key = std::to_string(rng() % 500);
    if (cache->GetShared(key) != nullptr) {
      ++hits;
    } else {
      ++misses;
      ASSERT_STATUS_OK(cache->Put(key, "value"));
    }
  }
  const MemoryCacheStats stats = cache->GetStats();
  EXPECT_EQ(stats.hits, hits);
  EXPECT_EQ(stats.misses, misses);
  EXPECT_EQ(stats.entries, 200u);  // 500 keys over 200 slots fill both shards
  EXPECT_EQ(stats.evictions, misses - 200);
  uint64_t bytes = 0;
  for (int k = 0; k < 500; ++k) {
    const std::string key = std::to_string(k);
    if (cache->Contains(key)) bytes += key.size() + 5 + kEntryOverheadBytes;
  }
  EXPECT_EQ(stats.bytes, bytes);
  EXPECT_DOUBLE_EQ(stats.hit_ratio(),
                   static_cast<double>(hits) / (hits + misses));

  // Contains and Erase are not hits or misses; Clear keeps the counters.
  cache->Contains("nope");
  ASSERT_STATUS_OK(cache->Erase("nope"));
  cache->Clear();
  const MemoryCacheStats after = cache->GetStats();
  EXPECT_EQ(after.hits, hits);
  EXPECT_EQ(after.misses, misses);
  EXPECT_EQ(after.entries, 0u);
  EXPECT_EQ(after.bytes, 0u);
}

TEST(MemoryCacheTest, OptionsAreCheckedAndShardsAdjusted) {
  MemoryCacheOptions options;
  options.shards = 0;
  EXPECT_FALSE(MemoryCache::Open(options).ok());
  options.shards = 257;
  EXPECT_FALSE(MemoryCache::Open(options).ok());
  options.shards = 16;
  options.default_ttl = milliseconds(-1);
  EXPECT_FALSE(MemoryCache::Open(options).ok());

  options.default_ttl = milliseconds(0);
  options.shards = 5;  // rounded up to 8
  options.max_bytes = 0;
  EXPECT_EQ(OpenOrDie(options)->options().shards, 8u);
  options.max_entries = 100;  // 64 a shard at least: one shard
  EXPECT_EQ(OpenOrDie(options)->options().shards, 1u);
  options.max_entries = 0;
  options.max_bytes = 256 << 10;  // 64 KiB a shard at least: four shards
  EXPECT_EQ(OpenOrDie(options)->options().shards, 4u);

  auto cache = OpenOrDie({});
  EXPECT_FALSE(cache->Put("k", "v", milliseconds(-5)).ok());
  EXPECT_FALSE(cache->Contains("k"));
}

TEST(MemoryCacheTest, UnboundedCacheKeepsEverything) {
  MemoryCacheOptions options;
  options.max_bytes = 0;
  options.max_entries = 0;
  auto cache = OpenOrDie(options);
  for (int i = 0; i < 10000; ++i) {
    ASSERT_STATUS_OK(cache->Put(std::to_string(i), "v"));
  }
  EXPECT_EQ(cache->GetStats().entries, 10000u);
  EXPECT_EQ(cache->GetStats().evictions, 0u);
}

// Many threads put, get, erase and clear over a small key space, so shards
// are contended and evictions constant. Every value read must belong to its
// key; bounds must hold throughout; TSan checks the locking.
TEST(MemoryCacheTest, ConcurrentHammer) {
  for (EvictionPolicy policy : kAllPolicies) {
    FakeClock clock;
    MemoryCacheOptions options;
    options.policy = policy;
    options.shards = 4;
    options.max_entries = 512;
    options.max_bytes = 256 << 10;
    options.clock = clock.Fn();
    auto cache = OpenOrDie(options);
    ASSERT_EQ(cache->options().shards, 4u);
    std::atomic<bool> wrong{false};
    std::atomic<uint64_t> gets{0};
    const int kThreads = 8;
    const int kOps = 20000;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937_64 rng(t);
        for (int i = 0; i < kOps; ++i) {
          const std::string key = "key" + std::to_string(rng() % 2000);
          switch (rng() % 16) {
            case 0: {
              EXPECT_TRUE(cache->Erase(key).ok());
              break;
            }
            case 1:
              if (i % 1000 == 0) cache->Clear();
              break;
            case 2:
              clock.Advance(1);
              (void)cache->PurgeExpired();
              break;
            case 3:
              if (cache->GetStats().entries > 512) wrong = true;
              break;
            case 4:
            case 5:
            case 6:
            case 7: {
              const std::string value =
                  key + "#" + std::string(rng() % 300, 'v');
              const milliseconds ttl(rng() % 4 == 0 ? 5 : 0);
              if (!cache->Put(key, value, ttl).ok()) wrong = true;
              break;
            }
            default: {
              ++gets;
              std::shared_ptr<const std::string> v = cache->GetShared(key);
              if (v != nullptr &&
                  v->compare(0, key.size() + 1, key + "#") != 0) {
                wrong = true;
              }
              cache->Contains(key);
              break;
            }
          }
        }
      });
    }
    for (std::thread& th : threads) th.join();
    EXPECT_FALSE(wrong) << static_cast<int>(policy);
    const MemoryCacheStats stats = cache->GetStats();
    EXPECT_EQ(stats.hits + stats.misses, gets.load());
    EXPECT_LE(stats.entries, 512u);
    EXPECT_LE(stats.bytes, options.max_bytes);
  }
}

TEST(MemoryCacheTest, StampIsKeptAndRestampedOnlyOnTheSameValue) {
  std::unique_ptr<MemoryCache> cache = OpenOrDie({});
  ASSERT_TRUE(
      cache->Put("k", "v1", std::chrono::milliseconds(0), MemoryStamp{1, 10})
          .ok());
  MemoryStamp stamp;
  std::shared_ptr<const std::string> v1 = cache->GetShared("k", &stamp);
  ASSERT_NE(v1, nullptr);
  EXPECT_EQ(stamp.changes, 1u);
  EXPECT_EQ(stamp.version, 10u);
  cache->Restamp("k", v1.get(), MemoryStamp{2, 10});
  ASSERT_NE(cache->GetShared("k", &stamp), nullptr);
  EXPECT_EQ(stamp.changes, 2u);
  // A value put meanwhile keeps its own stamp.
  ASSERT_TRUE(
      cache->Put("k", "v2", std::chrono::milliseconds(0), MemoryStamp{3, 20})
          .ok());
  cache->Restamp("k", v1.get(), MemoryStamp{4, 10});
  ASSERT_NE(cache->GetShared("k", &stamp), nullptr);
  EXPECT_EQ(stamp.changes, 3u);
  EXPECT_EQ(stamp.version, 20u);
}

}  // namespace
}  // namespace ucache
