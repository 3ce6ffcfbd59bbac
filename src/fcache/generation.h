// Generation: the index file named "index" together with the log it points
// into. A store has one current generation; compaction, index growth,
// recovery and Clear() each publish a new one by renaming a finished
// "index.tmp" over "index" and then setting `superseded` in the old header,
// which every handle checks on every call.

#ifndef UCACHE_SRC_FCACHE_GENERATION_H_
#define UCACHE_SRC_FCACHE_GENERATION_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "src/fcache/index_file.h"
#include "src/fcache/lock_file.h"
#include "src/fcache/log_file.h"
#include "src/fcache/record.h"
#include "src/fcache/verified_set.h"

namespace ucache::fcache_internal {

struct Generation {
  std::unique_ptr<IndexFile> index;
  // Shared with the generation this one replaced when that was an index
  // rebuild over the same log.
  std::shared_ptr<LogFile> log;
  // Large records this handle has verified in this generation; it goes
  // with the generation, so a new one starts with nothing trusted, unless
  // it holds the very LogFile of the one it replaced (PublishGeneration).
  VerifiedSet verified;
  // Set by a handle that found `index` without a name: a publisher renamed
  // a newer one over it and died before setting `superseded` (which a
  // read-only handle cannot set for it).
  std::atomic<bool> orphaned{false};

  // True once this generation is known to have been replaced.
  bool Replaced() const {
    return orphaned.load(std::memory_order_acquire) || index->superseded();
  }
  // Whether this is still the store's current generation, as every call
  // checks before it trusts the index: false when replaced; when the lock
  // file's publication record (`lock`, null when there is none to read)
  // announces another generation, or there is no record, also false when
  // the index file has lost its name, which then marks it replaced (and
  // superseded, when `writable`, for every other handle on it). The common
  // case costs two loads; the name check is one fstat.
  Result<bool> Current(const LockFile* lock, bool writable);

  // The committed log end, bounded by what this process can read.
  uint64_t ReadLimit() const;
  // Parses the record at `loc` within ReadLimit(); false if it is not a
  // well-formed record there.
  bool Parse(uint64_t loc, RecordView* out) const;
  // ChecksumMatches(record), skipped for a large record already verified
  // in this generation (see VerifiedSet).
  bool ChecksumMatchesOnce(const RecordView& record);
  // ReadValue(record, value), likewise: a large record already verified in
  // this generation is copied (or decompressed) without hashing it again.
  bool ReadValueOnce(const RecordView& record, std::string* value);
  // After this handle committed `record` at log offset `offset`: a large
  // record counts as verified (VerifiedSet), its bytes being the ones this
  // handle hashed and wrote there. As after a verified first read, damage
  // done to them later goes unseen by this handle in this generation.
  void NoteCommitted(uint64_t offset, const EncodedRecord& record);
  // Before a pass over all of `record`'s bytes: maps a large record's pages
  // in ahead (LogFile::WillRead) instead of a fault per few pages.
  void WillRead(const RecordView& record) const;
  // Before an append of a record of `size` bytes for a key of tag `tag`,
  // called outside the writers' mutex: brings in the cache lines the append
  // will read (the key's probe chain, the first line of each record it
  // names) and asks for those it will write (the log's end), so that their
  // misses are not taken while other processes' writers wait for the
  // mutex. A hint: nothing it reads is trusted or kept, and nothing past
  // ReadLimit() is read.
  void PrefetchAppend(uint64_t tag, uint64_t size) const;
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

// The number of a generation published after `previous`: above it and above
// every number the publication record holds, so that no two index files of
// a store ever carry the same generation (a handle compares its number with
// the record's). A record value implausibly far ahead (damage) is ignored.
uint64_t NextGeneration(uint64_t previous, const LockFile& lock);

// Makes the publication record name `gen`, which the caller (holding the
// writers' mutex) has found current: finishes the record of a publisher
// that died after its rename, or undoes that of one that died before it;
// and, should the lock file name another log's end, notes that of `gen`'s
// log (LockFile::NoteLogEnd).
// Writers call it before every write, so a record that announces another
// generation than it commits means nothing was written since.
void SettlePublication(LockFile& lock, const Generation& gen);

// Builds an index over `log` holding `records`, publishes it as the store's
// current generation (doc/format.md, section 6: announce, rename, mark
// `old` superseded, commit) and removes old's log when it is not `log`. The
// new generation's number is NextGeneration(previous). The caller holds the
// store's writer lock. With `sync`, a failed directory sync is returned
// although the generation was published (it is then current for every
// handle, but may not survive a power loss).
Result<std::unique_ptr<Generation>> PublishGeneration(
    const std::shared_ptr<Env>& env, const std::string& dir, LockFile& lock,
    std::shared_ptr<LogFile> log, uint64_t log_end,
    const std::vector<LiveRecord>& records, uint64_t previous,
    const CarriedCounters& counters, const Generation* old, bool sync);

}  // namespace ucache::fcache_internal

#endif  // UCACHE_SRC_FCACHE_GENERATION_H_
