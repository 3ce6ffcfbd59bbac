// Micro-benchmarks of the disk tier:
//   bazel run -c opt //bench:file_cache_benchmark
// BM_Put / BM_Get: 200,000 keys with 100-byte values, puts then uniformly
// random copying gets. BM_PutDoubles/1 and /0: puts of 8 MB of sin values
// (incompressible) with default LZ4 and without compression, beside
// BM_CopyDoubles, a plain copy of the same bytes, and BM_WriteDoubles, the
// kernel's buffered write of them into new page-cache pages. BM_Get1MiB /
// BM_GetView1MiB: 1 MiB values, copying versus zero-copy. BM_Open: opening a
// store of 1,000,000 entries (built once, then reopened warm), plus one get.
// BM_Mixed/1 and /2: one or two processes at once, each doing 50% gets and 50%
// puts of 100-byte values on random keys of one 200,000-key store;
// items_per_second is all processes' operations over the wall time, so /2 over
// /1 is the gain of a second process. BM_Compact: compacting a store of 4 KiB
// values, a third of them dead, while a reader on the same handle and one on
// another handle read; bytes_per_second counts live data, and the slowest read
// each saw is reported. UCACHE_BENCH_SCALE=tiny shrinks every size for the
// smoke test. Stores live under $TMPDIR (default /tmp).

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/scratch_dir.h"
#include "ucache/ucache.h"

namespace {

bool Tiny() {
  const char* scale = std::getenv("UCACHE_BENCH_SCALE");
  return scale != nullptr && std::string(scale) == "tiny";
}

ucache::bench::ScratchDir& Scratch() {
  static ucache::bench::ScratchDir dir("ucache-bench");
  return dir;
}

std::string Key(uint64_t i) { return "key:" + std::to_string(i); }

std::unique_ptr<ucache::FileCache> OpenStore(
    const std::string& dir, ucache::FileCacheOptions options = {}) {
  auto cache = ucache::FileCache::Open(dir, options);
  if (!cache.ok()) {
    fprintf(stderr, "open %s: %s\n", dir.c_str(),
            cache.status().ToString().c_str());
    std::exit(2);
  }
  return std::move(*cache);
}

void Check(const ucache::Status& s) {
  if (!s.ok()) {
    fprintf(stderr, "%s\n", s.ToString().c_str());
    std::exit(2);
  }
}

uint64_t SmallKeys() { return Tiny() ? 2000 : 200000; }

void BM_Put(benchmark::State& state) {
  const uint64_t n = SmallKeys();
  const std::string value(100, 'v');
  uint64_t run = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const std::string dir = Scratch().Sub("put" + std::to_string(run++));
    auto cache = OpenStore(dir);
    state.ResumeTiming();
    for (uint64_t i = 0; i < n; ++i) Check(cache->Put(Key(i), value));
    state.PauseTiming();
    cache.reset();
    std::filesystem::remove_all(dir);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_Put)->Unit(benchmark::kMillisecond);

// 8 MB of sin values: the memoized-array value, which LZ4 cannot shrink.
const std::string& DoublesValue() {
  static const std::string value = [] {
    std::vector<double> v(Tiny() ? 1000 : 1000000);
    for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(i * 0.001);
    return std::string(reinterpret_cast<const char*>(v.data()),
                       v.size() * sizeof(double));
  }();
  return value;
}

// Puts of DoublesValue() with the store's default compression (arg 1) or
// none (arg 0); the store is cleared, untimed, every 16 puts.
void BM_PutDoubles(benchmark::State& state) {
  ucache::FileCacheOptions options;
  if (state.range(0) == 0) options.compression = ucache::Compression::kNone;
  const std::string dir =
      Scratch().Sub("doubles" + std::to_string(state.range(0)));
  auto cache = OpenStore(dir, options);
  const std::string& value = DoublesValue();
  uint64_t i = 0;
  for (auto _ : state) {
    Check(cache->Put(Key(i), value));
    if (++i % 16 == 0) {
      state.PauseTiming();
      Check(cache->Clear());
      state.ResumeTiming();
    }
  }
  state.SetBytesProcessed(state.iterations() * value.size());
}
BENCHMARK(BM_PutDoubles)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond);

// The limit a put is held to: one copy of DoublesValue() into fresh memory.
void BM_CopyDoubles(benchmark::State& state) {
  const std::string& value = DoublesValue();
  for (auto _ : state) {
    std::string copy(value);
    benchmark::DoNotOptimize(copy.data());
  }
  state.SetBytesProcessed(state.iterations() * value.size());
}
BENCHMARK(BM_CopyDoubles)->Unit(benchmark::kMillisecond);

// The kernel's part of a put: one pwrite of DoublesValue() at the end of a
// file, into page-cache pages the file did not have, as BM_PutDoubles'
// appends are. The file starts afresh, untimed, every 16 writes.
void BM_WriteDoubles(benchmark::State& state) {
  const std::string path = Scratch().Sub("doubles.raw");
  const std::string& value = DoublesValue();
  int fd = -1;
  uint64_t i = 0;
  for (auto _ : state) {
    if (i % 16 == 0) {
      state.PauseTiming();
      if (fd >= 0) close(fd);
      fd = open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
      if (fd < 0) {
        perror(path.c_str());
        std::exit(2);
      }
      state.ResumeTiming();
    }
    const off_t offset = static_cast<off_t>(i % 16 * value.size());
    if (pwrite(fd, value.data(), value.size(), offset) !=
        static_cast<ssize_t>(value.size())) {
      perror(path.c_str());
      std::exit(2);
    }
    ++i;
  }
  close(fd);
  state.SetBytesProcessed(state.iterations() * value.size());
}
BENCHMARK(BM_WriteDoubles)->Unit(benchmark::kMillisecond);

ucache::FileCache& SmallStore() {
  static ucache::FileCache* cache = [] {
    auto c = OpenStore(Scratch().Sub("small"));
    const std::string value(100, 'v');
    for (uint64_t i = 0; i < SmallKeys(); ++i) Check(c->Put(Key(i), value));
    return c.release();
  }();
  return *cache;
}

void BM_Get(benchmark::State& state) {
  ucache::FileCache& cache = SmallStore();
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<uint64_t> pick(0, SmallKeys() - 1);
  std::vector<std::string> keys;
  for (int i = 0; i < 4096; ++i) keys.push_back(Key(pick(rng)));
  std::string value;
  size_t i = 0;
  for (auto _ : state) {
    Check(cache.Get(keys[i++ & 4095], &value));
    benchmark::DoNotOptimize(value.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Get);

uint64_t LargeKeys() { return Tiny() ? 4 : 256; }

ucache::FileCache& LargeStore() {
  static ucache::FileCache* cache = [] {
    ucache::FileCacheOptions options;
    options.compression = ucache::Compression::kNone;
    auto c = OpenStore(Scratch().Sub("large"), options);
    std::mt19937_64 rng(7);
    std::string value(1 << 20, '\0');
    for (uint64_t i = 0; i < LargeKeys(); ++i) {
      for (auto& ch : value) ch = static_cast<char>(rng());
      Check(c->Put(Key(i), value));
    }
    return c.release();
  }();
  return *cache;
}

void BM_Get1MiB(benchmark::State& state) {
  ucache::FileCache& cache = LargeStore();
  std::mt19937_64 rng(1);
  std::string value;
  for (auto _ : state) {
    Check(cache.Get(Key(rng() % LargeKeys()), &value));
    benchmark::DoNotOptimize(value.data());
  }
  state.SetBytesProcessed(state.iterations() * (1 << 20));
}
BENCHMARK(BM_Get1MiB);

void BM_GetView1MiB(benchmark::State& state) {
  ucache::FileCache& cache = LargeStore();
  std::mt19937_64 rng(1);
  ucache::ValueView view;
  for (auto _ : state) {
    Check(cache.GetView(Key(rng() % LargeKeys()), &view));
    benchmark::DoNotOptimize(view.data().data());
  }
  state.SetBytesProcessed(state.iterations() * (1 << 20));
}
BENCHMARK(BM_GetView1MiB);

// The store BM_Mixed's processes share, filled once.
const std::string& MixedStore() {
  static const std::string dir = [] {
    const std::string d = Scratch().Sub("mixed");
    auto c = OpenStore(d);
    const std::string value(100, 'v');
    for (uint64_t i = 0; i < SmallKeys(); ++i) Check(c->Put(Key(i), value));
    return d;
  }();
  return dir;
}

// One process of BM_Mixed: opens the store, says it is ready on `ready`,
// waits for `go` to close, then runs its operations. Never returns.
[[noreturn]] void MixedChild(int ready, int go, int seed, uint64_t ops) {
  auto cache = OpenStore(MixedStore());
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<uint64_t> pick(0, SmallKeys() - 1);
  std::vector<std::string> keys;
  for (int i = 0; i < 4096; ++i) keys.push_back(Key(pick(rng)));
  const std::string value(100, 'w');
  std::string got;
  char byte = 1;
  if (write(ready, &byte, 1) != 1 || read(go, &byte, 1) != 0) _exit(3);
  for (uint64_t i = 0; i < ops; ++i) {
    const std::string& key = keys[(i * 7 + (i >> 12)) & 4095];
    const ucache::Status s =
        (rng() & 1) ? cache->Put(key, value) : cache->Get(key, &got);
    if (!s.ok()) _exit(2);
  }
  cache.reset();
  _exit(0);
}

// CPU seconds used by the children waited for so far.
double ChildCpuSeconds() {
  struct rusage usage;
  getrusage(RUSAGE_CHILDREN, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) /
             1e6;
}

void BM_Mixed(benchmark::State& state) {
  const int procs = static_cast<int>(state.range(0));
  const uint64_t ops = Tiny() ? 20000 : 1000000;
  MixedStore();
  const double cpu_before = ChildCpuSeconds();
  for (auto _ : state) {
    int ready[2], go[2];
    if (pipe(ready) != 0 || pipe(go) != 0) std::exit(2);
    std::vector<pid_t> kids;
    for (int p = 0; p < procs; ++p) {
      const pid_t pid = fork();
      if (pid < 0) std::exit(2);
      if (pid == 0) {
        close(ready[0]);
        close(go[1]);
        MixedChild(ready[1], go[0], 100 + p, ops);
      }
      kids.push_back(pid);
    }
    close(ready[1]);
    close(go[0]);
    char byte;
    for (int p = 0; p < procs; ++p) {
      if (read(ready[0], &byte, 1) != 1) std::exit(2);
    }
    const auto start = std::chrono::steady_clock::now();
    close(go[1]);  // every child's read returns 0: go
    for (pid_t pid : kids) {
      int status = 0;
      if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
          WEXITSTATUS(status) != 0) {
        fprintf(stderr, "BM_Mixed: a process failed\n");
        std::exit(2);
      }
    }
    state.SetIterationTime(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count());
    close(ready[0]);
  }
  state.SetItemsProcessed(state.iterations() * procs * ops);
  // Wall time depends on how many cores the processes got; CPU time per
  // operation does not, and shows what sharing the store costs.
  state.counters["cpu_ns_per_op"] =
      (ChildCpuSeconds() - cpu_before) * 1e9 /
      static_cast<double>(state.iterations() * procs * ops);
}
BENCHMARK(BM_Mixed)->Arg(1)->Arg(2)->UseManualTime()->Unit(
    benchmark::kMillisecond);

// Reads random keys of `cache` until `stop`, noting the slowest read.
void StallReader(ucache::FileCache* cache, uint64_t keys,
                 const std::atomic<bool>* stop, double* max_us) {
  std::mt19937_64 rng(5);
  std::string got;
  while (!stop->load()) {
    const auto start = std::chrono::steady_clock::now();
    Check(cache->Get(Key(rng() % keys), &got));
    *max_us = std::max(*max_us, std::chrono::duration<double, std::micro>(
                                    std::chrono::steady_clock::now() - start)
                                    .count());
  }
}

void BM_Compact(benchmark::State& state) {
  const uint64_t n = Tiny() ? 256 : 32768;  // 128 MiB of live values
  std::mt19937_64 rng(3);
  std::string value(4096, '\0');
  for (auto& ch : value) ch = static_cast<char>(rng());
  ucache::FileCacheOptions options;
  options.compression = ucache::Compression::kNone;
  options.compaction_min_bytes = uint64_t{1} << 62;  // only when asked
  uint64_t run = 0;
  double same_handle_us = 0, other_handle_us = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const std::string dir = Scratch().Sub("compact" + std::to_string(run++));
    auto cache = OpenStore(dir, options);
    for (uint64_t i = 0; i < n; ++i) Check(cache->Put(Key(i), value));
    for (uint64_t i = 0; i < n; i += 2) Check(cache->Put(Key(i), value));
    auto other = OpenStore(dir, options);
    std::atomic<bool> stop{false};
    std::thread same(StallReader, cache.get(), n, &stop, &same_handle_us);
    std::thread second(StallReader, other.get(), n, &stop, &other_handle_us);
    state.ResumeTiming();
    Check(cache->Compact());
    state.PauseTiming();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    stop = true;
    same.join();
    second.join();
    other.reset();
    cache.reset();
    std::filesystem::remove_all(dir);
    state.ResumeTiming();
  }
  state.SetBytesProcessed(state.iterations() * n * 4096);
  // The slowest Get seen by a reader sharing the compacting handle and by
  // one on another handle, during compaction and just after it. On a
  // loaded machine, descheduling shows up here too.
  state.counters["max_get_us_same_handle"] = same_handle_us;
  state.counters["max_get_us_other_handle"] = other_handle_us;
}
BENCHMARK(BM_Compact)->Unit(benchmark::kMillisecond);

uint64_t OpenKeys() { return Tiny() ? 5000 : 1000000; }

void BM_Open(benchmark::State& state) {
  static const std::string dir = [] {
    const std::string d = Scratch().Sub("open");
    auto c = OpenStore(d);
    const std::string value(100, 'v');
    for (uint64_t i = 0; i < OpenKeys(); ++i) Check(c->Put(Key(i), value));
    return d;
  }();
  std::string value;
  for (auto _ : state) {
    auto cache = OpenStore(dir);
    Check(cache->Get(Key(OpenKeys() / 2), &value));
  }
  state.counters["entries"] = static_cast<double>(OpenKeys());
}
BENCHMARK(BM_Open)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  Scratch();  // made before the benchmarks, so removed after their stores
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
