"""ferry in front of real upstream HTTP proxies (Squid: open, Basic, Digest,
https_port + Basic): plain HTTP and CONNECT, keep-alive and the learnt auth
scheme, 407 handling (one retry, never a loop), CONNECT refusals, failover
with the 60 s skip, and the routes that bypass the upstream (loopback,
--no-proxy, --no-proxy-exact).

Origins are addressed as origin.test etc. (harness.TEST_NAMES): ferry sends
loopback targets direct, so the name must not look like loopback; Squid and
ferry both map it to 127.0.0.1 with a private hosts file.
"""

import concurrent.futures
import time
import unittest

from harness import (BlackholeListener, EchoServer, Nginx, RawConn, TestCA, ThreadedServer, free_port, get,
                     raw_request)
from upstreams import PASSWORD, USER, WRONG_PASSWORD, UpstreamTestCase, proxy_url

ORIGIN = "origin.test"


class AcceptAndClose(ThreadedServer):
    """A proxy whose backend is gone: it accepts, reads the request, and
    closes without a byte of answer (what a load balancer in front of a dead
    proxy does)."""

    def handle(self, sock):
        sock.recv(65536)


class UpstreamHTTPTest(UpstreamTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ca = TestCA(cls.tmp)
        cls.nginx = Nginx(cls.tmp, cls.ca)
        cls.addClassCleanup(cls.nginx.stop)
        cls.echo = cls.start_server(EchoServer())
        cls.plain = f"http://{ORIGIN}:{cls.nginx.http_port}/"
        cls.tls = f"https://{ORIGIN}:{cls.nginx.https_port}/"
        cls.ports = (cls.nginx.https_port, cls.echo.port)

    def serve(self, *args, **kw):
        return super().serve("--connect-ports", ",".join(map(str, self.ports)), *args, **kw)

    def get_ok(self, ferry, url=None, *extra):
        r = self.curl(f"http://127.0.0.1:{ferry.port}", *extra, url or self.plain)
        self.assertCurlBody(r, Nginx.HELLO)

    def https_ok(self, ferry):
        r = self.curl(f"http://127.0.0.1:{ferry.port}", "--cacert", self.ca.ca_cert, self.tls)
        self.assertCurlBody(r, Nginx.HELLO)

    def connect_raw(self, ferry, hostport):
        with RawConn(ferry.port) as c:
            c.send(f"CONNECT {hostport} HTTP/1.1\r\nHost: {hostport}\r\n\r\n")
            return c.read_response("CONNECT")

    def routes(self, ferry, event, n=1):
        evs = self.wait_events(ferry, n, event)
        self.assertGreaterEqual(len(evs), n, ferry.stderr_text())
        return [e["route"] for e in evs]

    # -- each upstream kind, plain HTTP and CONNECT -------------------------
    def test_open_squid_http_and_connect(self):
        sq = self.squid(connect_ports=self.ports)
        f = self.serve("--upstream", sq.url())
        self.get_ok(f)
        self.https_ok(f)
        got = self.access(sq, 2)
        self.assertEqual(got, [(200, "GET", self.plain, None),
                               (200, "CONNECT", f"{ORIGIN}:{self.nginx.https_port}", None)])
        self.assertEqual(self.routes(f, "request"), [sq.url()])
        self.assertEqual(self.routes(f, "tunnel"), [sq.url()])

    def test_basic_userinfo_keepalive_learns_scheme(self):
        sq = self.squid(auth="basic", connect_ports=self.ports)
        f = self.serve("--upstream", sq.url(creds=(USER, PASSWORD)))
        # Three requests over one client connection (curl reuses it).
        r = self.curl(f"http://127.0.0.1:{f.port}", self.plain, self.plain + "?2", self.plain + "?3")
        self.assertCurlBody(r, Nginx.HELLO * 3)
        reqs = self.wait_events(f, 3, "request")
        self.assertEqual(len(reqs), 3, f.stderr_text())
        self.assertEqual(len({e["client"] for e in reqs}), 1, "curl's three requests did not share a connection")
        self.get_ok(f, self.plain + "?4")  # a new client connection
        self.https_ok(f)                    # CONNECT, preemptive Basic too
        got = self.access(sq, 6)
        self.assertEqual([g for g in got if g[0] == 407], [(407, "GET", self.plain, None)],
                         f"expected exactly one 407 (the first request), then preemptive Basic: {got}")
        self.assertEqual(got[0], (407, "GET", self.plain, None))
        self.assertEqual(got[1:], [(200, "GET", self.plain, USER), (200, "GET", self.plain + "?2", USER),
                                   (200, "GET", self.plain + "?3", USER), (200, "GET", self.plain + "?4", USER),
                                   (200, "CONNECT", f"{ORIGIN}:{self.nginx.https_port}", USER)])

    def test_basic_user_and_password_file(self):
        sq = self.squid(auth="basic", connect_ports=self.ports)
        f = self.serve("--upstream", sq.url(), "--user", USER, "--password-file", self.password_file())
        self.get_ok(f)
        self.https_ok(f)
        got = self.access(sq, 2, pred=lambda e: e["status"] == 200)
        self.assertEqual(got, [(200, "GET", self.plain, USER),
                               (200, "CONNECT", f"{ORIGIN}:{self.nginx.https_port}", USER)])

    def test_digest_userinfo(self):
        sq = self.squid(auth="digest", connect_ports=self.ports)
        f = self.serve("--upstream", sq.url(creds=(USER, PASSWORD)))
        self.get_ok(f)
        self.get_ok(f, self.plain + "?again")
        self.https_ok(f)
        got = self.access(sq, 3, pred=lambda e: e["status"] == 200)
        self.assertEqual(got, [(200, "GET", self.plain, USER), (200, "GET", self.plain + "?again", USER),
                               (200, "CONNECT", f"{ORIGIN}:{self.nginx.https_port}", USER)])

    def test_digest_user_and_password_file_auth_digest(self):
        sq = self.squid(auth="digest", connect_ports=self.ports)
        f = self.serve("--upstream", sq.url(), "--auth", "digest", "--user", USER,
                       "--password-file", self.password_file())
        self.get_ok(f)
        self.https_ok(f)
        got = self.access(sq, 2, pred=lambda e: e["status"] == 200)
        self.assertEqual([(g[0], g[1], g[3]) for g in got], [(200, "GET", USER), (200, "CONNECT", USER)])

    def test_https_upstream_basic(self):
        sq = self.squid(auth="basic", https=True, ca=self.ca, connect_ports=self.ports)
        url = sq.url(creds=(USER, PASSWORD))
        self.assertTrue(url.startswith("https://"))
        f = self.serve("--upstream", url, "--upstream-ca", self.ca.ca_cert)
        self.get_ok(f)
        self.https_ok(f)
        got = self.access(sq, 2, pred=lambda e: e["status"] == 200)
        self.assertEqual(got, [(200, "GET", self.plain, USER),
                               (200, "CONNECT", f"{ORIGIN}:{self.nginx.https_port}", USER)])
        self.assertEqual(self.routes(f, "request"), [sq.url()])

    def test_https_upstream_untrusted_certificate(self):
        # Without --upstream-ca the test CA is not trusted: a TLS failure,
        # never reported as connection_refused.
        sq = self.squid(auth="basic", https=True, ca=self.ca, connect_ports=self.ports)
        f = self.serve("--upstream", sq.url(creds=(USER, PASSWORD)))
        resp = raw_request(f.port, get(self.plain))
        self.assertIsNotNone(resp)
        self.assertEqual(resp.status, 502, resp.raw_head)
        err, _ = self.proxy_status(resp)
        self.assertEqual(err, "tls_certificate_error", resp.raw_head)

    # -- 407 handling -------------------------------------------------------
    def test_wrong_credentials_one_retry_then_407(self):
        sq = self.squid(auth="basic", connect_ports=self.ports)
        f = self.serve("--upstream", sq.url(creds=(USER, WRONG_PASSWORD)))
        resp = raw_request(f.port, get(self.plain))
        self.assertIsNotNone(resp)
        self.assertEqual(resp.status, 407, resp.raw_head)
        err, details = self.proxy_status(resp)
        self.assertEqual(err, "http_request_denied")
        self.assertIn(f"upstream proxy {sq.url()} rejected ferry's Basic credentials", details)
        self.assertIn("wrong user name or password", details)
        got = self.access(sq, 2)
        # One try without credentials, exactly one retry with them, no loop.
        self.assertEqual(got, [(407, "GET", self.plain, None), (407, "GET", self.plain, USER)])
        ev = self.wait_events(f, 1, "request")
        self.assertEqual([e["status"] for e in ev], [407])

    def test_wrong_credentials_connect(self):
        sq = self.squid(auth="basic", connect_ports=self.ports)
        f = self.serve("--upstream", sq.url(creds=(USER, WRONG_PASSWORD)))
        resp = self.connect_raw(f, f"{ORIGIN}:{self.nginx.https_port}")
        self.assertIsNotNone(resp)
        self.assertEqual(resp.status, 407, resp.raw_head)
        err, details = self.proxy_status(resp)
        self.assertEqual(err, "http_request_denied")
        self.assertIn("rejected ferry's Basic credentials", details)
        got = self.access(sq, 2)
        self.assertEqual([(g[0], g[1], g[3]) for g in got], [(407, "CONNECT", None), (407, "CONNECT", USER)])

    def test_digest_wrong_password_one_retry_then_407(self):
        sq = self.squid(auth="digest", connect_ports=self.ports)
        f = self.serve("--upstream", sq.url(creds=(USER, WRONG_PASSWORD)))
        resp = raw_request(f.port, get(self.plain))
        self.assertIsNotNone(resp)
        self.assertEqual(resp.status, 407, resp.raw_head)
        err, details = self.proxy_status(resp)
        self.assertEqual(err, "http_request_denied")
        self.assertIn(f"upstream proxy {sq.url()} rejected ferry's Digest credentials", details)
        got = self.access(sq, 2)
        self.assertEqual([(g[0], g[3]) for g in got], [(407, None), (407, USER)])

    def test_no_credentials_407(self):
        sq = self.squid(auth="basic", connect_ports=self.ports)
        f = self.serve("--upstream", sq.url())
        resp = raw_request(f.port, get(self.plain))
        self.assertIsNotNone(resp)
        self.assertEqual(resp.status, 407, resp.raw_head)
        err, details = self.proxy_status(resp)
        self.assertEqual(err, "http_request_denied")
        self.assertIn("requires authentication", details)
        self.assertIn("no credentials", details)
        self.assertIn(sq.url(), details)
        got = self.access(sq, 1)
        self.assertEqual(got, [(407, "GET", self.plain, None)], "nothing to retry with: one attempt only")

    # -- CONNECT refused by the upstream ------------------------------------
    def test_connect_forbidden_port_is_502_request_denied(self):
        sq = self.squid(connect_ports=(self.nginx.https_port,))  # not the echo port
        f = self.serve("--upstream", sq.url())
        target = f"{ORIGIN}:{self.echo.port}"
        resp = self.connect_raw(f, target)
        self.assertIsNotNone(resp)
        self.assertEqual(resp.status, 502, resp.raw_head)
        err, details = self.proxy_status(resp)
        self.assertEqual(err, "http_request_denied", details)
        self.assertIn(f"refused CONNECT to {target}: 403", details)
        self.assertEqual(self.access(sq, 1), [(403, "CONNECT", target, None)])
        # An HTTP refusal is not a connection failure: no failover, no skip.
        self.assertEqual(f.events("upstream_failed"), [])
        self.https_ok(f)

    def test_connect_upstream_503_is_destination_unavailable(self):
        dead = free_port()
        sq = self.squid(connect_ports=(dead,))
        f = super().serve("--connect-ports", str(dead), "--upstream", sq.url())
        resp = self.connect_raw(f, f"{ORIGIN}:{dead}")
        self.assertIsNotNone(resp)
        self.assertEqual(resp.status, 502, resp.raw_head)
        err, details = self.proxy_status(resp)
        self.assertEqual(err, "destination_unavailable", details)
        self.assertIn(f"{ORIGIN}:{dead}", details)

    # -- failover -----------------------------------------------------------
    def test_failover_dead_first_upstream(self):
        dead = proxy_url("http", free_port())
        sq = self.squid(connect_ports=self.ports)
        f = self.serve("--upstream", dead, "--upstream", sq.url())
        self.get_ok(f)
        failed = self.wait_events(f, 1, "upstream_failed")
        self.assertEqual(len(failed), 1, f.stderr_text())
        self.assertEqual(failed[0]["upstream"], dead)
        self.assertEqual(failed[0]["error"], "connection_refused")
        self.assertIs(failed[0]["failover"], True, failed[0])
        # Skipped for 60 s: later requests (plain and CONNECT) go straight to the second.
        self.get_ok(f, self.plain + "?2")
        self.https_ok(f)
        time.sleep(0.3)
        self.assertEqual(len(f.events("upstream_failed")), 1, f.stderr_text())
        self.assertEqual(self.routes(f, "request", 2), [sq.url(), sq.url()])
        self.assertEqual(self.routes(f, "tunnel"), [sq.url()])
        self.assertEqual(len(self.access(sq, 3)), 3)

    def test_failover_when_first_upstream_closes_without_answering(self):
        lb = self.start_server(AcceptAndClose())
        dead = proxy_url("http", lb.port)
        sq = self.squid(connect_ports=self.ports)
        f = self.serve("--upstream", dead, "--upstream", sq.url())
        self.get_ok(f)
        failed = self.wait_events(f, 1, "upstream_failed")
        self.assertEqual([e["upstream"] for e in failed], [dead], f.stderr_text())
        self.assertIs(failed[0]["failover"], True, failed[0])
        # The CONNECT path fails over the same way, and the 60 s skip holds
        # for both: the closing upstream sees no further connection.
        accepted = lb.accepted
        self.get_ok(f, self.plain + "?2")
        self.https_ok(f)
        self.assertEqual(lb.accepted, accepted, "the failed upstream was tried again within 60 s")
        self.assertEqual(len(f.events("upstream_failed")), 1, f.stderr_text())

    def test_failover_hanging_first_upstream_is_skipped(self):
        hole = BlackholeListener()
        self.addCleanup(hole.stop)
        self.assertTrue(hole.hangs(0.5))
        dead = proxy_url("http", hole.port)
        sq = self.squid(connect_ports=self.ports)
        f = self.serve("--connect-timeout", "1s", "--upstream", dead, "--upstream", sq.url())
        t0 = time.monotonic()
        self.get_ok(f)
        first = time.monotonic() - t0
        self.assertGreaterEqual(first, 0.8, "the first request should have waited for the connect timeout")
        failed = self.wait_events(f, 1, "upstream_failed")
        self.assertEqual([e["upstream"] for e in failed], [dead])
        self.assertEqual(failed[0]["error"], "connection_timeout", failed[0])
        t0 = time.monotonic()
        self.get_ok(f, self.plain + "?2")
        self.https_ok(f)
        self.assertLess(time.monotonic() - t0, 0.8, "the hanging upstream was tried again")
        self.assertEqual(len(f.events("upstream_failed")), 1, f.stderr_text())

    def test_only_upstream_dead_is_502(self):
        dead = proxy_url("http", free_port())
        f = self.serve("--upstream", dead)
        resp = raw_request(f.port, get(self.plain))
        self.assertIsNotNone(resp)
        self.assertEqual(resp.status, 502, resp.raw_head)
        err, details = self.proxy_status(resp)
        self.assertEqual(err, "connection_refused")
        self.assertIn(dead, details)

    # -- routes that bypass the upstream ------------------------------------
    def test_loopback_goes_direct_despite_dead_upstream(self):
        f = self.serve("--upstream", proxy_url("http", free_port()))
        self.get_ok(f, f"http://127.0.0.1:{self.nginx.http_port}/")
        self.get_ok(f, f"http://localhost:{self.nginx.http_port}/")
        r = self.curl(f"http://127.0.0.1:{f.port}", "--cacert", self.ca.ca_cert,
                      f"https://127.0.0.1:{self.nginx.https_port}/")
        self.assertCurlBody(r, Nginx.HELLO)
        self.assertEqual(self.routes(f, "request", 2), ["direct", "direct"])
        self.assertEqual(self.routes(f, "tunnel"), ["direct"])
        self.assertEqual(f.events("upstream_failed"), [])

    def test_no_proxy_goes_direct_despite_dead_upstream(self):
        dead = proxy_url("http", free_port())
        f = self.serve("--upstream", dead, "--no-proxy", "bypass.test")
        self.get_ok(f, f"http://bypass.test:{self.nginx.http_port}/")
        r = self.curl(f"http://127.0.0.1:{f.port}", "--cacert", self.ca.ca_cert,
                      f"https://bypass.test:{self.nginx.https_port}/")
        self.assertCurlBody(r, Nginx.HELLO)
        self.assertEqual(self.routes(f, "request"), ["direct"])
        self.assertEqual(self.routes(f, "tunnel"), ["direct"])
        self.assertEqual(f.events("upstream_failed"), [])
        # And a name not on the list does go to the (dead) upstream.
        resp = raw_request(f.port, get(self.plain))
        self.assertEqual(resp.status, 502, resp.raw_head)
        self.assertEqual(self.proxy_status(resp)[0], "connection_refused")

    def test_no_proxy_exact_goes_direct_despite_dead_upstream(self):
        dead = proxy_url("http", free_port())
        f = self.serve("--upstream", dead, "--no-proxy-exact", f"exact.test:{self.nginx.http_port}")
        self.get_ok(f, f"http://EXACT.test:{self.nginx.http_port}/")
        self.assertEqual(self.routes(f, "request"), ["direct"])
        # Exact: another port of the same host is not matched.
        resp = raw_request(f.port, get(f"http://exact.test:{self.nginx.https_port}/"))
        self.assertEqual(resp.status, 502, resp.raw_head)
        self.assertEqual(self.proxy_status(resp)[0], "connection_refused")


    def test_digest_concurrent_requests_with_strict_nonce_counts(self):
        # S2: one nonce and one count for all connections: concurrent
        # requests can reach Squid with their nc out of order. With
        # nonce_strictness on, a late one gets a stale nonce (or 407) and
        # ferry's one stale retry must still get every client a 200.
        sq = self.squid(auth="digest", connect_ports=self.ports,
                        extra_conf="auth_param digest nonce_strictness on\nauth_param digest check_nonce_count on")
        f = self.serve("--upstream", sq.url(creds=(USER, PASSWORD)))
        self.get_ok(f)  # learns Digest and the nonce
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            rs = list(pool.map(lambda i: self.curl(f"http://127.0.0.1:{f.port}", self.plain + f"?c{i}"), range(48)))
        codes = [r.returncode for r in rs]
        self.assertEqual(codes, [0] * len(rs), [r.stderr for r in rs if r.returncode])
        self.assertEqual([r.stdout for r in rs], [Nginx.HELLO] * len(rs))
        # Every one authenticated as the user in the end (some after a stale retry).
        got = self.access(sq, 49, pred=lambda e: e["status"] == 200)
        self.assertEqual({g[3] for g in got}, {USER})


if __name__ == "__main__":
    unittest.main()
