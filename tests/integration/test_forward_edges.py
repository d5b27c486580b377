"""Edges of the forward path that need a scripted peer: a client that stops
reading (review D9) and an upstream that refuses the Expect ferry added on
its own (review S3)."""

import os
import socket
import subprocess
import time
import unittest

from harness import (CURL, ProxyTestCase, SockReader, ThreadedServer, open_fds, parse_head, read_body,
                     wait_until)

BODY_60K = b"z" * (60 * 1024)


class SixtyKOrigin(ThreadedServer):
    """Answers every request with a 60 KiB body, keep-alive: ferry then writes
    head and body to the client in one write (the body is all buffered)."""

    def handle(self, sock):
        r = SockReader(sock)
        while True:
            head = r.read_until(b"\r\n\r\n")
            if head is None:
                return
            try:
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY_60K) + BODY_60K)
            except OSError:
                return


class NoExpectProxy(ThreadedServer):
    """A forward proxy that answers any request carrying Expect with 417 (as
    some appliances do) and any other with 200 naming the body's size."""

    def __init__(self):
        self.expects = 0
        self.bodies = []
        super().__init__()

    def handle(self, sock):
        r = SockReader(sock)
        while True:
            head = r.read_until(b"\r\n\r\n")
            if head is None:
                return
            first, fields = parse_head(head)
            if any(n.lower() == "expect" for n, _ in fields):
                with self.lock:
                    self.expects += 1
                # The body was announced but not sent: RFC 9110 §10.1.1 lets a
                # server answer before it; the connection cannot be trusted.
                sock.sendall(b"HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            body = bytearray()
            read_body(r, fields, body.extend)
            with self.lock:
                self.bodies.append(bytes(body))
            msg = b"got %d" % len(body)
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(msg) + msg)


class ForwardEdgesTest(ProxyTestCase):

    def test_client_that_stops_reading_is_closed_after_the_idle_timeout(self):
        origin = self.start_server(SixtyKOrigin())
        ferry = self.start_ferry("--idle-timeout", "2s", name="ferry-nonreader")
        baseline = open_fds(ferry.pid)
        c = socket.socket()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.connect(("127.0.0.1", ferry.port))
        req = f"GET http://127.0.0.1:{origin.port}/big HTTP/1.1\r\nHost: 127.0.0.1:{origin.port}\r\n\r\n".encode()
        c.setblocking(False)
        sent = 0
        for _ in range(400):  # pipelined; never read: ferry's writes to us stall
            try:
                c.send(req)
                sent += 1
            except BlockingIOError:
                break
        self.assertGreater(sent, 50)
        self.assertTrue(wait_until(lambda: open_fds(ferry.pid) > baseline, 5), "the session never reached the origin")
        time.sleep(0.5)  # the writes stall now
        # Before: the stalled write had no deadline; the session, its origin
        # connection and a connection slot stayed until the client died.
        closed = wait_until(lambda: open_fds(ferry.pid) <= baseline, 15)
        c.close()
        self.assertTrue(closed, f"ferry still holds {open_fds(ferry.pid) - baseline} extra descriptors")

    def test_upstream_refusing_ferrys_own_expect_is_not_the_clients_417(self):
        proxy = self.start_server(NoExpectProxy())
        pw = os.path.join(self.tmp, "pw")
        with open(pw, "w") as f:
            f.write("secret-pw\n")
        os.chmod(pw, 0o600)
        # With credentials and the proxy's scheme still unknown, ferry asks
        # for a verdict on the head before sending a body (Expect), so a 407
        # would cost no body.
        ferry = self.start_ferry("--upstream", f"http://127.0.0.1:{proxy.port}", "--user", "CORP\\bob",
                                 "--password-file", pw, name="ferry-417")
        body = os.path.join(self.tmp, "body")
        with open(body, "wb") as f:
            f.write(b"b" * 5000)
        r = subprocess.run([CURL, "-sS", "--noproxy", "", "-x", f"http://127.0.0.1:{ferry.port}", "-H", "Expect:",
                            "--data-binary", "@" + body, "http://origin.test/upload"],
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"got 5000")
        self.assertEqual(proxy.bodies, [b"b" * 5000])
        self.assertEqual(proxy.expects, 1)  # ferry asked once, then sent without it


if __name__ == "__main__":
    unittest.main()
