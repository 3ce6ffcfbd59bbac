// ShardRing: which server holds a key, by weighted rendezvous hashing.
// Each key goes to the shard with the highest score -weight / ln(u), u a
// hash of (shard, key) in (0, 1): shards win in proportion to their weight,
// and adding a shard moves only the keys it now wins.

#ifndef UCACHE_SRC_REMOTE_SHARD_RING_H_
#define UCACHE_SRC_REMOTE_SHARD_RING_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ucache::remote_internal {

class ShardRing {
 public:
  struct Shard {
    std::string name;  // its identity: the same name, the same keys
    uint32_t weight = 1;
  };
  explicit ShardRing(const std::vector<Shard>& shards);

  // The index (into the constructor's vector) of the shard holding `key`.
  size_t Pick(std::string_view key) const;

 private:
  std::vector<uint64_t> seeds_;  // hash of each shard's name
  std::vector<double> weights_;
};

}  // namespace ucache::remote_internal

#endif  // UCACHE_SRC_REMOTE_SHARD_RING_H_
