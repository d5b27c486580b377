// [[inject]] tables in the TOML file: accepted rules, and errors that name
// file:line and key but never a secret.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "config/config_loader.h"

namespace ferry {
namespace {

using testing::HasSubstr;
using testing::Not;

class TempFile {
 public:
  explicit TempFile(const std::string& text, const std::string& ext = ".toml") {
    static int counter = 0;
    path_ = (std::filesystem::temp_directory_path() /
             ("ferry_inject_config_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + ext))
                .string();
    std::ofstream(path_, std::ios::binary) << text;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct Loaded {
  Expected<bool> result;
  Config config;
  std::string path;  // gone by now: for replacing in messages
};

Loaded load(const std::string& text, std::map<std::string, std::string> env = {}) {
  TempFile f(text);
  ConfigBuilder b;
  b.set_env([env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  });
  auto r = b.load_toml(f.path());
  return Loaded{r, b.config(), f.path()};
}

// The error of loading `text`, which must fail, with the temp path replaced by "F".
std::string error_of(const std::string& text, std::map<std::string, std::string> env = {}) {
  auto l = load(text, std::move(env));
  EXPECT_FALSE(l.result) << text;
  if (l.result) return "";
  std::string e = l.result.error();
  if (auto pos = e.find(l.path); pos != std::string::npos) e.replace(pos, l.path.size(), "F");
  return e;
}

TEST(InjectConfig, FullRules) {
  auto l = load(
      "listen = [\"127.0.0.1:3128\"]\n"
      "[[inject]]\n"
      "host = \"api.github.com\"\n"
      "header = \"Authorization\"\n"
      "value = \"Bearer ${env:GITHUB_TOKEN}\"\n"
      "add_headers = { \"X-GitHub-Api-Version\" = \"2022-11-28\" }\n"
      "remove_headers = [\"Cookie\"]\n"
      "\n"
      "[[inject]]\n"
      "host = \"*.example-llm.com\"\n"
      "port = 8443\n"
      "substitute = { placeholder = \"sk-placeholder\", value = \"${exec:echo hi}\" }\n"
      "scrub_responses = true\n"
      "ttl = \"30s\"\n",
      {{"GITHUB_TOKEN", "ghp_x"}});
  ASSERT_TRUE(l.result) << l.result.error();
  const auto& rules = l.config.inject;
  ASSERT_EQ(rules.size(), 2u);
  const auto& a = *rules[0];
  EXPECT_EQ(a.number, 1u);
  EXPECT_THAT(a.origin, HasSubstr(":2"));
  EXPECT_EQ(a.host.to_string(), "api.github.com");
  EXPECT_EQ(a.port, 443);
  ASSERT_TRUE(a.header);
  EXPECT_EQ(a.header->name, "Authorization");
  EXPECT_EQ(a.header->value.current()->view(), "Bearer ghp_x");
  ASSERT_EQ(a.add_headers.size(), 1u);
  EXPECT_EQ(a.add_headers[0].name, "X-GitHub-Api-Version");
  EXPECT_EQ(a.remove_headers, std::vector<std::string>{"Cookie"});
  EXPECT_FALSE(a.may_block());
  const auto& b = *rules[1];
  EXPECT_EQ(b.number, 2u);
  EXPECT_THAT(b.origin, HasSubstr(":9"));
  EXPECT_EQ(b.port, 8443);
  ASSERT_TRUE(b.substitute);
  EXPECT_EQ(b.substitute->placeholder, "sk-placeholder");
  EXPECT_TRUE(b.scrub_responses);
  EXPECT_TRUE(b.may_block());
  EXPECT_EQ(b.substitute->value.current()->view(), "hi");
  EXPECT_THAT(b.describe(), HasSubstr("${exec:echo hi}"));
}

TEST(InjectConfig, ConfigCopiesShareRules) {
  auto l = load("[[inject]]\nhost = \"h.example\"\nremove_headers = [\"Cookie\"]\n");
  ASSERT_TRUE(l.result) << l.result.error();
  Config copy = l.config;
  EXPECT_EQ(copy.inject[0].get(), l.config.inject[0].get());
}

struct BadCase {
  const char* name;
  std::string toml;
  std::vector<std::string> needles;
};

class InjectConfigRejects : public testing::TestWithParam<BadCase> {};

TEST_P(InjectConfigRejects, NamesFileLineAndKey) {
  const auto e = error_of(GetParam().toml, {{"SET", "v"}});
  for (const auto& n : GetParam().needles) EXPECT_THAT(e, HasSubstr(n)) << GetParam().toml;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, InjectConfigRejects,
    testing::Values(
        BadCase{"missing_host", "[[inject]]\nheader = \"A\"\nvalue = \"b\"\n", {"F:1 (inject.host)", "missing"}},
        BadCase{"header_without_value", "[[inject]]\nhost = \"h\"\nheader = \"A\"\n", {"F:3 (inject.header)", "value"}},
        BadCase{"value_without_header", "[[inject]]\nhost = \"h\"\nvalue = \"b\"\n", {"F:3 (inject.value)", "header"}},
        BadCase{"unknown_key",
                "[[inject]]\nhost = \"h\"\nheader = \"A\"\nvalue = \"b\"\nheaders = 1\n",
                {"F:5 (inject.headers)", "unknown key"}},
        BadCase{"missing_env",
                "[[inject]]\nhost = \"h\"\nheader = \"A\"\nvalue = \"Bearer ${env:GITHUB_TOKEN}\"\n",
                {"F:4 (inject.value)", "GITHUB_TOKEN", "not set"}},
        BadCase{"wrong_type_host", "[[inject]]\nhost = 5\nremove_headers = [\"A\"]\n", {"F:2 (inject.host)", "string"}},
        BadCase{"bad_host", "[[inject]]\nhost = \"https://x\"\nremove_headers = [\"A\"]\n", {"F:2 (inject.host)"}},
        BadCase{"bad_port", "[[inject]]\nhost = \"h\"\nport = 0\nremove_headers = [\"A\"]\n", {"F:3 (inject.port)"}},
        BadCase{"port_string",
                "[[inject]]\nhost = \"h\"\nport = \"443\"\nremove_headers = [\"A\"]\n",
                {"F:3 (inject.port)"}},
        BadCase{"bad_header_name",
                "[[inject]]\nhost = \"h\"\nheader = \"Bad Name\"\nvalue = \"x\"\n",
                {"F:3 (inject.header)", "not a valid header name"}},
        BadCase{"managed_header",
                "[[inject]]\nhost = \"h\"\nheader = \"Host\"\nvalue = \"x\"\n",
                {"F:3 (inject.header)", "managed by ferry"}},
        BadCase{"remove_not_array",
                "[[inject]]\nhost = \"h\"\nremove_headers = \"Cookie\"\n",
                {"F:3 (inject.remove_headers)"}},
        BadCase{"remove_framing",
                "[[inject]]\nhost = \"h\"\nremove_headers = [\"Content-Length\"]\n",
                {"(inject.remove_headers)", "managed by ferry"}},
        BadCase{"add_not_table", "[[inject]]\nhost = \"h\"\nadd_headers = [\"A\"]\n", {"F:3 (inject.add_headers)"}},
        BadCase{"add_value_type",
                "[[inject]]\nhost = \"h\"\nadd_headers = { A = 1 }\n",
                {"(inject.add_headers.A)", "string"}},
        BadCase{"no_action", "[[inject]]\nhost = \"h\"\n", {"F:1 (inject)", "at least one"}},
        BadCase{"substitute_missing_value",
                "[[inject]]\nhost = \"h\"\nsubstitute = { placeholder = \"p\" }\n",
                {"F:3 (inject.substitute.value)", "missing"}},
        BadCase{"substitute_empty_placeholder",
                "[[inject]]\nhost = \"h\"\nsubstitute = { placeholder = \"\", value = \"v\" }\n",
                {"(inject.substitute.placeholder)", "empty"}},
        BadCase{"substitute_unknown_key",
                "[[inject]]\nhost = \"h\"\nsubstitute = { placeholder = \"p\", value = \"v\", x = 1 }\n",
                {"(inject.substitute.x)", "unknown key"}},
        BadCase{"scrub_without_substitute",
                "[[inject]]\nhost = \"h\"\nheader = \"A\"\nvalue = \"v\"\nscrub_responses = true\n",
                {"F:5 (inject.scrub_responses)", "substitute"}},
        BadCase{"scrub_type",
                "[[inject]]\nhost = \"h\"\nremove_headers = [\"A\"]\nscrub_responses = \"yes\"\n",
                {"F:4 (inject.scrub_responses)"}},
        BadCase{"bad_ttl",
                "[[inject]]\nhost = \"h\"\nremove_headers = [\"A\"]\nttl = \"5 parsecs\"\n",
                {"F:4 (inject.ttl)"}},
        BadCase{"not_array_of_tables", "[inject]\nhost = \"h\"\n", {"F:1 (inject)", "[[inject]]"}},
        BadCase{"bad_reference",
                "[[inject]]\nhost = \"h\"\nheader = \"A\"\nvalue = \"${vault:x}\"\n",
                {"F:4 (inject.value)", "unknown reference"}}),
    [](const testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

TEST(InjectConfig, ErrorsNeverCarryTheSecret) {
  // A file holding a token with a CR in it.
  TempFile secret("sk-FILE-SECRET-1\rX-Evil: 1\n", ".txt");
  auto e = error_of("[[inject]]\nhost = \"h\"\nheader = \"A\"\nvalue = \"${file:" + secret.path() + "}\"\n");
  EXPECT_THAT(e, HasSubstr("F:4 (inject.value)"));
  EXPECT_THAT(e, HasSubstr(secret.path()));
  EXPECT_THAT(e, Not(HasSubstr("sk-FILE-SECRET-1")));
  // An environment variable with a line break.
  auto e2 =
      error_of("[[inject]]\nhost = \"h\"\nheader = \"A\"\nvalue = \"${env:T}\"\n", {{"T", "sk-ENV-SECRET\nX: y"}});
  EXPECT_THAT(e2, HasSubstr("${env:T}"));
  EXPECT_THAT(e2, Not(HasSubstr("sk-ENV-SECRET")));
  // A literal with a line break (TOML escapes make one).
  auto e3 = error_of("[[inject]]\nhost = \"h\"\nheader = \"A\"\nvalue = \"sk-LITERAL-SECRET\\r\\nX: y\"\n");
  EXPECT_THAT(e3, HasSubstr("F:4 (inject.value)"));
  EXPECT_THAT(e3, Not(HasSubstr("sk-LITERAL-SECRET")));
}

TEST(InjectConfig, ExecFailureAtUseNeverCarriesItsOutput) {
  TempFile secret("sk-EXEC-SECRET-9\n", ".txt");
  auto l = load("[[inject]]\nhost = \"h\"\nheader = \"A\"\nvalue = \"${exec:cat " + secret.path() + "; exit 1}\"\n");
  ASSERT_TRUE(l.result) << l.result.error();
  auto r = resolve_rule(l.config.inject[0]);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error(), HasSubstr("status 1"));
  EXPECT_THAT(r.error(), Not(HasSubstr("sk-EXEC-SECRET-9")));
}

}  // namespace
}  // namespace ferry
