// Tests of EnvWrapper: every call it does not override reaches the wrapped
// Env with its arguments and comes back with its result, and a wrapper that
// overrides one call changes only that one, under a real FileCache.

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testutil.h"
#include "ucache/env.h"
#include "ucache/file_cache.h"
#include "ucache/status.h"

namespace ucache {
namespace {

using Op = FaultEnv::Op;

TEST(EnvWrapperTest, ForwardsEveryCallToItsTarget) {
  TempDir tmp;
  // FaultEnv counts the calls that reach it.
  auto counting = std::make_shared<FaultEnv>();
  EnvWrapper env(counting);
  EXPECT_EQ(env.target(), counting.get());

  const std::string dir = tmp.Sub("d");
  ASSERT_OK(env.CreateDir(dir));
  const std::string path = dir + "/f";
  Result<int> fd = env.Open(path, OpenMode::kCreate);
  ASSERT_OK(fd);
  ASSERT_OK(env.Write(*fd, "abcd", 4, 0));
  char got[4] = {};
  ASSERT_OK(env.Read(*fd, got, 4, 0));
  EXPECT_EQ(std::string(got, 4), "abcd");
  ASSERT_OK(env.Allocate(*fd, 0, 4096));
  ASSERT_OK(env.Sync(*fd));
  Result<uint64_t> data = env.NextData(*fd, 0);
  ASSERT_OK(data);
  EXPECT_EQ(*data, 0u);
  Result<FileInfo> info = env.Stat(*fd);
  ASSERT_OK(info);
  EXPECT_EQ(info->size, 4096u);
  Result<FileInfo> by_path = env.StatPath(path);
  ASSERT_OK(by_path);
  EXPECT_TRUE(by_path->is_regular);
  Result<void*> map = env.Map(*fd, 4096, /*writable=*/false);
  ASSERT_OK(map);
  EXPECT_EQ(std::string(static_cast<const char*>(*map), 4), "abcd");
  env.Unmap(*map, 4096);
  ASSERT_OK(env.Lock(*fd, LockMode::kExclusiveTry));
  ASSERT_OK(env.Unlock(*fd));
  ASSERT_OK(env.LockByte(*fd, 7, LockMode::kExclusiveTry));
  ASSERT_OK(env.UnlockByte(*fd, 7));
  ASSERT_OK(env.Close(*fd));
  Result<std::vector<std::string>> names = env.ListDir(dir);
  ASSERT_OK(names);
  EXPECT_EQ(*names, std::vector<std::string>{"f"});
  ASSERT_OK(env.Rename(path, dir + "/g"));
  ASSERT_OK(env.SyncDir(dir));
  ASSERT_OK(env.Remove(dir + "/g"));
  EXPECT_GT(env.NowMillis(), 0);
  EXPECT_EQ(env.CurrentUser(), counting->target()->CurrentUser());

  for (int i = 0; i < FaultEnv::kNumOps; ++i) {
    const auto op = static_cast<Op>(i);
    // LockByte and UnlockByte count as Lock and Unlock.
    const int64_t want = op == Op::kLock || op == Op::kUnlock ? 2 : 1;
    EXPECT_EQ(counting->Calls(op), want) << OpName(op);
  }
}

TEST(EnvWrapperTest, ForwardsFailuresAsTheyAre) {
  auto faulty = std::make_shared<FaultEnv>();
  faulty->FailNext(Op::kRename, Status::NoSpace("planned"));
  EnvWrapper env(faulty);
  const Status s = env.Rename("/nonexistent/a", "/nonexistent/b");
  EXPECT_TRUE(s.IsNoSpace()) << s.ToString();
  EXPECT_TRUE(
      env.Open("/nonexistent/a", OpenMode::kReadOnly).status().IsNotFound());
}

// Overrides one call: the rest is the real thing.
class FailingSync : public EnvWrapper {
 public:
  using EnvWrapper::EnvWrapper;
  Status Sync(int) override {
    ++syncs;
    return Status::IOError("sync refused by the test");
  }
  std::atomic<int> syncs{0};
};

TEST(EnvWrapperTest, OverridingOneCallChangesOnlyThatCall) {
  TempDir tmp;
  auto env = std::make_shared<FailingSync>(NewPosixEnv());
  FileCacheOptions options;
  options.env = env;
  auto cache = FileCache::Open(tmp.Sub("store"), options);
  ASSERT_OK(cache);
  ASSERT_OK((*cache)->Put("k", "v"));
  std::string value;
  ASSERT_OK((*cache)->Get("k", &value));
  EXPECT_EQ(value, "v");
  const Status s = (*cache)->Sync();
  EXPECT_EQ(s.code(), Status::Code::kIOError) << s.ToString();
  EXPECT_NE(s.ToString().find("sync refused by the test"), std::string::npos)
      << s.ToString();
  EXPECT_GE(env->syncs.load(), 1);
}

}  // namespace
}  // namespace ucache
