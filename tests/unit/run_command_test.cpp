// `ferry run` (run_command) against a real admin server: the child gets
// the run's environment, the exit code (or 128+signal) comes back, the run
// is deleted afterwards, signals are forwarded, admin errors exit 2 — and
// the token is never printed.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>

#include "admin_fixture.h"
#include "app/run_command.h"

namespace ferry {
namespace {

using namespace admin_test;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class RunCommand : public AdminFixture {
 protected:
  void SetUp() override { ASSERT_TRUE(start(unix_options())); }

  RunOptions options(std::vector<std::string> command) {
    RunOptions o;
    o.profile = "ci";
    o.admin = socket_path();
    o.command = std::move(command);
    return o;
  }

  void expect_no_token_in(const std::string& text) {
    std::lock_guard lock(mutex_);
    for (const auto& t : activated_) EXPECT_EQ(text.find(t), std::string::npos) << text;
  }
};

TEST_F(RunCommand, TheCommandGetsTheRunsEnvironmentAndItsExitCodeComesBack) {
  const auto out = dir_.path / "env.txt";
  testing::internal::CaptureStderr();
  const int code = run_command(options({"sh", "-c",
                                        "printf '%s\\n%s\\n%s\\n' \"$HTTP_PROXY\" \"$https_proxy\" \"$NO_PROXY\" > " +
                                            out.string() + "; exit 7"}));
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, 7) << err;
  ASSERT_EQ(activated_.size(), 1u);
  const std::string url = "http://run:" + activated_[0] + "@127.0.0.1:3128";
  EXPECT_EQ(slurp(out), url + "\n" + url + "\nlocalhost,127.0.0.1,::1\n");
  EXPECT_EQ(registry_.size(), 0u);  // deleted when the command ended
  EXPECT_EQ(err, "");
}

TEST_F(RunCommand, AKilledCommandGives128PlusTheSignal) {
  EXPECT_EQ(run_command(options({"sh", "-c", "kill -KILL $$"})), 128 + SIGKILL);
  EXPECT_EQ(registry_.size(), 0u);
}

TEST_F(RunCommand, TheTtlIsPassedOnAndTheServersRefusalExits2) {
  auto o = options({"true"});
  o.ttl = "200h";
  testing::internal::CaptureStderr();
  EXPECT_EQ(run_command(o), 2);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("(400)"), std::string::npos) << err;
  EXPECT_NE(err.find("ttl"), std::string::npos) << err;
  EXPECT_TRUE(activated_.empty());

  o.ttl = "soon";  // checked before asking
  testing::internal::CaptureStderr();
  EXPECT_EQ(run_command(o), 2);
  EXPECT_NE(testing::internal::GetCapturedStderr().find("--ttl"), std::string::npos);

  o.ttl = "2m";
  EXPECT_EQ(run_command(o), 0);
  EXPECT_EQ(activated_.size(), 1u);
}

TEST_F(RunCommand, ACommandThatCannotStartIs127AndTheRunIsDeleted) {
  testing::internal::CaptureStderr();
  EXPECT_EQ(run_command(options({"/nonexistent/ferry-test-command"})), 127);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("cannot run /nonexistent/ferry-test-command"), std::string::npos) << err;
  EXPECT_EQ(activated_.size(), 1u);
  EXPECT_EQ(registry_.size(), 0u);
  expect_no_token_in(err);
}

TEST_F(RunCommand, AnUnreachableAdminListenerExits2NamingIt) {
  auto o = options({"true"});
  o.admin = (dir_.path / "nobody.sock").string();
  testing::internal::CaptureStderr();
  EXPECT_EQ(run_command(o), 2);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find(o.admin), std::string::npos) << err;
  // Without --profile (a run with the global rules) the same: the listener is named.
  o.profile.clear();
  testing::internal::CaptureStderr();
  EXPECT_EQ(run_command(o), 2);
  EXPECT_NE(testing::internal::GetCapturedStderr().find(o.admin), std::string::npos);
}

// SIGTERM to `ferry run` reaches the command, which exits its own way; the
// run is deleted. `ferry run` runs in a child process here, so the signal
// does not hit the test's other threads.
TEST_F(RunCommand, SigtermIsForwardedToTheCommand) {
  const auto ready = dir_.path / "ready";
  auto o = options({"sh", "-c",
                    "trap 'exit 42' TERM; echo $$ > " + ready.string() + ".tmp; mv " + ready.string() + ".tmp " +
                        ready.string() + "; while :; do sleep 0.05; done"});
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(run_command(o));
  for (int i = 0; i < 200 && !fs::exists(ready); ++i) std::this_thread::sleep_for(25ms);
  ASSERT_TRUE(fs::exists(ready));
  EXPECT_EQ(registry_.size(), 1u);
  ::kill(child, SIGTERM);
  int status = 0;
  pid_t done = 0;
  for (int i = 0; i < 200 && done == 0; ++i) {
    done = ::waitpid(child, &status, WNOHANG);
    if (done == 0) std::this_thread::sleep_for(25ms);
  }
  if (done == 0) {  // not forwarded: the command runs on
    ::kill(std::stoi(slurp(ready)), SIGKILL);
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
    FAIL() << "the command did not get the SIGTERM";
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 42);
  EXPECT_EQ(registry_.size(), 0u);
}

}  // namespace
}  // namespace ferry
