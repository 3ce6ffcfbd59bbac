#include "src/remote/breaker.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ucache::remote_internal {
namespace {

struct Fixture {
  int64_t now = 1000;
  std::vector<std::string> lines;
  Breaker breaker{
      "srv:1", std::chrono::milliseconds(100), std::chrono::milliseconds(350),
      [this] { return now; },
      [this](LogLevel level, std::string_view m) {
        lines.push_back((level == LogLevel::kWarning ? "W " : "I ") +
                        std::string(m));
      }};
};

TEST(BreakerTest, OpensOnFailureAndProbesAfterBackoff) {
  Fixture f;
  EXPECT_TRUE(f.breaker.Allow());
  f.breaker.Failure("refused");
  EXPECT_TRUE(f.breaker.open());
  EXPECT_FALSE(f.breaker.Allow());
  f.now += 100;
  EXPECT_TRUE(f.breaker.Allow());   // the probe
  EXPECT_FALSE(f.breaker.Allow());  // only one at a time
  f.breaker.Success();
  EXPECT_FALSE(f.breaker.open());
  EXPECT_TRUE(f.breaker.Allow());
  ASSERT_EQ(f.lines.size(), 2u);
  EXPECT_EQ(f.lines[0].substr(0, 2), "W ");
  EXPECT_NE(f.lines[0].find("refused"), std::string::npos);
  EXPECT_EQ(f.lines[1], "I remote tier: srv:1 answers again");
  EXPECT_EQ(f.breaker.trips(), 1u);
}

TEST(BreakerTest, BackoffDoublesUpToTheCapWithOneWarning) {
  Fixture f;
  f.breaker.Failure("x");
  int64_t backoff = 100;
  for (int64_t next : {200, 350, 350}) {  // doubled, capped at 350
    f.now += backoff;
    ASSERT_TRUE(f.breaker.Allow());
    f.breaker.Failure("x");
    f.now += next - 1;
    EXPECT_FALSE(f.breaker.Allow()) << next;
    f.now -= next - 1;
    backoff = next;
  }
  EXPECT_EQ(f.lines.size(), 1u);
  EXPECT_EQ(f.breaker.trips(), 1u);
}

}  // namespace
}  // namespace ucache::remote_internal
