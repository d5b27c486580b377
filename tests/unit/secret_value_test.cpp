// SecretValue: templates, env/file/exec references, caching, and errors that
// never carry a value.
#include "intercept/secret_value.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

namespace ferry {
namespace {

using testing::HasSubstr;
using testing::Not;

SecretValue::EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

const auto kNoEnv = env_of({});

// A clock the test moves by hand.
struct FakeClock {
  std::chrono::steady_clock::time_point now{std::chrono::hours(1)};
  SecretValue::Clock fn() {
    return [this] { return now; };
  }
};

class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("ferry_secret_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name, const std::string& content) const {
    auto p = (path_ / name).string();
    std::ofstream(p, std::ios::binary | std::ios::trunc) << content;
    return p;
  }
  std::string path(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

SecretValue::Options with_clock(FakeClock& clock) {
  SecretValue::Options opts;
  opts.clock = clock.fn();
  return opts;
}

std::string value_of(const SecretValue& v) {
  auto s = v.current();
  EXPECT_TRUE(s) << s.error();
  return s ? std::string(s->view()) : "";
}

TEST(SecretValue, LiteralAndEnv) {
  auto v = SecretValue::parse("Bearer ${env:GITHUB_TOKEN}", env_of({{"GITHUB_TOKEN", "ghp_abc"}}));
  ASSERT_TRUE(v) << v.error();
  EXPECT_EQ(value_of(*v), "Bearer ghp_abc");
  EXPECT_FALSE(v->may_block());
  EXPECT_EQ(v->describe(), "<literal>${env:GITHUB_TOKEN}");
  EXPECT_THAT(v->describe(), Not(HasSubstr("Bearer")));

  auto plain = SecretValue::parse("just-a-literal-token", kNoEnv);
  ASSERT_TRUE(plain);
  EXPECT_EQ(value_of(*plain), "just-a-literal-token");
  EXPECT_EQ(plain->describe(), "<literal>");
}

TEST(SecretValue, EscapesAndDollars) {
  auto v = SecretValue::parse("$${env:X} costs $5 ${env:A}$", env_of({{"A", "a"}}));
  ASSERT_TRUE(v) << v.error();
  EXPECT_EQ(value_of(*v), "${env:X} costs $5 a$");
}

TEST(SecretValue, MissingEnvNamesTheVariable) {
  auto v = SecretValue::parse("Bearer ${env:GITHUB_TOKEN}", kNoEnv);
  ASSERT_FALSE(v);
  EXPECT_THAT(v.error(), HasSubstr("GITHUB_TOKEN"));
  EXPECT_THAT(v.error(), HasSubstr("not set"));
  auto empty = SecretValue::parse("${env:E}", env_of({{"E", ""}}));
  ASSERT_FALSE(empty);
  EXPECT_THAT(empty.error(), HasSubstr("E is empty"));
}

TEST(SecretValue, SyntaxErrors) {
  for (const char* bad : {"${env:X", "${nope:X}", "${env:}", "${file:}", "${exec}", "${env:1BAD}", ""}) {
    auto v = SecretValue::parse(bad, env_of({{"X", "x"}}));
    EXPECT_FALSE(v) << bad;
  }
}

TEST(SecretValue, LineBreaksAreRejectedWithoutTheValue) {
  auto env = SecretValue::parse("${env:T}", env_of({{"T", "ghp_SECRET\r\nX-Evil: 1"}}));
  ASSERT_FALSE(env);
  EXPECT_THAT(env.error(), HasSubstr("${env:T}"));
  EXPECT_THAT(env.error(), Not(HasSubstr("ghp_SECRET")));

  auto literal = SecretValue::parse("sk-LITERAL\nX: y", kNoEnv);
  ASSERT_FALSE(literal);
  EXPECT_THAT(literal.error(), Not(HasSubstr("sk-LITERAL")));

  auto nul = SecretValue::parse(std::string("${env:N}"), env_of({{"N", std::string("a\0b", 3)}}));
  EXPECT_FALSE(nul);
}

TEST(SecretValue, FileIsReadAtParseAndTrimmed) {
  TempDir dir;
  auto path = dir.file("token", "file-token\n");
  auto v = SecretValue::parse("${file:" + path + "}", kNoEnv);
  ASSERT_TRUE(v) << v.error();
  EXPECT_TRUE(v->may_block());
  EXPECT_EQ(value_of(*v), "file-token");
  EXPECT_EQ(v->describe(), "${file:" + path + "}");

  auto crlf = SecretValue::parse("${file:" + dir.file("crlf", "tok\r\n") + "}", kNoEnv);
  ASSERT_TRUE(crlf);
  EXPECT_EQ(value_of(*crlf), "tok");
}

TEST(SecretValue, MissingFileIsAConfigError) {
  TempDir dir;
  auto v = SecretValue::parse("${file:" + dir.path("absent") + "}", kNoEnv);
  ASSERT_FALSE(v);
  EXPECT_THAT(v.error(), HasSubstr(dir.path("absent")));
}

TEST(SecretValue, FileWithACarriageReturnIsRejectedWithoutItsContent) {
  TempDir dir;
  auto path = dir.file("bad", "sk-FILESECRET\rmore\n");
  auto v = SecretValue::parse("${file:" + path + "}", kNoEnv);
  ASSERT_FALSE(v);
  EXPECT_THAT(v.error(), HasSubstr(path));
  EXPECT_THAT(v.error(), HasSubstr("CR, LF or NUL"));
  EXPECT_THAT(v.error(), Not(HasSubstr("sk-FILESECRET")));
}

TEST(SecretValue, FileIsReReadWhenItChangesAtMostOncePerInterval) {
  TempDir dir;
  FakeClock clock;
  auto path = dir.file("token", "one\n");
  auto v = SecretValue::parse("${file:" + path + "}", kNoEnv, with_clock(clock));
  ASSERT_TRUE(v) << v.error();
  EXPECT_EQ(value_of(*v), "one");
  dir.file("token", "second\n");  // another size: a change even within one mtime tick
  EXPECT_EQ(value_of(*v), "one") << "checked at most once per interval";
  clock.now += std::chrono::milliseconds(1001);
  EXPECT_EQ(value_of(*v), "second");
  // Replaced by rename (a new inode), as secret managers do.
  auto tmp = dir.file("token.new", "third\n");
  std::filesystem::rename(tmp, path);
  clock.now += std::chrono::milliseconds(1001);
  EXPECT_EQ(value_of(*v), "third");
  // Gone: an error naming the file, not the old value.
  std::filesystem::remove(path);
  clock.now += std::chrono::milliseconds(1001);
  auto gone = v->current();
  ASSERT_FALSE(gone);
  EXPECT_THAT(gone.error(), HasSubstr(path));
  EXPECT_THAT(gone.error(), Not(HasSubstr("third")));
}

TEST(SecretValue, InvalidateRechecksAFileAtOnce) {
  TempDir dir;
  FakeClock clock;
  auto path = dir.file("token", "one");
  auto v = SecretValue::parse("${file:" + path + "}", kNoEnv, with_clock(clock));
  ASSERT_TRUE(v);
  dir.file("token", "rotated");
  v->invalidate();
  EXPECT_EQ(value_of(*v), "rotated");
}

TEST(SecretValue, ExecRunsLazilyAndIsCachedForTtl) {
  TempDir dir;
  FakeClock clock;
  const auto counter = dir.path("runs");
  auto opts = with_clock(clock);
  opts.ttl = std::chrono::minutes(5);
  // Prints how many times it ran: each run gives a new value.
  const std::string cmd = "echo x >> " + counter + "; printf 'tok-%s\\n' $(wc -l < " + counter + ")";
  auto v = SecretValue::parse("Bearer ${exec:" + cmd + "}", kNoEnv, opts);
  ASSERT_TRUE(v) << v.error();
  EXPECT_TRUE(v->may_block());
  EXPECT_FALSE(std::filesystem::exists(counter)) << "parse must not run the command";
  EXPECT_EQ(value_of(*v), "Bearer tok-1");
  EXPECT_EQ(value_of(*v), "Bearer tok-1");
  clock.now += std::chrono::minutes(4);
  EXPECT_EQ(value_of(*v), "Bearer tok-1");
  clock.now += std::chrono::minutes(2);
  EXPECT_EQ(value_of(*v), "Bearer tok-2") << "re-run after the ttl";
  v->invalidate();
  EXPECT_EQ(value_of(*v), "Bearer tok-3") << "re-run after invalidate()";
  EXPECT_EQ(value_of(*v), "Bearer tok-3") << "invalidate() forces one re-run only";
}

TEST(SecretValue, ExecBracesNest) {
  auto v = SecretValue::parse("${exec:echo abc | awk '{print $1}'}", kNoEnv);
  ASSERT_TRUE(v) << v.error();
  EXPECT_EQ(value_of(*v), "abc");
}

TEST(SecretValue, ExecFailureNamesCommandAndStatusButNotOutput) {
  // The command prints a secret it reads (so the command text does not hold it) and fails.
  TempDir dir;
  const auto secret_file = dir.file("s", "sk-EXECSECRET-42\n");
  const std::string cmd = "cat " + secret_file + "; cat " + secret_file + " >&2; exit 3";
  auto v = SecretValue::parse("${exec:" + cmd + "}", kNoEnv);
  ASSERT_TRUE(v);
  auto s = v->current();
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error(), HasSubstr(cmd));
  EXPECT_THAT(s.error(), HasSubstr("status 3"));
  EXPECT_THAT(s.error(), Not(HasSubstr("sk-EXECSECRET-42")));
}

TEST(SecretValue, ExecOutputWithALineBreakIsRejected) {
  TempDir dir;
  auto v = SecretValue::parse("${exec:cat " + dir.file("two", "sk-TWO\nLINES\n") + "}", kNoEnv);
  ASSERT_TRUE(v);
  auto s = v->current();
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error(), HasSubstr("CR, LF or NUL"));
  EXPECT_THAT(s.error(), Not(HasSubstr("LINES")));
}

TEST(SecretValue, ExecTimeoutKillsTheCommand) {
  SecretValue::Options opts;
  opts.exec_timeout = std::chrono::milliseconds(300);
  auto v = SecretValue::parse("${exec:sleep 30; echo late}", kNoEnv, opts);
  ASSERT_TRUE(v);
  const auto start = std::chrono::steady_clock::now();
  auto s = v->current();
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error(), HasSubstr("timed out"));
  EXPECT_LT(took, std::chrono::seconds(5));
}

TEST(SecretValue, ExecFailureIsNotRetriedPerCall) {
  TempDir dir;
  FakeClock clock;
  const auto counter = dir.path("runs");
  auto v = SecretValue::parse("${exec:echo x >> " + counter + "; exit 1}", kNoEnv, with_clock(clock));
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->current());
  EXPECT_FALSE(v->current());
  auto lines = [&] {
    std::ifstream f(counter);
    return std::count(std::istreambuf_iterator<char>(f), {}, '\n');
  };
  EXPECT_EQ(lines(), 1);
  clock.now += std::chrono::seconds(2);
  EXPECT_FALSE(v->current());
  EXPECT_EQ(lines(), 2);
}

TEST(SecretValue, ConcurrentCallersShareOneRun) {
  TempDir dir;
  const auto counter = dir.path("runs");
  auto v = SecretValue::parse("${exec:echo x >> " + counter + "; sleep 0.2; echo tok}", kNoEnv);
  ASSERT_TRUE(v);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      auto s = v->current();
      if (s && s->view() == "tok") ++ok;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 4);
  std::ifstream f(counter);
  EXPECT_EQ(std::count(std::istreambuf_iterator<char>(f), {}, '\n'), 1);
}

}  // namespace
}  // namespace ferry
