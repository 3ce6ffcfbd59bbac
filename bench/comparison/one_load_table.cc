#include "bench/comparison/one_load_table.h"

#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <new>

namespace ucache::bench {
namespace {

// A slot: the key, a u32 that is 1 once the slot is used, the value's
// length (u32), then the value.
constexpr uint64_t kKeyBytes = Keys::kKeyBytes;
constexpr uint64_t kUsedAt = kKeyBytes;
constexpr uint64_t kLengthAt = kUsedAt + 4;
constexpr uint64_t kValueAt = kLengthAt + 4;
// Two cache lines, the pair the adjacent-line prefetcher fetches together.
constexpr uint64_t kSlotAlign = 128;

}  // namespace

OneLoadTable::OneLoadTable(const Keys& keys, const Values& values)
    : slot_bytes_((kValueAt + values.value_bytes() + kSlotAlign - 1) /
                  kSlotAlign * kSlotAlign),
      mask_(std::bit_ceil(std::max<uint64_t>(2 * keys.size(), 2)) - 1) {
  const uint64_t bytes = (mask_ + 1) * slot_bytes_;
  slots_.reset(static_cast<uint8_t*>(std::aligned_alloc(4096, bytes)));
  if (slots_ == nullptr) throw std::bad_alloc();
  std::memset(slots_.get(), 0, bytes);
  for (uint64_t i = 0; i < keys.size(); ++i) {
    const std::string_view key = keys[i], value = values[i];
    uint8_t* slot = SlotOf(key);
    const uint32_t used = 1, length = static_cast<uint32_t>(value.size());
    std::memcpy(slot, key.data(), kKeyBytes);
    std::memcpy(slot + kUsedAt, &used, 4);
    std::memcpy(slot + kLengthAt, &length, 4);
    std::memcpy(slot + kValueAt, value.data(), value.size());
  }
}

uint8_t* OneLoadTable::SlotOf(std::string_view key) const {
  for (uint64_t i = XXH3_64bits(key.data(), key.size());; ++i) {
    uint8_t* slot = slots_.get() + (i & mask_) * slot_bytes_;
    uint32_t used;
    std::memcpy(&used, slot + kUsedAt, 4);
    if (used == 0 || std::memcmp(slot, key.data(), kKeyBytes) == 0) {
      return slot;
    }
  }
}

Status OneLoadTable::Get(std::string_view key, std::string* value) {
  if (key.size() != kKeyBytes) return Status::NotFound();
  const uint8_t* slot = SlotOf(key);
  uint32_t used, length;
  std::memcpy(&used, slot + kUsedAt, 4);
  if (used == 0) return Status::NotFound();
  std::memcpy(&length, slot + kLengthAt, 4);
  value->assign(reinterpret_cast<const char*>(slot + kValueAt), length);
  return Status::OK();
}

}  // namespace ucache::bench
