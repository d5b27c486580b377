#include "auth/client_tokens.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <unordered_set>

#include "auth/basic_auth.h"
#include "base/host_port.h"  // iequals

namespace ferry {

// HMAC-SHA256 (RFC 2104) from two SHA-256 states primed with the padded key
// once: a lookup copies them instead of keying a MAC context again, about
// 180 ns a token where EVP_MAC_CTX_dup costs 470 and one-shot HMAC() 1 µs
// (it fetches the algorithm each call). The states are only read by
// digest(), so concurrent lookups share them.
struct ClientTokenStore::Mac {
  EVP_MD* md = nullptr;
  EVP_MD_CTX* inner = nullptr;  // SHA-256 after (key ^ ipad)
  EVP_MD_CTX* outer = nullptr;  // SHA-256 after (key ^ opad)

  explicit Mac(const Key& key) {
    md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    inner = EVP_MD_CTX_new();
    outer = EVP_MD_CTX_new();
    std::array<unsigned char, 64> ipad{}, opad{};  // SHA-256's block; the key fits
    for (size_t i = 0; i < ipad.size(); ++i) {
      const unsigned char k = i < key.size() ? key[i] : 0;
      ipad[i] = k ^ 0x36;
      opad[i] = k ^ 0x5c;
    }
    const bool ok = md && inner && outer && EVP_DigestInit_ex(inner, md, nullptr) == 1 &&
                    EVP_DigestUpdate(inner, ipad.data(), ipad.size()) == 1 &&
                    EVP_DigestInit_ex(outer, md, nullptr) == 1 &&
                    EVP_DigestUpdate(outer, opad.data(), opad.size()) == 1;
    OPENSSL_cleanse(ipad.data(), ipad.size());
    OPENSSL_cleanse(opad.data(), opad.size());
    if (!ok) {
      release();
      throw std::runtime_error("SHA-256 is not available: no client token store");
    }
  }
  ~Mac() { release(); }
  Mac(const Mac&) = delete;
  Mac& operator=(const Mac&) = delete;

  void release() {
    EVP_MD_CTX_free(inner);
    EVP_MD_CTX_free(outer);
    EVP_MD_free(md);
    inner = outer = nullptr;
    md = nullptr;
  }
};

size_t ClientTokenStore::DigestHash::operator()(const Digest& d) const noexcept {
  // The digest is already uniform and unpredictable without the key.
  size_t h;
  std::memcpy(&h, d.data(), sizeof h);
  return h;
}

bool ClientTokenStore::DigestEqual::operator()(const Digest& a, const Digest& b) const noexcept {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Expected<std::unique_ptr<ClientTokenStore>> ClientTokenStore::create() {
  Key key{};
  if (RAND_bytes(key.data(), int(key.size())) != 1) return fail("the random generator failed: no client token store");
  std::unique_ptr<ClientTokenStore> store;
  try {
    store = std::make_unique<ClientTokenStore>(key);
  } catch (const std::exception& e) {
    OPENSSL_cleanse(key.data(), key.size());
    return fail(e.what());
  }
  OPENSSL_cleanse(key.data(), key.size());
  return store;
}

ClientTokenStore::ClientTokenStore(const Key& key) : mac_(std::make_unique<Mac>(key)) {}

ClientTokenStore::~ClientTokenStore() = default;

ClientTokenStore::Digest ClientTokenStore::digest(std::string_view token) const {
  Digest inner_hash{}, out{};
  unsigned n = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok =
      ctx && EVP_MD_CTX_copy_ex(ctx, mac_->inner) == 1 && EVP_DigestUpdate(ctx, token.data(), token.size()) == 1 &&
      EVP_DigestFinal_ex(ctx, inner_hash.data(), &n) == 1 && EVP_MD_CTX_copy_ex(ctx, mac_->outer) == 1 &&
      EVP_DigestUpdate(ctx, inner_hash.data(), inner_hash.size()) == 1 && EVP_DigestFinal_ex(ctx, out.data(), &n) == 1;
  EVP_MD_CTX_free(ctx);  // wipes the state, which held the token's last block
  OPENSSL_cleanse(inner_hash.data(), inner_hash.size());
  // Out of memory in OpenSSL: no digest, and no exception on the data path.
  // An all-zero digest is never stored (add refuses it), so find misses.
  if (!ok) out.fill(0);
  return out;
}

namespace {

// A Secret holding a copy of `bytes`, leaving no unwiped copy behind (a
// moved-from short string keeps its bytes in its inline buffer).
Secret secret_copy(std::string_view bytes) {
  std::string copy(bytes);
  Secret secret(std::move(copy));
  cleanse_string(copy);
  return secret;
}

bool all_zero(const ClientTokenStore::Digest& d) {
  unsigned char acc = 0;
  for (unsigned char b : d) acc |= b;
  return acc == 0;
}

}  // namespace

void ClientTokenStore::insert_locked(const Digest& d, TokenOwnerPtr owner) {
  by_owner_[owner->id].push_back(d);
  by_digest_.emplace(d, std::move(owner));
}

void ClientTokenStore::erase_owner_locked(const std::string& id) {
  auto it = by_owner_.find(id);
  if (it == by_owner_.end()) return;
  for (const Digest& d : it->second) {
    auto found = by_digest_.find(d);
    if (found == by_digest_.end()) continue;
    found->second->revoked.store(true, std::memory_order_release);
    by_digest_.erase(found);
  }
  by_owner_.erase(it);
}

Expected<bool> ClientTokenStore::add(std::string_view token, TokenOwnerPtr owner) {
  if (!owner) return fail("client token without an owner");
  if (token.empty()) return fail("empty client token for " + owner->id);
  const Digest d = digest(token);
  if (all_zero(d)) return fail("could not hash the client token of " + owner->id);
  std::unique_lock lock(mutex_);
  if (auto it = by_digest_.find(d); it != by_digest_.end())
    return fail("the client token of " + owner->id + " is already registered (to " + it->second->id + ")");
  insert_locked(d, std::move(owner));
  return true;
}

size_t ClientTokenStore::remove_owner(std::string_view id) {
  std::unique_lock lock(mutex_);
  auto it = by_owner_.find(std::string(id));
  if (it == by_owner_.end()) return 0;
  const size_t n = it->second.size();
  erase_owner_locked(it->first);
  return n;
}

Expected<bool> ClientTokenStore::replace_group(std::string_view id_prefix, std::vector<Entry> entries) {
  // Hash outside the lock: lookups are not held up by the reload.
  std::vector<Digest> digests;
  digests.reserve(entries.size());
  for (const Entry& e : entries) {
    if (!e.owner) return fail("client token without an owner");
    if (e.token.empty()) return fail("empty client token for " + e.owner->id);
    digests.push_back(digest(e.token.view()));
    if (all_zero(digests.back())) return fail("could not hash the client token of " + e.owner->id);
  }
  auto in_group = [&](const std::string& id) { return id.compare(0, id_prefix.size(), id_prefix) == 0; };
  std::unique_lock lock(mutex_);
  std::unordered_map<Digest, size_t, DigestHash, DigestEqual> seen;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (auto [it, fresh] = seen.emplace(digests[i], i); !fresh)
      return fail("the client tokens of " + entries[it->second].owner->id + " and " + entries[i].owner->id +
                  " are the same");
    if (auto it = by_digest_.find(digests[i]); it != by_digest_.end() && !in_group(it->second->id))
      return fail("the client token of " + entries[i].owner->id + " is already registered (to " + it->second->id + ")");
  }
  std::vector<std::string> old;
  for (const auto& [id, unused] : by_owner_)
    if (in_group(id)) old.push_back(id);
  for (const std::string& id : old) erase_owner_locked(id);
  for (size_t i = 0; i < entries.size(); ++i) insert_locked(digests[i], std::move(entries[i].owner));
  return true;
}

std::shared_ptr<const TokenOwner> ClientTokenStore::find(std::string_view token, Clock::time_point now) const {
  if (token.empty()) return nullptr;
  const Digest d = digest(token);
  std::shared_ptr<const TokenOwner> owner;
  {
    std::shared_lock lock(mutex_);
    auto it = by_digest_.find(d);
    if (it == by_digest_.end()) return nullptr;
    owner = it->second;
  }
  if (!owner->valid_at(now)) return nullptr;
  return owner;
}

std::vector<TokenOwnerPtr> ClientTokenStore::purge_expired(Clock::time_point now) {
  std::vector<TokenOwnerPtr> expired;
  std::unordered_set<const TokenOwner*> seen;  // an owner with several tokens is listed once
  std::unique_lock lock(mutex_);
  for (const auto& [d, owner] : by_digest_)
    if (now >= owner->expires && seen.insert(owner.get()).second) expired.push_back(owner);
  for (const TokenOwnerPtr& owner : expired) erase_owner_locked(owner->id);
  return expired;
}

size_t ClientTokenStore::size() const {
  std::shared_lock lock(mutex_);
  return by_digest_.size();
}

std::vector<ClientTokenStore::Digest> ClientTokenStore::digests() const {
  std::shared_lock lock(mutex_);
  std::vector<Digest> out;
  out.reserve(by_digest_.size());
  for (const auto& [d, owner] : by_digest_) out.push_back(d);
  return out;
}

// ---- the tokens file ----

std::string tokens_file_owner_id(size_t line) { return "tokens-file:" + std::to_string(line); }

namespace {

constexpr size_t kMinTokenLength = 16;
constexpr size_t kMaxTokensFile = 16 * 1024 * 1024;

bool blank(char c) { return c == ' ' || c == '\t'; }
bool token_byte(char c) { return c >= 0x21 && c <= 0x7e; }

// Reads the whole file through a wiped buffer; false with errno on failure.
bool read_all(int fd, std::string& out) {
  char buf[8192];
  bool ok = true;
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || out.size() + size_t(n) > kMaxTokensFile) {
      if (n > 0) errno = EFBIG;
      ok = n == 0;
      break;
    }
    if (out.capacity() < out.size() + size_t(n)) {
      // Grow by hand so the old buffer is wiped, not just freed.
      std::string bigger;
      bigger.reserve(2 * (out.size() + size_t(n)));
      bigger.append(out);
      cleanse_string(out);
      out.swap(bigger);
    }
    out.append(buf, size_t(n));
  }
  OPENSSL_cleanse(buf, sizeof buf);
  return ok;
}

// Splits one line (no line ending) into at most 3 fields; returns the count
// seen (3 means "more than two").
size_t split_fields(std::string_view line, std::string_view (&fields)[3]) {
  size_t count = 0, i = 0;
  while (count < 3) {
    while (i < line.size() && blank(line[i])) ++i;
    if (i == line.size()) break;
    size_t start = i;
    while (i < line.size() && !blank(line[i])) ++i;
    fields[count++] = line.substr(start, i - start);
  }
  return count;
}

Expected<TokensFile> parse_tokens(const std::string& path, std::string_view text) {
  TokensFile file;
  std::unordered_map<std::string_view, size_t> first_line;  // views into `text`
  auto at = [&path](size_t line) { return "--client-tokens " + path + " line " + std::to_string(line) + ": "; };
  size_t line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    ++line_no;
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::string_view fields[3];
    const size_t n = split_fields(line, fields);
    if (n == 0 || fields[0].front() == '#') continue;
    if (n > 2) return fail(at(line_no) + "expected TOKEN [PROFILE], found more than two fields");
    const std::string_view token = fields[0];
    if (token.size() < kMinTokenLength)
      return fail(at(line_no) + "the token is shorter than " + std::to_string(kMinTokenLength) + " characters");
    for (char c : token)
      if (!token_byte(c)) return fail(at(line_no) + "the token holds a character outside printable ASCII");
    if (n == 2)
      for (char c : fields[1])
        if (!token_byte(c)) return fail(at(line_no) + "the profile name holds a character outside printable ASCII");
    if (auto [it, fresh] = first_line.emplace(token, line_no); !fresh)
      return fail(at(line_no) + "the same token as line " + std::to_string(it->second));
    file.tokens.push_back(TokenLine{secret_copy(token), std::string(n == 2 ? fields[1] : ""), line_no});
  }
  return file;
}

}  // namespace

Expected<TokensFile> load_tokens_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail("--client-tokens " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail("--client-tokens " + path + ": not a regular file");
  }
  std::string text;
  const bool ok = read_all(fd, text);
  const int read_errno = errno;
  ::close(fd);
  if (!ok) {
    cleanse_string(text);
    return fail("--client-tokens " + path + ": " + std::strerror(read_errno));
  }
  auto parsed = parse_tokens(path, text);
  cleanse_string(text);
  if (!parsed) return parsed;
  parsed->mode = unsigned(st.st_mode & 07777);
  parsed->readable_by_others = (st.st_mode & (S_IRWXG | S_IRWXO)) != 0;
  return parsed;
}

// ---- Proxy-Authorization ----

namespace {

std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<Secret> client_token_from(std::string_view value) {
  value = trim_blanks(value);
  const size_t space = value.find_first_of(" \t");
  if (space == std::string_view::npos) return std::nullopt;
  const std::string_view scheme = value.substr(0, space);
  const std::string_view credentials = trim_blanks(value.substr(space));
  if (credentials.empty()) return std::nullopt;
  if (iequals(scheme, "bearer")) {
    if (credentials.find_first_of(" \t") != std::string_view::npos) return std::nullopt;
    return secret_copy(credentials);
  }
  if (!iequals(scheme, "basic")) return std::nullopt;
  std::string plain;
  std::optional<Secret> token;
  if (auth::base64_decode(credentials, plain)) {
    const size_t colon = plain.find(':');
    if (colon != std::string::npos && colon + 1 < plain.size())
      token = secret_copy(std::string_view(plain).substr(colon + 1));
  }
  cleanse_string(plain);
  return token;
}

}  // namespace ferry
