// A full disk is an error code, never a signal and never lost data.
//
// Stores written through a mapping fault with SIGBUS when the filesystem has
// no block to give, so the engine must reserve space (Env::Allocate) or
// write with pwrite. Two ways to run out:
//  * FaultEnv's space budget, for every limit from nothing to plenty: Put
//    returns NoSpace, leaves the store unchanged, and everything stored
//    before reads back intact, during and after the shortage.
//  * A real 2 MiB tmpfs (root only; skipped otherwise), filled in a child
//    process so that a SIGBUS is reported as such.

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "tests/stress_util.h"
#include "tests/testutil.h"
#include "ucache/ucache.h"

namespace ucache {
namespace {

// A SIGBUS here means the engine stored through a mapping into space the
// filesystem could not back. Say so before dying: the default report
// ("Bus error") does not name the hazard.
void OnSigbus(int) {
  static const char kMsg[] =
      "\nSIGBUS: the engine wrote through a mapping into space the disk "
      "could not back (full disk must be a NoSpace status)\n";
  (void)!write(2, kMsg, sizeof(kMsg) - 1);
  _exit(128 + SIGBUS);
}

class SigbusReporter : public testing::Environment {
 public:
  void SetUp() override {
    struct sigaction sa = {};
    sa.sa_handler = OnSigbus;
    sigaction(SIGBUS, &sa, nullptr);
  }
};
const auto* const kSigbusReporter =
    testing::AddGlobalTestEnvironment(new SigbusReporter);

// Chosen (and printed) once, before main(), so that fork()-ed children
// share it with the parent.
const uint64_t kSeed = PickTestSeed("full_disk_test");

// Values that identify their key and version, of mixed compressibility.
std::string ValueFor(const std::string& key, int version, size_t len,
                     std::mt19937_64& rng) {
  std::string v = key + "#" + std::to_string(version) + "#";
  if (rng() % 2) {
    v += RandomBytes(rng, len);
  } else {
    while (v.size() < len) v += key + "/" + std::to_string(version) + ";";
  }
  return v;
}

// The values a store must hold: key -> value, absent when erased.
using Model = std::map<std::string, std::optional<std::string>>;

// Every key in `model` reads as its value (or a miss when erased), through
// Get and GetView. Returns how many mismatched, printing the first few.
int Mismatches(FileCache& fc, const Model& model, const std::string& when) {
  int bad = 0;
  std::string got;
  for (const auto& [key, want] : model) {
    Status s = fc.Get(key, &got);
    ValueView view;
    Status sv = fc.GetView(key, &view);
    const bool ok =
        want ? (s.ok() && got == *want && sv.ok() && view.data() == *want)
             : (s.IsNotFound() && sv.IsNotFound());
    if (!ok && ++bad <= 5) {
      fprintf(
          stderr, "%s: %s: Get %s (%zu bytes), GetView %s, expected %s\n",
          when.c_str(), key.c_str(), s.ToString().c_str(),
          s.ok() ? got.size() : 0, sv.ToString().c_str(),
          want ? (std::to_string(want->size()) + " bytes").c_str() : "a miss");
    }
  }
  return bad;
}

// ---------------------------------------------------------------------------
// FaultEnv space budget.

class FullDiskTest : public testing::TestWithParam<uint64_t> {};

TEST_P(FullDiskTest, PutSaysNoSpaceAndNothingIsLost) {
  const uint64_t limit = GetParam();
  std::mt19937_64 rng(kSeed + limit);
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  auto env = std::make_shared<FaultEnv>();
  FileCacheOptions options;
  options.env = env;
  auto opened = FileCache::Open(dir, options);
  ASSERT_OK(opened);
  FileCache& fc = **opened;
  Model model;
  for (int i = 0; i < 60; ++i) {
    const std::string key = "before/" + std::to_string(i);
    model[key] = ValueFor(key, 1, rng() % 6000, rng);
    ASSERT_OK(fc.Put(key, *model[key]));
  }

  env->SetSpaceLimit(limit);
  // Write until the budget is gone; a failed write must be NoSpace and must
  // leave the key as it was.
  int no_space = 0, accepted = 0;
  for (int i = 0; i < 2000 && no_space < 40; ++i) {
    const bool overwrite = rng() % 3 == 0;
    const std::string key = overwrite ? "before/" + std::to_string(rng() % 60)
                                      : "during/" + std::to_string(i);
    const std::string value = ValueFor(key, 2 + i, 100 + rng() % 8000, rng);
    Status s = fc.Put(key, value);
    if (s.ok()) {
      ++accepted;
      model[key] = value;
    } else {
      ASSERT_TRUE(s.IsNoSpace()) << "Put under a full disk: " << s.ToString();
      ++no_space;
    }
    std::string got;
    Status g = fc.Get(key, &got);
    if (model.count(key) && model[key]) {
      ASSERT_OK(g) << key << " after " << s.ToString();
      ASSERT_EQ(got, *model[key]) << key << " after " << s.ToString();
    } else {
      ASSERT_TRUE(g.IsNotFound()) << key << ": a failed Put left a value";
    }
  }
  EXPECT_GT(no_space, 0) << "the space limit was never reached";
  int wrong = Mismatches(fc, model, "while full");
  EXPECT_EQ(wrong, 0);

  // Erase and Compact on a full disk: OK or NoSpace, and nothing else moves.
  const std::string erased = "before/7";
  Status e = fc.Erase(erased);
  EXPECT_TRUE(e.ok() || e.IsNoSpace()) << e.ToString();
  std::string got;
  if (e.ok()) {
    model[erased].reset();
  } else if (fc.Get(erased, &got).IsNotFound()) {
    model[erased].reset();  // a cache may forget what it was asked to drop
  }
  Status c = fc.Compact();
  EXPECT_TRUE(c.ok() || c.IsNoSpace()) << c.ToString();
  no_space += e.IsNoSpace() + c.IsNoSpace();
  const int after_compact =
      Mismatches(fc, model, "after Erase/Compact while full");
  EXPECT_EQ(after_compact, 0);
  wrong += after_compact;
  auto report = fc.Verify();
  ASSERT_OK(report);
  EXPECT_TRUE(report->clean()) << VerifyString(*report);

  // Space comes back: writes succeed and everything is intact.
  env->ClearSpaceLimit();
  for (int i = 0; i < 50; ++i) {
    const std::string key = "after/" + std::to_string(i);
    model[key] = ValueFor(key, 1, rng() % 9000, rng);
    ASSERT_OK(fc.Put(key, *model[key])) << "with space again";
  }
  ASSERT_OK(fc.Put(erased, "back"));
  model[erased] = "back";
  EXPECT_EQ(Mismatches(fc, model, "after ClearSpaceLimit"), 0);
  ASSERT_OK(fc.Compact());
  EXPECT_EQ(Mismatches(fc, model, "after a compaction with space"), 0);

  // And a fresh handle, on the real Env, agrees.
  opened.value().reset();
  auto again = FileCache::Open(dir);
  ASSERT_OK(again);
  EXPECT_EQ(Mismatches(**again, model, "reopened"), 0);
  report = (*again)->Verify();
  ASSERT_OK(report);
  EXPECT_TRUE(report->clean());
  printf("limit %llu: %d puts accepted, %d NoSpace; Erase: %s; Compact: %s\n",
         static_cast<unsigned long long>(limit), accepted, no_space,
         e.ToString().c_str(), c.ToString().c_str());
  PrintSummary(
      std::string("FullDiskTest.") +
          testing::UnitTest::GetInstance()->current_test_info()->name(),
      no_space, "NoSpace refusals (FaultEnv)", wrong, 0,
      std::to_string(accepted) + " puts accepted while filling");
}

INSTANTIATE_TEST_SUITE_P(Budgets, FullDiskTest,
                         testing::Values(0, 1, 100, 4096, 20000, 100000,
                                         1 << 20, 3 << 20),
                         [](const testing::TestParamInfo<uint64_t>& info) {
                           return "Bytes" + std::to_string(info.param);
                         });

// A store created while the disk is already full: Open may fail, but with a
// status, and once space returns the directory is usable.
// An erase needs a log record. On a disk too full for it, the erase used
// to fail, and a selector that could not write a newer value either left
// the older one readable to every process. The slot is cleared in place,
// and recovery, which has only the log, then forgets the store instead of
// bringing the value back.
TEST(FullDiskEraseTest, EraseOnAFullDiskStillRemovesTheValue) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  auto env = std::make_shared<FaultEnv>();
  FileCacheOptions options;
  options.env = env;
  auto cache = FileCache::Open(dir, options);
  ASSERT_OK(cache);
  ASSERT_OK((*cache)->Put("k", "old"));
  env->SetSpaceLimit(0);
  // Records as large as the erase's use up the space reserved ahead.
  Status s;
  for (int i = 0; i < 100000 && s.ok(); ++i) {
    s = (*cache)->Put("f" + std::to_string(i % 10), "");
  }
  ASSERT_TRUE(s.IsNoSpace()) << s.ToString();
  EXPECT_OK((*cache)->Erase("k"));
  std::string value;
  EXPECT_TRUE((*cache)->Get("k", &value).IsNotFound());
  auto other = FileCache::Open(dir);
  ASSERT_OK(other);
  EXPECT_TRUE((*other)->Get("k", &value).IsNotFound());
  other->reset();
  cache->reset();

  ASSERT_EQ(::unlink((dir + "/index").c_str()), 0);
  auto recovered = FileCache::Open(dir);
  ASSERT_OK(recovered);
  EXPECT_TRUE((*recovered)->Get("k", &value).IsNotFound())
      << "recovery brought an erased value back: " << value;
}

TEST(FullDiskEraseTest, EraseStillRemovesTheValueWhenTheIndexMustGrowFirst) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  auto env = std::make_shared<FaultEnv>();
  FileCacheOptions options;
  options.env = env;
  auto cache = FileCache::Open(dir, options);
  ASSERT_OK(cache);
  // Fills the first index up to its load limit: the next record, the
  // erase's, must first grow it into a new index file.
  const auto limit = static_cast<int>(0.7 * 1024);
  ASSERT_OK((*cache)->Put("k", "old"));
  for (int i = 1; i < limit; ++i) {
    ASSERT_OK((*cache)->Put("f" + std::to_string(i), "v"));
  }
  Result<FileCacheStats> before = (*cache)->GetStats();
  ASSERT_OK(before);
  env->SetSpaceLimit(0);
  EXPECT_OK((*cache)->Erase("k"));
  Result<FileCacheStats> after = (*cache)->GetStats();
  ASSERT_OK(after);
  EXPECT_EQ(after->generation, before->generation)
      << "the index grew on a full disk: the test no longer reaches the path";
  std::string value;
  EXPECT_TRUE((*cache)->Get("k", &value).IsNotFound()) << value;
  auto other = FileCache::Open(dir);
  ASSERT_OK(other);
  EXPECT_TRUE((*other)->Get("k", &value).IsNotFound()) << value;
}

TEST(FullDiskCreateTest, CreateOnAFullDisk) {
  TempDir tmp;
  for (uint64_t limit : {0, 64, 4096, 16384, 65536}) {
    SCOPED_TRACE("limit " + std::to_string(limit));
    const std::string dir = tmp.Sub("store" + std::to_string(limit));
    auto env = std::make_shared<FaultEnv>();
    env->SetSpaceLimit(limit);
    FileCacheOptions options;
    options.env = env;
    {
      auto opened = FileCache::Open(dir, options);
      if (opened.ok()) {
        Status s = (*opened)->Put("k", std::string(100000, 'x'));
        EXPECT_TRUE(s.ok() || s.IsNoSpace()) << s.ToString();
      } else {
        EXPECT_TRUE(opened.status().IsNoSpace() ||
                    opened.status().code() == Status::Code::kIOError)
            << opened.status().ToString();
      }
    }
    env->ClearSpaceLimit();
    auto opened = FileCache::Open(dir, options);
    ASSERT_OK(opened) << "after a create that ran out of space";
    ASSERT_OK((*opened)->Put("k", "v"));
    std::string got;
    ASSERT_OK((*opened)->Get("k", &got));
    EXPECT_EQ(got, "v");
  }
}

// ---------------------------------------------------------------------------
// A real filesystem that fills up.

// Everything the child found, for the parent's assertions.
struct TmpfsReport {
  int stored = 0;          // puts accepted before the first NoSpace
  int first_failure = -1;  // Status::Code of the first failed Put
  char first_failure_message[200] = {};
  int mismatches_full = 0;
  int resumed_after_unlink = 0;  // Put OK after removing the filler
  int refilled = 0;              // puts accepted in the second filling
  int compact_code = -1;         // Status::Code of Compact on a full disk
  char compact_message[200] = {};
  int resumed_after_compact = -1;  // Put OK after erase + compact (if OK)
  int mismatches_end = 0;
  int verify_clean = 0;
  int no_space = 0;  // writes refused with NoSpace
  int step = 0;      // how far the child got
};

// Fills the store in `dir` until Put fails. Returns the number accepted.
int Fill(FileCache& fc, Model* model, const std::string& prefix,
         std::mt19937_64& rng, Status* last, int* no_space) {
  int stored = 0;
  for (int i = 0; i < 100000; ++i) {
    const std::string key = prefix + std::to_string(i);
    std::string value = ValueFor(key, 1, 1000 + rng() % 7000, rng);
    *last = fc.Put(key, value);
    if (!last->ok()) {
      *no_space += last->IsNoSpace();
      // The store is unchanged by a failed Put.
      std::string got;
      if (!fc.Get(key, &got).IsNotFound())
        (*model)[key] = "<failed put left a value>";
      return stored;
    }
    (*model)[key] = std::move(value);
    ++stored;
  }
  return stored;
}

int TmpfsChild(const std::string& mount_dir, TmpfsReport* r) {
  std::mt19937_64 rng(kSeed + 5);
  const std::string filler = mount_dir + "/filler";
  {
    // Space to give back later.
    const int fd = open(filler.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return 2;
    std::string block(64 << 10, 'f');
    for (int i = 0; i < 8; ++i) {
      if (write(fd, block.data(), block.size()) != ssize_t(block.size())) break;
    }
    close(fd);
  }
  auto opened = FileCache::Open(mount_dir + "/store");
  if (!opened.ok()) {
    fprintf(stderr, "Open on tmpfs: %s\n", opened.status().ToString().c_str());
    return 3;
  }
  FileCache& fc = **opened;
  Model model;
  r->step = 1;
  Status last;
  r->stored = Fill(fc, &model, "a/", rng, &last, &r->no_space);
  r->first_failure = static_cast<int>(last.code());
  snprintf(r->first_failure_message, sizeof(r->first_failure_message), "%s",
           last.ToString().c_str());
  r->step = 2;
  // Reads keep working, writes keep failing cleanly.
  r->mismatches_full = Mismatches(fc, model, "tmpfs full");
  for (int i = 0; i < 20; ++i) {
    Status s = fc.Put("more/" + std::to_string(i), std::string(5000, 'm'));
    if (s.ok()) model["more/" + std::to_string(i)] = std::string(5000, 'm');
    r->no_space += s.IsNoSpace();
  }
  r->step = 3;
  // Removing another file frees space: writes resume.
  unlink(filler.c_str());
  Status s = fc.Put("resumed", "after unlink");
  r->resumed_after_unlink = s.ok();
  if (s.ok()) model["resumed"] = "after unlink";
  r->step = 4;
  // Fill again, then erase most keys and compact.
  r->refilled = Fill(fc, &model, "b/", rng, &last, &r->no_space);
  int n = 0;
  for (auto& [key, value] : model) {
    if (n++ % 10 != 0 && fc.Erase(key).ok()) value.reset();
  }
  r->step = 5;
  s = fc.Compact();
  r->compact_code = static_cast<int>(s.code());
  snprintf(r->compact_message, sizeof(r->compact_message), "%s",
           s.ToString().c_str());
  if (s.ok()) {
    s = fc.Put("after-compact", "yes");
    r->resumed_after_compact = s.ok();
    if (s.ok()) model["after-compact"] = "yes";
  }
  r->step = 6;
  r->mismatches_end = Mismatches(fc, model, "tmpfs end");
  auto report = fc.Verify();
  r->verify_clean = report.ok() && report->clean();
  r->step = 7;
  return 0;
}

TEST(FullDiskTmpfsTest, FillRealTmpfs) {
  TempDir tmp;
  const std::string mnt = tmp.Sub("tmpfs");
  ScopedTmpfs tmpfs(mnt, "2m");
  if (!tmpfs.mounted()) GTEST_SKIP() << tmpfs.why();

  Shared<TmpfsReport> r;
  const pid_t pid = Spawn([&] {
    signal(SIGBUS, SIG_DFL);  // let the parent see the signal itself
    return TmpfsChild(mnt, &*r);
  });
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_FALSE(WIFSIGNALED(status))
      << "the child filling a tmpfs was killed by "
      << strsignal(WTERMSIG(status)) << " at step " << r->step;
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0) << "step " << r->step;
  printf(
      "tmpfs 2 MiB: %d puts, then %s; after unlink: %s; refilled %d; "
      "Compact on full disk: %s; after compact: %d\n",
      r->stored, r->first_failure_message,
      r->resumed_after_unlink ? "writes resume" : "still failing", r->refilled,
      r->compact_message, r->resumed_after_compact);
  PrintSummary("FullDiskTmpfsTest.FillRealTmpfs", r->no_space,
               "ENOSPC refusals on a real 2 MiB tmpfs",
               r->mismatches_full + r->mismatches_end, 0,
               std::to_string(r->stored + r->refilled) + " puts accepted");
  EXPECT_GT(r->stored, 10);
  EXPECT_EQ(r->first_failure, static_cast<int>(Status::Code::kNoSpace))
      << r->first_failure_message;
  EXPECT_EQ(r->mismatches_full, 0);
  EXPECT_TRUE(r->resumed_after_unlink);
  EXPECT_NE(r->resumed_after_compact, 0)
      << "Compact succeeded but writes did not resume";
  EXPECT_EQ(r->mismatches_end, 0);
  EXPECT_TRUE(r->verify_clean);
}

}  // namespace
}  // namespace ucache
