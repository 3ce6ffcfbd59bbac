// Tests of the selector (Cache): layering, backends, graceful fallback when
// the file tier cannot open or fails at run time, the log sink, per-key
// locks, and stats that say which backend serves and why.

#include "ucache/cache.h"

#include <errno.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/stress_util.h"
#include "tests/testutil.h"
#include "ucache/scoped_override.h"

namespace ucache {
namespace {

Options StoreOptions(const std::string& dir, LogRecorder* log) {
  Options o;
  o.dir = dir;
  o.read_environment = false;
  o.log = log->Sink();
  return o;
}

std::string ValueOf(const std::optional<Cache::Hit>& hit) {
  return hit ? std::string(hit->data) : "<miss>";
}

TEST(CacheTest, AutoLayersMemoryOverFile) {
  TempDir tmp;
  LogRecorder log;
  const Options options = StoreOptions(tmp.Sub("store"), &log);
  {
    std::shared_ptr<Cache> cache = Cache::Open(options);
    EXPECT_EQ(cache->active_backend(), Backend::kMemoryAndFile);
    EXPECT_EQ(cache->active_reason(), "as configured by options.backend");
    cache->Put("k", "v");
    std::optional<Cache::Hit> hit = cache->Get("k");
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit->tier, Tier::kMemory);
    EXPECT_EQ(hit->data, "v");
  }
  // A new cache (as in the next run) reads the file tier, then memory.
  std::shared_ptr<Cache> cache = Cache::Open(options);
  std::optional<Cache::Hit> first = cache->Get("k");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->tier, Tier::kFile);
  EXPECT_EQ(first->data, "v");
  std::optional<Cache::Hit> second = cache->Get("k");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->tier, Tier::kMemory);
  EXPECT_EQ(ValueOf(cache->Get("absent")), "<miss>");
  const CacheStats s = cache->GetStats();
  EXPECT_EQ(s.file_hits, 1u);
  EXPECT_EQ(s.memory_hits, 1u);
  EXPECT_EQ(s.misses, 1u);
  ASSERT_TRUE(s.memory && s.file);
  EXPECT_EQ(s.file->entries, 1u);
  EXPECT_FALSE(s.fallback);
  EXPECT_TRUE(log.warnings().empty());
}

TEST(CacheTest, EachBackendServesFromItsTiersOnly) {
  TempDir tmp;
  LogRecorder log;
  Options options = StoreOptions(tmp.Sub("store"), &log);
  options.backend = Backend::kMemory;
  Cache::Open(options)->Put("m", "1");
  options.backend = Backend::kFile;
  std::shared_ptr<Cache> file = Cache::Open(options);
  EXPECT_EQ(file->active_backend(), Backend::kFile);
  EXPECT_EQ(ValueOf(file->Get("m")), "<miss>")
      << "memory-only put reached disk";
  file->Put("f", "2");
  EXPECT_EQ(file->Get("f")->tier, Tier::kFile);
  EXPECT_FALSE(file->GetStats().memory);
  options.backend = Backend::kFallback;
  std::shared_ptr<Cache> fallback = Cache::Open(options);
  EXPECT_EQ(fallback->active_backend(), Backend::kFallback);
  EXPECT_EQ(ValueOf(fallback->Get("f")), "<miss>");
  fallback->Put("b", "3");
  EXPECT_EQ(fallback->Get("b")->tier, Tier::kFallback);
  EXPECT_FALSE(fallback->GetStats().file);
  EXPECT_TRUE(log.warnings().empty());
}

TEST(CacheTest, DisabledStoresNothing) {
  TempDir tmp;
  LogRecorder log;
  Options options = StoreOptions(tmp.Sub("store"), &log);
  options.disable = true;
  std::shared_ptr<Cache> cache = Cache::Open(options);
  EXPECT_TRUE(cache->disabled());
  EXPECT_EQ(cache->active_backend(), Backend::kDisabled);
  cache->Put("k", "v");
  EXPECT_EQ(ValueOf(cache->Get("k")), "<miss>");
  EXPECT_FALSE(IsStore(tmp.Sub("store")));
}

// Where the file tier cannot open, the cache serves from memory, warns once
// and says why.
void ExpectServesFromMemory(const std::string& dir, LogRecorder* log,
                            std::shared_ptr<Env> env = nullptr) {
  Options options = StoreOptions(dir, log);
  options.file.env = std::move(env);
  std::shared_ptr<Cache> cache = Cache::Open(options);
  EXPECT_EQ(cache->active_backend(), Backend::kMemory);
  EXPECT_NE(cache->active_reason().find("file tier unavailable"),
            std::string::npos)
      << cache->active_reason();
  cache->Put("k", "v");
  EXPECT_EQ(ValueOf(cache->Get("k")), "v");
  cache->Put("k2", "v2");
  EXPECT_FALSE(cache->LockKey("k").held());
  ASSERT_EQ(log->warnings().size(), 1u);
  EXPECT_NE(log->warnings()[0].find(dir), std::string::npos)
      << log->warnings()[0];
  // The file-only backend falls back to the fallback tier.
  options.backend = Backend::kFile;
  std::shared_ptr<Cache> file = Cache::Open(options);
  EXPECT_EQ(file->active_backend(), Backend::kFallback);
  file->Put("k", "v");
  EXPECT_EQ(file->Get("k")->tier, Tier::kFallback);
}

TEST(CacheTest, ActiveReasonNamesWhatDecided) {
  TempDir tmp;
  LogRecorder log;
  Options options = StoreOptions(tmp.Sub("store"), &log);
  options.read_environment = true;
  auto reason = [&](const Options& o) {
    return Cache::Open(o)->active_reason();
  };
  {
    ScopedEnvVar backend("UCACHE_BACKEND", nullptr);
    ScopedEnvVar disable("UCACHE_DISABLE", nullptr);
    EXPECT_EQ(reason(options), "as configured by options.backend");
    Options off = options;
    off.disable = true;
    EXPECT_EQ(reason(off), "disabled by options.disable");
    off = options;
    off.backend = Backend::kDisabled;
    EXPECT_EQ(reason(off), "disabled by options.backend");
  }
  {
    ScopedEnvVar backend("UCACHE_BACKEND", "memory");
    ScopedEnvVar disable("UCACHE_DISABLE", nullptr);
    EXPECT_EQ(reason(options), "as configured by UCACHE_BACKEND=memory");
  }
  {
    ScopedEnvVar backend("UCACHE_BACKEND", "disabled");
    ScopedEnvVar disable("UCACHE_DISABLE", nullptr);
    EXPECT_EQ(reason(options), "disabled by UCACHE_BACKEND=disabled");
  }
  {
    // UCACHE_DISABLE wins over everything, so it is what decided.
    ScopedEnvVar backend("UCACHE_BACKEND", "disabled");
    ScopedEnvVar disable("UCACHE_DISABLE", "1");
    EXPECT_EQ(reason(options), "disabled by UCACHE_DISABLE=1");
  }
}

TEST(CacheTest, DirectoryThatIsNotAStoreFallsBackToMemory) {
  TempDir tmp;
  ASSERT_EQ(mkdir(tmp.Sub("notes").c_str(), 0700), 0);
  ASSERT_TRUE(WriteWholeFile(tmp.Sub("notes/todo.txt"), "mine", 0600));
  LogRecorder log;
  ExpectServesFromMemory(tmp.Sub("notes"), &log);
  EXPECT_EQ(ReadWholeFile(tmp.Sub("notes/todo.txt")), "mine");
  EXPECT_EQ(ListDirNames(tmp.Sub("notes")).size(), 1u);
}

TEST(CacheTest, PermissionDeniedFallsBackToMemory) {
  TempDir tmp;
  auto env = std::make_shared<FaultEnv>();
  env->FailNext(FaultEnv::Op::kCreateDir,
                Status::PermissionDenied("mkdir: injected EACCES"), 1000);
  LogRecorder log;
  ExpectServesFromMemory(tmp.Sub("store"), &log, env);
}

// A directory this process cannot write: by permissions when not root, as
// a read-only mount when root (root ignores permission bits).
TEST(CacheTest, ReadOnlyDirectoryFallsBackToMemory) {
  TempDir tmp;
  const std::string ro = tmp.Sub("ro");
  ASSERT_EQ(mkdir(ro.c_str(), 0700), 0);
  bool mounted = false;
  if (geteuid() == 0) {
    if (mount("tmpfs", ro.c_str(), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV,
              "size=64k") != 0) {
      GTEST_SKIP() << "root, and cannot mount a read-only tmpfs: "
                   << strerror(errno);
    }
    mounted = true;
  } else {
    ASSERT_EQ(chmod(ro.c_str(), 0500), 0);
  }
  LogRecorder log;
  ExpectServesFromMemory(ro + "/store", &log);
  if (mounted) umount2(ro.c_str(), MNT_DETACH);
}

TEST(CacheTest, FullDiskAtRunTimeKeepsServingAndRecovers) {
  TempDir tmp;
  auto env = std::make_shared<FaultEnv>();
  LogRecorder log;
  Options options = StoreOptions(tmp.Sub("store"), &log);
  options.file.env = env;
  options.file.compression = Compression::kNone;
  options.file_retry_interval = std::chrono::milliseconds(0);
  std::shared_ptr<Cache> cache = Cache::Open(options);
  cache->Put("before", "on disk");
  env->SetSpaceLimit(0);
  const std::string big(100000, 'x');
  for (int i = 0; i < 5; ++i) cache->Put("full" + std::to_string(i), big);
  // Writes failed, one warning says so, the values are served from memory
  // and what was on disk still reads.
  ASSERT_EQ(log.warnings().size(), 1u);
  EXPECT_NE(log.warnings()[0].find("NoSpace"), std::string::npos)
      << log.warnings()[0];
  EXPECT_EQ(cache->GetStats().file_failures, 5u);
  EXPECT_EQ(ValueOf(cache->Get("full3")), big);
  {
    std::shared_ptr<Cache> other = Cache::Open(options);
    EXPECT_EQ(ValueOf(other->Get("before")), "on disk");
    EXPECT_EQ(ValueOf(other->Get("full3")), "<miss>");
  }
  env->ClearSpaceLimit();
  cache->Put("after", "space again");
  ASSERT_EQ(log.infos().size(), 1u);
  EXPECT_EQ(cache->active_backend(), Backend::kMemoryAndFile);
  std::shared_ptr<Cache> other = Cache::Open(options);
  EXPECT_EQ(ValueOf(other->Get("after")), "space again");
  EXPECT_EQ(log.warnings().size(), 1u);
}

TEST(CacheTest, FailingFileTierIsRetriedOnlyAfterTheInterval) {
  TempDir tmp;
  auto env = std::make_shared<FaultEnv>();
  LogRecorder log;
  Options options = StoreOptions(tmp.Sub("store"), &log);
  options.file.env = env;
  options.file_retry_interval = std::chrono::hours(1);
  std::shared_ptr<Cache> cache = Cache::Open(options);
  env->SetSpaceLimit(0);
  cache->Put("a", std::string(10000, 'a'));
  EXPECT_EQ(cache->active_backend(), Backend::kMemory);
  EXPECT_NE(cache->active_reason().find("retrying every 3600000 ms"),
            std::string::npos)
      << cache->active_reason();
  env->ClearSpaceLimit();
  cache->Put("b", "b");  // still within the interval: memory only
  EXPECT_EQ(cache->GetStats().file_failures, 1u);
  EXPECT_EQ(ValueOf(cache->Get("b")), "b");
  EXPECT_EQ(Cache::Open(options)->Get("b"), std::nullopt);
}

TEST(CacheTest, FileOnlyBackendPutsIntoFallbackWhenDiskIsFull) {
  TempDir tmp;
  auto env = std::make_shared<FaultEnv>();
  LogRecorder log;
  Options options = StoreOptions(tmp.Sub("store"), &log);
  options.backend = Backend::kFile;
  options.file.env = env;
  std::shared_ptr<Cache> cache = Cache::Open(options);
  env->SetSpaceLimit(0);
  cache->Put("k", std::string(10000, 'k'));
  EXPECT_EQ(cache->active_backend(), Backend::kFallback);
  std::optional<Cache::Hit> hit = cache->Get("k");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->tier, Tier::kFallback);
}

TEST(CacheTest, LargeValuesLiveInTheFileTierAlone) {
  TempDir tmp;
  LogRecorder log;
  Options options = StoreOptions(tmp.Sub("store"), &log);
  options.large_value_bytes = 1000;
  std::shared_ptr<Cache> cache = Cache::Open(options);
  cache->Put("small", std::string(1000, 's'));
  cache->Put("large", std::string(1001, 'l'));
  EXPECT_EQ(cache->Get("small")->tier, Tier::kMemory);
  EXPECT_EQ(cache->Get("large")->tier, Tier::kFile);
  EXPECT_EQ(cache->Get("large")->tier, Tier::kFile) << "promoted on a hit";
  EXPECT_EQ(cache->GetStats().memory->entries, 1u);
  // Without a file tier, the memory tier keeps everything.
  options.backend = Backend::kMemory;
  std::shared_ptr<Cache> memory = Cache::Open(options);
  memory->Put("large", std::string(1001, 'l'));
  EXPECT_EQ(memory->Get("large")->tier, Tier::kMemory);
}

TEST(CacheTest, OversizeValueForMemoryStillServedFromFile) {
  TempDir tmp;
  LogRecorder log;
  Options options = StoreOptions(tmp.Sub("store"), &log);
  options.memory.max_bytes = 1 << 20;
  options.memory.shards = 1;
  options.large_value_bytes = size_t{8} << 20;
  std::shared_ptr<Cache> cache = Cache::Open(options);
  const std::string big(2 << 20, 'b');
  cache->Put("big", big);
  std::optional<Cache::Hit> hit = cache->Get("big");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->tier, Tier::kFile);
  EXPECT_EQ(hit->data, big);
}

TEST(CacheTest, OverrideSwitchesTiersForThisThreadOnly) {
  TempDir tmp;
  LogRecorder log;
  Options options = StoreOptions(tmp.Sub("store"), &log);
  options.backend = Backend::kMemory;
  std::shared_ptr<Cache> cache = Cache::Open(options);
  {
    ScopedOverride to_file(Backend::kFile);  // opens the file tier lazily
    cache->Put("k", "v");
    EXPECT_EQ(cache->Get("k")->tier, Tier::kFile);
    std::thread other([&] { EXPECT_EQ(ValueOf(cache->Get("k")), "<miss>"); });
    other.join();
    {
      ScopedOverride off(Backend::kDisabled);
      EXPECT_TRUE(cache->disabled());
      EXPECT_EQ(ValueOf(cache->Get("k")), "<miss>");
    }
    EXPECT_FALSE(cache->disabled());
  }
  EXPECT_EQ(ValueOf(cache->Get("k")), "<miss>");  // memory tier: never put
  EXPECT_EQ(cache->active_backend(), Backend::kMemory);
}

TEST(CacheTest, EraseRemovesFromEveryTier) {
  TempDir tmp;
  LogRecorder log;
  std::shared_ptr<Cache> cache =
      Cache::Open(StoreOptions(tmp.Sub("store"), &log));
  cache->Put("k", "v");
  cache->Erase("k");
  EXPECT_EQ(ValueOf(cache->Get("k")), "<miss>");
  EXPECT_EQ(
      ValueOf(Cache::Open(StoreOptions(tmp.Sub("store"), &log))->Get("k")),
      "<miss>");
}

TEST(CacheTest, DefaultLogSinkWritesOneLineToStderr) {
  TempDir tmp;
  ASSERT_TRUE(WriteWholeFile(tmp.Sub("file"), "x", 0600));
  Options options;
  options.dir = tmp.Sub("file") + "/store";  // below a regular file
  options.read_environment = false;
  testing::internal::CaptureStderr();
  std::shared_ptr<Cache> cache = Cache::Open(options);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(cache->active_backend(), Backend::kMemory);
  EXPECT_EQ(err.rfind("ucache: warning: file tier unavailable at ", 0), 0u)
      << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

// ---- The tiers agree (cache.h, "The newest version") ----------------------

TEST(CacheTest, LargePutDropsTheOlderSmallCopyFromMemory) {
  TempDir tmp;
  LogRecorder log;
  Options options = StoreOptions(tmp.Sub("store"), &log);
  options.large_value_bytes = 1000;
  std::shared_ptr<Cache> cache = Cache::Open(options);
  cache->Put("k", "small");
  EXPECT_EQ(cache->Get("k")->tier, Tier::kMemory);
  const std::string large(1001, 'l');
  cache->Put("k", large);
  // Gone at once, not only once a later hit finds it stale: a copy whose
  // key is new to the file tier (evicted there meanwhile) would pass.
  EXPECT_EQ(cache->GetStats().memory->entries, 0u);
  std::optional<Cache::Hit> hit = cache->Get("k");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->data, large);
  EXPECT_EQ(hit->tier, Tier::kFile);
}

TEST(CacheTest, RefusedFileWriteErasesTheOlderFileValue) {
  TempDir tmp;
  LogRecorder log;
  Options options = StoreOptions(tmp.Sub("store"), &log);
  options.backend = Backend::kFile;
  options.file.max_bytes = 1 << 20;
  options.file.compression = Compression::kNone;
  std::shared_ptr<Cache> cache = Cache::Open(options);
  cache->Put("k", "old");
  const std::string huge(2 << 20, 'h');  // a record alone over max_bytes
  cache->Put("k", huge);
  std::optional<Cache::Hit> hit = cache->Get("k");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->tier, Tier::kFallback);
  EXPECT_TRUE(hit->data == huge) << "a value of " << hit->data.size();
  // Another process cannot see the new value, and must not see the old.
  EXPECT_EQ(ValueOf(Cache::Open(options)->Get("k")), "<miss>");
}

TEST(CacheTest, FileValueThatCannotBeErasedIsNeverServedAgain) {
  TempDir tmp;
  auto env = std::make_shared<FaultEnv>();
  LogRecorder log;
  Options options = StoreOptions(tmp.Sub("store"), &log);
  options.backend = Backend::kFile;
  options.file.env = env;
  options.file_retry_interval = std::chrono::milliseconds(0);
  std::shared_ptr<Cache> cache = Cache::Open(options);
  cache->Put("k", "old");
  {
    // Another handle publishes a generation: the next write must first open
    // it, and failing those opens fails the put, the look for an older value
    // and then the erase, before either commits.
    auto other = FileCache::Open(options.dir);
    ASSERT_OK(other);
    ASSERT_OK((*other)->Compact());
  }
  env->ResetCalls();
  env->FailNext(FaultEnv::Op::kOpen, Status::IOError("injected EIO"), 3);
  cache->Put("k", "new");
  EXPECT_EQ(env->Calls(FaultEnv::Op::kOpen), 3);
  std::optional<Cache::Hit> hit = cache->Get("k");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->data, "new");
  EXPECT_EQ(hit->tier, Tier::kFallback);
  EXPECT_EQ(cache->GetStats().shadowed_keys, 1u);
  // Other processes may still read the older value (cache.h says so).
  EXPECT_EQ(ValueOf(Cache::Open(options)->Get("k")), "old");
  // A write that reaches the file tier ends the shadow.
  cache->Put("k", "newer");
  EXPECT_EQ(cache->GetStats().shadowed_keys, 0u);
  EXPECT_EQ(cache->Get("k")->tier, Tier::kFile);
  EXPECT_EQ(ValueOf(Cache::Open(options)->Get("k")), "newer");
}

// A value the file tier refused lives in this process's memory (or
// fallback) tier only. Another process's first put of that key does not
// move the change count (no older version is replaced there), so the copy
// used to be served over it; it is good only while the store's write count
// stands still.
TEST(CacheTest, CopyOfARefusedValueYieldsToAnotherProcesssWrite) {
  TempDir tmp;
  LogRecorder log;
  Options refusing = StoreOptions(tmp.Sub("store"), &log);
  refusing.file.max_bytes = 256 << 10;  // refuses the value below
  std::mt19937_64 rng(7);
  const std::string big = RandomBytes(rng, 300 << 10);  // incompressible
  std::shared_ptr<Cache> a = Cache::Open(refusing);
  a->Put("k", big);
  EXPECT_EQ(ValueOf(a->Get("k")), big);
  const Options plain = StoreOptions(tmp.Sub("store"), &log);
  std::shared_ptr<Cache> b = Cache::Open(plain);
  b->Put("k", "from b");
  EXPECT_EQ(ValueOf(a->Get("k")), "from b");

  // The same through the fallback tier of a file-only cache: there another
  // process's put and erase leave the file tier without the key, and the
  // refused value used to come back from the fallback tier.
  refusing.backend = Backend::kFile;
  std::shared_ptr<Cache> c = Cache::Open(refusing);
  c->Put("j", big);
  ASSERT_EQ(c->Get("j")->tier, Tier::kFallback);
  b->Put("j", "from b");
  b->Erase("j");
  EXPECT_EQ(ValueOf(c->Get("j")), "<miss>");

  // An erase alone, of a key the store lacks (the refusing caches erased
  // their older values), is a write of the key all the same, in either tier.
  a->Put("k", big);
  ASSERT_EQ(a->Get("k")->tier, Tier::kMemory);
  c->Put("j", big);
  ASSERT_EQ(c->Get("j")->tier, Tier::kFallback);
  b->Erase("k");
  b->Erase("j");
  EXPECT_EQ(ValueOf(a->Get("k")), "<miss>");
  EXPECT_EQ(ValueOf(c->Get("j")), "<miss>");
}

// A writer killed between its append and its commit left a record of "k"
// in the log that no slot names. A cache whose file tier then refused its
// own, newer put of "k" found the key absent there and so had nothing to
// erase; a recovery (the index damaged) served the dead writer's older
// value to every other process. Recovery now stops at the committed end.
// Before: "another process read the dead writer's value".
TEST(CacheTest, RecoveryNeverServesADeadWritersValueOverARefusedPut) {
  TempDir tmp;
  LogRecorder log;
  const std::string dir = tmp.Sub("store");
  ASSERT_NE(OpenStore(dir), nullptr);
  std::mt19937_64 rng(7);
  const std::string dead = RandomBytes(rng, 300 << 10);
  const ChildExit ended =
      KillWriterBeforeItsCommit(dir, "k", dead, std::chrono::seconds(30));
  ASSERT_EQ(ended.code(), FaultEnv::kCrashExitCode) << ended.ToString();
  Options refusing = StoreOptions(dir, &log);
  refusing.file.max_bytes = 256 << 10;  // refuses the value below
  std::shared_ptr<Cache> a = Cache::Open(refusing);
  const std::string mine = RandomBytes(rng, 300 << 10);
  a->Put("k", mine);
  ASSERT_EQ(a->GetStats().file_refusals, 1u);
  EXPECT_EQ(ValueOf(a->Get("k")), mine);
  DamageIndexPrelude(dir);
  std::shared_ptr<Cache> b = Cache::Open(StoreOptions(dir, &log));
  const std::string got = ValueOf(b->Get("k"));
  EXPECT_TRUE(got != dead) << "another process read the dead writer's value";
  EXPECT_EQ(got, "<miss>");
  const CacheStats stats = b->GetStats();
  ASSERT_TRUE(stats.file.has_value());
  EXPECT_GT(stats.file->generation, 1u) << "the store was not recovered";
}

// Two caches on one store stand for two processes: each has its own memory
// tier and file handle.
TEST(CacheTest, MemoryCopySeesAnotherProcesssOverwriteAndErase) {
  TempDir tmp;
  LogRecorder log;
  const Options options = StoreOptions(tmp.Sub("store"), &log);
  std::shared_ptr<Cache> writer = Cache::Open(options);
  std::shared_ptr<Cache> reader = Cache::Open(options);
  writer->Put("k", "v1");
  writer->Put("other", "x");
  EXPECT_EQ(reader->Get("k")->tier, Tier::kFile);
  EXPECT_EQ(reader->Get("k")->tier, Tier::kMemory);
  // A change to another key costs a version probe, not the copy.
  writer->Put("other", "y");
  std::optional<Cache::Hit> hit = reader->Get("k");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->tier, Tier::kMemory);
  EXPECT_EQ(hit->data, "v1");
  writer->Put("k", "v2");
  EXPECT_EQ(ValueOf(reader->Get("k")), "v2");
  EXPECT_EQ(reader->Get("k")->tier, Tier::kMemory);
  writer->Erase("k");
  EXPECT_EQ(ValueOf(reader->Get("k")), "<miss>");
  EXPECT_EQ(reader->GetStats().stale_dropped, 2u);
}

// The same through Get with a Scratch (memoize's path): a small value is
// copied out without a reference only while its stamp shows it current.
TEST(CacheTest, ScratchCopySeesAnotherProcesssOverwriteAndErase) {
  TempDir tmp;
  LogRecorder log;
  const Options options = StoreOptions(tmp.Sub("store"), &log);
  std::shared_ptr<Cache> writer = Cache::Open(options);
  std::shared_ptr<Cache> reader = Cache::Open(options);
  Cache::Scratch scratch;
  const auto read = [&](std::string_view key) {
    return ValueOf(reader->Get(key, &scratch));
  };
  // A hit copied into the scratch, holding nothing.
  const auto copied = [&](std::string_view key) {
    std::optional<Cache::Hit> hit = reader->Get(key, &scratch);
    return hit && hit->tier == Tier::kMemory &&
           hit->data.data() == scratch.bytes && hit->keep_alive == nullptr;
  };
  writer->Put("k", "v1");
  writer->Put("other", "x");
  EXPECT_EQ(read("k"), "v1");  // from the file tier, filling memory
  EXPECT_TRUE(copied("k"));
  // Another key's change: probed and re-stamped by reference, then copied
  // again.
  writer->Put("other", "y");
  EXPECT_EQ(read("k"), "v1");
  EXPECT_TRUE(copied("k"));
  EXPECT_EQ(read("k"), "v1");
  // A stamp of the copy (memoize's recent hits) holds over another
  // process's put of a new key, and goes with its overwrite.
  Cache::HitStamp stamp;
  ASSERT_EQ(ValueOf(reader->Get("k", &scratch, &stamp)), "v1");
  writer->Put("new", "a new key");
  EXPECT_TRUE(reader->Recall(stamp));
  writer->Put("k", "v2");
  EXPECT_FALSE(reader->Recall(stamp));
  EXPECT_EQ(read("k"), "v2");
  EXPECT_EQ(read("k"), "v2");
  writer->Erase("k");
  EXPECT_EQ(read("k"), "<miss>");
  EXPECT_EQ(reader->GetStats().stale_dropped, 2u);
  // A value larger than the scratch is held by reference.
  const std::string large(sizeof(scratch) + 1, 'x');
  reader->Put("large", large);
  std::optional<Cache::Hit> hit = reader->Get("large", &scratch);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->tier, Tier::kMemory);
  EXPECT_EQ(hit->data, large);
  EXPECT_NE(hit->keep_alive, nullptr);
}

// A value the store never held (the file tier failed its write) is copied
// out, and a stamp of it recalled (stamped with the write count), only while
// no write reached the store since.
TEST(CacheTest, ScratchCopyOfAnUnstoredValueGoesStaleOnAnyWrite) {
  TempDir tmp;
  auto env = std::make_shared<FaultEnv>();
  LogRecorder log;
  Options options = StoreOptions(tmp.Sub("store"), &log);
  options.file.env = env;
  options.file.compression = Compression::kNone;
  options.file_retry_interval = std::chrono::hours(1);
  std::shared_ptr<Cache> a = Cache::Open(options);
  a->Put("k", "old");
  // A failed write keeps the file tier from writes for the interval.
  env->SetSpaceLimit(0);
  a->Put("filler", std::string(100000, 'x'));
  ASSERT_EQ(a->GetStats().file_failures, 1u);
  env->ClearSpaceLimit();
  a->Put("k", "memory only");
  Cache::Scratch scratch;
  Cache::HitStamp stamp;
  std::optional<Cache::Hit> hit = a->Get("k", &scratch, &stamp);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->data, "memory only");
  EXPECT_EQ(hit->data.data(), scratch.bytes);
  EXPECT_EQ(stamp.kind, Cache::HitStamp::kWriteCountNow);
  EXPECT_TRUE(a->Recall(stamp));
  std::shared_ptr<Cache> b = Cache::Open(StoreOptions(tmp.Sub("store"), &log));
  b->Put("j", "any write");
  EXPECT_FALSE(a->Recall(stamp));
  EXPECT_EQ(ValueOf(a->Get("k", &scratch)), "<miss>");
}

// A stamped memory copy (memoize's recent hits): recalled while nothing
// that could replace it happened, and never after.
TEST(CacheTest, ARecalledStampHoldsUntilAnyWriteThroughTheCache) {
  TempDir tmp;
  LogRecorder log;
  const Options options = StoreOptions(tmp.Sub("store"), &log);
  std::shared_ptr<Cache> cache = Cache::Open(options);
  Cache::Scratch scratch;
  Cache::HitStamp stamp;
  cache->Put("k", "v");
  Cache::Open(options)->Put("elsewhere", "w");
  ASSERT_EQ(ValueOf(cache->Get("k", &scratch, &stamp)), "v");
  EXPECT_EQ(stamp.kind, Cache::HitStamp::kChangeCount);
  const uint64_t memory_hits = cache->GetStats().memory_hits;
  EXPECT_TRUE(cache->Recall(stamp));
  EXPECT_TRUE(cache->Recall(stamp));
  EXPECT_EQ(cache->GetStats().memory_hits, memory_hits + 2)
      << "a recall is a memory hit";
  // A put of another key (which moves no file count: a new key) voids it.
  cache->Put("new", "x");
  EXPECT_FALSE(cache->Recall(stamp));
  ASSERT_EQ(ValueOf(cache->Get("k", &scratch, &stamp)), "v");
  EXPECT_TRUE(cache->Recall(stamp));
  cache->Erase("absent");
  EXPECT_FALSE(cache->Recall(stamp)) << "an erase voids it";
  // Unstamped: a file hit, a value held by reference, a miss.
  for (const std::string key : {"elsewhere", "large", "absent"}) {
    if (key == "large") cache->Put(key, std::string(sizeof(scratch) + 1, 'x'));
    Cache::HitStamp none;
    (void)cache->Get(key, &scratch, &none);
    EXPECT_EQ(none.kind, Cache::HitStamp::kNone) << key;
    EXPECT_FALSE(cache->Recall(none)) << key;
  }
}

TEST(CacheTest, NoStampIsTakenOrRecalledUnderAnOverrideOrWithAnExpiry) {
  TempDir tmp;
  LogRecorder log;
  Options options = StoreOptions(tmp.Sub("store"), &log);
  options.backend = Backend::kMemory;
  std::shared_ptr<Cache> memory = Cache::Open(options);
  memory->Put("k", "v");
  Cache::Scratch scratch;
  Cache::HitStamp stamp;
  ASSERT_EQ(ValueOf(memory->Get("k", &scratch, &stamp)), "v");
  EXPECT_EQ(stamp.kind, Cache::HitStamp::kMemoryOnly);
  EXPECT_TRUE(memory->Recall(stamp));
  {
    // Served by the memory tier still, but under another route.
    ScopedOverride o(Backend::kMemory);
    EXPECT_FALSE(memory->Recall(stamp));
    Cache::HitStamp overridden;
    ASSERT_EQ(ValueOf(memory->Get("k", &scratch, &overridden)), "v");
    EXPECT_EQ(overridden.kind, Cache::HitStamp::kNone);
  }
  EXPECT_TRUE(memory->Recall(stamp));
  memory->Put("k", "v2");
  EXPECT_FALSE(memory->Recall(stamp));
  options.backend = Backend::kMemoryAndFile;
  options.ttl = std::chrono::hours(1);
  std::shared_ptr<Cache> expiring = Cache::Open(options);
  expiring->Put("k", "v");
  Cache::HitStamp none;
  ASSERT_EQ(ValueOf(expiring->Get("k", &scratch, &none)), "v");
  EXPECT_EQ(none.kind, Cache::HitStamp::kNone);
}

TEST(CacheTest, MemoryCopySeesAForkedProcesssOverwrite) {
  TempDir tmp;
  LogRecorder log;
  const Options options = StoreOptions(tmp.Sub("store"), &log);
  std::shared_ptr<Cache> cache = Cache::Open(options);
  cache->Put("k", "parent");
  EXPECT_EQ(cache->Get("k")->tier, Tier::kMemory);
  const pid_t pid = Spawn([&] {
    Cache::Open(options)->Put("k", "child");
    return 0;
  });
  ASSERT_TRUE(WaitChild(pid, std::chrono::seconds(30)).clean());
  EXPECT_EQ(ValueOf(cache->Get("k")), "child");
}

// Calls a hook once, from inside the next NowMillis: a file read of a
// record with an expiry calls it after finding the record, before copying
// it out, which is where a racing write hurts a fill.
class HookEnv : public FaultEnv {
 public:
  void OnNextNowMillis(std::function<void()> hook) { hook_ = std::move(hook); }
  int64_t NowMillis() override {
    if (std::function<void()> hook = std::exchange(hook_, nullptr)) hook();
    return FaultEnv::NowMillis();
  }

 private:
  std::function<void()> hook_;
};

TEST(CacheTest, FillThatRacedANewerWriteDoesNotOutliveIt) {
  TempDir tmp;
  LogRecorder log;
  Options options = StoreOptions(tmp.Sub("store"), &log);
  options.ttl = std::chrono::hours(1);
  std::shared_ptr<Cache> writer = Cache::Open(options);
  auto env = std::make_shared<HookEnv>();
  options.file.env = env;
  std::shared_ptr<Cache> reader = Cache::Open(options);
  writer->Put("k", "v1");
  env->OnNextNowMillis([&] { writer->Put("k", "v2"); });
  EXPECT_EQ(ValueOf(reader->Get("k")), "v1");  // in flight: either is right
  EXPECT_EQ(ValueOf(reader->Get("k")), "v2");
  EXPECT_EQ(ValueOf(reader->Get("k")), "v2");
}

TEST(CacheTest, FileHitCopiesTheRecordsExpiryIntoMemory) {
  TempDir tmp;
  LogRecorder log;
  auto env = std::make_shared<FaultEnv>();
  env->SetNowMillis(1'000'000'000'000);
  auto memory_now = std::make_shared<std::atomic<int64_t>>(0);
  Options options = StoreOptions(tmp.Sub("store"), &log);
  options.file.env = env;
  options.memory.clock = [memory_now] { return memory_now->load(); };
  auto advance = [&](int64_t ms) {
    env->AdvanceMillis(ms);
    *memory_now += ms;
  };
  options.ttl = std::chrono::milliseconds(1000);
  Cache::Open(options)->Put("k", "v");
  advance(500);
  options.ttl = std::chrono::milliseconds(0);  // the reader's: forever
  std::shared_ptr<Cache> reader = Cache::Open(options);
  EXPECT_EQ(reader->Get("k")->tier, Tier::kFile);
  advance(400);
  EXPECT_EQ(reader->Get("k")->tier, Tier::kMemory);
  advance(200);  // 1100 ms after the put
  EXPECT_EQ(ValueOf(reader->Get("k")), "<miss>");
}

TEST(CacheTest, OneRefusedValueDoesNotStopOtherWrites) {
  TempDir tmp;
  LogRecorder log;
  Options options = StoreOptions(tmp.Sub("store"), &log);
  options.file.max_bytes = 1 << 20;
  options.file.compression = Compression::kNone;
  options.file_retry_interval = std::chrono::hours(1);
  std::shared_ptr<Cache> cache = Cache::Open(options);
  cache->Put("huge", std::string(2 << 20, 'h'));
  for (int i = 0; i < 100; ++i) cache->Put("k" + std::to_string(i), "small");
  EXPECT_EQ(cache->active_backend(), Backend::kMemoryAndFile);
  const CacheStats s = cache->GetStats();
  EXPECT_EQ(s.file_refusals, 1u);
  EXPECT_EQ(s.file_failures, 0u);
  options.backend = Backend::kFile;
  std::shared_ptr<Cache> other = Cache::Open(options);
  int on_disk = 0;
  for (int i = 0; i < 100; ++i) {
    on_disk += other->Get("k" + std::to_string(i)).has_value();
  }
  EXPECT_EQ(on_disk, 100);
  EXPECT_TRUE(log.warnings().empty());
}

// A relative path names one store for the cache's whole life, whatever the
// program's working directory later becomes.
TEST(CacheTest, RelativeStorePathIsResolvedOnceAtOpen) {
  TempDir tmp;
  ASSERT_EQ(mkdir(tmp.Sub("a").c_str(), 0700), 0);
  ASSERT_EQ(mkdir(tmp.Sub("b").c_str(), 0700), 0);
  {
    Result<std::unique_ptr<FileCache>> b =
        FileCache::Open(tmp.Sub("b/rel/store"));
    ASSERT_OK(b);
    ASSERT_OK((*b)->Put("k", "b's value"));
  }
  for (const bool from_environment : {false, true}) {
    const pid_t pid = Spawn([&] {
      if (chdir(tmp.Sub("a").c_str()) != 0) return 2;
      Options options;
      options.backend = Backend::kFile;
      options.read_environment = from_environment;
      if (from_environment) {
        setenv("UCACHE_DIR", "rel", 1);
        options.store = "store";
      } else {
        options.dir = "rel/store";
      }
      std::shared_ptr<Cache> cache = Cache::Open(options);
      if (cache->options().dir != tmp.Sub("a/rel/store")) return 3;
      cache->Put("k", "a's value");
      if (chdir(tmp.Sub("b").c_str()) != 0) return 2;
      // A new generation makes the cache's handle reopen the store's files.
      Result<std::unique_ptr<FileCache>> a =
          FileCache::Open(tmp.Sub("a/rel/store"));
      if (!a.ok() || !(*a)->Compact().ok()) return 2;
      return ValueOf(cache->Get("k")) == "a's value" ? 0 : 4;
    });
    const ChildExit exit = WaitChild(pid, std::chrono::seconds(30));
    EXPECT_TRUE(exit.clean())
        << "from_environment=" << from_environment << ": " << exit.ToString();
  }
}

}  // namespace
}  // namespace ucache
