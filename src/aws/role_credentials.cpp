#include "aws/role_credentials.h"

#include "upstream/blocking_pool.h"

namespace ferry::aws {

namespace {

AssumeRoleParams params_of(const AwsRoleConfig& c) {
  AssumeRoleParams p;
  p.role_arn = c.role_arn;
  p.region = c.region;
  p.session_name = c.session_name;
  p.duration = c.session_duration;
  p.external_id = c.external_id;
  p.sts_endpoint = c.sts_endpoint;
  return p;
}

bool session_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("_+=,.@-").find(c) != std::string_view::npos;
}

}  // namespace

RoleCredentials::RoleCredentials(AwsRoleConfig config, BaseCredentialSource base, Clock clock)
    : config_(std::move(config)), base_(std::move(base)),
      clock_(clock ? std::move(clock) : Clock([] { return std::chrono::system_clock::now(); })),
      params_(params_of(config_)) {}

RoleCredentials::~RoleCredentials() = default;

uint64_t RoleCredentials::refreshes() const {
  std::lock_guard lock(mu_);
  return refreshes_;
}

Expected<AwsCredentials, ProxyError> RoleCredentials::current() const {
  if (cached_ && (!cached_->expiration || clock_() < *cached_->expiration)) return *cached_;
  if (last_error_) return Unexpected{*last_error_};
  return Unexpected{ProxyError{ProxyErrc::proxy_internal_error, "AWS credentials refresh ended without a result"}};
}

RoleCredentials::Next RoleCredentials::next_step(const std::shared_ptr<Waiter>& waiter) {
  std::lock_guard lock(mu_);
  const SystemTime now = clock_();
  if (cached_ && (!cached_->expiration || now < *cached_->expiration - kRefreshBeforeExpiry)) return Next::use_cache;
  if (refreshing_) {
    waiters_.push_back(waiter);
    return Next::wait;
  }
  // After a failure: the credentials while they are still valid, else the error.
  if (last_error_ && now < retry_at_) return Next::use_cache;
  refreshing_ = true;
  return Next::refresh;
}

void RoleCredentials::finish(Expected<AwsCredentials, ProxyError> result) {
  std::vector<std::shared_ptr<Waiter>> waiters;
  {
    std::lock_guard lock(mu_);
    ++refreshes_;
    if (result) {
      cached_ = std::move(*result);
      last_error_.reset();
    } else {
      // Credentials inside the refresh margin stay in use until they
      // expire (current() checks), as SDKs do after a failed early refresh.
      last_error_ = result.error();
      retry_at_ = clock_() + kRetryAfterFailure;
    }
    refreshing_ = false;
    waiters.swap(waiters_);
  }
  for (auto& w : waiters) w->try_send(error_code{});
}

awaitable<Expected<AwsCredentials, ProxyError>> RoleCredentials::refresh(const UpstreamContext& ctx,
                                                                         ProxyResolver& resolver, Millis timeout) {
  auto fetch = [this] { return base_.fetch(); };
  Expected<Expected<AwsCredentials>, ProxyError> base = co_await off_loop(ctx.blocking, fetch, base_.may_block());
  if (!base) co_return Unexpected{base.error()};
  if (!*base)
    co_return Unexpected{ProxyError{
        ProxyErrc::proxy_configuration_error,
        "AWS role " + config_.role_arn + ": base credentials from " + base_.describe() + ": " + base->error(), 502}};
  const AwsCredentials& signing = **base;
  auto assumed = co_await sts_assume_role(ctx, resolver, params_, signing, timeout);
  co_return assumed;
}

awaitable<Expected<AwsCredentials, ProxyError>> RoleCredentials::get(const UpstreamContext& ctx,
                                                                     ProxyResolver& resolver, Millis timeout) {
  auto waiter = std::make_shared<Waiter>(co_await asio::this_coro::executor, 1);
  const Next next = next_step(waiter);
  if (next == Next::wait) co_await waiter->async_receive(nothrow_awaitable);
  if (next != Next::refresh) {
    std::lock_guard lock(mu_);
    Expected<AwsCredentials, ProxyError> now = current();
    co_return now;
  }
  // This caller refreshes. Should its coroutine be destroyed before the
  // refresh ends (shutdown), the waiters are released with an error.
  struct Finisher {
    RoleCredentials& self;
    bool done = false;
    ~Finisher() {
      if (!done)
        self.finish(Unexpected{ProxyError{ProxyErrc::proxy_internal_error, "AWS credentials refresh abandoned"}});
    }
  } finisher{*this};
  Expected<AwsCredentials, ProxyError> result = co_await refresh(ctx, resolver, timeout);
  finisher.done = true;
  finish(std::move(result));
  std::lock_guard lock(mu_);
  Expected<AwsCredentials, ProxyError> now = current();
  co_return now;
}

Expected<bool> validate_role_config(const AwsRoleConfig& c) {
  // arn:PARTITION:iam::ACCOUNT:role/NAME
  const std::string_view arn = c.role_arn;
  const bool arn_ok = arn.starts_with("arn:") && arn.find(":iam::") != arn.npos && arn.find(":role/") != arn.npos &&
                      arn.find_first_of(" \t\r\n") == arn.npos;
  if (!arn_ok) return fail("role_arn: '" + c.role_arn + "' is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)");
  if (c.region.empty()) return fail("region: missing");
  for (char ch : c.region)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
      return fail("region: '" + c.region + "' is not a region name (e.g. us-east-1)");
  if (c.session_duration < std::chrono::seconds(900) || c.session_duration > std::chrono::hours(12))
    return fail("session_duration: must be between 15m and 12h");
  if (c.session_name.size() < 2 || c.session_name.size() > 64) return fail("session_name: must be 2 to 64 characters");
  for (char ch : c.session_name)
    if (!session_name_char(ch)) return fail("session_name: '" + c.session_name + "' may hold only [A-Za-z0-9_+=,.@-]");
  if (c.external_id.size() > 1224) return fail("external_id: longer than 1224 characters");
  return true;
}

Expected<BaseCredentialSource> base_source_for(const AwsRoleConfig& c, const BaseCredentialSource::EnvLookup& env) {
  if (!c.credential_process.empty()) return BaseCredentialSource::command(c.credential_process);
  return BaseCredentialSource::environment(env);
}

}  // namespace ferry::aws
