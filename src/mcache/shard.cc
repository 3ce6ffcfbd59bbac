#include "src/mcache/shard.h"

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

namespace ucache {
namespace mcache_internal {

Shard::Shard(std::unique_ptr<Policy> policy, size_t max_entries,
             size_t max_bytes, const Clock* clock)
    : max_entries_(max_entries),
      max_bytes_(max_bytes),
      clock_(clock),
      policy_(std::move(policy)) {
  ReserveIndex();
}

Shard::~Shard() = default;

void Shard::ReserveIndex() {
  // Growing the index rehashes every entry under the lock; with a known
  // bound, pay for the table up front, but not for a huge bound that may
  // never fill.
  constexpr size_t kMaxReserve = size_t{1} << 16;
  if (max_entries_ != 0)
    index_.reserve(std::min(max_entries_ + 1, kMaxReserve));
}

void Shard::RemoveLocked(Index::iterator it) {
  Entry* e = it->second.get();
  policy_->RecordRemove(e);
  bytes_ -= e->charge;
  index_.erase(it);
}

void Shard::EvictLocked() {
  while (OverBounds()) {
    Entry* victim = policy_->ChooseVictim();
    if (victim == nullptr) break;  // unreachable while entries remain
    auto it = index_.find(KeyRef{victim->key, victim->hash});
    RemoveLocked(it);
    ++evictions_;
  }
}

Status Shard::Put(std::string_view key, uint64_t hash,
                  std::shared_ptr<const std::string> value, int64_t expires_at,
                  const MemoryStamp& stamp) {
  const size_t charge = EntryCharge(key.size(), value->size());
  // Declared before the lock, so an overwritten value is freed after it.
  std::shared_ptr<const std::string> old_value;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(KeyRef{key, hash});
  if (max_bytes_ != 0 && charge > max_bytes_) {
    if (it != index_.end()) RemoveLocked(it);
    return Status::NoSpace(
        "memory cache: the entry outweighs its shard's "
        "share of max_bytes");
  }
  if (it != index_.end()) {
    Entry* e = it->second.get();
    bytes_ = bytes_ - e->charge + charge;
    old_value = std::move(e->value);
    e->value = std::move(value);
    e->charge = charge;
    e->expires_at = expires_at;
    e->stamp = stamp;
    policy_->RecordAccess(e);
  } else {
    auto owned = std::make_unique<Entry>();
    Entry* e = owned.get();
    e->key.assign(key);
    e->value = std::move(value);
    e->hash = hash;
    e->expires_at = expires_at;
    e->charge = charge;
    e->stamp = stamp;
    index_.emplace(KeyRef{e->key, hash}, std::move(owned));
    bytes_ += charge;
    policy_->RecordInsert(e);
  }
  EvictLocked();
  return Status::OK();
}

std::shared_ptr<const std::string> Shard::Get(std::string_view key,
                                              uint64_t hash, MemoryStamp* stamp,
                                              MemoryCopy* copy) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(KeyRef{key, hash});
  if (it == index_.end()) {
    ++misses_;
    return nullptr;
  }
  if (Expired(*it->second)) {
    RemoveLocked(it);
    ++expirations_;
    ++misses_;
    return nullptr;
  }
  ++hits_;
  policy_->RecordAccess(it->second.get());
  if (stamp != nullptr) *stamp = it->second->stamp;
  const std::string& value = *it->second->value;
  if (copy != nullptr && value.size() <= copy->capacity) {
    std::memcpy(copy->buffer, value.data(), value.size());
    copy->copied = true;
    copy->size = value.size();
    return nullptr;
  }
  return it->second->value;
}

void Shard::Restamp(std::string_view key, uint64_t hash,
                    const std::string* value, const MemoryStamp& stamp) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(KeyRef{key, hash});
  if (it != index_.end() && it->second->value.get() == value) {
    it->second->stamp = stamp;
  }
}

bool Shard::Contains(std::string_view key, uint64_t hash) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(KeyRef{key, hash});
  if (it == index_.end()) return false;
  if (Expired(*it->second)) {
    RemoveLocked(it);
    ++expirations_;
    return false;
  }
  return true;
}

void Shard::Erase(std::string_view key, uint64_t hash) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(KeyRef{key, hash});
  if (it != index_.end()) RemoveLocked(it);
}

void Shard::Clear() {
  Index old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [ref, entry] : index_) policy_->RecordRemove(entry.get());
    old.swap(index_);
    bytes_ = 0;
    ReserveIndex();
  }
  // `old` frees the entries here, outside the lock.
}

size_t Shard::PurgeExpired() {
  std::lock_guard<std::mutex> lock(mu_);
  size_t dropped = 0;
  for (auto it = index_.begin(); it != index_.end();) {
    auto next = std::next(it);
    if (Expired(*it->second)) {
      RemoveLocked(it);
      ++dropped;
    }
    it = next;
  }
  expirations_ += dropped;
  return dropped;
}

void Shard::AddStats(MemoryCacheStats* stats) const {
  std::lock_guard<std::mutex> lock(mu_);
  stats->hits += hits_;
  stats->misses += misses_;
  stats->evictions += evictions_;
  stats->expirations += expirations_;
  stats->bytes += bytes_;
  stats->entries += index_.size();
}

}  // namespace mcache_internal
}  // namespace ucache
