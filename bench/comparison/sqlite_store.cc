#include "bench/comparison/sqlite_store.h"

#include <sqlite3.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace ucache::bench {
namespace {

Status SqliteError(sqlite3* db, std::string_view what) {
  return Status::IOError(std::string(what) + ": " + sqlite3_errmsg(db));
}

// A connection with the cache settings and one prepared statement. Each is
// used by one thread at a time, so SQLite's own mutexes are turned off.
class Connection {
 public:
  ~Connection() {
    sqlite3_finalize(stmt_);
    sqlite3_close(db_);
  }

  static Result<std::unique_ptr<Connection>> Open(const std::string& path,
                                                  const char* statement) {
    auto c = std::unique_ptr<Connection>(new Connection());
    if (sqlite3_open_v2(
            path.c_str(), &c->db_,
            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
            nullptr) != SQLITE_OK) {
      return SqliteError(c->db_, "open " + path);
    }
    sqlite3_busy_timeout(c->db_, 10000);
    Status s = c->Exec(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;"
        "CREATE TABLE IF NOT EXISTS kv(k BLOB PRIMARY KEY, v BLOB NOT NULL)");
    if (!s.ok()) return s;
    if (sqlite3_prepare_v2(c->db_, statement, -1, &c->stmt_, nullptr) !=
        SQLITE_OK) {
      return SqliteError(c->db_, statement);
    }
    return c;
  }

  Status Exec(const char* sql) {
    return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) == SQLITE_OK
               ? Status::OK()
               : SqliteError(db_, sql);
  }

  // Binds `blob` to the prepared statement's parameter `i` (1-based),
  // without copying: it must stay valid until Reset.
  void Bind(int i, std::string_view blob) {
    sqlite3_bind_blob(stmt_, i, blob.data(), static_cast<int>(blob.size()),
                      SQLITE_STATIC);
  }
  int Step() { return sqlite3_step(stmt_); }
  void Reset() { sqlite3_reset(stmt_); }

  sqlite3* db() const { return db_; }
  sqlite3_stmt* stmt() const { return stmt_; }

 private:
  Connection() = default;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

constexpr char kSelect[] = "SELECT v FROM kv WHERE k = ?1";
constexpr char kUpsert[] = "INSERT OR REPLACE INTO kv(k, v) VALUES (?1, ?2)";

class SqliteReader : public Reader {
 public:
  explicit SqliteReader(std::unique_ptr<Connection> c) : c_(std::move(c)) {}

  Status Get(std::string_view key, std::string* value) override {
    c_->Bind(1, key);
    const int rc = c_->Step();
    Status s;
    if (rc == SQLITE_ROW) {
      value->assign(
          static_cast<const char*>(sqlite3_column_blob(c_->stmt(), 0)),
          sqlite3_column_bytes(c_->stmt(), 0));
    } else if (rc == SQLITE_DONE) {
      s = Status::NotFound();
    } else {
      s = SqliteError(c_->db(), kSelect);
    }
    c_->Reset();
    return s;
  }

 private:
  std::unique_ptr<Connection> c_;
};

// A Reader whose connection could not be opened: every read reports why.
class FailedReader : public Reader {
 public:
  explicit FailedReader(Status s) : status_(std::move(s)) {}
  Status Get(std::string_view, std::string*) override { return status_; }

 private:
  const Status status_;
};

class SqliteStore : public Store {
 public:
  SqliteStore(std::string path, std::unique_ptr<Connection> writer)
      : path_(std::move(path)), writer_(std::move(writer)) {}

  Status Put(std::string_view key, std::string_view value) override {
    writer_->Bind(1, key);
    writer_->Bind(2, value);
    const int rc = writer_->Step();
    writer_->Reset();
    return rc == SQLITE_DONE ? Status::OK()
                             : SqliteError(writer_->db(), kUpsert);
  }

  std::unique_ptr<Reader> NewReader() override {
    Result<std::unique_ptr<Connection>> c = Connection::Open(path_, kSelect);
    if (!c.ok()) return std::make_unique<FailedReader>(c.status());
    return std::make_unique<SqliteReader>(std::move(*c));
  }

  Status Compact() override { return writer_->Exec("VACUUM"); }

 private:
  const std::string path_;
  std::unique_ptr<Connection> writer_;
};

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError(dir + ": " + ec.message());
  const std::string path = dir + "/kv.sqlite";
  Result<std::unique_ptr<Connection>> writer = Connection::Open(path, kUpsert);
  if (!writer.ok()) return writer.status();
  return std::unique_ptr<Store>(
      std::make_unique<SqliteStore>(path, std::move(*writer)));
}

}  // namespace ucache::bench
