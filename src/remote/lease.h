// The lease that makes machines compute a key once. One script takes it
// (SET key token NX PX ttl, unless the value is there already), a
// compare-and-pexpire script renews it, a compare-and-delete script
// releases it, so only its holder's token can extend or end it. A holder
// that dies releases by expiry. Advisory: see RemoteCache::Claim.

#ifndef UCACHE_SRC_REMOTE_LEASE_H_
#define UCACHE_SRC_REMOTE_LEASE_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
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

enum class ClaimReply {
  kValueThere,  // the value key exists: read it (no lease taken)
  kTaken,       // the lease is this token's now
  kHeld,        // another token holds the lease
};

// In one round trip and atomically (a script): kValueThere when
// `value_key` exists and `value_counts`, else takes the lease if no one
// holds it. Atomic, so a holder that stored its value and let go between a
// reader's miss and this call is seen as kValueThere, never as kTaken.
// `value_counts` false: a value that is there but unreadable is ignored.
Result<ClaimReply> TryClaim(Shard& shard, std::string_view value_key,
                            std::string_view lease_key, std::string_view token,
                            int64_t ttl_ms, bool value_counts);
// False when the lease is no longer this token's (expired, taken over).
Result<bool> RenewLease(Shard& shard, std::string_view lease_key,
                        std::string_view token, int64_t ttl_ms);
Status ReleaseLease(Shard& shard, std::string_view lease_key,
                    std::string_view token);
// SET value_key frame [PX ttl_ms] (ttl_ms 0: none), then ReleaseLease, in
// one round trip and in that order (a script): the holder's value and the
// end of its lease. The frame goes through the script's arguments, so this
// is for small frames; see RemoteCache's Apply.
Status StoreAndReleaseLease(Shard& shard, std::string_view value_key,
                            std::string_view frame, int64_t ttl_ms,
                            std::string_view lease_key,
                            std::string_view token);

// Renews the held leases of one RemoteCache from one thread of its own,
// started by the first Add: a lease costs no thread (a thread start and
// join per lease was most of a write-behind miss's time). A lease stays
// here until its release was applied (Remove), not merely until its holder
// let go: while the holder's value waits in the write-behind queue, its
// lease must not lapse, or a waiter would take it and compute again.
class LeaseRenewer {
 public:
  // Every lease is renewed each `period` after it was added.
  explicit LeaseRenewer(std::chrono::milliseconds period);
  ~LeaseRenewer();  // stops the thread; leases still here expire in Redis
  LeaseRenewer(const LeaseRenewer&) = delete;
  LeaseRenewer& operator=(const LeaseRenewer&) = delete;

  // `renew` runs on the renewer's thread; false (lost) stops renewing it.
  // Returns the id for Remove.
  uint64_t Add(std::function<bool()> renew);
  // No renewal of `id` starts after this returns (one may be under way).
  void Remove(uint64_t id);
  size_t size() const;

 private:
  struct Lease {
    std::shared_ptr<const std::function<bool()>> renew;
    int64_t due_ms;  // SteadyMillis
  };
  void Loop();

  const int64_t period_ms_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, Lease> leases_;  // guarded by mu_
  uint64_t next_id_ = 1;              // guarded by mu_
  bool stop_ = false;                 // guarded by mu_
  std::thread thread_;                // started by the first Add, under mu_
};

}  // namespace ucache::remote_internal

namespace ucache {

// A held lease: `release` runs when it is destroyed (it queues the release
// after the holder's write; the renewer keeps the lease until then).
struct RemoteLease::State {
  explicit State(std::function<void()> release);
  ~State();
  State(const State&) = delete;
  State& operator=(const State&) = delete;

 private:
  const std::function<void()> release_;
};

}  // namespace ucache

#endif  // UCACHE_SRC_REMOTE_LEASE_H_
