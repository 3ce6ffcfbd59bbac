// The remote tier against a redis-server of its own (bazel run -c opt
// //bench:remote_benchmark), one row per measurement:
//  * a remote hit through memoize (the remote tier alone, so neither the
//    memory nor the file tier answers) for 100 B, 1 MiB and 8 MiB values,
//    against a bare hiredis GET of as many bytes from the same server: the
//    ratio is what the framing, the checksum and the decoding cost;
//  * a miss with the write-behind remote tier under the local ones, against
//    the same miss with no remote tier, and against the floor: that miss
//    plus one bare GET of an absent key (a remote tier read before
//    computing costs at least that round trip); and the same two misses of
//    a function that first does 300,000 dependent multiply-adds (0.8 to 0.9 ms
//    here), with that miss's floor: a bare GET of an absent key right
//    after the same work (the server's CPU idled meanwhile) plus one
//    right after another;
//  * two "machines" (two processes with their own store directories) making
//    the same 1000 memoized calls: how many times the function ran in all
//    (1000 when every value was computed once).
// A row and the reference it is divided by are medians of 5 measurements
// taken in turn. --small runs every row at tiny sizes, once, for the smoke
// test.

#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench/scratch_dir.h"
#include "ucache/ucache.h"

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "remote_benchmark: %s\n", what.c_str());
  std::exit(2);
}

// A redis-server on a unix socket in `dir`, killed by the destructor.
class Server {
 public:
  explicit Server(const std::string& dir) : socket_(dir + "/redis.sock") {
    // Its banner and warnings would mix with the rows.
    const std::string log = dir + "/redis.log";
    pid_ = fork();
    if (pid_ < 0) Die("fork failed");
    if (pid_ == 0) {
      execlp("redis-server", "redis-server", "--port", "0", "--unixsocket",
             socket_.c_str(), "--save", "", "--appendonly", "no", "--dir",
             dir.c_str(), "--logfile", log.c_str(), nullptr);
      _exit(127);
    }
    for (int i = 0; i < 500; ++i) {
      redisContext* c = redisConnectUnix(socket_.c_str());
      const bool up = c != nullptr && c->err == 0;
      if (c != nullptr) redisFree(c);
      if (up) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    Die("redis-server did not start on " + socket_);
  }
  ~Server() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  const std::string& socket() const { return socket_; }
  std::string url() const { return "redis+unix://" + socket_; }

 private:
  std::string socket_;
  pid_t pid_ = -1;
};

// Microseconds per call of `op`, over at least `min_seconds` and 3 calls.
double MicrosPerCall(double min_seconds, const std::function<void()>& op) {
  op();  // warm: connections, pages, the first fill
  int64_t calls = 0;
  const Clock::time_point start = Clock::now();
  std::chrono::duration<double> took{};
  do {
    op();
    ++calls;
    took = Clock::now() - start;
  } while (calls < 3 || took.count() < min_seconds);
  return took.count() * 1e6 / static_cast<double>(calls);
}

// The medians of `rounds` alternating measurements of `a` and of `b`: a
// load that comes and goes on a shared machine weighs on both alike.
std::pair<double, double> Paired(int rounds, const std::function<double()>& a,
                                 const std::function<double()>& b) {
  std::vector<double> as;
  std::vector<double> bs;
  for (int i = 0; i < rounds; ++i) {
    as.push_back(a());
    bs.push_back(b());
  }
  auto median = [](std::vector<double>& v) {
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
  };
  return {median(as), median(bs)};
}

void Row(const std::string& name, double value, const char* unit) {
  std::printf("%-44s %12.2f %s\n", name.c_str(), value, unit);
  std::fflush(stdout);
}

std::string SizeName(size_t bytes) {
  if (bytes >= (size_t{1} << 20)) return std::to_string(bytes >> 20) + "MiB";
  return std::to_string(bytes) + "B";
}

ucache::Options Local(const std::string& dir) {
  ucache::Options options;
  options.dir = dir;
  options.read_environment = false;
  options.backend = ucache::Backend::kMemoryAndFile;
  return options;
}

ucache::Options WithRemote(const std::string& dir, const Server& server,
                           ucache::Backend backend) {
  ucache::Options options = Local(dir);
  options.backend = backend;
  options.remote = server.url();
  return options;
}

// The value of `n` bytes a memoized function returns.
std::string Bytes(size_t n) { return std::string(n, 'v'); }

void RemoteHits(const ucache::bench::ScratchDir& scratch, const Server& server,
                const std::vector<size_t>& sizes, double min_seconds,
                int rounds) {
  redisContext* bare = redisConnectUnix(server.socket().c_str());
  if (bare == nullptr || bare->err != 0) Die("hiredis connect failed");
  ucache::Options options =
      WithRemote(scratch.Sub("hits"), server, ucache::Backend::kRemote);
  // The first call's value must be on the server before the hits are timed.
  options.remote_options.write_behind = false;
  // The values are one repeated byte, which LZ4 would shrink to almost
  // nothing: uncompressed, the hit moves as many bytes as the bare GET.
  options.remote_options.compression = ucache::Compression::kNone;
  auto memoized = ucache::memoize("remote_benchmark/bytes/v1", Bytes, options);
  for (const size_t size : sizes) {
    const std::string value = Bytes(size);
    redisReply* set = static_cast<redisReply*>(redisCommand(
        bare, "SET bare:%b %b", &size, sizeof size, value.data(), size));
    if (set == nullptr) Die("SET failed");
    freeReplyObject(set);
    memoized(size);  // computed and written once
    const auto [hit, get] = Paired(
        rounds,
        [&] {
          return MicrosPerCall(min_seconds, [&] {
            if (memoized(size).size() != size) Die("short remote hit");
          });
        },
        [&] {
          return MicrosPerCall(min_seconds, [&] {
            auto* reply = static_cast<redisReply*>(
                redisCommand(bare, "GET bare:%b", &size, sizeof size));
            if (reply == nullptr || reply->len != size) {
              Die("short bare GET");
            }
            freeReplyObject(reply);
          });
        });
    Row("remote hit via memoize " + SizeName(size), hit, "us");
    Row("bare hiredis GET " + SizeName(size), get, "us");
    Row("ratio " + SizeName(size), hit / get, "x");
  }
  redisFree(bare);
}

// About `spins` steps of dependent arithmetic: a function's own work, which
// the compiler cannot drop or fold.
double Work(int seed, int64_t spins) {
  double x = seed;
  for (int64_t i = 0; i < spins; ++i) x = x * 0.999999 + 1e-7;
  return x;
}

void WriteBehindMisses(const ucache::bench::ScratchDir& scratch,
                       const Server& server, int calls, int64_t spins,
                       int rounds) {
  const size_t size = 100;
  // A key of its own per call (and round): every call misses and stores.
  // With `spins`, the function works before returning, as an expensive one
  // does.
  int round = 0;
  auto miss_us = [&](const ucache::Options& options, const char* name,
                     int64_t work) {
    auto memoized = ucache::memoize(
        name,
        [size, work](int i) {
          std::string v = Bytes(size);
          if (work > 0) v[0] = static_cast<char>(Work(i, work));
          return v;
        },
        options);
    const int first = calls * round++;
    const Clock::time_point start = Clock::now();
    for (int i = first; i < first + calls; ++i) memoized(i);
    const std::chrono::duration<double> took = Clock::now() - start;
    return took.count() * 1e6 / calls;
  };
  // Medians of misses with and without the remote tier, taken in turn.
  auto paired_misses = [&](const std::string& tag, int64_t work) {
    const ucache::Options with =
        WithRemote(scratch.Sub(tag + "_remote"), server,
                   ucache::Backend::kMemoryFileRemote);
    const ucache::Options without = Local(scratch.Sub(tag + "_local"));
    const std::string with_name = "remote_benchmark/" + tag + "_remote/v1";
    const std::string without_name = "remote_benchmark/" + tag + "/v1";
    return Paired(
        rounds, [&] { return miss_us(with, with_name.c_str(), work); },
        [&] { return miss_us(without, without_name.c_str(), work); });
  };
  const auto [remote, local] = paired_misses("miss", 0);
  // The floor: reading the remote tier before computing costs one round
  // trip that finds nothing.
  redisContext* bare = redisConnectUnix(server.socket().c_str());
  if (bare == nullptr || bare->err != 0) Die("hiredis connect failed");
  int i = 0;
  auto get_absent = [&] {
    auto* reply =
        static_cast<redisReply*>(redisCommand(bare, "GET absent:%d", i++));
    if (reply == nullptr || reply->type != REDIS_REPLY_NIL) Die("GET absent");
    freeReplyObject(reply);
  };
  const double absent = MicrosPerCall(calls < 100 ? 0.0 : 1.0, get_absent);
  Row("miss 100B, write-behind remote tier", remote, "us");
  Row("miss 100B, no remote tier", local, "us");
  Row("bare hiredis GET of an absent key", absent, "us");
  Row("ratio miss / no remote tier", remote / local, "x");
  Row("ratio miss / (no remote tier + absent GET)", remote / (local + absent),
      "x");
  // The same with a function that works (0.8 to 0.9 ms here): what a caller
  // of a function worth caching sees of the remote tier.
  const auto [remote_work, local_work] = paired_misses("work", spins);
  // Its floor: such a miss makes one round trip right after the previous
  // call's work (the read; the server's CPU went idle meanwhile, and on a
  // virtual machine waking it costs more than the round trip itself), and
  // one right after that (the claim).
  volatile double sink = 0;  // keeps the work
  std::chrono::duration<double> gets{};
  for (int n = 0; n < calls; ++n) {
    sink = sink + Work(n, spins);
    const Clock::time_point start = Clock::now();
    get_absent();
    gets += Clock::now() - start;
  }
  redisFree(bare);
  const double absent_after_work = gets.count() * 1e6 / calls;
  Row("miss of 0.3M steps of work, write-behind remote", remote_work, "us");
  Row("miss of 0.3M steps of work, no remote tier", local_work, "us");
  Row("ratio 0.3M-step miss / no remote tier", remote_work / local_work, "x");
  Row("bare GET of an absent key right after the work", absent_after_work,
      "us");
  Row("ratio 0.3M-step miss / (no remote + GET after work + GET)",
      remote_work / (local_work + absent_after_work + absent), "x");
}

// Two processes, each with its own store directory, make the same `calls`
// calls at once; each child exits with nothing but reports its computations
// through a pipe.
void TwoMachines(const ucache::bench::ScratchDir& scratch, const Server& server,
                 int calls) {
  std::vector<pid_t> children;
  std::vector<int> pipes;
  for (int machine = 0; machine < 2; ++machine) {
    int fds[2];
    if (pipe(fds) != 0) Die("pipe failed");
    const pid_t pid = fork();
    if (pid < 0) Die("fork failed");
    if (pid == 0) {
      close(fds[0]);
      uint64_t misses = 0;
      {
        auto memoized = ucache::memoize(
            "remote_benchmark/two_machines/v1", [](int) { return Bytes(100); },
            WithRemote(scratch.Sub("machine" + std::to_string(machine)), server,
                       ucache::Backend::kMemoryFileRemote));
        for (int i = 0; i < calls; ++i) memoized(i);
        misses = memoized.stats().misses;
        // Closing the cache drains its write-behind queue: values (and
        // lease releases) the other machine may still wait for. An _exit
        // with them queued is a holder dying, which costs a lease_ttl and
        // a second computation.
      }
      const bool sent = write(fds[1], &misses, sizeof misses) == sizeof misses;
      _exit(sent ? 0 : 1);
    }
    close(fds[1]);
    children.push_back(pid);
    pipes.push_back(fds[0]);
  }
  uint64_t computed = 0;
  for (size_t i = 0; i < children.size(); ++i) {
    uint64_t misses = 0;
    if (read(pipes[i], &misses, sizeof misses) != sizeof misses) {
      Die("a machine reported nothing");
    }
    close(pipes[i]);
    int status = 0;
    waitpid(children[i], &status, 0);
    computed += misses;
  }
  Row("two machines x " + std::to_string(calls) + " calls: computed",
      static_cast<double>(computed), "times");
}

}  // namespace

int main(int argc, char** argv) {
  const bool small = argc > 1 && std::strcmp(argv[1], "--small") == 0;
  const ucache::bench::ScratchDir scratch("remote_benchmark");
  const Server server(scratch.path());
  RemoteHits(scratch, server,
             small ? std::vector<size_t>{100, 4096}
                   : std::vector<size_t>{100, size_t{1} << 20, size_t{8} << 20},
             small ? 0.0 : 0.3, small ? 1 : 5);
  WriteBehindMisses(scratch, server, small ? 10 : 1000, small ? 1000 : 300000,
                    small ? 1 : 5);
  TwoMachines(scratch, server, small ? 20 : 1000);
  return 0;
}
