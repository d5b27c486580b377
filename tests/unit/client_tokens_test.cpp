// Client tokens: the store (keyed digests, expiry, revocation, concurrent
// use), the --client-tokens file and the token in Proxy-Authorization.
#include "auth/client_tokens.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "auth/basic_auth.h"
#include "auth/token_generator.h"

namespace ferry {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

bool contains(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }

std::string new_token() {
  auto t = generate_client_token();
  EXPECT_TRUE(t.has_value());
  return t ? *t : std::string();
}

TokenOwnerPtr owner(std::string id, Clock::time_point expires = Clock::time_point::max()) {
  auto o = std::make_shared<TokenOwner>();
  o->id = std::move(id);
  o->expires = expires;
  return o;
}

std::unique_ptr<ClientTokenStore> new_store() {
  auto s = ClientTokenStore::create();
  EXPECT_TRUE(s.has_value());
  return s ? std::move(*s) : nullptr;
}

// ---- the store ----

TEST(ClientTokenStore, AddFindRemove) {
  auto store = new_store();
  const auto now = Clock::now();
  const std::string a = new_token(), b = new_token();
  ASSERT_TRUE(store->add(a, owner("run:a")));
  auto file_owner = owner("tokens-file:3");
  file_owner->profile = "ci";
  ASSERT_TRUE(store->add(b, file_owner));
  EXPECT_EQ(store->size(), 2u);

  auto found = store->find(a, now);
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->id, "run:a");
  found = store->find(b, now);
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->id, "tokens-file:3");
  EXPECT_EQ(found->profile, "ci");

  EXPECT_EQ(store->remove_owner("run:a"), 1u);
  EXPECT_EQ(store->find(a, now), nullptr);
  EXPECT_NE(store->find(b, now), nullptr);
  EXPECT_EQ(store->remove_owner("run:a"), 0u);
  EXPECT_EQ(store->size(), 1u);
}

TEST(ClientTokenStore, WrongTokensMiss) {
  auto store = new_store();
  const std::string token = new_token();
  ASSERT_TRUE(store->add(token, owner("run:x")));
  const auto now = Clock::now();
  std::string near = token;
  near.back() = near.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(store->find(near, now), nullptr);
  EXPECT_EQ(store->find(token.substr(0, token.size() - 1), now), nullptr);
  EXPECT_EQ(store->find(token + "x", now), nullptr);
  EXPECT_EQ(store->find("", now), nullptr);
  EXPECT_NE(store->find(token, now), nullptr);
}

TEST(ClientTokenStore, DuplicateTokenIsAnErrorNamingOwnersNotTheToken) {
  auto store = new_store();
  const std::string token = new_token();
  ASSERT_TRUE(store->add(token, owner("run:first")));
  auto again = store->add(token, owner("run:second"));
  ASSERT_FALSE(again);
  EXPECT_TRUE(contains(again.error(), "run:second")) << again.error();
  EXPECT_TRUE(contains(again.error(), "run:first")) << again.error();
  EXPECT_FALSE(contains(again.error(), token));
  EXPECT_EQ(store->find(token, Clock::now())->id, "run:first");
  EXPECT_FALSE(store->add("", owner("run:empty")));
  EXPECT_FALSE(store->add(new_token(), nullptr));
}

TEST(ClientTokenStore, ExpiredTokensMissAndArePurged) {
  auto store = new_store();
  const auto t0 = Clock::now();
  const std::string short_lived = new_token(), forever = new_token();
  ASSERT_TRUE(store->add(short_lived, owner("run:short", t0 + 10min)));
  ASSERT_TRUE(store->add(forever, owner("tokens-file:1")));
  EXPECT_NE(store->find(short_lived, t0 + 10min - 1ns), nullptr);
  EXPECT_EQ(store->find(short_lived, t0 + 10min), nullptr);  // expiry is exclusive
  EXPECT_NE(store->find(forever, t0 + 24h * 365 * 100), nullptr);

  EXPECT_TRUE(store->purge_expired(t0).empty());
  auto purged = store->purge_expired(t0 + 11min);
  ASSERT_EQ(purged.size(), 1u);
  EXPECT_EQ(purged[0]->id, "run:short");
  EXPECT_TRUE(purged[0]->revoked.load());
  EXPECT_EQ(store->size(), 1u);
}

TEST(ClientTokenStore, RemovalRevokesTheOwnerATunnelHolds) {
  auto store = new_store();
  const std::string token = new_token();
  ASSERT_TRUE(store->add(token, owner("run:r")));
  auto held = store->find(token, Clock::now());  // an open tunnel keeps this
  ASSERT_NE(held, nullptr);
  EXPECT_TRUE(held->valid_at(Clock::now()));
  store->remove_owner("run:r");
  EXPECT_TRUE(held->revoked.load());
  EXPECT_FALSE(held->valid_at(Clock::now()));
  EXPECT_EQ(store->find(token, Clock::now()), nullptr);
  // A revoked owner still in the store (revoked by its holder) is refused too.
  const std::string other = new_token();
  auto o = owner("run:o");
  ASSERT_TRUE(store->add(other, o));
  o->revoked = true;
  EXPECT_EQ(store->find(other, Clock::now()), nullptr);
}

TEST(ClientTokenStore, ReplaceGroupSwapsFileTokensAtOnce) {
  auto store = new_store();
  const std::string run = new_token(), old1 = new_token(), old2 = new_token(), kept = new_token(), fresh = new_token();
  ASSERT_TRUE(store->add(run, owner("run:1")));
  ASSERT_TRUE(store->add(old1, owner("tokens-file:1")));
  auto old2_owner = owner("tokens-file:2");
  ASSERT_TRUE(store->add(old2, old2_owner));
  ASSERT_TRUE(store->add(kept, owner("tokens-file:3")));

  std::vector<ClientTokenStore::Entry> entries;
  entries.push_back({Secret(kept), owner("tokens-file:1")});  // a token that moved lines stays valid
  entries.push_back({Secret(fresh), owner("tokens-file:2")});
  ASSERT_TRUE(store->replace_group("tokens-file:", std::move(entries)));
  const auto now = Clock::now();
  EXPECT_EQ(store->find(old1, now), nullptr);
  EXPECT_EQ(store->find(old2, now), nullptr);
  EXPECT_TRUE(old2_owner->revoked.load());
  EXPECT_EQ(store->find(kept, now)->id, "tokens-file:1");
  EXPECT_EQ(store->find(fresh, now)->id, "tokens-file:2");
  EXPECT_EQ(store->find(run, now)->id, "run:1");
  EXPECT_EQ(store->size(), 3u);

  // A run's token in the new file, or one token twice: refused, nothing changes.
  std::vector<ClientTokenStore::Entry> clash;
  clash.push_back({Secret(run), owner("tokens-file:1")});
  auto err = store->replace_group("tokens-file:", std::move(clash));
  ASSERT_FALSE(err);
  EXPECT_TRUE(contains(err.error(), "run:1")) << err.error();
  EXPECT_FALSE(contains(err.error(), run));
  std::vector<ClientTokenStore::Entry> twice;
  twice.push_back({Secret(fresh), owner("tokens-file:1")});
  twice.push_back({Secret(fresh), owner("tokens-file:2")});
  err = store->replace_group("tokens-file:", std::move(twice));
  ASSERT_FALSE(err);
  EXPECT_TRUE(contains(err.error(), "tokens-file:1") && contains(err.error(), "tokens-file:2")) << err.error();
  EXPECT_EQ(store->find(kept, now)->id, "tokens-file:1");
  EXPECT_EQ(store->find(fresh, now)->id, "tokens-file:2");
  EXPECT_EQ(store->size(), 3u);
}

// The map's keys are HMAC-SHA256(store key, token): no token byte is kept.
TEST(ClientTokenStore, HoldsKeyedDigestsNotTokens) {
  ClientTokenStore::Key key{};
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<unsigned char>(i * 7 + 1);
  ClientTokenStore store(key);
  std::vector<std::string> tokens;
  for (int i = 0; i < 50; ++i) {
    tokens.push_back(new_token());
    ASSERT_TRUE(store.add(tokens.back(), owner("run:" + std::to_string(i))));
  }
  auto digests = store.digests();
  ASSERT_EQ(digests.size(), tokens.size());
  std::string all_keys;
  for (const auto& d : digests) all_keys.append(reinterpret_cast<const char*>(d.data()), d.size());
  for (const std::string& t : tokens) {
    unsigned char expected[32];
    unsigned n = 0;
    HMAC(EVP_sha256(), key.data(), int(key.size()), reinterpret_cast<const unsigned char*>(t.data()), t.size(),
         expected, &n);
    ASSERT_EQ(n, 32u);
    EXPECT_TRUE(contains(all_keys, std::string_view(reinterpret_cast<const char*>(expected), n)));
    // No 6-byte run of any token appears among the keys.
    for (size_t i = 0; i + 6 <= t.size(); ++i) ASSERT_FALSE(contains(all_keys, std::string_view(t).substr(i, 6)));
  }
  // Random keys: the same token has a different digest in another store.
  auto s1 = new_store(), s2 = new_store();
  ASSERT_TRUE(s1->add(tokens[0], owner("a")));
  ASSERT_TRUE(s2->add(tokens[0], owner("a")));
  EXPECT_NE(s1->digests()[0], s2->digests()[0]);
}

TEST(ClientTokenStore, ConcurrentFindWhileAddingAndRemoving) {
  auto store = new_store();
  std::vector<std::string> stable;
  for (int i = 0; i < 200; ++i) {
    stable.push_back(new_token());
    ASSERT_TRUE(store->add(stable.back(), owner("tokens-file:" + std::to_string(i + 1))));
  }
  std::vector<std::string> churn;
  for (int i = 0; i < 2000; ++i) churn.push_back(new_token());
  std::atomic<bool> done{false};
  std::atomic<long> misses{0}, lookups{0};
  auto reader = [&] {
    size_t i = 0;
    while (!done.load()) {
      const std::string& t = stable[i++ % stable.size()];
      if (!store->find(t, Clock::now())) misses.fetch_add(1);
      lookups.fetch_add(1);
    }
  };
  std::thread r1(reader), r2(reader);
  while (lookups.load() < 100) std::this_thread::yield();  // both sides really overlap
  for (size_t i = 0; i < churn.size(); ++i) {
    ASSERT_TRUE(store->add(churn[i], owner("run:" + std::to_string(i))));
    if (i % 2) store->remove_owner("run:" + std::to_string(i - 1));
    if (i % 100 == 0) {  // let the readers in between adds, however the threads are scheduled
      const long seen = lookups.load();
      while (lookups.load() < seen + 10) std::this_thread::yield();
    }
  }
  done = true;
  r1.join();
  r2.join();
  EXPECT_EQ(misses.load(), 0);
  EXPECT_EQ(store->size(), stable.size() + churn.size() / 2);
  for (size_t i = 0; i < churn.size(); ++i) EXPECT_EQ(store->find(churn[i], Clock::now()) != nullptr, i % 2 == 1) << i;
}

// ---- the tokens file ----

class TokensFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ferry_client_tokens_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string write(const std::string& content, mode_t mode = 0600) {
    std::string path = (dir_ / "tokens").string();
    {
      std::ofstream f(path, std::ios::binary | std::ios::trunc);
      f << content;
    }
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    return path;
  }
  fs::path dir_;
};

TEST_F(TokensFileTest, Parses) {
  const std::string a = "aaaaaaaaaaaaaaaa", b = "b!\"#$%&'()*+,-./0123456789:;<=>?@[\\]^_`{|}~";
  auto path =
      write("# tokens for CI\n\n" + a + "\n   \t\r\n\t" + b + "\tci\r\n  # indented comment\n" + a + "x  other   ");
  auto file = load_tokens_file(path);
  ASSERT_TRUE(file) << file.error();
  ASSERT_EQ(file->tokens.size(), 3u);
  EXPECT_EQ(file->tokens[0].token.view(), a);
  EXPECT_EQ(file->tokens[0].profile, "");
  EXPECT_EQ(file->tokens[0].line, 3u);
  EXPECT_EQ(file->tokens[1].token.view(), b);
  EXPECT_EQ(file->tokens[1].profile, "ci");
  EXPECT_EQ(file->tokens[1].line, 5u);
  EXPECT_EQ(file->tokens[2].token.view(), a + "x");
  EXPECT_EQ(file->tokens[2].profile, "other");
  EXPECT_EQ(file->tokens[2].line, 7u);
  EXPECT_FALSE(file->readable_by_others);
  EXPECT_EQ(file->mode, 0600u);
  EXPECT_EQ(tokens_file_owner_id(file->tokens[1].line), "tokens-file:5");

  auto empty = load_tokens_file(write("# nothing yet\n"));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->tokens.empty());
}

TEST_F(TokensFileTest, ReadableByOthersIsFlagged) {
  auto file = load_tokens_file(write("0123456789abcdef\n", 0644));
  ASSERT_TRUE(file);
  EXPECT_TRUE(file->readable_by_others);
  EXPECT_EQ(file->mode, 0644u);
  file = load_tokens_file(write("0123456789abcdef\n", 0640));
  ASSERT_TRUE(file);
  EXPECT_TRUE(file->readable_by_others);
}

TEST_F(TokensFileTest, ErrorsNameTheLineNeverTheToken) {
  const std::string good = "goodtoken-0123456789";
  struct Case {
    std::string bad_line;  // goes on line 3
    std::string secret;    // must not appear in the error
    std::string says;
  };
  const Case cases[] = {
      {"tooshort-123456", "tooshort-123456", "shorter than 16"},
      {"secrettoken-0123456789 ci extra", "secrettoken-0123456789", "more than two fields"},
      {"secret\x7ftoken-0123456789", "secret", "printable ASCII"},
      {"secret\xc3\xa9token-0123456789", "secret", "printable ASCII"},
      {"secret\x01token-0123456789", "secret", "printable ASCII"},
      {"secrettoken-0123456789 c\x01i", "secrettoken-0123456789", "profile name"},
      {good, good, "same token as line 1"},
  };
  for (const Case& c : cases) {
    auto path = write(good + "\n# comment\n" + c.bad_line + "\n");
    auto file = load_tokens_file(path);
    ASSERT_FALSE(file) << c.bad_line;
    EXPECT_TRUE(contains(file.error(), path)) << file.error();
    EXPECT_TRUE(contains(file.error(), "line 3")) << file.error();
    EXPECT_TRUE(contains(file.error(), c.says)) << file.error();
    EXPECT_FALSE(contains(file.error(), c.secret)) << file.error();
    EXPECT_FALSE(contains(file.error(), good)) << file.error();
  }
}

TEST_F(TokensFileTest, UnreadableFile) {
  auto file = load_tokens_file((dir_ / "missing").string());
  ASSERT_FALSE(file);
  EXPECT_TRUE(contains(file.error(), "missing")) << file.error();
  file = load_tokens_file(dir_.string());
  ASSERT_FALSE(file);
  EXPECT_TRUE(contains(file.error(), "not a regular file")) << file.error();
}

// ---- Proxy-Authorization ----

std::optional<std::string> token_in(std::string_view value) {
  auto t = client_token_from(value);
  if (!t) return std::nullopt;
  return std::string(t->view());
}

TEST(ClientTokenFrom, Basic) {
  const std::string token = "Tok3n_with-Url.safe~chars";
  EXPECT_EQ(token_in(auth::basic_credentials("run", token)), token);
  EXPECT_EQ(token_in(auth::basic_credentials("", token)), token);  // http://:TOKEN@host
  EXPECT_EQ(token_in("basic " + auth::base64_encode("u:" + token)), token);
  EXPECT_EQ(token_in("BASIC\t" + auth::base64_encode("u:" + token)), token);
  EXPECT_EQ(token_in("  Basic    " + auth::base64_encode("u:" + token) + " \t"), token);
  // The password is everything after the first colon.
  EXPECT_EQ(token_in("Basic " + auth::base64_encode("u:a:b")), "a:b");
}

TEST(ClientTokenFrom, Bearer) {
  EXPECT_EQ(token_in("Bearer abcdefghijklmnop"), "abcdefghijklmnop");
  EXPECT_EQ(token_in("bearer abc.def-ghi_jkl~mno+p/q="), "abc.def-ghi_jkl~mno+p/q=");
  EXPECT_EQ(token_in(" \tBEARER   abcdefghijklmnop  "), "abcdefghijklmnop");
}

TEST(ClientTokenFrom, Refused) {
  const char* refused[] = {
      "",
      "   ",
      "Basic",
      "Basic ",
      "Bearer",
      "Bearer    ",
      "Bearer two words",
      "Basicx dTp0b2tlbg==",
      "Digest username=\"u\"",
      "Negotiate YIIC",
      "dTp0b2tlbg==",        // no scheme
      "Basic dTp0b2tlbg",    // unpadded: not a multiple of 4
      "Basic dTp0b2t!bg==",  // not base64
      "Basic dTp0b2tl bg==",
  };
  for (const char* v : refused) EXPECT_EQ(token_in(v), std::nullopt) << v;
  EXPECT_EQ(token_in("Basic " + auth::base64_encode("no-colon-token")), std::nullopt);
  EXPECT_EQ(token_in("Basic " + auth::base64_encode("user:")), std::nullopt);
  EXPECT_EQ(token_in("Basic " + auth::base64_encode("")), std::nullopt);
}

}  // namespace
}  // namespace ferry
