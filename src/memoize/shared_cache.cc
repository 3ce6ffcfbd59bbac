// memoize_internal::SharedCache: the process's caches for memoize(name, fn,
// options), one per set of options that resolves to the same cache, so that
// functions memoized on one store share its memory budget, its file handles
// and its warnings.
//
// This is process-wide state, against the house rule, because the promise
// it keeps is process-wide: "one Cache per store in a process". It holds
// only weak references (a cache dies with its last user) and is built on
// first use, so it needs no initialization at startup and nothing at exit.

#include <pthread.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "src/selector/resolve.h"
#include "ucache/cache.h"
#include "ucache/memoize.h"
#include "ucache/options.h"

namespace ucache::memoize_internal {
namespace {

// A std::function has no equality. Two are the same here when both are
// empty or both hold the same plain function; any other callable (a lambda,
// a bound object) makes its options unique.
template <class R, class... A>
bool SameFunction(const std::function<R(A...)>& a,
                  const std::function<R(A...)>& b) {
  if (!a && !b) return true;
  using Plain = R (*)(A...);
  const Plain* pa = a.template target<Plain>();
  const Plain* pb = b.template target<Plain>();
  return pa != nullptr && pb != nullptr && *pa == *pb;
}

// Every field is compared. The sizes catch a field added later: compare it
// below, then update the size.
static_assert(sizeof(MemoryCacheOptions) == 72, "compare the new field");
static_assert(sizeof(FileCacheOptions) == 72, "compare the new field");
static_assert(sizeof(FallbackCacheOptions) == 48, "compare the new field");
static_assert(sizeof(Options) == 544, "compare the new field");
static_assert(sizeof(RemoteOptions) == 184, "compare the new field");

bool Same(const MemoryCacheOptions& a, const MemoryCacheOptions& b) {
  return a.max_entries == b.max_entries && a.max_bytes == b.max_bytes &&
         a.default_ttl == b.default_ttl && a.policy == b.policy &&
         a.shards == b.shards && SameFunction(a.clock, b.clock);
}

bool Same(const FileCacheOptions& a, const FileCacheOptions& b) {
  return a.create_if_missing == b.create_if_missing &&
         a.read_only == b.read_only && a.compression == b.compression &&
         a.lz4hc_level == b.lz4hc_level &&
         a.compression_threshold == b.compression_threshold &&
         a.default_ttl == b.default_ttl && a.max_bytes == b.max_bytes &&
         a.compaction_dead_ratio == b.compaction_dead_ratio &&
         a.compaction_min_bytes == b.compaction_min_bytes &&
         a.sync_writes == b.sync_writes && a.env == b.env;
}

bool Same(const FallbackCacheOptions& a, const FallbackCacheOptions& b) {
  return a.max_entries == b.max_entries && a.max_bytes == b.max_bytes &&
         SameFunction(a.clock, b.clock);
}

bool Same(const RemoteOptions& a, const RemoteOptions& b) {
  return a.key_prefix == b.key_prefix && a.read_only == b.read_only &&
         a.connect_timeout == b.connect_timeout &&
         a.operation_timeout == b.operation_timeout &&
         a.retry_initial == b.retry_initial && a.retry_max == b.retry_max &&
         a.write_behind == b.write_behind &&
         a.write_queue_bytes == b.write_queue_bytes &&
         a.drain_timeout == b.drain_timeout &&
         a.max_value_bytes == b.max_value_bytes &&
         a.chunk_bytes == b.chunk_bytes && a.compression == b.compression &&
         a.compression_threshold == b.compression_threshold &&
         a.lease_ttl == b.lease_ttl && a.lease_wait == b.lease_wait &&
         a.pool_size == b.pool_size && SameFunction(a.log, b.log);
}

// Options after the environment (ResolveOptions), as Cache::options() keeps
// them.
bool Same(const Options& a, const Options& b) {
  return a.dir == b.dir && a.store == b.store && a.backend == b.backend &&
         a.disable == b.disable && a.ttl == b.ttl && Same(a.memory, b.memory) &&
         Same(a.file, b.file) && Same(a.fallback, b.fallback) &&
         a.large_value_bytes == b.large_value_bytes &&
         a.file_retry_interval == b.file_retry_interval &&
         SameFunction(a.log, b.log) &&
         a.read_environment == b.read_environment && a.remote == b.remote &&
         Same(a.remote_options, b.remote_options);
}

class Registry {
 public:
  std::shared_ptr<Cache> Get(const Options& options) {
    const Options resolved = selector_internal::ResolveOptions(options).options;
    // A forked child must not use its parent's caches: their file
    // descriptions (and so their per-key locks) are shared with the parent,
    // which they would then fail to exclude.
    const pid_t pid = getpid();
    std::lock_guard<std::mutex> lock(mu_);
    std::shared_ptr<Cache> found;
    std::erase_if(entries_, [&](const Entry& entry) {
      std::shared_ptr<Cache> cache = entry.cache.lock();
      if (cache == nullptr || entry.pid != pid) return true;
      if (found == nullptr && Same(cache->options(), resolved)) found = cache;
      return false;
    });
    if (found != nullptr) return found;
    // Opened under the lock, so that two threads memoizing on one store at
    // once get one cache (and one warning).
    std::shared_ptr<Cache> cache = Cache::Open(options);
    entries_.push_back({pid, cache});
    return cache;
  }

  void Lock() { mu_.lock(); }
  void Unlock() { mu_.unlock(); }

 private:
  struct Entry {
    pid_t pid;  // the process that opened it
    std::weak_ptr<Cache> cache;
  };

  std::mutex mu_;
  std::vector<Entry> entries_;  // guarded by mu_
};

}  // namespace

std::shared_ptr<Cache> SharedCache(const Options& options) {
  static Registry* const registry = [] {
    auto* r = new Registry;  // never destroyed: fork handlers use it
    // A forked child opens its caches here (State::InThisProcess), and
    // another thread may hold the lock at the fork, opening a cache: held
    // across the fork, it is unlocked on both sides.
    ::pthread_atfork([] { registry->Lock(); }, [] { registry->Unlock(); },
                     [] { registry->Unlock(); });
    return r;
  }();
  return registry->Get(options);
}

}  // namespace ucache::memoize_internal
