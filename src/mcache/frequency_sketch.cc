#include "src/mcache/frequency_sketch.h"

#include <algorithm>
#include <cstdint>

namespace ucache {
namespace mcache_internal {

namespace {

// splitmix64's finaliser: turns the key hash into a block index and, with a
// seed, into the counters within the block, independently of each other.
// The key hash's top bits also pick the shard, so they alone would map every
// key of a shard to the same blocks.
uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// Seeds the hash that picks the counters within a block.
constexpr uint64_t kCounterSeed = 0x9e3779b97f4a7c15ULL;

}  // namespace

FrequencySketch::FrequencySketch(size_t capacity, size_t sample_factor)
    : sample_factor_(std::max<size_t>(sample_factor, 1)) {
  Resize(capacity);
}

void FrequencySketch::Resize(size_t capacity) {
  capacity = std::max<size_t>(capacity, 16);
  // 32 counters per key of capacity, 128 to a block.
  size_t blocks = 1;
  while (blocks * 128 < 32 * capacity) blocks <<= 1;
  block_mask_ = blocks - 1;
  const size_t words = blocks * kBlockWords;
  storage_.assign(words + kBlockWords - 1, 0);
  const auto address = reinterpret_cast<uintptr_t>(storage_.data());
  const size_t skip = ((64 - address % 64) % 64) / sizeof(uint64_t);
  block_words_ = storage_.data() + skip;
  sample_size_ = capacity * sample_factor_;
  additions_ = 0;
}

size_t FrequencySketch::BlockOf(uint64_t hash) const {
  return static_cast<size_t>(Mix(hash) & block_mask_);
}

FrequencySketch::Counters FrequencySketch::Locate(uint64_t hash) const {
  const size_t block = BlockOf(hash);
  // Five bits per row: one picks the row's word, four the counter in it.
  const uint64_t h = Mix(hash + kCounterSeed);
  Counters c;
  for (int row = 0; row < kRows; ++row) {
    const uint64_t bits = h >> (row * 5);
    c.word[row] = block * kBlockWords + 2 * row + (bits & 1);
    c.shift[row] = static_cast<int>((bits >> 1) & 0xf) * 4;
  }
  return c;
}

uint32_t FrequencySketch::Estimate(uint64_t hash) const {
  const Counters c = Locate(hash);
  uint32_t min = kMaxCount;
  for (int row = 0; row < kRows; ++row) min = std::min(min, CountAt(c, row));
  return min;
}

void FrequencySketch::Increment(uint64_t hash, uint64_t n) {
  // A reset moves no counter, so the counters found stay the key's.
  const Counters c = Locate(hash);
  for (; n > 0; --n) {
    uint32_t min = kMaxCount;
    for (int row = 0; row < kRows; ++row) min = std::min(min, CountAt(c, row));
    if (min == kMaxCount) return;
    for (int row = 0; row < kRows; ++row) {
      if (CountAt(c, row) == min) {
        block_words_[c.word[row]] += uint64_t{1} << c.shift[row];
      }
    }
    if (++additions_ >= sample_size_) Reset();
  }
}

void FrequencySketch::Reset() {
  // Halve every counter at once: shift each word right by one and clear the
  // bit that crossed over from the neighbouring counter.
  const size_t words = (block_mask_ + 1) * kBlockWords;
  for (size_t i = 0; i < words; ++i) {
    block_words_[i] = (block_words_[i] >> 1) & 0x7777777777777777ULL;
  }
  additions_ /= 2;
  ++resets_;
}

}  // namespace mcache_internal
}  // namespace ucache
