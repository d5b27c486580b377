"""ferry's upstream-related CLI: `ferry route` (text and --json), `ferry env`,
bad --upstream values and password files (exit 2, nothing printed that is
secret), and the proxy environment variables (used only without --upstream,
lowercase winning, NO_PROXY, a self-pointing proxy ignored with a warning).
"""

import json
import os
import subprocess
import unittest

from harness import Nginx, TestCA, ferry_bin, free_port, get, port_open, raw_request, wait_until
from upstreams import PASSWORD, USER, UpstreamTestCase, _make_traversable, proxy_url

ORIGIN = "origin.test"
SECRET = "s3cret"  # in the bad --upstream values below


class RouteAndEnvTest(UpstreamTestCase):

    def route(self, url, *args, env=None):
        r, out, err = self.run_cli(["route", url, *args], env=env)
        self.assertEqual(r.returncode, 0, f"ferry route {url} {args}: {err}")
        return out, err

    def route_json(self, url, *args, env=None):
        out, err = self.route(url, "--json", *args, env=env)
        try:
            return json.loads(out)
        except ValueError:
            self.fail(f"ferry route --json printed no JSON object: {out!r} {err!r}")

    def assertNoUserinfo(self, text):
        self.assertNotIn(PASSWORD, text)
        self.assertNotIn(f"{USER}:", text)
        self.assertNotIn("@127.0.0.1", text)

    def test_route_upstream_with_userinfo(self):
        up = proxy_url("http", 3128, (USER, PASSWORD))
        out, err = self.route(f"http://{ORIGIN}/x", "--upstream", up)
        self.assertIn("http://127.0.0.1:3128", out)
        self.assertIn("upstream", out)
        self.assertNoUserinfo(out + err)
        j = self.route_json(f"http://{ORIGIN}/x", "--upstream", up)
        self.assertEqual(j["url"], f"http://{ORIGIN}/x")
        self.assertEqual(j["traffic"], "http")
        self.assertIs(j["direct"], False)
        self.assertEqual(j["rule"], "upstream")
        self.assertEqual([p["url"] for p in j["proxies"]], ["http://127.0.0.1:3128"])
        self.assertIn("credentials", j["proxies"][0])
        self.assertEqual(j["auth"], "auto")
        self.assertNoUserinfo(json.dumps(j))

    def test_route_failover_chain_and_auth(self):
        j = self.route_json(f"https://{ORIGIN}/", "--upstream", proxy_url("socks5h", 1080, ("sock", PASSWORD)),
                            "--upstream", "127.0.0.1:3129", "--auth", "basic")
        self.assertEqual(j["traffic"], "https")
        self.assertEqual([p["url"] for p in j["proxies"]], ["socks5h://127.0.0.1:1080", "http://127.0.0.1:3129"])
        self.assertEqual(j["auth"], "basic")
        self.assertNotIn("sock:", json.dumps(j))

    def test_route_loopback(self):
        for url in ("http://127.0.0.1:8080/", "http://localhost:81/", "https://[::1]:8443/", "http://127.1.2.3/"):
            j = self.route_json(url, "--upstream", "http://127.0.0.1:3128")
            self.assertEqual(j["rule"], "loopback", url)
            self.assertIs(j["direct"], True, url)
            self.assertEqual(j["proxies"], [], url)
        out, _ = self.route("http://127.0.0.1:8080/", "--upstream", "http://127.0.0.1:3128")
        self.assertIn("direct", out)
        self.assertIn("loopback", out)

    def test_route_no_proxy_and_exact(self):
        up = ("--upstream", "http://127.0.0.1:3128")
        j = self.route_json("https://www.example.com/", "--no-proxy", "example.com", *up)
        self.assertEqual((j["rule"], j["direct"], j["proxies"]), ("no_proxy example.com", True, []))
        j = self.route_json("https://notexample.com/", "--no-proxy", "example.com", *up)
        self.assertEqual((j["rule"], j["direct"]), ("upstream", False))
        j = self.route_json("http://exact.test:81/", "--no-proxy-exact", "exact.test:81", "--no-proxy", "test", *up)
        self.assertEqual((j["rule"], j["direct"]), ("no_proxy_exact exact.test:81", True))
        j = self.route_json("http://sub.exact.test:81/", "--no-proxy-exact", "exact.test:81", *up)
        self.assertEqual(j["rule"], "upstream")
        out, _ = self.route("https://www.example.com/", "--no-proxy", "example.com", *up)
        self.assertIn("no_proxy example.com", out)

    def test_route_env_and_default(self):
        env = {"HTTPS_PROXY": proxy_url("http", 9, (USER, PASSWORD))}
        j = self.route_json(f"https://{ORIGIN}/", env=env)
        self.assertEqual((j["rule"], j["direct"]), ("env HTTPS_PROXY", False))
        self.assertEqual([p["url"] for p in j["proxies"]], ["http://127.0.0.1:9"])
        self.assertNoUserinfo(json.dumps(j))
        out, err = self.route(f"https://{ORIGIN}/", env=env)
        self.assertIn("env HTTPS_PROXY", out)
        self.assertNoUserinfo(out + err)
        # --upstream is authoritative: the env proxy is not read.
        j = self.route_json(f"https://{ORIGIN}/", "--upstream", "http://127.0.0.1:3128", env=env)
        self.assertEqual(j["rule"], "upstream")
        self.assertEqual([p["url"] for p in j["proxies"]], ["http://127.0.0.1:3128"])
        # Nothing configured: direct by default.
        j = self.route_json(f"https://{ORIGIN}/")
        self.assertEqual((j["rule"], j["direct"], j["proxies"]), ("default", True, []))

    def test_env_command(self):
        r, out, err = self.run_cli(["env", "--listen", "127.0.0.1:4123"])
        self.assertEqual(r.returncode, 0, err)
        lines = {}
        for line in out.splitlines():
            self.assertTrue(line.startswith("export "), line)
            name, _, value = line[len("export "):].partition("=")
            lines[name] = value.strip("'\"")
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            self.assertEqual(lines.get(name), "http://127.0.0.1:4123", out)
        for name in ("NO_PROXY", "no_proxy"):
            self.assertIn(name, lines, out)
            self.assertIn("localhost", lines[name].split(","), out)
            self.assertIn("127.0.0.1", lines[name].split(","), out)

    # -- refused at start -----------------------------------------------------
    def assertUsageExit(self, args, *must_contain):
        port = free_port()
        r, out, err = self.run_cli(["serve", "--listen", f"127.0.0.1:{port}", *args], timeout=10)
        self.assertEqual(r.returncode, 2, f"{args}: exit {r.returncode}\nstdout {out!r}\nstderr {err!r}")
        self.assertFalse(port_open(port))
        for s in must_contain:
            self.assertIn(s, err, f"{args}: stderr should name {s!r}:\n{err}")
        self.assertNotIn(SECRET, out + err)
        self.assertNotIn(PASSWORD, out + err)
        self.assertNotIn("listening", err)
        return err

    def test_bad_upstream_values_exit_2_without_the_password(self):
        self.assertUsageExit(["--upstream", f"http://u:{SECRET}@host:8080/path"], "path")
        self.assertUsageExit(["--upstream", "ftp://h:1"], "ftp")
        self.assertUsageExit(["--upstream", f"http://u:{SECRET}@host:99999"], "99999")
        self.assertUsageExit(["--upstream", f"http://u:{SECRET}@host:8080/?q=1"])
        self.assertUsageExit(["--upstream", f"socks5://u:{SECRET}@host:1080#frag"])
        self.assertUsageExit(["--upstream", "http://127.0.0.1:3128", "--upstream", f"gopher://u:{SECRET}@h:70"],
                             "gopher")

    def test_bad_upstream_exit_2_for_connect_and_tunnel(self):
        bad = ["--upstream", f"http://u:{SECRET}@host:8080/path"]
        # (tunnel: flags before --listen ADDR HOST:PORT; the other order is
        # test_upstream_tunnels.test_tunnel_command_spec_argument_order)
        for cmd in (["connect", f"{ORIGIN}:443", *bad],
                    ["tunnel", *bad, "--listen", f"127.0.0.1:{free_port()}", f"{ORIGIN}:443"]):
            r, out, err = self.run_cli(cmd, timeout=10, input=b"")
            self.assertEqual(r.returncode, 2, f"{cmd}: {err}")
            self.assertIn("path", err)
            self.assertNotIn(SECRET, out + err)

    def test_password_file_mode_644_refused(self):
        path = self.password_file(mode=0o644)
        err = self.assertUsageExit(["--upstream", "http://127.0.0.1:3128", "--user", USER, "--password-file", path])
        self.assertTrue("644" in err, f"the message should name the mode 0644:\n{err}")
        self.assertIn(path, err)

    def test_password_file_mode_640_refused(self):
        path = self.password_file(mode=0o640)
        err = self.assertUsageExit(["--upstream", "http://127.0.0.1:3128", "--user", USER, "--password-file", path])
        self.assertIn("640", err)


class EnvProxyTest(UpstreamTestCase):
    """The proxy environment variables, with real Squids."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ca = TestCA(cls.tmp)
        cls.nginx = Nginx(cls.tmp, cls.ca)
        cls.addClassCleanup(cls.nginx.stop)
        cls.plain = f"http://{ORIGIN}:{cls.nginx.http_port}/"
        cls.tls = f"https://{ORIGIN}:{cls.nginx.https_port}/"

    def get_ok(self, ferry, url=None):
        r = self.curl(f"http://127.0.0.1:{ferry.port}", url or self.plain)
        self.assertCurlBody(r, Nginx.HELLO)

    def test_env_http_proxy_used_without_upstream(self):
        sq = self.squid(connect_ports=(self.nginx.https_port,))
        f = self.serve("--connect-ports", str(self.nginx.https_port), env={"HTTP_PROXY": sq.url()})
        self.get_ok(f)
        self.assertEqual(self.access(sq, 1), [(200, "GET", self.plain, None)])
        self.assertEqual([e["route"] for e in self.wait_events(f, 1, "request")], [sq.url()])

    def test_env_https_proxy_for_connect_with_userinfo(self):
        sq = self.squid(auth="basic", connect_ports=(self.nginx.https_port,))
        f = self.serve("--connect-ports", str(self.nginx.https_port),
                       env={"HTTPS_PROXY": sq.url(creds=(USER, PASSWORD))})
        r = self.curl(f"http://127.0.0.1:{f.port}", "--cacert", self.ca.ca_cert, self.tls)
        self.assertCurlBody(r, Nginx.HELLO)
        got = self.access(sq, 1, pred=lambda e: e["status"] == 200)
        self.assertEqual(got, [(200, "CONNECT", f"{ORIGIN}:{self.nginx.https_port}", USER)])

    def test_env_ignored_when_upstream_given(self):
        env_sq = self.squid()
        flag_sq = self.squid()
        f = self.serve("--upstream", flag_sq.url(), env={"HTTP_PROXY": env_sq.url(), "http_proxy": env_sq.url(),
                                                         "ALL_PROXY": env_sq.url()})
        self.get_ok(f)
        self.assertEqual(self.access(flag_sq, 1), [(200, "GET", self.plain, None)])
        self.assertEqual(env_sq.access_lines(), [])

    def test_env_lowercase_wins(self):
        sq = self.squid()
        dead = proxy_url("http", free_port())
        f = self.serve(env={"HTTP_PROXY": dead, "http_proxy": sq.url()})
        self.get_ok(f)
        self.assertEqual(self.access(sq, 1), [(200, "GET", self.plain, None)])
        self.assertEqual(f.events("upstream_failed"), [])

    def test_env_no_proxy_bypasses_env_proxy(self):
        dead = proxy_url("http", free_port())
        f = self.serve(env={"HTTP_PROXY": dead, "NO_PROXY": "bypass.test"})
        self.get_ok(f, f"http://bypass.test:{self.nginx.http_port}/")
        self.assertEqual([e["route"] for e in self.wait_events(f, 1, "request")], ["direct"])
        resp = raw_request(f.port, get(self.plain))
        self.assertEqual(resp.status, 502, resp.raw_head)

    def test_env_proxy_pointing_at_ferry_is_ignored(self):
        port = free_port()
        me = f"http://127.0.0.1:{port}"
        f = self.serve(port=port, env={"HTTP_PROXY": me, "HTTPS_PROXY": me})
        warns = self.wait_events(f, 1, "env_proxy_ignored")
        self.assertTrue(warns, f.stderr_text())
        self.assertEqual(warns[0]["level"], "warn", warns[0])
        # No self-loop: origin.test goes direct (ferry resolves it itself).
        self.get_ok(f)
        self.assertEqual([e["route"] for e in self.wait_events(f, 1, "request")], ["direct"])
        self.assertEqual(f.events("upstream_failed"), [])



class CoreDumpTest(UpstreamTestCase):
    """ferry serve holds the upstream password all its life: it makes itself
    non-dumpable (no core file, no /proc/PID/mem or environ for other
    processes of its user) and sets RLIMIT_CORE to 0 (D14, SPEC §5)."""

    def test_serve_is_not_dumpable(self):
        port = free_port()
        _make_traversable(self.tmp)
        pw = self.password_file()
        os.chown(pw, 65534, 65534)  # readable by nobody, still mode 600
        # As `nobody`: for root /proc/PID stays root's either way; for another
        # user a non-dumpable process's /proc/PID files belong to root.
        p = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", ferry_bin(), "serve",
                              "--listen", f"127.0.0.1:{port}", "--upstream", f"http://{USER}@127.0.0.1:1",
                              "--auth", "basic", "--user", USER, "--password-file", pw],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(p.wait, 10)
        self.addCleanup(p.terminate)
        self.assertTrue(wait_until(lambda: port_open(port), 10), "ferry did not start: " + str(p.poll()))
        with open(f"/proc/{p.pid}/limits") as f:
            limits = f.read()
        self.assertRegex(limits, r"(?m)^Max core file size\s+0\s+0\s", limits)
        self.assertEqual(os.stat(f"/proc/{p.pid}/environ").st_uid, 0, "ferry is still dumpable")
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "cat",
                            f"/proc/{p.pid}/environ"], capture_output=True)
        self.assertNotEqual(r.returncode, 0, "another process of ferry's user could read its memory/environ")


if __name__ == "__main__":
    unittest.main()
