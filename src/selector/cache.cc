// The selector: opens the tiers Options ask for, routes each call through
// the ones that serve it, and keeps the story of what serves and why.

#include "ucache/cache.h"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <unordered_set>
#include <utility>

#include "src/common/steady_clock.h"
#include "src/selector/resolve.h"
#include "ucache/internal/thread_counters.h"
#include "ucache/scoped_override.h"

namespace ucache {
namespace {

void LogToStderr(LogLevel level, std::string_view message) {
  std::fprintf(stderr, "ucache: %s: %.*s\n",
               level == LogLevel::kWarning ? "warning" : "info",
               static_cast<int>(message.size()), message.data());
}

bool UsesMemory(Backend b) {
  return b == Backend::kMemoryAndFile || b == Backend::kMemoryFileRemote ||
         b == Backend::kMemory;
}
bool UsesFile(Backend b) {
  return b == Backend::kMemoryAndFile || b == Backend::kMemoryFileRemote ||
         b == Backend::kFile;
}
bool UsesRemote(Backend b) {
  return b == Backend::kMemoryFileRemote || b == Backend::kRemote;
}

// The version a memory copy is stamped with when the file tier holds no
// record of its key (a checksum of 0 is as likely as any other collision).
constexpr uint64_t kAbsent = 0;

// Keys whose older file value this process must not serve, because neither
// writing their newer value nor erasing the older one reached the file
// tier. Only a tier failing erases too gets here; past the bound the file
// tier stops serving reads to this cache altogether.
constexpr size_t kMaxShadowedKeys = 1024;

// A refusal of this value alone (a record too large for max_bytes, a bad
// ttl or key) says nothing about the tier; anything else (a full disk, I/O
// errors) is the tier failing.
bool RefusesValueOnly(const Status& s) {
  return s.code() == Status::Code::kInvalidArgument;
}

}  // namespace

class Cache::Impl {
 public:
  explicit Impl(selector_internal::Resolved resolved)
      : options_(std::move(resolved.options)),
        dir_status_(std::move(resolved.dir_status)),
        decided_by_(std::move(resolved.decided_by)),
        log_(options_.log ? options_.log : LogSink(LogToStderr)),
        file_clock_(options_.file.env ? options_.file.env : NewPosixEnv()) {
    for (const std::string& w : resolved.warnings) {
      log_(LogLevel::kWarning, w);
    }
    configured_ = Choose();
  }

  std::optional<Hit> Get(std::string_view key, Cache::Scratch* scratch,
                         HitStamp* hit_stamp) {
    std::optional<Hit> hit =
        Find(key, scratch, /*read_remote=*/true, hit_stamp);
    if (!hit) counts_.Add(kMisses);
    return hit;
  }

  bool Recall(const HitStamp& stamp) {
    if (stamp.kind == HitStamp::kNone ||
        local_writes_.load(std::memory_order_acquire) != stamp.local ||
        ScopedOverride::Current()) {
      return false;
    }
    if (stamp.kind != HitStamp::kMemoryOnly) {
      FileCache* file = file_.load(std::memory_order_acquire);
      if (file == nullptr) return false;
      const uint64_t now = stamp.kind == HitStamp::kChangeCount
                               ? file->ChangeCount()
                               : file->WriteCount();
      if (now != stamp.store) return false;
    }
    counts_.Add(kMemoryHits);
    return true;
  }

  std::optional<Hit> GetOrClaim(std::string_view key, RemoteLease* lease) {
    *lease = RemoteLease();
    // Another process of this machine may have stored the value while this
    // caller waited for the key's lock: the local tiers again. The remote
    // tier is not read here: the claim below looks at it, in the same round
    // trip that takes the lease.
    if (std::optional<Hit> hit =
            Find(key, nullptr, /*read_remote=*/false, nullptr)) {
      return hit;
    }
    const Backend route = Route();
    RemoteCache* remote = UsesRemote(route) ? Remote() : nullptr;
    if (remote == nullptr) return std::nullopt;
    MemoryCache* memory = UsesMemory(route) ? Memory() : nullptr;
    FileCache* file = UsesFile(route) ? File() : nullptr;
    const uint64_t changes = file != nullptr ? file->ChangeCount() : 0;
    std::optional<RemoteCache::Value> v = remote->Claim(key, lease);
    if (!v) return std::nullopt;
    return FromRemote(key, std::move(*v), memory, file, changes);
  }

  // The value of `key` from the first serving tier that has it (the remote
  // tier only when `read_remote`; a small memory hit copied into `scratch`
  // when given, and stamped into `hit_stamp` when given and it may be
  // recalled), counting hits; a miss counts nothing.
  std::optional<Hit> Find(std::string_view key, Cache::Scratch* scratch,
                          bool read_remote, HitStamp* hit_stamp) {
    const Backend route = Route();
    if (route == Backend::kDisabled) return std::nullopt;
    MemoryCache* memory = UsesMemory(route) ? Memory() : nullptr;
    FileCache* file = UsesFile(route) ? File() : nullptr;
    // Both read before either tier (cache.h: a stamp is taken before the
    // read; a Put or Erase that the read below misses counts after it). The
    // first only for a caller that takes stamps: Puts write its line.
    const uint64_t local = hit_stamp != nullptr
                               ? local_writes_.load(std::memory_order_acquire)
                               : 0;
    const uint64_t changes = file != nullptr ? file->ChangeCount() : 0;
    if (memory != nullptr) {
      MemoryStamp stamp;
      MemoryCopy copy;
      if (scratch != nullptr) {
        copy.buffer = scratch->bytes;
        copy.capacity = sizeof(scratch->bytes);
      }
      std::shared_ptr<const std::string> v =
          memory->GetShared(key, &stamp, &copy);
      if (copy.copied) {
        if (file == nullptr || StampCurrent(*file, stamp, changes)) {
          counts_.Add(kMemoryHits);
          if (hit_stamp != nullptr && !copy.expires &&
              !ScopedOverride::Current()) {
            *hit_stamp =
                file == nullptr ? HitStamp{local, 0, HitStamp::kMemoryOnly}
                : stamp.version == kAbsent
                    ? HitStamp{local, stamp.changes, HitStamp::kWriteCountNow}
                    : HitStamp{local, stamp.changes, HitStamp::kChangeCount};
          }
          return Hit{std::string_view(scratch->bytes, copy.size), nullptr,
                     Tier::kMemory};
        }
        // The probe below re-stamps the copy by the value's identity, which
        // only a reference to it pins.
        v = memory->GetShared(key, &stamp);
      }
      if (v != nullptr) {
        if (file == nullptr ||
            StillCurrent(*memory, *file, key, *v, stamp, changes)) {
          counts_.Add(kMemoryHits);
          // Moved, not copied: one atomic increment less per hit.
          return Hit{*v, std::move(v), Tier::kMemory};
        }
      }
    }
    if (file != nullptr && !Shadowed(key)) {
      ValueView view;
      if (file->GetView(key, &view).ok()) {
        counts_.Add(kFileHits);
        if (memory != nullptr) Fill(*memory, key, view, changes);
        const std::string_view data = view.data();
        return Hit{data, std::make_shared<ValueView>(std::move(view)),
                   Tier::kFile};
      }
    }
    if (RemoteCache* remote =
            read_remote && UsesRemote(route) ? Remote() : nullptr) {
      if (std::optional<RemoteCache::Value> v = remote->Get(key)) {
        return FromRemote(key, std::move(*v), memory, file, changes);
      }
    }
    if (FallbackCache* fallback = FallbackIfOpen(route)) {
      if (file != nullptr &&
          file->WriteCount() !=
              fallback_writes_.load(std::memory_order_acquire)) {
        // The store changed since the fallback tier last took a value it
        // refused: any of them may have been replaced there since.
        fallback->Clear();
      } else if (std::shared_ptr<const std::string> v = fallback->Get(key)) {
        counts_.Add(kFallbackHits);
        return Hit{*v, v, Tier::kFallback};
      }
    }
    return std::nullopt;
  }

  // Every tier either keeps the new version or loses the key (cache.h).
  void Put(std::string_view key, std::string_view value) {
    const Backend route = Route();
    if (route == Backend::kDisabled) return;
    const LocalWrite counted(local_writes_);
    bool kept = false;
    MemoryStamp stamp;  // the file tier's state of `key` after this put
    FileCache* file = UsesFile(route) ? File() : nullptr;
    // A copy of a value the store does not hold is good only while no write
    // at all reaches the store: a new key's put does not move the change
    // count (see StillCurrent). WriteFile says at which count.
    uint64_t writes = 0;
    if (file != nullptr) {
      stamp.changes = file->ChangeCount();
      writes = file->WriteCount();
      kept = WriteFile(*file, key, value, &stamp.version, &writes);
      if (!kept) stamp.changes = writes;
    }
    if (MemoryCache* memory = UsesMemory(route) ? Memory() : nullptr) {
      if (kept && value.size() > options_.large_value_bytes) {
        // The file tier alone keeps it: a small older copy must go.
        memory->Erase(key).IgnoreError();
      } else {
        // A failed memory Put removes the older copy itself.
        kept = memory->Put(key, value, options_.ttl, stamp).ok() || kept;
      }
    }
    if (RemoteCache* remote = UsesRemote(route) ? Remote() : nullptr) {
      // Counted in the remote tier's stats; a value it does not keep is
      // erased there or skipped by this cache (cache.h).
      remote->Put(key, value, options_.ttl).IgnoreError();
      kept = kept || route == Backend::kRemote;
    }
    if (!kept) {
      // Nothing preferred kept it (file tier failing or alone and blocked,
      // or no tier open): the tier that always works does, valid, beside a
      // file tier, only until the store's next write.
      PutFallback(file, writes, key, value);
    } else if (FallbackCache* b = fallback_.load(std::memory_order_acquire)) {
      b->Erase(key);  // an older value put there while the file tier failed
    }
    counts_.Add(kPuts);
  }

  void Erase(std::string_view key) {
    const LocalWrite counted(local_writes_);
    if (MemoryCache* m = memory_.load()) m->Erase(key).IgnoreError();
    if (FileCache* f = file_.load()) RemoveFromFile(*f, key);
    if (FallbackCache* b = fallback_.load()) b->Erase(key);
    if (RemoteCache* r = remote_.load()) {
      r->Erase(key).IgnoreError();  // a failure shadows the key (cache.h)
    }
  }

  KeyLock LockKey(std::string_view key) {
    const Backend route = Route();
    FileCache* file = UsesFile(route) ? File() : nullptr;
    if (file == nullptr) return KeyLock();
    Result<KeyLock> lock = file->LockKey(key);
    if (lock.ok()) return std::move(*lock);
    WarnOnce(lock_warned_,
             "per-key locks unavailable (" + lock.status().ToString() +
                 "); processes missing one key may each compute it");
    return KeyLock();
  }

  // What Cache::disabled() reads, decided at open.
  bool disabled_by_options() const { return options_.disable; }
  bool configured_disabled() const { return configured_ == Backend::kDisabled; }

  Backend active_backend() const {
    Backend b = configured_;
    if (b == Backend::kMemoryFileRemote && !RemoteHealthy()) {
      b = Backend::kMemoryAndFile;
    }
    if (FileBlocked()) {
      if (b == Backend::kMemoryAndFile || b == Backend::kMemoryFileRemote) {
        return Backend::kMemory;
      }
      if (b == Backend::kFile) return Backend::kFallback;
    }
    return b;
  }

  std::string active_reason() const {
    if (!RemoteHealthy()) return remote_.load()->reason();
    std::lock_guard<std::mutex> lock(reason_mu_);
    return FileBlocked() ? blocked_reason_ : open_reason_;
  }

  CacheStats GetStats() const {
    CacheStats s;
    s.backend = active_backend();
    s.reason = active_reason();
    const std::array<uint64_t, counters_internal::kCounters> n = counts_.Sums();
    s.memory_hits = n[kMemoryHits];
    s.file_hits = n[kFileHits];
    s.remote_hits = n[kRemoteHits];
    s.fallback_hits = n[kFallbackHits];
    s.misses = n[kMisses];
    s.puts = n[kPuts];
    s.file_failures = n[kFileFailures];
    s.file_refusals = n[kFileRefusals];
    s.stale_dropped = n[kStaleDropped];
    {
      std::lock_guard<std::mutex> lock(shadow_mu_);
      s.shadowed_keys = shadowed_.size();
    }
    if (MemoryCache* m = memory_.load()) s.memory = m->GetStats();
    if (FileCache* f = file_.load()) {
      if (Result<FileCacheStats> fs = f->GetStats(); fs.ok()) s.file = *fs;
    }
    if (FallbackCache* b = fallback_.load()) s.fallback = b->GetStats();
    if (RemoteCache* r = remote_.load()) s.remote = r->GetStats();
    return s;
  }

  const Options& options() const { return options_; }

 private:
  // What serves this call: disabled wins over everything (so UCACHE_DISABLE
  // cannot be undone by code), then this thread's override, then the
  // configured backend.
  Backend Route() const {
    if (options_.disable) return Backend::kDisabled;
    if (std::optional<Backend> o = ScopedOverride::Current()) return *o;
    return configured_;
  }

  // The backend the options ask for, degraded to what opens; opens it.
  Backend Choose() {
    std::string why = "as configured by " + decided_by_;
    Backend chosen = Backend::kFallback;
    switch (options_.disable ? Backend::kDisabled : options_.backend) {
      case Backend::kDisabled:
        chosen = Backend::kDisabled;
        why = "disabled by " + decided_by_;
        break;
      case Backend::kAuto:
      case Backend::kMemoryFileRemote:
      case Backend::kMemoryAndFile: {
        const bool memory = Memory() != nullptr;
        const bool file = File() != nullptr;
        chosen = memory && file ? Backend::kMemoryAndFile
                 : memory       ? Backend::kMemory
                 : file         ? Backend::kFile
                                : Backend::kFallback;
        if (!file) why = file_reason_;
        if (!memory) why = memory_reason_ + (file ? "" : "; " + file_reason_);
        // The remote tier sits under the file tier: without both local
        // tiers (or when options.backend says memory+file) it is skipped.
        if (chosen == Backend::kMemoryAndFile &&
            options_.backend != Backend::kMemoryAndFile &&
            !options_.remote.empty()) {
          if (Remote() != nullptr) {
            chosen = Backend::kMemoryFileRemote;
          } else {
            why = remote_reason_;
          }
        }
        break;
      }
      case Backend::kRemote:
        chosen = Remote() != nullptr ? Backend::kRemote : Backend::kFallback;
        if (chosen != Backend::kRemote) why = remote_reason_;
        break;
      case Backend::kMemory:
        chosen = Memory() != nullptr ? Backend::kMemory : Backend::kFallback;
        if (chosen != Backend::kMemory) why = memory_reason_;
        break;
      case Backend::kFile:
        chosen = File() != nullptr ? Backend::kFile : Backend::kFallback;
        if (chosen != Backend::kFile) why = file_reason_;
        break;
      case Backend::kFallback:
        break;
    }
    if (chosen == Backend::kFallback) Fallback();
    std::lock_guard<std::mutex> lock(reason_mu_);
    open_reason_ = why;
    return chosen;
  }

  // Each tier opens once, on first use (from Choose or an override); a
  // failure is reported once and leaves it null for good.
  MemoryCache* Memory() {
    if (MemoryCache* m = memory_.load(std::memory_order_acquire)) return m;
    std::lock_guard<std::mutex> lock(open_mu_);
    if (!memory_tried_) {
      memory_tried_ = true;
      Result<std::unique_ptr<MemoryCache>> m =
          MemoryCache::Open(options_.memory);
      if (m.ok()) {
        memory_owner_ = std::move(*m);
        memory_.store(memory_owner_.get(), std::memory_order_release);
      } else {
        memory_reason_ = "memory tier unavailable: " + m.status().ToString();
        log_(LogLevel::kWarning, memory_reason_);
      }
    }
    return memory_.load(std::memory_order_acquire);
  }

  FileCache* File() {
    if (FileCache* f = file_.load(std::memory_order_acquire)) return f;
    std::lock_guard<std::mutex> lock(open_mu_);
    if (!file_tried_) {
      file_tried_ = true;
      Result<std::unique_ptr<FileCache>> f =
          dir_status_.ok() ? FileCache::Open(options_.dir, options_.file)
                           : Result<std::unique_ptr<FileCache>>(dir_status_);
      if (f.ok()) {
        file_owner_ = std::move(*f);
        file_.store(file_owner_.get(), std::memory_order_release);
      } else {
        file_reason_ = "file tier unavailable at " +
                       (options_.dir.empty() ? "(no path)" : options_.dir) +
                       ": " + f.status().ToString();
        log_(LogLevel::kWarning, file_reason_);
      }
    }
    return file_.load(std::memory_order_acquire);
  }

  RemoteCache* Remote() {
    if (RemoteCache* r = remote_.load(std::memory_order_acquire)) return r;
    std::lock_guard<std::mutex> lock(open_mu_);
    if (!remote_tried_) {
      remote_tried_ = true;
      RemoteOptions o = options_.remote_options;
      o.log = log_;
      Result<std::unique_ptr<RemoteCache>> r =
          options_.remote.empty()
              ? Result<std::unique_ptr<RemoteCache>>(Status::InvalidArgument(
                    "no servers (Options::remote, UCACHE_REMOTE)"))
              : RemoteCache::Open(options_.remote, o);
      if (r.ok()) {
        remote_owner_ = std::move(*r);
        remote_.store(remote_owner_.get(), std::memory_order_release);
      } else {
        remote_reason_ = "remote tier unavailable: " + r.status().ToString();
        log_(LogLevel::kWarning, remote_reason_);
      }
    }
    return remote_.load(std::memory_order_acquire);
  }

  bool RemoteHealthy() const {
    const RemoteCache* r = remote_.load(std::memory_order_acquire);
    return r == nullptr || r->healthy();
  }

  // A remote hit: copied into the file tier when no write reached it since
  // the miss (`changes`, read before it), and from there into the memory
  // tier as a file hit would be.
  Hit FromRemote(std::string_view key, RemoteCache::Value v,
                 MemoryCache* memory, FileCache* file, uint64_t changes) {
    counts_.Add(kRemoteHits);
    if (file != nullptr && !FileBlocked() && file->ChangeCount() == changes) {
      // The file tier's copy may replace one it forgot.
      const LocalWrite counted(local_writes_);
      std::chrono::milliseconds ttl{0};
      bool live = true;
      if (v.expires_ms != 0) {
        ttl =
            std::chrono::milliseconds(v.expires_ms - file_clock_->NowMillis());
        live = ttl.count() > 0;
      }
      uint64_t version = kAbsent;
      if (live && file->Put(key, v.data, ttl, &version).ok() &&
          memory != nullptr && v.data.size() <= options_.large_value_bytes) {
        // Stamped with the count before the write, as Put stamps its copies.
        const Status s =
            memory->Put(key, v.data, ttl, MemoryStamp{changes, version});
        (void)s;  // a memory tier too small for the value does not keep it
      }
    }
    const std::string_view data = v.data;
    return Hit{data, std::move(v.keep_alive), Tier::kRemote};
  }

  FallbackCache* Fallback() {
    if (FallbackCache* b = fallback_.load(std::memory_order_acquire)) return b;
    std::lock_guard<std::mutex> lock(open_mu_);
    if (fallback_owner_ == nullptr) {
      fallback_owner_ = std::make_unique<FallbackCache>(options_.fallback);
      fallback_.store(fallback_owner_.get(), std::memory_order_release);
    }
    return fallback_owner_.get();
  }

  // The fallback tier when it is open and may hold values for `route`.
  FallbackCache* FallbackIfOpen(Backend route) {
    if (route == Backend::kFallback) return Fallback();
    return fallback_.load(std::memory_order_acquire);
  }

  // True when `stamp` alone shows its memory copy current, with no probe of
  // the file tier: the change count (`changes`, read before the memory
  // read) has not moved since the copy was stamped; or, for a value the
  // store never held, no write at all reached the store since (its stamp is
  // the write count then).
  static bool StampCurrent(FileCache& file, const MemoryStamp& stamp,
                           uint64_t changes) {
    return stamp.version == kAbsent ? stamp.changes == file.WriteCount()
                                    : stamp.changes == changes;
  }

  // True when the memory copy `value` of `key`, stamped `stamp`, is still
  // the file tier's current version: the count is unchanged, or the key's
  // record is still the copied one (then the copy is re-stamped with
  // `changes`, read before this probe). Otherwise drops the copy.
  bool StillCurrent(MemoryCache& memory, FileCache& file, std::string_view key,
                    const std::string& value, const MemoryStamp& stamp,
                    uint64_t changes) {
    if (StampCurrent(file, stamp, changes)) return true;
    if (stamp.version == kAbsent) {
      // A value the store never held is never re-stamped: a write reached
      // the store since, and any may have replaced it.
      memory.Erase(key).IgnoreError();
      counts_.Add(kStaleDropped);
      return false;
    }
    const Result<uint64_t> version = file.Version(key);
    const bool current = version.ok() ? *version == stamp.version
                                      : version.status().IsNotFound() &&
                                            stamp.version == kAbsent;
    if (current) {
      memory.Restamp(key, &value, MemoryStamp{changes, stamp.version});
      return true;
    }
    memory.Erase(key).IgnoreError();
    counts_.Add(kStaleDropped);
    return false;
  }

  // Copies a file hit into the memory tier, stamped with `changes` (read
  // before the file read) and expiring when the record does. A cache may
  // forget: large values and records about to expire are not kept.
  void Fill(MemoryCache& memory, std::string_view key, const ValueView& view,
            uint64_t changes) {
    if (view.size() > options_.large_value_bytes) return;
    std::chrono::milliseconds ttl{0};  // never: the memory tier's default
    if (view.expires_ms() != 0) {
      const int64_t left = view.expires_ms() - file_clock_->NowMillis();
      if (left <= 0) return;
      ttl = std::chrono::milliseconds(left);
    }
    const Status s =
        memory.Put(key, view.data(), ttl, MemoryStamp{changes, view.version()});
    (void)s;  // a memory tier too small for the value just does not keep it
  }

  // The fallback tier's copies beside a file tier are good while the
  // store's write count is the one they were put at (`writes`, read before
  // the put tried the file tier): a put at another count first clears what
  // is there, which may have been replaced since. Serialized, since count
  // and contents must agree; this is the failure path.
  void PutFallback(FileCache* file, uint64_t writes, std::string_view key,
                   std::string_view value) {
    FallbackCache* fallback = Fallback();
    std::lock_guard<std::mutex> lock(fallback_mu_);
    if (file != nullptr) {
      if (fallback_writes_.load(std::memory_order_acquire) != writes) {
        // Cleared before the new count is published: a reader that saw the
        // new count first would serve what is still there.
        fallback->Clear();
        fallback_writes_.store(writes, std::memory_order_release);
      }
    }
    fallback->Put(key, value, options_.ttl);
  }

  // Puts `value` into the file tier, or, when the tier does not take it,
  // removes the key's older value there. True when the file tier keeps the
  // new version; `*version` is then its record's, else kAbsent. `*writes`
  // holds the store's write count read before the call; when the tier does
  // not take the value, it is set to the count at which a copy of the value
  // is good: the count now, if only this call's own erase moved it, else
  // the count before, which no later read matches. A count read after the
  // refusal alone could include another process's put of the key,
  // committed meanwhile, and would vouch for the older copy
  // (model_stress_test: stale reads from the memory and fallback tiers).
  bool WriteFile(FileCache& file, std::string_view key, std::string_view value,
                 uint64_t* version, uint64_t* writes) {
    if (!FileBlocked()) {
      const Status s = file.Put(key, value, options_.ttl, version);
      NoteFileWrite(s);
      if (s.ok()) {
        Unshadow(key);
        return true;
      }
    }
    *version = kAbsent;
    bool erased = false;
    if (file.Version(key).status().IsNotFound()) {
      // No older value to erase. An erase would count as a write all the
      // same (FileCache::WriteCount) and so drop this cache's other copies
      // of values the file tier did not take, for nothing.
      Unshadow(key);
    } else {
      erased = RemoveFromFile(file, key);
    }
    const uint64_t now = file.WriteCount();
    if (now == *writes + (erased ? 1 : 0)) *writes = now;
    return false;
  }

  // Erases `key` from the file tier; when even that fails, this process
  // stops serving the file's value of `key` until a write of it succeeds.
  // True when the erase took.
  bool RemoveFromFile(FileCache& file, std::string_view key) {
    if (file.Erase(key).ok()) {
      Unshadow(key);
      return true;
    }
    std::lock_guard<std::mutex> lock(shadow_mu_);
    if (shadowed_.size() < kMaxShadowedKeys) {
      shadowed_.emplace(key);
    } else if (!shadow_overflow_) {
      shadow_overflow_ = true;
      log_(LogLevel::kWarning,
           "file tier at " + options_.dir + " refused writes and erases of " +
               std::to_string(kMaxShadowedKeys) +
               " keys; it serves no more reads to this cache, which would "
               "return their older values");
    }
    any_shadowed_.store(true, std::memory_order_release);
    return false;
  }

  void Unshadow(std::string_view key) {
    if (!any_shadowed_.load(std::memory_order_acquire)) return;
    std::lock_guard<std::mutex> lock(shadow_mu_);
    shadowed_.erase(std::string(key));
  }

  // True when the file tier must not serve `key` to this cache. One load
  // unless some key was ever shadowed.
  bool Shadowed(std::string_view key) {
    if (!any_shadowed_.load(std::memory_order_acquire)) return false;
    std::lock_guard<std::mutex> lock(shadow_mu_);
    return shadow_overflow_ || shadowed_.count(std::string(key)) != 0;
  }

  bool FileBlocked() const {
    const int64_t until = file_blocked_until_.load(std::memory_order_relaxed);
    return until != 0 && SteadyMillis() < until;
  }

  // Keeps the file tier's health after a write: a failure blocks writes for
  // file_retry_interval with one warning per episode; a success after a
  // failure ends the episode with one info line. A refused value is neither.
  void NoteFileWrite(const Status& s) {
    if (RefusesValueOnly(s)) {
      counts_.Add(kFileRefusals);
      return;
    }
    if (s.ok()) {
      if (file_failing_.exchange(false)) {
        file_blocked_until_.store(0);
        log_(LogLevel::kInfo,
             "file tier at " + options_.dir + " accepts writes again");
      }
      return;
    }
    counts_.Add(kFileFailures);
    file_blocked_until_.store(std::max<int64_t>(
        1, SteadyMillis() + options_.file_retry_interval.count()));
    if (!file_failing_.exchange(true)) {
      std::string why =
          "file tier write failed at " + options_.dir + " (" + s.ToString() +
          "); writes go to the " +
          (configured_ == Backend::kMemoryAndFile ? "memory" : "fallback") +
          " tier, reads still use the file tier, retrying "
          "every " +
          std::to_string(options_.file_retry_interval.count()) + " ms";
      {
        std::lock_guard<std::mutex> lock(reason_mu_);
        blocked_reason_ = why;
      }
      log_(LogLevel::kWarning, why);
    }
  }

  void WarnOnce(std::atomic<bool>& flag, const std::string& message) {
    if (!flag.exchange(true)) log_(LogLevel::kWarning, message);
  }

  // Constant after construction.
  const Options options_;
  const Status dir_status_;
  const std::string decided_by_;  // what chose the backend (resolve.h)
  const LogSink log_;
  const std::shared_ptr<Env> file_clock_;    // the file tier's, for expiry
  Backend configured_ = Backend::kFallback;  // set once, in the constructor

  // Tiers: published through the atomics once open; guarded by open_mu_.
  std::mutex open_mu_;
  bool memory_tried_ = false;
  bool file_tried_ = false;
  std::unique_ptr<MemoryCache> memory_owner_;
  std::unique_ptr<FileCache> file_owner_;
  std::unique_ptr<FallbackCache> fallback_owner_;
  bool remote_tried_ = false;
  std::unique_ptr<RemoteCache> remote_owner_;
  std::string remote_reason_;  // why the remote tier is not open
  std::atomic<RemoteCache*> remote_{nullptr};
  std::string memory_reason_;  // why the memory tier is not open
  std::string file_reason_;    // why the file tier is not open
  std::atomic<MemoryCache*> memory_{nullptr};
  std::atomic<FileCache*> file_{nullptr};
  std::atomic<FallbackCache*> fallback_{nullptr};

  // The file tier's health: steady-clock millis until which writes skip it
  // (0: healthy), and whether an episode of failures is under way.
  std::atomic<int64_t> file_blocked_until_{0};
  std::atomic<bool> file_failing_{false};
  std::atomic<bool> lock_warned_{false};

  mutable std::mutex reason_mu_;
  std::string open_reason_;     // guarded by reason_mu_
  std::string blocked_reason_;  // guarded by reason_mu_

  // CacheStats' counts, one ThreadCounters index each: added to on every
  // call without an atomic read-modify-write.
  enum Count : size_t {
    kMemoryHits,
    kFileHits,
    kRemoteHits,
    kFallbackHits,
    kMisses,
    kPuts,
    kFileFailures,
    kFileRefusals,
    kStaleDropped,
    kNumCounts
  };
  static_assert(kNumCounts <= counters_internal::kCounters);
  counters_internal::ThreadCounters counts_;

  // Counts a write into the tiers (a Put, an Erase, a remote value taken
  // in) in local_writes_ when it starts and again when it ends, so that
  // every HitStamp taken before it is void from its first change on (a
  // reader never sees the new value and then recalls the old), and one
  // taken while it runs, which may hold either value, is void once it
  // returns.
  class LocalWrite {
   public:
    explicit LocalWrite(std::atomic<uint64_t>& count) : count_(count) {
      count_.fetch_add(1, std::memory_order_acq_rel);
    }
    ~LocalWrite() { count_.fetch_add(1, std::memory_order_acq_rel); }
    LocalWrite(const LocalWrite&) = delete;
    LocalWrite& operator=(const LocalWrite&) = delete;

   private:
    std::atomic<uint64_t>& count_;
  };
  // Writes through this cache, twice each (LocalWrite; HitStamp::local).
  std::atomic<uint64_t> local_writes_{0};

  // The store's write count when the fallback tier last took a value the
  // file tier refused.
  std::atomic<uint64_t> fallback_writes_{0};
  std::mutex fallback_mu_;  // serializes PutFallback
  // Set once some key was shadowed, so reads skip shadow_mu_ until then.
  std::atomic<bool> any_shadowed_{false};
  mutable std::mutex shadow_mu_;
  std::unordered_set<std::string> shadowed_;  // guarded by shadow_mu_
  bool shadow_overflow_ = false;              // guarded by shadow_mu_
};

std::shared_ptr<Cache> Cache::Open(const Options& options) {
  return std::shared_ptr<Cache>(new Cache(
      std::make_unique<Impl>(selector_internal::ResolveOptions(options))));
}

Cache::Cache(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)),
      disabled_by_options_(impl_->disabled_by_options()),
      configured_disabled_(impl_->configured_disabled()) {}
Cache::~Cache() = default;

std::optional<Cache::Hit> Cache::Get(std::string_view key) {
  return impl_->Get(key, nullptr, nullptr);
}
std::optional<Cache::Hit> Cache::Get(std::string_view key, Scratch* scratch) {
  return impl_->Get(key, scratch, nullptr);
}
std::optional<Cache::Hit> Cache::Get(std::string_view key, Scratch* scratch,
                                     HitStamp* stamp) {
  return impl_->Get(key, scratch, stamp);
}
bool Cache::Recall(const HitStamp& stamp) { return impl_->Recall(stamp); }
void Cache::Put(std::string_view key, std::string_view value) {
  impl_->Put(key, value);
}
void Cache::Erase(std::string_view key) { impl_->Erase(key); }
KeyLock Cache::LockKey(std::string_view key) { return impl_->LockKey(key); }
std::optional<Cache::Hit> Cache::GetOrClaim(std::string_view key,
                                            RemoteLease* lease) {
  return impl_->GetOrClaim(key, lease);
}
Backend Cache::active_backend() const { return impl_->active_backend(); }
std::string Cache::active_reason() const { return impl_->active_reason(); }
CacheStats Cache::GetStats() const { return impl_->GetStats(); }
const Options& Cache::options() const { return impl_->options(); }

}  // namespace ucache
