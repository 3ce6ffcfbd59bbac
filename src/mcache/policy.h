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

  // The shard is about to look up the key whose hash is `hash`. A policy
  // that will touch memory of its own for that key on a hit may start
  // loading it now, so that its cache miss overlaps the lookup's.
  virtual void Prefetch(uint64_t hash) { (void)hash; }

  // `e` has just been added to the shard (a new key).
  virtual void RecordInsert(Entry* e) = 0;

  // `e` was read by a hit, or overwritten by a Put of its key.
  virtual void RecordAccess(Entry* e) = 0;

  // `e` is leaving the shard: erased, expired, cleared, or evicted after
  // ChooseVictim() named it. The policy must unlink it.
  virtual void RecordRemove(Entry* e) = 0;

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
