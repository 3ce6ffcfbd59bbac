#include "src/mcache/entry_table.h"

#include <new>
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

// Raw storage for `capacity` entries, none constructed.
Entry* AllocateSlots(size_t capacity) {
  return static_cast<Entry*>(::operator new (capacity * sizeof(Entry),
                                             std::align_val_t{alignof(Entry)}));
}

}  // namespace

void EntryTable::FreeSlots::operator()(Entry* slots) const {
  ::operator delete (slots, std::align_val_t{alignof(Entry)});
}

EntryTable::~EntryTable() {
  for (size_t i = 0; i < control_.size(); ++i) {
    if (control_[i] != kEmpty) slots_[i].~Entry();
  }
}

Entry* EntryTable::Find(std::string_view key, uint64_t hash) const {
  if (size_ == 0) return nullptr;
  const uint8_t tag = TagOf(hash);
  const size_t mask = control_.size() - 1;
  for (size_t i = HomeOf(hash);; i = (i + 1) & mask) {
    const uint8_t c = control_[i];
    if (c == kEmpty) return nullptr;
    if (c == tag) {
      // The key alone decides: it is on the entry's first line, the hash
      // on its second (entry.h).
      Entry* e = &slots_[i];
      if (e->key == key) return e;
    }
  }
}

Entry* EntryTable::Insert(std::string_view key, uint64_t hash) {
  if (size_ + 1 > control_.size() / 4 * 3) Rehash(CapacityFor(size_ + 1));
  const size_t mask = control_.size() - 1;
  size_t i = HomeOf(hash);
  while (control_[i] != kEmpty) i = (i + 1) & mask;
  Entry* e = new (&slots_[i]) Entry();
  e->hash = hash;
  e->key = key;
  control_[i] = TagOf(hash);
  ++size_;
  return e;
}

void EntryTable::MoveEntry(Entry* from, Entry* to) {
  new (to) Entry(std::move(*from));
  from->~Entry();
  if (policy_ != nullptr) policy_->RecordMove(from, to);
}

void EntryTable::Remove(Entry* e) {
  const size_t mask = control_.size() - 1;
  size_t hole = static_cast<size_t>(e - slots_.get());
  e->~Entry();
  control_[hole] = kEmpty;
  --size_;
  // Backward shift: pull each later entry of the run into the hole unless
  // its home lies cyclically after the hole (then it must stay where a probe
  // from its home finds it).
  for (size_t i = (hole + 1) & mask; control_[i] != kEmpty;
       i = (i + 1) & mask) {
    const size_t home = HomeOf(slots_[i].hash);
    const size_t from_home = (i - home) & mask;
    const size_t from_hole = (i - hole) & mask;
    if (from_home >= from_hole) {
      MoveEntry(&slots_[i], &slots_[hole]);
      control_[hole] = control_[i];
      control_[i] = kEmpty;
      hole = i;
    }
  }
}

void EntryTable::Reserve(size_t n) {
  const size_t capacity = CapacityFor(n);
  if (capacity > control_.size()) Rehash(capacity);
}

void EntryTable::Swap(EntryTable& other) {
  control_.swap(other.control_);
  slots_.swap(other.slots_);
  std::swap(size_, other.size_);
}

void EntryTable::Rehash(size_t capacity) {
  // Both allocations before either swap: if one throws, the table is as
  // it was (with the slots swapped in first, control bytes of the old size
  // would index the new slots, or the reverse).
  std::unique_ptr<Entry[], FreeSlots> old_slots(AllocateSlots(capacity));
  std::vector<uint8_t> old_control(capacity, kEmpty);
  old_control.swap(control_);
  old_slots.swap(slots_);
  // Every entry moves. Its neighbours' links may still name their old
  // slots until they move in turn; a move copies the links it was given,
  // and the policy points the neighbours at the new slot, wherever they are.
  const size_t mask = capacity - 1;
  for (size_t j = 0; j < old_control.size(); ++j) {
    if (old_control[j] == kEmpty) continue;
    Entry* from = &old_slots[j];
    size_t i = HomeOf(from->hash);
    while (control_[i] != kEmpty) i = (i + 1) & mask;
    MoveEntry(from, &slots_[i]);
    control_[i] = old_control[j];
  }
}

}  // namespace mcache_internal
}  // namespace ucache
