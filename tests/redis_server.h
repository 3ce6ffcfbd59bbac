// RedisServer: a real redis-server of a test's own, on a unix socket in a
// short temporary directory (socket paths are capped near 107 bytes) and,
// when asked, on 127.0.0.1 at a free port; stopped by the destructor.
// Missing redis-server fails the test with a message, never skips it: CI
// installs it (tools/setup.sh).

#ifndef UCACHE_TESTS_REDIS_SERVER_H_
#define UCACHE_TESTS_REDIS_SERVER_H_

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

namespace ucache::testing {

class RedisServer {
 public:
  // `extra` are redis-server arguments, e.g. {"--requirepass", "pw"}.
  explicit RedisServer(std::vector<std::string> extra = {}, bool tcp = false);
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // False (with a gtest failure already added) when it did not start.
  bool ok() const { return pid_ > 0; }
  const std::string& socket() const { return socket_; }
  int port() const { return port_; }
  std::string unix_url() const { return "redis+unix://" + socket_; }
  std::string tcp_url() const {
    return "redis://127.0.0.1:" + std::to_string(port_);
  }

  // One command through redis-cli-free hiredis, for planting and checking;
  // the reply as text ("(nil)" for nil, "ERR ..." for errors).
  std::string Command(const std::vector<std::string>& argv,
                      const std::string& password = "") const;

  void Kill();     // SIGKILL, reaped
  void Pause();    // SIGSTOP: connects succeed, replies never come
  void Resume();   // SIGCONT
  bool Restart();  // Kill, then start again on the same socket and port

 private:
  bool Start();

  std::vector<std::string> extra_;
  bool tcp_;
  std::string dir_;
  std::string socket_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// A free TCP port on 127.0.0.1 (bound and released).
int FreePort();

}  // namespace ucache::testing

#endif  // UCACHE_TESTS_REDIS_SERVER_H_
