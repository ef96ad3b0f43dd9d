"""`twinsim serve` driven by the JavaScript Azure Digital Twins SDK
(@azure/digital-twins-core 1.1.0 from npm, installed into tests/js/node_modules
by this test with `npm ci`; Node from Debian): create, get, update, query and
delete over TLS with the test CA passed as NODE_EXTRA_CA_CERTS. The JS SDK
sends api-version 2022-05-31, the Python one 2023-10-31."""

import json
import os
import pathlib
import shutil
import subprocess

import pytest

from service_fixtures import CLI, Server, make_test_ca

JS = pathlib.Path(__file__).resolve().parents[1] / "js"

pytestmark = pytest.mark.skipif(not CLI, reason="TWINSIM_CLI (path of the twinsim program) is not set")


@pytest.fixture(scope="module")
def sdk():
    # scripts/run-tests installs node and npm (Debian's nodejs, npm); without them this is a failure, not a skip.
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    assert not missing, f"{' and '.join(missing)} not found on PATH: run scripts/run-tests, which installs them"
    if not (JS / "node_modules" / "@azure" / "digital-twins-core").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=JS, check=True, capture_output=True, timeout=600)
    return JS / "adt_sdk_check.mjs"


def test_the_javascript_sdk_creates_gets_updates_queries_and_deletes(tmp_path, sdk):
    ca, cert, key = make_test_ca(tmp_path / "tls")
    signing = tmp_path / "signing.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(signing), "2048"], check=True, capture_output=True)
    jwks = subprocess.run([CLI, "token", "--key", str(signing), "--jwks"], check=True, capture_output=True, text=True)
    (tmp_path / "jwks.json").write_text(jwks.stdout, encoding="utf-8")
    (tmp_path / "auth.json").write_text(json.dumps({"jwks": "jwks.json"}), encoding="utf-8")
    token = subprocess.run([CLI, "token", "--key", str(signing), "--role", "Azure Digital Twins Data Owner"],
                           check=True, capture_output=True, text=True).stdout.strip()
    server = Server(tmp_path / "store", cert=cert, key=key, extra=["--auth", str(tmp_path / "auth.json")])
    try:
        env = dict(os.environ, TWINSIM_URL=server.url, TWINSIM_TOKEN=token, NODE_EXTRA_CA_CERTS=str(ca),
                   NO_PROXY="127.0.0.1,localhost")
        run = subprocess.run(["node", str(sdk)], cwd=JS, env=env, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        seen = json.loads(run.stdout.strip().splitlines()[-1])
    finally:
        status, _, err = server.stop()
    assert status == 0, err
    assert seen["models"] == ["dtmi:js:Room;1"]
    assert seen["created"] == "js-room" and seen["etag"].startswith('W/"')
    assert seen["temperature"] == 21.5 and seen["etagChanged"] is True
    assert seen["query"] == ["js-room"]
    assert seen["missing"] == {"statusCode": 404, "code": "DigitalTwinNotFound"}
