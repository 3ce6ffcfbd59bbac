// RecentHits: a memoized function's table of its recent small hits, so that
// a hit of a result already served from the memory tier costs a hash, one
// table probe and one check of the cache's counts (Cache::Recall), with no
// key string, no lock and no policy work. Not part of the API.
//
// Keyed by 16 bytes that identify the call within its function: its
// arguments' encoding when that fits (a hit then hashes nothing), else its
// 128-bit key hash. Direct-mapped by a mix of them: a new hit replaces the
// one in its slot, a lost entry only sends its key back to the cache. Each slot
// is a sequence lock over atomic words, so that readers never block and a
// reader that raced a writer sees a changed sequence and misses. Writers
// that find a slot being written skip it.
//
// Only for results of a trivially copyable type of at most 16 bytes (a
// double, an int, a struct of two): kEnabled is false for any other, and the
// table is then empty.
//
// Thread safety: Find and Remember may be called from many threads at once.

#ifndef UCACHE_INTERNAL_RECENT_HITS_H_
#define UCACHE_INTERNAL_RECENT_HITS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <type_traits>

#include "ucache/cache.h"

namespace ucache::memoize_internal {

// What identifies a call to RecentHits: two words that no other call of
// the same function has.
struct RecentKey {
  uint64_t low = 0;
  uint64_t high = 0;
};

template <class R>
class RecentHits {
 public:
  static constexpr bool kEnabled = std::is_trivially_copyable_v<R> &&
                                   std::is_default_constructible_v<R> &&
                                   sizeof(R) <= 16;
  static constexpr size_t kSlots = 128;
  static_assert(kSlots == 128, "SlotOf takes 7 bits");

  RecentHits() {
    if constexpr (kEnabled) slots_ = std::make_unique<Slot[]>(kSlots);
  }

  // The value remembered for `hash`, when `recall(stamp)` says its stamp
  // still holds (Cache::Recall); else nullopt.
  template <class Recall>
  std::optional<R> Find(RecentKey key, Recall&& recall) const {
    if constexpr (kEnabled) {
      const Slot& slot = slots_[SlotOf(key)];
      // Acquire loads throughout (plain loads on x86): a word a writer
      // stored (with release, after making the sequence odd) makes the
      // sequence's second load see that writer.
      constexpr auto kAcquire = std::memory_order_acquire;
      const uint64_t sequence = slot.sequence.load(kAcquire);
      if (sequence % 2 != 0) return std::nullopt;
      const bool same = slot.low.load(kAcquire) == key.low &&
                        slot.high.load(kAcquire) == key.high;
      Cache::HitStamp stamp;
      stamp.local = slot.local.load(kAcquire);
      stamp.store = slot.store.load(kAcquire);
      stamp.kind = slot.kind.load(kAcquire);
      std::array<uint64_t, kWords> words;
      for (size_t i = 0; i < kWords; ++i) {
        words[i] = slot.value[i].load(kAcquire);
      }
      if (!same || slot.sequence.load(kAcquire) != sequence ||
          stamp.kind == Cache::HitStamp::kNone || !recall(stamp)) {
        return std::nullopt;
      }
      R value;
      std::memcpy(static_cast<void*>(&value), words.data(), sizeof(R));
      return value;
    } else {
      return std::nullopt;
    }
  }

  // Remembers `value` for `key`, stamped `stamp` (a stamp of kind kNone is
  // not remembered). Skipped when another thread is writing the slot.
  void Remember(RecentKey key, const Cache::HitStamp& stamp, const R& value) {
    if constexpr (kEnabled) {
      if (stamp.kind == Cache::HitStamp::kNone) return;
      Slot& slot = slots_[SlotOf(key)];
      uint64_t sequence = slot.sequence.load(std::memory_order_relaxed);
      if (sequence % 2 != 0 ||
          !slot.sequence.compare_exchange_strong(sequence, sequence + 1,
                                                 std::memory_order_relaxed)) {
        return;
      }
      // Release stores (plain stores on x86): a reader that sees any word
      // below also sees the odd sequence before it (Find).
      constexpr auto kRelease = std::memory_order_release;
      std::array<uint64_t, kWords> words{};
      std::memcpy(words.data(), &value, sizeof(R));
      slot.low.store(key.low, kRelease);
      slot.high.store(key.high, kRelease);
      slot.local.store(stamp.local, kRelease);
      slot.store.store(stamp.store, kRelease);
      slot.kind.store(stamp.kind, kRelease);
      for (size_t i = 0; i < kWords; ++i) {
        slot.value[i].store(words[i], kRelease);
      }
      slot.sequence.store(sequence + 2, kRelease);
    }
  }

 private:
  static constexpr size_t kWords = 2;

  // Both words mixed (a multiply each), so that arguments differing in any
  // byte spread over the slots; the top bits of the product are its best.
  static size_t SlotOf(RecentKey key) {
    const uint64_t mixed =
        (key.low ^ (key.high * 0xC2B2AE3D27D4EB4FULL)) * 0x9E3779B97F4A7C15ULL;
    return static_cast<size_t>(mixed >> 57);  // 7 bits: kSlots
  }

  // One cache line: the sequence, the key hash, the stamp and the value.
  struct alignas(64) Slot {
    std::atomic<uint64_t> sequence{0};  // odd while a writer is in it
    std::atomic<uint64_t> low{0};
    std::atomic<uint64_t> high{0};
    std::atomic<uint64_t> local{0};
    std::atomic<uint64_t> store{0};
    std::atomic<uint64_t> kind{Cache::HitStamp::kNone};
    std::array<std::atomic<uint64_t>, kWords> value{};
  };
  static_assert(sizeof(Slot) == 64);

  std::unique_ptr<Slot[]> slots_;  // kSlots of them when kEnabled
};

}  // namespace ucache::memoize_internal

#endif  // UCACHE_INTERNAL_RECENT_HITS_H_
