// Tests of the test helpers themselves: other tests trust FaultEnv to fail
// exactly when told, and the stress tests trust their value checker and
// child-process helpers, so they get tests of their own.

#include "tests/testutil.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"
#include "tests/stress_util.h"
#include "ucache/env.h"
#include "ucache/log.h"
#include "ucache/status.h"

namespace ucache {
namespace {

class FaultEnvTest : public ::testing::Test {
 protected:
  // A fresh file opened through `env_`.
  int NewFile(const std::string& name) {
    Result<int> fd = env_.Open(dir_.Sub(name), OpenMode::kCreate);
    EXPECT_OK(fd);
    return fd.ok() ? *fd : -1;
  }

  uint64_t SizeOf(int fd) {
    Result<FileInfo> info = env_.target()->Stat(fd);
    EXPECT_OK(info);
    return info.ok() ? info->size : 0;
  }

  TempDir dir_;
  FaultEnv env_;
};

TEST_F(FaultEnvTest, ForwardsToTheWrappedEnv) {
  int fd = NewFile("f");
  ASSERT_GE(fd, 0);
  ASSERT_OK(env_.Write(fd, "abc", 3, 0));
  char buf[3];
  ASSERT_OK(env_.Read(fd, buf, 3, 0));
  EXPECT_EQ(std::string(buf, 3), "abc");
  ASSERT_OK(env_.Close(fd));
  Result<std::vector<std::string>> names = env_.ListDir(dir_.path());
  ASSERT_OK(names);
  EXPECT_EQ(*names, std::vector<std::string>{"f"});
  EXPECT_EQ(env_.CurrentUser(), ::geteuid());
}

TEST_F(FaultEnvTest, SpaceLimitLandsAPrefixThenReportsNoSpace) {
  int fd = NewFile("f");
  ASSERT_GE(fd, 0);
  env_.SetSpaceLimit(10);
  ASSERT_OK(env_.Write(fd, "0123", 4, 0));
  EXPECT_EQ(env_.SpaceRemaining(), 6u);

  Status full = env_.Write(fd, "abcdefghij", 10, 4);
  EXPECT_TRUE(full.IsNoSpace()) << full.ToString();
  EXPECT_NE(full.message().find("fd " + std::to_string(fd)),
            std::string_view::npos);
  // The six bytes that fit landed, as a short write on a full disk would.
  EXPECT_EQ(SizeOf(fd), 10u);
  char buf[10];
  ASSERT_OK(env_.Read(fd, buf, 10, 0));
  EXPECT_EQ(std::string(buf, 10), "0123abcdef");

  EXPECT_TRUE(env_.Write(fd, "z", 1, 0).IsNoSpace());
  EXPECT_TRUE(env_.Allocate(fd, 0, 4096).IsNoSpace());
  EXPECT_EQ(SizeOf(fd), 10u);

  env_.ClearSpaceLimit();
  EXPECT_EQ(env_.SpaceRemaining(), std::nullopt);
  ASSERT_OK(env_.Write(fd, "z", 1, 10));
  ASSERT_OK(env_.Close(fd));
}

TEST_F(FaultEnvTest, AllocateIsChargedAllOrNothing) {
  int fd = NewFile("f");
  ASSERT_GE(fd, 0);
  env_.SetSpaceLimit(5000);
  EXPECT_TRUE(env_.Allocate(fd, 0, 8192).IsNoSpace());
  EXPECT_EQ(SizeOf(fd), 0u);
  EXPECT_EQ(env_.SpaceRemaining(), 5000u);
  ASSERT_OK(env_.Allocate(fd, 0, 4096));
  EXPECT_EQ(SizeOf(fd), 4096u);
  EXPECT_EQ(env_.SpaceRemaining(), 904u);
  // What the file holds is allocated already and costs nothing again, as
  // with posix_fallocate; only the part past its end is charged.
  ASSERT_OK(env_.Allocate(fd, 0, 4096));
  EXPECT_EQ(env_.SpaceRemaining(), 904u);
  ASSERT_OK(env_.Allocate(fd, 3584, 1024));
  EXPECT_EQ(SizeOf(fd), 4608u);
  EXPECT_EQ(env_.SpaceRemaining(), 392u);
  ASSERT_OK(env_.Close(fd));
}

TEST_F(FaultEnvTest, FailNextFailsExactlyCountCalls) {
  int fd = NewFile("f");
  ASSERT_GE(fd, 0);
  env_.FailNext(FaultEnv::Op::kSync, Status::IOError("injected"), 2);
  EXPECT_EQ(env_.Sync(fd).ToString(), "IOError: injected");
  EXPECT_EQ(env_.Sync(fd).ToString(), "IOError: injected");
  EXPECT_OK(env_.Sync(fd));

  // A failed call is not performed.
  env_.FailNext(FaultEnv::Op::kWrite, Status::IOError("no"));
  EXPECT_FALSE(env_.Write(fd, "x", 1, 0).ok());
  EXPECT_EQ(SizeOf(fd), 0u);

  env_.FailNext(FaultEnv::Op::kOpen, Status::PermissionDenied("nope"));
  Result<int> opened = env_.Open(dir_.Sub("g"), OpenMode::kCreate);
  EXPECT_EQ(opened.status().code(), Status::Code::kPermissionDenied);
  EXPECT_FALSE(env_.target()->StatPath(dir_.Sub("g")).ok());

  // An OK status cancels, and ClearFaults cancels everything.
  env_.FailNext(FaultEnv::Op::kStat, Status::IOError("x"), 5);
  env_.FailNext(FaultEnv::Op::kStat, Status::OK());
  EXPECT_OK(env_.Stat(fd));
  env_.FailNext(FaultEnv::Op::kRead, Status::IOError("x"), 5);
  env_.ClearFaults();
  char c;
  EXPECT_FALSE(env_.Read(fd, &c, 1, 0).ok());  // real EOF, not injected
  EXPECT_NE(env_.Read(fd, &c, 1, 0).message(), "x");
  ASSERT_OK(env_.Close(fd));
}

TEST_F(FaultEnvTest, CountsCallsPerOp) {
  int fd = NewFile("f");
  ASSERT_GE(fd, 0);
  env_.FailNext(FaultEnv::Op::kWrite, Status::IOError("x"));
  EXPECT_FALSE(env_.Write(fd, "a", 1, 0).ok());
  ASSERT_OK(env_.Write(fd, "a", 1, 0));
  ASSERT_OK(env_.Close(fd));
  EXPECT_EQ(env_.Calls(FaultEnv::Op::kOpen), 1);
  EXPECT_EQ(env_.Calls(FaultEnv::Op::kWrite), 2);  // failed calls count
  EXPECT_EQ(env_.Calls(FaultEnv::Op::kClose), 1);
  EXPECT_EQ(env_.Calls(FaultEnv::Op::kRead), 0);
  env_.ResetCalls();
  EXPECT_EQ(env_.Calls(FaultEnv::Op::kWrite), 0);
}

TEST_F(FaultEnvTest, FakeClock) {
  const int64_t real = env_.NowMillis();
  EXPECT_GT(real, 1'600'000'000'000);  // after 2020: the real clock

  env_.SetNowMillis(1000);
  EXPECT_EQ(env_.NowMillis(), 1000);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(env_.NowMillis(), 1000);  // frozen until moved
  env_.AdvanceMillis(500);
  EXPECT_EQ(env_.NowMillis(), 1500);
  env_.AdvanceMillis(-2000);  // clocks jump backwards too
  EXPECT_EQ(env_.NowMillis(), -500);

  env_.ClearNowMillis();
  EXPECT_GE(env_.NowMillis(), real);
  env_.AdvanceMillis(3'600'000);  // from the real time
  EXPECT_GE(env_.NowMillis(), real + 3'600'000);
  EXPECT_LT(env_.NowMillis(), real + 3'700'000);
}

TEST_F(FaultEnvTest, CrashAtExitsBeforeTheNthCall) {
  const std::string path = dir_.Sub("f");
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    FaultEnv env;
    env.CrashAt(FaultEnv::Op::kWrite, 2);
    Result<int> fd = env.Open(path, OpenMode::kCreate);
    if (!fd.ok()) ::_exit(1);
    if (!env.Write(*fd, "first", 5, 0).ok()) ::_exit(2);
    (void)env.Write(*fd, "second", 6, 5);  // never performed
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), FaultEnv::kCrashExitCode);
  Result<FileInfo> info = env_.StatPath(path);
  ASSERT_OK(info);
  EXPECT_EQ(info->size, 5u);
}

TEST_F(FaultEnvTest, CrashAfterExitsOnReturnFromTheNthCall) {
  const std::string from = dir_.Sub("a"), to = dir_.Sub("b");
  ASSERT_TRUE(WriteWholeFile(from, "x", 0600));
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    FaultEnv env;
    env.CrashAfter(FaultEnv::Op::kRename, 1);
    (void)env.Rename(from, to);  // performed, then the process dies
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), FaultEnv::kCrashExitCode);
  EXPECT_FALSE(env_.StatPath(from).ok());
  EXPECT_OK(env_.StatPath(to));
}

TEST_F(FaultEnvTest, OpNamesAreDistinct) {
  std::vector<std::string_view> names;
  for (int i = 0; i < FaultEnv::kNumOps; ++i) {
    names.push_back(OpName(static_cast<FaultEnv::Op>(i)));
  }
  EXPECT_EQ(OpName(FaultEnv::Op::kAllocate), "Allocate");
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::unique(names.begin(), names.end()), names.end());
  EXPECT_EQ(std::count(names.begin(), names.end(), "Unknown"), 0);
}

TEST(LogRecorderTest, KeepsEveryLineInOrderFromEveryThread) {
  LogRecorder log;
  const LogSink sink = log.Sink();
  sink(LogLevel::kWarning, "down");
  sink(LogLevel::kInfo, "back");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&sink] {
      for (int i = 0; i < 100; ++i) sink(LogLevel::kInfo, "x");
    });
  }
  for (std::thread& t : threads) t.join();
  const std::vector<std::string> lines = log.Lines();
  ASSERT_EQ(lines.size(), 402u);
  EXPECT_EQ(lines[0], "W down");
  EXPECT_EQ(lines[1], "I back");
  EXPECT_EQ(lines[401], "I x");
  EXPECT_EQ(log.warnings(), std::vector<std::string>{"down"});
  EXPECT_EQ(log.infos().size(), 401u);
  EXPECT_EQ(log.infos()[0], "back");
}

TEST(TempDirTest, IsFreshAndRemovedEvenWhenLockedDown) {
  std::string path;
  {
    TempDir a;
    TempDir b;
    EXPECT_NE(a.path(), b.path());
    path = a.path();
    EXPECT_EQ(a.Sub("x"), path + "/x");
    struct stat st;
    ASSERT_EQ(::lstat(path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0700u);

    ASSERT_EQ(::mkdir(a.Sub("locked").c_str(), 0700), 0);
    ASSERT_EQ(::mkdir(a.Sub("locked/inner").c_str(), 0700), 0);
    FILE* f = std::fopen(a.Sub("locked/inner/file").c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fclose(f);
    ASSERT_EQ(::symlink("/", a.Sub("root_link").c_str()), 0);
    ASSERT_EQ(::chmod(a.Sub("locked").c_str(), 0), 0);
  }
  struct stat st;
  EXPECT_NE(::lstat(path.c_str(), &st), 0);
  EXPECT_EQ(::lstat("/", &st), 0);  // the symlink was not followed
}

TEST(StatusMacrosTest, ReportTheStatus) {
  EXPECT_OK(Status::OK());
  EXPECT_OK(Result<int>(3));
  EXPECT_NONFATAL_FAILURE(EXPECT_OK(Status::IOError("disk on fire")),
                          "IOError: disk on fire");
  EXPECT_NONFATAL_FAILURE(EXPECT_OK(Result<int>(Status::NotFound("gone"))),
                          "NotFound: gone");
  EXPECT_FATAL_FAILURE(ASSERT_OK(Status::Busy("held")), "Busy: held");
}

TEST(RandomBytesTest, DeterministicForASeed) {
  std::mt19937_64 a(7), b(7), c(8);
  std::string x = RandomBytes(a, 13);
  EXPECT_EQ(x.size(), 13u);
  EXPECT_EQ(x, RandomBytes(b, 13));
  EXPECT_NE(x, RandomBytes(c, 13));
  EXPECT_TRUE(RandomBytes(a, 0).empty());
}

TEST(FileHelpersTest, WriteReadAndList) {
  TempDir dir;
  ASSERT_TRUE(WriteWholeFile(dir.Sub("b"), std::string("x\0y", 3), 0640));
  ASSERT_TRUE(WriteWholeFile(dir.Sub("a"), "", 0600));
  EXPECT_EQ(ReadWholeFile(dir.Sub("b")), std::string("x\0y", 3));
  EXPECT_EQ(ReadWholeFile(dir.Sub("a")), "");
  EXPECT_EQ(ReadWholeFile(dir.Sub("missing")), "");
  struct stat st;
  ASSERT_EQ(::stat(dir.Sub("b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  // Rewriting truncates.
  ASSERT_TRUE(WriteWholeFile(dir.Sub("b"), "z", 0600));
  EXPECT_EQ(ReadWholeFile(dir.Sub("b")), "z");
  EXPECT_EQ(ListDirNames(dir.path()), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(ListDirNames(dir.Sub("missing")).empty());
  EXPECT_FALSE(WriteWholeFile(dir.Sub("missing/f"), "x", 0600));
}

TEST(FileHelpersTest, CopyDirFlatReplacesTheTarget) {
  TempDir dir;
  const std::string from = dir.Sub("from"), to = dir.Sub("to");
  ASSERT_EQ(::mkdir(from.c_str(), 0700), 0);
  ASSERT_TRUE(WriteWholeFile(from + "/log.1", "log bytes", 0600));
  ASSERT_TRUE(WriteWholeFile(from + "/ro", "read only", 0400));
  ASSERT_EQ(::mkdir((from + "/sub").c_str(), 0700), 0);
  ASSERT_EQ(::mkdir(to.c_str(), 0700), 0);
  ASSERT_TRUE(WriteWholeFile(to + "/stale", "old", 0600));

  CopyDirFlat(from, to);
  EXPECT_EQ(ListDirNames(to), (std::vector<std::string>{"log.1", "ro"}));
  EXPECT_EQ(ReadWholeFile(to + "/log.1"), "log bytes");
  EXPECT_EQ(ReadWholeFile(to + "/ro"), "read only");
  struct stat st;
  ASSERT_EQ(::stat((to + "/ro").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0400u);

  RemoveTree(to);
  EXPECT_NE(::lstat(to.c_str(), &st), 0);
  RemoveTree(to);  // already gone: fine
}

TEST(SelfCheckingValueTest, RoundTripsEveryShape) {
  for (Shape shape : {Shape::kSmall, Shape::kCompressible, Shape::kRandom}) {
    for (uint32_t len : {0u, 1u, 7u, 8u, 9u, 3000u}) {
      const std::string v = MakeValue("key", 42, shape, len);
      EXPECT_EQ(v.size(), 21u + len + 8u);
      EXPECT_EQ(v, MakeValue("key", 42, shape, len));
      std::string why;
      EXPECT_EQ(CheckValue("key", v, &why), std::optional<uint64_t>(42)) << why;
    }
  }
  EXPECT_NE(MakeValue("key", 1, Shape::kRandom, 100),
            MakeValue("key", 2, Shape::kRandom, 100));
  EXPECT_NE(MakeValue("key", 1, Shape::kRandom, 100),
            MakeValue("kez", 1, Shape::kRandom, 100));
  EXPECT_EQ(Mix(1), Mix(1));
  EXPECT_NE(Mix(1), Mix(2));
  EXPECT_NE(HashBytes("a"), HashBytes("b"));
}

TEST(SelfCheckingValueTest, RejectsAnythingElse) {
  const std::string v = MakeValue("key", 7, Shape::kCompressible, 500);
  std::string why;
  EXPECT_EQ(CheckValue("other", v, &why), std::nullopt);
  EXPECT_EQ(why, "value belongs to another key");
  EXPECT_EQ(CheckValue("key", v.substr(0, 20), &why), std::nullopt);
  EXPECT_EQ(why, "too short (20 bytes)");
  EXPECT_EQ(CheckValue("key", v.substr(0, v.size() - 1), &why), std::nullopt);
  EXPECT_EQ(why, "bad shape or length");
  std::string bad_shape = v;
  bad_shape[20] = 3;
  EXPECT_EQ(CheckValue("key", bad_shape, &why), std::nullopt);
  EXPECT_EQ(why, "bad shape or length");
  std::string flipped = v;
  flipped[100] ^= 1;
  EXPECT_EQ(CheckValue("key", flipped, &why), std::nullopt);
  EXPECT_EQ(why, "self-checksum mismatch (version 7)");
  // Another shape with the checksum made to match: only regenerating the
  // payload catches it.
  std::string reshaped = MakeValue("key", 7, Shape::kRandom, 500);
  reshaped[20] = static_cast<char>(Shape::kCompressible);
  reshaped.resize(reshaped.size() - 8);
  const uint64_t h = HashBytes(reshaped);
  for (int i = 0; i < 8; ++i)
    reshaped.push_back(static_cast<char>(h >> (8 * i)));
  EXPECT_EQ(CheckValue("key", reshaped, &why), std::nullopt);
  EXPECT_EQ(why, "payload differs from what version 7 was written with");
}

TEST(PickTestSeedTest, TakesTheSeedFromTheEnvironment) {
  ASSERT_EQ(::setenv("UCACHE_TEST_SEED", "0x2a", 1), 0);
  EXPECT_EQ(PickTestSeed("testutil_test"), 42u);
  ASSERT_EQ(::setenv("UCACHE_TEST_SEED", "12345678901234", 1), 0);
  EXPECT_EQ(PickTestSeed("testutil_test"), 12345678901234u);
  ASSERT_EQ(::unsetenv("UCACHE_TEST_SEED"), 0);
  PickTestSeed("testutil_test");  // random: only that it returns
}

TEST(ChildProcessTest, SpawnSharesMemoryAndReportsTheExitCode) {
  Shared<int> shared;
  *shared = 1;
  const pid_t pid = Spawn([&] {
    *shared = 2;
    return 3;
  });
  const ChildExit ended = WaitChild(pid, std::chrono::milliseconds(20000));
  EXPECT_TRUE(ended.waited);
  EXPECT_FALSE(ended.timed_out);
  EXPECT_FALSE(ended.signaled());
  EXPECT_EQ(ended.signal(), 0);
  EXPECT_EQ(ended.code(), 3);
  EXPECT_FALSE(ended.clean());
  EXPECT_EQ(ended.ToString(), "exit code 3");
  EXPECT_EQ(*shared, 2);

  const ChildExit ok =
      WaitChild(Spawn([] { return 0; }), std::chrono::milliseconds(20000));
  EXPECT_TRUE(ok.clean());
  const ChildExit threw = WaitChild(Spawn([]() -> int { throw 1; }),
                                    std::chrono::milliseconds(20000));
  EXPECT_EQ(threw.code(), 97);
}

TEST(ChildProcessTest, WaitChildReportsSignalsAndHangs) {
  const ChildExit killed = WaitChild(Spawn([] {
                                       ::raise(SIGKILL);
                                       return 0;
                                     }),
                                     std::chrono::milliseconds(20000));
  EXPECT_TRUE(killed.signaled());
  EXPECT_EQ(killed.signal(), SIGKILL);
  EXPECT_EQ(killed.code(), -1);
  EXPECT_FALSE(killed.clean());
  EXPECT_EQ(killed.ToString().rfind("killed by signal ", 0), 0u)
      << killed.ToString();

  const ChildExit hung = WaitChild(Spawn([] {
                                     ::sleep(60);
                                     return 0;
                                   }),
                                   std::chrono::milliseconds(50));
  EXPECT_TRUE(hung.timed_out);
  EXPECT_TRUE(hung.signaled());
  EXPECT_FALSE(hung.clean());
  EXPECT_EQ(hung.ToString(), "hung (killed after timeout)");

  const ChildExit none = WaitChild(::getpid(), std::chrono::milliseconds(50));
  EXPECT_FALSE(none.waited);
  EXPECT_EQ(none.code(), -1);
  EXPECT_EQ(none.ToString(), "waitpid failed");
}

TEST(VerifyStringTest, NamesEveryCounter) {
  VerifyReport r;
  r.records_checked = 1;
  r.corrupt_records = 2;
  r.index_entries = 3;
  r.bad_index_entries = 4;
  r.unreadable_bytes = 5;
  EXPECT_EQ(VerifyString(r),
            "records=1 corrupt=2 index=3 bad_index=4 unreadable=5");
}

}  // namespace
}  // namespace ucache
