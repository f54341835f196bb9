"""How settings flow from http to server to location (and nested locations)."""

import pytest

from conftest import headers_named, only_token, payload_json, verify


def custom_names(token):
    return [k for k, _ in payload_json(token) if k not in ("iat", "exp", "jti")]


def test_server_settings_inherited(nginx, keys, backend):
    n = nginx(f"""
        backend_jwt on;
        backend_jwt_signing_key {keys.rsa};
        backend_jwt_header X-Token;
        backend_jwt_token_ttl 90;
        backend_jwt_issuer server-iss;
        backend_jwt_subject $arg_u;
        backend_jwt_claim level server;
        backend_jwt_claim n $arg_n type=int;

        location /implicit/ {{ proxy_pass BACKEND; }}
        location /explicit/ {{ backend_jwt on; proxy_pass BACKEND; }}
        location /outer/ {{
            backend_jwt_issuer outer-iss;
            location /outer/inner/ {{ proxy_pass BACKEND; }}
        }}
""")
    for path in ("/implicit/", "/explicit/"):
        seen = n.seen(path + "?u=ann&n=3")
        assert headers_named(seen, "X-JWT-Assertion") == []
        claims = verify(only_token(seen, "X-Token"), keys)
        assert claims["exp"] - claims["iat"] == 90
        assert (claims["iss"], claims["sub"], claims["level"], claims["n"]) == ("server-iss", "ann", "server", 3)
    claims = verify(only_token(n.seen("/outer/inner/?n=4"), "X-Token"), keys)
    assert (claims["iss"], claims["level"], claims["n"], claims["exp"] - claims["iat"]) == ("outer-iss", "server", 4, 90)


def test_http_settings_inherited(nginx, keys, backend):
    n = nginx("location / { proxy_pass BACKEND; }", http=f"""
        backend_jwt on;
        backend_jwt_signing_key {keys.rsa};
        backend_jwt_issuer http-iss;
        backend_jwt_claim level http;
""")
    claims = verify(only_token(n.seen("/")), keys)
    assert (claims["iss"], claims["level"]) == ("http-iss", "http")


def test_location_claims_replace_server_claims(nginx, keys, backend):
    n = nginx(f"""
        backend_jwt on;
        backend_jwt_signing_key {keys.rsa};
        backend_jwt_claim a server-a;
        backend_jwt_claim b server-b;

        location /own/ {{
            backend_jwt_claim c own-c;
            backend_jwt_claim a own-a type=string;
            proxy_pass BACKEND;
        }}
        location /inherit/ {{ proxy_pass BACKEND; }}
""")
    token = only_token(n.seen("/own/"))
    claims = verify(token, keys)
    assert custom_names(token) == ["c", "a"] and (claims["c"], claims["a"]) == ("own-c", "own-a")
    token = only_token(n.seen("/inherit/"))
    claims = verify(token, keys)
    assert custom_names(token) == ["a", "b"] and (claims["a"], claims["b"]) == ("server-a", "server-b")


def test_location_off_under_enabled_server(nginx, keys, backend):
    n = nginx(f"""
        backend_jwt on;
        backend_jwt_signing_key {keys.rsa};
        location /off/ {{ backend_jwt off; proxy_pass BACKEND; }}
        location /on/ {{ proxy_pass BACKEND; }}
""")
    seen = n.seen("/off/", [("X-JWT-Assertion", "client-value")])
    assert headers_named(seen, "X-JWT-Assertion") == ["client-value"]
    verify(only_token(n.seen("/on/", [("X-JWT-Assertion", "client-value")])), keys)


def test_location_changes_what_signs(nginx, keys, backend):
    # server: NONE without a key; location: RS256 with its own key, base64url, another TTL
    n = nginx(f"""
        backend_jwt on;
        backend_jwt_signing_algorithm NONE;
        backend_jwt_claim level server;
        location /none/ {{ proxy_pass BACKEND; }}
        location /signed/ {{
            backend_jwt_signing_algorithm RS256;
            backend_jwt_signing_key {keys.rsa};
            backend_jwt_token_ttl 1m;
            proxy_pass BACKEND;
        }}
""")
    assert only_token(n.seen("/none/")).endswith(".")
    claims = verify(only_token(n.seen("/signed/")), keys)
    assert claims["exp"] - claims["iat"] == 60 and claims["level"] == "server"


def test_if_block_inherits(nginx, keys, backend):
    n = nginx(f"""
        location / {{
            backend_jwt on;
            backend_jwt_signing_key {keys.rsa};
            backend_jwt_claim level location;
            if ($arg_x) {{ set $dummy 1; }}
            proxy_pass BACKEND;
        }}
""")
    assert verify(only_token(n.seen("/?x=1")), keys)["level"] == "location"


@pytest.mark.parametrize("server", [
    """
        backend_jwt_claim level server;
        set $early $backend_jwt;
        location /b/ { backend_jwt_claim level b; proxy_pass BACKEND; }
""", """
        location /a/ { backend_jwt_claim level a; set $early $backend_jwt; rewrite ^ /b/ last; }
        location /b/ { backend_jwt_claim level b; proxy_pass BACKEND; }
"""], ids=["server-set", "rewrite-last"])
def test_token_uses_the_forwarding_location(nginx, keys, backend, server):
    n = nginx(f"backend_jwt on; backend_jwt_signing_key {keys.rsa};" + server)
    path = "/a/" if "/a/" in server else "/b/"
    assert verify(only_token(n.seen(path)), keys)["level"] == "b"
