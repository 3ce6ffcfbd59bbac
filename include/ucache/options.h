// Options: how a memoized function or a Cache (cache.h) finds its store,
// which tiers serve it, and where its warnings go; plus the default root of
// stores and the path of a store by name.
//
// Environment variables override the code, so that whoever runs a program can
// redirect or switch off its caches without rebuilding it (unless
// Options::read_environment is false):
//   UCACHE_DIR=/path     root of stores: the store becomes /path/<store>,
//                        replacing both the default root and Options::dir
//   UCACHE_BACKEND=name  auto | memory+file+redis | memory+file | memory |
//                        file | redis | fallback | disabled; replaces
//                        Options::backend
//   UCACHE_REMOTE=urls   the remote tier's servers, replacing Options::remote;
//                        set and empty, it turns the remote tier off
//   UCACHE_DISABLE=1     call straight through and cache nothing (any value
//                        but empty and "0")
// An unrecognised UCACHE_BACKEND is reported through the log sink and ignored.

#ifndef UCACHE_OPTIONS_H_
#define UCACHE_OPTIONS_H_

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "ucache/fallback_cache.h"
#include "ucache/file_cache.h"
#include "ucache/internal/language_level.h"
#include "ucache/log.h"
#include "ucache/memory_cache.h"
#include "ucache/remote_cache.h"
#include "ucache/status.h"

namespace ucache {

// The tiers that serve a cache. As a request (Options::backend) kAuto asks for
// the best that works, in this order: kMemoryFileRemote (when Options::remote
// names servers), kMemoryAndFile, kMemory, kFallback. As an answer
// (Cache::active_backend) it never appears.
enum class Backend {
  kAuto,
  kMemoryAndFile,     // the memory tier over the file tier (skips the remote)
  kMemoryFileRemote,  // "memory+file+redis": both over the remote tier
  kRemote,            // "redis": the remote tier alone (pins it)
  kMemory,            // the memory tier alone: this process, this run
  kFile,              // the file tier alone: shared by processes and runs
  kFallback,          // the bounded LRU that cannot fail
  kDisabled,          // nothing is cached; calls go straight through
};

// "auto", "memory+file", "memory+file+redis", "redis", "memory", "file",
// "fallback", "disabled".
std::string_view BackendName(Backend backend);
// The inverse of BackendName; nullopt for anything else.
std::optional<Backend> ParseBackend(std::string_view name);

struct Options {
  // The store's directory. Empty: StorePath(store). UCACHE_DIR replaces it.
  // A relative path (here or in UCACHE_DIR) is taken from the working
  // directory at Cache::Open, once.
  std::string dir;
  // The store's name under the root, used when `dir` is empty or UCACHE_DIR
  // is set: letters, digits, '.', '_' and '-', not starting with '.'.
  // Default "default".
  std::string store = "default";

  // Which tiers serve. Default kAuto. UCACHE_BACKEND replaces it.
  Backend backend = Backend::kAuto;
  // Cache nothing: every call runs the function. UCACHE_DISABLE=1 sets it.
  bool disable = false;

  // How long a stored value lives, in every tier; zero means forever.
  // Expiry on disk is wall-clock time. Default 0.
  std::chrono::milliseconds ttl{0};

  // The memory tier. Default: 256 MiB over 4 shards, so that a single value
  // of up to 64 MiB (a large numeric array) still fits a shard.
  MemoryCacheOptions memory = [] {
    MemoryCacheOptions m;
    m.max_bytes = size_t{256} << 20;
    m.shards = 4;
    return m;
  }();
  // The file tier (FileCacheOptions' defaults).
  FileCacheOptions file;
  // The fallback tier (FallbackCacheOptions' defaults).
  FallbackCacheOptions fallback;

  // With the file tier serving, values larger than this live in it alone:
  // it serves them from its mapping, where a second copy in the memory tier
  // would cost a copy (and its page faults) on every fill and save nothing
  // on a hit. Smaller values are copied into the memory tier on a file hit.
  // Default 1 MiB.
  size_t large_value_bytes = size_t{1} << 20;

  // After a write to the file tier fails (a full disk, I/O errors), writes
  // go to the other tiers and the file tier is tried again after this long;
  // reads keep using it throughout. A value the file tier refuses alone (too
  // large for file.max_bytes) does not start this pause. Default 10 s.
  std::chrono::milliseconds file_retry_interval{10000};

  // The remote tier (remote_cache.h): space-separated
  // redis://[[user:]password@]host[:port][/db] and
  // redis+unix:///path.sock[?db=N] URLs, the shards. Empty: no remote tier.
  // UCACHE_REMOTE replaces it. Its log is Options::log.
  std::string remote;
  RemoteOptions remote_options;

  // Where warnings go. Null: one line each on stderr, "ucache: warning: ...".
  LogSink log;

  // Apply UCACHE_DIR, UCACHE_BACKEND, UCACHE_DISABLE and UCACHE_REMOTE.
  // Default true.
  bool read_environment = true;
};

// The default root of stores: $XDG_CACHE_HOME/ucache when XDG_CACHE_HOME is
// an absolute path, else $HOME/.cache/ucache, with the symlinks of the part
// before "/ucache" resolved (a symlinked ~/.cache serves; "ucache" and the
// store directory themselves must not be symlinks). NotFound when neither
// is set.
Result<std::string> DefaultRoot();

// The directory of the store called `name`: <root>/<name>, where root is
// $UCACHE_DIR when set and DefaultRoot() otherwise. InvalidArgument when the
// name could leave the root (see Options::store for what is allowed).
Result<std::string> StorePath(std::string_view name);

}  // namespace ucache

#endif  // UCACHE_OPTIONS_H_
