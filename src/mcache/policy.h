// Policy: the internal interface between a memory-cache shard and its
// eviction policy.
//
// The shard owns the entries and the key index; the policy sees every entry
// enter, get used and leave, and names the next entry to evict. The shard
// evicts by calling ChooseVictim() and then RecordRemove() on the entry it
// got, for as long as a bound is exceeded. Keeping the policy ignorant of
// keys, values and bounds lets each policy be tested alone against a small
// reference model, and lets the hit-ratio simulator drive it directly.
//
// Thread safety: none. A policy belongs to one shard and is called with that
// shard's mutex held.

#ifndef UCACHE_SRC_MCACHE_POLICY_H_
#define UCACHE_SRC_MCACHE_POLICY_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "src/mcache/entry.h"

namespace ucache {
namespace mcache_internal {

class Policy {
 public:
  virtual ~Policy() = default;

  // The shard will soon call RecordAccess(e): a policy may start loading
  // the memory that call touches, so that the shard's batch of deferred
  // accesses (shard.h) overlaps their cache misses instead of paying them
  // one after another. The default loads e's list neighbours, which a list
  // move writes.
  virtual void PrefetchAccess(const Entry& e) {
    if (e.prev != nullptr) __builtin_prefetch(e.prev, 1);
    if (e.next != nullptr) __builtin_prefetch(e.next, 1);
  }

  // `e` has just been added to the shard (a new key).
  virtual void RecordInsert(Entry* e) = 0;

  // `e` was read by a hit, or overwritten by a Put of its key.
  virtual void RecordAccess(Entry* e) = 0;

  // `n` RecordAccess(e) calls in a row, with the same effect. A policy may
  // do them at once: the shard hands over a run of hits on one entry (a
  // memoized call made again and again) this way.
  virtual void RecordAccesses(Entry* e, uint64_t n) {
    for (; n > 0; --n) RecordAccess(e);
  }

  // `e` is leaving the shard: erased, expired, cleared, or evicted after
  // ChooseVictim() named it. The policy must unlink it.
  virtual void RecordRemove(Entry* e) = 0;

  // The entry now at `to` was at `from`: the shard's table moved it, links
  // and all (entry_table.h). The policy must point whatever named `from`
  // (its neighbours, its lists' ends) at `to`. Only linked entries move.
  virtual void RecordMove(const Entry* from, Entry* to) = 0;

  // The entry to evict next, or null when the policy tracks none. May
  // reorganise the policy's own structures (W-TinyLFU decides admission
  // here) but leaves the entry linked: the shard calls RecordRemove next.
  virtual Entry* ChooseVictim() = 0;

  // A short lower-case name, e.g. "lru", for tables and logs.
  virtual std::string_view name() const = 0;
};

}  // namespace mcache_internal
}  // namespace ucache

#endif  // UCACHE_SRC_MCACHE_POLICY_H_
