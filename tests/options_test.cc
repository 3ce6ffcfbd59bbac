// Tests of the options helpers: backend names, the default root (XDG, then
// HOME), store paths by name (no escaping the root), and ScopedOverride's
// nesting.

#include "ucache/options.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testutil.h"
#include "ucache/cache.h"
#include "ucache/scoped_override.h"

namespace ucache {
namespace {

// Sets environment variables for one test and restores them after it.
class OptionsTest : public testing::Test {
 protected:
  void Set(const char* name, const char* value) {
    vars_.push_back(std::make_unique<ScopedEnvVar>(name, value));
  }
  // Last set first, so that a variable set twice ends restored.
  ~OptionsTest() override {
    while (!vars_.empty()) vars_.pop_back();
  }

 private:
  std::vector<std::unique_ptr<ScopedEnvVar>> vars_;
};

TEST_F(OptionsTest, BackendNamesRoundTrip) {
  for (Backend b : {Backend::kAuto, Backend::kMemoryAndFile, Backend::kMemory,
                    Backend::kFile, Backend::kFallback, Backend::kDisabled}) {
    EXPECT_EQ(ParseBackend(BackendName(b)), b) << BackendName(b);
  }
  EXPECT_EQ(ParseBackend("Memory"), std::nullopt);
  EXPECT_EQ(ParseBackend(""), std::nullopt);
}

TEST_F(OptionsTest, DefaultRootFollowsXdgThenHome) {
  Set("XDG_CACHE_HOME", "/xdg");
  Set("HOME", "/home/u");
  EXPECT_EQ(*DefaultRoot(), "/xdg/ucache");
  Set("XDG_CACHE_HOME", "relative/is/ignored");
  EXPECT_EQ(*DefaultRoot(), "/home/u/.cache/ucache");
  Set("XDG_CACHE_HOME", nullptr);
  EXPECT_EQ(*DefaultRoot(), "/home/u/.cache/ucache");
  Set("HOME", nullptr);
  EXPECT_TRUE(DefaultRoot().status().IsNotFound());
}

// ~/.cache moved to another disk and linked back: the default store still
// has a file tier.
TEST_F(OptionsTest, SymlinkedCacheDirectoryServesTheDefaultStore) {
  TempDir tmp;
  ASSERT_EQ(::mkdir(tmp.Sub("elsewhere").c_str(), 0700), 0);
  ASSERT_EQ(::mkdir(tmp.Sub("home").c_str(), 0700), 0);
  ASSERT_EQ(
      ::symlink(tmp.Sub("elsewhere").c_str(), tmp.Sub("home/.cache").c_str()),
      0);
  Set("HOME", tmp.Sub("home").c_str());
  Set("XDG_CACHE_HOME", nullptr);
  Set("UCACHE_DIR", nullptr);
  Set("UCACHE_BACKEND", nullptr);
  Set("UCACHE_DISABLE", nullptr);
  char* real = ::realpath(tmp.Sub("elsewhere").c_str(), nullptr);
  ASSERT_NE(real, nullptr);
  EXPECT_EQ(*DefaultRoot(), std::string(real) + "/ucache");
  std::free(real);
  std::shared_ptr<Cache> cache = Cache::Open();
  EXPECT_EQ(cache->active_backend(), Backend::kMemoryAndFile)
      << cache->active_reason();
}

TEST_F(OptionsTest, StorePathUsesUcacheDirThenTheDefaultRoot) {
  Set("XDG_CACHE_HOME", "/xdg");
  Set("UCACHE_DIR", nullptr);
  EXPECT_EQ(*StorePath("sim"), "/xdg/ucache/sim");
  Set("UCACHE_DIR", "/scratch/caches");
  EXPECT_EQ(*StorePath("sim.v2_x-y"), "/scratch/caches/sim.v2_x-y");
}

TEST_F(OptionsTest, StoreNamesCannotLeaveTheRoot) {
  Set("UCACHE_DIR", "/root-of-stores");
  for (const char* bad :
       {"", ".", "..", "../x", "a/b", "/abs", ".hidden", "sp ace", "nul\x01"}) {
    Result<std::string> p = StorePath(bad);
    EXPECT_EQ(p.status().code(), Status::Code::kInvalidArgument) << bad;
  }
  EXPECT_EQ(StorePath(std::string(256, 'a')).status().code(),
            Status::Code::kInvalidArgument);
  EXPECT_TRUE(StorePath(std::string(255, 'a')).ok());
}

TEST_F(OptionsTest, ScopedOverridesNestPerThread) {
  EXPECT_EQ(ScopedOverride::Current(), std::nullopt);
  {
    ScopedOverride outer(Backend::kMemory);
    EXPECT_EQ(ScopedOverride::Current(), Backend::kMemory);
    {
      ScopedOverride inner(Backend::kDisabled);
      EXPECT_EQ(ScopedOverride::Current(), Backend::kDisabled);
      {
        ScopedOverride back(Backend::kAuto);
        EXPECT_EQ(ScopedOverride::Current(), std::nullopt);
      }
      std::thread([] {
        EXPECT_EQ(ScopedOverride::Current(), std::nullopt);
      }).join();
    }
    EXPECT_EQ(ScopedOverride::Current(), Backend::kMemory);
  }
  EXPECT_EQ(ScopedOverride::Current(), std::nullopt);
}

}  // namespace
}  // namespace ucache
