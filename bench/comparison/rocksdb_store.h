// The Store adapter for RocksDB: default options, unsynced writes (the
// write-ahead log is kept, as by default, but never fsynced). Compact is
// DB::CompactRange over every key.

#ifndef UCACHE_BENCH_COMPARISON_ROCKSDB_STORE_H_
#define UCACHE_BENCH_COMPARISON_ROCKSDB_STORE_H_

#include <memory>
#include <string>

#include "bench/comparison/store.h"
#include "ucache/status.h"

namespace ucache::bench {

Result<std::unique_ptr<Store>> OpenRocksdbStore(const std::string& dir);

}  // namespace ucache::bench

#endif  // UCACHE_BENCH_COMPARISON_ROCKSDB_STORE_H_
