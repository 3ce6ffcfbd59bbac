#include "ucache/file_cache.h"

#include <sys/stat.h>
#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include "src/common/expiry.h"
#include "src/fcache/compactor.h"
#include "src/fcache/file_handle.h"
#include "src/fcache/format.h"
#include "src/fcache/generation.h"
#include "src/fcache/lock_file.h"
#include "src/fcache/record.h"
#include "src/fcache/writer.h"

namespace ucache {

using fcache_internal::AppendPrep;
using fcache_internal::CompactionPlan;
using fcache_internal::EncodedRecord;
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

// "0777", "1777": how chmod and ls -l users read a mode.
std::string OctalMode(uint32_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Checks that `dir` may hold our store: a real directory (not a symlink)
// owned by us and not writable by everyone, and either empty or already a
// store.
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
  if (info->mode & S_IWOTH) {
    // Anyone may then rename files over the store's, plant logs or remove
    // them (the sticky bit stops only the last). Store files of other users
    // are refused anyway (FileHandle::Open); this says so before any is.
    return Status::PermissionDenied(
        dir + ": writable by every user (mode " + OctalMode(info->mode) +
        "), who could replace the store's files; chmod o-w it");
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
  // Read-only, no index yet is a store being created (see OpenGeneration).
  if (!has_index && !options.read_only && !options.create_if_missing) {
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

  // Removes what crashed publications left (index.tmp, logs no current
  // index names), unless a writer is busy. Writable handles, after opening.
  void Tidy();

  const std::string& dir() const { return dir_; }
  const std::shared_ptr<Env>& env() const { return env_; }

  Status Put(std::string_view key, std::string_view value,
             std::chrono::milliseconds ttl, uint64_t* version);
  Status Get(std::string_view key, std::string* value);
  Status GetView(std::string_view key, ValueView* view);
  bool Contains(std::string_view key);
  Result<uint64_t> Version(std::string_view key);
  // The lock file's counters (FileCache::ChangeCount), or null without one.
  const uint64_t* ChangesWord() const {
    return lock_file_ != nullptr ? lock_file_->changes_word() : nullptr;
  }
  const uint64_t* WritesWord() const {
    return lock_file_ != nullptr ? lock_file_->writes_word() : nullptr;
  }
  uint64_t NewUnknownCount() {
    return unknown_changes_.fetch_add(1, std::memory_order_relaxed);
  }
  Status Erase(std::string_view key);
  Status Clear();
  Status Sync();
  Status Compact(const std::function<void(uint64_t, uint64_t)>& progress);
  Status ForEachKey(const std::function<void(std::string_view)>& fn);
  Result<FileCacheStats> GetStats();
  Result<VerifyReport> Verify();
  Status MaintenanceStatus();

  // Opening: finds or builds the current generation, rewriting one of an
  // older format. `lock_file` is null for read-only handles, whose
  // generation is null while the store has no index yet.
  static Result<std::unique_ptr<Generation>> OpenGeneration(
      const std::shared_ptr<Env>& env, const std::string& dir,
      const FileCacheOptions& options, LockFile* lock_file);

 private:
  // The outcome of looking a key up under the shared lock.
  enum class Lookup { kFound, kMissing, kRetry, kNoStore };

  // Calls fn(gen, record) with the key's verified-in-bounds, unexpired put
  // record while holding mu_ shared. fn returns false when the record fails
  // verification, which counts it corrupt and reads as a miss.
  template <typename Fn>
  Status WithRecord(std::string_view key, Fn&& fn);
  Lookup FindLocked(Generation& gen, std::string_view key, RecordView* out);
  // Makes the current generation and mapping cover what other processes
  // committed. Takes mu_ exclusively when it must swap or remap. A writable
  // handle that finds the current index missing or damaged rebuilds it, as
  // Open would, taking the writers' mutex unless `writer_locked` says the
  // caller holds it.
  Status Refresh(bool writer_locked = false);
  // Installs the current generation, recovering the store first when its
  // index is missing or damaged. Writer lock held.
  Status RecoverLocked();
  void CountCorrupt();

  // Runs fn with the store's writers' mutex held, the generation current,
  // its mapping covering log_end and the publication record settled.
  // With kExclusiveTry, Busy when another writer holds the mutex.
  template <typename Fn>
  Status Locked(Fn&& fn, LockMode mode = LockMode::kExclusiveWait);
  // Makes gen_ current and caught up with log_end. Writer lock held.
  Status MakeCurrentLocked();
  Status CheckWritable() const;
  // Appends an encoded record for `key` (of tag `tag`) and points the index
  // at it (or, for an erase, tombstones the key's slot); OK once it
  // committed. Sets *compaction_due when the store should be compacted now.
  // Writer lock held.
  Status AppendLocked(std::string_view key, uint64_t tag,
                      const EncodedRecord& record, bool erase,
                      bool* compaction_due);
  // An erase with no room for its record must happen all the same, or a
  // selector that could not write a newer value would leave the older one
  // readable to every process: tombstones the key's slot in `gen` without a
  // record (EraseWithoutRecord); with sync_writes, an error when it could
  // not be made durable. Writer lock and mu_ held.
  Status EraseInPlace(Generation& gen, std::string_view key, uint64_t tag);
  // Appends under the writers' mutex, then runs the compaction the append
  // made due as maintenance: its failure does not undo the commit, and is
  // kept for MaintenanceStatus() instead of being returned.
  Status Write(std::string_view key, const EncodedRecord& record, bool erase);
  // Replaces the current generation by the outcome of `plan`. Writer lock
  // held, mu_ not held.
  Status CompactLocked(CompactionPlan plan);
  // True when dead bytes have passed the auto-compaction threshold.
  bool CompactionDue(const IndexHeader& h) const;
  void Install(std::unique_ptr<Generation> gen);
  // Keeps a generation this handle replaced while holding the writers'
  // mutex until DropRetired, called once the mutex is released: unmapping
  // it, and closing the last handle of its unlinked log (which frees the
  // log's page cache), take milliseconds that other writers need not wait
  // for.
  void Retire(std::unique_ptr<Generation> gen);
  void DropRetired();

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
  // Guarded by mu_. Null only in a read-only handle opened on a store being
  // created (no index yet), until a call finds its first generation: such
  // a handle reads as an empty store meanwhile.
  std::unique_ptr<Generation> gen_;

  std::atomic<uint64_t> local_corrupt_{0};  // for read-only handles

  std::mutex retired_mu_;
  std::vector<std::unique_ptr<Generation>> retired_;  // guarded by retired_mu_

  std::mutex maintenance_mu_;
  Status maintenance_status_;  // guarded by maintenance_mu_
  std::atomic<uint64_t> maintenance_failures_{0};
  // ChangeCount and WriteCount without a lock file.
  std::atomic<uint64_t> unknown_changes_{0};
};

// ---- reading ---------------------------------------------------------------

FileCache::Impl::Lookup FileCache::Impl::FindLocked(Generation& gen,
                                                    std::string_view key,
                                                    RecordView* out) {
  Result<bool> current = gen.Current(lock_file_.get(), !options_.read_only);
  if (!current.ok() || !*current) return Lookup::kRetry;
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
      switch (gen_ ? FindLocked(*gen_, key, &record) : Lookup::kNoStore) {
        case Lookup::kNoStore:
          // Still none after a Refresh: an empty store.
          if (attempt > 0) return Status::NotFound();
          break;
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

Status FileCache::Impl::RecoverLocked() {
  // Another process may have recovered the store meanwhile.
  Result<std::unique_ptr<Generation>> gen =
      fcache_internal::OpenCurrentGeneration(env_, dir_, true);
  if (gen.status().IsNotFound() || gen.status().IsCorruption()) {
    gen = fcache_internal::Recover(env_, dir_, *lock_file_, env_->NowMillis());
  }
  if (!gen.ok()) return gen.status().WithContext("recovering " + dir_);
  Install(std::move(*gen));
  return Status::OK();
}

Status FileCache::Impl::Refresh(bool writer_locked) {
  bool replaced, none;
  {
    std::shared_lock lock(mu_);
    // A read-only handle of a store being created has no generation yet.
    none = gen_ == nullptr;
    Result<bool> current =
        none ? false : gen_->Current(lock_file_.get(), !options_.read_only);
    if (!current.ok()) return current.status();
    replaced = !*current;
  }
  if (replaced) {
    // Opened without mu_ held, so that readers of this handle go on with
    // the old generation meanwhile instead of waiting for the system calls.
    Result<std::unique_ptr<Generation>> gen =
        fcache_internal::OpenCurrentGeneration(env_, dir_, !options_.read_only);
    // A store being created has no index yet; it is empty until it has.
    if (none && gen.status().IsNotFound()) return Status::OK();
    const bool damaged =
        gen.status().IsNotFound() || gen.status().IsCorruption();
    if (damaged && !options_.read_only) {
      if (writer_locked) return RecoverLocked();
      Status s = [&] {
        WriterLock lock(lock_file_.get());
        if (!lock.status().ok()) {
          return lock.status().WithContext("locking " + dir_);
        }
        return RecoverLocked();
      }();
      DropRetired();
      return s;
    }
    if (!gen.ok()) return gen.status().WithContext("reopening " + dir_);
    // Another thread may have moved on already; the one not superseded is
    // current.
    std::unique_ptr<Generation> fresh = std::move(*gen);
    std::unique_lock lock(mu_);
    if (gen_ == nullptr || gen_->Replaced()) gen_.swap(fresh);
    lock.unlock();
    // Unmapping takes a while: not under mu_, nor the writers' mutex.
    if (writer_locked) {
      Retire(std::move(fresh));
    } else {
      fresh.reset();
    }
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
  return WithRecord(key, [&](Generation& gen, const RecordView& record) {
    return gen.ReadValueOnce(record, value);
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
      if (!gen.ReadValueOnce(record, owned.get())) return false;
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

Status FileCache::Impl::MakeCurrentLocked() {
  // Under the mutex nobody publishes, so one refresh makes gen_ current; a
  // second pass covers a log that grew past the new mapping meanwhile.
  for (int attempt = 0; attempt < 3; ++attempt) {
    bool stale;
    {
      std::shared_lock shared(mu_);
      // Both checks, always: a handle behind on the log may also be on an
      // index that a publisher killed after its rename left unmarked.
      Result<bool> current = gen_->Current(lock_file_.get(), true);
      if (!current.ok()) return current.status();
      stale = !*current ||
              gen_->ReadLimit() < LoadShared(gen_->index->header().log_end);
    }
    if (!stale) return Status::OK();
    Status s = Refresh(/*writer_locked=*/true);
    if (!s.ok()) return s;
  }
  return Status::OK();  // still behind: the append path rewrites a bad log_end
}

template <typename Fn>
Status FileCache::Impl::Locked(Fn&& fn, LockMode mode) {
  Status s = CheckWritable();
  if (!s.ok()) return s;
  s = [&] {
    WriterLock lock(lock_file_.get(), mode);
    if (!lock.status().ok()) {
      return lock.status().WithContext("locking " + dir_);
    }
    Status current = MakeCurrentLocked();
    if (!current.ok()) return current;
    {
      // A publisher that died left the record announcing a generation that
      // is not current (before its rename) or not committed (after it), and
      // perhaps the lock file naming another log's end: settle both before
      // writing, so that recovery can trust them (doc/format.md, section 7).
      std::shared_lock shared(mu_);
      fcache_internal::SettlePublication(*lock_file_, *gen_);
    }
    return fn();
  }();
  DropRetired();
  return s;
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
  // readers need not wait for that, nor other writers.
  Retire(std::move(gen));
}

void FileCache::Impl::Retire(std::unique_ptr<Generation> gen) {
  if (gen == nullptr) return;
  std::lock_guard lock(retired_mu_);
  retired_.push_back(std::move(gen));
}

void FileCache::Impl::DropRetired() {
  std::vector<std::unique_ptr<Generation>> retired;
  {
    std::lock_guard lock(retired_mu_);
    retired.swap(retired_);
  }
}

Status FileCache::Impl::CompactLocked(CompactionPlan plan) {
  plan.now_ms = env_->NowMillis();
  plan.sync = options_.sync_writes;
  Result<std::unique_ptr<Generation>> gen = [&] {
    std::shared_lock lock(mu_);
    return fcache_internal::Compact(env_, dir_, *lock_file_, *gen_, plan);
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

Status FileCache::Impl::AppendLocked(std::string_view key, uint64_t tag,
                                     const EncodedRecord& record, bool erase,
                                     bool* compaction_due) {
  bool evicted = false;
  for (;;) {
    AppendPrep prep;
    {
      std::shared_lock lock(mu_);
      Generation& gen = *gen_;
      Result<AppendPrep> next = fcache_internal::PrepareAppend(
          gen, key, tag, record.size(), erase, evicted, options_, dir_);
      if (erase && next.status().IsNoSpace()) {
        return EraseInPlace(gen, key, tag);
      }
      if (!next.ok()) return next.status();
      prep = std::move(*next);
      if (prep.kind == AppendPrep::kReady) {
        bool replaced = false;
        Status s =
            fcache_internal::Commit(gen, *lock_file_, key, tag, record, erase,
                                    prep, options_.sync_writes, &replaced);
        if (!s.ok()) return s;
        gen.NoteCommitted(prep.log_end, record);
        // The key's earlier version is replaced or erased: near caches of
        // it (cache.h) must look again.
        if (replaced) {
          lock_file_->CountChange();
        } else {
          lock_file_->CountWrite();
        }
        *compaction_due = CompactionDue(gen.index->header());
        return Status::OK();
      }
    }
    if (prep.kind == AppendPrep::kRemap) {
      // The log, or this record, outgrew this handle's mappings.
      std::unique_lock lock(mu_);
      Status s = gen_->log->Remap(prep.remap_to);
      if (!s.ok()) return s;
      continue;
    }
    evicted = evicted || prep.plan.live_byte_budget != 0;
    Status s = CompactLocked(std::move(prep.plan));
    if (erase && s.IsNoSpace()) {
      // No room for the generation that would make room for the erase
      // record (a grown index, a compacted log) either.
      s = MakeCurrentLocked();
      if (!s.ok()) return s;
      std::shared_lock lock(mu_);
      return EraseInPlace(*gen_, key, tag);
    }
    if (!s.ok()) return s;
  }
}

Status FileCache::Impl::EraseInPlace(Generation& gen, std::string_view key,
                                     uint64_t tag) {
  bool replaced = false;
  Status s = fcache_internal::EraseWithoutRecord(
      gen, *lock_file_, key, tag, options_.sync_writes, &replaced);
  if (replaced) {
    lock_file_->CountChange();
  } else {
    lock_file_->CountWrite();  // as for any erase (AppendLocked)
  }
  return s;
}

Status FileCache::Impl::Write(std::string_view key, const EncodedRecord& record,
                              bool erase) {
  const uint64_t tag = KeyTag(key);
  {
    std::shared_lock lock(mu_);
    if (gen_ != nullptr) gen_->PrefetchAppend(tag, record.size());
  }
  bool compaction_due = false;
  Status s = Locked([&] {
    Status committed = AppendLocked(key, tag, record, erase, &compaction_due);
    if (!committed.ok() || !compaction_due) return committed;
    Status maintenance = CompactLocked(CompactionPlan{});
    if (!maintenance.ok()) {
      maintenance_failures_.fetch_add(1, std::memory_order_relaxed);
    }
    std::lock_guard lock(maintenance_mu_);
    maintenance_status_ = std::move(maintenance);
    return committed;
  });
  return s;
}

Status FileCache::Impl::MaintenanceStatus() {
  std::lock_guard lock(maintenance_mu_);
  return maintenance_status_;
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
  const int64_t expires =
      ttl.count() > 0 ? ExpiryAfter(env_->NowMillis(), ttl.count()) : 0;
  EncodedRecord record;
  fcache_internal::EncodeRecord(fcache_internal::kRecordPut, key, value,
                                expires, options_, &record);
  Status s = Write(key, record, /*erase=*/false);
  if (s.ok() && version != nullptr) *version = record.header().checksum;
  return s;
}

Status FileCache::Impl::Erase(std::string_view key) {
  if (key.empty() || key.size() > kMaxKeyBytes) {
    return Status::InvalidArgument("bad key length");
  }
  EncodedRecord record;
  fcache_internal::EncodeRecord(fcache_internal::kRecordErase, key, {}, 0,
                                options_, &record);
  return Write(key, record, /*erase=*/true);
}

Status FileCache::Impl::Clear() {
  return Locked([&]() -> Status {
    Result<std::unique_ptr<Generation>> gen = [&] {
      std::shared_lock lock(mu_);
      return fcache_internal::PublishEmpty(
          env_, dir_, *lock_file_, gen_->log->id() + 1,
          gen_->index->generation(),
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
  if (s.ok()) s = lock_file_->Sync();
  // The names too: a compaction or growth since the last sync renamed an
  // index over the one a power loss could otherwise bring back, with
  // versions that writes since have replaced or erased.
  if (s.ok()) s = env_->SyncDir(dir_);
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
    if (gen_ == nullptr) return Status::OK();  // no index yet: empty
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
  FileCacheStats st;
  if (gen_ == nullptr) return st;  // no index yet: empty
  const IndexHeader& h = gen_->index->header();
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
  st.maintenance_failures =
      maintenance_failures_.load(std::memory_order_relaxed);
  return st;
}

Result<VerifyReport> FileCache::Impl::Verify() {
  Status s = Refresh();
  if (!s.ok()) return s;
  std::shared_lock lock(mu_);
  VerifyReport report;
  if (gen_ == nullptr) return report;  // no index yet: empty
  const Generation& gen = *gen_;
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
      return;
    }
    // A key named from an earlier slot of its chain too: only one of the two
    // can be its latest version.
    const std::string_view key = r.key;
    int64_t first = gen.index->Find(tag, [&](uint64_t other) {
      RecordView o;
      return gen.Parse(other, &o) && o.key == key;
    });
    if (first >= 0 && LoadShared(gen.index->slot(first).loc) != loc) {
      ++report.duplicate_slots;
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
    // No index: a store being created (another process made the directory,
    // perhaps the lock file and a log, and has not published its first
    // index yet). Reading one as empty beats failing a reader that merely
    // came early; the handle looks again on every call.
    if (gen.status().IsNotFound()) return std::unique_ptr<Generation>();
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
  if (gen.ok() && current_format(**gen)) return gen;
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
        fcache_internal::Recover(env, dir, *lock_file, env->NowMillis());
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
  return fcache_internal::Compact(env, dir, *lock_file, **gen, plan);
}

void FileCache::Impl::Tidy() {
  // Locked() makes the generation current first, so the logs removed here
  // are those that no index anyone can still reach names: a handle opened
  // just before a publisher died after its rename must not take the new
  // generation's log for a leftover.
  Locked(
      [&] {
        env_->Remove(dir_ + "/" + fcache_internal::kIndexTempName)
            .IgnoreError();  // usually absent
        Result<std::vector<std::string>> names = env_->ListDir(dir_);
        if (!names.ok()) return names.status();
        std::shared_lock shared(mu_);
        for (const std::string& name : *names) {
          uint64_t id;
          if (fcache_internal::ParseLogFileName(name, &id) &&
              id != gen_->log->id()) {
            env_->Remove(dir_ + "/" + name).IgnoreError();  // best effort
          }
        }
        return Status::OK();
      },
      LockMode::kExclusiveTry)
      .IgnoreError();  // another writer busy, or cleanup failed: next time
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
  } else {
    // For its publication record and change counter; without them (no lock
    // file yet, or a store of an older format), every call checks the
    // index's name and ChangeCount says "changed".
    Result<std::unique_ptr<LockFile>> f = LockFile::OpenReadOnly(env, dir);
    if (f.ok()) lock_file = std::move(*f);
  }
  Result<std::unique_ptr<Generation>> gen =
      Impl::OpenGeneration(env, dir, options, lock_file.get());
  if (!gen.ok()) return gen.status();
  auto impl = std::make_unique<Impl>(dir, options, std::move(env),
                                     std::move(lock_file), std::move(*gen));
  if (!options.read_only) impl->Tidy();
  return std::unique_ptr<FileCache>(new FileCache(std::move(impl)));
}

// ---- forwarding ------------------------------------------------------------

FileCache::FileCache(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)),
      changes_(impl_->ChangesWord()),
      writes_(impl_->WritesWord()) {}
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
// Without a lock file nothing tells: a new number every call.
uint64_t FileCache::NewUnknownCount() { return impl_->NewUnknownCount(); }
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
Status FileCache::MaintenanceStatus() { return impl_->MaintenanceStatus(); }

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
  // Owned by the KeyLock before the lock is taken, so that no fork sees the
  // lock held on a descriptor it does not know of.
  KeyLock lock(impl_->env(), file->Release(), offset);
  if (Status s = env->LockByte(lock.fd_, offset, LockMode::kExclusiveWait);
      !s.ok()) {
    return s;
  }
  return lock;
}
const std::string& FileCache::dir() const { return impl_->dir(); }

bool IsStore(const std::string& dir) {
  std::shared_ptr<Env> env = NewPosixEnv();
  Result<FileInfo> info =
      env->StatPath(dir + "/" + fcache_internal::kIndexFileName);
  return info.ok() && info->is_regular;
}

}  // namespace ucache
