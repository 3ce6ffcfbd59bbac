// The writer (src/fcache/writer.h, doc/format.md sections 3, 5 and 8),
// called directly on stores made by hand (tests/fcache_fixture.h): each
// decision PrepareAppend makes before an append, and what Commit changes,
// including duplicate slots it retires and sync failures it returns.

#include "src/fcache/writer.h"

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "src/fcache/compactor.h"
#include "src/fcache/format.h"
#include "src/fcache/record.h"
#include "tests/fcache_fixture.h"
#include "tests/testutil.h"

namespace ucache::fcache_internal {
namespace {

using Op = FaultEnv::Op;

// The raw record of a 1-byte key and a value of up to 16 bytes.
constexpr uint64_t kSmall = 64;
// A fresh store's index: 1024 slots.
constexpr uint64_t kIndexBytes = 4096 + 16 * 1024;

// A FaultEnv whose `fail_sync_at`-th Sync from now fails (1 = the next).
class NthSyncFailsEnv : public FaultEnv {
 public:
  Status Sync(int fd) override {
    if (fail_sync_at > 0 && --fail_sync_at == 0) {
      return Status::IOError("fdatasync: EIO");
    }
    return FaultEnv::Sync(fd);
  }
  int fail_sync_at = 0;
};

class WriterTest : public StoreTest {
 protected:
  WriterTest() : StoreTest(std::make_shared<NthSyncFailsEnv>()) {}

  // The record holds a view of `value`, which must outlive it.
  static EncodedRecord Encode(std::string_view key, std::string_view value,
                              bool erase = false) {
    EncodedRecord record;
    EncodeRecord(erase ? kRecordErase : kRecordPut, key, value, 0, RawOptions(),
                 &record);
    return record;
  }
  Result<AppendPrep> Prepare(std::string_view key, uint64_t size,
                             bool erase = false, bool evicted = false) {
    return PrepareAppend(*gen_, key, KeyTag(key), size, erase, evicted,
                         options_, dir_);
  }
  // Prepares (expecting kReady) and commits a put or an erase.
  Status Write(std::string_view key, std::string_view value, bool erase,
               bool* replaced, bool sync = false) {
    const EncodedRecord record = Encode(key, value, erase);
    Result<AppendPrep> prep = Prepare(key, record.size(), erase);
    if (!prep.ok()) return prep.status();
    EXPECT_EQ(prep->kind, AppendPrep::kReady);
    return Commit(*gen_, *lock_, key, KeyTag(key), record, erase, *prep, sync,
                  replaced);
  }
  // Reserves the log up to `end` and moves log_end there, as if records
  // filled it.
  void ExtendLogEnd(uint64_t end) {
    Result<bool> reserved = gen_->log->Reserve(
        H().log_end, end - H().log_end, std::numeric_limits<uint64_t>::max());
    ASSERT_OK(reserved);
    ASSERT_TRUE(*reserved);
    StoreShared(H().log_end, end);
  }
  IndexHeader& H() const { return gen_->index->header(); }
  int64_t SlotOfKey(std::string_view key) const {
    return gen_->index->Find(KeyTag(key), [&](uint64_t loc) {
      RecordView r;
      return gen_->Parse(loc, &r) && r.key == key;
    });
  }
  NthSyncFailsEnv& env() { return static_cast<NthSyncFailsEnv&>(*env_); }

  FileCacheOptions options_ = RawOptions();
};

// ---- PrepareAppend ----------------------------------------------------------

TEST_F(WriterTest, ANewKeyIsReadyAtLogEndWithItsSpaceReserved) {
  Result<AppendPrep> prep = Prepare("k", 100);
  ASSERT_OK(prep);
  EXPECT_EQ(prep->kind, AppendPrep::kReady);
  EXPECT_EQ(prep->log_end, kLogHeaderSize);
  EXPECT_EQ(prep->lookup.slot, -1);
  EXPECT_EQ(prep->lookup.free_slot,
            static_cast<int64_t>(KeyTag("k") & (1024 - 1)));
  EXPECT_FALSE(prep->lookup.old_known);
  EXPECT_GE(ReadWholeFile(Path(LogFileName(1))).size(), 164u);
}

TEST_F(WriterTest, AnExistingKeyIsFoundWithItsRecord) {
  Put("k", "value");
  Result<AppendPrep> prep = Prepare("k", 100);
  ASSERT_OK(prep);
  EXPECT_EQ(prep->kind, AppendPrep::kReady);
  EXPECT_EQ(prep->lookup.slot, SlotOfKey("k"));
  EXPECT_TRUE(prep->lookup.old_known);
  EXPECT_EQ(prep->lookup.old_size, kSmall);
  EXPECT_EQ(prep->lookup.old_raw, 5u);
  EXPECT_EQ(prep->lookup.old_stored, 5u);
}

TEST_F(WriterTest, AnUnreadableRecordOfTheKeysTagCountsAsTheKeys) {
  int64_t free_slot = -1;
  gen_->index->Find(
      KeyTag("k"), [](uint64_t) { return false; }, &free_slot);
  ASSERT_GE(free_slot, 0);
  gen_->index->Fill(free_slot, KeyTag("k"), uint64_t{1} << 30);
  Result<AppendPrep> prep = Prepare("k", kSmall);
  ASSERT_OK(prep);
  EXPECT_EQ(prep->kind, AppendPrep::kReady);
  EXPECT_EQ(prep->lookup.slot, free_slot);
  EXPECT_FALSE(prep->lookup.old_known);
}

TEST_F(WriterTest, AnUnusableLogEndAsksForARewrite) {
  Put("k", "v");
  const uint64_t good = H().log_end;
  for (uint64_t bad :
       {gen_->log->readable() + 16, uint64_t{32}, uint64_t{0}, good + 8}) {
    StoreShared(H().log_end, bad);
    Result<AppendPrep> prep = Prepare("k", kSmall);
    ASSERT_OK(prep);
    EXPECT_EQ(prep->kind, AppendPrep::kRewrite) << "log_end " << bad;
    EXPECT_TRUE(prep->plan.copy_log);
    EXPECT_EQ(prep->plan.live_byte_budget, 0u);
  }
  StoreShared(H().log_end, good);
  Result<AppendPrep> prep = Prepare("k", kSmall);
  ASSERT_OK(prep);
  EXPECT_EQ(prep->kind, AppendPrep::kReady);
}

TEST_F(WriterTest, ARecordThatFitsMaxBytesExactlyIsReady) {
  options_.max_bytes = kLogHeaderSize + kSmall + kIndexBytes;
  Result<AppendPrep> prep = Prepare("k", kSmall);
  ASSERT_OK(prep);
  EXPECT_EQ(prep->kind, AppendPrep::kReady);
}

TEST_F(WriterTest, PastMaxBytesAnEvictingCompactionComesFirst) {
  options_.max_bytes = 40000;
  ExtendLogEnd(20000);
  Result<AppendPrep> prep = Prepare("k", 1000);
  ASSERT_OK(prep);
  EXPECT_EQ(prep->kind, AppendPrep::kRewrite);
  EXPECT_TRUE(prep->plan.copy_log);
  // target 30000 - (64 + index + record)
  EXPECT_EQ(prep->plan.live_byte_budget, 30000 - (64 + kIndexBytes + 1000));
  // An erase checks before it learns whether its key exists.
  prep = Prepare("absent", 1000, /*erase=*/true);
  ASSERT_OK(prep);
  EXPECT_EQ(prep->kind, AppendPrep::kRewrite);
}

TEST_F(WriterTest, PastMaxBytesAfterEvictingTheStoreIsFull) {
  options_.max_bytes = 40000;
  ExtendLogEnd(20000);
  Result<AppendPrep> prep = Prepare("k", 1000, false, /*evicted=*/true);
  EXPECT_TRUE(prep.status().IsNoSpace()) << prep.status().ToString();
  EXPECT_NE(prep.status().message().find("max_bytes=40000"),
            std::string_view::npos);
}

TEST_F(WriterTest, ARecordTooLargeForAnEmptyStoreIsRefusedAsSuch) {
  options_.max_bytes = 40000;  // target 30000
  ExtendLogEnd(20000);
  Result<AppendPrep> prep = Prepare("k", 30000 - 64 - kIndexBytes);
  EXPECT_EQ(prep.status().code(), Status::Code::kInvalidArgument)
      << prep.status().ToString();
  // 16 bytes less fits an empty store: evict for it.
  prep = Prepare("k", 30000 - 64 - kIndexBytes - 16);
  ASSERT_OK(prep);
  EXPECT_EQ(prep->kind, AppendPrep::kRewrite);
  EXPECT_EQ(prep->plan.live_byte_budget, 16u);
}

TEST_F(WriterTest, AStoreWhoseRebuiltIndexLeavesNoRoomIsFull) {
  // The live_slots hint sizes the rebuilt index, bounded by the slots that
  // exist: 1024 live need 4096 slots.
  StoreShared(H().live_slots, uint64_t{1} << 40);
  options_.max_bytes = 100000;  // target 75000
  ExtendLogEnd(80000);
  const uint64_t size = 6000;  // 64 + (4096 + 16 * 4096) + 6000 >= 75000
  Result<AppendPrep> prep = Prepare("k", size);
  EXPECT_TRUE(prep.status().IsNoSpace()) << prep.status().ToString();
}

TEST_F(WriterTest, AnIndexPastItsLoadIsRebuiltFirst) {
  StoreShared(H().live_slots, 700);
  StoreShared(H().tombstones, 15);  // 715 + 1 <= 0.7 * 1024
  Result<AppendPrep> prep = Prepare("k", kSmall);
  ASSERT_OK(prep);
  EXPECT_EQ(prep->kind, AppendPrep::kReady);
  StoreShared(H().tombstones, 16);  // 716 + 1 > 716.8
  ExtendLogEnd(1024);
  StoreShared(H().dead_bytes, 512);  // half the log: not mostly dead
  prep = Prepare("k", kSmall);
  ASSERT_OK(prep);
  EXPECT_EQ(prep->kind, AppendPrep::kRewrite);
  EXPECT_FALSE(prep->plan.copy_log);
  StoreShared(H().dead_bytes, 513);
  prep = Prepare("k", kSmall);
  ASSERT_OK(prep);
  EXPECT_EQ(prep->kind, AppendPrep::kRewrite);
  EXPECT_TRUE(prep->plan.copy_log);
}

TEST_F(WriterTest, AnEraseOfAnAbsentKeyIsLoggedAndNamesNoSlot) {
  bool replaced = true;
  ASSERT_OK(Write("other", "v", false, &replaced));
  const uint64_t log_end = H().log_end;
  const uint64_t live_slots = H().live_slots;
  ASSERT_OK(Write("k", "", /*erase=*/true, &replaced));
  EXPECT_FALSE(replaced);
  // Its record follows, so that a scan of the log forgets any record of the
  // key no slot names; it is dead at once, and no slot changed.
  EXPECT_EQ(H().log_end, log_end + 48);
  EXPECT_EQ(H().dead_bytes, 48u);
  EXPECT_EQ(H().live_slots, live_slots);
  EXPECT_EQ(H().tombstones, 0u);
  EXPECT_LT(SlotOfKey("k"), 0);
  EXPECT_EQ(Get("other"), "v");
}

// A record no slot names (a writer died between its append and its commit)
// must be forgotten by a recovery from the log after an erase of its key,
// logged or, on a full disk, made in place.
class WriterOrphanTest : public WriterTest {
 protected:
  // Erases "k" beside its orphan record, then recovers from the log;
  // returns the recovered generation.
  std::unique_ptr<Generation> EraseThenRecover(bool in_place) {
    Put("other", "x");
    AppendRecord(kRecordPut, "k", "uncommitted");
    EXPECT_EQ(Get("k"), std::nullopt);
    bool replaced = true;
    if (in_place) {
      EXPECT_OK(EraseWithoutRecord(*gen_, *lock_, "k", KeyTag("k"),
                                   /*sync=*/false, &replaced));
      EXPECT_EQ(LoadShared(lock_->publication().unlogged_erases), 1u);
    } else {
      EXPECT_OK(Write("k", "", /*erase=*/true, &replaced));
    }
    EXPECT_FALSE(replaced);
    Result<std::unique_ptr<Generation>> recovered =
        Recover(env_, dir_, *lock_, /*now_ms=*/0);
    EXPECT_OK(recovered);
    return recovered.ok() ? std::move(*recovered) : nullptr;
  }
};

TEST_F(WriterOrphanTest, ALoggedEraseForgetsIt) {
  std::unique_ptr<Generation> recovered = EraseThenRecover(false);
  ASSERT_NE(recovered, nullptr);
  EXPECT_EQ(Get(*recovered, "k"), std::nullopt);
  EXPECT_EQ(Get(*recovered, "other"), "x");  // and costs no other key
}

TEST_F(WriterOrphanTest, AnEraseInPlaceForgetsTheStore) {
  std::unique_ptr<Generation> recovered = EraseThenRecover(true);
  ASSERT_NE(recovered, nullptr);
  EXPECT_EQ(Get(*recovered, "k"), std::nullopt);
  EXPECT_EQ(Get(*recovered, "other"), std::nullopt);
}

TEST_F(WriterTest, AFullTableIsRebuiltInPlace) {
  // Only damaged counters let every slot fill up: they say it is empty.
  for (uint64_t i = 0; i < 1024; ++i) gen_->index->Fill(i, 1000000 + i, 64);
  ASSERT_EQ(H().live_slots, 0u);
  Result<AppendPrep> prep = Prepare("k", kSmall);
  ASSERT_OK(prep);
  EXPECT_EQ(prep->kind, AppendPrep::kRewrite);
  EXPECT_FALSE(prep->plan.copy_log);
}

TEST_F(WriterTest, ARecordPastTheMappingAsksForARemap) {
  const uint64_t length = gen_->log->mapping()->length();
  const uint64_t size = length - kLogHeaderSize + 16;
  Result<AppendPrep> prep = Prepare("k", size);
  ASSERT_OK(prep);
  EXPECT_EQ(prep->kind, AppendPrep::kRemap);
  EXPECT_EQ(prep->remap_to, kLogHeaderSize + size);
  EXPECT_EQ(ReadWholeFile(Path(LogFileName(1))).size(), kLogHeaderSize)
      << "reserved before the remap";
}

TEST_F(WriterTest, AFullDiskFailsThePreparationNamingTheStore) {
  env_->SetSpaceLimit(0);
  Result<AppendPrep> prep = Prepare("k", kSmall);
  EXPECT_TRUE(prep.status().IsNoSpace()) << prep.status().ToString();
  EXPECT_NE(prep.status().message().find(dir_), std::string_view::npos);
}

TEST_F(WriterTest, TheReservationLeavesRoomForAnIndexRebuild) {
  options_.max_bytes = 100000;
  Result<AppendPrep> prep = Prepare("k", 55000);
  ASSERT_OK(prep);
  EXPECT_EQ(prep->kind, AppendPrep::kReady);
  // Reserving an eighth ahead would reach 65536; max_bytes - 2 * index
  // stops it.
  EXPECT_EQ(ReadWholeFile(Path(LogFileName(1))).size(),
            100000 - 2 * kIndexBytes);
}

// ---- Commit -----------------------------------------------------------------

TEST_F(WriterTest, CommitOfANewKeyFillsAFreeSlot) {
  bool replaced = true;
  ASSERT_OK(Write("k", "value", false, &replaced));
  EXPECT_FALSE(replaced);
  EXPECT_EQ(H().log_end, kLogHeaderSize + kSmall);
  const int64_t slot = SlotOfKey("k");
  ASSERT_GE(slot, 0);
  EXPECT_EQ(gen_->index->slot(slot).tag, KeyTag("k"));
  EXPECT_EQ(gen_->index->slot(slot).loc, kLogHeaderSize);
  EXPECT_EQ(H().live_slots, 1u);
  EXPECT_EQ(H().live_bytes, kSmall);
  EXPECT_EQ(H().raw_value_bytes, 5u);
  EXPECT_EQ(H().stored_value_bytes, 5u);
  EXPECT_EQ(H().dead_bytes, 0u);
  EXPECT_EQ(Get("k"), "value");
}

TEST_F(WriterTest, CommitOfAnOverwriteAndAnEraseKeepsTheCounters) {
  bool replaced = false;
  ASSERT_OK(Write("k", "value", false, &replaced));
  const int64_t slot = SlotOfKey("k");
  ASSERT_OK(Write("k", "v2", false, &replaced));
  EXPECT_TRUE(replaced);
  EXPECT_EQ(SlotOfKey("k"), slot);
  EXPECT_EQ(gen_->index->slot(slot).loc, kLogHeaderSize + kSmall);
  EXPECT_EQ(H().live_slots, 1u);
  EXPECT_EQ(H().live_bytes, kSmall);
  EXPECT_EQ(H().dead_bytes, kSmall);
  EXPECT_EQ(H().raw_value_bytes, 2u);
  EXPECT_EQ(Get("k"), "v2");

  ASSERT_OK(Write("k", "", /*erase=*/true, &replaced));
  EXPECT_TRUE(replaced);
  EXPECT_EQ(gen_->index->slot(slot).tag, kTombstoneTag);
  EXPECT_EQ(H().live_slots, 0u);
  EXPECT_EQ(H().tombstones, 1u);
  EXPECT_EQ(H().live_bytes, 0u);
  EXPECT_EQ(H().raw_value_bytes, 0u);
  EXPECT_EQ(H().dead_bytes, 2 * kSmall + 48);  // the erase record is dead
  EXPECT_EQ(H().log_end, kLogHeaderSize + 2 * kSmall + 48);
  EXPECT_EQ(Get("k"), std::nullopt);

  // The key comes back into its tombstone.
  ASSERT_OK(Write("k", "v3", false, &replaced));
  EXPECT_FALSE(replaced);
  EXPECT_EQ(SlotOfKey("k"), slot);
  EXPECT_EQ(H().tombstones, 0u);
  EXPECT_EQ(H().live_slots, 1u);
}

// A damaged index naming `key` from two slots: the first names the newer
// record, the next slot of the chain the older one.
class WriterDuplicateTest : public WriterTest {
 protected:
  void SetUp() override {
    WriterTest::SetUp();
    older_ = Put("k", "old");
    Put("k", "new");
    slot_ = SlotOfKey("k");
    ASSERT_GE(slot_, 0);
    next_ = (slot_ + 1) % 1024;
    ASSERT_EQ(gen_->index->slot(next_).tag, kEmptyTag);
    gen_->index->Fill(next_, KeyTag("k"), older_);
    AddShared(H().live_slots, 1);
    ASSERT_EQ(SlotsNaming(*gen_, "k"), 2);
  }
  uint64_t older_ = 0;
  int64_t slot_ = -1;
  uint64_t next_ = 0;
};

TEST_F(WriterDuplicateTest, APutRetiresTheOlderSlotOfItsKey) {
  bool replaced = false;
  ASSERT_OK(Write("k", "newest", false, &replaced));
  EXPECT_TRUE(replaced);
  EXPECT_EQ(SlotsNaming(*gen_, "k"), 1);
  EXPECT_EQ(gen_->index->slot(next_).tag, kTombstoneTag);
  EXPECT_EQ(H().live_slots, 1u);
  EXPECT_EQ(H().tombstones, 1u);
  EXPECT_EQ(Get("k"), "newest");
}

TEST_F(WriterDuplicateTest, AnEraseLeavesNoOlderVersionBehind) {
  bool replaced = false;
  ASSERT_OK(Write("k", "", /*erase=*/true, &replaced));
  EXPECT_EQ(SlotsNaming(*gen_, "k"), 0);
  EXPECT_EQ(Get("k"), std::nullopt) << "an older version surfaced";
}

TEST_F(WriterDuplicateTest, ASlotOfTheSameTagForAnotherKeyStays) {
  // Point the second slot at a record of another key instead (two keys may
  // share a tag).
  const uint64_t other = AppendRecord(kRecordPut, "other", "x");
  StoreShared(gen_->index->slot(next_).loc, other);
  bool replaced = false;
  ASSERT_OK(Write("k", "newest", false, &replaced));
  EXPECT_EQ(gen_->index->slot(next_).tag, KeyTag("k"));
  EXPECT_EQ(gen_->index->slot(next_).loc, other);
}

// The lock file's committed log end bounds what recovery reads: a synced
// put whose end a power loss took from the lock file would be forgotten by
// a recovery. Before: the log and the index only.
TEST_F(WriterTest, ASyncedCommitSyncsTheLogThenTheIndexAndTheLockFile) {
  std::vector<std::string> synced;
  env_->OnSync([&](const std::string& name) { synced.push_back(name); });
  bool replaced = false;
  ASSERT_OK(Write("k", "v", false, &replaced, /*sync=*/true));
  EXPECT_EQ(synced,
            (std::vector<std::string>{LogFileName(1), "index", "lock"}));
  synced.clear();
  ASSERT_OK(Write("k", "v", false, &replaced, /*sync=*/false));
  EXPECT_TRUE(synced.empty());
}

TEST_F(WriterTest, AFailedLogSyncIsReturnedBeforeTheRecordCommits) {
  env_->FailNext(Op::kSync, Status::IOError("fdatasync: EIO"));
  bool replaced = false;
  const Status s = Write("k", "v", false, &replaced, /*sync=*/true);
  EXPECT_EQ(s.code(), Status::Code::kIOError) << s.ToString();
  EXPECT_NE(s.message().find(LogFileName(1)), std::string_view::npos);
  EXPECT_EQ(H().log_end, kLogHeaderSize);
  EXPECT_EQ(Get("k"), std::nullopt);
}

TEST_F(WriterTest, AFailedIndexSyncIsReturnedAfterTheRecordCommitted) {
  env().fail_sync_at = 2;
  bool replaced = true;
  const Status s = Write("k", "v", false, &replaced, /*sync=*/true);
  EXPECT_EQ(s.code(), Status::Code::kIOError) << s.ToString();
  EXPECT_NE(s.message().find("index"), std::string_view::npos);
  EXPECT_FALSE(replaced);
  EXPECT_EQ(H().log_end, kLogHeaderSize + kSmall);
  EXPECT_EQ(Get("k"), "v") << "committed in memory, as documented";
}

TEST_F(WriterTest, AFailedLockFileSyncIsReturnedAfterTheRecordCommitted) {
  env().fail_sync_at = 3;
  bool replaced = true;
  const Status s = Write("k", "v", false, &replaced, /*sync=*/true);
  EXPECT_EQ(s.code(), Status::Code::kIOError) << s.ToString();
  EXPECT_NE(s.message().find("lock file"), std::string_view::npos);
  EXPECT_EQ(LoadShared(H().log_end), kLogHeaderSize + kSmall);
  EXPECT_EQ(Get("k"), "v") << "committed in memory, as documented";
}

// An erase made in place leaves the erased value in the log, and only the
// count in the lock file keeps recovery from bringing it back: with sync,
// the count must be on disk before the tombstone can be. Before: an erase
// in place synced nothing at all, so after a power loss the index could
// still name the value it had erased.
TEST_F(WriterTest, ASyncedEraseInPlaceSyncsItsCountBeforeItsTombstone) {
  Put("k", "v");
  std::vector<std::string> synced;
  uint64_t count_at_lock_sync = 0;
  std::optional<std::string> value_at_lock_sync;
  env_->OnSync([&](const std::string& name) {
    synced.push_back(name);
    if (name == "lock") {
      count_at_lock_sync = LoadShared(lock_->publication().unlogged_erases);
      value_at_lock_sync = Get("k");
    }
  });
  bool replaced = false;
  ASSERT_OK(EraseWithoutRecord(*gen_, *lock_, "k", KeyTag("k"),
                               /*sync=*/true, &replaced));
  EXPECT_TRUE(replaced);
  EXPECT_EQ(synced, (std::vector<std::string>{"lock", "index"}));
  EXPECT_EQ(count_at_lock_sync, 1u);
  EXPECT_EQ(value_at_lock_sync, "v") << "the tombstone came before the count";
  EXPECT_EQ(Get("k"), std::nullopt);

  // A key the index lacks changes no slot: the count alone is synced.
  synced.clear();
  ASSERT_OK(EraseWithoutRecord(*gen_, *lock_, "absent", KeyTag("absent"),
                               /*sync=*/true, &replaced));
  EXPECT_FALSE(replaced);
  EXPECT_EQ(synced, (std::vector<std::string>{"lock"}));
}

// The erase must take effect for every process even when its count could
// not be made durable; the index is then not synced, and the error says so.
TEST_F(WriterTest, AnEraseInPlaceWhoseCountFailsToSyncErasesAndSyncsNoIndex) {
  Put("k", "v");
  std::vector<std::string> synced;
  env_->OnSync([&](const std::string& name) { synced.push_back(name); });
  env_->FailNext(Op::kSync, Status::IOError("fdatasync: EIO"));
  bool replaced = false;
  const Status s = EraseWithoutRecord(*gen_, *lock_, "k", KeyTag("k"),
                                      /*sync=*/true, &replaced);
  EXPECT_EQ(s.code(), Status::Code::kIOError) << s.ToString();
  EXPECT_NE(s.message().find(LogFileName(1)), std::string_view::npos);
  EXPECT_TRUE(replaced);
  EXPECT_EQ(Get("k"), std::nullopt);
  EXPECT_EQ(synced, (std::vector<std::string>{"lock"}));
}

}  // namespace
}  // namespace ucache::fcache_internal
