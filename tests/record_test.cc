// One record (src/fcache/record.h, doc/format.md section 4): encoding and
// parsing round trips, raw and LZ4; every rule of "Bounds" refused on its
// own; what the checksum covers; and ReadValue refusing damaged or forged
// values.

#include "src/fcache/record.h"

#include <xxhash.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testutil.h"
#include "ucache/file_cache.h"

namespace ucache::fcache_internal {
namespace {

FileCacheOptions Raw() {
  FileCacheOptions o;
  o.compression = Compression::kNone;
  return o;
}

// A log image: a 64-byte header (zeros), then records back to back, in
// 8-byte aligned memory as a mapping would be.
class LogImage {
 public:
  // Appends a record; returns its offset.
  uint64_t Add(RecordKind kind, std::string_view key, std::string_view value,
               int64_t expires_ms = 0,
               const FileCacheOptions& options = Raw()) {
    const uint64_t offset = bytes_.size();
    EncodedRecord record;
    EncodeRecord(kind, key, value, expires_ms, options, &record);
    AppendFlat(record, &bytes_);
    return offset;
  }
  uint8_t* data() {
    words_.assign(bytes_.size() / 8 + 1, 0);
    std::memcpy(words_.data(), bytes_.data(), bytes_.size());
    return reinterpret_cast<uint8_t*>(words_.data());
  }
  uint64_t size() const { return bytes_.size(); }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_ = std::string(kLogHeaderSize, '\0');
  std::vector<uint64_t> words_;
};

// The checksum as doc/format.md section 4 defines it, computed here apart
// from record.cc.
uint64_t DocumentedChecksum(const uint8_t* record) {
  RecordHeader h;
  std::memcpy(&h, record, sizeof(h));
  const uint64_t seed = XXH3_64bits(record + 8, 24 + h.key_len);
  return XXH3_64bits_withSeed(record + ValueOffset(h.key_len), h.stored_len,
                              seed);
}

// Rewrites the checksum of the record at `record` so that it matches, as a
// forger would.
void Reseal(uint8_t* record) {
  const uint64_t sum = DocumentedChecksum(record);
  std::memcpy(record, &sum, 8);
}

RecordHeader* HeaderAt(uint8_t* base, uint64_t offset) {
  return reinterpret_cast<RecordHeader*>(base + offset);
}

std::string Compressible(size_t n) {
  std::string v(n, 'a');
  for (size_t i = 0; i < n; i += 29) v[i] = static_cast<char>('a' + i % 26);
  return v;
}

// ---- round trips ------------------------------------------------------------

TEST(RecordTest, RawPutRoundTrips) {
  LogImage log;
  const uint64_t off = log.Add(kRecordPut, "key", "value", 1234);
  EXPECT_EQ(off, 64u);
  EXPECT_EQ(log.size(), 64 + RecordSize(3, 5));
  uint8_t* base = log.data();
  RecordView r;
  ASSERT_TRUE(ParseRecord(base, log.size(), off, &r));
  EXPECT_EQ(r.key, "key");
  EXPECT_EQ(r.stored, "value");
  EXPECT_EQ(r.offset, off);
  EXPECT_EQ(r.size, 64u);  // 48 (header + key, padded) + 16
  EXPECT_EQ(r.header->kind, kRecordPut);
  EXPECT_EQ(r.header->codec, kCodecRaw);
  EXPECT_EQ(r.header->value_len, 5u);
  EXPECT_EQ(r.header->expires_ms, 1234);
  EXPECT_EQ(r.header->reserved, 0u);
  EXPECT_EQ(r.header->checksum, DocumentedChecksum(base + off));
  // The value starts 16-byte aligned; padding is zeros.
  EXPECT_EQ(reinterpret_cast<uintptr_t>(r.stored.data()) % 16,
            reinterpret_cast<uintptr_t>(base) % 16);
  EXPECT_EQ(log.bytes().substr(off + 35, 13), std::string(13, '\0'));
  EXPECT_EQ(log.bytes().substr(off + 53, 11), std::string(11, '\0'));
  EXPECT_TRUE(ChecksumMatches(r));
  std::string value = "junk";
  ASSERT_TRUE(ReadValue(r, &value));
  EXPECT_EQ(value, "value");
}

TEST(RecordTest, EmptyValueAndEraseRecordsRoundTrip) {
  LogImage log;
  const uint64_t put = log.Add(kRecordPut, "k", "");
  const uint64_t erase = log.Add(kRecordErase, "k", "");
  uint8_t* base = log.data();
  RecordView r;
  ASSERT_TRUE(ParseRecord(base, log.size(), put, &r));
  EXPECT_EQ(r.size, 48u);
  std::string value = "junk";
  ASSERT_TRUE(ReadValue(r, &value));
  EXPECT_EQ(value, "");
  ASSERT_TRUE(ParseRecord(base, log.size(), erase, &r));
  EXPECT_EQ(r.header->kind, kRecordErase);
  EXPECT_EQ(r.header->stored_len, 0u);
  EXPECT_EQ(r.header->codec, kCodecRaw);
  EXPECT_TRUE(ChecksumMatches(r));
}

TEST(RecordTest, Lz4PutRoundTripsFastAndHc) {
  for (Compression c : {Compression::kLz4, Compression::kLz4Hc}) {
    FileCacheOptions o;
    o.compression = c;
    const std::string value = Compressible(10000);
    LogImage log;
    const uint64_t off = log.Add(kRecordPut, "key", value, 0, o);
    uint8_t* base = log.data();
    RecordView r;
    ASSERT_TRUE(ParseRecord(base, log.size(), off, &r));
    EXPECT_EQ(r.header->codec, kCodecLz4);
    EXPECT_EQ(r.header->value_len, value.size());
    EXPECT_LT(r.header->stored_len + kRecordAlign, value.size());
    EXPECT_EQ(r.size, RecordSize(3, r.header->stored_len));
    EXPECT_TRUE(ChecksumMatches(r));
    std::string out;
    ASSERT_TRUE(ReadValue(r, &out));
    EXPECT_EQ(out, value);
  }
}

TEST(RecordTest, CompressesOnlyAboveTheThresholdAndWhenItSavesAnAlignment) {
  FileCacheOptions o;  // LZ4, threshold 256
  LogImage log;
  const uint64_t below = log.Add(kRecordPut, "a", Compressible(255), 0, o);
  const uint64_t at = log.Add(kRecordPut, "b", Compressible(256), 0, o);
  std::mt19937_64 rng(1);
  const uint64_t noise = log.Add(kRecordPut, "c", RandomBytes(rng, 4096), 0, o);
  uint8_t* base = log.data();
  EXPECT_EQ(HeaderAt(base, below)->codec, kCodecRaw);
  EXPECT_EQ(HeaderAt(base, at)->codec, kCodecLz4);
  EXPECT_EQ(HeaderAt(base, noise)->codec, kCodecRaw);
  for (uint64_t off : {below, at, noise}) {
    RecordView r;
    ASSERT_TRUE(ParseRecord(base, log.size(), off, &r));
    std::string value;
    EXPECT_TRUE(ReadValue(r, &value));
    EXPECT_EQ(value.size(), r.header->value_len);
  }
}

TEST(RecordTest, TheRecordsOffsetIsNotCovered) {
  LogImage log;
  log.Add(kRecordPut, "pad", "x");  // 64 bytes at 64
  std::string bytes = log.bytes();
  // The same record bytes copied to 128, as compaction copies them.
  LogImage other;
  other.Add(kRecordPut, "key", "value");
  bytes += other.bytes().substr(64);
  std::vector<uint64_t> words(bytes.size() / 8 + 1);
  std::memcpy(words.data(), bytes.data(), bytes.size());
  const auto* base = reinterpret_cast<const uint8_t*>(words.data());
  RecordView r;
  ASSERT_TRUE(ParseRecord(base, bytes.size(), 128, &r));
  EXPECT_EQ(r.key, "key");
  EXPECT_TRUE(ChecksumMatches(r));
}

// ---- bounds -----------------------------------------------------------------

class RecordBoundsTest : public testing::Test {
 protected:
  void SetUp() override {
    off_ = log_.Add(kRecordPut, "key", "value");
    base_ = log_.data();
    h_ = HeaderAt(base_, off_);
  }
  bool Parses(uint64_t limit) {
    RecordView r;
    return ParseRecord(base_, limit, off_, &r);
  }
  bool Parses() { return Parses(log_.size()); }
  // ParseRecord reads the header only; a limit far beyond the image lets a
  // length rule be tested apart from the rule that the record fits.
  static constexpr uint64_t kFarLimit = uint64_t{1} << 40;

  LogImage log_;
  uint64_t off_ = 0;
  uint8_t* base_ = nullptr;
  RecordHeader* h_ = nullptr;
};

TEST_F(RecordBoundsTest, TheIntactRecordParses) { EXPECT_TRUE(Parses()); }

TEST_F(RecordBoundsTest, OffsetMustBeAlignedPastTheHeaderAndBelowTheLimit) {
  RecordView r;
  for (uint64_t off : {uint64_t{65}, uint64_t{72}, uint64_t{79}}) {
    EXPECT_FALSE(ParseRecord(base_, kFarLimit, off, &r)) << off;
  }
  // A whole record at offset 0 (where the log's header is) is refused.
  LogImage bare;
  bare.Add(kRecordPut, "key", "value");
  std::vector<uint64_t> words(bare.size() / 8);
  std::memcpy(words.data(), bare.bytes().data() + 64, bare.size() - 64);
  const auto* at0 = reinterpret_cast<const uint8_t*>(words.data());
  EXPECT_FALSE(ParseRecord(at0, bare.size() - 64, 0, &r));
  EXPECT_FALSE(ParseRecord(base_, 63, 64, &r));       // off > limit
  EXPECT_FALSE(ParseRecord(base_, 64, 64, &r));       // nothing readable
  EXPECT_FALSE(ParseRecord(base_, 64 + 31, 64, &r));  // a header cut short
  EXPECT_FALSE(ParseRecord(base_, ~uint64_t{0}, ~uint64_t{0} & ~uint64_t{15},
                           &r));  // near the top of the address space
}

TEST_F(RecordBoundsTest, KeyLengthIsOneToMaxKeyBytes) {
  h_->key_len = 0;
  EXPECT_FALSE(Parses(kFarLimit));
  h_->key_len = FileCache::kMaxKeyBytes;
  EXPECT_TRUE(Parses(kFarLimit));
  h_->key_len = FileCache::kMaxKeyBytes + 1;
  EXPECT_FALSE(Parses(kFarLimit));
  EXPECT_EQ(FileCache::kMaxKeyBytes, 65536u);
}

TEST_F(RecordBoundsTest, ValueLengthsAreAtMostMaxValueBytes) {
  EXPECT_EQ(FileCache::kMaxValueBytes, 0x7E000000u);
  h_->stored_len = h_->value_len = FileCache::kMaxValueBytes;
  EXPECT_TRUE(Parses(kFarLimit));
  h_->stored_len = h_->value_len = FileCache::kMaxValueBytes + 1;
  EXPECT_FALSE(Parses(kFarLimit));
  // value_len alone, under a codec that lets it differ from stored_len.
  h_->codec = kCodecLz4;
  h_->stored_len = 1 << 24;
  h_->value_len = FileCache::kMaxValueBytes;
  EXPECT_TRUE(Parses(kFarLimit));
  h_->value_len = FileCache::kMaxValueBytes + 1;
  EXPECT_FALSE(Parses(kFarLimit));
}

TEST_F(RecordBoundsTest, ReservedMustBeZero) {
  h_->reserved = 1;
  EXPECT_FALSE(Parses());
  h_->reserved = 0x8000;
  EXPECT_FALSE(Parses());
}

TEST_F(RecordBoundsTest, KindIsPutOrAnEraseWithoutValue) {
  for (uint8_t kind : {0, 3, 255}) {
    h_->kind = kind;
    EXPECT_FALSE(Parses()) << int{kind};
  }
  h_->kind = kRecordErase;
  EXPECT_FALSE(Parses()) << "an erase with a value";
  h_->stored_len = 0;
  EXPECT_FALSE(Parses()) << "an erase claiming a value length";
  h_->value_len = 0;
  EXPECT_TRUE(Parses());
  h_->kind = kRecordPut;
  EXPECT_TRUE(Parses());
}

TEST_F(RecordBoundsTest, CodecIsRawWithEqualLengthsOrLz4WithinItsRatio) {
  for (uint8_t codec : {2, 3, 255}) {
    h_->codec = codec;
    EXPECT_FALSE(Parses()) << int{codec};
  }
  h_->codec = kCodecRaw;
  h_->value_len = 6;  // stored_len is 5
  EXPECT_FALSE(Parses());
  h_->codec = kCodecLz4;
  EXPECT_TRUE(Parses());
  h_->value_len = 5 * kMaxLz4Ratio;
  EXPECT_TRUE(Parses());
  h_->value_len = 5 * kMaxLz4Ratio + 1;
  EXPECT_FALSE(Parses());
  h_->stored_len = 0;
  h_->value_len = 0;
  EXPECT_FALSE(Parses()) << "an empty lz4 block";
}

TEST_F(RecordBoundsTest, TheWholeRecordPaddingIncludedFitsBelowTheLimit) {
  const uint64_t end = off_ + 64;
  EXPECT_TRUE(Parses(end));
  EXPECT_FALSE(Parses(end - 1));
  EXPECT_FALSE(Parses(off_ + 48 + 5)) << "the value's padding is past limit";
  EXPECT_FALSE(Parses(off_ + 32 + 3)) << "only header and key";
  // A stored length far past the limit.
  h_->stored_len = h_->value_len = FileCache::kMaxValueBytes;
  EXPECT_FALSE(Parses(end));
}

// ---- the checksum -----------------------------------------------------------

TEST(RecordChecksumTest, CoversHeaderTailKeyAndValueButNotPadding) {
  LogImage log;
  const uint64_t off = log.Add(kRecordPut, "key", "value", 99);
  uint8_t* base = log.data();
  uint8_t* rec = base + off;
  RecordView r;
  ASSERT_TRUE(ParseRecord(base, log.size(), off, &r));
  ASSERT_TRUE(ChecksumMatches(r));
  auto changes_checksum = [&](uint64_t i, uint8_t flip) {
    rec[i] ^= flip;
    const bool changed = !ChecksumMatches(r);
    rec[i] ^= flip;
    return changed;
  };
  // The checksum itself, stored_len .. expires_ms, the key, the value.
  for (uint64_t i = 0; i < 8; ++i) EXPECT_TRUE(changes_checksum(i, 1)) << i;
  for (uint64_t i = 12; i < 35; ++i) EXPECT_TRUE(changes_checksum(i, 1)) << i;
  for (uint64_t i = 48; i < 53; ++i) EXPECT_TRUE(changes_checksum(i, 1)) << i;
  // key_len (only made smaller: the hash reads key_len bytes of key).
  EXPECT_TRUE(changes_checksum(8, 0x01));  // 3 -> 2
  // The padding after the key and after the value.
  for (uint64_t i = 35; i < 48; ++i) EXPECT_FALSE(changes_checksum(i, 1)) << i;
  for (uint64_t i = 53; i < 64; ++i) EXPECT_FALSE(changes_checksum(i, 1)) << i;
  EXPECT_TRUE(ChecksumMatches(r));
}

TEST(RecordChecksumTest, ReadValueRefusesADamagedRawValue) {
  LogImage log;
  const uint64_t off = log.Add(kRecordPut, "key", "value");
  uint8_t* base = log.data();
  RecordView r;
  ASSERT_TRUE(ParseRecord(base, log.size(), off, &r));
  base[off + 48 + 2] ^= 0x20;
  std::string value;
  EXPECT_FALSE(ChecksumMatches(r));
  EXPECT_FALSE(ReadValue(r, &value));
  base[off + 48 + 2] ^= 0x20;
  base[off + 24] ^= 0x01;  // expires_ms
  EXPECT_FALSE(ReadValue(r, &value));
}

TEST(RecordChecksumTest, ReadValueRefusesADamagedOrForgedLz4Value) {
  FileCacheOptions o;
  const std::string original = Compressible(5000);
  LogImage log;
  const uint64_t off = log.Add(kRecordPut, "key", original, 0, o);
  uint8_t* base = log.data();
  RecordView r;
  ASSERT_TRUE(ParseRecord(base, log.size(), off, &r));
  ASSERT_EQ(r.header->codec, kCodecLz4);
  uint8_t* rec = base + off;
  std::string value;

  // Damage: a flipped byte in the block fails the checksum.
  rec[ValueOffset(3) + 3] ^= 0x40;
  EXPECT_FALSE(ReadValue(r, &value));
  rec[ValueOffset(3) + 3] ^= 0x40;
  ASSERT_TRUE(ReadValue(r, &value));
  ASSERT_EQ(value, original);

  // Forgery: a valid checksum over a value_len the block does not decode
  // to, smaller or larger (within the ratio ParseRecord allows).
  auto* h = HeaderAt(base, off);
  for (uint32_t claim : {h->value_len - 1, h->value_len + 1,
                         h->stored_len * uint32_t{kMaxLz4Ratio}}) {
    h->value_len = claim;
    Reseal(rec);
    ASSERT_TRUE(ParseRecord(base, log.size(), off, &r)) << claim;
    ASSERT_TRUE(ChecksumMatches(r));
    EXPECT_FALSE(ReadValue(r, &value)) << "value_len " << claim;
  }
  // Forgery: a block whose bytes are garbage, resealed.
  h->value_len = static_cast<uint32_t>(original.size());
  std::memset(rec + ValueOffset(3), 0xFF, h->stored_len);
  Reseal(rec);
  ASSERT_TRUE(ParseRecord(base, log.size(), off, &r));
  EXPECT_FALSE(ReadValue(r, &value));
}

}  // namespace
}  // namespace ucache::fcache_internal
