// MemoryCache: the memory tier. A bounded, concurrent, in-process map from
// byte-string keys to byte-string values, with per-entry time to live and a
// choice of eviction policy.
//
// What it promises:
//  * Bounds. The cache holds at most max_entries entries and max_bytes bytes
//    (each entry weighs key size + value size + kEntryOverheadBytes). The
//    bounds are split evenly across shards, so a skewed key distribution may
//    evict a little before the global bound is reached; the bounds are never
//    exceeded once a call returns.
//  * Never a stale value after expiry. An entry whose time to live has passed
//    reads as a miss, whether or not it has been dropped yet.
//  * A miss is a miss: Get returns NotFound, never an exception.
//
// Thread safety: every method may be called from many threads at once. Keys
// are spread over shards by an XXH3 hash; each shard has its own mutex, so
// threads working on different shards do not wait for one another.
//
// Choosing a policy: kTinyLfu (the default) keeps what is used often and
// resists scans and loops; kLru suits workloads where recent keys are the hot
// ones; kLfu and kFifo are there for comparison and special cases. Measured
// hit ratios are printed by `bazel run -c opt //bench:hit_ratio`.

#ifndef UCACHE_MEMORY_CACHE_H_
#define UCACHE_MEMORY_CACHE_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ucache/internal/language_level.h"
#include "ucache/status.h"

namespace ucache {

enum class EvictionPolicy {
  // Least recently used: evicts the entry read or written longest ago.
  kLru,
  // Least frequently used: evicts the entry with the fewest reads and writes
  // since it entered the cache; among equals, the least recently used. Counts
  // never age, so once-hot entries can linger.
  kLfu,
  // First in, first out: evicts the entry inserted longest ago; reads and
  // overwrites do not reorder.
  kFifo,
  // W-TinyLFU with an adaptive window (after Caffeine): new entries enter an
  // LRU window; an entry leaving the window enters the main area (a
  // segmented LRU, up to 95% of it protected from eviction contests by a use
  // while in main) only if a count-min sketch of recent access frequencies
  // says it is used more often than the entry it would displace. The
  // window's size is set per shard by miniature simulation: three small
  // shadow caches with windows of 1%, 20% and 100% replay a hash-sampled
  // share of the requests (1/64 on large shards), and the window takes the
  // share of the one with the most recent hits. A new cache starts as an
  // LRU (the window is the whole cache); on frequency-skewed workloads the
  // window drops to 1% within a few shard capacities of requests, after
  // which scans and loops no longer flush the frequent entries.
  kTinyLfu,
};

// The weight added to key size + value size to account for an entry's
// bookkeeping, so that max_bytes bounds memory and not just payload. On
// 64-bit Linux with glibc an entry costs about: the entry itself (128 bytes,
// keys of up to 16 bytes and values of up to 32 inside it), which lives in a
// slot of its shard's table, so at the table's load of 3/8 to 3/4 it takes
// 171 to 341 bytes (228 on average over a doubling), with a control byte a
// slot; for a longer value, a shared string (48 bytes, 64 allocated, and
// its bytes); and W-TinyLFU's sketch (16 per entry of capacity) and shadow
// caches (about 8 per entry in shards of 16,384 entries or more; up to
// about 250 KiB a shard in smaller ones, which this weight does not cover):
// about 200 to 430 in all: 250 on average with a value inline, 320 with a
// shared one. Longer keys and values also pay malloc's rounding, which is
// not counted. Kept fixed, at the larger average, so that bounds are
// predictable.
inline constexpr size_t kEntryOverheadBytes = 320;

// Two words kept beside a value for a cache layered over another store, so
// that it can tell later whether that store still holds the version it
// copied: the selector (cache.h) keeps the file tier's change count and the
// record's version here. The memory tier only stores and returns them.
struct MemoryStamp {
  uint64_t changes = 0;
  uint64_t version = 0;
};

// Room a reader offers for a small value (GetShared), so that a hit copies
// it out under the shard's lock instead of taking a reference to it: the
// reference's atomic increment and decrement were two of the seven atomic
// read-modify-writes of a small memoized hit.
struct MemoryCopy {
  char* buffer = nullptr;
  size_t capacity = 0;
  // Set on a hit that copied: the value's size, and whether it expires.
  bool copied = false;
  size_t size = 0;
  bool expires = false;
};

struct MemoryCacheOptions {
  // Upper bound on the number of entries; zero means no bound on the count.
  // Default 0.
  size_t max_entries = 0;

  // Upper bound on the total weight of the entries (see kEntryOverheadBytes);
  // zero means no bound on bytes. A Put whose single entry outweighs a
  // shard's share of max_bytes fails with kNoSpace. Default 64 MiB.
  size_t max_bytes = size_t{64} << 20;

  // Time to live of a Put that names none; zero means forever. Default 0.
  std::chrono::milliseconds default_ttl{0};

  // Which entry to evict when a bound is reached. Default kTinyLfu.
  EvictionPolicy policy = EvictionPolicy::kTinyLfu;

  // Number of independently locked shards, 1..256, rounded up to a power of
  // two. More shards mean less lock contention; fewer mean eviction
  // decisions taken over more entries. The count is then halved until every
  // shard's share is at least 64 entries (when max_entries is set) and at
  // least 64 KiB (when max_bytes is set), or it reaches 1. options() reports
  // the count in force. Default 16.
  size_t shards = 16;

  // The clock for time to live, in milliseconds on any fixed epoch. It is
  // called with a shard's lock held and must be thread-safe and cheap. Null
  // means std::chrono::steady_clock. Tests inject a fake clock here.
  std::function<int64_t()> clock;
};

struct MemoryCacheStats {
  uint64_t hits = 0;         // Get/GetShared calls that found a live entry
  uint64_t misses = 0;       // Get/GetShared calls that found none
  uint64_t evictions = 0;    // entries dropped to honour a bound
  uint64_t expirations = 0;  // entries dropped because their TTL had passed
  uint64_t bytes = 0;        // current total weight of the entries
  uint64_t entries = 0;      // current number of entries (expired ones
                             // until they are dropped)
  double hit_ratio() const {
    const uint64_t total = hits + misses;
    return total == 0 ? 0.0
                      : static_cast<double>(hits) / static_cast<double>(total);
  }
};

class MemoryCache {
 public:
  // Builds a cache. Fails with kInvalidArgument when an option is out of
  // range (e.g. shards == 0).
  static Result<std::unique_ptr<MemoryCache>> Open(
      const MemoryCacheOptions& options = {});

  ~MemoryCache();
  MemoryCache(const MemoryCache&) = delete;
  MemoryCache& operator=(const MemoryCache&) = delete;

  // Stores a copy of `value` under `key`, replacing any earlier value, then
  // evicts entries (possibly this one: a cache may forget) until the bounds
  // hold. `ttl` of zero means default_ttl. Fails with kNoSpace when the
  // entry alone outweighs its shard's byte bound; any earlier value of `key`
  // is removed then, so a failed Put never leaves an older value readable.
  // Fails with kInvalidArgument for a key of 4 GiB or more. `stamp` is kept
  // beside the value (see MemoryStamp).
  Status Put(std::string_view key, std::string_view value,
             std::chrono::milliseconds ttl = std::chrono::milliseconds{0},
             const MemoryStamp& stamp = {});

  // Copies the value of `key` into `*value`. NotFound on a miss (absent or
  // expired); `*value` is untouched then. Counts as a use of the entry.
  Status Get(std::string_view key, std::string* value);

  // The value of `key` without copying, or null on a miss. The returned
  // string is immutable and stays valid for as long as the caller holds the
  // pointer, even after the entry is overwritten, evicted or the cache is
  // destroyed. Counts as a use of the entry.
  std::shared_ptr<const std::string> GetShared(std::string_view key);
  // The same, and on a hit copies the entry's stamp into `*stamp`.
  std::shared_ptr<const std::string> GetShared(std::string_view key,
                                               MemoryStamp* stamp);
  // The same, except that a value of at most copy->capacity bytes is copied
  // to copy->buffer instead (then copy->copied is set and null returned).
  std::shared_ptr<const std::string> GetShared(std::string_view key,
                                               MemoryStamp* stamp,
                                               MemoryCopy* copy);

  // Replaces the stamp of `key`'s entry if the entry still holds `value`
  // (a pointer GetShared returned); otherwise changes nothing, so a stamp
  // checked against one value is never pinned on another.
  void Restamp(std::string_view key, const std::string* value,
               const MemoryStamp& stamp);

  // The value of `key`, or nullopt on a miss. Counts as a use of the entry.
  std::optional<std::string> GetOptional(std::string_view key);

  // True when `key` has a live entry. Not counted as a use, not a hit or a
  // miss in the stats.
  bool Contains(std::string_view key);

  // Removes `key`. OK whether or not it was present.
  Status Erase(std::string_view key);

  // Removes every entry. Stats counters (hits, misses, evictions,
  // expirations) are kept; bytes and entries drop to zero.
  void Clear();

  // Drops every expired entry now, instead of when it is next read or
  // evicted. Returns how many were dropped.
  size_t PurgeExpired();

  // A snapshot, summed over shards (each shard read under its lock, so the
  // totals are consistent per shard but not across shards).
  MemoryCacheStats GetStats() const;

  // The options in force, after defaults and shard adjustment.
  const MemoryCacheOptions& options() const;

  class Impl;

 private:
  explicit MemoryCache(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ucache

#endif  // UCACHE_MEMORY_CACHE_H_
