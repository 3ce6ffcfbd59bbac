#include "tests/testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace ucache {

LogSink LogRecorder::Sink() {
  return [this](LogLevel level, std::string_view message) {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.emplace_back(level, message);
  };
}

std::vector<std::string> LogRecorder::Lines() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [level, message] : lines_) {
    out.push_back((level == LogLevel::kWarning ? "W " : "I ") + message);
  }
  return out;
}

std::vector<std::string> LogRecorder::Of(LogLevel level) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [l, message] : lines_) {
    if (l == level) out.push_back(message);
  }
  return out;
}

std::vector<std::string> LogRecorder::warnings() const {
  return Of(LogLevel::kWarning);
}

std::vector<std::string> LogRecorder::infos() const {
  return Of(LogLevel::kInfo);
}

namespace {

std::string NoSpaceMessage(std::string_view call, int fd) {
  return std::string(call) + " fd " + std::to_string(fd) +
         ": No space left on device (FaultEnv space limit)";
}

}  // namespace

TempDir::TempDir() {
  const char* root = std::getenv("TEST_TMPDIR");
  if (root == nullptr || *root == '\0') root = "/tmp";
  std::string pattern = std::string(root) + "/ucache-test-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    std::fprintf(stderr, "TempDir: mkdtemp %s: %s\n", pattern.c_str(),
                 std::strerror(errno));
    std::abort();
  }
  path_ = std::move(pattern);
}

TempDir::~TempDir() { RemoveTree(path_); }

std::string TempDir::Sub(std::string_view name) const {
  std::string out = path_;
  out += '/';
  out += name;
  return out;
}

std::vector<std::string> ListDirNames(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (struct dirent* e = ::readdir(d)) {
      std::string_view name(e->d_name);
      if (name != "." && name != "..") names.emplace_back(name);
    }
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string ReadWholeFile(const std::string& path) {
  std::string out;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[1 << 16];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
  ::close(fd);
  return out;
}

bool WriteWholeFile(const std::string& path, std::string_view data,
                    mode_t mode) {
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return false;
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n <= 0) break;
    off += n;
  }
  ::fchmod(fd, mode);
  ::close(fd);
  return off == data.size();
}

// Directories are made accessible first, because tests take permissions
// away to provoke errors and a leftover would outlive the test.
void RemoveTree(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return;
  if (!S_ISDIR(st.st_mode)) {
    ::unlink(path.c_str());
    return;
  }
  ::chmod(path.c_str(), 0700);
  for (const std::string& child : ListDirNames(path)) {
    RemoveTree(path + "/" + child);
  }
  ::rmdir(path.c_str());
}

void CopyDirFlat(const std::string& from, const std::string& to) {
  RemoveTree(to);
  ::mkdir(to.c_str(), 0700);
  for (const std::string& name : ListDirNames(from)) {
    struct stat st;
    const std::string src = from + "/" + name;
    if (::lstat(src.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (!WriteWholeFile(to + "/" + name, ReadWholeFile(src),
                        st.st_mode & 07777)) {
      std::fprintf(stderr, "CopyDirFlat: %s failed\n", src.c_str());
      std::abort();
    }
  }
}

FaultEnv::FaultEnv(std::shared_ptr<Env> base) : EnvWrapper(std::move(base)) {}

void FaultEnv::SetSpaceLimit(uint64_t bytes_remaining) {
  std::lock_guard<std::mutex> lock(mu_);
  space_remaining_ = bytes_remaining;
}

void FaultEnv::ClearSpaceLimit() {
  std::lock_guard<std::mutex> lock(mu_);
  space_remaining_.reset();
}

std::optional<uint64_t> FaultEnv::SpaceRemaining() const {
  std::lock_guard<std::mutex> lock(mu_);
  return space_remaining_;
}

void FaultEnv::FailNext(Op op, Status s, int count) {
  std::lock_guard<std::mutex> lock(mu_);
  PlannedFailure& f = failures_[static_cast<int>(op)];
  f.remaining = s.ok() ? 0 : count;
  f.status = std::move(s);
}

void FaultEnv::ClearFaults() {
  std::lock_guard<std::mutex> lock(mu_);
  for (PlannedFailure& f : failures_) f = PlannedFailure();
  crash_countdown_.fill(0);
  crash_after_countdown_.fill(0);
}

void FaultEnv::SetNowMillis(int64_t millis) {
  std::lock_guard<std::mutex> lock(mu_);
  now_millis_ = millis;
}

void FaultEnv::AdvanceMillis(int64_t delta) {
  // Read the real clock outside mu_: the wrapped Env may be another FaultEnv
  // or something slow, and it is not ours to serialize.
  const int64_t real = target()->NowMillis();
  std::lock_guard<std::mutex> lock(mu_);
  now_millis_ = now_millis_.value_or(real) + delta;
}

void FaultEnv::ClearNowMillis() {
  std::lock_guard<std::mutex> lock(mu_);
  now_millis_.reset();
}

void FaultEnv::CrashAt(Op op, int nth) {
  std::lock_guard<std::mutex> lock(mu_);
  crash_countdown_[static_cast<int>(op)] = nth > 0 ? nth : 0;
}

void FaultEnv::CrashAfter(Op op, int nth) {
  std::lock_guard<std::mutex> lock(mu_);
  crash_after_countdown_[static_cast<int>(op)] = nth > 0 ? nth : 0;
}

void FaultEnv::CountAfter(Op op) {
  std::lock_guard<std::mutex> lock(mu_);
  int& countdown = crash_after_countdown_[static_cast<int>(op)];
  if (countdown > 0 && --countdown == 0) ::_exit(kCrashExitCode);
}

int64_t FaultEnv::Calls(Op op) const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_[static_cast<int>(op)];
}

void FaultEnv::ResetCalls() {
  std::lock_guard<std::mutex> lock(mu_);
  calls_.fill(0);
}

void FaultEnv::CountLocked(Op op) {
  const int i = static_cast<int>(op);
  ++calls_[i];
  if (crash_countdown_[i] > 0 && --crash_countdown_[i] == 0) {
    // _exit, not exit: a crash runs no destructors and flushes no buffers.
    ::_exit(kCrashExitCode);
  }
}

Status FaultEnv::Enter(Op op) {
  std::lock_guard<std::mutex> lock(mu_);
  CountLocked(op);
  PlannedFailure& f = failures_[static_cast<int>(op)];
  if (f.remaining > 0) {
    --f.remaining;
    return f.status;
  }
  return Status::OK();
}

uint64_t FaultEnv::ChargeSpace(uint64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!space_remaining_) return n;
  const uint64_t granted = std::min(n, *space_remaining_);
  *space_remaining_ -= granted;
  return granted;
}

Result<int> FaultEnv::Open(const std::string& path, OpenMode mode) {
  if (Status s = Enter(Op::kOpen); !s.ok()) return s;
  return Leave(Op::kOpen, target()->Open(path, mode));
}

Status FaultEnv::Close(int fd) {
  if (Status s = Enter(Op::kClose); !s.ok()) return s;
  return Leave(Op::kClose, target()->Close(fd));
}

Status FaultEnv::Write(int fd, const void* data, size_t n, uint64_t offset) {
  if (Status s = Enter(Op::kWrite); !s.ok()) return s;
  const uint64_t granted = ChargeSpace(n);
  if (granted == n)
    return Leave(Op::kWrite, target()->Write(fd, data, n, offset));
  if (granted > 0) {
    Status s = target()->Write(fd, data, static_cast<size_t>(granted), offset);
    if (!s.ok()) return s;
  }
  return Status::NoSpace(NoSpaceMessage("pwrite", fd));
}

Status FaultEnv::Read(int fd, void* data, size_t n, uint64_t offset) {
  if (Status s = Enter(Op::kRead); !s.ok()) return s;
  return Leave(Op::kRead, target()->Read(fd, data, n, offset));
}

Status FaultEnv::Allocate(int fd, uint64_t offset, uint64_t len) {
  if (Status s = Enter(Op::kAllocate); !s.ok()) return s;
  if (SpaceRemaining()) {
    // Only what grows the file needs space (see SetSpaceLimit); asked
    // behind the knobs' back, so that the Stat is no call of the code
    // under test.
    Result<FileInfo> info = target()->Stat(fd);
    if (!info.ok()) return info.status();
    const uint64_t end = offset + len;
    const uint64_t grows =
        end > info->size ? end - std::max(offset, info->size) : 0;
    // All or nothing, so the budget is checked before anything is charged.
    std::lock_guard<std::mutex> lock(mu_);
    if (space_remaining_) {
      if (grows > *space_remaining_) {
        return Status::NoSpace(NoSpaceMessage("posix_fallocate", fd));
      }
      *space_remaining_ -= grows;
    }
  }
  return Leave(Op::kAllocate, target()->Allocate(fd, offset, len));
}

void FaultEnv::OnSync(std::function<void(const std::string& synced)> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  on_sync_ = std::move(fn);
}

void FaultEnv::NoteSync(const std::function<std::string()>& synced) {
  std::function<void(const std::string&)> fn;
  {
    std::lock_guard<std::mutex> lock(mu_);
    fn = on_sync_;
  }
  if (fn) fn(synced());
}

Status FaultEnv::Sync(int fd) {
  NoteSync([fd] {
    char link[64], path[4096];
    std::snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    const ssize_t n = readlink(link, path, sizeof(path));
    const std::string_view name(path, n > 0 ? static_cast<size_t>(n) : 0);
    return std::string(name.substr(name.find_last_of('/') + 1));
  });
  if (Status s = Enter(Op::kSync); !s.ok()) return s;
  return Leave(Op::kSync, target()->Sync(fd));
}

Result<uint64_t> FaultEnv::NextData(int fd, uint64_t offset) {
  if (Status s = Enter(Op::kNextData); !s.ok()) return s;
  return Leave(Op::kNextData, target()->NextData(fd, offset));
}

Result<FileInfo> FaultEnv::Stat(int fd) {
  if (Status s = Enter(Op::kStat); !s.ok()) return s;
  return Leave(Op::kStat, target()->Stat(fd));
}

Result<FileInfo> FaultEnv::StatPath(const std::string& path) {
  if (Status s = Enter(Op::kStatPath); !s.ok()) return s;
  return Leave(Op::kStatPath, target()->StatPath(path));
}

Result<void*> FaultEnv::Map(int fd, uint64_t len, bool writable) {
  if (Status s = Enter(Op::kMap); !s.ok()) return s;
  return Leave(Op::kMap, target()->Map(fd, len, writable));
}

void FaultEnv::Unmap(void* addr, uint64_t len) {
  // Not Enter: a planned failure stays pending, since skipping the unmap
  // would only leak the mapping.
  {
    std::lock_guard<std::mutex> lock(mu_);
    CountLocked(Op::kUnmap);
  }
  target()->Unmap(addr, len);
}

Status FaultEnv::Lock(int fd, LockMode mode) {
  if (Status s = Enter(Op::kLock); !s.ok()) return s;
  return Leave(Op::kLock, target()->Lock(fd, mode));
}

Status FaultEnv::Unlock(int fd) {
  if (Status s = Enter(Op::kUnlock); !s.ok()) return s;
  return Leave(Op::kUnlock, target()->Unlock(fd));
}

std::unique_ptr<FileCache> OpenStore(const std::string& dir,
                                     const FileCacheOptions& options) {
  Result<std::unique_ptr<FileCache>> cache = FileCache::Open(dir, options);
  EXPECT_OK(cache);
  return cache.ok() ? std::move(*cache) : nullptr;
}

std::string GetOrMiss(FileCache& cache, std::string_view key) {
  std::string value;
  Status s = cache.Get(key, &value);
  if (s.IsNotFound()) return "<miss>";
  EXPECT_OK(s);
  return value;
}

void DamageIndexPrelude(const std::string& dir) {
  const int fd = ::open((dir + "/index").c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  uint8_t byte = 0;
  ASSERT_EQ(::pread(fd, &byte, 1, 20), 1);
  byte ^= 0x10;
  ASSERT_EQ(::pwrite(fd, &byte, 1, 20), 1);
  ::close(fd);
}

ScopedTmpfs::ScopedTmpfs(const std::string& path, const std::string& size)
    : path_(path) {
  if (geteuid() != 0) {
    why_ = "needs root to mount a tmpfs";
  } else if (mkdir(path.c_str(), 0700) != 0) {
    why_ = "cannot create " + path + ": " + strerror(errno);
  } else if (mount("tmpfs", path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
                   ("size=" + size + ",mode=0700").c_str()) != 0) {
    why_ = std::string("cannot mount a tmpfs here: ") + strerror(errno);
  } else {
    mounted_ = true;
  }
}

ScopedTmpfs::~ScopedTmpfs() {
  if (mounted_ && umount(path_.c_str()) != 0) umount2(path_.c_str(), MNT_DETACH);
}

ScopedEnvVar::ScopedEnvVar(const char* name, const char* value) : name_(name) {
  if (const char* old = getenv(name)) old_ = old;
  if (value == nullptr) {
    unsetenv(name);
  } else {
    setenv(name, value, 1);
  }
}

ScopedEnvVar::~ScopedEnvVar() {
  if (old_) {
    setenv(name_.c_str(), old_->c_str(), 1);
  } else {
    unsetenv(name_.c_str());
  }
}

Status FaultEnv::LockByte(int fd, uint64_t offset, LockMode mode) {
  if (Status s = Enter(Op::kLock); !s.ok()) return s;
  return Leave(Op::kLock, target()->LockByte(fd, offset, mode));
}

Status FaultEnv::UnlockByte(int fd, uint64_t offset) {
  if (Status s = Enter(Op::kUnlock); !s.ok()) return s;
  return Leave(Op::kUnlock, target()->UnlockByte(fd, offset));
}

Status FaultEnv::CreateDir(const std::string& path) {
  if (Status s = Enter(Op::kCreateDir); !s.ok()) return s;
  return Leave(Op::kCreateDir, target()->CreateDir(path));
}

Result<std::vector<std::string>> FaultEnv::ListDir(const std::string& path) {
  if (Status s = Enter(Op::kListDir); !s.ok()) return s;
  return Leave(Op::kListDir, target()->ListDir(path));
}

Status FaultEnv::Rename(const std::string& from, const std::string& to) {
  if (Status s = Enter(Op::kRename); !s.ok()) return s;
  return Leave(Op::kRename, target()->Rename(from, to));
}

Status FaultEnv::Remove(const std::string& path) {
  if (Status s = Enter(Op::kRemove); !s.ok()) return s;
  return Leave(Op::kRemove, target()->Remove(path));
}

Status FaultEnv::SyncDir(const std::string& path) {
  NoteSync([&path] { return path + "/"; });
  if (Status s = Enter(Op::kSyncDir); !s.ok()) return s;
  return Leave(Op::kSyncDir, target()->SyncDir(path));
}

int64_t FaultEnv::NowMillis() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    CountLocked(Op::kNowMillis);
    if (now_millis_) return *now_millis_;
  }
  return target()->NowMillis();
}

uint32_t FaultEnv::CurrentUser() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    CountLocked(Op::kCurrentUser);
  }
  return target()->CurrentUser();
}

std::string_view OpName(FaultEnv::Op op) {
  using Op = FaultEnv::Op;
  switch (op) {
    case Op::kOpen:
      return "Open";
    case Op::kClose:
      return "Close";
    case Op::kWrite:
      return "Write";
    case Op::kRead:
      return "Read";
    case Op::kAllocate:
      return "Allocate";
    case Op::kSync:
      return "Sync";
    case Op::kStat:
      return "Stat";
    case Op::kStatPath:
      return "StatPath";
    case Op::kMap:
      return "Map";
    case Op::kUnmap:
      return "Unmap";
    case Op::kLock:
      return "Lock";
    case Op::kUnlock:
      return "Unlock";
    case Op::kCreateDir:
      return "CreateDir";
    case Op::kListDir:
      return "ListDir";
    case Op::kRename:
      return "Rename";
    case Op::kRemove:
      return "Remove";
    case Op::kSyncDir:
      return "SyncDir";
    case Op::kNextData:
      return "NextData";
    case Op::kNowMillis:
      return "NowMillis";
    case Op::kCurrentUser:
      return "CurrentUser";
  }
  return "Unknown";
}

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string out(n, '\0');
  size_t i = 0;
  while (i < n) {
    uint64_t word = rng();
    for (int b = 0; b < 8 && i < n; ++b, ++i) {
      out[i] = static_cast<char>(word & 0xff);
      word >>= 8;
    }
  }
  return out;
}

int64_t MillisOf(const std::function<void()>& fn) {
  const auto start = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace ucache
