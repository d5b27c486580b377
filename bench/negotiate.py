#!/usr/bin/env python3
"""ferry benchmark, Negotiate chain section (issue 4): ferry in front of a
Squid doing Negotiate/Kerberos against the same in front of a Squid doing
Basic, and against curl doing Negotiate itself. All on loopback, one run.

    python3 bench/negotiate.py build/release/ferry

Servers (private temp dir, free 127.0.0.1 ports, stopped by pid at the end):
an MIT KDC for TEST.LOCAL with alice and HTTP/proxy.test.local, `kinit alice`
into a ccache (tests/integration/kerberos_bed.py); Squid with
negotiate_kerberos_auth (replay cache on) and Squid with basic_ncsa_auth
(tests/integration/upstreams.py), both resolving origin.test to 127.0.0.1
from their own hosts_file; nginx serving a 100 B body; and two ferries, both
run in a private mount namespace whose /etc/hosts maps proxy.test.local to
127.0.0.1 (harness.loopback_dns_prefix):
    ferry-neg    --upstream http://proxy.test.local:PORT  (ccache mode:
                 KRB5CCNAME from the kinit, KRB5_CONFIG of the bed)
    ferry-basic  --upstream http://bob:bobpw@127.0.0.1:PORT
ferry sends loopback targets direct, so the origin is requested as
origin.test, which only the Squids resolve.

Rows, in ROUNDS (3) interleaved rounds, median reported:
    (a) neg-chain    wrk -t1 -c50 -d10s → ferry-neg → Squid(Negotiate) → nginx
    (b) basic-chain  wrk -t1 -c50 -d10s → ferry-basic → Squid(Basic) → nginx
    (c) curl-neg     one curl, --proxy-negotiate -U :, 500 GETs over one
                     connection straight to Squid(Negotiate)
    (d) curl-chain   the same curl loop (no credentials) → ferry-neg →
                     Squid(Negotiate)
    (e) tokens/s     bench/tools/token_bench.cpp: make_mit_negotiate(ccache)
                     start("HTTP@proxy.test.local")->step({}) N times
wrk sends absolute-form requests (wrk.path is the full URL, as in
bench/run.sh). Every request carries ?row=ROW-rROUND, which Squid's access log
keeps (strip_query_terms off), so each row is checked on its own: 0 non-2xx,
Squid logged every request as a 200 for alice@TEST.LOCAL (bob for Basic), the
407s, and the Negotiate helper calls (cache.log lines of
negotiate_kerberos_auth -d) during the row; cache.log must have no "replay".

Knobs (environment): ROUNDS (3), WRK_THREADS (1), WRK_CONNS (50),
WRK_DURATION (10s), WRK_WARMUP (2s), CURL_COUNT (500), TOKEN_COUNT (5000),
TOKEN_SECONDS (5), FERRY_TOKEN_BENCH (path of ferry_token_bench; default
next to ferry: bench/ferry_token_bench).
Prints a Markdown report and writes it to bench/out/negotiate-<timestamp>.md.
Needs root (Squid drops to `proxy`; unshare for the private /etc/hosts).
"""

import datetime
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH_DIR)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from harness import TEST_HOSTS, clean_env, free_port, loopback_dns_prefix, port_open, wait_until  # noqa: E402
from kerberos_bed import Kdc, NegotiateSquid  # noqa: E402
from upstreams import Squid  # noqa: E402

PROXY_HOST = "proxy.test.local"
ORIGIN_NAME = "origin.test"
HOSTS = dict(TEST_HOSTS, **{PROXY_HOST: "127.0.0.1"})
ALICE_PW = "Alice-bench-pw-2718"
REALM = "TEST.LOCAL"
ALICE = f"alice@{REALM}"
BASIC_USER, BASIC_PW = "bob", "bobpw"

ROUNDS = int(os.environ.get("ROUNDS", "3"))
WRK_THREADS = os.environ.get("WRK_THREADS", "1")
WRK_CONNS = os.environ.get("WRK_CONNS", "50")
WRK_DURATION = os.environ.get("WRK_DURATION", "10s")
WRK_WARMUP = os.environ.get("WRK_WARMUP", "2s")
CURL_COUNT = int(os.environ.get("CURL_COUNT", "500"))
TOKEN_COUNT = int(os.environ.get("TOKEN_COUNT", "5000"))
TOKEN_SECONDS = float(os.environ.get("TOKEN_SECONDS", "5"))
HZ = os.sysconf("SC_CLK_TCK")

HELPER_LINE = "negotiate_kerberos_auth: DEBUG: Got '"  # one per request squid sends the helper
HELPER_TOKEN = "negotiate_kerberos_auth: DEBUG: Got 'YR "  # of them: a fresh client token


def log(msg):
    print(f"[negotiate {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def die(msg):
    raise SystemExit(f"negotiate: {msg}")


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def loadavg():
    return " ".join(read("/proc/loadavg").split()[:3])


# --- CPU time of a process tree ---------------------------------------------------
def tree_pids(root):
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                parent[int(d)] = int(read(f"/proc/{d}/stat").rsplit(")", 1)[1].split()[1])
            except (ValueError, IndexError):
                pass
    want = {root}
    changed = True
    while changed:
        changed = False
        for p, pp in parent.items():
            if p not in want and pp in want:
                want.add(p)
                changed = True
    return want


def tree_ticks(root):
    """CPU time of a process and its descendants, all threads, in clock ticks
    (HZ), read from /proc/PID/task/TID/schedstat (nanoseconds, so that the
    curl rows' few hundred requests are not lost in 10 ms tick rounding)."""
    ns = 0
    for p in tree_pids(root):
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tids:
            try:
                ns += int(read(f"/proc/{p}/task/{t}/schedstat").split()[0])
            except (ValueError, IndexError):
                pass
    return ns * HZ / 1e9


def established_to(port):
    """ESTABLISHED TCP connections to 127.0.0.1:port (client side), from /proc/net/tcp."""
    want = "0100007F:%04X" % port
    n = 0
    for line in read("/proc/net/tcp").splitlines()[1:]:
        parts = line.split()
        if len(parts) > 3 and parts[2] == want and parts[3] == "01":
            n += 1
    return n


def children_cpu_s():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


# --- servers -------------------------------------------------------------------------
class Proc:
    """A foreground daemon started by this script, stopped by its pid."""

    def __init__(self, name, cmd, port, log_path, env=None):
        self.name, self.port, self.log_path = name, port, log_path
        with open(log_path, "wb") as out:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env)
        if not wait_until(lambda: self.proc.poll() is not None or port_open(port), 20) or self.proc.poll() is not None:
            self.stop()
            die(f"{name} did not start ({' '.join(cmd)}):\n{read(log_path)[-3000:]}")
        log(f"{name} up: pid {self.proc.pid}, port {port}")

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def start_nginx(tmp):
    d = os.path.join(tmp, "nginx")
    www = os.path.join(d, "www")
    os.makedirs(www)
    with open(os.path.join(www, "small"), "w") as f:
        f.write("x" * 99 + "\n")
    for p in (d, www):
        os.chmod(p, 0o755)
    os.chmod(os.path.join(www, "small"), 0o644)
    port = free_port()
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""{user}daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  client_body_temp_path {d}/client_body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  default_type application/octet-stream;
  server {{
    listen 127.0.0.1:{port};
    root {www};
    location = /nginx_status {{ stub_status; }}
  }}
}}
""")
    return Proc("nginx", ["nginx", "-p", d + "/", "-e", f"{d}/error.log", "-c", conf], port, f"{d}/stdout")


def origin_requests(port):
    """Requests nginx has handled so far (this one included)."""
    r = subprocess.run(["curl", "-sS", "--max-time", "5", f"http://127.0.0.1:{port}/nginx_status"],
                       capture_output=True, text=True, env=clean_env())
    lines = r.stdout.splitlines()
    try:
        return int(lines[2].split()[2])
    except (IndexError, ValueError):
        die(f"nginx stub_status unreadable: {r.stdout!r} {r.stderr!r}")


# --- measurement -------------------------------------------------------------------
def to_ms(v):
    m = re.match(r"^([\d.]+)(us|ms|s)$", v or "")
    if not m:
        return None
    x = float(m.group(1))
    return {"us": x / 1000, "ms": x, "s": x * 1000}[m.group(2)]


def parse_wrk(text):
    def grab(pattern, conv=float, default=None):
        m = re.search(pattern, text, re.M)
        return conv(m.group(1)) if m else default

    return {
        "rps": grab(r"^Requests/sec:\s+([\d.]+)"),
        "p50": to_ms(grab(r"^\s+50%\s+(\S+)", str)),
        "p99": to_ms(grab(r"^\s+99%\s+(\S+)", str)),
        "n": grab(r"^\s+(\d+) requests in", int, 0),
        "non2xx": grab(r"Non-2xx or 3xx responses:\s+(\d+)", int, 0),
        "sockerr": grab(r"Socket errors: (.*)$", str, ""),
    }


class Bench:
    def __init__(self, ferry_bin, token_bin):
        self.ferry_bin = ferry_bin
        self.token_bin = token_bin
        self.rows = {}  # row -> list of per-round dicts
        self.tokens = []
        self.procs = []

    def stop_all(self):
        for stop in reversed(self.procs):
            try:
                stop()
            except Exception as e:  # keep stopping the rest
                log(f"stop failed: {e}")

    # -- set-up ----------------------------------------------------------------
    def setup(self, tmp):
        self.tmp = tmp
        self.nginx = start_nginx(tmp)
        self.procs.append(self.nginx.stop)
        self.url = f"http://{ORIGIN_NAME}:{self.nginx.port}/small"
        self.kdc = Kdc(tmp, realm=REALM, proxy_host=PROXY_HOST)
        self.procs.append(self.kdc.stop)
        self.kdc.add_user("alice", ALICE_PW)
        self.alice_env = self.kdc.kinit("alice", ALICE_PW, os.path.join(tmp, "alice.ccache"))
        self.negsq = NegotiateSquid(tmp, self.kdc, hosts=TEST_HOSTS, connect_ports=())
        self.procs.append(lambda: self.negsq.stop(5, False))
        self.basicsq = Squid(tmp, auth="basic", users={BASIC_USER: BASIC_PW}, hosts=TEST_HOSTS, connect_ports=())
        self.procs.append(lambda: self.basicsq.stop(5, False))
        log(f"kdc pid {self.kdc.pid} port {self.kdc.port}; squid-neg pid {self.negsq.pid} port {self.negsq.port}; "
            f"squid-basic pid {self.basicsq.pid} port {self.basicsq.port}")
        common = ["serve", "--log-level", "warn"]
        self.ferry_neg = self.start_ferry("ferry-neg", common + ["--upstream", f"http://{PROXY_HOST}:{self.negsq.port}"],
                                          self.alice_env)
        # No Kerberos environment at all for the Basic ferry.
        self.ferry_basic = self.start_ferry(
            "ferry-basic", common + ["--upstream", f"http://{BASIC_USER}:{BASIC_PW}@127.0.0.1:{self.basicsq.port}"],
            {})

    def start_ferry(self, name, args, env):
        port = free_port()
        cmd = loopback_dns_prefix(self.tmp, HOSTS) + [self.ferry_bin, *args[:1], "--listen", f"127.0.0.1:{port}",
                                                        *args[1:]]
        e = clean_env(env)
        if not env:
            for k in ("KRB5CCNAME", "KRB5_CONFIG", "KRB5_KDC_PROFILE"):
                e.pop(k, None)
        p = Proc(name, cmd, port, os.path.join(self.tmp, f"{name}.log"), env=e)
        self.procs.append(p.stop)
        return p

    # -- helpers -----------------------------------------------------------------
    def curl(self, *args, env=None, timeout=60):
        return subprocess.run(["curl", "-sS", *args], capture_output=True, text=True, timeout=timeout,
                              env=clean_env(env or {}))

    def neg_curl_args(self):
        return ["--proxy-negotiate", "-U", ":", "-x", f"http://{PROXY_HOST}:{self.negsq.port}",
                "--resolve", f"{PROXY_HOST}:{self.negsq.port}:127.0.0.1"]

    def helper_counts(self):
        text = self.negsq.cache_log_text()
        return text.count(HELPER_LINE), text.count(HELPER_TOKEN)

    @staticmethod
    def squid_lines(squid, tag):
        want = f"row={tag}"
        return [e for e in squid.access_lines() if e["uri"].endswith(want)]

    def sanity(self):
        body = "x" * 99 + "\n"
        r = self.curl("-o", "/dev/null", "-w", "%{http_code}", "-x", f"http://127.0.0.1:{self.negsq.port}",
                      self.url + "?row=check-noauth")
        if r.stdout != "407":
            die(f"squid-neg answered {r.stdout!r} without credentials, not 407")
        r = self.curl("-o", "/dev/null", "-w", "%{http_code}", "-x", f"http://127.0.0.1:{self.basicsq.port}",
                      self.url + "?row=check-noauth")
        if r.stdout != "407":
            die(f"squid-basic answered {r.stdout!r} without credentials, not 407")
        checks = [("check-curl-neg", self.neg_curl_args(), self.alice_env),
                  ("check-ferry-neg", ["-x", f"http://127.0.0.1:{self.ferry_neg.port}"], {}),
                  ("check-ferry-basic", ["-x", f"http://127.0.0.1:{self.ferry_basic.port}"], {})]
        for tag, args, env in checks:
            r = self.curl(*args, self.url + f"?row={tag}", env=env)
            if r.returncode != 0 or r.stdout != body:
                die(f"{tag}: GET {self.url} failed: rc {r.returncode} {r.stdout[:200]!r} {r.stderr[-500:]!r}")
        time.sleep(1)
        for tag, sq, user in (("check-curl-neg", self.negsq, ALICE), ("check-ferry-neg", self.negsq, ALICE),
                              ("check-ferry-basic", self.basicsq, BASIC_USER)):
            ok = [e for e in self.squid_lines(sq, tag) if e["status"] == 200 and e["user"] == user]
            if not ok:
                die(f"{tag}: Squid did not log a 200 for {user}: {self.squid_lines(sq, tag)}")
        log("sanity checks passed (407 without credentials; curl, ferry-neg and ferry-basic get 200, logged as "
            f"{ALICE} / {BASIC_USER})")

    # -- rows ----------------------------------------------------------------------
    def lua(self, tag):
        path = os.path.join(self.tmp, f"wrk-{tag}.lua")
        with open(path, "w") as f:
            f.write('wrk.method = "GET"\n')
            f.write(f'wrk.path = "{self.url}?row={tag}"\n')  # absolute-form: the full URL as the request target
            f.write(f'wrk.headers["Host"] = "{ORIGIN_NAME}:{self.nginx.port}"\n')
        return path

    def measure(self, row, tag, front, squid, fn):
        """Runs fn() (returns a dict with at least n) and adds CPU, origin, helper, wall figures."""
        o1 = origin_requests(self.nginx.port)
        h1 = self.helper_counts()
        f1 = tree_ticks(front.pid) if front else 0
        s1, n1, c1, t1 = tree_ticks(squid.pid), tree_ticks(self.nginx.pid), children_cpu_s(), time.monotonic()
        res = fn()
        t2, c2 = time.monotonic(), children_cpu_s()
        f2 = tree_ticks(front.pid) if front else 0
        s2, n2 = tree_ticks(squid.pid), tree_ticks(self.nginx.pid)
        o2 = origin_requests(self.nginx.port)
        time.sleep(0.3)
        h2 = self.helper_counts()
        res.update(tag=tag, wall=t2 - t1, client_s=c2 - c1, front_ticks=f2 - f1, squid_ticks=s2 - s1,
                   nginx_ticks=n2 - n1, origin=o2 - o1 - 1, helper=h2[0] - h1[0], helper_tokens=h2[1] - h1[1])
        self.rows.setdefault(row, []).append(res)
        return res

    def wrk_row(self, row, front, squid, rnd):
        url = f"http://127.0.0.1:{front.port}/"
        if rnd == 1:
            subprocess.run(["wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNS}", f"-d{WRK_WARMUP}", "-s",
                            self.lua(f"warmup-{row}"), url], capture_output=True, timeout=120)
        tag = f"{row}-r{rnd}"
        lua = self.lua(tag)

        def run():
            out_path = os.path.join(self.tmp, f"wrk-{tag}.txt")
            with open(out_path, "w") as out:
                p = subprocess.Popen(["wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNS}", f"-d{WRK_DURATION}", "--timeout",
                                      "5s", "--latency", "-s", lua, url], stdout=out, stderr=subprocess.STDOUT)
                time.sleep(to_ms(WRK_DURATION) / 2000)
                upstream_conns = established_to(squid.port)  # ferry's connections to its Squid, mid-run
                p.wait(180)
            res = parse_wrk(read(out_path))
            res["upconns"] = upstream_conns
            return res

        res = self.measure(row, tag, front, squid, run)
        log(f"round {rnd} {row}: {res['rps']} req/s, n {res['n']}, origin {res['origin']}, non-2xx {res['non2xx']}, "
            f"helper calls {res['helper']}, ferry→squid connections mid-run {res['upconns']}, "
            f"ferry {res['front_ticks']:.0f} ticks, squid {res['squid_ticks']:.0f} ticks")

    def curl_row(self, row, front, squid, rnd, args, env):
        tag = f"{row}-r{rnd}"
        cfg = os.path.join(self.tmp, f"curl-{tag}.cfg")
        with open(cfg, "w") as f:
            for _ in range(CURL_COUNT):
                f.write(f'url = "{self.url}?row={tag}"\noutput = "/dev/null"\n')

        def run():
            r = self.curl(*args, "-w", "%{http_code} %{num_connects}\\n", "--config", cfg, env=env, timeout=300)
            codes, connects = [], 0
            for line in r.stdout.splitlines():
                parts = line.split()
                if len(parts) == 2:
                    codes.append(parts[0])
                    connects += int(parts[1])
            ok = sum(1 for c in codes if c.startswith("2"))
            if r.returncode != 0:
                log(f"{tag}: curl exited {r.returncode}: {r.stderr[-500:]}")
            return {"n": len(codes), "non2xx": len(codes) - ok, "connects": connects, "rc": r.returncode}

        res = self.measure(row, tag, front, squid, run)
        res["rps"] = res["n"] / res["wall"] if res["wall"] > 0 else None
        log(f"round {rnd} {row}: {res['rps']:.0f} req/s ({res['n']} in {res['wall']:.2f} s, {res['connects']} "
            f"connections), non-2xx {res['non2xx']}, helper calls {res['helper']}")

    def token_row(self, rnd):
        env = clean_env(self.alice_env)
        cmd = loopback_dns_prefix(self.tmp, HOSTS) + [self.token_bin, "--spn", f"HTTP@{PROXY_HOST}", "--count",
                                                      str(TOKEN_COUNT), "--seconds", str(TOKEN_SECONDS)]
        c1 = children_cpu_s()
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
        c2 = children_cpu_s()
        if r.returncode != 0:
            die(f"ferry_token_bench failed ({r.returncode}): {r.stdout}{r.stderr}")
        res = dict(kv.split("=", 1) for kv in r.stdout.split())
        res["cpu_s"] = c2 - c1
        self.tokens.append(res)
        log(f"round {rnd} tokens: {r.stdout.strip()} (cpu {c2 - c1:.2f} s)")

    def run(self):
        for rnd in range(1, ROUNDS + 1):
            self.wrk_row("neg-chain", self.ferry_neg, self.negsq, rnd)
            time.sleep(1)
            self.wrk_row("basic-chain", self.ferry_basic, self.basicsq, rnd)
            time.sleep(1)
            self.curl_row("curl-neg", None, self.negsq, rnd, self.neg_curl_args(), self.alice_env)
            time.sleep(1)
            self.curl_row("curl-chain", self.ferry_neg, self.negsq, rnd,
                          ["-x", f"http://127.0.0.1:{self.ferry_neg.port}"], {})
            time.sleep(1)
            self.token_row(rnd)
            time.sleep(1)
        time.sleep(2)  # squid writes a log line when the transaction ends

    # -- checks and report ---------------------------------------------------------
    def check(self):
        self.replay_lines = [l for l in self.negsq.cache_log_text().splitlines()
                             if re.search(r"replay", l, re.I) and "replay cache directory" not in l]
        for row, runs in self.rows.items():
            squid, user = (self.basicsq, BASIC_USER) if row == "basic-chain" else (self.negsq, ALICE)
            for r in runs:
                lines = self.squid_lines(squid, r["tag"])
                r["log200"] = sum(1 for e in lines if e["status"] == 200)
                r["loguser"] = sum(1 for e in lines if e["status"] == 200 and e["user"] == user)
                r["log407"] = sum(1 for e in lines if e["status"] == 407)
                r["logother"] = sum(1 for e in lines if e["status"] not in (200, 407))
                r["valid"] = (r["non2xx"] == 0 and r["n"] > 0 and r["log200"] >= r["n"] and r["loguser"] == r["log200"]
                              and not self.replay_lines)

    def report(self, command):
        def med(row, key, fmt="{:.0f}"):
            vals = [r[key] for r in self.rows[row] if r.get(key) is not None]
            return fmt.format(statistics.median(vals)) if vals else "n/a"

        def rng(row, key):
            vals = [r[key] for r in self.rows[row] if r.get(key) is not None]
            return f"{min(vals):.0f}–{max(vals):.0f}" if vals else ""

        def tot(row, key):
            return sum(r[key] for r in self.rows[row])

        def per_req_us(ticks, n):
            return f"{ticks / HZ * 1e6 / n:.0f}" if n > 0 else "–"

        def per_k(x, n):
            return f"{x * 1000 / n:.2f}" if n > 0 else "–"

        labels = {
            "neg-chain": "(a) wrk → ferry → Squid(Negotiate) → nginx",
            "basic-chain": "(b) wrk → ferry → Squid(Basic) → nginx",
            "curl-neg": f"(c) curl --proxy-negotiate, {CURL_COUNT} GETs on one connection → Squid(Negotiate) → nginx",
            "curl-chain": f"(d) curl (no credentials), {CURL_COUNT} GETs on one connection → ferry → Squid(Negotiate) → nginx",
        }
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
        ver = subprocess.run([self.ferry_bin, "--version"], capture_output=True, text=True).stdout.splitlines()
        squid_v = subprocess.run(["squid", "-v"], capture_output=True, text=True).stdout.splitlines()[0]
        out = []
        w = out.append
        w(f"Command: `{command}`, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}, "
          f"HEAD {head} (work tree), {ver[0] if ver else 'ferry ?'}, {os.cpu_count()} cores, {os.uname().sysname} "
          f"{os.uname().release}; {squid_v.replace('Squid Cache: Version ', 'squid ')}, curl "
          f"{subprocess.run(['curl', '--version'], capture_output=True, text=True).stdout.split()[1]}. "
          f"Load average at the start {self.load_start}, at the end {loadavg()}.")
        w("")
        w(f"### GETs, ~100 B body, median of {ROUNDS} interleaved rounds "
          f"(wrk -t{WRK_THREADS} -c{WRK_CONNS} -d{WRK_DURATION}, absolute-form; curl: {CURL_COUNT} sequential GETs)")
        w("")
        w("CPU µs/req: user+system CPU per request (all rounds; requests as counted by nginx) of ferry, Squid (with its")
        w("auth helpers), nginx and the client (wrk or curl). Squid log: this row's measured requests (by query tag) as")
        w("200 / of them for the row's user (alice@TEST.LOCAL, Basic: bob) / 407 / other. Helper calls: lines")
        w("`negotiate_kerberos_auth: DEBUG: Got '…'` in Squid's cache.log during the row (fresh tokens: `Got 'YR …'`).")
        w("Connections: curl rows, connections curl opened (all rounds); wrk rows, ESTABLISHED connections to that")
        w("row's Squid half-way through each round (ferry's upstream connections).")
        w("")
        w("| row | req/s | (range) | p50 ms | p99 ms | ferry CPU µs/req | squid | nginx | client | cores busy | requests | "
          "non-2xx | squid log 200 / user / 407 / other | 407 per 1000 | helper calls per 1000 | connections | valid |")
        w("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|")
        for row in ("neg-chain", "basic-chain", "curl-neg", "curl-chain"):
            runs = self.rows[row]
            n = tot(row, "origin")
            busy = (tot(row, "front_ticks") + tot(row, "squid_ticks") + tot(row, "nginx_ticks")) / HZ + tot(row, "client_s")
            cores = busy / tot(row, "wall")
            is_curl = row.startswith("curl")
            p50 = "–" if is_curl else med(row, "p50", "{:.2f}")
            p99 = "–" if is_curl else med(row, "p99", "{:.2f}")
            fcpu = "–" if row == "curl-neg" else per_req_us(tot(row, "front_ticks"), n)
            conns = str(tot(row, "connects")) if is_curl else \
                "/".join(str(r["upconns"]) for r in runs) + " (ferry→squid, mid-run)"
            helper = tot(row, "helper")
            w(f"| {labels[row]} | {med(row, 'rps')} | {rng(row, 'rps')} | {p50} | {p99} | {fcpu} | "
              f"{per_req_us(tot(row, 'squid_ticks'), n)} | {per_req_us(tot(row, 'nginx_ticks'), n)} | "
              f"{tot(row, 'client_s') * 1e6 / n:.0f} | {cores:.2f} | {tot(row, 'n')} | {tot(row, 'non2xx')} | "
              f"{tot(row, 'log200')} / {tot(row, 'loguser')} / {tot(row, 'log407')} / {tot(row, 'logother')} | "
              f"{per_k(tot(row, 'log407'), tot(row, 'n'))} | "
              f"{'–' if row == 'basic-chain' else per_k(helper, tot(row, 'n'))} | {conns} | "
              f"{'yes' if all(r['valid'] for r in runs) else 'no'} |")
        w("")
        for row in ("neg-chain", "basic-chain", "curl-neg", "curl-chain"):
            per = ", ".join(f"r{i + 1}: {r['helper']} ({r['helper_tokens']} fresh tokens), 407s {r['log407']}"
                            for i, r in enumerate(self.rows[row]))
            w(f"- {row} helper calls per round: {per}.")
        ses = [f"{r['tag']}: {r['sockerr']}" for row in self.rows.values() for r in row if r.get("sockerr")]
        if ses:
            w(f"- wrk socket errors: {'; '.join(ses)}.")
        all_h, all_t = self.helper_counts()
        w(f"- Whole run (sanity checks and the round-1 wrk warm-ups included): {all_h} helper calls, {all_t} fresh "
          f"tokens; Squid(Negotiate) logged {sum(1 for e in self.negsq.access_lines() if e['status'] == 407)} 407s "
          f"in all. cache.log lines mentioning replay: {len(self.replay_lines)}.")
        w("")
        w(f"### (e) Fresh Negotiate tokens (ferry_token_bench, ccache mode, SPN HTTP@{PROXY_HOST}), {ROUNDS} runs")
        w("")
        w("One token = `make_mit_negotiate(KerberosIdentity{})->start(spn)->step({})`: credentials from the ccache and")
        w("one `gss_init_sec_context` (SPNEGO wrapping a Kerberos AP-REQ); the first call (service ticket from the KDC)")
        w("is excluded and shown separately.")
        w("")
        w("| run | tokens | tokens/s | µs/token | p50 µs | p99 µs | first call µs | token bytes | CPU s / wall s |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for i, t in enumerate(self.tokens):
            w(f"| {i + 1} | {t['tokens']} | {t['tokens_per_s']} | {t['us_per_token']} | {t['p50_us']} | {t['p99_us']} | "
              f"{t['first_us']} | {t['token_bytes']} | {t['cpu_s']:.2f} / {t['seconds']} |")
        tps = statistics.median(float(t["tokens_per_s"]) for t in self.tokens)
        ups = statistics.median(float(t["us_per_token"]) for t in self.tokens)
        w(f"| median | | {tps:.0f} | {ups:.1f} | | | | | |")
        w("")
        w("### Target (issue 4)")
        w("")
        a = statistics.median(r["rps"] for r in self.rows["neg-chain"])
        b = statistics.median(r["rps"] for r in self.rows["basic-chain"])
        c = statistics.median(r["rps"] for r in self.rows["curl-neg"])
        d = statistics.median(r["rps"] for r in self.rows["curl-chain"])
        ratio = a / b if b else 0
        self.verdict = (ratio, a, b, c, d, tps, ups)
        w("| target | measured | goal | verdict |")
        w("|---|---:|---:|---|")
        w(f"| small GET req/s, ferry → Squid(Negotiate) / ferry → Squid(Basic) | {ratio:.2f}× | ≥ 0.9× | "
          f"{'met' if ratio >= 0.9 else '**missed**'} |")
        w("")
        w(f"For reference (no goal): sequential curl through ferry → Squid(Negotiate) / curl --proxy-negotiate "
          f"straight to Squid: {d / c:.2f}×; every row valid (0 non-2xx, Squid logged ≥ the client's count as 200, all "
          f"for the row's user, no replay in cache.log): "
          f"{'yes' if all(r['valid'] for runs in self.rows.values() for r in runs) else 'no'}.")
        return "\n".join(out) + "\n"


def main():
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} FERRY_BIN", file=sys.stderr)
        return 2
    ferry_bin = os.path.realpath(sys.argv[1])
    token_bin = os.environ.get("FERRY_TOKEN_BENCH") or os.path.join(os.path.dirname(ferry_bin), "bench",
                                                                    "ferry_token_bench")
    for b in (ferry_bin, token_bin):
        if not os.access(b, os.X_OK):
            print(f"not found or not executable: {b}", file=sys.stderr)
            return 2
    for c in ("wrk", "nginx", "squid", "curl", "unshare"):
        if not shutil.which(c):
            print(f"missing {c}", file=sys.stderr)
            return 2
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    tmp = tempfile.mkdtemp(prefix="ferry-negotiate.", dir="/tmp")
    os.chmod(tmp, 0o755)
    bench = Bench(ferry_bin, token_bin)
    bench.load_start = loadavg()
    ok = False
    try:
        bench.setup(tmp)
        bench.sanity()
        bench.run()
        bench.check()
        report = bench.report("python3 bench/negotiate.py " + " ".join(sys.argv[1:]))
        os.makedirs(os.path.join(BENCH_DIR, "out"), exist_ok=True)
        path = os.path.join(BENCH_DIR, "out", f"negotiate-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.md")
        with open(path, "w") as f:
            f.write(report)
        print(report)
        log(f"report written to {path}")
        ok = True
    finally:
        bench.stop_all()
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"run failed; logs kept in {tmp}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
