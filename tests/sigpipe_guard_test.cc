#include "src/remote/sigpipe_guard.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <unistd.h>

#include <cerrno>

namespace ucache::remote_internal {
namespace {

bool Blocked() {
  sigset_t now;
  pthread_sigmask(SIG_BLOCK, nullptr, &now);
  return sigismember(&now, SIGPIPE) == 1;
}

TEST(SigpipeGuardTest, WriteToAClosedPipeReturnsEpipeAndLeavesNoSignal) {
  // The default disposition: SIGPIPE would kill this test process.
  ASSERT_EQ(signal(SIGPIPE, SIG_DFL), SIG_DFL);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  close(fds[0]);
  ASSERT_FALSE(Blocked());
  {
    SigpipeGuard guard;
    EXPECT_TRUE(Blocked());
    errno = 0;
    EXPECT_EQ(write(fds[1], "x", 1), -1);
    EXPECT_EQ(errno, EPIPE);
  }
  EXPECT_FALSE(Blocked());  // the mask is back
  sigset_t pending;
  sigpending(&pending);
  EXPECT_EQ(sigismember(&pending, SIGPIPE), 0);
  close(fds[1]);
}

}  // namespace
}  // namespace ucache::remote_internal
