"""Identity in that never fails open (issue 19): every request that reaches a verifying location
is verified, subrequests too (auth_request, SSI, mirror), and nothing is minted for a caller that
did not pass; requirements on claims compared by JSON type (`backend_jwt_verify_require_claim`)
with Keycloak-, Auth0- and Entra-ID-shaped tokens; `backend_jwt_verify_require` on JSON falsy
values; claim variables that never read another claim; `copy_claims *` without look-alikes;
no silent identity loss. Callers' tokens come from PyJWT (caller_tokens.py), minted ones are
checked by PyJWT."""

import json
import tempfile
import time
from pathlib import Path

import jwt
import pytest

from caller_tokens import AUDIENCE, INSUFFICIENT, INVALID, ISSUER, MISSING, IdP, bearer
from conftest import assert_emerg, headers_named, only_token, wait_for


@pytest.fixture(scope="module")
def idp(keys, tmp_path_factory):
    return IdP(keys, tmp_path_factory.mktemp("idp"))


def verify(idp):
    return f"""backend_jwt_verify on;
            backend_jwt_verify_key {idp.jwks};
            backend_jwt_verify_issuer {ISSUER};
            backend_jwt_verify_audience {AUDIENCE};"""


def mint(keys):
    return f"""backend_jwt on;
            backend_jwt_signing_key {keys.rsa};
            backend_jwt_subject $backend_jwt_in_claim_sub;"""


def minted(keys, seen, name="X-JWT-Assertion"):
    token = only_token(seen, name)
    return jwt.decode(token, keys.public_key, algorithms=["RS256"])


def paths(backend):
    return [h["path"] for h in backend.hits]


# the caller's tokens of every route test: (name, headers, status the route ends with)
def callers(idp):
    return [
        ("none", (), 401),
        ("garbage", bearer("x.y.z"), 401),
        ("expired", bearer(idp.token(exp=int(time.time()) - 600, iat=int(time.time()) - 900)), 401),
        ("valid", bearer(idp.token()), 200),
    ]


# ---------------------------------------------------------------- subrequests


@pytest.mark.parametrize("check", ["proxy", "answer"])
def test_auth_request_to_a_verifying_location_is_a_jwt_check(nginx, idp, keys, backend, check):
    """`auth_request` to a location that verifies: the subrequest is verified (nginx skips the
    access phase for subrequests), its 401 is the client's, with the challenge; a valid token
    passes, and `auth_request_set` carries its `sub` back. The check location mints too: its
    backend never sees a token for a caller that did not pass."""
    answer = "backend_jwt_verify_answer;" if check == "answer" else "proxy_pass BACKEND/checked;"
    n = nginx(f"""
        location /files/ {{
            auth_request /_check_jwt;
            auth_request_set $user $backend_jwt_in_claim_sub;
            proxy_set_header X-User $user;
            proxy_pass BACKEND;
        }}
        location = /_check_jwt {{
            internal;
            {verify(idp)}
            {mint(keys) if check == "proxy" else ""}
            {answer}
        }}
""")
    for name, headers, status in callers(idp):
        before = len(backend.hits)
        code, response, _ = n.request(f"/files/{name}", headers)
        assert code == status, name
        new = backend.hits[before:]
        if status == 401:
            assert new == [], (name, new)
            assert headers_named(response, "WWW-Authenticate") == [MISSING if name == "none" else INVALID]
            continue
        served = [h for h in new if h["path"] == f"/files/{name}"]
        assert len(served) == 1 and headers_named(served[0]["headers"], "X-User") == ["alice"]
        if check == "proxy":
            checked = [h for h in new if h["path"] == "/checked"]
            assert len(checked) == 1 and minted(keys, checked[0]["headers"])["sub"] == "alice"


def pages(files):
    """A directory of pages the workers (nobody) may read."""
    directory = Path(tempfile.mkdtemp(prefix="bjwt-pages-"))
    directory.chmod(0o755)
    for name, text in files.items():
        (directory / name).write_text(text)
        (directory / name).chmod(0o644)
    return directory


# routes that reach a location that verifies and mints other than by its URI: (config, method, path)
ROUTES = {
    "limit_except": ("""
        location / {{
            {v} {m}
            limit_except GET {{ allow all; }}
            proxy_pass BACKEND;
        }}""", "POST", "/p"),
    "if": ("""
        location / {{
            {v} {m}
            if ($arg_x) {{ set $y 1; }}
            proxy_pass BACKEND;
        }}""", "GET", "/p?x=1"),
    "nested": ("""
        location / {{
            {v} {m}
            location /n/ {{ proxy_pass BACKEND; }}
            proxy_pass BACKEND;
        }}""", "GET", "/n/x"),
    "try_files to a named location": ("""
        location / {{
            root {d};
            try_files /nonexistent @api;
        }}
        location @api {{
            {v} {m}
            proxy_pass BACKEND;
        }}""", "GET", "/p"),
    "auth_request, error_page to a named location": ("""
        location / {{
            auth_request /_check;
            proxy_pass BACKEND;
        }}
        location = /_check {{
            internal;
            error_page 404 = @api;
            return 404;
        }}
        location @api {{
            {v} {m}
            proxy_pass BACKEND;
        }}""", "GET", "/p"),
    "auth_request, rewrite": ("""
        location / {{
            auth_request /_check;
            proxy_pass BACKEND;
        }}
        location = /_check {{
            internal;
            rewrite ^ /_real last;
        }}
        location = /_real {{
            internal;
            {v} {m}
            proxy_pass BACKEND/checked;
        }}""", "GET", "/p"),
    "auth_request, try_files": ("""
        location / {{
            auth_request /_check;
            proxy_pass BACKEND;
        }}
        location = /_check {{
            internal;
            root {d};
            try_files /nonexistent /_real;
        }}
        location = /_real {{
            internal;
            {v} {m}
            proxy_pass BACKEND/checked;
        }}""", "GET", "/p"),
    "SSI include of an include": ("""
        location / {{
            ssi on;
            root {d};
        }}
        location /api/ {{
            {v} {m}
            proxy_pass BACKEND;
        }}""", "GET", "/outer.html"),
}


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("caller", ["none", "garbage", "valid"])
def test_every_route_to_a_verifying_location_is_verified(nginx, idp, keys, backend, route, caller):
    """However a request reaches a location that verifies and mints (a method limit_except
    covers, an `if`, a nested location, a named location, a subrequest redirected or rewritten,
    an SSI include of an include), a caller without a valid token is refused there and no
    backend sees a token; a valid one gets a token naming alice."""
    config, method, path = ROUTES[route]
    d = pages({"outer.html": '<!--# include virtual="/inner.html" -->',
               "inner.html": '<!--# include virtual="/api/x" -->'})
    n = nginx(config.format(v=verify(idp), m=mint(keys), d=d))
    headers = {"none": [], "garbage": bearer("x.y.z"), "valid": bearer(idp.token())}[caller]
    code, _, body = n.request(path, headers, method=method)
    sent = [(h["path"], headers_named(h["headers"], "X-JWT-Assertion")) for h in backend.hits]
    if caller != "valid":
        assert all(token == [] for _, token in sent), sent
        assert not any(p.startswith("/api/") or p == "/checked" for p, _ in sent), sent
        if path != "/outer.html":  # the page is public; its include is what is refused
            assert code == 401, (code, sent)
        return
    assert code == 200, (code, body[:200])
    tokens = [token[0] for _, token in sent if token]
    assert tokens, sent
    assert all(jwt.decode(t, keys.public_key, algorithms=["RS256"])["sub"] == "alice" for t in tokens)


def test_verify_answer_needs_verification_in_its_location(nginx_t, idp):
    """`return 204` runs in the rewrite phase, before any check: the README says so, and the
    module's own answer is `backend_jwt_verify_answer`, which needs verification there."""
    result = nginx_t("""
        location = /_check_jwt {
            internal;
            backend_jwt_verify_answer; #HERE
        }
""")
    assert_emerg(result, '"backend_jwt_verify_answer" has no effect: "backend_jwt_verify" is off in location '
                         '"/_check_jwt" (turn it on there or above, or remove the directive)')


def test_verify_answer_shares_no_location_with_proxy_pass(nginx_t, idp):
    result = nginx_t(f"""
        location = /_check_jwt {{
            {verify(idp)}
            proxy_pass BACKEND;
            backend_jwt_verify_answer; #HERE
        }}
""")
    assert_emerg(result, '"backend_jwt_verify_answer" directive cannot share a location with another content '
                         "handler (proxy_pass, fastcgi_pass, ...)")


def test_ssi_include_of_a_verifying_location(nginx, idp, keys, backend):
    """An SSI include from a public page reaches a location that verifies and mints: without a
    valid token the backend never sees the include, with one it gets a token naming alice."""
    pages = Path(tempfile.mkdtemp(prefix="bjwt-pages-"))  # workers run as nobody
    pages.chmod(0o755)
    (pages / "page.html").write_text('<p><!--# include virtual="/api/orders" --></p>\n')
    (pages / "page.html").chmod(0o644)
    n = nginx(f"""
        location /page.html {{
            ssi on;
            root {pages};
        }}
        location /api/ {{
            {verify(idp)}
            {mint(keys)}
            proxy_pass BACKEND;
        }}
""")
    for name, headers, status in callers(idp):
        before = len(backend.hits)
        code, _, body = n.request("/page.html", headers)
        assert code == 200, body  # the page is public; the include is what is refused
        new = backend.hits[before:]
        if status == 401:
            assert new == [], (name, new)
            assert b"401" in body, body
        else:
            assert [h["path"] for h in new] == ["/api/orders"]
            assert minted(keys, new[0]["headers"])["sub"] == "alice"


def test_mirror_to_a_verifying_location(nginx, idp, keys, backend):
    """A mirror from a public location to one that verifies and mints: a caller without a valid
    token never reaches the mirrored backend; a valid one does, with a token naming alice."""
    n = nginx(f"""
        location /public {{
            mirror /api/mirror;
            proxy_pass BACKEND;
        }}
        location /api/ {{
            internal;
            {verify(idp)}
            {mint(keys)}
            proxy_pass BACKEND;
        }}
""")
    for name, headers, status in callers(idp):
        code, _, _ = n.request(f"/public?caller={name}", headers)
        assert code == 200
    # one worker handles them in order: once the valid caller's mirror arrived, the others' are done
    assert wait_for(lambda: "/api/mirror?caller=valid" in paths(backend))
    mirrored = [h for h in backend.hits if h["path"].startswith("/api/mirror")]
    assert [h["path"] for h in mirrored] == ["/api/mirror?caller=valid"], mirrored
    assert minted(keys, mirrored[0]["headers"])["sub"] == "alice"


def test_satisfy_any_never_mints_for_a_caller_that_did_not_pass(nginx, idp, keys, backend):
    """`satisfy any` with `allow`: access is granted without a token, but a location that
    verifies and mints answers 401 rather than mint for nobody."""
    n = nginx(f"""
        location / {{
            satisfy any;
            allow 127.0.0.1;
            deny all;
            {verify(idp)}
            {mint(keys)}
            proxy_pass BACKEND;
        }}
""")
    code, response, _ = n.request("/")
    assert code == 401 and backend.hits == []
    assert headers_named(response, "WWW-Authenticate") == [MISSING]
    seen = n.seen("/", bearer(idp.token()))
    assert minted(keys, seen)["sub"] == "alice"


def test_backend_jwt_variable_is_empty_for_a_caller_that_did_not_pass(nginx, idp, keys, backend):
    """`$backend_jwt` read before verification (a `set`) holds nothing: the token is minted only
    for a caller that passed, and the request is refused."""
    n = nginx(f"""
        location / {{
            {verify(idp)}
            {mint(keys)}
            backend_jwt_header off;
            set $early $backend_jwt;
            add_header X-Early "[$early]" always;
            proxy_set_header X-Token $backend_jwt;
            proxy_pass BACKEND;
        }}
""")
    code, response, _ = n.request("/")
    assert code == 401 and backend.hits == []
    assert headers_named(response, "X-Early") == ["[]"]
    seen = n.seen("/", bearer(idp.token()))
    assert minted(keys, seen, "X-Token")["sub"] == "alice"


# ---------------------------------------------------------------- require_claim


def requiring(idp, rules):
    return f"""
        location / {{
            {verify(idp)}
            {rules}
            proxy_pass BACKEND;
        }}
"""


KEYCLOAK = {"realm_access": {"roles": ["admin", "user"]}, "resource_access": {"orders": {"roles": ["reader"]}},
            "scope": "openid email orders:read", "email_verified": True, "azp": "web-app"}
KEYCLOAK_DISPLAY = {"realm_access": {"roles": ["user"], "display": "admin"}}
AUTH0 = {"https://example.com/roles": ["editor"], "permissions": ["read:orders", "write:orders"],
         "scope": "openid read:orders"}
ENTRA = {"roles": ["Orders.Admin"], "scp": "Files.Read User.Read", "groups": ["g-1", "g-2"], "tid": "t-1",
         "level": 3, "acr": "1"}

# (claims of the token, the rule, whether it is met)
RULES = [
    (KEYCLOAK, "realm_access.roles contains admin", True),
    (KEYCLOAK_DISPLAY, "realm_access.roles contains admin", False),
    (KEYCLOAK, "resource_access.orders.roles contains reader", True),
    (KEYCLOAK, "resource_access.orders.roles contains admin", False),
    (KEYCLOAK, "scope contains orders:read", True),
    (KEYCLOAK, "scope contains orders:rea", False),
    (KEYCLOAK, "scope contains orders:read email", True),
    (KEYCLOAK, "scope contains orders:read orders:write", False),
    (KEYCLOAK, "email_verified eq true", True),
    (KEYCLOAK, "email_verified eq '\"true\"'", False),
    (KEYCLOAK, "azp in mobile-app web-app", True),
    (KEYCLOAK, "azp in mobile-app cli", False),
    (AUTH0, "'\"https://example.com/roles\"' contains editor", True),
    (AUTH0, "'\"https://example.com/roles\"' contains admin", False),
    (AUTH0, "https://example.com/roles contains editor", False),  # dots are path separators
    (AUTH0, "permissions any write:orders delete:orders", True),
    (AUTH0, "permissions any delete:orders", False),
    (ENTRA, "scp any Files.ReadWrite Files.Read", True),
    (ENTRA, "scp any Files.ReadWrite", False),
    (ENTRA, "groups contains g-2", True),
    (ENTRA, "roles contains Orders.Reader", False),
    (ENTRA, "tid eq t-1", True),
    (ENTRA, "tid ne t-2", True),
    (ENTRA, "tid ne t-1", False),
    (ENTRA, "tenant ne t-2", False),  # absent: never met, not even by ne
    (ENTRA, "level ge 3", True),
    (ENTRA, "level gt 3", False),
    (ENTRA, "level lt 3.5", True),
    (ENTRA, "level le 2", False),
    (ENTRA, "level eq 3.0", True),
    (ENTRA, "level eq '\"3\"'", False),  # a number is not the string 3
    (ENTRA, "acr eq 1", False),  # the string "1" is not the number 1
    (ENTRA, "acr eq '\"1\"'", True),
    (ENTRA, "acr exists", True),
    (ENTRA, "amr exists", False),
    (ENTRA, "groups eq g-1", False),  # an array equals no scalar
    (ENTRA, "roles gt 1", False),  # the wrong type fails
]


@pytest.mark.parametrize("claims,rule,met", RULES, ids=[f"{i}-{r[1]}" for i, r in enumerate(RULES)])
def test_require_claim_operators(nginx, idp, backend, claims, rule, met):
    n = nginx(requiring(idp, f"backend_jwt_verify_require_claim {rule};"))
    token = idp.token(**claims)
    code, response, _ = n.request("/", bearer(token))
    if met:
        assert code == 200 and len(backend.hits) == 1
    else:
        assert code == 403 and backend.hits == []
        assert headers_named(response, "WWW-Authenticate") == [INSUFFICIENT]
        assert "backend_jwt_verify_require_claim" in n.log()


def test_require_claim_values_from_variables_and_error_401(nginx, idp, backend):
    """A value may hold variables (read per request, an empty one never meets); all rules must
    hold; `error=401` refuses as an invalid token."""
    n = nginx(requiring(idp, """
            backend_jwt_verify_require_claim tid eq $tenant_of_host;
            backend_jwt_verify_require_claim roles contains Orders.Admin error=401;"""),
              http="""
    map $http_x_tenant_host $tenant_of_host {
        a.example.com t-1;
        b.example.com t-2;
        default "";
    }""")
    token = idp.token(**ENTRA)
    assert n.request("/", bearer(token) + [("X-Tenant-Host", "a.example.com")])[0] == 200
    assert n.request("/", bearer(token) + [("X-Tenant-Host", "b.example.com")])[0] == 403
    assert n.request("/", bearer(token))[0] == 403  # the empty value
    code, response, _ = n.request("/", bearer(idp.token(**{**ENTRA, "roles": []})) + [("X-Tenant-Host", "a.example.com")])
    assert code == 401 and headers_named(response, "WWW-Authenticate") == [INVALID]
    assert len(backend.hits) == 1


@pytest.mark.parametrize("args,message", [
    ("roles error=401", "give a claim path, an operator and the values it takes"),
    ("roles has admin", 'unknown operator "has"; use one of eq, ne, gt, ge, lt, le, in, contains, any, exists'),
    ("roles eq a b", "operator eq takes one value, not 2"),
    ("roles exists x", "operator exists takes no value, not 1"),
    ("level gt high", 'operator gt compares numbers: "high" is not one'),
    ("a..b exists", 'claim path "a..b" has an empty name (two dots, or a dot at an end)'),
    ("'\"a.b' exists", 'claim path "\\x22a.b" has a quote that is not closed'),
    ("'\"a\"b' exists", 'claim path "\\x22a\\x22b" has text after a quoted name (quote the whole name, or put a dot after it)'),
    ("roles contains admin error=500", 'invalid option "error=500"; use error=401 or error=403'),
])
def test_require_claim_errors(nginx_t, idp, args, message):
    result = nginx_t(f"""
        location / {{
            {verify(idp)}
            backend_jwt_verify_require_claim {args}; #HERE
            proxy_pass BACKEND;
        }}
""")
    assert_emerg(result, f'"backend_jwt_verify_require_claim" directive: {message}')


# ---------------------------------------------------------------- require on JSON values


@pytest.mark.parametrize("value,met", [
    (False, False), (None, False), ([], False), ({}, False), (0, False), (0.0, False), ("", False),
    (True, True), (1, True), ("yes", True), (["a"], True), ({"a": 1}, True),
])
def test_require_on_a_claim_is_not_met_by_json_falsy_values(nginx, idp, backend, value, met):
    n = nginx(requiring(idp, "backend_jwt_verify_require $backend_jwt_in_claim_email_verified;"))
    code, response, _ = n.request("/", bearer(idp.token(email_verified=value)))
    assert code == (200 if met else 403), value
    assert len(backend.hits) == (1 if met else 0)


# ---------------------------------------------------------------- claim variables by name


def test_camel_case_claim_variable_never_reads_another_claim(nginx, idp, backend):
    """nginx lowercases variable names: `$backend_jwt_in_claim_tenantId` matches a member in any
    case, and two that match make it empty (logged); `backend_jwt_verify_claim_set` names one
    exactly, nested or camelCase."""
    n = nginx(requiring(idp, """
            proxy_set_header X-Tenant $backend_jwt_in_claim_tenantId;
            proxy_set_header X-Exact $tenant;
            proxy_set_header X-Role $first_roles;
            proxy_set_header X-Kid $backend_jwt_in_header_kid;"""),
              http="""
    backend_jwt_verify_claim_set $tenant tenantId;
    backend_jwt_verify_claim_set $first_roles realm_access.roles;""")
    seen = n.seen("/", bearer(idp.token(tenantId="t-bob", realm_access={"roles": ["a", "b"]})))
    assert headers_named(seen, "X-Tenant") == ["t-bob"] and headers_named(seen, "X-Exact") == ["t-bob"]
    assert headers_named(seen, "X-Role") == ['["a","b"]']
    assert headers_named(seen, "X-Kid") == ["idp-rsa"]
    seen = n.seen("/", bearer(idp.token(tenantId="t-bob", tenantid="t-victim")))
    assert headers_named(seen, "X-Tenant") == [] and headers_named(seen, "X-Exact") == ["t-bob"]
    assert "two members of that name in different letter cases" in n.log()


# ---------------------------------------------------------------- copied claims


def test_copy_all_skips_look_alikes_of_registered_claims(nginx, idp, keys, backend):
    """`*` copies no `SUB`, `Exp`, `ISS`, `sub\\u0000` (Go's encoding/json would read them as the
    registered claims). The subject comes by exact name: `$backend_jwt_in_claim_sub` matches
    `sub` and `SUB` alike, so it would be empty (and the request refused)."""
    n = nginx(f"""
        location / {{
            {verify(idp)}
            {mint(keys).replace("$backend_jwt_in_claim_sub", "$caller_sub")}
            backend_jwt_claim tenant t-gateway;
            backend_jwt_copy_claims *;
            proxy_pass BACKEND;
        }}
""", http="backend_jwt_verify_claim_set $caller_sub sub;")
    # Go folds names by ToUpper(ToLower(rune)): long s, dotless i, dotted I and the Kelvin sign
    # are s, i, i and k to it; and a declared claim is as registered as sub to its reader
    unicode = {"\u017fub": "admin", "\u0131ss": "evil", "jt\u0130": "x", "\u0130at": 1, "Tenant": "t-victim",
               "\u212ad": "kept", "\u00dfub": "kept"}
    token = idp.token(SUB="admin", Exp=4102444800, ISS="evil", **{"sub\u0000": "admin", "Jti": "x", "team": "a"},
                      **unicode)
    claims = minted(keys, n.seen("/", bearer(token)))
    assert claims["sub"] == "alice" and claims["team"] == "a" and claims["tenant"] == "t-gateway"
    assert not {"SUB", "Exp", "ISS", "sub\u0000", "Jti", *list(unicode)[:5]} & set(claims), claims
    assert claims["\u212ad"] == claims["\u00dfub"] == "kept"  # no registered or declared name
    # a number beyond a double: parsers disagree, so it is not copied and nothing is sent
    raw = json.dumps(idp.claims(team="a")).encode()[:-1] + b',"big":1e400}'
    code, _, _ = n.request("/", bearer(idp.raw(idp.header_json(), raw)))
    assert code == 500 and len(backend.hits) == 1
    assert "holds a number beyond a double's range" in n.log()


# ---------------------------------------------------------------- no silent identity loss


@pytest.mark.parametrize("sub", ["bob\u0000", "bob\nX-Admin: 1"])
def test_subject_that_cannot_be_carried_fails_closed(nginx, idp, keys, backend, sub):
    n = nginx(f"""
        location / {{
            {verify(idp)}
            {mint(keys)}
            proxy_pass BACKEND;
        }}
""")
    code, response, _ = n.request("/", bearer(idp.token(sub=sub)))
    assert code == 401 and backend.hits == []
    assert headers_named(response, "WWW-Authenticate") == [INVALID]
    assert "$backend_jwt_in_claim_sub cannot be carried" in n.log()


@pytest.mark.parametrize("how", ["set", "map"])
def test_subject_lost_through_set_or_map_fails_closed(nginx, idp, keys, backend, how):
    """The claim reaches the minted token through a variable that read it earlier in the request
    (a `set`, or a `map` an `if` evaluated): that variable keeps the empty value, so the mint
    never sees the claim variable fail. No token without the subject all the same."""
    n = nginx(f"""
        location / {{
            {verify(idp)}
            {"set $s $backend_jwt_in_claim_sub;" if how == "set" else 'if ($s = "x") { return 404; }'}
            {mint(keys).replace("$backend_jwt_in_claim_sub", "$s")}
            proxy_pass BACKEND;
        }}
""", http="map $backend_jwt_in_claim_sub $s { default $backend_jwt_in_claim_sub; }" if how == "map" else "")
    code, response, _ = n.request("/", bearer(idp.token(sub="bob\u0000")))
    assert code == 401 and backend.hits == [], backend.hits
    assert headers_named(response, "WWW-Authenticate") == [INVALID]
    assert "$backend_jwt_in_claim_sub cannot be carried" in n.log()
    assert minted(keys, n.seen("/", bearer(idp.token())))["sub"] == "alice"


def test_subject_lost_in_the_auth_request_check_fails_closed(nginx, idp, keys, backend):
    """The README's recipe: the check location verifies, `auth_request_set` carries the caller's
    sub back and the main location mints with it. A sub the variable cannot carry leaves `$user`
    empty in the main request: no token without it there either."""
    n = nginx(f"""
        location /files/ {{
            auth_request /_check_jwt;
            auth_request_set $user $backend_jwt_in_claim_sub;
            {mint(keys).replace("$backend_jwt_in_claim_sub", "$user").replace("backend_jwt on;", "backend_jwt on; backend_jwt_verify off;")}
            proxy_pass BACKEND;
        }}
        location = /_check_jwt {{
            internal;
            {verify(idp)}
            backend_jwt_verify_answer;
        }}
""")
    code, response, _ = n.request("/files/x", bearer(idp.token(sub="bob\u0000")))
    assert code == 401 and backend.hits == [], backend.hits
    assert headers_named(response, "WWW-Authenticate") == [INVALID]
    assert "$backend_jwt_in_claim_sub cannot be carried" in n.log()
    assert minted(keys, n.seen("/files/x", bearer(idp.token())))["sub"] == "alice"


# ---------------------------------------------------------------- small ones


@pytest.mark.parametrize("where,message", [
    ("location / { proxy_pass BACKEND; }",
     'backend_jwt_verify_jwks "/_idp_jwsk" matches location "/" of server "localhost", which is not internal: '
     'the fetch would go where clients go (add "internal;" to the JWK Set\'s location, or fix the URI)'),
    ("location = /_idp_jwks { internal; proxy_pass BACKEND; }",
     'backend_jwt_verify_jwks "/_idp_jwsk" matches no location of server "localhost": add an internal location '
     "that proxies to the identity provider's JWK Set"),
])
def test_jwks_uri_must_name_an_internal_location(nginx_t, where, message):
    result = nginx_t(f"""
        location /api/ {{
            backend_jwt_verify on;
            backend_jwt_verify_jwks /_idp_jwsk; #HERE
            proxy_pass BACKEND;
        }}
        {where}
""")
    code, out, conf, line = result
    assert code != 0 and f"nginx: [emerg] {message} in {conf}:{line}" in out.splitlines(), out


def test_jwks_uri_of_an_internal_location_passes(nginx_t):
    code, out, _, _ = nginx_t("""
        location /api/ {
            backend_jwt_verify on;
            backend_jwt_verify_jwks /_idp/jwks?realm=acme;
            proxy_pass BACKEND;
        }
        location /_idp/ {
            internal;
            location ~ jwks$ { proxy_pass BACKEND; }
        }
""")
    assert code == 0, out


def test_copy_claims_error_names_the_location_that_turns_verification_off(nginx_t, idp, keys):
    result = nginx_t(f"""
        {verify(idp)}
        {mint(keys)}
        backend_jwt_copy_claims email;
        location / {{ proxy_pass BACKEND; }}
        location /health {{
            backend_jwt_verify off; #HERE
            proxy_pass BACKEND;
        }}
""")
    code, out, conf, line = result
    assert code != 0
    assert f'needs "backend_jwt_verify on" where "backend_jwt on" is in location "/health": without a verified ' \
           f"token there is nothing to copy in {conf}:{line}" in out, out


def test_realm_and_the_log_line_of_a_refusal(nginx, idp, backend):
    n = nginx(requiring(idp, 'backend_jwt_verify_realm "orders \\"api\\"";'))
    code, response, _ = n.request("/")
    assert code == 401
    assert headers_named(response, "WWW-Authenticate") == ['Bearer realm="orders \\"api\\""']
    code, response, _ = n.request("/", bearer("x.y.z"))
    assert headers_named(response, "WWW-Authenticate") == ['Bearer realm="orders \\"api\\"", error="invalid_token"']
    refusals = [line for line in n.log().splitlines() if "backend_jwt: " in line]
    assert refusals and all("while verifying the caller's token" in line for line in refusals), refusals
    assert "while sending to client" not in "\n".join(refusals)


def test_copy_claims_paths_are_exact(nginx, idp, keys, backend):
    """`path=name` takes the one path syntax: a quoted name keeps its dots, a dotted path
    follows objects; a bare name is one top-level claim, dots and all."""
    n = nginx(f"""
        location / {{
            {verify(idp)}
            {mint(keys)}
            backend_jwt_copy_claims '"https://example.com/roles"=roles' realm_access.roles=realm_roles
                                    https://example.com/tenant;
            proxy_pass BACKEND;
        }}
""")
    token = idp.token(**{"https://example.com/roles": ["editor"], "https://example.com/tenant": "t-1",
                         "realm_access": {"roles": ["admin"]}, "https://example": {"com/roles": ["no"]}})
    claims = minted(keys, n.seen("/", bearer(token)))
    assert claims["roles"] == ["editor"] and claims["realm_roles"] == ["admin"]
    assert claims["https://example.com/tenant"] == "t-1"
