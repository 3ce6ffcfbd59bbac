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
#include <new>
#include <string>
#include <string_view>

#include "ucache/memory_cache.h"

namespace ucache {
namespace mcache_internal {

// An entry's key, kept inside the entry when it is short. A std::string key
// (32 bytes, 15 of them inline) cost every hit of a 16-byte key a cache miss
// of its own, on its heap block, just to compare it. This one is 20 bytes:
// 16 inline, or a pointer to a heap block for a longer key, and the size.
class EntryKey {
 public:
  static constexpr size_t kInlineBytes = 16;
  // The longest key an entry holds (MemoryCache::Put refuses longer).
  static constexpr size_t kMaxBytes = UINT32_MAX;

  EntryKey() = default;
  ~EntryKey() {
    if (OnHeap()) delete[] HeapBlock();
  }
  EntryKey(const EntryKey&) = delete;
  EntryKey& operator=(const EntryKey&) = delete;
  // Takes `other`'s key, leaving it empty.
  EntryKey(EntryKey&& other) noexcept : size_(other.size_) {
    std::memcpy(bytes_, other.bytes_, sizeof(bytes_));
    other.size_ = 0;
  }
  EntryKey& operator=(EntryKey&&) = delete;

  // `key` is at most kMaxBytes long.
  EntryKey& operator=(std::string_view key) {
    if (OnHeap()) delete[] HeapBlock();
    size_ = 0;
    if (key.size() > kInlineBytes) {
      char* block = new char[key.size()];
      std::memcpy(block, key.data(), key.size());
      std::memcpy(bytes_, &block, sizeof(block));
    } else if (!key.empty()) {
      std::memcpy(bytes_, key.data(), key.size());
    }
    size_ = static_cast<uint32_t>(key.size());
    return *this;
  }

  const char* data() const { return OnHeap() ? HeapBlock() : bytes_; }
  size_t size() const { return size_; }
  operator std::string_view() const { return {data(), size_}; }

 private:
  bool OnHeap() const { return size_ > kInlineBytes; }
  char* HeapBlock() const {
    char* block;
    std::memcpy(&block, bytes_, sizeof(block));
    return block;
  }

  char bytes_[kInlineBytes] = {};  // the key, or a pointer to its block
  uint32_t size_ = 0;
};
static_assert(sizeof(EntryKey) == 20, "see the layout of Entry");

// Two cache lines, laid out by when a field is read. A hit reads the first
// alone when its key has at most 16 bytes and its value at most 32: the key,
// the expiry, and the value's bytes kept inline (a larger value is a shared
// string, whose holder and bytes are two dependent cache misses more, 36% of
// a hit's samples before it moved here). A policy's list move reads the
// second line. Set by the shard, except the policy's fields; use the methods
// for the value.
class alignas(64) Entry {
 public:
  static constexpr size_t kSmallValueBytes = 32;

  Entry() = default;
  ~Entry() {
    if (small_size == kShared) SharedRef().~shared_ptr();
  }
  Entry(const Entry&) = delete;
  Entry& operator=(const Entry&) = delete;
  // For the table, which moves entries between its slots.
  Entry(Entry&& other) noexcept
      : key(std::move(other.key)),
        small_size(other.small_size),
        policy_queue(other.policy_queue),
        expires_at(other.expires_at),
        hash(other.hash),
        stamp(other.stamp),
        charge(other.charge),
        prev(other.prev),
        next(other.next),
        policy_group(other.policy_group),
        policy_count(other.policy_count) {
    if (small_size == kShared) {
      new (value_)
          std::shared_ptr<const std::string>(std::move(other.SharedRef()));
    } else {
      std::memcpy(value_, other.value_, small_size);
    }
  }
  Entry& operator=(Entry&&) = delete;

  // The value's bytes, valid until the value changes.
  std::string_view bytes() const {
    return small_size == kShared ? std::string_view(*SharedRef())
                                 : std::string_view(value_, small_size);
  }
  // Sets the value to `bytes`, inline when it has at most kSmallValueBytes;
  // a larger one must come as `large`, a shared string of the same bytes
  // (made by the caller, before the shard's lock). Returns the shared
  // string it replaced, if any, for the caller to free after the lock.
  std::shared_ptr<const std::string> SetValue(
      std::string_view bytes, std::shared_ptr<const std::string> large) {
    std::shared_ptr<const std::string> old = TakeShared();
    if (bytes.size() <= kSmallValueBytes) {
      small_size = static_cast<uint8_t>(bytes.size());
      if (!bytes.empty()) std::memcpy(value_, bytes.data(), bytes.size());
    } else {
      new (value_) std::shared_ptr<const std::string>(std::move(large));
      small_size = kShared;
    }
    return old;
  }
  // The value as a shared, immutable string. A small value becomes one
  // here (it is no longer inline then), so that readers who share it see
  // one string until the value changes (MemoryCache::Restamp's identity).
  const std::shared_ptr<const std::string>& Shared() {
    if (small_size != kShared) {
      auto shared = std::make_shared<const std::string>(value_, small_size);
      new (value_) std::shared_ptr<const std::string>(std::move(shared));
      small_size = kShared;
    }
    return SharedRef();
  }
  // The shared string readers were given, or null if none was.
  const std::string* shared_value() const {
    return small_size == kShared ? SharedRef().get() : nullptr;
  }

  // First line.
  EntryKey key;
  uint8_t small_size = 0;    // the inline value's size, or kShared
  uint8_t policy_queue = 0;  // the policy's: e.g. W-TinyLFU's segment
  int64_t expires_at = 0;    // clock milliseconds; 0 = never

 private:
  // The inline value, or a std::shared_ptr<const std::string>. Declared
  // here, between the public fields, for the first line's layout.
  alignas(std::shared_ptr<const std::string>) char value_[kSmallValueBytes];

 public:
  // Second line.
  uint64_t hash = 0;  // XXH3-64 of key
  MemoryStamp stamp;  // the caller's, kept beside the value
  size_t charge = 0;  // weight: key + value + kEntryOverheadBytes
  // The policy's.
  Entry* prev = nullptr;
  Entry* next = nullptr;
  void* policy_group = nullptr;  // e.g. LFU's frequency bucket
  uint32_t policy_count = 0;     // e.g. LFU's use count

 private:
  static constexpr uint8_t kShared = 0xff;

  std::shared_ptr<const std::string>& SharedRef() {
    return *std::launder(
        reinterpret_cast<std::shared_ptr<const std::string>*>(value_));
  }
  const std::shared_ptr<const std::string>& SharedRef() const {
    return *std::launder(
        reinterpret_cast<const std::shared_ptr<const std::string>*>(value_));
  }
  // Leaves the value empty and inline; returns its shared string, if any.
  std::shared_ptr<const std::string> TakeShared() {
    if (small_size != kShared) return nullptr;
    std::shared_ptr<const std::string> taken = std::move(SharedRef());
    SharedRef().~shared_ptr();
    small_size = 0;
    return taken;
  }
};
static_assert(sizeof(Entry) == 128, "an entry is two cache lines");
static_assert(sizeof(std::shared_ptr<const std::string>) <=
                  Entry::kSmallValueBytes,
              "a shared value fits the inline value's room");

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
