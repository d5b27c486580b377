#pragma once
// A profile's assumed-role credentials (SPEC §7 "AWS"): the base source
// signs an STS AssumeRole sent along the route; the result is cached until
// 5 minutes before it expires. One refresh at a time: callers arriving
// while one runs wait for its result (from any worker thread). A failed
// refresh is remembered for 5 s, so a broken STS or credential_process is
// not hammered by every request: meanwhile callers get the credentials
// still held if they have not expired yet (a failed early refresh), else
// the error.
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/experimental/concurrent_channel.hpp>

#include "aws/base_credentials.h"
#include "aws/sts_assume_role.h"
#include "base/proxy_error.h"
#include "upstream/upstream_context.h"

namespace ferry::aws {

struct AwsRoleConfig {
  std::string role_arn;
  std::string region;
  std::chrono::seconds session_duration{3600};
  std::string external_id;  // empty: none
  std::string session_name = "ferry";
  std::string credential_process;  // empty: the process environment
  std::string sts_endpoint;        // empty: https://sts.<region>.amazonaws.com/
  bool operator==(const AwsRoleConfig&) const = default;
};

inline constexpr std::chrono::minutes kRefreshBeforeExpiry{5};
inline constexpr std::chrono::seconds kRetryAfterFailure{5};

class RoleCredentials {
 public:
  using Clock = std::function<SystemTime()>;
  // `clock`: default system_clock::now (tests move it by hand).
  RoleCredentials(AwsRoleConfig config, BaseCredentialSource base, Clock clock = {});
  ~RoleCredentials();
  RoleCredentials(const RoleCredentials&) = delete;
  RoleCredentials& operator=(const RoleCredentials&) = delete;

  // The cached credentials, or a refresh: the base credentials (off the
  // event loop through ctx.blocking when a command runs), then AssumeRole
  // via https_fetch(ctx, resolver, …, timeout). Errors name the role and
  // what failed (the command, STS's code and message), never a secret.
  awaitable<Expected<AwsCredentials, ProxyError>> get(const UpstreamContext& ctx, ProxyResolver& resolver,
                                                      Millis timeout);

  const AwsRoleConfig& config() const { return config_; }
  // STS calls made so far (for tests and the log).
  uint64_t refreshes() const;

 private:
  using Waiter = asio::experimental::concurrent_channel<void(error_code)>;
  enum class Next { use_cache, wait, refresh };
  Next next_step(const std::shared_ptr<Waiter>& waiter);
  void finish(Expected<AwsCredentials, ProxyError> result);
  Expected<AwsCredentials, ProxyError> current() const;  // mu_ held
  awaitable<Expected<AwsCredentials, ProxyError>> refresh(const UpstreamContext& ctx, ProxyResolver& resolver,
                                                          Millis timeout);

  const AwsRoleConfig config_;
  const BaseCredentialSource base_;
  const Clock clock_;
  const AssumeRoleParams params_;

  mutable std::mutex mu_;
  std::optional<AwsCredentials> cached_;
  std::optional<ProxyError> last_error_;
  SystemTime retry_at_{};
  bool refreshing_ = false;
  std::vector<std::shared_ptr<Waiter>> waiters_;
  uint64_t refreshes_ = 0;
};

// The role's config checked for use: role_arn shaped like an IAM role ARN,
// a region, a duration STS accepts (900 s to 12 h), a session name of 2-64
// of [\w+=,.@-]. Errors start with the key name.
Expected<bool> validate_role_config(const AwsRoleConfig& c);

// The base source of a config: its credential_process, else the
// environment (`env` read now; process_env() in ferry).
Expected<BaseCredentialSource> base_source_for(const AwsRoleConfig& c, const BaseCredentialSource::EnvLookup& env);

}  // namespace ferry::aws
