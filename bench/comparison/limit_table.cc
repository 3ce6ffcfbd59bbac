#include "bench/comparison/limit_table.h"

#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <new>

namespace ucache::bench {
namespace {

constexpr uint64_t kKeyBytes = Keys::kKeyBytes;

// A kOneLoad slot: the key, the value's length plus one (0: an empty slot),
// the checksum, then the value.
constexpr uint64_t kLengthAt = kKeyBytes;
constexpr uint64_t kChecksumAt = kLengthAt + 4;
constexpr uint64_t kValueAt = kChecksumAt + 8;
// Two cache lines, the pair the adjacent-line prefetcher fetches together.
constexpr uint64_t kSlotAlign = 128;

// A kTwoLoads slot, as in fcache's index; a tag is never 0 (empty).
struct TagSlot {
  uint64_t tag;
  uint64_t loc;
};
// A kTwoLoads record: fcache's header (doc/format.md, section 4), then the
// key and the value, each padded to 16 bytes.
struct RecordHeader {
  uint64_t checksum;
  uint32_t key_len;
  uint32_t stored_len;
  uint32_t value_len;
  uint8_t kind;
  uint8_t codec;
  uint16_t reserved;
  int64_t expires_ms;
};
static_assert(sizeof(RecordHeader) == 32);
constexpr uint64_t kLogHeaderBytes = 64;

uint64_t Align(uint64_t n, uint64_t to) { return (n + to - 1) / to * to; }

uint64_t TagOf(std::string_view key) {
  const uint64_t h = XXH3_64bits(key.data(), key.size());
  return h < 2 ? h + 2 : h;
}

}  // namespace

std::unique_ptr<uint8_t[], LimitTable::FreeBytes> LimitTable::Allocate(
    uint64_t bytes) {
  std::unique_ptr<uint8_t[], FreeBytes> p(
      static_cast<uint8_t*>(std::aligned_alloc(4096, Align(bytes, 4096))));
  if (p == nullptr) throw std::bad_alloc();
  std::memset(p.get(), 0, bytes);
  return p;
}

LimitTable::LimitTable(const Keys& keys, const Values& values, Layout layout,
                       bool verify)
    : layout_(layout),
      verify_(verify),
      mask_(std::bit_ceil(std::max<uint64_t>(2 * keys.size(), 2)) - 1) {
  const uint64_t slots = mask_ + 1;
  if (layout_ == Layout::kOneLoad) {
    slot_bytes_ = Align(kValueAt + values.value_bytes(), kSlotAlign);
    slots_ = Allocate(slots * slot_bytes_);
  } else {
    record_bytes_ = Align(sizeof(RecordHeader) + kKeyBytes, 16) +
                    Align(values.value_bytes(), 16);
    slots_ = Allocate(slots * sizeof(TagSlot));
    log_ = Allocate(kLogHeaderBytes + keys.size() * record_bytes_);
  }
  for (uint64_t i = 0; i < keys.size(); ++i) {
    if (layout_ == Layout::kOneLoad) {
      PutOneLoad(keys[i], values[i]);
    } else {
      PutTwoLoads(i, keys[i], values[i]);
    }
  }
}

uint8_t* LimitTable::OneLoadSlot(std::string_view key) const {
  for (uint64_t i = XXH3_64bits(key.data(), key.size());; ++i) {
    uint8_t* slot = slots_.get() + (i & mask_) * slot_bytes_;
    uint32_t length;
    std::memcpy(&length, slot + kLengthAt, 4);
    if (length == 0 || std::memcmp(slot, key.data(), kKeyBytes) == 0) {
      return slot;
    }
  }
}

void LimitTable::PutOneLoad(std::string_view key, std::string_view value) {
  uint8_t* slot = OneLoadSlot(key);
  const uint32_t length = static_cast<uint32_t>(value.size()) + 1;
  std::memcpy(slot, key.data(), kKeyBytes);
  std::memcpy(slot + kLengthAt, &length, 4);
  std::memcpy(slot + kValueAt, value.data(), value.size());
  const uint64_t checksum = XXH3_64bits_withSeed(
      value.data(), value.size(), XXH3_64bits(slot, kChecksumAt));
  std::memcpy(slot + kChecksumAt, &checksum, 8);
}

void LimitTable::PutTwoLoads(uint64_t i, std::string_view key,
                             std::string_view value) {
  const uint64_t loc = kLogHeaderBytes + i * record_bytes_;
  uint8_t* record = log_.get() + loc;
  RecordHeader h{};
  h.key_len = static_cast<uint32_t>(key.size());
  h.stored_len = h.value_len = static_cast<uint32_t>(value.size());
  h.kind = 1;
  std::memcpy(record, &h, sizeof(h));
  std::memcpy(record + sizeof(h), key.data(), key.size());
  const uint64_t value_at = Align(sizeof(h) + key.size(), 16);
  std::memcpy(record + value_at, value.data(), value.size());
  h.checksum =
      XXH3_64bits_withSeed(value.data(), value.size(),
                           XXH3_64bits(record + 8, sizeof(h) - 8 + key.size()));
  std::memcpy(record, &h.checksum, 8);
  const uint64_t tag = TagOf(key);
  auto* slots = reinterpret_cast<TagSlot*>(slots_.get());
  for (uint64_t s = tag;; ++s) {
    TagSlot& slot = slots[s & mask_];
    if (slot.tag == 0) {
      slot = TagSlot{tag, loc};
      return;
    }
  }
}

Status LimitTable::Get(std::string_view key, std::string* value) {
  if (key.size() != kKeyBytes) return Status::NotFound();
  return layout_ == Layout::kOneLoad ? GetOneLoad(key, value)
                                     : GetTwoLoads(key, value);
}

Status LimitTable::GetOneLoad(std::string_view key, std::string* value) const {
  const uint8_t* slot = OneLoadSlot(key);
  uint32_t length;
  std::memcpy(&length, slot + kLengthAt, 4);
  if (length == 0) return Status::NotFound();
  value->assign(reinterpret_cast<const char*>(slot + kValueAt), length - 1);
  if (verify_) {
    uint64_t checksum;
    std::memcpy(&checksum, slot + kChecksumAt, 8);
    if (XXH3_64bits_withSeed(value->data(), value->size(),
                             XXH3_64bits(slot, kChecksumAt)) != checksum) {
      return Status::Corruption("checksum");
    }
  }
  return Status::OK();
}

Status LimitTable::GetTwoLoads(std::string_view key, std::string* value) const {
  const uint64_t tag = TagOf(key);
  const auto* slots = reinterpret_cast<const TagSlot*>(slots_.get());
  for (uint64_t s = tag;; ++s) {
    const TagSlot& slot = slots[s & mask_];
    if (slot.tag == 0) return Status::NotFound();
    if (slot.tag != tag) continue;
    const uint8_t* record = log_.get() + slot.loc;
    RecordHeader h;
    std::memcpy(&h, record, sizeof(h));
    if (h.key_len != key.size() ||
        std::memcmp(record + sizeof(h), key.data(), key.size()) != 0) {
      continue;
    }
    value->assign(reinterpret_cast<const char*>(record) +
                      Align(sizeof(h) + h.key_len, 16),
                  h.stored_len);
    if (verify_ &&
        XXH3_64bits_withSeed(
            value->data(), value->size(),
            XXH3_64bits(record + 8, sizeof(h) - 8 + h.key_len)) != h.checksum) {
      return Status::Corruption("checksum");
    }
    return Status::OK();
  }
}

}  // namespace ucache::bench
