// Breaker: the circuit breaker of one server. Closed, every operation runs.
// After a failure it opens: operations are skipped until the retry time,
// then one probe runs; its success closes the breaker, its failure doubles
// the wait, up to a cap. One warning when it opens, one line when it closes.

#ifndef UCACHE_SRC_REMOTE_BREAKER_H_
#define UCACHE_SRC_REMOTE_BREAKER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "ucache/log.h"

namespace ucache::remote_internal {

class Breaker {
 public:
  // `now` is a monotonic clock in ms (a seam: tests move it).
  Breaker(std::string name, std::chrono::milliseconds initial,
          std::chrono::milliseconds max, std::function<int64_t()> now,
          LogSink log);

  // True when an operation may run now: closed, or open with the retry time
  // reached and no other probe out (this call becomes the probe).
  bool Allow();
  void Success();
  void Failure(std::string_view why);

  bool open() const;
  uint64_t trips() const;
  std::string reason() const;  // why it is open; empty when closed

 private:
  // Constant after construction.
  const std::string name_;
  const int64_t initial_ms_;
  const int64_t max_ms_;
  const std::function<int64_t()> now_;
  const LogSink log_;

  mutable std::mutex mu_;
  bool open_ = false;       // guarded by mu_
  bool probing_ = false;    // guarded by mu_: a probe is out
  int64_t retry_at_ = 0;    // guarded by mu_
  int64_t backoff_ms_ = 0;  // guarded by mu_
  uint64_t trips_ = 0;      // guarded by mu_
  std::string reason_;      // guarded by mu_
};

}  // namespace ucache::remote_internal

#endif  // UCACHE_SRC_REMOTE_BREAKER_H_
