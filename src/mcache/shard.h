// Shard: one independently locked part of a MemoryCache. It owns its
// entries, indexes them by key, enforces its share of the bounds by asking
// its Policy for victims, drops expired entries, and keeps its counters.
//
// A hit does not reorder the policy at once: it appends its entry to a small
// buffer of deferred accesses, which is shown to the policy, in order, when
// it fills and before anything else changes the shard (a put, a removal, an
// eviction). The policy thus sees exactly the sequence of events it would
// have seen, so the hit ratio is the same, but a hit no longer waits on the
// cache misses of a list move (the entry's neighbours) and of the frequency
// sketch: a full buffer loads all of them together first (PrefetchAccess)
// and then moves. A read buffer after Caffeine's, except that Caffeine's is
// lossy and drained by whichever thread wins a try-lock; this one is
// lossless and drained under the shard's lock.
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

#include "src/mcache/entry.h"
#include "src/mcache/entry_table.h"
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

  // `hash` is the key's XXH3-64 and `key` at most EntryKey::kMaxBytes
  // long. `expires_at` of 0 means never. A value too large to keep inline
  // (Entry::kSmallValueBytes) is copied before the lock is taken.
  Status Put(std::string_view key, uint64_t hash, std::string_view value,
             int64_t expires_at, const MemoryStamp& stamp);
  // Null on a miss. Counts a hit or a miss. On a hit, copies the entry's
  // stamp into `*stamp` unless it is null, and a value that fits `*copy`
  // (unless null) into it, returning null then (MemoryCache::GetShared).
  std::shared_ptr<const std::string> Get(std::string_view key, uint64_t hash,
                                         MemoryStamp* stamp, MemoryCopy* copy);
  // The same, copying the value into `*value` instead (left untouched on a
  // miss); returns whether it hit. A value of at most kCopyUnderLockBytes is
  // copied with the lock held, which spares the two atomic reference-count
  // updates of a shared_ptr copy; a longer one is copied after the lock is
  // released, so a large copy never holds up the shard.
  bool GetCopy(std::string_view key, uint64_t hash, std::string* value);
  static constexpr size_t kCopyUnderLockBytes = 256;
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
  bool Expired(const Entry& e) const {
    return e.expires_at != 0 && (*clock_)() >= e.expires_at;
  }
  bool OverBounds() const {
    return (max_entries_ != 0 && index_.size() > max_entries_) ||
           (max_bytes_ != 0 && bytes_ > max_bytes_);
  }
  // The live entry of `key`, or null; drops it first if it has expired.
  Entry* FindLiveLocked(std::string_view key, uint64_t hash);
  // Defers the policy's RecordAccess of a hit on `e` (see above).
  void RecordHitLocked(Entry* e) {
    pending_hits_[pending_count_++] = e;
    if (pending_count_ == kPendingHits) ApplyHitsLocked();
  }
  // Shows the deferred hits to the policy. Called before anything that
  // changes the table or asks the policy for a victim, so no deferred hit
  // names an entry that is gone or has moved (entry_table.h): by Put and
  // Clear, and by RemoveLocked for every removal.
  void ApplyHitsLocked();
  // Applies the deferred hits, then unlinks `e` from the policy and the
  // index and frees it.
  void RemoveLocked(Entry* e);
  void EvictLocked();
  void ReserveIndex();

  // Constant after construction.
  const size_t max_entries_;
  const size_t max_bytes_;
  const Clock* const clock_;

  mutable std::mutex mu_;
  // Guarded by mu_.
  std::unique_ptr<Policy> policy_;
  EntryTable index_;
  size_t bytes_ = 0;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
  uint64_t evictions_ = 0;
  uint64_t expirations_ = 0;
  // Deferred hits, oldest first. 16 (chosen, not tuned): enough misses to
  // overlap, few enough that their entries are still in the CPU's cache
  // when applied.
  static constexpr size_t kPendingHits = 16;
  Entry* pending_hits_[kPendingHits] = {};
  size_t pending_count_ = 0;
};

}  // namespace mcache_internal
}  // namespace ucache

#endif  // UCACHE_SRC_MCACHE_SHARD_H_
