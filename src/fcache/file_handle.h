// FileHandle: an RAII file descriptor opened through an Env.

#ifndef UCACHE_SRC_FCACHE_FILE_HANDLE_H_
#define UCACHE_SRC_FCACHE_FILE_HANDLE_H_

#include <memory>
#include <string>
#include <utility>

#include "ucache/env.h"

namespace ucache::fcache_internal {

class FileHandle {
 public:
  FileHandle() = default;
  FileHandle(Env* env, int fd) : env_(env), fd_(fd) {}
  ~FileHandle() { Reset(); }
  FileHandle(FileHandle&& other) noexcept
      : env_(other.env_), fd_(std::exchange(other.fd_, -1)) {}
  FileHandle& operator=(FileHandle&& other) noexcept {
    if (this != &other) {
      Reset();
      env_ = other.env_;
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }

  static Result<FileHandle> Open(Env* env, const std::string& path,
                                 OpenMode mode) {
    Result<int> fd = env->Open(path, mode);
    if (!fd.ok()) return fd.status();
    return FileHandle(env, *fd);
  }

  int fd() const { return fd_; }
  // Hands the descriptor over to the caller, who closes it.
  int Release() { return std::exchange(fd_, -1); }
  bool valid() const { return fd_ >= 0; }

 private:
  void Reset() {
    if (fd_ >= 0) env_->Close(fd_);
    fd_ = -1;
  }

  Env* env_ = nullptr;
  int fd_ = -1;
};

}  // namespace ucache::fcache_internal

#endif  // UCACHE_SRC_FCACHE_FILE_HANDLE_H_
