// Endpoint: one Redis server as a URL names it, and the parser of
// RemoteCache::Open's URL list.

#ifndef UCACHE_SRC_REMOTE_URL_H_
#define UCACHE_SRC_REMOTE_URL_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ucache/status.h"

namespace ucache::remote_internal {

struct Endpoint {
  std::string host;  // empty for a unix socket
  int port = 6379;
  std::string socket_path;  // a unix socket; empty for TCP
  std::string user;         // empty: AUTH with the password alone
  std::string password;     // empty: no AUTH
  int db = 0;
  uint32_t weight = 1;

  // host:port or the socket path, with the db; never the password. Also the
  // shard's identity for hashing, so reordering the URLs moves no key.
  std::string Name() const;
};

// redis://[[user:]password@]host[:port][/db][?weight=N] or
// redis+unix://[[user:]password@]/path.sock[?db=N&weight=N] (also
// redis+unix:/path.sock). host may be [v6 address].
Result<Endpoint> ParseUrl(std::string_view url);
// Space-separated URLs: the shards. At least one.
Result<std::vector<Endpoint>> ParseUrls(std::string_view urls);

}  // namespace ucache::remote_internal

#endif  // UCACHE_SRC_REMOTE_URL_H_
