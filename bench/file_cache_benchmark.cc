// Micro-benchmarks of the disk tier:
//   bazel run -c opt //bench:file_cache_benchmark
// BM_Put / BM_Get: 200,000 keys with 100-byte values, puts then uniformly
// random copying gets. BM_Get1MiB / BM_GetView1MiB: 1 MiB values, copying
// versus zero-copy. BM_Open: opening a store of 1,000,000 entries (built
// once, then reopened warm), plus one get. UCACHE_BENCH_SCALE=tiny shrinks
// every size for the smoke test. Stores live under $TMPDIR (default /tmp).

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "ucache/ucache.h"

namespace {

bool Tiny() {
  const char* scale = std::getenv("UCACHE_BENCH_SCALE");
  return scale != nullptr && std::string(scale) == "tiny";
}

// A scratch directory removed at exit.
class ScratchDir {
 public:
  ScratchDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base ? base : "/tmp") + "/ucache-bench-XXXXXX";
    path_ = mkdtemp(pattern.data());
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

ScratchDir& Scratch() {
  static ScratchDir* dir = new ScratchDir();  // removed by the atexit below
  return *dir;
}

std::string Key(uint64_t i) { return "key:" + std::to_string(i); }

std::unique_ptr<ucache::FileCache> OpenStore(const std::string& dir,
                                             ucache::FileCacheOptions options = {}) {
  auto cache = ucache::FileCache::Open(dir, options);
  if (!cache.ok()) {
    fprintf(stderr, "open %s: %s\n", dir.c_str(), cache.status().ToString().c_str());
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
  Scratch();
  std::atexit([] { Scratch().~ScratchDir(); });
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
