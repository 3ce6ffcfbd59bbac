// The stores //bench:compare runs every workload against, in table order:
// ucache's file tier first, then its peers.

#ifndef UCACHE_BENCH_COMPARISON_STORES_H_
#define UCACHE_BENCH_COMPARISON_STORES_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bench/comparison/store.h"
#include "ucache/status.h"

namespace ucache::bench {

struct StoreKind {
  // The name in tables and on the command line; one word.
  std::string_view name;
  // Whether several processes may open one store at once.
  bool multi_process;
  Result<std::unique_ptr<Store>> (*open)(const std::string& dir);
};

// fcache, LMDB, RocksDB, LevelDB, SQLite, files.
const std::vector<StoreKind>& AllStores();

// The kind named `name`, or null.
const StoreKind* FindStore(std::string_view name);

}  // namespace ucache::bench

#endif  // UCACHE_BENCH_COMPARISON_STORES_H_
