// EntryTable: a shard's index from key to Entry, an open-addressing hash
// table with linear probing that keeps the entries themselves in its slots.
//
// Why the entries live in the slots: a hit used to read a slot (the key's
// hash and a pointer), then the entry the pointer named, two dependent
// cache misses; the slot's was 28% of a hit's samples at 100,000 entries
// (BENCHMARKS.md, issue 12). Here a lookup reads a control byte per probed
// slot (a tag of the hash, in an array of one byte a slot that stays in the
// CPU's caches) and then only the key of an entry whose tag matches, on
// the entry's first line: one miss into memory. The entries are two cache
// lines each (entry.h); the full hash, on the second, is read only to move
// an entry.
//
// The price is that entries move: deletion shifts the following entries of
// the probe run back instead of leaving tombstones (a full cache removes an
// entry on nearly every insert, and tombstones would lengthen every probe
// until the next rehash), and growth (doubling, when more than 3/4 of the
// slots would be in use) moves every entry. The table tells the policy it
// was given of each move (Policy::RecordMove), so that links follow. A
// pointer to an entry is therefore valid only until the table next changes.
//
// Thread safety: none; guarded by the shard.

#ifndef UCACHE_SRC_MCACHE_ENTRY_TABLE_H_
#define UCACHE_SRC_MCACHE_ENTRY_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "src/mcache/entry.h"
#include "src/mcache/policy.h"

namespace ucache {
namespace mcache_internal {

class EntryTable {
 public:
  // `policy` (null: none) is told of every entry the table moves; it must
  // outlive the table.
  explicit EntryTable(Policy* policy = nullptr) : policy_(policy) {}
  ~EntryTable();
  EntryTable(const EntryTable&) = delete;
  EntryTable& operator=(const EntryTable&) = delete;

  size_t size() const { return size_; }
  // Slots allocated (a power of two, or 0 before the first insert).
  size_t capacity() const { return control_.size(); }

  // The entry with `key` (whose hash is `hash`), or null.
  Entry* Find(std::string_view key, uint64_t hash) const;

  // Adds an entry keyed `key` with hash `hash`, which must not be present,
  // and returns it with every other field at its default. May move other
  // entries (growth).
  Entry* Insert(std::string_view key, uint64_t hash);

  // Destroys `e`, which must be in the table. May move other entries.
  void Remove(Entry* e);

  // Makes room for `n` entries without growing. May move entries.
  void Reserve(size_t n);

  // Every entry, in slot order. The table must not change meanwhile.
  template <typename F>
  void ForEach(F&& f) const {
    for (size_t i = 0; i < control_.size(); ++i) {
      if (control_[i] != kEmpty) f(&slots_[i]);
    }
  }

  // Exchanges the entries of two tables (each keeps its policy).
  void Swap(EntryTable& other);

 private:
  static constexpr uint8_t kEmpty = 0;

  struct FreeSlots {
    void operator()(Entry* slots) const;
  };

  // A slot's control byte when it holds an entry of `hash`: never kEmpty.
  // From the bits the home slot does not use (the top seven).
  static uint8_t TagOf(uint64_t hash) {
    return static_cast<uint8_t>(0x80 | (hash >> 57));
  }
  size_t HomeOf(uint64_t hash) const {
    return static_cast<size_t>(hash) & (control_.size() - 1);
  }
  // Moves the entry in slot `from` to the empty slot `to` of `slots`,
  // whose control byte the caller sets, and tells the policy.
  void MoveEntry(Entry* from, Entry* to);
  // Rebuilds the table with `capacity` slots (a power of two).
  void Rehash(size_t capacity);

  Policy* const policy_;
  std::vector<uint8_t> control_;  // kEmpty, or TagOf the slot's hash
  std::unique_ptr<Entry[], FreeSlots> slots_;  // constructed where occupied
  size_t size_ = 0;
};

}  // namespace mcache_internal
}  // namespace ucache

#endif  // UCACHE_SRC_MCACHE_ENTRY_TABLE_H_
