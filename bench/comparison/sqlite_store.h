// The Store adapter for SQLite, set up as a cache would use it: one table
// kv(k BLOB PRIMARY KEY, v BLOB), journal_mode=WAL, synchronous=OFF,
// prepared statements, each Put its own (autocommit) transaction, and a
// 10 s busy timeout so that two processes writing take turns. Every Reader
// has its own connection, as SQLite wants for concurrent reads.

#ifndef UCACHE_BENCH_COMPARISON_SQLITE_STORE_H_
#define UCACHE_BENCH_COMPARISON_SQLITE_STORE_H_

#include <memory>
#include <string>

#include "bench/comparison/store.h"
#include "ucache/status.h"

namespace ucache::bench {

// Opens or creates `dir`/kv.sqlite. Compact is VACUUM.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& dir);

}  // namespace ucache::bench

#endif  // UCACHE_BENCH_COMPARISON_SQLITE_STORE_H_
