// RemoteCache: the tier shared by machines, a key-value cache in one or more
// Redis servers (through hiredis). Cache (cache.h) puts it under the file
// tier when Options::remote names servers; it can also be used alone.
//
// It may be slow or gone at any moment, and must never make a call slow or
// wrong:
//  * Every operation is bounded by RemoteOptions::operation_timeout as a
//    whole (connect, write and every read of the reply), not per system call.
//  * A server that fails (refused, reset, stopped, paused, out of memory, a
//    wrong password, not Redis at all) costs one operation timeout; then its
//    circuit breaker skips it for retry_initial, doubling up to retry_max,
//    with one warning when it opens and one line when it closes again.
//  * Values carry a file record's framing (record.h: checksum over header,
//    key and bytes, LZ4 when it pays, the expiry), behind a magic and a
//    version: garbage, a truncated value, a value of another key or written
//    by another format reads as a counted miss, never as a value.
//  * A pooled connection the server closed while idle (its `timeout`, a
//    restart) is replaced, not counted as a failure; a peer that sends
//    more than the reply asked for is a failure (the connection is out of
//    step), and the connection is dropped.
//  * A dropped connection never raises SIGPIPE in the host: every write is
//    a send(2) with MSG_NOSIGNAL, which fails with EPIPE instead. The
//    process's signal handlers and masks are never touched.
//  * A value whose frame is larger than one Redis string may be (the
//    server's proto-max-bulk-len, asked once per connection, and
//    chunk_bytes) is stored in chunks and a head that verifies them as a
//    whole (src/remote/chunking.h): a chunk lost or replaced is a counted
//    miss. Values above max_value_bytes are not sent: too_large. Neither
//    leaves a connection broken.
//
// Keys are stored as key_prefix + key; leases as key_prefix + "\xff" +
// "lease:" + key, so a key starting with byte 0xFF is not stored remotely.
//
// hiredis 0.14 has no TLS: use a unix socket or a private network.
//
// Thread safety: every method may be called from many threads at once; each
// shard keeps a small pool of connections, so threads do not queue behind
// one. Many processes and machines may share the servers.

#ifndef UCACHE_REMOTE_CACHE_H_
#define UCACHE_REMOTE_CACHE_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ucache/file_cache.h"
#include "ucache/internal/language_level.h"
#include "ucache/log.h"
#include "ucache/status.h"

namespace ucache {

struct RemoteOptions {
  // Prepended to every key in Redis. Default "ucache:".
  std::string key_prefix = "ucache:";
  // Reads only: nothing is written, no lease taken. Default false.
  bool read_only = false;
  // Bound of one connect (DNS is not bounded: give addresses). Default 100 ms.
  std::chrono::milliseconds connect_timeout{100};
  // Bound of one whole operation, connect included. Default 1 s.
  std::chrono::milliseconds operation_timeout{1000};
  // Circuit breaker: after a failure the server is skipped this long, doubled
  // on each failed retry up to retry_max. Defaults 1 s and 30 s.
  std::chrono::milliseconds retry_initial{1000};
  std::chrono::milliseconds retry_max{30000};

  // Put returns at once and a background thread writes (in order); false:
  // Put writes before returning. Default true.
  bool write_behind = true;
  // Bytes of values the write-behind queue holds; a Put past it is dropped
  // and counted. Default 64 MiB.
  size_t write_queue_bytes = size_t{64} << 20;
  // How long destruction waits for queued writes; the rest are dropped and
  // counted. Default 5 s.
  std::chrono::milliseconds drain_timeout{5000};

  // Values larger than this are not stored remotely (too_large). Default
  // 4 GiB less 64 KiB: a record's bound (32-bit lengths), less the framing.
  size_t max_value_bytes = (size_t{4} << 30) - (size_t{64} << 10);
  // Framed values larger than this, or than the server's proto-max-bulk-len
  // when it says (CONFIG GET), are stored in chunks of at most this.
  // Default 64 MiB, well under Redis' 512 MiB. A chunked Get is two
  // commands (the head, then every chunk in one MGET), each bounded by
  // operation_timeout, as a whole value's GET is: give it the time to move
  // the largest value.
  size_t chunk_bytes = size_t{64} << 20;
  // Compression of values, as the file tier's (FileCacheOptions).
  Compression compression = Compression::kLz4;
  size_t compression_threshold = 256;

  // Computing once across machines (Claim): a lease lives this long unless
  // renewed (every third of it, from one thread per RemoteCache, until its
  // release lands after the holder's value), and a waiter polls at most
  // this long before computing itself. Defaults 10 s and 30 s.
  std::chrono::milliseconds lease_ttl{10000};
  std::chrono::milliseconds lease_wait{30000};

  // Idle connections kept per server. Default 4.
  size_t pool_size = 4;

  // Warnings (a breaker opening) and recoveries. Null: stderr.
  LogSink log;
};

struct RemoteCacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;          // absent, expired or unreadable
  uint64_t corrupt = 0;         // of misses: bytes that failed verification
  uint64_t bytes_in = 0;        // value bytes read (framed)
  uint64_t bytes_out = 0;       // value bytes written (framed)
  uint64_t writes = 0;          // puts that reached a server
  uint64_t errors = 0;          // failed operations (I/O, error replies)
  uint64_t timeouts = 0;        // of errors: operations past their deadline
  uint64_t skipped = 0;         // operations skipped by an open breaker
  uint64_t dropped_writes = 0;  // puts and erases lost: queue full, drain
                                // timeout, or the server failing
  uint64_t too_large = 0;       // values not stored: above max_value_bytes
  uint64_t chunked_writes = 0;  // of writes: stored in chunks
  uint64_t chunks_missing = 0;  // of misses: a chunked value's chunk gone
  uint64_t lease_acquired = 0;  // Claims that got the lease
  uint64_t lease_waits = 0;     // Claims that waited for another holder
  uint64_t lease_fills = 0;     // of waits: the holder's value arrived
  uint64_t lease_timeouts = 0;  // of waits: lease_wait passed
  uint64_t queued = 0;          // writes waiting in the queue now
  size_t shards = 0;
  size_t shards_open = 0;  // shards whose breaker skips them now
  uint64_t breaker_trips = 0;
};

// A lease on one key across machines (RemoteCache::Claim). Let go when
// destroyed: its release is queued after the holder's write of the value
// (writes keep their order) and it is renewed until then, so a waiter
// never finds the lease gone and the value not yet there. Destroy it before
// its RemoteCache.
class RemoteLease {
 public:
  RemoteLease() = default;
  RemoteLease(RemoteLease&&) noexcept = default;
  RemoteLease& operator=(RemoteLease&&) noexcept = default;
  bool held() const { return state_ != nullptr; }

  struct State;  // src/remote/lease.h
  explicit RemoteLease(std::shared_ptr<State> state)
      : state_(std::move(state)) {}

 private:
  std::shared_ptr<State> state_;
};

class RemoteCache {
 public:
  // Parses `url`: space-separated redis://[[user:]password@]host[:port][/db]
  // and redis+unix:///path.sock[?db=N], each with an optional weight=N query
  // (a share of keys proportional to it; default 1). Connects lazily, so a
  // server that is down does not fail the open. InvalidArgument for a URL
  // it cannot read.
  static Result<std::unique_ptr<RemoteCache>> Open(
      std::string_view url, const RemoteOptions& options = {});

  ~RemoteCache();  // drains the write-behind queue for drain_timeout
  RemoteCache(const RemoteCache&) = delete;
  RemoteCache& operator=(const RemoteCache&) = delete;

  // A verified value. `data` stays valid while the Value (or a copy of
  // keep_alive) lives.
  struct Value {
    std::string_view data;
    std::shared_ptr<const void> keep_alive;
    int64_t expires_ms = 0;  // Unix ms; 0 = never
  };

  // The value of `key`, or nullopt (absent, unreadable, server failing). A
  // write of this cache still queued is seen by its Gets.
  std::optional<Value> Get(std::string_view key);

  // Stores `value` with `ttl` (0: forever; Redis expires it too). With
  // write_behind, OK means queued. Unavailable (breaker open), TimedOut,
  // IOError, InvalidArgument (too large, read-only), NoSpace (queue full).
  Status Put(std::string_view key, std::string_view value,
             std::chrono::milliseconds ttl);
  Status Erase(std::string_view key);

  // Computing `key` once across machines, for a caller that missed. One
  // round trip (a script, atomic) returns the value if it is there now, or
  // takes the key's lease when no one holds it (then *lease is held:
  // compute, Put, and let the lease go). When another machine holds it,
  // polls with backoff (1 ms doubling to 100 ms) for its value, which is
  // returned, for at most lease_wait; then, or when the server fails,
  // returns nullopt with *lease not held: compute without it.
  //
  // The bound: each key is computed once across machines when no holder
  // dies, the server answers, the holder's write is not dropped (queue full
  // or failing) and it lands within lease_wait of the waiter's first poll.
  // Otherwise a second machine computes it too: lease_ttl after a holder
  // died (its lease is no longer renewed), at once when the server fails or
  // the write was dropped, lease_wait after a slow holder began. Advisory,
  // no fencing: harmless for the deterministic functions a cache is for.
  std::optional<Value> Claim(std::string_view key, RemoteLease* lease);

  // Keys (without the prefix) that start with `prefix`, by SCAN, at most
  // `limit`. Clear removes every key under key_prefix.
  Result<std::vector<std::string>> List(std::string_view prefix,
                                        size_t limit = SIZE_MAX);
  Status Clear();

  // Waits up to `timeout` until the write-behind queue is empty; true if so.
  bool Flush(std::chrono::milliseconds timeout);

  RemoteCacheStats GetStats() const;
  // True when no shard's breaker is open; reason() says which server
  // failed and how, for Cache::active_reason().
  bool healthy() const;
  std::string reason() const;

  class Impl;
  explicit RemoteCache(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ucache

#endif  // UCACHE_REMOTE_CACHE_H_
