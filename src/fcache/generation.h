// Generation: the index file named "index" together with the log it points
// into. A store has one current generation; compaction, index growth,
// recovery and Clear() each publish a new one by renaming a finished
// "index.tmp" over "index" and then setting `superseded` in the old header,
// which every handle checks on every call.

#ifndef UCACHE_SRC_FCACHE_GENERATION_H_
#define UCACHE_SRC_FCACHE_GENERATION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "src/fcache/index_file.h"
#include "src/fcache/log_file.h"
#include "src/fcache/record.h"
#include "src/fcache/verified_set.h"

namespace ucache::fcache_internal {

struct Generation {
  std::unique_ptr<IndexFile> index;
  std::unique_ptr<LogFile> log;
  // Large records this handle has verified in this generation; it goes
  // with the generation, so a new one starts with nothing trusted.
  VerifiedSet verified;

  // The committed log end, bounded by what this process can read.
  uint64_t ReadLimit() const;
  // Parses the record at `loc` within ReadLimit(); false if it is not a
  // well-formed record there.
  bool Parse(uint64_t loc, RecordView* out) const;
  // ChecksumMatches(record), skipped for a large record already verified
  // in this generation (see VerifiedSet).
  bool ChecksumMatchesOnce(const RecordView& record);
};

// Opens the store's current generation, retrying while a concurrent
// publication replaces it. NotFound when the store has no index yet;
// Corruption when the index or its log is damaged.
Result<std::unique_ptr<Generation>> OpenCurrentGeneration(
    const std::shared_ptr<Env>& env, const std::string& dir, bool writable);

// A live record to carry into a new generation.
struct LiveRecord {
  uint64_t tag;
  uint64_t loc;  // in the new generation's log
  uint64_t size;
  uint32_t value_len;
  uint32_t stored_len;
};

// Counters carried from one generation to the next.
struct CarriedCounters {
  uint64_t evictions = 0;
  uint64_t expired_dropped = 0;
  uint64_t corrupt_records = 0;
  uint64_t compactions = 0;
};

// The cumulative counters of `header`, to carry into its successor.
CarriedCounters CountersOf(const IndexHeader& header);

// Builds an index over `log` holding `records`, publishes it as the store's
// current generation, marks `old` (if any) superseded and removes old's log
// when it is not `log`. The caller holds the store's writer lock.
Result<std::unique_ptr<Generation>> PublishGeneration(
    const std::shared_ptr<Env>& env, const std::string& dir,
    std::unique_ptr<LogFile> log, uint64_t log_end,
    const std::vector<LiveRecord>& records, uint64_t generation,
    const CarriedCounters& counters, const Generation* old, bool sync);

}  // namespace ucache::fcache_internal

#endif  // UCACHE_SRC_FCACHE_GENERATION_H_
