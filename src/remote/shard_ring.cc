#include "src/remote/shard_ring.h"

#include <xxhash.h>

#include <cmath>

namespace ucache::remote_internal {

ShardRing::ShardRing(const std::vector<Shard>& shards) {
  for (const Shard& s : shards) {
    seeds_.push_back(XXH3_64bits(s.name.data(), s.name.size()));
    weights_.push_back(static_cast<double>(s.weight));
  }
}

size_t ShardRing::Pick(std::string_view key) const {
  if (seeds_.size() <= 1) return 0;  // one shard: no hashing on the hot path
  size_t best = 0;
  double best_score = -1;
  for (size_t i = 0; i < seeds_.size(); ++i) {
    const uint64_t h = XXH3_64bits_withSeed(key.data(), key.size(), seeds_[i]);
    // The top 53 bits, centred in their interval: u is never 0 nor 1.
    const double u = (static_cast<double>(h >> 11) + 0.5) * 0x1p-53;
    const double score = -weights_[i] / std::log(u);
    if (score > best_score) {
      best_score = score;
      best = i;
    }
  }
  return best;
}

}  // namespace ucache::remote_internal
