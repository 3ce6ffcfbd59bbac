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

// Appends reserve file space an eighth of the log ahead (at most
// kMaxReserveBytes), rounded up to whole pages: a growing log reserves about
// a hundred times on its way to gigabytes, and the unused tail stays under
// an eighth of the log plus a page.
constexpr uint64_t kPageBytes = 4096;
constexpr uint64_t kMaxReserveBytes = 64 << 20;

// Reserves [from, to), which lies at or past the end of the file, by writing
// zeros there. Like posix_fallocate this makes the filesystem account for
// the blocks (allocated, or counted by delayed allocation), so a full disk
// is an error here and never a fault on a later store through the mapping.
// Unlike fallocate's unwritten extents it also leaves the pages in the page
// cache, dirty, so that the first store to each page is a cheap fault rather
// than a read of the extent plus a block conversion: puts run about 1.5
// times faster. The price: zeros that reach the disk before records fill
// them are written twice.
Status WriteZeros(Env& env, int fd, uint64_t from, uint64_t to) {
  static constexpr size_t kZeroBytes = 256 << 10;
  static const char kZeros[kZeroBytes] = {};
  for (uint64_t pos = from; pos < to; pos += kZeroBytes) {
    Status s =
        env.Write(fd, kZeros, std::min<uint64_t>(kZeroBytes, to - pos), pos);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<LogFile>> LogFile::Create(std::shared_ptr<Env> env,
                                                 const std::string& dir,
                                                 uint64_t log_id) {
  const std::string path = dir + "/" + LogFileName(log_id);
  // A leftover of a crashed compaction, if any.
  env->Remove(path).IgnoreError();
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
    env->Remove(path).IgnoreError();
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

Status LogFile::Remap(uint64_t min_length) {
  Result<FileInfo> info = env_->Stat(file_.fd());
  if (!info.ok()) return info.status();
  const uint64_t length = MapLengthFor(std::max(info->size, min_length));
  Result<std::shared_ptr<Mapping>> map =
      Mapping::Create(env_, file_.fd(), length, false);
  if (!map.ok()) return map.status().WithContext("mapping " + path_);
  if (write_map_ != nullptr) {
    Result<std::shared_ptr<Mapping>> write_map =
        Mapping::Create(env_, file_.fd(), length, true);
    if (!write_map.ok()) {
      return write_map.status().WithContext("mapping " + path_);
    }
    write_map_ = std::move(*write_map);
  }
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

Result<bool> LogFile::Reserve(uint64_t offset, uint64_t n, uint64_t max_size) {
  if (!writable_) return Status::InvalidArgument(path_ + ": opened read-only");
  const uint64_t end = offset + n;
  if (end > map_->length()) return false;
  if (end > readable()) {
    // Another process may have reserved the space already, perhaps beyond
    // our mapping.
    Result<bool> fits = CatchUp();
    if (!fits.ok()) return fits.status();
    if (!*fits) return false;
  }
  const uint64_t have = readable();
  const uint64_t ahead = std::min(end / 8, kMaxReserveBytes);
  const uint64_t want = std::max(
      end,
      std::min({AlignUp(end + ahead, kPageBytes), max_size, map_->length()}));
  const uint64_t from = std::max(offset, allocated_);
  const uint64_t held = std::min(end, have);
  if (from < held) {
    // The file holds this space already, but perhaps as a hole: a sparse
    // copy of the store (cp --sparse=always, rsync -S, tar -S) turns
    // reserved zeros into one, and a store into a hole needs a block, which
    // on a full disk is a SIGBUS. So allocate first, as far ahead as a
    // reservation goes (never the whole of a huge sparse file at once);
    // allocated ranges cost nothing.
    Status s = env_->Allocate(file_.fd(), from, held - from);
    if (!s.ok()) return s.WithContext("allocating space in " + path_);
    const uint64_t upto = std::min(want, have);
    allocated_ =
        upto > held && env_->Allocate(file_.fd(), held, upto - held).ok()
            ? upto
            : held;
  }
  if (end > have) {
    // This record's space first; the rest is for later appends, which will
    // try again should the disk be too full for it now.
    Status s = WriteZeros(*env_, file_.fd(), have, end);
    if (!s.ok()) return s.WithContext("reserving space in " + path_);
    WriteZeros(*env_, file_.fd(), end, want).IgnoreError();
    Result<bool> fits = CatchUp();
    if (!fits.ok()) return fits.status();
    if (readable() < end) {
      return Status::IOError(path_ + ": shorter than just reserved");
    }
    // Written, so allocated.
    allocated_ = readable();
  }
  if (write_map_ == nullptr) {
    Result<std::shared_ptr<Mapping>> write_map =
        Mapping::Create(env_, file_.fd(), map_->length(), true);
    if (!write_map.ok()) {
      return write_map.status().WithContext("mapping " + path_);
    }
    write_map_ = std::move(*write_map);
  }
  return true;
}

Status LogFile::Append(uint64_t offset, std::string_view bytes) {
  Status s = Write(offset, bytes);
  if (!s.ok()) return s;
  const uint64_t end = offset + bytes.size();
  ExtendReadable(end);  // the file holds them now; the mapping covers them
  // Written, so allocated; what lies below `offset` no append goes to.
  allocated_ = std::max(allocated_, end);
  return Status::OK();
}

void LogFile::Store(uint64_t offset, std::string_view bytes) {
  std::memcpy(write_map_->data() + offset, bytes.data(), bytes.size());
}

Status LogFile::Sync() { return env_->Sync(file_.fd()); }

Result<uint64_t> LogFile::NextData(uint64_t offset) const {
  return env_->NextData(file_.fd(), offset);
}

}  // namespace ucache::fcache_internal
