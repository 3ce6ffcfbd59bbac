// The RAII wrappers over the Env (src/fcache/mapping.h, file_handle.h): a
// mapping is unmapped exactly once, when its last owner lets go; a handle
// closes its descriptor exactly once, moves hand it on; and FileHandle::Open
// refuses anything but a regular file of this process's user, closing what
// it opened.

#include "src/fcache/mapping.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "src/fcache/file_handle.h"
#include "tests/testutil.h"

namespace ucache::fcache_internal {
namespace {

using Op = FaultEnv::Op;

// A FaultEnv whose process belongs to another user than the files it makes.
class OtherUserEnv : public FaultEnv {
 public:
  uint32_t CurrentUser() override { return FaultEnv::CurrentUser() + 1; }
};

class MappingTest : public testing::Test {
 protected:
  void SetUp() override {
    path_ = tmp_.Sub("file");
    ASSERT_TRUE(WriteWholeFile(path_, "hello, mapping", 0600));
  }
  FileHandle OpenOrDie(OpenMode mode) {
    Result<FileHandle> file = FileHandle::Open(env_.get(), path_, mode);
    EXPECT_OK(file);
    return file.ok() ? std::move(*file) : FileHandle();
  }

  TempDir tmp_;
  std::string path_;
  std::shared_ptr<FaultEnv> env_ = std::make_shared<FaultEnv>();
};

// ---- Mapping ----------------------------------------------------------------

TEST_F(MappingTest, MapsTheFileAndUnmapsOnceWhenTheLastOwnerGoes) {
  FileHandle file = OpenOrDie(OpenMode::kReadOnly);
  ASSERT_TRUE(file.valid());
  Result<std::shared_ptr<Mapping>> map =
      Mapping::Create(env_, file.fd(), 4096, /*writable=*/false);
  ASSERT_OK(map);
  EXPECT_EQ((*map)->length(), 4096u);
  EXPECT_EQ(std::string(reinterpret_cast<char*>((*map)->data()), 14),
            "hello, mapping");
  std::shared_ptr<Mapping> copy = *map;
  env_->ResetCalls();
  *map = nullptr;
  EXPECT_EQ(env_->Calls(Op::kUnmap), 0);
  copy.reset();
  EXPECT_EQ(env_->Calls(Op::kUnmap), 1);
}

TEST_F(MappingTest, StoresThroughAWritableMappingLandInTheFile) {
  FileHandle file = OpenOrDie(OpenMode::kReadWrite);
  {
    Result<std::shared_ptr<Mapping>> map =
        Mapping::Create(env_, file.fd(), 14, /*writable=*/true);
    ASSERT_OK(map);
    std::memcpy((*map)->data(), "HELLO", 5);
  }
  EXPECT_EQ(ReadWholeFile(path_), "HELLO, mapping");
}

TEST_F(MappingTest, AFailedMapIsReturnedAndNothingIsUnmapped) {
  FileHandle file = OpenOrDie(OpenMode::kReadOnly);
  env_->ResetCalls();
  env_->FailNext(Op::kMap, Status::IOError("mmap: ENOMEM"));
  Result<std::shared_ptr<Mapping>> map =
      Mapping::Create(env_, file.fd(), 4096, false);
  EXPECT_EQ(map.status().code(), Status::Code::kIOError);
  EXPECT_EQ(env_->Calls(Op::kUnmap), 0);
}

// ---- FileHandle -------------------------------------------------------------

TEST_F(MappingTest, HandleClosesItsDescriptorOnce) {
  env_->ResetCalls();
  {
    FileHandle file = OpenOrDie(OpenMode::kReadOnly);
    EXPECT_TRUE(file.valid());
    EXPECT_GE(file.fd(), 0);
    EXPECT_EQ(env_->Calls(Op::kClose), 0);
  }
  EXPECT_EQ(env_->Calls(Op::kClose), 1);
  FileHandle none;
  EXPECT_FALSE(none.valid());
}

TEST_F(MappingTest, MovesHandTheDescriptorOn) {
  env_->ResetCalls();
  {
    FileHandle a = OpenOrDie(OpenMode::kReadOnly);
    const int fd = a.fd();
    FileHandle b(std::move(a));
    EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): the contract
    EXPECT_EQ(b.fd(), fd);
    FileHandle c = OpenOrDie(OpenMode::kReadOnly);
    c = std::move(b);  // closes c's own descriptor
    EXPECT_EQ(env_->Calls(Op::kClose), 1);
    EXPECT_EQ(c.fd(), fd);
    c = std::move(c);  // self-assignment keeps it
    EXPECT_EQ(c.fd(), fd);
    EXPECT_EQ(env_->Calls(Op::kClose), 1);
  }
  EXPECT_EQ(env_->Calls(Op::kClose), 2);
}

TEST_F(MappingTest, ReleaseHandsTheDescriptorToTheCaller) {
  env_->ResetCalls();
  int fd = -1;
  {
    FileHandle file = OpenOrDie(OpenMode::kReadOnly);
    fd = file.Release();
    EXPECT_FALSE(file.valid());
  }
  EXPECT_EQ(env_->Calls(Op::kClose), 0);
  ASSERT_GE(fd, 0);
  EXPECT_OK(env_->Close(fd));
}

TEST_F(MappingTest, OpenOfAMissingFileIsNotFound) {
  Result<FileHandle> file =
      FileHandle::Open(env_.get(), tmp_.Sub("missing"), OpenMode::kReadOnly);
  EXPECT_TRUE(file.status().IsNotFound()) << file.status().ToString();
}

TEST_F(MappingTest, OpenRefusesWhatIsNotARegularFileWithoutBlocking) {
  const std::string fifo = tmp_.Sub("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string dir = tmp_.Sub("dir");
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  const std::string link = tmp_.Sub("link");
  ASSERT_EQ(::symlink(path_.c_str(), link.c_str()), 0);
  for (const std::string& p : {fifo, dir, link}) {
    for (OpenMode mode : {OpenMode::kReadOnly, OpenMode::kReadWrite}) {
      Result<FileHandle> file = FileHandle::Open(env_.get(), p, mode);
      EXPECT_FALSE(file.ok()) << p;
      EXPECT_NE(file.status().message().find(p), std::string_view::npos)
          << file.status().ToString();
    }
  }
}

TEST_F(MappingTest, OpenRefusesAFileOfAnotherUserAndClosesIt) {
  auto other = std::make_shared<OtherUserEnv>();
  Result<FileHandle> file =
      FileHandle::Open(other.get(), path_, OpenMode::kReadOnly);
  EXPECT_EQ(file.status().code(), Status::Code::kPermissionDenied)
      << file.status().ToString();
  EXPECT_NE(file.status().message().find(path_), std::string_view::npos);
  EXPECT_EQ(other->Calls(Op::kOpen), 1);
  EXPECT_EQ(other->Calls(Op::kClose), 1) << "the refused descriptor leaked";
}

TEST_F(MappingTest, AFailedStatIsReturnedAndTheDescriptorClosed) {
  env_->ResetCalls();
  env_->FailNext(Op::kStat, Status::IOError("fstat: EIO"));
  Result<FileHandle> file =
      FileHandle::Open(env_.get(), path_, OpenMode::kReadOnly);
  EXPECT_EQ(file.status().code(), Status::Code::kIOError);
  EXPECT_EQ(env_->Calls(Op::kClose), 1);
}

}  // namespace
}  // namespace ucache::fcache_internal
