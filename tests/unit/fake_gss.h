#pragma once
// A scriptable GssMechanism for unit tests: every failure a real KDC cannot
// produce on demand, and counters to check when ferry makes a context, which
// server tokens reach step(), and what each step returned.
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/negotiate/security_context.h"

namespace ferry::auth::fake {

// What one step() of a fake context does.
struct FakeStep {
  std::string token;             // returned on success; empty: "ctx<N>-leg<M>"
  std::optional<GssCause> fail;  // fail with this cause instead
  std::string words;             // the failure's words; empty: gss_cause_words(cause, spn)

  static FakeStep ok(std::string t = {}) { return FakeStep{std::move(t), std::nullopt, {}}; }
  static FakeStep failing(GssCause c, std::string w = {}) { return FakeStep{{}, c, std::move(w)}; }
};

// Shared by the mechanism and every context it made (a context can outlive
// the test's view of the mechanism, as the AuthAttempt owns it).
struct FakeGssLog {
  int starts = 0;                          // start() calls
  int steps = 0;                           // step() calls, all contexts
  std::vector<std::string> spns;           // start()'s argument, per call
  std::vector<std::string> server_tokens;  // step()'s argument, per call, in order
  std::vector<std::string> tokens_out;     // what successful steps returned
};

// The GSSAPI debug text every fake failure carries: it must never reach a
// client (debug log only).
inline constexpr std::string_view kFakeGssDebug = "gss_init_sec_context: FAKE-MAJOR-STATUS (FAKE-MINOR-STATUS)";

// Holds whoever enters until opened: a KDC that does not answer.
class StallGate {
 public:
  void enter() {
    std::unique_lock lock(mu_);
    ++entered_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  int entered() {
    std::lock_guard lock(mu_);
    return entered_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int entered_ = 0;
};

class FakeSecurityContext final : public SecurityContext {
 public:
  FakeSecurityContext(std::shared_ptr<FakeGssLog> log, int id, std::string spn, std::vector<FakeStep> script,
                      int established_after)
      : log_(std::move(log)), id_(id), spn_(std::move(spn)), script_(std::move(script)),
        established_after_(established_after) {}

  Expected<std::string, GssFailure> step(std::string_view server_token) override {
    ++log_->steps;
    log_->server_tokens.emplace_back(server_token);
    const size_t i = size_t(legs_);
    ++legs_;
    const FakeStep s = i < script_.size() ? script_[i] : FakeStep::ok();
    if (s.fail) {
      GssFailure f;
      f.cause = *s.fail;
      f.words = s.words.empty() ? gss_cause_words(*s.fail, spn_) : s.words;
      f.debug = std::string(kFakeGssDebug);
      return Unexpected{std::move(f)};
    }
    ++ok_legs_;
    if (established_after_ > 0 && ok_legs_ >= established_after_) established_ = true;
    std::string token = s.token.empty() ? "ctx" + std::to_string(id_) + "-leg" + std::to_string(legs_) : s.token;
    log_->tokens_out.push_back(token);
    return token;
  }
  bool established() const override { return established_; }

 private:
  std::shared_ptr<FakeGssLog> log_;
  int id_;
  std::string spn_;
  std::vector<FakeStep> script_;
  int established_after_;
  int legs_ = 0;
  int ok_legs_ = 0;
  bool established_ = false;
};

class FakeGssMechanism final : public GssMechanism {
 public:
  // Applied to every context made from now on: step i does script[i]
  // (past its end: succeed with the default token).
  std::vector<FakeStep> script;
  // A context is established after this many successful steps (0: never).
  int established_after = 1;
  std::shared_ptr<FakeGssLog> log = std::make_shared<FakeGssLog>();
  // When set, start() waits here first (as a real one waits for the KDC).
  std::shared_ptr<StallGate> stall;

  // Every new context fails its first step with `cause`.
  void fail_with(GssCause cause, std::string words = {}) { script = {FakeStep::failing(cause, std::move(words))}; }
  void succeed() { script.clear(); }

  // The token the n-th context (1-based) returns from its m-th step by default.
  static std::string default_token(int n, int m = 1) { return "ctx" + std::to_string(n) + "-leg" + std::to_string(m); }

  std::unique_ptr<SecurityContext> start(const std::string& spn) override {
    if (stall) stall->enter();
    ++log->starts;
    log->spns.push_back(spn);
    return std::make_unique<FakeSecurityContext>(log, log->starts, spn, script, established_after);
  }
  CredentialStatus status() override {
    CredentialStatus st;
    st.present = true;
    st.principal = "carol@TESTDOM.EXAMPLE";
    st.lifetime_s = 3600;
    st.source = "fake";
    return st;
  }
};

}  // namespace ferry::auth::fake
