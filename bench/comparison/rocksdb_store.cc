#include "bench/comparison/rocksdb_store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include "bench/comparison/lsm_store.h"

namespace ucache::bench {
namespace {

struct RocksdbTraits {
  using Db = rocksdb::DB;
  using Options = rocksdb::Options;
  using ReadOptions = rocksdb::ReadOptions;
  using WriteOptions = rocksdb::WriteOptions;
  using Slice = rocksdb::Slice;
  static rocksdb::Status CompactAll(Db* db) {
    return db->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr);
  }
};

}  // namespace

Result<std::unique_ptr<Store>> OpenRocksdbStore(const std::string& dir) {
  return LsmStore<RocksdbTraits>::Open(dir);
}

}  // namespace ucache::bench
