#include "tests/redis_server.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

namespace ucache::testing {
namespace {

std::string FindServer() {
  for (const char* p :
       {"/usr/bin/redis-server", "/usr/local/bin/redis-server"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return {};
}

}  // namespace

int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

RedisServer::RedisServer(std::vector<std::string> extra, bool tcp)
    : extra_(std::move(extra)), tcp_(tcp) {
  char dir[] = "/tmp/ucr.XXXXXX";
  if (::mkdtemp(dir) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed";
    return;
  }
  dir_ = dir;
  socket_ = dir_ + "/redis.sock";
  if (tcp_) port_ = FreePort();
  Start();
}

RedisServer::~RedisServer() {
  Resume();
  Kill();
  if (!dir_.empty()) std::filesystem::remove_all(dir_);
}

bool RedisServer::Start() {
  const std::string server = FindServer();
  if (server.empty()) {
    ADD_FAILURE() << "redis-server is not installed: the remote tier's tests "
                     "need it (apt-get install redis-server; tools/setup.sh "
                     "installs it)";
    return false;
  }
  std::vector<std::string> args = {server,
                                   "--unixsocket",
                                   socket_,
                                   "--unixsocketperm",
                                   "700",
                                   "--port",
                                   std::to_string(port_),
                                   "--bind",
                                   "127.0.0.1",
                                   "--save",
                                   "",
                                   "--appendonly",
                                   "no",
                                   "--dir",
                                   dir_,
                                   "--logfile",
                                   dir_ + "/redis.log"};
  args.insert(args.end(), extra_.begin(), extra_.end());
  pid_ = ::fork();
  if (pid_ == 0) {
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  // Up when the socket answers (PING; NOAUTH also means up).
  for (int i = 0; i < 500; ++i) {
    const timeval tv{0, 100000};
    redisContext* c = redisConnectUnixWithTimeout(socket_.c_str(), tv);
    if (c != nullptr && c->err == 0) {
      auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
      const bool up = r != nullptr;
      if (r != nullptr) freeReplyObject(r);
      redisFree(c);
      if (up) return true;
    } else if (c != nullptr) {
      redisFree(c);
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << "redis-server did not start; see " << dir_ << "/redis.log";
  Kill();
  return false;
}

std::string RedisServer::Command(const std::vector<std::string>& argv,
                                 const std::string& password) const {
  const timeval tv{2, 0};
  redisContext* c = redisConnectUnixWithTimeout(socket_.c_str(), tv);
  if (c == nullptr || c->err != 0) {
    if (c != nullptr) redisFree(c);
    return "(connect failed)";
  }
  redisSetTimeout(c, tv);
  if (!password.empty()) {
    auto* r = static_cast<redisReply*>(
        redisCommand(c, "AUTH %b", password.data(), password.size()));
    if (r != nullptr) freeReplyObject(r);
  }
  std::vector<const char*> args;
  std::vector<size_t> lens;
  for (const std::string& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(redisCommandArgv(
      c, static_cast<int>(args.size()), args.data(), lens.data()));
  std::string out = "(no reply)";
  if (r != nullptr) {
    switch (r->type) {
      case REDIS_REPLY_NIL:
        out = "(nil)";
        break;
      case REDIS_REPLY_INTEGER:
        out = std::to_string(r->integer);
        break;
      case REDIS_REPLY_ARRAY:
        out = "(array " + std::to_string(r->elements) + ")";
        break;
      default:
        out = std::string(r->str, r->len);
    }
    freeReplyObject(r);
  }
  redisFree(c);
  return out;
}

void RedisServer::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

void RedisServer::Pause() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void RedisServer::Resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

bool RedisServer::Restart() {
  Kill();
  ::unlink(socket_.c_str());
  return Start();
}

}  // namespace ucache::testing
