// The remote tier under Cache and memoize, against a real redis-server:
// the read path's fills, the backend names, UCACHE_REMOTE, and two
// "machines" (processes with separate stores) computing each key once.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include "tests/redis_server.h"
#include "tests/testutil.h"
#include "ucache/ucache.h"

namespace ucache {
namespace {

using testing::RedisServer;

Options WithRemote(const std::string& dir, const std::string& url) {
  Options o;
  o.dir = dir;
  o.remote = url;
  o.remote_options.write_behind = false;
  o.remote_options.operation_timeout = std::chrono::milliseconds(300);
  o.read_environment = false;
  o.log = [](LogLevel, std::string_view) {};
  return o;
}

TEST(RemoteTierTest, ARemoteHitFillsTheFileAndMemoryTiers) {
  RedisServer server;
  ASSERT_TRUE(server.ok());
  TempDir a, b;
  std::shared_ptr<Cache> writer =
      Cache::Open(WithRemote(a.path(), server.unix_url()));
  EXPECT_EQ(writer->active_backend(), Backend::kMemoryFileRemote);
  EXPECT_EQ(BackendName(writer->active_backend()), "memory+file+redis");
  writer->Put("k", "shared value");

  std::shared_ptr<Cache> reader =
      Cache::Open(WithRemote(b.path(), server.unix_url()));
  std::optional<Cache::Hit> hit = reader->Get("k");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->tier, Tier::kRemote);
  EXPECT_EQ(hit->data, "shared value");
  hit = reader->Get("k");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->tier, Tier::kMemory);  // filled on the way
  reader.reset();
  Options local_only = WithRemote(b.path(), "");
  std::shared_ptr<Cache> file_only = Cache::Open(local_only);
  EXPECT_EQ(file_only->active_backend(), Backend::kMemoryAndFile);
  hit = file_only->Get("k");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->tier, Tier::kFile);  // the fill reached the file tier
  const CacheStats s = writer->GetStats();
  ASSERT_TRUE(s.remote);
  EXPECT_EQ(s.remote->writes, 1u);
}

TEST(RemoteTierTest, BackendPinsOrSkipsTheRemoteTier) {
  RedisServer server;
  ASSERT_TRUE(server.ok());
  TempDir dir;
  Options o = WithRemote(dir.path(), server.unix_url());
  o.backend = Backend::kMemoryAndFile;
  std::shared_ptr<Cache> skip = Cache::Open(o);
  EXPECT_EQ(skip->active_backend(), Backend::kMemoryAndFile);
  skip->Put("local", "v");
  EXPECT_EQ(server.Command({"EXISTS", "ucache:local"}), "0");
  o.backend = Backend::kRemote;
  std::shared_ptr<Cache> pin = Cache::Open(o);
  EXPECT_EQ(BackendName(pin->active_backend()), "redis");
  pin->Put("remote", "v");
  EXPECT_EQ(server.Command({"EXISTS", "ucache:remote"}), "1");
  EXPECT_FALSE(pin->Get("local"));  // the file tier is not consulted
  EXPECT_EQ(ParseBackend("memory+file+redis"), Backend::kMemoryFileRemote);
}

TEST(RemoteTierTest, UcacheRemoteOverridesAndEmptyTurnsItOff) {
  RedisServer server;
  ASSERT_TRUE(server.ok());
  TempDir dir;
  Options o = WithRemote(dir.path(), "redis://127.0.0.1:1");
  o.read_environment = true;
  ::setenv("UCACHE_REMOTE", server.unix_url().c_str(), 1);
  std::shared_ptr<Cache> on = Cache::Open(o);
  EXPECT_EQ(on->options().remote, server.unix_url());
  EXPECT_EQ(on->active_backend(), Backend::kMemoryFileRemote);
  ::setenv("UCACHE_REMOTE", "", 1);
  std::shared_ptr<Cache> off = Cache::Open(o);
  EXPECT_EQ(off->active_backend(), Backend::kMemoryAndFile);
  ::unsetenv("UCACHE_REMOTE");
}

TEST(RemoteTierTest, AFailingServerDegradesToTheLocalTiersAndSaysWhy) {
  TempDir dir;
  std::shared_ptr<Cache> c = Cache::Open(WithRemote(
      dir.path(), "redis://127.0.0.1:" + std::to_string(testing::FreePort())));
  c->Put("k", "v");  // the remote put fails: the breaker opens
  EXPECT_EQ(c->active_backend(), Backend::kMemoryAndFile);
  EXPECT_NE(c->active_reason().find("remote tier"), std::string::npos);
  std::optional<Cache::Hit> hit = c->Get("k");
  ASSERT_TRUE(hit);  // the local tiers serve on
  EXPECT_EQ(hit->data, "v");
}

// Two machines (processes, separate stores) x 1000 memoized calls of the
// same keys, at once: each key is computed once across both.
TEST(RemoteTierTest, TwoMachinesComputeEachKeyOnce) {
  RedisServer server;
  ASSERT_TRUE(server.ok());
  TempDir a, b;
  constexpr int kCalls = 1000;
  int pipes[2][2];
  pid_t pids[2];
  const std::string dirs[2] = {a.path(), b.path()};
  for (int m = 0; m < 2; ++m) {
    ASSERT_EQ(::pipe(pipes[m]), 0);
    pids[m] = ::fork();
    if (pids[m] == 0) {
      std::atomic<int> computed{0};
      Options o = WithRemote(dirs[m], server.unix_url());
      o.remote_options.write_behind = true;
      // What is tested is the lease, not the timeouts: on a loaded machine
      // (CI runs two tests at once, sanitizers slow everything) a 300 ms
      // bound trips the breaker, and calls rightly compute without the
      // remote tier; and a waiter must not give up on a holder whose
      // write-behind queue lags.
      o.remote_options.operation_timeout = std::chrono::milliseconds(20000);
      o.remote_options.connect_timeout = std::chrono::milliseconds(5000);
      o.remote_options.lease_wait = std::chrono::milliseconds(120000);
      o.remote_options.drain_timeout = std::chrono::milliseconds(120000);
      int out[2] = {0, 0};
      {
        auto square = memoize(
            "square/v1",
            [&computed](int x) {
              ++computed;
              return static_cast<int64_t>(x) * x;
            },
            o);
        for (int i = 0; i < kCalls; ++i) out[1] += square(i) != int64_t{i} * i;
        out[0] = computed.load();
        // Closing the cache drains its queue: the values and the lease
        // releases the other machine may still be waiting for. (_exit
        // with them queued would be a holder dying.)
      }
      ::write(pipes[m][1], out, sizeof(out));
      ::_exit(0);
    }
    ::close(pipes[m][1]);
  }
  int computed = 0;
  for (int m = 0; m < 2; ++m) {
    int got[2] = {-1, -1};
    ASSERT_EQ(::read(pipes[m][0], got, sizeof(got)),
              static_cast<ssize_t>(sizeof(got)));
    int status = 0;
    ::waitpid(pids[m], &status, 0);
    EXPECT_EQ(got[1], 0) << "wrong values on machine " << m;
    computed += got[0];
  }
  // Each key exactly once, loaded or not: a holder keeps its lease until
  // its value is on the server, and the waiter waits (lease_wait) for it.
  // Before that, 14 to 221 of 1000 keys were computed twice on a loaded
  // machine: a holder's lease lapsed while its value sat in a lagging
  // write-behind queue, or the process exited with it queued.
  EXPECT_EQ(computed, kCalls);
}

}  // namespace
}  // namespace ucache
