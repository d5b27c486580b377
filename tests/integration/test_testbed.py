"""Self-test of the interception test bed (origins.py): every origin and
every real client, directly and through ferry's plain CONNECT tunnel (the
clients trust the origin's test CA themselves), so a later interception
test that fails points at ferry, not at its fixtures."""

import base64
import json
import os
import socket
import subprocess
import time
import unittest

from harness import (OPENSSL, TEST_HOSTS, Nginx, ProxyTestCase, StreamingOrigin, TestCA, port_open, sha256_hex,
                     wait_until)
from origins import (CERT_KINDS, GitHttpOrigin, TlsEchoOrigin, cert_sha256, issue_cert, many_hosts, run_curl,
                     run_git_clone, run_git_push, run_httpx, run_node, run_requests, run_s_client, tls_connect)
from upstreams import Squid

CLIENTS = {"curl": run_curl, "requests": run_requests, "httpx": run_httpx, "node": run_node}


class TestbedTest(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ca = TestCA(cls.tmp)
        cls.echo = cls.start_server(TlsEchoOrigin(cls.tmp, cls.ca))
        cls.bad = {k: cls.start_server(TlsEchoOrigin(cls.tmp, cls.ca, cert=k)) for k in CERT_KINDS if k != "good"}
        cls.git = cls.start_server(GitHttpOrigin(cls.tmp, cls.ca))
        cls.nginx = cls.start_server(Nginx(cls.tmp, cls.ca))
        ports = [cls.echo.port, cls.git.port, cls.nginx.https_port, *(o.port for o in cls.bad.values())]
        cls.ferry = cls.start_ferry("--connect-ports", ",".join(map(str, ports)), hosts={**TEST_HOSTS, **many_hosts(3)})
        cls.proxy = f"http://127.0.0.1:{cls.ferry.port}"

    def setUp(self):
        super().setUp()
        # Every request a client sent was well framed and read whole.
        self.addCleanup(lambda: self.assertEqual(self.echo.errors, []))

    def tunnels_to(self, port):
        return [e for e in self.ferry.events("tunnel") if e.get("target") == f"origin.test:{port}"]

    def assertTunnelled(self, port, before):
        """ferry logged one more tunnel to origin.test:port than `before`."""
        self.assertTrue(wait_until(lambda: len(self.tunnels_to(port)) > before, 5),
                        f"no new tunnel to origin.test:{port} in ferry's log")

    def assertOk(self, r, n=1):
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual([s for s, _, _ in r.responses], [200] * n, r)

    # -- certificates --------------------------------------------------------
    def test_certificate_kinds(self):
        d = os.path.join(self.tmp, "certs")
        want = {"good": "OK", "expired": "certificate has expired", "wrong-name": "hostname mismatch",
                "untrusted": "self-signed certificate"}
        for kind in CERT_KINDS:
            cert, key = issue_cert(self.ca, d, kind, ("origin.test", "127.0.0.1"), kind)
            r = subprocess.run([OPENSSL, "verify", "-CAfile", self.ca.ca_cert, "-verify_hostname", "origin.test", cert],
                               capture_output=True, text=True)
            self.assertIn(want[kind], r.stdout + r.stderr, kind)
            self.assertEqual(r.returncode == 0, kind == "good", kind)

    # -- the echo origin -----------------------------------------------------
    def test_echo_reports_request_as_received(self):
        before = len(self.tunnels_to(self.echo.port))
        r = run_curl(self.echo.url("/a/b?q=1&x=%41", "origin.test"), self.proxy, self.ca.ca_cert,
                     headers=["X-Mixed-Case: One", "x-lower: two", "X-Mixed-Case: again"])
        self.assertOk(r)
        j = r.json()
        self.assertEqual((j["method"], j["target"], j["version"]), ("GET", "/a/b?q=1&x=%41", "HTTP/1.1"))
        self.assertEqual(j["headers"][-3:], [["X-Mixed-Case", "One"], ["x-lower", "two"], ["X-Mixed-Case", "again"]])
        self.assertEqual(j["headers"][0], ["Host", f"origin.test:{self.echo.port}"])
        self.assertEqual((j["sni"], j["alpn"], j["framing"], j["body_length"]), ("origin.test", "http/1.1", "none", 0))
        self.assertEqual(j["body_sha256"], sha256_hex(b""))
        self.assertEqual(r.header("X-Echo-Connection"), str(j["connection_id"]))
        self.assertIn(j, self.echo.requests)
        self.assertTunnelled(self.echo.port, before)
        # Directly, by name (curl --resolve) and by address (no SNI).
        d = run_curl(self.echo.url("/d", "origin.test"), None, self.ca.ca_cert,
                     resolve={f"origin.test:{self.echo.port}": "127.0.0.1"})
        self.assertOk(d)
        self.assertEqual(d.json()["sni"], "origin.test")
        d = run_curl(self.echo.url("/d"), None, self.ca.ca_cert)
        self.assertOk(d)
        self.assertIsNone(d.json()["sni"])

    def test_uploads_every_client_content_length_and_chunked(self):
        body = bytes(range(256)) * 300 + b"sk-placeholder-0123"
        chunks = [b"first chunk sk-place", b"holder-0123 second", b"x" * 70000]
        for name, run in CLIENTS.items():
            with self.subTest(client=name):
                before = len(self.tunnels_to(self.echo.port))
                r = run(self.echo.url("/upload", "origin.test"), self.proxy, self.ca.ca_cert, method="POST", body=body)
                self.assertOk(r)
                j = r.json()
                self.assertEqual((j["framing"], j["body_length"], j["body_sha256"]),
                                 ("content-length", len(body), sha256_hex(body)))
                self.assertEqual(j["sni"], "origin.test")
                self.assertTunnelled(self.echo.port, before)
                for method in ("PUT", None):  # None: the client's own choice (node frames a GET only when told)
                    r = run(self.echo.url("/upload", "origin.test"), self.proxy, self.ca.ca_cert, method=method,
                            chunks=chunks, repeat=2)
                    self.assertOk(r, 2)
                    for i in range(2):
                        j = r.json(i)
                        self.assertEqual((j["method"] if method else "*", j["framing"], j["body_sha256"]),
                                         (method or "*", "chunked", sha256_hex(b"".join(chunks))))
                        if name != "curl":  # curl picks its own chunk sizes
                            self.assertEqual(j["chunk_sizes"], [len(c) for c in chunks])

    def test_keep_alive_reuse_visible_per_client(self):
        seen = set()
        for name, run in CLIENTS.items():
            with self.subTest(client=name):
                r = run(self.echo.url("/k", "origin.test"), self.proxy, self.ca.ca_cert, repeat=3)
                self.assertOk(r, 3)
                js = [r.json(i) for i in range(3)]
                self.assertEqual({j["connection_id"] for j in js}, {js[0]["connection_id"]}, name)
                self.assertEqual([j["request_index"] for j in js], [1, 2, 3])
                self.assertNotIn(js[0]["connection_id"], seen)
                seen.add(js[0]["connection_id"])

    def test_pipelined_requests_answered_in_order(self):
        with tls_connect(self.echo.port, "origin.test", self.ca.ca_cert, proxy_port=self.ferry.port) as c:
            self.assertEqual(c.alpn, "http/1.1")
            self.assertEqual(c.peer_cert_sha256(), cert_sha256(self.echo.cert))
            c.send(b"".join(b"POST /p%d HTTP/1.1\r\nHost: origin.test\r\nContent-Length: 3\r\n\r\nab%d" % (i, i)
                            for i in range(1, 4)))
            js = [json.loads(c.read_response().body) for _ in range(3)]
        self.assertEqual([(j["target"], j["request_index"], j["body_sha256"]) for j in js],
                         [(f"/p{i}", i, sha256_hex(b"ab%d" % i)) for i in range(1, 4)])

    def test_echo_paths(self):
        u = lambda p: self.echo.url(p, "origin.test")
        p, ca = self.proxy, self.ca.ca_cert
        r = run_curl(u("/echo-body"), p, ca, body=b"echo me back")
        self.assertEqual((r.status, r.body, r.header("X-Echo-Sha256")),
                         (200, b"echo me back", sha256_hex(b"echo me back")))
        r = run_curl(u("/echo-body?chunked=1&chunk=5"), p, ca, body=b"echo me back")
        self.assertEqual((r.body, r.header("Transfer-Encoding")), (b"echo me back", "chunked"))
        r = run_curl(u("/status/503"), p, ca)
        self.assertEqual((r.status, r.json()["path"]), (503, "/status/503"))
        r = run_curl(u("/status/204"), p, ca)
        self.assertEqual((r.status, r.body), (204, b""))
        r = run_curl(u("/header?name=X-Token&value=tok-1&name=Set-Cookie&value=s%3D1"), p, ca)
        self.assertEqual((r.header("X-Token"), r.header("Set-Cookie")), ("tok-1", "s=1"))
        for q in ("", "&chunked=1"):
            r = run_curl(u("/big?bytes=3000001" + q), p, ca)
            self.assertEqual((len(r.body), sha256_hex(r.body)), (3000001, StreamingOrigin.expected_digest(3000001)))
        r = run_curl(u("/x"), p, ca, method="HEAD")
        self.assertEqual((r.status, r.body), (200, b""))
        self.assertGreater(int(r.header("Content-Length")), 0)
        t = time.monotonic()
        r = run_curl(u("/slow-body?chunks=3&delay=0.2&bytes=4"), p, ca)
        self.assertEqual(r.body, b"0:xx1:xx2:xx")
        self.assertGreaterEqual(time.monotonic() - t, 0.4)
        r = run_curl(u("/e"), p, ca, body=b"after continue", headers=["Expect: 100-continue"])
        self.assertEqual(r.json()["body_sha256"], sha256_hex(b"after continue"))

    def test_require_close_upgrade_and_many_names(self):
        u = lambda p, host="origin.test": self.echo.url(p, host)
        p, ca = self.proxy, self.ca.ca_cert
        need = "/require?name=Authorization&value=Bearer%20tok-9"
        self.assertEqual(run_curl(u(need), p, ca, headers=["Authorization: Bearer tok-9"]).status, 200)
        self.assertEqual(run_curl(u(need), p, ca, headers=["Authorization: Bearer stale"]).status, 401)
        self.assertEqual(run_curl(u(need), p, ca).status, 401)
        with tls_connect(self.echo.port, "origin.test", ca, proxy_port=self.ferry.port) as c:
            c.send(b"GET /c?close=1 HTTP/1.1\r\nHost: origin.test\r\n\r\n")
            r = c.read_response()
            self.assertEqual((r.status, r.header("Connection")), (200, None))
            self.assertTrue(c.closed_by_peer(2))
        with tls_connect(self.echo.port, "origin.test", ca, proxy_port=self.ferry.port) as c:
            c.send(b"GET /upgrade HTTP/1.1\r\nHost: origin.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
            self.assertEqual(c.read_response().status, 101)
            c.send(b"frame bytes")
            self.assertEqual(c.recv_exact(11), b"frame bytes")
        r = run_curl(u("/n", "h3.origin.test"), p, ca)
        self.assertOk(r)
        self.assertEqual(r.json()["sni"], "h3.origin.test")

    def test_large_upload_is_streamed(self):
        path = os.path.join(self.tmp, "upload-64m")
        block = os.urandom(1 << 20)
        with open(path, "wb") as f:
            for _ in range(64):
                f.write(block)
        r = run_curl(self.echo.url("/big-upload", "origin.test"), self.proxy, self.ca.ca_cert, body_file=path,
                     headers=["Expect:"])
        self.assertOk(r)
        self.assertEqual((r.json()["body_length"], r.json()["body_sha256"]), (64 << 20, sha256_hex(block * 64)))

    # -- bad certificates, ALPN, whose certificate ---------------------------
    def test_bad_certificates_rejected(self):
        codes = {"expired": 10, "wrong-name": 62, "untrusted": 18}
        for kind, origin in self.bad.items():
            with self.subTest(kind=kind):
                for proxy in (None, self.proxy):
                    r = run_curl(origin.url("/", "origin.test"), proxy, self.ca.ca_cert,
                                 resolve={f"origin.test:{origin.port}": "127.0.0.1"})
                    self.assertEqual(r.returncode, 60, r)
                    self.assertEqual(r.responses, [])
                    r = run_node(origin.url("/", "origin.test"), proxy, self.ca.ca_cert, resolve="127.0.0.1")
                    self.assertEqual(r.returncode, 1, r)
                # The origin itself answers once the client stops checking: the failure is the certificate.
                r = run_curl(origin.url("/", "origin.test"), self.proxy, self.ca.ca_cert, extra=["-k"])
                self.assertOk(r)
                r = run_s_client(origin.port, "origin.test", self.proxy, self.ca.ca_cert)
                self.assertEqual((r.returncode, r.info["verify_code"]), (1, codes[kind]), r)
                self.assertIsNotNone(origin.handshakes[-1]["error"])

    def test_s_client_sees_origin_certificate_and_alpn(self):
        req = b"GET /s HTTP/1.1\r\nHost: origin.test\r\nConnection: close\r\n\r\n"
        r = run_s_client(self.echo.port, "origin.test", self.proxy, self.ca.ca_cert, alpn="http/1.1", request=req)
        self.assertEqual((r.returncode, r.info["verify_code"], r.info["alpn"]), (0, 0, "http/1.1"), r)
        self.assertEqual(r.info["peer_cert_sha256"], cert_sha256(self.echo.cert))
        self.assertEqual((r.status, r.json()["target"]), (200, "/s"))
        # An h2-only client: this origin accepts only http/1.1, so no ALPN is agreed.
        r = run_s_client(self.echo.port, "origin.test", self.proxy, self.ca.ca_cert, alpn="h2")
        self.assertEqual((r.returncode, r.info["alpn"]), (0, None), r)
        self.assertEqual(self.echo.handshakes[-1]["alpn"], None)

    # -- other origins -------------------------------------------------------
    def test_git_clone(self):
        cases = {"direct by address": (self.git.url(), None, None),
                 "direct by name": (self.git.url("origin.test"), None, f"origin.test:{self.git.port}:127.0.0.1"),
                 "through ferry": (self.git.url("origin.test"), self.proxy, None)}
        for label, (url, proxy, resolve) in cases.items():
            with self.subTest(label):
                before = len(self.tunnels_to(self.git.port))
                dest = os.path.join(self.tmp, "clone-" + label.replace(" ", "-"))
                r = run_git_clone(url, dest, proxy, self.ca.ca_cert, resolve=resolve)
                self.assertEqual(r.returncode, 0, r)
                self.assertEqual(r.info["head"], self.git.head)
                self.assertEqual(r.info["log"], ["commit 3", "commit 2", "commit 1"])
                if proxy:
                    self.assertTunnelled(self.git.port, before)
        self.assertTrue(any("git-upload-pack" in line for line in self.git.access_lines()))
        # A push bigger than http.postBuffer: git sends the pack as a chunked POST.
        clone = os.path.join(self.tmp, "clone-through-ferry")
        r = run_git_push(clone, self.proxy, self.ca.ca_cert, add_bytes=2 << 20, refspec="HEAD:refs/heads/pushed")
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(self.git.current_head("pushed"), r.info["head"])
        self.assertNotEqual(r.info["head"], self.git.head)
        self.assertEqual(self.git.current_head(), self.git.head)  # main untouched: other tests clone it
        r = run_git_clone(self.git.url("origin.test"), os.path.join(self.tmp, "clone-untrusted"), self.proxy, None)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("certificate", r.stderr)

    def test_nginx_static_https_through_tunnel(self):
        url = f"https://origin.test:{self.nginx.https_port}/64k.bin"
        for name, run in CLIENTS.items():
            with self.subTest(client=name):
                r = run(url, self.proxy, self.ca.ca_cert)
                self.assertOk(r)
                self.assertEqual(r.body, self.nginx.file64k)

    def test_every_client_through_squid_with_basic_auth(self):
        """The runners against another CONNECT proxy, with credentials in the proxy URL."""
        sq = Squid(self.tmp, auth="basic", users={"bob": "b:p@ss w"}, hosts=TEST_HOSTS,
                   connect_ports=(self.echo.port, self.git.port))
        self.addCleanup(sq.stop, 5, False)
        proxy = sq.url(creds=("bob", "b:p@ss w"))
        for name, run in CLIENTS.items():
            with self.subTest(client=name):
                r = run(self.echo.url("/sq", "origin.test"), proxy, self.ca.ca_cert)
                self.assertOk(r)
                self.assertEqual(r.json()["sni"], "origin.test")
                r = run(self.echo.url("/sq", "origin.test"), sq.url(creds=("bob", "wrong")), self.ca.ca_cert)
                self.assertNotEqual(r.returncode, 0, r)
        req = b"GET /s HTTP/1.1\r\nHost: origin.test\r\nConnection: close\r\n\r\n"
        r = run_s_client(self.echo.port, "origin.test", proxy, self.ca.ca_cert, request=req)
        self.assertEqual((r.returncode, r.status), (0, 200), r)
        r = run_git_clone(self.git.url("origin.test"), os.path.join(self.tmp, "clone-squid"), proxy, self.ca.ca_cert)
        self.assertEqual(r.info["head"], self.git.head, r)
        auth = "Proxy-Authorization: Basic " + base64.b64encode(b"bob:b:p@ss w").decode()
        with tls_connect(self.echo.port, "origin.test", self.ca.ca_cert, proxy_port=sq.port,
                         proxy_headers=[auth]) as c:
            c.send(b"GET /t HTTP/1.1\r\nHost: origin.test\r\n\r\n")
            self.assertEqual(json.loads(c.read_response().body)["target"], "/t")
        users = {e["user"] for e in sq.access_lines() if e["method"] == "CONNECT" and e["status"] == 200}
        self.assertEqual(users, {"bob"})

    # -- lifecycle -----------------------------------------------------------
    def test_stop_closes_everything(self):
        o = TlsEchoOrigin(self.tmp, self.ca)
        for _ in range(3):
            self.assertOk(run_curl(o.url("/", "localhost"), None, self.ca.ca_cert))
        self.assertTrue(wait_until(lambda: o.threads_alive() == 0 and not o._conns, 5), "finished threads linger")
        idle = tls_connect(o.port, "localhost", self.ca.ca_cert)
        idle.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        self.assertEqual(idle.read_response().status, 200)
        half = socket.create_connection(("127.0.0.1", o.port))  # never handshakes
        self.assertTrue(wait_until(lambda: o.threads_alive() == 2, 5))
        t = time.monotonic()
        o.stop()
        self.assertLess(time.monotonic() - t, 2)
        self.assertEqual(o.threads_alive(), 0)
        self.assertFalse(port_open(o.port))
        self.assertTrue(idle.closed_by_peer(2))
        half.settimeout(2)
        self.assertEqual(half.recv(10), b"")
        idle.close()
        half.close()


if __name__ == "__main__":
    unittest.main()
