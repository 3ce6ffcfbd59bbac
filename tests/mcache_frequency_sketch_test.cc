// Tests of W-TinyLFU's count-min sketch: estimates never fall below the
// true (halved) counts, saturate at 15, stay low for keys never seen, and
// halve at every reset.

#include <gtest/gtest.h>
#include <xxhash.h>

#include <cstdint>
#include <map>
#include <random>
#include <string>

#include "src/mcache/frequency_sketch.h"

namespace ucache {
namespace mcache_internal {
namespace {

uint64_t HashOf(uint64_t i) { return XXH3_64bits(&i, sizeof(i)); }

TEST(FrequencySketchTest, NeverUnderestimatesBeforeAReset) {
  FrequencySketch sketch(1000);
  std::mt19937_64 rng(3);
  std::map<uint64_t, uint32_t> truth;
  // Fewer increments than the sample size, so no reset happens.
  for (int i = 0; i < 5000; ++i) {
    const uint64_t key = rng() % 2000;
    sketch.Increment(HashOf(key));
    ++truth[key];
  }
  ASSERT_EQ(sketch.resets(), 0u);
  for (const auto& [key, count] : truth) {
    EXPECT_GE(sketch.Estimate(HashOf(key)),
              std::min(count, FrequencySketch::kMaxCount))
        << key;
  }
}

TEST(FrequencySketchTest, SaturatesAtFifteen) {
  FrequencySketch sketch(100);
  for (int i = 0; i < 100; ++i) sketch.Increment(HashOf(42));
  EXPECT_EQ(sketch.Estimate(HashOf(42)), 15u);
}

TEST(FrequencySketchTest, UnseenKeysEstimateLow) {
  FrequencySketch sketch(10000);
  for (uint64_t k = 0; k < 10000; ++k) sketch.Increment(HashOf(k));
  int nonzero = 0;
  for (uint64_t k = 1'000'000; k < 1'001'000; ++k) {
    nonzero += sketch.Estimate(HashOf(k)) != 0;
  }
  // Four counters per key in a block of >= 2500 blocks: a false count needs
  // four collisions at once inside one block.
  EXPECT_LT(nonzero, 100);
}

TEST(FrequencySketchTest, ResetHalvesCounts) {
  // Conservative update leaves a key's counters alone when the colliding
  // key's own minimum lies elsewhere, so 7's count stays exact here.
  FrequencySketch sketch(4096, /*sample_factor=*/1);
  ASSERT_EQ(sketch.sample_size(), 4096u);
  for (int i = 0; i < 12; ++i) sketch.Increment(HashOf(7));
  EXPECT_EQ(sketch.Estimate(HashOf(7)), 12u);
  // Fill up to the sample size with other keys; the reset halves 12 to 6.
  uint64_t k = 100;
  while (sketch.resets() == 0) sketch.Increment(HashOf(k++));
  EXPECT_EQ(sketch.Estimate(HashOf(7)), 6u);
}

TEST(FrequencySketchTest, ResetHalvesEveryKeyAcrossTheBlocks) {
  // 1,000 keys of known estimates spread over every block; one reset must
  // halve each of them (rounding down), whichever block and row it sits in.
  FrequencySketch sketch(4096, /*sample_factor=*/1);
  std::map<uint64_t, uint32_t> before;
  for (uint64_t k = 0; k < 1000; ++k) {
    for (uint64_t i = 0; i < 1 + k % 4; ++i) sketch.Increment(HashOf(k));
  }
  for (uint64_t k = 0; k < 1000; ++k) before[k] = sketch.Estimate(HashOf(k));
  ASSERT_EQ(sketch.resets(), 0u);
  // Reach the sample size with other keys (one key alone would saturate
  // and stop counting). Halving is exact on every counter, so an estimate
  // differs from half its old value only where one of these raised it.
  uint64_t k = 1'000'000;
  while (sketch.resets() == 0) sketch.Increment(HashOf(k++));
  int halved = 0;
  for (const auto& [key, estimate] : before) {
    halved += sketch.Estimate(HashOf(key)) == estimate / 2;
  }
  EXPECT_GE(halved, 950);
}

TEST(FrequencySketchTest, CountingManyUsesAtOnceMatchesOneByOne) {
  // Runs of up to 40 uses of a key, across saturation and resets (a reset
  // every 1,024 increments): the counts must match use for use.
  FrequencySketch runs(1024, /*sample_factor=*/1);
  FrequencySketch singles(1024, /*sample_factor=*/1);
  std::mt19937_64 rng(9);
  for (int run = 0; run < 5000; ++run) {
    const uint64_t key = rng() % 300;
    const uint64_t n = rng() % 41;
    runs.Increment(HashOf(key), n);
    for (uint64_t i = 0; i < n; ++i) singles.Increment(HashOf(key));
    ASSERT_EQ(runs.resets(), singles.resets()) << run;
    for (uint64_t k = 0; k < 300; ++k) {
      ASSERT_EQ(runs.Estimate(HashOf(k)), singles.Estimate(HashOf(k)))
          << run << " " << k;
    }
  }
  EXPECT_GE(runs.resets(), 10u);
}

TEST(FrequencySketchTest, ResizeForgets) {
  FrequencySketch sketch(64);
  for (int i = 0; i < 5; ++i) sketch.Increment(HashOf(1));
  sketch.Resize(4096);
  EXPECT_EQ(sketch.Estimate(HashOf(1)), 0u);
}

}  // namespace
}  // namespace mcache_internal
}  // namespace ucache
