// SigpipeGuard: while it lives, a write to a dead socket from this thread
// fails with EPIPE instead of killing the process. hiredis 0.14 writes with
// write(2), which has no MSG_NOSIGNAL, and a library must not change the
// host's handlers (ccache #931 ignored SIGPIPE process-wide): so SIGPIPE is
// blocked in this thread alone, and one raised meanwhile (a thread-directed
// signal, pending on this thread) is consumed before the mask is restored.

#ifndef UCACHE_SRC_REMOTE_SIGPIPE_GUARD_H_
#define UCACHE_SRC_REMOTE_SIGPIPE_GUARD_H_

#include <signal.h>

namespace ucache::remote_internal {

class SigpipeGuard {
 public:
  SigpipeGuard();
  ~SigpipeGuard();
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t old_mask_;
  bool was_blocked_ = false;  // the caller had blocked it already
  bool was_pending_ = false;  // one was pending before: not ours to eat
};

}  // namespace ucache::remote_internal

#endif  // UCACHE_SRC_REMOTE_SIGPIPE_GUARD_H_
