// Shard: one independently locked part of a MemoryCache. It owns its
// entries, indexes them by key, enforces its share of the bounds by asking
// its Policy for victims, drops expired entries, and keeps its counters.
//
// Thread safety: every method takes the shard's mutex; a shard may be used
// from many threads at once.

#ifndef UCACHE_SRC_MCACHE_SHARD_H_
#define UCACHE_SRC_MCACHE_SHARD_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "src/mcache/entry.h"
#include "src/mcache/policy.h"
#include "ucache/memory_cache.h"
#include "ucache/status.h"

namespace ucache {
namespace mcache_internal {

// Milliseconds on the cache's clock.
using Clock = std::function<int64_t()>;

// The weight of an entry against max_bytes.
inline size_t EntryCharge(size_t key_size, size_t value_size) {
  return key_size + value_size + kEntryOverheadBytes;
}

class Shard {
 public:
  // `max_entries` or `max_bytes` of zero means no bound of that kind.
  // `clock` must outlive the shard.
  Shard(std::unique_ptr<Policy> policy, size_t max_entries, size_t max_bytes,
        const Clock* clock);
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  // `hash` is the key's XXH3-64. `expires_at` of 0 means never.
  Status Put(std::string_view key, uint64_t hash,
             std::shared_ptr<const std::string> value, int64_t expires_at,
             const MemoryStamp& stamp);
  // Null on a miss. Counts a hit or a miss. On a hit, copies the entry's
  // stamp into `*stamp` unless it is null, and a value that fits `*copy`
  // (unless null) into it, returning null then (MemoryCache::GetShared).
  std::shared_ptr<const std::string> Get(std::string_view key, uint64_t hash,
                                         MemoryStamp* stamp, MemoryCopy* copy);
  // Sets the stamp of `key`'s entry if it holds `value`.
  void Restamp(std::string_view key, uint64_t hash, const std::string* value,
               const MemoryStamp& stamp);
  bool Contains(std::string_view key, uint64_t hash);
  void Erase(std::string_view key, uint64_t hash);
  void Clear();
  size_t PurgeExpired();
  // Adds this shard's counters to `*stats`.
  void AddStats(MemoryCacheStats* stats) const;

 private:
  // The index's key: a view of Entry::key plus its hash, so the hash is
  // computed once per call (it also picked the shard).
  struct KeyRef {
    std::string_view key;
    uint64_t hash;
  };
  struct KeyRefHash {
    size_t operator()(const KeyRef& k) const {
      return static_cast<size_t>(k.hash);
    }
  };
  struct KeyRefEq {
    bool operator()(const KeyRef& a, const KeyRef& b) const {
      return a.key == b.key;
    }
  };
  using Index =
      std::unordered_map<KeyRef, std::unique_ptr<Entry>, KeyRefHash, KeyRefEq>;

  bool Expired(const Entry& e) const {
    return e.expires_at != 0 && (*clock_)() >= e.expires_at;
  }
  bool OverBounds() const {
    return (max_entries_ != 0 && index_.size() > max_entries_) ||
           (max_bytes_ != 0 && bytes_ > max_bytes_);
  }
  // Unlinks `it` from the policy and the index and frees it.
  void RemoveLocked(Index::iterator it);
  void EvictLocked();
  void ReserveIndex();

  // Constant after construction.
  const size_t max_entries_;
  const size_t max_bytes_;
  const Clock* const clock_;

  mutable std::mutex mu_;
  // Guarded by mu_.
  std::unique_ptr<Policy> policy_;
  Index index_;
  size_t bytes_ = 0;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
  uint64_t evictions_ = 0;
  uint64_t expirations_ = 0;
};

}  // namespace mcache_internal
}  // namespace ucache

#endif  // UCACHE_SRC_MCACHE_SHARD_H_
