// Unit tests of the disk tier through its public API. Multi-process,
// crash, corruption and full-disk behaviour have their own test files.

#include "ucache/file_cache.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "src/fcache/format.h"
#include "tests/testutil.h"

namespace ucache {
namespace {

using std::chrono::milliseconds;

// A format version this ucache does not know yet.
constexpr uint32_t kNewerVersion = fcache_internal::kFormatVersion + 1;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Rewrites the prelude of the store file at `path` as format `version`, with
// a valid checksum, as a newer ucache would have written it.
std::string SetPreludeVersion(const std::string& path, uint32_t version) {
  std::string bytes = ReadFile(path);
  std::memcpy(bytes.data() + 8, &version, sizeof(version));
  const uint64_t sum = XXH3_64bits(bytes.data(), 56);
  std::memcpy(bytes.data() + 56, &sum, sizeof(sum));
  WriteFile(path, bytes);
  return bytes;
}

std::string LogPath(const std::string& dir) {
  return dir + "/log.0000000000000001";
}

TEST(FileCacheTest, PutGetOverwriteErase) {
  TempDir tmp;
  auto cache = OpenStore(tmp.Sub("store"));
  ASSERT_NE(cache, nullptr);
  EXPECT_EQ(GetOrMiss(*cache, "k"), "<miss>");
  ASSERT_OK(cache->Put("k", "v1"));
  EXPECT_EQ(GetOrMiss(*cache, "k"), "v1");
  EXPECT_TRUE(cache->Contains("k"));
  ASSERT_OK(cache->Put("k", "second value"));
  EXPECT_EQ(GetOrMiss(*cache, "k"), "second value");
  ASSERT_OK(cache->Erase("k"));
  EXPECT_EQ(GetOrMiss(*cache, "k"), "<miss>");
  EXPECT_FALSE(cache->Contains("k"));
  EXPECT_OK(cache->Erase("never-there"));
  ASSERT_OK(cache->Put("k", "back"));
  EXPECT_EQ(GetOrMiss(*cache, "k"), "back");
}

TEST(FileCacheTest, BinaryKeysAndValuesAndEmptyValue) {
  TempDir tmp;
  auto cache = OpenStore(tmp.path());
  const std::string key("a\0b\xff", 4);
  const std::string value("\0\1\2\0", 4);
  ASSERT_OK(cache->Put(key, value));
  ASSERT_OK(cache->Put("empty", ""));
  EXPECT_EQ(GetOrMiss(*cache, key), value);
  EXPECT_EQ(GetOrMiss(*cache, "empty"), "");
  EXPECT_EQ(GetOrMiss(*cache, std::string("a\0b", 3)), "<miss>");
}

TEST(FileCacheTest, RejectsBadArguments) {
  TempDir tmp;
  auto cache = OpenStore(tmp.path());
  EXPECT_EQ(cache->Put("", "v").code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(
      cache->Put(std::string(FileCache::kMaxKeyBytes + 1, 'k'), "v").code(),
      Status::Code::kInvalidArgument);
  EXPECT_EQ(cache->Put("k", "v", milliseconds(-1)).code(),
            Status::Code::kInvalidArgument);
  EXPECT_OK(cache->Put(std::string(FileCache::kMaxKeyBytes, 'k'), "v"));
  EXPECT_EQ(FileCache::Open("").status().code(),
            Status::Code::kInvalidArgument);
}

TEST(FileCacheTest, PersistsAcrossReopen) {
  TempDir tmp;
  std::mt19937_64 rng(1);
  std::map<std::string, std::string> expected;
  {
    auto cache = OpenStore(tmp.path());
    for (int i = 0; i < 3000; ++i) {
      std::string key = "key" + std::to_string(i);
      std::string value = RandomBytes(rng, rng() % 600);
      ASSERT_OK(cache->Put(key, value));
      expected[key] = value;
    }
    for (int i = 0; i < 3000; i += 3) {
      std::string key = "key" + std::to_string(i);
      ASSERT_OK(cache->Erase(key));
      expected.erase(key);
    }
  }
  auto cache = OpenStore(tmp.path());
  for (int i = 0; i < 3000; ++i) {
    std::string key = "key" + std::to_string(i);
    auto it = expected.find(key);
    EXPECT_EQ(GetOrMiss(*cache, key),
              it == expected.end() ? "<miss>" : it->second)
        << key;
  }
  auto stats = cache->GetStats();
  ASSERT_OK(stats);
  EXPECT_EQ(stats->entries, expected.size());
  // 3000 keys outgrow the initial 1024-slot index, so it was rebuilt.
  EXPECT_GT(stats->generation, 1u);
}

TEST(FileCacheTest, SecondHandleSeesWritesWithoutReopening) {
  TempDir tmp;
  auto a = OpenStore(tmp.path());
  auto b = OpenStore(tmp.path());
  ASSERT_OK(a->Put("x", "1"));
  EXPECT_EQ(GetOrMiss(*b, "x"), "1");
  // Enough writes to force new generations (index growth, compaction).
  for (int i = 0; i < 5000; ++i)
    ASSERT_OK(a->Put("k" + std::to_string(i), "v"));
  ASSERT_OK(a->Compact());
  EXPECT_EQ(GetOrMiss(*b, "k4999"), "v");
  ASSERT_OK(b->Put("y", "2"));
  EXPECT_EQ(GetOrMiss(*a, "y"), "2");
  ASSERT_OK(b->Erase("x"));
  EXPECT_EQ(GetOrMiss(*a, "x"), "<miss>");
}

// An Env whose log mappings first let another handle compact, the first
// `count` times: each generation a reader reopens is superseded before it
// reads, as under a process compacting in a loop.
class CompactingEnv : public FaultEnv {
 public:
  CompactingEnv(FileCache** other, int count) : other_(other), left_(count) {}
  Result<void*> Map(int fd, uint64_t len, bool writable) override {
    // Index mappings are writable; log mappings are not.
    if (!writable && *other_ != nullptr && left_ > 0) {
      --left_;
      EXPECT_OK((*other_)->Compact());
    }
    return FaultEnv::Map(fd, len, writable);
  }
  int left() const { return left_; }

 private:
  FileCache** const other_;
  int left_;
};

// The soak (//tests:soak_test) saw a Get fail with Busy while another
// process compacted about every 3 ms: a read gave up after 8 generations
// changed under it. It must outlast a few dozen in a row.
TEST(FileCacheTest, ReadOutlastsGenerationsPublishedUnderIt) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  auto writer = OpenStore(dir);
  ASSERT_NE(writer, nullptr);
  ASSERT_OK(writer->Put("k", "v"));
  FileCache* other = nullptr;
  auto env = std::make_shared<CompactingEnv>(&other, 40);
  FileCacheOptions options;
  options.env = env;
  auto reader = OpenStore(dir, options);
  ASSERT_NE(reader, nullptr);
  other = writer.get();
  ASSERT_OK(writer->Compact());  // the reader's generation is superseded
  std::string value;
  ASSERT_OK(reader->Get("k", &value));
  EXPECT_EQ(value, "v");
  EXPECT_EQ(env->left(), 0) << "fewer generations changed than planned";
}

// A TTL too large to add to the clock is forever: `now + ttl` used to
// overflow, and the value never read back although Put said OK.
TEST(FileCacheTest, HugeTtlMeansForever) {
  TempDir tmp;
  auto cache = OpenStore(tmp.path());
  ASSERT_OK(cache->Put("k", "v", milliseconds::max()));
  EXPECT_EQ(GetOrMiss(*cache, "k"), "v");
  ASSERT_OK(cache->Put("k2", "v2",
                       milliseconds(std::numeric_limits<int64_t>::max() - 1)));
  EXPECT_EQ(GetOrMiss(*cache, "k2"), "v2");
}

TEST(FileCacheTest, ListsKeys) {
  TempDir tmp;
  auto cache = OpenStore(tmp.path());
  ASSERT_OK(cache->Put("a", "1"));
  ASSERT_OK(cache->Put("b", "2"));
  ASSERT_OK(cache->Put("c", "3"));
  ASSERT_OK(cache->Erase("b"));
  std::set<std::string> keys;
  ASSERT_OK(cache->ForEachKey([&](std::string_view k) { keys.emplace(k); }));
  EXPECT_EQ(keys, (std::set<std::string>{"a", "c"}));
}

TEST(FileCacheTest, ClearEmptiesAndShrinks) {
  TempDir tmp;
  auto cache = OpenStore(tmp.path());
  for (int i = 0; i < 100; ++i) {
    ASSERT_OK(cache->Put("k" + std::to_string(i), std::string(10000, 'x')));
  }
  auto before = cache->GetStats();
  ASSERT_OK(cache->Clear());
  auto after = cache->GetStats();
  ASSERT_OK(after);
  EXPECT_EQ(after->entries, 0u);
  EXPECT_LT(after->file_bytes, before->file_bytes);
  EXPECT_EQ(GetOrMiss(*cache, "k1"), "<miss>");
  ASSERT_OK(cache->Put("k1", "new"));
  EXPECT_EQ(GetOrMiss(*cache, "k1"), "new");
}

TEST(FileCacheTest, TtlWithFakeClock) {
  TempDir tmp;
  auto env = std::make_shared<FaultEnv>();
  env->SetNowMillis(1'000'000);
  FileCacheOptions options;
  options.env = env;
  options.default_ttl = milliseconds(500);
  auto cache = OpenStore(tmp.path(), options);
  ASSERT_OK(cache->Put("short", "s", milliseconds(100)));
  ASSERT_OK(cache->Put("default", "d"));
  env->AdvanceMillis(99);
  EXPECT_EQ(GetOrMiss(*cache, "short"), "s");
  env->AdvanceMillis(1);
  EXPECT_EQ(GetOrMiss(*cache, "short"), "<miss>");
  EXPECT_FALSE(cache->Contains("short"));
  EXPECT_EQ(GetOrMiss(*cache, "default"), "d");
  env->AdvanceMillis(400);
  EXPECT_EQ(GetOrMiss(*cache, "default"), "<miss>");
  // Expiry is persisted wall time: a reopened store agrees.
  ASSERT_OK(cache->Put("long", "l", milliseconds(10'000)));
  cache.reset();
  cache = OpenStore(tmp.path(), options);
  EXPECT_EQ(GetOrMiss(*cache, "long"), "l");
  env->AdvanceMillis(10'000);
  EXPECT_EQ(GetOrMiss(*cache, "long"), "<miss>");
  // Compaction drops expired records and counts them.
  ASSERT_OK(cache->Compact());
  auto stats = cache->GetStats();
  ASSERT_OK(stats);
  EXPECT_EQ(stats->entries, 0u);
  EXPECT_EQ(stats->expired_dropped, 3u);
  // A clock jumping backwards revives nothing already dropped, and makes
  // unexpired records live longer: documented wall-clock semantics.
  ASSERT_OK(cache->Put("jump", "j", milliseconds(100)));
  env->AdvanceMillis(-1'000'000);
  EXPECT_EQ(GetOrMiss(*cache, "jump"), "j");
}

TEST(FileCacheTest, CompressesCompressibleValuesOnly) {
  TempDir tmp;
  for (Compression c : {Compression::kLz4, Compression::kLz4Hc}) {
    FileCacheOptions options;
    options.compression = c;
    auto cache =
        OpenStore(tmp.Sub(c == Compression::kLz4 ? "lz4" : "hc"), options);
    const std::string text(100000, 'a');
    ASSERT_OK(cache->Put("text", text));
    auto stats = cache->GetStats();
    EXPECT_GT(stats->compression_ratio(), 50.0);
    EXPECT_EQ(GetOrMiss(*cache, "text"), text);
    ValueView view;
    ASSERT_OK(cache->GetView("text", &view));
    EXPECT_FALSE(view.zero_copy());
    EXPECT_EQ(view.data(), text);
  }
  FileCacheOptions options;
  auto cache = OpenStore(tmp.Sub("random"), options);
  std::mt19937_64 rng(2);
  const std::string noise = RandomBytes(rng, 100000);
  ASSERT_OK(cache->Put("noise", noise));
  ValueView view;
  ASSERT_OK(cache->GetView("noise", &view));
  EXPECT_TRUE(view.zero_copy());  // did not shrink, so stored raw
  EXPECT_EQ(view.data(), noise);
  EXPECT_DOUBLE_EQ(cache->GetStats()->compression_ratio(), 1.0);

  options.compression = Compression::kNone;
  auto plain = OpenStore(tmp.Sub("plain"), options);
  ASSERT_OK(plain->Put("text", std::string(5000, 'b')));
  ASSERT_OK(plain->GetView("text", &view));
  EXPECT_TRUE(view.zero_copy());
}

// A large value is judged by its first 64 KiB: an incompressible prefix
// stores it raw without a full attempt, even when the rest would shrink.
TEST(FileCacheTest, LargeValuesAreJudgedByTheirPrefix) {
  TempDir tmp;
  auto cache = OpenStore(tmp.path());
  std::mt19937_64 rng(3);
  const std::string noisy_head =
      RandomBytes(rng, 64 << 10) + std::string(1 << 20, 'z');
  const std::string text((1 << 20) + 64, 'a');
  ASSERT_OK(cache->Put("noisy head", noisy_head));
  ASSERT_OK(cache->Put("text", text));
  ValueView view;
  ASSERT_OK(cache->GetView("noisy head", &view));
  EXPECT_TRUE(view.zero_copy());
  EXPECT_EQ(view.data(), noisy_head);
  ASSERT_OK(cache->GetView("text", &view));
  EXPECT_FALSE(view.zero_copy());
  EXPECT_EQ(view.data(), text);
}

// Records of 256 KiB and more are written whole, their raw value apart from
// the header (EncodedRecord): every size around the threshold and off the
// record alignment reads back in this handle and a new one, verified, across
// an overwrite and a compaction; and a disk that fills up in the middle of
// the value leaves the older version served and the store clean.
TEST(FileCacheTest, LargeRecordsWrittenWholeReadBack) {
  TempDir tmp;
  auto env = std::make_shared<FaultEnv>();
  FileCacheOptions options;
  options.env = env;
  options.compression = Compression::kNone;
  auto cache = OpenStore(tmp.path(), options);
  std::mt19937_64 rng(5);
  std::vector<std::string> values;
  for (size_t n :
       {size_t{(256 << 10) - 100}, size_t{(256 << 10) - 40}, size_t{256 << 10},
        size_t{(256 << 10) + 7}, size_t{(1 << 20) + 3}}) {
    values.push_back(RandomBytes(rng, n));
    ASSERT_OK(cache->Put("k" + std::to_string(values.size()), values.back()));
  }
  ASSERT_OK(cache->Put("k1", values[4]));  // an overwrite
  auto other = OpenStore(tmp.path(), options);
  for (FileCache* c : {cache.get(), other.get()}) {
    EXPECT_TRUE(GetOrMiss(*c, "k1") == values[4]);
    for (size_t i = 1; i < values.size(); ++i) {
      EXPECT_TRUE(GetOrMiss(*c, "k" + std::to_string(i + 1)) == values[i]);
    }
  }
  ASSERT_OK(cache->Compact());
  EXPECT_TRUE(GetOrMiss(*other, "k5") == values[4]);
  EXPECT_TRUE(cache->Verify()->clean());

  // Room for the header and part of the value only.
  env->SetSpaceLimit(4096);
  Status s = cache->Put("k5", values[0]);
  EXPECT_TRUE(s.IsNoSpace()) << s.ToString();
  env->ClearSpaceLimit();
  EXPECT_TRUE(GetOrMiss(*cache, "k5") == values[4]);
  EXPECT_TRUE(GetOrMiss(*other, "k5") == values[4]);
  ASSERT_OK(cache->Put("small", "after"));
  EXPECT_EQ(GetOrMiss(*other, "small"), "after");
  EXPECT_TRUE(cache->Verify()->clean());
}

TEST(FileCacheTest, ViewSurvivesOverwriteCompactionAndClose) {
  TempDir tmp;
  FileCacheOptions options;
  options.compression = Compression::kNone;
  auto cache = OpenStore(tmp.path(), options);
  std::vector<double> array(1 << 16);
  for (size_t i = 0; i < array.size(); ++i) array[i] = i * 0.5;
  const std::string bytes(reinterpret_cast<const char*>(array.data()),
                          array.size() * sizeof(double));
  ASSERT_OK(cache->Put("array", bytes));
  ValueView view;
  ASSERT_OK(cache->GetView("array", &view));
  ASSERT_TRUE(view.zero_copy());
  // Values start 16-byte aligned, so a view can be read as doubles.
  EXPECT_EQ(reinterpret_cast<uintptr_t>(view.data().data()) % 16, 0u);
  ASSERT_OK(cache->Put("array", "replaced"));
  ASSERT_OK(cache->Compact());
  ASSERT_OK(cache->Clear());
  cache.reset();
  EXPECT_EQ(view.data(), bytes);
}

// Flips one byte of the first copy of `needle` found in the store's newest
// log, through the file (so every mapping of it sees the change at once).
void FlipByteOf(const std::string& dir, std::string_view needle) {
  std::string newest;
  for (const std::string& name : ListDirNames(dir)) {
    if (name.rfind("log.", 0) == 0) newest = name;  // sorted: last is newest
  }
  ASSERT_FALSE(newest.empty());
  const std::string path = dir + "/" + newest;
  const size_t at = ReadFile(path).find(needle);
  ASSERT_NE(at, std::string::npos);
  const int fd = open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  const char flipped = static_cast<char>(needle[needle.size() / 2] ^ 0x10);
  ASSERT_EQ(pwrite(fd, &flipped, 1, at + needle.size() / 2), 1);
  close(fd);
}

// Small records are hashed on every read. A large one is hashed by a
// handle's first read of it in a generation, whether a copy or a view, and
// trusted by that handle's later reads; damage after that check is caught by
// every handle that has not verified the record.
TEST(FileCacheTest, SmallRecordsRecheckEveryTimeLargeOnesOncePerHandle) {
  TempDir tmp;
  FileCacheOptions options;
  options.compression = Compression::kNone;
  auto cache = OpenStore(tmp.path(), options);
  std::mt19937_64 rng(11);
  const std::string small = RandomBytes(rng, 100);
  const std::string large = RandomBytes(rng, 64 << 10);
  ASSERT_OK(cache->Put("small", small));
  ASSERT_OK(cache->Put("large", large));
  ValueView view;
  ASSERT_OK(cache->GetView("small", &view));
  std::string got;
  ASSERT_OK(cache->Get("large", &got));
  EXPECT_EQ(got, large);
  view = ValueView();
  FlipByteOf(tmp.path(), small);
  FlipByteOf(tmp.path(), large);
  EXPECT_TRUE(cache->GetView("small", &view).IsNotFound());
  EXPECT_TRUE(cache->Get("small", &got).IsNotFound());
  EXPECT_EQ(cache->GetStats()->corrupt_records, 2u);
  auto other = OpenStore(tmp.path(), options);
  EXPECT_TRUE(other->Get("large", &got).IsNotFound());
  EXPECT_TRUE(other->GetView("large", &view).IsNotFound());
  EXPECT_GE(other->GetStats()->corrupt_records, 4u);
}

// Counts Env::WillRead calls: a handle maps the pages of a record of 256 KiB
// or more in ahead just before it hashes the record, and at no other time.
class WillReadCounter : public EnvWrapper {
 public:
  WillReadCounter() : EnvWrapper(NewPosixEnv()) {}
  void WillRead(const void* addr, uint64_t len) override {
    calls.fetch_add(1);
    EnvWrapper::WillRead(addr, len);
  }
  std::atomic<int> calls{0};
};

// A handle hashes no large record it wrote itself (it hashed those bytes
// to write them), including after its own index rebuild over the same log;
// every other handle, and this one after a compaction into a new log,
// verifies on the first read as ever.
TEST(FileCacheTest, AWriterTrustsItsOwnLargeRecordsAcrossIndexRebuilds) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  auto env = std::make_shared<WillReadCounter>();
  FileCacheOptions options;
  options.compression = Compression::kNone;
  options.env = env;
  auto writer = OpenStore(dir, options);
  ASSERT_NE(writer, nullptr);
  std::mt19937_64 rng(13);
  std::vector<std::string> large;
  for (int i = 0; i < 3; ++i) {
    large.push_back(RandomBytes(rng, 256 << 10));
    ASSERT_OK(writer->Put("large" + std::to_string(i), large.back()));
  }
  const uint64_t before = writer->GetStats()->generation;
  // Enough small keys to grow the index, which rebuilds it over the log.
  for (int i = 0; i < 2000; ++i) {
    ASSERT_OK(writer->Put("small" + std::to_string(i), "v"));
  }
  ASSERT_GT(writer->GetStats()->generation, before);
  std::string got;
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(writer->Get("large" + std::to_string(i), &got));
    EXPECT_EQ(got, large[i]);
  }
  EXPECT_EQ(env->calls.load(), 0);

  auto reader = OpenStore(dir, options);
  ASSERT_NE(reader, nullptr);
  ASSERT_OK(reader->Get("large1", &got));
  EXPECT_EQ(got, large[1]);
  EXPECT_EQ(env->calls.load(), 1);
  ASSERT_OK(writer->Compact());
  ASSERT_OK(writer->Get("large1", &got));
  EXPECT_EQ(got, large[1]);
  EXPECT_EQ(env->calls.load(), 2);
}

// A handle trusts the large records it verified only within the generation
// that holds them: after another handle clears the store and writes the key
// again at the same log offset, a damaged new value must read as a miss.
TEST(FileCacheTest, VerifiedViewsDoNotCarryAcrossGenerations) {
  TempDir tmp;
  FileCacheOptions options;
  options.compression = Compression::kNone;
  auto reader = OpenStore(tmp.path(), options);
  auto writer = OpenStore(tmp.path(), options);
  std::mt19937_64 rng(12);
  const std::string v1 = RandomBytes(rng, 256 << 10);
  const std::string v2 = RandomBytes(rng, 256 << 10);
  ASSERT_OK(writer->Put("k", v1));
  ValueView view;
  ASSERT_OK(reader->GetView("k", &view));
  ASSERT_EQ(view.data(), v1);
  ASSERT_OK(reader->GetView("k", &view));  // served from the verified set
  ASSERT_EQ(view.data(), v1);
  view = ValueView();
  ASSERT_OK(writer->Clear());
  ASSERT_OK(
      writer->Put("k", v2));  // the first record of a new log: same offset
  FlipByteOf(tmp.path(), v2);
  Status s = reader->GetView("k", &view);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
}

TEST(FileCacheTest, MaxBytesEvictsOldestFirst) {
  TempDir tmp;
  FileCacheOptions options;
  options.compression = Compression::kNone;
  options.max_bytes = 1 << 20;
  auto cache = OpenStore(tmp.path(), options);
  const std::string value(10000, 'v');
  for (int i = 0; i < 300; ++i) {
    ASSERT_OK(cache->Put("k" + std::to_string(i), value));
    auto stats = cache->GetStats();
    ASSERT_OK(stats);
    ASSERT_LE(stats->file_bytes, options.max_bytes) << i;
  }
  auto stats = cache->GetStats();
  EXPECT_GT(stats->evictions, 0u);
  // The newest keys survive, the oldest are gone.
  EXPECT_EQ(GetOrMiss(*cache, "k299"), value);
  EXPECT_EQ(GetOrMiss(*cache, "k0"), "<miss>");
  int present = 0;
  for (int i = 0; i < 300; ++i)
    present += cache->Contains("k" + std::to_string(i));
  EXPECT_EQ(present + stats->evictions, 300u);
  // A record that can never fit is refused as an argument (not a full
  // store), and the store is unchanged.
  Status s = cache->Put("huge", std::string(2 << 20, 'h'));
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_EQ(GetOrMiss(*cache, "k299"), value);
}

TEST(FileCacheTest, AutoCompactionReclaimsDeadBytes) {
  TempDir tmp;
  FileCacheOptions options;
  options.compression = Compression::kNone;
  options.compaction_min_bytes = 1 << 20;
  auto cache = OpenStore(tmp.path(), options);
  const std::string value(4000, 'v');
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 20; ++i)
      ASSERT_OK(cache->Put("k" + std::to_string(i), value));
  }
  auto stats = cache->GetStats();
  ASSERT_OK(stats);
  EXPECT_GT(stats->compactions, 0u);
  EXPECT_LE(stats->dead_bytes, stats->live_bytes + (1 << 20));
  EXPECT_LT(stats->file_bytes, 3u << 20);  // 50 rounds wrote 4 MB
  EXPECT_EQ(GetOrMiss(*cache, "k7"), value);
}

// The descriptors this process holds open on files of `dir` that have
// lost their names, as /proc shows them.
int DeletedFilesHeldOpen(const std::string& dir) {
  int held = 0;
  for (const auto& fd : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    const std::string target = std::filesystem::read_symlink(fd, ec).string();
    if (!ec && target.rfind(dir + "/", 0) == 0 &&
        target.find(" (deleted)") != std::string::npos) {
      ++held;
    }
  }
  return held;
}

// A generation replaced under the writers' mutex is dropped only once the
// mutex is released (other processes' writers need not wait for the
// unmapping); it must still be dropped then, by the handle that compacted
// and by one that moved to the new generation on its next write, or the
// replaced log's disk space stays taken while the handles live.
TEST(FileCacheTest, ReplacedLogsAreReleasedOnceTheWriteReturns) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  auto compactor = OpenStore(dir);
  auto writer = OpenStore(dir);
  ASSERT_NE(compactor, nullptr);
  ASSERT_NE(writer, nullptr);
  for (int i = 0; i < 100; ++i) {
    ASSERT_OK(compactor->Put("k" + std::to_string(i % 10), "v"));
  }
  ASSERT_EQ(GetOrMiss(*writer, "k3"), "v");  // maps the first log
  ASSERT_OK(compactor->Compact());
  // The writer's handle is still on the replaced index and its log.
  EXPECT_EQ(DeletedFilesHeldOpen(dir), 2);
  ASSERT_OK(writer->Put("k3", "w"));
  EXPECT_EQ(DeletedFilesHeldOpen(dir), 0);
  ASSERT_OK(writer->Compact());
  EXPECT_EQ(GetOrMiss(*compactor, "k3"), "w");
  EXPECT_EQ(DeletedFilesHeldOpen(dir), 0);
}

TEST(FileCacheTest, CompactReportsProgressAndKeepsValues) {
  TempDir tmp;
  auto cache = OpenStore(tmp.path());
  std::mt19937_64 rng(3);
  std::map<std::string, std::string> expected;
  for (int i = 0; i < 2000; ++i) {
    std::string key = "k" + std::to_string(rng() % 500);
    expected[key] = RandomBytes(rng, 2000);
    ASSERT_OK(cache->Put(key, expected[key]));
  }
  uint64_t last_done = 0, last_total = 0;
  ASSERT_OK(cache->Compact([&](uint64_t done, uint64_t total) {
    EXPECT_GE(done, last_done);
    last_done = done;
    last_total = total;
  }));
  EXPECT_EQ(last_done, last_total);
  EXPECT_GT(last_total, 0u);
  auto stats = cache->GetStats();
  EXPECT_EQ(stats->dead_bytes, 0u);
  for (const auto& [k, v] : expected) EXPECT_EQ(GetOrMiss(*cache, k), v);
  auto report = cache->Verify();
  ASSERT_OK(report);
  EXPECT_TRUE(report->clean());
  EXPECT_EQ(report->index_entries, expected.size());
}

TEST(FileCacheTest, CompactProgressReachesTotalWhenDroppingCorruptRecords) {
  TempDir tmp;
  FileCacheOptions options;
  options.compression = Compression::kNone;
  auto cache = OpenStore(tmp.path(), options);
  const std::string marker(4096, 'm');
  ASSERT_OK(cache->Put("damaged", marker));
  ASSERT_OK(cache->Put("intact", std::string(4096, 'i')));
  // Flip a byte inside the stored value, as bit rot would.
  std::string log = ReadFile(LogPath(tmp.path()));
  const size_t at = log.find(marker);
  ASSERT_NE(at, std::string::npos);
  log[at + 100] ^= 0x01;
  WriteFile(LogPath(tmp.path()), log);
  uint64_t last_done = 0, last_total = 0;
  ASSERT_OK(cache->Compact([&](uint64_t done, uint64_t total) {
    last_done = done;
    last_total = total;
  }));
  EXPECT_EQ(last_done, last_total);
  EXPECT_EQ(GetOrMiss(*cache, "damaged"), "<miss>");
  EXPECT_EQ(GetOrMiss(*cache, "intact"), std::string(4096, 'i'));
  EXPECT_GE(cache->GetStats()->corrupt_records, 1u);
}

TEST(FileCacheTest, ConcurrentThreadsOnOneHandle) {
  TempDir tmp;
  auto cache = OpenStore(tmp.path());
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      for (int i = 0; i < 3000; ++i) {
        const std::string key = "k" + std::to_string(rng() % 200);
        if (rng() % 3 == 0) {
          if (!cache->Put(key, key + "=" + std::string(rng() % 300, 'x')).ok())
            ++wrong;
        } else {
          std::string v;
          Status s = cache->Get(key, &v);
          if (s.ok() && v.rfind(key + "=", 0) != 0) ++wrong;
          if (!s.ok() && !s.IsNotFound()) ++wrong;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_TRUE(cache->Verify()->clean());
}

TEST(FileCacheTest, RefusesDirectoryThatIsNotAStore) {
  TempDir tmp;
  WriteFile(tmp.Sub("notes.txt"), "precious");
  auto cache = FileCache::Open(tmp.path());
  EXPECT_EQ(cache.status().code(), Status::Code::kNotAStore)
      << cache.status().ToString();
  EXPECT_EQ(ReadFile(tmp.Sub("notes.txt")), "precious");
  EXPECT_FALSE(IsStore(tmp.path()));
  // A plain file is not a store either.
  EXPECT_EQ(FileCache::Open(tmp.Sub("notes.txt")).status().code(),
            Status::Code::kNotAStore);
}

TEST(FileCacheTest, NoCreateLeavesAnEmptyDirectoryEmpty) {
  TempDir tmp;
  ASSERT_EQ(mkdir(tmp.Sub("empty").c_str(), 0700), 0);
  FileCacheOptions options;
  options.create_if_missing = false;
  EXPECT_TRUE(FileCache::Open(tmp.Sub("empty"), options).status().IsNotFound());
  struct stat st;
  EXPECT_NE(stat(tmp.Sub("empty/lock").c_str(), &st), 0);
  EXPECT_NE(stat(tmp.Sub("empty/index").c_str(), &st), 0);
}

TEST(FileCacheTest, ReadOnlyDoesNotCreateOrWrite) {
  TempDir tmp;
  FileCacheOptions ro;
  ro.read_only = true;
  EXPECT_TRUE(FileCache::Open(tmp.Sub("missing"), ro).status().IsNotFound());
  struct stat st;
  EXPECT_NE(stat(tmp.Sub("missing").c_str(), &st), 0);
  {
    auto rw = OpenStore(tmp.Sub("s"));
    ASSERT_OK(rw->Put("k", "v"));
  }
  auto cache = OpenStore(tmp.Sub("s"), ro);
  EXPECT_EQ(GetOrMiss(*cache, "k"), "v");
  EXPECT_FALSE(cache->Put("k", "w").ok());
  EXPECT_FALSE(cache->Erase("k").ok());
  EXPECT_EQ(GetOrMiss(*cache, "k"), "v");
}

TEST(FileCacheTest, RefusesNewerFormatWithClearMessage) {
  TempDir tmp;
  { ASSERT_OK(OpenStore(tmp.path())->Put("k", "v")); }
  const std::string index = SetPreludeVersion(tmp.Sub("index"), kNewerVersion);
  auto cache = FileCache::Open(tmp.path());
  EXPECT_EQ(cache.status().code(), Status::Code::kVersionTooNew);
  EXPECT_NE(
      cache.status().message().find("version " + std::to_string(kNewerVersion)),
      std::string::npos)
      << cache.status().ToString();
  // And nothing was rewritten.
  EXPECT_EQ(ReadFile(tmp.Sub("index")), index);
}

TEST(FileCacheTest, RefusesNewerFormatEvenWithAShortIndex) {
  TempDir tmp;
  { ASSERT_OK(OpenStore(tmp.path())->Put("k", "v")); }
  // A newer version may lay out its index differently: only the prelude is
  // promised, so a short index must still be refused as newer, not rebuilt.
  const std::string index =
      SetPreludeVersion(tmp.Sub("index"), kNewerVersion).substr(0, 64);
  WriteFile(tmp.Sub("index"), index);
  EXPECT_EQ(FileCache::Open(tmp.path()).status().code(),
            Status::Code::kVersionTooNew);
  EXPECT_EQ(ReadFile(tmp.Sub("index")), index);
}

TEST(FileCacheTest, RecoveryNeverDiscardsALogOfANewerFormat) {
  TempDir tmp;
  { ASSERT_OK(OpenStore(tmp.path())->Put("k", "v")); }
  ASSERT_EQ(unlink(tmp.Sub("index").c_str()), 0);
  const std::string log = SetPreludeVersion(LogPath(tmp.path()), kNewerVersion);
  EXPECT_EQ(FileCache::Open(tmp.path()).status().code(),
            Status::Code::kVersionTooNew);
  EXPECT_EQ(ReadFile(LogPath(tmp.path())), log);
}

uint32_t PreludeVersion(const std::string& path) {
  const std::string bytes = ReadFile(path);
  uint32_t version = 0;
  if (bytes.size() >= 12) std::memcpy(&version, bytes.data() + 8, 4);
  return version;
}

// A store as format version 1 left it (an empty lock file, preludes of
// version 1) is read as it is, and rewritten as the current version by the
// first writable open, which version-1 writers then refuse.
TEST(FileCacheTest, RewritesAFormat1StoreAsTheCurrentFormat) {
  TempDir tmp;
  {
    auto cache = OpenStore(tmp.path());
    ASSERT_OK(cache->Put("a", "1"));
    ASSERT_OK(cache->Put("c", std::string(5000, 'c')));
  }
  SetPreludeVersion(tmp.Sub("index"), 1);
  SetPreludeVersion(LogPath(tmp.path()), 1);
  WriteFile(tmp.Sub("lock"), "");
  FileCacheOptions ro;
  ro.read_only = true;
  {
    auto reader = OpenStore(tmp.path(), ro);
    EXPECT_EQ(GetOrMiss(*reader, "a"), "1");
    EXPECT_EQ(PreludeVersion(tmp.Sub("index")), 1u);
  }
  auto cache = OpenStore(tmp.path());
  EXPECT_EQ(GetOrMiss(*cache, "a"), "1");
  EXPECT_EQ(GetOrMiss(*cache, "c"), std::string(5000, 'c'));
  EXPECT_EQ(PreludeVersion(tmp.Sub("index")), fcache_internal::kFormatVersion);
  std::string log;
  for (const std::string& name : ListDirNames(tmp.path())) {
    if (name.rfind("log.", 0) == 0) log = name;
  }
  EXPECT_NE(tmp.Sub(log), LogPath(tmp.path())) << "the log was not rewritten";
  EXPECT_EQ(PreludeVersion(tmp.Sub(log)), fcache_internal::kFormatVersion);
  EXPECT_EQ(ReadFile(tmp.Sub("lock")).size(), fcache_internal::kLockFileSize);
  EXPECT_TRUE(cache->Verify()->clean());
}

TEST(FileCacheTest, RecoveryMovesHandlesOffTheDamagedIndex) {
  TempDir tmp;
  auto old_handle = OpenStore(tmp.path());
  ASSERT_OK(old_handle->Put("k", "v1"));
  // Damage the index's magic on disk; the open handle keeps its mapping.
  std::string index = ReadFile(tmp.Sub("index"));
  index[0] ^= 0x01;
  WriteFile(tmp.Sub("index"), index);
  auto rebuilt = OpenStore(tmp.path());  // rebuilds the index from the log
  ASSERT_OK(rebuilt->Put("k", "v2"));
  // The old handle must move to the rebuilt index, not serve "v1".
  EXPECT_EQ(GetOrMiss(*old_handle, "k"), "v2");
}

TEST(FileCacheTest, RebuildsLostIndexFromLog) {
  TempDir tmp;
  {
    auto cache = OpenStore(tmp.path());
    ASSERT_OK(cache->Put("a", "1"));
    ASSERT_OK(cache->Put("b", "2"));
    ASSERT_OK(cache->Put("a", "3"));
    ASSERT_OK(cache->Erase("b"));
    ASSERT_OK(cache->Put("c", std::string(5000, 'c')));
  }
  ASSERT_EQ(unlink(tmp.Sub("index").c_str()), 0);
  auto cache = OpenStore(tmp.path());
  EXPECT_EQ(GetOrMiss(*cache, "a"), "3");
  EXPECT_EQ(GetOrMiss(*cache, "b"), "<miss>");
  EXPECT_EQ(GetOrMiss(*cache, "c"), std::string(5000, 'c'));
  EXPECT_TRUE(cache->Verify()->clean());
}

// Sync() promises every write so far durable. Before, it synced the log and
// the index alone: after a compaction, a power loss could bring back the
// index that the compaction's rename replaced (the directory was never
// synced) and serve the versions that later writes replaced or erased; and
// the lock file's record of which log recovery may read was never synced.
TEST(FileCacheTest, SyncMakesTheLockFileAndTheDirectoryDurableToo) {
  TempDir tmp;
  auto env = std::make_shared<FaultEnv>();
  FileCacheOptions options;
  options.env = env;
  auto cache = OpenStore(tmp.path(), options);
  ASSERT_OK(cache->Put("k", "old"));
  ASSERT_OK(cache->Compact());
  ASSERT_OK(cache->Erase("k"));
  std::vector<std::string> synced;
  env->OnSync([&](const std::string& name) { synced.push_back(name); });
  ASSERT_OK(cache->Sync());
  EXPECT_EQ(synced, (std::vector<std::string>{"log.0000000000000002", "index",
                                              "lock", tmp.path() + "/"}));
  env->OnSync(nullptr);
}

// With sync_writes, a put whose log sync fails returns the error before its
// commit, its record whole in the log past the committed end. A rebuild of
// the index read the log to its end and served the record: a put that
// returned an error came back, over any value put since that found the key
// absent. Rebuilds now read no further than the committed end.
// Before: "the rebuild served a put that failed".
TEST(FileCacheTest, RebuildServesNoPutThatFailedBeforeItsCommit) {
  TempDir tmp;
  auto env = std::make_shared<FaultEnv>();
  FileCacheOptions options;
  options.env = env;
  options.sync_writes = true;
  {
    auto cache = OpenStore(tmp.path(), options);
    ASSERT_OK(cache->Put("a", "1"));
    env->FailNext(FaultEnv::Op::kSync, Status::IOError("injected"));
    EXPECT_FALSE(cache->Put("b", "2").ok());
    EXPECT_EQ(GetOrMiss(*cache, "b"), "<miss>");
  }
  ASSERT_EQ(unlink(tmp.Sub("index").c_str()), 0);
  auto cache = OpenStore(tmp.path());
  EXPECT_EQ(GetOrMiss(*cache, "b"), "<miss>")
      << "the rebuild served a put that failed";
  EXPECT_EQ(GetOrMiss(*cache, "a"), "1");
  EXPECT_TRUE(cache->Verify()->clean());
}

// A lock file that names no committed end (format 3 wrote none; one made
// afresh has none) leaves the rebuild to read the log up to where its
// records end, as before.
TEST(FileCacheTest, RebuildReadsTheWholeLogWhenTheLockFileNamesNoEnd) {
  TempDir tmp;
  {
    auto cache = OpenStore(tmp.path());
    ASSERT_OK(cache->Put("a", "1"));
    ASSERT_OK(cache->Put("b", std::string(5000, 'b')));
  }
  std::string lock = ReadFile(tmp.Sub("lock"));
  ASSERT_EQ(lock.size(), fcache_internal::kLockFileSize);
  std::memset(lock.data() + fcache_internal::kLockLogEndOffset, 0, 16);
  WriteFile(tmp.Sub("lock"), lock);
  ASSERT_EQ(unlink(tmp.Sub("index").c_str()), 0);
  auto cache = OpenStore(tmp.path());
  EXPECT_EQ(GetOrMiss(*cache, "a"), "1");
  EXPECT_EQ(GetOrMiss(*cache, "b"), std::string(5000, 'b'));
}

TEST(FileCacheTest, FilesArePrivateWhateverTheUmask) {
  TempDir tmp;
  const mode_t old = umask(0);
  { ASSERT_OK(OpenStore(tmp.Sub("a/b/store"))->Put("k", "v")); }
  umask(old);
  struct stat st;
  ASSERT_EQ(stat(tmp.Sub("a/b/store").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  for (const char* name : {"index", "lock"}) {
    ASSERT_EQ(stat((tmp.Sub("a/b/store/") + name).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << name;
  }
}

TEST(FileCacheTest, RefusesSymlinkedStoreAndForeignOwner) {
  TempDir tmp;
  { ASSERT_OK(OpenStore(tmp.Sub("real"))->Put("k", "v")); }
  ASSERT_EQ(symlink(tmp.Sub("real").c_str(), tmp.Sub("link").c_str()), 0);
  EXPECT_EQ(FileCache::Open(tmp.Sub("link")).status().code(),
            Status::Code::kPermissionDenied);
  if (chown(tmp.Sub("real").c_str(), 4242, 4242) != 0) {
    GTEST_SKIP() << "cannot chown to another user here: " << strerror(errno);
  }
  auto cache = FileCache::Open(tmp.Sub("real"));
  EXPECT_EQ(cache.status().code(), Status::Code::kPermissionDenied)
      << cache.status().ToString();
}

TEST(FileCacheTest, FullDiskIsAnErrorAndLosesNothing) {
  TempDir tmp;
  auto env = std::make_shared<FaultEnv>();
  FileCacheOptions options;
  options.env = env;
  auto cache = OpenStore(tmp.path(), options);
  ASSERT_OK(cache->Put("kept", "value"));
  std::mt19937_64 rng(4);
  const std::string big = RandomBytes(rng, 5000);  // incompressible
  env->SetSpaceLimit(100);
  Status s = cache->Put("big", big);
  EXPECT_TRUE(s.IsNoSpace()) << s.ToString();
  EXPECT_EQ(GetOrMiss(*cache, "big"), "<miss>");
  EXPECT_EQ(GetOrMiss(*cache, "kept"), "value");
  env->ClearSpaceLimit();
  ASSERT_OK(cache->Put("big", big));
  EXPECT_TRUE(GetOrMiss(*cache, "big") == big);
  EXPECT_TRUE(cache->Verify()->clean());
}

// Appends are copied through the mapping into space reserved ahead in
// chunks: most puts make no system call at all.
TEST(FileCacheTest, PutsReserveSpaceInChunks) {
  TempDir tmp;
  auto env = std::make_shared<FaultEnv>();
  FileCacheOptions options;
  options.env = env;
  auto cache = OpenStore(tmp.path(), options);
  env->ResetCalls();
  const std::string value(100, 'v');
  for (int i = 0; i < 5000; ++i) {
    ASSERT_OK(cache->Put("k" + std::to_string(i), value));
  }
  EXPECT_EQ(env->Calls(FaultEnv::Op::kLock), 0);
  // 5000 records of 128 bytes (640 KB), each reservation writing zeros an
  // eighth of the log ahead, plus the index rebuilds the growing table
  // needs.
  EXPECT_LT(
      env->Calls(FaultEnv::Op::kWrite) + env->Calls(FaultEnv::Op::kAllocate),
      80);
  EXPECT_EQ(GetOrMiss(*cache, "k4999"), value);
}

// A reservation the disk cannot grant is a NoSpace status, never a SIGBUS:
// the put changes nothing, reads go on, and a record that fits where a
// whole chunk does not is still stored.
TEST(FileCacheTest, FailedReservationIsNoSpaceAndReadsKeepWorking) {
  TempDir tmp;
  auto env = std::make_shared<FaultEnv>();
  FileCacheOptions options;
  options.env = env;
  options.compression = Compression::kNone;
  auto cache = OpenStore(tmp.path(), options);
  std::mt19937_64 rng(13);
  std::map<std::string, std::string> model;
  for (int i = 0; i < 50; ++i) {
    const std::string key = "before" + std::to_string(i);
    model[key] = RandomBytes(rng, 1000);
    ASSERT_OK(cache->Put(key, model[key]));
  }
  env->SetSpaceLimit(0);
  int no_space = 0;
  for (int i = 0; i < 200 && no_space == 0; ++i) {
    const std::string key = "during" + std::to_string(i);
    const std::string value = RandomBytes(rng, 1000);
    Status s = cache->Put(key, value);
    if (s.ok()) {
      model[key] = value;  // it fitted in space reserved before
    } else {
      ASSERT_TRUE(s.IsNoSpace()) << s.ToString();
      ++no_space;
      EXPECT_EQ(GetOrMiss(*cache, key), "<miss>");
    }
  }
  ASSERT_EQ(no_space, 1) << "the reserved space never ran out";
  for (const auto& [key, value] : model) {
    ASSERT_EQ(GetOrMiss(*cache, key), value) << key;
  }
  // Room for this record, not for a chunk an eighth of the log ahead.
  env->SetSpaceLimit(2000);
  const std::string last = RandomBytes(rng, 1000);
  ASSERT_OK(cache->Put("last", last));
  EXPECT_EQ(GetOrMiss(*cache, "last"), last);
  env->ClearSpaceLimit();
  ASSERT_OK(cache->Put("after", "space came back"));
  EXPECT_EQ(GetOrMiss(*cache, "after"), "space came back");
  EXPECT_TRUE(cache->Verify()->clean());
}

// The change count (doc/format.md, section 5) that near caches of the store
// stamp their copies with: one shared number, moved by every commit that
// replaces or removes a version, read-only handles included.
TEST(FileCacheTest, ChangeCountMovesOnEveryReplacementOrRemoval) {
  TempDir tmp;
  auto writer = OpenStore(tmp.Sub("store"));
  FileCacheOptions ro;
  ro.read_only = true;
  ASSERT_OK(writer->Put("k", "v1"));
  auto reader = OpenStore(tmp.Sub("store"), ro);
  uint64_t last = reader->ChangeCount();
  EXPECT_EQ(writer->ChangeCount(), last);
  auto moved = [&] {
    const uint64_t now = reader->ChangeCount();
    return std::exchange(last, now) != now;
  };
  ASSERT_OK(writer->Put("new", "x"));
  EXPECT_FALSE(moved()) << "a new key's first put";
  ASSERT_OK(writer->Put("k", "v2"));
  EXPECT_TRUE(moved()) << "overwrite";
  ASSERT_OK(writer->Erase("absent"));
  EXPECT_FALSE(moved()) << "erase of an absent key";
  ASSERT_OK(writer->Erase("k"));
  EXPECT_TRUE(moved()) << "erase";
  ASSERT_OK(writer->Compact());
  EXPECT_TRUE(moved()) << "compaction";
  ASSERT_OK(writer->Clear());
  EXPECT_TRUE(moved()) << "clear";
}

TEST(FileCacheTest, VersionNamesTheCurrentRecord) {
  TempDir tmp;
  auto cache = OpenStore(tmp.Sub("store"));
  uint64_t put_version = 0;
  ASSERT_OK(cache->Put("k", "v1", std::chrono::milliseconds(0), &put_version));
  ValueView view;
  ASSERT_OK(cache->GetView("k", &view));
  EXPECT_EQ(view.version(), put_version);
  EXPECT_EQ(view.expires_ms(), 0);
  Result<uint64_t> version = cache->Version("k");
  ASSERT_OK(version);
  EXPECT_EQ(*version, put_version);
  ASSERT_OK(cache->Put("k", "v2"));
  version = cache->Version("k");
  ASSERT_OK(version);
  EXPECT_NE(*version, put_version);
  ASSERT_OK(cache->Erase("k"));
  EXPECT_TRUE(cache->Version("k").status().IsNotFound());
}

TEST(FileCacheTest, ReadOnlyHandleWithoutLockFileSeesChangeEveryCall) {
  TempDir tmp;
  ASSERT_OK(OpenStore(tmp.Sub("store"))->Put("k", "v"));
  ASSERT_EQ(unlink(tmp.Sub("store/lock").c_str()), 0);
  FileCacheOptions ro;
  ro.read_only = true;
  auto reader = OpenStore(tmp.Sub("store"), ro);
  EXPECT_NE(reader->ChangeCount(), reader->ChangeCount());
  EXPECT_EQ(GetOrMiss(*reader, "k"), "v");
}

}  // namespace
}  // namespace ucache
