#include "src/common/checksum.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <random>
#include <string>

#include "tests/testutil.h"

namespace ucache {
namespace {

// Stores and frames hold the portable entry's value: the fast one must
// compute the same, at every length class XXH3 treats apart (up to 16, up
// to 128, up to 240 bytes, then whole stripes, blocks and a tail).
TEST(ChecksumTest, EqualsThePortableXxh3AtEveryLengthAndSeed) {
  std::mt19937_64 rng(11);
  const std::string bytes = RandomBytes(rng, (1 << 20) + 4099);
  for (size_t len = 0; len <= 4096; ++len) {
    for (uint64_t seed : {uint64_t{0}, uint64_t{1}, rng()}) {
      ASSERT_EQ(Checksum64(bytes.data() + 3, len, seed),
                XXH3_64bits_withSeed(bytes.data() + 3, len, seed))
          << "length " << len << " seed " << seed;
    }
  }
  for (size_t len : {size_t{1} << 16, (size_t{1} << 20) + 4093}) {
    EXPECT_EQ(Checksum64(bytes.data() + 1, len, 7),
              XXH3_64bits_withSeed(bytes.data() + 1, len, 7));
  }
  EXPECT_EQ(Checksum64(bytes.data(), 1000), XXH3_64bits(bytes.data(), 1000));
}

}  // namespace
}  // namespace ucache
