#include "ucache/internal/thread_counters.h"

#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <vector>

namespace ucache::counters_internal {
namespace {

TEST(ThreadCountersTest, SumsWhatOneThreadAdds) {
  ThreadCounters counters;
  for (int i = 0; i < 1000; ++i) counters.Add(0);
  counters.Add(kCounters - 1, 42);
  const auto sums = counters.Sums();
  EXPECT_EQ(sums[0], 1000u);
  EXPECT_EQ(sums[1], 0u);
  EXPECT_EQ(sums[kCounters - 1], 42u);
}

// Plain loads and stores lose no increment: each thread adds to its own
// block.
TEST(ThreadCountersTest, ConcurrentAddsAreExact) {
  ThreadCounters counters;
  constexpr int kThreads = 8;
  constexpr int kAdds = 200000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kAdds; ++i) counters.Add(3);
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(counters.Sums()[3], uint64_t{kThreads} * kAdds);
  EXPECT_LE(counters.blocks(), size_t{kThreads});
}

// A thread that exits hands its block back with its counts: threads one
// after another share one block, and nothing is lost.
TEST(ThreadCountersTest, ExitedThreadsBlocksAreReused) {
  ThreadCounters counters;
  for (int t = 0; t < 20; ++t) {
    std::thread([&] { counters.Add(1, 5); }).join();
  }
  EXPECT_EQ(counters.Sums()[1], 100u);
  EXPECT_EQ(counters.blocks(), 1u);
}

// Sets whose ids share a slot of the thread's cache, used in turn, each
// count their own.
TEST(ThreadCountersTest, SetsSharingACacheSlotKeepTheirOwnCounts) {
  std::vector<std::unique_ptr<ThreadCounters>> sets;
  for (size_t i = 0; i < 3 * kCachedBlocks; ++i) {
    sets.push_back(std::make_unique<ThreadCounters>());
  }
  for (int round = 0; round < 10; ++round) {
    for (size_t i = 0; i < sets.size(); ++i) sets[i]->Add(0, i + 1);
  }
  for (size_t i = 0; i < sets.size(); ++i) {
    EXPECT_EQ(sets[i]->Sums()[0], 10 * (i + 1)) << i;
    EXPECT_EQ(sets[i]->blocks(), 1u) << i;
  }
}

// A thread that outlives a set it added to, and goes on to other sets,
// neither touches freed memory (ASan) nor mixes the counts.
TEST(ThreadCountersTest, ThreadOutlivesSet) {
  std::thread([] {
    for (int i = 0; i < 100; ++i) {
      ThreadCounters counters;
      counters.Add(2, 1);
      counters.Add(2, 1);
      ASSERT_EQ(counters.Sums()[2], 2u);
    }
  }).join();
  auto counters = std::make_unique<ThreadCounters>();
  std::thread t([&] { counters->Add(0); });
  t.join();
  counters.reset();  // the exited thread's block was handed back first
}

}  // namespace
}  // namespace ucache::counters_internal
