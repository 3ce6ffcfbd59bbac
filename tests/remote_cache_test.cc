// RemoteCache against real redis-server instances of the test's own:
// killed, stopped, paused, full, password-protected, and impostors.

#include "ucache/remote_cache.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "src/remote/connection.h"
#include "src/remote/framing.h"
#include "src/remote/remote_impl.h"
#include "tests/redis_server.h"
#include "tests/testutil.h"

namespace ucache {
namespace {

using std::chrono::milliseconds;
using testing::RedisServer;

RemoteOptions Fast(LogRecorder* log, bool write_behind = false) {
  RemoteOptions o;
  o.operation_timeout = milliseconds(200);
  o.retry_initial = milliseconds(100);
  o.retry_max = milliseconds(400);
  o.write_behind = write_behind;
  o.log = log->Sink();
  return o;
}

std::unique_ptr<RemoteCache> Open(const std::string& url,
                                  const RemoteOptions& o) {
  Result<std::unique_ptr<RemoteCache>> r = RemoteCache::Open(url, o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(*r) : nullptr;
}

std::optional<std::string> GetString(RemoteCache& c, std::string_view key) {
  std::optional<RemoteCache::Value> v = c.Get(key);
  if (!v) return std::nullopt;
  return std::string(v->data);
}

// Bytes LZ4 cannot shrink, so sizes on the server are what the test says.
std::string Incompressible(size_t n, uint64_t seed = 1) {
  std::string out(n, '\0');
  for (char& c : out) {
    seed = seed * 6364136223846793005u + 1442695040888963407u;
    c = static_cast<char>(seed >> 56);
  }
  return out;
}

TEST(RemoteCacheTest, RoundTripsOverUnixAndTcpWithPrefixAndTtl) {
  RedisServer server({}, /*tcp=*/true);
  ASSERT_TRUE(server.ok());
  LogRecorder log;
  for (const std::string& url : {server.unix_url(), server.tcp_url()}) {
    std::unique_ptr<RemoteCache> c = Open(url, Fast(&log));
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->Put("k", "value", milliseconds(0)).ok());
    ASSERT_TRUE(c->Put("t", "short", milliseconds(60000)).ok());
    EXPECT_EQ(GetString(*c, "k"), "value");
    EXPECT_EQ(GetString(*c, "missing"), std::nullopt);
    const int pttl = std::stoi(server.Command({"PTTL", "ucache:t"}));
    EXPECT_GT(pttl, 50000);  // TTL is Redis expiry too
    EXPECT_EQ(server.Command({"PTTL", "ucache:k"}), "-1");
    ASSERT_TRUE(c->Erase("k").ok());
    EXPECT_EQ(GetString(*c, "k"), std::nullopt);
    const RemoteCacheStats s = c->GetStats();
    EXPECT_EQ(s.hits, 1u);
    EXPECT_EQ(s.misses, 2u);
    EXPECT_EQ(s.errors, 0u);
  }
  EXPECT_EQ(log.Lines().size(), 0u);
}

TEST(RemoteCacheTest,
     GarbageTruncatedForeignAndMisplacedValuesAreCountedMisses) {
  RedisServer server;
  ASSERT_TRUE(server.ok());
  LogRecorder log;
  std::unique_ptr<RemoteCache> c = Open(server.unix_url(), Fast(&log));
  const std::string frame = remote_internal::EncodeFrame(
      "good", std::string(1000, 'g'), 0, FileCacheOptions());
  server.Command({"SET", "ucache:garbage", "hello world"});
  server.Command(
      {"SET", "ucache:truncated", frame.substr(0, frame.size() / 2)});
  server.Command({"SET", "ucache:moved", frame});  // the frame of "good"
  server.Command({"SET", "ucache:good", frame});
  EXPECT_EQ(GetString(*c, "garbage"), std::nullopt);
  EXPECT_EQ(GetString(*c, "truncated"), std::nullopt);
  EXPECT_EQ(GetString(*c, "moved"), std::nullopt);
  EXPECT_EQ(GetString(*c, "good"), std::string(1000, 'g'));
  const RemoteCacheStats s = c->GetStats();
  EXPECT_EQ(s.corrupt, 3u);
  EXPECT_EQ(s.misses, 3u);
  EXPECT_EQ(s.errors, 0u);  // the server is fine: no breaker
}

TEST(RemoteCacheTest, RefusedConnectionIsFastThenSkippedWithOneWarning) {
  LogRecorder log;
  std::unique_ptr<RemoteCache> c = Open(
      "redis://127.0.0.1:" + std::to_string(testing::FreePort()), Fast(&log));
  EXPECT_LT(MillisOf([&] { EXPECT_EQ(GetString(*c, "k"), std::nullopt); }),
            200);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(GetString(*c, "k"), std::nullopt);
  const RemoteCacheStats s = c->GetStats();
  EXPECT_EQ(s.errors, 1u);
  EXPECT_EQ(s.skipped, 10u);
  EXPECT_EQ(s.shards_open, 1u);
  EXPECT_FALSE(c->healthy());
  EXPECT_NE(c->reason().find("refused"), std::string::npos) << c->reason();
  EXPECT_EQ(log.Lines().size(), 1u);
}

TEST(RemoteCacheTest, StoppedServerCostsOneTimeoutThenRecoversByItself) {
  RedisServer server;
  ASSERT_TRUE(server.ok());
  LogRecorder log;
  std::unique_ptr<RemoteCache> c = Open(server.unix_url(), Fast(&log));
  ASSERT_TRUE(c->Put("k", "v", milliseconds(0)).ok());
  server.Pause();  // connects succeed, replies never come
  const int64_t first = MillisOf([&] { EXPECT_FALSE(c->Get("k")); });
  EXPECT_GE(first, 190);
  EXPECT_LT(first, 1000);
  const int64_t skipped = MillisOf([&] {
    for (int i = 0; i < 20; ++i) EXPECT_FALSE(c->Get("k"));
  });
  EXPECT_LT(skipped, 50);
  EXPECT_EQ(c->GetStats().timeouts, 1u);
  server.Resume();
  std::optional<std::string> v;
  for (int i = 0; i < 100 && !v; ++i) {
    std::this_thread::sleep_for(milliseconds(20));
    v = GetString(*c, "k");
  }
  EXPECT_EQ(v, "v");
  EXPECT_TRUE(c->healthy());
  ASSERT_EQ(log.Lines().size(), 2u);  // one warning, one recovery
  EXPECT_EQ(log.Lines()[1].substr(0, 2), "I ");
}

TEST(RemoteCacheTest, ClientPauseIsATimeoutNotAStall) {
  RedisServer server;
  ASSERT_TRUE(server.ok());
  LogRecorder log;
  std::unique_ptr<RemoteCache> c = Open(server.unix_url(), Fast(&log));
  ASSERT_TRUE(c->Put("k", "v", milliseconds(0)).ok());
  EXPECT_EQ(server.Command({"CLIENT", "PAUSE", "1500", "ALL"}), "OK");
  EXPECT_LT(MillisOf([&] { EXPECT_FALSE(c->Get("k")); }), 1000);
  EXPECT_EQ(c->GetStats().timeouts, 1u);
}

TEST(RemoteCacheTest, KilledServerNeverRaisesSigpipeAndRestartRecovers) {
  RedisServer server;
  ASSERT_TRUE(server.ok());
  LogRecorder log;
  std::unique_ptr<RemoteCache> c = Open(server.unix_url(), Fast(&log));
  const std::string big(8 << 20, 'b');
  ASSERT_TRUE(c->Put("big", big, milliseconds(0)).ok());
  // Readers in flight when the server dies: mid-reply, and then writes on
  // the pooled connections to a dead peer (EPIPE, never SIGPIPE).
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      while (!stop) {
        c->Get("big");
        c->Put("small", "x", milliseconds(0)).IgnoreError();
      }
    });
  }
  std::this_thread::sleep_for(milliseconds(100));
  server.Kill();
  std::this_thread::sleep_for(milliseconds(100));
  stop = true;
  for (std::thread& t : threads) t.join();
  EXPECT_GE(c->GetStats().errors, 1u);
  ASSERT_TRUE(server.Restart());
  std::optional<std::string> v;
  for (int i = 0; i < 100 && !v; ++i) {
    std::this_thread::sleep_for(milliseconds(20));
    if (c->Put("after", "restart", milliseconds(0)).ok())
      v = GetString(*c, "after");
  }
  EXPECT_EQ(v, "restart");
}

TEST(RemoteCacheTest, PasswordRequiredWrongOrMissingIsAFailureRightWorks) {
  RedisServer server({"--requirepass", "s3cret"});
  ASSERT_TRUE(server.ok());
  const std::string path = server.socket();
  for (const std::string& cred : {std::string(), std::string("wrong@")}) {
    LogRecorder log;
    std::unique_ptr<RemoteCache> c =
        Open("redis+unix://" + cred + path, Fast(&log));
    EXPECT_FALSE(c->Put("k", "v", milliseconds(0)).ok());
    EXPECT_FALSE(c->Get("k"));
    EXPECT_EQ(c->GetStats().errors, 1u) << cred;
    EXPECT_EQ(log.Lines().size(), 1u);
  }
  LogRecorder log;
  std::unique_ptr<RemoteCache> c =
      Open("redis+unix://s3cret@" + path, Fast(&log));
  ASSERT_TRUE(c->Put("k", "v", milliseconds(0)).ok());
  EXPECT_EQ(GetString(*c, "k"), "v");
}

TEST(RemoteCacheTest, FullServerAnswersOomAndIsSkippedWithoutHarm) {
  RedisServer server(
      {"--maxmemory", "2mb", "--maxmemory-policy", "noeviction"});
  ASSERT_TRUE(server.ok());
  LogRecorder log;
  std::unique_ptr<RemoteCache> c = Open(server.unix_url(), Fast(&log));
  const std::string v = Incompressible(1 << 20);
  Status last;
  for (int i = 0; i < 8 && last.ok(); ++i) {
    last =
        c->Put("k" + std::to_string(i), v + std::to_string(i), milliseconds(0));
  }
  EXPECT_FALSE(last.ok());
  EXPECT_NE(last.ToString().find("OOM"), std::string::npos) << last.ToString();
  EXPECT_EQ(log.Lines().size(), 1u);
  EXPECT_EQ(c->GetStats().errors, 1u);
}

TEST(RemoteCacheTest, SomethingThatIsNotRedisIsAProtocolFailure) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ASSERT_EQ(::listen(fd, 4), 0);
  std::thread http([fd] {
    const int peer = ::accept(fd, nullptr, nullptr);
    const char reply[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
    ::write(peer, reply, sizeof(reply) - 1);
    std::this_thread::sleep_for(milliseconds(300));
    ::close(peer);
  });
  LogRecorder log;
  std::unique_ptr<RemoteCache> c = Open(
      "redis://127.0.0.1:" + std::to_string(ntohs(a.sin_port)), Fast(&log));
  EXPECT_LT(MillisOf([&] { EXPECT_FALSE(c->Get("k")); }), 250);
  http.join();
  ::close(fd);
  EXPECT_EQ(c->GetStats().errors, 1u);
  EXPECT_EQ(log.Lines().size(), 1u);
}

TEST(RemoteCacheTest, TooLargeValueIsSkippedAndErasesTheOlderOne) {
  RedisServer server;
  ASSERT_TRUE(server.ok());
  LogRecorder log;
  RemoteOptions o = Fast(&log);
  o.max_value_bytes = 1000;
  std::unique_ptr<RemoteCache> c = Open(server.unix_url(), o);
  ASSERT_TRUE(c->Put("k", "old", milliseconds(0)).ok());
  EXPECT_EQ(c->Put("k", std::string(2000, 'n'), milliseconds(0)).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(GetString(*c, "k"), std::nullopt);  // never the older version
  EXPECT_EQ(c->GetStats().too_large, 1u);
  ASSERT_TRUE(c->Put("k2", "fine", milliseconds(0)).ok());
  EXPECT_EQ(GetString(*c, "k2"), "fine");
  EXPECT_EQ(c->GetStats().errors, 0u);
}

TEST(RemoteCacheTest, SixtyFourThreadsUseSeveralConnections) {
  RedisServer server;
  ASSERT_TRUE(server.ok());
  LogRecorder log;
  std::unique_ptr<RemoteCache> c = Open(server.unix_url(), Fast(&log));
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 64; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        const std::string k = std::to_string(t) + "/" + std::to_string(i);
        if (!c->Put(k, k, milliseconds(0)).ok() || GetString(*c, k) != k) {
          ++wrong;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(c->GetStats().hits, 64u * 20);
  const std::string clients = server.Command({"INFO", "clients"});
  const size_t at = clients.find("connected_clients:");
  ASSERT_NE(at, std::string::npos);
  EXPECT_GE(std::stoi(clients.substr(at + 18)), 2);  // the pool kept several
}

TEST(RemoteCacheTest, WriteBehindReadsItsOwnWritesAndDrainsOnDestruction) {
  RedisServer server;
  ASSERT_TRUE(server.ok());
  LogRecorder log;
  {
    std::unique_ptr<RemoteCache> c =
        Open(server.unix_url(), Fast(&log, /*write_behind=*/true));
    server.Pause();
    ASSERT_TRUE(c->Put("mine", "queued", milliseconds(0)).ok());
    EXPECT_EQ(GetString(*c, "mine"), "queued");  // not on the server yet
    server.Resume();
    for (int i = 0; i < 200; ++i) {
      ASSERT_TRUE(c->Put("k" + std::to_string(i), "v", milliseconds(0)).ok());
    }
  }  // the destructor drains
  EXPECT_EQ(server.Command({"DBSIZE"}), "201");
}

TEST(RemoteCacheTest, FullQueueDropsAndCounts) {
  RedisServer server;
  ASSERT_TRUE(server.ok());
  LogRecorder log;
  RemoteOptions o = Fast(&log, /*write_behind=*/true);
  o.write_queue_bytes = 4096;
  o.drain_timeout = milliseconds(100);
  std::unique_ptr<RemoteCache> c = Open(server.unix_url(), o);
  server.Pause();
  int refused = 0;
  for (int i = 0; i < 50; ++i) {
    refused +=
        c->Put("k" + std::to_string(i), Incompressible(500), milliseconds(0))
            .code() == Status::Code::kNoSpace;
  }
  EXPECT_GT(refused, 30);
  EXPECT_EQ(c->GetStats().dropped_writes, static_cast<uint64_t>(refused));
  server.Resume();
}

TEST(RemoteCacheTest, ClaimMakesTheSecondWaitForTheFirstsValue) {
  RedisServer server;
  ASSERT_TRUE(server.ok());
  LogRecorder log;
  std::unique_ptr<RemoteCache> a = Open(server.unix_url(), Fast(&log, true));
  std::unique_ptr<RemoteCache> b = Open(server.unix_url(), Fast(&log, true));
  RemoteLease la;
  EXPECT_FALSE(a->Claim("k", &la));
  ASSERT_TRUE(la.held());
  std::thread holder([&] {
    std::this_thread::sleep_for(milliseconds(300));
    ASSERT_TRUE(a->Put("k", "computed once", milliseconds(0)).ok());
    la = RemoteLease();  // released after the queued put
  });
  RemoteLease lb;
  std::optional<RemoteCache::Value> v = b->Claim("k", &lb);
  holder.join();
  ASSERT_TRUE(v);
  EXPECT_EQ(v->data, "computed once");
  EXPECT_FALSE(lb.held());
  EXPECT_EQ(b->GetStats().lease_waits, 1u);
  EXPECT_EQ(b->GetStats().lease_fills, 1u);
}

// A connection whose writes of a value (any command carrying a frame: SET,
// or the script that stores a value with its lease's release) take `delay`
// first: a holder whose write-behind queue lags behind its computation.
class SlowStoreConnector : public remote_internal::Connector {
 public:
  explicit SlowStoreConnector(milliseconds delay) : delay_(delay) {}

  Result<std::unique_ptr<remote_internal::Connection>> Connect(
      const remote_internal::Endpoint& e, milliseconds connect_timeout,
      int64_t deadline_ms) override {
    Result<std::unique_ptr<remote_internal::Connection>> c =
        real_->Connect(e, connect_timeout, deadline_ms);
    if (!c.ok()) return c;
    return std::unique_ptr<remote_internal::Connection>(
        new Slow(std::move(*c), this));
  }

 private:
  class Slow : public remote_internal::Connection {
   public:
    Slow(std::unique_ptr<remote_internal::Connection> inner,
         const SlowStoreConnector* owner)
        : inner_(std::move(inner)), owner_(owner) {}
    Result<remote_internal::Reply> Run(std::span<const std::string_view> argv,
                                       int64_t deadline_ms) override {
      for (std::string_view a : argv) {
        if (a.starts_with(remote_internal::kFrameMagic)) {
          std::this_thread::sleep_for(owner_->delay_);
          break;
        }
      }
      return inner_->Run(argv, deadline_ms);
    }

   private:
    const std::unique_ptr<remote_internal::Connection> inner_;
    const SlowStoreConnector* const owner_;
  };

  const milliseconds delay_;
  const std::shared_ptr<remote_internal::Connector> real_ =
      remote_internal::NewHiredisConnector();
};

// The holder let go of its lease, but its value lands only after three
// lease_ttls: the lease is renewed until its release (queued behind the
// value) is applied, so the waiter gets the value instead of taking the
// lease and computing it again.
TEST(RemoteCacheTest, ALeaseIsKeptUntilTheHoldersQueuedValueLands) {
  RedisServer server;
  ASSERT_TRUE(server.ok());
  LogRecorder log;
  RemoteOptions o = Fast(&log, /*write_behind=*/true);
  o.operation_timeout = milliseconds(5000);  // the slow SET is no failure
  o.lease_ttl = milliseconds(300);
  Result<std::unique_ptr<RemoteCache>> a = remote_internal::OpenRemote(
      server.unix_url(), o,
      std::make_shared<SlowStoreConnector>(milliseconds(900)));
  ASSERT_TRUE(a.ok());
  std::unique_ptr<RemoteCache> b = Open(server.unix_url(), o);
  RemoteLease la;
  EXPECT_FALSE((*a)->Claim("k", &la));
  ASSERT_TRUE(la.held());
  ASSERT_TRUE((*a)->Put("k", "computed once", milliseconds(0)).ok());
  la = RemoteLease();  // let go: the release is queued behind the value
  RemoteLease lb;
  std::optional<RemoteCache::Value> v = b->Claim("k", &lb);
  ASSERT_TRUE(v) << "the waiter took the lease before the value landed";
  EXPECT_EQ(v->data, "computed once");
  EXPECT_FALSE(lb.held());
  EXPECT_EQ(b->GetStats().lease_fills, 1u);
  EXPECT_TRUE((*a)->Flush(milliseconds(5000)));
  EXPECT_EQ(server.Command({"EXISTS",
                            "ucache:\xff"
                            "lease:k"}),
            "0");  // released once the value was there
}

TEST(RemoteCacheTest, DeadHoldersLeaseExpiresAndAWaiterTakesOver) {
  RedisServer server;
  ASSERT_TRUE(server.ok());
  // A holder that died: its lease is there, nobody renews it.
  server.Command({"SET",
                  "ucache:\xff"
                  "lease:k",
                  "dead-token", "PX", "300"});
  LogRecorder log;
  RemoteOptions o = Fast(&log);
  o.lease_ttl = milliseconds(300);
  std::unique_ptr<RemoteCache> c = Open(server.unix_url(), o);
  RemoteLease lease;
  const int64_t waited = MillisOf([&] { EXPECT_FALSE(c->Claim("k", &lease)); });
  EXPECT_TRUE(lease.held());
  EXPECT_GE(waited, 250);
  // Renewed while held: still there after twice its ttl.
  std::this_thread::sleep_for(milliseconds(600));
  EXPECT_NE(server.Command({"GET",
                            "ucache:\xff"
                            "lease:k"}),
            "(nil)");
  lease = RemoteLease();
  EXPECT_EQ(server.Command({"EXISTS",
                            "ucache:\xff"
                            "lease:k"}),
            "0");
}

TEST(RemoteCacheTest, WaiterGivesUpAfterLeaseWait) {
  RedisServer server;
  ASSERT_TRUE(server.ok());
  server.Command({"SET",
                  "ucache:\xff"
                  "lease:k",
                  "other", "PX", "60000"});
  LogRecorder log;
  RemoteOptions o = Fast(&log);
  o.lease_wait = milliseconds(200);
  std::unique_ptr<RemoteCache> c = Open(server.unix_url(), o);
  RemoteLease lease;
  const int64_t waited = MillisOf([&] { EXPECT_FALSE(c->Claim("k", &lease)); });
  EXPECT_FALSE(lease.held());
  EXPECT_GE(waited, 190);
  EXPECT_LT(waited, 1000);
  EXPECT_EQ(c->GetStats().lease_timeouts, 1u);
}

TEST(RemoteCacheTest, ListAndClearStayInsideThePrefix) {
  RedisServer server;
  ASSERT_TRUE(server.ok());
  server.Command({"SET", "other:x", "not ours"});
  LogRecorder log;
  std::unique_ptr<RemoteCache> c = Open(server.unix_url(), Fast(&log));
  for (const char* k : {"sim/a", "sim/b", "feat*x"}) {
    ASSERT_TRUE(c->Put(k, "v", milliseconds(0)).ok());
  }
  Result<std::vector<std::string>> sim = c->List("sim/");
  ASSERT_TRUE(sim.ok());
  std::sort(sim->begin(), sim->end());
  EXPECT_EQ(*sim, (std::vector<std::string>{"sim/a", "sim/b"}));
  Result<std::vector<std::string>> star = c->List("feat*");
  ASSERT_TRUE(star.ok());
  EXPECT_EQ(star->size(), 1u);
  ASSERT_TRUE(c->Clear().ok());
  EXPECT_EQ(server.Command({"DBSIZE"}), "1");
}

}  // namespace
}  // namespace ucache
