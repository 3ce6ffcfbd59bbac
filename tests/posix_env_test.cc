// Tests of the real Env against the kernel: modes, symlink refusal, I/O
// edges, mappings shared with descriptors, and flock semantics across
// descriptors and processes.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/stress_util.h"
#include "tests/testutil.h"
#include "ucache/env.h"
#include "ucache/status.h"

namespace ucache {
namespace {

// Sets the umask for one scope; tests must not leak it to each other.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(old_); }

 private:
  mode_t old_;
};

class PosixEnvTest : public ::testing::Test {
 protected:
  // Opens `path` or fails the test; -1 is never a usable descriptor.
  int OpenOrDie(const std::string& path, OpenMode mode) {
    Result<int> fd = env_->Open(path, mode);
    EXPECT_OK(fd);
    return fd.ok() ? *fd : -1;
  }

  std::shared_ptr<Env> env_ = NewPosixEnv();
  TempDir dir_;
};

TEST_F(PosixEnvTest, CreatedFilesAre0600WhateverTheUmask) {
  for (mode_t mask : {0000, 0022, 0077, 0277}) {
    ScopedUmask umask(mask);
    for (OpenMode mode : {OpenMode::kCreate, OpenMode::kCreateExclusive}) {
      const std::string path = dir_.Sub("f" + std::to_string(mask) + "_" +
                                        std::to_string(static_cast<int>(mode)));
      int fd = OpenOrDie(path, mode);
      ASSERT_GE(fd, 0);
      ASSERT_OK(env_->Close(fd));
      Result<FileInfo> info = env_->StatPath(path);
      ASSERT_OK(info);
      EXPECT_EQ(info->mode, 0600u) << "umask " << std::oct << mask;
      EXPECT_TRUE(info->is_regular);
      EXPECT_EQ(info->owner, ::geteuid());
    }
  }
}

TEST_F(PosixEnvTest, CreateLeavesAnExistingFilesModeAlone) {
  const std::string path = dir_.Sub("f");
  int fd = OpenOrDie(path, OpenMode::kCreate);
  ASSERT_OK(env_->Write(fd, "abc", 3, 0));
  ASSERT_OK(env_->Close(fd));
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);

  fd = OpenOrDie(path, OpenMode::kCreate);
  ASSERT_GE(fd, 0);
  Result<FileInfo> info = env_->Stat(fd);
  ASSERT_OK(info);
  EXPECT_EQ(info->mode, 0640u);
  EXPECT_EQ(info->size, 3u);  // opened, not truncated
  ASSERT_OK(env_->Close(fd));
}

TEST_F(PosixEnvTest, CreateExclusiveRefusesAnExistingFile) {
  const std::string path = dir_.Sub("f");
  ASSERT_OK(env_->Close(OpenOrDie(path, OpenMode::kCreate)));
  Result<int> again = env_->Open(path, OpenMode::kCreateExclusive);
  EXPECT_FALSE(again.ok());
}

// Callers tell "not there yet" from a real failure by the code alone.
TEST_F(PosixEnvTest, OpenMissingIsNotFoundAndNamesCallPathAndCause) {
  const std::string path = dir_.Sub("missing");
  for (OpenMode mode : {OpenMode::kReadOnly, OpenMode::kReadWrite}) {
    Result<int> fd = env_->Open(path, mode);
    ASSERT_FALSE(fd.ok());
    EXPECT_TRUE(fd.status().IsNotFound()) << fd.status().ToString();
    EXPECT_EQ(fd.status().message(),
              "open " + path + ": " + std::strerror(ENOENT));
  }
  EXPECT_TRUE(env_->StatPath(path).status().IsNotFound());
  EXPECT_TRUE(env_->Remove(path).IsNotFound());
}

TEST_F(PosixEnvTest, OpenRefusesASymlinkInEveryMode) {
  const std::string target = dir_.Sub("target");
  const std::string link = dir_.Sub("link");
  int fd = OpenOrDie(target, OpenMode::kCreate);
  ASSERT_OK(env_->Write(fd, "secret", 6, 0));
  ASSERT_OK(env_->Close(fd));
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);

  for (OpenMode mode : {OpenMode::kReadOnly, OpenMode::kReadWrite,
                        OpenMode::kCreate, OpenMode::kCreateExclusive}) {
    Result<int> opened = env_->Open(link, mode);
    EXPECT_FALSE(opened.ok()) << static_cast<int>(mode);
    if (opened.ok()) {
      ASSERT_OK(env_->Close(*opened));
    }
  }
  // A dangling link must not make Create write through it either.
  const std::string dangling = dir_.Sub("dangling");
  ASSERT_EQ(::symlink(dir_.Sub("nowhere").c_str(), dangling.c_str()), 0);
  EXPECT_FALSE(env_->Open(dangling, OpenMode::kCreate).ok());
  EXPECT_FALSE(env_->StatPath(dir_.Sub("nowhere")).ok());

  Result<FileInfo> info = env_->StatPath(link);
  ASSERT_OK(info);
  EXPECT_TRUE(info->is_symlink);
  EXPECT_FALSE(info->is_regular);
}

TEST_F(PosixEnvTest, OpenSetsCloseOnExec) {
  int fd = OpenOrDie(dir_.Sub("f"), OpenMode::kCreate);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(::fcntl(fd, F_GETFD) & FD_CLOEXEC);
  ASSERT_OK(env_->Close(fd));
}

// A FIFO under a store file's name would block a plain open until some
// writer came along, forever; a device or a directory is no file of ours
// either. Each open runs in a child with a deadline, so that a regression
// fails instead of hanging the test.
TEST_F(PosixEnvTest, OpenRefusesAnythingButARegularFileWithoutBlocking) {
  struct Case {
    std::string path;
    std::string what;  // as the message must name it
  };
  std::vector<Case> cases;
  cases.push_back({dir_.Sub("fifo"), "a FIFO"});
  ASSERT_EQ(::mkfifo(cases.back().path.c_str(), 0600), 0);
  cases.push_back({dir_.Sub("dir"), "a directory"});
  ASSERT_EQ(::mkdir(cases.back().path.c_str(), 0700), 0);
  // /dev/zero's numbers; only root may make a device node.
  if (::mknod(dir_.Sub("zero").c_str(), S_IFCHR | 0600, ::makedev(1, 5)) == 0) {
    cases.push_back({dir_.Sub("zero"), "a character device"});
  }
  for (const Case& c : cases) {
    for (OpenMode mode :
         {OpenMode::kReadOnly, OpenMode::kReadWrite, OpenMode::kCreate}) {
      if (c.what == "a directory" && mode != OpenMode::kReadOnly) {
        continue;  // the kernel itself refuses to open one for writing
      }
      SCOPED_TRACE(c.what + ", mode " + std::to_string(static_cast<int>(mode)));
      struct Message {
        char text[256];
      };
      Shared<Message> message;
      const pid_t child = Spawn([&] {
        Result<int> fd = env_->Open(c.path, mode);
        if (fd.ok()) return 1;
        std::snprintf(message->text, sizeof(message->text), "%s",
                      fd.status().ToString().c_str());
        return fd.status().code() == Status::Code::kIOError ? 0 : 2;
      });
      const ChildExit ended = WaitChild(child, std::chrono::seconds(10));
      EXPECT_TRUE(ended.clean()) << ended.ToString() << ": " << message->text;
      EXPECT_NE(std::string(message->text).find(c.path + ": is " + c.what),
                std::string::npos)
          << message->text;
    }
  }
}

// The O_NONBLOCK that keeps a FIFO from blocking the open must not outlive
// it on the files we do open.
TEST_F(PosixEnvTest, OpenedFilesAreBlocking) {
  for (OpenMode mode : {OpenMode::kCreateExclusive, OpenMode::kCreate,
                        OpenMode::kReadWrite, OpenMode::kReadOnly}) {
    int fd = OpenOrDie(dir_.Sub("f"), mode);
    ASSERT_GE(fd, 0);
    EXPECT_FALSE(::fcntl(fd, F_GETFL) & O_NONBLOCK) << static_cast<int>(mode);
    ASSERT_OK(env_->Close(fd));
  }
}

TEST_F(PosixEnvTest, WriteAndReadRoundTripAtOffsets) {
  std::mt19937_64 rng(1);
  int fd = OpenOrDie(dir_.Sub("f"), OpenMode::kCreate);
  ASSERT_GE(fd, 0);
  const std::vector<std::pair<uint64_t, size_t>> spans = {
      {0, 100}, {4096, 1}, {10'000, 70'000}, {(1u << 20) + 3, 5}};
  std::vector<std::string> data;
  for (const auto& [offset, n] : spans) {
    data.push_back(RandomBytes(rng, n));
    ASSERT_OK(env_->Write(fd, data.back().data(), n, offset));
  }
  for (size_t i = 0; i < spans.size(); ++i) {
    std::string back(spans[i].second, '\0');
    ASSERT_OK(env_->Read(fd, back.data(), back.size(), spans[i].first));
    EXPECT_EQ(back, data[i]) << "span " << i;
  }
  Result<FileInfo> info = env_->Stat(fd);
  ASSERT_OK(info);
  EXPECT_EQ(info->size, (1u << 20) + 3 + 5);
  // The gap between writes reads as zeros.
  char gap[4];
  ASSERT_OK(env_->Read(fd, gap, sizeof(gap), 200));
  EXPECT_EQ(std::string(gap, 4), std::string(4, '\0'));
  ASSERT_OK(env_->Sync(fd));
  ASSERT_OK(env_->Close(fd));
}

TEST_F(PosixEnvTest, ReadPastEndOfFileIsAnError) {
  int fd = OpenOrDie(dir_.Sub("f"), OpenMode::kCreate);
  ASSERT_GE(fd, 0);
  ASSERT_OK(env_->Write(fd, "0123456789", 10, 0));
  char buf[8];
  Status straddling = env_->Read(fd, buf, 8, 6);
  EXPECT_EQ(straddling.code(), Status::Code::kIOError);
  EXPECT_NE(straddling.message().find("fd " + std::to_string(fd)),
            std::string_view::npos)
      << straddling.ToString();
  EXPECT_EQ(env_->Read(fd, buf, 1, 10).code(), Status::Code::kIOError);
  ASSERT_OK(env_->Read(fd, buf, 4, 6));
  ASSERT_OK(env_->Close(fd));
}

TEST_F(PosixEnvTest, WriteToAReadOnlyDescriptorFails) {
  const std::string path = dir_.Sub("f");
  ASSERT_OK(env_->Close(OpenOrDie(path, OpenMode::kCreate)));
  int fd = OpenOrDie(path, OpenMode::kReadOnly);
  ASSERT_GE(fd, 0);
  Status s = env_->Write(fd, "x", 1, 0);
  EXPECT_EQ(s.code(), Status::Code::kIOError);
  EXPECT_EQ(s.message(),
            "pwrite fd " + std::to_string(fd) + ": " + std::strerror(EBADF));
  ASSERT_OK(env_->Close(fd));
}

TEST_F(PosixEnvTest, AllocateGrowsTheFileButNeverShrinksIt) {
  int fd = OpenOrDie(dir_.Sub("f"), OpenMode::kCreate);
  ASSERT_GE(fd, 0);
  ASSERT_OK(env_->Write(fd, "head", 4, 0));
  ASSERT_OK(env_->Allocate(fd, 0, 1 << 16));
  Result<FileInfo> info = env_->Stat(fd);
  ASSERT_OK(info);
  EXPECT_EQ(info->size, 1u << 16);

  ASSERT_OK(env_->Allocate(fd, 100, 10));
  ASSERT_OK(env_->Allocate(fd, 5, 0));
  info = env_->Stat(fd);
  ASSERT_OK(info);
  EXPECT_EQ(info->size, 1u << 16);

  // The data already there survives, and the new range reads as zeros.
  char buf[8];
  ASSERT_OK(env_->Read(fd, buf, 8, 0));
  EXPECT_EQ(std::string(buf, 8), std::string("head\0\0\0\0", 8));
  ASSERT_OK(env_->Close(fd));
}

TEST_F(PosixEnvTest, NextDataStepsOverHoles) {
  constexpr uint64_t kMiB = 1 << 20;
  const std::string path = dir_.Sub("sparse");
  int fd = OpenOrDie(path, OpenMode::kCreate);
  ASSERT_GE(fd, 0);
  // Data at 0 and at 1 MiB, holes between and after, up to 4 MiB.
  ASSERT_OK(env_->Write(fd, "a", 1, 0));
  ASSERT_OK(env_->Write(fd, "b", 1, kMiB));
  ASSERT_EQ(::ftruncate(fd, 4 * kMiB), 0);
  struct stat st;
  ASSERT_EQ(::fstat(fd, &st), 0);
  if (static_cast<uint64_t>(st.st_blocks) * 512 >= 4 * kMiB) {
    ASSERT_OK(env_->Close(fd));
    GTEST_SKIP() << "this filesystem keeps no holes";
  }
  const struct {
    uint64_t offset, next;
  } cases[] = {
      {0, 0},                // in data
      {1, 1},                // still in the first block
      {64 << 10, kMiB},      // in the hole: the next data
      {kMiB, kMiB},          // at data
      {2 * kMiB, 4 * kMiB},  // only a hole after: the file's size
      {4 * kMiB, 4 * kMiB},  // at the end
      {8 * kMiB, 4 * kMiB},  // past it
  };
  for (const auto& c : cases) {
    Result<uint64_t> next = env_->NextData(fd, c.offset);
    ASSERT_OK(next);
    EXPECT_EQ(*next, c.next) << "from " << c.offset;
  }
  EXPECT_EQ(env_->NextData(fd, ~uint64_t{0}).status().code(),
            Status::Code::kInvalidArgument);
  ASSERT_OK(env_->Close(fd));
  EXPECT_EQ(env_->NextData(fd, 0).status().code(), Status::Code::kIOError);
}

TEST_F(PosixEnvTest, MapSeesWritesThroughAnotherDescriptor) {
  const std::string path = dir_.Sub("f");
  int fd1 = OpenOrDie(path, OpenMode::kCreate);
  ASSERT_GE(fd1, 0);
  ASSERT_OK(env_->Allocate(fd1, 0, 8192));
  int fd2 = OpenOrDie(path, OpenMode::kReadWrite);
  ASSERT_GE(fd2, 0);

  Result<void*> ro = env_->Map(fd1, 8192, /*writable=*/false);
  ASSERT_OK(ro);
  const char* view = static_cast<const char*>(*ro);
  ASSERT_OK(env_->Write(fd2, "hello", 5, 5000));
  EXPECT_EQ(std::string(view + 5000, 5), "hello");

  // And the other way: stores through a writable mapping reach pread.
  Result<void*> rw = env_->Map(fd2, 8192, /*writable=*/true);
  ASSERT_OK(rw);
  std::memcpy(static_cast<char*>(*rw) + 100, "world", 5);
  char buf[5];
  ASSERT_OK(env_->Read(fd1, buf, 5, 100));
  EXPECT_EQ(std::string(buf, 5), "world");
  EXPECT_EQ(std::string(view + 100, 5), "world");

  env_->Unmap(*rw, 8192);
  env_->Unmap(*ro, 8192);
  ASSERT_OK(env_->Close(fd2));
  ASSERT_OK(env_->Close(fd1));
}

// The kB of the mapping that starts at `addr` that this process has mapped
// in (its Rss in /proc/self/smaps); -1 when there is no such mapping.
int64_t MappedKiB(const void* addr) {
  std::ifstream smaps("/proc/self/smaps");
  char start[32];
  std::snprintf(start, sizeof(start), "%lx-",
                static_cast<unsigned long>(reinterpret_cast<uintptr_t>(addr)));
  bool in_mapping = false;
  for (std::string line; std::getline(smaps, line);) {
    if (line.rfind(start, 0) == 0) in_mapping = true;
    if (in_mapping && line.rfind("Rss:", 0) == 0) {
      return std::stoll(line.substr(4));
    }
  }
  return -1;
}

TEST_F(PosixEnvTest, WillReadMapsTheRangeInAhead) {
  constexpr size_t kBytes = 1 << 20;
  const std::string path = dir_.Sub("f");
  int fd = OpenOrDie(path, OpenMode::kCreate);
  ASSERT_GE(fd, 0);
  ASSERT_OK(env_->Write(fd, std::string(kBytes, 'x').data(), kBytes, 0));
  Result<void*> m = env_->Map(fd, kBytes, /*writable=*/false);
  ASSERT_OK(m);
  const char* view = static_cast<const char*>(*m);
  EXPECT_EQ(MappedKiB(view), 0);
  // Unaligned at both ends, as records are: the pages they touch count.
  env_->WillRead(view + 100, kBytes - 200);
  EXPECT_EQ(MappedKiB(view), static_cast<int64_t>(kBytes / 1024));
  EXPECT_EQ(view[kBytes - 1], 'x');
  env_->WillRead(view, 0);  // nothing to do
  env_->Unmap(*m, kBytes);
  ASSERT_OK(env_->Close(fd));
}

TEST_F(PosixEnvTest, MapRefusesWritableMappingOfReadOnlyDescriptor) {
  const std::string path = dir_.Sub("f");
  int fd = OpenOrDie(path, OpenMode::kCreate);
  ASSERT_OK(env_->Allocate(fd, 0, 4096));
  ASSERT_OK(env_->Close(fd));
  fd = OpenOrDie(path, OpenMode::kReadOnly);
  ASSERT_GE(fd, 0);
  Result<void*> m = env_->Map(fd, 4096, /*writable=*/true);
  EXPECT_FALSE(m.ok());
  EXPECT_EQ(m.status().message().substr(0, 5), "mmap ")
      << m.status().ToString();
  EXPECT_FALSE(env_->Map(fd, 0, false).ok());
  ASSERT_OK(env_->Close(fd));
}

TEST_F(PosixEnvTest, TwoDescriptorsInOneProcessExcludeEachOther) {
  const std::string path = dir_.Sub("lock");
  int fd1 = OpenOrDie(path, OpenMode::kCreate);
  int fd2 = OpenOrDie(path, OpenMode::kReadWrite);
  ASSERT_GE(fd1, 0);
  ASSERT_GE(fd2, 0);

  ASSERT_OK(env_->Lock(fd1, LockMode::kExclusiveTry));
  Status busy = env_->Lock(fd2, LockMode::kExclusiveTry);
  EXPECT_EQ(busy.code(), Status::Code::kBusy) << busy.ToString();
  EXPECT_NE(busy.message().find("flock"), std::string_view::npos);

  ASSERT_OK(env_->Unlock(fd1));
  ASSERT_OK(env_->Lock(fd2, LockMode::kExclusiveTry));
  EXPECT_EQ(env_->Lock(fd1, LockMode::kExclusiveTry).code(),
            Status::Code::kBusy);
  ASSERT_OK(env_->Close(fd2));  // closing releases the lock
  ASSERT_OK(env_->Lock(fd1, LockMode::kExclusiveTry));
  ASSERT_OK(env_->Close(fd1));
}

TEST_F(PosixEnvTest, SharedLocksExcludeOnlyExclusiveOnes) {
  const std::string path = dir_.Sub("lock");
  int fd1 = OpenOrDie(path, OpenMode::kCreate);
  int fd2 = OpenOrDie(path, OpenMode::kReadWrite);
  int fd3 = OpenOrDie(path, OpenMode::kReadWrite);
  ASSERT_GE(fd1, 0);
  ASSERT_GE(fd2, 0);
  ASSERT_GE(fd3, 0);
  ASSERT_OK(env_->Lock(fd1, LockMode::kSharedWait));
  ASSERT_OK(env_->Lock(fd2, LockMode::kSharedWait));
  EXPECT_EQ(env_->Lock(fd3, LockMode::kExclusiveTry).code(),
            Status::Code::kBusy);
  ASSERT_OK(env_->Unlock(fd1));
  ASSERT_OK(env_->Unlock(fd2));
  ASSERT_OK(env_->Lock(fd3, LockMode::kExclusiveTry));
  // Converting the exclusive lock to a shared one lets other sharers in.
  ASSERT_OK(env_->Lock(fd3, LockMode::kSharedWait));
  ASSERT_OK(env_->Lock(fd1, LockMode::kSharedWait));
  EXPECT_EQ(env_->Lock(fd2, LockMode::kExclusiveTry).code(),
            Status::Code::kBusy);
  for (int fd : {fd1, fd2, fd3}) ASSERT_OK(env_->Close(fd));
}

TEST_F(PosixEnvTest, WaitingLockIsGrantedWhenTheHolderUnlocks) {
  const std::string path = dir_.Sub("lock");
  int fd1 = OpenOrDie(path, OpenMode::kCreate);
  int fd2 = OpenOrDie(path, OpenMode::kReadWrite);
  ASSERT_GE(fd1, 0);
  ASSERT_GE(fd2, 0);
  ASSERT_OK(env_->Lock(fd1, LockMode::kExclusiveWait));

  std::atomic<bool> acquired{false};
  std::thread waiter([&] {
    EXPECT_OK(env_->Lock(fd2, LockMode::kExclusiveWait));
    acquired = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(acquired);
  ASSERT_OK(env_->Unlock(fd1));
  waiter.join();
  EXPECT_TRUE(acquired);
  ASSERT_OK(env_->Close(fd2));
  ASSERT_OK(env_->Close(fd1));
}

TEST_F(PosixEnvTest, LockOfAKilledProcessIsReleased) {
  const std::string path = dir_.Sub("lock");
  ASSERT_OK(env_->Close(OpenOrDie(path, OpenMode::kCreate)));
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);

  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    Result<int> fd = env_->Open(path, OpenMode::kReadWrite);
    if (!fd.ok() || !env_->Lock(*fd, LockMode::kExclusiveWait).ok()) {
      ::_exit(1);
    }
    char one = 1;
    if (::write(ready[1], &one, 1) != 1) ::_exit(2);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1) << "child could not lock";
  ::close(ready[0]);

  int fd = OpenOrDie(path, OpenMode::kReadWrite);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(env_->Lock(fd, LockMode::kExclusiveTry).code(),
            Status::Code::kBusy);

  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_OK(env_->Lock(fd, LockMode::kExclusiveTry));
  ASSERT_OK(env_->Close(fd));
}

TEST_F(PosixEnvTest, CreateDirMakesA0700Directory) {
  for (mode_t mask : {0000, 0077, 0277}) {
    ScopedUmask umask(mask);
    const std::string path = dir_.Sub("d" + std::to_string(mask));
    ASSERT_OK(env_->CreateDir(path));
    Result<FileInfo> info = env_->StatPath(path);
    ASSERT_OK(info);
    EXPECT_TRUE(info->is_directory);
    EXPECT_EQ(info->mode, 0700u) << "umask " << std::oct << mask;
  }
}

TEST_F(PosixEnvTest, CreateDirAcceptsAnExistingDirectoryAsItIs) {
  const std::string path = dir_.Sub("d");
  ASSERT_EQ(::mkdir(path.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(path.c_str(), 0755), 0);
  ASSERT_OK(env_->CreateDir(path));
  Result<FileInfo> info = env_->StatPath(path);
  ASSERT_OK(info);
  EXPECT_EQ(info->mode, 0755u);
}

TEST_F(PosixEnvTest, CreateDirRefusesASymlinkOrAFile) {
  const std::string real = dir_.Sub("real");
  const std::string link = dir_.Sub("link");
  ASSERT_OK(env_->CreateDir(real));
  ASSERT_EQ(::symlink(real.c_str(), link.c_str()), 0);
  Status s = env_->CreateDir(link);
  EXPECT_EQ(s.code(), Status::Code::kIOError);
  EXPECT_NE(s.message().find(link), std::string_view::npos) << s.ToString();

  const std::string file = dir_.Sub("file");
  ASSERT_OK(env_->Close(OpenOrDie(file, OpenMode::kCreate)));
  EXPECT_FALSE(env_->CreateDir(file).ok());
  EXPECT_FALSE(env_->CreateDir(dir_.Sub("no/such/parent")).ok());
}

TEST_F(PosixEnvTest, ListDirNamesEntriesButNotDots) {
  ASSERT_OK(env_->Close(OpenOrDie(dir_.Sub("b"), OpenMode::kCreate)));
  ASSERT_OK(env_->Close(OpenOrDie(dir_.Sub("a"), OpenMode::kCreate)));
  ASSERT_OK(env_->CreateDir(dir_.Sub("c")));
  Result<std::vector<std::string>> names = env_->ListDir(dir_.path());
  ASSERT_OK(names);
  EXPECT_EQ(*names, (std::vector<std::string>{"a", "b", "c"}));

  Result<std::vector<std::string>> empty = env_->ListDir(dir_.Sub("c"));
  ASSERT_OK(empty);
  EXPECT_TRUE(empty->empty());
  EXPECT_FALSE(env_->ListDir(dir_.Sub("missing")).ok());
}

TEST_F(PosixEnvTest, RenameAndRemove) {
  const std::string from = dir_.Sub("from");
  const std::string to = dir_.Sub("to");
  int fd = OpenOrDie(from, OpenMode::kCreate);
  ASSERT_OK(env_->Write(fd, "x", 1, 0));
  ASSERT_OK(env_->Close(fd));

  ASSERT_OK(env_->Rename(from, to));
  EXPECT_FALSE(env_->StatPath(from).ok());
  Result<FileInfo> info = env_->StatPath(to);
  ASSERT_OK(info);
  EXPECT_EQ(info->size, 1u);
  ASSERT_OK(env_->SyncDir(dir_.path()));

  Status missing = env_->Rename(from, to);
  EXPECT_TRUE(missing.IsNotFound()) << missing.ToString();
  EXPECT_NE(missing.message().find(from), std::string_view::npos);

  ASSERT_OK(env_->Remove(to));
  EXPECT_FALSE(env_->StatPath(to).ok());
  EXPECT_FALSE(env_->Remove(to).ok());
  EXPECT_FALSE(env_->SyncDir(dir_.Sub("missing")).ok());
}

TEST_F(PosixEnvTest, NowMillisIsWallClockTime) {
  const int64_t before = static_cast<int64_t>(std::time(nullptr)) * 1000;
  const int64_t now = env_->NowMillis();
  const int64_t after = static_cast<int64_t>(std::time(nullptr)) * 1000;
  // time() may read a coarser clock than CLOCK_REALTIME, so allow a second
  // of slack either way.
  EXPECT_GE(now, before - 1000);
  EXPECT_LT(now, after + 2000);
}

TEST_F(PosixEnvTest, CurrentUserIsTheEffectiveUser) {
  EXPECT_EQ(env_->CurrentUser(), ::geteuid());
}

}  // namespace
}  // namespace ucache
