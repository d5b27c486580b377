"""What remote clients may reach (review D8), and ferry recognising itself
through this host's own addresses (D7).

The test builds its own network: a namespace joined to this host by a veth
pair on 10.213.7.0/30 (host end .1, namespace end .2), torn down at the end.
ferry listens on the host end and allows the namespace end; a client inside
the namespace is a "remote" client. No packet leaves these two ends and the
loopback interface."""

import os
import subprocess
import sys
import time
import unittest

from harness import (TEST_HOSTS, Ferry, ProxyTestCase, RecordingOrigin, field, free_port, get, parse_head,
                     raw_request)

HOST_END = "10.213.7.1"
NS_END = "10.213.7.2"

# Sends stdin's bytes to argv[1]:argv[2] and prints what comes back (until
# the peer closes or 5 s pass).
CLIENT = r"""
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(sys.stdin.buffer.read())
out = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
        if sys.argv[3:] == ["socks"] and len(out) >= 12:
            break
except socket.timeout:
    pass
sys.stdout.buffer.write(out)
"""


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, capture_output=True)


class Namespace:
    """ip netns + veth pair, both ends owned by the test."""

    def __init__(self):
        tag = str(os.getpid() % 100000)
        self.name = f"ferry-dp-{tag}"
        self.host_if = f"fdp{tag}h"
        ns_if = f"fdp{tag}n"
        sh("ip", "netns", "add", self.name)
        try:
            sh("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", ns_if)
            sh("ip", "link", "set", ns_if, "netns", self.name)
            sh("ip", "addr", "add", f"{HOST_END}/30", "dev", self.host_if)
            sh("ip", "link", "set", self.host_if, "up")
            self.run("ip", "addr", "add", f"{NS_END}/30", "dev", ns_if)
            self.run("ip", "link", "set", ns_if, "up")
            self.run("ip", "link", "set", "lo", "up")
        except Exception:
            self.remove()
            raise

    def run(self, *cmd, stdin=None, check=True):
        return subprocess.run(["ip", "netns", "exec", self.name, *cmd], input=stdin, check=check,
                              capture_output=True, timeout=20)

    def remove(self):
        sh("ip", "link", "del", self.host_if, check=False)
        sh("ip", "netns", "del", self.name, check=False)


def parse_response(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    first, fields = parse_head(head)
    parts = first.split(" ")
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    return status, fields, body


class DestinationPolicyTest(ProxyTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ns = Namespace()
        cls.addClassCleanup(cls.ns.remove)
        cls.client = os.path.join(cls.tmp, "client.py")
        with open(cls.client, "w") as f:
            f.write(CLIENT)
        cls.origin = cls.start_server(RecordingOrigin())  # the test's own loopback service
        cls.remote_port = free_port()
        cls.socks_port = free_port()
        cls.ferry = cls.start_ferry(
            "--listen", f"{HOST_END}:{cls.remote_port}", "--socks-listen", f"{HOST_END}:{cls.socks_port}",
            "--allow", f"127.0.0.0/8,{NS_END}/32", "--connect-ports", f"22,443,{cls.origin.port}",
            name="ferry-destination-policy", hosts=TEST_HOSTS)

    def from_namespace(self, data, port=None, socks=False):
        args = [sys.executable, self.client, HOST_END, str(port or self.remote_port)] + (["socks"] if socks else [])
        return self.ns.run(*args, stdin=data).stdout

    def assertRefused(self, raw, error, what):
        status, fields, _ = parse_response(raw)
        self.assertEqual(status, 403, f"{what}: {raw[:300]!r}")
        self.assertIn(f"error={error}", field(fields, "proxy-status", ""), f"{what}: {raw[:300]!r}")

    def test_remote_plain_http_to_loopback_refused(self):
        raw = self.from_namespace(get(f"http://127.0.0.1:{self.origin.port}/secret"))
        self.assertRefused(raw, "destination_ip_prohibited", "GET to loopback")
        self.assertNotIn(b"/secret", self.origin.all_bytes(), "the request reached the loopback service")

    def test_remote_client_cannot_reuse_a_local_clients_pooled_connection(self):
        url = f"http://127.0.0.1:{self.origin.port}/pooled"
        resp = raw_request(self.ferry.port, get(url))  # the loopback listener: a local client
        self.assertEqual(resp.status, 200)
        raw = self.from_namespace(get(url))
        self.assertRefused(raw, "destination_ip_prohibited", "GET riding a pooled loopback connection")

    def test_remote_name_resolving_to_loopback_refused(self):
        # origin.test is 127.0.0.1 in ferry's hosts file: judged after resolution.
        raw = self.from_namespace(get(f"http://origin.test:{self.origin.port}/"))
        self.assertRefused(raw, "destination_ip_prohibited", "GET to a name for 127.0.0.1")

    def test_remote_connect_to_loopback_refused(self):
        for port in (22, self.origin.port):
            with self.subTest(port=port):
                raw = self.from_namespace(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
                self.assertRefused(raw, "destination_ip_prohibited", f"CONNECT 127.0.0.1:{port}")

    def test_remote_request_to_the_hosts_own_address_refused(self):
        other = free_port()
        raw = self.from_namespace(get(f"http://{HOST_END}:{other}/"))
        self.assertRefused(raw, "destination_ip_prohibited", "GET to the host's veth address")

    def test_remote_plain_http_port_allow_list(self):
        raw = self.from_namespace(get("http://127.0.0.1:22/"))
        status, fields, _ = parse_response(raw)
        self.assertEqual(status, 403, raw[:300])
        ps = field(fields, "proxy-status", "")
        self.assertTrue("error=http_request_denied" in ps or "error=destination_ip_prohibited" in ps, ps)
        raw = self.from_namespace(get("http://origin.test:25/"))  # refused by port, before any lookup or dial
        self.assertRefused(raw, "http_request_denied", "GET to port 25")

    def test_remote_socks_to_loopback_refused(self):
        port = self.origin.port
        request = b"\x05\x01\x00" + b"\x05\x01\x00\x01" + bytes([127, 0, 0, 1]) + port.to_bytes(2, "big")
        raw = self.from_namespace(request, port=self.socks_port, socks=True)
        self.assertGreaterEqual(len(raw), 4, raw)
        self.assertEqual(raw[:2], b"\x05\x00", raw)  # method: no authentication
        self.assertEqual(raw[2:4], b"\x05\x02", f"expected 'not allowed by ruleset': {raw!r}")

    def test_loopback_client_keeps_full_reach(self):
        local = Ferry(self.tmp, ["--allow", "127.0.0.0/8"], name="ferry-dp-local", hosts=TEST_HOSTS)
        try:
            resp = raw_request(local.port, get(f"http://127.0.0.1:{self.origin.port}/mine"))
            self.assertEqual(resp.status, 200)
            resp = raw_request(local.port, get(f"http://origin.test:{self.origin.port}/mine"))
            self.assertEqual(resp.status, 200)
        finally:
            self.assertCleanExit(local)

    def test_wildcard_listener_recognised_through_host_address(self):
        # An upstream that is this very ferry, named by the host's veth
        # address (HTTPS_PROXY copied from a profile): refused at once, not
        # a CONNECT recursing until the connection cap.
        port = free_port("0.0.0.0")
        f = Ferry(self.tmp, ["--listen", f"0.0.0.0:{port}", "--allow", f"127.0.0.0/8,{HOST_END}/32", "--max-connections", "64",
                             "--upstream", f"http://{HOST_END}:{port}"],
                  listen=False, port=port, name="ferry-dp-self", hosts=TEST_HOSTS)
        try:
            resp = raw_request(port, b"CONNECT origin.test:443 HTTP/1.1\r\nHost: origin.test:443\r\n\r\n",
                               method="CONNECT")
            self.assertIsNotNone(resp)
            self.assertEqual(resp.status, 403, resp.raw_head)
            ps = resp.header("proxy-status") or ""
            self.assertIn("error=destination_ip_prohibited", ps)
            self.assertIn("own listener", ps)
            time.sleep(0.3)
            self.assertEqual(len(f.events("tunnel")), 1, f.events("tunnel"))
        finally:
            self.assertCleanExit(f)


if __name__ == "__main__":
    unittest.main()
