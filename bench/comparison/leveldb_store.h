// The Store adapter for LevelDB: default options, unsynced writes. Compact
// is DB::CompactRange over every key.

#ifndef UCACHE_BENCH_COMPARISON_LEVELDB_STORE_H_
#define UCACHE_BENCH_COMPARISON_LEVELDB_STORE_H_

#include <memory>
#include <string>

#include "bench/comparison/store.h"
#include "ucache/status.h"

namespace ucache::bench {

Result<std::unique_ptr<Store>> OpenLeveldbStore(const std::string& dir);

}  // namespace ucache::bench

#endif  // UCACHE_BENCH_COMPARISON_LEVELDB_STORE_H_
