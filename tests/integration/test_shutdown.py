"""Graceful shutdown on SIGTERM/SIGINT: in-flight requests finish, new ones are refused,
idle connections close at once, and the drain is bounded (10 s)."""

import signal
import socket
import threading
import time
import unittest

from harness import Ferry, ProxyTestCase, RawConn, RecordingOrigin, SlowOrigin, get, port_open


class Background:
    """Runs a raw request in a thread; .result is the Response or the exception."""

    def __init__(self, port, data, timeout=60):
        self.result = None
        self.done_at = None
        self.conn = RawConn(port, timeout)

        def run():
            try:
                self.conn.send(data)
                self.result = self.conn.read_response()
            except Exception as e:  # noqa: BLE001 - reported by the test
                self.result = e
            self.done_at = time.monotonic()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self, timeout):
        self.thread.join(timeout)
        return not self.thread.is_alive()


def wait_exit(ferry, timeout):
    start = time.monotonic()
    try:
        ferry.proc.wait(timeout)
    except Exception:  # noqa: BLE001
        return None, None
    return ferry.proc.returncode, time.monotonic()


class ShutdownTest(ProxyTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.slow2 = cls.start_server(SlowOrigin(2))
        cls.slow30 = cls.start_server(SlowOrigin(30))
        cls.fast = cls.start_server(RecordingOrigin())

    def new_ferry(self, name):
        f = Ferry(self.tmp, [], name=name)
        self.addCleanup(f.stop)
        return f

    def test_in_flight_request_completes(self):
        f = self.new_ferry("ferry-drain")
        bg = Background(f.port, get(f"http://127.0.0.1:{self.slow2.port}/slow", close=False))
        time.sleep(0.5)
        f.signal(signal.SIGTERM)
        # New connections are refused soon after the signal.
        self.assertTrue(_wait(lambda: not port_open(f.port), 2), "ferry still accepts after SIGTERM")
        self.assertTrue(bg.join(10), "in-flight request did not complete")
        self.assertNotIsInstance(bg.result, Exception, repr(bg.result))
        self.assertIsNotNone(bg.result, "connection closed without a response")
        self.assertEqual(bg.result.status, 200)
        self.assertEqual(bg.result.body, b"slow answer\n")
        self.assertEqual((bg.result.header("connection") or "").lower(), "close")
        code, exited_at = wait_exit(f, 10)
        self.assertEqual(code, 0, f.stderr_text()[-2000:])
        self.assertLess(exited_at - bg.done_at, 3.0, "ferry lingered after the last request finished")
        self.assertTrue(f.events("shutdown"), f.stderr_text())
        bg.conn.close()

    def test_idle_keep_alive_closed_promptly(self):
        f = self.new_ferry("ferry-idle-ka")
        with RawConn(f.port) as c:
            c.send(get(f"http://127.0.0.1:{self.fast.port}/", close=False))
            resp = c.read_response()
            self.assertEqual(resp.status, 200)
            self.assertNotEqual((resp.header("connection") or "").lower(), "close")
            start = time.monotonic()
            f.signal(signal.SIGTERM)
            self.assertTrue(c.closed_by_peer(3), "idle keep-alive connection not closed on SIGTERM")
            self.assertLess(time.monotonic() - start, 2.0)
        code, exited_at = wait_exit(f, 5)
        self.assertEqual(code, 0)
        self.assertLess(exited_at - start, 3.0)

    def test_idle_connection_without_request_closed(self):
        f = self.new_ferry("ferry-idle-new")
        with RawConn(f.port) as c:
            time.sleep(0.3)
            start = time.monotonic()
            f.signal(signal.SIGTERM)
            code, exited_at = wait_exit(f, 5)
            self.assertEqual(code, 0)
            self.assertLess(exited_at - start, 3.0, "a connected-but-silent client held up shutdown")

    def test_sigint(self):
        f = self.new_ferry("ferry-sigint")
        start = time.monotonic()
        f.signal(signal.SIGINT)
        code, exited_at = wait_exit(f, 5)
        self.assertEqual(code, 0)
        self.assertLess(exited_at - start, 2.0)

    def test_drain_is_bounded(self):
        f = self.new_ferry("ferry-bounded")
        bg = Background(f.port, get(f"http://127.0.0.1:{self.slow30.port}/very-slow"), timeout=40)
        time.sleep(0.5)
        start = time.monotonic()
        f.signal(signal.SIGTERM)
        code, exited_at = wait_exit(f, 20)
        self.assertIsNotNone(code, "ferry did not exit within 20 s of SIGTERM")
        elapsed = exited_at - start
        self.assertGreater(elapsed, 8.0, "ferry did not wait for the in-flight request")
        self.assertLess(elapsed, 12.0, "drain took longer than ~10 s")
        self.assertEqual(code, 0, f.stderr_text()[-2000:])
        self.assertTrue(f.events("shutdown_forced"), f.stderr_text())
        bg.conn.close()

    def test_second_signal_stops_at_once(self):
        f = self.new_ferry("ferry-twice")
        bg = Background(f.port, get(f"http://127.0.0.1:{self.slow30.port}/very-slow"), timeout=40)
        time.sleep(0.5)
        f.signal(signal.SIGTERM)
        time.sleep(0.5)
        start = time.monotonic()
        f.signal(signal.SIGTERM)
        code, exited_at = wait_exit(f, 10)
        self.assertIsNotNone(code)
        self.assertLess(exited_at - start, 2.0)
        bg.conn.close()


def _wait(pred, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


if __name__ == "__main__":
    unittest.main()
