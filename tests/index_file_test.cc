// IndexFile (src/fcache/index_file.h, doc/format.md sections 2 and 3): the
// file Create makes, fully allocated; everything Open refuses; the probe
// order of Find and FindAfter over tombstones and around the end of the
// table; Fill's store order; and Linked() once a rename replaced the file.

#include "src/fcache/index_file.h"

#include <xxhash.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "src/fcache/format.h"
#include "tests/testutil.h"

namespace ucache::fcache_internal {
namespace {

using Op = FaultEnv::Op;

constexpr uint64_t kCapacity = 1024;

class IndexFileTest : public testing::Test {
 protected:
  std::unique_ptr<IndexFile> CreateOrDie(uint64_t capacity = kCapacity) {
    auto index = IndexFile::Create(env_, path_, capacity, 5, 3);
    EXPECT_OK(index);
    return index.ok() ? std::move(*index) : nullptr;
  }
  Status OpenStatus(bool writable = false) {
    return IndexFile::Open(env_, path_, writable).status();
  }
  // A created index's bytes, to damage and write back with Rewrite.
  std::string CreatedBytes() {
    EXPECT_NE(CreateOrDie(), nullptr);
    return ReadWholeFile(path_);
  }
  void Rewrite(const std::string& bytes) {
    ASSERT_TRUE(WriteWholeFile(path_, bytes, 0600));
  }
  static FilePrelude* PreludeOf(std::string& bytes) {
    return reinterpret_cast<FilePrelude*>(bytes.data());
  }
  // Seals the prelude of `bytes` with `version`, as a writer of that
  // version would.
  static void Reseal(std::string& bytes, uint32_t version = kFormatVersion) {
    FilePrelude* p = PreludeOf(bytes);
    p->magic = kIndexMagic;
    p->version = version;
    p->checksum = XXH3_64bits(p, offsetof(FilePrelude, checksum));
  }

  TempDir tmp_;
  const std::string path_ = tmp_.Sub("index");
  const std::shared_ptr<FaultEnv> env_ = std::make_shared<FaultEnv>();
};

// ---- Create -----------------------------------------------------------------

TEST_F(IndexFileTest, CreateMakesAnEmptyIndexOfTheDocumentedSize) {
  env_->SetNowMillis(1700000000123);
  auto index = CreateOrDie(2048);
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(ReadWholeFile(path_).size(), 4096u + 16 * 2048);
  EXPECT_EQ(index->file_bytes(), 4096u + 16 * 2048);
  EXPECT_EQ(index->capacity(), 2048u);
  EXPECT_EQ(index->generation(), 5u);
  EXPECT_EQ(index->log_id(), 3u);
  EXPECT_EQ(index->format_version(), kFormatVersion);
  const IndexHeader& h = index->header();
  EXPECT_OK(CheckPrelude(h.prelude, kIndexMagic, "index"));
  EXPECT_EQ(h.prelude.header_size, kIndexHeaderSize);
  EXPECT_EQ(h.prelude.capacity, 2048u);
  EXPECT_EQ(h.prelude.created_ms, 1700000000123u);
  EXPECT_EQ(h.log_end, kLogHeaderSize);
  EXPECT_FALSE(index->superseded());
  EXPECT_EQ(h.live_slots + h.tombstones + h.live_bytes + h.dead_bytes +
                h.evictions + h.compactions + h.corrupt_records,
            0u);
  int64_t filled = 0;
  index->ForEachLiveSlot([&](uint64_t, uint64_t) { ++filled; });
  EXPECT_EQ(filled, 0);
  // What Create wrote is what Open reads.
  Result<std::unique_ptr<IndexFile>> again =
      IndexFile::Open(env_, path_, false);
  ASSERT_OK(again);
  EXPECT_EQ((*again)->capacity(), 2048u);
  EXPECT_EQ((*again)->generation(), 5u);
  EXPECT_EQ((*again)->log_id(), 3u);
}

TEST_F(IndexFileTest, CreateAllocatesTheWholeFileOrLeavesNothing) {
  const uint64_t bytes = IndexFileBytes(kCapacity);
  env_->SetSpaceLimit(bytes - 1);
  Result<std::unique_ptr<IndexFile>> index =
      IndexFile::Create(env_, path_, kCapacity, 1, 1);
  EXPECT_TRUE(index.status().IsNoSpace()) << index.status().ToString();
  EXPECT_EQ(ListDirNames(tmp_.path()), std::vector<std::string>{})
      << "a failed create left its file";
  env_->SetSpaceLimit(bytes);
  ASSERT_NE(CreateOrDie(), nullptr);
  EXPECT_EQ(env_->SpaceRemaining(), 0u);
}

TEST_F(IndexFileTest, CreateReplacesALeftover) {
  ASSERT_TRUE(WriteWholeFile(path_, "a leftover of a crashed rebuild", 0600));
  auto index = CreateOrDie();
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(ReadWholeFile(path_).size(), IndexFileBytes(kCapacity));
  EXPECT_OK(IndexFile::Open(env_, path_, false));
}

TEST_F(IndexFileTest, CreateRemovesItsFileWhenMappingFails) {
  env_->FailNext(Op::kMap, Status::IOError("mmap: ENOMEM"));
  Result<std::unique_ptr<IndexFile>> index =
      IndexFile::Create(env_, path_, kCapacity, 1, 1);
  EXPECT_EQ(index.status().code(), Status::Code::kIOError);
  EXPECT_EQ(ListDirNames(tmp_.path()), std::vector<std::string>{});
}

// ---- Open -------------------------------------------------------------------

TEST_F(IndexFileTest, OpenOfAMissingIndexIsNotFound) {
  EXPECT_TRUE(OpenStatus().IsNotFound());
  EXPECT_TRUE(OpenStatus(/*writable=*/true).IsNotFound());
}

TEST_F(IndexFileTest, OpenRefusesAFileOfTheWrongSize) {
  const std::string good = CreatedBytes();
  for (size_t size : {size_t{0}, size_t{63}, size_t{64}, size_t{4095},
                      size_t{4096}, good.size() - 16, good.size() - 1,
                      good.size() + 1, good.size() + 16, 2 * good.size()}) {
    std::string bytes = good;
    bytes.resize(size, '\0');
    Rewrite(bytes);
    const Status s = OpenStatus();
    EXPECT_EQ(s.code(), Status::Code::kCorruption)
        << size << " bytes: " << s.ToString();
  }
  Rewrite(good);
  EXPECT_OK(OpenStatus());
}

TEST_F(IndexFileTest, OpenRefusesACapacityOutsideTheRules) {
  const std::string good = CreatedBytes();
  // Each file is sized for the capacity it claims, so only the capacity
  // rule can refuse it.
  for (uint64_t capacity : {uint64_t{0}, uint64_t{512}, uint64_t{1023},
                            uint64_t{1536}, uint64_t{3072}}) {
    std::string bytes = good;
    bytes.resize(IndexFileBytes(capacity), '\0');
    PreludeOf(bytes)->capacity = capacity;
    Reseal(bytes);
    Rewrite(bytes);
    const Status s = OpenStatus();
    EXPECT_EQ(s.code(), Status::Code::kCorruption)
        << "capacity " << capacity << ": " << s.ToString();
  }
  std::string bytes = good;
  bytes.resize(IndexFileBytes(2048), '\0');
  PreludeOf(bytes)->capacity = 2048;
  Reseal(bytes);
  Rewrite(bytes);
  EXPECT_OK(OpenStatus());
}

TEST_F(IndexFileTest, OpenRefusesADamagedOrForeignPrelude) {
  const std::string good = CreatedBytes();
  std::string bytes = good;
  bytes[17] ^= 0x01;  // the generation, under the checksum
  Rewrite(bytes);
  EXPECT_EQ(OpenStatus().code(), Status::Code::kCorruption);

  bytes = good;
  PreludeOf(bytes)->header_size = 64;
  Reseal(bytes);
  Rewrite(bytes);
  EXPECT_EQ(OpenStatus().code(), Status::Code::kCorruption);

  bytes = good;  // a log's prelude
  PreludeOf(bytes)->magic = kLogMagic;
  PreludeOf(bytes)->checksum =
      XXH3_64bits(bytes.data(), offsetof(FilePrelude, checksum));
  Rewrite(bytes);
  EXPECT_EQ(OpenStatus().code(), Status::Code::kCorruption);

  bytes = good;
  Reseal(bytes, 0);
  Rewrite(bytes);
  EXPECT_EQ(OpenStatus().code(), Status::Code::kCorruption);

  bytes = good;
  Reseal(bytes, 1);  // format version 1 is read
  Rewrite(bytes);
  EXPECT_OK(OpenStatus());
}

TEST_F(IndexFileTest, OpenRefusesANewerIndexAsSuchWhateverItsSize) {
  std::string bytes = CreatedBytes();
  Reseal(bytes, kFormatVersion + 1);
  Rewrite(bytes);
  EXPECT_EQ(OpenStatus().code(), Status::Code::kVersionTooNew);
  EXPECT_EQ(OpenStatus(/*writable=*/true).code(), Status::Code::kVersionTooNew);
  // A newer version may lay out what follows its prelude differently: it
  // is still refused as newer, not as damaged (index_file.cc checks the
  // prelude first).
  bytes.resize(100);
  Rewrite(bytes);
  EXPECT_EQ(OpenStatus().code(), Status::Code::kVersionTooNew);
}

TEST_F(IndexFileTest, OnlyAWritableOpenAllocatesAndItsFailureIsReturned) {
  ASSERT_NE(CreateOrDie(), nullptr);
  env_->ResetCalls();
  EXPECT_OK(OpenStatus(/*writable=*/false));
  EXPECT_EQ(env_->Calls(Op::kAllocate), 0);
  EXPECT_OK(OpenStatus(/*writable=*/true));
  EXPECT_EQ(env_->Calls(Op::kAllocate), 1);
  // Allocating what the file holds needs no space.
  env_->SetSpaceLimit(0);
  EXPECT_OK(OpenStatus(/*writable=*/true));
  env_->FailNext(Op::kAllocate, Status::NoSpace("fallocate: ENOSPC"));
  EXPECT_TRUE(OpenStatus(/*writable=*/true).IsNoSpace());
  EXPECT_OK(OpenStatus(/*writable=*/false));
}

TEST_F(IndexFileTest, HandlesShareTheFileThroughTheirMappings) {
  auto writer = CreateOrDie();
  ASSERT_NE(writer, nullptr);
  Result<std::unique_ptr<IndexFile>> reader =
      IndexFile::Open(env_, path_, false);
  ASSERT_OK(reader);
  writer->Fill(7, 1234, 4096);
  StoreShared(writer->header().log_end, 4096 + 64);
  StoreShared(writer->header().superseded, 1);
  EXPECT_EQ(LoadShared((*reader)->slot(7).tag), 1234u);
  EXPECT_EQ(LoadShared((*reader)->slot(7).loc), 4096u);
  EXPECT_EQ(LoadShared((*reader)->header().log_end), 4096u + 64);
  EXPECT_TRUE((*reader)->superseded());
}

// ---- Find, FindAfter --------------------------------------------------------

// A tag whose probe chain starts at `home`.
constexpr uint64_t TagAt(uint64_t home, uint64_t salt = 1) {
  return (salt << 20) | home;
}

class ProbeTest : public IndexFileTest {
 protected:
  void SetUp() override {
    index_ = CreateOrDie();
    ASSERT_NE(index_, nullptr);
  }
  // The locs Find(tag) asks about, in order, answering `yes_at` with true.
  std::vector<uint64_t> Asked(uint64_t tag, int64_t* found,
                              int64_t* free_slot = nullptr,
                              uint64_t yes_at = ~uint64_t{0}) {
    std::vector<uint64_t> asked;
    *found = index_->Find(
        tag,
        [&](uint64_t loc) {
          asked.push_back(loc);
          return loc == yes_at;
        },
        free_slot);
    return asked;
  }
  void Tombstone(uint64_t i) {
    StoreShared(index_->slot(i).tag, kTombstoneTag);
  }

  std::unique_ptr<IndexFile> index_;
};

TEST_F(ProbeTest, AnEmptyHomeSlotEndsTheProbeAtOnce) {
  const uint64_t tag = TagAt(10);
  int64_t found = 0, free_slot = 0;
  EXPECT_TRUE(Asked(tag, &found, &free_slot).empty());
  EXPECT_EQ(found, -1);
  EXPECT_EQ(free_slot, 10);
}

TEST_F(ProbeTest, FindWalksTheChainPastTombstonesAndWrapsAround) {
  const uint64_t tag = TagAt(1021);
  const uint64_t other = TagAt(1021, 2);  // same home, another key's tag
  index_->Fill(1021, tag, 100);
  index_->Fill(1022, other, 999);
  Tombstone(1023);
  index_->Fill(0, tag, 200);  // wrapped around
  index_->Fill(1, tag, 300);
  // Slot 2 is empty: the chain ends there.
  index_->Fill(3, tag, 400);
  int64_t found = 0, free_slot = 0;
  EXPECT_EQ(Asked(tag, &found, &free_slot),
            (std::vector<uint64_t>{100, 200, 300}))
      << "only the tag's own slots, in probe order, up to the empty slot";
  EXPECT_EQ(found, -1);
  EXPECT_EQ(free_slot, 1023) << "the first tombstone passed";
  EXPECT_EQ(Asked(tag, &found, nullptr, 200),
            (std::vector<uint64_t>{100, 200}));
  EXPECT_EQ(found, 0);
  // Without the tombstone, the free slot is the empty one ending the chain.
  index_->Fill(1023, other, 999);
  Asked(tag, &found, &free_slot);
  EXPECT_EQ(free_slot, 2);
}

TEST_F(ProbeTest, FindAfterContinuesTheChainFromTheNextSlot) {
  const uint64_t tag = TagAt(1022);
  index_->Fill(1022, tag, 100);
  Tombstone(1023);
  index_->Fill(0, tag, 200);
  index_->Fill(1, tag, 300);
  std::vector<uint64_t> asked;
  auto note = [&](uint64_t loc) {
    asked.push_back(loc);
    return false;
  };
  EXPECT_EQ(index_->FindAfter(tag, 1022, note), -1);
  EXPECT_EQ(asked, (std::vector<uint64_t>{200, 300}));
  asked.clear();
  EXPECT_EQ(index_->FindAfter(tag, 0, note), -1);
  EXPECT_EQ(asked, (std::vector<uint64_t>{300}));
  EXPECT_EQ(
      index_->FindAfter(tag, 1022, [](uint64_t loc) { return loc == 300; }), 1);
}

TEST_F(ProbeTest, AFullTableEndsAfterOneRoundAndOffersItsTombstone) {
  const uint64_t tag = TagAt(500);
  for (uint64_t i = 0; i < kCapacity; ++i) index_->Fill(i, tag, 64 + 16 * i);
  int64_t found = 0, free_slot = 0;
  std::vector<uint64_t> asked = Asked(tag, &found, &free_slot);
  ASSERT_EQ(asked.size(), kCapacity) << "every slot once, then stop";
  EXPECT_EQ(asked.front(), 64 + 16 * 500u);
  EXPECT_EQ(asked.back(), 64 + 16 * 499u);
  EXPECT_EQ(found, -1);
  EXPECT_EQ(free_slot, -1);
  // FindAfter visits every other slot, never the one it started after.
  uint64_t calls = 0;
  bool saw_start = false;
  EXPECT_EQ(index_->FindAfter(tag, 1023,
                              [&](uint64_t loc) {
                                ++calls;
                                saw_start |= loc == 64 + 16 * 1023u;
                                return false;
                              }),
            -1);
  EXPECT_EQ(calls, kCapacity - 1);
  EXPECT_FALSE(saw_start);
  Tombstone(600);
  Asked(tag, &found, &free_slot);
  EXPECT_EQ(free_slot, 600);
}

TEST_F(ProbeTest, ForEachLiveSlotVisitsKeyTagsInSlotOrder) {
  index_->Fill(900, TagAt(900), 1);
  index_->Fill(3, TagAt(3), 2);
  index_->Fill(4, TagAt(4), 3);
  Tombstone(4);
  std::vector<uint64_t> locs;
  index_->ForEachLiveSlot([&](uint64_t tag, uint64_t loc) {
    EXPECT_GT(tag, kTombstoneTag);
    locs.push_back(loc);
  });
  EXPECT_EQ(locs, (std::vector<uint64_t>{2, 1}));
}

// ---- Fill -------------------------------------------------------------------

// Fill stores loc before tag, so a reader that loads the tag (acquire) and
// then the loc sees the loc written with that tag or a later one, never an
// earlier one. Sound whatever the timing; catches a reversed order only
// when the interleaving shows it.
TEST_F(ProbeTest, AReaderOfAFilledTagSeesItsLocOrALaterOne) {
  constexpr uint64_t kRounds = 200000;
  std::atomic<bool> done{false};
  uint64_t stale = 0;
  std::thread reader([&] {
    while (!done.load(std::memory_order_acquire)) {
      const uint64_t tag = LoadShared(index_->slot(9).tag);
      const uint64_t loc = LoadShared(index_->slot(9).loc);
      if (tag >= 2 && loc < tag) ++stale;  // loc k goes with tag k
    }
  });
  for (uint64_t k = 2; k < kRounds; ++k) {
    index_->Fill(9, k, k);
    if (k % 2 == 0) StoreShared(index_->slot(9).tag, kTombstoneTag);
  }
  done.store(true, std::memory_order_release);
  reader.join();
  EXPECT_EQ(stale, 0u);
  EXPECT_EQ(index_->slot(9).tag, kRounds - 1);
  EXPECT_EQ(index_->slot(9).loc, kRounds - 1);
}

// ---- Linked, Sync -----------------------------------------------------------

TEST_F(IndexFileTest, LinkedTurnsFalseOnceARenameReplacesTheFile) {
  auto index = CreateOrDie();
  ASSERT_NE(index, nullptr);
  Result<bool> linked = index->Linked();
  ASSERT_OK(linked);
  EXPECT_TRUE(*linked);
  const std::string tmp_path = tmp_.Sub("index.tmp");
  auto next = IndexFile::Create(env_, tmp_path, kCapacity, 6, 4);
  ASSERT_OK(next);
  ASSERT_OK(env_->Rename(tmp_path, path_));
  linked = index->Linked();
  ASSERT_OK(linked);
  EXPECT_FALSE(*linked) << "a newer index was renamed over it";
  linked = (*next)->Linked();
  ASSERT_OK(linked);
  EXPECT_TRUE(*linked);
  ASSERT_OK(env_->Remove(path_));
  linked = (*next)->Linked();
  ASSERT_OK(linked);
  EXPECT_FALSE(*linked);
}

TEST_F(IndexFileTest, FailuresOfStatAndSyncAreReturned) {
  auto index = CreateOrDie();
  ASSERT_NE(index, nullptr);
  env_->FailNext(Op::kStat, Status::IOError("fstat: EIO"));
  EXPECT_EQ(index->Linked().status().code(), Status::Code::kIOError);
  EXPECT_OK(index->Sync());
  env_->FailNext(Op::kSync, Status::IOError("fdatasync: EIO"));
  EXPECT_EQ(index->Sync().code(), Status::Code::kIOError);
}

}  // namespace
}  // namespace ucache::fcache_internal
