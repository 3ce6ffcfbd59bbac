// Compactor: writes new generations. Compaction copies the live records of
// the current generation into a fresh log (dropping dead, expired and
// corrupt ones, and, under a byte budget, the oldest-written); an index
// rebuild rehashes the live slots over the same log; recovery rebuilds an
// index by scanning a log whose index was lost. Every function here expects
// the caller to hold the store's writer lock and to keep `old` from being
// remapped while it runs.

#ifndef UCACHE_SRC_FCACHE_COMPACTOR_H_
#define UCACHE_SRC_FCACHE_COMPACTOR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "src/fcache/generation.h"

namespace ucache::fcache_internal {

struct CompactionPlan {
  // Copy records into a new log (compaction) or keep the log and rebuild
  // only the index (growth, tombstone cleanup).
  bool copy_log = true;
  // When nonzero, keep only the newest live records whose sizes add up to at
  // most this many bytes; the rest count as evictions. Needs copy_log.
  uint64_t live_byte_budget = 0;
  int64_t now_ms = 0;  // records expired by then are dropped
  bool sync = false;
  std::function<void(uint64_t done, uint64_t total)> progress;
};

// Publishes the live records of `old` (the newest of each key, when a
// damaged index names one from several slots) as the next generation.
Result<std::unique_ptr<Generation>> Compact(const std::shared_ptr<Env>& env,
                                            const std::string& dir,
                                            LockFile& lock,
                                            const Generation& old,
                                            const CompactionPlan& plan);

// Publishes an empty generation with a fresh log numbered `log_id`,
// superseding `old` when given; its number follows `previous`.
Result<std::unique_ptr<Generation>> PublishEmpty(
    const std::shared_ptr<Env>& env, const std::string& dir, LockFile& lock,
    uint64_t log_id, uint64_t previous, const CarriedCounters& counters,
    const Generation* old, bool sync);

// Rebuilds the store when its index is missing or damaged, from the log the
// lock file's publication record names (doc/format.md, section 7): scans
// it up to its first unreadable record, keeps the last put of each key not
// erased or expired after it, and copies those into a new log with an index
// over it. With no usable log, publishes an empty store.
Result<std::unique_ptr<Generation>> Recover(const std::shared_ptr<Env>& env,
                                            const std::string& dir,
                                            LockFile& lock, int64_t now_ms);

}  // namespace ucache::fcache_internal

#endif  // UCACHE_SRC_FCACHE_COMPACTOR_H_
