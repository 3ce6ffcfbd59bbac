// LfuPolicy: evicts the entry used least often since it entered the cache.
//
// An insert counts as the first use; every hit or overwrite adds one. Ties
// go to the entry whose last use is oldest (LRU among equals). As in classic
// LFU, room is made for a new entry: it is not chosen as the victim of its
// own insert (unless it is the only entry), though with its count of one it
// is likely the next victim unless it is used first. Counts never
// age and are forgotten when an entry leaves, which is the classic in-cache
// LFU. Every operation is O(1): entries sit in per-count buckets, and the
// buckets form a list in increasing count order (Shah, Mitra and Matani,
// "An O(1) algorithm for implementing the LFU cache eviction scheme").

#ifndef UCACHE_SRC_MCACHE_LFU_POLICY_H_
#define UCACHE_SRC_MCACHE_LFU_POLICY_H_

#include <cstdint>

#include "src/mcache/entry.h"
#include "src/mcache/policy.h"

namespace ucache {
namespace mcache_internal {

class LfuPolicy final : public Policy {
 public:
  LfuPolicy() = default;
  ~LfuPolicy() override;
  LfuPolicy(const LfuPolicy&) = delete;
  LfuPolicy& operator=(const LfuPolicy&) = delete;

  void RecordInsert(Entry* e) override;
  void RecordAccess(Entry* e) override;
  void RecordRemove(Entry* e) override;
  void RecordMove(const Entry* from, Entry* to) override;
  Entry* ChooseVictim() override;
  std::string_view name() const override { return "lfu"; }

 private:
  // The entries with one use count, in order of last use (front = oldest).
  struct Bucket {
    uint32_t count = 0;
    EntryList entries;
    Bucket* prev = nullptr;
    Bucket* next = nullptr;
  };

  // A bucket for `count` right after `after` (null = at the head), reusing
  // the next one when it already has that count.
  Bucket* BucketAfter(Bucket* after, uint32_t count);
  void DropIfEmpty(Bucket* b);

  Bucket* head_ = nullptr;  // lowest count
  // The entry inserted last, until the next use of any entry: it is not its
  // own insert's victim.
  Entry* newest_ = nullptr;
};

}  // namespace mcache_internal
}  // namespace ucache

#endif  // UCACHE_SRC_MCACHE_LFU_POLICY_H_
