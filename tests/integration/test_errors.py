"""Error contracts: status, Proxy-Status type and Via on every response ferry makes."""

import http.client
import os
import time
import unittest

from harness import (BlackholeListener, Ferry, Nginx, ProxyTestCase, RawConn, ScriptedOrigin, SockReader, TestCA,
                     ThreadedServer, free_port, get, open_fds, pending_bytes, raw_request, wait_until)

MARKER = b"ORIGIN-RAW-MARKER"


class ErrorContractTest(ProxyTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ca = TestCA(cls.tmp)
        cls.nginx = Nginx(cls.tmp, cls.ca)
        cls.addClassCleanup(cls.nginx.stop)

    # A fresh ferry per test: a crash fails only the test that caused it.
    FRESH_FERRY_ARGS = ["--connect-timeout", "1s"]

    def fresh_ferry_kw(self):
        return {"ca": self.ca}

    def req(self, url, extra="", **kw):
        return raw_request(self.ferry.port, get(url, extra, **kw))

    def test_dns_error(self):
        resp = self.req("http://no-such-host.invalid/")
        self.assertFerryError(resp, 502, "dns_error")

    def test_connection_refused(self):
        port = free_port()
        resp = self.req(f"http://127.0.0.1:{port}/")
        self.assertFerryError(resp, 502, "connection_refused")

    def test_connection_timeout(self):
        hole = BlackholeListener()
        try:
            if not hole.hangs(1.0):
                # Not a missing server: this kernel answers SYNs to a full
                # backlog, so loopback cannot produce a connect timeout.
                self.skipTest("this kernel does not drop SYNs to a full backlog; cannot provoke a connect timeout")
            resp = self.req(f"http://127.0.0.1:{hole.port}/")
            self.assertFerryError(resp, 504, "connection_timeout")
        finally:
            hole.stop()

    def test_unspecified_address(self):
        resp = self.req(f"http://0.0.0.0:{self.nginx.http_port}/")
        self.assertFerryError(resp, 403, "destination_ip_prohibited")

    def test_own_listener(self):
        resp = self.req(f"http://127.0.0.1:{self.ferry.port}/")
        self.assertIsNotNone(resp)
        self.assertIn(resp.status, (403, 502))
        self.assertFerryError(resp, resp.status,
                              "destination_ip_prohibited" if resp.status == 403 else "proxy_loop_detected")

    def test_own_listener_via_localhost_name(self):
        resp = self.req(f"http://localhost:{self.ferry.port}/")
        self.assertIsNotNone(resp)
        self.assertIn(resp.status, (403, 502), resp.raw_head)
        self.assertFerryError(resp, resp.status,
                              "destination_ip_prohibited" if resp.status == 403 else "proxy_loop_detected")

    def test_via_loop_detected(self):
        me = self.ferry.via_pseudonym
        self.assertRegex(me, r"^ferry-[0-9a-f]{12}$")
        for via_lines in (f"Via: 1.1 {me}\r\n",
                          f"Via: 1.0 {me}\r\n",
                          f"Via: 1.1 proxy-a, 1.1 {me} (comment)\r\n",
                          f"Via: 1.1 proxy-a\r\nVia: 1.1 {me}\r\n",
                          f"Via: 1.1 proxy-a\r\nConnection: via\r\nVia: 1.1 {me.upper()}\r\n"):
            with self.subTest(via=via_lines):
                resp = self.req(self.nginx.url("/"), via_lines)
                self.assertFerryError(resp, 502, "proxy_loop_detected")
                self.assertNotIn(b"hello from origin", resp.body)

    def test_other_ferry_via_is_not_a_loop(self):
        resp = self.req(self.nginx.url("/"), "Via: 1.1 ferry-000000000000\r\n")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body, Nginx.HELLO)

    def test_connect_loop_detected(self):
        me = self.ferry.via_pseudonym
        hp = f"127.0.0.1:{self.nginx.https_port}"
        resp = raw_request(self.ferry.port, f"CONNECT {hp} HTTP/1.1\r\nHost: {hp}\r\nVia: 1.1 {me}\r\n\r\n".encode(),
                           method="CONNECT")
        self.assertFerryError(resp, 502, "proxy_loop_detected")

    def test_connect_bad_target(self):
        for target in ("127.0.0.1", "http://127.0.0.1:443/", "user:pw@127.0.0.1:443", "127.0.0.1:0"):
            with self.subTest(target=target):
                resp = raw_request(self.ferry.port, f"CONNECT {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
                                   method="CONNECT")
                self.assertFerryError(resp, 400, "http_request_error")

    def test_connect_dns_error(self):
        f = Ferry(self.tmp, ["--connect-ports", "*"], name="ferry-connect-dns")
        try:
            resp = raw_request(f.port, b"CONNECT no-such-host.invalid:443 HTTP/1.1\r\nHost: x\r\n\r\n",
                               method="CONNECT")
            self.assertFerryError(resp, 502, "dns_error")
        finally:
            self.assertCleanExit(f)

    def test_origin_form_request(self):
        resp = raw_request(self.ferry.port, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        self.assertFerryError(resp, 400, "http_request_error")

    def test_unsupported_scheme(self):
        resp = raw_request(self.ferry.port, b"GET ftp://127.0.0.1/x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        self.assertFerryError(resp, 400, "http_request_error")

    # -- malformed origin responses --------------------------------------

    BAD_RESPONSES = {
        "bad_status_line": b"HTTP/1.1 2x0 OK\r\nContent-Length: 17\r\n\r\n" + MARKER,
        "bad_version": b"HTTP/7.1 200 OK\r\nContent-Length: 17\r\n\r\n" + MARKER,
        "not_http": b"SSH-2.0-OpenSSH_9.0 " + MARKER + b"\r\n\r\n",
        "bad_header_space_before_colon": b"HTTP/1.1 200 OK\r\nX-Bad : 1\r\nContent-Length: 17\r\n\r\n" + MARKER,
        "bad_header_no_colon": b"HTTP/1.1 200 OK\r\nX-Bad-No-Colon\r\nContent-Length: 17\r\n\r\n" + MARKER,
        "bad_header_obs_fold": b"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 17\r\n\r\n" + MARKER,
        "te_and_cl": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 17\r\n\r\n" +
                     b"11\r\n" + MARKER + b"\r\n0\r\n\r\n",
        "conflicting_cl": b"HTTP/1.1 200 OK\r\nContent-Length: 17\r\nContent-Length: 18\r\n\r\n" + MARKER + b"x",
        "conflicting_cl_list": b"HTTP/1.1 200 OK\r\nContent-Length: 17, 18\r\n\r\n" + MARKER + b"x",
        "bad_cl": b"HTTP/1.1 200 OK\r\nContent-Length: -17\r\n\r\n" + MARKER,
        "nul_in_header": b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 17\r\n\r\n" + MARKER,
        "bare_lf": b"HTTP/1.1 200 OK\nX-A: 1\nContent-Length: 17\n\n" + MARKER,
        "bare_cr_in_header": b"HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 17\r\n\r\n" + MARKER,
    }

    def check_malformed_origin_response(self, raw):
        origin = ScriptedOrigin(raw, linger=0.2)
        self.addCleanup(origin.stop)
        with RawConn(self.ferry.port) as c:
            c.send(get(f"http://127.0.0.1:{origin.port}/"))
            data = c.read_to_eof()
        self.assertNotIn(MARKER, data, "raw origin bytes reached the client")
        self.assertNotIn(b"X-Bad", data)
        resp = RawConnFromBytes(data)
        self.assertFerryError(resp, 502, "http_protocol_error")

    def test_origin_closes_without_response(self):
        origin = self.start_server(ScriptedOrigin(b""))
        resp = self.req(f"http://127.0.0.1:{origin.port}/")
        self.assertIsNotNone(resp)
        self.assertEqual(resp.status, 502)
        err = self.assertFerryError(resp, 502, resp_error(resp))
        self.assertTrue(err)

    def test_origin_closes_inside_header(self):
        origin = self.start_server(ScriptedOrigin(b"HTTP/1.1 200 OK\r\nContent-Le"))
        resp = self.req(f"http://127.0.0.1:{origin.port}/")
        self.assertFerryError(resp, 502, resp_error(resp))

    def test_origin_header_over_64k(self):
        big = b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-Filler-%05d: %s\r\n" % (i, b"v" * 100) for i in range(700)) + \
            b"Content-Length: 17\r\n\r\n" + MARKER
        self.assertGreater(len(big), 64 * 1024)
        origin = self.start_server(ScriptedOrigin(big))
        with RawConn(self.ferry.port) as c:
            c.send(get(f"http://127.0.0.1:{origin.port}/"))
            data = c.read_to_eof()
        self.assertNotIn(b"X-Filler", data)
        resp = RawConnFromBytes(data)
        self.assertIsNotNone(resp)
        self.assertEqual(resp.status, 502)
        self.assertFerryError(resp, 502, resp_error(resp))

    def test_origin_101_without_upgrade_request(self):
        origin = self.start_server(ScriptedOrigin(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n"
                                                  b"Connection: upgrade\r\n\r\n" + MARKER))
        with RawConn(self.ferry.port) as c:
            c.send(get(f"http://127.0.0.1:{origin.port}/"))
            data = c.read_to_eof()
        self.assertNotIn(MARKER, data)
        self.assertFerryError(RawConnFromBytes(data), 502, "http_protocol_error")

    # -- D3: ferry's own answers to HEAD ------------------------------------

    def check_head_error_then_get(self, port, head_request, status, error):
        """HEAD answered by ferry itself: a head only (Content-Length of what a
        GET would get), the connection still usable: a GET on the same
        connection gets its own, intact answer."""
        with RawConn(port) as c:
            c.send(head_request)
            resp = c.read_response("HEAD")
            self.assertFerryError(resp, status, error)
            self.assertEqual(resp.body, b"")
            self.assertGreater(int(resp.header("content-length", "0")), 0, resp.raw_head)
            self.assertNotIn("close", (resp.header("connection") or "").lower(), resp.raw_head)
            c.send(get(self.nginx.url("/"), close=False))
            follow = c.read_response()
            self.assertEqual(follow.status, 200, f"GET after HEAD error got: {follow.raw_head!r}")
            self.assertEqual(follow.body, Nginx.HELLO)
            self.assertEqual(pending_bytes(c), b"")

    def test_head_errors_have_no_body(self):
        me = self.ferry.via_pseudonym
        bad_origin = self.start_server(ScriptedOrigin(self.BAD_RESPONSES["bad_status_line"], linger=0.2))
        cases = {
            "dns_error": (get("http://no-such-host.invalid/", method="HEAD", close=False), 502),
            "connection_refused": (get(f"http://127.0.0.1:{free_port()}/", method="HEAD", close=False), 502),
            "http_protocol_error": (get(f"http://127.0.0.1:{bad_origin.port}/", method="HEAD", close=False), 502),
            "proxy_loop_detected": (get(self.nginx.url("/"), f"Via: 1.1 {me}\r\n", method="HEAD", close=False),
                                    502),
            "http_request_error": (b"HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400),
        }
        for error, (request, status) in cases.items():
            with self.subTest(error=error):
                self.check_head_error_then_get(self.ferry.port, request, status, error)

    def test_head_response_timeout_has_no_body(self):
        from harness import SlowOrigin
        slow = self.start_server(SlowOrigin(3))
        f = Ferry(self.tmp, ["--idle-timeout", "1s"], name="ferry-head-timeout")
        try:
            self.check_head_error_then_get(f.port, get(f"http://127.0.0.1:{slow.port}/", method="HEAD", close=False),
                                           504, "http_response_timeout")
        finally:
            self.assertCleanExit(f)

    def test_error_response_keeps_client_connection_usable(self):
        # After a 502 for a body-less request the client may go on (or be closed);
        # either way the next request on a new connection works.
        resp = self.req(f"http://127.0.0.1:{free_port()}/", close=False)
        self.assertFerryError(resp, 502, "connection_refused")
        resp = self.req(self.nginx.url("/"))
        self.assertEqual(resp.status, 200)


class ClientMisbehaviourTest(ProxyTestCase):
    """ferry survives clients that go away at awkward moments, and answers
    errors for requests whose body it did not read."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        from harness import SlowOrigin, DigestOrigin
        cls.slow = cls.start_server(SlowOrigin(1))
        cls.digest = cls.start_server(DigestOrigin())

    FRESH_FERRY_ARGS = []

    def test_client_aborts_while_waiting_for_origin(self):
        # Sessions whose client went away release everything: ferry's open
        # descriptors return to what it had before (the origin closes after
        # each answer, so no pooled connection is counted).
        slow = self.start_server(SlowClosingOrigin(1))
        baseline = open_fds(self.ferry.pid)
        for _ in range(20):
            c = RawConn(self.ferry.port)
            c.send(get(f"http://127.0.0.1:{slow.port}/", close=False))
            c.close()
        for _ in range(10):
            c = RawConn(self.ferry.port)
            c.send(get(f"http://127.0.0.1:{self.digest.port}/", "Content-Length: 1000000\r\n", method="POST",
                       close=False) + b"x" * 1000)
            c.close()
        wait_until(lambda: slow.accepted >= 20, 5)
        self.assertGreater(open_fds(self.ferry.pid), baseline, "the aborted sessions never reached ferry")
        self.assertTrue(wait_until(lambda: open_fds(self.ferry.pid) <= baseline, 10),
                        f"ferry holds {open_fds(self.ferry.pid)} descriptors, {baseline} before the aborted sessions")
        resp = raw_request(self.ferry.port, get(f"http://127.0.0.1:{self.slow.port}/"))
        self.assertEqual(resp.status, 200)

    def test_error_for_unread_request_body(self):
        # D11: a client that sends its whole 8 MiB body before reading (as
        # http.client does) must still read ferry's 502 for an unreachable
        # origin. Without a lingering close ferry's close with unread input
        # is a reset, and the client's send fails.
        port = free_port()
        body = b"b" * (8 << 20)
        conn = http.client.HTTPConnection("127.0.0.1", self.ferry.port, timeout=20)
        try:
            conn.request("POST", f"http://127.0.0.1:{port}/upload", body=body,
                         headers={"Host": f"127.0.0.1:{port}"})
            resp = conn.getresponse()
            status, proxy_status = resp.status, resp.getheader("Proxy-Status") or ""
            resp.read()
        finally:
            conn.close()
        self.assertEqual(status, 502)
        self.assertIn("error=connection_refused", proxy_status)

    def test_socks_refusal_with_unread_data(self):
        # D11 for SOCKS5: a client that sends data right after its CONNECT
        # request (4 MiB, before reading) still reads ferry's refusal
        # (port 80 is not in --connect-ports: "not allowed by ruleset").
        socks_port = free_port()
        f = Ferry(self.tmp, ["--socks-listen", f"127.0.0.1:{socks_port}"], name="ferry-socks-linger")
        try:
            with RawConn(socks_port) as c:
                c.send(b"\x05\x01\x00" + b"\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x50" + b"x" * (4 << 20))
                reply = c.recv_exact(12)
            self.assertEqual(reply[:4], b"\x05\x00\x05\x02")
        finally:
            self.assertCleanExit(f)


class SlowClosingOrigin(ThreadedServer):
    """Reads one request head, waits `delay` seconds, answers 200 and closes."""

    def __init__(self, delay):
        self.delay = delay
        super().__init__()

    def handle(self, sock):
        r = SockReader(sock)
        if r.read_until(b"\r\n\r\n") is None:
            return
        time.sleep(self.delay)
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nslow\n")


def _add_malformed_cases():
    for name, raw in ErrorContractTest.BAD_RESPONSES.items():
        def t(self, raw=raw):
            self.check_malformed_origin_response(raw)
        t.__name__ = f"test_malformed_origin_response_{name}"
        setattr(ErrorContractTest, t.__name__, t)


_add_malformed_cases()


def resp_error(resp):
    """The error type in a response's Proxy-Status (for cases where several are acceptable)."""
    ps = resp.header("proxy-status") or ""
    for part in ps.split(";"):
        part = part.strip()
        if part.startswith("error="):
            return part[len("error="):]
    return "<none>"


def RawConnFromBytes(data):
    """Parses the first response in `data` (a full client-side byte capture)."""
    import harness

    class _Sock:
        def __init__(self, b):
            self.b = b

        def recv(self, n):
            out, self.b = self.b[:n], self.b[n:]
            return out

    class _C(harness.RawConn):
        def __init__(self, b):
            self.sock = _Sock(b)
            self.reader = harness.SockReader(self.sock)

    if not data:
        return None
    return _C(data).read_response()


if __name__ == "__main__":
    unittest.main()
