// Tests of memoization: once per key, across processes without computing
// again, single-flight for threads (64 on one cold key) and for processes,
// recursion (past the descriptor limit too), exceptions, key selection,
// value shapes, a large miss's peak memory, TTL with a fake clock, scoped
// overrides, environment variables, acache, and stats.

#include "ucache/memoize.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tests/memoize_old_types.h"
#include "tests/stress_util.h"
#include "tests/testutil.h"
#include "ucache/ucache.h"

namespace ucache {
namespace {

using std::chrono::milliseconds;

Options StoreOptions(const std::string& dir) {
  Options o;
  o.dir = dir;
  o.read_environment = false;
  return o;
}

std::vector<double> Simulate(int n, double p) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<size_t>(i)] = i * p;
  return v;
}

TEST(MemoizeTest, ComputesOncePerKeyThenServesFromMemory) {
  TempDir tmp;
  int runs = 0;
  auto cached = memoize(
      "simulate/v1",
      [&](int n, double p) {
        ++runs;
        return Simulate(n, p);
      },
      StoreOptions(tmp.Sub("store")));
  EXPECT_EQ(cached(1000, 0.5), Simulate(1000, 0.5));
  EXPECT_EQ(cached(1000, 0.5), Simulate(1000, 0.5));
  EXPECT_EQ(cached(1000, 0.25), Simulate(1000, 0.25));
  EXPECT_EQ(runs, 2);
  const MemoizeStats s = cached.stats();
  EXPECT_EQ(s.calls, 3u);
  EXPECT_EQ(s.misses, 2u);
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.memory_hits, 1u);
  EXPECT_EQ(s.backend, Backend::kMemoryAndFile);
  EXPECT_GE(s.compute_seconds, 0.0);
}

// The README's numeric example, in a second process: served from disk
// without running the function.
TEST(MemoizeTest, SecondProcessHitsDiskWithoutComputing) {
  TempDir tmp;
  Shared<std::atomic<int>> runs;
  const std::string dir = tmp.Sub("store");
  auto run = [&] {
    auto cached = memoize(
        "simulate/v1",
        [&](int n, double p) {
          ++*runs;
          return Simulate(n, p);
        },
        StoreOptions(dir));
    if (cached(100000, 0.5) != Simulate(100000, 0.5)) return 1;
    return cached.stats().file_hits == 1 ? 0 : 2;
  };
  {
    const pid_t first = Spawn(run);
    EXPECT_EQ(WaitChild(first, milliseconds(30000)).code(), 2)
        << "the first process must compute (no file hit)";
  }
  EXPECT_EQ(runs->load(), 1);
  const pid_t second = Spawn(run);
  EXPECT_EQ(WaitChild(second, milliseconds(30000)).code(), 0);
  EXPECT_EQ(runs->load(), 1) << "the second process computed again";
}

TEST(MemoizeTest, SixtyFourThreadsOnOneColdKeyComputeOnce) {
  TempDir tmp;
  std::atomic<int> runs{0};
  auto cached = memoize(
      "slow/v1",
      [&](int x) {
        ++runs;
        std::this_thread::sleep_for(milliseconds(200));
        return std::vector<int>(1000, x);
      },
      StoreOptions(tmp.Sub("store")));
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 64; ++t) {
    threads.emplace_back([&] {
      if (cached(7) != std::vector<int>(1000, 7)) ++wrong;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(runs.load(), 1);
  EXPECT_EQ(wrong.load(), 0);
  const MemoizeStats s = cached.stats();
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.misses + s.waits + s.hits, 64u);
}

// Two processes missing one key at once: the key's lock in the store makes
// one compute while the other waits and reads its result.
TEST(MemoizeTest, TwoProcessesMissingTogetherComputeOnce) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  memoize(
      "warm/v1", [](int x) { return x; }, StoreOptions(dir))(0);
  Shared<std::atomic<int>> runs;
  Shared<std::atomic<int>> ready;
  auto child = [&] {
    auto cached = memoize(
        "expensive/v1",
        [&](int x) {
          ++*runs;
          std::this_thread::sleep_for(milliseconds(500));
          return std::string(100, static_cast<char>('a' + x));
        },
        StoreOptions(dir));
    ++*ready;
    while (ready->load() < 2) {
    }
    return cached(3) == std::string(100, 'd') ? 0 : 1;
  };
  const pid_t a = Spawn(child);
  const pid_t b = Spawn(child);
  EXPECT_TRUE(WaitChild(a, milliseconds(30000)).clean());
  EXPECT_TRUE(WaitChild(b, milliseconds(30000)).clean());
  EXPECT_EQ(runs->load(), 1);
}

// A process SIGKILLed while computing (holding the key's lock) does not
// block the next one: the kernel releases the lock.
TEST(MemoizeTest, KilledComputingProcessDoesNotBlockOthers) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  Shared<std::atomic<int>> started;
  const pid_t victim = Spawn([&] {
    auto cached = memoize(
        "hang/v1",
        [&](int) {
          ++*started;
          pause();
          return 0;
        },
        StoreOptions(dir));
    return cached(1);
  });
  while (started->load() == 0) std::this_thread::sleep_for(milliseconds(5));
  kill(victim, SIGKILL);
  EXPECT_TRUE(WaitChild(victim, milliseconds(30000)).signaled());
  auto cached = memoize(
      "hang/v1", [](int x) { return x + 41; }, StoreOptions(dir));
  EXPECT_EQ(cached(1), 42);  // hangs (test timeout) if the lock outlived it
}

TEST(MemoizeTest, RecursiveCallOnTheSameKeyDoesNotDeadlock) {
  TempDir tmp;
  Memoized<int(int)> self;
  int depth = 0;
  self = memoize(
      "recursive/v1",
      [&](int x) {
        // The same key again from inside its own computation.
        if (++depth == 1) return self(x) + 1;
        return x;
      },
      StoreOptions(tmp.Sub("store")));
  EXPECT_EQ(self(5), 6);
  EXPECT_EQ(self.stats().recursions, 1u);
  EXPECT_EQ(self(5), 6);  // the outer result was cached
}

// Two handles of one name on one store share keys, and the store's lock of
// the key the outer call holds: the inner call is recursion, not a wait.
TEST(MemoizeTest, SameKeyRecursionThroughAnotherHandleRunsTheFunction) {
  TempDir tmp;
  const Options options = StoreOptions(tmp.Sub("store"));
  Memoized<int(int)> inner;
  AsyncMemoized<int(int)> inner_async;
  auto fn = [&](int x) { return x + 1; };
  inner = memoize("twice/v1", fn, options);
  inner_async = acache("twice/v1", fn, options);
  auto outer = memoize(
      "twice/v1", [&](int x) { return inner(x) + inner_async(x).get(); },
      Cache::Open(options));  // another cache on the store, too
  Shared<std::atomic<int>> result;
  const pid_t child = Spawn([&] {
    *result = outer(1);
    return 0;
  });
  ASSERT_TRUE(WaitChild(child, milliseconds(20000)).clean())
      << "deadlocked on the key's lock";
  EXPECT_EQ(result->load(), 4);
}

TEST(MemoizeTest, RecursiveFunctionOverDistinctKeys) {
  TempDir tmp;
  Memoized<uint64_t(int)> fib;
  std::atomic<int> runs{0};
  fib = memoize(
      "fib/v1",
      [&](int n) -> uint64_t {
        ++runs;
        return n < 2 ? uint64_t(n) : fib(n - 1) + fib(n - 2);
      },
      StoreOptions(tmp.Sub("store")));
  EXPECT_EQ(fib(80), 23416728348467685u);
  EXPECT_EQ(runs.load(), 81);
}

// Each level of a recursion over distinct keys holds its key's lock, one
// descriptor: a recursion deeper than the process may open descriptors runs
// its deepest levels without the lock (as a store whose lock cannot be
// taken), never failing a call, and still stores every level's value.
TEST(MemoizeTest, RecursionDeeperThanTheDescriptorLimitComputesEachKeyOnce) {
  TempDir tmp;
  const Options options = StoreOptions(tmp.Sub("store"));
  constexpr int kDepth = 400;
  Shared<std::atomic<int>> runs;
  Shared<std::atomic<uint64_t>> result;
  Shared<std::atomic<bool>> exhausted;  // the deepest level could open nothing
  const pid_t child = Spawn([&] {
    Memoized<uint64_t(int)> fib;
    fib = memoize(
        "deepfib/v1",
        [&](int n) -> uint64_t {
          ++*runs;
          if (n == 2) {
            const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (fd >= 0) ::close(fd);
            *exhausted = fd < 0 && errno == EMFILE;
          }
          return n < 2 ? uint64_t(n) : fib(n - 1) + fib(n - 2);
        },
        options);
    fib(1);  // the store is open before the limit drops
    // Room for about 64 more descriptors, far fewer than kDepth levels.
    const int next = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (next < 0) return 3;
    ::close(next);
    const rlimit low{static_cast<rlim_t>(next + 64),
                     static_cast<rlim_t>(next + 64)};
    if (::setrlimit(RLIMIT_NOFILE, &low) != 0) return 4;
    *result = fib(kDepth);
    return 0;
  });
  ASSERT_TRUE(WaitChild(child, milliseconds(60000)).clean());
  EXPECT_TRUE(exhausted->load())
      << "the recursion never ran out of descriptors";
  uint64_t a = 0, b = 1;  // fib(n) mod 2^64, as the memoized one wraps
  for (int i = 0; i < kDepth; ++i) b = std::exchange(a, b) + b;
  EXPECT_EQ(result->load(), a);
  EXPECT_EQ(runs->load(), kDepth + 1);
  // Every level reached the store: another process computes nothing.
  int later_runs = 0;
  auto again = memoize(
      "deepfib/v1",
      [&](int) -> uint64_t {
        ++later_runs;
        return 0;
      },
      options);
  for (int n = 0; n <= kDepth; n += 37) again(n);
  EXPECT_EQ(again(kDepth), a);
  EXPECT_EQ(later_runs, 0);
}

// Peak resident memory, in bytes, since the last ResetPeakRss().
uint64_t PeakRss() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  uint64_t kib = 0;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::sscanf(line, "VmHWM: %" SCNu64, &kib) == 1) break;
  }
  std::fclose(f);
  return kib * 1024;
}

// Lowers the peak to what is resident now (Linux 4.0 and later).
bool ResetPeakRss() {
  const int fd = ::open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, "5", 1) == 1;
  ::close(fd);
  return ok;
}

// A large miss holds the result once: the store writes it from the
// function's own bytes (an encoding, a copy for the flight's waiters or a
// compressed copy of an incompressible value would each add a whole value).
TEST(MemoizeTest, LargeMissPeaksAtTheValueInResidentMemory) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "a sanitizer's allocator keeps freed memory resident";
#endif
  TempDir tmp;
  constexpr size_t kDoubles = size_t{8} << 20;  // 64 MiB
  constexpr uint64_t kBytes = kDoubles * sizeof(double);
  auto big = memoize(
      "bigmiss/v1",
      [](int seed) {
        std::vector<double> v(kDoubles);  // incompressible: LZ4 is on
        for (size_t i = 0; i < kDoubles; ++i) v[i] = std::sin(seed + i * 0.7);
        return v;
      },
      StoreOptions(tmp.Sub("store")));
  big(0);  // the store's files exist and the allocator is warm
  if (!ResetPeakRss()) GTEST_SKIP() << "no /proc/self/clear_refs";
  const uint64_t before = PeakRss();
  const std::vector<double> v = big(1);
  const uint64_t grew = PeakRss() - before;
  ASSERT_EQ(v.size(), kDoubles);
  EXPECT_LT(grew, kBytes * 3 / 2)
      << "peak grew by " << grew << " bytes for a " << kBytes << "-byte value";
  EXPECT_GE(grew, kBytes * 9 / 10);  // the measure sees the value itself
}

TEST(MemoizeTest, ExceptionsPropagateToEveryWaiterAndAreNotCached) {
  TempDir tmp;
  std::atomic<int> runs{0};
  std::atomic<bool> fail{true};
  auto cached = memoize(
      "flaky/v1",
      [&](int x) {
        ++runs;
        std::this_thread::sleep_for(milliseconds(100));
        if (fail) throw std::runtime_error("boom");
        return x;
      },
      StoreOptions(tmp.Sub("store")));
  std::atomic<int> threw{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      try {
        cached(1);
      } catch (const std::runtime_error& e) {
        if (std::string(e.what()) == "boom") ++threw;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(threw.load(), 8);
  EXPECT_EQ(runs.load(), 1);
  EXPECT_EQ(cached.stats().exceptions, 1u);
  fail = false;
  EXPECT_EQ(cached(1), 1);
  EXPECT_EQ(runs.load(), 2);
}

struct Logger {
  int lines = 0;
};

TEST(MemoizeTest, IgnoredArgumentsDoNotChangeTheKey) {
  TempDir tmp;
  int runs = 0;
  Logger logger;
  // Argument 1 (verbosity) and 2 (a logger, not serializable) are left out.
  auto cached = memoize(
      "ignore/v1",
      [&](int x, bool verbose, Logger& log) {
        ++runs;
        if (verbose) ++log.lines;
        return x * 2;
      },
      StoreOptions(tmp.Sub("store")), Ignore<1, 2>{});
  EXPECT_EQ(cached(21, true, logger), 42);
  EXPECT_EQ(cached(21, false, logger), 42);
  EXPECT_EQ(cached(22, false, logger), 44);
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(logger.lines, 1);  // passed by reference, really used
}

// Arithmetic arguments are encoded without cereal (State::Key): the bytes,
// and so the stored keys, must be cereal's, which KeyBy of a tuple of the
// same values still goes through. A mismatch would make every store written
// before the fast path a cache of misses.
TEST(MemoizeTest, FixedSizeArgumentsKeepCerealsKeys) {
  TempDir tmp;
  Options options = StoreOptions(tmp.Sub("store"));
  options.backend = Backend::kFile;  // a second memoize reads what is stored
  int runs = 0;
  auto fn = [&](int a, char b, bool c, double d) {
    ++runs;
    return a + b + c + d;
  };
  auto fast = memoize("mixed/v1", fn, options);
  EXPECT_EQ(fast(7, 'x', true, 0.25), 7 + 'x' + 1 + 0.25);
  EXPECT_EQ(fast(8, 'x', true, 0.25), 8 + 'x' + 1 + 0.25);
  auto through_cereal = memoize("mixed/v1", fn, options,
                                KeyBy{[](int a, char b, bool c, double d) {
                                  return std::make_tuple(a, b, c, d);
                                }});
  EXPECT_EQ(through_cereal(7, 'x', true, 0.25), 7 + 'x' + 1 + 0.25);
  EXPECT_EQ(through_cereal(8, 'x', true, 0.25), 8 + 'x' + 1 + 0.25);
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(through_cereal.stats().hits, 2u);
  // And a value the fast path never wrote is still a miss for it.
  EXPECT_EQ(fast(7, 'y', true, 0.25), 7 + 'y' + 1 + 0.25);
  EXPECT_EQ(runs, 3);
}

// Writes `value` into `*out` over padding of `fill` bytes. In place: a long
// double passed by value travels through an x87 register, which drops the
// padding.
void PadWith(unsigned char fill, long double value, long double* out) {
  std::memset(static_cast<void*>(out), fill, sizeof(*out));
  std::memcpy(static_cast<void*>(out), &value,
              codec_internal::kValueBytes<long double>);
}

// x86's 80-bit long double has 6 (or 2) padding bytes of whatever the
// storage held: one value gave many keys, through the fixed-size fast path
// and through cereal alike.
TEST(MemoizeTest, LongDoublePaddingIsNotPartOfTheKey) {
  if (codec_internal::kValueBytes<long double> == sizeof(long double)) {
    GTEST_SKIP() << "long double has no padding here";
  }
  std::vector<long double> a(1);
  std::vector<long double> b(1);
  PadWith(0x00, 1.25L, &a[0]);
  PadWith(0xAB, 1.25L, &b[0]);
  ASSERT_NE(std::memcmp(a.data(), b.data(), sizeof(long double)), 0);
  TempDir tmp;
  const Options options = StoreOptions(tmp.Sub("store"));
  int runs = 0;
  auto scalar = memoize(
      "ld/scalar/v1",
      [&](long double x) {
        ++runs;
        return static_cast<double>(x);
      },
      options);
  EXPECT_EQ(scalar(a[0]), 1.25);
  EXPECT_EQ(scalar(b[0]), 1.25);
  EXPECT_EQ(runs, 1);
  auto vector = memoize(
      "ld/vector/v1",
      [&](const std::vector<long double>& x) {
        ++runs;
        return static_cast<double>(x[0]);
      },
      options);
  EXPECT_EQ(vector(a), 1.25);
  EXPECT_EQ(vector(b), 1.25);
  EXPECT_EQ(runs, 2);
}

// Equal maps built in different orders, with different bucket counts,
// iterate differently: they gave different keys.
TEST(MemoizeTest, EqualUnorderedMapsGiveOneKey) {
  std::unordered_map<std::string, int> a;
  std::unordered_map<std::string, int> b(1000);
  for (int i = 0; i < 100; ++i) {
    a.emplace("k" + std::to_string(i), i);
    b.emplace("k" + std::to_string(99 - i), 99 - i);
  }
  ASSERT_EQ(a, b);
  ASSERT_NE(std::vector(a.begin(), a.end()), std::vector(b.begin(), b.end()));
  TempDir tmp;
  int runs = 0;
  auto cached = memoize(
      "umap/v1",
      [&](const std::unordered_map<std::string, int>& m) {
        ++runs;
        return m.size();
      },
      StoreOptions(tmp.Sub("store")));
  EXPECT_EQ(cached(a), 100u);
  EXPECT_EQ(cached(b), 100u);
  EXPECT_EQ(runs, 1);
}

TEST(MemoizeTest, KeyByUsesTheUsersKey) {
  TempDir tmp;
  int runs = 0;
  auto cached = memoize(
      "keyby/v1",
      [&](const std::string& path, int) {
        ++runs;
        return path.size();
      },
      StoreOptions(tmp.Sub("store")),
      KeyBy{[](const std::string& path, int) { return path; }});
  EXPECT_EQ(cached("/a/b", 1), 4u);
  EXPECT_EQ(cached("/a/b", 2), 4u);
  EXPECT_EQ(runs, 1);
}

TEST(MemoizeTest, NameAndSignatureSeparateCaches) {
  TempDir tmp;
  const Options options = StoreOptions(tmp.Sub("store"));
  auto v1 = memoize(
      "f/v1", [](int x) { return x + 1; }, options);
  auto v2 = memoize(
      "f/v2", [](int x) { return x + 2; }, options);
  EXPECT_EQ(v1(1), 2);
  EXPECT_EQ(v2(1), 3);
  // Same name, different result type: never reads the other's bytes.
  auto as_double = memoize(
      "f/v1", [](int x) { return x + 0.5; }, options);
  EXPECT_EQ(as_double(1), 1.5);
  EXPECT_EQ(as_double.stats().misses, 1u);
}

// Changed since memoize_old_types.cc: two ints became one int64_t, the same
// 8 bytes of cereal encoding under the same name.
struct Reading {
  int64_t a = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(a);
  }
};

// The same layout as memoize_old_types.cc's, under a new class version.
struct Tagged {
  int32_t x = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(x);
  }
};

}  // namespace
}  // namespace ucache

CEREAL_CLASS_VERSION(ucache::Tagged, 2);

namespace ucache {
namespace {

TEST(MemoizeTest, AChangedStructUnderTheSameNameMisses) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  ASSERT_STREQ(old_types::StoreTwoInts(dir), typeid(Reading).name())
      << "the test needs the two types to share a name";
  auto changed = memoize(
      "changed/v1", [](int x) { return Reading{x * 1000}; }, StoreOptions(dir));
  EXPECT_EQ(changed(1).a, 1000) << "decoded the old struct's bytes";
  EXPECT_EQ(changed.stats().misses, 1u);

  ASSERT_STREQ(old_types::StoreVersionOne(dir), typeid(Tagged).name());
  auto versioned = memoize(
      "versioned/v1", [](int x) { return Tagged{x * 1000}; },
      StoreOptions(dir));
  EXPECT_EQ(versioned(1).x, 1000) << "served a record of class version 1";
  EXPECT_EQ(versioned.stats().misses, 1u);
}

struct Point {
  int x = 0;
  std::string label;
  std::map<std::string, double> weights;
  bool operator==(const Point&) const = default;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(x, label, weights);
  }
};

TEST(MemoizeTest, ValueShapesRoundTripThroughDisk) {
  TempDir tmp;
  const Options options = StoreOptions(tmp.Sub("store"));
  auto run = [&](bool expect_file) {
    auto floats = memoize(
        "floats/v1",
        [](int n) { return std::vector<float>(static_cast<size_t>(n), 1.5f); },
        options);
    auto array = memoize(
        "array/v1",
        [](int x) {
          return std::array<int64_t, 3>{x, -x, x * x};
        },
        options);
    auto text = memoize(
        "text/v1", [](std::string s) { return s + s; }, options);
    auto point = memoize(
        "point/v1",
        [](const Point& p) {
          Point q = p;
          q.weights["x"] = p.x;
          return q;
        },
        options);
    auto scalar = memoize(
        "scalar/v1", [](double d) { return d * 2; }, options);
    EXPECT_EQ(floats(5), std::vector<float>(5, 1.5f));
    EXPECT_EQ(floats(0), std::vector<float>());
    EXPECT_EQ(array(3), (std::array<int64_t, 3>{3, -3, 9}));
    EXPECT_EQ(text(std::string("a\0b", 3)), std::string("a\0ba\0b", 6));
    const Point p{4, "p", {{"w", 0.5}}};
    EXPECT_EQ(point(p), (Point{4, "p", {{"w", 0.5}, {"x", 4.0}}}));
    EXPECT_EQ(scalar(1.25), 2.5);
    if (expect_file) {
      EXPECT_EQ(floats.stats().file_hits, 2u);
      EXPECT_EQ(point.stats().file_hits, 1u);
      EXPECT_EQ(scalar.stats().file_hits, 1u);
    }
  };
  run(false);
  run(true);
}

TEST(MemoizeTest, ViewReadsDiskWithoutCopying) {
  TempDir tmp;
  Options options = StoreOptions(tmp.Sub("store"));
  options.backend = Backend::kFile;
  options.file.compression = Compression::kNone;
  auto make = [&] { return memoize("view/v1", Simulate, options); };
  EXPECT_EQ(make()(4096, 0.5)[4095], 4095 * 0.5);
  auto cached = make();
  ArrayView<double> v = cached.view(4096, 0.5);
  ASSERT_EQ(v.size(), 4096u);
  EXPECT_EQ(std::vector<double>(v.begin(), v.end()), Simulate(4096, 0.5));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(v.data()) % 16, 0u);
  EXPECT_EQ(cached.stats().file_hits, 1u);
  // Still valid after the cache and every handle are gone.
  cached = Memoized<std::vector<double>(int, double)>();
  EXPECT_EQ(v[4095], 4095 * 0.5);
  // A miss through view computes and stores.
  auto fresh = make();
  ArrayView<double> w = fresh.view(10, 1.0);
  EXPECT_EQ(w.size(), 10u);
  EXPECT_EQ(fresh.stats().misses, 1u);
}

// A large result's first read in a new cache verifies it while the pages
// are mapped in ahead (Env::WillRead) and copied into huge pages: damage to
// its bytes must still read as a miss, and the value be computed again.
TEST(MemoizeTest, DamagedLargeResultIsComputedAgain) {
  TempDir tmp;
  Options options = StoreOptions(tmp.Sub("store"));
  options.backend = Backend::kFile;
  options.file.compression = Compression::kNone;
  int runs = 0;
  auto make = [&] {
    return memoize(
        "large/v1",
        [&](int n, double p) {
          ++runs;
          return Simulate(n, p);
        },
        options);
  };
  constexpr int kN = 1 << 20;  // 8 MiB
  EXPECT_EQ(make()(kN, 0.5), Simulate(kN, 0.5));
  std::string log;
  for (const std::string& name : ListDirNames(tmp.Sub("store"))) {
    if (name.rfind("log.", 0) == 0) log = tmp.Sub("store/" + name);
  }
  ASSERT_FALSE(log.empty());
  // The value's doubles are i * 0.5: damage the one at i = kN / 2, through
  // the file, with no handle open.
  const double target = (kN / 2) * 0.5;
  const size_t at = ReadWholeFile(log).find(
      std::string(reinterpret_cast<const char*>(&target), sizeof(target)));
  ASSERT_NE(at, std::string::npos);
  const double other = -1.0;
  const int fd = open(log.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, &other, sizeof(other), static_cast<off_t>(at)),
            static_cast<ssize_t>(sizeof(other)));
  close(fd);
  auto cached = make();  // a new cache: nothing verified yet
  EXPECT_EQ(cached(kN, 0.5), Simulate(kN, 0.5));
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(cached.stats().misses, 1u);
  EXPECT_EQ(cached.stats().file_hits, 0u);
}

TEST(MemoizeTest, TtlExpiresInEveryTier) {
  TempDir tmp;
  std::atomic<int64_t> now{1'000'000};
  auto env = std::make_shared<FaultEnv>();
  env->SetNowMillis(now);
  Options options = StoreOptions(tmp.Sub("store"));
  options.ttl = milliseconds(1000);
  options.memory.clock = [&] { return now.load(); };
  options.file.env = env;
  int runs = 0;
  auto cached = memoize(
      "ttl/v1", [&](int x) { return x + ++runs * 0; }, options);
  cached(1);
  now += 999;
  env->AdvanceMillis(999);
  cached(1);
  EXPECT_EQ(runs, 1);
  now += 1;
  env->AdvanceMillis(1);
  cached(1);
  EXPECT_EQ(runs, 2) << "expired value served";
}

// The key memoize stored for the one call in `dir`'s store.
std::string OnlyStoredKey(const std::string& dir) {
  auto file = FileCache::Open(dir);
  std::vector<std::string> keys;
  if (file.ok()) {
    (void)(*file)->ForEachKey(
        [&](std::string_view k) { keys.emplace_back(k); });
  }
  return keys.size() == 1 ? keys[0] : "<" + std::to_string(keys.size()) + ">";
}

// A small result served from the memory tier once is served again from the
// function's recent hits, without the tiers, until anything that could have
// replaced it happens: another handle's overwrite, an erase or any put
// through the cache.
TEST(MemoizeTest, RecentSmallHitsLastUntilAWriteCouldReplaceThem) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  const Options options = StoreOptions(dir);
  std::shared_ptr<Cache> cache = Cache::Open(options);
  int runs = 0;
  auto cached = memoize(
      "recent/v1",
      [&](int x, double y) {
        ++runs;
        return x * y;
      },
      cache);
  const auto tier_hits = [&] { return cache->GetStats().memory->hits; };
  EXPECT_EQ(cached(3, 0.5), 1.5);  // computed
  EXPECT_EQ(cached(3, 0.5), 1.5);  // from the memory tier, remembered
  const uint64_t asked = tier_hits();
  EXPECT_EQ(cached(3, 0.5), 1.5);
  EXPECT_EQ(cached(3, 0.5), 1.5);
  EXPECT_EQ(tier_hits(), asked) << "a recent hit asked the memory tier";
  EXPECT_EQ(cached.stats().memory_hits, 3u);
  EXPECT_EQ(cached.stats().calls, 4u);
  EXPECT_EQ(cache->GetStats().memory_hits, 3u);

  const std::string key = OnlyStoredKey(dir);
  Options file_only = options;
  file_only.backend = Backend::kFile;
  std::string seven;
  Codec<double>::Encode(7.0, &seven);
  Cache::Open(file_only)->Put(key, seven);
  EXPECT_EQ(cached(3, 0.5), 7.0) << "served the replaced value";
  EXPECT_EQ(cached(3, 0.5), 7.0);
  EXPECT_EQ(cached(3, 0.5), 7.0);
  cache->Erase(key);
  EXPECT_EQ(cached(3, 0.5), 1.5) << "served the erased value";
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(cached(3, 0.5), 1.5);
  EXPECT_EQ(cached(3, 0.5), 1.5);
  cache->Put(key, seven);
  EXPECT_EQ(cached(3, 0.5), 7.0) << "a put through the cache went unseen";
}

// Arguments too long to be their own recent key are recalled by their key
// hash, each call its own value.
TEST(MemoizeTest, RecentHitsOfLongArgumentsKeepEachCallApart) {
  TempDir tmp;
  std::shared_ptr<Cache> cache = Cache::Open(StoreOptions(tmp.Sub("store")));
  int runs = 0;
  auto cached = memoize(
      "long/v1",
      [&](const std::string& s, int64_t a, int64_t b) {
        ++runs;
        return static_cast<int64_t>(s.size()) + a * b;
      },
      cache);
  for (int round = 0; round < 3; ++round) {
    for (int64_t i = 0; i < 300; ++i) {
      ASSERT_EQ(cached(std::string(static_cast<size_t>(i % 7), 'x'), i, 2),
                i % 7 + i * 2);
    }
  }
  EXPECT_EQ(runs, 300);
  const uint64_t tier_hits = cache->GetStats().memory->hits;
  EXPECT_LT(tier_hits, 600u) << "no hit was recalled";
  EXPECT_EQ(cached.stats().memory_hits, 600u);
}

TEST(MemoizeTest, ScopedOverrideDisablesOrSwitchesBackend) {
  TempDir tmp;
  const Options options = StoreOptions(tmp.Sub("store"));
  int runs = 0;
  auto cached = memoize(
      "scoped/v1", [&](int x) { return x + 0 * ++runs; }, options);
  {
    ScopedOverride off(Backend::kDisabled);
    cached(1);
    cached(1);
    EXPECT_EQ(runs, 2);
    EXPECT_EQ(cached.stats().bypassed, 2u);
  }
  cached(1);
  cached(1);
  EXPECT_EQ(runs, 3);
  {
    ScopedOverride memory_only(Backend::kMemory);
    cached(2);
  }
  // Computed inside the block into memory only: a cache of its own (as a
  // fresh process would have) misses.
  int other_runs = 0;
  auto other = memoize(
      "scoped/v1", [&](int x) { return x + 0 * ++other_runs; },
      Cache::Open(options));
  other(1);
  other(2);
  EXPECT_EQ(other_runs, 1) << "key 1 is on disk, key 2 must not be";
}

TEST(EnvVarTest, DisableCallsStraightThrough) {
  TempDir tmp;
  ScopedEnvVar disable("UCACHE_DISABLE", "1");
  Options options;
  options.dir = tmp.Sub("store");
  int runs = 0;
  auto cached = memoize(
      "env/v1", [&](int x) { return x + 0 * ++runs; }, options);
  cached(1);
  cached(1);
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(cached.active_backend(), Backend::kDisabled);
  EXPECT_FALSE(IsStore(tmp.Sub("store")));
  ScopedOverride file(Backend::kFile);  // code cannot undo the operator
  cached(1);
  EXPECT_EQ(runs, 3);
}

TEST(EnvVarTest, BackendAndDirOverrideTheCode) {
  TempDir tmp;
  ScopedEnvVar backend("UCACHE_BACKEND", "file");
  ScopedEnvVar root("UCACHE_DIR", tmp.Sub("root").c_str());
  Options options;
  options.dir = tmp.Sub("ignored");
  options.store = "mine";
  auto cached = memoize(
      "env/v1", [](int x) { return x; }, options);
  cached(1);
  EXPECT_EQ(cached.active_backend(), Backend::kFile);
  EXPECT_EQ(cached.cache().options().dir, tmp.Sub("root") + "/mine");
  EXPECT_TRUE(IsStore(tmp.Sub("root") + "/mine"));
  EXPECT_FALSE(IsStore(tmp.Sub("ignored")));
}

TEST(MemoizeTest, McacheAndFcacheChooseTheirTier) {
  TempDir tmp;
  const Options options = StoreOptions(tmp.Sub("store"));
  auto m = mcache(
      "m/v1", [](int x) { return x; }, options);
  auto f = fcache(
      "f/v1", [](int x) { return x; }, options);
  m(1);
  f(1);
  EXPECT_EQ(m.active_backend(), Backend::kMemory);
  EXPECT_EQ(f.active_backend(), Backend::kFile);
  EXPECT_EQ(m(1), 1);
  EXPECT_EQ(f(1), 1);
  EXPECT_EQ(m.stats().memory_hits, 1u);
  EXPECT_EQ(f.stats().file_hits, 1u);
}

TEST(MemoizeTest, AcacheSharesOneComputationAndReturnsReadyHits) {
  TempDir tmp;
  std::atomic<int> runs{0};
  auto cached = acache(
      "async/v1",
      [&](int x) {
        ++runs;
        std::this_thread::sleep_for(milliseconds(100));
        if (x < 0) throw std::invalid_argument("negative");
        return x * 3;
      },
      StoreOptions(tmp.Sub("store")));
  std::shared_future<int> a = cached(5);
  std::shared_future<int> b = cached(5);
  EXPECT_EQ(a.get(), 15);
  EXPECT_EQ(b.get(), 15);
  EXPECT_EQ(runs.load(), 1);
  std::shared_future<int> hit = cached(5);
  EXPECT_EQ(hit.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_EQ(hit.get(), 15);
  EXPECT_THROW(cached(-1).get(), std::invalid_argument);
  EXPECT_THROW(cached(-1).get(), std::invalid_argument);
  EXPECT_EQ(runs.load(), 3) << "an exception must not be cached";
}

void RefuseThread(std::function<void()>) {
  throw std::system_error(
      std::make_error_code(std::errc::resource_unavailable_try_again));
}

TEST(MemoizeTest, AcacheThreadThatCannotStartFailsItsFutureAndNotTheNext) {
  TempDir tmp;
  auto cached = acache(
      "nothread/v1", [](int x) { return x * 3; },
      StoreOptions(tmp.Sub("store")));
  memoize_internal::ThreadStarter previous =
      memoize_internal::SetThreadStarter(RefuseThread);
  std::shared_future<int> refused = cached(5);
  memoize_internal::SetThreadStarter(previous);
  ASSERT_EQ(refused.wait_for(std::chrono::seconds(0)),
            std::future_status::ready);
  EXPECT_THROW(refused.get(), std::system_error);
  std::shared_future<int> next = cached(5);
  ASSERT_EQ(next.wait_for(std::chrono::seconds(10)), std::future_status::ready)
      << "the refused thread's flight was left behind";
  EXPECT_EQ(next.get(), 15);
}

// Alive until destroyed at exit, after the handle constructed after it.
struct Canary {
  std::atomic<bool> alive{true};
  ~Canary() {
    alive = false;
    // Time for a computation still running to see it.
    std::this_thread::sleep_for(milliseconds(300));
  }
};

TEST(MemoizeTest, ExitWaitsForAcacheWorkOfAGlobalHandle) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  const pid_t child = Spawn([&]() -> int {
    static Canary canary;
    static auto global = acache(
        "atexit/v1",
        [](int x) {
          std::this_thread::sleep_for(milliseconds(100));
          if (!canary.alive) _exit(3);  // ran into the process's teardown
          return x;
        },
        StoreOptions(dir));
    global(1);
    std::exit(0);
  });
  EXPECT_EQ(WaitChild(child, milliseconds(20000)).code(), 0);
}

TEST(MemoizeTest, AcacheWaitWaitsForWorkInFlight) {
  TempDir tmp;
  std::atomic<bool> done{false};
  auto cached = acache(
      "wait/v1",
      [&](int x) {
        std::this_thread::sleep_for(milliseconds(200));
        done = true;
        return x;
      },
      StoreOptions(tmp.Sub("store")));
  cached(1);
  EXPECT_FALSE(cached.Wait(milliseconds(0)));
  EXPECT_TRUE(cached.Wait(milliseconds(20000)));
  EXPECT_TRUE(done.load());
}

TEST(MemoizeTest, RejectsBadNames) {
  auto fn = [](int x) { return x; };
  EXPECT_THROW(memoize("", fn), std::invalid_argument);
  EXPECT_THROW(memoize("tab\there", fn), std::invalid_argument);
  EXPECT_THROW(memoize(std::string(1025, 'n'), fn), std::invalid_argument);
}

// A plain function, so that options carrying it can share a cache.
std::atomic<int> warnings{0};
void CountWarnings(LogLevel level, std::string_view) {
  if (level == LogLevel::kWarning) ++warnings;
}

TEST(MemoizeTest, OneStoreSharesOneCacheAndOneWarning) {
  TempDir tmp;
  ASSERT_TRUE(WriteWholeFile(tmp.Sub("file"), "", 0600));
  Options unusable = StoreOptions(tmp.Sub("file") + "/store");
  unusable.log = CountWarnings;
  warnings = 0;
  {
    std::vector<Memoized<int(int)>> fns;
    for (int i = 0; i < 5; ++i) {
      fns.push_back(memoize(
          "f" + std::to_string(i), [i](int x) { return x + i; }, unusable));
    }
    EXPECT_EQ(warnings.load(), 1) << "one cache, one file-tier warning";
    for (const auto& fn : fns) EXPECT_EQ(&fn.cache(), &fns[0].cache());
    EXPECT_EQ(fns[3](1), 4);
    EXPECT_EQ(fns[0].active_backend(), Backend::kMemory);

    // Other options, other caches.
    Options other_dir = StoreOptions(tmp.Sub("other"));
    auto a = memoize(
        "a", [](int x) { return x; }, other_dir);
    EXPECT_NE(&a.cache(), &fns[0].cache());
    Options other_budget = unusable;
    other_budget.memory.max_bytes /= 2;
    auto b = memoize(
        "b", [](int x) { return x; }, other_budget);
    EXPECT_NE(&b.cache(), &fns[0].cache());
    auto c = mcache(
        "c", [](int x) { return x; }, unusable);
    EXPECT_NE(&c.cache(), &fns[0].cache());
    // A sink the registry cannot compare, and a cache of one's own.
    Options lambda_sink = unusable;
    lambda_sink.log = [](LogLevel, std::string_view) {};
    auto d = memoize(
        "d", [](int x) { return x; }, lambda_sink);
    auto e = memoize(
        "e", [](int x) { return x; }, lambda_sink);
    EXPECT_NE(&d.cache(), &e.cache());
    auto own = memoize(
        "own", [](int x) { return x; }, Cache::Open(unusable));
    EXPECT_NE(&own.cache(), &fns[0].cache());
  }
  // The shared cache died with its last function: a new one warns again.
  warnings = 0;
  auto again = memoize(
      "again", [](int x) { return x; }, unusable);
  EXPECT_EQ(warnings.load(), 1);
}

TEST(MemoizeTest, ForkedChildOpensItsOwnCache) {
  TempDir tmp;
  const Options options = StoreOptions(tmp.Sub("store"));
  auto parent = memoize(
      "parent", [](int x) { return x; }, options);
  const Cache* parents = &parent.cache();
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto child = memoize(
        "child", [](int x) { return x; }, options);
    _exit(&child.cache() != parents && child(7) == 7 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

// Blocks the calling thread until Open() (from any thread).
class Gate {
 public:
  void Wait() {
    while (!open_.load()) std::this_thread::sleep_for(milliseconds(1));
  }
  void Open() { open_ = true; }

 private:
  std::atomic<bool> open_{false};
};

// A child forked while a parent thread computes the key joins no flight of
// the parent's (its thread is not in the child): it waits for the parent's
// store lock like any other process, then reads the parent's result.
TEST(MemoizeTest, ChildForkedDuringAComputationDoesNotWaitForIt) {
  TempDir tmp;
  Gate started, finish;
  auto cached = memoize(
      "inflight/v1",
      [&](int x) {
        started.Open();
        finish.Wait();
        return x * 2;
      },
      StoreOptions(tmp.Sub("store")));
  std::thread computing([&] { EXPECT_EQ(cached(21), 42); });
  started.Wait();
  const pid_t child = Spawn([&] { return cached(21) == 42 ? 0 : 1; });
  std::this_thread::sleep_for(milliseconds(100));
  finish.Open();
  computing.join();
  EXPECT_TRUE(WaitChild(child, milliseconds(20000)).clean());
}

// Children forked while threads hit and fill the cache: another thread may
// hold any of its mutexes at the fork, and a child must not wait for it.
TEST(MemoizeTest, ChildrenForkedWhileThreadsUseTheCacheDoNotDeadlock) {
#if defined(__SANITIZE_ADDRESS__)
  // GCC 12's AddressSanitizer takes no allocator locks around fork(): a
  // child forked while a parent thread held one of its size-class mutexes
  // waits in its first allocation of that class forever (seen in CI, 2 to 3
  // runs in 40 on 593d382 and on 4ea693a alike; gdb put the child in
  // SizeClassAllocator64::GetFromAllocator). glibc's malloc, which the plain
  // and ThreadSanitizer builds use, is fork-safe.
  GTEST_SKIP() << "AddressSanitizer's allocator is not fork-safe here";
#endif
  TempDir tmp;
  auto cached = memoize(
      "busy/v1", [](int x) { return std::vector<int>(64, x); },
      StoreOptions(tmp.Sub("store")));
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; !stop; ++i) cached((i * 7 + t) % 500);
    });
  }
  std::vector<pid_t> children;
  for (int c = 0; c < 30; ++c) {
    children.push_back(Spawn([&] { return cached(c).at(0) == c ? 0 : 1; }));
    std::this_thread::sleep_for(milliseconds(3));
  }
  stop = true;
  for (std::thread& t : threads) t.join();
  const auto deadline = std::chrono::steady_clock::now() + milliseconds(20000);
  int stuck = 0;
  for (pid_t child : children) {
    const auto left = std::chrono::duration_cast<milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!WaitChild(child, std::max(left, milliseconds(1))).clean()) ++stuck;
  }
  EXPECT_EQ(stuck, 0) << "of 30 children";
}

// The key's lock dies with the process that took it, even while a child it
// forked lives on.
TEST(MemoizeTest, ForkedChildDoesNotKeepItsParentsKeyLock) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  Shared<std::atomic<pid_t>> grandchild;
  const pid_t parent = Spawn([&] {
    Gate started;
    auto cached = memoize(
        "held/v1",
        [&](int x) {
          started.Open();
          pause();
          return x;
        },
        StoreOptions(dir));
    std::thread computing([&] { cached(1); });
    started.Wait();
    *grandchild = Spawn([] {
      pause();
      return 0;
    });
    computing.join();  // never: killed
    return 1;
  });
  while (grandchild->load() == 0) std::this_thread::sleep_for(milliseconds(5));
  kill(parent, SIGKILL);
  EXPECT_TRUE(WaitChild(parent, milliseconds(20000)).signaled());
  const pid_t other = Spawn([&] {
    auto cached = memoize(
        "held/v1", [](int x) { return x + 1; }, StoreOptions(dir));
    return cached(1) == 2 ? 0 : 1;
  });
  EXPECT_TRUE(WaitChild(other, milliseconds(5000)).clean())
      << "waited for the parent's lock, which its child kept";
  kill(*grandchild, SIGKILL);  // not ours to wait for: init reaps it
}

TEST(MemoizeTest, NamesAreNeverPaths) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  auto cached = memoize(
      "../../escape/v1", [](int x) { return x; }, StoreOptions(dir));
  cached(1);
  EXPECT_EQ(ListDirNames(tmp.path()), std::vector<std::string>{"store"});
  std::shared_ptr<Cache> cache = Cache::Open(StoreOptions(dir));
  auto file = FileCache::Open(dir);
  ASSERT_OK(file);
  std::vector<std::string> keys;
  ASSERT_OK(
      (*file)->ForEachKey([&](std::string_view k) { keys.emplace_back(k); }));
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].rfind("../../escape/v1#", 0), 0u) << keys[0];
  EXPECT_EQ(keys[0].size(), std::string("../../escape/v1#").size() + 32);
}

}  // namespace
}  // namespace ucache
