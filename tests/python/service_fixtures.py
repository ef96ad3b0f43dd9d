"""Starting `twinsim serve` over TLS for the service tests: a test CA and a
server certificate made with the openssl program, the server on a free port,
and a credential the Azure SDK accepts."""

import json
import os
import pathlib
import re
import signal
import subprocess
import time

CLI = os.environ.get("TWINSIM_CLI")

# The SDK must reach the local server directly, whatever proxy the machine has.
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"


def make_test_ca(folder: pathlib.Path):
    """A CA and a certificate for 127.0.0.1 / localhost signed by it; returns
    (ca.pem, server.pem, server.key)."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca_pem = folder / "ca.key", folder / "ca.pem"
    key, csr, pem = folder / "server.key", folder / "server.csr", folder / "server.pem"
    ext = folder / "server.ext"
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca_pem), "-days", "2",
        "-subj", "/CN=twinsim test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=localhost")
    ext.write_text("basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
                   "extendedKeyUsage=serverAuth\n", encoding="utf-8")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca_pem), "-CAkey", str(ca_key), "-CAcreateserial",
        "-out", str(pem), "-days", "2", "-extfile", str(ext))
    return ca_pem, pem, key


def make_token_signer(folder: pathlib.Path, auth=None):
    """An RSA signing key made with openssl, its JWKS (folder/jwks.json) and an
    auth file (folder/auth.json: the JWKS and issuer "twinsim", plus what `auth`
    adds); returns (auth.json, token) where token(sub, role) is a bearer token
    `twinsim token` signs for that subject and role."""
    folder.mkdir(parents=True, exist_ok=True)
    signing = folder / "signing.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(signing), "2048"], check=True, capture_output=True)
    jwks = subprocess.run([CLI, "token", "--key", str(signing), "--jwks"], check=True, capture_output=True,
                          text=True).stdout
    (folder / "jwks.json").write_text(jwks, encoding="utf-8")
    auth_file = folder / "auth.json"
    auth_file.write_text(json.dumps({"jwks": "jwks.json", "issuers": ["twinsim"], **(auth or {})}),
                         encoding="utf-8")

    def token(sub, role):
        return subprocess.run([CLI, "token", "--key", str(signing), "--sub", sub, "--role", role], check=True,
                              capture_output=True, text=True).stdout.strip()

    return auth_file, token


class Server:
    """`twinsim serve` in a child process; .url once it listens."""

    def __init__(self, store, *, cert=None, key=None, extra=()):
        args = [CLI, "serve", "--store", str(store), "--listen", "127.0.0.1:0", *extra]
        if cert:
            args += ["--tls-cert", str(cert), "--tls-key", str(key)]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        match = re.search(r"listening on (\S+)", line)
        if not match:
            self.process.kill()
            raise RuntimeError(f"twinsim serve did not start: {line!r} {self.process.stderr.read()!r}")
        self.url = match.group(1)

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Sends `sig` and waits; returns (exit status, rest of stdout, stderr)."""
        if getattr(self, "result", None) is None:
            if self.process.poll() is None:
                self.process.send_signal(sig)
            out, err = self.process.communicate(timeout=timeout)
            self.result = (self.process.returncode, out, err)
        return self.result


class StaticToken:
    """A credential for the Azure SDK: get_token returns a fixed bearer token."""

    def __init__(self, token="test-token"):
        self.token = token
        self.scopes = []

    def get_token(self, *scopes, **kwargs):
        from azure.core.credentials import AccessToken

        self.scopes.append(scopes)
        return AccessToken(self.token, int(time.time()) + 3600)
