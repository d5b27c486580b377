"""Structured logs on stderr: one event per request/tunnel, text format, no secrets."""

import re
import time
import unittest

from harness import EchoServer, Ferry, ProxyTestCase, RawConn, RecordingOrigin, curl, get, raw_request

REQUEST_FIELDS = ("client", "method", "target", "route", "status", "bytes_from_client", "bytes_to_client",
                  "duration_ms", "error")


class LogTest(ProxyTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.origin = cls.start_server(RecordingOrigin())
        cls.echo = cls.start_server(EchoServer())

    FRESH_FERRY_ARGS = []

    def fresh_ferry_kw(self):
        return {}

    def setUp(self):
        self.FRESH_FERRY_ARGS = ["--connect-ports", str(self.echo.port)]
        super().setUp()

    def wait_events(self, name, n=1, ferry=None):
        ferry = ferry or self.ferry
        evs = ferry.wait_for_event(lambda e: e.get("event") == name, timeout=5)
        deadline = time.monotonic() + 5
        while len(evs) < n and time.monotonic() < deadline:
            time.sleep(0.05)
            evs = ferry.events(name)
        return evs

    def test_one_json_event_per_request(self):
        url = f"http://127.0.0.1:{self.origin.port}/logged/path"
        with RawConn(self.ferry.port) as c:
            for _ in range(3):
                c.send(get(url, close=False))
                self.assertEqual(c.read_response().status, 200)
        evs = self.wait_events("request", 3)
        self.assertEqual(len(evs), 3, evs)
        for e in evs:
            for k in REQUEST_FIELDS:
                self.assertIn(k, e, f"field {k} missing: {e}")
            self.assertEqual(e["method"], "GET")
            self.assertEqual(e["target"], url)
            self.assertEqual(e["status"], 200)
            self.assertEqual(e["route"], "direct")
            self.assertEqual(e["error"], "")
            self.assertRegex(e["client"], r"^127\.0\.0\.1:\d+$")
            self.assertIsInstance(e["duration_ms"], (int, float))
            self.assertGreater(e["bytes_from_client"], 50)
            self.assertGreater(e["bytes_to_client"], 50)
            self.assertIn("level", e)
            self.assertIn("ts", e)
        # Every stderr line is one JSON object.
        for line in self.ferry.stderr_text().splitlines():
            self.assertTrue(line.startswith("{") and line.endswith("}"), line)

    def test_error_event(self):
        resp = raw_request(self.ferry.port, get("http://127.0.0.1:1/"))
        self.assertFerryError(resp, 502, "connection_refused")
        evs = self.wait_events("request")
        self.assertEqual(len(evs), 1, evs)
        self.assertEqual(evs[0]["status"], 502)
        self.assertEqual(evs[0]["error"], "connection_refused")

    def test_bad_request_is_logged(self):
        resp = raw_request(self.ferry.port, b"POST http://127.0.0.1:1/ HTTP/1.1\r\nHost: x\r\n"
                                            b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab")
        self.assertFerryError(resp, 400, "http_request_error")
        evs = self.wait_events("request")
        self.assertEqual(len(evs), 1, evs)
        self.assertEqual(evs[0]["status"], 400)
        self.assertEqual(evs[0]["error"], "http_request_error")

    def test_tunnel_event(self):
        with RawConn(self.ferry.port) as c:
            c.send(f"CONNECT 127.0.0.1:{self.echo.port} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            self.assertTrue(c.read_head().startswith(b"HTTP/1.1 200"))
            c.send(b"0123456789")
            self.assertEqual(c.recv_exact(10), b"0123456789")
            c.shutdown_write()
            c.read_to_eof()
        evs = self.wait_events("tunnel")
        self.assertEqual(len(evs), 1, self.ferry.stderr_text())
        e = evs[0]
        for k in REQUEST_FIELDS:
            self.assertIn(k, e)
        self.assertEqual(e["method"], "CONNECT")
        self.assertEqual(e["target"], f"127.0.0.1:{self.echo.port}")
        self.assertEqual(e["status"], 200)
        self.assertGreaterEqual(e["bytes_from_client"], 10)
        self.assertGreaterEqual(e["bytes_to_client"], 10)
        self.assertEqual(self.ferry.events("request"), [])

    def test_text_format(self):
        f = Ferry(self.tmp, ["--log-format", "text"], name="ferry-text")
        try:
            resp = raw_request(f.port, get(f"http://127.0.0.1:{self.origin.port}/text"))
            self.assertEqual(resp.status, 200)
            ok = f.wait_for_event(lambda e: False, timeout=0.5)  # JSON parse finds nothing
            self.assertEqual(ok, [])
            deadline = time.monotonic() + 5
            lines = []
            while time.monotonic() < deadline:
                lines = [l for l in f.stderr_text().splitlines() if " request " in l]
                if lines:
                    break
                time.sleep(0.05)
            self.assertEqual(len(lines), 1, f.stderr_text())
            line = lines[0]
            self.assertFalse(line.startswith("{"))
            pairs = dict(re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)', line))
            for k in REQUEST_FIELDS:
                self.assertIn(k, pairs, line)
            self.assertEqual(pairs["method"], "GET")
            self.assertEqual(pairs["status"], "200")
            self.assertEqual(pairs["target"], f"http://127.0.0.1:{self.origin.port}/text")
            self.assertTrue(any(" listening " in l for l in f.stderr_text().splitlines()))
        finally:
            self.assertCleanExit(f)

    def test_no_secrets_in_logs(self):
        base = f"http://127.0.0.1:{self.origin.port}"
        with RawConn(self.ferry.port) as c:
            c.send(get(f"{base}/a", "Authorization: Bearer SECRET-A\r\n"
                                    "Proxy-Authorization: Basic U0VDUkVULUI=\r\n"
                                    "Cookie: session=SECRET-C\r\n", close=False))
            self.assertEqual(c.read_response().status, 200)
            c.send(get(f"{base}/search?token=SECRET-D&x=1"))
            self.assertEqual(c.read_response().status, 200)
        r = curl(self.ferry.port, "-H", "Authorization: Bearer SECRET-A", "-b", "c=SECRET-C",
                 "-U", "user:SECRET-B", f"{base}/curl?token=SECRET-D")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.wait_events("request", 4)
        self.assertNoSecrets(self.ferry.stderr_text(), ("SECRET-A", "SECRET-B", "U0VDUkVULUI=", "SECRET-C",
                                                         "SECRET-D"))

    def test_no_userinfo_in_logs(self):
        # A URL with userinfo (refused or not) must not leave the password in the log.
        resp = raw_request(self.ferry.port,
                           get(f"http://user:SECRET-E@127.0.0.1:{self.origin.port}/userinfo"))
        self.assertIsNotNone(resp)
        self.wait_events("request")
        self.assertNoSecrets(self.ferry.stderr_text(), ("SECRET-E",))

    def test_no_secrets_in_tunnel_logs(self):
        with RawConn(self.ferry.port) as c:
            c.send(f"CONNECT 127.0.0.1:{self.echo.port} HTTP/1.1\r\nHost: x\r\n"
                   "Proxy-Authorization: Basic U0VDUkVULUI=\r\n\r\n".encode())
            self.assertTrue(c.read_head().startswith(b"HTTP/1.1 200"))
            c.send(b"SECRET-H inside the tunnel")
            c.recv_exact(26)
        self.wait_events("tunnel")
        self.assertNoSecrets(self.ferry.stderr_text(), ("U0VDUkVULUI=", "SECRET-H"))

    def assertNoSecrets(self, text, secrets):
        for s in secrets:
            self.assertNotIn(s, text, f"secret {s} appears in ferry's log")


if __name__ == "__main__":
    unittest.main()
