// NewPolicy: builds the Policy for an EvictionPolicy value.

#ifndef UCACHE_SRC_MCACHE_POLICY_FACTORY_H_
#define UCACHE_SRC_MCACHE_POLICY_FACTORY_H_

#include <cstddef>
#include <memory>

#include "src/mcache/policy.h"
#include "ucache/memory_cache.h"

namespace ucache {
namespace mcache_internal {

// `capacity` is the shard's entry bound, or zero when only bytes bound it
// (policies that size themselves then learn the capacity as they go).
std::unique_ptr<Policy> NewPolicy(EvictionPolicy kind, size_t capacity);

}  // namespace mcache_internal
}  // namespace ucache

#endif  // UCACHE_SRC_MCACHE_POLICY_FACTORY_H_
