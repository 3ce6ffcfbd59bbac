#include "src/common/checksum.h"

#include <gtest/gtest.h>
#include <xxhash.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <random>
#include <string>

namespace ucache {
namespace {

// Random bytes, made here: checksum_static_test links this file alone with
// checksum.cc, without the library and its helpers.
std::string Noise(uint64_t seed, size_t n) {
  std::mt19937_64 rng(seed);
  std::string bytes(n, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  return bytes;
}

// Stores and frames hold the portable entry's value: the fast one must
// compute the same, at every length class XXH3 treats apart (up to 16, up
// to 128, up to 240 bytes, then whole stripes, blocks and a tail).
TEST(ChecksumTest, EqualsThePortableXxh3AtEveryLengthAndSeed) {
  const std::string bytes = Noise(11, (1 << 20) + 4099);
  std::mt19937_64 rng(11);
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

#if defined(__x86_64__)
// XINUSE (XGETBV with ECX 1): which register states are not in their
// initial state. Bit 2: the upper halves of YMM0-15; bit 6: the upper
// halves of ZMM0-15. Either left in use makes later SSE code slow.
bool CanReadXinuse() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d) || (c & bit_OSXSAVE) == 0) return false;
  return __get_cpuid_count(0xD, 1, &a, &b, &c, &d) && (a & (1u << 2)) != 0;
}

uint64_t Xinuse() {
  uint32_t lo = 0, hi = 0;
  asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(1));
  return (uint64_t{hi} << 32) | lo;
}

// A checksum leaves no vector register's upper half dirty: an 8 MB kernel
// of sin and exp after one ran 25 to 35 times slower (checksum.cc).
TEST(ChecksumTest, LeavesTheUpperHalvesOfVectorRegistersClean) {
  if (!CanReadXinuse()) GTEST_SKIP() << "XGETBV 1 not supported";
  const std::string bytes = Noise(12, 1 << 20);
  volatile uint64_t sink = Checksum64(bytes.data(), bytes.size(), 5);
  const uint64_t in_use = Xinuse();
  (void)sink;
  EXPECT_EQ(in_use & ((1u << 2) | (1u << 6)), 0u) << std::hex << in_use;
}
#endif

}  // namespace
}  // namespace ucache
