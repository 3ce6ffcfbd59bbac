// Cache: the selector. It layers the tiers, picks the best one that works,
// falls back gracefully and says which backend serves and why.
//
//   read:  memory tier -> file tier -> remote tier -> (fallback tier)
//          first hit wins; a file hit is copied into the memory tier, a
//          remote hit into the file tier and (within large_value_bytes)
//          the memory tier
//   write: every serving tier; the remote tier behind the caller
//          (RemoteOptions::write_behind)
//
// Values larger than Options::large_value_bytes live in the file tier alone
// while it serves (it maps them; a memory copy would only add a copy).
//
// The newest version. While the file tier serves, it holds the newest
// version of every key: the memory tier is a near cache of it, and the
// fallback tier holds only what the file tier refused. Every path keeps
// that rule, so the tiers agree: a tier that does not keep a new version
// must not keep serving an older one.
//  * Put writes the file tier first. When the file tier keeps the value,
//    the memory tier keeps a copy (or, for a large value, drops its older
//    one) and the fallback tier drops the key. When the file tier does not
//    take the value (it refuses it, its disk is full, writes are paused
//    after a failure), the key's older value is erased from the file tier
//    and the new one goes to the memory or fallback tier. If even that
//    erase fails, this cache never again serves the file tier's value of
//    the key, until a later write or erase of it reaches the file tier
//    (CacheStats::shadowed_keys); other caches (other processes, and other
//    Cache objects of this one), which cannot know, may meanwhile read that
//    older value from the file tier, but never see this cache's newer one.
//    (On a full disk the erase does not fail: it clears the key's slot in
//    place, FileCache::Erase; I/O errors and a damaged store that cannot
//    be rebuilt remain.) A value the file tier did not take is this
//    cache's alone: other caches learn of it only through what its write
//    did reach the store (the erase), and one whose own copy of the key
//    the store never held either may go on serving that copy. Copies of
//    values the store does not hold are good only while its write count
//    (FileCache::WriteCount) stands still.
//  * Each memory copy is stamped with FileCache::ChangeCount, read before
//    the file read or write that produced the copy, and with its record's
//    version (ValueView::version). A memory hit whose stamp equals the
//    current count is served; otherwise the file tier's current version of
//    the key is probed (FileCache::Version, no value bytes): the same, the
//    copy is re-stamped and served; else it is dropped
//    (CacheStats::stale_dropped) and the read goes on to the file tier. So
//    a write committed by any handle of any process is seen on this
//    cache's next call, as FileCache promises for its own handles, and a
//    fill that raced a newer write cannot outlive it.
//  * A memory copy expires when its file record does, not a full ttl
//    after the read that copied it.
//  * The remote tier is under the file tier: this machine reads it only
//    after missing in the file tier, which holds this machine's newest
//    version. A remote hit fills the file tier only when the file tier's
//    change count has not moved since the miss (a write in between is
//    newer than the remote value). Every Put and Erase goes to the remote
//    tier in order; one that does not reach it (queue full, server
//    failing, a value too large, which erases instead) makes this cache
//    skip the key's remote value until a later write of it lands, and a
//    write still queued is what this cache reads. Other machines see a
//    write once it lands: until then they may read the older version (for
//    a memoized, deterministic function both versions are one value).
//  * A ScopedOverride that restricts a call to the memory tier serves that
//    tier as it is, unchecked; a write under it reaches only the memory
//    tier and replaces nothing in the file tier.
//
// Opening never fails: when the file tier cannot open (directory not
// writable, not a store, locks unsupported) the cache serves from memory, and
// when nothing else can serve, from the fallback tier; each such event is one
// warning through Options::log. A file tier that fails at run time (a full
// disk, I/O errors) keeps serving reads while writes go to the other tiers,
// and is retried every Options::file_retry_interval; active_backend() says
// what serves meanwhile and active_reason() why. A value the file tier
// refuses on its own account (a record too large for FileCacheOptions::
// max_bytes, a bad ttl) is not a failure of the tier: later writes of other
// values go on reaching it (CacheStats::file_refusals).
//
// A ScopedOverride (scoped_override.h) in the calling thread disables the
// cache or restricts it to one tier for the calls that thread makes inside
// the override's scope; a tier the cache did not open is opened on first use.
//
// Thread safety: every method may be called from many threads at once. Many
// processes may share one store: that is the file tier's job (file_cache.h).

#ifndef UCACHE_CACHE_H_
#define UCACHE_CACHE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ucache/fallback_cache.h"
#include "ucache/file_cache.h"
#include "ucache/internal/language_level.h"
#include "ucache/memory_cache.h"
#include "ucache/options.h"
#include "ucache/remote_cache.h"
#include "ucache/scoped_override.h"
#include "ucache/status.h"

namespace ucache {

// Where a value came from.
enum class Tier { kMemory, kFile, kRemote, kFallback };

struct CacheStats {
  Backend backend = Backend::kDisabled;  // active_backend()
  std::string reason;                    // active_reason()
  uint64_t memory_hits = 0;
  uint64_t file_hits = 0;
  uint64_t remote_hits = 0;
  uint64_t fallback_hits = 0;
  uint64_t misses = 0;
  uint64_t puts = 0;           // Put calls (not disabled)
  uint64_t file_failures = 0;  // file-tier writes that failed
  uint64_t file_refusals = 0;  // values the file tier refused (too large)
  uint64_t stale_dropped = 0;  // memory copies the file tier had replaced
  uint64_t shadowed_keys = 0;  // keys whose file value this cache skips
  // Each tier's own statistics, for the tiers that are open.
  std::optional<MemoryCacheStats> memory;
  std::optional<FileCacheStats> file;
  std::optional<FallbackCacheStats> fallback;
  std::optional<RemoteCacheStats> remote;
};

class Cache {
 public:
  // Opens the cache `options` describe (after the environment variables of
  // options.h). Never fails; see active_backend() for what it got.
  static std::shared_ptr<Cache> Open(const Options& options = {});

  ~Cache();
  Cache(const Cache&) = delete;
  Cache& operator=(const Cache&) = delete;

  // A value found by Get. `data` stays valid while the Hit (or a copy of
  // keep_alive) lives, whatever happens to the cache meanwhile.
  struct Hit {
    std::string_view data;
    std::shared_ptr<const void> keep_alive;
    Tier tier = Tier::kMemory;
  };

  // The value of `key` from the first tier that has it, or nullopt.
  std::optional<Hit> Get(std::string_view key);

  // Room for a small value, so that a memory hit copies it out instead of
  // holding a reference to it (an atomic increment and decrement less).
  struct Scratch {
    alignas(16) char bytes[64];
  };
  // Get, except that a memory-tier value of at most sizeof(Scratch) bytes
  // is copied into *scratch: `data` then points there, keep_alive is empty,
  // and the Hit is valid while *scratch is.
  std::optional<Hit> Get(std::string_view key, Scratch* scratch);

  // What a caller's own table of recent small hits (memoize's, see
  // internal/recent_hits.h) keeps beside a value, so that it can serve the
  // value again through Recall instead of asking the tiers. Set by Get
  // only for a hit that is a copy of a memory value without an expiry, read
  // with no ScopedOverride live in the thread; otherwise left with kind
  // kNone, and nothing may be recalled with it. A stamp means something
  // only to the Cache that set it.
  struct HitStamp {
    enum Kind : uint64_t {
      kNone,
      kMemoryOnly,    // no file tier served: `local` alone decides
      kChangeCount,   // the file tier held it: `store` is its change count
      kWriteCountNow  // it held none of it: `store` is its write count
    };
    uint64_t local = 0;  // this cache's count of Put and Erase calls
    uint64_t store = 0;
    uint64_t kind = kNone;
  };
  // Get(key, scratch) that also stamps a memory copy (see HitStamp).
  std::optional<Hit> Get(std::string_view key, Scratch* scratch,
                         HitStamp* stamp);

  // True when a value Get stamped `stamp` is still the key's newest version
  // here: no Put or Erase has gone through this cache since (of any key),
  // no ScopedOverride is live in this thread, and the file tier's count is
  // the one in the stamp, which is the check a memory hit makes (above).
  // It may be a value the tiers have since evicted, never one they
  // replaced or erased. Counts a memory hit in this cache's stats (the
  // memory tier's own stats do not see it). Read-only file handles never
  // pass (their counts move on every read).
  bool Recall(const HitStamp& stamp);

  // Stores `value` under `key` in every serving tier, with Options::ttl,
  // and removes older versions from the tiers that do not keep it (see the
  // rule above). When no serving tier keeps it (the file tier failing, a
  // value too large for the memory tier), the fallback tier does. A cache
  // may forget, so there is nothing to return: failures show in the log
  // and the stats. Disabled: stores nothing.
  void Put(std::string_view key, std::string_view value);

  // Removes `key` from every open tier.
  void Erase(std::string_view key);

  // Takes the store-wide lock of `key` (FileCache::LockKey) when the file
  // tier serves this call, so that processes missing one key compute it
  // once. Without a file tier, or where locks fail, returns a lock that is
  // not held (and says so once through the log).
  KeyLock LockKey(std::string_view key);

  // Computing `key` once, for a caller that missed Get and then took
  // LockKey: the value another process of this machine stored meanwhile
  // (the local tiers are read again), or the one another machine stored
  // while this one waited for its lease (RemoteCache::Claim, copied into the
  // local tiers like a remote hit); else nullopt with *lease held (or not,
  // when the remote tier does not serve this call or fails): compute, Put,
  // and keep the lease until after Put. The remote tier costs one round
  // trip here when no one else computes `key`.
  std::optional<Hit> GetOrClaim(std::string_view key, RemoteLease* lease);

  // True when calls from this thread, now, go straight through (Options::
  // disable, UCACHE_DISABLE, or a ScopedOverride).
  bool disabled() const {
    if (disabled_by_options_) return true;
    if (std::optional<Backend> o = ScopedOverride::Current()) {
      return *o == Backend::kDisabled;
    }
    return configured_disabled_;
  }

  // The backend that serves calls (without a ScopedOverride), and why it is
  // that one: "as configured by UCACHE_BACKEND=memory" (or by
  // options.backend), "disabled by UCACHE_DISABLE=1" (or options.disable,
  // ...), or what failed.
  Backend active_backend() const;
  std::string active_reason() const;

  CacheStats GetStats() const;

  // The options in force: after the environment, with dir resolved to an
  // absolute path once, at open, so a later chdir moves nothing (empty
  // when no store path could be found).
  const Options& options() const;

  class Impl;

 private:
  explicit Cache(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  // For disabled(), inline (every memoized call asks): Options::disable
  // (after the environment), and whether the backend chosen at open is
  // kDisabled. Constant.
  bool disabled_by_options_ = false;
  bool configured_disabled_ = false;
};

}  // namespace ucache

#endif  // UCACHE_CACHE_H_
