#pragma once
// Client tokens (SPEC §7 "Client tokens", issue 9): what a client presents
// to use ferry when tokens are required, and who it belongs to.
//
// The store never holds a token in clear. Each store draws a random 32-byte
// key when it is made and keeps HMAC-SHA256(key, token) as the map key; a
// lookup hashes what the client sent and looks the digest up. Why that is
// safe against timing attacks although a hash map compares keys piecewise:
// the attacker chooses the token but cannot predict its digest without the
// key, so how long a lookup takes (which bucket, how many digest bytes
// matched before a mismatch) tells them about the digest of their own guess
// only, never about a stored token, and a near miss cannot be steered closer.
// The digest comparison itself is CRYPTO_memcmp (constant time) anyway, and
// the bucket index comes from the digest too, so a flood of chosen tokens
// cannot be aimed at one bucket either.
//
// Logs name TokenOwner::id ("run:3f2a…", "tokens-file:12"), never a token.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/expected.h"
#include "base/secret.h"
#include "policy/profile.h"

namespace ferry {

struct TokenOwner {
  using Clock = std::chrono::steady_clock;

  // What logs name: "run:<id>" for a run, "tokens-file:<LINE>" for a line of
  // --client-tokens. Keep ids unique within a store: remove_owner(id)
  // removes every token registered under the id.
  std::string id;
  // A static profile's name ([profiles.NAME]); "" = none (the global rules).
  std::string profile;
  // A run's own profile; null for file tokens (they name `profile` instead).
  ProfilePtr run_profile;
  // After this the token is refused. time_point::max() = never (file tokens).
  Clock::time_point expires = Clock::time_point::max();
  // Set by remove_owner/purge_expired/replace_group, before the token leaves
  // the store: a tunnel that holds its owner checks this to close itself.
  std::atomic<bool> revoked{false};

  bool valid_at(Clock::time_point now) const { return !revoked.load(std::memory_order_acquire) && now < expires; }
};

using TokenOwnerPtr = std::shared_ptr<TokenOwner>;

// Thread-safe: workers call find() concurrently while the control API adds
// and removes runs. One shared_mutex: find() takes it shared (readers do not
// block each other), add/remove take it exclusively for a hash-map insert or
// erase, O(1): no copy of the map per change.
class ClientTokenStore {
 public:
  using Clock = TokenOwner::Clock;
  using Digest = std::array<unsigned char, 32>;
  using Key = std::array<unsigned char, 32>;

  // A store with a fresh random key (OpenSSL CSPRNG); fails only when the
  // random generator does.
  static Expected<std::unique_ptr<ClientTokenStore>> create();
  // A store with a given key: for tests only (a known key is a weaker store).
  explicit ClientTokenStore(const Key& key);
  ~ClientTokenStore();
  ClientTokenStore(const ClientTokenStore&) = delete;
  ClientTokenStore& operator=(const ClientTokenStore&) = delete;

  // Registers `token` for `owner` (true). Errors (naming owner->id, never the
  // token): the token is already registered (to anyone), the token is empty,
  // or owner is null. The store keeps the digest, not the token.
  Expected<bool> add(std::string_view token, TokenOwnerPtr owner);

  // Revokes (sets `revoked`) and removes every token of the owner `id`.
  // Returns how many tokens were removed (0: unknown id).
  size_t remove_owner(std::string_view id);

  // Atomically replaces every owner whose id starts with `id_prefix` by
  // `entries` (reloading --client-tokens: "tokens-file:"), so no request sees
  // a moment with neither the old nor the new tokens. Removed owners are
  // revoked. On error (a token registered twice, in `entries` or to an owner
  // outside the group) nothing changes; the error names the owner ids.
  struct Entry {
    Secret token;
    TokenOwnerPtr owner;
  };
  Expected<bool> replace_group(std::string_view id_prefix, std::vector<Entry> entries);

  // The token's owner, or null when the token is unknown, revoked or expired
  // at `now`. Its time depends on the token's length, not on how much of it
  // matches a stored token (see the top of the file). About 250 ns with
  // 10,000 tokens (bench/micro/client_tokens_bench.cpp), most of it HMAC.
  std::shared_ptr<const TokenOwner> find(std::string_view token, Clock::time_point now) const;

  // Removes (and revokes) owners expired at `now` and returns them, so the
  // caller can log their ids and close their tunnels. O(n): call it on a
  // timer (once a second), not per request; find() already refuses an
  // expired token in between.
  std::vector<TokenOwnerPtr> purge_expired(Clock::time_point now);

  size_t size() const;

  // The map's keys: what the store holds per token (digests, never tokens).
  // For tests and diagnostics.
  std::vector<Digest> digests() const;

 private:
  struct DigestHash {
    size_t operator()(const Digest& d) const noexcept;
  };
  struct DigestEqual {
    bool operator()(const Digest& a, const Digest& b) const noexcept;
  };
  struct Mac;  // the keyed HMAC state, made once

  Digest digest(std::string_view token) const;
  // Both with mutex_ held exclusively.
  void erase_owner_locked(const std::string& id);
  void insert_locked(const Digest& d, TokenOwnerPtr owner);

  std::unique_ptr<Mac> mac_;
  mutable std::shared_mutex mutex_;
  std::unordered_map<Digest, TokenOwnerPtr, DigestHash, DigestEqual> by_digest_;
  std::unordered_map<std::string, std::vector<Digest>> by_owner_;
};

// One token line of a --client-tokens file: `TOKEN [PROFILE]`.
struct TokenLine {
  Secret token;
  std::string profile;  // "" = none
  size_t line = 0;      // 1-based, for "tokens-file:LINE" ids and errors
};

struct TokensFile {
  std::vector<TokenLine> tokens;
  // Group or others may read the file (mode & 077): the caller warns.
  bool readable_by_others = false;
  unsigned mode = 0;  // st_mode & 07777, for that warning
};

// Reads a --client-tokens file. Blank lines and lines starting with `#`
// (after leading blanks) are skipped; each other line is TOKEN, then an
// optional PROFILE name, separated by spaces or tabs. Errors name the file
// and the line number, never a token: more than two fields, a token shorter
// than 16 characters or with a byte outside printable ASCII (0x21..0x7E), a
// token given twice, an unreadable file. The file's bytes are wiped.
Expected<TokensFile> load_tokens_file(const std::string& path);

// The token from a Proxy-Authorization value, or nullopt:
//   "Basic base64(USER:TOKEN)"  any USER, possibly empty; the token is the
//                               password (HTTP_PROXY=http://run:TOKEN@host)
//   "Bearer TOKEN"
// Schemes are case-insensitive; blanks around the value and between scheme
// and credentials are tolerated. nullopt for another scheme, invalid base64,
// no ':' in the Basic credentials, or an empty token. Intermediate copies
// (the decoded USER:TOKEN) are wiped; the result is a Secret.
std::optional<Secret> client_token_from(std::string_view proxy_authorization_value);

// The owner id of a --client-tokens line: "tokens-file:LINE".
std::string tokens_file_owner_id(size_t line);

}  // namespace ferry
