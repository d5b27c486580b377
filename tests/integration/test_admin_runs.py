"""Runs through the admin listener (SPEC §7 "Runs", §10; issue 9 item 3):
POST /v1/runs gives a token whose profile (a named one or inline rules and
policy) the run's requests get; GET lists runs without tokens; DELETE and
the TTL end the token at once and close the run's open tunnels; `ferry run`
wraps a command. Two runs with different credentials for one host each get
their own. No token or injected value ever reaches ferry's output."""

import http.client
import json
import os
import socket
import subprocess
import time
import unittest

from harness import (TEST_HOSTS, ProxyTestCase, RawConn, RecordingOrigin, TestCA, clean_env, ferry_bin, ferry_output,
                     field, free_port, get, init_ferry_ca, raw_request, wait_until)
from origins import TlsEchoOrigin, run_curl

SECRET_A = "run-a-secret-Wq3eR5tY7uI9oP1aS2dF"
SECRET_B = "run-b-secret-Zx4cV6bN8mQ0wE2rT4yU"


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class AdminRunsTest(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.origin = cls.start_server(RecordingOrigin())
        cls.test_ca = TestCA(cls.tmp)
        cls.tls = cls.start_server(TlsEchoOrigin(cls.tmp, cls.test_ca))
        cls.ca_dir = init_ferry_ca(cls.tmp)
        cls.config = os.path.join(cls.tmp, "runs.toml")
        with open(cls.config, "w") as f:
            f.write('[profiles.only-origin]\npolicy = { mode = "strict", allow = ["origin.test"] }\n')
        cls.admin = os.path.join(cls.tmp, "admin", "admin.sock")
        cls.socks_port = free_port()
        cls.ferry = cls.start_ferry("--config", cls.config, "--admin", cls.admin, "--ca-dir", cls.ca_dir,
                                    "--socks-listen", f"127.0.0.1:{cls.socks_port}",
                                    "--origin-ca", cls.test_ca.ca_cert, "--connect-ports",
                                    f"{cls.tls.port},{cls.origin.port}", hosts=TEST_HOSTS)
        cls.created_tokens = []

    def setUp(self):
        super().setUp()
        self.addCleanup(self.assertNoSecretInOutput)

    def assertNoSecretInOutput(self):
        out = ferry_output(self.ferry)
        for s in (SECRET_A, SECRET_B, *self.created_tokens):
            self.assertNotIn(s, out, "a run token or injected value reached ferry's output")

    def api(self, method, path, body=None):
        c = UnixHTTPConnection(self.admin)
        try:
            c.request(method, path, json.dumps(body) if body is not None else None,
                      {"Content-Type": "application/json"} if body is not None else {})
            r = c.getresponse()
            data = r.read()
            json_body = (r.getheader("Content-Type") or "").startswith("application/json")
            return r.status, (json.loads(data) if data and json_body else data)
        finally:
            c.close()

    def create(self, body):
        status, run = self.api("POST", "/v1/runs", body)
        self.assertEqual(status, 201, run)
        self.created_tokens.append(run["token"])
        return run

    def request(self, token, host="origin.test", path="/"):
        import base64
        extra = "Proxy-Authorization: Basic " + base64.b64encode(f"run:{token}".encode()).decode() + "\r\n"
        return raw_request(self.ferry.port, get(f"http://{host}:{self.origin.port}{path}", extra_headers=extra))

    def test_admin_socket_is_private(self):
        self.assertEqual(os.stat(self.admin).st_mode & 0o777, 0o600)
        status, body = self.api("GET", "/healthz")
        self.assertEqual(status, 200)
        self.assertIn(b"ok", body)

    def test_run_with_a_named_profile(self):
        run = self.create({"profile": "only-origin", "ttl": "10m"})
        self.assertIn(run["token"], run["proxy_url"])
        self.assertEqual(run["env"]["HTTP_PROXY"], run["proxy_url"])
        self.assertIn("NO_PROXY", run["env"])
        self.assertIn("SSL_CERT_FILE", run["env"], "interception is on: the CA variables")
        # curl with the run's proxy URL: the profile's policy applies.
        r = run_curl(f"http://origin.test:{self.origin.port}/run", proxy=run["proxy_url"])
        self.assertEqual([s for s, _, _ in r.responses], [200], r)
        r = run_curl(f"http://origin2.test:{self.origin.port}/run", proxy=run["proxy_url"])
        self.assertEqual([s for s, _, _ in r.responses], [403], r)
        self.assertFerryError(self.request(run["token"], "origin2.test"), 403, "http_request_denied",
                              f"profile run:{run['id']}")
        # Listing shows the run, never a token.
        status, listed = self.api("GET", "/v1/runs")
        self.assertEqual(status, 200)
        self.assertIn(run["id"], json.dumps(listed))
        self.assertNotIn(run["token"], json.dumps(listed))
        status, one = self.api("GET", f"/v1/runs/{run['id']}")
        self.assertEqual(status, 200)
        self.assertEqual(one["id"], run["id"])
        self.assertNotIn(run["token"], json.dumps(one))

    def test_two_runs_get_their_own_credentials_for_one_host(self):
        rule = lambda secret: [{"host": "origin.test", "port": self.tls.port, "header": "Authorization",
                                "value": f"Bearer {secret}"}]
        a = self.create({"inject": rule(SECRET_A)})
        b = self.create({"inject": rule(SECRET_B)})
        seen = {}
        for name, run in (("a", a), ("b", b)):
            r = run_curl(self.tls.url("/who", "origin.test"), proxy=run["proxy_url"],
                         cafile=os.path.join(self.ca_dir, "ca.pem"))
            self.assertEqual(r.status, 200, r)
            seen[name] = field(r.json()["headers"], "Authorization")
        self.assertEqual(seen, {"a": f"Bearer {SECRET_A}", "b": f"Bearer {SECRET_B}"})

    def test_delete_revokes_the_token_and_closes_its_tunnels(self):
        run = self.create({"policy": {"mode": "permissive"}})
        self.assertEqual(self.request(run["token"]).status, 200)
        # An open CONNECT tunnel of the run.
        import base64
        auth = base64.b64encode(f"run:{run['token']}".encode()).decode()
        c = RawConn(self.ferry.port, 10)
        c.send(f"CONNECT origin.test:{self.origin.port} HTTP/1.1\r\nHost: origin.test:{self.origin.port}\r\n"
               f"Proxy-Authorization: Basic {auth}\r\n\r\n")
        self.assertIn(b" 200 ", c.read_head())
        status, _ = self.api("DELETE", f"/v1/runs/{run['id']}")
        self.assertEqual(status, 204)
        self.assertEqual(self.api("GET", f"/v1/runs/{run['id']}")[0], 404)
        self.assertEqual(self.request(run["token"]).status, 407, "the token stopped working at once")
        c.sock.settimeout(5)
        start = time.monotonic()
        try:
            data = c.sock.recv(1)
        except ConnectionResetError:
            data = b""
        self.assertEqual(data, b"", "the run's tunnel was closed")
        self.assertLess(time.monotonic() - start, 4)
        c.sock.close()
        self.assertEqual(self.api("DELETE", f"/v1/runs/{run['id']}")[0], 404)

    def test_delete_closes_the_runs_socks5_tunnels(self):
        run = self.create({"policy": {"mode": "permissive"}})
        s = socket.create_connection(("127.0.0.1", self.socks_port), timeout=5)
        try:
            s.sendall(b"\x05\x01\x02")
            self.assertEqual(s.recv(2), b"\x05\x02")
            u, p = b"run", run["token"].encode()
            s.sendall(b"\x01" + bytes([len(u)]) + u + bytes([len(p)]) + p)
            self.assertEqual(s.recv(2), b"\x01\x00")
            h = b"origin.test"
            s.sendall(b"\x05\x01\x00\x03" + bytes([len(h)]) + h + self.origin.port.to_bytes(2, "big"))
            self.assertEqual(s.recv(10)[1], 0, "tunnel established")
            self.assertEqual(self.api("DELETE", f"/v1/runs/{run['id']}")[0], 204)
            start = time.monotonic()
            try:
                data = s.recv(1)
            except ConnectionResetError:
                data = b""
            self.assertEqual(data, b"", "the run's SOCKS5 tunnel was closed")
            self.assertLess(time.monotonic() - start, 4)
        finally:
            s.close()

    def test_ttl_expiry(self):
        run = self.create({"policy": {"mode": "permissive"}, "ttl": "1s"})
        self.assertEqual(self.request(run["token"]).status, 200)
        self.assertTrue(wait_until(lambda: self.request(run["token"]).status == 407, 5), "expired after its TTL")
        self.assertTrue(wait_until(lambda: self.api("GET", f"/v1/runs/{run['id']}")[0] == 404, 3))

    def test_bad_requests_are_4xx_json(self):
        for body, words in ((b"{not json", "JSON"), (json.dumps({"profile": "nosuch"}).encode(), "nosuch"),
                            (json.dumps({"policy": {}, "extra": 1}).encode(), "extra"),
                            (json.dumps({"inject": [{"host": "x.test", "header": "A",
                                                     "value": "${exec:id}"}]}).encode(), "literal")):
            with self.subTest(words=words):
                c = UnixHTTPConnection(self.admin)
                c.request("POST", "/v1/runs", body, {"Content-Type": "application/json"})
                r = c.getresponse()
                data = json.loads(r.read())
                c.close()
                self.assertEqual(r.status, 400, data)
                self.assertIn(words, data["error"])

    def run_ids(self):
        status, listed = self.api("GET", "/v1/runs")
        self.assertEqual(status, 200)
        runs = listed if isinstance(listed, list) else listed["runs"]
        return {r["id"] for r in runs}

    def test_ferry_run_wraps_a_command(self):
        before = self.run_ids()
        out = os.path.join(self.tmp, "ferry-run.out")
        script = (f'curl -sS --noproxy "" -x "$HTTP_PROXY" -o /dev/null -w "%{{http_code}}" '
                  f'http://origin.test:{self.origin.port}/wrapped > {out}; exit 3')
        r = subprocess.run([ferry_bin(), "run", "--admin", self.admin, "--profile", "only-origin", "--", "sh", "-c",
                            script], capture_output=True, timeout=30, env=clean_env())
        self.assertEqual(r.returncode, 3, r.stderr)
        with open(out) as f:
            self.assertEqual(f.read(), "200", "the command got the run's proxy environment")
        self.assertEqual(self.run_ids(), before, "the run was deleted when the command exited")
        for t in self.created_tokens:
            self.assertNotIn(t, r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace"))


if __name__ == "__main__":
    unittest.main()
