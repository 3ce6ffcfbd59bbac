#include "src/fcache/verified_set.h"

namespace ucache::fcache_internal {

uint64_t VerifiedSet::SlotOf(uint64_t offset) {
  static_assert(kSlots == uint64_t{1} << 12);
  // Offsets are multiples of 16 and large records lie far apart; a
  // multiplicative hash spreads them over the table.
  return (offset * 0x9E3779B97F4A7C15ULL) >> 52;  // top 12 bits: kSlots
}

bool VerifiedSet::Contains(uint64_t offset) const {
  return slots_[SlotOf(offset)].load(std::memory_order_acquire) == offset;
}

void VerifiedSet::Insert(uint64_t offset) {
  slots_[SlotOf(offset)].store(offset, std::memory_order_release);
}

void VerifiedSet::CopyFrom(const VerifiedSet& other) {
  for (uint64_t i = 0; i < kSlots; ++i) {
    const uint64_t offset = other.slots_[i].load(std::memory_order_acquire);
    if (offset != 0) slots_[i].store(offset, std::memory_order_release);
  }
}

}  // namespace ucache::fcache_internal
