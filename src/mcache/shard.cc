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
      policy_(std::move(policy)),
      index_(policy_.get()) {
  ReserveIndex();
}

Shard::~Shard() = default;

void Shard::ReserveIndex() {
  // Growing the index moves every entry under the lock; with a known bound,
  // pay for the table up front, but not for a large bound that may never
  // fill: the slots hold the entries, 128 bytes each (4,096 entries reserve
  // 1 MiB of slots).
  constexpr size_t kMaxReserve = size_t{1} << 12;
  if (max_entries_ != 0)
    index_.Reserve(std::min(max_entries_ + 1, kMaxReserve));
}

Entry* Shard::FindLiveLocked(std::string_view key, uint64_t hash) {
  Entry* e = index_.Find(key, hash);
  if (e != nullptr && Expired(*e)) {
    RemoveLocked(e);
    ++expirations_;
    return nullptr;
  }
  return e;
}

void Shard::ApplyHitsLocked() {
  for (size_t i = 0; i < pending_count_; ++i) {
    if (i == 0 || pending_hits_[i] != pending_hits_[i - 1]) {
      policy_->PrefetchAccess(*pending_hits_[i]);
    }
  }
  // A run of hits on one entry goes over as one call (RecordAccesses).
  for (size_t i = 0; i < pending_count_;) {
    size_t end = i + 1;
    while (end < pending_count_ && pending_hits_[end] == pending_hits_[i]) {
      ++end;
    }
    policy_->RecordAccesses(pending_hits_[i], end - i);
    i = end;
  }
  pending_count_ = 0;
}

void Shard::RemoveLocked(Entry* e) {
  ApplyHitsLocked();  // a no-op when the caller applied them already
  policy_->RecordRemove(e);
  bytes_ -= e->charge;
  index_.Remove(e);
}

void Shard::EvictLocked() {
  while (OverBounds()) {
    Entry* victim = policy_->ChooseVictim();
    if (victim == nullptr) break;  // unreachable while entries remain
    RemoveLocked(victim);
    ++evictions_;
  }
}

Status Shard::Put(std::string_view key, uint64_t hash, std::string_view value,
                  int64_t expires_at, const MemoryStamp& stamp) {
  const size_t charge = EntryCharge(key.size(), value.size());
  std::shared_ptr<const std::string> large;
  if (value.size() > Entry::kSmallValueBytes) {
    large = std::make_shared<const std::string>(value);
  }
  // Declared before the lock, so an overwritten value is freed after it.
  std::shared_ptr<const std::string> old_value;
  std::lock_guard<std::mutex> lock(mu_);
  ApplyHitsLocked();
  Entry* e = index_.Find(key, hash);
  if (max_bytes_ != 0 && charge > max_bytes_) {
    if (e != nullptr) RemoveLocked(e);
    return Status::NoSpace(
        "memory cache: the entry outweighs its shard's "
        "share of max_bytes");
  }
  if (e != nullptr) {
    bytes_ = bytes_ - e->charge + charge;
    old_value = e->SetValue(value, std::move(large));
    e->charge = charge;
    e->expires_at = expires_at;
    e->stamp = stamp;
    policy_->RecordAccess(e);
  } else {
    e = index_.Insert(key, hash);
    e->SetValue(value, std::move(large));
    e->expires_at = expires_at;
    e->charge = charge;
    e->stamp = stamp;
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
  Entry* e = FindLiveLocked(key, hash);
  if (e == nullptr) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  RecordHitLocked(e);
  if (stamp != nullptr) *stamp = e->stamp;
  const std::string_view value = e->bytes();
  if (copy != nullptr && value.size() <= copy->capacity) {
    if (!value.empty()) std::memcpy(copy->buffer, value.data(), value.size());
    copy->copied = true;
    copy->size = value.size();
    copy->expires = e->expires_at != 0;
    return nullptr;
  }
  return e->Shared();
}

bool Shard::GetCopy(std::string_view key, uint64_t hash, std::string* value) {
  std::shared_ptr<const std::string> large;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Entry* e = FindLiveLocked(key, hash);
    if (e == nullptr) {
      ++misses_;
      return false;
    }
    ++hits_;
    RecordHitLocked(e);
    const std::string_view bytes = e->bytes();
    if (bytes.size() <= kCopyUnderLockBytes) {
      value->assign(bytes);
      return true;
    }
    large = e->Shared();
  }
  value->assign(*large);
  return true;
}

void Shard::Restamp(std::string_view key, uint64_t hash,
                    const std::string* value, const MemoryStamp& stamp) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry* e = index_.Find(key, hash);
  if (e != nullptr && e->shared_value() == value) e->stamp = stamp;
}

bool Shard::Contains(std::string_view key, uint64_t hash) {
  std::lock_guard<std::mutex> lock(mu_);
  return FindLiveLocked(key, hash) != nullptr;
}

void Shard::Erase(std::string_view key, uint64_t hash) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry* e = index_.Find(key, hash);
  if (e != nullptr) RemoveLocked(e);
}

void Shard::Clear() {
  EntryTable old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ApplyHitsLocked();
    index_.ForEach([this](Entry* e) { policy_->RecordRemove(e); });
    old.Swap(index_);
    bytes_ = 0;
    ReserveIndex();
  }
  // `old` frees the entries here, outside the lock.
}

size_t Shard::PurgeExpired() {
  std::lock_guard<std::mutex> lock(mu_);
  // Named first, by key: a removal moves later entries back, under the
  // scan.
  std::vector<std::pair<std::string, uint64_t>> expired;
  index_.ForEach([&](const Entry* e) {
    if (Expired(*e)) expired.emplace_back(std::string(e->key), e->hash);
  });
  for (const auto& [key, hash] : expired) {
    RemoveLocked(index_.Find(key, hash));
  }
  expirations_ += expired.size();
  return expired.size();
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
