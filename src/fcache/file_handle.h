// FileHandle: an RAII file descriptor opened through an Env.

#ifndef UCACHE_SRC_FCACHE_FILE_HANDLE_H_
#define UCACHE_SRC_FCACHE_FILE_HANDLE_H_

#include <cstdint>
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

  // Opens a store file (Env::Open refuses anything but a regular file) and
  // refuses one that another user owns: in a directory others can write,
  // they could have renamed a file of their own over a store file, or
  // planted a log, and its bytes would be served as the store's. Checked on
  // the descriptor, so the file checked is the file read.
  static Result<FileHandle> Open(Env* env, const std::string& path,
                                 OpenMode mode) {
    Result<int> fd = env->Open(path, mode);
    if (!fd.ok()) return fd.status();
    FileHandle file(env, *fd);
    Result<FileInfo> info = env->Stat(*fd);
    if (!info.ok()) return info.status();
    const uint32_t us = env->CurrentUser();
    if (info->owner != us) {
      return Status::PermissionDenied(
          path + ": owned by user " + std::to_string(info->owner) +
          ", not by this process's user " + std::to_string(us) +
          "; refusing a file another user may have planted");
    }
    return file;
  }

  int fd() const { return fd_; }
  // Hands the descriptor over to the caller, who closes it.
  int Release() { return std::exchange(fd_, -1); }
  bool valid() const { return fd_ >= 0; }

 private:
  void Reset() {
    if (fd_ >= 0) env_->Close(fd_).IgnoreError();
    fd_ = -1;
  }

  Env* env_ = nullptr;
  int fd_ = -1;
};

}  // namespace ucache::fcache_internal

#endif  // UCACHE_SRC_FCACHE_FILE_HANDLE_H_
