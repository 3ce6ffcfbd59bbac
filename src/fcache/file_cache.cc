#include "ucache/file_cache.h"

#include <xxhash.h>

#include <algorithm>
#include <limits>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include "src/fcache/compactor.h"
#include "src/fcache/file_handle.h"
#include "src/fcache/format.h"
#include "src/fcache/generation.h"
#include "src/fcache/lock_file.h"
#include "src/fcache/record.h"

namespace ucache {

using fcache_internal::CompactionPlan;
using fcache_internal::FileHandle;
using fcache_internal::Generation;
using fcache_internal::IndexHeader;
using fcache_internal::LoadShared;
using fcache_internal::LockFile;
using fcache_internal::RecordView;
using fcache_internal::WriterLock;

namespace {

// A read retries when the generation it holds was replaced; each retry
// means another handle published one meanwhile. A process compacting in a
// loop publishes one every few milliseconds, and 8 attempts were seen to run
// out under it in the soak: leave room for dozens in a row.
constexpr int kReadAttempts = 64;

uint64_t KeyTag(std::string_view key) {
  return fcache_internal::TagOf(XXH3_64bits(key.data(), key.size()));
}

// Creates `dir` and its missing parents, each with mode 0700.
Status CreateDirs(Env& env, const std::string& dir) {
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos == dir.size() || dir[pos] == '/') {
      Status s = env.CreateDir(dir.substr(0, pos));
      if (!s.ok()) return s;
    }
  }
  return Status::OK();
}

// Checks that `dir` may hold our store: a real directory (not a symlink)
// owned by us, and either empty or already a store.
Status CheckStoreDir(Env& env, const std::string& dir,
                     const FileCacheOptions& options) {
  Result<FileInfo> info = env.StatPath(dir);
  if (!info.ok() && options.create_if_missing && !options.read_only) {
    Status s = CreateDirs(env, dir);
    if (!s.ok()) return s.WithContext("creating the store directory");
    info = env.StatPath(dir);
  }
  if (!info.ok()) {
    return Status::NotFound(dir + ": no store here (the directory is missing)");
  }
  if (info->is_symlink) {
    return Status::PermissionDenied(
        dir + ": is a symlink; open the store by its real path");
  }
  if (!info->is_directory) {
    return Status::NotAStore(dir + ": not a directory");
  }
  if (info->owner != env.CurrentUser()) {
    return Status::PermissionDenied(
        dir + ": owned by user " + std::to_string(info->owner) +
        ", not by this process's user " + std::to_string(env.CurrentUser()));
  }
  Result<std::vector<std::string>> names = env.ListDir(dir);
  if (!names.ok()) return names.status();
  bool ours = false;
  for (const std::string& name : *names) {
    uint64_t id;
    if (name == fcache_internal::kIndexFileName ||
        name == fcache_internal::kLockFileName ||
        fcache_internal::ParseLogFileName(name, &id)) {
      ours = true;
    }
  }
  if (!names->empty() && !ours) {
    return Status::NotAStore(dir +
                             ": holds files but no ucache store; refusing to "
                             "write into it");
  }
  const bool has_index =
      std::find(names->begin(), names->end(),
                fcache_internal::kIndexFileName) != names->end();
  if (!has_index && (options.read_only || !options.create_if_missing)) {
    return Status::NotFound(dir + ": no store index here");
  }
  return Status::OK();
}

}  // namespace

class FileCache::Impl {
 public:
  Impl(std::string dir, const FileCacheOptions& options,
       std::shared_ptr<Env> env, std::unique_ptr<LockFile> lock_file,
       std::unique_ptr<Generation> gen)
      : dir_(std::move(dir)),
        options_(options),
        env_(std::move(env)),
        lock_file_(std::move(lock_file)),
        gen_(std::move(gen)) {}

  const std::string& dir() const { return dir_; }
  const std::shared_ptr<Env>& env() const { return env_; }

  Status Put(std::string_view key, std::string_view value,
             std::chrono::milliseconds ttl, uint64_t* version);
  Status Get(std::string_view key, std::string* value);
  Status GetView(std::string_view key, ValueView* view);
  bool Contains(std::string_view key);
  Result<uint64_t> Version(std::string_view key);
  uint64_t ChangeCount();
  Status Erase(std::string_view key);
  Status Clear();
  Status Sync();
  Status Compact(const std::function<void(uint64_t, uint64_t)>& progress);
  Status ForEachKey(const std::function<void(std::string_view)>& fn);
  Result<FileCacheStats> GetStats();
  Result<VerifyReport> Verify();

  // Opening: finds or builds the current generation, rewriting one of an
  // older format. `lock_file` is null for read-only handles.
  static Result<std::unique_ptr<Generation>> OpenGeneration(
      const std::shared_ptr<Env>& env, const std::string& dir,
      const FileCacheOptions& options, LockFile* lock_file);

 private:
  // The outcome of looking a key up under the shared lock.
  enum class Lookup { kFound, kMissing, kRetry };

  // Calls fn(gen, record) with the key's verified-in-bounds, unexpired put
  // record while holding mu_ shared. fn returns false when the record fails
  // verification, which counts it corrupt and reads as a miss.
  template <typename Fn>
  Status WithRecord(std::string_view key, Fn&& fn);
  Lookup FindLocked(const Generation& gen, std::string_view key,
                    RecordView* out);
  // Makes the current generation and mapping cover what other processes
  // committed. Takes mu_ exclusively when it must swap or remap.
  Status Refresh();
  void CountCorrupt();

  // Runs fn with the store's writers' mutex held and the generation current.
  template <typename Fn>
  Status Locked(Fn&& fn);
  Status CheckWritable() const;
  // Appends an encoded record for `key` and points the index at it (or, for
  // an erase, tombstones the key's slot). Writer lock held.
  Status AppendLocked(std::string_view key, const std::string& record,
                      bool erase);
  // Replaces the current generation by the outcome of `plan`. Writer lock
  // held, mu_ not held.
  Status CompactLocked(CompactionPlan plan);
  // True when dead bytes have passed the auto-compaction threshold.
  bool CompactionDue(const IndexHeader& h) const;
  void Install(std::unique_ptr<Generation> gen);

  // Constant after construction.
  const std::string dir_;
  const FileCacheOptions options_;
  const std::shared_ptr<Env> env_;
  // Mapped read-only for read-only handles (null when the store has none),
  // which use it for the change count alone.
  const std::unique_ptr<LockFile> lock_file_;

  // Held shared by every operation that touches gen_'s mappings; exclusive
  // to replace gen_ or remap its log.
  std::shared_mutex mu_;
  std::unique_ptr<Generation> gen_;  // guarded by mu_

  std::atomic<uint64_t> local_corrupt_{0};  // for read-only handles
  // ChangeCount without a lock file: a new number every call.
  std::atomic<uint64_t> unknown_changes_{0};
};

// ---- reading ---------------------------------------------------------------

FileCache::Impl::Lookup FileCache::Impl::FindLocked(const Generation& gen,
                                                    std::string_view key,
                                                    RecordView* out) {
  if (gen.index->superseded()) return Lookup::kRetry;
  const uint64_t log_end = LoadShared(gen.index->header().log_end);
  if (log_end > gen.log->readable()) {
    // Another process appended; take in what the file now holds.
    Result<bool> fits = gen.log->CatchUp();
    if (!fits.ok() || !*fits) return Lookup::kRetry;
  }
  bool found = false, retry = false;
  gen.index->Find(KeyTag(key), [&](uint64_t loc) {
    RecordView r;
    if (!gen.Parse(loc, &r)) {
      // Another process may have appended this record after we last looked
      // at the log's size: look again before calling it corrupt.
      Result<bool> fits = gen.log->CatchUp();
      if (!fits.ok() || !*fits) {
        retry = true;
        return true;
      }
      if (!gen.Parse(loc, &r)) {
        CountCorrupt();
        return false;
      }
    }
    if (r.key != key) return false;  // another key with the same hash
    *out = r;
    found = true;
    return true;
  });
  if (retry) return Lookup::kRetry;
  if (!found || out->header->kind != fcache_internal::kRecordPut)
    return Lookup::kMissing;
  const int64_t expires = out->header->expires_ms;
  if (expires != 0 && expires <= env_->NowMillis()) return Lookup::kMissing;
  return Lookup::kFound;
}

template <typename Fn>
Status FileCache::Impl::WithRecord(std::string_view key, Fn&& fn) {
  for (int attempt = 0; attempt < kReadAttempts; ++attempt) {
    {
      std::shared_lock lock(mu_);
      RecordView record;
      switch (FindLocked(*gen_, key, &record)) {
        case Lookup::kMissing:
          return Status::NotFound();
        case Lookup::kFound:
          if (fn(*gen_, record)) return Status::OK();
          CountCorrupt();
          return Status::NotFound();
        case Lookup::kRetry:
          break;
      }
    }
    Status s = Refresh();
    if (!s.ok()) return s;
  }
  return Status::Busy(dir_ + ": the store kept changing under this read");
}

Status FileCache::Impl::Refresh() {
  bool superseded;
  {
    std::shared_lock lock(mu_);
    superseded = gen_->index->superseded();
  }
  if (superseded) {
    // Opened without mu_ held, so that readers of this handle go on with
    // the old generation meanwhile instead of waiting for the system calls.
    Result<std::unique_ptr<Generation>> gen =
        fcache_internal::OpenCurrentGeneration(env_, dir_, !options_.read_only);
    if (!gen.ok()) return gen.status().WithContext("reopening " + dir_);
    // Another thread may have moved on already; the one not superseded is
    // current.
    std::unique_ptr<Generation> fresh = std::move(*gen);
    std::unique_lock lock(mu_);
    if (gen_->index->superseded()) gen_.swap(fresh);
    lock.unlock();
    fresh.reset();  // unmapping takes a while: not under mu_
    return Status::OK();
  }
  std::unique_lock lock(mu_);
  Result<bool> fits = gen_->log->CatchUp();
  if (!fits.ok()) return fits.status();
  return *fits ? Status::OK() : gen_->log->Remap();
}

void FileCache::Impl::CountCorrupt() {
  if (options_.read_only) {
    local_corrupt_.fetch_add(1, std::memory_order_relaxed);
  } else {
    fcache_internal::AddShared(gen_->index->header().corrupt_records, 1);
  }
}

Status FileCache::Impl::Get(std::string_view key, std::string* value) {
  return WithRecord(key, [&](const Generation&, const RecordView& record) {
    return fcache_internal::ReadValue(record, value);
  });
}

Status FileCache::Impl::GetView(std::string_view key, ValueView* view) {
  return WithRecord(key, [&](Generation& gen, const RecordView& record) {
    if (record.header->codec == fcache_internal::kCodecRaw) {
      if (!gen.ChecksumMatchesOnce(record)) return false;
      view->keep_alive_ = gen.log->mapping();
      view->data_ = record.stored;
      view->zero_copy_ = true;
    } else {
      auto owned = std::make_shared<std::string>();
      if (!fcache_internal::ReadValue(record, owned.get())) return false;
      view->data_ = *owned;
      view->keep_alive_ = std::move(owned);
      view->zero_copy_ = false;
    }
    view->version_ = record.header->checksum;
    view->expires_ms_ = record.header->expires_ms;
    return true;
  });
}

Result<uint64_t> FileCache::Impl::Version(std::string_view key) {
  uint64_t version = 0;
  // The checksum is not verified: a copy made from a verified read of the
  // record is as good as the record, and a damaged checksum reads as
  // another version, whose read fails verification.
  Status s = WithRecord(key, [&](const Generation&, const RecordView& record) {
    version = record.header->checksum;
    return true;
  });
  if (!s.ok()) return s;
  return version;
}

uint64_t FileCache::Impl::ChangeCount() {
  if (lock_file_ == nullptr) {
    return unknown_changes_.fetch_add(1, std::memory_order_relaxed);
  }
  return lock_file_->changes();
}

bool FileCache::Impl::Contains(std::string_view key) {
  return WithRecord(key,
                    [](Generation& gen, const RecordView& record) {
                      return gen.ChecksumMatchesOnce(record);
                    })
      .ok();
}

// ---- writing ---------------------------------------------------------------

Status FileCache::Impl::CheckWritable() const {
  if (options_.read_only) {
    return Status::InvalidArgument(dir_ + ": the store was opened read-only");
  }
  return Status::OK();
}

template <typename Fn>
Status FileCache::Impl::Locked(Fn&& fn) {
  Status s = CheckWritable();
  if (!s.ok()) return s;
  WriterLock lock(lock_file_.get());
  if (!lock.status().ok()) return lock.status().WithContext("locking " + dir_);
  bool stale;
  {
    std::shared_lock shared(mu_);
    // Superseded, or another process appended past what we have mapped.
    stale = gen_->index->superseded() ||
            gen_->ReadLimit() < LoadShared(gen_->index->header().log_end);
    if (!stale) {
      // A publisher that died between renaming its index over ours and
      // setting `superseded` (doc/format.md, section 6) left this handle on
      // a generation no one else reads: a write there would be lost, and a
      // compaction from it would replace files of the current generation.
      // Our index then has no name left; mark it for every handle on it.
      Result<bool> linked = gen_->index->Linked();
      if (!linked.ok()) return linked.status();
      if (!*linked) {
        fcache_internal::StoreShared(gen_->index->header().superseded, 1);
        stale = true;
      }
    }
  }
  if (stale) {
    s = Refresh();
    if (!s.ok()) return s;
  }
  return fn();
}

void FileCache::Impl::Install(std::unique_ptr<Generation> gen) {
  {
    std::unique_lock lock(mu_);
    gen_.swap(gen);
  }
  // A new generation is published by now; it may lack records the old one
  // had (a clear, an eviction, expired records dropped).
  lock_file_->CountChange();
  // `gen` now holds the old generation. Unmapping it can take milliseconds;
  // readers need not wait for that.
}

Status FileCache::Impl::CompactLocked(CompactionPlan plan) {
  plan.now_ms = env_->NowMillis();
  plan.sync = options_.sync_writes;
  Result<std::unique_ptr<Generation>> gen = [&] {
    std::shared_lock lock(mu_);
    return fcache_internal::Compact(env_, dir_, *gen_, plan);
  }();
  if (!gen.ok()) return gen.status().WithContext("compacting " + dir_);
  Install(std::move(*gen));
  return Status::OK();
}

bool FileCache::Impl::CompactionDue(const IndexHeader& h) const {
  const uint64_t end = LoadShared(h.log_end);
  return end >= options_.compaction_min_bytes &&
         static_cast<double>(LoadShared(h.dead_bytes)) >
             options_.compaction_dead_ratio * static_cast<double>(end);
}

Status FileCache::Impl::AppendLocked(std::string_view key,
                                     const std::string& record, bool erase) {
  const uint64_t tag = KeyTag(key);
  const uint64_t size = record.size();
  bool evicted = false, compaction_due = false;
  for (;;) {
    CompactionPlan plan;
    bool rewrite = false;
    uint64_t remap_to = 0;  // nonzero: the mappings must cover this first
    {
      std::shared_lock lock(mu_);
      Generation& gen = *gen_;
      IndexHeader& h = gen.index->header();
      const uint64_t log_end = LoadShared(h.log_end);
      const uint64_t used = LoadShared(h.live_slots) + LoadShared(h.tombstones);
      if (log_end > gen.log->readable() ||
          log_end < fcache_internal::kLogHeaderSize ||
          log_end % fcache_internal::kRecordAlign != 0) {
        // No checksum covers log_end: a power loss or a damaged header can
        // put it past the file (Locked() has caught up with the file's
        // size), into the log's header or off the record alignment.
        // Appending there would fail forever (EFBIG), leave a sparse hole or
        // overwrite the header, so copy the readable records into a new
        // generation first; it gets a true log_end.
        rewrite = true;
      } else if (options_.max_bytes != 0 &&
                 log_end + size + gen.index->file_bytes() >
                     options_.max_bytes) {
        const uint64_t target = options_.max_bytes / 4 * 3;
        // The rebuilt index may be larger than this one (it is sized for a
        // lower load), so budget for the larger of the two.
        // live_slots is a hint from the file: bound it by the slots that
        // exist before sizing anything by it.
        const uint64_t live =
            std::min(LoadShared(h.live_slots), gen.index->capacity());
        const uint64_t index_bytes = std::max(
            gen.index->file_bytes(), fcache_internal::IndexFileBytes(
                                         fcache_internal::CapacityFor(live)));
        const uint64_t overhead =
            fcache_internal::kLogHeaderSize + index_bytes + size;
        if (evicted || overhead >= target) {
          const std::string what = "a record of " + std::to_string(size) +
                                   " bytes does not fit in max_bytes=" +
                                   std::to_string(options_.max_bytes) + " of " +
                                   dir_;
          // Too large even for an empty store: a refusal of this value, not
          // a full store (a selector keeps writing other values).
          const uint64_t alone =
              fcache_internal::kLogHeaderSize +
              fcache_internal::IndexFileBytes(fcache_internal::CapacityFor(1)) +
              size;
          if (alone >= target) return Status::InvalidArgument(what);
          return Status::NoSpace(what);
        }
        plan.live_byte_budget = target - overhead;
        evicted = rewrite = true;
      } else if (static_cast<double>(used + 1) >
                 fcache_internal::kMaxLoad *
                     static_cast<double>(gen.index->capacity())) {
        // Growing the index alone is cheap; copy the log too when it is
        // mostly dead anyway.
        plan.copy_log = LoadShared(h.dead_bytes) * 2 > log_end;
        rewrite = true;
      }
      // Find the key's slot; a slot whose record cannot be read is reused.
      int64_t free_slot = -1, slot = -1;
      uint64_t old_size = 0, old_raw = 0, old_stored = 0;
      bool old_known = false;
      if (!rewrite) {
        slot = gen.index->Find(
            tag,
            [&](uint64_t loc) {
              RecordView r;
              if (!gen.Parse(loc, &r)) return true;
              if (r.key != key) return false;
              old_size = r.size;
              old_raw = r.header->value_len;
              old_stored = r.header->stored_len;
              old_known = true;
              return true;
            },
            &free_slot);
        if (erase && slot < 0) return Status::OK();
        if (slot < 0 && free_slot < 0) {
          // Only a damaged counter lets the table fill up; rebuild it.
          plan.copy_log = false;
          rewrite = true;
        }
      }
      if (!rewrite) {
        uint64_t max_size = std::numeric_limits<uint64_t>::max();
        if (options_.max_bytes != 0) {
          // Leave room for an index rebuild, which may double the index
          // beside this log.
          const uint64_t index_room = 2 * gen.index->file_bytes();
          max_size = options_.max_bytes > index_room
                         ? options_.max_bytes - index_room
                         : 0;
        }
        Result<bool> reserved = gen.log->Reserve(log_end, size, max_size);
        if (!reserved.ok()) {
          return reserved.status().WithContext("appending to " + dir_);
        }
        if (!*reserved) remap_to = log_end + size;
      }
      if (!rewrite && remap_to == 0) {
        gen.log->Store(log_end, record);
        if (options_.sync_writes) {
          Status s = gen.log->Sync();
          if (!s.ok()) return s.WithContext("appending to " + gen.log->path());
        }
        fcache_internal::StoreShared(h.log_end, log_end + size);

        auto add = [](uint64_t& word, int64_t delta) {
          fcache_internal::AddShared(word, delta);
        };
        if (old_known) {
          add(h.dead_bytes, static_cast<int64_t>(old_size));
          add(h.live_bytes, -static_cast<int64_t>(old_size));
          add(h.raw_value_bytes, -static_cast<int64_t>(old_raw));
          add(h.stored_value_bytes, -static_cast<int64_t>(old_stored));
        }
        if (erase) {
          // The erase record exists only for log scans; it is dead at once.
          fcache_internal::StoreShared(gen.index->slot(slot).tag,
                                       fcache_internal::kTombstoneTag);
          add(h.live_slots, -1);
          add(h.tombstones, 1);
          add(h.dead_bytes, static_cast<int64_t>(size));
        } else {
          const auto* rh =
              reinterpret_cast<const fcache_internal::RecordHeader*>(
                  record.data());
          if (slot >= 0) {
            fcache_internal::StoreShared(gen.index->slot(slot).loc, log_end);
          } else {
            if (LoadShared(gen.index->slot(free_slot).tag) ==
                fcache_internal::kTombstoneTag) {
              add(h.tombstones, -1);
            }
            gen.index->Fill(static_cast<uint64_t>(free_slot), tag, log_end);
            add(h.live_slots, 1);
          }
          add(h.live_bytes, static_cast<int64_t>(size));
          add(h.raw_value_bytes, rh->value_len);
          add(h.stored_value_bytes, rh->stored_len);
        }
        if (slot >= 0) {
          // The key's earlier version is replaced or erased: near caches of
          // it (cache.h) must look again.
          lock_file_->CountChange();
          // A damaged index can name one key from two slots. Readers serve
          // the first, which this write replaced or erased: a later one
          // would surface an older version, so it goes too.
          const auto same_key = [&](uint64_t loc) {
            RecordView r;  // (the record just written sits at log_end)
            return loc != log_end && gen.Parse(loc, &r) && r.key == key;
          };
          for (int64_t dup = gen.index->FindAfter(tag, slot, same_key);
               dup >= 0; dup = gen.index->FindAfter(tag, dup, same_key)) {
            fcache_internal::StoreShared(gen.index->slot(dup).tag,
                                         fcache_internal::kTombstoneTag);
            add(h.live_slots, -1);
            add(h.tombstones, 1);
          }
        }
        if (options_.sync_writes) {
          Status s = gen.index->Sync();
          if (!s.ok()) return s;
        }
        compaction_due = CompactionDue(h);
        break;
      }
    }
    if (remap_to != 0) {
      // The log, or this record, outgrew this handle's mappings.
      std::unique_lock lock(mu_);
      Status s = gen_->log->Remap(remap_to);
      if (!s.ok()) return s;
      continue;
    }
    Status s = CompactLocked(std::move(plan));
    if (!s.ok()) return s;
  }
  return compaction_due ? CompactLocked(CompactionPlan{}) : Status::OK();
}

Status FileCache::Impl::Put(std::string_view key, std::string_view value,
                            std::chrono::milliseconds ttl, uint64_t* version) {
  if (key.empty() || key.size() > kMaxKeyBytes) {
    return Status::InvalidArgument("key length " + std::to_string(key.size()) +
                                   " is outside 1.." +
                                   std::to_string(kMaxKeyBytes));
  }
  if (value.size() > kMaxValueBytes) {
    return Status::InvalidArgument("value of " + std::to_string(value.size()) +
                                   " bytes exceeds the limit of " +
                                   std::to_string(kMaxValueBytes));
  }
  if (ttl.count() < 0) return Status::InvalidArgument("negative ttl");
  if (ttl.count() == 0) ttl = options_.default_ttl;
  const int64_t expires = ttl.count() > 0 ? env_->NowMillis() + ttl.count() : 0;
  std::string record;
  fcache_internal::EncodeRecord(fcache_internal::kRecordPut, key, value,
                                expires, options_, &record);
  Status s = Locked([&] { return AppendLocked(key, record, /*erase=*/false); });
  if (s.ok() && version != nullptr) {
    *version =
        reinterpret_cast<const fcache_internal::RecordHeader*>(record.data())
            ->checksum;
  }
  return s;
}

Status FileCache::Impl::Erase(std::string_view key) {
  if (key.empty() || key.size() > kMaxKeyBytes) {
    return Status::InvalidArgument("bad key length");
  }
  std::string record;
  fcache_internal::EncodeRecord(fcache_internal::kRecordErase, key, {}, 0,
                                options_, &record);
  return Locked([&] { return AppendLocked(key, record, /*erase=*/true); });
}

Status FileCache::Impl::Clear() {
  return Locked([&]() -> Status {
    Result<std::unique_ptr<Generation>> gen = [&] {
      std::shared_lock lock(mu_);
      return fcache_internal::PublishEmpty(
          env_, dir_, gen_->log->id() + 1, gen_->index->generation() + 1,
          fcache_internal::CountersOf(gen_->index->header()), gen_.get(),
          options_.sync_writes);
    }();
    if (!gen.ok()) return gen.status().WithContext("clearing " + dir_);
    Install(std::move(*gen));
    return Status::OK();
  });
}

Status FileCache::Impl::Compact(
    const std::function<void(uint64_t, uint64_t)>& progress) {
  return Locked([&] {
    CompactionPlan plan;
    plan.progress = progress;
    return CompactLocked(std::move(plan));
  });
}

Status FileCache::Impl::Sync() {
  if (options_.read_only) return Status::OK();
  std::shared_lock lock(mu_);
  Status s = gen_->log->Sync();
  if (s.ok()) s = gen_->index->Sync();
  return s;
}

// ---- inspecting ------------------------------------------------------------

Status FileCache::Impl::ForEachKey(
    const std::function<void(std::string_view)>& fn) {
  Status s = Refresh();
  if (!s.ok()) return s;
  // Keys are copied out first so that fn may call back into this handle.
  std::vector<std::string> keys;
  {
    std::shared_lock lock(mu_);
    const Generation& gen = *gen_;
    const int64_t now = env_->NowMillis();
    gen.index->ForEachLiveSlot([&](uint64_t, uint64_t loc) {
      RecordView r;
      if (gen.Parse(loc, &r) && r.header->kind == fcache_internal::kRecordPut &&
          fcache_internal::ChecksumMatches(r) &&
          (r.header->expires_ms == 0 || r.header->expires_ms > now)) {
        keys.emplace_back(r.key);
      }
    });
  }
  for (const std::string& key : keys) fn(key);
  return Status::OK();
}

Result<FileCacheStats> FileCache::Impl::GetStats() {
  Status s = Refresh();
  if (!s.ok()) return s;
  std::shared_lock lock(mu_);
  const IndexHeader& h = gen_->index->header();
  FileCacheStats st;
  st.entries = LoadShared(h.live_slots);
  st.live_bytes = LoadShared(h.live_bytes);
  st.raw_value_bytes = LoadShared(h.raw_value_bytes);
  st.stored_value_bytes = LoadShared(h.stored_value_bytes);
  st.dead_bytes = LoadShared(h.dead_bytes);
  st.evictions = LoadShared(h.evictions);
  st.expired_dropped = LoadShared(h.expired_dropped);
  st.corrupt_records = LoadShared(h.corrupt_records) +
                       local_corrupt_.load(std::memory_order_relaxed);
  st.compactions = LoadShared(h.compactions);
  st.generation = gen_->index->generation();
  st.file_bytes = gen_->log->readable() + gen_->index->file_bytes();
  return st;
}

Result<VerifyReport> FileCache::Impl::Verify() {
  Status s = Refresh();
  if (!s.ok()) return s;
  std::shared_lock lock(mu_);
  const Generation& gen = *gen_;
  VerifyReport report;
  const uint64_t limit = gen.ReadLimit();
  const uint64_t log_end = LoadShared(gen.index->header().log_end);
  uint64_t pos = fcache_internal::kLogHeaderSize;
  RecordView r;
  while (pos < limit) {
    if (!fcache_internal::ParseRecord(gen.log->data(), limit, pos, &r)) break;
    ++report.records_checked;
    if (!fcache_internal::ChecksumMatches(r)) ++report.corrupt_records;
    pos += r.size;  // lengths passed the bounds checks, so we can step on
  }
  // Bytes the index claims are committed but that do not parse (or that the
  // file no longer holds).
  report.unreadable_bytes = log_end > pos ? log_end - pos : 0;
  gen.index->ForEachLiveSlot([&](uint64_t tag, uint64_t loc) {
    ++report.index_entries;
    if (!gen.Parse(loc, &r) || r.header->kind != fcache_internal::kRecordPut ||
        KeyTag(r.key) != tag || !fcache_internal::ChecksumMatches(r)) {
      ++report.bad_index_entries;
    }
  });
  return report;
}

// ---- opening ---------------------------------------------------------------

Result<std::unique_ptr<Generation>> FileCache::Impl::OpenGeneration(
    const std::shared_ptr<Env>& env, const std::string& dir,
    const FileCacheOptions& options, LockFile* lock_file) {
  Result<std::unique_ptr<Generation>> gen =
      fcache_internal::OpenCurrentGeneration(env, dir, !options.read_only);
  if (options.read_only) {
    if (gen.status().IsNotFound()) {
      return Status::NotFound(dir + ": no store index here");
    }
    return gen;
  }
  const Status::Code code = gen.status().code();
  if (!gen.ok() && code != Status::Code::kNotFound &&
      code != Status::Code::kCorruption) {
    return gen;
  }
  auto current_format = [](const Generation& g) {
    return g.index->format_version() == fcache_internal::kFormatVersion &&
           g.log->format_version() == fcache_internal::kFormatVersion;
  };
  if (gen.ok() && current_format(**gen)) {
    // Tidy leftovers of crashed publications, unless a writer is busy.
    WriterLock lock(lock_file, LockMode::kExclusiveTry);
    if (lock.status().ok()) {
      env->Remove(dir + "/" + fcache_internal::kIndexTempName);
      Result<std::vector<std::string>> names = env->ListDir(dir);
      if (names.ok() && !(*gen)->index->superseded()) {
        for (const std::string& name : *names) {
          uint64_t id;
          if (fcache_internal::ParseLogFileName(name, &id) &&
              id != (*gen)->log->id()) {
            env->Remove(dir + "/" + name);
          }
        }
      }
    }
    return gen;
  }
  WriterLock lock(lock_file);
  if (!lock.status().ok()) return lock.status().WithContext("locking " + dir);
  // Another process may have recovered or rewritten the store while we
  // waited for the lock.
  gen = fcache_internal::OpenCurrentGeneration(env, dir, true);
  const Status::Code again = gen.status().code();
  if (again == Status::Code::kNotFound || again == Status::Code::kCorruption) {
    // No index, or a damaged one: build one. It may lack records that
    // other processes copied into their near caches.
    Result<std::unique_ptr<Generation>> recovered =
        fcache_internal::Recover(env, dir, env->NowMillis());
    if (recovered.ok()) lock_file->CountChange();
    return recovered;
  }
  if (!gen.ok() || current_format(**gen)) return gen;
  // Written by an older ucache, whose writers the lock file's shared flock
  // now keeps out: copy it into files of this version, which those writers
  // refuse to open.
  CompactionPlan plan;
  plan.now_ms = env->NowMillis();
  plan.sync = options.sync_writes;
  return fcache_internal::Compact(env, dir, **gen, plan);
}

Result<std::unique_ptr<FileCache>> FileCache::Open(
    const std::string& dir, const FileCacheOptions& options) {
  if (dir.empty()) return Status::InvalidArgument("empty store directory");
  std::shared_ptr<Env> env = options.env ? options.env : NewPosixEnv();
  Status s = CheckStoreDir(*env, dir, options);
  if (!s.ok()) return s;
  std::unique_ptr<LockFile> lock_file;
  if (!options.read_only) {
    Result<std::unique_ptr<LockFile>> f = LockFile::Open(env, dir);
    if (!f.ok()) return f.status();
    lock_file = std::move(*f);
  } else if (Result<std::unique_ptr<LockFile>> f =
                 LockFile::OpenReadOnly(env, dir);
             f.ok()) {
    // Without it, ChangeCount says "changed" on every call.
    lock_file = std::move(*f);
  }
  Result<std::unique_ptr<Generation>> gen =
      Impl::OpenGeneration(env, dir, options, lock_file.get());
  if (!gen.ok()) return gen.status();
  return std::unique_ptr<FileCache>(new FileCache(std::make_unique<Impl>(
      dir, options, std::move(env), std::move(lock_file), std::move(*gen))));
}

// ---- forwarding ------------------------------------------------------------

FileCache::FileCache(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FileCache::~FileCache() = default;

Status FileCache::Put(std::string_view key, std::string_view value,
                      std::chrono::milliseconds ttl) {
  return impl_->Put(key, value, ttl, nullptr);
}
Status FileCache::Put(std::string_view key, std::string_view value,
                      std::chrono::milliseconds ttl, uint64_t* version) {
  return impl_->Put(key, value, ttl, version);
}
Status FileCache::Get(std::string_view key, std::string* value) {
  return impl_->Get(key, value);
}
Status FileCache::GetView(std::string_view key, ValueView* view) {
  return impl_->GetView(key, view);
}
bool FileCache::Contains(std::string_view key) { return impl_->Contains(key); }
Result<uint64_t> FileCache::Version(std::string_view key) {
  return impl_->Version(key);
}
uint64_t FileCache::ChangeCount() { return impl_->ChangeCount(); }
Status FileCache::Erase(std::string_view key) { return impl_->Erase(key); }
Status FileCache::Clear() { return impl_->Clear(); }
Status FileCache::Sync() { return impl_->Sync(); }
Status FileCache::Compact(
    const std::function<void(uint64_t, uint64_t)>& progress) {
  return impl_->Compact(progress);
}
Status FileCache::ForEachKey(
    const std::function<void(std::string_view key)>& fn) {
  return impl_->ForEachKey(fn);
}
Result<FileCacheStats> FileCache::GetStats() { return impl_->GetStats(); }
Result<VerifyReport> FileCache::Verify() { return impl_->Verify(); }

Result<KeyLock> FileCache::LockKey(std::string_view key) {
  // A descriptor of its own per lock: OFD locks exclude each other only
  // between open file descriptions, and that is what makes two threads of
  // one process wait for each other too.
  Env* env = impl_->env().get();
  Result<FileHandle> file =
      FileHandle::Open(env, impl_->dir() + "/" + fcache_internal::kLockFileName,
                       OpenMode::kReadWrite);
  if (!file.ok()) return file.status();
  const uint64_t offset = XXH3_64bits(key.data(), key.size()) >> 2;
  if (Status s = env->LockByte(file->fd(), offset, LockMode::kExclusiveWait);
      !s.ok()) {
    return s;
  }
  return KeyLock(impl_->env(), file->Release(), offset);
}
const std::string& FileCache::dir() const { return impl_->dir(); }

bool IsStore(const std::string& dir) {
  std::shared_ptr<Env> env = NewPosixEnv();
  Result<FileInfo> info =
      env->StatPath(dir + "/" + fcache_internal::kIndexFileName);
  return info.ok() && info->is_regular;
}

}  // namespace ucache
