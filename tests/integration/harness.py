"""Shared harness for ferry's integration tests.

Everything here runs on loopback only: a test CA made with the openssl CLI,
a real nginx origin (HTTP and HTTPS), small Python origins for what nginx
cannot do, the ferry binary under test ($FERRY_BIN), and raw-socket and curl
clients. Standard library only.
"""

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CURL = shutil.which("curl") or "/usr/bin/curl"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"

VIA_RE = re.compile(r"^1\.[01] ferry-[0-9a-f]{12}$")
PROXY_STATUS_RE = re.compile(r'^ferry; error=([a-z_]+); details="((?:[^"\\]|\\.)*)"$')

# Environment variables that would make curl or ferry reach something else.
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY",
               "ALL_PROXY", "NO_PROXY", "FERRY_NO_PROXY_EXACT", "SSL_CERT_FILE", "SSL_CERT_DIR",
               "NIX_SSL_CERT_FILE")


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items() if k not in _PROXY_VARS}
    if extra:
        env.update(extra)
    return env


def ferry_bin():
    path = os.environ.get("FERRY_BIN")
    if not path:
        path = os.path.join(HERE, "..", "..", "build", "release", "ferry")
    path = os.path.abspath(path)
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"ferry binary not found or not executable: {path} (set FERRY_BIN)")
    return path


def free_port(host="127.0.0.1", family=socket.AF_INET):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_open(port, host="127.0.0.1", timeout=0.5):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def wait_until(pred, timeout, interval=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(interval)
    return pred()


def ipv6_loopback_available():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------
# Test base class: one temp dir per class, class-level cleanups.
# ---------------------------------------------------------------------------

class ProxyTestCase(unittest.TestCase):
    maxDiff = 4000

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix=f"ferry-it-{cls.__name__}-")
        os.chmod(cls.tmp, 0o755)  # nginx workers may run as another user
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)

    # When not None, every test gets its own ferry (self.ferry) started with
    # these arguments and stopped (exit code checked) after the test, so a
    # crash fails the test that caused it instead of every later one.
    FRESH_FERRY_ARGS = None
    FRESH_FERRY_KW = {}

    def setUp(self):
        super().setUp()
        if self.FRESH_FERRY_ARGS is not None:
            self.ferry = Ferry(self.tmp, list(self.FRESH_FERRY_ARGS), name=f"ferry-{self._testMethodName}",
                               **self.fresh_ferry_kw())
            self.addCleanup(self.ferry.stop_checked)

    def fresh_ferry_kw(self):
        return dict(self.FRESH_FERRY_KW)

    @classmethod
    def start_ferry(cls, *args, env=None, name=None, **kw):
        f = Ferry(cls.tmp, list(args), env=env, name=name, **kw)
        cls.addClassCleanup(f.stop_checked)
        return f

    @classmethod
    def start_server(cls, server):
        cls.addClassCleanup(server.stop)
        return server

    # -- assertions ------------------------------------------------------
    def assertCleanExit(self, ferry):
        """Stops ferry (SIGTERM) and checks it exits 0."""
        code = ferry.stop()
        self.assertEqual(code, 0, f"ferry exited with {code}; stderr:\n{ferry.crash_report()}")

    def assertVia(self, resp):
        vias = resp.headers_all("via")
        self.assertTrue(any(VIA_RE.match(v.split(",")[-1].strip()) for v in vias),
                        f"no ferry Via in response: {vias!r}\n{resp.raw_head!r}")

    def assertFerryError(self, resp, status, error, details_contains=None):
        self.assertIsNotNone(resp, "no response at all")
        self.assertEqual(resp.status, status, f"unexpected status; head:\n{resp.raw_head!r}\nbody: {resp.body[:500]!r}")
        ps = resp.header("proxy-status")
        self.assertIsNotNone(ps, f"no Proxy-Status header:\n{resp.raw_head!r}")
        m = PROXY_STATUS_RE.match(ps)
        self.assertIsNotNone(m, f"Proxy-Status not in the form 'ferry; error=T; details=\"...\"': {ps!r}")
        self.assertEqual(m.group(1), error, f"Proxy-Status: {ps!r}")
        if details_contains:
            self.assertIn(details_contains, m.group(2))
        self.assertVia(resp)
        return m.group(2)


# ---------------------------------------------------------------------------
# Test CA and certificates (openssl CLI)
# ---------------------------------------------------------------------------

# Non-loopback names that tests map to 127.0.0.1 with a private hosts file
# (hosts_file_for / loopback_dns_prefix(hosts=...), Squid(hosts=...)): ferry
# sends loopback targets direct, so origins behind an upstream proxy must be
# addressed by a name like these. The TestCA server certificate covers them.
TEST_NAMES = ("origin.test", "origin2.test", "bypass.test", "exact.test")
TEST_HOSTS = {n: "127.0.0.1" for n in TEST_NAMES}


class TestCA:
    """A CA plus a server certificate for 127.0.0.1 / localhost and the
    TEST_NAMES (origin.test, ...)."""

    def __init__(self, directory):
        self.dir = os.path.join(directory, "ca")
        os.makedirs(self.dir, exist_ok=True)
        self.ca_key = os.path.join(self.dir, "ca.key")
        self.ca_cert = os.path.join(self.dir, "ca.pem")
        self.key = os.path.join(self.dir, "server.key")
        self.cert = os.path.join(self.dir, "server.pem")
        csr = os.path.join(self.dir, "server.csr")
        ext = os.path.join(self.dir, "server.ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\n"
                    "keyUsage=digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth\n"
                    "subjectAltName=IP:127.0.0.1,DNS:localhost" +
                    "".join(",DNS:" + n for n in TEST_NAMES) + "\n")
        run = lambda *a: subprocess.run([OPENSSL, *a], check=True, capture_output=True)
        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.ca_key, "-out", self.ca_cert,
            "-days", "2", "-subj", "/CN=ferry integration test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key, "-out", csr, "-subj", "/CN=localhost")
        run("x509", "-req", "-in", csr, "-CA", self.ca_cert, "-CAkey", self.ca_key, "-CAcreateserial",
            "-out", self.cert, "-days", "2", "-extfile", ext)
        for p in (self.dir, self.key, self.cert, self.ca_cert):
            os.chmod(p, 0o755 if os.path.isdir(p) else 0o644)


# ---------------------------------------------------------------------------
# nginx origin
# ---------------------------------------------------------------------------

class Nginx:
    HELLO = b"hello from origin\n"

    def __init__(self, tmpdir, ca):
        self.dir = os.path.join(tmpdir, "nginx")
        www = os.path.join(self.dir, "www")
        os.makedirs(www, exist_ok=True)
        os.chmod(self.dir, 0o755)
        os.chmod(www, 0o755)
        self.http_port = free_port()
        self.https_port = free_port()
        # Content the tests compare against.
        self.file64k = bytes((i * 7 + 3) % 251 for i in range(64 * 1024))
        self.big = hashlib.sha256(b"seed").digest() * (4 * 1024 * 1024 // 32)  # 4 MiB
        with open(os.path.join(www, "64k.bin"), "wb") as f:
            f.write(self.file64k)
        with open(os.path.join(www, "big"), "wb") as f:
            f.write(self.big)
        with open(os.path.join(www, "etag.txt"), "wb") as f:
            f.write(b"cacheable content\n")
        for n in ("64k.bin", "big", "etag.txt"):
            os.chmod(os.path.join(www, n), 0o644)
        user = "user root;\n" if os.geteuid() == 0 else ""
        conf = f"""
{user}daemon off;
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log {self.dir}/access.log;
    client_body_temp_path {self.dir}/client_body_temp;
    proxy_temp_path {self.dir}/proxy_temp;
    fastcgi_temp_path {self.dir}/fastcgi_temp;
    uwsgi_temp_path {self.dir}/uwsgi_temp;
    scgi_temp_path {self.dir}/scgi_temp;
    default_type application/octet-stream;
    keepalive_requests 100000;
    keepalive_timeout 60s;
    server {{
        listen 127.0.0.1:{self.http_port};
        listen 127.0.0.1:{self.https_port} ssl;
        ssl_certificate {ca.cert};
        ssl_certificate_key {ca.key};
        root {www};
        location = / {{ default_type text/plain; return 200 "hello from origin\\n"; }}
        location = /empty {{ return 204; }}
        location / {{ }}
    }}
}}
"""
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        with open(os.path.join(self.dir, "stderr"), "wb") as err:
            self.proc = subprocess.Popen(
                [NGINX, "-p", self.dir + "/", "-e", os.path.join(self.dir, "error.log"), "-c", self.conf],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        ok = wait_until(lambda: self.proc.poll() is None and port_open(self.http_port) and port_open(self.https_port), 10)
        if not ok:
            self.stop()
            raise RuntimeError("nginx did not start: " + self._errors())

    def _errors(self):
        out = ""
        for n in ("stderr", "error.log"):
            try:
                with open(os.path.join(self.dir, n), errors="replace") as f:
                    out += f.read()
            except OSError:
                pass
        return out

    def url(self, path="/", tls=False):
        return f"https://127.0.0.1:{self.https_port}{path}" if tls else f"http://127.0.0.1:{self.http_port}{path}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


# ---------------------------------------------------------------------------
# Small Python origins (threads, raw sockets)
# ---------------------------------------------------------------------------

class SockReader:
    """Buffered reads from a socket, optionally recording every raw byte."""

    def __init__(self, sock, record=None):
        self.sock = sock
        self.buf = bytearray()
        self.record = record  # a callable taking bytes, or None
        self.eof = False

    def _fill(self, n=65536):
        data = self.sock.recv(n)
        if not data:
            self.eof = True
            return False
        if self.record:
            self.record(data)
        self.buf += data
        return True

    def read_until(self, marker, limit=1 << 20):
        while True:
            i = self.buf.find(marker)
            if i >= 0:
                out = bytes(self.buf[:i + len(marker)])
                del self.buf[:i + len(marker)]
                return out
            if len(self.buf) > limit or not self._fill():
                return None

    def read_exact(self, n):
        while len(self.buf) < n:
            if not self._fill(max(65536, min(n - len(self.buf), 1 << 20))):
                return None
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_some(self):
        if self.buf:
            out = bytes(self.buf)
            self.buf.clear()
            return out
        if not self._fill():
            return b""
        return self.read_some()

    def read_to_eof(self):
        while self._fill():
            pass
        out = bytes(self.buf)
        self.buf.clear()
        return out


def parse_head(head):
    """Splits a raw head into (first line, [(name, value)...])."""
    lines = head.decode("latin-1").split("\r\n")
    first = lines[0]
    fields = []
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        fields.append((name.strip(), value.strip()))
    return first, fields


def field(fields, name, default=None):
    for n, v in fields:
        if n.lower() == name.lower():
            return v
    return default


def read_body(reader, fields, sink):
    """Reads a request/response body framed by fields; passes data to sink. Returns byte count."""
    te = field(fields, "transfer-encoding")
    if te and te.lower().endswith("chunked"):
        total = 0
        while True:
            line = reader.read_until(b"\r\n", 8192)
            if line is None:
                raise EOFError("eof in chunk size")
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                while True:  # trailers
                    t = reader.read_until(b"\r\n", 65536)
                    if t is None:
                        raise EOFError("eof in trailers")
                    if t == b"\r\n":
                        return total
            remaining = size
            while remaining:
                if not reader.buf and not reader._fill(min(remaining, 1 << 20)):
                    raise EOFError("eof in chunk data")
                take = min(remaining, len(reader.buf))
                sink(bytes(reader.buf[:take]))
                del reader.buf[:take]
                remaining -= take
                total += take
            if reader.read_exact(2) != b"\r\n":
                raise ValueError("chunk not followed by CRLF")
    cl = field(fields, "content-length")
    if cl is not None:
        remaining = int(cl)
        total = remaining
        while remaining:
            if not reader.buf and not reader._fill(min(remaining, 1 << 20)):
                raise EOFError("eof in body")
            take = min(remaining, len(reader.buf))
            sink(bytes(reader.buf[:take]))
            del reader.buf[:take]
            remaining -= take
        return total
    return 0


class ThreadedServer:
    """A loopback TCP server; every accepted connection runs handle(sock) in a thread."""

    def __init__(self, backlog=128, family=socket.AF_INET, host="127.0.0.1"):
        self.lock = threading.Lock()
        self.accepted = 0
        self.conns = []
        self.errors = []
        self._stopping = False
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(backlog)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def _accept_loop(self):
        while not self._stopping:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            c.settimeout(None)
            with self.lock:
                self.accepted += 1
                self.conns.append(c)
            threading.Thread(target=self._run, args=(c,), daemon=True).start()

    def _run(self, c):
        try:
            self.handle(c)
        except (OSError, EOFError, ValueError) as e:
            with self.lock:
                self.errors.append(repr(e))
        finally:
            try:
                c.close()
            except OSError:
                pass
            with self.lock:
                if c in self.conns:
                    self.conns.remove(c)

    def handle(self, sock):
        raise NotImplementedError

    def stop(self):
        self._stopping = True
        try:
            self.sock.close()
        except OSError:
            pass
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.thread.join(2)


def _simple_response(body, status="200 OK", extra=b"", close=False):
    return (b"HTTP/1.1 " + status.encode() + b"\r\nContent-Type: text/plain\r\nContent-Length: " +
            str(len(body)).encode() + b"\r\n" + extra + (b"Connection: close\r\n" if close else b"") + b"\r\n" + body)


class DigestOrigin(ThreadedServer):
    """(a) Reads requests with a Content-Length or chunked body, answers
    `<sha256-hex> <byte-count>\\n`. Keep-alive; answers Expect: 100-continue."""

    def __init__(self):
        self.requests = []  # (first line, fields)
        super().__init__()

    def handle(self, sock):
        r = SockReader(sock)
        while True:
            head = r.read_until(b"\r\n\r\n", 70000)
            if head is None:
                return
            first, fields = parse_head(head)
            with self.lock:
                self.requests.append((first, fields))
            if (field(fields, "expect") or "").lower() == "100-continue":
                sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            h = hashlib.sha256()
            n = read_body(r, fields, h.update)
            sock.sendall(_simple_response(f"{h.hexdigest()} {n}\n".encode()))


class UpgradeEchoOrigin(ThreadedServer):
    """(b) Answers an Upgrade request with 101 Switching Protocols, then echoes
    bytes (with `greeting` sent right after the 101 head, in the same write)."""

    def __init__(self, greeting=b""):
        self.greeting = greeting
        self.heads = []
        super().__init__()

    def handle(self, sock):
        r = SockReader(sock)
        head = r.read_until(b"\r\n\r\n")
        if head is None:
            return
        first, fields = parse_head(head)
        with self.lock:
            self.heads.append((first, fields))
        proto = field(fields, "upgrade", "websocket")
        sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: " + proto.encode() +
                     b"\r\nConnection: Upgrade\r\n\r\n" + self.greeting)
        if r.buf:
            sock.sendall(bytes(r.buf))
            r.buf.clear()
        while True:
            data = sock.recv(65536)
            if not data:
                sock.shutdown(socket.SHUT_WR)
                return
            sock.sendall(data)


class RecordingOrigin(ThreadedServer):
    """(c) Records every raw byte it receives (per connection) and answers
    each complete request with 200 `ok`. Keep-alive."""

    def __init__(self):
        self.raw = []        # one bytearray per accepted connection
        self.requests = []   # (first line, fields, body)
        super().__init__()

    def reset(self):
        # Clear in place: a connection ferry keeps pooled goes on recording
        # into its existing buffer.
        with self.lock:
            for b in self.raw:
                b.clear()
            self.requests.clear()

    def total_bytes(self):
        with self.lock:
            return sum(len(b) for b in self.raw)

    def all_bytes(self):
        with self.lock:
            return b"".join(bytes(b) for b in self.raw)

    def handle(self, sock):
        rec = bytearray()
        with self.lock:
            self.raw.append(rec)

        def record(data):
            with self.lock:
                rec.extend(data)

        r = SockReader(sock, record)
        while True:
            head = r.read_until(b"\r\n\r\n", 200000)
            if head is None:
                return
            first, fields = parse_head(head)
            body = bytearray()
            read_body(r, fields, body.extend)
            with self.lock:
                self.requests.append((first, fields, bytes(body)))
            sock.sendall(_simple_response(b"ok\n"))


class ScriptedOrigin(ThreadedServer):
    """(d) Reads one request head, sends the given raw bytes, then closes
    (after `linger` seconds). `response` may be a callable(head) -> bytes."""

    def __init__(self, response, linger=0.0):
        self.response = response
        self.linger = linger
        super().__init__()

    def handle(self, sock):
        r = SockReader(sock)
        head = r.read_until(b"\r\n\r\n")
        if head is None:
            return
        data = self.response(head) if callable(self.response) else self.response
        if data:
            sock.sendall(data)
        if self.linger:
            time.sleep(self.linger)
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        # Drain briefly so the close is not a reset.
        sock.settimeout(0.5)
        try:
            while sock.recv(65536):
                pass
        except OSError:
            pass


class EchoServer(ThreadedServer):
    """(e) TCP echo; on EOF from the client, echoes the rest and half-closes."""

    def handle(self, sock):
        while True:
            data = sock.recv(65536)
            if not data:
                sock.shutdown(socket.SHUT_WR)
                return
            sock.sendall(data)


class SlowOrigin(ThreadedServer):
    """(f) Reads a request head, sleeps `delay` seconds, answers 200."""

    def __init__(self, delay):
        self.delay = delay
        super().__init__()

    def handle(self, sock):
        r = SockReader(sock)
        while True:
            head = r.read_until(b"\r\n\r\n")
            if head is None:
                return
            deadline = time.monotonic() + self.delay
            while not self._stopping and time.monotonic() < deadline:
                time.sleep(0.05)
            sock.sendall(_simple_response(b"slow answer\n"))


class StreamingOrigin(ThreadedServer):
    """Answers every request with `size` deterministic bytes and a Content-Length."""

    BLOCK = 1 << 20

    def __init__(self, size):
        self.size = size
        super().__init__()

    @staticmethod
    def block(i, base=hashlib.sha512(b"ferry").digest() * (1 << 14)):
        # 1 MiB; each block starts with its index so reordering is caught.
        return i.to_bytes(8, "big") + base[8:]

    @classmethod
    def expected_digest(cls, size):
        h = hashlib.sha256()
        i = 0
        left = size
        while left:
            b = cls.block(i)[:left]
            h.update(b)
            left -= len(b)
            i += 1
        return h.hexdigest()

    def handle(self, sock):
        r = SockReader(sock)
        head = r.read_until(b"\r\n\r\n")
        if head is None:
            return
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
                     str(self.size).encode() + b"\r\n\r\n")
        i = 0
        left = self.size
        while left:
            b = self.block(i)[:left]
            sock.sendall(b)
            left -= len(b)
            i += 1


class BlackholeListener:
    """A listener that never accepts and whose backlog is full, so further
    connects hang (SYNs dropped): for connect timeouts, loopback only."""

    def __init__(self, fill=8):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.fillers = []
        for _ in range(fill):
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.setblocking(False)
            try:
                c.connect(("127.0.0.1", self.port))
            except (BlockingIOError, InterruptedError):
                pass
            self.fillers.append(c)
        time.sleep(0.2)

    def hangs(self, timeout=1.0):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.settimeout(timeout)
        try:
            c.connect(("127.0.0.1", self.port))
            return False
        except socket.timeout:
            return True
        except OSError:
            return False
        finally:
            c.close()

    def stop(self):
        for c in self.fillers:
            c.close()
        self.sock.close()


# ---------------------------------------------------------------------------
# ferry under test
# ---------------------------------------------------------------------------

def hosts_file_for(tmpdir, hosts):
    """Writes (once per content) a hosts file with the usual localhost lines
    plus `hosts` ({name: address}) into tmpdir; returns its path."""
    text = "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n" + \
        "".join(f"{addr} {name}\n" for name, addr in sorted(hosts.items()))
    path = os.path.join(tmpdir, "hosts." + hashlib.sha256(text.encode()).hexdigest()[:12])
    if not os.path.exists(path):
        tmp = path + f".{os.getpid()}.{threading.get_ident()}"
        with open(tmp, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    return path


def loopback_dns_prefix(tmpdir, hosts=None):
    """Command prefix that runs a program in its own mount namespace whose
    /etc/resolv.conf names only 127.0.0.1 (where nothing answers DNS): a
    lookup such as `no-such-host.invalid` then fails on this machine and no
    test ever sends a DNS query off the loopback interface. With `hosts`
    ({name: address}, e.g. TEST_HOSTS) a private /etc/hosts holding those
    names is bind-mounted too (the machine's own file is never touched).
    `exec` keeps the pid, so signals reach the program itself."""
    resolv = os.path.join(tmpdir, "resolv.loopback.conf")
    if not os.path.exists(resolv):
        with open(resolv, "w") as f:
            f.write("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        os.chmod(resolv, 0o644)
    if not hosts:
        return ["unshare", "--mount", "sh", "-c", 'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolv]
    return ["unshare", "--mount", "sh", "-c",
            'mount --bind "$0" /etc/resolv.conf && mount --bind "$1" /etc/hosts && shift && exec "$@"',
            resolv, hosts_file_for(tmpdir, hosts)]


class Ferry:
    """Runs `$FERRY_BIN serve --listen 127.0.0.1:PORT ARGS...` (DNS confined to loopback)."""

    def __init__(self, tmpdir, args, env=None, name=None, listen=True, ca=None, wait=True, port=None,
                 command=("serve",), hosts=None):
        self.bin = ferry_bin()
        self.port = port or free_port()
        self.name = name or f"ferry-{self.port}"
        self.stderr_path = os.path.join(tmpdir, self.name + ".stderr")
        self.stdout_path = os.path.join(tmpdir, self.name + ".stdout")
        extra = {}
        if ca is not None:
            extra["SSL_CERT_FILE"] = ca.ca_cert
        if env:
            extra.update(env)
        self.env = clean_env(extra)
        cmd = [self.bin, *command]
        if listen:
            cmd += ["--listen", f"127.0.0.1:{self.port}"]
        cmd += args
        self.cmd = cmd
        self.exit_code = None
        with open(self.stderr_path, "wb") as err, open(self.stdout_path, "wb") as out:
            self.proc = subprocess.Popen(loopback_dns_prefix(tmpdir, hosts) + cmd, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=err, env=self.env)
        if wait and not wait_until(lambda: self.proc.poll() is not None or self.listening_event() is not None or
                                   " listening " in self.stderr_text(), 20):
            self.stop()
            raise RuntimeError(f"ferry did not start listening: {cmd}\n{self.stderr_text()}")
        if wait and self.proc.poll() is not None:
            raise RuntimeError(f"ferry exited with {self.proc.returncode}: {cmd}\n{self.stderr_text()}")
        if wait and listen and not wait_until(lambda: port_open(self.port), 10):
            self.stop()
            raise RuntimeError(f"ferry port {self.port} does not accept: {self.stderr_text()}")

    @property
    def pid(self):
        return self.proc.pid

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def logs(self):
        """Parsed JSON events from stderr (non-JSON lines are skipped)."""
        out = []
        for line in self.stderr_text().splitlines():
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def events(self, name):
        return [e for e in self.logs() if e.get("event") == name]

    def wait_for_event(self, pred, timeout=5):
        found = []

        def check():
            found[:] = [e for e in self.logs() if pred(e)]
            return bool(found)

        wait_until(check, timeout)
        return found

    def listening_event(self):
        for e in self.logs():
            if e.get("event") == "listening":
                return e
        return None

    @property
    def via_pseudonym(self):
        """'ferry-<12 hex>' from the `listening` event."""
        return self.listening_event()["via"]

    def rss_hwm_kb(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return None

    def is_sanitized(self):
        try:
            with open(f"/proc/{self.pid}/maps") as f:
                maps = f.read()
            return "libasan" in maps or "libubsan" in maps
        except OSError:
            return False

    def signal(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self, timeout=15):
        """SIGTERM, wait (kill after `timeout` s); returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                self.exit_code = "killed"
                return self.exit_code
        if self.exit_code is None:
            self.exit_code = self.proc.returncode
        return self.exit_code

    def crash_report(self):
        """The interesting part of stderr after a failure: a sanitizer or
        libc report if there is one (trimmed), else the tail."""
        text = self.stderr_text()
        lines = text.splitlines()
        for i, line in enumerate(lines):
            if ("ERROR: AddressSanitizer" in line or "ERROR: LeakSanitizer" in line or "runtime error:" in line
                    or "double free" in line or "corrupted" in line or "free(): " in line or "terminate called" in line):
                picked = [l if len(l) < 240 else l[:240] + "..." for l in lines[i:i + 40]]
                return "\n".join(picked)
        return text[-3000:]

    def stop_checked(self):
        already = self.proc.poll() is not None
        code = self.stop()
        if code != 0:
            raise AssertionError(
                f"ferry {'had exited' if already else 'exited'} with {code} ({self.cmd}); stderr:\n" +
                self.crash_report())


# ---------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------

class Response:
    def __init__(self, status_line, fields, body, raw_head):
        self.status_line = status_line
        parts = status_line.split(" ", 2)
        self.version = parts[0]
        self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        self.reason = parts[2] if len(parts) > 2 else ""
        self.fields = fields
        self.body = body
        self.raw_head = raw_head

    def header(self, name, default=None):
        return field(self.fields, name, default)

    def headers_all(self, name):
        return [v for n, v in self.fields if n.lower() == name.lower()]

    def has_header(self, name):
        return any(n.lower() == name.lower() for n, _ in self.fields)

    def __repr__(self):
        return f"<Response {self.status_line!r} {len(self.body)} bytes>"


class RawConn:
    """A raw client connection to ferry (or anything on loopback)."""

    def __init__(self, port, timeout=10, host="127.0.0.1"):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.reader = SockReader(self.sock)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def shutdown_write(self):
        self.sock.shutdown(socket.SHUT_WR)

    def read_head(self):
        return self.reader.read_until(b"\r\n\r\n", 1 << 20)

    def read_response(self, method="GET", sink=None):
        """Reads one response; interim 1xx responses are skipped unless the
        caller asks for them (returns the first non-100 response)."""
        while True:
            head = self.read_head()
            if head is None:
                if self.reader.buf:
                    raise ValueError(f"incomplete response head: {bytes(self.reader.buf[:300])!r}")
                return None
            first, fields = parse_head(head)
            resp = Response(first, fields, b"", head)
            if resp.status == 100:
                continue
            break
        if method == "HEAD" or resp.status in (204, 304) or (resp.status and resp.status < 200) or \
                method == "CONNECT" and resp.status == 200:
            return resp
        body = bytearray()
        te = resp.header("transfer-encoding")
        if te is not None or resp.header("content-length") is not None:
            read_body(self.reader, fields, sink or body.extend)
        else:
            data = self.reader.read_to_eof()
            (sink or body.extend)(data)
        resp.body = bytes(body)
        return resp

    def recv_exact(self, n):
        return self.reader.read_exact(n)

    def recv_some(self):
        return self.reader.read_some()

    def read_to_eof(self):
        return self.reader.read_to_eof()

    def closed_by_peer(self, timeout=2.0):
        """True if the peer closes (EOF or reset) within timeout with no more data."""
        self.sock.settimeout(timeout)
        try:
            return self.reader.read_some() == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def raw_request(port, data, method="GET", timeout=10):
    """Sends `data` on a new connection, returns the first Response (or None)."""
    with RawConn(port, timeout) as c:
        c.send(data)
        try:
            return c.read_response(method)
        except ConnectionResetError:
            return None


def raw_exchange(port, data, timeout=10):
    """Sends `data`, half-closes nothing, reads until the peer closes; returns all bytes."""
    with RawConn(port, timeout) as c:
        c.send(data)
        try:
            return c.read_to_eof()
        except (ConnectionResetError, socket.timeout):
            return bytes(c.reader.buf)


def get(url, extra_headers="", version="1.1", method="GET", close=True):
    """Builds an absolute-form request for ferry."""
    hostport = url.split("://", 1)[1].split("/", 1)[0]
    req = f"{method} {url} HTTP/{version}\r\nHost: {hostport}\r\n{extra_headers}"
    if close:
        req += "Connection: close\r\n"
    return (req + "\r\n").encode("latin-1")


def curl(proxy_port, *args, timeout=120, proxy_host="127.0.0.1"):
    """Runs curl through ferry; returns the CompletedProcess (stdout as bytes)."""
    cmd = [CURL, "-sS", "--noproxy", "", "-x", f"http://{proxy_host}:{proxy_port}", *args]
    return subprocess.run(cmd, capture_output=True, timeout=timeout, env=clean_env())


def run_ferry_cli(args, timeout=20, env=None):
    """Runs the ferry binary to completion (for CLI tests)."""
    return subprocess.run([ferry_bin(), *args], capture_output=True, timeout=timeout, env=clean_env(env),
                          stdin=subprocess.DEVNULL)


def pending_bytes(conn, wait=0.3):
    """Bytes that arrive on a RawConn within `wait` seconds beyond what was read
    (b"" when nothing more came, the peer closed, or it reset): for checking
    that a response carried nothing extra."""
    if conn.reader.buf:
        out = bytes(conn.reader.buf)
        conn.reader.buf.clear()
        return out
    old = conn.sock.gettimeout()
    conn.sock.settimeout(wait)
    try:
        return conn.sock.recv(65536)
    except (socket.timeout, ConnectionResetError):
        return b""
    finally:
        conn.sock.settimeout(old)


def open_fds(pid):
    """How many descriptors process `pid` holds (a leak shows as a count that does not come back)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


# Under ASan (make asan-test) freed memory waits in a quarantine of 256 MiB
# before reuse, which a streamed 1 GiB upload or thousands of TLS handshakes
# fill: RSS would measure the quarantine, not ferry. Tests that bound ferry's
# RSS run it with a small one; release builds ignore the variable.
SMALL_ASAN_QUARANTINE = {"ASAN_OPTIONS": ":".join(
    filter(None, [os.environ.get("ASAN_OPTIONS", ""), "quarantine_size_mb=1", "thread_local_quarantine_size_kb=64"]))}


def rss_kb(pid):
    """Resident set size of `pid` now (VmRSS, KiB), not the high-water mark."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def ferry_output(ferry):
    """Everything a Ferry wrote to stderr and stdout, as text (for the
    no-secret-in-output assertions)."""
    out = ferry.stderr_text()
    with open(ferry.stdout_path, errors="replace") as f:
        return out + f.read()


def init_ferry_ca(tmpdir, name="ferry-ca"):
    """`ferry ca init --ca-dir TMPDIR/NAME`; returns the directory."""
    directory = os.path.join(tmpdir, name)
    r = run_ferry_cli(["ca", "init", "--ca-dir", directory])
    if r.returncode != 0:
        raise RuntimeError(f"ferry ca init failed: {r.stderr.decode(errors='replace')}")
    return directory
