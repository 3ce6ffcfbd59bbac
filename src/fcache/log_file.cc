#include "src/fcache/log_file.h"

#include <algorithm>
#include <cstring>

#include "src/fcache/format.h"

namespace ucache::fcache_internal {
namespace {

// Mappings reserve address space generously so that a growing log remaps
// rarely; only pages below the file's end are ever touched.
constexpr uint64_t kMinMapBytes = uint64_t{1} << 30;

uint64_t MapLengthFor(uint64_t file_size) {
  uint64_t len = kMinMapBytes;
  while (len < file_size * 2) len *= 2;
  return len;
}

}  // namespace

Result<std::unique_ptr<LogFile>> LogFile::Create(std::shared_ptr<Env> env,
                                                 const std::string& dir,
                                                 uint64_t log_id) {
  const std::string path = dir + "/" + LogFileName(log_id);
  env->Remove(path);  // a leftover of a crashed compaction, if any
  Result<FileHandle> file =
      FileHandle::Open(env.get(), path, OpenMode::kCreateExclusive);
  if (!file.ok()) return file.status();

  FilePrelude prelude{};
  prelude.header_size = kLogHeaderSize;
  prelude.id = log_id;
  prelude.log_id = log_id;
  prelude.created_ms = static_cast<uint64_t>(env->NowMillis());
  SealPrelude(kLogMagic, &prelude);
  char header[kLogHeaderSize] = {};
  std::memcpy(header, &prelude, sizeof(prelude));
  Status s = env->Write(file->fd(), header, sizeof(header), 0);
  if (!s.ok()) {
    env->Remove(path);
    return s;
  }
  std::unique_ptr<LogFile> log(
      new LogFile(env, path, log_id, std::move(*file), true));
  s = log->Remap();
  if (!s.ok()) return s;
  return log;
}

Result<std::unique_ptr<LogFile>> LogFile::Open(std::shared_ptr<Env> env,
                                               const std::string& dir,
                                               uint64_t log_id, bool writable) {
  const std::string path = dir + "/" + LogFileName(log_id);
  Result<FileHandle> file = FileHandle::Open(
      env.get(), path, writable ? OpenMode::kReadWrite : OpenMode::kReadOnly);
  if (!file.ok()) return file.status();
  std::unique_ptr<LogFile> log(
      new LogFile(env, path, log_id, std::move(*file), writable));
  Status s = log->Remap();
  if (!s.ok()) return s;
  if (log->readable() < kLogHeaderSize) {
    return Status::Corruption(path + ": shorter than its header");
  }
  const auto& prelude = *reinterpret_cast<const FilePrelude*>(log->data());
  s = CheckPrelude(prelude, kLogMagic, path);
  if (!s.ok()) return s;
  if (prelude.id != log_id || prelude.header_size != kLogHeaderSize) {
    return Status::Corruption(path + ": header names another log");
  }
  return log;
}

bool LogFile::ExtendReadable(uint64_t end) {
  if (end > map_->length()) return false;
  uint64_t cur = readable_.load(std::memory_order_relaxed);
  while (cur < end && !readable_.compare_exchange_weak(
                          cur, end, std::memory_order_release)) {
  }
  return true;
}

Result<bool> LogFile::CatchUp() {
  Result<FileInfo> info = env_->Stat(file_.fd());
  if (!info.ok()) return info.status();
  return ExtendReadable(info->size);
}

Status LogFile::Remap() {
  Result<FileInfo> info = env_->Stat(file_.fd());
  if (!info.ok()) return info.status();
  Result<std::shared_ptr<Mapping>> map =
      Mapping::Create(env_, file_.fd(), MapLengthFor(info->size), false);
  if (!map.ok()) return map.status().WithContext("mapping " + path_);
  map_ = std::move(*map);
  // A fresh mapping may start below what was readable before only if the
  // file shrank, which ucache never does; trust the size we just saw.
  readable_.store(info->size, std::memory_order_release);
  return Status::OK();
}

Status LogFile::Write(uint64_t offset, std::string_view bytes) {
  if (!writable_) return Status::InvalidArgument(path_ + ": opened read-only");
  return env_->Write(file_.fd(), bytes.data(), bytes.size(), offset);
}

Status LogFile::Sync() { return env_->Sync(file_.fd()); }

}  // namespace ucache::fcache_internal
