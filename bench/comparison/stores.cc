#include "bench/comparison/stores.h"

#include "bench/comparison/fcache_store.h"
#include "bench/comparison/file_store.h"
#include "bench/comparison/leveldb_store.h"
#include "bench/comparison/lmdb_store.h"
#include "bench/comparison/rocksdb_store.h"
#include "bench/comparison/sqlite_store.h"

namespace ucache::bench {

const std::vector<StoreKind>& AllStores() {
  static const std::vector<StoreKind>* const kinds = new std::vector<StoreKind>{
      {"fcache", true, &OpenFcacheStore},
      {"LMDB", true, &OpenLmdbStore},
      {"RocksDB", false, &OpenRocksdbStore},
      {"LevelDB", false, &OpenLeveldbStore},
      {"SQLite", true, &OpenSqliteStore},
      {"files", true, &OpenFileStore},
  };
  return *kinds;
}

const StoreKind* FindStore(std::string_view name) {
  for (const StoreKind& kind : AllStores()) {
    if (kind.name == name) return &kind;
  }
  return nullptr;
}

}  // namespace ucache::bench
