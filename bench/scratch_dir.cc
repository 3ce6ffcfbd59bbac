#include "bench/scratch_dir.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>

namespace ucache::bench {

ScratchDir::ScratchDir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string pattern =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/" +
      prefix + ".XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    std::perror(pattern.c_str());
    std::exit(2);
  }
  path_ = pattern;
}

ScratchDir::~ScratchDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void PrimePages(const std::string& dir, uint64_t bytes) {
  const std::string path = dir + "/prime";
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::perror(path.c_str());
    std::exit(2);
  }
  const std::string chunk(1 << 20, '\0');
  for (uint64_t done = 0; done < bytes; done += chunk.size()) {
    if (::write(fd, chunk.data(), chunk.size()) !=
        static_cast<ssize_t>(chunk.size())) {
      std::perror(path.c_str());
      std::exit(2);
    }
  }
  ::close(fd);
  ::unlink(path.c_str());
}

}  // namespace ucache::bench
