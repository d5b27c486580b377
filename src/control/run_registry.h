#pragma once
// The runs of SPEC §7: short-lived profiles registered through the control
// API, each reached with its own client token, each with a TTL.
//
// The registry holds a run's id, profile and times, never its token: the
// token is made here, handed once to the `activated` hook (which makes it
// valid for the proxy's listeners) and to the caller of create() (who
// returns it to the client), then wiped. Revoking a run (remove, expire)
// calls `revoked`, which makes the token invalid and closes the run's
// tunnels.
//
// Thread-safe. The hooks `activated` and `revoked` run under the registry's
// lock, so a token is always activated before it can be revoked, even when
// a DELETE races the POST that made it; they must be quick and must not
// call back into the registry. `make_profile` runs outside the lock.
#include <toml++/toml.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "base/duration.h"
#include "base/expected.h"
#include "base/secret.h"
#include "policy/profile.h"

namespace ferry {

// What `POST /v1/runs` asks for. At least one of profile, inject, policy
// (the control API checks that).
struct RunSpec {
  std::string profile;                // a [profiles.NAME]; empty: none named
  std::optional<toml::array> inject;  // inline [[inject]] tables (keys of [[inject]])
  std::optional<toml::table> policy;  // inline [policy] table (keys of [policy])
  Millis ttl{0};                      // 0: RunLimits::default_ttl
};

struct Run {
  std::string id;                                  // 16 lower-case hex digits, random (not derived from the token)
  std::string profile_name;                        // RunSpec::profile
  std::chrono::system_clock::time_point created;   // wall clock, for GET /v1/runs
  std::chrono::system_clock::time_point expires;   // created + ttl, for GET /v1/runs
  std::chrono::steady_clock::time_point deadline;  // what expire() compares
  Millis ttl{0};
  ProfilePtr profile;  // made by RunHooks::make_profile
};
using RunPtr = std::shared_ptr<const Run>;

struct CreatedRun {
  RunPtr run;
  Secret token;  // for the one response that returns it; wiped with this object
};

struct RunError {
  enum class Kind {
    invalid,   // the spec is wrong (unknown profile, bad rule, TTL out of range): 400
    full,      // RunLimits::max_runs reached: 429
    internal,  // the CSPRNG failed: 500
  } kind;
  std::string message;  // never holds a token or secret value
};

struct RunHooks {
  // Builds the run's profile from the spec (named profile + inline rules
  // and policy). `run_id` is for Profile::id ("run:<id>"). Errors are
  // shown to the API client: they must not hold secret values.
  std::function<Expected<ProfilePtr>(const RunSpec&, const std::string& run_id)> make_profile;
  // The token now selects `run.profile` (under the registry's lock).
  std::function<void(const Run& run, const std::string& token)> activated;
  // The run's token stops working and its tunnels close (under the lock).
  std::function<void(const Run& run)> revoked;
};

struct RunLimits {
  // One hour unless asked otherwise: long enough for a CI job or an agent
  // session, short enough that a run its creator forgot (a killed
  // `ferry run`) does not keep a live token for long.
  Millis default_ttl = std::chrono::hours(1);
  // Seven days at most: the lifetime of ferry's leaf certificates, and a
  // bound on how long a leaked run token can be used.
  Millis max_ttl = std::chrono::hours(24 * 7);
  // Runs at once (each holds a profile): a bound on memory, not a
  // security limit (the API is only for the admin).
  size_t max_runs = 10'000;
};

class RunRegistry {
 public:
  explicit RunRegistry(RunHooks hooks, RunLimits limits = {});
  ~RunRegistry();  // revokes nothing: the proxy is stopping too
  RunRegistry(const RunRegistry&) = delete;
  RunRegistry& operator=(const RunRegistry&) = delete;

  Expected<CreatedRun, RunError> create(const RunSpec& spec);
  // Oldest first.
  std::vector<RunPtr> list() const;
  RunPtr get(const std::string& id) const;  // null when unknown
  // Revokes and forgets the run; false when unknown.
  bool remove(const std::string& id);
  // Revokes and forgets every run whose deadline is at or before `now`;
  // returns how many. The server calls it from a timer (every second, or
  // at next_expiry()).
  size_t expire(std::chrono::steady_clock::time_point now);
  std::optional<std::chrono::steady_clock::time_point> next_expiry() const;
  size_t size() const;
  const RunLimits& limits() const { return limits_; }

 private:
  Expected<std::string, RunError> reserve_id();
  // The run and its token, not yet registered.
  Expected<std::pair<std::shared_ptr<Run>, std::string>, RunError> make_run(const RunSpec& spec, const std::string& id,
                                                                            Millis ttl) const;

  const RunHooks hooks_;
  const RunLimits limits_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, RunPtr> runs_;
  std::unordered_set<std::string> reserved_;  // ids of runs being created
};

// A fresh run id: 16 lower-case hex digits from the CSPRNG.
Expected<std::string> generate_run_id();
// "2026-12-03T19:04:05Z", for GET /v1/runs and logs.
std::string format_utc(std::chrono::system_clock::time_point t);

}  // namespace ferry
