#include "tests/stress_util.h"

#include <signal.h>
#include <sys/wait.h>

#include <cstring>
#include <memory>
#include <random>
#include <thread>

#include "tests/testutil.h"

namespace ucache {
namespace {

// key hash, version, len, shape
constexpr size_t kValueHeader = 8 + 8 + 4 + 1;

void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

uint64_t GetU64(std::string_view in, size_t at) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    v |= static_cast<uint64_t>(static_cast<unsigned char>(in[at + i]))
         << (8 * i);
  }
  return v;
}

// The payload is a pure function of (key, version, shape, length), so a
// reader regenerates it instead of trusting a checksum alone.
void AppendPayload(uint64_t key_hash, uint64_t version, Shape shape,
                   uint32_t len, std::string* out) {
  uint64_t s = Mix(key_hash ^ Mix(version));
  if (shape == Shape::kCompressible) {
    // Text with a short period: LZ4 shrinks it a lot.
    char unit[48];
    const int n = std::snprintf(unit, sizeof(unit), "v=%llu;h=%016llx;",
                                static_cast<unsigned long long>(version),
                                static_cast<unsigned long long>(s));
    for (uint32_t i = 0; i < len; ++i) out->push_back(unit[i % n]);
    return;
  }
  for (uint32_t i = 0; i < len; i += 8) {
    s = Mix(s);
    for (uint32_t j = 0; j < 8 && i + j < len; ++j) {
      out->push_back(static_cast<char>(s >> (8 * j)));
    }
  }
}

}  // namespace

uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

uint64_t HashBytes(std::string_view s) {
  uint64_t h = 0xCBF29CE484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ULL;
  return Mix(h);
}

std::string MakeValue(std::string_view key, uint64_t version, Shape shape,
                      uint32_t len) {
  std::string v;
  v.reserve(kValueHeader + len + 8);
  const uint64_t kh = HashBytes(key);
  PutU64(&v, kh);
  PutU64(&v, version);
  for (int i = 0; i < 4; ++i) v.push_back(static_cast<char>(len >> (8 * i)));
  v.push_back(static_cast<char>(shape));
  AppendPayload(kh, version, shape, len, &v);
  PutU64(&v, HashBytes(v));
  return v;
}

std::optional<uint64_t> CheckValue(std::string_view key, std::string_view value,
                                   std::string* why) {
  if (value.size() < kValueHeader + 8) {
    *why = "too short (" + std::to_string(value.size()) + " bytes)";
    return std::nullopt;
  }
  if (GetU64(value, 0) != HashBytes(key)) {
    *why = "value belongs to another key";
    return std::nullopt;
  }
  const uint64_t version = GetU64(value, 8);
  uint32_t len = 0;
  for (int i = 0; i < 4; ++i) {
    len |= static_cast<uint32_t>(static_cast<unsigned char>(value[16 + i]))
           << (8 * i);
  }
  const auto shape = static_cast<Shape>(value[20]);
  if (static_cast<uint8_t>(shape) > 2 ||
      value.size() != kValueHeader + len + 8) {
    *why = "bad shape or length";
    return std::nullopt;
  }
  if (GetU64(value, value.size() - 8) !=
      HashBytes(value.substr(0, value.size() - 8))) {
    *why = "self-checksum mismatch (version " + std::to_string(version) + ")";
    return std::nullopt;
  }
  if (MakeValue(key, version, shape, len) != value) {
    *why = "payload differs from what version " + std::to_string(version) +
           " was written with";
    return std::nullopt;
  }
  return version;
}

uint64_t PickTestSeed(std::string_view test_name) {
  const char* env = std::getenv("UCACHE_TEST_SEED");
  const uint64_t s =
      env ? std::strtoull(env, nullptr, 0) : std::random_device{}();
  std::printf("%.*s seed=%llu (rerun with UCACHE_TEST_SEED=%llu)\n",
              static_cast<int>(test_name.size()), test_name.data(),
              static_cast<unsigned long long>(s),
              static_cast<unsigned long long>(s));
  std::fflush(stdout);
  return s;
}

bool ChildExit::signaled() const { return waited && WIFSIGNALED(status); }

int ChildExit::signal() const { return signaled() ? WTERMSIG(status) : 0; }

int ChildExit::code() const {
  return waited && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string ChildExit::ToString() const {
  if (!waited) return "waitpid failed";
  if (timed_out) return "hung (killed after timeout)";
  if (signaled()) {
    return std::string("killed by signal ") + ::strsignal(signal());
  }
  if (WIFEXITED(status)) return "exit code " + std::to_string(code());
  return "status " + std::to_string(status);
}

ChildExit WaitChild(pid_t pid, std::chrono::milliseconds timeout,
                    const std::function<void()>& before_kill) {
  using std::chrono::steady_clock;
  ChildExit out;
  const auto deadline = steady_clock::now() + timeout;
  for (;;) {
    const pid_t r = ::waitpid(pid, &out.status, WNOHANG);
    if (r == pid) break;
    if (r < 0) {
      std::perror("waitpid");
      return out;
    }
    if (steady_clock::now() > deadline) {
      out.timed_out = true;
      if (before_kill) before_kill();
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &out.status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  out.waited = true;
  return out;
}

ChildExit KillWriterBeforeItsCommit(const std::string& dir,
                                    const std::string& key,
                                    const std::string& value,
                                    std::chrono::milliseconds timeout) {
  const pid_t child = Spawn([&]() -> int {
    auto env = std::make_shared<FaultEnv>();
    FileCacheOptions options;
    options.env = env;
    auto fc = FileCache::Open(dir, options);
    if (!fc.ok()) return 1;
    env->CrashAfter(FaultEnv::Op::kWrite, 2);
    (void)(*fc)->Put(key, value);
    return 2;  // the crash did not come
  });
  return WaitChild(child, timeout);
}

int64_t EnvInt(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoll(v, nullptr, 0) : fallback;
}

void PrintSummary(std::string_view test, uint64_t faults, std::string_view what,
                  uint64_t wrong, uint64_t crashes, std::string_view detail) {
  std::printf(
      "SUMMARY %.*s: %llu %.*s, %llu wrong values, %llu crashes%s%.*s\n",
      static_cast<int>(test.size()), test.data(),
      static_cast<unsigned long long>(faults), static_cast<int>(what.size()),
      what.data(), static_cast<unsigned long long>(wrong),
      static_cast<unsigned long long>(crashes), detail.empty() ? "" : "; ",
      static_cast<int>(detail.size()), detail.data());
  std::fflush(stdout);
}

std::string VerifyString(const VerifyReport& report) {
  return "records=" + std::to_string(report.records_checked) +
         " corrupt=" + std::to_string(report.corrupt_records) +
         " index=" + std::to_string(report.index_entries) +
         " bad_index=" + std::to_string(report.bad_index_entries) +
         " unreadable=" + std::to_string(report.unreadable_bytes);
}

}  // namespace ucache
