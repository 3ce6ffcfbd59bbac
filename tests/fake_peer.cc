#include "tests/fake_peer.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace ucache::testing {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// One command of RESP's request form (an array of bulk strings) off the
// front of `in`: true with *argv when whole, false when more must come;
// *bad for bytes that are not a request.
bool TakeCommand(std::string* in, std::vector<std::string>* argv, bool* bad) {
  size_t pos = 0;
  auto line = [&](char type, long* n) {
    if (pos >= in->size()) return false;
    if ((*in)[pos] != type) {
      *bad = true;
      return false;
    }
    const size_t end = in->find("\r\n", pos);
    if (end == std::string::npos) return false;
    *n = std::strtol(in->c_str() + pos + 1, nullptr, 10);
    pos = end + 2;
    return true;
  };
  long count = 0;
  if (!line('*', &count)) return false;
  argv->clear();
  for (long i = 0; i < count; ++i) {
    long len = 0;
    if (!line('$', &len)) return false;
    if (in->size() < pos + static_cast<size_t>(len) + 2) return false;
    argv->push_back(in->substr(pos, static_cast<size_t>(len)));
    pos += static_cast<size_t>(len) + 2;
  }
  in->erase(0, pos);
  return true;
}

std::string Bulk(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}

}  // namespace

FakePeer::FakePeer(std::chrono::milliseconds trickle_gap)
    : trickle_gap_ms_(trickle_gap.count()) {
  char dir[] = "/tmp/ucf.XXXXXX";
  if (::mkdtemp(dir) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed";
    return;
  }
  dir_ = dir;
  socket_ = dir_ + "/peer.sock";
  Listen();  // before the thread: a connect right after construction works
  thread_ = std::thread([this] { Loop(); });
}

FakePeer::~FakePeer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
  for (Client& c : clients_) {
    if (c.fd >= 0) ::close(c.fd);
  }
  Unlisten();
  if (!dir_.empty()) std::filesystem::remove_all(dir_);
}

void FakePeer::set_mode(Mode mode) {
  std::unique_lock<std::mutex> lock(mu_);
  wanted_ = mode;
  const uint64_t generation = ++wanted_generation_;
  cv_.wait(lock, [&] { return applied_generation_ >= generation; });
}

void FakePeer::DropConnections() {
  std::unique_lock<std::mutex> lock(mu_);
  drop_ = true;
  const uint64_t generation = ++wanted_generation_;
  cv_.wait(lock, [&] { return applied_generation_ >= generation; });
}

void FakePeer::Listen() {
  listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, socket_.c_str(), sizeof(a.sun_path) - 1);
  ::unlink(socket_.c_str());
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::listen(listener_, 16) != 0) {
    ADD_FAILURE() << "fake peer: bind/listen " << socket_ << ": "
                  << std::strerror(errno);
  }
}

// The socket file stays: a connect to it is refused (ECONNREFUSED).
void FakePeer::Unlisten() {
  if (listener_ >= 0) ::close(listener_);
  listener_ = -1;
}

void FakePeer::Loop() {
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      if (applied_generation_ != wanted_generation_) {
        if (wanted_ == Mode::kRefuse || drop_) {
          for (Client& c : clients_) ::close(c.fd);
          clients_.clear();
          drop_ = false;
        }
        if (wanted_ == Mode::kRefuse) {
          Unlisten();
        } else if (listener_ < 0) {
          Listen();
        }
        mode_ = wanted_;
        applied_generation_ = wanted_generation_;
        cv_.notify_all();
      }
    }
    const int64_t now = NowMs();
    std::vector<pollfd> fds;
    for (const Client& c : clients_) {
      const bool write = !c.out.empty() && now >= c.next_write_ms;
      fds.push_back(
          {c.fd, static_cast<short>(POLLIN | (write ? POLLOUT : 0)), 0});
    }
    if (listener_ >= 0) fds.push_back({listener_, POLLIN, 0});
    ::poll(fds.data(), fds.size(), 5);
    const size_t served = clients_.size();  // Accept appends
    for (size_t i = 0; i < served; ++i) {
      Client& c = clients_[i];
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) Read(&c);
      if (c.fd >= 0 && (fds[i].revents & POLLOUT)) Write(&c);
    }
    if (listener_ >= 0 && (fds.back().revents & POLLIN)) Accept();
    std::erase_if(clients_, [](const Client& c) { return c.fd < 0; });
  }
}

void FakePeer::Accept() {
  for (;;) {
    const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK);
    if (fd < 0) return;
    Client c;
    c.fd = fd;
    clients_.push_back(std::move(c));
  }
}

void FakePeer::Read(Client* c) {
  char buf[65536];
  const ssize_t n = ::read(c->fd, buf, sizeof(buf));
  if (n <= 0) {
    if (n < 0 && errno == EAGAIN) return;
    ::close(c->fd);
    c->fd = -1;
    return;
  }
  c->in.append(buf, static_cast<size_t>(n));
  std::vector<std::string> argv;
  bool bad = false;
  while (!c->close_after_out && TakeCommand(&c->in, &argv, &bad)) {
    Answer(c, argv);
  }
  if (bad) {
    ::close(c->fd);
    c->fd = -1;
  }
}

void FakePeer::Answer(Client* c, const std::vector<std::string>& argv) {
  if (mode_ == Mode::kSilent) return;
  const std::string reply = Reply(argv);
  if (mode_ == Mode::kHalfReply) {
    c->out += reply.substr(0, std::max<size_t>(1, reply.size() / 2));
    c->close_after_out = true;
    return;
  }
  c->out += reply;
  if (mode_ == Mode::kTwice) c->out += reply;
}

void FakePeer::Write(Client* c) {
  const size_t n = mode_ == Mode::kTrickle ? 1 : c->out.size();
  // MSG_NOSIGNAL: a client gone must not kill the test with SIGPIPE.
  const ssize_t sent = ::send(c->fd, c->out.data(), n, MSG_NOSIGNAL);
  if (sent < 0) {
    if (errno == EAGAIN) return;
    ::close(c->fd);
    c->fd = -1;
    return;
  }
  c->out.erase(0, static_cast<size_t>(sent));
  if (mode_ == Mode::kTrickle) c->next_write_ms = NowMs() + trickle_gap_ms_;
  if (c->out.empty() && c->close_after_out) {
    ::close(c->fd);
    c->fd = -1;
  }
}

std::string FakePeer::Reply(const std::vector<std::string>& argv) {
  std::string command = argv.empty() ? "" : argv[0];
  for (char& ch : command) ch = static_cast<char>(std::toupper(ch));
  if (mode_ == Mode::kGarbage) {
    return "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
  }
  if (mode_ == Mode::kNoAuth) {
    return command == "AUTH"
               ? "-WRONGPASS invalid username-password pair or user is "
                 "disabled.\r\n"
               : "-NOAUTH Authentication required.\r\n";
  }
  if (command == "PING") return "+PONG\r\n";
  if (command == "AUTH" || command == "SELECT") return "+OK\r\n";
  if (command == "CONFIG")
    return "*2\r\n" + Bulk(argv.back()) + Bulk("536870912");
  if (command == "SET" && argv.size() >= 3) {
    if (mode_ == Mode::kOom) {
      return "-OOM command not allowed when used memory > 'maxmemory'.\r\n";
    }
    data_[argv[1]] = argv[2];
    return "+OK\r\n";
  }
  if (command == "GET" && argv.size() == 2) {
    auto it = data_.find(argv[1]);
    return it == data_.end() ? "$-1\r\n" : Bulk(it->second);
  }
  if (command == "DEL" || command == "UNLINK") {
    size_t erased = 0;
    for (size_t i = 1; i < argv.size(); ++i) erased += data_.erase(argv[i]);
    return ":" + std::to_string(erased) + "\r\n";
  }
  return "-ERR unknown command '" + argv[0] + "'\r\n";
}

}  // namespace ucache::testing
