// LogFile: one generation's append-only log of records, read through a
// shared read-only mapping. Appends are copied through a second, writable
// mapping into file space reserved beforehand, in chunks, by writing zeros
// with Env::Write, so that an append costs no system call and a full disk
// is an error from that write, never a SIGBUS from a store into the mapping.
// Compaction writes its new log with Env::Write. Committed bytes are never
// rewritten; compaction writes a new log and the old one is unlinked, never
// truncated, so mappings held by other processes stay valid.

#ifndef UCACHE_SRC_FCACHE_LOG_FILE_H_
#define UCACHE_SRC_FCACHE_LOG_FILE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "src/fcache/file_handle.h"
#include "src/fcache/format.h"
#include "src/fcache/mapping.h"
#include "ucache/env.h"

namespace ucache::fcache_internal {

class LogFile {
 public:
  // Creates dir/log.<log_id> holding just its header, replacing a leftover
  // file of that name.
  static Result<std::unique_ptr<LogFile>> Create(std::shared_ptr<Env> env,
                                                 const std::string& dir,
                                                 uint64_t log_id);
  // Opens an existing log and checks its header.
  static Result<std::unique_ptr<LogFile>> Open(std::shared_ptr<Env> env,
                                               const std::string& dir,
                                               uint64_t log_id, bool writable);

  uint64_t id() const { return id_; }
  const std::string& path() const { return path_; }
  int fd() const { return file_.fd(); }
  // The version in the log's prelude (checked when it was opened).
  uint32_t format_version() const {
    return reinterpret_cast<const FilePrelude*>(data())->version;
  }

  // Bytes [0, readable()) of data() may be read. data() and mapping() change
  // only in Remap(); readable() only grows.
  const uint8_t* data() const { return map_->data(); }
  uint64_t readable() const {
    return readable_.load(std::memory_order_acquire);
  }
  const std::shared_ptr<Mapping>& mapping() const { return map_; }
  // Bytes the current mapping covers (the file may be shorter).
  uint64_t mapped() const { return map_->length(); }

  // Hints that bytes [offset, offset + n), below readable(), are about to
  // be read whole (Env::WillRead).
  void WillRead(uint64_t offset, uint64_t n) const {
    env_->WillRead(data() + offset, n);
  }

  // Makes [0, end) readable if the current mapping covers it and the file
  // holds it (the caller knows it wrote those bytes, or re-reads the size).
  // False when a Remap() is needed first. Safe beside concurrent readers.
  bool ExtendReadable(uint64_t end);
  // Re-reads the file's size and extends readable() to it. Returns false
  // when the file outgrew the mapping and a Remap() is needed.
  Result<bool> CatchUp();
  // Maps the file afresh, large enough for its current size, or for
  // `min_length` bytes if more, with room to grow. Callers must exclude
  // every reader of data() while it runs; the old mapping lives on while
  // views hold it.
  Status Remap(uint64_t min_length = 0);

  // Writes `bytes` at `offset` with Env::Write.
  Status Write(uint64_t offset, std::string_view bytes);

  // Makes [offset, offset + n) ready for Store(): reserves file space for
  // it unless the file holds it already (then allocates the blocks, should
  // they be a hole), in chunks that grow with the log but never take the
  // file past `max_size` (nor less than offset + n).
  // False when the mapping must grow first: Remap(offset + n), then try
  // again. Only
  // the holder of the store's writers' mutex calls it; readers may run.
  Result<bool> Reserve(uint64_t offset, uint64_t n, uint64_t max_size);
  // Copies `bytes` to `offset` through the writable mapping. The range must
  // have been reserved; stores there cannot fault.
  void Store(uint64_t offset, std::string_view bytes);
  // Writes `bytes` at `offset` (at most the file's size) with Env::Write,
  // without a Reserve() first, and makes them readable: for records large
  // enough that reserving their space with zeros and then storing them
  // would copy them twice. The mapping must cover the range. A full disk is
  // an error, never a fault. Only the holder of the writers' mutex calls it.
  Status Append(uint64_t offset, std::string_view bytes);

  Status Sync();

  // The first offset at or after `offset` that holds data rather than a
  // hole, or the file's size (Env::NextData): for scans that must not read
  // terabytes of a forged sparse log.
  Result<uint64_t> NextData(uint64_t offset) const;

 private:
  LogFile(std::shared_ptr<Env> env, std::string path, uint64_t id,
          FileHandle file, bool writable)
      : env_(std::move(env)),
        path_(std::move(path)),
        id_(id),
        file_(std::move(file)),
        writable_(writable) {}

  // Constant after construction.
  const std::shared_ptr<Env> env_;
  const std::string path_;
  const uint64_t id_;
  const FileHandle file_;
  const bool writable_;

  // Replaced only by Remap(), under the caller's exclusion.
  std::shared_ptr<Mapping> map_;
  std::atomic<uint64_t> readable_{0};
  // The writers' mapping, as long as map_; null until the first Reserve(),
  // which creates it under the writers' mutex. Readers never touch it.
  std::shared_ptr<Mapping> write_map_;
  // Reserve() has made sure that the blocks of the file from the first
  // append offset it saw up to here are allocated. Guarded by the store's
  // writers' mutex.
  uint64_t allocated_ = 0;
};

}  // namespace ucache::fcache_internal

#endif  // UCACHE_SRC_FCACHE_LOG_FILE_H_
