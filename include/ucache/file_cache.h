// FileCache: the disk tier. A store is a directory holding a memory-mapped
// append log of records and a hash index over it (see doc/format.md).
//
// What it promises:
//  * Never a wrong value. Every record carries an XXH3 checksum that is
//    verified before its bytes are handed out; torn, truncated or corrupt
//    data reads as a miss and is counted in Stats::corrupt_records.
//  * Many processes. Any number of processes (and any number of handles in
//    one process) may open one store at once. Writers take a robust,
//    process-shared mutex kept in the store's lock file, so a writer that
//    dies, even by kill -9, never blocks anyone; readers take no lock and
//    never wait for writers. A committed write of any handle is seen by
//    every other handle on its next call.
//  * Durability is a knob: a Put is not fsynced unless Options::sync_writes
//    is set or Sync() is called. After a crash (kill -9) at any instant the
//    store opens and serves only verified records.
//
// Thread safety: a FileCache handle may be used from many threads at once.
//
// Caveats: what stays undefined (as in every memory-mapped store, LMDB's
// included):
//  * Truncating a store's files (truncate, a copy over them in place, an
//    editor's save) while any handle has them mapped raises SIGBUS in the
//    processes that touch the pages cut off. ucache itself never truncates
//    or rewrites a file another process may map; remove a store only when no
//    process has it open, or with Clear().
//  * Copy-on-write filesystems (btrfs, ZFS, bcachefs) may need new blocks to
//    overwrite blocks already allocated, so a store through a mapping on a
//    full disk can still be a SIGBUS there. Keep stores on ext4, xfs or
//    tmpfs. (Holes are handled: see doc/format.md, section 1.)
//  * The writers' mutex is a pthread mutex of the C library in the lock
//    file: every process sharing a store must use the same C library (for
//    instance, not glibc and musl builds side by side).
//  * Local filesystems only: flock on NFS is emulated with fcntl locks, which
//    do not exclude two handles of one process.

#ifndef UCACHE_FILE_CACHE_H_
#define UCACHE_FILE_CACHE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "ucache/env.h"
#include "ucache/internal/language_level.h"
#include "ucache/status.h"

namespace ucache {

enum class Compression {
  kNone,   // store every value raw
  kLz4,    // LZ4 fast mode
  kLz4Hc,  // LZ4 high-compression mode, FileCacheOptions::lz4hc_level
};

struct FileCacheOptions {
  // Create the directory and an empty store when missing. Default true.
  bool create_if_missing = true;
  // Open without ever writing: Put/Erase/Clear/Compact return an error, a
  // store is never created, a damaged index is reported (Corruption) rather
  // than rebuilt, and corrupt reads are counted in this handle's stats only.
  // Default false.
  bool read_only = false;

  // Value compression. Values shorter than compression_threshold bytes,
  // values that do not shrink, and values over 128 KiB whose first 64 KiB
  // do not shrink by an eighth (so that an incompressible value costs no
  // full attempt) are stored raw. Default kLz4 from 256 bytes.
  Compression compression = Compression::kLz4;
  int lz4hc_level = 9;  // 1..12, used with kLz4Hc
  uint32_t compression_threshold = 256;

  // Time to live of a Put that names none; zero means forever. Expiry is
  // wall-clock time (Env::NowMillis), persisted with the record. Default 0.
  std::chrono::milliseconds default_ttl{0};

  // Upper bound on the store's size on disk (log + index); zero means no
  // bound. When a Put would cross it, the store drops expired records and
  // then the oldest-written ones until it holds at most 3/4 of max_bytes.
  // While compacting, the old and new generations briefly coexist on disk.
  // Default 0.
  uint64_t max_bytes = 0;

  // Compact automatically once dead bytes exceed this fraction of the log,
  // and the log is at least compaction_min_bytes. Default 0.5 and 4 MiB.
  double compaction_dead_ratio = 0.5;
  uint64_t compaction_min_bytes = 4 << 20;

  // fdatasync after every write: the log, the index and the lock file, and
  // for a compaction, Clear or index growth also the directory. Default
  // false: durable only after Sync().
  bool sync_writes = false;

  // The operating-system interface; null means NewPosixEnv().
  std::shared_ptr<Env> env;
};

// A value read without copying. It keeps the bytes it points at alive: a
// view stays valid for as long as the ValueView object lives, across later
// writes, compaction, and the closing of the FileCache that made it (the
// mapped generation is released only when its last view goes). Values that
// were stored compressed are decompressed into memory the view owns;
// zero_copy() says which.
class ValueView {
 public:
  ValueView() = default;
  std::string_view data() const { return data_; }
  size_t size() const { return data_.size(); }
  bool zero_copy() const { return zero_copy_; }
  // The record's version: what FileCache::Version returns while the key
  // still holds this record (its checksum; two records of one key with the
  // same value and expiry share it).
  uint64_t version() const { return version_; }
  // The record's expiry, Unix milliseconds on the store's Env clock; 0 for
  // never.
  int64_t expires_ms() const { return expires_ms_; }

 private:
  friend class FileCache;
  std::shared_ptr<const void> keep_alive_;
  std::string_view data_;
  bool zero_copy_ = false;
  uint64_t version_ = 0;
  int64_t expires_ms_ = 0;
};

struct FileCacheStats {
  uint64_t entries = 0;             // live keys (expired ones until compacted)
  uint64_t live_bytes = 0;          // on-disk bytes of live records
  uint64_t raw_value_bytes = 0;     // live values before compression
  uint64_t stored_value_bytes = 0;  // live values as stored
  uint64_t file_bytes = 0;          // log + index, as allocated
  uint64_t dead_bytes = 0;          // log bytes of overwritten/erased records
  uint64_t evictions = 0;           // records dropped to honour max_bytes
  uint64_t expired_dropped = 0;     // expired records dropped by compaction
  uint64_t corrupt_records = 0;     // reads that failed verification
  uint64_t compactions = 0;         // generations written since creation
  uint64_t generation = 0;          // current generation number
  // Automatic compactions after a write that failed, on this handle (the
  // writes themselves had committed; see FileCache::MaintenanceStatus).
  uint64_t maintenance_failures = 0;
  // raw_value_bytes / stored_value_bytes; 1.0 for an empty store.
  double compression_ratio() const {
    return stored_value_bytes == 0
               ? 1.0
               : static_cast<double>(raw_value_bytes) /
                     static_cast<double>(stored_value_bytes);
  }
};

// What Verify() found, reading every record of the log and every slot of the
// index.
struct VerifyReport {
  uint64_t records_checked = 0;    // records in the committed log
  uint64_t corrupt_records = 0;    // records failing checksum or bounds
  uint64_t index_entries = 0;      // live slots in the index
  uint64_t bad_index_entries = 0;  // slots naming no valid record of the key
  uint64_t unreadable_bytes = 0;   // log bytes after the first bad record
  // Slots naming a key that an earlier slot of its probe chain names too
  // (only a damaged index has them; compaction keeps the newest record).
  uint64_t duplicate_slots = 0;
  bool clean() const {
    return corrupt_records == 0 && bad_index_entries == 0 &&
           unreadable_bytes == 0 && duplicate_slots == 0;
  }
};

// A held per-key lock (FileCache::LockKey). Movable; the lock is released
// when the object is destroyed or Release() is called, and by the kernel if
// the process dies while holding it. A child forked while it is held holds
// nothing: its copy of the descriptor is let go of at the fork, so the lock
// dies with the process that took it, not with the last of its children.
class KeyLock {
 public:
  KeyLock() = default;
  ~KeyLock() { Release(); }
  KeyLock(KeyLock&& other) noexcept;
  KeyLock& operator=(KeyLock&& other) noexcept;
  KeyLock(const KeyLock&) = delete;
  KeyLock& operator=(const KeyLock&) = delete;

  bool held() const { return fd_ >= 0; }
  void Release();

 private:
  friend class FileCache;
  // Owns `fd`, on which the lock at `offset` is (to be) taken.
  KeyLock(std::shared_ptr<Env> env, int fd, uint64_t offset);

  std::shared_ptr<Env> env_;
  int fd_ = -1;
  uint64_t offset_ = 0;
};

class FileCache {
 public:
  // Opens (or creates) the store in directory `dir`. Fails with kNotFound
  // when there is no store and none may be created, kNotAStore
  // when `dir` holds files but no store, kVersionTooNew when the store was
  // written by a newer format, kPermissionDenied when it or one of its files
  // belongs to another user, every user may write the directory, or it is
  // reachable only through a symlink, kIOError when a store file is not a
  // regular file (a FIFO, a device), kNoSpace when a writable open cannot
  // allocate the holes of a sparse copy of the store. A read-only open of a
  // store being created (the directory exists, its index not yet) succeeds
  // and reads as an empty store until the store exists.
  static Result<std::unique_ptr<FileCache>> Open(
      const std::string& dir, const FileCacheOptions& options = {});

  ~FileCache();
  FileCache(const FileCache&) = delete;
  FileCache& operator=(const FileCache&) = delete;

  // Stores `value` under `key`, replacing any earlier value. `ttl` of zero
  // means the store's default_ttl; a TTL too large to add to the clock
  // means forever. Keys are 1..kMaxKeyBytes bytes, values at most
  // kMaxValueBytes. OK means the record committed: every handle sees it
  // from its next call. Fails with kNoSpace on a full disk, with
  // kInvalidArgument for this value alone (a bad key or ttl, or a record
  // too large for max_bytes even in an empty store), with kNoSpace too when
  // max_bytes cannot make room for it; the store is unchanged then. With
  // sync_writes, a failed fdatasync is an error too (the record may then be
  // visible but not durable). An automatic compaction that the write made
  // due runs after the commit; its failure is not the write's and shows in
  // MaintenanceStatus(). From inside a Compact progress callback, every
  // write (Put, Erase, Clear, Compact) fails at once with kBusy.
  Status Put(std::string_view key, std::string_view value,
             std::chrono::milliseconds ttl = std::chrono::milliseconds{0});
  // The same; on success also sets `*version` to the committed record's
  // version (ValueView::version).
  Status Put(std::string_view key, std::string_view value,
             std::chrono::milliseconds ttl, uint64_t* version);

  // Copies the value of `key` into `*value`. NotFound on a miss (absent,
  // expired, or failing verification). A record of 4 KiB or more stored
  // is verified the first time this handle reads it in the current
  // generation, by any read (Get, GetView, Contains), unless this handle
  // wrote it (it hashed those very bytes to write them); later reads of it
  // trust that check (committed records are never rewritten), so a copy
  // costs a copy. The trust lasts for the generation, and through an index
  // rebuild (growth) that this handle makes over the same log; a rebuild by
  // another handle, a compaction into a new log or a Clear() ends it. Damage
  // that reaches those bytes after the first check (a bit flip in memory or
  // on disk) is therefore not noticed by this handle's later reads until
  // then, just as it would not be noticed by a copy or a view already
  // handed out.
  // Every other handle verifies on its own first read. Smaller records are
  // verified on every read.
  Status Get(std::string_view key, std::string* value);

  // Reads the value of `key` without copying when it was stored raw; see
  // ValueView for how long the bytes stay valid. Verified as Get is, so a
  // view of a large value already verified costs O(1) whatever its size.
  Status GetView(std::string_view key, ValueView* view);

  // True when `key` has a value that reads back verified; a value already
  // verified by a read counts as such (see Get).
  bool Contains(std::string_view key);

  // The version of `key`'s current unexpired record (ValueView::version),
  // found as a read would find it but reading no value bytes: a cheap probe
  // of whether a copy made earlier is still current. NotFound when the key
  // has no such record.
  Result<uint64_t> Version(std::string_view key);

  // The store's change count, shared by every handle of every process:
  // when two calls return the same number, no overwrite, erase, clear or
  // new generation (which may drop records) committed between them; a new
  // key's first put need not change it. One atomic load. A handle that
  // cannot map the store's lock file (a read-only handle of a store without
  // one) returns a new number on every call.
  uint64_t ChangeCount() {
    return changes_ != nullptr ? __atomic_load_n(changes_, __ATOMIC_ACQUIRE)
                               : NewUnknownCount();
  }
  // Likewise, but moved by every committed write of any key, a new key's
  // first put and an erase of a key the store lacks included: when two
  // calls return the same number, nothing was written to the store in
  // between. For copies of values the store does not hold.
  uint64_t WriteCount() {
    return writes_ != nullptr ? __atomic_load_n(writes_, __ATOMIC_ACQUIRE)
                              : NewUnknownCount();
  }

  // Removes `key`. OK whether or not it was present; either way its log
  // record is written, so that a record of the key that a writer killed
  // before its commit left in the log cannot come back through a later
  // recovery. On a disk too full for
  // the erase's log record (or for the grown index or compacted log that
  // would make room for it), the key's index slot is cleared in place all
  // the same (the index needs no new space); should the index then be lost
  // before the next compaction, recovery starts the store empty rather than
  // trust a log that still holds the erased value.
  Status Erase(std::string_view key);

  // Removes every key; the store's files shrink to an empty generation.
  Status Clear();

  // Makes every write so far durable: fdatasync of the log, the index and
  // the lock file (which logs recovery may use), then of the store's
  // directory (the file names a compaction or an index growth changed).
  Status Sync();

  // Writes the live records into a new generation and switches every handle
  // to it; other processes keep reading and writing throughout.
  // `progress`, when given, is called with (bytes done, bytes total).
  Status Compact(
      const std::function<void(uint64_t, uint64_t)>& progress = nullptr);

  // Calls `fn` with every live key, in no particular order.
  Status ForEachKey(const std::function<void(std::string_view key)>& fn);

  Result<FileCacheStats> GetStats();

  // Blocks until the caller holds the store-wide lock of `key`. Holders of
  // one key's lock exclude each other across processes and across handles
  // and threads of one process; the lock does not affect reads or writes.
  // It is how callers agree that only one of them computes a missing value
  // (single-flight). Keys are mapped onto 2^62 lock positions, so two keys
  // share one with negligible probability. Taking one key's lock twice
  // without releasing it waits forever. Fails with kUnsupported where the
  // filesystem has no byte-range locks.
  Result<KeyLock> LockKey(std::string_view key);

  // Reads every record and index slot and reports what it found. Changes
  // nothing.
  Result<VerifyReport> Verify();

  // The outcome of the last automatic compaction this handle ran after a
  // write (OK when none ran or it succeeded). Its failure leaves the store
  // as it was, with the write committed; the next write that finds the
  // compaction due tries again.
  Status MaintenanceStatus();

  const std::string& dir() const;

  static constexpr size_t kMaxKeyBytes = 64 * 1024;
  // LZ4's input limit, about 1.97 GiB.
  static constexpr size_t kMaxValueBytes = 0x7E000000;

  class Impl;

 private:
  explicit FileCache(std::unique_ptr<Impl> impl);
  // The counts of a handle without a lock file: a number no call of this
  // handle returned before.
  uint64_t NewUnknownCount();

  std::unique_ptr<Impl> impl_;
  // The lock file's change and write counters in this handle's mapping of
  // it (fixed for the handle's life), or null without one. Loaded inline:
  // through the handle's Impl and its lock file, a small memoized hit's
  // check of the count was three dependent loads and a call.
  const uint64_t* changes_ = nullptr;
  const uint64_t* writes_ = nullptr;
};

// True when `dir` holds a ucache store (it has the store's index file).
// Touches nothing.
bool IsStore(const std::string& dir);

}  // namespace ucache

#endif  // UCACHE_FILE_CACHE_H_
