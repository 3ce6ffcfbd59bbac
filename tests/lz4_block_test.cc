// Lz4DecodedSize against LZ4 itself: the size of every block the real
// compressor writes, and refusals of blocks that are cut short, end with a
// match, refer back before their start or decode past the limit.

#include "src/fcache/lz4_block.h"

#include <lz4.h>

#include <random>
#include <string>

#include "gtest/gtest.h"
#include "tests/testutil.h"

namespace ucache::fcache_internal {
namespace {

std::string Compress(const std::string& value) {
  std::string out(LZ4_compressBound(static_cast<int>(value.size())), '\0');
  const int n = LZ4_compress_default(value.data(), out.data(),
                                     static_cast<int>(value.size()),
                                     static_cast<int>(out.size()));
  EXPECT_GT(n, 0);
  out.resize(n);
  return out;
}

TEST(Lz4BlockTest, SizeOfWhatTheCompressorWrites) {
  std::mt19937_64 rng(7);
  for (size_t n : {0, 1, 15, 16, 300, 4096, 70000, 1 << 20}) {
    for (bool text : {true, false}) {
      std::string value = text ? std::string(n, 'a') : RandomBytes(rng, n);
      if (text) {
        for (size_t i = 0; i < n; i += 37) value[i] = static_cast<char>(i);
      }
      const std::string block = Compress(value);
      SCOPED_TRACE(std::to_string(n) + (text ? " text" : " random") +
                   " bytes in " + std::to_string(block.size()));
      EXPECT_EQ(Lz4DecodedSize(block, n), static_cast<int64_t>(n));
      EXPECT_EQ(Lz4DecodedSize(block, uint64_t{1} << 40),
                static_cast<int64_t>(n));
      if (n > 0) {
        EXPECT_EQ(Lz4DecodedSize(block, n - 1), -1);
      }
    }
  }
}

TEST(Lz4BlockTest, RefusesMalformedBlocks) {
  const std::string block = Compress(std::string(5000, 'z'));
  ASSERT_GT(block.size(), 8u);
  EXPECT_EQ(Lz4DecodedSize("", 100), -1) << "empty";
  for (size_t cut = 1; cut < block.size(); ++cut) {
    const int64_t size = Lz4DecodedSize(block.substr(0, cut), 1 << 20);
    // A prefix may happen to end where a literal run ends; it then decodes
    // to less, never to the whole.
    EXPECT_LT(size, 5000) << "cut to " << cut;
  }
  // Token: 1 literal, then a match of 4 + 15 + 255 + 10 bytes at offset 1.
  const std::string match(
      "\x1F"
      "a"
      "\x01\x00"
      "\xFF\x0A",
      6);
  EXPECT_EQ(Lz4DecodedSize(match, 1 << 20), -1) << "ends with a match";
  const std::string tail(
      "\x50"
      "abcde",
      6);
  EXPECT_EQ(Lz4DecodedSize(match + tail, 1 << 20), 1 + 284 + 5);
  EXPECT_EQ(Lz4DecodedSize(match + tail, 1 + 284 + 4), -1) << "past limit";
  const std::string before_start(
      "\x1F"
      "a"
      "\x02\x00"
      "\x00"
      "\x50"
      "abcde",
      11);
  EXPECT_EQ(Lz4DecodedSize(before_start, 1 << 20), -1) << "offset 2 > 1";
  // Offset 0 is invalid by the LZ4 spec, but LZ4_decompress_safe decodes
  // it (the record fuzzer found this), so it is sized like any match.
  const std::string zero_offset(
      "\x10"
      "a"
      "\x00\x00"
      "\x50"
      "abcde",
      10);
  EXPECT_EQ(Lz4DecodedSize(zero_offset, 1 << 20), 1 + 4 + 5) << "offset 0";
  // A literal run whose length bytes claim more than the block holds.
  const std::string long_run(
      "\xF0\xFF\xFF\x10"
      "abc",
      7);
  EXPECT_EQ(Lz4DecodedSize(long_run, 1 << 20), -1);
}

}  // namespace
}  // namespace ucache::fcache_internal
