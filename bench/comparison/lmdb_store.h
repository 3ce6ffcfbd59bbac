// The Store adapter for LMDB, set up as a cache would use it:
// MDB_NOSYNC | MDB_NOMETASYNC (nothing fsynced), one write transaction per
// Put, and per Reader one read transaction that each read renews and resets
// (mdb_txn_renew / mdb_txn_reset), the cheapest way LMDB offers to read.

#ifndef UCACHE_BENCH_COMPARISON_LMDB_STORE_H_
#define UCACHE_BENCH_COMPARISON_LMDB_STORE_H_

#include <memory>
#include <string>

#include "bench/comparison/store.h"
#include "ucache/status.h"

namespace ucache::bench {

// Opens or creates an LMDB environment in `dir` with a 256 GiB map (address
// space only; the file grows as pages are used). View returns the pointer
// into the map that mdb_get gives, which LMDB does not verify. Compact is
// mdb_env_copy2(MDB_CP_COMPACT) into a scratch directory: LMDB reuses freed
// pages in place and has no online compaction, so this is the nearest
// equivalent; the copy is written and then deleted, never switched to.
Result<std::unique_ptr<Store>> OpenLmdbStore(const std::string& dir);

}  // namespace ucache::bench

#endif  // UCACHE_BENCH_COMPARISON_LMDB_STORE_H_
