// The Store adapter for ucache's file tier (FileCache), with its default
// options: LZ4 for values that shrink, automatic compaction, no fsync.

#ifndef UCACHE_BENCH_COMPARISON_FCACHE_STORE_H_
#define UCACHE_BENCH_COMPARISON_FCACHE_STORE_H_

#include <memory>
#include <string>

#include "bench/comparison/store.h"
#include "ucache/status.h"

namespace ucache::bench {

// Opens or creates a FileCache in `dir`. View is FileCache::GetView.
// Compact is FileCache::Compact: online, readers keep reading.
Result<std::unique_ptr<Store>> OpenFcacheStore(const std::string& dir);

}  // namespace ucache::bench

#endif  // UCACHE_BENCH_COMPARISON_FCACHE_STORE_H_
