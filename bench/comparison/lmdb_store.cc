#include "bench/comparison/lmdb_store.h"

#include <lmdb.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace ucache::bench {
namespace {

Status LmdbError(std::string_view what, int rc) {
  return Status::IOError(std::string(what) + ": " + mdb_strerror(rc));
}

MDB_val ValOf(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}

class LmdbReader : public Reader {
 public:
  LmdbReader(MDB_env* env, MDB_dbi dbi) : env_(env), dbi_(dbi) {}
  ~LmdbReader() override {
    if (txn_ != nullptr) mdb_txn_abort(txn_);
  }

  Status Get(std::string_view key, std::string* value) override {
    MDB_val found;
    Status s = Find(key, &found);
    if (s.ok())
      value->assign(static_cast<const char*>(found.mv_data), found.mv_size);
    if (reading_) {
      mdb_txn_reset(txn_);
      reading_ = false;
    }
    return s;
  }

  // The transaction stays open until the next call so that the pointer
  // stays valid.
  Status View(std::string_view key, std::string_view* value) override {
    MDB_val found;
    Status s = Find(key, &found);
    if (s.ok()) {
      *value = std::string_view(static_cast<const char*>(found.mv_data),
                                found.mv_size);
    }
    return s;
  }

 private:
  // Renews the read transaction (or begins it on first use) and looks `key`
  // up; the caller resets it when done with `found`.
  Status Find(std::string_view key, MDB_val* found) {
    if (reading_) {
      mdb_txn_reset(txn_);
      reading_ = false;
    }
    const int rc = txn_ == nullptr
                       ? mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn_)
                       : mdb_txn_renew(txn_);
    if (rc != 0) return LmdbError("mdb_txn_renew", rc);
    reading_ = true;
    MDB_val k = ValOf(key);
    const int get_rc = mdb_get(txn_, dbi_, &k, found);
    if (get_rc == MDB_NOTFOUND) return Status::NotFound();
    if (get_rc != 0) return LmdbError("mdb_get", get_rc);
    return Status::OK();
  }

  MDB_env* const env_;
  const MDB_dbi dbi_;
  MDB_txn* txn_ = nullptr;
  bool reading_ = false;  // txn_ is live, not reset
};

class LmdbStore : public Store {
 public:
  LmdbStore(std::string dir, MDB_env* env, MDB_dbi dbi)
      : dir_(std::move(dir)), env_(env), dbi_(dbi) {}
  ~LmdbStore() override { mdb_env_close(env_); }

  Status Put(std::string_view key, std::string_view value) override {
    MDB_txn* txn;
    int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc != 0) return LmdbError("mdb_txn_begin", rc);
    MDB_val k = ValOf(key);
    MDB_val v = ValOf(value);
    rc = mdb_put(txn, dbi_, &k, &v, 0);
    if (rc != 0) {
      mdb_txn_abort(txn);
      return LmdbError("mdb_put", rc);
    }
    rc = mdb_txn_commit(txn);
    return rc == 0 ? Status::OK() : LmdbError("mdb_txn_commit", rc);
  }

  std::unique_ptr<Reader> NewReader() override {
    return std::make_unique<LmdbReader>(env_, dbi_);
  }

  Status Compact() override {
    const std::string copy = dir_ + ".compacted";
    std::error_code ec;
    std::filesystem::remove_all(copy, ec);
    std::filesystem::create_directory(copy, ec);
    if (ec) return Status::IOError(copy + ": " + ec.message());
    const int rc = mdb_env_copy2(env_, copy.c_str(), MDB_CP_COMPACT);
    std::filesystem::remove_all(copy, ec);
    return rc == 0 ? Status::OK() : LmdbError("mdb_env_copy2", rc);
  }

 private:
  const std::string dir_;
  MDB_env* const env_;
  const MDB_dbi dbi_;
};

}  // namespace

Result<std::unique_ptr<Store>> OpenLmdbStore(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError(dir + ": " + ec.message());
  MDB_env* env;
  int rc = mdb_env_create(&env);
  if (rc != 0) return LmdbError("mdb_env_create", rc);
  // MDB_NOTLS ties a reader slot to its transaction rather than to the
  // thread, so that a Reader may be made on one thread and used on another.
  if ((rc = mdb_env_set_mapsize(env, size_t{256} << 30)) != 0 ||
      (rc = mdb_env_open(env, dir.c_str(),
                         MDB_NOSYNC | MDB_NOMETASYNC | MDB_NOTLS, 0600)) != 0) {
    mdb_env_close(env);
    return LmdbError("mdb_env_open " + dir, rc);
  }
  MDB_txn* txn;
  MDB_dbi dbi;
  if ((rc = mdb_txn_begin(env, nullptr, 0, &txn)) != 0) {
    mdb_env_close(env);
    return LmdbError("mdb_txn_begin", rc);
  }
  if ((rc = mdb_dbi_open(txn, nullptr, 0, &dbi)) != 0) {
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return LmdbError("mdb_dbi_open", rc);
  }
  if ((rc = mdb_txn_commit(txn)) != 0) {
    mdb_env_close(env);
    return LmdbError("mdb_txn_commit", rc);
  }
  return std::unique_ptr<Store>(std::make_unique<LmdbStore>(dir, env, dbi));
}

}  // namespace ucache::bench
