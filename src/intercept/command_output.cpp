#include "intercept/command_output.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "base/secret.h"

extern char** environ;

namespace ferry {

namespace {

using SteadyClock = std::chrono::steady_clock;

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "ended abnormally";
}

class SpawnSetup {
 public:
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions_);
    posix_spawnattr_init(&attr_);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions_);
    posix_spawnattr_destroy(&attr_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;

  // Returns 0 or an errno value.
  int prepare(int stdout_fd) {
    int rc = 0;
    rc = rc ? rc : posix_spawn_file_actions_addopen(&actions_, 0, "/dev/null", O_RDONLY, 0);
    rc = rc ? rc : posix_spawn_file_actions_adddup2(&actions_, stdout_fd, 1);
    rc = rc ? rc : posix_spawn_file_actions_addopen(&actions_, 2, "/dev/null", O_WRONLY, 0);
    // ferry's sockets and files stay out of the command.
    rc = rc ? rc : posix_spawn_file_actions_addclosefrom_np(&actions_, 3);
    // Own process group (so a timeout kills the command's children too);
    // SIGPIPE back to default (ferry ignores it, and ignored signals survive
    // exec); no blocked signals.
    sigset_t defaults, mask;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigemptyset(&mask);
    rc = rc ? rc
            : posix_spawnattr_setflags(&attr_, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    rc = rc ? rc : posix_spawnattr_setpgroup(&attr_, 0);
    rc = rc ? rc : posix_spawnattr_setsigdefault(&attr_, &defaults);
    rc = rc ? rc : posix_spawnattr_setsigmask(&attr_, &mask);
    return rc;
  }
  const posix_spawn_file_actions_t* actions() const { return &actions_; }
  const posix_spawnattr_t* attr() const { return &attr_; }

 private:
  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attr_;
};

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// Waits for the child until `deadline`; kills its group after that.
struct Reaped {
  enum class How { exited, killed, unknown } how;
  int status = 0;
};

// Waits for the child until `deadline`, then kills its process group.
Reaped reap(pid_t pid, SteadyClock::time_point deadline) {
  int status = 0;
  while (true) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return {Reaped::How::exited, status};
    // Already reaped by someone else (SIGCHLD ignored): its status is lost,
    // and output of a command that may have failed is not a credential.
    if (r < 0 && errno != EINTR) return {Reaped::How::unknown};
    if (SteadyClock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(-pid, SIGKILL);
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return {Reaped::How::killed};
}

}  // namespace

Expected<std::string> run_command_output(const std::string& command, Millis timeout, size_t max_bytes) {
  const std::string what = "${exec:" + command + "}";
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return fail(what + " could not be started: " + std::strerror(errno));
  Fd read_end(fds[0]), write_end(fds[1]);

  SpawnSetup setup;
  if (int rc = setup.prepare(write_end.get()); rc != 0)
    return fail(what + " could not be started: " + std::strerror(rc));
  std::string cmd = command;
  char sh[] = "sh", dash_c[] = "-c";
  char* argv[] = {sh, dash_c, cmd.data(), nullptr};
  pid_t pid = 0;
  if (int rc = ::posix_spawn(&pid, "/bin/sh", setup.actions(), setup.attr(), argv, environ); rc != 0)
    return fail(what + " could not be started: " + std::strerror(rc));
  write_end.reset();

  const auto deadline = SteadyClock::now() + timeout;
  std::string output;
  char buf[4096];
  bool too_large = false, timed_out = false;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{read_end.get(), POLLIN, 0};
    const int pr = ::poll(&p, 1, int(std::min<long long>(left, 1000)));
    if (pr < 0 && errno != EINTR) break;
    if (pr <= 0) continue;
    const ssize_t n = ::read(read_end.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: every writer closed stdout
    if (output.size() + size_t(n) > max_bytes) {
      too_large = true;
      break;
    }
    output.append(buf, size_t(n));
  }
  ::explicit_bzero(buf, sizeof buf);
  read_end.reset();
  // A command that closed stdout but keeps running gets until the deadline.
  const Reaped reaped = reap(pid, timed_out ? SteadyClock::now() : deadline);
  if (timed_out || reaped.how == Reaped::How::killed) {
    cleanse_string(output);
    return fail(what + " timed out after " + format_duration(timeout));
  }
  if (too_large) {
    cleanse_string(output);
    return fail(what + " wrote more than " + std::to_string(max_bytes) + " bytes");
  }
  if (reaped.how == Reaped::How::unknown) {
    cleanse_string(output);
    return fail(what + ": its exit status was lost (is SIGCHLD ignored?)");
  }
  if (!WIFEXITED(reaped.status) || WEXITSTATUS(reaped.status) != 0) {
    cleanse_string(output);
    return fail(what + " " + describe_status(reaped.status));
  }
  return output;
}

}  // namespace ferry
