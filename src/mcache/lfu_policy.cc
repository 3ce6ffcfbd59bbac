#include "src/mcache/lfu_policy.h"

#include <limits>

namespace ucache {
namespace mcache_internal {

LfuPolicy::~LfuPolicy() {
  // Entries belong to the shard; only the buckets are ours.
  while (head_ != nullptr) {
    Bucket* next = head_->next;
    delete head_;
    head_ = next;
  }
}

LfuPolicy::Bucket* LfuPolicy::BucketAfter(Bucket* after, uint32_t count) {
  Bucket* next = after != nullptr ? after->next : head_;
  if (next != nullptr && next->count == count) return next;
  Bucket* b = new Bucket;
  b->count = count;
  b->prev = after;
  b->next = next;
  if (next != nullptr) next->prev = b;
  if (after != nullptr) {
    after->next = b;
  } else {
    head_ = b;
  }
  return b;
}

void LfuPolicy::DropIfEmpty(Bucket* b) {
  if (!b->entries.empty()) return;
  if (b->prev != nullptr) {
    b->prev->next = b->next;
  } else {
    head_ = b->next;
  }
  if (b->next != nullptr) b->next->prev = b->prev;
  delete b;
}

void LfuPolicy::RecordInsert(Entry* e) {
  newest_ = e;
  Bucket* b = BucketAfter(nullptr, 1);
  e->policy_group = b;
  e->policy_count = 1;
  b->entries.PushBack(e);
}

void LfuPolicy::RecordAccess(Entry* e) {
  newest_ = nullptr;  // an insert's evictions are over
  Bucket* from = static_cast<Bucket*>(e->policy_group);
  if (e->policy_count == std::numeric_limits<uint32_t>::max()) {
    from->entries.MoveToBack(e);  // saturated: a use still refreshes recency
    return;
  }
  Bucket* to = BucketAfter(from, e->policy_count + 1);
  from->entries.Remove(e);
  ++e->policy_count;
  e->policy_group = to;
  to->entries.PushBack(e);
  DropIfEmpty(from);
}

void LfuPolicy::RecordRemove(Entry* e) {
  if (e == newest_) newest_ = nullptr;
  Bucket* b = static_cast<Bucket*>(e->policy_group);
  b->entries.Remove(e);
  e->policy_group = nullptr;
  DropIfEmpty(b);
}

void LfuPolicy::RecordMove(const Entry* from, Entry* to) {
  if (newest_ == from) newest_ = to;
  static_cast<Bucket*>(to->policy_group)->entries.Moved(from, to);
}

Entry* LfuPolicy::ChooseVictim() {
  if (head_ == nullptr) return nullptr;
  Entry* victim = head_->entries.front();
  if (victim != newest_) return victim;
  // The entry being inserted has the lowest count, so it would always lose;
  // classic LFU evicts to make room for it instead. It sits at the back of
  // its bucket, so it is the front only when alone there.
  if (head_->next != nullptr) return head_->next->entries.front();
  return victim;  // it is the only entry
}

}  // namespace mcache_internal
}  // namespace ucache
