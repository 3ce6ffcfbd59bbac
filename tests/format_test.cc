// The format's own rules (src/fcache/format.h, doc/format.md sections 1 to
// 4): the prelude's seal and the order of its checks, the one spelling of a
// log's name, and the layout constants the document states byte by byte.

#include "src/fcache/format.h"

#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "tests/testutil.h"

namespace ucache::fcache_internal {
namespace {

FilePrelude SealedPrelude(uint64_t magic) {
  FilePrelude p{};
  p.header_size = kIndexHeaderSize;
  p.id = 7;
  p.created_ms = 1700000000000;
  p.capacity = 1024;
  p.log_id = 3;
  SealPrelude(magic, &p);
  return p;
}

// Sets the version and seals the checksum over it, as a newer (or broken)
// writer would have.
FilePrelude WithVersion(uint64_t magic, uint32_t version) {
  FilePrelude p = SealedPrelude(magic);
  p.version = version;
  p.checksum = XXH3_64bits(&p, offsetof(FilePrelude, checksum));
  return p;
}

// ---- the prelude ------------------------------------------------------------

TEST(FormatTest, SealedPreludePassesItsCheck) {
  for (uint64_t magic : {kIndexMagic, kLogMagic, kLockMagic}) {
    const FilePrelude p = SealedPrelude(magic);
    EXPECT_EQ(p.magic, magic);
    EXPECT_EQ(p.version, kFormatVersion);
    // The checksum is XXH3-64 of bytes 0..56, as doc/format.md section 2 says.
    EXPECT_EQ(p.checksum, XXH3_64bits(&p, 56));
    EXPECT_OK(CheckPrelude(p, magic, "file"));
  }
}

TEST(FormatTest, MagicsAreTheDocumentedAsciiBytes) {
  const auto ascii = [](uint64_t magic) {
    char bytes[8];
    std::memcpy(bytes, &magic, 8);
    return std::string(bytes, 8);
  };
  EXPECT_EQ(ascii(kIndexMagic), "UCACHIDX");
  EXPECT_EQ(ascii(kLogMagic), "UCACHLOG");
  EXPECT_EQ(ascii(kLockMagic), "UCACHLCK");
}

TEST(FormatTest, WrongMagicIsCorruptionNamingTheFile) {
  const FilePrelude p = SealedPrelude(kLogMagic);
  const Status s = CheckPrelude(p, kIndexMagic, "dir/index");
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find("dir/index"), std::string_view::npos);
  EXPECT_NE(s.message().find("magic"), std::string_view::npos);
}

TEST(FormatTest, EveryDamagedByteIsCorruption) {
  const FilePrelude sealed = SealedPrelude(kIndexMagic);
  for (size_t i = 0; i < sizeof(FilePrelude); ++i) {
    FilePrelude p = sealed;
    reinterpret_cast<uint8_t*>(&p)[i] ^= 0x01;
    const Status s = CheckPrelude(p, kIndexMagic, "index");
    EXPECT_EQ(s.code(), Status::Code::kCorruption)
        << "byte " << i << ": " << s.ToString();
  }
}

TEST(FormatTest, ReservedIsCoveredByTheChecksumButNotChecked) {
  FilePrelude p = SealedPrelude(kIndexMagic);
  p.reserved = 5;
  EXPECT_EQ(CheckPrelude(p, kIndexMagic, "index").code(),
            Status::Code::kCorruption);
  SealPrelude(kIndexMagic, &p);
  EXPECT_OK(CheckPrelude(p, kIndexMagic, "index"));
}

TEST(FormatTest, NewerIntactVersionIsVersionTooNew) {
  const FilePrelude p = WithVersion(kLogMagic, kFormatVersion + 1);
  const Status s = CheckPrelude(p, kLogMagic, "log.0000000000000001");
  EXPECT_EQ(s.code(), Status::Code::kVersionTooNew) << s.ToString();
  EXPECT_NE(s.message().find(std::to_string(kFormatVersion + 1)),
            std::string_view::npos)
      << s.ToString();
  EXPECT_EQ(
      CheckPrelude(WithVersion(kLogMagic, 0xFFFFFFFF), kLogMagic, "log").code(),
      Status::Code::kVersionTooNew);
}

TEST(FormatTest, VersionZeroIsCorruptionAndOlderVersionsAreRead) {
  EXPECT_EQ(
      CheckPrelude(WithVersion(kIndexMagic, 0), kIndexMagic, "index").code(),
      Status::Code::kCorruption);
  for (uint32_t v = 1; v <= kFormatVersion; ++v) {
    EXPECT_OK(CheckPrelude(WithVersion(kIndexMagic, v), kIndexMagic, "index"))
        << "version " << v;
  }
}

TEST(FormatTest, ChecksAreMadeInTheDocumentedOrder) {
  // Magic before the version: a newer file of another kind is corrupt.
  EXPECT_EQ(CheckPrelude(WithVersion(kLogMagic, kFormatVersion + 1),
                         kIndexMagic, "index")
                .code(),
            Status::Code::kCorruption);
  // Checksum before the version: a newer version with a torn checksum is
  // corrupt, not newer.
  FilePrelude p = WithVersion(kIndexMagic, kFormatVersion + 1);
  p.checksum ^= 1;
  EXPECT_EQ(CheckPrelude(p, kIndexMagic, "index").code(),
            Status::Code::kCorruption);
}

// ---- log file names ---------------------------------------------------------

TEST(FormatTest, LogFileNameIsSixteenLowercaseZeroPaddedHexDigits) {
  EXPECT_EQ(LogFileName(1), "log.0000000000000001");
  EXPECT_EQ(LogFileName(0xABCDEF), "log.0000000000abcdef");
  EXPECT_EQ(LogFileName(~uint64_t{0}), "log.ffffffffffffffff");
}

TEST(FormatTest, ParseLogFileNameRoundTrips) {
  for (uint64_t id : {uint64_t{0}, uint64_t{1}, uint64_t{0x10},
                      uint64_t{0x0123456789abcdef}, ~uint64_t{0}}) {
    uint64_t parsed = 42;
    ASSERT_TRUE(ParseLogFileName(LogFileName(id), &parsed)) << id;
    EXPECT_EQ(parsed, id);
  }
}

TEST(FormatTest, ParseLogFileNameRefusesEveryOtherSpelling) {
  for (const char* name : {
           "log.000000000000000A",   // uppercase
           "log.ABCDEF0123456789",   // uppercase
           "log.000000000000001",    // 15 digits
           "log.00000000000000001",  // 17 digits
           "log.000000000000000g",   // not hex
           "log.00000000000000-1",   // a sign
           "log.0x00000000000001",   // a prefix inside
           "log.00000000 0000001",   // a space
           "LOG.0000000000000001",   // the prefix's case
           "log_0000000000000001",   // the prefix's dot
           "xlog.000000000000001",   // the prefix's place
           "log.",                   // no digits
           "",                       // nothing
           "index",                  // another store file
           "log.0000000000000001.tmp",
       }) {
    uint64_t id = 42;
    EXPECT_FALSE(ParseLogFileName(name, &id)) << '"' << name << '"';
    EXPECT_EQ(id, 42u) << "set on a refusal: " << name;
  }
  uint64_t id = 42;
  EXPECT_FALSE(ParseLogFileName(std::string("log.000000000000000\0", 20), &id));
}

// ---- layout -----------------------------------------------------------------

TEST(FormatTest, LayoutIsTheDocumentedOne) {
  // Section 2.
  EXPECT_EQ(offsetof(FilePrelude, version), 8u);
  EXPECT_EQ(offsetof(FilePrelude, header_size), 12u);
  EXPECT_EQ(offsetof(FilePrelude, id), 16u);
  EXPECT_EQ(offsetof(FilePrelude, created_ms), 24u);
  EXPECT_EQ(offsetof(FilePrelude, capacity), 32u);
  EXPECT_EQ(offsetof(FilePrelude, log_id), 40u);
  EXPECT_EQ(offsetof(FilePrelude, reserved), 48u);
  EXPECT_EQ(offsetof(FilePrelude, checksum), 56u);
  // Section 3.
  EXPECT_EQ(offsetof(IndexHeader, superseded), 64u);
  EXPECT_EQ(offsetof(IndexHeader, log_end), 72u);
  EXPECT_EQ(offsetof(IndexHeader, live_slots), 80u);
  EXPECT_EQ(offsetof(IndexHeader, tombstones), 88u);
  EXPECT_EQ(offsetof(IndexHeader, live_bytes), 96u);
  EXPECT_EQ(offsetof(IndexHeader, dead_bytes), 120u);
  EXPECT_EQ(offsetof(IndexHeader, evictions), 128u);
  EXPECT_EQ(offsetof(IndexHeader, compactions), 152u);
  EXPECT_EQ(offsetof(Slot, loc), 8u);
  // Section 4.
  EXPECT_EQ(offsetof(RecordHeader, key_len), 8u);
  EXPECT_EQ(offsetof(RecordHeader, stored_len), 12u);
  EXPECT_EQ(offsetof(RecordHeader, value_len), 16u);
  EXPECT_EQ(offsetof(RecordHeader, kind), 20u);
  EXPECT_EQ(offsetof(RecordHeader, codec), 21u);
  EXPECT_EQ(offsetof(RecordHeader, reserved), 22u);
  EXPECT_EQ(offsetof(RecordHeader, expires_ms), 24u);
  // Section 5.
  EXPECT_EQ(kLockPublicationOffset, 128u);
  EXPECT_EQ(kLockChangesOffset, 192u);
  EXPECT_EQ(kLockFileSize, 4096u);
}

TEST(FormatTest, TagsAreNeverEmptyOrTombstone) {
  EXPECT_EQ(TagOf(0), 2u);
  EXPECT_EQ(TagOf(1), 3u);
  EXPECT_EQ(TagOf(2), 2u);
  EXPECT_EQ(TagOf(~uint64_t{0}), ~uint64_t{0});
}

TEST(FormatTest, RecordSizesAreAlignedAsDocumented) {
  EXPECT_EQ(ValueOffset(1), 48u);
  EXPECT_EQ(ValueOffset(16), 48u);
  EXPECT_EQ(ValueOffset(17), 64u);
  EXPECT_EQ(RecordSize(1, 0), 48u);
  EXPECT_EQ(RecordSize(5, 1), 64u);
  EXPECT_EQ(RecordSize(5, 16), 64u);
  EXPECT_EQ(RecordSize(5, 17), 80u);
}

TEST(FormatTest, CapacityForKeepsTheTargetLoad) {
  EXPECT_EQ(CapacityFor(0), kMinCapacity);
  EXPECT_EQ(CapacityFor(358), 1024u);  // 358 <= 0.35 * 1024 = 358.4
  EXPECT_EQ(CapacityFor(359), 2048u);
  EXPECT_EQ(CapacityFor(1024), 4096u);
  EXPECT_EQ(IndexFileBytes(1024), 4096u + 16 * 1024);
}

}  // namespace
}  // namespace ucache::fcache_internal
