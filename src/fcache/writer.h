// Writer: one append to a generation, as the steps of doc/format.md section
// 5 ("Writing"). PrepareAppend decides what must happen before the record
// can go in (nothing, a larger mapping, or a new generation first: a log_end
// that cannot be appended at, the size bound, the index's load); Commit
// performs steps 1 to 4 and reports whether the record committed. Neither
// compacts nor remaps itself: FileCache does that between attempts, since
// both need the handle's exclusive lock. The caller holds the store's
// writers' mutex and its handle's lock shared, with the generation current
// (Generation::Current) and its mapping covering log_end.

#ifndef UCACHE_SRC_FCACHE_WRITER_H_
#define UCACHE_SRC_FCACHE_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "src/fcache/compactor.h"
#include "src/fcache/generation.h"
#include "ucache/file_cache.h"

namespace ucache::fcache_internal {

// The key's slot, as an append found it.
struct SlotLookup {
  int64_t slot = -1;       // the slot naming the key (or an unreadable record)
  int64_t free_slot = -1;  // else the first empty or tombstone slot passed
  // The record `slot` names, when it could be read.
  bool old_known = false;
  uint64_t old_size = 0, old_raw = 0, old_stored = 0;
};

struct AppendPrep {
  enum Kind {
    kReady,    // Commit may run
    kRemap,    // the mappings must cover remap_to first
    kRewrite,  // a new generation must be published first, by `plan`
  } kind = kReady;
  uint64_t log_end = 0;   // where the record goes (kReady)
  SlotLookup lookup;      // (kReady)
  uint64_t remap_to = 0;  // (kRemap)
  CompactionPlan plan;    // (kRewrite)
};

// Decides the next step of appending `record` (of `key`, tag `tag`) to
// `gen`. `evicted` says an evicting compaction already ran for this append:
// if the record still does not fit max_bytes, it never will (kNoSpace).
// Reserves log space when the record goes past the file (kNoSpace when the
// disk refuses), except for a large record, which Commit writes whole.
Result<AppendPrep> PrepareAppend(Generation& gen, std::string_view key,
                                 uint64_t tag, uint64_t size, bool erase,
                                 bool evicted, const FileCacheOptions& options,
                                 const std::string& dir);

// Steps 1 to 4: copies the record to prep.log_end (through the mapping, or
// a large one with one write, which may fail: kNoSpace on a full disk, with
// nothing committed), moves log_end past it, in the index and then in
// `lock` (LockFile::NoteLogEnd), points the key's slot at it (or tombstones
// it for an erase) and retires any later slot naming the same key. With
// `sync`, fdatasyncs the log before the commit and the index and the lock
// file (its committed log end) after; a failure of the first returns an
// error with nothing committed (the record lies past both ends, where
// neither readers nor recovery look), a failure of the others an error for
// a record committed in memory. Sets *replaced when the record replaced or
// erased an existing record of the key.
Status Commit(Generation& gen, LockFile& lock, std::string_view key,
              uint64_t tag, const EncodedRecord& record, bool erase,
              const AppendPrep& prep, bool sync, bool* replaced);

// An erase for when the disk has no room for its record: tombstones the
// key's slot in place (index stores need no new blocks), after counting it
// in the publication record (`lock`), whether the key has a slot or not, so
// that recovery, which only has the log, does not bring the value back.
// With `sync`, fdatasyncs the lock file after the count and the index after
// the tombstone; a failure of either is returned for an erase made in
// memory (the index is not synced after a failed lock file sync). Sets
// *replaced when the key had a slot. Same locks as Commit.
Status EraseWithoutRecord(Generation& gen, LockFile& lock, std::string_view key,
                          uint64_t tag, bool sync, bool* replaced);

}  // namespace ucache::fcache_internal

#endif  // UCACHE_SRC_FCACHE_WRITER_H_
