// OpenRemote: RemoteCache::Open over a given Connector, the network seam
// (connection.h), for tests that fail the network on cue.

#ifndef UCACHE_SRC_REMOTE_REMOTE_IMPL_H_
#define UCACHE_SRC_REMOTE_REMOTE_IMPL_H_

#include <memory>
#include <string_view>

#include "src/remote/connection.h"
#include "ucache/remote_cache.h"

namespace ucache::remote_internal {

Result<std::unique_ptr<RemoteCache>> OpenRemote(
    std::string_view url, const RemoteOptions& options,
    std::shared_ptr<Connector> connector);

}  // namespace ucache::remote_internal

#endif  // UCACHE_SRC_REMOTE_REMOTE_IMPL_H_
