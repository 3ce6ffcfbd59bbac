// The Store adapter for the simplest cache on disk: one file per key. A Put
// writes a temporary file and renames it over the key's file, so readers
// (any process) see the old value or the new one, never a mix; nothing is
// fsynced. Files are spread over 256 subdirectories by the first byte of the
// key's hex name, as git and diskcache do, so no directory grows huge.

#ifndef UCACHE_BENCH_COMPARISON_FILE_STORE_H_
#define UCACHE_BENCH_COMPARISON_FILE_STORE_H_

#include <memory>
#include <string>

#include "bench/comparison/store.h"
#include "ucache/status.h"

namespace ucache::bench {

// Opens or creates the store in `dir`. Compact is Unsupported: replacing a
// file frees the old one, so there is nothing to compact.
Result<std::unique_ptr<Store>> OpenFileStore(const std::string& dir);

}  // namespace ucache::bench

#endif  // UCACHE_BENCH_COMPARISON_FILE_STORE_H_
