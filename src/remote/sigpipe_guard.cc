#include "src/remote/sigpipe_guard.h"

#include <pthread.h>

#include <cerrno>
#include <ctime>

namespace ucache::remote_internal {
namespace {

sigset_t PipeSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  return set;
}

bool Pending() {
  sigset_t pending;
  sigemptyset(&pending);
  return sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
}

}  // namespace

SigpipeGuard::SigpipeGuard() {
  const sigset_t pipe = PipeSet();
  pthread_sigmask(SIG_BLOCK, &pipe, &old_mask_);
  was_blocked_ = sigismember(&old_mask_, SIGPIPE) == 1;
  was_pending_ = Pending();
}

SigpipeGuard::~SigpipeGuard() {
  if (was_blocked_) return;  // the caller's mask, the caller's signals
  if (!was_pending_ && Pending()) {
    const sigset_t pipe = PipeSet();
    const timespec zero{0, 0};
    while (sigtimedwait(&pipe, nullptr, &zero) == -1 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

}  // namespace ucache::remote_internal
