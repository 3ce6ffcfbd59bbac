#include "src/fcache/lock_file.h"

#include <time.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "src/fcache/format.h"

namespace ucache::fcache_internal {
namespace {

static_assert(sizeof(pthread_mutex_t) <= kLockMutexBytes);
static_assert(kLockMutexOffset % alignof(pthread_mutex_t) == 0);

// Each retry means the file was found damaged while others held it, or an
// initializer died; a small bound turns a persistent state into an error.
constexpr int kOpenAttempts = 64;

// A writer holds the mutex for well under a microsecond per put; spinning
// that long before sleeping in the kernel avoids a futex wait and wake per
// contended put.
constexpr int kSpins = 200;

// How long a waiter of LockRobustMutex sleeps before it looks at the mutex
// again: all a lost wakeup can cost it. While the mutex is merely busy (a
// compaction holds it for a while), looking again costs one system call per
// interval. (The kernel itself wakes a sleeper for a killed one only when
// the mutex is free at the death.)
constexpr std::chrono::milliseconds kWakeCheck(20);

void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Writes a fresh mutex and then the prelude into the mapped file. Only the
// holder of the exclusive flock calls this, so nobody is using the mutex.
Status Initialize(Env& env, uint8_t* base) {
  pthread_mutexattr_t attr;
  int rc = pthread_mutexattr_init(&attr);
  if (rc == 0) rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  if (rc == 0) rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  // Error-checking, so that a thread taking the mutex it holds (a write from
  // a Compact progress callback, through any handle) hears EDEADLK instead
  // of waiting for itself forever.
  if (rc == 0) rc = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
  if (rc == 0) {
    std::memset(base + kLockMutexOffset, 0, kLockMutexBytes);
    rc = pthread_mutex_init(
        reinterpret_cast<pthread_mutex_t*>(base + kLockMutexOffset), &attr);
  }
  pthread_mutexattr_destroy(&attr);
  if (rc != 0) {
    return Status::Unsupported(std::string("robust process-shared mutex: ") +
                               std::strerror(rc));
  }
  FilePrelude prelude{};
  prelude.header_size = kLockFileSize;
  prelude.created_ms = static_cast<uint64_t>(env.NowMillis());
  SealPrelude(kLockMagic, &prelude);
  // Sealed last: a crash before this leaves a prelude that fails its check,
  // and the next sole user initializes the file again.
  std::memcpy(base, &prelude, sizeof(prelude));
  return Status::OK();
}

// OK when the mapped file holds an intact lock prelude of a version we read.
Status CheckLockPrelude(const uint8_t* base, const std::string& path) {
  FilePrelude prelude;
  std::memcpy(&prelude, base, sizeof(prelude));
  Status s = CheckPrelude(prelude, kLockMagic, path);
  if (s.ok() && prelude.header_size != kLockFileSize) {
    s = Status::Corruption(path + ": wrong header size");
  }
  return s;
}

}  // namespace

Result<std::unique_ptr<LockFile>> LockFile::Open(std::shared_ptr<Env> env,
                                                 const std::string& dir) {
  const std::string path = dir + "/" + kLockFileName;
  Result<FileHandle> file =
      FileHandle::Open(env.get(), path, OpenMode::kCreate);
  if (!file.ok()) return file.status();
  const int fd = file->fd();
  Status last;
  for (int attempt = 0; attempt < kOpenAttempts; ++attempt) {
    Status s = env->Lock(fd, LockMode::kExclusiveTry);
    const bool sole_user = s.ok();
    if (!sole_user && s.code() != Status::Code::kBusy) {
      return s.WithContext("locking " + path);
    }
    if (!sole_user) {
      // Someone has the store open (or is initializing it); wait for the
      // initializer, if any, to finish.
      s = env->Lock(fd, LockMode::kSharedWait);
      if (!s.ok()) return s.WithContext("locking " + path);
      Result<FileInfo> info = env->Stat(fd);
      if (!info.ok()) return info.status();
      if (info->size < kLockFileSize) {
        last = Status::Corruption(path + ": shorter than its header");
        env->Unlock(fd).IgnoreError();
        continue;
      }
    }
    // Reserve the blocks before mapping, so that stores through the mapping
    // can never fault for lack of space; a file others use already may
    // still be a sparse copy with a hole (allocated ranges cost nothing).
    s = env->Allocate(fd, 0, kLockFileSize);
    if (!s.ok()) return s.WithContext("allocating " + path);
    Result<std::shared_ptr<Mapping>> map =
        Mapping::Create(env, fd, kLockFileSize, /*writable=*/true);
    if (!map.ok()) return map.status().WithContext("mapping " + path);
    s = CheckLockPrelude((*map)->data(), path);
    if (s.code() == Status::Code::kVersionTooNew) return s;
    if (sole_user) {
      s = Initialize(*env, (*map)->data());
      if (!s.ok()) return s.WithContext(path);
      // Not atomic (flock converts by unlocking first): another opener may
      // initialize the file again in between, which is harmless, since we
      // use the mutex only once the shared flock is ours.
      s = env->Lock(fd, LockMode::kSharedWait);
      if (!s.ok()) return s.WithContext("locking " + path);
    } else if (!s.ok()) {
      // An initializer died, or the file was damaged under its users. Let
      // go, and initialize it if we turn out to be alone now.
      last = s;
      env->Unlock(fd).IgnoreError();
      continue;
    }
    return std::unique_ptr<LockFile>(
        new LockFile(env, std::move(*file), std::move(*map)));
  }
  return last.WithContext(
      "damaged while other handles have the store open; "
      "close them and reopen");
}

Result<std::unique_ptr<LockFile>> LockFile::OpenReadOnly(
    std::shared_ptr<Env> env, const std::string& dir) {
  const std::string path = dir + "/" + kLockFileName;
  auto usable = [&](const Result<FileInfo>& info) {
    return info.ok() && info->is_regular && info->size >= kLockFileSize &&
           info->owner == env->CurrentUser();
  };
  if (!usable(env->StatPath(path))) {
    return Status::NotFound(path + ": no lock file to read changes from");
  }
  Result<FileHandle> file =
      FileHandle::Open(env.get(), path, OpenMode::kReadOnly);
  if (!file.ok()) return file.status();
  // Checked again on the descriptor: the name may have been replaced.
  if (!usable(env->Stat(file->fd()))) {
    return Status::NotFound(path + ": no lock file to read changes from");
  }
  Result<std::shared_ptr<Mapping>> map =
      Mapping::Create(env, file->fd(), kLockFileSize, /*writable=*/false);
  if (!map.ok()) return map.status().WithContext("mapping " + path);
  Status s = CheckLockPrelude((*map)->data(), path);
  if (!s.ok()) return s;
  return std::unique_ptr<LockFile>(
      new LockFile(env, std::move(*file), std::move(*map)));
}

Publication& LockFile::publication() const {
  return *reinterpret_cast<Publication*>(map_->data() + kLockPublicationOffset);
}

bool LockFile::Announced(uint64_t log_id) const {
  return LoadShared(publication().announced_log_id) == log_id;
}

pthread_mutex_t* LockFile::mutex() const {
  return reinterpret_cast<pthread_mutex_t*>(map_->data() + kLockMutexOffset);
}

int LockRobustMutex(pthread_mutex_t* mutex) {
  // The thread sanitizer does not know clocklock, and follows a timed lock
  // only when it returns 0, not EOWNERDEAD (as it does a plain lock): it
  // would take the unlock that follows for one of a free mutex.
  if constexpr (!kRobustMutexWaitsInSlices) return pthread_mutex_lock(mutex);
  int rc;
  do {
    timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += std::chrono::nanoseconds(kWakeCheck).count();
    until.tv_sec += until.tv_nsec / 1'000'000'000;
    until.tv_nsec %= 1'000'000'000;
    rc = pthread_mutex_clocklock(mutex, CLOCK_MONOTONIC, &until);
  } while (rc == ETIMEDOUT);
  return rc;
}

Status LockFile::Lock(LockMode mode, bool* owner_died) {
  *owner_died = false;
  const bool wait = mode != LockMode::kExclusiveTry;
  int rc = EBUSY;
  for (int i = 0; i < (wait ? kSpins : 1) && rc == EBUSY; ++i) {
    rc = pthread_mutex_trylock(mutex());
    if (rc == EBUSY && wait) CpuRelax();
  }
  if (rc == EBUSY) {
    if (!wait) return Status::Busy("the writers' mutex is held");
    rc = LockRobustMutex(mutex());
  }
  if (rc == EDEADLK) {
    return Status::Busy(
        "this thread holds the store's writers' mutex already (a write from "
        "inside a Compact progress callback?)");
  }
  if (rc == EOWNERDEAD) {
    // The holder died; the mutex is ours, and usable again once marked so.
    rc = pthread_mutex_consistent(mutex());
    *owner_died = rc == 0;
    // It may have died between a commit (or a publication) and counting
    // it: near caches of every key must look again (cache.h), as after
    // any change.
    if (*owner_died) CountChange();
  }
  if (rc == 0) return Status::OK();
  // ENOTRECOVERABLE cannot come from ucache, which always marks the mutex
  // consistent; the next sole user re-initializes it.
  return Status::IOError(std::string("taking the writers' mutex: ") +
                         std::strerror(rc));
}

void LockFile::Unlock() { pthread_mutex_unlock(mutex()); }

Status LockFile::Sync() { return env_->Sync(file_.fd()); }

void LockFile::NoteLogEnd(uint64_t log_id, uint64_t end) {
  if (LoadShared(*log_end_id_) == log_id) {
    StoreShared(*log_end_, end);
    return;
  }
  // Another log's end, for a moment named by no log: a writer killed
  // between these stores leaves an end that no log claims, never another
  // log's end under this one's id.
  StoreShared(*log_end_id_, uint64_t{0});
  StoreShared(*log_end_, end);
  StoreShared(*log_end_id_, log_id);
}

uint64_t LockFile::LogEnd(uint64_t log_id) const {
  return log_id != 0 && LoadShared(*log_end_id_) == log_id
             ? LoadShared(*log_end_)
             : 0;
}

}  // namespace ucache::fcache_internal
