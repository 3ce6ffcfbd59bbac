#include "src/mcache/entry_table.h"

#include <utility>

namespace ucache {
namespace mcache_internal {

namespace {

constexpr size_t kMinCapacity = 16;

// The slots needed for `n` entries at a load of at most 3/4.
size_t CapacityFor(size_t n) {
  size_t capacity = kMinCapacity;
  while (capacity / 4 * 3 < n) capacity *= 2;
  return capacity;
}

}  // namespace

EntryTable::~EntryTable() {
  for (Slot& s : slots_) delete s.entry;
}

Entry* EntryTable::Find(std::string_view key, uint64_t hash) const {
  if (size_ == 0) return nullptr;
  const size_t mask = slots_.size() - 1;
  for (size_t i = HomeOf(hash);; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.entry == nullptr) return nullptr;
    if (s.hash == hash && s.entry->key == key) return s.entry;
  }
}

void EntryTable::Insert(std::unique_ptr<Entry> e) {
  if (size_ + 1 > slots_.size() / 4 * 3) Rehash(CapacityFor(size_ + 1));
  const size_t mask = slots_.size() - 1;
  size_t i = HomeOf(e->hash);
  while (slots_[i].entry != nullptr) i = (i + 1) & mask;
  slots_[i].hash = e->hash;
  slots_[i].entry = e.release();
  ++size_;
}

std::unique_ptr<Entry> EntryTable::Remove(Entry* e) {
  const size_t mask = slots_.size() - 1;
  size_t hole = HomeOf(e->hash);
  while (slots_[hole].entry != e) hole = (hole + 1) & mask;
  slots_[hole] = Slot{};
  --size_;
  // Backward shift: pull each later entry of the run into the hole unless
  // its home lies cyclically after the hole (then it must stay where a probe
  // from its home finds it).
  for (size_t i = (hole + 1) & mask; slots_[i].entry != nullptr;
       i = (i + 1) & mask) {
    const size_t home = HomeOf(slots_[i].hash);
    const size_t from_home = (i - home) & mask;
    const size_t from_hole = (i - hole) & mask;
    if (from_home >= from_hole) {
      slots_[hole] = slots_[i];
      slots_[i] = Slot{};
      hole = i;
    }
  }
  return std::unique_ptr<Entry>(e);
}

void EntryTable::Reserve(size_t n) {
  const size_t capacity = CapacityFor(n);
  if (capacity > slots_.size()) Rehash(capacity);
}

void EntryTable::Swap(EntryTable& other) {
  slots_.swap(other.slots_);
  std::swap(size_, other.size_);
}

void EntryTable::Rehash(size_t capacity) {
  std::vector<Slot> old(capacity);
  old.swap(slots_);
  const size_t mask = capacity - 1;
  for (const Slot& s : old) {
    if (s.entry == nullptr) continue;
    size_t i = HomeOf(s.hash);
    while (slots_[i].entry != nullptr) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

}  // namespace mcache_internal
}  // namespace ucache
