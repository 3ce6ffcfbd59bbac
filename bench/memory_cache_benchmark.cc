// Hit throughput of the memory tier:
//   bazel run -c opt //bench:memory_cache_benchmark
//
// BM_Hit/<policy>/<keys>/threads:<t>: Get of a 32-byte value on a full cache
// of 100,000 entries, keys drawn Zipf(0.99), on 1 and 2 threads sharing one
// cache, for every eviction policy. Keys are 16 bytes, the XXH3-128 of a key
// number, which an entry keeps inline (a memoized call's key is longer,
// "<name>#" and 32 hex digits, and so costs its hit one cache miss more, on
// the key's heap block):
//   prehashed  the 16-byte keys are made before timing; each Get still pays
//              MemoryCache's own hash of the key (to pick a shard).
//   hashing    each call first hashes its key number into a fresh key, as
//              memoize() hashes a function's arguments, then Gets it.
// The cache is bounded at twice the key count so that every Get hits (the
// "misses" counter says so); items_per_second is hits per second over all
// threads (Google Benchmark averages the threads' real time and sums their
// items).
//
// BM_BareMap: the yardstick, in the same run: the same keys, trace and
// value copy through a bare std::unordered_map<std::string, std::string>
// (looked up by string_view, one thread, no lock, no eviction policy).
//
// BM_FlatTable: the floor of a one-cache-line hit, in the same run:
// an open-addressing table whose 64-byte slots hold the key's XXH3-64, the
// key and the value inline, probed linearly at a load of at most 1/2 (one
// thread, no lock, no policy). A hit reads one slot line; nothing else
// (MemoryCache reads a slot, then the entry it points at, then the value).
// UCACHE_BENCH_SCALE=tiny shrinks it for the smoke test.

#include <benchmark/benchmark.h>
#include <xxhash.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bench/zipf.h"
#include "ucache/memory_cache.h"

namespace {

using ucache::EvictionPolicy;
using ucache::MemoryCache;

constexpr size_t kTraceLength = 1 << 16;  // ranks per thread, replayed

bool Tiny() {
  const char* scale = std::getenv("UCACHE_BENCH_SCALE");
  return scale != nullptr && std::string(scale) == "tiny";
}

size_t Keys() { return Tiny() ? 1000 : 100000; }

// Key number `i`: the 16 bytes of XXH3-128(i).
void KeyOf(uint64_t i, char (&key)[16]) {
  const XXH128_hash_t h = XXH3_128bits(&i, sizeof(i));
  std::memcpy(key, &h.low64, 8);
  std::memcpy(key + 8, &h.high64, 8);
}

// Every key, packed 16 bytes apart in one buffer: a prehashed Get then
// costs the harness one cache miss and no pointer chase (16-byte
// std::strings would live on the heap, past the small-string buffer).
std::string_view KeyAt(uint64_t i) {
  static const std::string* const keys = [] {
    auto* k = new std::string();
    for (size_t i = 0; i < Keys(); ++i) {
      char key[16];
      KeyOf(i, key);
      k->append(key, sizeof(key));
    }
    return k;
  }();
  return std::string_view(*keys).substr(i * 16, 16);
}

// One full cache per policy, shared by every benchmark thread.
MemoryCache& CacheFor(EvictionPolicy policy) {
  static const auto* const caches = [] {
    auto* built = new std::map<EvictionPolicy, MemoryCache*>();
    for (EvictionPolicy p : {EvictionPolicy::kLru, EvictionPolicy::kLfu,
                             EvictionPolicy::kFifo, EvictionPolicy::kTinyLfu}) {
      ucache::MemoryCacheOptions options;
      options.max_entries = 2 * Keys();
      options.max_bytes = 0;
      options.policy = p;
      auto cache = MemoryCache::Open(options);
      if (!cache.ok()) std::abort();
      const std::string value(32, 'v');
      for (size_t i = 0; i < Keys(); ++i) {
        if (!(*cache)->Put(KeyAt(i), value).ok()) std::abort();
      }
      (*built)[p] = cache->release();
    }
    return built;
  }();
  return *caches->at(policy);
}

// Zipf(0.99) ranks for one thread; each thread gets its own seed.
std::vector<uint32_t> Trace(int thread) {
  static const ucache::bench::ZipfSampler* const zipf =
      new ucache::bench::ZipfSampler(Keys(), 0.99);
  std::mt19937_64 rng(1000 + thread);
  std::vector<uint32_t> trace(kTraceLength);
  for (uint32_t& r : trace) r = (*zipf)(rng);
  return trace;
}

void BM_Hit(benchmark::State& state, EvictionPolicy policy, bool hashing) {
  MemoryCache& cache = CacheFor(policy);
  const std::vector<uint32_t> trace = Trace(state.thread_index());
  std::string value;
  uint64_t misses = 0;
  size_t i = 0;
  for (auto _ : state) {
    const uint64_t rank = trace[i++ & (kTraceLength - 1)];
    ucache::Status s;
    if (hashing) {
      char key[16];
      KeyOf(rank, key);
      s = cache.Get(std::string_view(key, sizeof(key)), &value);
    } else {
      s = cache.Get(KeyAt(rank), &value);
    }
    misses += !s.ok();
    benchmark::DoNotOptimize(value.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["misses"] = benchmark::Counter(static_cast<double>(misses));
}

// Heterogeneous lookup, so that a Get of a string_view key builds no string.
struct ViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const {
    return std::hash<std::string_view>()(s);
  }
};

// Replays this thread's trace through `find(key, &value)`, which says
// whether it found the key and points `value` at its value, copying each
// value found as a hit would.
template <typename Find>
void TimeLookups(benchmark::State& state, Find&& find) {
  const std::vector<uint32_t> trace = Trace(state.thread_index());
  std::string value;
  uint64_t misses = 0;
  size_t i = 0;
  for (auto _ : state) {
    std::string_view found;
    if (find(KeyAt(trace[i++ & (kTraceLength - 1)]), &found)) {
      value.assign(found);
    } else {
      ++misses;
    }
    benchmark::DoNotOptimize(value.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["misses"] = benchmark::Counter(static_cast<double>(misses));
}

void BM_BareMap(benchmark::State& state) {
  static const auto* const map = [] {
    auto* m = new std::unordered_map<std::string, std::string, ViewHash,
                                     std::equal_to<>>();
    m->reserve(2 * Keys());
    const std::string value(32, 'v');
    for (size_t i = 0; i < Keys(); ++i) m->emplace(KeyAt(i), value);
    return m;
  }();
  TimeLookups(state, [](std::string_view key, std::string_view* value) {
    auto it = map->find(key);
    if (it == map->end()) return false;
    *value = it->second;
    return true;
  });
}

// A 16-byte key and a value of up to 32 bytes, on one cache line.
struct alignas(64) FlatSlot {
  uint64_t hash = 0;
  uint32_t value_size = 0;
  bool used = false;
  char key[16] = {};
  char value[32] = {};
};

void BM_FlatTable(benchmark::State& state) {
  static const std::vector<FlatSlot>* const table = [] {
    size_t capacity = 1;
    while (capacity < 2 * Keys()) capacity <<= 1;
    auto* t = new std::vector<FlatSlot>(capacity);
    for (size_t i = 0; i < Keys(); ++i) {
      const std::string_view key = KeyAt(i);
      const uint64_t hash = XXH3_64bits(key.data(), key.size());
      size_t at = hash & (capacity - 1);
      while ((*t)[at].used) at = (at + 1) & (capacity - 1);
      FlatSlot& slot = (*t)[at];
      slot.used = true;
      slot.hash = hash;
      std::memcpy(slot.key, key.data(), sizeof(slot.key));
      slot.value_size = sizeof(slot.value);
      std::memset(slot.value, 'v', sizeof(slot.value));
    }
    return t;
  }();
  const size_t mask = table->size() - 1;
  TimeLookups(state, [mask](std::string_view key, std::string_view* value) {
    const uint64_t hash = XXH3_64bits(key.data(), key.size());
    for (size_t at = hash & mask; (*table)[at].used; at = (at + 1) & mask) {
      const FlatSlot& slot = (*table)[at];
      if (slot.hash == hash &&
          std::memcmp(slot.key, key.data(), sizeof(slot.key)) == 0) {
        *value = std::string_view(slot.value, slot.value_size);
        return true;
      }
    }
    return false;
  });
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const struct {
    const char* name;
    EvictionPolicy policy;
  } policies[] = {{"Lru", EvictionPolicy::kLru},
                  {"Lfu", EvictionPolicy::kLfu},
                  {"Fifo", EvictionPolicy::kFifo},
                  {"TinyLfu", EvictionPolicy::kTinyLfu}};
  for (const auto& p : policies) {
    for (bool hashing : {false, true}) {
      const std::string name = std::string("BM_Hit/") + p.name +
                               (hashing ? "/hashing" : "/prehashed");
      benchmark::RegisterBenchmark(name.c_str(), BM_Hit, p.policy, hashing)
          ->Threads(1)
          ->Threads(2)
          ->UseRealTime();
    }
  }
  benchmark::RegisterBenchmark("BM_BareMap", BM_BareMap)->UseRealTime();
  benchmark::RegisterBenchmark("BM_FlatTable", BM_FlatTable)->UseRealTime();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
