#include "fuzz/fuzz_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ucache::fuzz {
namespace {

void RemoveScratchDir() {
  EmptyDir(ScratchDir());
  ::rmdir(ScratchDir().c_str());
}

}  // namespace

AlignedBytes::AlignedBytes(std::string_view bytes) : size_(bytes.size()) {
  void* p = nullptr;
  if (::posix_memalign(&p, 64, bytes.empty() ? 1 : bytes.size()) != 0) {
    std::abort();
  }
  data_.reset(static_cast<uint8_t*>(p));
  if (!bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
}

void AlignedBytes::Free::operator()(uint8_t* p) const { std::free(p); }

const std::string& ScratchDir() {
  static const std::string* const dir = [] {
    const char* base = std::getenv("TEST_TMPDIR");
    if (base == nullptr) base = std::getenv("TMPDIR");
    std::string pattern = std::string(base ? base : "/tmp") + "/fuzz.XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::perror(pattern.c_str());
      std::abort();
    }
    auto* made = new std::string(pattern);
    std::atexit(RemoveScratchDir);
    return made;
  }();
  return *dir;
}

void EmptyDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") ::unlink((dir + "/" + name).c_str());
  }
  ::closedir(d);
}

void WriteFileOrDie(const std::string& path, std::string_view bytes) {
  ::unlink(path.c_str());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0 || ::write(fd, bytes.data(), bytes.size()) !=
                    static_cast<ssize_t>(bytes.size())) {
    std::perror(path.c_str());
    std::abort();
  }
  ::close(fd);
}

uint8_t InputReader::U8() {
  if (size_ == 0) return 0;
  --size_;
  return *data_++;
}

uint32_t InputReader::U24() {
  const uint32_t lo = U8(), mid = U8(), hi = U8();
  return lo | mid << 8 | hi << 16;
}

std::string_view InputReader::Bytes(size_t n) {
  n = n < size_ ? n : size_;
  std::string_view out(reinterpret_cast<const char*>(data_), n);
  data_ += n;
  size_ -= n;
  return out;
}

}  // namespace ucache::fuzz
