// The writers' lock file (src/fcache/lock_file.h): a robust, process-shared
// mutex in a mapped file. A holder killed while holding it must hand it on,
// garbage left in the file must never block a store nobody has open, a
// newer lock file is refused, and, through FileCache, a writer killed inside
// its critical section leaves a store the others keep using without ever
// reading a wrong value.

#include "src/fcache/lock_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <xxhash.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "src/fcache/format.h"
#include "tests/stress_util.h"
#include "tests/testutil.h"
#include "ucache/ucache.h"

namespace ucache {
namespace {

using fcache_internal::LoadShared;
using fcache_internal::LockFile;
using fcache_internal::WriterLock;
using std::chrono::milliseconds;

const uint64_t kSeed = PickTestSeed("lock_file_test");
constexpr milliseconds kChildTimeout(20000);

std::unique_ptr<LockFile> OpenLockOrDie(const std::string& dir) {
  auto lock = LockFile::Open(NewPosixEnv(), dir);
  EXPECT_OK(lock);
  return lock.ok() ? std::move(*lock) : nullptr;
}

TEST(LockFileTest, ExcludesAcrossHandlesAndThreads) {
  TempDir tmp;
  auto a = OpenLockOrDie(tmp.path());
  auto b = OpenLockOrDie(tmp.path());
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  {
    WriterLock held(a.get());
    ASSERT_OK(held.status());
    EXPECT_FALSE(held.owner_died());
    // The other handle maps the same mutex at another address.
    WriterLock other(b.get(), LockMode::kExclusiveTry);
    EXPECT_EQ(other.status().code(), Status::Code::kBusy);
  }
  WriterLock now(b.get(), LockMode::kExclusiveTry);
  EXPECT_OK(now.status());
}

// Takes the writers' mutex of the store in `dir` in a child process, which
// is then SIGKILLed holding it.
void KillAHolderOfTheMutex(const std::string& dir) {
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = Spawn([&]() -> int {
    close(ready[0]);
    auto lock = LockFile::Open(NewPosixEnv(), dir);
    if (!lock.ok()) return 2;
    bool died = false;
    if (!(*lock)->Lock(LockMode::kExclusiveWait, &died).ok()) return 3;
    char one = 1;
    if (write(ready[1], &one, 1) != 1) return 4;
    for (;;) pause();
  });
  close(ready[1]);
  char byte = 0;
  ASSERT_EQ(read(ready[0], &byte, 1), 1) << "child could not lock";
  close(ready[0]);
  kill(child, SIGKILL);
  const ChildExit ended = WaitChild(child, kChildTimeout);
  ASSERT_TRUE(ended.signaled()) << ended.ToString();
}

// A process SIGKILLed while holding the mutex: the next taker gets it, told
// that the owner died, and after that the mutex is an ordinary one again.
TEST(LockFileTest, HolderKilledWhileHoldingHandsTheLockOn) {
  TempDir tmp;
  auto mine = OpenLockOrDie(tmp.path());  // keeps the file in use
  ASSERT_NE(mine, nullptr);
  KillAHolderOfTheMutex(tmp.path());
  {
    WriterLock after(mine.get());
    ASSERT_OK(after.status());
    EXPECT_TRUE(after.owner_died());
  }
  WriterLock again(mine.get());
  ASSERT_OK(again.status());
  EXPECT_FALSE(again.owner_died());
}

// A holder killed between a commit (or a publication) and its count: the
// next taker counts a change for it, so that near caches look again.
TEST(LockFileTest, HolderKilledWhileHoldingCountsAChange) {
  TempDir tmp;
  auto mine = OpenLockOrDie(tmp.path());
  ASSERT_NE(mine, nullptr);
  const auto changes_now = [&] { return LoadShared(*mine->changes_word()); };
  const auto writes_now = [&] { return LoadShared(*mine->writes_word()); };
  const uint64_t changes = changes_now(), writes = writes_now();
  KillAHolderOfTheMutex(tmp.path());
  {
    WriterLock after(mine.get());
    ASSERT_OK(after.status());
    ASSERT_TRUE(after.owner_died());
  }
  EXPECT_EQ(changes_now(), changes + 1);
  EXPECT_EQ(writes_now(), writes + 1);
  WriterLock again(mine.get());
  ASSERT_OK(again.status());
  EXPECT_EQ(changes_now(), changes + 1) << "counted without a death";
}

// A child's work: opens the lock file of `dir`, takes the writers' mutex
// and lets it go. Its exit code: 0, 2 when the open failed, 3 when the lock
// did, 4 when it was told an owner died.
int LockAndUnlock(const std::string& dir) {
  auto lock = LockFile::Open(NewPosixEnv(), dir);
  if (!lock.ok()) return 2;
  bool owner_died = false;
  if (!(*lock)->Lock(LockMode::kExclusiveWait, &owner_died).ok()) return 3;
  (*lock)->Unlock();
  return owner_died ? 4 : 0;
}

// True while process `pid` sleeps in a futex system call: its
// /proc/<pid>/syscall line then starts with that call's number.
bool SleepsInFutex(pid_t pid) {
  const std::string line =
      ReadWholeFile("/proc/" + std::to_string(pid) + "/syscall");
  return line.rfind(std::to_string(SYS_futex) + " ", 0) == 0;
}

// A waiter whose wakeup was lost: the unlocker wakes one sleeper, which is
// killed before it takes the mutex while a third thread takes it without
// sleeping, so that the mutex no longer says anyone waits, and no unlock
// wakes the sleepers left. That is the state built here, exactly: a child
// sleeps on the mutex we hold, we clear the futex word's "waiters" bit (the
// third thread's fast path leaves it clear), and unlock, which then wakes
// nobody. The child must get the mutex anyway. (With 4 processes hammering
// a bare robust mutex and one of them killed, 339 rounds of 3,000 left a
// waiter asleep on a free mutex.)
TEST(LockFileTest, AWaiterWhoseWakeupWasLostStillGetsTheMutex) {
  if (!fcache_internal::kRobustMutexWaitsInSlices) {
    GTEST_SKIP() << "under the thread sanitizer, LockRobustMutex waits as "
                    "pthread_mutex_lock does (lock_file.h)";
  }
  TempDir tmp;
  auto mine = OpenLockOrDie(tmp.path());
  ASSERT_NE(mine, nullptr);
  bool died = false;
  ASSERT_OK(mine->Lock(LockMode::kExclusiveWait, &died));
  const pid_t child = Spawn([&] { return LockAndUnlock(tmp.path()); });
  // glibc's robust mutex: the futex word is the mutex's first 4 bytes, the
  // owner's thread id with bit 31 set while someone sleeps on it.
  const int fd = open(tmp.Sub("lock").c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  void* map = mmap(nullptr, fcache_internal::kLockFileSize,
                   PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  ASSERT_NE(map, MAP_FAILED);
  auto* word = reinterpret_cast<uint32_t*>(static_cast<char*>(map) +
                                           fcache_internal::kLockMutexOffset);
  constexpr uint32_t kWaiters = 0x80000000u;
  const auto give_up = std::chrono::steady_clock::now() + kChildTimeout;
  while (!((__atomic_load_n(word, __ATOMIC_ACQUIRE) & kWaiters) &&
           SleepsInFutex(child)) &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  ASSERT_TRUE(__atomic_load_n(word, __ATOMIC_ACQUIRE) & kWaiters)
      << "the child never slept on the mutex";
  ASSERT_EQ(__atomic_load_n(word, __ATOMIC_ACQUIRE) & ~kWaiters,
            static_cast<uint32_t>(gettid()));
  __atomic_fetch_and(word, ~kWaiters, __ATOMIC_ACQ_REL);
  mine->Unlock();  // wakes nobody: the word says no one waits
  const ChildExit ended = WaitChild(child, milliseconds(5000));
  EXPECT_TRUE(ended.clean()) << ended.ToString();
  munmap(map, fcache_internal::kLockFileSize);
}

// The mutex of a store nobody has open is initialized afresh by the next
// opener, whatever the file holds: here a mutex that claims an owner that
// will never release it. Run in a child, so that a hang is reported.
TEST(LockFileTest, GarbageInAnUnusedFileNeverBlocks) {
  TempDir tmp;
  { ASSERT_NE(OpenLockOrDie(tmp.path()), nullptr); }
  const std::string path = tmp.Sub("lock");
  std::string bytes = ReadWholeFile(path);
  ASSERT_EQ(bytes.size(), fcache_internal::kLockFileSize);
  std::memset(bytes.data() + fcache_internal::kLockMutexOffset, 0x5a, 8);
  ASSERT_TRUE(WriteWholeFile(path, bytes, 0600));
  const pid_t child = Spawn([&] { return LockAndUnlock(tmp.path()); });
  const ChildExit ended = WaitChild(child, milliseconds(5000));
  EXPECT_TRUE(ended.clean()) << ended.ToString();
}

TEST(LockFileTest, RefusesANewerLockFileAndLeavesItAlone) {
  TempDir tmp;
  { ASSERT_NE(OpenLockOrDie(tmp.path()), nullptr); }
  const std::string path = tmp.Sub("lock");
  std::string bytes = ReadWholeFile(path);
  fcache_internal::FilePrelude prelude;
  std::memcpy(&prelude, bytes.data(), sizeof(prelude));
  prelude.header_size = 0;  // a newer layout may differ anywhere after it
  fcache_internal::SealPrelude(fcache_internal::kLockMagic, &prelude);
  prelude.version = fcache_internal::kFormatVersion + 1;
  prelude.checksum =
      XXH3_64bits(&prelude, offsetof(fcache_internal::FilePrelude, checksum));
  std::memcpy(bytes.data(), &prelude, sizeof(prelude));
  ASSERT_TRUE(WriteWholeFile(path, bytes, 0600));
  auto lock = LockFile::Open(NewPosixEnv(), tmp.path());
  EXPECT_EQ(lock.status().code(), Status::Code::kVersionTooNew)
      << lock.status().ToString();
  EXPECT_EQ(ReadWholeFile(path), bytes);
}

// The committed log end names its log: for another log, or in a file that
// never noted one, it reads 0 (unknown). It outlives the handle and the
// file's next initialization.
TEST(LockFileTest, NotesTheCommittedEndOfOneLog) {
  TempDir tmp;
  {
    std::unique_ptr<LockFile> lock = OpenLockOrDie(tmp.path());
    ASSERT_NE(lock, nullptr);
    EXPECT_EQ(lock->LogEnd(1), 0u);
    WriterLock writer(lock.get());
    ASSERT_OK(writer.status());
    lock->NoteLogEnd(5, 4096);
    EXPECT_EQ(lock->LogEnd(5), 4096u);
    lock->NoteLogEnd(5, 8192);
    EXPECT_EQ(lock->LogEnd(5), 8192u);
    EXPECT_EQ(lock->LogEnd(6), 0u);
    lock->NoteLogEnd(6, 64);
    EXPECT_EQ(lock->LogEnd(6), 64u);
    EXPECT_EQ(lock->LogEnd(5), 0u);
  }
  std::unique_ptr<LockFile> lock = OpenLockOrDie(tmp.path());
  ASSERT_NE(lock, nullptr);
  EXPECT_EQ(lock->LogEnd(6), 64u);
  EXPECT_EQ(lock->LogEnd(0), 0u);
}

// While a writer of format version 1 holds its exclusive flock on the lock
// file, opening waits; while a handle of this version is open, such a
// writer cannot take its lock at all.
TEST(LockFileTest, KeepsFormat1WritersOut) {
  TempDir tmp;
  const std::string path = tmp.Sub("lock");
  const int v1 = open(path.c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_GE(v1, 0);
  ASSERT_EQ(flock(v1, LOCK_EX), 0);
  std::atomic<bool> opened{false};
  std::thread opener([&] {
    EXPECT_NE(OpenLockOrDie(tmp.path()), nullptr);
    opened = true;
  });
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_FALSE(opened);
  ASSERT_EQ(flock(v1, LOCK_UN), 0);
  opener.join();
  EXPECT_TRUE(opened);
  auto held = OpenLockOrDie(tmp.path());
  ASSERT_NE(held, nullptr);
  EXPECT_NE(flock(v1, LOCK_EX | LOCK_NB), 0);
  held.reset();
  EXPECT_EQ(flock(v1, LOCK_EX | LOCK_NB), 0);
  close(v1);
}

// A writer that died publishing a generation, after renaming the new index
// into place but before marking the old one superseded, left handles on the
// old index. The next of them to take the mutex learns that its owner died,
// finds the newer index, and moves to it, so its writes are seen.
TEST(LockFileTest, NextWriterFinishesADeadWritersPublication) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  auto stale = FileCache::Open(dir);
  ASSERT_OK(stale);
  ASSERT_OK((*stale)->Put("k", "v1"));
  // Keep the old index reachable, publish a new generation, then undo the
  // publisher's last step, as its death would have.
  ASSERT_EQ(link((dir + "/index").c_str(), (dir + "/index.old").c_str()), 0);
  {
    auto publisher = FileCache::Open(dir);
    ASSERT_OK(publisher);
    ASSERT_OK((*publisher)->Compact());
  }
  const int fd = open((dir + "/index.old").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  const uint64_t zero = 0;
  ASSERT_EQ(pwrite(fd, &zero, sizeof(zero), 64), 8);  // `superseded`
  close(fd);
  unlink((dir + "/index.old").c_str());
  KillAHolderOfTheMutex(dir);

  ASSERT_OK((*stale)->Put("k", "v2"));
  auto fresh = FileCache::Open(dir);
  ASSERT_OK(fresh);
  std::string got;
  ASSERT_OK((*fresh)->Get("k", &got));
  EXPECT_EQ(got, "v2");
}

// ---------------------------------------------------------------------------
// Through FileCache: a writer that dies inside its critical section.

constexpr int kKeys = 32;

std::string KeyName(int i) { return "key/" + std::to_string(i); }

struct DeathCase {
  FaultEnv::Op op;
  int nth;
  bool sync_writes;
};

class WriterDeathTest : public testing::TestWithParam<DeathCase> {};

// Another handle holds the store open throughout, so the dead writer's
// mutex is not re-initialized by a fresh open: the survivors must get it
// through EOWNERDEAD, and find every key at its old or its new version.
TEST_P(WriterDeathTest, OthersContinueAndNeverReadAWrongValue) {
  const DeathCase c = GetParam();
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  auto survivor = FileCache::Open(dir);
  ASSERT_OK(survivor);
  for (int i = 0; i < kKeys; ++i) {
    const std::string key = KeyName(i);
    ASSERT_OK((*survivor)->Put(key, MakeValue(key, 1, Shape::kRandom, 500)));
  }
  const pid_t child = Spawn([&]() -> int {
    auto env = std::make_shared<FaultEnv>();
    FileCacheOptions options;
    options.env = env;
    options.sync_writes = c.sync_writes;
    auto fc = FileCache::Open(dir, options);
    if (!fc.ok()) return 2;
    env->CrashAt(c.op, c.nth);
    for (int i = 0; i < kKeys; ++i) {
      const std::string key = KeyName(i);
      Status s = (*fc)->Put(key, MakeValue(key, 2, Shape::kRandom, 5000));
      if (!s.ok()) return 3;
    }
    return 0;
  });
  const ChildExit ended = WaitChild(child, kChildTimeout);
  ASSERT_EQ(ended.code(), FaultEnv::kCrashExitCode)
      << "the writer was to die inside Put: " << ended.ToString();

  // Another process joins and writes; it must not hang on the dead
  // writer's mutex.
  const pid_t joiner = Spawn([&]() -> int {
    auto fc = FileCache::Open(dir);
    if (!fc.ok()) return 2;
    const std::string key = KeyName(0);
    if (!(*fc)->Put(key, MakeValue(key, 3, Shape::kSmall, 50)).ok()) return 3;
    return 0;
  });
  const ChildExit joined = WaitChild(joiner, kChildTimeout);
  ASSERT_TRUE(joined.clean()) << joined.ToString();

  std::string got, why;
  for (int i = 0; i < kKeys; ++i) {
    const std::string key = KeyName(i);
    ASSERT_OK((*survivor)->Get(key, &got)) << key;
    const auto version = CheckValue(key, got, &why);
    ASSERT_TRUE(version.has_value()) << key << ": " << why;
    if (i == 0) {
      EXPECT_EQ(*version, 3u) << "the joiner's write is lost";
    } else {
      EXPECT_TRUE(*version == 1 || *version == 2) << key << ": v" << *version;
    }
  }
  const std::string key = KeyName(kKeys - 1);
  const std::string value = MakeValue(key, 4, Shape::kCompressible, 3000);
  ASSERT_OK((*survivor)->Put(key, value));
  ASSERT_OK((*survivor)->Get(key, &got));
  EXPECT_EQ(got, value);
  auto report = (*survivor)->Verify();
  ASSERT_OK(report);
  EXPECT_TRUE(report->clean()) << VerifyString(*report);
}

INSTANTIATE_TEST_SUITE_P(
    CrashPoints, WriterDeathTest,
    testing::Values(
        // With sync_writes, Put syncs the log after writing the record (not
        // yet committed) and the index after updating the slot (committed):
        // both inside the critical section.
        DeathCase{FaultEnv::Op::kSync, 1, true},
        DeathCase{FaultEnv::Op::kSync, 2, true},
        DeathCase{FaultEnv::Op::kSync, 7, true}),
    [](const testing::TestParamInfo<DeathCase>& info) {
      return std::string(OpName(info.param.op)) +
             std::to_string(info.param.nth) +
             (info.param.sync_writes ? "Sync" : "");
    });

}  // namespace
}  // namespace ucache
