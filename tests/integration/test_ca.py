"""`ferry ca init|show|export|install-hint` driven through the real binary.

Checks file modes, that an existing CA is kept, that outputs agree with
openssl's view of the files, that a broken or missing CA is exit 2 with a
message naming the file and the fix, and that no key material is printed.
"""

import os
import re
import shutil
import stat
import subprocess
import tempfile
import unittest

from harness import OPENSSL, ferry_bin, run_ferry_cli

SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def openssl(*args, data=None):
    r = subprocess.run([OPENSSL, *args], input=data, capture_output=True, timeout=20)
    if r.returncode != 0:
        raise AssertionError(f"openssl {args}: {r.stderr.decode(errors='replace')}")
    return r.stdout.decode()


def fingerprint_of(path):
    out = openssl("x509", "-noout", "-fingerprint", "-sha256", "-in", path)
    return out.strip().split("=", 1)[1]


def pem_blocks(text):
    return re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", text, re.S)


class CaCommandTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ferry-it-ca-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.dir = os.path.join(self.tmp, "state", "ferry", "ca")
        self.outputs = []  # every stdout and stderr, checked for key material

    def tearDown(self):
        key = os.path.join(self.dir, "ca.key")
        if os.path.exists(key):
            with open(key) as f:
                body = [line for line in f.read().splitlines() if line and not line.startswith("-----")]
            for out in self.outputs:
                self.assertNotIn("PRIVATE KEY", out)
                for line in body:
                    self.assertNotIn(line, out, "a line of the CA key was printed")

    def ca(self, *args, env=None, expect=0):
        r = run_ferry_cli(["ca", *args], env=env)
        out, err = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
        self.outputs += [out, err]
        self.assertEqual(r.returncode, expect, f"ferry ca {args}: exit {r.returncode}\nstdout: {out}\nstderr: {err}")
        self.assertNotIn("Traceback", err)
        return out, err

    def init(self):
        out, _ = self.ca("init", "--ca-dir", self.dir)
        return out

    def path(self, name):
        return os.path.join(self.dir, name)

    # -- init --------------------------------------------------------------

    def test_init_creates_private_directory_and_key(self):
        out = self.init()
        self.assertIn(f"created a new interception CA in {self.dir}", out)
        for d in (os.path.join(self.tmp, "state"), os.path.join(self.tmp, "state", "ferry"), self.dir):
            self.assertEqual(stat.S_IMODE(os.stat(d).st_mode), 0o700, d)
        self.assertEqual(stat.S_IMODE(os.stat(self.path("ca.key")).st_mode), 0o600)
        self.assertEqual(sorted(os.listdir(self.dir)), ["bundle.pem", "ca.key", "ca.pem"])

        text = openssl("x509", "-noout", "-text", "-in", self.path("ca.pem"))
        self.assertIn("CA:TRUE, pathlen:0", text)
        self.assertIn("Certificate Sign, CRL Sign", text)
        self.assertIn("NIST CURVE: P-256", text)
        self.assertIn("ecdsa-with-SHA256", text)
        self.assertIn("X509v3 Subject Key Identifier", text)
        subject = openssl("x509", "-noout", "-subject", "-in", self.path("ca.pem"))
        self.assertRegex(subject, r"O = ferry, CN = ferry interception CA \(.+\)")
        # The key is an unencrypted EC key that belongs to the certificate.
        pub_from_key = openssl("pkey", "-pubout", "-in", self.path("ca.key"))
        pub_from_cert = openssl("x509", "-noout", "-pubkey", "-in", self.path("ca.pem"))
        self.assertEqual(pub_from_key, pub_from_cert)
        # Self-signed and valid for about ten years.
        self.assertIn("OK", openssl("verify", "-CAfile", self.path("ca.pem"), self.path("ca.pem")))
        openssl("x509", "-noout", "-checkend", str(3650 * 86400), "-in", self.path("ca.pem"))

    def test_second_init_keeps_the_ca(self):
        self.init()
        before = fingerprint_of(self.path("ca.pem"))
        with open(self.path("ca.key"), "rb") as f:
            key = f.read()
        out = self.init()
        self.assertIn(f"kept the existing interception CA in {self.dir}", out)
        self.assertNotIn("created", out)
        self.assertEqual(fingerprint_of(self.path("ca.pem")), before)
        self.assertIn(before, out)
        with open(self.path("ca.key"), "rb") as f:
            self.assertEqual(f.read(), key)

    def test_half_made_directory_is_an_error_and_left_alone(self):
        self.init()
        os.unlink(self.path("ca.pem"))
        with open(self.path("ca.key"), "rb") as f:
            key = f.read()
        _, err = self.ca("init", "--ca-dir", self.dir, expect=2)
        self.assertIn(self.path("ca.pem") + " is missing", err)
        self.assertFalse(os.path.exists(self.path("ca.pem")))
        with open(self.path("ca.key"), "rb") as f:
            self.assertEqual(f.read(), key)

    def test_bundle_is_system_trust_plus_the_ca(self):
        self.init()
        with open(self.path("bundle.pem")) as f:
            bundle = pem_blocks(f.read())
        with open(self.path("ca.pem")) as f:
            ca = pem_blocks(f.read())
        self.assertEqual(bundle[-1], ca[0])
        with open(SYSTEM_BUNDLE) as f:
            system = pem_blocks(f.read())
        self.assertGreater(len(system), 10, "the Debian trust bundle is expected on the test machine")
        self.assertEqual(bundle[:-1], system)
        self.assertIn("OK", openssl("verify", "-CAfile", self.path("bundle.pem"), self.path("ca.pem")))

    # -- show / export / install-hint ---------------------------------------

    def test_show_agrees_with_openssl(self):
        self.init()
        out, err = self.ca("show", "--ca-dir", self.dir)
        self.assertEqual(err, "")
        fields = dict(re.findall(r"^([a-z0-9 ]+):\s+(.*)$", out, re.M))
        self.assertEqual(fields["directory"], self.dir)
        self.assertEqual(fields["sha256"], fingerprint_of(self.path("ca.pem")))
        subject = openssl("x509", "-noout", "-subject", "-in", self.path("ca.pem")).strip()
        self.assertEqual("subject=" + fields["subject"], subject)
        dates = openssl("x509", "-noout", "-startdate", "-enddate", "-dateopt", "iso_8601",
                        "-in", self.path("ca.pem"))
        start, end = re.findall(r"=(\S+ \S+)Z", dates)
        self.assertEqual(fields["not before"], start.replace(" ", "T") + "Z")
        self.assertEqual(fields["not after"], end.replace(" ", "T") + "Z")

    def test_export_prints_the_pem_and_nothing_else(self):
        self.init()
        out, err = self.ca("export", "--ca-dir", self.dir)
        self.assertEqual(err, "")
        with open(self.path("ca.pem")) as f:
            self.assertEqual(out, f.read())
        self.assertEqual(len(pem_blocks(out)), 1)
        self.assertTrue(out.startswith("-----BEGIN CERTIFICATE-----\n"))
        self.assertTrue(out.endswith("-----END CERTIFICATE-----\n"))
        parsed = openssl("x509", "-noout", "-fingerprint", "-sha256", data=out.encode())
        self.assertEqual(parsed.strip().split("=", 1)[1], fingerprint_of(self.path("ca.pem")))

    def test_install_hint(self):
        self.init()
        out, err = self.ca("install-hint", "--ca-dir", self.dir)
        self.assertEqual(err, "")
        self.assertIn(f"cp {self.dir}/ca.pem /usr/local/share/ca-certificates/ferry.crt && update-ca-certificates",
                      out)
        exports = dict(re.findall(r"^export ([A-Z_]+)=(\S+)$", out, re.M))
        bundle, ca = self.path("bundle.pem"), self.path("ca.pem")
        self.assertEqual(exports, {"SSL_CERT_FILE": bundle, "REQUESTS_CA_BUNDLE": bundle, "CURL_CA_BUNDLE": bundle,
                                   "GIT_SSL_CAINFO": bundle, "NODE_EXTRA_CA_CERTS": ca})
        # The export lines work in a shell as printed (only those: the cp line
        # would change this machine's trust store).
        exports_only = "".join(line + "\n" for line in out.splitlines() if line.startswith("export "))
        self.assertEqual(len(exports_only.splitlines()), 5)
        script = exports_only + 'printf "%s\\n" "$SSL_CERT_FILE" "$NODE_EXTRA_CA_CERTS"\n'
        r = subprocess.run(["sh", "-c", script], capture_output=True, timeout=10)
        self.assertEqual(r.stdout.decode().split(), [bundle, ca])

    def test_relative_directory_is_printed_absolute(self):
        r = subprocess.run([ferry_bin(), "ca", "init", "--ca-dir", "rel/ca"], cwd=self.tmp, capture_output=True,
                           timeout=20)
        out = r.stdout.decode()
        self.outputs.append(out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"created a new interception CA in {self.tmp}/rel/ca", out)

    # -- where the CA lives --------------------------------------------------

    def test_default_directory_and_config(self):
        xdg = os.path.join(self.tmp, "xdg")
        out, _ = self.ca("init", env={"XDG_DATA_HOME": xdg, "HOME": self.tmp})
        self.assertIn(f"in {xdg}/ferry/ca", out)
        self.assertTrue(os.path.exists(os.path.join(xdg, "ferry", "ca", "ca.key")))
        env = {"HOME": self.tmp}
        out, _ = self.ca("init", env={**env, "XDG_DATA_HOME": ""})
        self.assertIn(f"in {self.tmp}/.local/share/ferry/ca", out)

        config = os.path.join(self.tmp, "ferry.toml")
        with open(config, "w") as f:
            f.write(f'[interception]\nca_dir = "{self.dir}"\n')
        out, _ = self.ca("init", "--config", config)
        self.assertIn(f"created a new interception CA in {self.dir}", out)
        out, _ = self.ca("show", "--config", config, "--ca-dir", os.path.join(xdg, "ferry", "ca"))
        self.assertIn(f"directory:   {xdg}/ferry/ca", out)

        with open(config, "w") as f:
            f.write('[interception]\nca_dirr = "/x"\n')
        _, err = self.ca("show", "--config", config, expect=2)
        self.assertIn("ca_dirr", err)

    # -- refusals ------------------------------------------------------------

    def test_missing_ca_says_how_to_make_one(self):
        for action in ("show", "export", "install-hint"):
            out, err = self.ca(action, "--ca-dir", self.dir, expect=2)
            self.assertEqual(out, "")
            self.assertIn(f"run 'ferry ca init --ca-dir {self.dir}'", err)
        self.assertFalse(os.path.exists(self.dir), "a read-only action made the directory")

    def test_key_readable_by_others_is_refused(self):
        self.init()
        os.chmod(self.path("ca.key"), 0o640)
        for action in ("show", "export", "install-hint", "init"):
            out, err = self.ca(action, "--ca-dir", self.dir, expect=2)
            self.assertIn(self.path("ca.key"), err)
            self.assertIn("mode 0640", err)
            self.assertIn("chmod 600", err)
            self.assertEqual(out, "")

    def test_garbage_certificate_is_refused(self):
        self.init()
        with open(self.path("ca.pem"), "w") as f:
            f.write("garbage\n")
        for action in ("show", "export", "init"):
            out, err = self.ca(action, "--ca-dir", self.dir, expect=2)
            self.assertIn(self.path("ca.pem") + ": not a PEM certificate", err)
            self.assertEqual(out, "")
        with open(self.path("ca.pem")) as f:
            self.assertEqual(f.read(), "garbage\n", "init replaced a broken CA")

    def test_usage(self):
        self.ca("bogus", "--ca-dir", self.dir, expect=2)
        self.ca(expect=2)
        r = run_ferry_cli(["help", "ca"])
        self.assertEqual(r.returncode, 0)
        self.assertIn("install-hint", r.stdout.decode())
        self.assertIn("--ca-dir", r.stdout.decode())


if __name__ == "__main__":
    unittest.main()
