// IndexFile: one generation's hash index, a fixed-size open-addressing table
// in a shared mapping. One writer (holding the store's lock) mutates it in
// place while any number of processes read it without locks; every store is
// a single aligned 8-byte word, ordered so that a reader sees either the old
// or the new state of a slot, and every slot a reader follows is checked
// against the record it names. The file is fully allocated when created, so
// stores through the mapping never need new disk blocks (no SIGBUS on a full
// disk).

#ifndef UCACHE_SRC_FCACHE_INDEX_FILE_H_
#define UCACHE_SRC_FCACHE_INDEX_FILE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "src/fcache/file_handle.h"
#include "src/fcache/format.h"
#include "src/fcache/mapping.h"
#include "ucache/env.h"

namespace ucache::fcache_internal {

class IndexFile {
 public:
  // Creates `path` (replacing a leftover) with `capacity` empty slots, a
  // power of two. The counters start at zero, log_end at the log's header.
  static Result<std::unique_ptr<IndexFile>> Create(std::shared_ptr<Env> env,
                                                   const std::string& path,
                                                   uint64_t capacity,
                                                   uint64_t generation,
                                                   uint64_t log_id);
  // Opens an existing index, checking its header and size. NotFound when
  // the file is missing.
  static Result<std::unique_ptr<IndexFile>> Open(std::shared_ptr<Env> env,
                                                 const std::string& path,
                                                 bool writable);

  IndexHeader& header() const {
    return *reinterpret_cast<IndexHeader*>(map_->data());
  }
  Slot& slot(uint64_t i) const {
    return reinterpret_cast<Slot*>(map_->data() + kIndexHeaderSize)[i];
  }
  uint64_t capacity() const { return capacity_; }
  uint64_t generation() const { return header().prelude.id; }
  uint32_t format_version() const { return header().prelude.version; }
  uint64_t log_id() const { return header().prelude.log_id; }
  uint64_t file_bytes() const { return IndexFileBytes(capacity_); }
  bool superseded() const { return LoadShared(header().superseded) != 0; }
  Status Sync();
  // False once the file has no name left: a publisher renamed a newer index
  // over it (and may have died before setting `superseded`).
  Result<bool> Linked() const;

  // Visits the slots carrying `tag` in probe order, calling match(loc) on
  // each; stops at the first that returns true and returns its slot number.
  // Returns -1 if none matches. When `free_slot` is given it receives the
  // first empty or tombstone slot passed on the way (or -1).
  template <typename Match>
  int64_t Find(uint64_t tag, Match&& match,
               int64_t* free_slot = nullptr) const {
    return Probe(tag, tag & (capacity_ - 1), capacity_, match, free_slot);
  }
  // Like Find, from the slot after `after` (a slot of `tag`'s probe chain)
  // to the end of the chain.
  template <typename Match>
  int64_t FindAfter(uint64_t tag, uint64_t after, Match&& match) const {
    return Probe(tag, (after + 1) & (capacity_ - 1), capacity_ - 1, match,
                 nullptr);
  }

  // Calls fn(tag, loc) for every slot that names a record, in slot order.
  template <typename Fn>
  void ForEachLiveSlot(Fn&& fn) const {
    for (uint64_t i = 0; i < capacity_; ++i) {
      const uint64_t tag = LoadShared(slot(i).tag);
      if (tag != kEmptyTag && tag != kTombstoneTag) {
        fn(tag, LoadShared(slot(i).loc));
      }
    }
  }

  // Points slot `i` at a record: `loc` first, then the tag, so a reader
  // that sees the tag sees a loc written for it (or a later one, which it
  // checks against the record's key).
  void Fill(uint64_t i, uint64_t tag, uint64_t loc) const {
    StoreShared(slot(i).loc, loc);
    StoreShared(slot(i).tag, tag);
  }

 private:
  // Walks at most `steps` slots from `start`, as Find describes.
  template <typename Match>
  int64_t Probe(uint64_t tag, uint64_t start, uint64_t steps, Match& match,
                int64_t* free_slot) const;

  IndexFile(std::shared_ptr<Env> env, FileHandle file,
            std::shared_ptr<Mapping> map, uint64_t capacity)
      : env_(std::move(env)),
        file_(std::move(file)),
        map_(std::move(map)),
        capacity_(capacity) {}

  // Constant after construction.
  const std::shared_ptr<Env> env_;
  const FileHandle file_;
  const std::shared_ptr<Mapping> map_;
  const uint64_t capacity_;
};

template <typename Match>
int64_t IndexFile::Probe(uint64_t tag, uint64_t start, uint64_t steps,
                         Match& match, int64_t* free_slot) const {
  const uint64_t mask = capacity_ - 1;
  if (free_slot != nullptr) *free_slot = -1;
  for (uint64_t n = 0, i = start; n < steps; ++n, i = (i + 1) & mask) {
    const uint64_t t = LoadShared(slot(i).tag);
    if (t == kEmptyTag) {
      if (free_slot != nullptr && *free_slot < 0)
        *free_slot = static_cast<int64_t>(i);
      return -1;
    }
    if (t == kTombstoneTag) {
      if (free_slot != nullptr && *free_slot < 0)
        *free_slot = static_cast<int64_t>(i);
      continue;
    }
    if (t == tag && match(LoadShared(slot(i).loc)))
      return static_cast<int64_t>(i);
  }
  return -1;
}

}  // namespace ucache::fcache_internal

#endif  // UCACHE_SRC_FCACHE_INDEX_FILE_H_
