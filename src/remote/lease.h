// The lease that makes machines compute a key once: SET key token NX PX ttl
// takes it, a compare-and-pexpire script renews it, a compare-and-delete
// script releases it, so only its holder's token can extend or end it. A
// holder that dies releases by expiry. Advisory: see RemoteCache::Claim.

#ifndef UCACHE_SRC_REMOTE_LEASE_H_
#define UCACHE_SRC_REMOTE_LEASE_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "src/remote/shard.h"
#include "ucache/remote_cache.h"

namespace ucache::remote_internal {

// key_prefix + "\xff" "lease:" + key: outside every cache key (remote_cache.h).
std::string LeaseKey(std::string_view prefix, std::string_view key);
// 128 random bits in hex: a token no other holder has.
std::string NewLeaseToken();

// True when taken, false when someone else holds it.
Result<bool> TryAcquireLease(Shard& shard, std::string_view lease_key,
                             std::string_view token, int64_t ttl_ms);
// False when the lease is no longer this token's (expired, taken over).
Result<bool> RenewLease(Shard& shard, std::string_view lease_key,
                        std::string_view token, int64_t ttl_ms);
Status ReleaseLease(Shard& shard, std::string_view lease_key,
                    std::string_view token);

}  // namespace ucache::remote_internal

namespace ucache {

// A held lease: renews it every `period` on a thread of its own until
// destroyed, then calls `release` (which queues the release after the
// holder's write).
struct RemoteLease::State {
  State(std::chrono::milliseconds period, std::function<bool()> renew,
        std::function<void()> release);
  ~State();
  State(const State&) = delete;
  State& operator=(const State&) = delete;

 private:
  const std::chrono::milliseconds period_;
  const std::function<bool()> renew_;  // false: lost, stop renewing
  const std::function<void()> release_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread renewer_;
};

}  // namespace ucache

#endif  // UCACHE_SRC_REMOTE_LEASE_H_
