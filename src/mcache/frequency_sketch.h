// FrequencySketch: a count-min sketch of 4-bit counters that estimates how
// often each key was used recently; W-TinyLFU's admission filter.
//
// The table is cut into 64-byte blocks, one cache line each, of eight 64-bit
// words (sixteen counters a word). A key picks one block, and within it one
// counter in each of four rows (row r: words 2r and 2r+1), so an increment
// or estimate touches one cache line instead of four (Caffeine's
// FrequencySketch has been blocked this way since 3.0). There are 32
// counters per key of capacity (16 bytes per entry), since collisions, not
// counter width, limited the hit ratio in measurements. An increment raises
// only the counters that hold the key's current minimum ("conservative
// update"), which keeps estimates of rare keys from being inflated by the hot
// ones sharing their counters. Counters saturate at 15. After sample_size
// increments every counter is halved, so the sketch forgets old popularity and
// follows a changing workload (TinyLFU's "reset").
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

  // Starts loading the cache line of `hash`'s counters.
  void Prefetch(uint64_t hash) const {
    __builtin_prefetch(block_words_ + BlockOf(hash) * kBlockWords, 1);
  }

  // Counts one use of the key whose 64-bit hash is `hash`.
  void Increment(uint64_t hash) { Increment(hash, 1); }

  // Counts `n` uses of `hash`, as n calls of Increment(hash) would, but
  // finds the counters once and stops when they saturate.
  void Increment(uint64_t hash, uint64_t n);

  // The estimated uses of `hash` since the recent resets, 0..15. Never an
  // underestimate of the (halved) true count.
  uint32_t Estimate(uint64_t hash) const;

  size_t sample_size() const { return sample_size_; }
  size_t resets() const { return resets_; }

  static constexpr uint32_t kMaxCount = 15;

 private:
  static constexpr int kRows = 4;

  static constexpr size_t kBlockWords = 8;

  // Where `hash`'s four counters are: word indices and 4-bit shifts.
  struct Counters {
    size_t word[kRows];
    int shift[kRows];
  };
  size_t BlockOf(uint64_t hash) const;
  Counters Locate(uint64_t hash) const;
  uint32_t CountAt(const Counters& c, int row) const {
    return static_cast<uint32_t>((block_words_[c.word[row]] >> c.shift[row]) &
                                 0xf);
  }
  void Reset();

  size_t sample_factor_;
  size_t sample_size_ = 0;
  size_t additions_ = 0;  // increments since the last reset
  size_t resets_ = 0;
  uint64_t block_mask_ = 0;
  // The blocks start at block_words_, the first 64-byte boundary inside
  // storage_ (a vector promises only 16-byte alignment).
  std::vector<uint64_t> storage_;
  uint64_t* block_words_ = nullptr;
};

}  // namespace mcache_internal
}  // namespace ucache

#endif  // UCACHE_SRC_MCACHE_FREQUENCY_SKETCH_H_
