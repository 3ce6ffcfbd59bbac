#include "src/mcache/frequency_sketch.h"

#include <algorithm>

namespace ucache {
namespace mcache_internal {

namespace {

// splitmix64's finaliser: turns the key hash plus a per-row seed into an
// independent-looking hash per row. The key hash's top bits also pick the
// shard, so they alone would map every key of a shard to the same words.
uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

constexpr uint64_t kRowSeeds[4] = {0x9e3779b97f4a7c15ULL, 0xc2b2ae3d27d4eb4fULL,
                                   0x165667b19e3779f9ULL,
                                   0x27d4eb2f165667c5ULL};

}  // namespace

FrequencySketch::FrequencySketch(size_t capacity, size_t sample_factor)
    : sample_factor_(std::max<size_t>(sample_factor, 1)) {
  Resize(capacity);
}

void FrequencySketch::Resize(size_t capacity) {
  capacity = std::max<size_t>(capacity, 16);
  // At least 8 * `capacity` counters per row, sixteen to a word.
  size_t words = 1;
  while (words * 16 < 8 * capacity) words <<= 1;
  word_mask_ = words - 1;
  table_.assign(words * kRows, 0);
  sample_size_ = capacity * sample_factor_;
  additions_ = 0;
}

void FrequencySketch::Locate(uint64_t hash, int row, size_t* word,
                             int* shift) const {
  const uint64_t h = Mix(hash + kRowSeeds[row]);
  *word = static_cast<size_t>(row) * (word_mask_ + 1) +
          static_cast<size_t>(h & word_mask_);
  *shift = static_cast<int>(h >> 60) * 4;
}

uint32_t FrequencySketch::Estimate(uint64_t hash) const {
  uint32_t min = kMaxCount;
  for (int row = 0; row < kRows; ++row) {
    size_t word;
    int shift;
    Locate(hash, row, &word, &shift);
    min = std::min(min, static_cast<uint32_t>((table_[word] >> shift) & 0xf));
  }
  return min;
}

void FrequencySketch::Increment(uint64_t hash) {
  size_t words[kRows];
  int shifts[kRows];
  uint32_t min = kMaxCount;
  for (int row = 0; row < kRows; ++row) {
    Locate(hash, row, &words[row], &shifts[row]);
    min = std::min(
        min, static_cast<uint32_t>((table_[words[row]] >> shifts[row]) & 0xf));
  }
  if (min == kMaxCount) return;
  for (int row = 0; row < kRows; ++row) {
    const uint64_t count = (table_[words[row]] >> shifts[row]) & 0xf;
    if (count == min) table_[words[row]] += uint64_t{1} << shifts[row];
  }
  if (++additions_ >= sample_size_) Reset();
}

void FrequencySketch::Reset() {
  // Halve every counter at once: shift each word right by one and clear the
  // bit that crossed over from the neighbouring counter.
  for (uint64_t& w : table_) w = (w >> 1) & 0x7777777777777777ULL;
  additions_ /= 2;
  ++resets_;
}

}  // namespace mcache_internal
}  // namespace ucache
