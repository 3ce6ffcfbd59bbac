// VerifiedSet: the records of one generation whose checksums a handle has
// already verified, so that repeated reads of a large value (copies and
// zero-copy views alike) need not hash it again.
//
// Sound because a committed record (one wholly below log_end) is immutable
// for the life of its generation: appends happen only beyond log_end, and
// compaction, recovery and Clear() write new generations instead of
// rewriting old bytes. An offset therefore names one record, with the same
// bytes, for as long as the generation that holds this set is current.
//
// The set is a small direct-mapped table of offsets: lossy (a collision
// forgets the older entry, which only costs one more verification), fixed
// in size, and lock-free, so that readers sharing a handle never serialize
// on it.

#ifndef UCACHE_SRC_FCACHE_VERIFIED_SET_H_
#define UCACHE_SRC_FCACHE_VERIFIED_SET_H_

#include <array>
#include <atomic>
#include <cstdint>

namespace ucache::fcache_internal {

class VerifiedSet {
 public:
  // Records smaller than this are hashed on every read: their checksum
  // costs about as much as a lookup here, and re-checking them keeps
  // damage that appears after a first read detectable.
  static constexpr uint64_t kMinBytes = 4096;

  VerifiedSet() = default;
  VerifiedSet(const VerifiedSet&) = delete;
  VerifiedSet& operator=(const VerifiedSet&) = delete;

  // True when the record at log offset `offset` was verified before.
  bool Contains(uint64_t offset) const;
  // Notes that the record at `offset` passed its checksum.
  void Insert(uint64_t offset);
  // Takes in what `other` holds (of the same log) as of some moment during
  // the call: an offset `other` gains meanwhile may be missed.
  void CopyFrom(const VerifiedSet& other);

 private:
  static constexpr uint64_t kSlots = 4096;  // 32 KiB per generation

  static uint64_t SlotOf(uint64_t offset);

  // 0 marks an empty slot: no record starts at offset 0 (the log header is
  // there).
  std::array<std::atomic<uint64_t>, kSlots> slots_{};
};

}  // namespace ucache::fcache_internal

#endif  // UCACHE_SRC_FCACHE_VERIFIED_SET_H_
