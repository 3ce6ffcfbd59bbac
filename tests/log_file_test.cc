// The log's append path (src/fcache/log_file.h): space is reserved ahead in
// page-rounded chunks within a bound, stores through the writable mapping
// land in the file, and a record past the end of the mapping makes Reserve
// ask for a remap that covers it.

#include "src/fcache/log_file.h"

#include <cstdint>
#include <limits>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "tests/testutil.h"
#include "ucache/env.h"

namespace ucache {
namespace {

using fcache_internal::LogFile;

constexpr uint64_t kNoBound = std::numeric_limits<uint64_t>::max();

std::unique_ptr<LogFile> CreateOrDie(const std::string& dir) {
  auto log = LogFile::Create(NewPosixEnv(), dir, 1);
  EXPECT_OK(log);
  return log.ok() ? std::move(*log) : nullptr;
}

TEST(LogFileTest, ReservesAheadWithinTheBoundAndStoresLandInTheFile) {
  TempDir tmp;
  auto log = CreateOrDie(tmp.path());
  ASSERT_NE(log, nullptr);
  auto reserved = log->Reserve(64, 100, kNoBound);
  ASSERT_OK(reserved);
  ASSERT_TRUE(*reserved);
  EXPECT_EQ(ReadWholeFile(log->path()).size(), 4096u);  // a whole page
  EXPECT_GE(log->readable(), 164u);
  const std::string bytes = "through the writable mapping";
  log->Store(64, bytes);
  EXPECT_EQ(ReadWholeFile(log->path()).substr(64, bytes.size()), bytes);
  // Past the reserved page, with a bound below a page-rounded chunk: the
  // file grows to the bound, not beyond.
  reserved = log->Reserve(4096, 100, 4200);
  ASSERT_OK(reserved);
  ASSERT_TRUE(*reserved);
  EXPECT_EQ(ReadWholeFile(log->path()).size(), 4200u);
  // A bound below the record itself still leaves room for the record.
  reserved = log->Reserve(4200, 100, 0);
  ASSERT_OK(reserved);
  ASSERT_TRUE(*reserved);
  EXPECT_EQ(ReadWholeFile(log->path()).size(), 4300u);
}

TEST(LogFileTest, ARecordPastTheMappingAsksForARemapThatCoversIt) {
  TempDir tmp;
  auto log = CreateOrDie(tmp.path());
  ASSERT_NE(log, nullptr);
  const uint64_t length = log->mapping()->length();
  auto reserved = log->Reserve(64, length, kNoBound);
  ASSERT_OK(reserved);
  EXPECT_FALSE(*reserved);
  EXPECT_EQ(ReadWholeFile(log->path()).size(), 64u) << "nothing reserved";
  ASSERT_OK(log->Remap(64 + length));
  EXPECT_GE(log->mapping()->length(), 64 + length);
}

}  // namespace
}  // namespace ucache
