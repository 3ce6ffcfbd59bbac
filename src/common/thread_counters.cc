#include "ucache/internal/thread_counters.h"

#include <algorithm>
#include <utility>

namespace ucache::counters_internal {

thread_local constinit CachedBlock cached_blocks[kCachedBlocks] = {};

namespace {

std::atomic<uint64_t> next_set_id{1};

// The blocks this thread took, by set id: kept alive by the thread too, and
// handed back when it exits.
struct OwnedBlocks {
  std::vector<std::pair<uint64_t, std::shared_ptr<Block>>> blocks;
  ~OwnedBlocks();
};

// Set when this thread's OwnedBlocks is destroyed; trivially destructible,
// so it stays readable after.
thread_local constinit bool owned_blocks_gone = false;
thread_local OwnedBlocks owned_blocks;

OwnedBlocks::~OwnedBlocks() {
  for (auto& [id, block] : blocks) {
    block->taken.store(false, std::memory_order_release);
  }
  owned_blocks_gone = true;
  // The cache points into blocks this thread may have been the last owner
  // of.
  std::fill(std::begin(cached_blocks), std::end(cached_blocks), CachedBlock{});
}

}  // namespace

ThreadCounters::ThreadCounters()
    : id_(next_set_id.fetch_add(1, std::memory_order_relaxed)) {}

ThreadCounters::~ThreadCounters() = default;

void ThreadCounters::AddSlow(size_t i, uint64_t n) {
  if (owned_blocks_gone) {
    shared_.values[i].fetch_add(n, std::memory_order_relaxed);
    return;
  }
  std::vector<std::pair<uint64_t, std::shared_ptr<Block>>>& mine =
      owned_blocks.blocks;
  Block* block = nullptr;
  for (const auto& [id, b] : mine) {
    if (id == id_) block = b.get();
  }
  if (block == nullptr) {
    // Blocks whose set is gone (this thread is their last owner) are
    // dropped here, so a long-lived thread does not collect them. Their
    // cache entries hold ids no set has any more.
    std::erase_if(
        mine, [](const auto& entry) { return entry.second.use_count() == 1; });
    std::shared_ptr<Block> taken;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const std::shared_ptr<Block>& b : blocks_) {
        // Acquire: the last owner's counts are seen before we add to them.
        if (!b->taken.load(std::memory_order_relaxed) &&
            !b->taken.exchange(true, std::memory_order_acquire)) {
          taken = b;
          break;
        }
      }
      if (taken == nullptr) {
        taken = std::make_shared<Block>();
        taken->taken.store(true, std::memory_order_relaxed);
        blocks_.push_back(taken);
      }
    }
    block = taken.get();
    mine.emplace_back(id_, std::move(taken));
  }
  cached_blocks[id_ % kCachedBlocks] = CachedBlock{id_, block};
  std::atomic<uint64_t>& v = block->values[i];
  v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

std::array<uint64_t, kCounters> ThreadCounters::Sums() const {
  std::array<uint64_t, kCounters> sums{};
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < kCounters; ++i) {
    sums[i] = shared_.values[i].load(std::memory_order_relaxed);
  }
  for (const std::shared_ptr<Block>& b : blocks_) {
    for (size_t i = 0; i < kCounters; ++i) {
      sums[i] += b->values[i].load(std::memory_order_relaxed);
    }
  }
  return sums;
}

size_t ThreadCounters::blocks() const {
  std::lock_guard<std::mutex> lock(mu_);
  return blocks_.size();
}

}  // namespace ucache::counters_internal
