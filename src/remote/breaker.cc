#include "src/remote/breaker.h"

#include <algorithm>
#include <utility>

namespace ucache::remote_internal {

Breaker::Breaker(std::string name, std::chrono::milliseconds initial,
                 std::chrono::milliseconds max, std::function<int64_t()> now,
                 LogSink log)
    : name_(std::move(name)),
      initial_ms_(std::max<int64_t>(1, initial.count())),
      max_ms_(std::max<int64_t>(initial_ms_, max.count())),
      now_(std::move(now)),
      log_(std::move(log)) {}

bool Breaker::Allow() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!open_) return true;
  if (probing_ || now_() < retry_at_) return false;
  probing_ = true;
  return true;
}

void Breaker::Success() {
  std::lock_guard<std::mutex> lock(mu_);
  probing_ = false;
  if (!open_) return;
  open_ = false;
  backoff_ms_ = 0;
  reason_.clear();
  log_(LogLevel::kInfo, "remote tier: " + name_ + " answers again");
}

void Breaker::Failure(std::string_view why) {
  std::lock_guard<std::mutex> lock(mu_);
  probing_ = false;
  backoff_ms_ =
      backoff_ms_ == 0 ? initial_ms_ : std::min(max_ms_, backoff_ms_ * 2);
  retry_at_ = now_() + backoff_ms_;
  if (open_) return;  // a failed probe: one warning per episode
  open_ = true;
  ++trips_;
  reason_ = "remote tier " + name_ + " failed (" + std::string(why) +
            "); skipped, retrying with backoff up to " +
            std::to_string(max_ms_) + " ms";
  log_(LogLevel::kWarning, reason_);
}

bool Breaker::open() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_;
}

uint64_t Breaker::trips() const {
  std::lock_guard<std::mutex> lock(mu_);
  return trips_;
}

std::string Breaker::reason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reason_;
}

}  // namespace ucache::remote_internal
