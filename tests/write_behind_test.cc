#include "src/remote/write_behind.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "src/common/steady_clock.h"

namespace ucache::remote_internal {
namespace {

WriteOp Put(std::string key, std::string frame) {
  WriteOp op;
  op.key = std::move(key);
  op.frame = std::move(frame);
  return op;
}

TEST(WriteBehindTest, AppliesInOrderAndForgetsWhatLanded) {
  std::mutex mu;
  std::vector<std::string> applied;
  WriteBehind q(1 << 20, [&](const WriteOp& op, const WriteOp* release) {
    EXPECT_EQ(release, nullptr);
    std::lock_guard<std::mutex> lock(mu);
    applied.push_back(op.key + "=" + op.frame);
  });
  ASSERT_TRUE(q.Push(Put("a", "1")));
  ASSERT_TRUE(q.Push(Put("b", "2")));
  ASSERT_TRUE(q.Push(Put("a", "3")));
  ASSERT_TRUE(q.WaitIdle(SteadyMillis() + 5000));
  EXPECT_EQ(applied, (std::vector<std::string>{"a=1", "b=2", "a=3"}));
  EXPECT_EQ(q.Latest("a"), nullptr);
  EXPECT_EQ(q.Stop(SteadyMillis()), 0u);
}

TEST(WriteBehindTest, FullQueueRefusesLatestIsVisibleStopDrops) {
  std::atomic<bool> release{false};
  std::atomic<int> applied{0};
  WriteBehind q(3 * (64 + 1 + 100), [&](const WriteOp&, const WriteOp*) {
    while (!release.load()) {
    }
    ++applied;
  });
  const std::string v(100, 'v');
  ASSERT_TRUE(q.Push(Put("a", v)));  // taken by the thread, which blocks
  ASSERT_TRUE(q.Push(Put("b", v)));
  ASSERT_TRUE(q.Push(Put("c", v)));
  EXPECT_FALSE(q.Push(Put("d", v)));  // full: the caller counts a drop
  std::shared_ptr<const WriteOp> b = q.Latest("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->frame, v);
  EXPECT_EQ(q.Latest("d"), nullptr);
  release = true;
  // Stops with what it could apply by the deadline; here, everything.
  EXPECT_EQ(q.Stop(SteadyMillis() + 5000), 0u);
  EXPECT_EQ(applied.load(), 3);
}

TEST(WriteBehindTest, StopPastTheDeadlineDropsTheRest) {
  std::atomic<bool> release{false};
  WriteBehind q(1 << 20, [&](const WriteOp&, const WriteOp*) {
    while (!release.load()) {
    }
  });
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(q.Push(Put(std::to_string(i), "x")));
  std::thread unblock([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    release = true;
  });
  // The first op is being applied; the deadline passes before the others.
  const size_t dropped = q.Stop(SteadyMillis() + 10);
  unblock.join();
  EXPECT_GE(dropped, 3u);
  EXPECT_FALSE(q.Push(Put("late", "x")));
}

WriteOp Release(std::string key, std::string token) {
  WriteOp op;
  op.kind = WriteOp::Kind::kRelease;
  op.key = std::move(key);
  op.token = std::move(token);
  return op;
}

// A holder's value and then its lease: applied as one step when the
// release finds its put still queued, separately when the put is already
// under way (or another key's op came between).
TEST(WriteBehindTest, AReleaseRidesWithItsKeysQueuedPut) {
  std::atomic<bool> go{false};
  std::mutex mu;
  std::vector<std::string> applied;
  WriteBehind q(1 << 20, [&](const WriteOp& op, const WriteOp* release) {
    while (!go.load()) {
    }
    std::lock_guard<std::mutex> lock(mu);
    applied.push_back(op.key + (op.kind == WriteOp::Kind::kRelease ? "-" : "") +
                      (release != nullptr ? "+" + release->token : ""));
  });
  ASSERT_TRUE(q.Push(Put("a", "1")));  // taken by the thread, which blocks
  while (q.size() != 0) std::this_thread::yield();
  ASSERT_TRUE(q.Push(Release("a", "ta")));  // its put is under way: alone
  ASSERT_TRUE(q.Push(Put("b", "2")));
  ASSERT_TRUE(q.Push(Release("b", "tb")));  // rides with b's put
  ASSERT_TRUE(q.Push(Put("c", "3")));
  ASSERT_TRUE(q.Push(Put("d", "4")));
  ASSERT_TRUE(q.Push(Release("c", "tc")));  // d came between: alone
  go = true;
  ASSERT_TRUE(q.WaitIdle(SteadyMillis() + 5000));
  EXPECT_EQ(applied,
            (std::vector<std::string>{"a", "a-", "b+tb", "c", "d", "c-"}));
  EXPECT_EQ(q.Stop(SteadyMillis()), 0u);
}

}  // namespace
}  // namespace ucache::remote_internal
