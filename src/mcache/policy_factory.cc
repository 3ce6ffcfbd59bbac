#include "src/mcache/policy_factory.h"

#include "src/mcache/fifo_policy.h"
#include "src/mcache/lfu_policy.h"
#include "src/mcache/lru_policy.h"
#include "src/mcache/tinylfu_policy.h"

namespace ucache {
namespace mcache_internal {

std::unique_ptr<Policy> NewPolicy(EvictionPolicy kind, size_t capacity) {
  switch (kind) {
    case EvictionPolicy::kLru:
      return std::make_unique<LruPolicy>();
    case EvictionPolicy::kLfu:
      return std::make_unique<LfuPolicy>();
    case EvictionPolicy::kFifo:
      return std::make_unique<FifoPolicy>();
    case EvictionPolicy::kTinyLfu:
      break;
  }
  TinyLfuOptions options;
  options.capacity = capacity;
  return std::make_unique<TinyLfuPolicy>(options);
}

}  // namespace mcache_internal
}  // namespace ucache
