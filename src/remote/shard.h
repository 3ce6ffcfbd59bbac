// Shard: one server of the remote tier: its endpoint, a small pool of
// connections (hiredis contexts are not thread-safe, and one connection
// would serialize every thread), and the breaker that skips it after a
// failure. Every command is bounded, connect included, by one deadline.

#ifndef UCACHE_SRC_REMOTE_SHARD_H_
#define UCACHE_SRC_REMOTE_SHARD_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <vector>

#include "src/remote/breaker.h"
#include "src/remote/connection.h"
#include "src/remote/url.h"
#include "ucache/log.h"

namespace ucache::remote_internal {

struct ShardConfig {
  std::chrono::milliseconds connect_timeout{100};
  std::chrono::milliseconds operation_timeout{1000};
  std::chrono::milliseconds retry_initial{1000};
  std::chrono::milliseconds retry_max{30000};
  size_t pool_size = 4;
};

class Shard {
 public:
  // `now` is the steady clock in ms, for the breaker (a seam for tests).
  Shard(Endpoint endpoint, std::shared_ptr<Connector> connector,
        const ShardConfig& config, std::function<int64_t()> now, LogSink log);

  // Runs one command within operation_timeout. Unavailable while the
  // breaker skips this server; TimedOut, IOError; an error reply (OOM,
  // NOAUTH, ...) is IOError too. Every failure but Unavailable feeds the
  // breaker.
  Result<Reply> Run(std::span<const std::string_view> argv);

  // The server's proto-max-bulk-len as its newest connection said; 0 when
  // it would not say. Connects first (one PING, under the breaker) when no
  // connection was ever made; 0 if that fails.
  size_t BulkLimit();

  const Endpoint& endpoint() const { return endpoint_; }
  std::chrono::milliseconds operation_timeout() const {
    return config_.operation_timeout;
  }
  const Breaker& breaker() const { return breaker_; }
  uint64_t errors() const { return errors_.load(); }
  uint64_t timeouts() const { return timeouts_.load(); }
  uint64_t skipped() const { return skipped_.load(); }

 private:
  Result<std::unique_ptr<Connection>> Acquire(int64_t deadline_ms);
  void ReturnToPool(std::unique_ptr<Connection> c);
  Status Fail(Status s);

  // Constant after construction.
  const Endpoint endpoint_;
  const std::shared_ptr<Connector> connector_;
  const ShardConfig config_;
  Breaker breaker_;

  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_

  std::atomic<uint64_t> errors_{0}, timeouts_{0}, skipped_{0};
  // BulkLimit()'s answer; -1 until a connection opened.
  std::atomic<int64_t> bulk_limit_{-1};
};

}  // namespace ucache::remote_internal

#endif  // UCACHE_SRC_REMOTE_SHARD_H_
