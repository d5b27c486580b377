"""Relays and MCP servers (SPEC §7 "Relays", issue 9 items 4 and 6): a
request addressed to ferry itself at /relay/NAME/PATH or /mcp/NAME/PATH goes
to the configured target with the target host's inject rules, so a client
that must reach the host through NO_PROXY never holds the credential. Path
traversal is refused; Server-Sent Events pass through unbuffered."""

import json
import os
import socket
import time
import unittest

from harness import (TEST_HOSTS, ProxyTestCase, RawConn, RecordingOrigin, SockReader, TestCA, ThreadedServer,
                     ferry_output, field, init_ferry_ca, parse_head, raw_request, read_body, run_ferry_cli)
from origins import TlsEchoOrigin

SECRET = "relay-secret-Qz8xK2vN7mW4pL9tR1yB"
MCP_SECRET = "mcp-secret-Hk3jL8mN2pQ5rS7tV9wX"
EVENTS = 5
EVENT_GAP = 0.2  # seconds between the origin's events


class SseOrigin(ThreadedServer):
    """Answers every request with text/event-stream: EVENTS events, one every
    EVENT_GAP seconds, chunked, each written at once; records the request
    heads and when each event was sent."""

    def __init__(self):
        self.requests = []
        self.sent_at = []
        super().__init__()

    def handle(self, sock):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        r = SockReader(sock)
        head = r.read_until(b"\r\n\r\n", 200000)
        if head is None:
            return
        first, fields = parse_head(head)
        read_body(r, fields, lambda b: None)
        with self.lock:
            self.requests.append((first, fields))
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        for i in range(EVENTS):
            event = f"id: {i}\ndata: event {i}\n\n".encode()
            with self.lock:
                self.sent_at.append(time.monotonic())
            sock.sendall(f"{len(event):x}\r\n".encode() + event + b"\r\n")
            time.sleep(EVENT_GAP)
        sock.sendall(b"0\r\n\r\n")


class RelayTest(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.origin = cls.start_server(RecordingOrigin())
        cls.sse = cls.start_server(SseOrigin())
        cls.test_ca = TestCA(cls.tmp)
        cls.tls = cls.start_server(TlsEchoOrigin(cls.tmp, cls.test_ca))
        cls.ca_dir = init_ferry_ca(cls.tmp)
        cls.config = os.path.join(cls.tmp, "relays.toml")
        with open(cls.config, "w") as f:
            f.write(f"""
[[inject]]
host = "origin.test"
port = {cls.origin.port}
header = "Authorization"
value = "Bearer {SECRET}"

[[inject]]
host = "origin.test"
port = {cls.tls.port}
header = "Authorization"
value = "Bearer {SECRET}"

[[relay]]
name = "api"
target = "http://origin.test:{cls.origin.port}/base/"

[[relay]]
name = "tls"
target = "https://origin.test:{cls.tls.port}"

[[mcp]]
name = "tools"
url = "http://origin2.test:{cls.sse.port}/mcp"
header = "Authorization"
value = "Bearer {MCP_SECRET}"
""")
        cls.ferry = cls.start_ferry("--config", cls.config, "--ca-dir", cls.ca_dir, "--origin-ca",
                                    cls.test_ca.ca_cert, hosts=TEST_HOSTS)

    def setUp(self):
        super().setUp()
        self.addCleanup(self.assertNoSecretInOutput)

    def assertNoSecretInOutput(self):
        out = ferry_output(self.ferry)
        for s in (SECRET, MCP_SECRET):
            self.assertNotIn(s, out)

    def direct(self, path, extra=""):
        """A request to ferry as a server (origin-form), as a NO_PROXY client sends it."""
        req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.ferry.port}\r\n{extra}Connection: close\r\n\r\n"
        return raw_request(self.ferry.port, req.encode())

    def test_relay_forwards_to_the_target_with_its_rules(self):
        self.origin.reset()
        resp = self.direct("/relay/api/v1/items?q=1&r=2")
        self.assertEqual(resp.status, 200, resp.raw_head)
        first, fields, _ = self.origin.requests[-1]
        self.assertEqual(first.split(" ")[1], "/base/v1/items?q=1&r=2")
        self.assertEqual(field(fields, "Host"), f"origin.test:{self.origin.port}")
        self.assertEqual(field(fields, "Authorization"), f"Bearer {SECRET}", "the target host's inject rule")

    def test_relay_to_an_https_target(self):
        resp = self.direct("/relay/tls/echo", "Authorization: Bearer placeholder\r\n")
        self.assertEqual(resp.status, 200, resp.raw_head)
        j = json.loads(resp.body)
        self.assertEqual(j["target"], "/echo")
        self.assertEqual(field(j["headers"], "Authorization"), f"Bearer {SECRET}", "replaced, not the client's")

    def test_traversal_is_refused(self):
        self.origin.reset()
        for path in ("/relay/api/../secret", "/relay/api/a/%2e%2e/b", "/relay/api/a%2fb", "/relay/api/a%5Cb",
                     "/relay/api/./x", "/relay/api/a\\b", "/relay/api/%2E%2e/x"):
            with self.subTest(path=path):
                self.assertFerryError(self.direct(path), 400, "http_request_error", "relay path refused")
        self.assertEqual(self.origin.requests, [], "nothing reached the target")

    def test_unknown_relay_and_prefix_boundary(self):
        resp = self.direct("/relay/apix/v1")
        self.assertFerryError(resp, 400, "http_request_error", "not absolute")
        resp = self.direct("/relay/nosuch/v1")
        self.assertFerryError(resp, 400, "http_request_error", "not absolute")

    def test_mcp_relay_injects_and_streams_events_unbuffered(self):
        with RawConn(self.ferry.port, 10) as c:
            start = time.monotonic()
            c.send(f"GET /mcp/tools/sse HTTP/1.1\r\nHost: 127.0.0.1:{self.ferry.port}\r\n"
                   "Accept: text/event-stream\r\n\r\n".encode())
            head = c.reader.read_until(b"\r\n\r\n")
            self.assertIn(b" 200 ", head.split(b"\r\n")[0])
            arrived = []
            buf = b""
            while len(arrived) < EVENTS:
                data = c.reader.read_some()
                self.assertTrue(data, "the stream ended early")
                buf += data
                now = time.monotonic()
                while buf.count(b"data: event") > len(arrived):
                    arrived.append(now)
        with self.sse.lock:
            sent = list(self.sse.sent_at)
            first, fields = self.sse.requests[-1]
        self.assertEqual(first.split(" ")[1], "/mcp/sse")
        self.assertEqual(field(fields, "Authorization"), f"Bearer {MCP_SECRET}")
        self.assertEqual(len(sent), EVENTS)
        for i, (s, a) in enumerate(zip(sent, arrived)):
            self.assertLess(a - s, 0.05, f"event {i} reached the client {1000 * (a - s):.1f} ms after it was sent")
        self.assertGreater(arrived[-1] - start, (EVENTS - 1) * EVENT_GAP * 0.9, "events arrived as sent, not at once")


class RelayConfigTest(ProxyTestCase):
    def test_bad_relay_config_is_a_startup_error(self):
        cases = {
            '[[relay]]\nname = "a/b"\ntarget = "http://x.test/"\n': "may hold only",
            '[[relay]]\nname = "a"\ntarget = "ftp://x.test/"\n': "target",
            '[[relay]]\nname = "a"\ntarget = "http://x.test/"\nextra = 1\n': "unknown key 'extra'",
            '[[relay]]\nname = "a"\ntarget = "http://x.test/"\n[[relay]]\nname = "a"\ntarget = "http://y.test/"\n':
                "defined twice",
            '[[mcp]]\nname = "m"\nurl = "http://x.test/"\n': "needs header and value",
        }
        for i, (text, words) in enumerate(cases.items()):
            with self.subTest(words=words):
                path = os.path.join(self.tmp, f"bad-relay-{i}.toml")
                with open(path, "w") as f:
                    f.write(text)
                r = run_ferry_cli(["serve", "--config", path])
                err = r.stderr.decode(errors="replace")
                self.assertEqual(r.returncode, 2, err)
                self.assertIn(words, err)


if __name__ == "__main__":
    unittest.main()
