#include "ucache/fallback_cache.h"

#include <algorithm>
#include <list>
#include <mutex>
#include <unordered_map>

#include "src/common/expiry.h"
#include "src/common/steady_clock.h"

namespace ucache {

class FallbackCache::Impl {
 public:
  explicit Impl(const FallbackCacheOptions& options)
      : max_entries_(std::max<size_t>(options.max_entries, 1)),
        max_bytes_(options.max_bytes),
        clock_(options.clock ? options.clock : SteadyMillis) {}

  void Put(std::string_view key, std::string_view value,
           std::chrono::milliseconds ttl) {
    const int64_t expiry = ttl.count() > 0 ? ExpiryAfter(clock_(), ttl.count()) : 0;
    std::lock_guard<std::mutex> lock(mu_);
    RemoveLocked(key);
    if (max_bytes_ != 0 && key.size() + value.size() > max_bytes_) return;
    lru_.push_front(Entry{std::string(key),
                          std::make_shared<const std::string>(value), expiry});
    index_.emplace(lru_.front().key, lru_.begin());
    bytes_ += Weight(lru_.front());
    while (lru_.size() > max_entries_ ||
           (max_bytes_ != 0 && bytes_ > max_bytes_)) {
      EraseLocked(std::prev(lru_.end()));
      ++evictions_;
    }
  }

  std::shared_ptr<const std::string> Get(std::string_view key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = index_.find(key);
    if (it == index_.end() ||
        (it->second->expiry != 0 && clock_() >= it->second->expiry)) {
      if (it != index_.end()) EraseLocked(it->second);
      ++misses_;
      return nullptr;
    }
    lru_.splice(lru_.begin(), lru_, it->second);
    ++hits_;
    return it->second->value;
  }

  void Erase(std::string_view key) {
    std::lock_guard<std::mutex> lock(mu_);
    RemoveLocked(key);
  }

  void Clear() {
    std::lock_guard<std::mutex> lock(mu_);
    index_.clear();
    lru_.clear();
    bytes_ = 0;
  }

  FallbackCacheStats GetStats() const {
    std::lock_guard<std::mutex> lock(mu_);
    return FallbackCacheStats{hits_, misses_, evictions_, lru_.size(), bytes_};
  }

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const std::string> value;
    int64_t expiry;  // clock_ time; 0 = never
  };
  using Iter = std::list<Entry>::iterator;

  static uint64_t Weight(const Entry& e) {
    return e.key.size() + e.value->size();
  }

  void RemoveLocked(std::string_view key) {
    auto it = index_.find(key);
    if (it != index_.end()) EraseLocked(it->second);
  }

  void EraseLocked(Iter entry) {
    bytes_ -= Weight(*entry);
    index_.erase(std::string_view(entry->key));
    lru_.erase(entry);
  }

  // Constant after construction.
  const size_t max_entries_;
  const size_t max_bytes_;
  const std::function<int64_t()> clock_;

  // Guarded by mu_. index_'s keys view the keys owned by lru_'s entries,
  // whose addresses std::list keeps stable.
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<std::string_view, Iter> index_;
  uint64_t bytes_ = 0;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
  uint64_t evictions_ = 0;
};

FallbackCache::FallbackCache(const FallbackCacheOptions& options)
    : impl_(std::make_unique<Impl>(options)) {}
FallbackCache::~FallbackCache() = default;

void FallbackCache::Put(std::string_view key, std::string_view value,
                        std::chrono::milliseconds ttl) {
  impl_->Put(key, value, ttl);
}
std::shared_ptr<const std::string> FallbackCache::Get(std::string_view key) {
  return impl_->Get(key);
}
void FallbackCache::Erase(std::string_view key) { impl_->Erase(key); }
void FallbackCache::Clear() { impl_->Clear(); }
FallbackCacheStats FallbackCache::GetStats() const { return impl_->GetStats(); }

}  // namespace ucache
