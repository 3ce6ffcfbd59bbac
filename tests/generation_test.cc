// Tests of generations and their publication (doc/format.md, sections 6 and
// 7): the publication record's rules, and every crash window of a
// publication, each made deterministic by a FaultEnv that kills a child
// process at a chosen system call, checked through FileCache as users see
// it. Each window here once served a replaced value, lost a synced write or
// changed the bytes of a held view.

#include "src/fcache/generation.h"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "src/fcache/format.h"
#include "src/fcache/lock_file.h"
#include "tests/stress_util.h"
#include "tests/testutil.h"
#include "ucache/file_cache.h"

namespace ucache {
namespace {

using fcache_internal::LoadShared;
using fcache_internal::Publication;
using std::chrono::milliseconds;

constexpr milliseconds kChildTimeout(30000);

// In a child process, opens `dir` and compacts it, dying as FaultEnv's
// CrashAt (`after` false) or CrashAfter (`after` true) of the first
// `op` call of the compaction says. Expects the child to die that way.
void CompactAndDie(const std::string& dir, FaultEnv::Op op, bool after) {
  const pid_t child = Spawn([&]() -> int {
    auto env = std::make_shared<FaultEnv>();
    FileCacheOptions options;
    options.env = env;
    auto cache = FileCache::Open(dir, options);
    if (!cache.ok()) return 1;
    if (after) {
      env->CrashAfter(op, 1);
    } else {
      env->CrashAt(op, 1);
    }
    (void)(*cache)->Compact();
    return 2;  // the crash did not come
  });
  const ChildExit exit = WaitChild(child, kChildTimeout);
  ASSERT_EQ(exit.code(), FaultEnv::kCrashExitCode)
      << "the publisher did not die at " << OpName(op);
}

// The publication record of the store in `dir`, as a read-only handle
// would map it.
Publication ReadPublication(const std::string& dir) {
  auto lock = fcache_internal::LockFile::OpenReadOnly(NewPosixEnv(), dir);
  EXPECT_OK(lock);
  if (!lock.ok()) return {};
  return (*lock)->publication();
}

// ---- the record ------------------------------------------------------------

TEST(GenerationTest, PublicationsAnnounceAndCommitTheirGeneration) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  auto cache = OpenStore(dir);
  ASSERT_NE(cache, nullptr);
  ASSERT_OK(cache->Put("k", "v"));
  ASSERT_OK(cache->Compact());
  Result<FileCacheStats> stats = cache->GetStats();
  ASSERT_OK(stats);
  const Publication p = ReadPublication(dir);
  EXPECT_EQ(p.announced_generation, stats->generation);
  EXPECT_EQ(p.committed_generation, stats->generation);
  EXPECT_EQ(p.announced_log_id, p.committed_log_id);
  EXPECT_EQ(
      ListDirNames(dir),
      (std::vector<std::string>{
          "index", "lock", fcache_internal::LogFileName(p.committed_log_id)}));
}

TEST(GenerationTest, NextGenerationPassesTheRecordButNotGarbage) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  ASSERT_NE(OpenStore(dir), nullptr);
  auto env = NewPosixEnv();
  auto lock = fcache_internal::LockFile::Open(env, dir);
  ASSERT_OK(lock);
  Publication& p = (*lock)->publication();
  p.announced_generation = 40;  // a publisher died after announcing 40
  p.committed_generation = 39;
  EXPECT_EQ(fcache_internal::NextGeneration(7, **lock), 41u);
  EXPECT_EQ(fcache_internal::NextGeneration(50, **lock), 51u);
  p.announced_generation = ~uint64_t{0} - 3;  // damage
  EXPECT_EQ(fcache_internal::NextGeneration(7, **lock), 40u);
}

// ---- crash windows ---------------------------------------------------------

// A compactor killed on return from rename(), before it marks the old index
// superseded. A surviving writer that is also behind on the log (another
// handle appended past what it mapped) used to catch up on the log alone and
// put its next writes into the index nobody reads any more: a fresh handle
// read the replaced value forever.
TEST(GenerationTest, WriterBehindOnTheLogMovesOffAnIndexRenamedAway) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  auto survivor = OpenStore(dir);
  ASSERT_NE(survivor, nullptr);
  ASSERT_OK(survivor->Put("k", "v1"));
  {
    // Past the survivor's reservation, so that it is behind on the file.
    auto other = OpenStore(dir);
    ASSERT_NE(other, nullptr);
    ASSERT_OK(other->Put("big", std::string(8 << 20, 'x')));
  }
  CompactAndDie(dir, FaultEnv::Op::kRename, /*after=*/true);

  ASSERT_OK(survivor->Put("k", "v2"));
  ASSERT_OK(survivor->Sync());
  auto fresh = OpenStore(dir);
  ASSERT_NE(fresh, nullptr);
  EXPECT_EQ(GetOrMiss(*fresh, "k"), "v2") << "the write went to a dead index";
  EXPECT_EQ(GetOrMiss(*survivor, "k"), "v2");
  Result<VerifyReport> report = fresh->Verify();
  ASSERT_OK(report);
  EXPECT_TRUE(report->clean());
}

// The same dead publisher, seen by a read-only handle: it never writes, so
// nothing used to make it look, and it served the replaced value forever.
TEST(GenerationTest, ReadOnlyHandleSeesWritesAfterAPublisherDiedOnRename) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  {
    auto writer = OpenStore(dir);
    ASSERT_NE(writer, nullptr);
    ASSERT_OK(writer->Put("k", "v1"));
  }
  FileCacheOptions ro;
  ro.read_only = true;
  auto reader = OpenStore(dir, ro);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(GetOrMiss(*reader, "k"), "v1");
  CompactAndDie(dir, FaultEnv::Op::kRename, /*after=*/true);

  auto writer = OpenStore(dir);
  ASSERT_NE(writer, nullptr);
  ASSERT_OK(writer->Put("k", "v2"));
  EXPECT_EQ(GetOrMiss(*reader, "k"), "v2");
  ASSERT_OK(writer->Erase("k"));
  EXPECT_EQ(GetOrMiss(*reader, "k"), "<miss>");
}

// An Env that, at the first read-only mapping (the log, while opening the
// current generation), lets a publisher run and die after its rename, and
// another handle then commit and sync a write to the new generation: the
// opener has read the old index, which is now replaced but not marked.
class PublisherDiesWhileOpeningEnv : public FaultEnv {
 public:
  explicit PublisherDiesWhileOpeningEnv(std::string dir)
      : dir_(std::move(dir)) {}
  Result<void*> Map(int fd, uint64_t len, bool writable) override {
    if (!writable && !fired_) {
      fired_ = true;
      CompactAndDie(dir_, FaultEnv::Op::kRename, /*after=*/true);
      auto writer = OpenStore(dir_);
      EXPECT_OK(writer->Put("k", "synced v2"));
      EXPECT_OK(writer->Sync());
    }
    return FaultEnv::Map(fd, len, writable);
  }
  bool fired() const { return fired_; }

 private:
  const std::string dir_;
  bool fired_ = false;
};

// Open-time cleanup trusted `superseded` alone: an open racing that dead
// publisher removed the current log as a leftover, and the whole store,
// including a synced write, was gone.
TEST(GenerationTest, OpenCleanupNeverRemovesTheCurrentLog) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  {
    auto writer = OpenStore(dir);
    ASSERT_NE(writer, nullptr);
    ASSERT_OK(writer->Put("k", "v1"));
  }
  auto env = std::make_shared<PublisherDiesWhileOpeningEnv>(dir);
  FileCacheOptions options;
  options.env = env;
  auto opener = OpenStore(dir, options);
  ASSERT_NE(opener, nullptr);
  ASSERT_TRUE(env->fired());
  EXPECT_EQ(GetOrMiss(*opener, "k"), "synced v2");
  auto fresh = OpenStore(dir);
  ASSERT_NE(fresh, nullptr);
  EXPECT_EQ(GetOrMiss(*fresh, "k"), "synced v2");
  Result<FileCacheStats> stats = fresh->GetStats();
  ASSERT_OK(stats);
  EXPECT_EQ(stats->entries, 1u);
}

// A compactor killed before its rename leaves log.<id+1> holding the live
// records as they were then. Writes go on into the current log. With the
// index then lost (or its prelude damaged), recovery took the newest log,
// the leftover: replaced and erased values came back, and Verify said clean.
class RecoveryAfterCrashedCompactionTest : public testing::TestWithParam<bool> {
};

TEST_P(RecoveryAfterCrashedCompactionTest, NeverBringsBackOlderValues) {
  const bool remove_index = GetParam();
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  {
    auto writer = OpenStore(dir);
    ASSERT_NE(writer, nullptr);
    ASSERT_OK(writer->Put("k", "v1"));
    ASSERT_OK(writer->Put("e", "erased later"));
    CompactAndDie(dir, FaultEnv::Op::kRename, /*after=*/false);
    ASSERT_OK(writer->Put("k", "v2"));
    ASSERT_OK(writer->Erase("e"));
  }
  if (remove_index) {
    ASSERT_EQ(::unlink((dir + "/index").c_str()), 0);
  } else {
    DamageIndexPrelude(dir);
  }
  auto recovered = OpenStore(dir);
  ASSERT_NE(recovered, nullptr);
  EXPECT_EQ(GetOrMiss(*recovered, "k"), "v2");
  EXPECT_EQ(GetOrMiss(*recovered, "e"), "<miss>");
}

INSTANTIATE_TEST_SUITE_P(IndexLostOrDamaged, RecoveryAfterCrashedCompactionTest,
                         testing::Bool());

// A handle whose generation was replaced, and which then finds the current
// index damaged, used to fail every call with Corruption until a fresh open
// recovered the store. A writable handle recovers it itself.
TEST(GenerationTest, WritableHandleRecoversAnIndexDamagedUnderIt) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  auto cache = OpenStore(dir);
  ASSERT_NE(cache, nullptr);
  ASSERT_OK(cache->Put("k", "v"));
  {
    auto other = OpenStore(dir);
    ASSERT_NE(other, nullptr);
    ASSERT_OK(other->Compact());
  }
  DamageIndexPrelude(dir);
  EXPECT_EQ(GetOrMiss(*cache, "k"), "v");
  ASSERT_OK(cache->Put("k", "v2"));
  auto fresh = OpenStore(dir);
  ASSERT_NE(fresh, nullptr);
  EXPECT_EQ(GetOrMiss(*fresh, "k"), "v2");
}

// Recovery used to keep the log and move log_end back before a damaged
// record, so later appends overwrote bytes that a zero-copy view of another
// handle still pointed at. It recovers into a new log.
TEST(GenerationTest, RecoveryNeverRewritesBytesUnderAView) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  FileCacheOptions raw;
  raw.compression = Compression::kNone;
  auto holder = OpenStore(dir, raw);
  ASSERT_NE(holder, nullptr);
  ASSERT_OK(holder->Put("first", "1"));
  ASSERT_OK(holder->Put("damaged", "2"));
  const std::string big(64 << 10, 'b');
  ASSERT_OK(holder->Put("viewed", big));
  ValueView view;
  ASSERT_OK(holder->GetView("viewed", &view));
  ASSERT_TRUE(view.zero_copy());

  // The second record starts after the first (32 header + 5 key -> 48, +16
  // value): make its key length impossible, so the scan stops there.
  const uint64_t second = 64 + 64;
  const int fd =
      ::open((dir + "/" + fcache_internal::LogFileName(1)).c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  const uint32_t bad_key_len = 0;
  ASSERT_EQ(::pwrite(fd, &bad_key_len, 4, second + 8), 4);
  ::close(fd);
  ASSERT_EQ(::unlink((dir + "/index").c_str()), 0);

  auto recovered = OpenStore(dir, raw);
  ASSERT_NE(recovered, nullptr);
  for (int i = 0; i < 64; ++i) {
    ASSERT_OK(
        recovered->Put("new" + std::to_string(i), std::string(4096, 'n')));
  }
  EXPECT_TRUE(view.data() == big) << "a held view changed under its holder";
}

// Names the log offset `loc` from the slot after the home slot of `key`'s
// tag in the index of the store in `dir`, which no handle has open: what a
// damaged or forged index can do.
void NameFromTheSlotAfterHome(const std::string& dir, std::string_view key,
                              uint64_t loc) {
  const uint64_t tag =
      fcache_internal::TagOf(XXH3_64bits(key.data(), key.size()));
  const int fd = ::open((dir + "/index").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  uint64_t capacity = 0;
  ASSERT_EQ(::pread(fd, &capacity, 8, 32), 8);
  const uint64_t next = ((tag & (capacity - 1)) + 1) & (capacity - 1);
  const fcache_internal::Slot slot{tag, loc};
  ASSERT_EQ(::pwrite(fd, &slot, sizeof(slot), 4096 + 16 * next),
            static_cast<ssize_t>(sizeof(slot)));
  ::close(fd);
}

// A damaged index can name one key from two slots. Compaction reinserted in
// log order, so the older record took the earlier probe slot and was served.
TEST(GenerationTest, CompactionKeepsTheNewestOfTwoSlotsOfOneKey) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  {
    auto cache = OpenStore(dir);
    ASSERT_NE(cache, nullptr);
    ASSERT_OK(cache->Put("k", "old"));  // the log's first record, at 64
    ASSERT_OK(cache->Put("k", "new"));
  }
  // Name the old record again from the slot after the key's.
  ASSERT_NO_FATAL_FAILURE(NameFromTheSlotAfterHome(dir, "k", 64));

  auto cache = OpenStore(dir);
  ASSERT_NE(cache, nullptr);
  Result<VerifyReport> report = cache->Verify();
  ASSERT_OK(report);
  EXPECT_EQ(report->duplicate_slots, 1u);
  EXPECT_FALSE(report->clean());
  EXPECT_EQ(GetOrMiss(*cache, "k"), "new");
  ASSERT_OK(cache->Compact());
  EXPECT_EQ(GetOrMiss(*cache, "k"), "new");
  report = cache->Verify();
  ASSERT_OK(report);
  EXPECT_TRUE(report->clean());
}

// An append reads the records its key's probe chain names before it takes
// the writers' mutex (Generation::PrefetchAppend). A damaged slot may name
// any offset: one past the mapping must not be read there either.
TEST(GenerationTest, AppendOverASlotNamingAnOffsetPastTheLogSucceeds) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  {
    auto cache = OpenStore(dir);
    ASSERT_NE(cache, nullptr);
    ASSERT_OK(cache->Put("k", "old"));
  }
  ASSERT_NO_FATAL_FAILURE(
      NameFromTheSlotAfterHome(dir, "k", uint64_t{1} << 44));

  auto cache = OpenStore(dir);
  ASSERT_NE(cache, nullptr);
  ASSERT_OK(cache->Put("k", "new"));
  EXPECT_EQ(GetOrMiss(*cache, "k"), "new");
}

// ---- what a publication reports ---------------------------------------------

// With sync_writes, a directory sync that fails after the rename used to be
// dropped: Clear said OK for a generation that might not survive a power
// loss.
TEST(GenerationTest, FailedDirectorySyncIsReported) {
  TempDir tmp;
  auto env = std::make_shared<FaultEnv>();
  FileCacheOptions options;
  options.env = env;
  options.sync_writes = true;
  auto cache = OpenStore(tmp.Sub("store"), options);
  ASSERT_NE(cache, nullptr);
  ASSERT_OK(cache->Put("k", "v"));
  env->FailNext(FaultEnv::Op::kSyncDir, Status::IOError("fsync: EIO"));
  Status s = cache->Clear();
  EXPECT_EQ(s.code(), Status::Code::kIOError) << s.ToString();
  // The generation was published all the same: the clear took effect.
  EXPECT_EQ(GetOrMiss(*cache, "k"), "<miss>");
  ASSERT_OK(cache->Put("k", "again"));
  EXPECT_EQ(GetOrMiss(*cache, "k"), "again");
}

// With sync_writes, a publication makes its record durable before the
// directory, and clears the count of erases made in place only after both:
// a power loss that brought the old index back must find the record naming
// no older log than that index's, and the count still set. Before: the lock
// file was never synced, and the count was cleared before the directory
// sync.
TEST(GenerationTest, ASyncedPublicationSyncsItsRecordThenTheDirectory) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  auto env = std::make_shared<FaultEnv>();
  FileCacheOptions options;
  options.env = env;
  options.sync_writes = true;
  auto cache = OpenStore(dir, options);
  ASSERT_NE(cache, nullptr);
  ASSERT_OK(cache->Put("k", "v"));
  auto lock = fcache_internal::LockFile::Open(NewPosixEnv(), dir);
  ASSERT_OK(lock);
  Publication& p = (*lock)->publication();
  p.unlogged_erases = 1;  // as an erase made in place on a full disk leaves
  std::vector<std::string> synced;
  uint64_t count_at_dir_sync = 0, committed_at_dir_sync = 0;
  env->OnSync([&](const std::string& name) {
    synced.push_back(name);
    if (name == dir + "/") {
      count_at_dir_sync = LoadShared(p.unlogged_erases);
      committed_at_dir_sync = LoadShared(p.committed_log_id);
    }
  });
  ASSERT_OK(cache->Clear());
  ASSERT_GE(synced.size(), 2u);
  EXPECT_EQ(synced[synced.size() - 2], "lock");
  EXPECT_EQ(synced.back(), dir + "/");
  EXPECT_EQ(committed_at_dir_sync, 2u) << "the record before the directory";
  EXPECT_EQ(count_at_dir_sync, 1u) << "the count cleared before the sync";
  EXPECT_EQ(LoadShared(p.unlogged_erases), 0u);
  env->OnSync(nullptr);
}

// The automatic compaction after a write is maintenance: its failure used
// to be returned as the write's, for a write that had committed.
TEST(GenerationTest, WriteReportsItsCommitApartFromMaintenance) {
  TempDir tmp;
  auto env = std::make_shared<FaultEnv>();
  FileCacheOptions options;
  options.env = env;
  options.compaction_min_bytes = 0;
  options.compaction_dead_ratio = 0.0;  // any dead byte makes one due
  auto cache = OpenStore(tmp.Sub("store"), options);
  ASSERT_NE(cache, nullptr);
  ASSERT_OK(cache->Put("k", "v1"));
  EXPECT_OK(cache->MaintenanceStatus());
  env->FailNext(FaultEnv::Op::kRename, Status::IOError("rename: EIO"));
  EXPECT_OK(cache->Put("k", "v2"));  // committed; its compaction failed
  EXPECT_EQ(GetOrMiss(*cache, "k"), "v2");
  EXPECT_EQ(cache->MaintenanceStatus().code(), Status::Code::kIOError);
  Result<FileCacheStats> stats = cache->GetStats();
  ASSERT_OK(stats);
  EXPECT_EQ(stats->maintenance_failures, 1u);
  EXPECT_OK(cache->Put("k", "v3"));  // compacts again, and succeeds
  EXPECT_OK(cache->MaintenanceStatus());
  EXPECT_EQ(GetOrMiss(*cache, "k"), "v3");
}

// A write from inside a Compact progress callback took the writers' mutex
// its own thread held, and waited forever.
TEST(GenerationTest, WriteFromACompactCallbackFailsInsteadOfDeadlocking) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  const pid_t child = Spawn([&]() -> int {
    auto cache = FileCache::Open(dir);
    auto other = FileCache::Open(dir);  // a second handle of the store
    if (!cache.ok() || !other.ok()) return 1;
    for (int i = 0; i < 100; ++i) {
      if (!(*cache)->Put("k" + std::to_string(i), "v").ok()) return 2;
    }
    int busy = 0, calls = 0;
    Status s = (*cache)->Compact([&](uint64_t, uint64_t) {
      ++calls;
      busy += (*cache)->Put("x", "y").code() == Status::Code::kBusy;
      busy += (*other)->Erase("k1").code() == Status::Code::kBusy;
    });
    if (!s.ok() || calls == 0) return 3;
    return busy == 2 * calls ? 0 : 4;
  });
  const ChildExit exit = WaitChild(child, kChildTimeout);
  EXPECT_FALSE(exit.timed_out) << "deadlocked";
  EXPECT_EQ(exit.code(), 0);
}

}  // namespace
}  // namespace ucache
