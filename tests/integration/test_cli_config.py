"""Command line and TOML configuration of `ferry serve`."""

import os
import signal
import socket
import subprocess
import time
import unittest

from harness import (EchoServer, Ferry, ProxyTestCase, RawConn, RecordingOrigin, free_port, get,
                     ipv6_loopback_available, port_open, raw_request, run_ferry_cli, wait_until)


class CliTest(ProxyTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.origin = cls.start_server(RecordingOrigin())
        cls.echo = cls.start_server(EchoServer())

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def assertUsageError(self, args, *needles):
        port = free_port()
        r = run_ferry_cli(["serve", "--listen", f"127.0.0.1:{port}", *args] if "--listen" not in args
                          else ["serve", *args])
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 2, f"{args}: exit {r.returncode}, stderr: {err}")
        for n in needles:
            self.assertIn(n, err, f"{args}: message does not name {n!r}: {err}")
        self.assertFalse(port_open(port), "something listens after a usage error")
        return err

    # -- basics ------------------------------------------------------------

    def test_version(self):
        r = run_ferry_cli(["--version"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode().strip(), "ferry 0.1.0")

    def test_help(self):
        r = run_ferry_cli(["help"])
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        self.assertIn("serve", out)
        r = run_ferry_cli(["help", "serve"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("--listen", r.stdout.decode())

    def test_no_command_means_serve(self):
        f = Ferry(self.tmp, [], name="ferry-no-command", command=())
        try:
            resp = raw_request(f.port, get(f"http://127.0.0.1:{self.origin.port}/"))
            self.assertEqual(resp.status, 200)
        finally:
            self.assertCleanExit(f)

    def test_unknown_flag(self):
        err = self.assertUsageError(["--bogus"], "--bogus")
        self.assertNotIn("Traceback", err)
        self.assertUsageError(["--bogus", "value"], "--bogus")

    def test_bad_values(self):
        cases = [
            (["--idle-timeout", "5x"], "--idle-timeout"),
            (["--idle-timeout", "-1s"], "--idle-timeout"),
            (["--connect-timeout", "0"], "--connect-timeout"),
            (["--connect-ports", "99999"], "--connect-ports"),
            (["--connect-ports", "0"], "--connect-ports"),
            (["--connect-ports", "abc"], "--connect-ports"),
            (["--max-connections", "0"], "--max-connections"),
            (["--max-connections", "ten"], "--max-connections"),
            (["--log-format", "xml"], "--log-format"),
            (["--log-level", "loud"], "--log-level"),
            (["--relay", "teleport"], "--relay"),
            (["--allow", "10.0.0.0/33"], "--allow"),
            (["--allow", "not-an-ip"], "--allow"),
        ]
        for args, flag in cases:
            with self.subTest(args=args):
                self.assertUsageError(args, flag)

    def test_bad_listen(self):
        for value in ("nonsense", "127.0.0.1:99999", "127.0.0.1:", "::1:3128", "[::1"):
            with self.subTest(listen=value):
                r = run_ferry_cli(["serve", "--listen", value])
                err = r.stderr.decode(errors="replace")
                self.assertEqual(r.returncode, 2, err)
                self.assertIn("--listen", err)

    def test_unsupported_flags_refused(self):
        for args in (["--pac", "/nonexistent.pac"], ["--client-tokens", "/nonexistent.tokens"], ["--auth", "ntlm"]):
            with self.subTest(args=args):
                self.assertUsageError(args, args[0])

    def test_non_loopback_listen_needs_allow(self):
        port = free_port("0.0.0.0")
        r = run_ferry_cli(["serve", "--listen", f"0.0.0.0:{port}"])
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 2, err)
        self.assertIn("--allow", err)
        self.assertFalse(port_open(port))

    def test_non_loopback_listen_with_allow(self):
        port = free_port("0.0.0.0")
        f = Ferry(self.tmp, ["--listen", f"0.0.0.0:{port}", "--allow", "127.0.0.1/32"], listen=False, port=port,
                  name="ferry-any-addr")
        try:
            resp = raw_request(port, get(f"http://127.0.0.1:{self.origin.port}/"))
            self.assertEqual(resp.status, 200)
        finally:
            self.assertCleanExit(f)

    def test_ipv6_listener(self):
        if not ipv6_loopback_available():
            self.skipTest("no ::1 on this machine")
        port = free_port("::1", socket.AF_INET6)
        f = Ferry(self.tmp, ["--listen", f"[::1]:{port}"], listen=False, port=port, name="ferry-v6", wait=True)
        try:
            self.assertTrue(port_open(port, "::1"))
            with RawConn(port, host="::1") as c:
                c.send(get(f"http://127.0.0.1:{self.origin.port}/v6"))
                resp = c.read_response()
            self.assertEqual(resp.status, 200)
            ev = f.wait_for_event(lambda e: e.get("event") == "request")
            self.assertTrue(ev)
            self.assertTrue(ev[0]["client"].startswith("[::1]"), ev[0])
        finally:
            self.assertCleanExit(f)

    def test_two_listeners(self):
        p2 = free_port()
        f = Ferry(self.tmp, ["--listen", f"127.0.0.1:{p2}"], name="ferry-two")
        try:
            for port in (f.port, p2):
                resp = raw_request(port, get(f"http://127.0.0.1:{self.origin.port}/"))
                self.assertEqual(resp.status, 200)
        finally:
            self.assertCleanExit(f)

    def test_port_in_use(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        try:
            r = run_ferry_cli(["serve", "--listen", f"127.0.0.1:{port}"])
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(str(port), r.stderr.decode(errors="replace"))
        finally:
            s.close()

    # -- client allow list -------------------------------------------------

    def test_client_not_allowed(self):
        f = Ferry(self.tmp, ["--allow", "10.0.0.0/8"], name="ferry-allow-10")
        try:
            self.origin.reset()
            resp = raw_request(f.port, get(f"http://127.0.0.1:{self.origin.port}/"))
            self.assertFerryError(resp, 403, "http_request_denied")
            self.assertEqual(self.origin.total_bytes(), 0)
        finally:
            self.assertCleanExit(f)

    # -- TOML --------------------------------------------------------------

    def test_config_file_honoured(self):
        port = free_port()
        path = self.write("good.toml", f"""
# ferry test config
listen = ["127.0.0.1:{port}"]
idle_timeout = "2s"
log_format = "json"

[security]
connect_ports = [{self.echo.port}]
allow = ["127.0.0.0/8"]
""")
        f = Ferry(self.tmp, ["--config", path], listen=False, port=port, name="ferry-toml")
        try:
            with RawConn(port) as c:
                c.send(f"CONNECT 127.0.0.1:{self.echo.port} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                head = c.read_head()
                self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
                c.send(b"ping")
                self.assertEqual(c.recv_exact(4), b"ping")
                start = time.monotonic()
                self.assertTrue(c.closed_by_peer(8), "idle_timeout from the file was not applied")
                self.assertLess(time.monotonic() - start, 6)
        finally:
            self.assertCleanExit(f)

    def test_flags_override_file(self):
        file_port = free_port()
        flag_port = free_port()
        path = self.write("override.toml", f"""
listen = ["127.0.0.1:{file_port}"]
[security]
connect_ports = [{self.echo.port}]
""")
        f = Ferry(self.tmp, ["--config", path, "--listen", f"127.0.0.1:{flag_port}", "--connect-ports", "443"],
                  listen=False, port=flag_port, name="ferry-override")
        try:
            self.assertFalse(port_open(file_port), "the file's listen was used although --listen was given")
            resp = raw_request(flag_port, f"CONNECT 127.0.0.1:{self.echo.port} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
                               method="CONNECT")
            self.assertFerryError(resp, 403, "http_request_denied")
        finally:
            self.assertCleanExit(f)

    def test_unknown_toml_key(self):
        path = self.write("unknown.toml", 'listen = ["127.0.0.1:3999"]\n\nbogus_key = 1\n')
        err = self.assertUsageError(["--config", path], "unknown.toml:3", "bogus_key")
        path = self.write("unknown2.toml", '[security]\nconnect_ports = [443]\nallow_everyone = true\n')
        self.assertUsageError(["--config", path], "unknown2.toml:3", "allow_everyone")
        del err

    def test_toml_syntax_error(self):
        path = self.write("syntax.toml", 'listen = ["127.0.0.1:3999"\nidle_timeout = \n')
        self.assertUsageError(["--config", path], "syntax.toml")

    def test_toml_bad_value(self):
        path = self.write("badvalue.toml", 'idle_timeout = "soon"\n')
        self.assertUsageError(["--config", path], "badvalue.toml:1", "idle_timeout")

    def test_toml_unsupported_key(self):
        path = self.write("pac.toml", '[routing]\npac = "/etc/ferry/proxy.pac"\n')
        self.assertUsageError(["--config", path], "pac.toml:2", "routing.pac")

    def test_toml_bad_upstream_names_line_and_hides_password(self):
        path = self.write("upstream.toml", '[upstream]\nproxies = ["http://bob:s3cret@proxy:8080/path"]\n')
        r = run_ferry_cli(["--config", path])
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 2, err)
        self.assertIn("upstream.toml:2", err)
        self.assertNotIn("s3cret", err)

    def test_missing_config_file(self):
        self.assertUsageError(["--config", os.path.join(self.tmp, "does-not-exist.toml")], "does-not-exist.toml")


class ListenerSafetyTest(ProxyTestCase):
    """Start-up and listener hardening (review D18, D19, D20, D23)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.origin = cls.start_server(RecordingOrigin())

    def test_non_loopback_socks_listen_needs_allow(self):
        port = free_port("0.0.0.0")
        r = run_ferry_cli(["serve", "--listen", f"127.0.0.1:{free_port()}", "--socks-listen", f"0.0.0.0:{port}"])
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 2, err)
        self.assertIn("--socks-listen", err)
        self.assertIn("--allow", err)
        self.assertFalse(port_open(port))

    def test_second_ferry_on_a_served_port_exits(self):
        first = Ferry(self.tmp, [], name="ferry-first")
        try:
            r = run_ferry_cli(["serve", "--listen", f"127.0.0.1:{first.port}"], timeout=10)
            err = r.stderr.decode(errors="replace")
            self.assertNotEqual(r.returncode, 0, err)
            self.assertIn(f"127.0.0.1:{first.port}", err)
            self.assertIn("already serves", err)
            for _ in range(5):
                resp = raw_request(first.port, get(f"http://127.0.0.1:{self.origin.port}/"))
                self.assertEqual(resp.status, 200)
        finally:
            self.assertCleanExit(first)

    def test_sighup_does_not_stop_ferry(self):
        f = Ferry(self.tmp, [], name="ferry-hup")
        try:
            f.signal(signal.SIGHUP)
            self.assertTrue(f.wait_for_event(lambda e: e.get("event") == "reload_not_implemented"), f.stderr_text())
            time.sleep(0.2)
            self.assertIsNone(f.proc.poll(), "ferry exited on SIGHUP")
            resp = raw_request(f.port, get(f"http://127.0.0.1:{self.origin.port}/after-hup"))
            self.assertEqual(resp.status, 200)
        finally:
            self.assertCleanExit(f)

    def fd_count(self, pid):
        return len(os.listdir(f"/proc/{pid}/fd"))

    def test_refused_clients_are_capped(self):
        # Loopback is not in --allow: every connection is refused. A flood
        # of them costs ferry at most 64 answers in flight, not one
        # descriptor each for a second.
        f = Ferry(self.tmp, ["--allow", "10.0.0.0/8", "--workers", "1"], name="ferry-reject-cap", wait=False)
        try:
            self.assertTrue(wait_until(lambda: f.listening_event() is not None, 20), f.stderr_text())
            baseline = self.fd_count(f.pid)
            clients = []
            for _ in range(200):
                c = socket.create_connection(("127.0.0.1", f.port), timeout=5)
                clients.append(c)
            time.sleep(0.3)
            held = self.fd_count(f.pid) - baseline
            self.assertLessEqual(held, 64 + 8, f"ferry holds {held} descriptors for refused clients")
            answered = 0
            for c in clients:
                c.settimeout(3)
                try:
                    data = c.recv(100)
                except OSError:
                    data = b""
                answered += data.startswith(b"HTTP/1.1 403")
                c.close()
            self.assertGreater(answered, 0)
            self.assertLessEqual(answered, 128, "refused clients beyond the cap are closed unanswered")
        finally:
            self.assertCleanExit(f)

    def test_accept_errors_are_not_logged_every_50ms(self):
        f = Ferry(self.tmp, ["--workers", "1"], name="ferry-emfile")
        clients = []
        try:
            subprocess.run(["prlimit", "--pid", str(f.pid), "--nofile=40:40"], check=True)
            for _ in range(60):
                clients.append(socket.create_connection(("127.0.0.1", f.port), timeout=5))
            self.assertTrue(f.wait_for_event(lambda e: e.get("event") == "accept_failed"), f.stderr_text())
            time.sleep(2)
            errors = f.events("accept_failed")
            self.assertLessEqual(len(errors), 2, f"{len(errors)} accept_failed lines in 2 s")
        finally:
            for c in clients:
                c.close()
            self.assertCleanExit(f)


if __name__ == "__main__":
    unittest.main()
