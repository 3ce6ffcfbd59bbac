// LockFile: the store's "lock" file, which every writable handle keeps open
// and mapped. It carries the writers' mutex, a robust, process-shared
// pthread mutex (the approach of LMDB's lock file): taking the writer lock
// costs no system call when nobody else holds it, and a holder that dies,
// even by kill -9, hands the lock on instead of blocking everyone: the next
// taker is told the owner died and continues (the store tolerates a writer
// stopped at any instant; see doc/format.md section 5).
//
// Each handle also holds a shared flock on the file from Open until it is
// destroyed. An opener that can take that flock exclusively is the store's
// only user, and only such an opener writes the file's prelude or
// initializes the mutex. So whatever a crash or damage left in the file
// never blocks a store once all its users have gone, and a mutex is never
// re-initialized under a process using it. The shared flock also keeps out
// writers of format version 1, which lock the same file exclusively.
//
// Thread safety: Lock/Unlock may be called from any thread; the mutex is
// owned by the thread that took it and must be released by that thread.

#ifndef UCACHE_SRC_FCACHE_LOCK_FILE_H_
#define UCACHE_SRC_FCACHE_LOCK_FILE_H_

#include <pthread.h>

#include <memory>
#include <string>

#include "src/fcache/file_handle.h"
#include "src/fcache/format.h"
#include "src/fcache/mapping.h"
#include "ucache/env.h"

namespace ucache::fcache_internal {

class LockFile {
 public:
  // Opens (creating if missing) dir/lock, takes the shared flock, and
  // initializes the file when this is the store's only handle. Fails with
  // kVersionTooNew for a lock file of a newer format, kCorruption when the
  // file is damaged while other handles hold it.
  static Result<std::unique_ptr<LockFile>> Open(std::shared_ptr<Env> env,
                                                const std::string& dir);
  // Maps dir/lock read-only, for a read-only handle, which only reads the
  // publication record and the change counter: no flock (it must not stop a
  // writer from initializing the file), and Lock must not be called.
  // NotFound when there is no lock file of kLockFileSize bytes or more; a
  // file that is not regular or not ours is refused unopened (opening a
  // FIFO would block); Corruption when its prelude fails the check. The
  // caller then has no record to go by.
  static Result<std::unique_ptr<LockFile>> OpenReadOnly(
      std::shared_ptr<Env> env, const std::string& dir);
  LockFile(const LockFile&) = delete;
  LockFile& operator=(const LockFile&) = delete;

  // Where the store's change and write counters (doc/format.md section 5)
  // are in this handle's mapping, for as long as it lives. Readers load them
  // with acquire (FileCache::ChangeCount, inline), so that a reader that
  // sees a count also sees the commit that produced it.
  const uint64_t* changes_word() const { return changes_; }
  const uint64_t* writes_word() const { return writes_; }
  // Count a commit, with release, writer lock held: CountWrite for any,
  // CountChange for one that replaced or removed a version of some key.
  void CountWrite() { __atomic_fetch_add(writes_, 1, __ATOMIC_RELEASE); }
  void CountChange() {
    __atomic_fetch_add(changes_, 1, __ATOMIC_RELEASE);
    CountWrite();
  }

  // Notes that log `log_id` holds committed records up to `end`: after a
  // commit, before the commit is visible to readers, and for a log being
  // published. Writer lock held.
  void NoteLogEnd(uint64_t log_id, uint64_t end);
  // The end last noted for log `log_id`, or 0 when the file names another
  // log or none.
  uint64_t LogEnd(uint64_t log_id) const;

  // fdatasyncs the file, so that what the mapping holds (the publication
  // record, `unlogged_erases`, the committed log end) survives a power loss.
  Status Sync();

  // Takes the writers' mutex: with kExclusiveWait spinning briefly, then
  // sleeping until it is free, waking every few milliseconds to look again
  // (a killed waiter can swallow the wakeup meant for the others); with
  // kExclusiveTry returning Busy if it is held. Sets *owner_died when its last
  // holder died holding it; the caller then holds it and must expect the store
  // as that writer left it, which counts as a change (CountChange: the dead
  // writer may have committed without counting). Busy, without waiting, when
  // the calling thread holds the mutex already (through any handle of the
  // store: a write from inside a Compact progress callback), since waiting
  // would wait forever.
  Status Lock(LockMode mode, bool* owner_died);
  void Unlock();

  // The publication record (format.h). Writers store into it with the
  // mutex held; anyone may load from it.
  Publication& publication() const;
  // True when the record announces log `log_id`, which may then be current
  // (or become so through a writer settling the record): not to be removed.
  bool Announced(uint64_t log_id) const;

 private:
  LockFile(std::shared_ptr<Env> env, FileHandle file,
           std::shared_ptr<Mapping> map)
      : env_(std::move(env)),
        file_(std::move(file)),
        map_(std::move(map)),
        changes_(
            reinterpret_cast<uint64_t*>(map_->data() + kLockChangesOffset)),
        writes_(reinterpret_cast<uint64_t*>(map_->data() + kLockWritesOffset)),
        log_end_(reinterpret_cast<uint64_t*>(map_->data() + kLockLogEndOffset)),
        log_end_id_(
            reinterpret_cast<uint64_t*>(map_->data() + kLockLogEndIdOffset)) {}
  pthread_mutex_t* mutex() const;

  // Constant after construction. Closing file_ drops the shared flock.
  const std::shared_ptr<Env> env_;  // outlives file_, which closes through it
  const FileHandle file_;
  const std::shared_ptr<Mapping> map_;
  uint64_t* const changes_;     // in map_
  uint64_t* const writes_;      // in map_
  uint64_t* const log_end_;     // in map_
  uint64_t* const log_end_id_;  // in map_
};

// pthread_mutex_lock for a robust, process-shared mutex, with the same
// results, except that it never sleeps through a lost wakeup: it sleeps a
// few milliseconds at a time and looks again. A robust mutex's wakeup is
// lost when the sleeper it went to is killed before taking the mutex while
// another thread takes it without sleeping, which leaves no sign that
// anyone else sleeps on it; no later unlock wakes them. Built with the
// thread sanitizer, which cannot follow a timed lock, it is
// pthread_mutex_lock (kRobustMutexWaitsInSlices false).
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UCACHE_FCACHE_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define UCACHE_FCACHE_TSAN 1
#endif
#ifdef UCACHE_FCACHE_TSAN
inline constexpr bool kRobustMutexWaitsInSlices = false;
#else
inline constexpr bool kRobustMutexWaitsInSlices = true;
#endif
int LockRobustMutex(pthread_mutex_t* mutex);

// Holds the writers' mutex for its lifetime.
class WriterLock {
 public:
  explicit WriterLock(LockFile* file, LockMode mode = LockMode::kExclusiveWait)
      : file_(file) {
    status_ = file_->Lock(mode, &owner_died_);
  }
  ~WriterLock() {
    if (status_.ok()) file_->Unlock();
  }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

  const Status& status() const { return status_; }
  // The previous holder died holding the mutex.
  bool owner_died() const { return owner_died_; }

 private:
  LockFile* const file_;
  Status status_;
  bool owner_died_ = false;
};

}  // namespace ucache::fcache_internal

#endif  // UCACHE_SRC_FCACHE_LOCK_FILE_H_
