#include "src/remote/connection.h"

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "src/common/steady_clock.h"

namespace ucache::remote_internal {
namespace {

// One read(2) per this many bytes of a reply: hiredis' own loop reads 16 KiB
// at a time, 512 calls for an 8 MiB value.
constexpr size_t kReadChunk = size_t{1} << 20;

// The reader's buffer is kept between replies up to this much free space
// (hiredis frees it past 16 KiB by default), for the large replies that
// still go through it: MGET's arrays of chunks. Regrowing it for each large
// reply, 1 MiB at a time, with its page faults, made an 8 MiB remote hit
// cost 2.9 bare GETs (perf: memcpy in the reader's feed and page faults
// under it); kept, 1.0 to 1.7. The price: an idle pooled connection may
// hold this much.
constexpr size_t kKeptReadBuffer = size_t{16} << 20;

// Bulk strings from this size on are read straight into their own buffer
// (HiredisConnection::ReceiveBulk), when no longer than the server's
// proto-max-bulk-len, or than its default when it would not say.
// A reply's first read takes at most kDirectBulkBytes, so that such a
// string's bytes after it are read in place, not copied from the buffer.
constexpr size_t kDirectBulkBytes = size_t{64} << 10;
constexpr size_t kDefaultBulkLimit = size_t{512} << 20;

Reply Convert(const redisReply* r, const std::shared_ptr<const void>& owner) {
  Reply out;
  out.keep_alive = owner;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::kError;
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r->integer;
      return out;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      for (size_t i = 0; i < r->elements; ++i) {
        out.elements.push_back(Convert(r->element[i], owner));
      }
      return out;
    default:
      out.type = Reply::Type::kNil;
      return out;
  }
  out.str = std::string_view(r->str, r->len);
  return out;
}

class HiredisConnection : public Connection {
 public:
  explicit HiredisConnection(redisContext* c)
      : c_(c), buf_(new char[kReadChunk]) {}
  ~HiredisConnection() override { redisFree(c_); }

  Result<Reply> Run(std::span<const std::string_view> argv,
                    int64_t deadline_ms) override {
    std::vector<const char*> args;
    std::vector<size_t> lens;
    for (std::string_view a : argv) {
      args.push_back(a.data());
      lens.push_back(a.size());
    }
    char* command = nullptr;
    const long long n = redisFormatCommandArgv(
        &command, static_cast<int>(args.size()), args.data(), lens.data());
    if (n < 0) return Status::IOError("formatting a command: out of memory");
    const std::unique_ptr<char, void (*)(char*)> owned(command,
                                                       redisFreeCommand);
    if (Status s = Send(std::string_view(command, static_cast<size_t>(n)),
                        deadline_ms);
        !s.ok()) {
      return s;
    }
    return Receive(deadline_ms);
  }

  size_t bulk_limit() const override { return bulk_limit_; }

  bool StillIdle() const override {
    if (c_->reader->len > c_->reader->pos) return false;
    // Readable while idle: end of file, or bytes nobody asked for.
    pollfd p{c_->fd, POLLIN, 0};
    return ::poll(&p, 1, 0) == 0;
  }
  void set_bulk_limit(size_t limit) { bulk_limit_ = limit; }

 private:
  // Bounds the next blocking call on the socket by the deadline: its
  // SO_RCVTIMEO or SO_SNDTIMEO (`opt`) is lowered to the time left when it
  // is longer. Never raised here: a timeout that fires early (an earlier
  // command's shorter deadline) is re-armed by Retryable. One setsockopt per
  // command at most, and none while successive commands' deadlines are as
  // far off as the armed timeout, the common case.
  Status Arm(int opt, int64_t* armed_ms, int64_t deadline_ms) {
    const int64_t left = deadline_ms - SteadyMillis();
    if (left <= 0) return Status::TimedOut("no answer within the deadline");
    if (*armed_ms <= left) return Status::OK();
    const timeval tv{static_cast<time_t>(left / 1000),
                     static_cast<suseconds_t>((left % 1000) * 1000)};
    if (::setsockopt(c_->fd, SOL_SOCKET, opt, &tv, sizeof tv) != 0) {
      return Status::IOError(std::string("setsockopt: ") +
                             std::strerror(errno));
    }
    *armed_ms = left;
    return Status::OK();
  }

  // After a blocking call failed with `err`: OK to retry it (interrupted,
  // or its timeout fired before the deadline, which is then re-armed),
  // TimedOut past the deadline, IOError for a failure of the socket.
  Status Retryable(int err, int opt, int64_t* armed_ms, int64_t deadline_ms,
                   const char* what) {
    if (err == EINTR) return Status::OK();
    if (err != EAGAIN && err != EWOULDBLOCK) {
      return Status::IOError(std::string(what) + ": " + std::strerror(err));
    }
    *armed_ms = std::numeric_limits<int64_t>::max();  // fired: re-arm
    return Arm(opt, armed_ms, deadline_ms);
  }

  // Writes from an offset into the formatted command, not through hiredis'
  // output buffer: redisBufferWrite moves the unsent rest to the front
  // after every partial write, which made a 256 MiB SET quadratic (14.8 s,
  // a blocking hiredis SET 1.1 s; BENCHMARKS.md, issue 11). MSG_NOSIGNAL: a
  // dead peer fails the send with EPIPE instead of raising SIGPIPE, which
  // would kill a host that keeps the default handler, and the host's
  // signal handling is left alone. The socket blocks, bounded by
  // SO_SNDTIMEO (Arm): a command that fits is one system call.
  Status Send(std::string_view command, int64_t deadline_ms) {
    size_t done = 0;
    while (done < command.size()) {
      if (Status s = Arm(SO_SNDTIMEO, &send_armed_ms_, deadline_ms); !s.ok()) {
        return s;
      }
      const ssize_t n = ::send(c_->fd, command.data() + done,
                               command.size() - done, MSG_NOSIGNAL);
      if (n >= 0) {
        done += static_cast<size_t>(n);
      } else if (Status s = Retryable(errno, SO_SNDTIMEO, &send_armed_ms_,
                                      deadline_ms, "sending");
                 !s.ok()) {
        return s;
      }
    }
    return Status::OK();
  }

  // Reads what has come, at least one byte, into `into`: blocks, bounded
  // by SO_RCVTIMEO (Arm), so a reply that comes in one piece costs one
  // system call, as with a blocking hiredis.
  Result<size_t> ReadSome(char* into, size_t capacity, int64_t deadline_ms) {
    for (;;) {
      if (Status s = Arm(SO_RCVTIMEO, &receive_armed_ms_, deadline_ms);
          !s.ok()) {
        return s;
      }
      const ssize_t n = ::read(c_->fd, into, capacity);
      if (n > 0) return static_cast<size_t>(n);
      if (n == 0) return Status::IOError("the server closed the connection");
      if (Status s = Retryable(errno, SO_RCVTIMEO, &receive_armed_ms_,
                               deadline_ms, "reading");
          !s.ok()) {
        return s;
      }
    }
  }

  Result<Reply> Receive(int64_t deadline_ms) {
    bool first = true;
    for (;;) {
      void* raw = nullptr;
      if (redisGetReplyFromReader(c_, &raw) != REDIS_OK) {
        return Status::IOError(std::string("reading: ") + c_->errstr);
      }
      if (raw != nullptr) {
        auto* r = static_cast<redisReply*>(raw);
        const std::shared_ptr<const void> owner(
            r, [](const void* p) { freeReplyObject(const_cast<void*>(p)); });
        // One command, one reply: more means the peer is out of step, and
        // the next command would take these bytes for its own reply.
        if (c_->reader->len > c_->reader->pos) {
          return Status::IOError("the server sent more than one reply");
        }
        return Convert(r, owner);
      }
      Result<size_t> n = ReadSome(
          buf_.get(), first ? kDirectBulkBytes : kReadChunk, deadline_ms);
      if (!n.ok()) return n.status();
      if (std::exchange(first, false) && c_->reader->len == c_->reader->pos) {
        const std::string_view start(buf_.get(), *n);
        if (const size_t length = LargeBulkLength(start); length != 0) {
          return ReceiveBulk(start, length, deadline_ms);
        }
      }
      if (redisReaderFeed(c_->reader, buf_.get(), *n) != REDIS_OK) {
        return Status::IOError("reading: out of memory");
      }
    }
  }

  // The length of the bulk string `start` opens ("$<length>\r\n"), when
  // it is at least kDirectBulkBytes and at most what the server may send;
  // else 0, and the reply goes through hiredis' reader.
  size_t LargeBulkLength(std::string_view start) const {
    const size_t eol = start.find("\r\n");
    if (start.size() < 2 || start[0] != '$' || eol == std::string_view::npos) {
      return 0;
    }
    size_t length = 0;
    const auto [end, ec] =
        std::from_chars(start.data() + 1, start.data() + eol, length);
    if (ec != std::errc() || end != start.data() + eol) return 0;
    const size_t limit = bulk_limit_ != 0 ? bulk_limit_ : kDefaultBulkLimit;
    return length >= kDirectBulkBytes && length <= limit ? length : 0;
  }

  // A large bulk string read straight into its own buffer: hiredis' reader
  // would copy it twice more, into its buffer and then into the reply (a
  // quarter of a 1 MiB hit's time on the client). `start` holds the bytes
  // read so far, header included.
  Result<Reply> ReceiveBulk(std::string_view start, size_t length,
                            int64_t deadline_ms) {
    const size_t body = start.find("\r\n") + 2;
    const size_t total = length + 2;  // the string and its "\r\n"
    if (start.size() - body > total) {
      return Status::IOError("the server sent more than one reply");
    }
    std::shared_ptr<char[]> bytes(new char[total]);
    size_t got = start.size() - body;
    std::memcpy(bytes.get(), start.data() + body, got);
    while (got < total) {
      Result<size_t> n = ReadSome(bytes.get() + got, total - got, deadline_ms);
      if (!n.ok()) return n.status();
      got += *n;
    }
    if (bytes[length] != '\r' || bytes[length + 1] != '\n') {
      return Status::IOError("reading: a bulk string without its end");
    }
    Reply out;
    out.type = Reply::Type::kString;
    out.str = std::string_view(bytes.get(), length);
    out.keep_alive = std::move(bytes);
    return out;
  }

  redisContext* const c_;
  const std::unique_ptr<char[]> buf_;
  size_t bulk_limit_ = 0;  // set once, by the connector
  // The socket's SO_SNDTIMEO and SO_RCVTIMEO as last set, in ms; max until
  // then (hiredis' connect may have left any value there).
  int64_t send_armed_ms_ = std::numeric_limits<int64_t>::max();
  int64_t receive_armed_ms_ = std::numeric_limits<int64_t>::max();
};

Status CheckOk(const Result<Reply>& r, std::string_view what) {
  if (!r.ok()) return r.status();
  if (r->type == Reply::Type::kError) {
    return Status::PermissionDenied(std::string(what) +
                                    " refused: " + std::string(r->str));
  }
  return Status::OK();
}

// proto-max-bulk-len from CONFIG GET's reply (a name and a value); 0 for an
// error reply or anything else.
size_t BulkLimitOf(const Reply& r) {
  if (r.type != Reply::Type::kArray || r.elements.size() != 2) return 0;
  const std::string_view v = r.elements[1].str;
  size_t limit = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), limit);
  return ec == std::errc() && end == v.data() + v.size() ? limit : 0;
}

class HiredisConnector : public Connector {
 public:
  Result<std::unique_ptr<Connection>> Connect(
      const Endpoint& e, std::chrono::milliseconds connect_timeout,
      int64_t deadline_ms) override {
    const int64_t left = std::min<int64_t>(connect_timeout.count(),
                                           deadline_ms - SteadyMillis());
    if (left <= 0) return Status::TimedOut("no time left to connect");
    const timeval tv{static_cast<time_t>(left / 1000),
                     static_cast<suseconds_t>((left % 1000) * 1000)};
    redisContext* c =
        e.socket_path.empty()
            ? redisConnectWithTimeout(e.host.c_str(), e.port, tv)
            : redisConnectUnixWithTimeout(e.socket_path.c_str(), tv);
    if (c == nullptr) return Status::IOError("connecting: out of memory");
    if (c->err != 0) {
      const std::string why =
          std::string("connecting to ") + e.Name() + ": " + c->errstr;
      const bool timed_out = c->err == REDIS_ERR_IO && errno == EINPROGRESS;
      redisFree(c);
      return timed_out ? Status::TimedOut(why) : Status::IOError(why);
    }
    // Blocking from here on (as hiredis leaves it), each read and write
    // bounded by the command's deadline through the socket's timeouts; Run
    // does its own reads and writes, hiredis only formats and parses.
    const int flags = ::fcntl(c->fd, F_GETFL);
    if (flags < 0 || ::fcntl(c->fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
      redisFree(c);
      return Status::IOError("connecting: fcntl failed");
    }
    c->reader->maxbuf = kKeptReadBuffer;
    auto conn = std::make_unique<HiredisConnection>(c);
    if (!e.password.empty()) {
      std::vector<std::string_view> auth = {"AUTH"};
      if (!e.user.empty()) auth.push_back(e.user);
      auth.push_back(e.password);
      if (Status s = CheckOk(conn->Run(auth, deadline_ms), "AUTH"); !s.ok()) {
        return s;
      }
    }
    if (e.db != 0) {
      const std::string db = std::to_string(e.db);
      const std::string_view select[] = {"SELECT", db};
      if (Status s = CheckOk(conn->Run(select, deadline_ms), "SELECT");
          !s.ok()) {
        return s;
      }
    }
    // Once per connection, so a restarted server's new setting is learned
    // by the reconnect; refused (CONFIG renamed, an ACL), the tier uses
    // RemoteOptions::chunk_bytes alone.
    const std::string_view config[] = {"CONFIG", "GET", "proto-max-bulk-len"};
    Result<Reply> limit = conn->Run(config, deadline_ms);
    if (!limit.ok()) return limit.status();
    conn->set_bulk_limit(BulkLimitOf(*limit));
    return std::unique_ptr<Connection>(std::move(conn));
  }
};

}  // namespace

std::shared_ptr<Connector> NewHiredisConnector() {
  return std::make_shared<HiredisConnector>();
}

}  // namespace ucache::remote_internal
