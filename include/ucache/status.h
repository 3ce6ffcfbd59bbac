// Status and Result: how every ucache call reports its outcome.
//
// Expected outcomes are values, not exceptions. A Status is a code plus a
// message; an OK status holds no allocation and costs one word to return.
// A miss is `Status::NotFound()`, never an error to log. Result<T> is a
// value or the Status explaining its absence.
//
// Thread safety: Status and Result are plain values; distinct objects may be
// used from distinct threads freely.

#ifndef UCACHE_STATUS_H_
#define UCACHE_STATUS_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "ucache/internal/language_level.h"

namespace ucache {

// [[nodiscard]]: a dropped Status hides the cause of a failure. Where a
// failure really changes nothing (a best-effort cleanup), say so with
// IgnoreError().
class [[nodiscard]] Status {
 public:
  // Persisted nowhere; the numbering may change between releases.
  enum class Code {
    kOk = 0,
    kNotFound,          // a miss: absent, expired, or unreadable record
    kInvalidArgument,   // the caller's input is out of bounds
    kIOError,           // the operating system refused an operation
    kNoSpace,           // the disk (or max_bytes) has no room for the write
    kCorruption,        // stored bytes failed verification
    kNotAStore,         // the directory exists but is not a ucache store
    kVersionTooNew,     // written by a newer ucache; refused, never misread
    kPermissionDenied,  // ownership or mode checks failed
    kUnsupported,       // the platform cannot do what was asked (e.g. locks)
    kBusy,              // a lock is held elsewhere and waiting was not asked
    kTimedOut,          // a remote server did not answer within its deadline
    kUnavailable,       // a remote server is skipped after failing (backoff)
  };

  Status() = default;  // OK

  static Status OK() { return Status(); }
  static Status NotFound(std::string_view msg = {}) {
    return Status(Code::kNotFound, msg);
  }
  static Status InvalidArgument(std::string_view msg) {
    return Status(Code::kInvalidArgument, msg);
  }
  static Status IOError(std::string_view msg) {
    return Status(Code::kIOError, msg);
  }
  static Status NoSpace(std::string_view msg) {
    return Status(Code::kNoSpace, msg);
  }
  static Status Corruption(std::string_view msg) {
    return Status(Code::kCorruption, msg);
  }
  static Status NotAStore(std::string_view msg) {
    return Status(Code::kNotAStore, msg);
  }
  static Status VersionTooNew(std::string_view msg) {
    return Status(Code::kVersionTooNew, msg);
  }
  static Status PermissionDenied(std::string_view msg) {
    return Status(Code::kPermissionDenied, msg);
  }
  static Status Unsupported(std::string_view msg) {
    return Status(Code::kUnsupported, msg);
  }
  static Status Busy(std::string_view msg) { return Status(Code::kBusy, msg); }
  static Status TimedOut(std::string_view msg) {
    return Status(Code::kTimedOut, msg);
  }
  static Status Unavailable(std::string_view msg) {
    return Status(Code::kUnavailable, msg);
  }

  bool ok() const { return rep_ == nullptr; }
  Code code() const { return rep_ ? rep_->code : Code::kOk; }
  bool IsNotFound() const { return code() == Code::kNotFound; }
  bool IsNoSpace() const { return code() == Code::kNoSpace; }
  bool IsCorruption() const { return code() == Code::kCorruption; }

  // The message alone, without the code's name.
  std::string_view message() const {
    return rep_ ? std::string_view(rep_->message) : std::string_view();
  }
  // "OK", or the code's name, a colon and the message.
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context` and ": ".
  Status WithContext(std::string_view context) const;

  // Drops this status on purpose, where its failure changes nothing.
  void IgnoreError() const {}

  Status(const Status& other)
      : rep_(other.rep_ ? std::make_unique<Rep>(*other.rep_) : nullptr) {}
  Status& operator=(const Status& other) {
    if (this != &other) {
      rep_ = other.rep_ ? std::make_unique<Rep>(*other.rep_) : nullptr;
    }
    return *this;
  }
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;

 private:
  struct Rep {
    Code code;
    std::string message;
  };
  Status(Code code, std::string_view msg)
      : rep_(std::make_unique<Rep>(Rep{code, std::string(msg)})) {}

  std::unique_ptr<Rep> rep_;  // null when OK
};

// The name of a code, e.g. "NotFound".
std::string_view CodeName(Status::Code code);

// A value of type T, or the non-OK Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit on purpose
  Result(Status status) : status_(std::move(status)) {}  // NOLINT

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

  // Precondition: ok().
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace ucache

#endif  // UCACHE_STATUS_H_
