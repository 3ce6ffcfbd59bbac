// Large values through the remote tier, whole and in chunks, against a
// redis-server the caller runs (bazel run -c opt //bench:chunking_benchmark
// -- /path/to/redis.sock [--small]), one row per measurement:
//  * a 256 MiB value (below Redis' default 512 MiB proto-max-bulk-len) put
//    and got whole, in 64 MiB chunks (the default) and in 8 MiB chunks,
//    against a bare hiredis SET and GET of as many bytes: the ratio is what
//    chunking and the verification cost;
//  * a 1 GiB value, above the limit: stored in chunks, read back verified.
// Values are incompressible and compression is off, so the bytes on the
// wire are the value's. The best of three of each, as the machine is shared.
// --small divides every size by 256, for a quick look.

#include <hiredis/hiredis.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>

#include "ucache/remote_cache.h"

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "chunking_benchmark: %s\n", what.c_str());
  std::exit(2);
}

double BestMillis(const std::function<void()>& op) {
  double best = 1e300;
  for (int i = 0; i < 3; ++i) {
    const Clock::time_point start = Clock::now();
    op();
    best = std::min(
        best, std::chrono::duration<double, std::milli>(Clock::now() - start)
                  .count());
  }
  return best;
}

void Row(const std::string& name, double value, const char* unit) {
  std::printf("%-48s %10.2f %s\n", name.c_str(), value, unit);
  std::fflush(stdout);
}

std::string Incompressible(size_t n) {
  std::string out(n, '\0');
  uint64_t seed = 1;
  for (char& c : out) {
    seed = seed * 6364136223846793005u + 1442695040888963407u;
    c = static_cast<char>(seed >> 56);
  }
  return out;
}

std::unique_ptr<ucache::RemoteCache> Open(const std::string& socket,
                                          size_t chunk_bytes) {
  ucache::RemoteOptions o;
  o.write_behind = false;
  o.compression = ucache::Compression::kNone;
  o.operation_timeout = std::chrono::milliseconds(120000);
  o.chunk_bytes = chunk_bytes;
  auto r = ucache::RemoteCache::Open("redis+unix://" + socket, o);
  if (!r.ok()) Die(r.status().ToString());
  return std::move(*r);
}

// Put and Get of `value` under `key`, each the best of three; dies on a
// miss or a wrong value.
void Measure(const std::string& socket, const std::string& name,
             size_t chunk_bytes, const std::string& value, double* put_ms,
             double* get_ms) {
  std::unique_ptr<ucache::RemoteCache> c = Open(socket, chunk_bytes);
  *put_ms = BestMillis([&] {
    if (ucache::Status s = c->Put(name, value, std::chrono::milliseconds(0));
        !s.ok()) {
      Die("put " + name + ": " + s.ToString());
    }
  });
  *get_ms = BestMillis([&] {
    std::optional<ucache::RemoteCache::Value> v = c->Get(name);
    if (!v || v->data != value) Die("get " + name + ": miss or wrong value");
  });
  c->Erase(name).IgnoreError();
}

void Bare(const std::string& socket, const std::string& value, double* set_ms,
          double* get_ms) {
  redisContext* c = redisConnectUnix(socket.c_str());
  if (c == nullptr || c->err != 0) Die("connect " + socket);
  *set_ms = BestMillis([&] {
    auto* r = static_cast<redisReply*>(
        redisCommand(c, "SET bare %b", value.data(), value.size()));
    if (r == nullptr || r->type == REDIS_REPLY_ERROR) Die("bare SET failed");
    freeReplyObject(r);
  });
  *get_ms = BestMillis([&] {
    auto* r = static_cast<redisReply*>(redisCommand(c, "GET bare"));
    if (r == nullptr || r->len != value.size()) Die("bare GET failed");
    freeReplyObject(r);
  });
  freeReplyObject(redisCommand(c, "DEL bare"));
  redisFree(c);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) Die("usage: chunking_benchmark SOCKET [--small]");
  const std::string socket = argv[1];
  const size_t div = argc > 2 && std::strcmp(argv[2], "--small") == 0 ? 256 : 1;
  const size_t kMiB = size_t{1} << 20;
  const std::string value = Incompressible(256 * kMiB / div);
  double bare_set = 0, bare_get = 0;
  Bare(socket, value, &bare_set, &bare_get);
  Row("bare hiredis SET, 256 MiB", bare_set, "ms");
  Row("bare hiredis GET, 256 MiB", bare_get, "ms");
  for (const size_t chunk : {size_t{1} << 30, 64 * kMiB, 8 * kMiB}) {
    double put = 0, get = 0;
    Measure(socket, "v", chunk / div, value, &put, &get);
    const std::string how = chunk == (size_t{1} << 30)
                                ? std::string("whole")
                                : std::to_string(chunk / kMiB) + " MiB chunks";
    Row("put 256 MiB, " + how, put, "ms");
    Row("get 256 MiB, " + how, get, "ms");
    Row("  put / bare SET", put / bare_set, "x");
    Row("  get / bare GET", get / bare_get, "x");
  }
  const std::string huge = Incompressible((size_t{1} << 30) / div);
  double put = 0, get = 0;
  Measure(socket, "huge", 64 * kMiB / div, huge, &put, &get);
  Row("put 1 GiB, 64 MiB chunks", put, "ms");
  Row("get 1 GiB, 64 MiB chunks", get, "ms");
  return 0;
}
