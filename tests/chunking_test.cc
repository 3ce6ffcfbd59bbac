// Chunked values against a real redis-server whose proto-max-bulk-len is
// 1 MiB (Redis' smallest): stored in chunks, verified as a whole, and a
// chunk lost, replaced or raced over is a counted miss, never a wrong value.

#include "src/remote/chunking.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/redis_server.h"
#include "ucache/remote_cache.h"

namespace ucache {
namespace {

using remote_internal::ChunkHead;
using remote_internal::ChunkKey;
using std::chrono::milliseconds;
using testing::RedisServer;

constexpr size_t kMiB = size_t{1} << 20;
const std::vector<std::string> kSmallBulk = {"--proto-max-bulk-len", "1mb"};

// Bytes LZ4 cannot shrink, so frames are as large as the values; the first
// eight bytes are the seed, so a reader can tell which write it sees.
std::string Incompressible(size_t n, uint64_t seed) {
  std::string out(n, '\0');
  std::memcpy(out.data(), &seed, sizeof(seed));
  for (size_t i = sizeof(seed); i < n; ++i) {
    seed = seed * 6364136223846793005u + 1442695040888963407u;
    out[i] = static_cast<char>(seed >> 56);
  }
  return out;
}

RemoteOptions Sync() {
  RemoteOptions o;
  o.write_behind = false;
  o.operation_timeout = milliseconds(2000);
  o.log = [](LogLevel, std::string_view) {};
  return o;
}

std::unique_ptr<RemoteCache> Open(const RedisServer& server,
                                  const RemoteOptions& o = Sync()) {
  Result<std::unique_ptr<RemoteCache>> r =
      RemoteCache::Open(server.unix_url(), o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(*r) : nullptr;
}

std::optional<std::string> GetString(RemoteCache& c, std::string_view key) {
  std::optional<RemoteCache::Value> v = c.Get(key);
  if (!v) return std::nullopt;
  return std::string(v->data);
}

// The head under ucache:<key>, as the server holds it.
ChunkHead HeadOf(const RedisServer& server, const std::string& key) {
  ChunkHead head;
  EXPECT_TRUE(remote_internal::DecodeChunkHead(
      server.Command({"GET", "ucache:" + key}), &head));
  return head;
}

std::string ChunkOf(const ChunkHead& head, const std::string& key, uint32_t i) {
  return ChunkKey("ucache:", key, head.token, i);
}

TEST(ChunkingTest, HeadEncodesAndRefusesWhatIsNotOne) {
  ChunkHead head{3, 3000, 0x1234, std::string(32, 'a')};
  const std::string bytes = remote_internal::EncodeChunkHead(head);
  ChunkHead back;
  ASSERT_TRUE(remote_internal::DecodeChunkHead(bytes, &back));
  EXPECT_EQ(back.chunks, 3u);
  EXPECT_EQ(back.frame_bytes, 3000u);
  EXPECT_EQ(back.checksum, 0x1234u);
  EXPECT_EQ(back.token, head.token);
  EXPECT_FALSE(remote_internal::DecodeChunkHead(bytes.substr(0, 63), &back));
  std::string bad_token = bytes;
  bad_token[40] = ':';
  EXPECT_FALSE(remote_internal::DecodeChunkHead(bad_token, &back));
  head.chunks = 0;
  EXPECT_FALSE(remote_internal::DecodeChunkHead(
      remote_internal::EncodeChunkHead(head), &back));
}

TEST(ChunkingTest, ValueAboveTheServersLimitRoundTripsInChunksWithTtl) {
  RedisServer server(kSmallBulk);
  ASSERT_TRUE(server.ok());
  std::unique_ptr<RemoteCache> c = Open(server);
  const std::string big = Incompressible(3 * kMiB + 1000, 7);
  ASSERT_TRUE(c->Put("big", big, milliseconds(60000)).ok());
  ASSERT_TRUE(c->Put("small", "whole", milliseconds(0)).ok());
  EXPECT_EQ(GetString(*c, "big"), big);
  EXPECT_EQ(GetString(*c, "small"), "whole");
  const ChunkHead head = HeadOf(server, "big");
  EXPECT_EQ(head.chunks, 4u);  // 1 MiB chunks, the server's limit
  EXPECT_EQ(server.Command({"DBSIZE"}), "6");
  // Every key expires, no chunk before its head.
  const int head_ttl = std::stoi(server.Command({"PTTL", "ucache:big"}));
  EXPECT_GT(head_ttl, 50000);
  for (uint32_t i = 0; i < head.chunks; ++i) {
    EXPECT_GE(std::stoi(server.Command({"PTTL", ChunkOf(head, "big", i)})),
              head_ttl);
  }
  const RemoteCacheStats s = c->GetStats();
  EXPECT_EQ(s.chunked_writes, 1u);
  EXPECT_EQ(s.writes, 2u);
  EXPECT_EQ(s.hits, 2u);
  EXPECT_EQ(s.errors, 0u);  // no command was refused, no connection broken
  Result<std::vector<std::string>> keys = c->List("");
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->size(), 2u);  // chunks are not keys of the cache
}

TEST(ChunkingTest, OverwriteUnlinksTheChunksItReplaces) {
  RedisServer server(kSmallBulk);
  ASSERT_TRUE(server.ok());
  std::unique_ptr<RemoteCache> c = Open(server);
  ASSERT_TRUE(c->Put("k", Incompressible(3 * kMiB, 1), milliseconds(0)).ok());
  const std::string second = Incompressible(2 * kMiB, 2);
  ASSERT_TRUE(c->Put("k", second, milliseconds(0)).ok());
  // Only the second's head and chunks are left.
  EXPECT_EQ(server.Command({"DBSIZE"}),
            std::to_string(HeadOf(server, "k").chunks + 1));
  EXPECT_EQ(GetString(*c, "k"), second);
}

TEST(ChunkingTest, ConfigRefusedFallsBackToChunkBytes) {
  RedisServer server(
      {"--proto-max-bulk-len", "1mb", "--rename-command", "CONFIG", "\"\""});
  ASSERT_TRUE(server.ok());
  RemoteOptions o = Sync();
  o.chunk_bytes = 512 << 10;
  std::unique_ptr<RemoteCache> c = Open(server, o);
  const std::string big = Incompressible(2 * kMiB, 3);
  ASSERT_TRUE(c->Put("big", big, milliseconds(0)).ok());
  EXPECT_EQ(GetString(*c, "big"), big);
  EXPECT_EQ(HeadOf(server, "big").chunks, 5u);
  EXPECT_EQ(c->GetStats().errors, 0u);
}

TEST(ChunkingTest, DeletedChunkIsACountedMiss) {
  RedisServer server(kSmallBulk);
  ASSERT_TRUE(server.ok());
  std::unique_ptr<RemoteCache> c = Open(server);
  ASSERT_TRUE(c->Put("k", Incompressible(3 * kMiB, 4), milliseconds(0)).ok());
  EXPECT_EQ(server.Command({"DEL", ChunkOf(HeadOf(server, "k"), "k", 2)}), "1");
  EXPECT_EQ(GetString(*c, "k"), std::nullopt);
  const RemoteCacheStats s = c->GetStats();
  EXPECT_EQ(s.chunks_missing, 1u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.errors, 0u);
}

TEST(ChunkingTest, ChunkOfAnotherWriteIsACorruptMiss) {
  RedisServer server(kSmallBulk);
  ASSERT_TRUE(server.ok());
  std::unique_ptr<RemoteCache> c = Open(server);
  // The first write's chunk 1, then a second write of the same key and
  // size, then the first's chunk planted in the second's place.
  ASSERT_TRUE(c->Put("k", Incompressible(3 * kMiB, 5), milliseconds(0)).ok());
  const std::string old_chunk =
      server.Command({"GET", ChunkOf(HeadOf(server, "k"), "k", 1)});
  ASSERT_EQ(old_chunk.size(), kMiB);
  ASSERT_TRUE(c->Put("k", Incompressible(3 * kMiB, 6), milliseconds(0)).ok());
  EXPECT_EQ(
      server.Command({"SET", ChunkOf(HeadOf(server, "k"), "k", 1), old_chunk}),
      "OK");
  EXPECT_EQ(GetString(*c, "k"), std::nullopt);
  EXPECT_EQ(c->GetStats().corrupt, 1u);
}

TEST(ChunkingTest, TruncatedHeadIsACorruptMiss) {
  RedisServer server(kSmallBulk);
  ASSERT_TRUE(server.ok());
  std::unique_ptr<RemoteCache> c = Open(server);
  ASSERT_TRUE(c->Put("k", Incompressible(2 * kMiB, 8), milliseconds(0)).ok());
  const std::string head = server.Command({"GET", "ucache:k"});
  server.Command({"SET", "ucache:k", head.substr(0, head.size() - 10)});
  EXPECT_EQ(GetString(*c, "k"), std::nullopt);
  EXPECT_EQ(c->GetStats().corrupt, 1u);
  EXPECT_EQ(c->GetStats().errors, 0u);
}

TEST(ChunkingTest, TwoWritersRacingOnOneKeyNeverMix) {
  RedisServer server(kSmallBulk);
  ASSERT_TRUE(server.ok());
  std::unique_ptr<RemoteCache> a = Open(server);
  std::unique_ptr<RemoteCache> b = Open(server);
  std::unique_ptr<RemoteCache> reader = Open(server);
  constexpr size_t kSize = 2 * kMiB + 12345;
  std::atomic<bool> stop{false};
  std::atomic<int> wrong{0};
  std::thread read([&] {
    while (!stop) {
      std::optional<std::string> v = GetString(*reader, "k");
      if (!v) continue;
      uint64_t seed = 0;
      std::memcpy(&seed, v->data(), sizeof(seed));
      if (*v != Incompressible(kSize, seed)) ++wrong;
    }
  });
  std::vector<std::thread> writers;
  for (RemoteCache* w : {a.get(), b.get()}) {
    writers.emplace_back([&, w] {
      for (uint64_t i = 0; i < 15; ++i) {
        const uint64_t seed = (w == a.get() ? 1000 : 2000) + i;
        EXPECT_TRUE(
            w->Put("k", Incompressible(kSize, seed), milliseconds(0)).ok());
      }
    });
  }
  for (std::thread& t : writers) t.join();
  stop = true;
  read.join();
  EXPECT_EQ(wrong.load(), 0);
  // Once the race is over, the last head names whole chunks.
  std::optional<std::string> last = GetString(*reader, "k");
  ASSERT_TRUE(last);
  uint64_t seed = 0;
  std::memcpy(&seed, last->data(), sizeof(seed));
  EXPECT_EQ(*last, Incompressible(kSize, seed));
  EXPECT_TRUE(seed == 1014 || seed == 2014) << seed;
}

}  // namespace
}  // namespace ucache
