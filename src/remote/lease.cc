#include "src/remote/lease.h"

#include <cstdio>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "src/common/steady_clock.h"

namespace ucache::remote_internal {
namespace {

// KEYS: value, lease; ARGV: token, ttl, whether a value there counts.
// Returns 2 (value there), 1 (taken) or 0 (held by another token).
constexpr std::string_view kClaimScript =
    "if ARGV[3] == '1' and redis.call('exists', KEYS[1]) == 1 then "
    "return 2 end "
    "if redis.call('set', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then "
    "return 1 end "
    "return 0";
constexpr std::string_view kRenewScript =
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
// KEYS: value, lease; ARGV: frame, ttl ('0': none), token.
constexpr std::string_view kStoreAndReleaseScript =
    "if ARGV[2] == '0' then redis.call('set', KEYS[1], ARGV[1]) else "
    "redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) end "
    "if redis.call('get', KEYS[2]) == ARGV[3] then "
    "redis.call('del', KEYS[2]) end "
    "return 1";
constexpr std::string_view kReleaseScript =
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('del', KEYS[1]) else return 0 end";

}  // namespace

std::string LeaseKey(std::string_view prefix, std::string_view key) {
  std::string out(prefix);
  out +=
      "\xff"
      "lease:";
  out += key;
  return out;
}

std::string NewLeaseToken() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[33];
  std::snprintf(buf, sizeof(buf), "%016llx%016llx",
                static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
}

Result<ClaimReply> TryClaim(Shard& shard, std::string_view value_key,
                            std::string_view lease_key, std::string_view token,
                            int64_t ttl_ms, bool value_counts) {
  const std::string ttl = std::to_string(ttl_ms);
  const std::string_view argv[] = {"EVAL",    kClaimScript, "2",
                                   value_key, lease_key,    token,
                                   ttl,       value_counts ? "1" : "0"};
  Result<Reply> r = shard.Run(argv);
  if (!r.ok()) return r.status();
  if (r->type != Reply::Type::kInteger) {
    return Status::IOError("unexpected reply to the lease script");
  }
  return r->integer == 2   ? ClaimReply::kValueThere
         : r->integer == 1 ? ClaimReply::kTaken
                           : ClaimReply::kHeld;
}

Result<bool> RenewLease(Shard& shard, std::string_view lease_key,
                        std::string_view token, int64_t ttl_ms) {
  const std::string ttl = std::to_string(ttl_ms);
  const std::string_view argv[] = {"EVAL",    kRenewScript, "1",
                                   lease_key, token,        ttl};
  Result<Reply> r = shard.Run(argv);
  if (!r.ok()) return r.status();
  return r->type == Reply::Type::kInteger && r->integer == 1;
}

Status ReleaseLease(Shard& shard, std::string_view lease_key,
                    std::string_view token) {
  const std::string_view argv[] = {"EVAL", kReleaseScript, "1", lease_key,
                                   token};
  Result<Reply> r = shard.Run(argv);
  return r.ok() ? Status::OK() : r.status();
}

Status StoreAndReleaseLease(Shard& shard, std::string_view value_key,
                            std::string_view frame, int64_t ttl_ms,
                            std::string_view lease_key,
                            std::string_view token) {
  const std::string ttl = std::to_string(ttl_ms);
  const std::string_view argv[] = {"EVAL", kStoreAndReleaseScript, "2",
                                   value_key, lease_key, frame, ttl, token};
  Result<Reply> r = shard.Run(argv);
  return r.ok() ? Status::OK() : r.status();
}

LeaseRenewer::LeaseRenewer(std::chrono::milliseconds period)
    : period_ms_(std::max<int64_t>(1, period.count())) {}

LeaseRenewer::~LeaseRenewer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

uint64_t LeaseRenewer::Add(std::function<bool()> renew) {
  auto shared = std::make_shared<const std::function<bool()>>(std::move(renew));
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t id = next_id_++;
  // No notify: the thread wakes at least every period_ms_ and this lease is
  // first due a period from now.
  leases_.emplace(id, Lease{std::move(shared), SteadyMillis() + period_ms_});
  if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
  return id;
}

void LeaseRenewer::Remove(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  leases_.erase(id);
}

size_t LeaseRenewer::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return leases_.size();
}

void LeaseRenewer::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    const int64_t now = SteadyMillis();
    int64_t next = now + period_ms_;
    std::vector<std::pair<uint64_t, std::shared_ptr<const std::function<bool()>>>>
        due;
    for (auto& [id, lease] : leases_) {
      if (lease.due_ms <= now) {
        due.emplace_back(id, lease.renew);
        lease.due_ms = now + period_ms_;
      }
      next = std::min(next, lease.due_ms);
    }
    if (due.empty()) {
      cv_.wait_for(lock, std::chrono::milliseconds(next - now));
      continue;
    }
    // Renewed outside the lock, so that Add and Remove (on callers' and
    // the write-behind thread's paths) never wait for the network.
    lock.unlock();
    std::vector<uint64_t> lost;
    for (const auto& [id, renew] : due) {
      if (!(*renew)()) lost.push_back(id);
    }
    lock.lock();
    for (uint64_t id : lost) leases_.erase(id);
  }
}

}  // namespace ucache::remote_internal

namespace ucache {

RemoteLease::State::State(std::function<void()> release)
    : release_(std::move(release)) {}

RemoteLease::State::~State() { release_(); }

}  // namespace ucache
