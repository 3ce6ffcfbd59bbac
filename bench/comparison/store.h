// Store: the little that //bench:compare's workloads ask of a key-value store,
// so that one workload runs unchanged against ucache's file tier and against
// each peer (LMDB, RocksDB, LevelDB, SQLite, a file per key). Each adapter
// lives in its own <name>_store.{h,cc} and configures its store the way a
// cache would use it: nothing is fsynced.
//
// Thread safety: a Store's Put and Compact are called from one thread at a
// time. Reads go through Readers, one per reading thread, because that is
// how LMDB (a read transaction) and SQLite (a connection) want to be read
// concurrently; a Reader must not outlive the Store that made it.

#ifndef UCACHE_BENCH_COMPARISON_STORE_H_
#define UCACHE_BENCH_COMPARISON_STORE_H_

#include <memory>
#include <string>
#include <string_view>

#include "ucache/status.h"

namespace ucache::bench {

class Reader {
 public:
  virtual ~Reader() = default;

  // Copies the value of `key` into `*value`. NotFound on a miss.
  virtual Status Get(std::string_view key, std::string* value) = 0;

  // Points `*value` at the stored bytes without copying them; they stay
  // valid until the next call on this Reader. Unsupported when the store
  // has no such read.
  virtual Status View(std::string_view key, std::string_view* value) {
    (void)key;
    (void)value;
    return Status::Unsupported("no zero-copy read");
  }
};

class Store {
 public:
  virtual ~Store() = default;

  // Stores `value` under `key`, replacing any earlier value; committed (seen
  // by every Reader and every other process) when it returns, not synced.
  virtual Status Put(std::string_view key, std::string_view value) = 0;

  // A Reader for the calling thread.
  virtual std::unique_ptr<Reader> NewReader() = 0;

  // Rewrites the live data without the overwritten records, the store's own
  // way (see each adapter). Unsupported when the store has nothing of the
  // kind.
  virtual Status Compact() = 0;
};

}  // namespace ucache::bench

#endif  // UCACHE_BENCH_COMPARISON_STORE_H_
