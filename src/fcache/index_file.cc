#include "src/fcache/index_file.h"

#include <bit>
#include <cstring>

namespace ucache::fcache_internal {

Result<std::unique_ptr<IndexFile>> IndexFile::Create(std::shared_ptr<Env> env,
                                                     const std::string& path,
                                                     uint64_t capacity,
                                                     uint64_t generation,
                                                     uint64_t log_id) {
  env->Remove(path).IgnoreError();  // a leftover of a crashed rebuild, if any
  Result<FileHandle> file =
      FileHandle::Open(env.get(), path, OpenMode::kCreateExclusive);
  if (!file.ok()) return file.status();
  const uint64_t bytes = IndexFileBytes(capacity);
  Status s = env->Allocate(file->fd(), 0, bytes);
  if (!s.ok()) {
    env->Remove(path).IgnoreError();
    return s.WithContext("allocating the index");
  }
  Result<std::shared_ptr<Mapping>> map =
      Mapping::Create(env, file->fd(), bytes, true);
  if (!map.ok()) {
    env->Remove(path).IgnoreError();
    return map.status();
  }
  auto& header = *reinterpret_cast<IndexHeader*>((*map)->data());
  std::memset(&header, 0, kIndexHeaderSize);
  header.prelude.header_size = kIndexHeaderSize;
  header.prelude.id = generation;
  header.prelude.capacity = capacity;
  header.prelude.log_id = log_id;
  header.prelude.created_ms = static_cast<uint64_t>(env->NowMillis());
  SealPrelude(kIndexMagic, &header.prelude);
  header.log_end = kLogHeaderSize;
  return std::unique_ptr<IndexFile>(
      new IndexFile(env, std::move(*file), std::move(*map), capacity));
}

Result<std::unique_ptr<IndexFile>> IndexFile::Open(std::shared_ptr<Env> env,
                                                   const std::string& path,
                                                   bool writable) {
  Result<FileHandle> file = FileHandle::Open(
      env.get(), path, writable ? OpenMode::kReadWrite : OpenMode::kReadOnly);
  if (!file.ok()) return file.status();
  Result<FileInfo> info = env->Stat(file->fd());
  if (!info.ok()) return info.status();
  // The prelude first: a newer version must be refused as such even if the
  // rest of its layout differs from ours.
  FilePrelude prelude;
  if (info->size < sizeof(prelude)) {
    return Status::Corruption(path + ": shorter than its header");
  }
  Status s = env->Read(file->fd(), &prelude, sizeof(prelude), 0);
  if (!s.ok()) return s;
  s = CheckPrelude(prelude, kIndexMagic, path);
  if (!s.ok()) return s;
  const uint64_t capacity = prelude.capacity;
  if (info->size < kIndexHeaderSize ||
      prelude.header_size != kIndexHeaderSize || capacity < kMinCapacity ||
      !std::has_single_bit(capacity) || capacity > (uint64_t{1} << 40) ||
      info->size != IndexFileBytes(capacity)) {
    return Status::Corruption(path + ": size does not match its header");
  }
  if (writable) {
    // A sparse copy of the store (cp --sparse=always, rsync -S, tar -S)
    // has holes where slots are empty, and the first store into one needs a
    // block: on a full disk, a SIGBUS. Allocating what is allocated already
    // costs nothing.
    s = env->Allocate(file->fd(), 0, info->size);
    if (!s.ok()) return s.WithContext("allocating " + path);
  }
  Result<std::shared_ptr<Mapping>> map =
      Mapping::Create(env, file->fd(), info->size, writable);
  if (!map.ok()) return map.status();
  return std::unique_ptr<IndexFile>(
      new IndexFile(env, std::move(*file), std::move(*map), capacity));
}

Status IndexFile::Sync() { return env_->Sync(file_.fd()); }

Result<bool> IndexFile::Linked() const {
  Result<FileInfo> info = env_->Stat(file_.fd());
  if (!info.ok()) return info.status();
  return info->links > 0;
}

}  // namespace ucache::fcache_internal
