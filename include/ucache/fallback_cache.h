// FallbackCache: the tier that always works. A bounded, in-process,
// least-recently-used map from byte strings to byte strings: the analogue of
// Python's functools.lru_cache. It has no dependencies and no failure modes:
// construction cannot fail, a value too large for its bounds is simply not
// kept. The selector (cache.h) serves from it whenever a preferred tier
// cannot.
//
// Thread safety: every method may be called from many threads at once; one
// mutex guards the whole cache, which is what keeps it simple.

#ifndef UCACHE_FALLBACK_CACHE_H_
#define UCACHE_FALLBACK_CACHE_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "ucache/internal/language_level.h"

namespace ucache {

struct FallbackCacheOptions {
  // Upper bound on the number of entries; at least 1. Default 1024.
  size_t max_entries = 1024;
  // Upper bound on the sum of key and value sizes; zero means none.
  // Default 64 MiB.
  size_t max_bytes = size_t{64} << 20;
  // The clock for time to live, in milliseconds on any fixed epoch; null
  // means std::chrono::steady_clock. Tests inject a fake clock here.
  std::function<int64_t()> clock;
};

struct FallbackCacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t evictions = 0;  // entries dropped to honour a bound
  uint64_t entries = 0;
  uint64_t bytes = 0;  // sum of key and value sizes
};

class FallbackCache {
 public:
  explicit FallbackCache(const FallbackCacheOptions& options = {});
  ~FallbackCache();
  FallbackCache(const FallbackCache&) = delete;
  FallbackCache& operator=(const FallbackCache&) = delete;

  // Stores a copy of `value` under `key`, replacing any earlier value, and
  // evicts the least recently used entries until the bounds hold. A pair
  // larger than max_bytes is not kept (and any earlier value is removed).
  // `ttl` of zero means forever.
  void Put(std::string_view key, std::string_view value,
           std::chrono::milliseconds ttl = std::chrono::milliseconds{0});

  // The value of `key`, or null on a miss (absent or expired). The string
  // stays valid for as long as the caller holds the pointer.
  std::shared_ptr<const std::string> Get(std::string_view key);

  void Erase(std::string_view key);
  void Clear();
  FallbackCacheStats GetStats() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ucache

#endif  // UCACHE_FALLBACK_CACHE_H_
