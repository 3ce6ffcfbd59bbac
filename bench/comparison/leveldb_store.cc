#include "bench/comparison/leveldb_store.h"

#include <leveldb/db.h>

#include "bench/comparison/lsm_store.h"

namespace ucache::bench {
namespace {

struct LeveldbTraits {
  using Db = leveldb::DB;
  using Options = leveldb::Options;
  using ReadOptions = leveldb::ReadOptions;
  using WriteOptions = leveldb::WriteOptions;
  using Slice = leveldb::Slice;
  static leveldb::Status CompactAll(Db* db) {
    db->CompactRange(nullptr, nullptr);
    return leveldb::Status::OK();
  }
};

}  // namespace

Result<std::unique_ptr<Store>> OpenLeveldbStore(const std::string& dir) {
  return LsmStore<LeveldbTraits>::Open(dir);
}

}  // namespace ucache::bench
