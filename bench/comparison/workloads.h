// The workloads of //bench:compare (issue 4), each run against every selected
// store in one process, on one machine, in one run; each prints a markdown
// table. Ratios are always fcache's throughput over the peer's (for a time,
// the peer's time over fcache's): above 1 means fcache is faster.
//
// Every measurement is repeated Config::repeats times and the median is
// reported; workloads 1 and 2 interleave the stores within each repetition
// so that a burst of load from elsewhere on the machine hits all of them
// alike.

#ifndef UCACHE_BENCH_COMPARISON_WORKLOADS_H_
#define UCACHE_BENCH_COMPARISON_WORKLOADS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/comparison/stores.h"

namespace ucache::bench {

struct Config {
  // Scratch directory; each store gets a fresh subdirectory, removed when
  // its measurement is done.
  std::string dir;
  std::vector<const StoreKind*> stores;
  int repeats = 3;

  // 1. Small values: put all, then uniformly random copying gets.
  uint64_t small_keys = 200'000;
  size_t small_value_bytes = 100;
  uint64_t small_gets = 1'000'000;
  // 2. Large values: put all, random copying gets, zero-copy views.
  uint64_t large_keys = 2'000;
  size_t large_value_bytes = size_t{1} << 20;
  uint64_t large_gets = 2'000;
  // 3. Open + first get of a store of open_keys 100-byte values.
  uint64_t open_keys = 1'000'000;
  // 4. Per process, mixed_ops operations, half gets and half puts of
  //    100-byte values, over mixed_keys keys, each run on a freshly filled
  //    store; beside it, the machine's own two-process ceiling.
  uint64_t mixed_keys = 200'000;
  uint64_t mixed_ops = 100'000;
  // 5. compact_keys values, half of them overwritten, then compacted.
  uint64_t compact_keys = 100'000;
  size_t compact_value_bytes = 4096;
};

void RunSmallValues(const Config& config);   // workload 1
void RunLargeValues(const Config& config);   // workload 2
void RunOpen(const Config& config);          // workload 3
void RunTwoProcesses(const Config& config);  // workload 4
void RunCompaction(const Config& config);    // workload 5

// The child sides of workloads 3 and 4, run in a process the parent
// started (see ChildProcess); each returns the process's exit status.

// Times opening the store in `dir` and reading key number `key`; prints
// the nanoseconds taken.
int OpenChildMain(const StoreKind& kind, const std::string& dir, uint64_t key);

// Opens the store in `dir`, prints "ready", waits for a line on stdin, then
// does `ops` operations (even coin: get, odd: put of a 100-byte value) on
// keys 0..keys-1 drawn with `seed`; prints "<start ns> <end ns> <ops>".
int MixedChildMain(const StoreKind& kind, const std::string& dir, uint64_t keys,
                   uint64_t ops, uint64_t seed);

// Workload 4's measure of the machine: prints "ready", waits for a line on
// stdin, then runs `ops` steps of a computation that touches no memory;
// prints "<start ns> <end ns> <ops> <result>".
int SpinChildMain(uint64_t ops, uint64_t seed);

}  // namespace ucache::bench

#endif  // UCACHE_BENCH_COMPARISON_WORKLOADS_H_
