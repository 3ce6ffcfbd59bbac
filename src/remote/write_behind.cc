#include "src/remote/write_behind.h"

#include <chrono>
#include <utility>

#include "src/common/steady_clock.h"

namespace ucache::remote_internal {

WriteBehind::WriteBehind(size_t max_bytes, Apply apply)
    : max_bytes_(max_bytes), apply_(std::move(apply)) {
  thread_ = std::thread([this] { Loop(); });
}

WriteBehind::~WriteBehind() {
  const size_t dropped = Stop(SteadyMillis());
  (void)dropped;  // a caller that counts drops called Stop itself
}

size_t WriteBehind::Cost(const WriteOp& op) {
  return 64 + op.key.size() + op.frame.size() + op.token.size();
}

size_t WriteBehind::Cost(const Entry& e) const {
  return Cost(*e.op) + (e.release != nullptr ? Cost(*e.release) : 0);
}

bool WriteBehind::Push(WriteOp op) {
  auto shared = std::make_shared<const WriteOp>(std::move(op));
  const size_t cost = Cost(*shared);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || bytes_ + cost > max_bytes_) return false;
    bytes_ += cost;
    if (shared->kind == WriteOp::Kind::kRelease && !ops_.empty() &&
        ops_.back().release == nullptr &&
        ops_.back().op->kind == WriteOp::Kind::kPut &&
        ops_.back().op->key == shared->key) {
      // The thread is asleep or busy with older ops: no need to wake it.
      ops_.back().release = std::move(shared);
      return true;
    }
    if (shared->kind != WriteOp::Kind::kRelease) {
      latest_[shared->key] = shared;
    }
    ops_.push_back(Entry{std::move(shared), nullptr});
  }
  cv_.notify_all();
  return true;
}

std::shared_ptr<const WriteOp> WriteBehind::Latest(std::string_view key) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (latest_.empty()) return nullptr;  // the common case: no lookup
  auto it = latest_.find(std::string(key));
  return it == latest_.end() ? nullptr : it->second;
}

bool WriteBehind::WaitIdle(int64_t deadline_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  while (!ops_.empty() || applying_) {
    const int64_t left = deadline_ms - SteadyMillis();
    if (left <= 0) return false;
    cv_.wait_for(lock, std::chrono::milliseconds(left));
  }
  return true;
}

size_t WriteBehind::Stop(int64_t deadline_ms) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return 0;
    stopping_ = true;  // no new ops; the thread goes on with queued ones
  }
  cv_.notify_all();
  (void)WaitIdle(deadline_ms);
  size_t dropped = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Entry& e : ops_) {
      dropped += e.release != nullptr ? 2 : 1;
      bytes_ -= Cost(e);
    }
    ops_.clear();
    latest_.clear();
    stopped_ = true;
  }
  cv_.notify_all();
  // Past the deadline the thread may be inside one op, itself bounded by
  // the operation timeout.
  thread_.join();
  return dropped;
}

size_t WriteBehind::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ops_.size();
}

void WriteBehind::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopped_ || !ops_.empty(); });
    if (stopped_) return;
    Entry e = std::move(ops_.front());
    ops_.pop_front();
    applying_ = true;
    lock.unlock();
    apply_(*e.op, e.release.get());
    lock.lock();
    applying_ = false;
    bytes_ -= Cost(e);
    if (e.op->kind != WriteOp::Kind::kRelease) {
      auto it = latest_.find(e.op->key);
      if (it != latest_.end() && it->second == e.op) latest_.erase(it);
    }
    cv_.notify_all();
  }
}

}  // namespace ucache::remote_internal
