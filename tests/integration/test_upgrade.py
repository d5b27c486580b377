"""Upgrade (WebSocket-style) through ferry: 101 relayed, then a two-way byte stream."""

import base64
import os
import unittest

from harness import ProxyTestCase, RawConn, UpgradeEchoOrigin

GREETING = b"GREETING-FROM-ORIGIN"


def upgrade_request(port, extra=""):
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET http://127.0.0.1:{port}/chat HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\n"
            "Connection: Upgrade\r\n"
            "Upgrade: websocket\r\n"
            f"Sec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            f"{extra}\r\n").encode()


class UpgradeTests:
    RELAY = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.origin = cls.start_server(UpgradeEchoOrigin(greeting=GREETING))
        cls.ferry = cls.start_ferry("--relay", cls.RELAY)

    def open_upgraded(self, extra=""):
        c = RawConn(self.ferry.port)
        c.send(upgrade_request(self.origin.port, extra))
        resp = c.read_response()
        self.assertEqual(resp.status, 101, resp.raw_head)
        self.assertEqual((resp.header("upgrade") or "").lower(), "websocket")
        self.assertIn("upgrade", (resp.header("connection") or "").lower())
        self.assertVia(resp)
        self.assertEqual(c.recv_exact(len(GREETING)), GREETING)
        return c

    def test_upgrade_echo(self):
        with self.open_upgraded() as c:
            for size in (1, 1000, 70000, 1 << 20):
                data = os.urandom(size)
                c.send(data)
                self.assertEqual(c.recv_exact(size), data)

    def test_origin_saw_upgrade_headers(self):
        with self.open_upgraded() as c:
            c.send(b"x")
            self.assertEqual(c.recv_exact(1), b"x")
        first, fields = self.origin.heads[-1]
        self.assertEqual(first, "GET /chat HTTP/1.1")
        d = {}
        for n, v in fields:
            d.setdefault(n.lower(), []).append(v)
        self.assertEqual(d.get("upgrade"), ["websocket"])
        self.assertTrue(any("upgrade" in v.lower() for v in d.get("connection", [])), fields)
        self.assertIn("sec-websocket-key", d)
        self.assertTrue(any("ferry-" in v for v in d.get("via", [])), fields)

    def test_upgrade_half_close(self):
        data = os.urandom(300000)
        with self.open_upgraded() as c:
            c.send(data)
            c.shutdown_write()
            self.assertEqual(c.read_to_eof(), data)

    def test_bytes_pipelined_after_upgrade_request(self):
        with RawConn(self.ferry.port) as c:
            c.send(upgrade_request(self.origin.port) + b"EARLY")
            resp = c.read_response()
            self.assertEqual(resp.status, 101)
            self.assertEqual(c.recv_exact(len(GREETING) + 5), GREETING + b"EARLY")

    def test_many_parallel_upgrades(self):
        conns = [self.open_upgraded() for _ in range(20)]
        try:
            for i, c in enumerate(conns):
                c.send(b"msg-%d;" % i)
            for i, c in enumerate(conns):
                m = b"msg-%d;" % i
                self.assertEqual(c.recv_exact(len(m)), m)
        finally:
            for c in conns:
                c.close()


class UpgradeCopyTest(UpgradeTests, ProxyTestCase):
    RELAY = "copy"


class UpgradeSpliceTest(UpgradeTests, ProxyTestCase):
    RELAY = "splice"


if __name__ == "__main__":
    unittest.main()
