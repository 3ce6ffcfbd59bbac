#include "bench/comparison/fcache_store.h"

#include <memory>
#include <string>
#include <string_view>

#include "ucache/file_cache.h"

namespace ucache::bench {
namespace {

class FcacheReader : public Reader {
 public:
  explicit FcacheReader(FileCache* cache) : cache_(cache) {}

  Status Get(std::string_view key, std::string* value) override {
    return cache_->Get(key, value);
  }

  Status View(std::string_view key, std::string_view* value) override {
    Status s = cache_->GetView(key, &view_);
    if (s.ok()) *value = view_.data();
    return s;
  }

 private:
  FileCache* const cache_;
  ValueView view_;  // keeps the last View's bytes alive
};

class FcacheStore : public Store {
 public:
  explicit FcacheStore(std::unique_ptr<FileCache> cache)
      : cache_(std::move(cache)) {}

  Status Put(std::string_view key, std::string_view value) override {
    return cache_->Put(key, value);
  }

  std::unique_ptr<Reader> NewReader() override {
    return std::make_unique<FcacheReader>(cache_.get());
  }

  Status Compact() override { return cache_->Compact(); }

 private:
  std::unique_ptr<FileCache> cache_;
};

}  // namespace

Result<std::unique_ptr<Store>> OpenFcacheStore(const std::string& dir) {
  Result<std::unique_ptr<FileCache>> cache = FileCache::Open(dir);
  if (!cache.ok()) return cache.status();
  return std::unique_ptr<Store>(
      std::make_unique<FcacheStore>(std::move(*cache)));
}

}  // namespace ucache::bench
