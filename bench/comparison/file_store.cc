#include "bench/comparison/file_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace ucache::bench {
namespace {

Status ErrnoError(const std::string& what) {
  return Status::IOError(what + ": " + std::strerror(errno));
}

// dir/ab/abcd...: the key's bytes in hex, under its first byte's directory.
std::string PathOf(const std::string& dir, std::string_view key) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string name;
  name.reserve(key.size() * 2);
  for (unsigned char c : key) {
    name.push_back(kHex[c >> 4]);
    name.push_back(kHex[c & 15]);
  }
  return dir + "/" + name.substr(0, 2) + "/" + name;
}

class FileReader : public Reader {
 public:
  explicit FileReader(const std::string& dir) : dir_(dir) {}

  Status Get(std::string_view key, std::string* value) override {
    const std::string path = PathOf(dir_, key);
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return errno == ENOENT ? Status::NotFound() : ErrnoError(path);
    }
    struct stat st;
    Status s;
    if (fstat(fd, &st) != 0) {
      s = ErrnoError(path);
    } else {
      value->resize(st.st_size);
      size_t done = 0;
      while (s.ok() && done < value->size()) {
        const ssize_t n = read(fd, value->data() + done, value->size() - done);
        if (n > 0) {
          done += n;
        } else if (n == 0) {
          s = Status::IOError(path + ": shorter than its size");
        } else if (errno != EINTR) {
          s = ErrnoError(path);
        }
      }
    }
    close(fd);
    return s;
  }

 private:
  const std::string& dir_;
};

class FileStore : public Store {
 public:
  explicit FileStore(std::string dir) : dir_(std::move(dir)) {}

  Status Put(std::string_view key, std::string_view value) override {
    const std::string path = PathOf(dir_, key);
    // Unique per process and call, beside the final name, so the rename
    // stays within one directory.
    const std::string tmp = path.substr(0, path.rfind('/')) + "/.tmp." +
                            std::to_string(getpid()) + "." +
                            std::to_string(next_tmp_++);
    const int fd =
        open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return ErrnoError(tmp);
    size_t done = 0;
    while (done < value.size()) {
      const ssize_t n = write(fd, value.data() + done, value.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        Status s = ErrnoError(tmp);
        close(fd);
        unlink(tmp.c_str());
        return s;
      }
      done += n;
    }
    if (close(fd) != 0 || rename(tmp.c_str(), path.c_str()) != 0) {
      Status s = ErrnoError(tmp);
      unlink(tmp.c_str());
      return s;
    }
    return Status::OK();
  }

  std::unique_ptr<Reader> NewReader() override {
    return std::make_unique<FileReader>(dir_);
  }

  Status Compact() override {
    return Status::Unsupported("nothing to compact: a replaced file is freed");
  }

 private:
  const std::string dir_;
  uint64_t next_tmp_ = 0;
};

}  // namespace

Result<std::unique_ptr<Store>> OpenFileStore(const std::string& dir) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoError(dir);
  }
  for (int i = 0; i < 256; ++i) {
    char sub[4];
    std::snprintf(sub, sizeof(sub), "%02x", i);
    const std::string path = dir + "/" + sub;
    if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
      return ErrnoError(path);
    }
  }
  return std::unique_ptr<Store>(std::make_unique<FileStore>(dir));
}

}  // namespace ucache::bench
