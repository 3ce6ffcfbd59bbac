// Tests of the test helpers themselves: other tests trust FaultEnv to fail
// exactly when told, so it gets tests of its own.

#include "tests/testutil.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"
#include "ucache/env.h"
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
    Result<FileInfo> info = env_.base()->Stat(fd);
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
  EXPECT_FALSE(env_.base()->StatPath(dir_.Sub("g")).ok());

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

}  // namespace
}  // namespace ucache
