// FakePeer: a peer on a unix socket in a short temporary directory that
// speaks enough RESP to pass for Redis, and misbehaves on cue in the ways a
// network and a server fail; the remote tier's network tests connect to it
// through the Connector seam. One thread serves every connection; nothing
// sleeps but poll, so a test takes as long as the timeouts it checks.

#ifndef UCACHE_TESTS_FAKE_PEER_H_
#define UCACHE_TESTS_FAKE_PEER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ucache::testing {

class FakePeer {
 public:
  enum class Mode {
    kRedis,      // PING, AUTH, CONFIG GET, SET, GET, DEL, as Redis would
    kRefuse,     // connections closed and connects refused (a dead server)
    kSilent,     // connects accepted, commands read, never answered
    kHalfReply,  // half of the next reply, then the connection closed
    kGarbage,    // answers that are not RESP (an HTTP server)
    kTrickle,    // replies a byte per trickle_gap: each read is quick, the
                 // whole reply is not
    kOom,        // SET answered -OOM (maxmemory, noeviction); the rest kRedis
    kNoAuth,     // every command -NOAUTH, AUTH -WRONGPASS
    kTwice,      // every reply sent twice: a connection out of step
  };

  explicit FakePeer(
      std::chrono::milliseconds trickle_gap = std::chrono::milliseconds(20));
  ~FakePeer();
  FakePeer(const FakePeer&) = delete;
  FakePeer& operator=(const FakePeer&) = delete;

  // Returns once the peer behaves so: every command read after it.
  void set_mode(Mode mode);
  // Closes every connection and goes on listening, as Redis does to idle
  // clients past its `timeout`; returns once they are closed.
  void DropConnections();
  const std::string& socket() const { return socket_; }
  std::string url() const { return "redis+unix://" + socket_; }

 private:
  struct Client {
    int fd = -1;
    std::string in;
    std::string out;
    bool close_after_out = false;
    int64_t next_write_ms = 0;
  };

  void Loop();
  void Listen();
  void Unlisten();
  void Accept();
  void Read(Client* c);
  void Write(Client* c);
  void Answer(Client* c, const std::vector<std::string>& argv);
  std::string Reply(const std::vector<std::string>& argv);

  const int64_t trickle_gap_ms_;
  std::string dir_;
  std::string socket_;

  std::mutex mu_;
  std::condition_variable cv_;
  Mode wanted_ = Mode::kRedis;       // guarded by mu_
  uint64_t wanted_generation_ = 0;   // guarded by mu_
  uint64_t applied_generation_ = 0;  // guarded by mu_
  bool drop_ = false;                // guarded by mu_
  bool stop_ = false;                // guarded by mu_

  // The loop thread's own.
  Mode mode_ = Mode::kRedis;
  int listener_ = -1;
  std::vector<Client> clients_;
  std::map<std::string, std::string> data_;

  std::thread thread_;
};

}  // namespace ucache::testing

#endif  // UCACHE_TESTS_FAKE_PEER_H_
