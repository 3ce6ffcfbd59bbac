// Damaged stores: whatever happens to the bytes on disk, FileCache returns
// a correct value or a miss, never wrong bytes and never a crash.
//
// A store is built with known keys (small raw values, large compressible
// ones, incompressible ones, plus overwritten and erased keys so that the
// log holds dead records), closed and kept as a pristine copy. Each trial
// copies it, damages one file (bit flips, truncation, a zeroed 4 KiB page,
// two swapped blocks), and then, in a fork()-ed child so that a crash is
// reported as such instead of ending the test:
//  * opens it (an error Status is acceptable; a signal is not),
//  * reads every key with Get and GetView: correct or NotFound, never wrong,
//  * runs Verify(): when a damaged byte lies inside a live value whose
//    stored bytes we located in the file, it must not be clean,
//  * writes a new key and overwrites an old one, and reads both back.
// A summary of what the engine did with each kind of damage is printed.

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
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

using std::chrono::milliseconds;

// Every value written to a store under test is kept here, so that a read
// can be classified exactly: the expected value, an older version that was
// also written for the key (still never acceptable: it was overwritten), or
// bytes nobody wrote.
struct Expected {
  std::string key;
  std::optional<std::string> value;  // nullopt: erased
  std::vector<std::string> older;    // overwritten versions
};

// Chosen (and printed) once, before main(), so that fork()-ed children
// share it with the parent.
const uint64_t kSeed = PickTestSeed("corruption_test");

// ---------------------------------------------------------------------------
// Damage.

enum class DamageKind {
  kBitFlip,
  kTargetedFlip,
  kTruncate,
  kZeroPage,
  kSwap,
  kRemove,
};

const char* KindName(DamageKind k) {
  switch (k) {
    case DamageKind::kBitFlip:
      return "bit flips";
    case DamageKind::kTargetedFlip:
      return "flip in live value";
    case DamageKind::kTruncate:
      return "truncation";
    case DamageKind::kZeroPage:
      return "zeroed 4K page";
    case DamageKind::kSwap:
      return "swapped blocks";
    case DamageKind::kRemove:
      return "file removed";
  }
  return "?";
}

// A live value's stored bytes, found verbatim in a store file.
struct Located {
  std::string file;
  uint64_t offset;
  uint64_t len;
  std::string key;
};

struct Damage {
  DamageKind kind;
  std::string file;
  std::string description;
  std::vector<std::pair<uint64_t, uint64_t>> changed;  // [begin, end) ranges
};

// Applies one damage of `kind` to `path` (holding `bytes`), choosing where
// with `rng`. `target`, for kTargetedFlip, is the value to hit.
Damage DamageFile(const std::string& path, std::string bytes, DamageKind kind,
                  std::mt19937_64& rng, const Located* target, int page) {
  Damage d{kind, path, "", {}};
  const uint64_t size = bytes.size();
  char buf[160];
  switch (kind) {
    case DamageKind::kBitFlip:
    case DamageKind::kTargetedFlip: {
      const int flips = 1 + static_cast<int>(rng() % 3);
      for (int i = 0; i < flips; ++i) {
        uint64_t at = rng() % size;
        if (target) at = target->offset + rng() % target->len;
        const int bit = static_cast<int>(rng() % 8);
        bytes[at] ^= static_cast<char>(1 << bit);
        snprintf(buf, sizeof(buf), "%sflip bit %d at %llu", i ? ", " : "", bit,
                 static_cast<unsigned long long>(at));
        d.description += buf;
      }
      break;
    }
    case DamageKind::kTruncate: {
      const uint64_t len = rng() % size;
      d.changed.push_back({len, size});
      bytes.resize(len);
      snprintf(buf, sizeof(buf), "truncate %llu -> %llu",
               static_cast<unsigned long long>(size),
               static_cast<unsigned long long>(len));
      d.description = buf;
      break;
    }
    case DamageKind::kZeroPage: {
      const uint64_t begin = uint64_t(page) * 4096;
      const uint64_t end = std::min<uint64_t>(begin + 4096, size);
      for (uint64_t i = begin; i < end; ++i) {
        if (bytes[i] != 0) {
          bytes[i] = 0;
        }
      }
      snprintf(buf, sizeof(buf), "zero page %d [%llu, %llu)", page,
               static_cast<unsigned long long>(begin),
               static_cast<unsigned long long>(end));
      d.description = buf;
      break;
    }
    case DamageKind::kSwap: {
      const uint64_t len = std::min<uint64_t>(size / 2, 16 + rng() % 4096);
      const uint64_t a = rng() % (size - 2 * len + 1);
      const uint64_t b = a + len + rng() % (size - a - 2 * len + 1);
      for (uint64_t i = 0; i < len; ++i) {
        if (bytes[a + i] != bytes[b + i]) {
          std::swap(bytes[a + i], bytes[b + i]);
        }
      }
      snprintf(buf, sizeof(buf), "swap %llu bytes at %llu and %llu",
               static_cast<unsigned long long>(len),
               static_cast<unsigned long long>(a),
               static_cast<unsigned long long>(b));
      d.description = buf;
      break;
    }
    case DamageKind::kRemove:
      d.changed.push_back({0, size});
      d.description = "removed";
      unlink(path.c_str());
      return d;
  }
  // The bytes that really differ (two flips of one bit cancel out).
  if (kind != DamageKind::kTruncate) {
    const std::string original = ReadWholeFile(path);
    for (uint64_t i = 0; i < size; ++i) {
      if (bytes[i] != original[i]) d.changed.push_back({i, i + 1});
    }
  }
  struct stat st;
  if (stat(path.c_str(), &st) != 0 ||
      !WriteWholeFile(path, bytes, st.st_mode & 07777)) {
    fprintf(stderr, "DamageFile: cannot rewrite %s\n", path.c_str());
    abort();
  }
  return d;
}

bool Overlaps(const Damage& d, const Located& l) {
  for (const auto& [b, e] : d.changed) {
    if (b < l.offset + l.len && l.offset < e) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// A trial, run in a child.

struct TrialResult {
  std::atomic<int> stage{0};  // where a crash happened: see Stage
  int open_code = -1;         // Status::Code of a failed Open; -1 when OK
  uint64_t generation = 0;    // after Open: a new one means a rebuilt store
  int index_replaced = 0;     // Open published a new index file
  char open_message[200] = {};
  int verify_ok = 0;
  int verify_clean = 0;
  uint64_t corrupt_records = 0;
  uint64_t bad_index_entries = 0;
  uint64_t unreadable_bytes = 0;
  int correct = 0;
  int missing = 0;
  int wrong = 0;
  int errors = 0;
  int write_ok = 0;
  char problem[400] = {};
};

enum Stage { kForked = 1, kOpening, kVerifying, kReading, kWriting, kDone };
const char* StageName(int s) {
  static const char* names[] = {"?",       "forked",  "Open", "Verify",
                                "reading", "writing", "done"};
  return s >= 0 && s <= kDone ? names[s] : "?";
}

void Note(TrialResult* r, const std::string& what) {
  if (r->problem[0] == 0)
    snprintf(r->problem, sizeof(r->problem), "%s", what.c_str());
}

// Classifies one read of `e`.
void CheckRead(TrialResult* r, const Expected& e, const char* how,
               const Status& s, std::string_view got) {
  if (s.IsNotFound()) {
    if (e.value) r->missing++;
    return;
  }
  if (!s.ok()) {
    r->errors++;
    Note(r, std::string(how) + "(" + e.key + "): " + s.ToString() +
                " (a failed read must be NotFound)");
    return;
  }
  if (e.value && got == *e.value) {
    r->correct++;
    return;
  }
  r->wrong++;
  std::string what = "bytes nobody wrote";
  if (!e.value) what = "a value for an erased key";
  for (const std::string& old : e.older) {
    if (got == old) what = "an overwritten version";
  }
  Note(r,
       std::string("WRONG ") + how + "(" + e.key + "): " + what + " (" +
           std::to_string(got.size()) + " bytes, expected " +
           (e.value ? std::to_string(e.value->size()) + " bytes" : "a miss") +
           ")");
}

void RunTrialChild(const std::string& dir, const std::vector<Expected>& keys,
                   TrialResult* r) {
  r->stage = kOpening;
  struct stat before, after;
  const bool had_index = stat((dir + "/index").c_str(), &before) == 0;
  auto opened = FileCache::Open(dir, FileCacheOptions());
  r->index_replaced = !had_index ||
                      stat((dir + "/index").c_str(), &after) != 0 ||
                      after.st_ino != before.st_ino;
  if (!opened.ok()) {
    r->open_code = static_cast<int>(opened.status().code());
    snprintf(r->open_message, sizeof(r->open_message), "%s",
             opened.status().ToString().c_str());
    r->stage = kDone;
    return;
  }
  FileCache& fc = **opened;
  auto stats = fc.GetStats();
  if (stats.ok()) r->generation = stats->generation;
  r->stage = kReading;
  std::string got;
  for (const Expected& e : keys) {
    Status s = fc.Get(e.key, &got);
    CheckRead(r, e, "Get", s, got);
    ValueView view;
    s = fc.GetView(e.key, &view);
    CheckRead(r, e, "GetView", s, view.data());
    fc.Contains(e.key);
  }
  r->stage = kVerifying;
  auto report = fc.Verify();
  if (report.ok()) {
    r->verify_ok = 1;
    r->verify_clean = report->clean();
    r->corrupt_records = report->corrupt_records;
    r->bad_index_entries = report->bad_index_entries;
    r->unreadable_bytes = report->unreadable_bytes;
  } else {
    Note(r, "Verify: " + report.status().ToString());
  }
  r->stage = kWriting;
  const std::string fresh = MakeValue("fresh-key", 7, Shape::kRandom, 3000);
  const std::string over =
      MakeValue(keys[0].key, 7, Shape::kCompressible, 5000);
  Status s = fc.Put("fresh-key", fresh);
  if (s.ok()) s = fc.Put(keys[0].key, over);
  std::string a, b;
  if (s.ok()) s = fc.Get("fresh-key", &a);
  if (s.ok()) s = fc.Get(keys[0].key, &b);
  if (!s.ok()) {
    Note(r, "Put/Get after damage: " + s.ToString());
  } else if (a != fresh || b != over) {
    Note(r, "Put/Get after damage read back different bytes");
  } else {
    r->write_ok = 1;
  }
  r->stage = kDone;
}

// What happened to each (file, kind of damage), for the summary.
struct Tally {
  int trials = 0;
  int open_failed = 0;
  std::map<std::string, int> open_codes;
  int dirty = 0;
  int rebuilt = 0;
  int keys_lost = 0;
  int crashes = 0;
  int wrong = 0;  // reads that returned bytes other than the key's value
};

std::string FileKind(const std::string& name) {
  if (name.rfind("log.", 0) == 0) return "log";
  return name;
}

class CorruptionTest : public testing::Test {
 protected:
  // Builds the pristine store and locates the live values stored raw.
  void Build(bool compact) {
    pristine_ = tmp_.Sub("pristine");
    work_ = tmp_.Sub("work");
    std::mt19937_64 rng(kSeed);
    FileCacheOptions options;
    auto opened = FileCache::Open(pristine_, options);
    ASSERT_OK(opened);
    FileCache& fc = **opened;
    auto put = [&](const std::string& key, Shape shape, uint32_t len,
                   uint64_t version) {
      Expected* e = nullptr;
      for (Expected& x : keys_) {
        if (x.key == key) e = &x;
      }
      if (e == nullptr) {
        keys_.push_back({key, std::nullopt, {}});
        e = &keys_.back();
      }
      if (e->value) e->older.push_back(*e->value);
      e->value = MakeValue(key, version, shape, len);
      ASSERT_OK(fc.Put(key, *e->value));
    };
    keys_.reserve(200);
    for (int i = 0; i < 24; ++i) {
      put("small/" + std::to_string(i), Shape::kSmall, 5 + rng() % 100, 1);
    }
    for (int i = 0; i < 12; ++i) {
      put("big/" + std::to_string(i), Shape::kCompressible,
          4000 + rng() % 36000, 1);
    }
    for (int i = 0; i < 16; ++i) {
      put("random/" + std::to_string(i), Shape::kRandom, 1000 + rng() % 11000,
          1);
    }
    // Dead records: overwritten and erased keys.
    for (int i = 0; i < 8; ++i) {
      put("small/" + std::to_string(i), Shape::kSmall, 5 + rng() % 100, 2);
      put("random/" + std::to_string(i), Shape::kRandom, 1000 + rng() % 3000,
          2);
    }
    for (int i = 0; i < 6; ++i) {
      const std::string key = "gone/" + std::to_string(i);
      put(key, Shape::kRandom, 500 + rng() % 2000, 1);
      ASSERT_OK(fc.Erase(key));
      keys_.back().older.push_back(*keys_.back().value);
      keys_.back().value.reset();
    }
    if (compact) {
      ASSERT_OK(fc.Compact());
    }
    auto stats = fc.GetStats();
    ASSERT_OK(stats);
    generation_ = stats->generation;
    opened.value().reset();  // closes the store

    for (const std::string& name : ListDirNames(pristine_)) {
      const std::string bytes = ReadWholeFile(pristine_ + "/" + name);
      files_.push_back({name, bytes});
      for (const Expected& e : keys_) {
        if (!e.value) continue;
        const size_t at = bytes.find(*e.value);
        if (at != std::string::npos) {
          live_.push_back({name, at, e.value->size(), e.key});
        }
      }
    }
    printf("store files:");
    for (const auto& [name, bytes] : files_) {
      printf(" %s (%zu bytes)", name.c_str(), bytes.size());
    }
    printf("; %zu live values located verbatim\n", live_.size());
    ASSERT_GT(live_.size(), 20u) << "raw values should be stored verbatim";
  }

  // One damaged copy, checked in a child.
  void Trial(const std::string& name, DamageKind kind, const Located* target,
             int page, std::mt19937_64& rng) {
    CopyDirFlat(pristine_, work_);
    const std::string* bytes = nullptr;
    for (const auto& f : files_) {
      if (f.first == name) bytes = &f.second;
    }
    const Damage d =
        DamageFile(work_ + "/" + name, *bytes, kind, rng, target, page);
    const std::string context = name + ": " + d.description;
    Tally& t = tally_[FileKind(name) + " / " + KindName(kind)];
    t.trials++;

    Shared<TrialResult> r;
    r->stage = kForked;
    const pid_t pid = Spawn([&] {
      RunTrialChild(work_, keys_, &*r);
      return 0;
    });
    const ChildExit ended = WaitChild(pid, milliseconds(20000));
    const TrialResult& res = *r;
    if (!ended.clean()) {
      t.crashes++;
      ADD_FAILURE() << context << ": " << ended.ToString() << " during "
                    << StageName(res.stage);
    } else if (res.open_code >= 0) {
      t.open_failed++;
      t.open_codes[res.open_message]++;
    } else {
      t.wrong += res.wrong;
      EXPECT_EQ(res.wrong, 0) << context << ": " << res.problem;
      EXPECT_EQ(res.errors, 0) << context << ": " << res.problem;
      EXPECT_TRUE(res.verify_ok) << context << ": " << res.problem;
      EXPECT_TRUE(res.write_ok) << context << ": " << res.problem;
      if (!res.verify_clean) t.dirty++;
      t.keys_lost += res.missing / 2;  // counted by Get and by GetView
      // A store rebuilt at Open no longer holds the damage; Verify reports
      // on what is there now.
      const bool rebuilt = res.generation != generation_ || res.index_replaced;
      if (rebuilt) t.rebuilt++;
      for (const Located& l : live_) {
        if (rebuilt) break;
        if (l.file == name && Overlaps(d, l)) {
          EXPECT_FALSE(res.verify_clean)
              << context << ": damage inside the live value of " << l.key
              << " (stored at " << l.offset << "+" << l.len
              << ") but Verify() is clean";
          break;
        }
      }
    }
  }

  // Runs every kind of damage over every file; `scale` sets trial counts.
  void DamageEverything(int scale) {
    std::mt19937_64 rng(Mix(kSeed + 1));
    for (const auto& [name, bytes] : files_) {
      if (bytes.empty()) continue;  // nothing to damage (e.g. the lock file)
      SCOPED_TRACE(name);
      for (int i = 0; i < 6 * scale && !HasFatalFailure(); ++i) {
        Trial(name, DamageKind::kBitFlip, nullptr, 0, rng);
      }
      std::vector<const Located*> targets;
      for (const Located& l : live_) {
        if (l.file == name) targets.push_back(&l);
      }
      for (int i = 0; i < 3 * scale && !targets.empty(); ++i) {
        Trial(name, DamageKind::kTargetedFlip, targets[rng() % targets.size()],
              0, rng);
      }
      for (int i = 0; i < 2 * scale; ++i) {
        Trial(name, DamageKind::kTruncate, nullptr, 0, rng);
      }
      const int pages = static_cast<int>((bytes.size() + 4095) / 4096);
      for (int i = 0; i < std::min(pages, 3 * scale); ++i) {
        Trial(name, DamageKind::kZeroPage, nullptr,
              pages <= 3 * scale ? i : static_cast<int>(rng() % pages), rng);
      }
      for (int i = 0; i < 2 * scale && bytes.size() >= 64; ++i) {
        Trial(name, DamageKind::kSwap, nullptr, 0, rng);
      }
    }
    for (const auto& [name, bytes] : files_) {
      Trial(name, DamageKind::kRemove, nullptr, 0, rng);
    }
    printf("%-34s %6s %6s %6s %7s %9s %7s  open errors\n", "damage", "trials",
           "crash", "dirty", "rebuilt", "keys lost", "no open");
    for (const auto& [what, t] : tally_) {
      std::string codes;
      for (const auto& [msg, n] : t.open_codes) {
        codes += std::to_string(n) + "x " + msg.substr(0, 70) + "; ";
      }
      printf("%-34s %6d %6d %6d %7d %9d %7d  %s\n", what.c_str(), t.trials,
             t.crashes, t.dirty, t.rebuilt, t.keys_lost, t.open_failed,
             codes.c_str());
    }
    Tally total;
    for (const auto& [what, t] : tally_) {
      total.trials += t.trials;
      total.crashes += t.crashes;
      total.wrong += t.wrong;
      total.dirty += t.dirty;
      total.keys_lost += t.keys_lost;
    }
    PrintSummary(
        std::string("CorruptionTest.") +
            testing::UnitTest::GetInstance()->current_test_info()->name(),
        total.trials,
        "damaged stores (bit flips, truncations, zeroed pages, "
        "swapped blocks, removed files)",
        total.wrong, total.crashes,
        std::to_string(total.dirty) + " reported by Verify, " +
            std::to_string(total.keys_lost) + " keys lost");
  }

  TempDir tmp_;
  std::string pristine_, work_;
  std::vector<Expected> keys_;
  std::vector<std::pair<std::string, std::string>> files_;  // name, bytes
  std::vector<Located> live_;
  uint64_t generation_ = 0;  // of the pristine store
  std::map<std::string, Tally> tally_;
};

// UCACHE_CORRUPTION_SCALE multiplies the trials per file and kind of damage
// (10 for a fresh store, half that for a compacted one).
TEST_F(CorruptionTest, DamagedFreshStore) {
  Build(/*compact=*/false);
  if (HasFatalFailure()) return;
  DamageEverything(static_cast<int>(EnvInt("UCACHE_CORRUPTION_SCALE", 10)));
}

TEST_F(CorruptionTest, DamagedCompactedStore) {
  Build(/*compact=*/true);
  if (HasFatalFailure()) return;
  DamageEverything(
      std::max(1, static_cast<int>(EnvInt("UCACHE_CORRUPTION_SCALE", 10)) / 2));
}

// Two damages at once: the newest record of an overwritten key is corrupt,
// and the index is lost, so the store is rebuilt from the log. The rebuilt
// store may forget the key but must not fall back to the version that the
// corrupt record had replaced.
TEST_F(CorruptionTest, RebuiltIndexNeverServesAnOverwrittenVersion) {
  Build(/*compact=*/false);
  if (HasFatalFailure()) return;
  std::mt19937_64 rng(Mix(kSeed + 3));
  int trials = 0;
  for (const Located& l : live_) {
    const Expected* e = nullptr;
    for (const Expected& x : keys_) {
      if (x.key == l.key && !x.older.empty()) e = &x;
    }
    if (e == nullptr) continue;
    for (bool remove_index : {true, false}) {
      ++trials;
      CopyDirFlat(pristine_, work_);
      std::string log = ReadWholeFile(pristine_ + "/" + l.file);
      log[l.offset + rng() % l.len] ^= 0x10;
      ASSERT_TRUE(WriteWholeFile(work_ + "/" + l.file, log, 0600));
      if (remove_index) {
        unlink((work_ + "/index").c_str());
      } else {
        std::string index = ReadWholeFile(pristine_ + "/index");
        ASSERT_FALSE(index.empty());
        index[8] ^= 0x01;  // the prelude's version field: checksum fails
        ASSERT_TRUE(WriteWholeFile(work_ + "/index", index, 0600));
      }
      Shared<TrialResult> r;
      const pid_t pid = Spawn([&] {
        RunTrialChild(work_, keys_, &*r);
        return 0;
      });
      int status = 0;
      waitpid(pid, &status, 0);
      const std::string context =
          "newest record of " + l.key + " corrupt, index " +
          (remove_index ? "removed" : "with a bad prelude");
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
          << context << ": child died during " << StageName(r->stage);
      EXPECT_EQ(r->wrong, 0) << context << ": " << r->problem;
      EXPECT_EQ(r->errors, 0) << context << ": " << r->problem;
      EXPECT_TRUE(r->open_code >= 0 || r->write_ok)
          << context << ": " << r->problem;
    }
  }
  EXPECT_GT(trials, 4) << "no overwritten key with a raw value was located";
}

// Files of the wrong kind where the store's files should be.
TEST_F(CorruptionTest, ForeignAndEmptyFiles) {
  Build(/*compact=*/false);
  if (HasFatalFailure()) return;
  std::mt19937_64 rng(Mix(kSeed + 2));
  for (const auto& [name, bytes] : files_) {
    for (int variant = 0; variant < 3; ++variant) {
      CopyDirFlat(pristine_, work_);
      std::string junk;
      if (variant == 1) junk = std::string(bytes.size(), '\0');
      if (variant == 2) {
        for (size_t i = 0; i < bytes.size(); ++i) junk.push_back(char(rng()));
      }
      ASSERT_TRUE(WriteWholeFile(work_ + "/" + name, junk, 0600));
      SCOPED_TRACE(name + " replaced by " +
                   (variant == 0   ? "an empty file"
                    : variant == 1 ? "zeros"
                                   : "random bytes"));
      const pid_t pid = Spawn([&] {
        TrialResult r;
        RunTrialChild(work_, keys_, &r);
        return r.wrong != 0 || r.errors != 0 ? 1 : 0;
      });
      int status = 0;
      waitpid(pid, &status, 0);
      EXPECT_TRUE(WIFEXITED(status))
          << "killed by " << strsignal(WTERMSIG(status));
      EXPECT_EQ(WEXITSTATUS(status), 0) << "wrong values or failed reads";
    }
  }
}

}  // namespace
}  // namespace ucache
