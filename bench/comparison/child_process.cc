#include "bench/comparison/child_process.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern char** environ;

namespace ucache::bench {

Result<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(
    const std::vector<std::string>& args) {
  return SpawnProgram("/proc/self/exe", args);
}

Result<std::unique_ptr<ChildProcess>> ChildProcess::SpawnProgram(
    const std::string& program, const std::vector<std::string>& args) {
  int to_child[2];
  int from_child[2];
  if (pipe2(to_child, O_CLOEXEC) != 0) {
    return Status::IOError(std::string("pipe: ") + std::strerror(errno));
  }
  if (pipe2(from_child, O_CLOEXEC) != 0) {
    close(to_child[0]);
    close(to_child[1]);
    return Status::IOError(std::string("pipe: ") + std::strerror(errno));
  }
  // dup2 clears O_CLOEXEC on the child's copies, so only stdin and stdout
  // survive the exec.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, to_child[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, from_child[1], STDOUT_FILENO);
  std::string path = program;
  std::vector<char*> argv = {path.data()};
  std::vector<std::string> owned = args;
  for (std::string& a : owned) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  const int rc =
      posix_spawn(&pid, path.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(to_child[0]);
  close(from_child[1]);
  if (rc != 0) {
    close(to_child[1]);
    close(from_child[0]);
    return Status::IOError(std::string("posix_spawn: ") + std::strerror(rc));
  }
  return std::unique_ptr<ChildProcess>(new ChildProcess(
      pid, fdopen(to_child[1], "w"), fdopen(from_child[0], "r")));
}

ChildProcess::~ChildProcess() {
  if (!waited_) Wait().IgnoreError();  // a destructor has no one to tell
}

Status ChildProcess::WriteLine(const std::string& line) {
  if (std::fprintf(to_child_, "%s\n", line.c_str()) < 0 ||
      std::fflush(to_child_) != 0) {
    return Status::IOError("writing to child " + std::to_string(pid_));
  }
  return Status::OK();
}

Result<std::string> ChildProcess::ReadLine() {
  char* line = nullptr;
  size_t cap = 0;
  const ssize_t n = getline(&line, &cap, from_child_);
  if (n < 0) {
    std::free(line);
    return Status::IOError("child " + std::to_string(pid_) +
                           " ended its output early");
  }
  std::string result(line, n > 0 && line[n - 1] == '\n' ? n - 1 : n);
  std::free(line);
  return result;
}

Status ChildProcess::Wait() {
  waited_ = true;
  std::fclose(to_child_);
  std::fclose(from_child_);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) {
      return Status::IOError(std::string("waitpid: ") + std::strerror(errno));
    }
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::OK();
  return Status::IOError("child " + std::to_string(pid_) +
                         " failed with status " + std::to_string(status));
}

}  // namespace ucache::bench
