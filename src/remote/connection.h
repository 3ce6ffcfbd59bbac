// Connection: one conversation with one Redis server, every command bounded
// by a deadline as a whole; Connector opens them. The network seam of the
// remote tier: the hiredis implementation below is the real one, tests may
// put their own in to fail on cue.

#ifndef UCACHE_SRC_REMOTE_CONNECTION_H_
#define UCACHE_SRC_REMOTE_CONNECTION_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "src/remote/url.h"
#include "ucache/status.h"

namespace ucache::remote_internal {

// A RESP reply. Strings are views into memory keep_alive owns.
struct Reply {
  enum class Type { kString, kArray, kInteger, kNil, kStatus, kError };
  Type type = Type::kNil;
  std::string_view str;  // kString, kStatus, kError
  int64_t integer = 0;
  std::vector<Reply> elements;  // kArray
  std::shared_ptr<const void> keep_alive;
};

class Connection {
 public:
  virtual ~Connection() = default;
  // Sends `argv` and reads its reply, all before `deadline_ms` (SteadyMillis).
  // TimedOut past it, IOError when the socket or the protocol fails (bytes
  // beyond the one reply included: the peer is out of step); after either
  // the connection is broken and must be dropped. An error reply is a
  // reply (Type::kError), not a failure of the connection.
  virtual Result<Reply> Run(std::span<const std::string_view> argv,
                            int64_t deadline_ms) = 0;
  // The server's proto-max-bulk-len (the largest string it takes) as it
  // said when this connection opened; 0 when it would not say (CONFIG
  // renamed away or refused by an ACL).
  virtual size_t bulk_limit() const { return 0; }
  // False when a connection kept idle can no longer be trusted: the server
  // closed it (its idle `timeout`, a restart), or bytes no command asked
  // for wait on it. Cheap: no round trip.
  virtual bool StillIdle() const { return true; }
};

class Connector {
 public:
  virtual ~Connector() = default;
  // Connects (each attempt bounded by connect_timeout and the deadline),
  // then AUTH and SELECT as the endpoint says, then asks for the server's
  // proto-max-bulk-len. PermissionDenied when AUTH is refused.
  virtual Result<std::unique_ptr<Connection>> Connect(
      const Endpoint& endpoint, std::chrono::milliseconds connect_timeout,
      int64_t deadline_ms) = 0;
};

std::shared_ptr<Connector> NewHiredisConnector();

}  // namespace ucache::remote_internal

#endif  // UCACHE_SRC_REMOTE_CONNECTION_H_
