// Many processes (and many handles in one process) on one FileCache store.
//
// Every value written here encodes its key and a version number and can be
// regenerated from them, so a reader can tell "a version that some writer
// produced for this key" from "wrong bytes" without knowing which writer won
// a race. Each scenario runs its workers in fork()-ed children, which report
// through exit codes and a shared anonymous mapping and always leave with
// _exit(), never returning into gtest.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
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
const uint64_t kSeed = PickTestSeed("multiprocess_test");

// Children still running this long after they were due to finish are
// SIGKILLed and reported hung.
constexpr milliseconds kChildTimeout(60000);

// How long the soak scenarios below run: `fallback`, or UCACHE_SOAK_SECONDS
// when set (the soak target, //tests:soak_test, runs them for minutes).
milliseconds SoakTime(milliseconds fallback) {
  const int64_t seconds = EnvInt("UCACHE_SOAK_SECONDS", 0);
  return seconds > 0 ? milliseconds(seconds * 1000) : fallback;
}

// A random shape and length: small values stay under the compression
// threshold, the other two cross it.
std::string RandomValue(std::string_view key, uint64_t version,
                        std::mt19937_64& rng) {
  const int pick = static_cast<int>(rng() % 3);
  if (pick == 0) {
    return MakeValue(key, version, Shape::kSmall,
                     static_cast<uint32_t>(rng() % 120));
  }
  return MakeValue(key, version,
                   pick == 1 ? Shape::kCompressible : Shape::kRandom,
                   300 + static_cast<uint32_t>(rng() % 5000));
}

// ---------------------------------------------------------------------------
// Processes.

#define EXPECT_CLEAN_EXIT(info, what)                                     \
  do {                                                                    \
    const ChildExit& info_ = (info);                                      \
    EXPECT_FALSE(info_.signaled()) << (what) << ": " << info_.ToString(); \
    EXPECT_FALSE(info_.timed_out) << (what) << ": " << info_.ToString();  \
    EXPECT_EQ(info_.code(), 0) << (what) << ": " << info_.ToString();     \
  } while (0)

// A one-way pipe carrying single bytes between two processes.
class Channel {
 public:
  Channel() {
    if (pipe(fds_) != 0) abort();
  }
  ~Channel() {
    close(fds_[0]);
    close(fds_[1]);
  }
  void Send(char c) {
    if (write(fds_[1], &c, 1) != 1) perror("Channel::Send");
  }
  // The next byte, or '\0' after `timeout` without one.
  char Receive(milliseconds timeout = milliseconds(20000)) {
    const auto deadline = steady_clock::now() + timeout;
    while (steady_clock::now() < deadline) {
      fd_set set;
      FD_ZERO(&set);
      FD_SET(fds_[0], &set);
      timeval tv{0, 20000};
      if (select(fds_[0] + 1, &set, nullptr, nullptr, &tv) > 0) {
        char c = 0;
        if (read(fds_[0], &c, 1) == 1) return c;
      }
    }
    return '\0';
  }

 private:
  int fds_[2];
};

std::unique_ptr<FileCache> OpenOrDie(const std::string& dir,
                                     const FileCacheOptions& options = {}) {
  auto r = FileCache::Open(dir, options);
  if (!r.ok()) {
    fprintf(stderr, "pid %d: Open(%s): %s\n", getpid(), dir.c_str(),
            r.status().ToString().c_str());
    return nullptr;
  }
  return std::move(r).value();
}

std::string SharedKey(int i) { return "shared/" + std::to_string(i); }
std::string PrivateKey(int proc, int i) {
  return "private/" + std::to_string(proc) + "/" + std::to_string(i);
}

// ---------------------------------------------------------------------------
// A worker doing mixed operations until a deadline.

constexpr int kMaxProcs = 4;
constexpr int kSharedKeys = 64;
constexpr int kPrivateKeys = 32;

struct Tally {
  std::atomic<uint64_t> ops{0};
  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> misses{0};
  std::atomic<uint64_t> wrong{0};   // bytes that no writer wrote for the key
  std::atomic<uint64_t> stale{0};   // own committed write not seen
  std::atomic<uint64_t> errors{0};  // non-OK status other than NotFound
  std::atomic<uint64_t> compactions{0};
  // Final version of each private key, 0 when absent; for the parent.
  std::atomic<uint64_t> private_version[kMaxProcs][kPrivateKeys];
};

void ReportWrong(Tally* t, int proc, std::string_view op, std::string_view key,
                 const std::string& why) {
  t->wrong++;
  fprintf(stderr, "WRONG VALUE proc=%d seed=%llu %.*s(%.*s): %s\n", proc,
          static_cast<unsigned long long>(kSeed), static_cast<int>(op.size()),
          op.data(), static_cast<int>(key.size()), key.data(), why.c_str());
}

void ReportError(Tally* t, int proc, std::string_view op, const Status& s) {
  t->errors++;
  if (t->errors < 20) {
    fprintf(stderr, "proc=%d %.*s: %s\n", proc, static_cast<int>(op.size()),
            op.data(), s.ToString().c_str());
  }
}

// Checks a read of `key`; NotFound is a miss, anything else must decode.
void CheckRead(Tally* t, int proc, std::string_view op, std::string_view key,
               const Status& s, std::string_view bytes) {
  if (s.IsNotFound()) {
    t->misses++;
    return;
  }
  if (!s.ok()) {
    ReportError(t, proc, op, s);
    return;
  }
  std::string why;
  if (!CheckValue(key, bytes, &why)) {
    ReportWrong(t, proc, op, key, why);
  } else {
    t->hits++;
  }
}

// Reads private key `i` of `proc` and compares it with what this process
// last did to it: its own committed write must be seen exactly.
void CheckPrivate(Tally* t, FileCache* fc, int proc, int i,
                  uint64_t want_version) {
  const std::string key = PrivateKey(proc, i);
  std::string got;
  Status s = fc->Get(key, &got);
  if (want_version == 0) {
    if (s.ok()) {
      t->stale++;
      fprintf(stderr, "STALE proc=%d %s: erased key still reads a value\n",
              proc, key.c_str());
    } else if (!s.IsNotFound()) {
      ReportError(t, proc, "Get(private)", s);
    }
    return;
  }
  if (!s.ok()) {
    if (s.IsNotFound()) {
      t->stale++;
      fprintf(stderr, "STALE proc=%d %s: own write v%llu reads as a miss\n",
              proc, key.c_str(), static_cast<unsigned long long>(want_version));
    } else {
      ReportError(t, proc, "Get(private)", s);
    }
    return;
  }
  std::string why;
  auto v = CheckValue(key, got, &why);
  if (!v) {
    ReportWrong(t, proc, "Get(private)", key, why);
  } else if (*v != want_version) {
    t->stale++;
    fprintf(stderr, "STALE proc=%d %s: read v%llu, last wrote v%llu\n", proc,
            key.c_str(), static_cast<unsigned long long>(*v),
            static_cast<unsigned long long>(want_version));
  }
}

struct WorkerPlan {
  int proc = 0;
  steady_clock::time_point deadline;
  FileCacheOptions options;
  // False for a worker that will be killed: a successor reusing its private
  // keys cannot know what it left behind.
  bool check_private = true;
  uint64_t seed_salt = 0;
};

int MixedWorker(const std::string& dir, const WorkerPlan& plan, Tally* t) {
  auto fc = OpenOrDie(dir, plan.options);
  if (!fc) return 2;
  std::mt19937_64 rng(kSeed * 31 + plan.proc + (plan.seed_salt << 8));
  const int p = plan.proc;
  uint64_t counter = 0;
  auto next_version = [&] { return (uint64_t(p + 1) << 40) | ++counter; };
  uint64_t mine[kPrivateKeys] = {};
  std::string got;
  while (steady_clock::now() < plan.deadline) {
    for (int burst = 0; burst < 50; ++burst) {
      t->ops++;
      const int r = static_cast<int>(rng() % 100);
      const std::string key = SharedKey(static_cast<int>(rng() % kSharedKeys));
      if (r < 35) {
        Status s = fc->Get(key, &got);
        CheckRead(t, p, "Get", key, s, got);
      } else if (r < 45) {
        ValueView view;
        Status s = fc->GetView(key, &view);
        CheckRead(t, p, "GetView", key, s, view.data());
      } else if (r < 68) {
        Status s = fc->Put(key, RandomValue(key, next_version(), rng));
        if (!s.ok()) ReportError(t, p, "Put", s);
      } else if (r < 75) {
        Status s = fc->Erase(key);
        if (!s.ok()) ReportError(t, p, "Erase", s);
      } else if (r < 80) {
        fc->Contains(key);
      } else if (r < 95) {
        // Read-your-writes on keys only this process touches.
        const int i = static_cast<int>(rng() % kPrivateKeys);
        const std::string pk = PrivateKey(p, i);
        if (rng() % 5 == 0) {
          Status s = fc->Erase(pk);
          if (!s.ok()) ReportError(t, p, "Erase(private)", s);
          mine[i] = 0;
        } else {
          const uint64_t v = next_version();
          Status s = fc->Put(pk, RandomValue(pk, v, rng));
          if (!s.ok()) {
            ReportError(t, p, "Put(private)", s);
          } else {
            mine[i] = v;
          }
        }
        if (plan.check_private) CheckPrivate(t, fc.get(), p, i, mine[i]);
      } else if (plan.check_private) {
        for (int i = 0; i < kPrivateKeys; ++i) {
          CheckPrivate(t, fc.get(), p, i, mine[i]);
        }
      }
    }
  }
  for (int i = 0; i < kPrivateKeys && plan.check_private; ++i) {
    CheckPrivate(t, fc.get(), p, i, mine[i]);
    t->private_version[p][i] = mine[i];
  }
  return t->wrong == 0 && t->stale == 0 && t->errors == 0 ? 0 : 1;
}

// Opens the store fresh and checks everything: Verify() is clean, every
// shared key decodes, every private key is at the version its owner left.
void FinalCheck(const std::string& dir, Tally* t, int procs) {
  auto r = FileCache::Open(dir);
  ASSERT_OK(r);
  FileCache& fc = **r;
  auto report = fc.Verify();
  ASSERT_OK(report);
  EXPECT_TRUE(report->clean()) << VerifyString(*report);
  std::string got, why;
  for (int i = 0; i < kSharedKeys; ++i) {
    const std::string key = SharedKey(i);
    Status s = fc.Get(key, &got);
    if (s.IsNotFound()) continue;
    ASSERT_OK(s) << key;
    EXPECT_TRUE(CheckValue(key, got, &why)) << key << ": " << why;
  }
  for (int p = 0; p < procs; ++p) {
    for (int i = 0; i < kPrivateKeys; ++i) {
      const std::string key = PrivateKey(p, i);
      const uint64_t want = t->private_version[p][i];
      Status s = fc.Get(key, &got);
      if (want == 0) {
        EXPECT_TRUE(s.IsNotFound()) << key << " was erased: " << s.ToString();
        continue;
      }
      ASSERT_OK(s) << key << " v" << want;
      auto v = CheckValue(key, got, &why);
      ASSERT_TRUE(v) << key << ": " << why;
      EXPECT_EQ(*v, want) << key;
    }
  }
}

std::string TallyString(const Tally& t) {
  return "ops=" + std::to_string(t.ops) + " hits=" + std::to_string(t.hits) +
         " misses=" + std::to_string(t.misses) +
         " wrong=" + std::to_string(t.wrong) +
         " stale=" + std::to_string(t.stale) +
         " errors=" + std::to_string(t.errors) +
         " compactions=" + std::to_string(t.compactions);
}

// Small thresholds so that the engine compacts on its own while several
// processes write.
FileCacheOptions BusyOptions() {
  FileCacheOptions o;
  o.compaction_min_bytes = 256 << 10;
  o.compaction_dead_ratio = 0.3;
  return o;
}

// Forks `procs` MixedWorkers, numbered from 0, that run on `dir` until
// `deadline` and tally into `t`.
std::vector<pid_t> SpawnWorkers(const std::string& dir, int procs,
                                steady_clock::time_point deadline,
                                const FileCacheOptions& options, Tally* t) {
  std::vector<pid_t> kids;
  for (int p = 0; p < procs; ++p) {
    WorkerPlan plan{p, deadline, options};
    kids.push_back(Spawn([&] { return MixedWorker(dir, plan, t); }));
  }
  return kids;
}

// Every worker in `kids` exits with code 0 within `timeout`. Returns how
// many died by a signal.
int ExpectWorkersExitCleanly(const std::vector<pid_t>& kids,
                             milliseconds timeout) {
  int signaled = 0;
  for (size_t i = 0; i < kids.size(); ++i) {
    const ChildExit ended = WaitChild(kids[i], timeout);
    signaled += ended.signaled();
    EXPECT_CLEAN_EXIT(ended, "worker " + std::to_string(i));
  }
  return signaled;
}

// The workers read no wrong value, missed no own write and saw no error.
void ExpectNoBadReads(const Tally& t) {
  EXPECT_EQ(t.wrong, 0u);
  EXPECT_EQ(t.stale, 0u);
  EXPECT_EQ(t.errors, 0u);
}

// (a) Four processes, mixed operations on overlapping keys.
TEST(MultiProcessTest, FourProcessesMixedOperations) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  Shared<Tally> tally;
  const milliseconds run_time = SoakTime(milliseconds(3000));
  const int crashes = ExpectWorkersExitCleanly(
      SpawnWorkers(dir, 4, steady_clock::now() + run_time, BusyOptions(),
                   &*tally),
      run_time + kChildTimeout);
  SCOPED_TRACE(TallyString(*tally));
  ExpectNoBadReads(*tally);
  EXPECT_GT(tally->hits, 100u);
  FinalCheck(dir, &*tally, 4);
  printf("%s\n", TallyString(*tally).c_str());
  PrintSummary("MultiProcessTest.FourProcessesMixedOperations", tally->ops,
               "operations by 4 processes on 64 shared keys",
               tally->wrong + tally->stale, crashes, TallyString(*tally));
}

// (b) A write by one process is seen by a process that had the store open
// before, on its next call, across erase, compaction and Clear.
TEST(MultiProcessTest, OtherProcessSeesWritesWithoutReopening) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  Channel to_writer, to_reader;
  constexpr int kRounds = 12;
  // The writer is forked before the reader (this process) opens the store,
  // so that it inherits no handle.
  const pid_t writer = Spawn([&]() -> int {
    if (to_writer.Receive() != 'g') return 3;
    auto fc = OpenOrDie(dir);
    if (!fc) return 2;
    std::mt19937_64 rng(kSeed);
    for (int round = 1; round <= kRounds; ++round) {
      const std::string key = "k" + std::to_string(round % 4);
      // Step 1: put.
      if (!fc->Put(key, RandomValue(key, round * 10 + 1, rng)).ok()) return 4;
      to_reader.Send('1');
      if (to_writer.Receive() != 'n') return 3;
      // Step 2: overwrite.
      if (!fc->Put(key, RandomValue(key, round * 10 + 2, rng)).ok()) return 4;
      to_reader.Send('2');
      if (to_writer.Receive() != 'n') return 3;
      // Step 3: erase.
      if (!fc->Erase(key).ok()) return 4;
      to_reader.Send('3');
      if (to_writer.Receive() != 'n') return 3;
      // Step 4: a new generation, then a write into it.
      if (!fc->Put(key, RandomValue(key, round * 10 + 4, rng)).ok()) return 4;
      if (!fc->Compact().ok()) return 5;
      if (!fc->Put("after-compact",
                   RandomValue("after-compact", round * 10 + 4, rng))
               .ok()) {
        return 4;
      }
      to_reader.Send('4');
      if (to_writer.Receive() != 'n') return 3;
      // Step 5: the reader wrote; this process must see it.
      std::string got, why;
      Status s = fc->Get("from-reader", &got);
      auto v = s.ok() ? CheckValue("from-reader", got, &why) : std::nullopt;
      to_reader.Send(v && *v == uint64_t(round) ? 'y' : 'x');
      if (to_writer.Receive() != 'n') return 3;
      if (round % 4 == 0) {
        if (!fc->Clear().ok()) return 6;
        to_reader.Send('c');
        if (to_writer.Receive() != 'n') return 3;
      }
    }
    return 0;
  });

  auto opened = FileCache::Open(dir);
  ASSERT_OK(opened);
  FileCache& fc = **opened;
  to_writer.Send('g');
  std::mt19937_64 rng(kSeed + 1);
  auto expect_version = [&](const std::string& key, uint64_t want) {
    std::string got, why;
    Status s = fc.Get(key, &got);
    ASSERT_OK(s) << key << " v" << want;
    auto v = CheckValue(key, got, &why);
    ASSERT_TRUE(v) << key << ": " << why;
    EXPECT_EQ(*v, want) << key << ": a stale version";
    ValueView view;
    ASSERT_OK(fc.GetView(key, &view));
    EXPECT_EQ(view.data(), got);
    EXPECT_TRUE(fc.Contains(key));
  };
  for (int round = 1; round <= kRounds && !HasFatalFailure(); ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::string key = "k" + std::to_string(round % 4);
    ASSERT_EQ(to_reader.Receive(), '1');
    expect_version(key, round * 10 + 1);
    to_writer.Send('n');
    ASSERT_EQ(to_reader.Receive(), '2');
    expect_version(key, round * 10 + 2);
    to_writer.Send('n');
    ASSERT_EQ(to_reader.Receive(), '3');
    std::string got;
    EXPECT_TRUE(fc.Get(key, &got).IsNotFound()) << key << " was erased";
    EXPECT_FALSE(fc.Contains(key));
    to_writer.Send('n');
    ASSERT_EQ(to_reader.Receive(), '4');
    expect_version(key, round * 10 + 4);
    expect_version("after-compact", round * 10 + 4);
    ASSERT_TRUE(
        fc.Put("from-reader", RandomValue("from-reader", round, rng)).ok());
    to_writer.Send('n');
    EXPECT_EQ(to_reader.Receive(), 'y')
        << "the writer did not see the reader's put of round " << round;
    to_writer.Send('n');
    if (round % 4 == 0) {
      ASSERT_EQ(to_reader.Receive(), 'c');
      for (const char* k :
           {"k0", "k1", "k2", "k3", "after-compact", "from-reader"}) {
        EXPECT_TRUE(fc.Get(k, &got).IsNotFound()) << k << " survived Clear";
      }
      to_writer.Send('n');
    }
  }
  EXPECT_CLEAN_EXIT(WaitChild(writer, kChildTimeout), "writer");
}

// (c) Compaction in a loop in one process while two others read and write.
TEST(MultiProcessTest, CompactionLoopWhileOthersReadAndWrite) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  {
    // Enough data that each compaction has real work to do.
    auto fc = OpenOrDie(dir);
    ASSERT_NE(fc, nullptr);
    std::mt19937_64 rng(kSeed + 7);
    for (int i = 0; i < kSharedKeys; ++i) {
      ASSERT_OK(fc->Put(SharedKey(i), RandomValue(SharedKey(i), 1, rng)));
    }
    for (int i = 0; i < 400; ++i) {
      const std::string key = "filler/" + std::to_string(i);
      ASSERT_OK(fc->Put(key, RandomValue(key, 1, rng)));
    }
  }
  Shared<Tally> tally;
  const milliseconds run_time = SoakTime(milliseconds(4000));
  const auto deadline = steady_clock::now() + run_time;
  const pid_t compactor = Spawn([&]() -> int {
    auto fc = OpenOrDie(dir);
    if (!fc) return 2;
    int failures = 0;
    while (steady_clock::now() < deadline) {
      Status s = fc->Compact();
      if (s.ok()) {
        tally->compactions++;
      } else if (++failures < 5) {
        fprintf(stderr, "Compact: %s\n", s.ToString().c_str());
      }
    }
    return failures == 0 ? 0 : 1;
  });
  const std::vector<pid_t> kids =
      SpawnWorkers(dir, 2, deadline, FileCacheOptions(), &*tally);
  const ChildExit compactor_exit =
      WaitChild(compactor, run_time + kChildTimeout);
  EXPECT_CLEAN_EXIT(compactor_exit, "compactor");
  const int crashes = compactor_exit.signaled() +
                      ExpectWorkersExitCleanly(kids, run_time + kChildTimeout);
  SCOPED_TRACE(TallyString(*tally));
  ExpectNoBadReads(*tally);
  EXPECT_GE(tally->compactions, 5u);
  FinalCheck(dir, &*tally, 2);
  auto fc = OpenOrDie(dir);
  ASSERT_NE(fc, nullptr);
  std::string got, why;
  for (int i = 0; i < 400; ++i) {
    const std::string key = "filler/" + std::to_string(i);
    ASSERT_OK(fc->Get(key, &got)) << key << " lost by compaction";
    EXPECT_EQ(CheckValue(key, got, &why), std::optional<uint64_t>(1)) << why;
  }
  printf("%s\n", TallyString(*tally).c_str());
  PrintSummary("MultiProcessTest.CompactionLoopWhileOthersReadAndWrite",
               tally->compactions, "compactions under 2 working processes",
               tally->wrong + tally->stale, crashes, TallyString(*tally));
}

// A writer SIGKILLed mid-run, again and again, must not block the others:
// the lock is released by the kernel.
TEST(MultiProcessTest, KilledWriterNeverBlocksOthers) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  Shared<Tally> tally;
  const auto deadline = steady_clock::now() + SoakTime(milliseconds(3000));
  const std::vector<pid_t> kids =
      SpawnWorkers(dir, 2, deadline, BusyOptions(), &*tally);
  std::mt19937_64 rng(kSeed + 3);
  int kills = 0;
  Shared<Tally> victim_tally;  // the victim's private checks are moot
  while (steady_clock::now() + milliseconds(200) < deadline) {
    WorkerPlan plan{2, deadline, BusyOptions(), false, uint64_t(kills) + 1};
    const pid_t victim =
        Spawn([&] { return MixedWorker(dir, plan, &*victim_tally); });
    std::this_thread::sleep_for(milliseconds(5 + rng() % 40));
    kill(victim, SIGKILL);
    const ChildExit info = WaitChild(victim, kChildTimeout);
    if (!info.signaled()) {
      ADD_FAILURE() << "victim ended before the kill: " << info.ToString();
    }
    ++kills;
  }
  const int crashes = ExpectWorkersExitCleanly(kids, milliseconds(20000));
  SCOPED_TRACE(TallyString(*tally));
  EXPECT_GT(kills, 10);
  ExpectNoBadReads(*tally);
  EXPECT_EQ(victim_tally->wrong, 0u);
  FinalCheck(dir, &*tally, 2);
  PrintSummary("MultiProcessTest.KilledWriterNeverBlocksOthers", kills,
               "SIGKILLs of a third writer",
               tally->wrong + tally->stale + victim_tally->wrong, crashes,
               TallyString(*tally));
}

// (d) Two handles on one store inside one process, a writer thread on each:
// no lost write and no wrong value. fcntl locks would not separate them.
TEST(MultiProcessTest, TwoHandlesInOneProcess) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  auto h0 = OpenOrDie(dir, BusyOptions());
  auto h1 = OpenOrDie(dir, BusyOptions());
  ASSERT_NE(h0, nullptr);
  ASSERT_NE(h1, nullptr);
  FileCache* handles[2] = {h0.get(), h1.get()};
  constexpr int kKeys = 40;
  constexpr int kVersions = 60;
  Tally tally;
  std::atomic<uint64_t> last_shared[2][kKeys] = {};
  std::atomic<bool> writers_done{false};
  auto writer = [&](int t) {
    FileCache* mine = handles[t];
    FileCache* other = handles[1 - t];
    std::mt19937_64 rng(kSeed + 100 + t);
    for (int v = 1; v <= kVersions; ++v) {
      for (int i = 0; i < kKeys; ++i) {
        const std::string pk = PrivateKey(t, i);
        const uint64_t version = (uint64_t(t + 1) << 40) | v;
        Status s = mine->Put(pk, RandomValue(pk, version, rng));
        if (!s.ok()) ReportError(&tally, t, "Put", s);
        // The other handle must see it on its next call.
        CheckPrivate(&tally, other, t, i, version);
        const std::string sk = SharedKey(i);
        s = mine->Put(sk, RandomValue(sk, version, rng));
        if (!s.ok()) ReportError(&tally, t, "Put(shared)", s);
        last_shared[t][i] = version;
      }
      if (v % 20 == 0 && t == 0) {
        Status s = mine->Compact();
        if (!s.ok()) ReportError(&tally, t, "Compact", s);
      }
    }
  };
  auto reader = [&] {
    std::string got;
    while (!writers_done) {
      for (int i = 0; i < kKeys; ++i) {
        const std::string sk = SharedKey(i);
        Status s = h0->Get(sk, &got);
        CheckRead(&tally, 9, "Get", sk, s, got);
        ValueView view;
        s = h1->GetView(sk, &view);
        CheckRead(&tally, 9, "GetView", sk, s, view.data());
      }
    }
  };
  std::thread r(reader);
  std::thread w0(writer, 0), w1(writer, 1);
  w0.join();
  w1.join();
  writers_done = true;
  r.join();
  SCOPED_TRACE(TallyString(tally));
  ExpectNoBadReads(tally);

  // Every private key at its last version, through both handles and a third.
  auto h2 = OpenOrDie(dir);
  ASSERT_NE(h2, nullptr);
  std::string got, why;
  for (FileCache* fc : {h0.get(), h1.get(), h2.get()}) {
    for (int t = 0; t < 2; ++t) {
      for (int i = 0; i < kKeys; ++i) {
        const std::string pk = PrivateKey(t, i);
        ASSERT_OK(fc->Get(pk, &got)) << pk << " lost";
        auto v = CheckValue(pk, got, &why);
        ASSERT_TRUE(v) << pk << ": " << why;
        EXPECT_EQ(*v, (uint64_t(t + 1) << 40) | kVersions) << pk;
      }
    }
    for (int i = 0; i < kKeys; ++i) {
      const std::string sk = SharedKey(i);
      ASSERT_OK(fc->Get(sk, &got)) << sk << " lost";
      auto v = CheckValue(sk, got, &why);
      ASSERT_TRUE(v) << sk << ": " << why;
      EXPECT_TRUE(*v == last_shared[0][i] || *v == last_shared[1][i])
          << sk << ": v" << *v << " is neither thread's last write";
    }
  }
  auto report = h2->Verify();
  ASSERT_OK(report);
  EXPECT_TRUE(report->clean());
}

// (e) A ValueView taken before another process compacts (and overwrites,
// erases, clears) still reads the same bytes afterwards.
TEST(MultiProcessTest, ViewSurvivesCompactionByAnotherProcess) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  Channel to_child, to_parent;
  const pid_t other = Spawn([&]() -> int {
    if (to_child.Receive() != 'g') return 3;
    auto fc = OpenOrDie(dir);
    if (!fc) return 2;
    std::mt19937_64 rng(kSeed + 11);
    for (int round = 0; round < 3; ++round) {
      for (int i = 0; i < 8; ++i) {
        const std::string key = "viewed/" + std::to_string(i);
        if (!fc->Put(key, RandomValue(key, 100 + round, rng)).ok()) return 4;
      }
      for (int i = 0; i < 200; ++i) {
        const std::string key = "churn/" + std::to_string(i);
        if (!fc->Put(key, RandomValue(key, round, rng)).ok()) return 4;
      }
      if (!fc->Erase("viewed/0").ok()) return 4;
      if (!fc->Compact().ok()) return 5;
    }
    if (!fc->Clear().ok()) return 6;
    if (!fc->Compact().ok()) return 5;
    to_parent.Send('d');
    return 0;
  });

  std::vector<std::string> copies;
  std::vector<ValueView> views(8);
  {
    FileCacheOptions options;
    options.compression = Compression::kNone;  // so that views are zero-copy
    auto fc = OpenOrDie(dir, options);
    ASSERT_NE(fc, nullptr);
    for (int i = 0; i < 8; ++i) {
      const std::string key = "viewed/" + std::to_string(i);
      const std::string value = MakeValue(
          key, 1, i % 2 ? Shape::kRandom : Shape::kCompressible, 20000 + i);
      ASSERT_OK(fc->Put(key, value));
      ASSERT_OK(fc->GetView(key, &views[i]));
      ASSERT_EQ(views[i].data(), value);
      copies.push_back(value);
    }
    EXPECT_TRUE(views[1].zero_copy()) << "raw values should be zero-copy";
    to_child.Send('g');
    ASSERT_EQ(to_parent.Receive(milliseconds(30000)), 'd');
    // The handle that made the views now reads the new state.
    std::string got;
    EXPECT_TRUE(fc->Get("viewed/1", &got).IsNotFound());
  }  // the handle closes; the views must outlive it
  EXPECT_CLEAN_EXIT(WaitChild(other, kChildTimeout), "compacting process");

  // Touch the views first in a forked copy of this process (same mappings),
  // so that a SIGBUS shows as a signal there rather than killing the test.
  const pid_t prober = Spawn([&]() -> int {
    for (int i = 0; i < 8; ++i) {
      if (views[i].data() != copies[i]) return 1;
    }
    return 0;
  });
  const ChildExit info = WaitChild(prober, kChildTimeout);
  ASSERT_FALSE(info.signaled())
      << "reading a view after compaction: " << info.ToString();
  EXPECT_EQ(info.code(), 0) << "a view's bytes changed after compaction";
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(views[i].data(), copies[i]) << "view " << i;
  }
}

// (f) LockKey: a key's lock held in one process keeps another process's
// LockKey of the same key waiting, not another key's; the kernel hands it
// over when the holder is SIGKILLed.
TEST(MultiProcessTest, KeyLockExcludesProcessesAndDiesWithItsHolder) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  ASSERT_NE(OpenOrDie(dir), nullptr);
  Channel locked;
  const pid_t holder = Spawn([&] {
    auto cache = OpenOrDie(dir);
    if (cache == nullptr) return 1;
    Result<KeyLock> lock = cache->LockKey("k");
    if (!lock.ok() || !lock->held()) return 2;
    locked.Send('L');
    pause();  // until SIGKILLed
    return 0;
  });
  ASSERT_EQ(locked.Receive(), 'L');

  auto cache = OpenOrDie(dir);
  ASSERT_NE(cache, nullptr);
  Result<KeyLock> other = cache->LockKey("another key");
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  EXPECT_TRUE(other->held());

  std::atomic<bool> got{false};
  std::thread waiter([&] {
    Result<KeyLock> lock = cache->LockKey("k");
    got = lock.ok() && lock->held();
  });
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_FALSE(got.load()) << "took a key lock another process holds";
  kill(holder, SIGKILL);
  const ChildExit info = WaitChild(holder, kChildTimeout);
  EXPECT_TRUE(info.signaled()) << info.ToString();
  waiter.join();  // hangs (and the test times out) if the lock outlived its holder
  EXPECT_TRUE(got.load());
}

// Two threads of one process, each with its own LockKey of one key, wait
// for each other: the lock is per call, not per process.
TEST(MultiProcessTest, KeyLockExcludesThreadsOfOneProcess) {
  TempDir tmp;
  auto cache = OpenOrDie(tmp.Sub("store"));
  ASSERT_NE(cache, nullptr);
  std::atomic<int> inside{0};
  std::atomic<int> most{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        Result<KeyLock> lock = cache->LockKey("k");
        ASSERT_TRUE(lock.ok()) << lock.status().ToString();
        const int now = ++inside;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(milliseconds(1));
        --inside;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(most.load(), 1);
}

}  // namespace
}  // namespace ucache
