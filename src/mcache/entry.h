// Entry: one key-value pair of a memory-cache shard, and EntryList, the
// intrusive doubly linked list the eviction policies thread entries on.
//
// A shard's entries live in the slots of its EntryTable, which moves them
// when it deletes or grows; a policy only links and orders them, and is told
// of every move (Policy::RecordMove). The links and the policy_* fields
// belong to the shard's policy alone, so that every policy can order entries
// without allocating per entry.
//
// Thread safety: none. Entries and lists are guarded by their shard's mutex.

#ifndef UCACHE_SRC_MCACHE_ENTRY_H_
#define UCACHE_SRC_MCACHE_ENTRY_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "ucache/memory_cache.h"

namespace ucache {
namespace mcache_internal {

// An entry's key, kept inside the entry when it is short. A memoization key
// is 16 bytes, one more than std::string keeps inline, so a std::string key
// cost every hit a cache miss of its own (the key's heap block) just to
// compare it.
class EntryKey {
 public:
  EntryKey() = default;
  EntryKey(const EntryKey&) = delete;
  EntryKey& operator=(const EntryKey&) = delete;
  EntryKey(EntryKey&&) = default;
  EntryKey& operator=(EntryKey&&) = default;

  EntryKey& operator=(std::string_view key) {
    heap_.reset();
    size_ = key.size();
    char* to = inline_;
    if (size_ > kInlineBytes) {
      heap_ = std::make_unique<char[]>(size_);
      to = heap_.get();
    }
    if (size_ != 0) std::memcpy(to, key.data(), size_);
    return *this;
  }

  const char* data() const {
    return size_ > kInlineBytes ? heap_.get() : inline_;
  }
  size_t size() const { return size_; }
  operator std::string_view() const { return {data(), size_}; }

 private:
  // As large as keeps an EntryKey at std::string's 32 bytes.
  static constexpr size_t kInlineBytes = 16;

  std::unique_ptr<char[]> heap_;
  size_t size_ = 0;
  char inline_[kInlineBytes] = {};
};

// Two cache lines, laid out by when a field is read: a hit reads the first
// (the key, its expiry and the value), a policy's list move the second.
struct alignas(64) Entry {
  // Set by the shard.
  uint64_t hash = 0;  // XXH3-64 of key
  EntryKey key;
  int64_t expires_at = 0;  // clock milliseconds; 0 = never
  std::shared_ptr<const std::string> value;
  MemoryStamp stamp;  // the caller's, kept beside the value
  size_t charge = 0;  // weight: key + value + kEntryOverheadBytes

  // Owned by the policy.
  Entry* prev = nullptr;
  Entry* next = nullptr;
  void* policy_group = nullptr;  // e.g. LFU's frequency bucket
  uint32_t policy_count = 0;     // e.g. LFU's use count
  uint8_t policy_queue = 0;      // e.g. W-TinyLFU's segment
};
static_assert(sizeof(Entry) == 128, "an entry is two cache lines");

// A doubly linked list of entries through Entry::prev/next. front() is the
// oldest end, back() the newest. An entry is in at most one list at a time.
class EntryList {
 public:
  EntryList() = default;
  EntryList(const EntryList&) = delete;
  EntryList& operator=(const EntryList&) = delete;

  bool empty() const { return head_ == nullptr; }
  size_t size() const { return size_; }
  Entry* front() const { return head_; }
  Entry* back() const { return tail_; }

  void PushBack(Entry* e) {
    e->prev = tail_;
    e->next = nullptr;
    if (tail_ != nullptr) {
      tail_->next = e;
    } else {
      head_ = e;
    }
    tail_ = e;
    ++size_;
  }

  void Remove(Entry* e) {
    if (e->prev != nullptr) {
      e->prev->next = e->next;
    } else {
      head_ = e->next;
    }
    if (e->next != nullptr) {
      e->next->prev = e->prev;
    } else {
      tail_ = e->prev;
    }
    e->prev = e->next = nullptr;
    --size_;
  }

  void MoveToBack(Entry* e) {
    if (e == tail_) return;
    Remove(e);
    PushBack(e);
  }

  // The entry now at `to`, which is in this list, was at `from` (its links
  // moved with it): points its neighbours, or the list's ends, at `to`.
  void Moved(const Entry* from, Entry* to) {
    if (to->prev != nullptr) {
      to->prev->next = to;
    } else if (head_ == from) {
      head_ = to;
    }
    if (to->next != nullptr) {
      to->next->prev = to;
    } else if (tail_ == from) {
      tail_ = to;
    }
  }

 private:
  Entry* head_ = nullptr;
  Entry* tail_ = nullptr;
  size_t size_ = 0;
};

}  // namespace mcache_internal
}  // namespace ucache

#endif  // UCACHE_SRC_MCACHE_ENTRY_H_
