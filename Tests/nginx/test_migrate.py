"""backend-jwt-migrate: the configuration it makes from the seeds' samples runs in the real nginx,
and backends receive tokens PyJWT verifies with the claims and TTL the source asked for."""

import http.client
import json
import subprocess
import time
from pathlib import Path

import jwt
import pytest

from conftest import (HOST, ROOT, UUID4, b64std_decode, free_port, headers_named, only_token,
                      thumbprint, verify_signature)

TOOL = ROOT / "build" / "out" / "backend-jwt-migrate"
FIXTURES = ROOT / "Tests" / "BackendJWTMigrateTests" / "Fixtures"


def migrate(*args, check=True):
    """Runs the tool; returns (exit code, stdout, stderr)."""
    p = subprocess.run([str(TOOL), *map(str, args)], capture_output=True, text=True, timeout=60)
    if check:
        assert p.returncode == 0, p.stderr
    return p.returncode, p.stdout, p.stderr


def serve(nginx, backend, fixture, *args):
    """nginx with the server block the tool makes of `fixture` on a port of its own, proxying to
    the harness backend. Returns (nginx, get) where get(path, headers, method) gives
    (status, what the backend saw or None)."""
    port = free_port()
    _, conf, _ = migrate(FIXTURES / fixture, "--listen", f"{HOST}:{port}",
                         "--upstream", f"http://{HOST}:{backend.port}", *args)
    n = nginx(http=conf)

    def get(path, headers=(), method="GET"):
        c = http.client.HTTPConnection(HOST, port, timeout=10)
        try:
            c.request(method, path, headers=dict(headers))
            r = c.getresponse()
            body = r.read()
        finally:
            c.close()
        if r.status == 200 and r.getheader("Content-Type") == "application/json":
            return r.status, json.loads(body)
        return r.status, None

    return n, get


def test_apk_conf_seed(nginx, keys, backend):
    """The apk-conf of apk-backend-jwt-via-rest-api.md: Base64 (WSO2's legacy form), RS256,
    X-JWT-Assertion, TTL 3600, claim1 and claim2; GET /test under basePath/version goes to the
    endpoint's path plus the operation's."""
    _, get = serve(nginx, backend, "seed.apk-conf", "--signing-key", keys.rsa)
    now = int(time.time())
    status, seen = get("/backend_jwt/1.0.0/test?q=1")
    assert status == 200
    assert seen["path"] == "/anything/test?q=1"
    token = only_token(seen["headers"])
    header, payload, signature = token.split(".")
    assert json.loads(b64std_decode(header)) == {"alg": "RS256", "typ": "JWT", "kid": thumbprint(keys.public_key)}
    verify_signature(f"{header}.{payload}".encode(), b64std_decode(signature), keys)
    claims = json.loads(b64std_decode(payload))
    assert claims["claim1"] == "value1" and claims["claim2"] == "value2"
    assert claims["exp"] - claims["iat"] == 3600 and abs(claims["iat"] - now) <= 5
    assert UUID4.match(claims["jti"])
    assert set(claims) == {"iat", "exp", "jti", "claim1", "claim2"}

    # only the operation's verb, only its path
    hits = len(backend.hits)
    assert get("/backend_jwt/1.0.0/test", method="POST")[0] == 403
    assert get("/backend_jwt/1.0.0/other")[0] == 404
    assert get("/backend_jwt/1.0.0/test/more")[0] == 404
    assert len(backend.hits) == hits


def test_ibm_seed(nginx, keys, backend):
    """The jwt-generate of ibm-apic-jwt-generate.md: issuer and audience from request headers,
    60 seconds, RS256, no output variable: the backend gets Authorization: Bearer <token>."""
    _, get = serve(nginx, backend, "seed-ibm.yaml", "--signing-key", keys.rsa)
    now = int(time.time())
    status, seen = get("/securetoken/generate", [("iss-claim", "https://issuer.example.com"),
                                                 ("aud-claim", "orders"),
                                                 ("Authorization", "Bearer forged"),
                                                 ("X-JWT-Assertion", "forged")])
    assert status == 200
    assert seen["path"] == "/securetoken/generate"
    authorization = headers_named(seen["headers"], "Authorization")
    assert len(authorization) == 1 and authorization[0].startswith("Bearer ")
    assert headers_named(seen["headers"], "X-JWT-Assertion") == []
    token = authorization[0][len("Bearer "):]
    claims = jwt.decode(token, keys.public_key, algorithms=["RS256"], audience="orders",
                        issuer="https://issuer.example.com")
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "typ": "JWT", "kid": thumbprint(keys.public_key)}
    assert claims["exp"] - claims["iat"] == 60 and abs(claims["iat"] - now) <= 5
    assert "jti" not in claims  # jti-claim not set: IBM adds none
    assert set(claims) == {"iss", "aud", "iat", "exp"}

    # /validate has no jwt-generate: forwarded as it came
    status, seen = get("/securetoken/validate", [("Authorization", "Bearer theirs")])
    assert status == 200
    assert headers_named(seen["headers"], "Authorization") == ["Bearer theirs"]
    assert get("/securetoken/generate", method="DELETE")[0] == 403


def test_apk_conf_large(nginx, keys, backend):
    """Path parameters and prefixes reach the endpoint's path as APK sends them; every claim
    type arrives typed; an operation's own policy (NONE, its own header) replaces the API's."""
    _, get = serve(nginx, backend, "large.apk-conf", "--signing-key", keys.rsa)
    status, seen = get("/orders-api/2.1/orders/42")
    assert status == 200 and seen["path"] == "/v2/orders/42"
    token = only_token(seen["headers"])
    header, payload, signature = token.split(".")
    verify_signature(f"{header}.{payload}".encode(), b64std_decode(signature), keys)
    claims = json.loads(b64std_decode(payload))
    assert claims["exp"] - claims["iat"] == 1800
    assert {k: v for k, v in claims.items() if k not in ("iat", "exp", "jti")} == {
        "sub": "orders-gateway", "tenant": "acme", "realm.name": 'acme realm; "main"', "quota": 100,
        "bytes": 4294967296, "ratio": 0.75, "beta": True, "since": 1706702400,
        "http://wso2.org/claims/enduser": "admin"}
    assert type(claims["quota"]) is int and type(claims["beta"]) is bool

    assert get("/orders-api/2.1/orders/42/items/7", method="DELETE")[1]["path"] == "/v2/orders/42/items/7"
    assert get("/orders-api/2.1/orders", method="POST")[1]["path"] == "/v2/orders"
    status, seen = get("/orders-api/2.1/reports/2024/q1")
    assert status == 200 and seen["path"] == "/v2/reports/2024/q1"
    assert headers_named(seen["headers"], "X-JWT-Assertion") == []
    report = only_token(seen["headers"], "X-Report-JWT")
    assert report.endswith(".")
    claims = jwt.decode(report, algorithms=["none"], options={"verify_signature": False})
    assert claims["report"] == "monthly" and claims["exp"] - claims["iat"] == 300
    assert "sub" not in claims and "tenant" not in claims  # the operation's policy, not the API's


def test_apk_crs_seed_enforces(nginx, keys, backend):
    """The CRs seed: the override policy's token on every route."""
    _, get = serve(nginx, backend, "seed-crs.yaml", "--signing-key", keys.rsa)
    status, seen = get("/http-bin-api/1.0.8/get/x")
    assert status == 200 and seen["path"] == "/anything/get/x"
    header, payload, signature = only_token(seen["headers"]).split(".")
    verify_signature(f"{header}.{payload}".encode(), b64std_decode(signature), keys)
    assert json.loads(b64std_decode(payload))["admin"] == "http://wso2.org/claims/enduser"
    assert get("/http-bin-api/1.0.8/getx")[0] == 404


FIXTURE_KEYS = {
    "seed.apk-conf": "rsa", "large.apk-conf": "rsa", "seed-crs.yaml": "rsa", "large-crs.yaml": "ec",
    "seed-ibm.yaml": "rsa", "large-ibm.yaml": "secret", "seed-deployment.toml": "rsa",
    "large-deployment.toml": None,
}


@pytest.mark.parametrize("fixture", sorted(FIXTURE_KEYS))
def test_every_fixture_passes_nginx_t(nginx_t, keys, fixture):
    key = FIXTURE_KEYS[fixture]
    args = [] if key is None else ["--signing-secret", keys.secret] if key == "secret" else ["--signing-key", getattr(keys, key)]
    if not fixture.endswith(".toml"):  # their backends' names do not resolve here
        args += ["--upstream", f"http://{HOST}:9", "--listen", f"{HOST}:{free_port()}"]
    _, conf, _ = migrate(FIXTURES / fixture, *args)
    code, out, _, _ = nginx_t(http=conf)
    assert code == 0, out


def test_same_input_same_bytes(keys):
    first = migrate(FIXTURES / "large-crs.yaml", "--signing-key", keys.ec)
    assert migrate(FIXTURES / "large-crs.yaml", "--signing-key", keys.ec) == first


def test_warnings_and_strict(tmp_path, keys):
    out = tmp_path / "api.conf"
    out.write_text("previous\n")
    code, stdout, stderr = migrate(FIXTURES / "seed-ibm.yaml", "--upstream", "http://127.0.0.1:1", "-o", out)
    assert code == 0 and stdout == ""
    assert f"{FIXTURES / 'seed-ibm.yaml'}:47: warning: assembly.execute[0].operation-switch.case[0].execute[0].jwt-generate.jws-crypto: " in stderr
    assert "# not converted: assembly.execute[0].operation-switch.case[0].execute[0].jwt-generate.jws-crypto" in out.read_text()

    out.write_text("previous\n")
    code, stdout, stderr = migrate(FIXTURES / "seed-ibm.yaml", "--upstream", "http://127.0.0.1:1", "-o", out, "--strict",
                                   check=False)
    assert code == 1 and stdout == ""
    assert "warning(s) and --strict: nothing written" in stderr
    assert out.read_text() == "previous\n"
    assert not [p for p in tmp_path.iterdir() if p.name != "api.conf"]  # no temporary left


def test_bad_input(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("basePath: /t\noperations:\n  - target: /a\n    verb: [GET\n")
    out = tmp_path / "out.conf"
    code, stdout, stderr = migrate(bad, "-o", out, check=False)
    assert code == 1 and stdout == "" and not out.exists()
    assert stderr.startswith(f"{bad}:5: error: not valid YAML")
    code, stdout, stderr = migrate(tmp_path / "missing.yaml", check=False)
    assert code == 1 and "cannot read the file" in stderr


def test_deployment_toml_seed(nginx, keys, backend):
    """[apim.jwt] at http level; a location names its API with the two variables the output
    defines, and the backend gets WSO2's claim set in the configured dialect and encoding."""
    _, conf, _ = migrate(FIXTURES / "seed-deployment.toml", "--signing-key", keys.rsa)
    n = nginx(http=conf, server="""
        location /pizzashack/ {
            set $bjwt_api_name PizzaShackAPI;
            set $bjwt_api_version 1.0.0;
            proxy_pass BACKEND;
        }
        location /other/ {
            proxy_pass BACKEND;
        }
""")
    header, payload, signature = only_token(n.seen("/pizzashack/menu")).split(".")
    verify_signature(f"{header}.{payload}".encode(), b64std_decode(signature), keys)  # encoding = "base64"
    claims = json.loads(b64std_decode(payload))
    assert claims["iss"] == "wso2.org/products/am"
    d = "http://wso2.org/claims/"
    assert {k[len(d):]: v for k, v in claims.items() if k.startswith(d)} == {
        "apiname": "PizzaShackAPI", "version": "1.0.0", "keytype": "PRODUCTION",
        "usertype": "APPLICATION_USER", "enduserTenantId": "-1234"}
    # a location that names no API still gets a token, without apiname and version
    claims = json.loads(b64std_decode(only_token(n.seen("/other/")).split(".")[1]))
    assert d + "apiname" not in claims and claims["iss"] == "wso2.org/products/am"
