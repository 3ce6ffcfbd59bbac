#include "src/remote/shard.h"

#include <algorithm>
#include <string>
#include <utility>

#include "src/common/steady_clock.h"

namespace ucache::remote_internal {

Shard::Shard(Endpoint endpoint, std::shared_ptr<Connector> connector,
             const ShardConfig& config, std::function<int64_t()> now,
             LogSink log)
    : endpoint_(std::move(endpoint)),
      connector_(std::move(connector)),
      config_(config),
      breaker_(endpoint_.Name(), config.retry_initial, config.retry_max,
               std::move(now), std::move(log)) {}

Result<Reply> Shard::Run(std::span<const std::string_view> argv) {
  if (!breaker_.Allow()) {
    ++skipped_;
    return Status::Unavailable(breaker_.reason());
  }
  const int64_t deadline = SteadyMillis() + config_.operation_timeout.count();
  Result<std::unique_ptr<Connection>> c = Acquire(deadline);
  if (!c.ok()) return Fail(c.status());
  Result<Reply> r = (*c)->Run(argv, deadline);
  if (!r.ok()) return Fail(r.status());  // the connection is dropped
  ReturnToPool(std::move(*c));
  if (r->type == Reply::Type::kError) {
    return Fail(Status::IOError("the server answered " + std::string(r->str)));
  }
  breaker_.Success();
  return r;
}

Result<std::unique_ptr<Connection>> Shard::Acquire(int64_t deadline_ms) {
  for (;;) {
    std::unique_ptr<Connection> c;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (idle_.empty()) break;
      c = std::move(idle_.back());
      idle_.pop_back();
    }
    // Checked outside the lock, which other threads need not hold while
    // this one polls. One the server closed while idle is no sign that it
    // fails: the next one, or a new one, serves.
    if (c->StillIdle()) return c;
  }
  Result<std::unique_ptr<Connection>> c =
      connector_->Connect(endpoint_, config_.connect_timeout, deadline_ms);
  if (c.ok()) bulk_limit_ = static_cast<int64_t>((*c)->bulk_limit());
  return c;
}

size_t Shard::BulkLimit() {
  if (bulk_limit_.load() < 0) {
    const std::string_view ping[] = {"PING"};
    Run(ping).status().IgnoreError();  // counted by Run; the limit stays -1
  }
  return static_cast<size_t>(std::max<int64_t>(bulk_limit_.load(), 0));
}

void Shard::ReturnToPool(std::unique_ptr<Connection> c) {
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() < config_.pool_size) idle_.push_back(std::move(c));
}

Status Shard::Fail(Status s) {
  ++errors_;
  if (s.code() == Status::Code::kTimedOut) ++timeouts_;
  {
    // The idle connections talk to the same failed server: the probe after
    // the backoff must reconnect, not find the next dead one.
    std::lock_guard<std::mutex> lock(mu_);
    idle_.clear();
  }
  breaker_.Failure(s.ToString());
  return s;
}

}  // namespace ucache::remote_internal
