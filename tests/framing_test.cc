#include "src/remote/framing.h"

#include <gtest/gtest.h>

#include <string>

namespace ucache::remote_internal {
namespace {

FileCacheOptions Lz4() { return FileCacheOptions(); }

FrameResult Decode(const std::string& frame, std::string_view key,
                   std::string* value, int64_t now = 1000) {
  std::string owned;
  std::string_view view;
  int64_t expires = -1;
  const FrameResult r = DecodeFrame(frame, key, now, &owned, &view, &expires);
  if (r == FrameResult::kValue) value->assign(view);
  return r;
}

TEST(FramingTest, RoundTripsRawAndCompressed) {
  const std::string random = "\x01\x7f\x33 not compressible";
  const std::string repetitive(100000, 'z');
  for (const std::string& v : {std::string(), random, repetitive}) {
    const std::string frame = EncodeFrame("k", v, 0, Lz4());
    std::string out;
    ASSERT_EQ(Decode(frame, "k", &out), FrameResult::kValue);
    EXPECT_EQ(out, v);
  }
  EXPECT_LT(EncodeFrame("k", repetitive, 0, Lz4()).size(), 1000u);  // LZ4 paid
}

TEST(FramingTest, ExpiryIsCarried) {
  const std::string frame = EncodeFrame("k", "v", 5000, Lz4());
  std::string out;
  EXPECT_EQ(Decode(frame, "k", &out, 4999), FrameResult::kValue);
  EXPECT_EQ(Decode(frame, "k", &out, 5000), FrameResult::kExpired);
}

TEST(FramingTest, GarbageTruncatedForeignAndOtherKeysAreCorrupt) {
  const std::string frame = EncodeFrame("k", std::string(300, 'q'), 0, Lz4());
  std::string out;
  EXPECT_EQ(Decode("plain garbage", "k", &out), FrameResult::kCorrupt);
  EXPECT_EQ(Decode("", "k", &out), FrameResult::kCorrupt);
  EXPECT_EQ(Decode(frame, "other", &out), FrameResult::kCorrupt);
  for (size_t cut = 0; cut < frame.size(); cut += 7) {
    EXPECT_EQ(Decode(frame.substr(0, cut), "k", &out), FrameResult::kCorrupt)
        << cut;
  }
  for (size_t i = 0; i < frame.size(); ++i) {
    std::string flipped = frame;
    flipped[i] ^= 0x10;
    const FrameResult r = Decode(flipped, "k", &out);
    // A flip in the zero padding changes nothing the value depends on.
    EXPECT_TRUE(r == FrameResult::kCorrupt ||
                (r == FrameResult::kValue && out == std::string(300, 'q')))
        << i;
  }
  std::string newer = frame;
  newer[8] = 2;  // version 2: another format, never misread
  EXPECT_EQ(Decode(newer, "k", &out), FrameResult::kCorrupt);
}

}  // namespace
}  // namespace ucache::remote_internal
