#include "src/remote/lease.h"

#include <cstdio>
#include <random>
#include <utility>

namespace ucache::remote_internal {
namespace {

constexpr std::string_view kRenewScript =
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
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

Result<bool> TryAcquireLease(Shard& shard, std::string_view lease_key,
                             std::string_view token, int64_t ttl_ms) {
  const std::string ttl = std::to_string(ttl_ms);
  const std::string_view argv[] = {"SET", lease_key, token, "NX", "PX", ttl};
  Result<Reply> r = shard.Run(argv);
  if (!r.ok()) return r.status();
  return r->type == Reply::Type::kStatus;  // +OK; nil when held elsewhere
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

}  // namespace ucache::remote_internal

namespace ucache {

RemoteLease::State::State(std::chrono::milliseconds period,
                          std::function<bool()> renew,
                          std::function<void()> release)
    : period_(period), renew_(std::move(renew)), release_(std::move(release)) {
  renewer_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, period_, [this] { return stop_; })) {
      lock.unlock();
      const bool kept = renew_();
      lock.lock();
      if (!kept) return;  // lost: nothing left to renew
    }
  });
}

RemoteLease::State::~State() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  renewer_.join();
  release_();
}

}  // namespace ucache
