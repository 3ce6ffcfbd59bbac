// Entry: one key-value pair of a memory-cache shard, and EntryList, the
// intrusive doubly linked list the eviction policies thread entries on.
//
// A shard owns its entries; a policy only links and orders them. The links
// and the policy_* fields belong to the shard's policy alone, so that every
// policy can order entries without allocating per entry.
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

struct Entry {
  // Set by the shard.
  EntryKey key;
  std::shared_ptr<const std::string> value;
  uint64_t hash = 0;       // XXH3-64 of key
  int64_t expires_at = 0;  // clock milliseconds; 0 = never
  size_t charge = 0;       // weight: key + value + kEntryOverheadBytes
  MemoryStamp stamp;       // the caller's, kept beside the value

  // Owned by the policy.
  Entry* prev = nullptr;
  Entry* next = nullptr;
  void* policy_group = nullptr;  // e.g. LFU's frequency bucket
  uint32_t policy_count = 0;     // e.g. LFU's use count
  uint8_t policy_queue = 0;      // e.g. W-TinyLFU's segment
};

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

 private:
  Entry* head_ = nullptr;
  Entry* tail_ = nullptr;
  size_t size_ = 0;
};

}  // namespace mcache_internal
}  // namespace ucache

#endif  // UCACHE_SRC_MCACHE_ENTRY_H_
