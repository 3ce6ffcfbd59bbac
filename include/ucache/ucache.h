// ucache: an embedded key-value cache for C++ programs. This umbrella header
// is the whole public API; consumers depend on the Bazel target
// @ucache//:ucache and write `#include "ucache/ucache.h"`.
//
// Tiers: FileCache (file_cache.h) is the disk tier, a memory-mapped append
// log shared by every process on the machine; MemoryCache (memory_cache.h)
// is the in-process tier, sharded, bounded, with a choice of eviction policy.
// Env (env.h) is the operating- system seam. Status and Result (status.h) carry
// every outcome.

#ifndef UCACHE_UCACHE_H_
#define UCACHE_UCACHE_H_

#include "ucache/cache.h"
#include "ucache/codec.h"
#include "ucache/env.h"
#include "ucache/fallback_cache.h"
#include "ucache/file_cache.h"
#include "ucache/internal/language_level.h"
#include "ucache/memoize.h"
#include "ucache/memoize_types.h"
#include "ucache/memory_cache.h"
#include "ucache/options.h"
#include "ucache/remote_cache.h"
#include "ucache/scoped_override.h"
#include "ucache/status.h"

#endif  // UCACHE_UCACHE_H_
