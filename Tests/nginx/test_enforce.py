"""backend_jwt_enforce: a level's settings hold for every level below it; those may only add
claims. Lines are marked in the configuration: `#ENFORCE` at the enforcing directive, `#HERE`
at the one nginx -t must report."""

import http.client
import json
from pathlib import Path

import pytest

from conftest import HOST, free_port, headers_named, only_token, payload_json, verify


def base(keys, extra=""):
    """Settings for an enforcing level (the directive itself is left to the caller)."""
    return f"""
        backend_jwt on;
        backend_jwt_signing_key {keys.rsa};
        backend_jwt_issuer gateway;
        backend_jwt_claim tenant acme;
        {extra}"""


def custom(token):
    return [k for k, _ in payload_json(token) if k not in ("iss", "iat", "exp", "jti")]


def marked(conf, mark):
    lines = [i for i, line in enumerate(Path(conf).read_text().splitlines(), 1) if mark in line]
    assert len(lines) == 1, (mark, lines)
    return lines[0]


def assert_locked(result, directive):
    code, out, conf, line = result
    assert code != 0, out
    expected = (f'nginx: [emerg] "{directive}" cannot be set here: "backend_jwt_enforce on" in '
                f"{conf}:{marked(conf, '#ENFORCE')} keeps the enclosing level's settings (only claims "
                f"can be added) in {conf}:{line}")
    assert expected in out.splitlines(), f"{expected!r} not in:\n{out}"


def assert_merge_emerg(result, message):
    code, out, conf, line = result
    assert code != 0, out
    expected = f"nginx: [emerg] backend_jwt: {message} in {conf}:{line}"
    assert expected in out.splitlines(), f"{expected!r} not in:\n{out}"


def get(port, path):
    """GET on another server of the same nginx; the headers the backend received."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200, body
        return json.loads(body)["headers"]
    finally:
        conn.close()


# ---------------------------------------------------------------- at http level


def test_http_enforce_locations_add_claims_after_the_enforced_ones(nginx, keys, backend):
    n = nginx("""
        backend_jwt_claim srv server;
        location /a/ {
            backend_jwt_claim route a;
            backend_jwt_claim user.name $arg_u;
            proxy_pass BACKEND;
        }
        location /b/ { proxy_pass BACKEND; }
        location /wso2/ { backend_jwt_wso2_claims apiname=A version=1; proxy_pass BACKEND; }
""", http="backend_jwt_enforce on;" + base(keys, "backend_jwt_claim user.id 7 type=int;"))
    token = only_token(n.seen("/a/?u=ann"))
    claims = verify(token, keys)
    assert claims["iss"] == "gateway"
    assert (claims["tenant"], claims["srv"], claims["route"]) == ("acme", "server", "a")
    assert claims["user"] == {"id": 7, "name": "ann"}  # one parent for enforced and added members
    assert custom(token) == ["tenant", "user", "srv", "route"]
    token = only_token(n.seen("/b/"))
    assert verify(token, keys)["srv"] == "server" and custom(token) == ["tenant", "user", "srv"]
    claims = verify(only_token(n.seen("/wso2/")), keys)
    assert (claims["tenant"], claims["http://wso2.org/claims/apiname"]) == ("acme", "A")


def test_enforced_settings_in_locations_of_a_server_that_sets_nothing(nginx, keys, backend):
    n = nginx("""
        location / { proxy_pass BACKEND; }
        location /add/ { backend_jwt_claim route r; proxy_pass BACKEND; }""",
              http="backend_jwt_enforce on;" + base(keys, "backend_jwt_header X-Token;"))
    seen = n.seen("/", [("X-Token", "forged")])
    token = only_token(seen, "X-Token")
    assert verify(token, keys)["tenant"] == "acme" and custom(token) == ["tenant"]
    assert headers_named(seen, "X-JWT-Assertion") == []
    token = only_token(n.seen("/add/"), "X-Token")
    assert verify(token, keys)["route"] == "r" and custom(token) == ["tenant", "route"]


def test_jwks_location_under_enforce(nginx, keys, backend):
    # backend_jwt_jwks is no token setting: a location may still serve the key set
    n = nginx("location /jwks { backend_jwt_jwks; }",
              http="backend_jwt_enforce on;" + base(keys))
    code, _, body = n.request("/jwks")
    assert code == 200 and len(json.loads(body)["keys"]) == 1


def test_enforce_off_stays_as_unset(nginx, keys, backend):
    n = nginx("""
        location / {
            backend_jwt_issuer own;
            backend_jwt_claim tenant own;
            proxy_pass BACKEND;
        }""", http="backend_jwt_enforce off;" + base(keys))
    claims = verify(only_token(n.seen("/")), keys)
    assert (claims["iss"], claims["tenant"]) == ("own", "own")  # replaced, as without enforce


@pytest.mark.parametrize("body, directive", [
    ("backend_jwt_issuer other; #HERE", "backend_jwt_issuer"),
    ("backend_jwt_claim x y;\n        backend_jwt_signing_algorithm RS512; #HERE",
     "backend_jwt_signing_algorithm"),
    ("backend_jwt_enforce off; #HERE", "backend_jwt_enforce"),
    ("backend_jwt on; #HERE", "backend_jwt"),  # even the value already in force
], ids=["issuer", "after-a-claim", "enforce-off", "same-value"])
def test_http_enforce_locks_the_server_level(nginx_t, keys, body, directive):
    result = nginx_t(f"""
        {body}
        location / {{ proxy_pass BACKEND; }}""", http="backend_jwt_enforce on; #ENFORCE" + base(keys))
    assert_locked(result, directive)


def lower_directives(keys):
    return {
        "backend_jwt": "backend_jwt off;",
        "backend_jwt_signing_key": f"backend_jwt_signing_key {keys.rsa2};",
        "backend_jwt_signing_secret": f"backend_jwt_signing_secret {keys.secret};",
        "backend_jwt_signing_algorithm": "backend_jwt_signing_algorithm PS256;",
        "backend_jwt_certificate": f"backend_jwt_certificate {keys.cert};",
        "backend_jwt_key_id": "backend_jwt_key_id k1;",
        "backend_jwt_encoding": "backend_jwt_encoding base64;",
        "backend_jwt_header": "backend_jwt_header X-Other;",
        "backend_jwt_token_ttl": "backend_jwt_token_ttl 1d;",
        "backend_jwt_issuer": "backend_jwt_issuer me;",
        "backend_jwt_subject": "backend_jwt_subject $remote_user;",
        "backend_jwt_audience": "backend_jwt_audience api;",
        "backend_jwt_not_before": "backend_jwt_not_before on;",
        "backend_jwt_jti": "backend_jwt_jti on;",
    }


LOWER = ["backend_jwt", "backend_jwt_signing_key", "backend_jwt_signing_secret",
         "backend_jwt_signing_algorithm", "backend_jwt_certificate", "backend_jwt_key_id",
         "backend_jwt_encoding", "backend_jwt_header", "backend_jwt_token_ttl",
         "backend_jwt_issuer", "backend_jwt_subject", "backend_jwt_audience",
         "backend_jwt_not_before", "backend_jwt_jti"]


@pytest.mark.parametrize("directive", LOWER)
def test_location_cannot_set_an_enforced_directive(nginx_t, keys, directive):
    result = nginx_t(f"""
        location / {{
            backend_jwt_claim extra 1;
            {lower_directives(keys)[directive]} #HERE
            proxy_pass BACKEND;
        }}""", http="backend_jwt_enforce on; #ENFORCE" + base(keys))
    assert_locked(result, directive)


def test_every_lower_directive_is_covered(keys):
    assert sorted(LOWER) == sorted(lower_directives(keys))


def test_location_that_would_turn_signing_on_under_enforced_off(nginx_t, keys):
    result = nginx_t(f"""
        location / {{
            backend_jwt on; #HERE
            backend_jwt_signing_key {keys.rsa};
            proxy_pass BACKEND;
        }}""", http="backend_jwt_enforce on; #ENFORCE\n    backend_jwt off;")
    assert_locked(result, "backend_jwt")


def test_enforce_is_not_allowed_in_a_location(nginx_t, keys):
    code, out, conf, line = nginx_t("""
        location / {
            backend_jwt_enforce on; #HERE
            proxy_pass BACKEND;
        }""")
    assert code != 0
    assert (f'nginx: [emerg] "backend_jwt_enforce" directive is not allowed here in {conf}:{line}'
            in out.splitlines()), out


# ---------------------------------------------------------------- enforced claims


@pytest.mark.parametrize("enforced, lower, message", [
    ("tenant acme", "tenant other", 'claim "tenant" is declared twice'),
    ("user.id 1", "user.id 2", 'claim "user.id" is declared twice'),
    ("a x", "a.b y", 'claim "a.b" conflicts with claim "a"'),
    ("a.b x", "a y", 'claim "a" conflicts with claim "a.b"'),
    ("http://wso2.org/claims/apiname x", None, 'claim "http://wso2.org/claims/apiname" is declared twice'),
], ids=["same", "same-nested", "child-of-enforced", "parent-of-enforced", "wso2"])
def test_lower_claim_colliding_with_an_enforced_one(nginx_t, keys, enforced, lower, message):
    declaration = (f"backend_jwt_claim {lower};" if lower
                   else "backend_jwt_wso2_claims apiname=A version=1;")
    result = nginx_t(f"""
        location / {{
            backend_jwt_claim fine 1;
            {declaration} #HERE
            proxy_pass BACKEND;
        }}""", http=f"""
        backend_jwt_enforce on;
        backend_jwt on;
        backend_jwt_signing_key {keys.rsa};
        backend_jwt_claim {enforced};""")
    assert_merge_emerg(result, message + ", which backend_jwt_enforce keeps")


def test_claim_collision_with_an_enforced_claim_of_a_server(nginx_t, keys):
    # the server adds `route` under the http level's enforce: below it, `route` is kept too
    result = nginx_t("""
        backend_jwt_claim route s;
        location / {
            backend_jwt_claim route l; #HERE
            proxy_pass BACKEND;
        }""", http="backend_jwt_enforce on;" + base(keys))
    assert_merge_emerg(result, 'claim "route" is declared twice, which backend_jwt_enforce keeps')


# ---------------------------------------------------------------- at server level


def test_server_enforce_leaves_other_servers_alone(nginx, keys, backend):
    other = free_port()
    n = nginx(f"""
        backend_jwt_enforce on;
        {base(keys)}
        location / {{ backend_jwt_claim route enforced; proxy_pass BACKEND; }}
""", http=f"""
    backend_jwt_claim tenant http;
    server {{
        listen {HOST}:{other};
        backend_jwt_claim srv free;
        location / {{
            backend_jwt on;
            backend_jwt_signing_key {keys.rsa};
            backend_jwt_issuer own;
            backend_jwt_claim route free;
            proxy_pass BACKEND;
        }}
        location /off/ {{ backend_jwt off; proxy_pass BACKEND; }}
    }}""")
    token = only_token(n.seen("/"))
    claims = verify(token, keys)
    assert (claims["iss"], claims["tenant"], claims["route"]) == ("gateway", "acme", "enforced")
    assert custom(token) == ["tenant", "route"]
    token = only_token(get(other, "/"))
    claims = verify(token, keys)  # without enforce a level's claims replace the inherited ones
    assert claims["iss"] == "own" and custom(token) == ["route"] and claims["route"] == "free"
    assert headers_named(get(other, "/off/"), "X-JWT-Assertion") == []


def test_server_enforce_inherits_from_http(nginx_t, keys):
    # what the http level sets is inherited into the enforcing server, so it is kept too
    result = nginx_t("""
        backend_jwt_enforce on; #ENFORCE
        location / {
            backend_jwt_token_ttl 60; #HERE
            proxy_pass BACKEND;
        }""", http=base(keys, "backend_jwt_token_ttl 600;"))
    assert_locked(result, "backend_jwt_token_ttl")


def test_server_enforce_keeps_claims_inherited_from_http(nginx, keys, backend):
    n = nginx("""
        backend_jwt_enforce on;
        location / { backend_jwt_claim route r; proxy_pass BACKEND; }
""", http=base(keys))
    token = only_token(n.seen("/"))
    verify(token, keys)
    assert custom(token) == ["tenant", "route"]


def test_other_server_is_not_locked(nginx_t, keys):
    code, out, _, _ = nginx_t(f"""
        backend_jwt_enforce on;
        {base(keys)}
        location / {{ proxy_pass BACKEND; }}
""", http=f"""
    server {{
        listen {HOST}:{free_port()};
        location / {{
            backend_jwt on;
            backend_jwt_signing_key {keys.ec};
            backend_jwt_signing_algorithm ES256;
            backend_jwt_header X-Other;
            backend_jwt_claim tenant other;
            proxy_pass BACKEND;
        }}
    }}""")
    assert code == 0, out


# ---------------------------------------------------------------- nested locations


def test_nested_locations_under_an_enforcing_server(nginx, keys, backend):
    n = nginx(f"""
        backend_jwt_enforce on;
        {base(keys)}
        location /outer/ {{
            backend_jwt_claim outer o;
            location /outer/inner/ {{
                backend_jwt_claim inner i;
                proxy_pass BACKEND;
            }}
            location /outer/plain/ {{ proxy_pass BACKEND; }}
            proxy_pass BACKEND;
        }}
""")
    expected = {"/outer/": ["tenant", "outer"], "/outer/plain/": ["tenant", "outer"],
                "/outer/inner/": ["tenant", "outer", "inner"]}
    for path, names in expected.items():
        token = only_token(n.seen(path))
        assert verify(token, keys)["iss"] == "gateway"
        assert custom(token) == names, path


def test_nested_location_cannot_set_a_directive(nginx_t, keys):
    result = nginx_t(f"""
        backend_jwt_enforce on; #ENFORCE
        {base(keys)}
        location /outer/ {{
            backend_jwt_claim outer o;
            location /outer/inner/ {{
                backend_jwt_header X-Inner; #HERE
                proxy_pass BACKEND;
            }}
        }}""")
    assert_locked(result, "backend_jwt_header")


def test_nested_location_claim_colliding_with_its_parents(nginx_t, keys):
    result = nginx_t(f"""
        backend_jwt_enforce on;
        {base(keys)}
        location /outer/ {{
            backend_jwt_claim outer o;
            location /outer/inner/ {{
                backend_jwt_claim outer.x i; #HERE
                proxy_pass BACKEND;
            }}
        }}""")
    assert_merge_emerg(result, 'claim "outer.x" conflicts with claim "outer", which backend_jwt_enforce keeps')
