// Cache: the selector. It layers the tiers, picks the best one that works,
// falls back gracefully and says which backend serves and why.
//
//   read:  memory tier -> file tier -> (fallback tier)     first hit wins;
//          a file hit is copied into the memory tier
//   write: every serving tier
//
// Values larger than Options::large_value_bytes live in the file tier alone
// while it serves (it maps them; a memory copy would only add a copy).
//
// Opening never fails: when the file tier cannot open (directory not
// writable, not a store, locks unsupported) the cache serves from memory, and
// when nothing else can serve, from the fallback tier; each such event is one
// warning through Options::log. A file tier that fails at run time (a full
// disk) keeps serving reads while writes go to the other tiers, and is
// retried every Options::file_retry_interval; active_backend() says what
// serves meanwhile and active_reason() why.
//
// A ScopedOverride (scoped_override.h) in the calling thread disables the
// cache or restricts it to one tier for the calls that thread makes inside
// the override's scope; a tier the cache did not open is opened on first use.
//
// Thread safety: every method may be called from many threads at once. Many
// processes may share one store: that is the file tier's job (file_cache.h).

#ifndef UCACHE_CACHE_H_
#define UCACHE_CACHE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ucache/fallback_cache.h"
#include "ucache/file_cache.h"
#include "ucache/internal/language_level.h"
#include "ucache/memory_cache.h"
#include "ucache/options.h"
#include "ucache/status.h"

namespace ucache {

// Where a value came from.
enum class Tier { kMemory, kFile, kFallback };

struct CacheStats {
  Backend backend = Backend::kDisabled;  // active_backend()
  std::string reason;                    // active_reason()
  uint64_t memory_hits = 0;
  uint64_t file_hits = 0;
  uint64_t fallback_hits = 0;
  uint64_t misses = 0;
  uint64_t puts = 0;           // Put calls (not disabled)
  uint64_t file_failures = 0;  // file-tier writes that failed
  // Each tier's own statistics, for the tiers that are open.
  std::optional<MemoryCacheStats> memory;
  std::optional<FileCacheStats> file;
  std::optional<FallbackCacheStats> fallback;
};

class Cache {
 public:
  // Opens the cache `options` describe (after the environment variables of
  // options.h). Never fails; see active_backend() for what it got.
  static std::shared_ptr<Cache> Open(const Options& options = {});

  ~Cache();
  Cache(const Cache&) = delete;
  Cache& operator=(const Cache&) = delete;

  // A value found by Get. `data` stays valid while the Hit (or a copy of
  // keep_alive) lives, whatever happens to the cache meanwhile.
  struct Hit {
    std::string_view data;
    std::shared_ptr<const void> keep_alive;
    Tier tier = Tier::kMemory;
  };

  // The value of `key` from the first tier that has it, or nullopt.
  std::optional<Hit> Get(std::string_view key);

  // Stores `value` under `key` in every serving tier, with Options::ttl.
  // When no serving tier keeps it (the file tier failing, a value too large
  // for the memory tier), the fallback tier does. A cache may forget, so
  // there is nothing to return: failures show in the log and the stats.
  // Disabled: stores nothing.
  void Put(std::string_view key, std::string_view value);

  // Removes `key` from every open tier.
  void Erase(std::string_view key);

  // Takes the store-wide lock of `key` (FileCache::LockKey) when the file
  // tier serves this call, so that processes missing one key compute it
  // once. Without a file tier, or where locks fail, returns a lock that is
  // not held (and says so once through the log).
  KeyLock LockKey(std::string_view key);

  // True when calls from this thread, now, go straight through (Options::
  // disable, UCACHE_DISABLE, or a ScopedOverride).
  bool disabled() const;

  // The backend that serves calls (without a ScopedOverride), and why it is
  // that one: "as configured by UCACHE_BACKEND=memory" (or by
  // options.backend), "disabled by UCACHE_DISABLE=1" (or options.disable,
  // ...), or what failed.
  Backend active_backend() const;
  std::string active_reason() const;

  CacheStats GetStats() const;

  // The options in force: after the environment, with dir resolved (empty
  // when no store path could be found).
  const Options& options() const;

  class Impl;

 private:
  explicit Cache(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ucache

#endif  // UCACHE_CACHE_H_
