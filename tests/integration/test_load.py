"""Load behaviour: 1,000 concurrent clients all answered; --max-connections gives 503, not a hang."""

import asyncio
import resource
import socket
import time
import unittest

from harness import Ferry, Nginx, ProxyTestCase, RawConn, TestCA, get, raw_request

CLIENTS = 1000


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def one_client(port, url, opened, go, timeout):
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    try:
        opened.append(1)
        await go.wait()  # every connection is open before any request is sent
        writer.write(get(url))
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout)  # Connection: close -> read to EOF
        return data
    finally:
        writer.close()


async def fan_out(port, url, n, timeout=90):
    opened = []
    go = asyncio.Event()
    tasks = [asyncio.create_task(one_client(port, url, opened, go, timeout)) for _ in range(n)]
    deadline = time.monotonic() + 30
    while len(opened) < n and time.monotonic() < deadline and not all(t.done() for t in tasks):
        await asyncio.sleep(0.05)
    go.set()
    return await asyncio.gather(*tasks, return_exceptions=True), len(opened)


class LoadTest(ProxyTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.nofile = raise_nofile()
        cls.ca = TestCA(cls.tmp)
        cls.nginx = Nginx(cls.tmp, cls.ca)
        cls.addClassCleanup(cls.nginx.stop)

    def test_1000_concurrent_clients(self):
        self.assertGreater(self.nofile, 2 * CLIENTS + 100, "RLIMIT_NOFILE too low for this test")
        f = Ferry(self.tmp, [], name="ferry-load")
        try:
            results, opened = asyncio.run(fan_out(f.port, self.nginx.url("/"), CLIENTS))
            self.assertEqual(opened, CLIENTS)
            failures = [r for r in results if isinstance(r, BaseException)]
            self.assertEqual(failures[:5], [], f"{len(failures)} clients failed")
            bad = [r[:80] for r in results if not r.startswith(b"HTTP/1.1 200 ") or not r.endswith(Nginx.HELLO)]
            self.assertEqual(bad[:5], [], f"{len(bad)} clients got a wrong answer")
            self.assertEqual(len(results), CLIENTS)
            # Still healthy afterwards.
            resp = raw_request(f.port, get(self.nginx.url("/")))
            self.assertEqual(resp.status, 200)
            evs = f.wait_for_event(lambda e: e.get("event") == "request", timeout=5)
            self.assertGreaterEqual(len(evs), 1)
        finally:
            self.assertCleanExit(f)

    def test_max_connections(self):
        f = Ferry(self.tmp, ["--max-connections", "10"], name="ferry-max10")
        held = []
        try:
            for _ in range(10):
                held.append(RawConn(f.port))
            time.sleep(0.5)  # let ferry accept and count them
            extra = []
            for _ in range(10):
                c = RawConn(f.port)
                extra.append(c)
            for c in extra:
                resp = c.read_response()
                self.assertFerryError(resp, 503, "connection_limit_reached")
                c.close()
            # The held ones were served normally: they got nothing yet and still work.
            for c in held[:3]:
                c.sock.settimeout(0.2)
                with self.assertRaises(socket.timeout):
                    c.sock.recv(1)
                c.sock.settimeout(10)
                c.send(get(self.nginx.url("/"), close=False))
                resp = c.read_response()
                self.assertEqual(resp.status, 200)
            for c in held:
                c.close()
            held.clear()
            # Once they are gone, new clients are served again.
            ok = False
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not ok:
                resp = raw_request(f.port, get(self.nginx.url("/")))
                ok = resp is not None and resp.status == 200
                if not ok:
                    time.sleep(0.1)
            self.assertTrue(ok, "ferry does not serve after the held connections closed")
            evs = f.events("connection_limit")
            self.assertGreaterEqual(len(evs), 1)
        finally:
            for c in held:
                c.close()
            self.assertCleanExit(f)

    def test_concurrent_keep_alive_burst(self):
        # 200 clients x 10 keep-alive requests each, concurrently.
        f = Ferry(self.tmp, [], name="ferry-burst")

        async def client(i):
            reader, writer = await asyncio.open_connection("127.0.0.1", f.port)
            try:
                for k in range(10):
                    writer.write(get(self.nginx.url("/"), close=(k == 9)))
                    await writer.drain()
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
                    assert head.startswith(b"HTTP/1.1 200"), head
                    length = int([l.split(b":")[1] for l in head.split(b"\r\n")
                                  if l.lower().startswith(b"content-length:")][0])
                    body = await asyncio.wait_for(reader.readexactly(length), 60)
                    assert body == Nginx.HELLO
                return True
            finally:
                writer.close()

        async def main():
            return await asyncio.gather(*[client(i) for i in range(200)], return_exceptions=True)

        try:
            results = asyncio.run(main())
            errors = [r for r in results if r is not True]
            self.assertEqual(errors[:3], [], f"{len(errors)} clients failed")
        finally:
            self.assertCleanExit(f)


if __name__ == "__main__":
    unittest.main()
