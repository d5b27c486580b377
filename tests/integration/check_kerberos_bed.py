#!/usr/bin/env python3
"""Manual self-check of kerberos_bed.py (not a CTest test): starts an nginx
origin, a KDC, a Negotiate Squid and a mod_auth_gssapi Apache and checks
each of them with real clients (curl, and /usr/bin/python3 with
python3-gssapi for raw NTLM). Needs root and the packages listed in
kerberos_bed.py. Two copies can run at once.

    cd tests/integration && python3 check_kerberos_bed.py [-v] [--expiry] [--keep]

--expiry also waits out a 30 s ticket (about 35 s more); --keep leaves the
temp dir. Exit status 0 when every check passed.
"""

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import CURL, Nginx, TestCA, clean_env  # noqa: E402
from kerberos_bed import (GSSAPI_PYTHON, NTLMSSP_OID, SPNEGO_OID, GssApache, KerberosError, Kdc,  # noqa: E402
                          NegotiateSquid, gssapi_available)

HOSTS = {"origin.test": "127.0.0.1"}

# A raw-socket client (run by /usr/bin/python3, which has python3-gssapi):
# one connection, GSSAPI tokens in Proxy-Authorization until the proxy stops
# answering 407 with a token. Prints a JSON summary.
GSS_CLIENT = textwrap.dedent(r'''
    import base64, json, socket, sys
    import gssapi
    port, url, host, scheme, mech_oid = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
    mech = gssapi.OID.from_int_seq(mech_oid)
    spn = gssapi.Name("HTTP@" + host, gssapi.NameType.hostbased_service)
    ctx = gssapi.SecurityContext(name=spn, usage="initiate", mech=mech)
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
    f = s.makefile("rb")
    def exchange(tok):
        hdr = "" if tok is None else "Proxy-Authorization: %s %s\r\n" % (scheme, base64.b64encode(tok).decode())
        s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (url, url.split("/")[2], hdr)).encode())
        status = f.readline().decode()
        fields = []
        while True:
            line = f.readline().decode().rstrip("\r\n")
            if not line:
                break
            n, _, v = line.partition(":")
            fields.append((n.strip().lower(), v.strip()))
        body = f.read(int(dict(fields).get("content-length", "0")))
        return int(status.split()[1]), fields, body
    out = {"legs": []}
    try:
        tok = ctx.step()
        while True:
            status, fields, body = exchange(tok)
            out["legs"].append({"sent": len(tok), "status": status})
            auth = [v.split(None, 1)[1] for n, v in fields if n == "proxy-authenticate"
                    and v.lower().startswith(scheme.lower() + " ")]
            if status != 407 or not auth or ctx.complete:
                break
            got = base64.b64decode(auth[0])
            out["legs"][-1]["challenge"] = len(got)
            tok = ctx.step(got)
        out["status"] = status
        out["body"] = body.decode("latin-1")
    except Exception as e:
        out["error"] = "%s: %s" % (type(e).__name__, e)
    print(json.dumps(out))
''')


class Checker:
    def __init__(self, verbose):
        self.verbose = verbose
        self.failed = []
        self.passed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"PASS {name}" + (f"  [{str(detail)[:200]!r}]" if detail and self.verbose else ""))
        else:
            self.failed.append(name)
            print(f"FAIL {name}\n     {detail}")
        sys.stdout.flush()
        return ok


def curl(proxy, url, env, *args):
    """curl -i through `proxy` (a kerberos_bed proxy: by name, --resolve);
    returns (http_code, head+body text, stderr)."""
    cmd = [CURL, "-sS", "-i", "--noproxy", "", "-x", proxy.url(), *proxy.curl_resolve(), "-w", "\n%{http_code}",
           *args, url]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=clean_env(env))
    out = r.stdout.rsplit("\n", 1)
    code = int(out[1]) if len(out) == 2 and out[1].isdigit() else 0
    return code, out[0], r.stderr


def gss_client(proxy, url, scheme, mech_oid, env):
    r = subprocess.run([GSSAPI_PYTHON, "-c", GSS_CLIENT, str(proxy.port), url, proxy.host, scheme, mech_oid],
                       capture_output=True, text=True, timeout=30, env=clean_env(env))
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": f"rc={r.returncode} stdout={r.stdout!r} stderr={r.stderr[-1500:]!r}"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--expiry", action="store_true", help="also wait out a 30 s ticket")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()
    c = Checker(args.verbose)
    tmp = tempfile.mkdtemp(prefix="ferry-kbed-")
    os.chmod(tmp, 0o755)
    t0 = time.monotonic()
    with contextlib.ExitStack() as stack:
        if not args.keep:
            stack.callback(shutil.rmtree, tmp, True)
        ca = TestCA(tmp)
        nginx = Nginx(tmp, ca)
        stack.callback(nginx.stop)
        kdc = Kdc(tmp)
        stack.callback(kdc.stop)
        kdc.add_user("alice", "alicepw")
        kdc.add_user("shorty", "shortpw", maxlife="30 seconds")
        squid = NegotiateSquid(tmp, kdc, hosts=HOSTS, connect_ports=(443, nginx.https_port))
        stack.callback(squid.stop, 5, False)
        apache = GssApache(tmp, kdc, hosts=HOSTS, connect_ports=(443, nginx.https_port))
        stack.callback(apache.stop)
        print(f"bed up in {time.monotonic() - t0:.1f}s: kdc {kdc.port}, nginx {nginx.http_port}, "
              f"squid {squid.port}, apache {apache.port}, dir {tmp}")
        url = f"http://origin.test:{nginx.http_port}/"

        alice = kdc.kinit("alice", "alicepw", os.path.join(tmp, "alice.ccache"))
        klist = kdc.klist(os.path.join(tmp, "alice.ccache"))
        c.check("kinit alice -> TGT", "Default principal: alice@TEST.LOCAL" in klist
                and "krbtgt/TEST.LOCAL@TEST.LOCAL" in klist, klist)
        noticket = dict(kdc.env(), KRB5CCNAME=f"FILE:{tmp}/no-such.ccache")

        # -- Squid ----------------------------------------------------------
        code, out, err = curl(squid, url, alice, "--proxy-negotiate", "-U", ":")
        c.check("squid: Negotiate with ticket -> 200 hello", code == 200 and "hello from origin" in out,
                f"{code} {err} {out[:300]!r}\n{squid.cache_log_text()[-1500:]}")
        lines = squid.wait_access_count(1, pred=lambda e: e["status"] == 200)
        c.check("squid: access log user alice@TEST.LOCAL",
                any(e["user"] == "alice@TEST.LOCAL" and e["uri"] == url for e in lines), repr(squid.access_lines()))
        code, out, err = curl(squid, url, noticket, "--proxy-negotiate", "-U", ":")
        c.check("squid: no ticket -> 407 Negotiate", code == 407 and "Proxy-Authenticate: Negotiate" in out,
                f"{code} {err} {out[:300]!r}")
        code, out, err = curl(squid, url, alice)
        c.check("squid: no auth at all -> 407", code == 407, f"{code} {err}")
        if gssapi_available():
            r = gss_client(squid, url, "Negotiate", SPNEGO_OID, alice)
            c.check("squid: python-gssapi SPNEGO token -> 200", r.get("status") == 200, repr(r))
        else:
            c.check("python3-gssapi available in " + GSSAPI_PYTHON, False, "install python3-gssapi")

        # -- Apache: Kerberos -------------------------------------------------
        code, out, err = curl(apache, url, alice, "--proxy-negotiate", "-U", ":")
        head = out.split("\r\n\r\n", 1)[0]
        mutual = [l for l in head.splitlines() if l.lower().startswith("proxy-authenticate: negotiate ")]
        c.check("apache: Negotiate with ticket -> 200 hello", code == 200 and "hello from origin" in out,
                f"{code} {err} {out[:300]!r}\n{apache.error_log_text()[-1500:]}")
        c.check("apache: 200 carries a mutual-auth Proxy-Authenticate: Negotiate token", bool(mutual), head)
        lines = apache.wait_access_count(1, pred=lambda e: e["status"] == 200)
        c.check("apache: access log user alice@TEST.LOCAL",
                any(e["user"] == "alice@TEST.LOCAL" and e["uri"] == url for e in lines), repr(apache.access_lines()))
        code, out, err = curl(apache, url, noticket)
        offers = [l.strip() for l in out.split("\r\n\r\n", 1)[0].splitlines() if l.lower().startswith("proxy-auth")]
        c.check("apache: no credentials -> 407 offering Negotiate and NTLM",
                code == 407 and "Proxy-Authenticate: Negotiate" in offers and "Proxy-Authenticate: NTLM" in offers,
                f"{code} {offers}")

        # -- Apache: NTLM -----------------------------------------------------
        good = os.path.join(tmp, "ntlm-client-good")
        bad = os.path.join(tmp, "ntlm-client-bad")
        with open(good, "w") as f:
            f.write("TESTDOM:carol:carolpw\n")
        with open(bad, "w") as f:
            f.write("TESTDOM:carol:wrongpw\n")
        ntlm_env = lambda path: {"NTLM_USER_FILE": path, "NTLMUSER": "carol", "KRB5_CONFIG": kdc.krb5_conf,
                                 "KRB5CCNAME": f"FILE:{tmp}/no-such.ccache"}
        if gssapi_available():
            r = gss_client(apache, url, "NTLM", NTLMSSP_OID, ntlm_env(good))
            legs = r.get("legs", [])
            c.check("apache: raw NTLM (gss-ntlmssp client), right password -> 200",
                    r.get("status") == 200 and len(legs) == 2 and legs[0]["sent"] == 40 and legs[0]["status"] == 407,
                    repr(r) + "\n" + apache.error_log_text()[-1500:])
            c.check("apache: access log user TESTDOM\\carol",
                    any(e["user"] == "TESTDOM\\carol" and e["status"] == 200
                        for e in apache.wait_access_count(1, pred=lambda e: e["user"] == "TESTDOM\\carol")),
                    repr(apache.access_lines()))
            r = gss_client(apache, url, "NTLM", NTLMSSP_OID, ntlm_env(bad))
            c.check("apache: raw NTLM, wrong password -> 407 after type-3",
                    r.get("status") == 407 and len(r.get("legs", [])) == 2, repr(r))
        code, out, err = curl(apache, url, ntlm_env(good), "--proxy-negotiate", "-U", ":")
        c.check("apache: curl SPNEGO->NTLM (no ticket, NTLM_USER_FILE) -> 200", code == 200, f"{code} {err}")
        code, out, err = curl(apache, url, ntlm_env(bad), "--proxy-negotiate", "-U", ":")
        c.check("apache: curl SPNEGO->NTLM wrong password -> 407", code == 407, f"{code} {err}")

        # -- CONNECT to the TLS origin ----------------------------------------
        tls_url = f"https://origin.test:{nginx.https_port}/"
        for name, proxy in (("squid", squid), ("apache", apache)):
            code, out, err = curl(proxy, tls_url, alice, "--proxy-negotiate", "-U", ":", "--cacert", ca.ca_cert)
            c.check(f"{name}: CONNECT origin.test:{nginx.https_port} with Negotiate -> 200 hello",
                    code == 200 and "hello from origin" in out, f"{code} {err} {out[-300:]!r}")
            code, out, err = curl(proxy, tls_url, noticket, "--cacert", ca.ca_cert)
            c.check(f"{name}: CONNECT without credentials -> 407", "407" in err or code == 407, f"{code} {err}")

        # -- short tickets -----------------------------------------------------
        sccache = os.path.join(tmp, "shorty.ccache")
        shorty = kdc.kinit("shorty", "shortpw", sccache)
        life = kdc.ticket_lifetimes(sccache).get("krbtgt/TEST.LOCAL@TEST.LOCAL")
        c.check("shorty (maxlife 30 seconds): TGT lifetime 20-40 s", life is not None and 20 <= life <= 40,
                f"{life} s\n{kdc.klist(sccache)}")
        code, out, err = curl(squid, url, shorty, "--proxy-negotiate", "-U", ":")
        c.check("squid: short-ticket user -> 200", code == 200, f"{code} {err}")
        life = kdc.ticket_lifetimes(sccache).get(kdc.spn)
        c.check("shorty: service ticket HTTP/proxy.test.local lifetime <= 30 s", life is not None and life <= 30,
                kdc.klist(sccache))
        alice10 = kdc.kinit("alice", "alicepw", os.path.join(tmp, "alice-l.ccache"), lifetime="25s")
        life = kdc.ticket_lifetimes(os.path.join(tmp, "alice-l.ccache")).get("krbtgt/TEST.LOCAL@TEST.LOCAL")
        c.check("kinit -l 25s: TGT lifetime 25 s", life == 25, repr(life))
        del alice10

        # -- keytabs -----------------------------------------------------------
        ckt = kdc.client_keytab("alice", os.path.join(tmp, "alice.keytab"))
        env_kt = kdc.kinit_keytab("alice", ckt, os.path.join(tmp, "alice-kt.ccache"))
        code, out, err = curl(apache, url, env_kt, "--proxy-negotiate", "-U", ":")
        c.check("client keytab kinit -> apache 200", code == 200, f"{code} {err}")
        try:
            kdc.kinit("alice", "alicepw", os.path.join(tmp, "alice2.ccache"))
            c.check("password still valid after client_keytab (-norandkey)", True)
        except KerberosError as e:
            c.check("password still valid after client_keytab (-norandkey)", False, e.stderr)

        # -- KDC down ----------------------------------------------------------
        kdc.stop()
        try:
            kdc.kinit("alice", "alicepw", os.path.join(tmp, "alice3.ccache"))
            c.check("KDC down: kinit fails with Cannot contact any KDC", False, "kinit succeeded")
        except KerberosError as e:
            c.check("KDC down: kinit fails with Cannot contact any KDC", "Cannot contact any KDC" in e.stderr,
                    e.stderr.strip())
        code, out, err = curl(squid, url, alice, "--proxy-negotiate", "-U", ":")
        c.check("KDC down: cached service ticket still works at squid", code == 200, f"{code} {err}")
        kdc.start()
        try:
            kdc.kinit("alice", "alicepw", os.path.join(tmp, "alice3.ccache"))
            c.check("KDC restarted: kinit works again", True)
        except KerberosError as e:
            c.check("KDC restarted: kinit works again", False, e.stderr)

        if args.expiry:
            left = 31 - (time.time() - os.stat(sccache).st_mtime)
            print(f"waiting {max(left, 0):.0f}s for shorty's ticket to expire")
            time.sleep(max(left, 0) + 2)
            code, out, err = curl(squid, url, shorty, "--proxy-negotiate", "-U", ":")
            c.check("squid: expired ticket -> 407", code == 407, f"{code} {err}")

        print(f"\n{c.passed} passed, {len(c.failed)} failed in {time.monotonic() - t0:.1f}s"
              + (f" (kept {tmp})" if args.keep else ""))
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
