// The Store adapter shared by LevelDB and RocksDB. RocksDB began as a fork of
// LevelDB, and where a cache touches them (Open, Put, Get, compact the whole
// key range) their C++ APIs differ only in namespace and in how a full
// compaction is asked for, which a Traits class supplies:
//
//   struct Traits {
//     using Db, Options, ReadOptions, WriteOptions, Slice;
//     static auto CompactAll(Db* db);  // returns the library's Status
//   };
//
// Both are opened with default options (create_if_missing set), writes
// unsynced, the way a cache would use them. Neither can be opened by two
// processes at once (each takes a lock file).

#ifndef UCACHE_BENCH_COMPARISON_LSM_STORE_H_
#define UCACHE_BENCH_COMPARISON_LSM_STORE_H_

#include <memory>
#include <string>
#include <string_view>

#include "bench/comparison/store.h"
#include "ucache/status.h"

namespace ucache::bench {

template <typename LibStatus>
Status FromLsmStatus(const LibStatus& s) {
  if (s.ok()) return Status::OK();
  if (s.IsNotFound()) return Status::NotFound();
  return Status::IOError(s.ToString());
}

template <typename Traits>
class LsmReader : public Reader {
 public:
  explicit LsmReader(typename Traits::Db* db) : db_(db) {}

  Status Get(std::string_view key, std::string* value) override {
    return FromLsmStatus(
        db_->Get(typename Traits::ReadOptions(),
                 typename Traits::Slice(key.data(), key.size()), value));
  }

 private:
  typename Traits::Db* const db_;
};

template <typename Traits>
class LsmStore : public Store {
 public:
  explicit LsmStore(std::unique_ptr<typename Traits::Db> db)
      : db_(std::move(db)) {}

  static Result<std::unique_ptr<Store>> Open(const std::string& dir) {
    typename Traits::Options options;
    options.create_if_missing = true;
    typename Traits::Db* db = nullptr;
    Status s = FromLsmStatus(Traits::Db::Open(options, dir, &db));
    if (!s.ok()) return s;
    return std::unique_ptr<Store>(
        std::make_unique<LsmStore>(std::unique_ptr<typename Traits::Db>(db)));
  }

  Status Put(std::string_view key, std::string_view value) override {
    return FromLsmStatus(
        db_->Put(typename Traits::WriteOptions(),
                 typename Traits::Slice(key.data(), key.size()),
                 typename Traits::Slice(value.data(), value.size())));
  }

  std::unique_ptr<Reader> NewReader() override {
    return std::make_unique<LsmReader<Traits>>(db_.get());
  }

  Status Compact() override {
    return FromLsmStatus(Traits::CompactAll(db_.get()));
  }

 private:
  std::unique_ptr<typename Traits::Db> db_;
};

}  // namespace ucache::bench

#endif  // UCACHE_BENCH_COMPARISON_LSM_STORE_H_
