// Env: the one door through which ucache reaches the operating system.
//
// Every file, mapping, lock and clock call of the storage engine goes through
// an Env, so that tests (and unusual deployments) can substitute their own:
// inject short writes or a full disk, kill the process between two calls, or
// move the clock. NewPosixEnv() returns the real thing for Linux.
//
// Files are named by plain descriptors. Every Status names the call and the
// path or descriptor it failed on. A missing path is Status::NotFound, a
// refused one Status::PermissionDenied, a full disk Status::NoSpace; other
// failures are Status::IOError. The engine branches on these codes, so a
// substitute Env must keep them. Implementations must be thread-safe: one
// Env is shared by every handle that was opened with it.

#ifndef UCACHE_ENV_H_
#define UCACHE_ENV_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ucache/internal/language_level.h"
#include "ucache/status.h"

namespace ucache {

enum class OpenMode {
  kReadOnly,         // existing file, read only
  kReadWrite,        // existing file, read and write
  kCreate,           // read and write, created (mode 0600) when missing
  kCreateExclusive,  // read and write, must not exist yet (mode 0600)
};

struct FileInfo {
  uint64_t size = 0;
  uint32_t mode = 0;   // permission bits only (e.g. 0600)
  uint32_t owner = 0;  // user id
  bool is_regular = false;
  bool is_directory = false;
  bool is_symlink = false;
  // Hard links to the file: 0 once it was unlinked, or replaced by a rename
  // over its name, while still open. An Env that cannot tell reports 1.
  uint64_t links = 1;
};

enum class LockMode {
  kExclusiveWait,  // block until the exclusive lock is ours
  kExclusiveTry,   // take it now or return Status::Busy
  kSharedWait,     // block until a shared lock is ours; many may hold one
};

class Env {
 public:
  virtual ~Env() = default;

  // Opens `path` without following a symlink in its last component and with
  // close-on-exec. Returns the descriptor. Only a regular file is opened:
  // anything else (a FIFO, a device, a socket, a directory) is refused with
  // an IOError naming the path and what it is, without blocking on it (a
  // FIFO with no writer would block a plain open forever).
  virtual Result<int> Open(const std::string& path, OpenMode mode) = 0;
  virtual Status Close(int fd) = 0;

  // Writes all `n` bytes at `offset`, retrying short writes. A full disk is
  // Status::NoSpace; on failure some prefix of the bytes may have landed.
  virtual Status Write(int fd, const void* data, size_t n, uint64_t offset) = 0;
  // Reads exactly `n` bytes at `offset`; fewer available is an IOError.
  virtual Status Read(int fd, void* data, size_t n, uint64_t offset) = 0;
  // Reserves disk blocks for [offset, offset + len), growing the file, so
  // that later stores through a mapping cannot fault for lack of space.
  virtual Status Allocate(int fd, uint64_t offset, uint64_t len) = 0;
  // Makes the file's data durable (fdatasync).
  virtual Status Sync(int fd) = 0;
  // The offset of the first byte at or after `offset` that is data rather
  // than a hole (lseek SEEK_DATA), or the file's size when no data lies
  // there, so that a scan can step over the holes of a sparse file instead
  // of reading their zeros. A filesystem that cannot tell reports `offset`
  // (every byte is data).
  virtual Result<uint64_t> NextData(int fd, uint64_t offset) = 0;
  virtual Result<FileInfo> Stat(int fd) = 0;
  // Like lstat: a symlink is reported as one, not followed.
  virtual Result<FileInfo> StatPath(const std::string& path) = 0;

  // Maps `len` bytes of `fd` shared from offset 0. `len` may exceed the
  // file's size; touching pages past the end of the file raises SIGBUS, so
  // callers must bound their reads by the size they last saw.
  virtual Result<void*> Map(int fd, uint64_t len, bool writable) = 0;
  virtual void Unmap(void* addr, uint64_t len) = 0;
  // A hint that [addr, addr + len) of a mapping (any alignment, within what
  // the file holds) is about to be read whole: map it in now, in one call,
  // rather than a page fault at a time. It may do nothing; it never fails.
  virtual void WillRead(const void* addr, uint64_t len) = 0;

  // Locks are tied to the open file description (flock semantics): two
  // descriptors in one process exclude each other, and the kernel releases
  // the lock when its holder dies. Locking a descriptor that holds a lock
  // already converts it (shared to exclusive or back); the conversion is
  // not atomic, as with flock.
  virtual Status Lock(int fd, LockMode mode) = 0;
  virtual Status Unlock(int fd) = 0;

  // Locks the one byte at `offset` of `fd` (Linux open file description
  // locks). Independent of Lock(): the two never conflict. Like Lock(), the
  // lock belongs to the open file description, so two descriptors exclude
  // each other even inside one process, and the kernel releases it when its
  // holder dies. The file need not reach `offset` (any value below 2^63).
  // The descriptor must be open for writing.
  virtual Status LockByte(int fd, uint64_t offset, LockMode mode) = 0;
  virtual Status UnlockByte(int fd, uint64_t offset) = 0;

  // Creates one directory with mode 0700; OK if it exists already.
  virtual Status CreateDir(const std::string& path) = 0;
  virtual Result<std::vector<std::string>> ListDir(const std::string& path) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status Remove(const std::string& path) = 0;
  // Makes the directory's entries (renames, creations) durable.
  virtual Status SyncDir(const std::string& path) = 0;

  // Wall-clock time in milliseconds since the Unix epoch. Persisted expiry
  // times use it, so a clock jump moves expiry with it.
  virtual int64_t NowMillis() = 0;
  // The effective user id of this process.
  virtual uint32_t CurrentUser() = 0;
};

// The real Linux implementation. It holds no state; make as many as you like.
std::shared_ptr<Env> NewPosixEnv();

// An Env that forwards every call to another one: derive from it and
// override only the calls to change (a failing Sync, a clock that jumps),
// as leveldb's EnvWrapper does. Thread-safe when the target is.
//
//   class SlowSync : public ucache::EnvWrapper {
//    public:
//     using EnvWrapper::EnvWrapper;
//     ucache::Status Sync(int fd) override {
//       std::this_thread::sleep_for(std::chrono::milliseconds(10));
//       return EnvWrapper::Sync(fd);
//     }
//   };
//   options.env = std::make_shared<SlowSync>(ucache::NewPosixEnv());
class EnvWrapper : public Env {
 public:
  // `target` receives every call that is not overridden; it must not be
  // null, and it is kept alive as long as the wrapper.
  explicit EnvWrapper(std::shared_ptr<Env> target)
      : target_(std::move(target)) {}

  // The wrapped Env, for doing things behind the wrapper's back.
  Env* target() const { return target_.get(); }

  Result<int> Open(const std::string& path, OpenMode mode) override {
    return target_->Open(path, mode);
  }
  Status Close(int fd) override { return target_->Close(fd); }
  Status Write(int fd, const void* data, size_t n, uint64_t offset) override {
    return target_->Write(fd, data, n, offset);
  }
  Status Read(int fd, void* data, size_t n, uint64_t offset) override {
    return target_->Read(fd, data, n, offset);
  }
  Status Allocate(int fd, uint64_t offset, uint64_t len) override {
    return target_->Allocate(fd, offset, len);
  }
  Status Sync(int fd) override { return target_->Sync(fd); }
  Result<uint64_t> NextData(int fd, uint64_t offset) override {
    return target_->NextData(fd, offset);
  }
  Result<FileInfo> Stat(int fd) override { return target_->Stat(fd); }
  Result<FileInfo> StatPath(const std::string& path) override {
    return target_->StatPath(path);
  }
  Result<void*> Map(int fd, uint64_t len, bool writable) override {
    return target_->Map(fd, len, writable);
  }
  void Unmap(void* addr, uint64_t len) override { target_->Unmap(addr, len); }
  void WillRead(const void* addr, uint64_t len) override {
    target_->WillRead(addr, len);
  }
  Status Lock(int fd, LockMode mode) override {
    return target_->Lock(fd, mode);
  }
  Status Unlock(int fd) override { return target_->Unlock(fd); }
  Status LockByte(int fd, uint64_t offset, LockMode mode) override {
    return target_->LockByte(fd, offset, mode);
  }
  Status UnlockByte(int fd, uint64_t offset) override {
    return target_->UnlockByte(fd, offset);
  }
  Status CreateDir(const std::string& path) override {
    return target_->CreateDir(path);
  }
  Result<std::vector<std::string>> ListDir(const std::string& path) override {
    return target_->ListDir(path);
  }
  Status Rename(const std::string& from, const std::string& to) override {
    return target_->Rename(from, to);
  }
  Status Remove(const std::string& path) override {
    return target_->Remove(path);
  }
  Status SyncDir(const std::string& path) override {
    return target_->SyncDir(path);
  }
  int64_t NowMillis() override { return target_->NowMillis(); }
  uint32_t CurrentUser() override { return target_->CurrentUser(); }

 private:
  const std::shared_ptr<Env> target_;
};

}  // namespace ucache

#endif  // UCACHE_ENV_H_
