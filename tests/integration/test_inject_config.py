"""[[inject]] rules in the TOML file, through the real binary: a good file is
accepted (`ferry route` still answers, names the rule and never a value), and a
bad one is a usage error (exit 2) naming file:line and the key, without the
secret."""

import json
import os
import unittest

from harness import ProxyTestCase, free_port, port_open, run_ferry_cli

TOKEN = "ghp_INJECT_TEST_TOKEN_93f1"  # must never be printed
FILE_SECRET = "sk-FILE-SECRET-77ab"


class InjectConfigTest(ProxyTestCase):

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def good_config(self):
        key = self.write("llm_key", FILE_SECRET + "\n")
        return self.write("good.toml", f"""listen = ["127.0.0.1:3128"]

[[inject]]
host = "api.github.com"
header = "Authorization"
value = "Bearer ${{env:GITHUB_TOKEN}}"
add_headers = {{ "X-GitHub-Api-Version" = "2022-11-28" }}
remove_headers = ["Cookie"]

[[inject]]
host = "*.example-llm.com"
substitute = {{ placeholder = "sk-placeholder", value = "${{file:{key}}}" }}
scrub_responses = true
""")

    def run_cli(self, args, env=None):
        r = run_ferry_cli(args, env=env)
        return r, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")

    def assertNoSecret(self, *texts):
        for t in texts:
            self.assertNotIn(TOKEN, t)
            self.assertNotIn(FILE_SECRET, t)

    def test_route_with_inject_rules(self):
        cfg = self.good_config()
        env = {"GITHUB_TOKEN": TOKEN}
        r, out, err = self.run_cli(["route", "https://x/", "--config", cfg], env=env)
        self.assertEqual(r.returncode, 0, err)
        self.assertIn("route:", out)
        self.assertNotIn("inject:", out, "x matches no rule")
        self.assertNoSecret(out, err)

        r, out, err = self.run_cli(["route", "https://api.github.com/repos", "--config", cfg], env=env)
        self.assertEqual(r.returncode, 0, err)
        self.assertIn("intercepted, rule 1", out)
        self.assertIn("header Authorization", out)
        self.assertIn("${env:GITHUB_TOKEN}", out)
        self.assertNoSecret(out, err)

        r, out, err = self.run_cli(["route", "https://a.example-llm.com/v1", "--config", cfg, "--json"], env=env)
        self.assertEqual(r.returncode, 0, err)
        j = json.loads(out)
        self.assertEqual(len(j["inject"]), 1)
        self.assertIn("rule 2", j["inject"][0])
        self.assertIn("substitute sk-placeholder", j["inject"][0])
        self.assertNoSecret(out, err)

        # The apex is not below itself: "*.example-llm.com" leaves it alone.
        r, out, err = self.run_cli(["route", "https://example-llm.com/", "--config", cfg], env=env)
        self.assertEqual(r.returncode, 0, err)
        self.assertNotIn("inject:", out)

    def assertConfigError(self, name, text, *needles, env=None, command=("route", "https://x/")):
        cfg = self.write(name, text)
        r, out, err = self.run_cli([*command, "--config", cfg], env=env)
        self.assertEqual(r.returncode, 2, f"{name}: exit {r.returncode}, stderr: {err}")
        for n in needles:
            self.assertIn(n.replace("FILE", cfg), err, f"{name}: message does not name {n!r}: {err}")
        self.assertNoSecret(out, err)
        return err

    def test_missing_host(self):
        self.assertConfigError("no_host.toml", '[[inject]]\nheader = "Authorization"\nvalue = "x"\n',
                               "FILE:1 (inject.host)", "missing")

    def test_header_without_value(self):
        self.assertConfigError("no_value.toml", '[[inject]]\nhost = "api.github.com"\nheader = "Authorization"\n',
                               "FILE:3 (inject.header)", "needs value")

    def test_unknown_key(self):
        self.assertConfigError("unknown.toml",
                               '[[inject]]\nhost = "h"\nheader = "A"\nvalue = "v"\nheaders = ["B"]\n',
                               "FILE:5 (inject.headers)", "unknown key")

    def test_missing_env_var_is_named(self):
        self.assertConfigError("env.toml",
                               '[[inject]]\nhost = "h"\nheader = "Authorization"\nvalue = "Bearer ${env:FERRY_IT_NO_SUCH_VAR}"\n',
                               "FILE:4 (inject.value)", "FERRY_IT_NO_SUCH_VAR", "not set")

    def test_file_with_a_line_break_is_refused_without_its_content(self):
        path = self.write("crlf_secret", FILE_SECRET + "\r\nX-Evil: 1\n")
        self.assertConfigError("crlf.toml", f'[[inject]]\nhost = "h"\nheader = "A"\nvalue = "${{file:{path}}}"\n',
                               "FILE:4 (inject.value)", path)

    def test_serve_refuses_a_bad_rule_before_listening(self):
        port = free_port()
        err = self.assertConfigError("serve_bad.toml", '[[inject]]\nhost = "h"\nheader = "A"\n',
                                     "FILE:3 (inject.header)", command=("serve", "--listen", f"127.0.0.1:{port}"))
        self.assertFalse(port_open(port), f"something listens after a config error: {err}")


if __name__ == "__main__":
    unittest.main()
