#include "tests/fcache_fixture.h"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <limits>

#include "src/fcache/record.h"

namespace ucache::fcache_internal {

StoreTest::StoreTest(std::shared_ptr<FaultEnv> env)
    : dir_(tmp_.Sub("store")), env_(std::move(env)) {}

void StoreTest::SetUp() {
  ASSERT_OK(env_->CreateDir(dir_));
  Result<std::unique_ptr<LockFile>> lock = LockFile::Open(env_, dir_);
  ASSERT_OK(lock);
  lock_ = std::move(*lock);
  Result<std::unique_ptr<Generation>> gen =
      PublishEmpty(env_, dir_, *lock_, 1, 0, {}, nullptr, false);
  ASSERT_OK(gen);
  gen_ = std::move(*gen);
}

FileCacheOptions StoreTest::RawOptions() {
  FileCacheOptions o;
  o.compression = Compression::kNone;
  return o;
}

uint64_t StoreTest::KeyTag(std::string_view key) {
  return TagOf(XXH3_64bits(key.data(), key.size()));
}

uint64_t StoreTest::AppendRecord(RecordKind kind, std::string_view key,
                                 std::string_view value, int64_t expires_ms) {
  EncodedRecord encoded;
  EncodeRecord(kind, key, value, expires_ms, RawOptions(), &encoded);
  std::string record;
  AppendFlat(encoded, &record);
  LogFile& log = *gen_->log;
  const uint64_t at = LoadShared(gen_->index->header().log_end);
  Result<bool> reserved =
      log.Reserve(at, record.size(), std::numeric_limits<uint64_t>::max());
  EXPECT_OK(reserved);
  if (reserved.ok() && !*reserved) {
    EXPECT_OK(log.Remap(at + record.size()));
    reserved =
        log.Reserve(at, record.size(), std::numeric_limits<uint64_t>::max());
    EXPECT_TRUE(reserved.ok() && *reserved);
  }
  log.Store(at, record);
  StoreShared(gen_->index->header().log_end, at + record.size());
  lock_->NoteLogEnd(gen_->log->id(), at + record.size());
  return at;
}

void StoreTest::PointSlot(std::string_view key, uint64_t loc) {
  IndexFile& index = *gen_->index;
  IndexHeader& h = index.header();
  const uint64_t tag = KeyTag(key);
  int64_t free_slot = -1;
  const int64_t slot = index.Find(
      tag,
      [&](uint64_t old) {
        RecordView r;
        return gen_->Parse(old, &r) && r.key == key;
      },
      &free_slot);
  RecordView r;
  ASSERT_TRUE(gen_->Parse(loc, &r));
  if (slot >= 0) {
    RecordView old;
    if (gen_->Parse(LoadShared(index.slot(slot).loc), &old)) {
      AddShared(h.dead_bytes, static_cast<int64_t>(old.size));
      AddShared(h.live_bytes, -static_cast<int64_t>(old.size));
    }
    StoreShared(index.slot(slot).loc, loc);
  } else {
    ASSERT_GE(free_slot, 0) << "the index is full";
    if (LoadShared(index.slot(free_slot).tag) == kTombstoneTag) {
      AddShared(h.tombstones, -1);
    }
    index.Fill(static_cast<uint64_t>(free_slot), tag, loc);
    AddShared(h.live_slots, 1);
  }
  AddShared(h.live_bytes, static_cast<int64_t>(r.size));
}

uint64_t StoreTest::Put(std::string_view key, std::string_view value,
                        int64_t expires_ms) {
  const uint64_t loc = AppendRecord(kRecordPut, key, value, expires_ms);
  PointSlot(key, loc);
  return loc;
}

void StoreTest::Erase(std::string_view key) {
  IndexFile& index = *gen_->index;
  AppendRecord(kRecordErase, key, "");
  const int64_t slot = index.Find(KeyTag(key), [&](uint64_t old) {
    RecordView r;
    return gen_->Parse(old, &r) && r.key == key;
  });
  ASSERT_GE(slot, 0) << "erasing an absent key";
  StoreShared(index.slot(slot).tag, kTombstoneTag);
  AddShared(index.header().live_slots, -1);
  AddShared(index.header().tombstones, 1);
  AddShared(index.header().dead_bytes,
            static_cast<int64_t>(RecordSize(key.size(), 0)));
}

std::optional<std::string> StoreTest::Get(const Generation& gen,
                                          std::string_view key) {
  RecordView found;
  const int64_t slot = gen.index->Find(KeyTag(key), [&](uint64_t loc) {
    return gen.Parse(loc, &found) && found.key == key;
  });
  if (slot < 0 || found.header->kind != kRecordPut) return std::nullopt;
  std::string value;
  if (!ReadValue(found, &value)) return std::nullopt;
  return value;
}

int StoreTest::SlotsNaming(const Generation& gen, std::string_view key) {
  int n = 0;
  gen.index->ForEachLiveSlot([&](uint64_t, uint64_t loc) {
    RecordView r;
    n += gen.Parse(loc, &r) && r.key == key;
  });
  return n;
}

std::vector<uint64_t> StoreTest::WriteLog(
    uint64_t log_id,
    const std::vector<std::pair<std::string, std::string>>& records) {
  Result<std::unique_ptr<LogFile>> log = LogFile::Create(env_, dir_, log_id);
  EXPECT_OK(log);
  if (!log.ok()) return {};
  std::string bytes;
  std::vector<uint64_t> offsets;
  for (const auto& [key, value] : records) {
    offsets.push_back(kLogHeaderSize + bytes.size());
    EncodedRecord encoded;
    EncodeRecord(kRecordPut, key, value, 0, RawOptions(), &encoded);
    AppendFlat(encoded, &bytes);
  }
  EXPECT_OK((*log)->Write(kLogHeaderSize, bytes));
  return offsets;
}

void StoreTest::FlipByte(std::string_view name, uint64_t offset, uint8_t mask) {
  const std::string path = Path(name);
  const int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << path;
  uint8_t byte = 0;
  ASSERT_EQ(::pread(fd, &byte, 1, static_cast<off_t>(offset)), 1);
  byte ^= mask;
  ASSERT_EQ(::pwrite(fd, &byte, 1, static_cast<off_t>(offset)), 1);
  ::close(fd);
}

}  // namespace ucache::fcache_internal
