// FrequencySketch: a count-min sketch of 4-bit counters that estimates how
// often each key was used recently; W-TinyLFU's admission filter.
//
// Each key maps to four counters (one per row) in a table of 64-bit words,
// sixteen counters a word; each row has 8 counters per key of capacity
// (16 bytes per entry for all four rows), since collisions, not counter
// width, limited the hit ratio in measurements. An increment raises only the
// counters that hold the key's current minimum ("conservative update"), which
// keeps estimates of rare keys from being inflated by the hot ones sharing
// their counters. Counters saturate at 15. After sample_size increments every
// counter is halved, so the sketch forgets old popularity and follows a
// changing workload (TinyLFU's "reset").
//
// Thread safety: none; guarded by the owning shard's mutex.

#ifndef UCACHE_SRC_MCACHE_FREQUENCY_SKETCH_H_
#define UCACHE_SRC_MCACHE_FREQUENCY_SKETCH_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ucache {
namespace mcache_internal {

class FrequencySketch {
 public:
  // Sized for about `capacity` distinct keys: at least 8 * `capacity`
  // counters per row, and a reset every sample_factor * capacity increments.
  explicit FrequencySketch(size_t capacity, size_t sample_factor = 10);

  // Resizes for a new capacity, forgetting every count.
  void Resize(size_t capacity);

  // Counts one use of the key whose 64-bit hash is `hash`.
  void Increment(uint64_t hash);

  // The estimated uses of `hash` since the recent resets, 0..15. Never an
  // underestimate of the (halved) true count.
  uint32_t Estimate(uint64_t hash) const;

  size_t sample_size() const { return sample_size_; }
  size_t resets() const { return resets_; }

  static constexpr uint32_t kMaxCount = 15;

 private:
  static constexpr int kRows = 4;

  // Word index and 4-bit slot (0..15) of `hash`'s counter in row `row`.
  void Locate(uint64_t hash, int row, size_t* word, int* shift) const;
  void Reset();

  size_t sample_factor_;
  size_t sample_size_ = 0;
  size_t additions_ = 0;  // increments since the last reset
  size_t resets_ = 0;
  uint64_t word_mask_ = 0;
  std::vector<uint64_t> table_;  // kRows rows of word_mask_ + 1 words
};

}  // namespace mcache_internal
}  // namespace ucache

#endif  // UCACHE_SRC_MCACHE_FREQUENCY_SKETCH_H_
