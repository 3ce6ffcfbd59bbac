// RemoteCache: routes each key to its shard, frames values, keeps writes in
// order behind the caller, and keeps its own writes visible to itself.

#include "ucache/remote_cache.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <utility>

#include "src/common/steady_clock.h"
#include "src/remote/chunking.h"
#include "src/remote/connection.h"
#include "src/remote/framing.h"
#include "src/remote/lease.h"
#include "src/remote/remote_impl.h"
#include "src/remote/shard.h"
#include "src/remote/shard_ring.h"
#include "src/remote/url.h"
#include "src/remote/write_behind.h"

namespace ucache {
namespace {

using remote_internal::ClaimReply;
using remote_internal::FrameResult;
using remote_internal::Reply;
using remote_internal::Shard;
using remote_internal::WriteOp;

void LogToStderr(LogLevel level, std::string_view message) {
  std::fprintf(stderr, "ucache: %s: %.*s\n",
               level == LogLevel::kWarning ? "warning" : "info",
               static_cast<int>(message.size()), message.data());
}

int64_t WallMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Keys whose older remote value this cache must not read, because its newer
// write or erase did not reach the server; past the bound, no remote reads.
constexpr size_t kMaxShadowedKeys = 1024;

// Frames up to this size are stored together with their lease's release, in
// one script: one round trip behind a miss instead of two.
constexpr size_t kScriptedFrameBytes = size_t{64} << 10;

// Glob-escapes `s` for SCAN MATCH.
std::string GlobEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out;
}

}  // namespace

class RemoteCache::Impl {
 public:
  Impl(std::vector<remote_internal::Endpoint> endpoints,
       const RemoteOptions& options,
       std::shared_ptr<remote_internal::Connector> connector)
      : options_(options),
        log_(options.log ? options.log : LogSink(LogToStderr)),
        ring_(RingOf(endpoints)),
        renewer_(std::chrono::milliseconds(std::max<int64_t>(1, LeaseTtl() / 3))) {
    compression_.compression = options.compression;
    compression_.compression_threshold = options.compression_threshold;
    remote_internal::ShardConfig config{
        options.connect_timeout, options.operation_timeout,
        options.retry_initial, options.retry_max, options.pool_size};
    for (remote_internal::Endpoint& e : endpoints) {
      shards_.push_back(std::make_unique<Shard>(std::move(e), connector, config,
                                                SteadyMillis, log_));
    }
    if (options.write_behind && !options.read_only) {
      queue_ = std::make_unique<remote_internal::WriteBehind>(
          options.write_queue_bytes,
          [this](const WriteOp& op, const WriteOp* release) {
            // A failure is counted and shadows the key; nothing to return to.
            ApplyQueued(op, release);
          });
    }
  }

  ~Impl() {
    if (queue_ != nullptr) {
      dropped_writes_ +=
          queue_->Stop(SteadyMillis() + options_.drain_timeout.count());
    }
  }

  std::optional<Value> Get(std::string_view key) {
    std::optional<Value> v = Fetch(key);
    ++(v ? hits_ : misses_);
    return v;
  }

  Status Put(std::string_view key, std::string_view value,
             std::chrono::milliseconds ttl) {
    if (Status s = Writable(key); !s.ok()) return s;
    if (value.size() > options_.max_value_bytes) {
      ++too_large_;
      // The older value must not outlive the newer one it no longer is.
      Erase(key).IgnoreError();
      return Status::InvalidArgument(
          "value of " + std::to_string(value.size()) +
          " bytes is above the remote tier's max_value_bytes");
    }
    WriteOp op;
    op.kind = WriteOp::Kind::kPut;
    op.key = std::string(key);
    op.ttl_ms = ttl.count();
    op.frame = remote_internal::EncodeFrame(
        key, value, ttl.count() > 0 ? WallMillis() + ttl.count() : 0,
        compression_);
    return Submit(std::move(op));
  }

  Status Erase(std::string_view key) {
    if (Status s = Writable(key); !s.ok()) return s;
    WriteOp op;
    op.kind = WriteOp::Kind::kErase;
    op.key = std::string(key);
    return Submit(std::move(op));
  }

  std::optional<Value> Claim(std::string_view key, RemoteLease* lease) {
    *lease = RemoteLease();
    if (options_.read_only || !Writable(key).ok()) return std::nullopt;
    if (queue_ != nullptr && queue_->Latest(key) != nullptr) {
      // This cache's own write, not yet on the server, is the newest value.
      return Fetch(key);
    }
    Shard& shard = ShardOf(key);
    const std::string value_key = options_.key_prefix + std::string(key);
    const std::string lease_key =
        remote_internal::LeaseKey(options_.key_prefix, key);
    const std::string token = remote_internal::NewLeaseToken();
    const int64_t ttl = LeaseTtl();
    const int64_t give_up = SteadyMillis() + options_.lease_wait.count();
    int64_t backoff = 1;
    bool waited = false;
    bool value_counts = true;
    for (;;) {
      // One round trip: the value, or the lease, or someone else's lease.
      Result<ClaimReply> claim = remote_internal::TryClaim(
          shard, value_key, lease_key, token, ttl, value_counts);
      if (!claim.ok()) return std::nullopt;  // failing: compute without
      switch (*claim) {
        case ClaimReply::kValueThere:
          if (std::optional<Value> v = Fetch(key)) {
            if (waited) ++lease_fills_;
            return v;
          }
          // There but unreadable (garbage, expired, shadowed): as absent.
          value_counts = false;
          continue;
        case ClaimReply::kTaken: {
          ++lease_acquired_;
          // Renewed until its release is applied, after the holder's write.
          const uint64_t id = renewer_.Add([&shard, lease_key, token, ttl] {
            Result<bool> kept =
                remote_internal::RenewLease(shard, lease_key, token, ttl);
            return kept.ok() && *kept;
          });
          *lease = RemoteLease(std::make_shared<RemoteLease::State>(
              [this, key = std::string(key), token, id] {
                Release(key, token, id);
              }));
          return std::nullopt;
        }
        case ClaimReply::kHeld:
          break;
      }
      if (!waited) {
        waited = true;
        ++lease_waits_;
      }
      const int64_t left = give_up - SteadyMillis();
      if (left <= 0) {
        ++lease_timeouts_;
        return std::nullopt;
      }
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::min(backoff, left)));
      backoff = std::min<int64_t>(backoff * 2, 100);
    }
  }

  Result<std::vector<std::string>> List(std::string_view prefix, size_t limit) {
    std::vector<std::string> keys;
    const std::string& p = options_.key_prefix;
    Status s = ScanAll(GlobEscape(p) + GlobEscape(prefix) + "*",
                       [&](std::string_view k) {
                         k.remove_prefix(p.size());
                         if (!k.starts_with("\xff") && keys.size() < limit) {
                           keys.emplace_back(k);
                         }
                       });
    if (!s.ok()) return s;
    return keys;
  }

  Status Clear() {
    if (options_.read_only) return Status::InvalidArgument("read-only");
    for (auto& shard : shards_) {
      std::vector<std::string> keys;
      Status s = Scan(*shard, GlobEscape(options_.key_prefix) + "*",
                      [&](std::string_view k) { keys.emplace_back(k); });
      if (!s.ok()) return s;
      for (const std::string& k : keys) {
        const std::string_view argv[] = {"UNLINK", k};
        if (Result<Reply> r = shard->Run(argv); !r.ok()) return r.status();
      }
    }
    return Status::OK();
  }

  bool Flush(std::chrono::milliseconds timeout) {
    return queue_ == nullptr ||
           queue_->WaitIdle(SteadyMillis() + timeout.count());
  }

  RemoteCacheStats GetStats() const {
    RemoteCacheStats s;
    s.hits = hits_.load();
    s.misses = misses_.load();
    s.corrupt = corrupt_.load();
    s.bytes_in = bytes_in_.load();
    s.bytes_out = bytes_out_.load();
    s.writes = writes_.load();
    s.dropped_writes = dropped_writes_.load();
    s.too_large = too_large_.load();
    s.chunked_writes = chunked_writes_.load();
    s.chunks_missing = chunks_missing_.load();
    s.lease_acquired = lease_acquired_.load();
    s.lease_waits = lease_waits_.load();
    s.lease_fills = lease_fills_.load();
    s.lease_timeouts = lease_timeouts_.load();
    s.queued = queue_ != nullptr ? queue_->size() : 0;
    s.shards = shards_.size();
    for (const auto& shard : shards_) {
      s.errors += shard->errors();
      s.timeouts += shard->timeouts();
      s.skipped += shard->skipped();
      s.breaker_trips += shard->breaker().trips();
      s.shards_open += shard->breaker().open() ? 1 : 0;
    }
    return s;
  }

  bool healthy() const {
    for (const auto& shard : shards_) {
      if (shard->breaker().open()) return false;
    }
    return true;
  }

  std::string reason() const {
    for (const auto& shard : shards_) {
      if (shard->breaker().open()) return shard->breaker().reason();
    }
    return {};
  }

 private:
  static remote_internal::ShardRing RingOf(
      const std::vector<remote_internal::Endpoint>& endpoints) {
    std::vector<remote_internal::ShardRing::Shard> shards;
    for (const auto& e : endpoints) shards.push_back({e.Name(), e.weight});
    return remote_internal::ShardRing(shards);
  }

  Shard& ShardOf(std::string_view key) { return *shards_[ring_.Pick(key)]; }

  int64_t LeaseTtl() const {
    return std::max<int64_t>(1, options_.lease_ttl.count());
  }

  Status Writable(std::string_view key) const {
    if (options_.read_only) return Status::InvalidArgument("read-only");
    if (key.starts_with("\xff")) {
      return Status::InvalidArgument("keys starting 0xFF are not stored");
    }
    return Status::OK();
  }

  // A verified value of `key`, without counting a hit or miss.
  std::optional<Value> Fetch(std::string_view key) {
    if (key.starts_with("\xff")) return std::nullopt;
    if (queue_ != nullptr) {
      if (std::shared_ptr<const WriteOp> op = queue_->Latest(key)) {
        // Not yet on the server: the queued write is the newest version.
        if (op->kind == WriteOp::Kind::kErase) return std::nullopt;
        return Decode(key, op->frame, op);
      }
    }
    if (Shadowed(key)) return std::nullopt;
    const std::string full = options_.key_prefix + std::string(key);
    const std::string_view argv[] = {"GET", full};
    Result<Reply> r = ShardOf(key).Run(argv);
    if (!r.ok() || r->type != Reply::Type::kString) return std::nullopt;
    bytes_in_ += r->str.size();
    if (remote_internal::IsChunkHead(r->str)) return FetchChunked(key, r->str);
    return Decode(key, r->str, r->keep_alive);
  }

  std::optional<Value> FetchChunked(std::string_view key,
                                    std::string_view head) {
    auto frame = std::make_shared<std::string>();
    switch (remote_internal::GetChunked(ShardOf(key), options_.key_prefix, key,
                                        head, frame.get())) {
      case remote_internal::ChunkedRead::kFrame:
        bytes_in_ += frame->size();
        return Decode(key, *frame, frame);
      case remote_internal::ChunkedRead::kIncomplete:
        ++chunks_missing_;
        return std::nullopt;
      case remote_internal::ChunkedRead::kCorrupt:
        ++corrupt_;
        return std::nullopt;
      case remote_internal::ChunkedRead::kFailed:
        return std::nullopt;
    }
    return std::nullopt;
  }

  std::optional<Value> Decode(std::string_view key, std::string_view frame,
                              std::shared_ptr<const void> owner) {
    auto owned = std::make_shared<std::string>();
    Value v;
    switch (remote_internal::DecodeFrame(frame, key, WallMillis(), owned.get(),
                                         &v.data, &v.expires_ms)) {
      case FrameResult::kValue:
        v.keep_alive = owned->empty() ? std::move(owner)
                                      : std::shared_ptr<const void>(owned);
        return v;
      case FrameResult::kExpired:
        return std::nullopt;
      case FrameResult::kCorrupt:
        ++corrupt_;
        return std::nullopt;
    }
    return std::nullopt;
  }

  Status Submit(WriteOp op) {
    if (queue_ == nullptr) return Apply(op);
    const std::string key = op.key;
    if (queue_->Push(std::move(op))) return Status::OK();
    ++dropped_writes_;
    Shadow(key);
    return Status::NoSpace("the remote write queue is full");
  }

  // A queued write, and the release of the lease its value ends. A small
  // value goes with its release in one script, one round trip; the frame
  // of a large one would be copied through the script's arguments.
  void ApplyQueued(const WriteOp& op, const WriteOp* release) {
    if (release == nullptr) {
      Apply(op).IgnoreError();
      return;
    }
    if (op.kind != WriteOp::Kind::kPut ||
        op.frame.size() > kScriptedFrameBytes) {
      Apply(op).IgnoreError();
      Apply(*release).IgnoreError();
      return;
    }
    const Status s = remote_internal::StoreAndReleaseLease(
        ShardOf(op.key), options_.key_prefix + op.key, op.frame,
        std::max<int64_t>(0, op.ttl_ms),
        remote_internal::LeaseKey(options_.key_prefix, op.key),
        release->token);
    renewer_.Remove(release->lease_id);  // failed: it expires by itself
    Landed(op, s);
  }

  // Runs one queued (or synchronous) write; a failed put or erase leaves an
  // older value on the server, which this cache then skips.
  Status Apply(const WriteOp& op) {
    if (op.kind == WriteOp::Kind::kRelease) {
      const Status s = remote_internal::ReleaseLease(
          ShardOf(op.key),
          remote_internal::LeaseKey(options_.key_prefix, op.key), op.token);
      renewer_.Remove(op.lease_id);  // failed: it expires by itself
      return s;
    }
    const std::string full = options_.key_prefix + op.key;
    Result<Reply> r = Status::OK();
    size_t chunk = 0;
    if (op.kind == WriteOp::Kind::kPut) {
      chunk = remote_internal::ChunkBytesFor(ShardOf(op.key), op.frame.size(),
                                             options_.chunk_bytes);
    }
    if (chunk != 0) {
      r = remote_internal::PutChunked(ShardOf(op.key), options_.key_prefix,
                                      op.key, op.frame, chunk, op.ttl_ms);
      if (r.ok()) ++chunked_writes_;
    } else if (op.kind == WriteOp::Kind::kErase) {
      const std::string_view argv[] = {"DEL", full};
      r = ShardOf(op.key).Run(argv);
    } else if (op.ttl_ms > 0) {
      const std::string ttl = std::to_string(op.ttl_ms);
      const std::string_view argv[] = {"SET", full, op.frame, "PX", ttl};
      r = ShardOf(op.key).Run(argv);
    } else {
      const std::string_view argv[] = {"SET", full, op.frame};
      r = ShardOf(op.key).Run(argv);
    }
    Landed(op, r.status());
    return r.status();
  }

  // Counts a put or erase that reached the server (`s` OK) or failed.
  void Landed(const WriteOp& op, const Status& s) {
    if (!s.ok()) {
      ++dropped_writes_;
      Shadow(op.key);
      return;
    }
    if (op.kind == WriteOp::Kind::kPut) {
      ++writes_;
      bytes_out_ += op.frame.size();
    }
    Unshadow(op.key);
  }

  // Releases after the holder's queued write, so waiters find the value.
  void Release(const std::string& key, const std::string& token,
               uint64_t lease_id) {
    WriteOp op;
    op.kind = WriteOp::Kind::kRelease;
    op.key = key;
    op.token = token;
    op.lease_id = lease_id;
    if (queue_ != nullptr && queue_->Push(op)) return;
    // Queue full: at once (a failure leaves it to expire).
    Apply(op).IgnoreError();
  }

  Status Scan(Shard& shard, const std::string& pattern,
              const std::function<void(std::string_view)>& each) {
    std::string cursor = "0";
    do {
      const std::string_view argv[] = {"SCAN",  cursor,  "MATCH",
                                       pattern, "COUNT", "1000"};
      Result<Reply> r = shard.Run(argv);
      if (!r.ok()) return r.status();
      if (r->type != Reply::Type::kArray || r->elements.size() != 2) {
        return Status::IOError("unexpected SCAN reply");
      }
      cursor = std::string(r->elements[0].str);
      for (const Reply& k : r->elements[1].elements) each(k.str);
    } while (cursor != "0");
    return Status::OK();
  }

  Status ScanAll(const std::string& pattern,
                 const std::function<void(std::string_view)>& each) {
    for (auto& shard : shards_) {
      if (Status s = Scan(*shard, pattern, each); !s.ok()) return s;
    }
    return Status::OK();
  }

  void Shadow(const std::string& key) {
    std::lock_guard<std::mutex> lock(shadow_mu_);
    if (shadowed_.size() < kMaxShadowedKeys) {
      shadowed_.insert(key);
    } else if (!shadow_overflow_) {
      shadow_overflow_ = true;
      log_(LogLevel::kWarning,
           "remote tier: writes of " + std::to_string(kMaxShadowedKeys) +
               " keys did not reach the server; this cache reads no more "
               "from it, which could return their older values");
    }
    any_shadowed_.store(true, std::memory_order_release);
  }

  void Unshadow(const std::string& key) {
    if (!any_shadowed_.load(std::memory_order_acquire)) return;
    std::lock_guard<std::mutex> lock(shadow_mu_);
    shadowed_.erase(key);
  }

  bool Shadowed(std::string_view key) {
    if (!any_shadowed_.load(std::memory_order_acquire)) return false;
    std::lock_guard<std::mutex> lock(shadow_mu_);
    return shadow_overflow_ || shadowed_.count(std::string(key)) != 0;
  }

  // Constant after construction.
  const RemoteOptions options_;
  const LogSink log_;
  FileCacheOptions compression_;  // the compression fields alone
  const remote_internal::ShardRing ring_;
  std::vector<std::unique_ptr<Shard>> shards_;
  // Destroyed before shards_ (its leases renew through them) and after
  // queue_ (whose releases remove leases from it).
  remote_internal::LeaseRenewer renewer_;
  std::unique_ptr<remote_internal::WriteBehind> queue_;  // null: synchronous

  std::atomic<bool> any_shadowed_{false};
  std::mutex shadow_mu_;
  std::unordered_set<std::string> shadowed_;  // guarded by shadow_mu_
  bool shadow_overflow_ = false;              // guarded by shadow_mu_

  std::atomic<uint64_t> hits_{0}, misses_{0}, corrupt_{0}, bytes_in_{0},
      bytes_out_{0}, writes_{0}, dropped_writes_{0}, too_large_{0},
      lease_acquired_{0}, lease_waits_{0}, lease_fills_{0}, lease_timeouts_{0},
      chunked_writes_{0}, chunks_missing_{0};
};

namespace remote_internal {

Result<std::unique_ptr<RemoteCache>> OpenRemote(
    std::string_view url, const RemoteOptions& options,
    std::shared_ptr<Connector> connector) {
  Result<std::vector<Endpoint>> endpoints = ParseUrls(url);
  if (!endpoints.ok()) return endpoints.status();
  return std::make_unique<RemoteCache>(std::make_unique<RemoteCache::Impl>(
      std::move(*endpoints), options, std::move(connector)));
}

}  // namespace remote_internal

Result<std::unique_ptr<RemoteCache>> RemoteCache::Open(
    std::string_view url, const RemoteOptions& options) {
  return remote_internal::OpenRemote(url, options,
                                     remote_internal::NewHiredisConnector());
}

RemoteCache::RemoteCache(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RemoteCache::~RemoteCache() = default;

std::optional<RemoteCache::Value> RemoteCache::Get(std::string_view key) {
  return impl_->Get(key);
}
Status RemoteCache::Put(std::string_view key, std::string_view value,
                        std::chrono::milliseconds ttl) {
  return impl_->Put(key, value, ttl);
}
Status RemoteCache::Erase(std::string_view key) { return impl_->Erase(key); }
std::optional<RemoteCache::Value> RemoteCache::Claim(std::string_view key,
                                                     RemoteLease* lease) {
  return impl_->Claim(key, lease);
}
Result<std::vector<std::string>> RemoteCache::List(std::string_view prefix,
                                                   size_t limit) {
  return impl_->List(prefix, limit);
}
Status RemoteCache::Clear() { return impl_->Clear(); }
bool RemoteCache::Flush(std::chrono::milliseconds timeout) {
  return impl_->Flush(timeout);
}
RemoteCacheStats RemoteCache::GetStats() const { return impl_->GetStats(); }
bool RemoteCache::healthy() const { return impl_->healthy(); }
std::string RemoteCache::reason() const { return impl_->reason(); }

}  // namespace ucache
