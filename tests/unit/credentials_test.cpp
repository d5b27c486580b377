// credentials: read_password_file (first line, private files only) and
// Secret (copies, moves, wiping).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "auth/credentials.h"
#include "auth/proxy_authorization.h"

namespace ferry::auth {
namespace {

namespace fs = std::filesystem;

bool contains(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }

class PasswordFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ferry_credentials_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string write(const std::string& name, const std::string& content, mode_t mode) {
    std::string path = (dir_ / name).string();
    {
      std::ofstream f(path, std::ios::binary);
      f << content;
    }
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    return path;
  }
  fs::path dir_;
};

TEST_F(PasswordFile, PrivateFileGivesFirstLineWithoutLineEnding) {
  struct Case {
    std::string content, want;
  };
  const Case cases[] = {
      {"s3cret", "s3cret"},
      {"s3cret\n", "s3cret"},
      {"s3cret\r\n", "s3cret"},
      {"s3cret\r", "s3cret"},
      {"s3cret\nsecond line\n", "s3cret"},
      {"s3cret\r\nsecond\r\n", "s3cret"},
      {"with spaces and :colons: \t\n", "with spaces and :colons: \t"},
      {std::string(200, 'x') + "\n", std::string(200, 'x')},
  };
  int i = 0;
  for (const auto& c : cases) {
    for (mode_t mode : {mode_t(0600), mode_t(0400)}) {
      auto path = write("pw" + std::to_string(i++), c.content, mode);
      auto r = read_password_file(path);
      ASSERT_TRUE(r.has_value()) << r.error();
      EXPECT_EQ(std::string(r->view()), c.want);
      EXPECT_FALSE(contains(r->view(), "\n"));
      EXPECT_FALSE(contains(r->view(), "\r"));
    }
  }
}

TEST_F(PasswordFile, ReadableByOthersIsRefusedNamingModeAndPathNotContent) {
  struct Case {
    mode_t mode;
    const char* shown;
  };
  const Case cases[] = {
      {0644, "0644"}, {0640, "0640"}, {0604, "0604"}, {0660, "0660"},
      {0620, "0620"}, {0602, "0602"}, {0610, "0610"}, {0777, "0777"},
  };
  const std::string secret = "TopSecretContent42";
  for (const auto& c : cases) {
    auto path = write(std::string("pw_") + c.shown, secret + "\n", c.mode);
    auto r = read_password_file(path);
    ASSERT_FALSE(r.has_value()) << c.shown;
    const std::string& e = r.error();
    EXPECT_TRUE(contains(e, c.shown)) << e;
    EXPECT_TRUE(contains(e, path)) << e;
    EXPECT_TRUE(contains(e, "chmod 600")) << e;
    EXPECT_FALSE(contains(e, secret)) << e;
    EXPECT_FALSE(contains(e, "TopSecret")) << e;
  }
}

TEST_F(PasswordFile, MissingFileNamesPath) {
  const std::string path = (dir_ / "does-not-exist").string();
  auto r = read_password_file(path);
  ASSERT_FALSE(r.has_value());
  EXPECT_TRUE(contains(r.error(), path)) << r.error();
  EXPECT_TRUE(contains(r.error(), std::strerror(ENOENT))) << r.error();
}

TEST_F(PasswordFile, DirectoryIsRefused) {
  ASSERT_EQ(::chmod(dir_.c_str(), 0700), 0);
  auto r = read_password_file(dir_.string());
  ASSERT_FALSE(r.has_value());
  EXPECT_TRUE(contains(r.error(), dir_.string())) << r.error();
}

TEST_F(PasswordFile, EmptyFirstLineIsRefused) {
  int i = 0;
  for (const char* content : {"", "\n", "\r\n", "\nsecond-line-secret\n", "\r"}) {
    auto path = write("empty" + std::to_string(i++), content, 0600);
    auto r = read_password_file(path);
    ASSERT_FALSE(r.has_value()) << content;
    EXPECT_TRUE(contains(r.error(), "empty")) << r.error();
    EXPECT_TRUE(contains(r.error(), path)) << r.error();
    EXPECT_FALSE(contains(r.error(), "second-line-secret")) << r.error();
  }
}

// Whether the object representation of `s` (its inline bytes: for a short
// string, std::string keeps the characters inside the object) still holds
// any 4 consecutive bytes of `needle` (clearing a string may overwrite only
// its first byte with the terminator, so the whole needle is not enough).
bool object_bytes_contain(const Secret& s, std::string_view needle) {
  const auto* p = reinterpret_cast<const unsigned char*>(&s);
  std::string_view bytes(reinterpret_cast<const char*>(p), sizeof(Secret));
  for (size_t i = 0; i + 4 <= needle.size(); ++i)
    if (contains(bytes, needle.substr(i, 4))) return true;
  return false;
}

TEST(Secret, MoveLeavesSourceEmpty) {
  for (const std::string& value : {std::string("pw"), std::string(100, 'L')}) {
    Secret a(value);
    Secret b(std::move(a));
    EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): documented state
    EXPECT_EQ(a.view(), "");
    EXPECT_EQ(std::string(b.view()), value);

    Secret c;
    c = std::move(b);
    EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(std::string(c.view()), value);

    Secret d(std::string("old-value"));
    d = std::move(c);
    EXPECT_TRUE(c.empty());  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(std::string(d.view()), value);
  }
}

TEST(Secret, MovedFromSourceKeepsNoCopyOfTheBytes) {
  // A short password lives inside the std::string object (SSO). Moving it
  // must not leave those bytes behind in the moved-from Secret, which would
  // then never be wiped (its destructor sees an empty string).
  const std::string pw = "Sh0rtPw!";  // fits the inline buffer
  {
    Secret a(pw);
    ASSERT_TRUE(object_bytes_contain(a, pw)) << "test premise: the bytes are inline";
    Secret b(std::move(a));
    EXPECT_FALSE(object_bytes_contain(a, pw)) << "move constructor left the password in the source";
  }
  {
    Secret a(pw);
    Secret b;
    b = std::move(a);
    EXPECT_FALSE(object_bytes_contain(a, pw)) << "move assignment left the password in the source";
  }
}

TEST(Secret, WipeAndReassignClearInlineBytes) {
  const std::string pw = "Sh0rtPw!";
  Secret a(pw);
  a.wipe();
  EXPECT_TRUE(a.empty());
  EXPECT_FALSE(object_bytes_contain(a, pw));
  Secret b(pw);
  b = Secret(std::string("other"));
  EXPECT_EQ(b.view(), "other");
  EXPECT_FALSE(object_bytes_contain(b, pw));
}

TEST(Secret, CopyWorks) {
  for (const std::string& value : {std::string("pw"), std::string(100, 'L')}) {
    Secret a(value);
    Secret b(a);
    EXPECT_EQ(std::string(a.view()), value);
    EXPECT_EQ(std::string(b.view()), value);
    EXPECT_NE(a.view().data(), b.view().data());  // an independent copy
    Secret c(std::string("something else entirely, long enough to be on the heap"));
    c = a;
    EXPECT_EQ(std::string(c.view()), value);
    EXPECT_EQ(std::string(a.view()), value);
    c = c;  // self-assignment keeps the value
    EXPECT_EQ(std::string(c.view()), value);
    b.wipe();
    EXPECT_TRUE(b.empty());
    EXPECT_EQ(std::string(a.view()), value);  // wiping a copy leaves the original
  }
}

TEST(Credentials, PresentMeansUserSet) {
  Credentials c;
  EXPECT_FALSE(c.present());
  c.password = Secret(std::string("pw"));
  EXPECT_FALSE(c.present());
  c.user = "bob";
  EXPECT_TRUE(c.present());
}

}  // namespace
}  // namespace ferry::auth

namespace ferry::auth {
namespace {

TEST(ProxyAuthorization, InsertedBeforeTheBlankLineInOneBufferWithRoomToSpare) {
  std::string head = "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n";
  head.shrink_to_fit();
  const Secret value(std::string("Basic Ym9iOmJvYnB3"));
  append_proxy_authorization(head, value);
  EXPECT_EQ(head, "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\nProxy-Authorization: Basic Ym9iOmJvYnB3\r\n\r\n");
  // A later small insert (Expect: 100-continue) reuses the same buffer, so
  // no freed copy of the credential is left behind by a reallocation.
  const char* buffer = head.data();
  head.insert(head.size() - 2, "Expect: 100-continue\r\n");
  EXPECT_EQ(head.data(), buffer);
  std::string unchanged = "GET / HTTP/1.1\r\n\r\n";
  append_proxy_authorization(unchanged, std::string_view());
  EXPECT_EQ(unchanged, "GET / HTTP/1.1\r\n\r\n");
}

}  // namespace
}  // namespace ferry::auth
