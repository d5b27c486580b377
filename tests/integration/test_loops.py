"""Proxy loops (review D7): two ferries whose --upstream point at each other.
A request through the first comes back to it after one round carrying its
own Via and is refused 502 proxy_loop_detected — for CONNECT as for plain
HTTP — instead of recursing until the connection cap."""

import time
import unittest

from harness import TEST_HOSTS, Ferry, ProxyTestCase, free_port, get, raw_request


class LoopTest(ProxyTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.port_a, cls.port_b = free_port(), free_port()
        # origin.test is not a loopback name, so both ferries route it upstream.
        common = ["--max-connections", "64", "--connect-timeout", "2s"]
        cls.a = cls.start_ferry("--upstream", f"http://127.0.0.1:{cls.port_b}", *common, port=cls.port_a,
                                name="ferry-loop-a", hosts=TEST_HOSTS)
        cls.b = cls.start_ferry("--upstream", f"http://127.0.0.1:{cls.port_a}", *common, port=cls.port_b,
                                name="ferry-loop-b", hosts=TEST_HOSTS)

    def counts(self, event, target):
        def n(f):
            return len([e for e in f.events(event) if e.get("target") == target])
        return n(self.a), n(self.b)

    def settle(self, event, target):
        # Log lines are written as requests end; give a runaway loop time to show.
        last, stable_since = None, time.monotonic()
        while time.monotonic() - stable_since < 0.5:
            now = self.counts(event, target)
            if now != last:
                last, stable_since = now, time.monotonic()
            time.sleep(0.05)
        return last

    def test_connect_loop_stops_after_one_round(self):
        resp = raw_request(self.port_a, b"CONNECT origin.test:443 HTTP/1.1\r\nHost: origin.test:443\r\n\r\n",
                           method="CONNECT")
        self.assertIsNotNone(resp)
        self.assertEqual(resp.status, 502, resp.raw_head)
        self.assertIn("error=proxy_loop_detected", resp.header("proxy-status") or "", resp.raw_head)
        # a: the client's CONNECT and the one b sent back; b: a's.
        self.assertEqual(self.settle("tunnel", "origin.test:443"), (2, 1))

    def test_plain_http_loop_stops_after_one_round(self):
        url = "http://origin.test:8080/loop"
        resp = raw_request(self.port_a, get(url))
        self.assertIsNotNone(resp)
        self.assertEqual(resp.status, 502, resp.raw_head)
        self.assertIn("error=proxy_loop_detected", resp.header("proxy-status") or "", resp.raw_head)
        self.assertEqual(self.settle("request", url), (2, 1))


if __name__ == "__main__":
    unittest.main()
