"""Registered claims beside iss/sub/iat/exp: aud (backend_jwt_audience), nbf
(backend_jwt_not_before), jti (backend_jwt_jti), and the order of the payload's members."""

import time

import jwt
import pytest

from conftest import UUID4, location, only_token, payload_json, thumbprint


def decode(token, keys, audience=None):
    """Verifies an RS256 token with the session key (aud and nbf checked by PyJWT); returns
    its claims. Unlike conftest.verify, it needs no jti."""
    claims = jwt.decode(token, keys.public_key, algorithms=["RS256"], audience=audience,
                        options={"require": ["iat", "exp"]})
    assert jwt.get_unverified_header(token) == {
        "alg": "RS256", "typ": "JWT", "kid": thumbprint(keys.public_key)}
    return claims


def names(token):
    return [k for k, _ in payload_json(token)]


# ---------------------------------------------------------------- aud


def test_one_audience_is_a_string(nginx, keys, backend):
    n = nginx(location(keys, "backend_jwt_audience https://api.example.com;"))
    token = only_token(n.seen("/"))
    assert decode(token, keys, audience="https://api.example.com")["aud"] == "https://api.example.com"
    assert dict(payload_json(token))["aud"] == "https://api.example.com"  # not ["..."]


def test_two_audiences_are_an_array(nginx, keys, backend):
    n = nginx(location(keys, "backend_jwt_audience orders $arg_aud;"))
    token = only_token(n.seen("/?aud=billing"))
    assert decode(token, keys, audience="billing")["aud"] == ["orders", "billing"]
    assert decode(token, keys, audience="orders")["aud"] == ["orders", "billing"]
    with pytest.raises(jwt.InvalidAudienceError):
        decode(token, keys, audience="other")


def test_empty_audience_values_are_dropped(nginx, keys, backend):
    n = nginx(location(keys, "backend_jwt_audience $arg_a $arg_b $arg_c;"))
    cases = {"/?a=x&b=y&c=z": ["x", "y", "z"], "/?a=x&c=z": ["x", "z"],
             "/?b=only": "only", "/?c=last": "last"}
    for path, expected in cases.items():
        token = only_token(n.seen(path))
        first = expected if isinstance(expected, str) else expected[0]
        assert decode(token, keys, audience=first)["aud"] == expected, path
    token = only_token(n.seen("/"))  # every value empty: no aud at all
    assert "aud" not in decode(token, keys)
    assert names(token) == ["iat", "exp", "jti"]


def test_audience_values_are_json_escaped(nginx, keys, backend):
    n = nginx(location(keys, "backend_jwt_audience $http_x_aud plain;"))
    attack = 'x","admin":true,"y":"'
    token = only_token(n.seen("/", [("X-Aud", attack)]))
    claims = decode(token, keys, audience="plain")
    assert claims["aud"] == [attack, "plain"] and "admin" not in claims


def test_audience_inherited_and_replaced(nginx, keys, backend):
    n = nginx(f"""
        backend_jwt on;
        backend_jwt_signing_key {keys.rsa};
        backend_jwt_audience server-a server-b;
        location /inherit/ {{ proxy_pass BACKEND; }}
        location /own/ {{ backend_jwt_audience own; proxy_pass BACKEND; }}
""")
    assert decode(only_token(n.seen("/inherit/")), keys, audience="server-a")["aud"] == [
        "server-a", "server-b"]
    assert decode(only_token(n.seen("/own/")), keys, audience="own")["aud"] == "own"


# ---------------------------------------------------------------- nbf


@pytest.mark.parametrize("setting, leeway", [
    ("on", 0), ("30s", 30), ("45", 45), ("2m", 120), ('"1h 30m"', 5400)])
def test_not_before(nginx, keys, backend, setting, leeway):
    n = nginx(location(keys, f"backend_jwt_not_before {setting};"))
    token = only_token(n.seen("/"))
    claims = decode(token, keys)
    assert claims["nbf"] == claims["iat"] - leeway
    assert type(claims["nbf"]) is int
    assert abs(claims["iat"] - time.time()) <= 5


def test_not_before_default_and_off(nginx, keys, backend):
    n = nginx(location(keys, "", path="/default/") + location(
        keys, "backend_jwt_not_before off;", path="/off/"))
    for path in ("/default/", "/off/"):
        token = only_token(n.seen(path))
        assert "nbf" not in decode(token, keys), path
        assert names(token) == ["iat", "exp", "jti"]


def test_not_before_inherited(nginx, keys, backend):
    n = nginx(f"""
        backend_jwt_not_before 10s;
        {location(keys, "", path="/inherited/")}
        {location(keys, "backend_jwt_not_before on;", path="/on/")}
""")
    claims = decode(only_token(n.seen("/inherited/")), keys)
    assert claims["nbf"] == claims["iat"] - 10
    claims = decode(only_token(n.seen("/on/")), keys)
    assert claims["nbf"] == claims["iat"]


# `off` is stored as -1, which is NGX_CONF_UNSET: the level inherits the enclosing setting
def test_not_before_off_overrides_inherited(nginx, keys, backend):
    n = nginx(f"""
        backend_jwt_not_before 10s;
        {location(keys, "backend_jwt_not_before off;", path="/off/")}
""")
    assert "nbf" not in decode(only_token(n.seen("/off/")), keys)


def test_not_before_leeway_may_exceed_ttl(nginx, keys, backend):
    n = nginx(location(keys, "backend_jwt_token_ttl 60; backend_jwt_not_before 1h;"))
    claims = decode(only_token(n.seen("/")), keys)
    assert (claims["exp"] - claims["iat"], claims["iat"] - claims["nbf"]) == (60, 3600)


# ---------------------------------------------------------------- jti


def test_jti_off(nginx, keys, backend):
    n = nginx(location(keys, "backend_jwt_jti off;"))
    token = only_token(n.seen("/"))
    assert "jti" not in decode(token, keys)
    assert names(token) == ["iat", "exp"]


def test_jti_on_is_a_fresh_uuid4(nginx, keys, backend):
    n = nginx(location(keys, "backend_jwt_jti on;"))
    seen = [decode(only_token(n.seen("/")), keys)["jti"] for _ in range(5)]
    assert all(UUID4.match(j) for j in seen), seen
    assert len(set(seen)) == 5


def test_jti_off_inherited_and_turned_back_on(nginx, keys, backend):
    n = nginx(f"""
        backend_jwt on;
        backend_jwt_signing_key {keys.rsa};
        backend_jwt_jti off;
        location /inherited/ {{ proxy_pass BACKEND; }}
        location /on/ {{ backend_jwt_jti on; proxy_pass BACKEND; }}
""")
    assert "jti" not in decode(only_token(n.seen("/inherited/")), keys)
    assert UUID4.match(decode(only_token(n.seen("/on/")), keys)["jti"])


# ---------------------------------------------------------------- order


def test_payload_order(nginx, keys, backend):
    # declared in another order than the payload's
    n = nginx(location(keys, """
            backend_jwt_claim first 1 type=int;
            backend_jwt_jti on;
            backend_jwt_not_before 5s;
            backend_jwt_audience a b;
            backend_jwt_subject bob;
            backend_jwt_issuer me;
            backend_jwt_claim last z;
        """))
    token = only_token(n.seen("/"))
    claims = decode(token, keys, audience="a")
    assert names(token) == ["iss", "sub", "aud", "iat", "nbf", "exp", "jti", "first", "last"]
    assert (claims["iss"], claims["sub"], claims["aud"], claims["first"], claims["last"]) == (
        "me", "bob", ["a", "b"], 1, "z")


def test_payload_order_without_jti_with_claims(nginx, keys, backend):
    n = nginx(location(keys, """
            backend_jwt_jti off;
            backend_jwt_not_before on;
            backend_jwt_audience $arg_a;
            backend_jwt_claim c x;
        """))
    token = only_token(n.seen("/?a=one"))
    decode(token, keys, audience="one")
    assert names(token) == ["aud", "iat", "nbf", "exp", "c"]
