// EntryTable: a shard's index from key to Entry, an open-addressing hash
// table with linear probing.
//
// Why not std::unordered_map: a lookup there chases a bucket, then a node,
// then the entry, each a dependent cache miss (41% of a hit's samples at
// 100,000 entries, BENCHMARKS.md, issue 12). Here a slot holds the key's
// 64-bit hash beside the entry pointer, so a lookup reads one slot line and
// then only the entry whose hash matches.
//
// Deletion shifts the following slots of the probe run back instead of
// leaving tombstones: a full cache removes an entry on nearly every insert,
// and tombstones would lengthen every probe until the next rehash. The
// table grows (doubling) when more than 3/4 of the slots would be in use.
//
// The table owns its entries. Thread safety: none; guarded by the shard.

#ifndef UCACHE_SRC_MCACHE_ENTRY_TABLE_H_
#define UCACHE_SRC_MCACHE_ENTRY_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "src/mcache/entry.h"

namespace ucache {
namespace mcache_internal {

class EntryTable {
 public:
  EntryTable() = default;
  ~EntryTable();
  EntryTable(const EntryTable&) = delete;
  EntryTable& operator=(const EntryTable&) = delete;

  size_t size() const { return size_; }
  // Slots allocated (a power of two, or 0 before the first insert).
  size_t capacity() const { return slots_.size(); }

  // The entry with `key` (whose hash is `hash`), or null.
  Entry* Find(std::string_view key, uint64_t hash) const;

  // Adds `e`, keyed by e->key and e->hash; the key must not be present.
  void Insert(std::unique_ptr<Entry> e);

  // Takes `e`, which must be in the table, out of it.
  std::unique_ptr<Entry> Remove(Entry* e);

  // Makes room for `n` entries without growing.
  void Reserve(size_t n);

  // Every entry, in slot order. The table must not change meanwhile.
  template <typename F>
  void ForEach(F&& f) const {
    for (const Slot& s : slots_) {
      if (s.entry != nullptr) f(s.entry);
    }
  }

  // Exchanges the contents of two tables.
  void Swap(EntryTable& other);

 private:
  struct Slot {
    uint64_t hash = 0;
    Entry* entry = nullptr;  // null: empty
  };

  size_t HomeOf(uint64_t hash) const {
    return static_cast<size_t>(hash) & (slots_.size() - 1);
  }
  // Rebuilds the table with `capacity` slots (a power of two).
  void Rehash(size_t capacity);

  std::vector<Slot> slots_;
  size_t size_ = 0;
};

}  // namespace mcache_internal
}  // namespace ucache

#endif  // UCACHE_SRC_MCACHE_ENTRY_TABLE_H_
