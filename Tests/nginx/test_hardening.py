"""What an attacker and a new operator found (issue 9): every route out of an enabled location
drops the client's copies, a mirror gets no token it was not minted for, one request has one
token, a JWKS location never mints, `backend_jwt_header off`, if_empty=fail on iss/sub/aud, and
configurations that can never work fail `nginx -t`."""

import json
import socket
import threading

import jwt
import pytest

from conftest import HOST, assert_emerg, headers_named, only_token, verify, wait_for

SPOOF = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9."
# every spelling a backend may read as the token header (underscores_in_headers is on)
SPELLINGS = [("X-JWT-Assertion", SPOOF), ("x-jwt-assertion", SPOOF + "a"), ("X_JWT_Assertion", SPOOF + "b")]


def spellings(seen):
    return [k for k, _ in seen if k.lower().replace("_", "-") == "x-jwt-assertion"]


FALLBACK = """
        location @fb {
            proxy_pass BACKEND;
        }
        location /off/ {
            internal;
            backend_jwt off;
            proxy_pass BACKEND;
        }
        location = /auth401 {
            internal;
            return 401;
        }
"""

# id: (location /e/'s route out, the query string that takes it)
ROUTES = {
    "rewrite-last": ("rewrite ^ /off/ last;", ""),
    "deny": ("deny all; error_page 403 = @fb;", ""),
    "auth_request-401": ("auth_request /auth401; error_page 401 = @fb;", ""),
    "limit_req": ("limit_req zone=one nodelay; limit_req_status 503; error_page 503 = @fb;", ""),
    "return": ("return 418; error_page 418 = @fb;", ""),
    "if-return": ("if ($arg_x) { return 418; } error_page 418 = @fb;", "?x=1"),
    "satisfy-any": ("satisfy any; deny all; auth_request /auth401; error_page 401 403 = @fb;", ""),
    "error_page-to-off": ("return 418; error_page 418 = /off/;", ""),
}


@pytest.mark.parametrize("route", list(ROUTES))
def test_no_route_out_of_an_enabled_location_forwards_client_copies(nginx, keys, backend, route):
    """README: a fallback never forwards the client's own copies. The copies are gone before
    anything in the location (rewrite, return, if, limit_req, access, auth_request) runs."""
    body, query = ROUTES[route]
    n = nginx(f"""
        underscores_in_headers on;
        location /e/ {{
            backend_jwt on;
            backend_jwt_signing_key {keys.rsa};
            {body}
            proxy_pass BACKEND;
        }}
{FALLBACK}
""", http="    limit_req_zone $binary_remote_addr zone=one:1m rate=1r/m;")
    if route == "limit_req":
        verify(only_token(n.seen("/e/first")), keys)  # the one request the rate allows
    seen = n.seen("/e/x" + query, headers=SPELLINGS)
    assert spellings(seen) == [], seen
    assert SPOOF not in json.dumps(seen)
    assert backend.hits[-1]["path"] in ("/e/x" + query, "/off/")


def test_limit_conn_fallback_drops_client_copies(nginx, keys, backend):
    """limit_conn (preaccess) answers 503 while another request of the zone is open."""
    hang = socket.socket()
    hang.bind((HOST, 0))
    hang.listen(8)
    hang.settimeout(10)
    held = None
    try:
        n = nginx(f"""
        underscores_in_headers on;
        location /slow/ {{
            limit_conn c 1;
            proxy_read_timeout 20s;
            proxy_pass http://{HOST}:{hang.getsockname()[1]};
        }}
        location /e/ {{
            backend_jwt on;
            backend_jwt_signing_key {keys.rsa};
            limit_conn c 1;
            limit_conn_status 503;
            error_page 503 = @fb;
            proxy_pass BACKEND;
        }}
{FALLBACK}
""", http="    limit_conn_zone $server_name zone=c:1m;")
        slow = threading.Thread(target=lambda: n.request("/slow/"), daemon=True)
        slow.start()
        held, _ = hang.accept()  # the first request is at its upstream: it holds the zone
        seen = n.seen("/e/x", headers=SPELLINGS)
        assert spellings(seen) == [], seen
        assert "limiting connections" in n.log()
    finally:
        if held is not None:
            held.close()  # the first request ends (502)
        hang.close()
    slow.join(timeout=30)
    n.allowed.append(r"upstream prematurely closed|recv\(\) failed")


def test_server_level_on_covers_its_locations_routes(nginx, keys, backend):
    """`backend_jwt on` in server{}: a location that inherits it and returns to a named fallback."""
    n = nginx(f"""
        underscores_in_headers on;
        backend_jwt on;
        backend_jwt_signing_key {keys.rsa};
        location /e/ {{ return 418; error_page 418 = @fb; }}
        location @fb {{ backend_jwt off; proxy_pass BACKEND; }}
""")
    assert spellings(n.seen("/e/", headers=SPELLINGS)) == []


# ---------------------------------------------------------------- mirror


def test_mirror_gets_no_token_where_off_and_its_own_where_on(nginx, keys, backend):
    """A mirror subrequest starts with its parent's headers: the parent's token must not reach
    a mirror location with the module off; a mirror location with it on mints its own."""
    n = nginx(f"""
        underscores_in_headers on;
        location /m/ {{
            backend_jwt on;
            backend_jwt_signing_key {keys.rsa};
            backend_jwt_audience main;
            mirror /_off;
            mirror /_on;
            proxy_pass BACKEND;
        }}
        location = /_off {{ internal; proxy_pass BACKEND/mirrored-off; }}
        location = /_on {{
            internal;
            backend_jwt on;
            backend_jwt_signing_key {keys.rsa};
            backend_jwt_header X-Mirror-Token;
            backend_jwt_audience mirror;
            proxy_pass BACKEND/mirrored-on;
        }}
""")
    seen = n.seen("/m/", headers=SPELLINGS)
    main = only_token(seen)
    assert jwt.decode(main, keys.public_key, algorithms=["RS256"], audience="main")
    assert wait_for(lambda: {"/mirrored-off", "/mirrored-on"} <= {h["path"] for h in backend.hits})
    hits = {h["path"]: h["headers"] for h in backend.hits}
    assert spellings(hits["/mirrored-off"]) == [], hits["/mirrored-off"]
    assert main not in json.dumps(hits["/mirrored-off"])
    assert spellings(hits["/mirrored-on"]) == [], hits["/mirrored-on"]  # not the parent's
    own = only_token(hits["/mirrored-on"], "X-Mirror-Token")
    assert jwt.decode(own, keys.public_key, algorithms=["RS256"], audience="mirror")
    assert SPOOF not in json.dumps(hits)


# ---------------------------------------------------------------- one request, one token


def test_backend_jwt_read_before_an_if_is_the_token_forwarded(nginx, keys, backend):
    n = nginx(f"""
        location / {{
            backend_jwt on;
            backend_jwt_signing_key {keys.rsa};
            set $early $backend_jwt;
            if ($arg_x) {{ set $f 1; }}
            proxy_set_header X-Early $early;
            proxy_pass BACKEND;
        }}
""")
    seen = n.seen("/?x=1")
    token = only_token(seen)
    assert headers_named(seen, "X-Early") == [token]
    verify(token, keys)


# ---------------------------------------------------------------- JWKS locations


@pytest.mark.parametrize("enforce", [False, True])
def test_jwks_location_never_mints(nginx, keys, backend, enforce):
    """Under a level that mints (and enforces, where the location could not turn it off)."""
    level = f"""
        backend_jwt on;
        backend_jwt_signing_key {keys.rsa};
        backend_jwt_claim need $http_x_need if_empty=fail;
"""
    n = nginx(("" if enforce else level) + """
        location = /jwks { backend_jwt_jwks; }
        location / { proxy_pass BACKEND; }
""", http=("backend_jwt_enforce on;" + level) if enforce else "")
    code, _, body = n.request("/jwks")
    assert code == 200, body
    assert json.loads(body)["keys"][0]["kid"]
    assert "no token" not in n.log()
    code, _, _ = n.request("/")  # the claim still fails where the module mints
    assert code == 500


def test_jwks_location_with_backend_jwt_on_is_refused(nginx_t, keys):
    assert_emerg(nginx_t(f"""
        backend_jwt_signing_key {keys.rsa};
        location = /jwks {{
            backend_jwt_jwks;
            backend_jwt on; #HERE
        }}
"""), '"backend_jwt on" in a location that serves the JWK Set (backend_jwt_jwks): it never mints a token, '
      "remove it")


@pytest.mark.parametrize("order, message", [
    ("jwks-first", '"backend_jwt_jwks" cannot share'),  # found when the level is merged
    ("proxy-first", '"backend_jwt_jwks" directive cannot share'),
])
def test_jwks_with_another_content_handler_is_refused(nginx_t, order, message):
    lines = ["backend_jwt_jwks; #HERE", "proxy_pass BACKEND;"]
    if order == "proxy-first":
        lines.reverse()
    assert_emerg(nginx_t(f"""
        location = /jwks {{
            {lines[0]}
            {lines[1]}
        }}
"""), f"{message} a location with another content handler (proxy_pass, fastcgi_pass, ...)")


# ---------------------------------------------------------------- backend_jwt_header off


def test_header_off_sends_no_header_and_fills_the_variable(nginx, keys, backend):
    n = nginx(f"""
        location / {{
            backend_jwt on;
            backend_jwt_signing_key {keys.rsa};
            backend_jwt_header off;
            proxy_set_header Authorization "Bearer $backend_jwt";
            proxy_pass BACKEND;
        }}
""")
    seen = n.seen("/")
    assert [k for k, _ in seen if k.lower() == "off"] == []
    assert headers_named(seen, "X-JWT-Assertion") == []
    (auth,) = headers_named(seen, "Authorization")
    assert auth.startswith("Bearer ")
    verify(auth[len("Bearer "):], keys)


# ---------------------------------------------------------------- if_empty on iss, sub, aud


@pytest.mark.parametrize("directive, claim", [
    ("backend_jwt_subject $http_x_user if_empty=fail;", "sub"),
    ("backend_jwt_issuer $http_x_user if_empty=fail;", "iss"),
    ("backend_jwt_audience $http_x_user $http_x_none if_empty=fail;", "aud"),
])
def test_registered_claim_if_empty_fail(nginx, keys, backend, directive, claim):
    n = nginx(f"""
        location / {{
            backend_jwt on;
            backend_jwt_signing_key {keys.rsa};
            {directive}
            proxy_pass BACKEND;
        }}
""")
    code, _, _ = n.request("/")
    assert code == 500
    assert backend.hits == []
    assert "if_empty=fail" in n.log()
    token = only_token(n.seen("/", headers=[("X-User", "alice")]))
    claims = jwt.decode(token, keys.public_key, algorithms=["RS256"], options={"verify_aud": False})
    assert claims[claim] == "alice"


def test_registered_claim_if_empty_default_omits(nginx, keys, backend):
    n = nginx(location_with(keys, "backend_jwt_subject $http_x_user if_empty=omit;"))
    assert "sub" not in verify(only_token(n.seen("/")), keys)


def test_registered_claim_if_empty_is_inherited_with_its_value(nginx, keys, backend):
    n = nginx(f"""
        backend_jwt_subject $http_x_user if_empty=fail;
        location / {{
            backend_jwt on;
            backend_jwt_signing_key {keys.rsa};
            proxy_pass BACKEND;
        }}
        location /own/ {{
            backend_jwt on;
            backend_jwt_signing_key {keys.rsa};
            backend_jwt_subject $http_x_user;
            proxy_pass BACKEND;
        }}
""")
    assert n.request("/")[0] == 500
    assert "sub" not in verify(only_token(n.seen("/own/")), keys)


@pytest.mark.parametrize("value", ["null", "empty", "maybe"])
def test_registered_claim_if_empty_values(nginx_t, keys, value):
    assert_emerg(nginx_t(f"backend_jwt_subject $remote_user if_empty={value}; #HERE"),
                 f'"backend_jwt_subject" directive: invalid option "if_empty={value}"; use if_empty=omit or '
                 "if_empty=fail (null and empty are not valid values of iss, sub and aud)")


def location_with(keys, body):
    return f"""
        location / {{
            backend_jwt on;
            backend_jwt_signing_key {keys.rsa};
            {body}
            proxy_pass BACKEND;
        }}
"""


# ---------------------------------------------------------------- configurations that never work


@pytest.mark.parametrize("claim, message", [
    ("a abc type=int", 'claim "a": value "abc" is not an int'),
    ('a "{" type=json', 'claim "a": value "{" is not JSON'),
    ("a 2.5.1 type=float", 'claim "a": value "2.5.1" is not a float'),
    ("a maybe type=bool", 'claim "a": value "maybe" is not a bool'),
    ('a "" if_empty=fail', 'claim "a" is always empty and has if_empty=fail: every request would fail'),
])
def test_constant_claim_that_never_converts(nginx_t, keys, claim, message):
    code, out, conf, line = nginx_t(f"backend_jwt_claim {claim}; #HERE")
    assert code != 0, out
    assert f'"backend_jwt_claim" directive: {message}' in out
    assert f"in {conf}:{line}" in out


def test_constant_claims_that_convert_pass(nginx_t, keys):
    code, out, _, _ = nginx_t("""
        backend_jwt_claim a 12 type=int;
        backend_jwt_claim b "{\\"x\\":1}" type=json;
        backend_jwt_claim c true type=bool;
        backend_jwt_claim d "" if_empty=omit;
        backend_jwt_claim e $arg_e type=int;
""")
    assert code == 0, out


def test_max_size_zero(nginx_t):
    assert_emerg(nginx_t("backend_jwt_max_size 0; #HERE"),
                 '"backend_jwt_max_size" directive must be more than 0 (it is the longest token sent)')


def test_max_size_below_the_shortest_token(nginx_t, keys):
    code, out, conf, line = nginx_t(f"""
        backend_jwt_max_size 300; #HERE
        {location_with(keys, "")}
""")
    assert code != 0, out
    assert "backend_jwt: backend_jwt_max_size 300 is less than the shortest token this location makes (" in out
    assert f"in {conf}:{line}" in out


def test_max_size_at_the_shortest_token_is_accepted(nginx, nginx_t, keys, backend):
    """The shortest token: no issuer, subject, audience or claims; exactly that size fits."""
    n = nginx(location_with(keys, "backend_jwt_jti off;"))
    size = len(only_token(n.seen("/")))
    code, out, _, _ = nginx_t(location_with(keys, f"backend_jwt_jti off; backend_jwt_max_size {size};"))
    assert code == 0, out
    code, out, _, _ = nginx_t(location_with(keys, f"backend_jwt_jti off; backend_jwt_max_size {size - 1};"))
    assert code != 0 and "shortest token" in out, out


# ---------------------------------------------------------------- enforce cannot be undone


@pytest.mark.parametrize("module, directive", [
    ("proxy", "proxy_pass_request_headers off;"),
    ("fastcgi", "fastcgi_pass_request_headers off;"),
])
def test_enforce_refuses_pass_request_headers_off(nginx_t, keys, module, directive):
    code, out, conf, line = nginx_t(f"""
        backend_jwt_enforce on; #HERE
        backend_jwt on;
        backend_jwt_signing_key {keys.rsa};
        location /api/ {{
            {directive}
            proxy_pass BACKEND;
        }}
""")
    assert code != 0, out
    assert (f'backend_jwt: "{module}_pass_request_headers off" in location "/api/" would not send the token '
            f'that "backend_jwt_enforce on" requires in {conf}:{line}') in out


def test_pass_request_headers_off_without_enforce_is_the_operators_choice(nginx_t, keys):
    code, out, _, _ = nginx_t(location_with(keys, "proxy_pass_request_headers off;"))
    assert code == 0, out
