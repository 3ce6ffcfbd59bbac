// FileLock: holds the store's writer lock (Env::Lock on the lock file) for
// its lifetime. The kernel drops the lock if the holder dies, so a crashed
// writer never blocks anyone.

#ifndef UCACHE_SRC_FCACHE_FILE_LOCK_H_
#define UCACHE_SRC_FCACHE_FILE_LOCK_H_

#include "ucache/env.h"

namespace ucache::fcache_internal {

class FileLock {
 public:
  FileLock(Env* env, int fd) : env_(env), fd_(fd) {}
  ~FileLock() {
    if (locked_) env_->Unlock(fd_);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  Status Lock(LockMode mode) {
    Status s = env_->Lock(fd_, mode);
    locked_ = s.ok();
    return s;
  }

 private:
  Env* const env_;
  const int fd_;
  bool locked_ = false;
};

}  // namespace ucache::fcache_internal

#endif  // UCACHE_SRC_FCACHE_FILE_LOCK_H_
