"""CONNECT tunnels, with both relay implementations (copy and splice)."""

import re
import socket
import time
import unittest

from harness import EchoServer, Ferry, Nginx, ProxyTestCase, RawConn, TestCA, curl, raw_request

CONNECT_REPLY_RE = re.compile(rb"^HTTP/1\.1 200 Connection established\r\nVia: 1\.1 ferry-[0-9a-f]{12}\r\n\r\n$")


def connect_req(hostport):
    return f"CONNECT {hostport} HTTP/1.1\r\nHost: {hostport}\r\n\r\n".encode()


class ConnectTests:
    RELAY = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ca = TestCA(cls.tmp)
        cls.nginx = Nginx(cls.tmp, cls.ca)
        cls.addClassCleanup(cls.nginx.stop)
        cls.echo = cls.start_server(EchoServer())
        cls.ferry = cls.start_ferry("--relay", cls.RELAY, "--connect-ports",
                                    f"{cls.nginx.https_port},{cls.echo.port}", ca=cls.ca)

    def open_tunnel(self, port=None, ferry=None):
        ferry = ferry or self.ferry
        c = RawConn(ferry.port)
        c.send(connect_req(f"127.0.0.1:{port or self.echo.port}"))
        head = c.read_head()
        self.assertIsNotNone(head)
        self.assertRegex(head, CONNECT_REPLY_RE)
        return c

    def test_curl_proxytunnel_https(self):
        r = curl(self.ferry.port, "-p", "--cacert", self.ca.ca_cert, self.nginx.url("/", tls=True))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, Nginx.HELLO)
        r = curl(self.ferry.port, "-p", "--cacert", self.ca.ca_cert, self.nginx.url("/big", tls=True))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, self.nginx.big)

    def test_connect_reply_is_bare(self):
        with RawConn(self.ferry.port) as c:
            c.send(connect_req(f"127.0.0.1:{self.echo.port}"))
            head = c.read_head()
            self.assertRegex(head, CONNECT_REPLY_RE)
            self.assertNotIn(b"content-length", head.lower())
            self.assertNotIn(b"connection:", head.lower())
            # Nothing else was sent by ferry after the head.
            c.sock.settimeout(0.3)
            with self.assertRaises(socket.timeout):
                c.sock.recv(1)

    def test_echo_both_ways(self):
        with self.open_tunnel() as c:
            for size in (1, 100, 65536, 1 << 20):
                data = bytes((i * 31 + size) % 256 for i in range(size))
                c.send(data)
                self.assertEqual(c.recv_exact(size), data)

    def test_half_close(self):
        data = b"half-close payload " * 50000  # ~1 MB
        with self.open_tunnel() as c:
            c.send(data)
            c.shutdown_write()
            got = c.read_to_eof()
            self.assertEqual(len(got), len(data))
            self.assertEqual(got, data)

    def test_half_close_client_still_receives(self):
        # After the client's FIN, the server side can still talk.
        with self.open_tunnel() as c:
            c.send(b"first")
            self.assertEqual(c.recv_exact(5), b"first")
            c.send(b"second")
            c.shutdown_write()
            self.assertEqual(c.read_to_eof(), b"second")

    def test_bytes_before_200_are_delivered(self):
        with RawConn(self.ferry.port) as c:
            c.send(connect_req(f"127.0.0.1:{self.echo.port}") + b"EARLY-DATA-1234")
            head = c.read_head()
            self.assertRegex(head, CONNECT_REPLY_RE)
            self.assertEqual(c.recv_exact(15), b"EARLY-DATA-1234")
            c.send(b"later")
            self.assertEqual(c.recv_exact(5), b"later")

    def test_port_not_allowed(self):
        # Its own ferry, so a crash here does not fail the other tests.
        f = Ferry(self.tmp, ["--relay", self.RELAY, "--connect-ports", str(self.echo.port)],
                  name=f"ferry-ports-{self.RELAY}")
        try:
            port = self.nginx.http_port  # not in --connect-ports
            resp = raw_request(f.port, connect_req(f"127.0.0.1:{port}"), method="CONNECT")
            self.assertFerryError(resp, 403, "http_request_denied")
            resp = raw_request(f.port, connect_req("127.0.0.1:443"), method="CONNECT")
            self.assertFerryError(resp, 403, "http_request_denied")
        finally:
            self.assertCleanExit(f)

    def test_default_connect_ports_is_443(self):
        f = Ferry(self.tmp, ["--relay", self.RELAY], name=f"ferry-default-ports-{self.RELAY}")
        try:
            resp = raw_request(f.port, connect_req(f"127.0.0.1:{self.echo.port}"), method="CONNECT")
            self.assertFerryError(resp, 403, "http_request_denied")
        finally:
            self.assertCleanExit(f)

    def test_connect_to_refused_port(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        f = Ferry(self.tmp, ["--relay", self.RELAY, "--connect-ports", "*"], name=f"ferry-any-{self.RELAY}-2")
        try:
            resp = raw_request(f.port, connect_req(f"127.0.0.1:{port}"), method="CONNECT")
            self.assertFerryError(resp, 502, "connection_refused")
        finally:
            self.assertCleanExit(f)

    def test_connect_ports_star(self):
        f = Ferry(self.tmp, ["--relay", self.RELAY, "--connect-ports", "*"], name=f"ferry-any-{self.RELAY}")
        try:
            for port in (self.echo.port, self.nginx.http_port):
                c = self.open_tunnel(port, ferry=f)
                c.close()
            with self.open_tunnel(self.echo.port, ferry=f) as c:
                c.send(b"ping")
                self.assertEqual(c.recv_exact(4), b"ping")
        finally:
            self.assertCleanExit(f)

    def test_idle_timeout(self):
        f = Ferry(self.tmp, ["--relay", self.RELAY, "--connect-ports", str(self.echo.port), "--idle-timeout", "2s"],
                  name=f"ferry-idle-{self.RELAY}")
        try:
            with self.open_tunnel(ferry=f) as c:
                # Activity keeps it open past the timeout.
                for _ in range(4):
                    c.send(b"x")
                    self.assertEqual(c.recv_exact(1), b"x")
                    time.sleep(0.8)
                start = time.monotonic()
                self.assertTrue(c.closed_by_peer(timeout=8), "idle tunnel was not closed")
                elapsed = time.monotonic() - start
                self.assertGreater(elapsed, 1.0)
                self.assertLess(elapsed, 6.0)
            ev = f.wait_for_event(lambda e: e.get("event") == "tunnel")
            self.assertTrue(ev)
        finally:
            self.assertCleanExit(f)

    def test_many_tunnels_in_parallel(self):
        conns = [self.open_tunnel() for _ in range(50)]
        try:
            for i, c in enumerate(conns):
                c.send(b"tunnel %d\n" % i)
            for i, c in enumerate(conns):
                msg = b"tunnel %d\n" % i
                self.assertEqual(c.recv_exact(len(msg)), msg)
        finally:
            for c in conns:
                c.close()


class ConnectCopyTest(ConnectTests, ProxyTestCase):
    RELAY = "copy"


class ConnectSpliceTest(ConnectTests, ProxyTestCase):
    RELAY = "splice"


if __name__ == "__main__":
    unittest.main()
