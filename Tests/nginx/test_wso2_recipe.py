"""backend_jwt_wso2_claims: what a backend written for WSO2 API Manager / APK receives."""

import base64
import re
import time

import pytest

from conftest import UUID4, assert_emerg, location, only_token, payload_json, verify

ALICE = ("Authorization", "Basic " + base64.b64encode(b"alice:secret").decode())
D = "http://wso2.org/claims/"
RECIPE = ("backend_jwt_issuer wso2.org/products/am;\n"
          "            backend_jwt_wso2_claims apiname=PizzaShackAPI version=1.0.0 "
          "apicontext=/pizzashack/1.0.0 applicationname=DefaultApplication "
          "applicationid=$arg_appid applicationtier=Unlimited tier=Gold keytype=PRODUCTION;")


def authenticated(keys, body, path="/"):
    return location(keys, f"""
            auth_basic "api";
            auth_basic_user_file {keys.htpasswd};
            {body}""", path=path)


def test_wso2_claim_set(nginx, keys, backend):
    n = nginx(authenticated(keys, RECIPE))
    token = only_token(n.seen("/menu?appid=7f3c2a", [ALICE]))
    claims = verify(token, keys)
    assert claims["iss"] == "wso2.org/products/am"
    assert type(claims["iat"]) is int and type(claims["exp"]) is int
    assert claims["exp"] - claims["iat"] == 3600 and abs(claims["iat"] - time.time()) <= 5
    assert UUID4.match(claims["jti"])
    wso2 = {k: v for k, v in claims.items() if k.startswith(D)}
    assert wso2 == {
        D + "subscriber": "alice",
        D + "applicationid": "7f3c2a",
        D + "applicationname": "DefaultApplication",
        D + "applicationtier": "Unlimited",
        D + "apiname": "PizzaShackAPI",
        D + "apicontext": "/pizzashack/1.0.0",
        D + "version": "1.0.0",
        D + "tier": "Gold",
        D + "keytype": "PRODUCTION",
        D + "usertype": "APPLICATION_USER",
        D + "enduser": "alice",
        D + "enduserTenantId": "-1234",
    }
    assert all(type(v) is str for v in wso2.values())
    # flat members, nothing else beside the registered claims, in the recipe's order
    assert [k for k, _ in payload_json(token)] == ["iss", "iat", "exp", "jti"] + list(wso2)


def test_defaults_and_empty_values(nginx, keys, backend):
    # no user and no appid: the claims made of them are left out; the rest take defaults
    n = nginx(location(keys, "backend_jwt_wso2_claims apiname=A version=v1 applicationid=$arg_appid;"))
    claims = verify(only_token(n.seen("/")), keys)
    assert {k: v for k, v in claims.items() if k.startswith(D)} == {
        D + "apiname": "A", D + "version": "v1", D + "keytype": "PRODUCTION",
        D + "usertype": "APPLICATION_USER", D + "enduserTenantId": "-1234"}
    assert "iss" not in claims


def test_every_value_may_be_overridden_and_hold_variables(nginx, keys, backend):
    n = nginx(authenticated(keys, """backend_jwt_wso2_claims
                apiName=$arg_api VERSION=2.0 keytype=SANDBOX usertype=$http_x_usertype
                subscriber=$remote_user@carbon.super enduser=$http_x_enduser
                enduserTenantId=$arg_tenant tier=$arg_tier;"""))
    token = only_token(n.seen("/?api=Orders&tenant=42&tier=Bronze",
                              [ALICE, ("X-Usertype", "APPLICATION"), ("X-Enduser", 'e"ve')]))
    claims = verify(token, keys)
    assert {k[len(D):]: v for k, v in claims.items() if k.startswith(D)} == {
        "subscriber": "alice@carbon.super", "apiname": "Orders", "version": "2.0",
        "tier": "Bronze", "keytype": "SANDBOX", "usertype": "APPLICATION", "enduser": 'e"ve',
        "enduserTenantId": "42"}
    assert type(claims[D + "enduserTenantId"]) is str


@pytest.mark.parametrize("dialect", ["http://example.com/claims", "urn:acme.claims", "x"])
def test_custom_dialect(nginx, keys, backend, dialect):
    n = nginx(location(keys, f"backend_jwt_wso2_claims dialect={dialect} apiname=A version=1;"))
    claims = verify(only_token(n.seen("/")), keys)
    assert not any(k.startswith(D) for k in claims)
    assert claims[f"{dialect}/apiname"] == "A" and claims[f"{dialect}/version"] == "1"
    assert claims[f"{dialect}/enduserTenantId"] == "-1234"


def test_recipe_with_custom_claims_and_nested_locations(nginx, keys, backend):
    n = nginx(f"""
        backend_jwt on;
        backend_jwt_signing_key {keys.rsa};
        backend_jwt_issuer wso2.org/products/am;
        backend_jwt_claim tenant acme;
        backend_jwt_wso2_claims apiname=Shop version=1;
        backend_jwt_claim {D}applicationtier Unlimited;
        location / {{ proxy_pass BACKEND; }}
        location /v2/ {{ backend_jwt_wso2_claims apiname=Shop version=2; proxy_pass BACKEND; }}
""")
    token = only_token(n.seen("/"))
    claims = verify(token, keys)
    assert (claims["tenant"], claims[D + "version"], claims[D + "applicationtier"]) == ("acme", "1", "Unlimited")
    names = [k for k, _ in payload_json(token)]
    assert names.index("tenant") < names.index(D + "apiname") < names.index(D + "applicationtier")
    claims = verify(only_token(n.seen("/v2/")), keys)  # a level's claims replace the inherited ones
    assert claims[D + "version"] == "2" and "tenant" not in claims


# ---------------------------------------------------------------- nginx -t


def assert_wso2_error(result, message):
    assert_emerg(result, f'"backend_jwt_wso2_claims" directive: {message}')


KNOWN = ("use dialect, subscriber, applicationid, applicationname, applicationtier, apiname, "
         "apicontext, version, tier, keytype, usertype, enduser, enduserTenantId")


@pytest.mark.parametrize("args, message", [
    ("version=1", "apiname= is required"),
    ("apiname=A", "version= is required"),
    ("tier=Gold", "apiname= is required"),
    ("apiname=A version=1 colour=red", f'unknown argument "colour"; {KNOWN}'),
    ("apiname=A version=1 apiname=B", '"apiname=" is given twice'),
    ("apiname=A version=1 APINAME=B", '"apiname=" is given twice'),
    ("tier=a version=1 apiname=A Tier=b", '"tier=" is given twice'),
    ("apiname=A version=1 tier", 'argument "tier" is not NAME=VALUE'),
    ("apiname=A version=1 =x", 'argument "=x" is not NAME=VALUE'),
    ("apiname=A version=1 dialect=", "dialect= needs a value"),
], ids=["no-apiname", "no-version", "neither", "unknown", "duplicate", "duplicate-case",
        "duplicate-tier", "not-name-value", "no-name", "empty-dialect"])
def test_bad_arguments(nginx_t, args, message):
    assert_wso2_error(nginx_t(f"backend_jwt_wso2_claims {args}; #HERE"), message)


def test_recipe_twice_in_one_level(nginx_t):
    result = nginx_t("backend_jwt_wso2_claims apiname=A version=1;\n"
                     "        backend_jwt_wso2_claims apiname=B version=2; #HERE")
    assert_wso2_error(result, f'claim "{D}subscriber" is declared twice')


def test_custom_claim_named_like_a_recipe_claim(nginx_t):
    result = nginx_t("backend_jwt_wso2_claims apiname=A version=1;\n"
                     f"        backend_jwt_claim {D}apiname B; #HERE")
    code, out, conf, line = result
    assert code != 0
    assert re.search(rf'^nginx: \[emerg\] "backend_jwt_claim" directive: claim "{re.escape(D)}apiname" '
                     rf"is declared twice in {re.escape(conf)}:{line}$", out, re.M), out


def test_recipe_after_a_custom_claim_of_the_same_name(nginx_t):
    result = nginx_t(f"backend_jwt_claim {D}version 0;\n"
                     "        backend_jwt_wso2_claims apiname=A version=1; #HERE")
    assert_wso2_error(result, f'claim "{D}version" is declared twice')


def test_dialect_twice(nginx_t):
    result = nginx_t("backend_jwt_wso2_claims apiname=A version=1 dialect=urn:a dialect=urn:b; #HERE")
    assert_wso2_error(result, '"dialect=" is given twice')
