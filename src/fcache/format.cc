#include "src/fcache/format.h"

#include <xxhash.h>

#include <cinttypes>
#include <cstdio>

namespace ucache::fcache_internal {
namespace {

uint64_t PreludeChecksum(const FilePrelude& prelude) {
  return XXH3_64bits(&prelude, offsetof(FilePrelude, checksum));
}

}  // namespace

std::string LogFileName(uint64_t log_id) {
  char name[sizeof(kLogPrefix) + 16];
  std::snprintf(name, sizeof(name), "%s%016" PRIx64, kLogPrefix, log_id);
  return name;
}

bool ParseLogFileName(const std::string& name, uint64_t* log_id) {
  const std::string prefix = kLogPrefix;
  if (name.size() != prefix.size() + 16 ||
      name.compare(0, prefix.size(), prefix)) {
    return false;
  }
  uint64_t id = 0;
  for (size_t i = prefix.size(); i < name.size(); ++i) {
    const char c = name[i];
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return false;
    }
    id = id * 16 + static_cast<uint64_t>(digit);
  }
  *log_id = id;
  return true;
}

void SealPrelude(uint64_t magic, FilePrelude* prelude) {
  prelude->magic = magic;
  prelude->version = kFormatVersion;
  prelude->checksum = PreludeChecksum(*prelude);
}

Status CheckPrelude(const FilePrelude& prelude, uint64_t magic,
                    const std::string& what) {
  if (prelude.magic != magic) {
    return Status::Corruption(what + ": bad magic number");
  }
  if (prelude.checksum != PreludeChecksum(prelude)) {
    return Status::Corruption(what + ": header checksum mismatch");
  }
  if (prelude.version > kFormatVersion) {
    return Status::VersionTooNew(
        what + ": written by format version " +
        std::to_string(prelude.version) + ", this ucache reads up to version " +
        std::to_string(kFormatVersion) + "; upgrade ucache to open it");
  }
  if (prelude.version == 0) {
    return Status::Corruption(what + ": format version 0");
  }
  return Status::OK();
}

}  // namespace ucache::fcache_internal
