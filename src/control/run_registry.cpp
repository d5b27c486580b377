#include "control/run_registry.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>

#include "auth/token_generator.h"

namespace ferry {

Expected<std::string> generate_run_id() {
  std::array<unsigned char, 8> bytes{};
  if (RAND_bytes(bytes.data(), int(bytes.size())) != 1) return fail("the random generator failed: no run id made");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  id.reserve(16);
  for (unsigned char b : bytes) {
    id.push_back(kHex[b >> 4]);
    id.push_back(kHex[b & 15]);
  }
  return id;
}

std::string format_utc(std::chrono::system_clock::time_point t) {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(std::chrono::system_clock::to_time_t(t)));
}

RunRegistry::RunRegistry(RunHooks hooks, RunLimits limits) : hooks_(std::move(hooks)), limits_(limits) {}

RunRegistry::~RunRegistry() = default;

Expected<std::string, RunError> RunRegistry::reserve_id() {
  std::lock_guard lock(mutex_);
  if (runs_.size() + reserved_.size() >= limits_.max_runs)
    return Unexpected{RunError{RunError::Kind::full, "too many runs (at most " + std::to_string(limits_.max_runs) +
                                                         "); delete finished ones"}};
  for (;;) {
    auto id = generate_run_id();
    if (!id) return Unexpected{RunError{RunError::Kind::internal, id.error()}};
    if (runs_.count(*id) || reserved_.count(*id)) continue;  // 64 random bits: practically never
    reserved_.insert(*id);
    return std::move(*id);
  }
}

Expected<CreatedRun, RunError> RunRegistry::create(const RunSpec& spec) {
  const Millis ttl = spec.ttl == Millis(0) ? limits_.default_ttl : spec.ttl;
  if (ttl < Millis(0) || ttl > limits_.max_ttl)
    return Unexpected{RunError{RunError::Kind::invalid, "ttl " + format_duration(ttl) + " is out of range (at most " +
                                                            format_duration(limits_.max_ttl) + ")"}};
  auto id = reserve_id();
  if (!id) return Unexpected{id.error()};
  // Outside the lock: building a profile parses rules and policy.
  auto made = make_run(spec, *id, ttl);
  std::lock_guard lock(mutex_);
  reserved_.erase(*id);
  if (!made) return Unexpected{made.error()};
  auto& [run, token] = *made;
  runs_.emplace(run->id, run);
  hooks_.activated(*run, token);
  CreatedRun out{std::move(run), Secret(token)};
  cleanse_string(token);
  return out;
}

Expected<std::pair<std::shared_ptr<Run>, std::string>, RunError> RunRegistry::make_run(const RunSpec& spec,
                                                                                       const std::string& id,
                                                                                       Millis ttl) const {
  auto profile = hooks_.make_profile(spec, id);
  if (!profile) return Unexpected{RunError{RunError::Kind::invalid, profile.error()}};
  auto token = generate_client_token();
  if (!token) return Unexpected{RunError{RunError::Kind::internal, token.error()}};
  auto run = std::make_shared<Run>();
  run->id = id;
  run->profile_name = spec.profile;
  run->ttl = ttl;
  run->profile = std::move(*profile);
  run->created = std::chrono::system_clock::now();
  run->expires = run->created + ttl;
  run->deadline = std::chrono::steady_clock::now() + ttl;
  return std::pair{std::move(run), std::move(*token)};
}

std::vector<RunPtr> RunRegistry::list() const {
  std::vector<RunPtr> out;
  {
    std::lock_guard lock(mutex_);
    out.reserve(runs_.size());
    for (const auto& [id, run] : runs_) out.push_back(run);
  }
  std::sort(out.begin(), out.end(), [](const RunPtr& a, const RunPtr& b) {
    return a->created != b->created ? a->created < b->created : a->id < b->id;
  });
  return out;
}

RunPtr RunRegistry::get(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = runs_.find(id);
  return it == runs_.end() ? nullptr : it->second;
}

bool RunRegistry::remove(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto it = runs_.find(id);
  if (it == runs_.end()) return false;
  RunPtr run = std::move(it->second);
  runs_.erase(it);
  hooks_.revoked(*run);
  return true;
}

size_t RunRegistry::expire(std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (auto it = runs_.begin(); it != runs_.end();) {
    if (it->second->deadline > now) {
      ++it;
      continue;
    }
    RunPtr run = std::move(it->second);
    it = runs_.erase(it);
    hooks_.revoked(*run);
    ++n;
  }
  return n;
}

std::optional<std::chrono::steady_clock::time_point> RunRegistry::next_expiry() const {
  std::lock_guard lock(mutex_);
  std::optional<std::chrono::steady_clock::time_point> next;
  for (const auto& [id, run] : runs_)
    if (!next || run->deadline < *next) next = run->deadline;
  return next;
}

size_t RunRegistry::size() const {
  std::lock_guard lock(mutex_);
  return runs_.size();
}

}  // namespace ferry
