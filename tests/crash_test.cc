// Crash consistency of the disk tier.
//
// A writer child runs a seeded, replayable sequence of puts, overwrites,
// erases and compactions and publishes, in shared memory, how many operations
// have returned. It is then stopped abruptly: by SIGKILL at a random instant,
// or (FaultEnv variant) by _exit() at the n-th call of one Env operation,
// which is a crash between two system calls. The parent replays the
// sequence, so it knows the state after the last completed operation (A) and
// after the one that may have been in flight (B), and then reopens the store:
//  * it must open, and Verify() must be clean: SIGKILL loses no page-cache
//    write, so nothing torn may remain visible as a bad record or index slot;
//  * every key must read as its version in A or in B, or be missing.
// Reading bytes that no writer produced for the key, a version older than A
// and B (a lost committed write), or a value after a committed erase is a
// failure. Missing keys are allowed (a cache may forget) but counted.

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/stress_util.h"
#include "tests/testutil.h"
#include "ucache/ucache.h"

namespace ucache {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// Chosen (and printed) once, before main(), so that fork()-ed children
// share it with the parent.
const uint64_t kSeed = PickTestSeed("crash_test");

// Children that neither finish nor get killed within this are reported hung.
constexpr milliseconds kChildTimeout(30000);

// ---------------------------------------------------------------------------
// The replayable workload.

constexpr int kKeys = 96;

std::string KeyName(int i) {
  // A few long keys, so that records span more than one alignment unit of
  // key bytes.
  if (i % 11 == 0)
    return "long/" + std::string(150 + i, 'k') + std::to_string(i);
  return "key/" + std::to_string(i);
}

struct Op {
  enum Kind { kPut, kErase, kGet, kCompact } kind;
  int key;
  Shape shape;
  uint32_t len;
};

Op NextOp(std::mt19937_64& rng, int compact_per_mille) {
  Op op{Op::kGet, static_cast<int>(rng() % kKeys), Shape::kSmall, 0};
  const int r = static_cast<int>(rng() % 1000);
  if (r < compact_per_mille) {
    op.kind = Op::kCompact;
  } else if (r < 560) {
    op.kind = Op::kPut;
    const int pick = static_cast<int>(rng() % 3);
    op.shape = static_cast<Shape>(pick);
    op.len = pick == 0 ? static_cast<uint32_t>(rng() % 100)
                       : 256 + static_cast<uint32_t>(rng() % 3000);
  } else if (r < 680) {
    op.kind = Op::kErase;
  }
  return op;
}

// Version numbers are unique across the whole test: run number and index.
uint64_t VersionOf(uint64_t run, uint64_t index) {
  return (run << 32) | (index + 1);
}

using Model = std::vector<uint64_t>;  // version per key; 0 = absent

void Apply(const Op& op, uint64_t version, Model* m) {
  if (op.kind == Op::kPut) (*m)[op.key] = version;
  if (op.kind == Op::kErase) (*m)[op.key] = 0;
}

struct Progress {
  std::atomic<uint64_t> opened{0};     // the writer's Open returned
  std::atomic<uint64_t> done{0};       // operations that have returned
  std::atomic<uint64_t> armed{0};      // FaultEnv variant: crash planned
  std::atomic<uint64_t> bad_reads{0};  // the writer read something wrong
};

FileCacheOptions CrashOptions() {
  FileCacheOptions o;
  // Small thresholds: the engine also compacts on its own inside Put.
  o.compaction_min_bytes = 64 << 10;
  o.compaction_dead_ratio = 0.3;
  return o;
}

// Runs operations [0, max_ops) of the sequence seeded by `seed` on `fc`,
// publishing progress. Returns 0 when all ran, nonzero on an error (a
// writer that cannot write makes the parent's model wrong).
int RunOps(FileCache* fc, uint64_t run, uint64_t seed, int compact_per_mille,
           uint64_t max_ops, Model model, Progress* progress) {
  std::mt19937_64 rng(seed);
  std::string got, why;
  for (uint64_t j = 0; j < max_ops; ++j) {
    const Op op = NextOp(rng, compact_per_mille);
    const std::string key = KeyName(op.key);
    const uint64_t version = VersionOf(run, j);
    Status s;
    switch (op.kind) {
      case Op::kPut:
        s = fc->Put(key, MakeValue(key, version, op.shape, op.len));
        break;
      case Op::kErase:
        s = fc->Erase(key);
        break;
      case Op::kCompact:
        s = fc->Compact();
        break;
      case Op::kGet: {
        s = fc->Get(key, &got);
        if (s.IsNotFound()) {
          s = Status::OK();
          if (model[op.key] != 0) {
            progress->bad_reads++;
            fprintf(stderr, "writer: %s v%llx reads as a miss\n", key.c_str(),
                    static_cast<unsigned long long>(model[op.key]));
          }
        } else if (s.ok()) {
          auto v = CheckValue(key, got, &why);
          if (!v || *v != model[op.key]) {
            progress->bad_reads++;
            fprintf(stderr, "writer: %s read %s, expected v%llx\n", key.c_str(),
                    v ? "another version" : why.c_str(),
                    static_cast<unsigned long long>(model[op.key]));
          }
        }
        break;
      }
    }
    if (!s.ok()) {
      fprintf(stderr, "writer: op %llu on %s: %s\n",
              static_cast<unsigned long long>(j), key.c_str(),
              s.ToString().c_str());
      return 3;
    }
    Apply(op, version, &model);
    progress->done.store(j + 1);
  }
  return 0;
}

// What the parent found after a crash.
struct CrashCheck {
  int wrong = 0;    // bytes not written for the key, or a version never
                    // written for it
  int stale = 0;    // an older version than the last committed one
  int revived = 0;  // a value after a committed erase
  int missing = 0;  // absent although committed (allowed, counted)
  std::string first_problem;
};

// Opens the store after a crash of the writer of `run` that had completed
// `done` operations of the sequence seeded by `seed`, starting from `before`.
// Checks it as described at the top of this file and returns what was
// observed (which the next run starts from).
Model CheckAfterCrash(const std::string& dir, const Model& before, uint64_t run,
                      uint64_t seed, int compact_per_mille, uint64_t done,
                      const std::string& context, CrashCheck* check) {
  Model a = before;  // after the completed operations
  std::mt19937_64 rng(seed);
  for (uint64_t j = 0; j < done; ++j) {
    Apply(NextOp(rng, compact_per_mille), VersionOf(run, j), &a);
  }
  Model b = a;  // after the one that may have been in flight
  Apply(NextOp(rng, compact_per_mille), VersionOf(run, done), &b);

  Model observed(kKeys, 0);
  auto opened = FileCache::Open(dir);
  EXPECT_OK(opened) << context;
  if (!opened.ok()) return before;
  FileCache& fc = **opened;
  auto report = fc.Verify();
  EXPECT_OK(report) << context;
  if (report.ok()) {
    EXPECT_TRUE(report->clean())
        << context << ": Verify after crash: " << VerifyString(*report);
  }
  std::string got, why;
  for (int i = 0; i < kKeys; ++i) {
    const std::string key = KeyName(i);
    Status s = fc.Get(key, &got);
    auto note = [&](const std::string& what) {
      if (check->first_problem.empty()) {
        char buf[200];
        snprintf(buf, sizeof(buf), " (A=v%llx B=v%llx)",
                 static_cast<unsigned long long>(a[i]),
                 static_cast<unsigned long long>(b[i]));
        check->first_problem =
            context + ": " + key.substr(0, 40) + ": " + what + buf;
      }
    };
    if (s.IsNotFound()) {
      if (a[i] != 0 && b[i] != 0) {
        check->missing++;
        note("missing");
      }
      continue;
    }
    if (!s.ok()) {
      ADD_FAILURE() << context << ": Get(" << key << "): " << s.ToString();
      continue;
    }
    auto v = CheckValue(key, got, &why);
    if (!v) {
      check->wrong++;
      note("wrong bytes: " + why);
      continue;
    }
    observed[i] = *v;
    if (*v == a[i] || *v == b[i]) continue;
    char buf[64];
    snprintf(buf, sizeof(buf), "read v%llx",
             static_cast<unsigned long long>(*v));
    if (a[i] == 0 && b[i] == 0) {
      // Erased (or never written in a way that survived).
      if ((*v >> 32) > run || (*v & 0xffffffffu) == 0) {
        check->wrong++;
        note(std::string(buf) + ", a version never written");
      } else {
        check->revived++;
        note(std::string(buf) + " after a committed erase");
      }
    } else if (*v < std::min(a[i] ? a[i] : b[i], b[i] ? b[i] : a[i])) {
      check->stale++;
      note(std::string(buf) + ", older than the last committed write");
    } else {
      check->wrong++;
      note(std::string(buf) + ", a version never written for this key");
    }
  }
  return observed;
}

void ExpectNoProblems(const CrashCheck& c) {
  EXPECT_EQ(c.wrong, 0) << c.first_problem;
  EXPECT_EQ(c.stale, 0) << "lost committed writes; " << c.first_problem;
  EXPECT_EQ(c.revived, 0) << "erased keys came back; " << c.first_problem;
}

// ---------------------------------------------------------------------------
// SIGKILL at a random instant.

// Kills a writer `iterations` times, and goes on until `min_seconds` have
// passed (the soak's way of running longer).
void KillLoop(const std::string& name, int iterations, int64_t min_seconds,
              int max_sleep_ms, int compact_per_mille, uint64_t salt) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  const uint64_t master = Mix(kSeed + salt);
  std::mt19937_64 timing(master);
  Model model(kKeys, 0);
  CrashCheck check;
  Shared<Progress> progress;
  int before_open = 0, kills = 0;
  uint64_t total_ops = 0, bad_reads = 0;
  const auto start = steady_clock::now();
  const auto until = start + std::chrono::seconds(min_seconds);
  for (int run = 1; (run <= iterations || steady_clock::now() < until) &&
                    !testing::Test::HasFailure();
       ++run) {
    const uint64_t seed = Mix(master ^ run);
    progress->opened = 0;
    progress->done = 0;
    progress->bad_reads = 0;
    const pid_t child = Spawn([&]() -> int {
      auto fc = FileCache::Open(dir, CrashOptions());
      if (!fc.ok()) {
        fprintf(stderr, "writer: Open: %s\n", fc.status().ToString().c_str());
        return 2;
      }
      progress->opened = 1;
      return RunOps(fc->get(), run, seed, compact_per_mille, 1u << 30, model,
                    &*progress);
    });
    const int sleep_us = static_cast<int>(timing() % (max_sleep_ms * 1000 + 1));
    std::this_thread::sleep_for(std::chrono::microseconds(sleep_us));
    kill(child, SIGKILL);
    const ChildExit ended = WaitChild(child, kChildTimeout);
    const std::string context = "run " + std::to_string(run) + " seed " +
                                std::to_string(seed) + " killed after " +
                                std::to_string(sleep_us) + " us, " +
                                std::to_string(progress->done) + " ops done";
    ASSERT_TRUE(ended.signaled() && ended.signal() == SIGKILL)
        << context << ": the writer ended on its own: " << ended.ToString();
    ++kills;
    bad_reads += progress->bad_reads;
    EXPECT_EQ(progress->bad_reads, 0u) << context;
    if (progress->opened == 0) ++before_open;
    total_ops += progress->done;
    model = CheckAfterCrash(dir, model, run, seed, compact_per_mille,
                            progress->done, context, &check);
    ExpectNoProblems(check);
  }
  const double secs =
      std::chrono::duration<double>(steady_clock::now() - start).count();
  auto fc = FileCache::Open(dir);
  ASSERT_OK(fc);
  auto stats = (*fc)->GetStats();
  ASSERT_OK(stats);
  printf(
      "%d kills in %.1f s: %d before Open returned, %llu ops completed, "
      "%llu compactions, missing keys after crashes: %d\n",
      kills, secs, before_open, static_cast<unsigned long long>(total_ops),
      static_cast<unsigned long long>(stats->compactions), check.missing);
  PrintSummary(name, kills, "SIGKILLs",
               check.wrong + check.stale + check.revived + bad_reads, 0,
               std::to_string(total_ops) + " ops, " +
                   std::to_string(stats->compactions) + " compactions, " +
                   std::to_string(check.missing) + " keys missing");
  EXPECT_EQ(check.missing, 0)
      << "committed writes vanished (nothing here should evict): "
      << check.first_problem;
}

// UCACHE_CRASH_ITERATIONS sets the number of kills (200; half that below),
// UCACHE_CRASH_SECONDS a time to go on for after them (0).
TEST(CrashTest, SigkillAtRandomInstants) {
  KillLoop("CrashTest.SigkillAtRandomInstants",
           EnvInt("UCACHE_CRASH_ITERATIONS", 200),
           EnvInt("UCACHE_CRASH_SECONDS", 0), 25, 20, 1);
}

// Compactions every few operations, so that many kills land inside one.
TEST(CrashTest, SigkillDuringFrequentCompaction) {
  KillLoop("CrashTest.SigkillDuringFrequentCompaction",
           EnvInt("UCACHE_CRASH_ITERATIONS", 200) / 2,
           EnvInt("UCACHE_CRASH_SECONDS", 0), 25, 150, 2);
}

// ---------------------------------------------------------------------------
// FaultEnv: _exit() at the n-th call of one Env operation.

constexpr uint64_t kSetupOps = 150;  // committed before the crash is armed
constexpr uint64_t kArmedOps = 120;  // may crash anywhere in these
constexpr int kArmedCompactPerMille = 40;

// The phase run before arming: puts only, so that compaction has work.
int Setup(FileCache* fc, Model* model, Progress* progress) {
  std::mt19937_64 rng(kSeed + 77);
  for (uint64_t j = 0; j < kSetupOps; ++j) {
    const int k = static_cast<int>(j % kKeys);
    const std::string key = KeyName(k);
    const uint64_t version = VersionOf(1, j);
    Status s = fc->Put(key, MakeValue(key, version, static_cast<Shape>(j % 3),
                                      j % 3 ? 300 + j * 7 : j % 90));
    if (!s.ok()) {
      fprintf(stderr, "setup: %s\n", s.ToString().c_str());
      return 3;
    }
    (*model)[k] = version;
  }
  progress->done = 0;
  return 0;
}

// Runs the armed phase in a child with a FaultEnv, the crash planned at the
// `nth` call of `op` (nth == 0: no crash). Returns how the child ended.
ChildExit RunArmed(const std::string& dir, FaultEnv::Op op, int nth, bool sync,
                   Progress* progress,
                   std::array<int64_t, FaultEnv::kNumOps>* calls) {
  progress->opened = 0;
  progress->done = 0;
  progress->armed = 0;
  progress->bad_reads = 0;
  const pid_t child = Spawn([&]() -> int {
    auto env = std::make_shared<FaultEnv>();
    FileCacheOptions options = CrashOptions();
    options.sync_writes = sync;
    options.env = env;
    auto fc = FileCache::Open(dir, options);
    if (!fc.ok()) {
      fprintf(stderr, "armed writer: Open: %s\n",
              fc.status().ToString().c_str());
      return 2;
    }
    progress->opened = 1;
    Model model(kKeys, 0);
    if (int rc = Setup(fc->get(), &model, progress)) return rc;
    env->ResetCalls();
    if (nth > 0) env->CrashAt(op, nth);
    progress->armed = 1;
    int rc = RunOps(fc->get(), 2, kSeed + 78, kArmedCompactPerMille, kArmedOps,
                    model, progress);
    if (rc == 0 && calls != nullptr) {
      for (int i = 0; i < FaultEnv::kNumOps; ++i) {
        (*calls)[i] = env->Calls(static_cast<FaultEnv::Op>(i));
      }
    }
    return rc;
  });
  const ChildExit ended = WaitChild(child, kChildTimeout);
  EXPECT_FALSE(ended.timed_out) << "armed writer hung";
  return ended;
}

// With `sync`, only the calls that sync_writes adds (Sync, SyncDir) are
// crash points: a crash elsewhere is no different from the plain run, and
// every fdatasync costs real time.
void CrashAtEachEnvCall(bool sync) {
  TempDir tmp;
  Shared<Progress> progress;
  // A dry run counts the calls each operation makes in the armed phase.
  Shared<std::array<int64_t, FaultEnv::kNumOps>> calls;
  {
    const std::string dir = tmp.Sub("dry");
    const ChildExit ended =
        RunArmed(dir, FaultEnv::Op::kWrite, 0, sync, &*progress, &*calls);
    ASSERT_EQ(ended.code(), 0) << "dry run: " << ended.ToString();
  }
  Model after_setup(kKeys, 0);
  {
    for (uint64_t j = 0; j < kSetupOps; ++j) {
      after_setup[j % kKeys] = VersionOf(1, j);
    }
  }
  std::mt19937_64 rng(kSeed + 79);
  CrashCheck check;
  int trials = 0, crashed = 0;
  std::string used;
  for (int o = 0; o < FaultEnv::kNumOps; ++o) {
    const auto op = static_cast<FaultEnv::Op>(o);
    const int64_t n_calls = (*calls)[o];
    if (n_calls == 0 || op == FaultEnv::Op::kNowMillis ||
        op == FaultEnv::Op::kCurrentUser ||
        (sync && op != FaultEnv::Op::kSync && op != FaultEnv::Op::kSyncDir)) {
      continue;
    }
    used += std::string(OpName(op)) + "=" + std::to_string(n_calls) + " ";
    // The first few calls, the last one, and a few in between.
    std::vector<int> nths;
    for (int n = 1; n <= std::min<int64_t>(n_calls, 8); ++n) nths.push_back(n);
    for (int i = 0; i < 4 && n_calls > 8; ++i) {
      nths.push_back(9 + static_cast<int>(rng() % (n_calls - 8)));
    }
    if (n_calls > 8) nths.push_back(static_cast<int>(n_calls));
    for (int nth : nths) {
      ++trials;
      const std::string dir = tmp.Sub("crash_" + std::to_string(trials));
      const ChildExit ended = RunArmed(dir, op, nth, sync, &*progress, nullptr);
      const std::string context = "crash at " + std::string(OpName(op)) + " #" +
                                  std::to_string(nth) + " after " +
                                  std::to_string(progress->done) + " ops";
      ASSERT_EQ(progress->armed, 1u)
          << context << ": setup failed: " << ended.ToString();
      ASSERT_GE(ended.code(), 0) << context << ": " << ended.ToString();
      if (ended.code() == FaultEnv::kCrashExitCode) {
        ++crashed;
      } else {
        // Fewer calls than in the dry run: compaction or growth happened at
        // other moments. The store must be fine all the same.
        EXPECT_EQ(ended.code(), 0) << context;
      }
      EXPECT_EQ(progress->bad_reads, 0u) << context;
      CheckAfterCrash(dir, after_setup, 2, kSeed + 78, kArmedCompactPerMille,
                      progress->done, context, &check);
      ExpectNoProblems(check);
      // The store must take writes again after the crash.
      auto fc = FileCache::Open(dir);
      ASSERT_OK(fc) << context;
      const std::string key = KeyName(0);
      const std::string value =
          MakeValue(key, VersionOf(9, 0), Shape::kRandom, 999);
      ASSERT_OK((*fc)->Put(key, value)) << context;
      std::string got;
      ASSERT_OK((*fc)->Get(key, &got)) << context;
      EXPECT_EQ(got, value) << context;
      if (testing::Test::HasFailure()) return;
    }
  }
  printf(
      "sync_writes=%d, armed phase calls: %s\n%d trials, %d crashed, missing "
      "keys: %d\n",
      sync, used.c_str(), trials, crashed, check.missing);
  PrintSummary(sync ? "CrashTest.CrashAtEachEnvCallWithSyncWrites"
                    : "CrashTest.CrashAtEachEnvCallOfPutAndCompact",
               crashed, "crashes between two Env calls",
               check.wrong + check.stale + check.revived, 0,
               std::to_string(trials) + " crash points armed, " +
                   std::to_string(check.missing) + " keys missing");
  EXPECT_GT(crashed, trials / 2);
  EXPECT_EQ(check.missing, 0) << check.first_problem;
}

TEST(CrashTest, CrashAtEachEnvCallOfPutAndCompact) {
  CrashAtEachEnvCall(/*sync=*/false);
}

// With sync_writes the write path also calls Sync and SyncDir: crash there.
TEST(CrashTest, CrashAtEachEnvCallWithSyncWrites) {
  CrashAtEachEnvCall(/*sync=*/true);
}

// A crash while the very first Open creates the store: the next Open must
// find either no store (and create one) or a whole one.
TEST(CrashTest, CrashWhileCreatingTheStore) {
  TempDir tmp;
  // Count the calls a creating Open makes.
  Shared<std::array<int64_t, FaultEnv::kNumOps>> calls;
  {
    const std::string dir = tmp.Sub("dry");
    const pid_t child = Spawn([&]() -> int {
      auto env = std::make_shared<FaultEnv>();
      FileCacheOptions options;
      options.env = env;
      if (!FileCache::Open(dir, options).ok()) return 2;
      for (int i = 0; i < FaultEnv::kNumOps; ++i) {
        (*calls)[i] = env->Calls(static_cast<FaultEnv::Op>(i));
      }
      return 0;
    });
    const ChildExit ended = WaitChild(child, kChildTimeout);
    ASSERT_EQ(ended.code(), 0) << ended.ToString();
  }
  int trials = 0, wrong = 0;
  for (int o = 0; o < FaultEnv::kNumOps; ++o) {
    const auto op = static_cast<FaultEnv::Op>(o);
    if (op == FaultEnv::Op::kNowMillis || op == FaultEnv::Op::kCurrentUser) {
      continue;
    }
    for (int nth = 1; nth <= (*calls)[o]; ++nth) {
      ++trials;
      const std::string dir = tmp.Sub("create_" + std::to_string(trials));
      const pid_t child = Spawn([&]() -> int {
        auto env = std::make_shared<FaultEnv>();
        env->CrashAt(op, nth);
        FileCacheOptions options;
        options.env = env;
        return FileCache::Open(dir, options).ok() ? 0 : 2;
      });
      const ChildExit ended = WaitChild(child, kChildTimeout);
      const std::string context = "crash at " + std::string(OpName(op)) + " #" +
                                  std::to_string(nth) + " of a creating Open";
      ASSERT_GE(ended.code(), 0) << context << ": " << ended.ToString();
      auto fc = FileCache::Open(dir);
      EXPECT_OK(fc) << context << " (the directory is unusable afterwards)";
      if (!fc.ok()) continue;
      auto report = (*fc)->Verify();
      ASSERT_OK(report) << context;
      EXPECT_TRUE(report->clean()) << context;
      const std::string value = MakeValue("k", 1, Shape::kSmall, 10);
      ASSERT_OK((*fc)->Put("k", value)) << context;
      std::string got;
      ASSERT_OK((*fc)->Get("k", &got)) << context;
      EXPECT_EQ(got, value) << context;
      wrong += got != value;
    }
  }
  printf("%d crash points in a creating Open\n", trials);
  PrintSummary("CrashTest.CrashWhileCreatingTheStore", trials,
               "crashes inside a creating Open", wrong, 0);
  EXPECT_GT(trials, 0);
}

// Stores "other" = "x", then kills a child writer of `key` before its
// commit (KillWriterBeforeItsCommit), then runs `after` on a fresh handle,
// which must miss `key`.
void PutOtherThenKillAWriterOf(
    const std::string& dir, const std::string& key,
    const std::function<void(FileCache&)>& after = nullptr) {
  {
    auto fc = FileCache::Open(dir);
    ASSERT_OK(fc);
    ASSERT_OK((*fc)->Put("other", "x"));
  }
  std::mt19937_64 rng(7);
  const ChildExit ended = KillWriterBeforeItsCommit(
      dir, key, RandomBytes(rng, 300 << 10), kChildTimeout);
  ASSERT_EQ(ended.code(), FaultEnv::kCrashExitCode) << ended.ToString();
  auto fc = FileCache::Open(dir);
  ASSERT_OK(fc);
  std::string got;
  ASSERT_TRUE((*fc)->Get(key, &got).IsNotFound()) << "the put committed";
  if (after) after(**fc);
}

// Opens `dir` after its index's prelude was damaged, which makes the open
// rebuild the index from the log, and checks that it did.
std::unique_ptr<FileCache> OpenRecovered(const std::string& dir) {
  DamageIndexPrelude(dir);
  auto recovered = FileCache::Open(dir);
  EXPECT_OK(recovered);
  if (!recovered.ok()) return nullptr;
  Result<FileCacheStats> stats = (*recovered)->GetStats();
  EXPECT_OK(stats);
  EXPECT_TRUE(stats.ok() && stats->generation > 1)
      << "the store was not recovered";
  return std::move(*recovered);
}

// Recovers `dir` (OpenRecovered) and expects `key`, whose put never
// committed, to miss, and "other" to read "x".
void ExpectRecoveryDropsTheUncommittedPut(const std::string& dir,
                                          const std::string& key) {
  std::unique_ptr<FileCache> recovered = OpenRecovered(dir);
  ASSERT_NE(recovered, nullptr);
  std::string got;
  const Status s = recovered->Get(key, &got);
  EXPECT_TRUE(s.IsNotFound()) << "recovery served a put that never committed ("
                              << got.size() << " bytes)";
  ASSERT_OK(recovered->Get("other", &got));
  EXPECT_EQ(got, "x");
}

// The dead writer's record, never committed, was never readable: a selector
// that found the key absent meanwhile (and so had nothing to erase) kept
// only its own newer value, and a recovery that read the log to its end
// served the dead writer's older one to everyone. Recovery now reads no
// further than the end the lock file notes at each commit.
// Before: "recovery served a put that never committed".
TEST(CrashTest, RecoveryServesNoPutThatNeverCommitted) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  ASSERT_NO_FATAL_FAILURE(PutOtherThenKillAWriterOf(dir, "k"));
  ExpectRecoveryDropsTheUncommittedPut(dir, "k");
}

// A write after the crash goes where the dead record began; the rest of
// that record no longer parses. Recovery took that for damage and
// distrusted every record before it ("other", "later"): nothing wrong was
// served, but a crash and a damaged index lost the whole store.
// Before: "other" and "later" read NotFound.
TEST(CrashTest, RecoveryAfterAWritersCrashKeepsEveryCommit) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  ASSERT_NO_FATAL_FAILURE(PutOtherThenKillAWriterOf(
      dir, "k", [](FileCache& fc) { ASSERT_OK(fc.Put("later", "y")); }));
  std::unique_ptr<FileCache> recovered = OpenRecovered(dir);
  ASSERT_NE(recovered, nullptr);
  std::string got;
  EXPECT_TRUE(recovered->Get("k", &got).IsNotFound());
  ASSERT_OK(recovered->Get("other", &got));
  EXPECT_EQ(got, "x");
  ASSERT_OK(recovered->Get("later", &got));
  EXPECT_EQ(got, "y");
  EXPECT_TRUE(recovered->Verify()->clean());
}

// A publisher killed on return from rename() had not noted its new log's
// end yet, so the lock file still named the old log and a recovery read the
// new one to its end, a record there that a writer killed before its
// commit left included. The next writer now notes the end before it
// appends. Before: "recovery served a put that never committed".
TEST(CrashTest, ADeadPublishersLogGetsItsEndBeforeAnAppend) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  {
    auto fc = FileCache::Open(dir);
    ASSERT_OK(fc);
    ASSERT_OK((*fc)->Put("other", "x"));
  }
  const pid_t publisher = Spawn([&]() -> int {
    auto env = std::make_shared<FaultEnv>();
    FileCacheOptions options;
    options.env = env;
    auto fc = FileCache::Open(dir, options);
    if (!fc.ok()) return 1;
    env->CrashAfter(FaultEnv::Op::kRename, 1);
    (void)(*fc)->Compact();
    return 2;  // the crash did not come
  });
  const ChildExit published = WaitChild(publisher, kChildTimeout);
  ASSERT_EQ(published.code(), FaultEnv::kCrashExitCode) << published.ToString();
  std::mt19937_64 rng(7);
  const ChildExit ended = KillWriterBeforeItsCommit(
      dir, "k", RandomBytes(rng, 300 << 10), kChildTimeout);
  ASSERT_EQ(ended.code(), FaultEnv::kCrashExitCode) << ended.ToString();
  ExpectRecoveryDropsTheUncommittedPut(dir, "k");
}

// An erase of the key the dead writer left a record of, which the index
// lacks, returns OK and reads miss; a later recovery brought the record
// back as the key's value until such an erase was logged too (and now the
// lock file's committed end keeps it out as well).
// Before: "recovery brought back a value erased after its uncommitted put".
TEST(CrashTest, AnEraseAfterAnUncommittedPutSurvivesRecovery) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  ASSERT_NO_FATAL_FAILURE(PutOtherThenKillAWriterOf(
      dir, "k", [](FileCache& fc) { ASSERT_OK(fc.Erase("k")); }));
  std::unique_ptr<FileCache> recovered = OpenRecovered(dir);
  ASSERT_NE(recovered, nullptr);
  std::string got;
  const Status s = recovered->Get("k", &got);
  EXPECT_TRUE(s.IsNotFound())
      << "recovery brought back a value erased after its uncommitted put ("
      << got.size() << " bytes)";
}

}  // namespace
}  // namespace ucache
