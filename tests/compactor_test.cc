// The compactor (src/fcache/compactor.h, doc/format.md sections 6 to 8),
// called directly on stores made by hand (tests/fcache_fixture.h):
// compaction keeps the newest of each key and drops and counts what it must,
// eviction keeps the newest-written, an index rebuild keeps the log,
// PublishEmpty, and recovery's choice of log.

#include "src/fcache/compactor.h"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "src/fcache/format.h"
#include "src/fcache/record.h"
#include "tests/fcache_fixture.h"
#include "tests/testutil.h"

namespace ucache::fcache_internal {
namespace {

using Op = FaultEnv::Op;
using Names = std::vector<std::string>;

// Raw records of a 2-byte key and a value of up to 16 bytes take 64 bytes.
constexpr uint64_t kSmall = 64;

class CompactorTest : public StoreTest {
 protected:
  Result<std::unique_ptr<Generation>> CompactWith(const CompactionPlan& plan) {
    return Compact(env_, dir_, *lock_, *gen_, plan);
  }
  // Compacts and makes the result the fixture's generation.
  void CompactOrDie(const CompactionPlan& plan = {}) {
    Result<std::unique_ptr<Generation>> gen = CompactWith(plan);
    ASSERT_OK(gen);
    old_ = std::move(gen_);
    gen_ = std::move(*gen);
  }
  const IndexHeader& H() const { return gen_->index->header(); }
  Names StoreFiles(std::vector<uint64_t> logs) const {
    Names names = {"index", "lock"};
    for (uint64_t id : logs) names.push_back(LogFileName(id));
    return names;
  }
  Publication Record() const { return lock_->publication(); }
  // Fills the first free slot of `tag`'s chain with `loc`, as damage would.
  void FillFree(uint64_t tag, uint64_t loc) {
    int64_t free_slot = -1;
    gen_->index->Find(
        tag, [](uint64_t) { return false; }, &free_slot);
    ASSERT_GE(free_slot, 0);
    gen_->index->Fill(free_slot, tag, loc);
  }

  std::unique_ptr<Generation> old_;  // the generation a compaction replaced
};

// ---- Compact ----------------------------------------------------------------

TEST_F(CompactorTest, CopiesTheLiveRecordsInLogOrderAndPublishesThem) {
  Put("a", "1");
  Put("b", "2");
  Put("a", "3");
  Put("c", "4");
  Erase("c");
  const uint64_t generation = gen_->index->generation();
  CompactOrDie();
  EXPECT_EQ(gen_->log->id(), 2u);
  EXPECT_EQ(gen_->index->generation(), generation + 1);
  EXPECT_EQ(Get("a"), "3");
  EXPECT_EQ(Get("b"), "2");
  EXPECT_EQ(Get("c"), std::nullopt);
  EXPECT_EQ(H().live_slots, 2u);
  EXPECT_EQ(H().tombstones, 0u);
  EXPECT_EQ(H().log_end, kLogHeaderSize + 2 * kSmall);
  EXPECT_EQ(H().live_bytes, 2 * kSmall);
  EXPECT_EQ(H().dead_bytes, 0u);
  EXPECT_EQ(H().compactions, 1u);
  // b was written before the newest a: it comes first in the new log.
  const int64_t b =
      gen_->index->Find(KeyTag("b"), [](uint64_t) { return true; });
  ASSERT_GE(b, 0);
  EXPECT_EQ(gen_->index->slot(b).loc, kLogHeaderSize);
  // The old generation is superseded and its log gone; the record names
  // the new one.
  EXPECT_TRUE(old_->index->superseded());
  EXPECT_EQ(ListDirNames(dir_), StoreFiles({2}));
  EXPECT_EQ(Record().committed_generation, generation + 1);
  EXPECT_EQ(Record().committed_log_id, 2u);
  EXPECT_EQ(Record().announced_generation, generation + 1);
}

// A damaged index can name one key from two slots, in either order.
class CompactorDuplicateTest : public CompactorTest,
                               public testing::WithParamInterface<bool> {};

TEST_P(CompactorDuplicateTest, KeepsTheNewestOfTwoSlotsOfOneKey) {
  const bool newest_first = GetParam();
  const uint64_t older = Put("k", "old");
  const uint64_t newer = Put("k", "new");
  const uint64_t tag = KeyTag("k");
  const int64_t slot = gen_->index->Find(tag, [](uint64_t) { return true; });
  ASSERT_GE(slot, 0);
  const uint64_t next = (slot + 1) % gen_->index->capacity();
  ASSERT_EQ(gen_->index->slot(next).tag, kEmptyTag);
  StoreShared(gen_->index->slot(slot).loc, newest_first ? newer : older);
  gen_->index->Fill(next, tag, newest_first ? older : newer);
  AddShared(gen_->index->header().live_slots, 1);
  ASSERT_EQ(SlotsNaming(*gen_, "k"), 2);

  CompactOrDie();
  EXPECT_EQ(Get("k"), "new");
  EXPECT_EQ(SlotsNaming(*gen_, "k"), 1);
  EXPECT_EQ(H().live_slots, 1u);
  EXPECT_EQ(H().corrupt_records, 1u) << "the replaced duplicate is counted";
}

INSTANTIATE_TEST_SUITE_P(EitherOrder, CompactorDuplicateTest, testing::Bool());

TEST_F(CompactorTest, DropsExpiredAndUnreadableRecordsAndCountsThem) {
  IndexHeader& old = gen_->index->header();
  old.evictions = 5;
  old.expired_dropped = 1;
  old.corrupt_records = 2;
  old.compactions = 7;
  Put("live", "v");
  Put("later", "v", /*expires_ms=*/2000);
  Put("now", "v", /*expires_ms=*/1000);  // expired at 1000 exactly
  Put("past", "v", /*expires_ms=*/5);
  const uint64_t damaged = Put("damaged", "value");
  FlipByte(LogFileName(1), damaged + ValueOffset(7));
  // A slot past log_end, and a slot whose record holds a key of another tag.
  const uint64_t live_loc =
      gen_->index
          ->slot(
              gen_->index->Find(KeyTag("live"), [](uint64_t) { return true; }))
          .loc;
  FillFree(TagOf(100), LoadShared(old.log_end) + 4096);
  FillFree(TagOf(200), live_loc);

  CompactionPlan plan;
  plan.now_ms = 1000;
  CompactOrDie(plan);
  EXPECT_EQ(Get("live"), "v");
  EXPECT_EQ(Get("later"), "v");
  for (const char* gone : {"now", "past", "damaged"}) {
    EXPECT_EQ(Get(gone), std::nullopt) << gone;
  }
  EXPECT_EQ(H().live_slots, 2u);
  EXPECT_EQ(H().expired_dropped, 1u + 2);
  EXPECT_EQ(H().corrupt_records, 2u + 3);
  EXPECT_EQ(H().evictions, 5u);
  EXPECT_EQ(H().compactions, 8u);
}

TEST_F(CompactorTest, AnEvictingCompactionKeepsTheNewestWritten) {
  for (int i = 0; i < 10; ++i) Put("k" + std::to_string(i), "v");
  CompactionPlan plan;
  plan.live_byte_budget = 3 * kSmall + kSmall / 2;
  CompactOrDie(plan);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(Get("k" + std::to_string(i)),
              i >= 7 ? std::optional<std::string>("v") : std::nullopt)
        << i;
  }
  EXPECT_EQ(H().evictions, 7u);
  EXPECT_EQ(H().live_bytes, 3 * kSmall);
}

TEST_F(CompactorTest, EvictionStopsAtTheFirstRecordThatDoesNotFit) {
  Put("a", "1");
  Put("b", std::string(1000, 'b'));
  Put("c", "3");
  CompactionPlan plan;
  plan.live_byte_budget = 2 * kSmall + 10;  // a and c would fit; b does not
  CompactOrDie(plan);
  EXPECT_EQ(Get("c"), "3");
  EXPECT_EQ(Get("b"), std::nullopt);
  EXPECT_EQ(Get("a"), std::nullopt) << "older than a record that did not fit";
  EXPECT_EQ(H().evictions, 2u);
}

TEST_F(CompactorTest, AnIndexRebuildKeepsTheLogAsItIs) {
  const uint64_t a1 = Put("a", "1");
  Put("b", "2");
  const uint64_t a2 = Put("a", "3");
  Erase("b");
  Put("e", "gone", /*expires_ms=*/10);
  const uint64_t log_end = H().log_end;
  const std::string log_bytes = ReadWholeFile(Path(LogFileName(1)));
  ASSERT_GT(H().tombstones, 0u);
  CompactionPlan plan;
  plan.copy_log = false;
  plan.now_ms = 10;
  CompactOrDie(plan);
  EXPECT_EQ(gen_->log->id(), 1u);
  EXPECT_EQ(gen_->index->generation(), old_->index->generation() + 1);
  EXPECT_TRUE(old_->index->superseded());
  EXPECT_EQ(ReadWholeFile(Path(LogFileName(1))), log_bytes);
  EXPECT_EQ(ListDirNames(dir_), StoreFiles({1}));
  EXPECT_EQ(H().log_end, log_end);
  EXPECT_EQ(Get("a"), "3");
  EXPECT_EQ(Get("b"), std::nullopt);
  EXPECT_EQ(Get("e"), std::nullopt);
  EXPECT_EQ(H().live_slots, 1u);
  EXPECT_EQ(H().tombstones, 0u);
  EXPECT_EQ(H().expired_dropped, 1u);
  EXPECT_EQ(H().live_bytes, kSmall);
  EXPECT_EQ(H().dead_bytes, log_end - kLogHeaderSize - kSmall);
  const int64_t slot =
      gen_->index->Find(KeyTag("a"), [](uint64_t) { return true; });
  ASSERT_GE(slot, 0);
  EXPECT_EQ(gen_->index->slot(slot).loc, a2);
  EXPECT_NE(a1, a2);
}

TEST_F(CompactorTest, AFailedPublicationLeavesTheOldGenerationAsItWas) {
  Put("a", "1");
  const Publication before = Record();
  env_->FailNext(Op::kRename, Status::IOError("rename: EIO"));
  Result<std::unique_ptr<Generation>> gen = CompactWith({});
  EXPECT_EQ(gen.status().code(), Status::Code::kIOError);
  EXPECT_FALSE(gen_->index->superseded());
  EXPECT_EQ(ListDirNames(dir_), StoreFiles({1})) << "leftovers stayed";
  EXPECT_EQ(Record().announced_generation, before.announced_generation)
      << "the announcement was not undone";
  EXPECT_EQ(Record().announced_log_id, 1u);
  EXPECT_EQ(Get("a"), "1");

  env_->SetSpaceLimit(100);  // the new log's header, not its records
  gen = CompactWith({});
  EXPECT_TRUE(gen.status().IsNoSpace()) << gen.status().ToString();
  EXPECT_EQ(ListDirNames(dir_), StoreFiles({1}));
  env_->ClearSpaceLimit();
  CompactOrDie();
  EXPECT_EQ(Get("a"), "1");
}

TEST_F(CompactorTest, ProgressEndsWithEverythingDone) {
  for (int i = 0; i < 5; ++i) Put("k" + std::to_string(i), "v");
  uint64_t last_done = 0, last_total = 0;
  int calls = 0;
  CompactionPlan plan;
  plan.progress = [&](uint64_t done, uint64_t total) {
    ++calls;
    EXPECT_LE(done, total);
    EXPECT_GE(done, last_done);
    last_done = done;
    last_total = total;
  };
  CompactOrDie(plan);
  EXPECT_GE(calls, 1);
  EXPECT_EQ(last_total, 5 * kSmall);
  EXPECT_EQ(last_done, last_total);
}

// ---- PublishEmpty -----------------------------------------------------------

TEST_F(CompactorTest, PublishEmptyReplacesTheGenerationWithAnEmptyOne) {
  Put("a", "1");
  const CarriedCounters counters{3, 4, 5, 6};
  Result<std::unique_ptr<Generation>> gen =
      PublishEmpty(env_, dir_, *lock_, 7, gen_->index->generation(), counters,
                   gen_.get(), false);
  ASSERT_OK(gen);
  EXPECT_EQ((*gen)->log->id(), 7u);
  EXPECT_EQ((*gen)->index->generation(), gen_->index->generation() + 1);
  EXPECT_EQ((*gen)->index->capacity(), kMinCapacity);
  const IndexHeader& h = (*gen)->index->header();
  EXPECT_EQ(h.log_end, kLogHeaderSize);
  EXPECT_EQ(h.live_slots, 0u);
  EXPECT_EQ(h.evictions, 3u);
  EXPECT_EQ(h.expired_dropped, 4u);
  EXPECT_EQ(h.corrupt_records, 5u);
  EXPECT_EQ(h.compactions, 6u);
  EXPECT_EQ(Get(**gen, "a"), std::nullopt);
  EXPECT_TRUE(gen_->index->superseded());
  EXPECT_EQ(ListDirNames(dir_), StoreFiles({7}));
  EXPECT_EQ(Record().committed_log_id, 7u);
}

TEST_F(CompactorTest, AFailedPublishEmptyRemovesItsLog) {
  env_->FailNext(Op::kRename, Status::IOError("rename: EIO"));
  Result<std::unique_ptr<Generation>> gen = PublishEmpty(
      env_, dir_, *lock_, 2, gen_->index->generation(), {}, gen_.get(), false);
  EXPECT_EQ(gen.status().code(), Status::Code::kIOError);
  EXPECT_FALSE(gen_->index->superseded());
  EXPECT_EQ(ListDirNames(dir_), StoreFiles({1}));
}

// ---- Recover ----------------------------------------------------------------

class RecoverTest : public CompactorTest {
 protected:
  Result<std::unique_ptr<Generation>> RecoverAt(int64_t now_ms = 0) {
    return Recover(env_, dir_, *lock_, now_ms);
  }
  void RemoveIndex() { ASSERT_OK(env_->Remove(Path("index"))); }
  void ClearRecord() {
    Publication& p = lock_->publication();
    StoreShared(p.announced_generation, 0);
    StoreShared(p.announced_log_id, 0);
    StoreShared(p.committed_generation, 0);
    StoreShared(p.committed_log_id, 0);
  }
  // Seals log `id`'s prelude with `version`.
  void SetLogVersion(uint64_t id, uint32_t version) {
    std::string bytes = ReadWholeFile(Path(LogFileName(id)));
    auto* p = reinterpret_cast<FilePrelude*>(bytes.data());
    p->version = version;
    p->checksum = XXH3_64bits(p, offsetof(FilePrelude, checksum));
    ASSERT_TRUE(WriteWholeFile(Path(LogFileName(id)), bytes, 0600));
  }
};

TEST_F(RecoverTest, TakesTheLogTheRecordNamesIntoANewLog) {
  Put("a", "v1");
  Put("b", "v2");
  WriteLog(5, {{"a", "stale"}, {"z", "stale"}});  // a leftover, newer id
  RemoveIndex();
  Result<std::unique_ptr<Generation>> gen = RecoverAt();
  ASSERT_OK(gen);
  EXPECT_EQ(Get(**gen, "a"), "v1");
  EXPECT_EQ(Get(**gen, "b"), "v2");
  EXPECT_EQ(Get(**gen, "z"), std::nullopt)
      << "read a log the record does not name";
  EXPECT_EQ((*gen)->log->id(), 6u) << "a name no log has had";
  EXPECT_GT((*gen)->index->generation(), 5u);
  EXPECT_EQ((*gen)->index->header().live_slots, 2u);
  // The recovered-from log is gone; the leftover is for the next open.
  EXPECT_EQ(ListDirNames(dir_), StoreFiles({5, 6}));
  EXPECT_EQ(Record().committed_log_id, 6u);
}

TEST_F(RecoverTest, MarksTheDamagedIndexSuperseded) {
  Put("a", "v1");
  FlipByte("index", 20);
  ASSERT_FALSE(gen_->index->superseded());
  Result<std::unique_ptr<Generation>> gen = RecoverAt();
  ASSERT_OK(gen);
  EXPECT_TRUE(gen_->index->superseded()) << "handles on it would stay";
  EXPECT_EQ(Get(**gen, "a"), "v1");
  EXPECT_EQ((*gen)->log->id(), 2u);
}

TEST_F(RecoverTest, PublishesAnEmptyStoreWhenTheNamedLogIsDamaged) {
  Put("a", "v1");
  WriteLog(5, {{"a", "stale"}, {"z", "stale"}});
  FlipByte(LogFileName(1), 20);  // log 1's prelude
  RemoveIndex();
  Result<std::unique_ptr<Generation>> gen = RecoverAt();
  ASSERT_OK(gen);
  EXPECT_EQ(Get(**gen, "a"), std::nullopt);
  EXPECT_EQ(Get(**gen, "z"), std::nullopt) << "fell back to a leftover";
  EXPECT_EQ((*gen)->index->header().live_slots, 0u);
  EXPECT_EQ((*gen)->log->id(), 6u);
}

TEST_F(RecoverTest, WithoutARecordTakesTheNewestIntactLog) {
  Put("a", "v1");
  WriteLog(3, {{"a", "v3"}});
  WriteLog(4, {{"a", "v4"}});
  FlipByte(LogFileName(4), 20);
  ClearRecord();
  RemoveIndex();
  Result<std::unique_ptr<Generation>> gen = RecoverAt();
  ASSERT_OK(gen);
  EXPECT_EQ(Get(**gen, "a"), "v3");
  EXPECT_EQ((*gen)->log->id(), 5u);
}

TEST_F(RecoverTest, TheScanHonoursErasesAndDropsExpiredRecords) {
  Put("a", "1");
  Put("b", "2", /*expires_ms=*/500);
  Put("c", "3");
  Erase("c");
  Put("d", "4", /*expires_ms=*/5000);
  Put("a", "5");
  RemoveIndex();
  Result<std::unique_ptr<Generation>> gen = RecoverAt(/*now_ms=*/1000);
  ASSERT_OK(gen);
  EXPECT_EQ(Get(**gen, "a"), "5");
  EXPECT_EQ(Get(**gen, "b"), std::nullopt);
  EXPECT_EQ(Get(**gen, "c"), std::nullopt);
  EXPECT_EQ(Get(**gen, "d"), "4");
  const IndexHeader& h = (*gen)->index->header();
  EXPECT_EQ(h.live_slots, 2u);
  EXPECT_EQ(h.expired_dropped, 1u);
  EXPECT_EQ(h.corrupt_records, 0u);
  EXPECT_EQ(h.log_end, kLogHeaderSize + 2 * kSmall);
}

TEST_F(RecoverTest, ARecordFailingItsChecksumDistrustsEverythingBeforeIt) {
  Put("a", "1");
  const uint64_t b = Put("b", "2");
  Put("c", "3");
  FlipByte(LogFileName(1), b + ValueOffset(1));
  RemoveIndex();
  Result<std::unique_ptr<Generation>> gen = RecoverAt();
  ASSERT_OK(gen);
  EXPECT_EQ(Get(**gen, "a"), std::nullopt) << "b may have replaced it";
  EXPECT_EQ(Get(**gen, "b"), std::nullopt);
  EXPECT_EQ(Get(**gen, "c"), "3");
  EXPECT_EQ((*gen)->index->header().corrupt_records, 2u);
}

// Past the end the lock file notes lie only records that never committed
// and whatever else: the scan stops at it.
TEST_F(RecoverTest, TheScanStopsAtTheCommittedEnd) {
  Put("a", "1");
  Put("b", "2");
  const uint64_t end = H().log_end;
  AppendRecord(kRecordPut, "c", "3");  // appended, then never committed:
  StoreShared(gen_->index->header().log_end, end);
  lock_->NoteLogEnd(gen_->log->id(), end);
  std::string bytes = ReadWholeFile(Path(LogFileName(1)));
  ASSERT_GT(bytes.size(), end + 400) << "no reserved tail";
  bytes[end + 300] = 'x';
  ASSERT_TRUE(WriteWholeFile(Path(LogFileName(1)), bytes, 0600));
  RemoveIndex();
  Result<std::unique_ptr<Generation>> gen = RecoverAt();
  ASSERT_OK(gen);
  EXPECT_EQ(Get(**gen, "a"), "1");
  EXPECT_EQ(Get(**gen, "b"), "2");
  EXPECT_EQ(Get(**gen, "c"), std::nullopt) << "served a put never committed";
  EXPECT_EQ((*gen)->index->header().corrupt_records, 0u);
}

// The lock file's words are a hint no checksum covers. Damaged low, they
// put committed records past the end: an erase there must still hide the
// value before it, so every key named past the end is forgotten.
TEST_F(RecoverTest, AKeyNamedPastTheCommittedEndIsForgotten) {
  Put("a", "1");
  Put("b", "2");
  const uint64_t end = H().log_end;
  Erase("a");
  Put("b", "3");
  lock_->NoteLogEnd(gen_->log->id(), end);  // damaged low
  RemoveIndex();
  Result<std::unique_ptr<Generation>> gen = RecoverAt();
  ASSERT_OK(gen);
  EXPECT_EQ(Get(**gen, "a"), std::nullopt) << "served an erased value";
  EXPECT_EQ(Get(**gen, "b"), std::nullopt) << "served a replaced value";
}

// The same with damage past the end as well (a power loss that lost the
// lock file's last pages, and a bit flip): records after the damage are
// found all the same.
TEST_F(RecoverTest, AKeyNamedPastDamagePastTheCommittedEndIsForgotten) {
  Put("a", "1");
  Put("b", "2");
  const uint64_t end = H().log_end;
  Put("c", "3");
  const uint64_t damaged = H().log_end;
  Put("c", "4");
  Erase("a");
  lock_->NoteLogEnd(gen_->log->id(), end);
  FlipByte(LogFileName(1), damaged + 8, 0xff);  // its key_len
  RemoveIndex();
  Result<std::unique_ptr<Generation>> gen = RecoverAt();
  ASSERT_OK(gen);
  EXPECT_EQ(Get(**gen, "a"), std::nullopt) << "served an erased value";
  EXPECT_EQ(Get(**gen, "b"), "2");
}

// Damage past a committed end that is behind can make a committed erase
// unreadable, and then nothing says which key it erased. An intact record
// after bytes that no record covers shows that committed records lie there
// (appends never leave one after a remnant), so recovery trusts nothing.
TEST_F(RecoverTest, DamagePastAnEndThatIsBehindDistrustsTheLog) {
  Put("a", "1");
  Put("b", "2");
  const uint64_t end = H().log_end;
  Erase("a");
  Put("c", "3");
  lock_->NoteLogEnd(gen_->log->id(), end);
  FlipByte(LogFileName(1), end + 22, 0x5a);  // the erase's reserved field
  RemoveIndex();
  Result<std::unique_ptr<Generation>> gen = RecoverAt();
  ASSERT_OK(gen);
  EXPECT_EQ(Get(**gen, "a"), std::nullopt) << "served an erased value";
  EXPECT_EQ(Get(**gen, "b"), std::nullopt);
  EXPECT_EQ((*gen)->index->header().corrupt_records, 2u);
}

// Past the end, holes are stepped over unread: a forged log with a hole of
// a terabyte there, and an erase of "a" after it, costs what its data
// costs (read byte by byte, the hole alone would outlast the test).
TEST_F(RecoverTest, AHolePastTheCommittedEndIsSteppedOver) {
  Put("a", "1");
  EncodedRecord erase;
  EncodeRecord(kRecordErase, "a", "", 0, RawOptions(), &erase);
  std::string bytes;
  AppendFlat(erase, &bytes);
  const int fd = ::open(Path(LogFileName(1)).c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  const ssize_t wrote =
      ::pwrite(fd, bytes.data(), bytes.size(), off_t{1} << 40);
  ::close(fd);
  if (wrote < 0 && errno == EFBIG) GTEST_SKIP() << "no terabyte files here";
  ASSERT_EQ(wrote, static_cast<ssize_t>(bytes.size()));
  RemoveIndex();
  Result<std::unique_ptr<Generation>> gen = RecoverAt();
  ASSERT_OK(gen);
  EXPECT_EQ(Get(**gen, "a"), std::nullopt) << "missed the erase past the hole";
}

// A lock file whose end lies beyond the file, or inside a record, says
// that committed records are missing: any of them may have replaced or
// erased any key, so nothing before is trusted.
TEST_F(RecoverTest, AnEndPastTheFileOrInsideARecordDistrustsTheLog) {
  Put("a", "1");
  Put("b", "22222222222222222222222222222222");
  for (const bool past_the_file : {true, false}) {
    SCOPED_TRACE(past_the_file ? "past the file" : "inside a record");
    const uint64_t lying =
        past_the_file ? gen_->log->readable() + 4096 : H().log_end - 16;
    lock_->NoteLogEnd(gen_->log->id(), lying);
    RemoveIndex();
    Result<std::unique_ptr<Generation>> gen = RecoverAt();
    ASSERT_OK(gen);
    EXPECT_EQ(Get(**gen, "a"), std::nullopt);
    EXPECT_EQ(Get(**gen, "b"), std::nullopt);
    EXPECT_GE((*gen)->index->header().corrupt_records, 1u);
    // Recovery copied nothing into its new log; fill that one again.
    old_ = std::move(gen_);
    gen_ = std::move(*gen);
    Put("a", "1");
    Put("b", "22222222222222222222222222222222");
  }
}

// A log whose end the lock file does not know (format 3 noted none) is
// read up to where its records end: reserved zeros end it, and anything
// else after the last record is damage.
TEST_F(RecoverTest, ReservedZerosEndTheLogAndGarbageAfterItDistrustsIt) {
  Put("a", "1");
  Put("b", "2");
  const uint64_t end = H().log_end;
  ASSERT_GT(gen_->log->readable(), end + 200) << "no reserved tail";
  {
    RemoveIndex();
    Result<std::unique_ptr<Generation>> gen = RecoverAt();
    ASSERT_OK(gen);
    EXPECT_EQ(Get(**gen, "a"), "1");
    EXPECT_EQ(Get(**gen, "b"), "2");
    old_ = std::move(gen_);
    gen_ = std::move(*gen);
  }
  // The recovered log (2) holds a and b; garbage after them is damage.
  const uint64_t log_end = H().log_end;
  std::string bytes = ReadWholeFile(Path(LogFileName(2)));
  bytes.resize(log_end + 512, '\0');
  bytes[log_end + 200] = 'x';
  ASSERT_TRUE(WriteWholeFile(Path(LogFileName(2)), bytes, 0600));
  lock_->NoteLogEnd(0, 0);  // names no log, as in a lock file of format 3
  RemoveIndex();
  Result<std::unique_ptr<Generation>> gen = RecoverAt();
  ASSERT_OK(gen);
  EXPECT_EQ(Get(**gen, "a"), std::nullopt);
  EXPECT_EQ(Get(**gen, "b"), std::nullopt);
  EXPECT_EQ((*gen)->index->header().corrupt_records, 2u);
}

TEST_F(RecoverTest, NeverRebuildsALogANewerVersionWrote) {
  Put("a", "1");
  RemoveIndex();
  SetLogVersion(1, kFormatVersion + 1);
  Result<std::unique_ptr<Generation>> gen = RecoverAt();
  EXPECT_EQ(gen.status().code(), Status::Code::kVersionTooNew)
      << gen.status().ToString();
  EXPECT_EQ(ListDirNames(dir_), (Names{"lock", LogFileName(1)}));
}

TEST_F(RecoverTest, AFailedRecoveryPublishesNothing) {
  Put("a", "1");
  RemoveIndex();
  env_->FailNext(Op::kRename, Status::IOError("rename: EIO"));
  Result<std::unique_ptr<Generation>> gen = RecoverAt();
  EXPECT_EQ(gen.status().code(), Status::Code::kIOError);
  Names names = ListDirNames(dir_);
  EXPECT_EQ(std::count(names.begin(), names.end(), "index"), 0);
  EXPECT_EQ(std::count(names.begin(), names.end(), LogFileName(1)), 1)
      << "the only copy of the records was removed";
  gen = RecoverAt();
  ASSERT_OK(gen);
  EXPECT_EQ(Get(**gen, "a"), "1");
}

}  // namespace
}  // namespace ucache::fcache_internal
