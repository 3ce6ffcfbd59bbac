// The Linux implementation of Env. It keeps no state of its own, so one
// instance may be shared by every thread and handle.

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ucache/env.h"
#include "ucache/status.h"

namespace ucache {
namespace {

constexpr mode_t kFileMode = 0600;
constexpr mode_t kDirMode = 0700;
constexpr uint64_t kMaxOffset =
    static_cast<uint64_t>(std::numeric_limits<off_t>::max());

std::string FdName(int fd) { return "fd " + std::to_string(fd); }

// "<call> <object>: <strerror>", the shape every error message takes so that
// a log line alone says what failed and where.
std::string ErrorMessage(std::string_view call, std::string_view object,
                         int err) {
  std::string msg(call);
  msg += ' ';
  msg += object;
  msg += ": ";
  msg += std::strerror(err);
  return msg;
}

Status ErrnoStatus(std::string_view call, std::string_view object, int err) {
  std::string msg = ErrorMessage(call, object, err);
  if (err == ENOSPC || err == EDQUOT) return Status::NoSpace(msg);
  // Callers branch on these two: a missing file is how a store says it has
  // no index yet, and a refused one must not read as an I/O failure.
  if (err == ENOENT) return Status::NotFound(msg);
  if (err == EACCES || err == EPERM) return Status::PermissionDenied(msg);
  return Status::IOError(msg);
}

// Unsigned offsets above off_t's range would turn negative in the syscall and
// come back as a puzzling EINVAL; refuse them with a message that says why.
Status CheckRange(std::string_view call, int fd, uint64_t offset,
                  uint64_t len) {
  if (offset > kMaxOffset || len > kMaxOffset - offset) {
    return Status::InvalidArgument(std::string(call) + ' ' + FdName(fd) +
                                   ": range [" + std::to_string(offset) +
                                   ", +" + std::to_string(len) +
                                   ") exceeds the largest file offset");
  }
  return Status::OK();
}

FileInfo ToFileInfo(const struct stat& st) {
  FileInfo info;
  info.size = static_cast<uint64_t>(st.st_size);
  info.mode = static_cast<uint32_t>(st.st_mode & 07777);
  info.owner = static_cast<uint32_t>(st.st_uid);
  info.is_regular = S_ISREG(st.st_mode);
  info.is_directory = S_ISDIR(st.st_mode);
  info.is_symlink = S_ISLNK(st.st_mode);
  info.links = static_cast<uint64_t>(st.st_nlink);
  return info;
}

// What a non-regular file is, for the message that refuses it.
const char* FileTypeName(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISDIR(mode)) return "a directory";
  return "not a regular file";
}

int OpenRetry(const char* path, int flags, mode_t mode = 0) {
  int fd;
  do {
    fd = ::open(path, flags, mode);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

// The one-byte range at `offset` for an F_OFD_* lock request.
struct flock ByteRange(short type, uint64_t offset) {
  struct flock range {};
  range.l_type = type;
  range.l_whence = SEEK_SET;
  range.l_start = static_cast<off_t>(offset);
  range.l_len = 1;
  return range;  // l_pid stays 0, as OFD locks require
}

class PosixEnv final : public Env {
 public:
  Result<int> Open(const std::string& path, OpenMode mode) override {
    // O_NONBLOCK so that a FIFO (or a device) planted under a store file's
    // name cannot block the open; FinishOpen refuses it and clears the
    // flag on regular files. O_NOCTTY so that a terminal cannot become our
    // controlling one on the way.
    const int flags = O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
    switch (mode) {
      case OpenMode::kReadOnly:
        return OpenExisting(path, flags | O_RDONLY);
      case OpenMode::kReadWrite:
        return OpenExisting(path, flags | O_RDWR);
      case OpenMode::kCreateExclusive: {
        int fd = OpenRetry(path.c_str(), flags | O_RDWR | O_CREAT | O_EXCL,
                           kFileMode);
        if (fd < 0) return ErrnoStatus("open", path, errno);
        return FinishCreate(path, fd);
      }
      case OpenMode::kCreate:
        // O_CREAT alone cannot tell whether we made the file, and only a
        // file we made may be chmod-ed. So: create it exclusively, else open
        // what is there. Each retry means another process removed the file
        // between our two attempts; the bound keeps a pathological race from
        // spinning forever.
        for (int attempt = 0; attempt < 100; ++attempt) {
          int fd = OpenRetry(path.c_str(), flags | O_RDWR | O_CREAT | O_EXCL,
                             kFileMode);
          if (fd >= 0) return FinishCreate(path, fd);
          if (errno != EEXIST) return ErrnoStatus("open", path, errno);
          fd = OpenRetry(path.c_str(), flags | O_RDWR);
          if (fd >= 0) return FinishOpen(path, fd);
          if (errno != ENOENT) return ErrnoStatus("open", path, errno);
        }
        return Status::IOError("open " + path +
                               ": file keeps appearing and vanishing");
    }
    return Status::InvalidArgument("open " + path + ": unknown OpenMode");
  }

  Status Close(int fd) override {
    // Linux releases the descriptor even when close reports EINTR, so
    // retrying could close a descriptor another thread just received.
    if (::close(fd) != 0 && errno != EINTR) {
      return ErrnoStatus("close", FdName(fd), errno);
    }
    return Status::OK();
  }

  Status Write(int fd, const void* data, size_t n, uint64_t offset) override {
    Status range = CheckRange("pwrite", fd, offset, n);
    if (!range.ok()) return range;
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(offset));
      if (w < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("pwrite", FdName(fd), errno);
      }
      if (w == 0) {
        // Not expected from a regular file, but looping on it would spin.
        return Status::IOError("pwrite " + FdName(fd) + ": wrote 0 bytes at " +
                               std::to_string(offset));
      }
      p += w;
      n -= static_cast<size_t>(w);
      offset += static_cast<uint64_t>(w);
    }
    return Status::OK();
  }

  Status Read(int fd, void* data, size_t n, uint64_t offset) override {
    Status range = CheckRange("pread", fd, offset, n);
    if (!range.ok()) return range;
    char* p = static_cast<char*>(data);
    const size_t wanted = n;
    while (n > 0) {
      ssize_t r = ::pread(fd, p, n, static_cast<off_t>(offset));
      if (r < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("pread", FdName(fd), errno);
      }
      if (r == 0) {
        return Status::IOError("pread " + FdName(fd) + ": end of file after " +
                               std::to_string(wanted - n) + " of " +
                               std::to_string(wanted) + " bytes");
      }
      p += r;
      n -= static_cast<size_t>(r);
      offset += static_cast<uint64_t>(r);
    }
    return Status::OK();
  }

  Status Allocate(int fd, uint64_t offset, uint64_t len) override {
    // posix_fallocate rejects an empty range, but reserving nothing is a
    // reasonable request.
    if (len == 0) return Status::OK();
    Status range = CheckRange("posix_fallocate", fd, offset, len);
    if (!range.ok()) return range;
    int err;
    do {
      // Returns the error number; errno is left alone.
      err = ::posix_fallocate(fd, static_cast<off_t>(offset),
                              static_cast<off_t>(len));
    } while (err == EINTR);
    if (err == 0) return Status::OK();
    if (err == EOPNOTSUPP) return AllocateByWriting(fd, offset, len);
    return ErrnoStatus("posix_fallocate", FdName(fd), err);
  }

  Status Sync(int fd) override {
    int rc;
    do {
      rc = ::fdatasync(fd);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) return ErrnoStatus("fdatasync", FdName(fd), errno);
    return Status::OK();
  }

  Result<uint64_t> NextData(int fd, uint64_t offset) override {
    Status range = CheckRange("lseek(SEEK_DATA)", fd, offset, 0);
    if (!range.ok()) return range;
    // Moves the descriptor's file offset, which nothing uses: all I/O here
    // is pread and pwrite.
    const off_t pos = ::lseek(fd, static_cast<off_t>(offset), SEEK_DATA);
    if (pos >= 0) return static_cast<uint64_t>(pos);
    const int err = errno;
    if (err == ENXIO) {
      // Only a hole from `offset` on, or `offset` at or past the end.
      struct stat st;
      if (::fstat(fd, &st) != 0) {
        return ErrnoStatus("fstat", FdName(fd), errno);
      }
      return static_cast<uint64_t>(st.st_size);
    }
    if (err == EINVAL) return offset;  // SEEK_DATA unsupported here
    return ErrnoStatus("lseek(SEEK_DATA)", FdName(fd), err);
  }

  Result<FileInfo> Stat(int fd) override {
    struct stat st;
    if (::fstat(fd, &st) != 0) return ErrnoStatus("fstat", FdName(fd), errno);
    return ToFileInfo(st);
  }

  Result<FileInfo> StatPath(const std::string& path) override {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) {
      return ErrnoStatus("lstat", path, errno);
    }
    return ToFileInfo(st);
  }

  Result<void*> Map(int fd, uint64_t len, bool writable) override {
    if (len == 0 || len > std::numeric_limits<size_t>::max()) {
      return Status::InvalidArgument("mmap " + FdName(fd) + ": length " +
                                     std::to_string(len) + " is not mappable");
    }
    const int prot = writable ? (PROT_READ | PROT_WRITE) : PROT_READ;
    void* addr =
        ::mmap(nullptr, static_cast<size_t>(len), prot, MAP_SHARED, fd, 0);
    if (addr == MAP_FAILED) return ErrnoStatus("mmap", FdName(fd), errno);
    return addr;
  }

  void Unmap(void* addr, uint64_t len) override {
    // munmap only fails on arguments no valid Map could have produced.
    if (addr != nullptr && len != 0) ::munmap(addr, static_cast<size_t>(len));
  }

  void WillRead(const void* addr, uint64_t len) override {
    if (len == 0) return;
    const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    const uintptr_t start = reinterpret_cast<uintptr_t>(addr) & ~(page - 1);
    const size_t n = reinterpret_cast<uintptr_t>(addr) + len - start;
    // MADV_POPULATE_READ (Linux 5.14) maps every page in one call instead of
    // a fault per 16 pages (fault-around). Older kernels refuse it with
    // EINVAL; MADV_WILLNEED at least starts the reads there.
    if (::madvise(reinterpret_cast<void*>(start), n, MADV_POPULATE_READ) != 0 &&
        errno == EINVAL) {
      ::madvise(reinterpret_cast<void*>(start), n, MADV_WILLNEED);
    }
  }

  Status Lock(int fd, LockMode mode) override {
    int op = LOCK_EX;
    if (mode == LockMode::kExclusiveTry) op = LOCK_EX | LOCK_NB;
    if (mode == LockMode::kSharedWait) op = LOCK_SH;
    int rc;
    do {
      rc = ::flock(fd, op);
    } while (rc != 0 && errno == EINTR);
    if (rc == 0) return Status::OK();
    const int err = errno;
    if (err == EWOULDBLOCK) {
      return Status::Busy(ErrorMessage("flock", FdName(fd), err));
    }
    if (err == ENOLCK || err == EINVAL || err == EOPNOTSUPP) {
      return Status::Unsupported(ErrorMessage("flock", FdName(fd), err));
    }
    return ErrnoStatus("flock", FdName(fd), err);
  }

  Status Unlock(int fd) override {
    int rc;
    do {
      rc = ::flock(fd, LOCK_UN);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) return ErrnoStatus("flock(LOCK_UN)", FdName(fd), errno);
    return Status::OK();
  }

  Status LockByte(int fd, uint64_t offset, LockMode mode) override {
    if (Status s = CheckRange("fcntl(F_OFD_SETLK)", fd, offset, 1); !s.ok()) {
      return s;
    }
    struct flock range = ByteRange(F_WRLCK, offset);
    const int cmd =
        mode == LockMode::kExclusiveTry ? F_OFD_SETLK : F_OFD_SETLKW;
    int rc;
    do {
      rc = ::fcntl(fd, cmd, &range);
    } while (rc != 0 && errno == EINTR);
    if (rc == 0) return Status::OK();
    const int err = errno;
    if (err == EAGAIN || err == EACCES) {
      return Status::Busy(ErrorMessage("fcntl(F_OFD_SETLK)", FdName(fd), err));
    }
    if (err == ENOLCK || err == EINVAL || err == EOPNOTSUPP) {
      return Status::Unsupported(
          ErrorMessage("fcntl(F_OFD_SETLK)", FdName(fd), err));
    }
    return ErrnoStatus("fcntl(F_OFD_SETLK)", FdName(fd), err);
  }

  Status UnlockByte(int fd, uint64_t offset) override {
    if (Status s = CheckRange("fcntl(F_UNLCK)", fd, offset, 1); !s.ok()) {
      return s;
    }
    struct flock range = ByteRange(F_UNLCK, offset);
    if (::fcntl(fd, F_OFD_SETLK, &range) != 0) {
      return ErrnoStatus("fcntl(F_UNLCK)", FdName(fd), errno);
    }
    return Status::OK();
  }

  Status CreateDir(const std::string& path) override {
    if (::mkdir(path.c_str(), kDirMode) != 0) {
      const int err = errno;
      if (err != EEXIST) return ErrnoStatus("mkdir", path, err);
      // An existing directory is accepted as it is: its mode is its owner's
      // choice. Anything else in its place, a symlink included (it could
      // point anywhere), is refused.
      struct stat st;
      if (::lstat(path.c_str(), &st) != 0) {
        return ErrnoStatus("lstat", path, errno);
      }
      if (S_ISDIR(st.st_mode)) return Status::OK();
      return Status::IOError(
          "mkdir " + path + ": exists and is " +
          (S_ISLNK(st.st_mode) ? "a symlink" : "not a directory"));
    }
    // mkdir's mode passes through the umask; a directory we just made must
    // still end up 0700. Go through a no-follow descriptor so a symlink
    // swapped in meanwhile is never chmod-ed through.
    int fd = OpenRetry(path.c_str(),
                       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("open", path, errno);
    Status s;
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      s = ErrnoStatus("fstat", path, errno);
    } else if ((st.st_mode & 07777) != kDirMode &&
               ::fchmod(fd, kDirMode) != 0) {
      s = ErrnoStatus("fchmod", path, errno);
    }
    ::close(fd);
    return s;
  }

  Result<std::vector<std::string>> ListDir(const std::string& path) override {
    // Refuses a symlink in the last component, like Open and CreateDir.
    int fd = OpenRetry(path.c_str(),
                       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("open", path, errno);
    DIR* dir = ::fdopendir(fd);
    if (dir == nullptr) {
      const int err = errno;
      ::close(fd);
      return ErrnoStatus("fdopendir", path, err);
    }
    std::vector<std::string> names;
    for (;;) {
      errno = 0;
      struct dirent* entry = ::readdir(dir);
      if (entry == nullptr) {
        const int err = errno;
        ::closedir(dir);
        if (err != 0) return ErrnoStatus("readdir", path, err);
        break;
      }
      std::string_view name(entry->d_name);
      if (name == "." || name == "..") continue;
      names.emplace_back(name);
    }
    // readdir's order depends on the filesystem; callers and tests get a
    // stable one.
    std::sort(names.begin(), names.end());
    return names;
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return ErrnoStatus("rename", from + " -> " + to, errno);
    }
    return Status::OK();
  }

  Status Remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return ErrnoStatus("unlink", path, errno);
    return Status::OK();
  }

  Status SyncDir(const std::string& path) override {
    int fd = OpenRetry(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("open", path, errno);
    int rc;
    do {
      rc = ::fsync(fd);
    } while (rc != 0 && errno == EINTR);
    const int err = errno;
    ::close(fd);
    if (rc != 0) return ErrnoStatus("fsync", path, err);
    return Status::OK();
  }

  int64_t NowMillis() override {
    struct timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
  }

  uint32_t CurrentUser() override { return static_cast<uint32_t>(::geteuid()); }

 private:
  // Opens a file that must exist.
  Result<int> OpenExisting(const std::string& path, int flags) {
    int fd = OpenRetry(path.c_str(), flags);
    if (fd < 0) return ErrnoStatus("open", path, errno);
    return FinishOpen(path, fd);
  }

  // Refuses `fd` unless it is a regular file, checked on the descriptor
  // (a check of the path could be raced), then makes it blocking again:
  // O_NONBLOCK has no effect on a regular file today, but it must not
  // change what a later call means.
  Result<int> FinishOpen(const std::string& path, int fd) {
    struct stat st;
    Status s;
    if (::fstat(fd, &st) != 0) {
      s = ErrnoStatus("fstat", path, errno);
    } else if (!S_ISREG(st.st_mode)) {
      s = Status::IOError("open " + path + ": is " + FileTypeName(st.st_mode) +
                          ", not a regular file; refusing it");
    } else {
      const int fl = ::fcntl(fd, F_GETFL);
      if (fl < 0 || ::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        s = ErrnoStatus("fcntl(F_SETFL)", path, errno);
      }
    }
    if (s.ok()) return fd;
    ::close(fd);
    return s;
  }

  // The umask may have removed bits from a file we just created; put them
  // back so its mode is 0600 whatever the umask. Undoes the creation on
  // failure rather than leave a file with the wrong mode behind.
  Result<int> FinishCreate(const std::string& path, int fd) {
    if (::fchmod(fd, kFileMode) != 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(path.c_str());
      return ErrnoStatus("fchmod", path, err);
    }
    return FinishOpen(path, fd);
  }

  // For filesystems without fallocate: writing zeros past the end of the
  // file reserves blocks just as well. Bytes already in the file are left
  // alone, so holes inside it stay holes.
  Status AllocateByWriting(int fd, uint64_t offset, uint64_t len) {
    struct stat st;
    if (::fstat(fd, &st) != 0) return ErrnoStatus("fstat", FdName(fd), errno);
    const uint64_t end = offset + len;
    uint64_t pos =
        std::max<uint64_t>(offset, static_cast<uint64_t>(st.st_size));
    static constexpr size_t kChunk = 64 * 1024;
    static const char kZeros[kChunk] = {};
    while (pos < end) {
      const size_t n =
          static_cast<size_t>(std::min<uint64_t>(kChunk, end - pos));
      Status s = Write(fd, kZeros, n, pos);
      if (!s.ok()) return s;
      pos += n;
    }
    return Status::OK();
  }
};

}  // namespace

std::shared_ptr<Env> NewPosixEnv() { return std::make_shared<PosixEnv>(); }

}  // namespace ucache
