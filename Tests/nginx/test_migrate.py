"""backend-jwt-migrate: the configuration it makes from the seeds' samples and the larger fixtures
runs in the real nginx against a local identity provider (its JWK Set served by a server of the
same nginx, fetched through the internal location the tool writes): a request without a token is
refused where the gateway refused it, a token without the operation's scope gets 403, and a good
one reaches the backend with a minted token that carries the caller's `sub`, checked by PyJWT.

Caller tokens are ES256 (the IdP's EC key) and the gateway mints with another key, so a token
that reached the backend unchanged could not pass for a minted one."""

import http.client
import json
import os
import re
import subprocess
import time
from pathlib import Path

import jwt
import pytest

from caller_tokens import AUDIENCE, ISSUER, IdP
from conftest import (HOST, ROOT, UUID4, b64std_decode, free_port, headers_named, only_token,
                      thumbprint, verify_signature)

TOOL = ROOT / "build" / "out" / "backend-jwt-migrate"
FIXTURES = ROOT / "Tests" / "BackendJWTMigrateTests" / "Fixtures"
ENDUSER = "http://wso2.org/claims/enduser"
VERSION = re.search(r'#define BJWT_VERSION +"([^"]+)"', (ROOT / "include" / "backend_jwt.h").read_text()).group(1)


def migrate(*args, check=True, cwd=None):
    """Runs the tool; returns (exit code, stdout, stderr)."""
    p = subprocess.run([str(TOOL), *map(str, args)], capture_output=True, text=True, timeout=60, cwd=cwd)
    if check:
        assert p.returncode == 0, p.stderr
    return p.returncode, p.stdout, p.stderr


@pytest.fixture(scope="module")
def idp(keys, tmp_path_factory):
    return IdP(keys, tmp_path_factory.mktemp("migrate-idp"))


def idp_server(idp, port):
    """A server of the same nginx that answers the identity provider's jwks_uri (the IdP's keys,
    a JSON text with no single quote, as an nginx return body)."""
    text = Path(idp.jwks).read_text().replace("\n", "")
    assert "'" not in text and "$" not in text
    return f"""
    server {{
        listen {HOST}:{port};
        location = /certs {{
            default_type application/json;
            return 200 '{text}';
        }}
    }}
"""


def bearer(token):
    return [("Authorization", f"Bearer {token}")]


def serve(nginx, backend, idp, fixture, *args, extra_http=""):
    """nginx with the server block the tool makes of `fixture` on a port of its own, proxying to
    the harness backend, its JWK Set from the IdP server. Returns (nginx, get) where
    get(path, headers, method) gives (status, what the backend saw or None, response headers)."""
    port, idp_port = free_port(), free_port()
    _, conf, _ = migrate(FIXTURES / fixture, "--listen", f"{HOST}:{port}",
                         "--upstream", f"http://{HOST}:{backend.port}",
                         "--jwks-url", f"http://{HOST}:{idp_port}/certs", *args)
    n = nginx(http=conf + idp_server(idp, idp_port) + extra_http)

    def get(path, headers=(), method="GET"):
        c = http.client.HTTPConnection(HOST, port, timeout=10)
        try:
            c.request(method, path, headers=dict(headers))
            r = c.getresponse()
            body = r.read()
        finally:
            c.close()
        if r.status == 200 and r.getheader("Content-Type") == "application/json":
            return r.status, json.loads(body), r.getheaders()
        return r.status, None, r.getheaders()

    return n, get


def refused(get, path, headers=(), status=401, method="GET", backend=None):
    hits = len(backend.hits) if backend else 0
    got, seen, _ = get(path, headers, method)
    assert got == status and seen is None, (path, got)
    if backend:
        assert len(backend.hits) == hits, "the backend was reached"


def caller(idp, **claims):
    """A caller's ES256 access token from the IdP (iss ISSUER, aud AUDIENCE, sub alice), valid for
    two hours (so the minted token's exp is not capped by the caller's)."""
    claims.setdefault("exp", int(time.time()) + 7200)
    return idp.token("ES256", **claims)


def test_apk_conf_seed(nginx, keys, backend, idp):
    """The apk-conf of apk-backend-jwt-via-rest-api.md: its operation is secured (APK's default),
    so a caller needs a token of the issuer; the backend gets Base64 (WSO2's legacy form), RS256,
    X-JWT-Assertion, TTL 3600, claim1 and claim2, and the caller as sub and WSO2's end user; GET
    /test under basePath/version goes to the endpoint's path plus the operation's."""
    _, get = serve(nginx, backend, idp, "seed.apk-conf", "--signing-key", keys.rsa, "--issuer", ISSUER)
    refused(get, "/backend_jwt/1.0.0/test", backend=backend)
    refused(get, "/backend_jwt/1.0.0/test", bearer(caller(idp, iss="https://elsewhere.example")), backend=backend)
    now = int(time.time())
    status, seen, _ = get("/backend_jwt/1.0.0/test?q=1", bearer(caller(idp)))
    assert status == 200
    assert seen["path"] == "/anything/test?q=1"
    assert headers_named(seen["headers"], "Authorization") == []  # sendTokenToUpstream: false
    token = only_token(seen["headers"])
    header, payload, signature = token.split(".")
    assert json.loads(b64std_decode(header)) == {"alg": "RS256", "typ": "JWT", "kid": thumbprint(keys.public_key)}
    verify_signature(f"{header}.{payload}".encode(), b64std_decode(signature), keys)
    claims = json.loads(b64std_decode(payload))
    assert claims["claim1"] == "value1" and claims["claim2"] == "value2"
    assert claims["sub"] == "alice" and claims[ENDUSER] == "alice"
    assert claims["exp"] - claims["iat"] == 3600 and abs(claims["iat"] - now) <= 5
    assert UUID4.match(claims["jti"])
    assert set(claims) == {"iat", "exp", "jti", "claim1", "claim2", "sub", ENDUSER}

    # only the operation's verb, only its path; what matches nothing is 404 without a token
    hits = len(backend.hits)
    assert get("/backend_jwt/1.0.0/test", bearer(caller(idp)), method="POST")[0] == 403
    assert get("/backend_jwt/1.0.0/other")[0] == 404
    assert get("/backend_jwt/1.0.0/test/more")[0] == 404
    assert len(backend.hits) == hits


def test_ibm_seed(nginx, keys, backend, idp):
    """The API of ibm-apic-jwt-generate.md: /generate mints (issuer and audience from request
    headers, 60 seconds, RS256, Authorization: Bearer <token>) for anyone, as IBM; /validate
    verifies the caller's token with the key --verify-key gives for its crypto object (its
    issuer and audience patterns come from request headers, which the caller sets: not checked)."""
    _, get = serve(nginx, backend, idp, "seed-ibm.yaml", "--signing-key", keys.rsa, "--verify-key", idp.jwks)
    now = int(time.time())
    status, seen, _ = get("/securetoken/generate", [("iss-claim", "https://issuer.example.com"),
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

    # /validate: the caller's token verified, and passed on as IBM's invoke does
    refused(get, "/securetoken/validate", [("Authorization", "Bearer theirs")], backend=backend)
    refused(get, "/securetoken/validate", backend=backend)
    good = caller(idp)
    status, seen, _ = get("/securetoken/validate", bearer(good))
    assert status == 200
    assert headers_named(seen["headers"], "Authorization") == [f"Bearer {good}"]
    assert get("/securetoken/generate", method="DELETE")[0] == 403


def test_apk_conf_large(nginx, keys, backend, idp):
    """Path parameters and prefixes reach the endpoint's path as APK sends them; every claim
    type arrives typed; the API's own sub and end-user claims stay (the source set them); an
    operation's own policy (NONE, its own header) replaces the API's and carries the caller;
    the unsecured DELETE needs no token."""
    _, get = serve(nginx, backend, idp, "large.apk-conf", "--signing-key", keys.rsa)
    token = bearer(caller(idp))
    refused(get, "/orders-api/2.1/orders/42", backend=backend)
    status, seen, _ = get("/orders-api/2.1/orders/42", token)
    assert status == 200 and seen["path"] == "/v2/orders/42"
    minted = only_token(seen["headers"])
    header, payload, signature = minted.split(".")
    verify_signature(f"{header}.{payload}".encode(), b64std_decode(signature), keys)
    claims = json.loads(b64std_decode(payload))
    assert claims["exp"] - claims["iat"] == 1800
    assert {k: v for k, v in claims.items() if k not in ("iat", "exp", "jti")} == {
        "sub": "orders-gateway", "tenant": "acme", "realm.name": 'acme realm; "main"', "quota": 100,
        "bytes": 4294967296, "ratio": 0.75, "beta": True, "since": 1706702400,
        ENDUSER: "admin"}
    assert type(claims["quota"]) is int and type(claims["beta"]) is bool

    assert get("/orders-api/2.1/orders/42/items/7", method="DELETE")[1]["path"] == "/v2/orders/42/items/7"
    assert get("/orders-api/2.1/orders", token, method="POST")[1]["path"] == "/v2/orders"
    status, seen, _ = get("/orders-api/2.1/reports/2024/q1", token)
    assert status == 200 and seen["path"] == "/v2/reports/2024/q1"
    assert headers_named(seen["headers"], "X-JWT-Assertion") == []
    report = only_token(seen["headers"], "X-Report-JWT")
    assert report.endswith(".")
    claims = jwt.decode(report, algorithms=["none"], options={"verify_signature": False})
    assert claims["report"] == "monthly" and claims["exp"] - claims["iat"] == 300
    assert claims["sub"] == "alice" and claims[ENDUSER] == "alice"
    assert "tenant" not in claims  # the operation's policy, not the API's


def test_apk_crs_seed(nginx, keys, backend, idp):
    """The CRs seed: APK's default authentication (OAuth2), the override policy's token on every
    route, with the caller in it."""
    _, get = serve(nginx, backend, idp, "seed-crs.yaml", "--signing-key", keys.rsa)
    refused(get, "/http-bin-api/1.0.8/get/x", backend=backend)
    status, seen, _ = get("/http-bin-api/1.0.8/get/x", bearer(caller(idp)))
    assert status == 200 and seen["path"] == "/anything/get/x"
    header, payload, signature = only_token(seen["headers"]).split(".")
    verify_signature(f"{header}.{payload}".encode(), b64std_decode(signature), keys)
    claims = json.loads(b64std_decode(payload))
    assert claims["admin"] == "http://wso2.org/claims/enduser" and claims["sub"] == "alice"
    assert get("/http-bin-api/1.0.8/getx")[0] == 404


def test_apk_secured(nginx, keys, backend, idp):
    """An apk-conf with OAuth2 and API keys, scoped, unsecured and token-only operations: no
    token 401; an API key alone 401 (not converted: refused, never let in); a token without the
    operation's scope 403; one scope of several is enough (APK's rule); the backend gets a token
    with the caller's sub and not the caller's own (sendTokenToUpstream: false)."""
    _, get = serve(nginx, backend, idp, "secured.apk-conf", "--signing-key", keys.rsa, "--issuer", ISSUER)
    read, write = caller(idp, scope="orders:read profile"), caller(idp, scope="orders:write")
    refused(get, "/shop/1.0/orders/7", backend=backend)
    refused(get, "/shop/1.0/orders/7", [("apikey", "k-123")], backend=backend)
    refused(get, "/shop/1.0/orders/7", bearer(write), status=403, backend=backend)
    refused(get, "/shop/1.0/orders", bearer(read), status=403, method="POST", backend=backend)
    refused(get, "/shop/1.0/orders/7", bearer(caller(idp, scope="orders:readonly")), status=403, backend=backend)
    refused(get, "/shop/1.0/orders/7", bearer(caller(idp, scope="ORDERS:READ")), status=403, backend=backend)

    now = int(time.time())
    status, seen, _ = get("/shop/1.0/orders/7", bearer(read))
    assert status == 200 and seen["path"] == "/api/orders/7"
    assert headers_named(seen["headers"], "Authorization") == []
    minted = only_token(seen["headers"])
    claims = jwt.decode(minted, keys.public_key, algorithms=["RS256"])
    assert claims["sub"] == "alice" and claims[ENDUSER] == "alice" and claims["tenant"] == "acme"
    assert claims["exp"] - claims["iat"] == 600 and abs(claims["iat"] - now) <= 5
    assert minted != read

    assert get("/shop/1.0/orders", bearer(write), method="POST")[0] == 200
    assert get("/shop/1.0/reports/2024", bearer(caller(idp, scope=["reports:read"])))[0] == 200  # any of two, an array
    assert get("/shop/1.0/me", bearer(caller(idp)))[0] == 200  # secured without scopes: a token is enough
    refused(get, "/shop/1.0/me", backend=backend)
    status, seen, _ = get("/shop/1.0/health")  # secured: false
    assert status == 200
    claims = jwt.decode(only_token(seen["headers"]), keys.public_key, algorithms=["RS256"])
    assert "sub" not in claims and ENDUSER not in claims  # no caller, no identity


def test_apk_crs_secured(nginx, keys, backend, idp):
    """APK resources: the TokenIssuer's issuer and scopes claim (scp), a Scope on POST and GET
    /charges, an Authentication that sends the token on, another that opens /status; the API's
    default policy mints ES256 with the caller in it."""
    _, get = serve(nginx, backend, idp, "secured-crs.yaml", "--signing-key", keys.ec)
    admin = caller(idp, scp="payments:admin")
    refused(get, "/payments/2.0/charges", method="POST", backend=backend)
    refused(get, "/payments/2.0/charges", bearer(caller(idp, scope="payments:write")), status=403, method="POST", backend=backend)
    refused(get, "/payments/2.0/charges", bearer(caller(idp, scp="payments:admin", iss="https://x.example")),
            method="POST", backend=backend)
    status, seen, _ = get("/payments/2.0/charges", bearer(admin), method="POST")
    assert status == 200 and seen["path"] == "/charges"
    assert headers_named(seen["headers"], "Authorization") == [f"Bearer {admin}"]  # sendTokenToUpstream
    claims = jwt.decode(only_token(seen["headers"]), keys.pub["ec"], algorithms=["ES256"])
    assert claims["sub"] == "alice" and claims[ENDUSER] == "alice" and claims["exp"] - claims["iat"] == 300
    assert get("/payments/2.0/accounts/9", bearer(caller(idp)))[0] == 200
    refused(get, "/payments/2.0/accounts/9", backend=backend)
    assert get("/payments/2.0/status")[0] == 200


def test_ibm_validate_then_generate(nginx, keys, backend, idp):
    """jwt-validate then jwt-generate: the caller's token (iss exactly, aud by IBM's pattern)
    verified with the JWK Set, then a token minted for the backend whose sub is the caller's;
    a token from a header of its own; a token from a runtime variable nginx lacks is refused."""
    _, get = serve(nginx, backend, idp, "validate-ibm.yaml", "--signing-key", keys.rsa)
    good = caller(idp)  # aud orders-api: matches the pattern "orders"
    refused(get, "/v1/orders", backend=backend)
    refused(get, "/v1/orders", bearer(caller(idp, aud="billing")), backend=backend)
    refused(get, "/v1/orders", bearer(caller(idp, iss=ISSUER + "/evil")), backend=backend)
    status, seen, _ = get("/v1/orders", bearer(good) + [("X-Gateway", "https://gw.example")])
    assert status == 200 and seen["path"] == "/v1/orders"
    authorization = headers_named(seen["headers"], "Authorization")
    assert len(authorization) == 1 and authorization[0] != f"Bearer {good}"
    claims = jwt.decode(authorization[0][len("Bearer "):], keys.public_key, algorithms=["RS256"],
                        issuer="https://gw.example")
    assert claims["sub"] == "alice" and claims["exp"] - claims["iat"] == 120 and UUID4.match(claims["jti"])

    status, seen, _ = get("/v1/partner", [("X-Partner-Token", f"Bearer {good}")])
    assert status == 200
    assert get("/v1/partner", [("X-Partner-Token", good)])[0] == 200
    refused(get, "/v1/partner", bearer(good), backend=backend)
    refused(get, "/v1/legacy", bearer(good), status=403, backend=backend)
    assert get("/v1/ping")[0] == 200


FIXTURE_KEYS = {
    "seed.apk-conf": "rsa", "large.apk-conf": "rsa", "secured.apk-conf": "rsa", "seed-crs.yaml": "rsa",
    "large-crs.yaml": "ec", "secured-crs.yaml": "ec", "seed-ibm.yaml": "rsa", "large-ibm.yaml": "secret",
    "validate-ibm.yaml": "rsa", "seed-deployment.toml": "rsa", "large-deployment.toml": None,
}


@pytest.mark.parametrize("fixture", sorted(FIXTURE_KEYS))
def test_every_fixture_passes_nginx_t(nginx_t, keys, idp, tmp_path, fixture):
    key = FIXTURE_KEYS[fixture]
    args = [] if key is None else ["--signing-secret", keys.secret] if key == "secret" else ["--signing-key", getattr(keys, key)]
    args += ["--verify-key", idp.jwks, "-o", tmp_path / "api.conf"]
    server = ""
    if fixture.endswith(".toml"):
        args += ["--jwks-url", f"http://{HOST}:9/certs"]
        server = f"include {tmp_path}/api-verify.conf;"
    else:  # their backends' and identity providers' names do not resolve here
        args += ["--upstream", f"http://{HOST}:9", "--listen", f"{HOST}:{free_port()}", "--jwks-url", f"http://{HOST}:9/certs"]
    migrate(FIXTURES / fixture, *args)
    code, out, _, _ = nginx_t(http=(tmp_path / "api.conf").read_text(), server=server)
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
    assert f"{FIXTURES / 'seed-ibm.yaml'}:57: warning: assembly.execute[0].operation-switch.case[1].execute[0].jwt-validate.iss-claim: " in stderr

    out.write_text("previous\n")
    code, stdout, stderr = migrate(FIXTURES / "seed-ibm.yaml", "--upstream", "http://127.0.0.1:1", "-o", out, "--strict",
                                   check=False)
    assert code == 1 and stdout == ""
    assert "warning(s) and --strict: nothing written" in stderr
    assert out.read_text() == "previous\n"
    assert not [p for p in tmp_path.iterdir() if p.name != "api.conf"]  # no temporary left


def test_secured_apis_without_a_word_are_impossible(tmp_path):
    """Authentication the module cannot check is refused with a warning, and --strict fails."""
    api = tmp_path / "keys.apk-conf"
    api.write_text("basePath: /k\nversion: v1\nendpointConfigurations:\n  production:\n    endpoint: http://127.0.0.1:1\n"
                   "authentication:\n  - authType: OAuth2\n    enabled: false\n  - authType: APIKey\n    enabled: true\n"
                   "operations:\n  - target: /a\n    verb: GET\n")
    code, stdout, stderr = migrate(api)
    assert f"{api}:9: warning: authentication[1].authType: " in stderr
    assert re.search(r"location = /k/v1/a \{\n(.*\n)*?\s+deny all;", stdout), stdout
    code, stdout, stderr = migrate(api, "--strict", check=False)
    assert code == 1 and stdout == ""


def test_key_paths_are_absolute(tmp_path, keys):
    """Relative key paths are resolved against the current folder; a key the source holds
    inline is written beside the output, named absolute."""
    (tmp_path / "sub").mkdir()
    crs = tmp_path / "crs.yaml"
    crs.write_text((FIXTURES / "secured-crs.yaml").read_text().replace(
        "    jwks:\n      url: https://idp.example.com/realms/acme/protocol/openid-connect/certs\n",
        "    certificate:\n      certificateInline: |\n        -----BEGIN CERTIFICATE-----\n        MIIB\n        -----END CERTIFICATE-----\n"))
    _, stdout, stderr = migrate(crs, "--signing-key", "gw.pem", "-o", "sub/out.conf", cwd=tmp_path)
    text = (tmp_path / "sub" / "out.conf").read_text()
    assert f"backend_jwt_signing_key {tmp_path}/gw.pem;" in text
    assert f"backend_jwt_verify_key {tmp_path}/sub/out-acme-idp-certificate.pem;" in text
    assert (tmp_path / "sub" / "out-acme-idp-certificate.pem").read_text().startswith("-----BEGIN CERTIFICATE-----\nMIIB\n")
    assert "resolved by nginx against its prefix" not in text


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
    defines, and the backend gets WSO2's claim set in the configured dialect and encoding. No
    [[apim.jwt.issuer]]: nothing is verified, and a warning says where API Manager keeps it."""
    _, conf, stderr = migrate(FIXTURES / "seed-deployment.toml", "--signing-key", keys.rsa)
    assert "warning: apim.jwt.issuer: API Manager validates access tokens with the key managers" in stderr
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


def test_deployment_toml_issuer(nginx, keys, backend, idp, tmp_path):
    """[[apim.jwt.issuer]] with its JWK Set: the server that includes the file written beside the
    output verifies (the JWK Set's location in it too), the caller's Authorization is not sent on
    (enable_outbound_auth_header = false), and the backend token names the caller."""
    idp_port = free_port()
    migrate(FIXTURES / "large-deployment.toml", "--jwks-url", f"http://{HOST}:{idp_port}/certs",
            "--api-name", "Orders", "--api-version", "v1", "-o", tmp_path / "apim.conf")
    n = nginx(http=(tmp_path / "apim.conf").read_text() + idp_server(idp, idp_port), server=f"""
        include {tmp_path}/apim-verify.conf;
        location /orders/ {{
            proxy_pass BACKEND;
        }}
""")
    assert n.request("/orders/1")[0] == 401
    assert n.request("/orders/1", bearer(caller(idp, iss="https://other.example")))[0] == 401
    seen = n.seen("/orders/1", bearer(caller(idp)))
    assert headers_named(seen, "Authorization") == []
    claims = jwt.decode(only_token(seen, "X-Backend-Token"), options={"verify_signature": False}, algorithms=["none"])
    assert claims["sub"] == "alice" and claims["http://example.com/claims/enduser"] == "alice"


def test_version(nginx):
    """One version: backend-jwt-migrate --version prints it and the module reports it."""
    assert migrate("--version")[1].strip() == VERSION
    n = nginx(server="location = /v { return 200 $backend_jwt_version; }")
    code, _, body = n.request("/v")
    assert code == 200 and body.decode() == VERSION
