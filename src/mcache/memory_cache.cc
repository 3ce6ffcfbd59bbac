#include "ucache/memory_cache.h"

// Inlined: every call hashes its key, and the call through the shared
// library's PLT and its dispatch were 7% of a small memoized hit. Same
// hashes.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <limits>
#include <vector>

#include "src/common/expiry.h"
#include "src/common/steady_clock.h"
#include "src/mcache/policy_factory.h"
#include "src/mcache/shard.h"

namespace ucache {

namespace {

constexpr size_t kMaxShards = 256;
// Below these shares per shard, the bound would be split so finely that a
// shard evicts long before the cache is full, or rejects ordinary entries.
constexpr size_t kMinEntriesPerShard = 64;
constexpr size_t kMinBytesPerShard = size_t{64} << 10;

// Shard i's share of `total`, spread so the shares sum exactly to `total`.
size_t ShareOf(size_t total, size_t shards, size_t i) {
  return total / shards + (i < total % shards ? 1 : 0);
}

}  // namespace

class MemoryCache::Impl {
 public:
  explicit Impl(const MemoryCacheOptions& options) : options_(options) {
    clock_ =
        options_.clock ? options_.clock : mcache_internal::Clock(SteadyMillis);
    size_t n = options_.shards;
    const size_t e = options_.max_entries;
    const size_t b = options_.max_bytes;
    while (n > 1 && ((e != 0 && e / n < kMinEntriesPerShard) ||
                     (b != 0 && b / n < kMinBytesPerShard))) {
      n /= 2;
    }
    options_.shards = n;
    while ((size_t{1} << shard_bits_) < n) ++shard_bits_;
    shards_.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      const size_t max_entries = e != 0 ? ShareOf(e, n, i) : 0;
      const size_t max_bytes = b != 0 ? ShareOf(b, n, i) : 0;
      shards_.push_back(std::make_unique<mcache_internal::Shard>(
          mcache_internal::NewPolicy(options_.policy, max_entries), max_entries,
          max_bytes, &clock_));
    }
  }

  // The top bits pick the shard; the index and the sketch use the whole hash
  // (the sketch remixes it), so they stay well spread within a shard.
  mcache_internal::Shard& ShardOf(uint64_t hash) {
    return shard_bits_ == 0 ? *shards_[0]
                            : *shards_[hash >> (64 - shard_bits_)];
  }

  static uint64_t Hash(std::string_view key) {
    return XXH3_64bits(key.data(), key.size());
  }

  MemoryCacheOptions options_;
  mcache_internal::Clock clock_;
  int shard_bits_ = 0;
  std::vector<std::unique_ptr<mcache_internal::Shard>> shards_;
};

Result<std::unique_ptr<MemoryCache>> MemoryCache::Open(
    const MemoryCacheOptions& options) {
  if (options.shards == 0 || options.shards > kMaxShards) {
    return Status::InvalidArgument("memory cache: shards must be 1..256");
  }
  if (options.default_ttl.count() < 0) {
    return Status::InvalidArgument("memory cache: default_ttl is negative");
  }
  MemoryCacheOptions adjusted = options;
  size_t pow2 = 1;
  while (pow2 < adjusted.shards) pow2 <<= 1;
  adjusted.shards = pow2;
  return std::unique_ptr<MemoryCache>(
      new MemoryCache(std::make_unique<Impl>(adjusted)));
}

MemoryCache::MemoryCache(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MemoryCache::~MemoryCache() = default;

Status MemoryCache::Put(std::string_view key, std::string_view value,
                        std::chrono::milliseconds ttl,
                        const MemoryStamp& stamp) {
  if (ttl.count() < 0) {
    return Status::InvalidArgument("memory cache: ttl is negative");
  }
  if (ttl.count() == 0) ttl = impl_->options_.default_ttl;
  int64_t expires_at = 0;  // never
  if (ttl.count() != 0) {
    expires_at = ExpiryAfter(impl_->clock_(), ttl.count());
  }
  if (key.size() > mcache_internal::EntryKey::kMaxBytes) {
    return Status::InvalidArgument(
        "memory cache: a key is at most 4 GiB - 1 bytes");
  }
  const uint64_t hash = Impl::Hash(key);
  return impl_->ShardOf(hash).Put(key, hash, value, expires_at, stamp);
}

Status MemoryCache::Get(std::string_view key, std::string* value) {
  const uint64_t hash = Impl::Hash(key);
  if (!impl_->ShardOf(hash).GetCopy(key, hash, value))
    return Status::NotFound();
  return Status::OK();
}

std::shared_ptr<const std::string> MemoryCache::GetShared(
    std::string_view key) {
  return GetShared(key, nullptr);
}

std::shared_ptr<const std::string> MemoryCache::GetShared(std::string_view key,
                                                          MemoryStamp* stamp) {
  return GetShared(key, stamp, nullptr);
}

std::shared_ptr<const std::string> MemoryCache::GetShared(std::string_view key,
                                                          MemoryStamp* stamp,
                                                          MemoryCopy* copy) {
  const uint64_t hash = Impl::Hash(key);
  return impl_->ShardOf(hash).Get(key, hash, stamp, copy);
}

void MemoryCache::Restamp(std::string_view key, const std::string* value,
                          const MemoryStamp& stamp) {
  const uint64_t hash = Impl::Hash(key);
  impl_->ShardOf(hash).Restamp(key, hash, value, stamp);
}

std::optional<std::string> MemoryCache::GetOptional(std::string_view key) {
  std::shared_ptr<const std::string> found = GetShared(key);
  if (found == nullptr) return std::nullopt;
  return *found;
}

bool MemoryCache::Contains(std::string_view key) {
  const uint64_t hash = Impl::Hash(key);
  return impl_->ShardOf(hash).Contains(key, hash);
}

Status MemoryCache::Erase(std::string_view key) {
  const uint64_t hash = Impl::Hash(key);
  impl_->ShardOf(hash).Erase(key, hash);
  return Status::OK();
}

void MemoryCache::Clear() {
  for (auto& shard : impl_->shards_) shard->Clear();
}

size_t MemoryCache::PurgeExpired() {
  size_t dropped = 0;
  for (auto& shard : impl_->shards_) dropped += shard->PurgeExpired();
  return dropped;
}

MemoryCacheStats MemoryCache::GetStats() const {
  MemoryCacheStats stats;
  for (const auto& shard : impl_->shards_) shard->AddStats(&stats);
  return stats;
}

const MemoryCacheOptions& MemoryCache::options() const {
  return impl_->options_;
}

}  // namespace ucache
