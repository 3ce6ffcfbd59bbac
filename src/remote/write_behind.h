// WriteBehind: the remote tier's bounded queue of writes, applied in order
// by one background thread, so a Put returns before the network is touched.
// A full queue refuses (the caller counts the drop); the newest queued
// write of each key stays visible (Latest), so this process reads its own
// writes before they land.

#ifndef UCACHE_SRC_REMOTE_WRITE_BEHIND_H_
#define UCACHE_SRC_REMOTE_WRITE_BEHIND_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

namespace ucache::remote_internal {

struct WriteOp {
  enum class Kind { kPut, kErase, kRelease };
  Kind kind = Kind::kPut;
  std::string key;    // the cache key (kRelease: whose lease)
  std::string frame;  // kPut: the framed value
  int64_t ttl_ms = 0;
  std::string token;  // kRelease: the lease's token
  uint64_t lease_id = 0;  // kRelease: its LeaseRenewer id
};

class WriteBehind {
 public:
  // `release`, when not null, is a kRelease of op's key pushed right after
  // op (a holder's value, then its lease): apply both, in that order, in
  // one step if it can (one round trip instead of two behind every miss).
  using Apply = std::function<void(const WriteOp& op, const WriteOp* release)>;
  // Holds at most `max_bytes` of ops (frame and key bytes plus a small fixed
  // cost each). `apply` runs on the queue's thread.
  WriteBehind(size_t max_bytes, Apply apply);
  ~WriteBehind();  // Stop(now) if not stopped

  // False when the op does not fit. A kRelease of the key of the last
  // queued put (not yet being applied) rides with it.
  bool Push(WriteOp op);
  // The newest queued put or erase of `key`, or null.
  std::shared_ptr<const WriteOp> Latest(std::string_view key) const;
  // Waits until every queued op was applied, up to `deadline_ms`
  // (SteadyMillis); true when it got there.
  bool WaitIdle(int64_t deadline_ms);
  // Refuses new ops, applies what it can until `deadline_ms`, drops the
  // rest and stops the thread. Returns how many were dropped.
  size_t Stop(int64_t deadline_ms);
  size_t size() const;

 private:
  static size_t Cost(const WriteOp& op);
  void Loop();

  const size_t max_bytes_;
  const Apply apply_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  struct Entry {
    std::shared_ptr<const WriteOp> op;
    std::shared_ptr<const WriteOp> release;  // may be null
  };
  size_t Cost(const Entry& e) const;

  std::deque<Entry> ops_;  // guarded by mu_
  // The newest put or erase per key, queued or being applied; mu_.
  std::unordered_map<std::string, std::shared_ptr<const WriteOp>> latest_;
  size_t bytes_ = 0;       // guarded by mu_
  bool applying_ = false;  // guarded by mu_
  bool stopping_ = false;  // guarded by mu_: refuse, and drop what is left
  bool stopped_ = false;   // guarded by mu_
  std::thread thread_;
};

}  // namespace ucache::remote_internal

#endif  // UCACHE_SRC_REMOTE_WRITE_BEHIND_H_
