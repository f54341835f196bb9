"""The token itself: the README configuration, algorithms, encodings, TTLs and key forms."""

import base64
import json
import os
import time

import jwt
import pytest

from conftest import (b64std_decode, location, only_token, payload_json, thumbprint, verify,
                      verify_signature)

ALICE = ("Authorization", "Basic " + base64.b64encode(b"alice:secret").decode())


def readme_server(keys):
    return f"""
        location /api/ {{
            auth_basic "api";
            auth_basic_user_file {keys.htpasswd};

            backend_jwt on;
            backend_jwt_signing_key {keys.rsa};
            backend_jwt_signing_algorithm SHA256withRSA;
            backend_jwt_encoding base64url;
            backend_jwt_header X-JWT-Assertion;
            backend_jwt_token_ttl 3600;
            backend_jwt_issuer https://gateway.example.com;
            backend_jwt_subject $remote_user;
            backend_jwt_claim admin true type=bool;
            backend_jwt_claim tenant $http_x_tenant;
            backend_jwt_claim age $arg_age type=int;

            proxy_pass BACKEND;
        }}
"""


def test_readme_example(nginx, keys, backend):
    n = nginx(readme_server(keys))
    seen = n.seen("/api/orders?age=42", [ALICE, ("X-Tenant", "acme")])
    token = only_token(seen)
    claims = verify(token, keys)

    assert claims["iss"] == "https://gateway.example.com"
    assert claims["sub"] == "alice"
    assert claims["admin"] is True
    assert claims["tenant"] == "acme"
    assert claims["age"] == 42 and type(claims["age"]) is int
    assert claims["exp"] - claims["iat"] == 3600
    assert abs(claims["iat"] - time.time()) <= 5
    assert [k for k, _ in payload_json(token)] == [
        "iss", "sub", "iat", "exp", "jti", "admin", "tenant", "age"]

    again = verify(only_token(n.seen("/api/orders?age=42", [ALICE, ("X-Tenant", "acme")])), keys)
    assert again["jti"] != claims["jti"]
    assert len(backend.hits) == 2


def test_readme_example_unauthenticated_request_is_not_forwarded(nginx, keys, backend):
    n = nginx(readme_server(keys))
    code, _, _ = n.request("/api/orders")
    assert code == 401
    assert backend.hits == []


def test_pkcs1_key(nginx, keys, backend):
    n = nginx(location(keys).replace(keys.rsa, keys.rsa_pkcs1))
    verify(only_token(n.seen("/")), keys)


def test_algorithm_names_are_case_insensitive(nginx, keys, backend):
    n = nginx(location(keys, "backend_jwt_signing_algorithm rs256;", "/a/")
              + location(keys, "backend_jwt_signing_algorithm sha256WITHrsa;", "/b/"))
    verify(only_token(n.seen("/a/")), keys)
    verify(only_token(n.seen("/b/")), keys)


def test_key_path_relative_to_conf_dir(nginx, keys, backend):
    n = nginx()  # to learn the prefix (the conf dir), then restart with a relative path
    relative = os.path.relpath(keys.rsa, n.prefix)
    assert not relative.startswith("/")
    n.stop()
    n.start(location(keys).replace(keys.rsa, relative))
    verify(only_token(n.seen("/")), keys)


def test_root_only_key_while_workers_run_as_nobody(nginx, keys, backend):
    st = os.stat(keys.rsa)
    assert st.st_mode & 0o777 == 0o600
    n = nginx(location(keys))
    if os.geteuid() == 0:
        assert st.st_uid == 0
        users = {user for user, _ in n.workers()}
        assert users == {"nobody"}, users
    verify(only_token(n.seen("/")), keys)


def test_algorithm_none(nginx, keys, backend):
    n = nginx("""
        location / {
            backend_jwt on;
            backend_jwt_signing_algorithm NONE;
            backend_jwt_issuer me;
            proxy_pass BACKEND;
        }
""")
    token = only_token(n.seen("/"))
    assert token.endswith(".") and token.count(".") == 2
    assert jwt.get_unverified_header(token) == {"alg": "none", "typ": "JWT"}
    claims = jwt.decode(token, algorithms=["none"], options={"verify_signature": False})
    assert claims["iss"] == "me" and claims["exp"] - claims["iat"] == 3600
    with pytest.raises(jwt.InvalidTokenError):  # and it does not pass as RS256
        jwt.decode(token, keys.public_key, algorithms=["RS256"])


def test_encoding_base64_standard_alphabet_without_padding(nginx, keys, backend):
    n = nginx(location(keys, "backend_jwt_encoding Base64; backend_jwt_claim v $arg_v;"))
    alphabet = set()
    for i in range(20):
        # '?' (0x3f) and '>' (0x3e) in the payload give '/' and '+' at some alignments
        value = "??>>" * (i % 4 + 1) + str(i)
        token = only_token(n.seen(f"/?v={value}"))
        header, payload, signature = token.split(".")
        assert json.loads(b64std_decode(header)) == {
            "alg": "RS256", "typ": "JWT", "kid": thumbprint(keys.public_key)}
        claims = json.loads(b64std_decode(payload))
        assert claims["v"] == value and claims["exp"] - claims["iat"] == 3600
        verify_signature(f"{header}.{payload}".encode(), b64std_decode(signature), keys)
        alphabet |= set(token)
        if {"+", "/"} <= set(payload) and {"+", "/"} <= alphabet:
            break
    assert {"+", "/"} <= alphabet, "no run produced both '+' and '/'"
    assert not alphabet & {"-", "_", "="}


def test_encoding_base64url_is_default(nginx, keys, backend):
    n = nginx(location(keys, "backend_jwt_claim v $arg_v;"))
    token = only_token(n.seen("/?v=??>>??>>"))
    assert not set(token) & {"+", "/", "="}
    assert verify(token, keys)["v"] == "??>>??>>"


@pytest.mark.parametrize("ttl, seconds", [
    ("90s", 90), ('"1h 30m"', 5400), ("600", 600), ("1h30m", 5400), ("1d", 86400)])
def test_ttl_forms(nginx, keys, backend, ttl, seconds):
    n = nginx(location(keys, f"backend_jwt_token_ttl {ttl};"))
    claims = verify(only_token(n.seen("/")), keys)
    assert claims["exp"] - claims["iat"] == seconds
