#include "bench/comparison/limit_table.h"

#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <new>

#include "src/common/checksum.h"
#include "src/fcache/format.h"
#include "src/fcache/record.h"

namespace ucache::bench {
namespace {

namespace fi = fcache_internal;

constexpr uint64_t kKeyBytes = Keys::kKeyBytes;

// A kOneLoad slot: the key, the value's length plus one (0: an empty slot),
// the checksum, then the value.
constexpr uint64_t kLengthAt = kKeyBytes;
constexpr uint64_t kChecksumAt = kLengthAt + 4;
constexpr uint64_t kValueAt = kChecksumAt + 8;
// Two cache lines, the pair the adjacent-line prefetcher fetches together.
constexpr uint64_t kSlotAlign = 128;

// The kOneLoad checksum, in fcache's two steps: key and length as the seed,
// then the value.
uint64_t SlotChecksum(const uint8_t* slot, std::string_view value) {
  return Checksum64(value.data(), value.size(), XXH3_64bits(slot, kChecksumAt));
}

uint64_t KeyTag(std::string_view key) {
  return fi::TagOf(XXH3_64bits(key.data(), key.size()));
}

}  // namespace

std::unique_ptr<uint8_t[], LimitTable::FreeBytes> LimitTable::Allocate(
    uint64_t bytes) {
  std::unique_ptr<uint8_t[], FreeBytes> p(static_cast<uint8_t*>(
      std::aligned_alloc(4096, fi::AlignUp(bytes, 4096))));
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
    slot_bytes_ = fi::AlignUp(kValueAt + values.value_bytes(), kSlotAlign);
    slots_ = Allocate(slots * slot_bytes_);
  } else {
    slots_ = Allocate(slots * sizeof(fi::Slot));
    log_.reserve(fi::kLogHeaderSize +
                 keys.size() *
                     fi::RecordSize(kKeyBytes, static_cast<uint32_t>(
                                                   values.value_bytes())));
    log_.resize(fi::kLogHeaderSize, '\0');
  }
  for (uint64_t i = 0; i < keys.size(); ++i) {
    if (layout_ == Layout::kOneLoad) {
      PutOneLoad(keys[i], values[i]);
    } else {
      PutTwoLoads(keys[i], values[i]);
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
  const uint64_t checksum = SlotChecksum(slot, value);
  std::memcpy(slot + kChecksumAt, &checksum, 8);
}

void LimitTable::PutTwoLoads(std::string_view key, std::string_view value) {
  FileCacheOptions raw;
  raw.compression = Compression::kNone;
  fi::EncodedRecord record;
  fi::EncodeRecord(fi::kRecordPut, key, value, 0, raw, &record);
  const uint64_t loc = log_.size();
  fi::AppendFlat(record, &log_);
  const uint64_t tag = KeyTag(key);
  auto* slots = reinterpret_cast<fi::Slot*>(slots_.get());
  for (uint64_t s = tag;; ++s) {
    fi::Slot& slot = slots[s & mask_];
    if (slot.tag == fi::kEmptyTag) {
      slot = fi::Slot{tag, loc};
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
    if (SlotChecksum(slot, *value) != checksum) {
      return Status::Corruption("checksum");
    }
  }
  return Status::OK();
}

Status LimitTable::GetTwoLoads(std::string_view key, std::string* value) const {
  const uint64_t tag = KeyTag(key);
  const auto* slots = reinterpret_cast<const fi::Slot*>(slots_.get());
  for (uint64_t s = tag;; ++s) {
    const fi::Slot& slot = slots[s & mask_];
    if (slot.tag == fi::kEmptyTag) return Status::NotFound();
    if (slot.tag != tag) continue;
    const char* at = log_.data() + slot.loc;
    fi::RecordView record;
    record.header = reinterpret_cast<const fi::RecordHeader*>(at);
    record.key =
        std::string_view(at + sizeof(fi::RecordHeader), record.header->key_len);
    if (record.key != key) continue;
    record.stored =
        std::string_view(at + fi::ValueOffset(record.header->key_len),
                         record.header->stored_len);
    if (!verify_) {
      value->assign(record.stored);
    } else if (!fi::ReadValue(record, value)) {
      return Status::Corruption("checksum");
    }
    return Status::OK();
  }
}

}  // namespace ucache::bench
