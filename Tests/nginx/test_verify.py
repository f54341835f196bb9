"""`backend_jwt_verify` (issue 11): the caller's JWT verified in the access phase, its claims as
variables and copied into the minted token. Callers' tokens come from PyJWT (caller_tokens.py)
for every algorithm and key form; the issue's configuration runs end to end; and one negative
test per rule of a strict JWS verifier, each checking what the client gets (401 or 403 and the
exact WWW-Authenticate), that the backend never saw the request, and that the error log says
why at info level without the token."""

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from caller_tokens import (ALL_ALGORITHMS, AUDIENCE, HS, INSUFFICIENT, INVALID, ISSUER, MISSING,
                           OMIT, IdP, assert_refused, b64_padded, b64_standard, bearer,
                           decode_segment, kid_of, payload_bytes, segments)
from conftest import (ALG_KEYS, SIGNING, b64url, headers_named, only_token, payload_json, thumbprint)


@pytest.fixture(scope="module")
def idp(keys, tmp_path_factory):
    return IdP(keys, tmp_path_factory.mktemp("idp"))


def verifying(*key_files, body="", path="/", verify="backend_jwt_verify on;", checks=True):
    """A verify-only location (no backend_jwt on) with `key_files`, ISSUER and AUDIENCE checked
    (unless `checks` is false), echoing the caller's sub as X-Sub, proxied to the backend."""
    keys = "\n            ".join(f"backend_jwt_verify_key {f};" for f in key_files)
    wanted = f"""backend_jwt_verify_issuer {ISSUER};
            backend_jwt_verify_audience {AUDIENCE};""" if checks else ""
    return f"""
        location {path} {{
            {verify}
            {keys}
            {wanted}
            proxy_set_header X-Sub $backend_jwt_in_claim_sub;
            {body}
            proxy_pass BACKEND;
        }}
"""


def passes(n, token, path="/", headers=None, sub="alice"):
    """The request with `token` as Bearer credentials reaches the backend, which gets the
    caller's sub in X-Sub; returns what the backend received."""
    seen = n.seen(path, headers if headers is not None else bearer(token))
    assert headers_named(seen, "X-Sub") == [sub], seen
    return seen


# ---------------------------------------------------------------- every algorithm, every key form


@pytest.mark.parametrize("alg", SIGNING)
def test_every_algorithm_verifies_with_the_jwks(nginx, idp, backend, alg):
    """A JWK Set of every key (the HMAC secret as a `kty: oct` JWK) with every algorithm allowed:
    a token of each algorithm, picked by kid, verifies; the caller's Authorization stays here."""
    n = nginx(verifying(idp.jwks, body=f"backend_jwt_verify_algorithms {ALL_ALGORITHMS};"))
    token = idp.token(alg)
    seen = passes(n, token)
    assert headers_named(seen, "Authorization") == []
    assert token not in json.dumps(seen)


@pytest.mark.parametrize("alg", [a for a in SIGNING if a not in HS])
def test_token_without_kid_tries_the_keys_that_fit_its_alg(nginx, idp, backend, alg):
    n = nginx(verifying(idp.jwks))
    passes(n, idp.token(alg, kid=False))


@pytest.mark.parametrize("alg", SIGNING)
def test_single_jwk_file(nginx, idp, backend, alg):
    allowed = f"backend_jwt_verify_algorithms {alg};" if alg in HS else ""
    n = nginx(verifying(idp.jwk[ALG_KEYS[alg]], body=allowed))
    passes(n, idp.token(alg))


PEM_PUBLIC = ["RS256", "PS384", "ES256", "ES384", "ES512", "EdDSA"]


@pytest.mark.parametrize("kid", [False, True], ids=["no-kid", "kid"])
@pytest.mark.parametrize("alg", PEM_PUBLIC)
def test_pem_public_key(nginx, idp, backend, alg, kid):
    """A PEM key has no kid: it verifies tokens with or without one."""
    n = nginx(verifying(idp.pem[ALG_KEYS[alg]]))
    passes(n, idp.token(alg, kid=kid))


@pytest.mark.parametrize("alg,cert", [("RS256", "cert"), ("PS256", "cert"), ("ES256", "cert_ec")])
def test_pem_certificate(nginx, keys, idp, backend, alg, cert):
    """The certificate's public key verifies (keys.cert holds the `rsa` key, keys.cert_ec `ec`)."""
    n = nginx(verifying(getattr(keys, cert)))
    passes(n, idp.token(alg, signer="rsa" if cert == "cert" else "ec"))


@pytest.mark.parametrize("alg,key", [
    ("RS256", "rsa"), ("RS256", "rsa_pkcs1"), ("PS512", "rsa6"), ("ES256", "ec_sec1"),
    ("ES512", "ec521"), ("EdDSA", "ed25519")])
def test_pem_private_key_is_reduced_to_its_public_half(nginx, keys, idp, backend, alg, key):
    """PKCS#8, PKCS#1 and SEC1 private keys verify with their public half."""
    signer = {"rsa_pkcs1": "rsa", "ec_sec1": "ec"}.get(key, key)
    n = nginx(verifying(getattr(keys, key)))
    passes(n, idp.token(alg, signer=signer, kid=False))


def test_several_key_files_form_one_list(nginx, idp, backend):
    n = nginx(verifying(idp.pem["rsa"], idp.jwk["ec"], idp.jwk["ed25519"]))
    for alg in ("RS256", "ES256", "EdDSA"):
        passes(n, idp.token(alg))


def test_location_keys_replace_the_inherited_list(nginx, idp, backend):
    """Keys at http level serve /inherit/; /own/ sets its own key: the http level's no longer
    count there."""
    n = nginx(f"""
        location /inherit/ {{
            backend_jwt_verify on;
            proxy_set_header X-Sub $backend_jwt_in_claim_sub;
            proxy_pass BACKEND;
        }}
        location /own/ {{
            backend_jwt_verify on;
            backend_jwt_verify_key {idp.jwk["ec"]};
            proxy_set_header X-Sub $backend_jwt_in_claim_sub;
            proxy_pass BACKEND;
        }}
""", http=f"    backend_jwt_verify_key {idp.jwk['rsa']};")
    rs, es = idp.token("RS256"), idp.token("ES256")
    passes(n, rs, "/inherit/")
    passes(n, es, "/own/")
    assert_refused(n, backend, bearer(rs), path="/own/x", token=rs)
    assert_refused(n, backend, bearer(es), path="/inherit/x", token=es)


def test_verify_at_server_level_covers_its_locations(nginx, idp, backend):
    n = nginx(f"""
        backend_jwt_verify on;
        backend_jwt_verify_key {idp.jwks};
        location / {{
            proxy_set_header X-Sub $backend_jwt_in_claim_sub;
            proxy_pass BACKEND;
        }}
        location /public/ {{
            backend_jwt_verify off;
            proxy_pass BACKEND;
        }}
""")
    passes(n, idp.token())
    assert_refused(n, backend, [], challenge=MISSING)
    assert n.seen("/public/x")  # no token needed


@pytest.mark.parametrize("scheme", ["Bearer ", "bearer ", "BEARER ", "Bearer    "])
def test_bearer_scheme_is_case_insensitive_and_takes_one_or_more_spaces(nginx, idp, backend, scheme):
    n = nginx(verifying(idp.jwks))
    token = idp.token()
    passes(n, token, headers=[("Authorization", scheme + token)])


# ---------------------------------------------------------------- the issue's configuration


SCOPE_MAP = r"""
    map $backend_jwt_in_claim_scope $has_orders_scope {
        default 0;
        "~(^| )orders:read( |$)" 1;
    }
"""


def identity_location(idp, keys, more=""):
    """The configuration at the top of issue 11: the IdP's JWKS, issuer, audience and a scope
    check from a map; the gateway mints ES256 (so the minted token is never the caller's RS256
    one) with the caller's sub and copied claims, sent as `Authorization: Bearer <minted>`."""
    return f"""
        location /api/ {{
            backend_jwt_verify          on;
            backend_jwt_verify_key      {idp.jwks};
            backend_jwt_verify_issuer   {ISSUER};
            backend_jwt_verify_audience {AUDIENCE};
            backend_jwt_verify_require  $has_orders_scope error=403;

            backend_jwt                 on;
            backend_jwt_signing_algorithm ES256;
            backend_jwt_signing_key     {keys.ec};
            backend_jwt_issuer          https://gateway.example.com;
            backend_jwt_subject         $backend_jwt_in_claim_sub;
            backend_jwt_copy_claims     email realm_access.roles=roles tenant;
            backend_jwt_header          Authorization;
            {more}
            proxy_pass BACKEND;
        }}
"""


def caller_claims(**changes):
    """The claims of an access token as Keycloak issues them, with the orders:read scope."""
    base = dict(sub="f5a3c1e0-7d2b-4e8a-9c61-2b1e3f4a5d6c", email="alice@example.com",
                scope="openid profile orders:read", tenant="acme",
                realm_access={"roles": ["orders-reader", "offline_access"]}, azp="web-app",
                preferred_username="alice")
    base.update(changes)
    return base


def minted(seen, keys):
    """The one `Authorization: Bearer <token>` the backend got, verified with the gateway's
    ES256 key by PyJWT; returns (token, claims)."""
    values = headers_named(seen, "Authorization")
    assert len(values) == 1, values
    scheme, _, token = values[0].partition(" ")
    assert scheme == "Bearer" and token and " " not in token, values
    assert jwt.get_unverified_header(token)["kid"] == keys.kid["ec"]
    return token, jwt.decode(token, keys.pub["ec"], algorithms=["ES256"])


@pytest.fixture
def gateway(nginx, keys, idp, backend):
    return nginx(identity_location(idp, keys), http=SCOPE_MAP)


def test_identity_in_identity_out_end_to_end(gateway, keys, idp, backend):
    """The backend gets a gateway-signed token carrying the caller's identity, never the
    caller's own token."""
    caller_exp = int(time.time()) + 600
    token = idp.token(exp=caller_exp, **caller_claims())
    seen = gateway.seen("/api/orders", bearer(token))
    backend_token, claims = minted(seen, keys)
    assert backend_token != token
    assert token not in json.dumps(seen)  # the client's Authorization is not forwarded
    assert claims["iss"] == "https://gateway.example.com"
    assert claims["sub"] == "f5a3c1e0-7d2b-4e8a-9c61-2b1e3f4a5d6c"
    assert claims["email"] == "alice@example.com"
    assert claims["roles"] == ["orders-reader", "offline_access"]
    assert claims["tenant"] == "acme"
    assert claims["exp"] <= caller_exp
    # only what was asked for is copied: no realm_access object, scope, azp or the caller's aud
    for name in ("realm_access", "scope", "azp", "preferred_username", "aud"):
        assert name not in claims, claims
    # roles is a JSON array in the payload itself, not a string holding JSON
    assert dict(payload_json(backend_token))["roles"] == ["orders-reader", "offline_access"]


def test_minted_exp_is_capped_at_the_callers_exp(gateway, keys, idp, backend):
    """The default TTL (1 h) would outlive a caller token valid for two more minutes."""
    caller_exp = int(time.time()) + 120
    _, claims = minted(gateway.seen("/api/", bearer(idp.token(exp=caller_exp, **caller_claims()))), keys)
    assert claims["exp"] == caller_exp
    assert claims["iat"] <= caller_exp


def test_caller_accepted_within_the_leeway_gets_a_token_that_is_not_born_expired(nginx, keys, idp, backend):
    """A caller token 10 s past its exp, accepted by a 30 s leeway: the minted token must still
    be usable (exp after iat), and outlive the caller's no longer than the leeway lets the
    caller's own token live. (Capping at the caller's bare exp makes exp < iat.)"""
    n = nginx(identity_location(idp, keys, "backend_jwt_verify_leeway 30s;"), http=SCOPE_MAP)
    caller_exp = int(time.time()) - 10
    token = idp.token(exp=caller_exp, **caller_claims())
    values = headers_named(n.seen("/api/", bearer(token)), "Authorization")
    claims = jwt.decode(values[0].split(" ", 1)[1], keys.pub["ec"], algorithms=["ES256"],
                        options={"verify_exp": False})
    assert claims["exp"] > claims["iat"], claims
    assert claims["exp"] <= caller_exp + 30, claims


def test_caller_exp_ignore_keeps_the_ttl(nginx, keys, idp, backend):
    n = nginx(identity_location(idp, keys, "backend_jwt_caller_exp ignore;"), http=SCOPE_MAP)
    caller_exp = int(time.time()) + 120
    _, claims = minted(n.seen("/api/", bearer(idp.token(exp=caller_exp, **caller_claims()))), keys)
    assert claims["exp"] - claims["iat"] == 3600


def test_claims_absent_from_the_callers_token_are_left_out(gateway, keys, idp, backend):
    token = idp.token(**caller_claims(email=OMIT, tenant=OMIT, realm_access={"other": 1}))
    _, claims = minted(gateway.seen("/api/", bearer(token)), keys)
    assert not {"email", "tenant", "roles"} & set(claims), claims
    assert claims["sub"] == "f5a3c1e0-7d2b-4e8a-9c61-2b1e3f4a5d6c"


def test_copied_claims_keep_their_json_types(gateway, keys, idp, backend):
    token = idp.token(**caller_claims(email=None, tenant={"id": 7, "paid": True},
                                      realm_access={"roles": []}))
    _, claims = minted(gateway.seen("/api/", bearer(token)), keys)
    assert claims["email"] is None
    assert claims["tenant"] == {"id": 7, "paid": True}
    assert claims["roles"] == []


def test_copy_every_claim_but_some(nginx, keys, idp, backend):
    """`*` copies every claim but the registered ones, the except= names and the claims the
    location declares itself (backend_jwt_claim wins); an explicit path adds to it."""
    n = nginx(f"""
        location / {{
            backend_jwt_verify on;
            backend_jwt_verify_key {idp.jwks};
            backend_jwt on;
            backend_jwt_signing_algorithm ES256;
            backend_jwt_signing_key {keys.ec};
            backend_jwt_claim tenant $http_x_tenant;
            backend_jwt_copy_claims * realm_access.roles=roles except=scope,azp;
            backend_jwt_header Authorization;
            proxy_pass BACKEND;
        }}
""")
    token = idp.token(**caller_claims(jti="caller-jti", nbf=int(time.time()) - 5))
    _, claims = minted(n.seen("/", bearer(token) + [("X-Tenant", "from-gateway")]), keys)
    assert claims["tenant"] == "from-gateway"
    assert claims["roles"] == ["orders-reader", "offline_access"]
    assert claims["email"] == "alice@example.com"
    assert claims["preferred_username"] == "alice"
    assert claims["realm_access"] == {"roles": ["orders-reader", "offline_access"]}
    assert "scope" not in claims and "azp" not in claims
    assert "sub" not in claims and "aud" not in claims and "nbf" not in claims  # not the caller's
    assert claims["jti"] != "caller-jti" and claims.get("iss") != ISSUER


def test_scope_check_from_a_map(gateway, keys, idp, backend):
    """Without orders:read the caller gets 403 insufficient_scope and the backend nothing; with
    it, 200."""
    without = idp.token(**caller_claims(scope="openid profile orders:write"))
    assert_refused(gateway, backend, bearer(without), challenge=INSUFFICIENT, status=403,
                   token=without, path="/api/orders")
    no_scope = idp.token(**caller_claims(scope=OMIT))
    assert_refused(gateway, backend, bearer(no_scope), challenge=INSUFFICIENT, status=403,
                   token=no_scope, path="/api/orders")
    minted(gateway.seen("/api/orders", bearer(idp.token(**caller_claims()))), keys)


def test_gateway_refuses_before_minting(gateway, keys, idp, backend):
    """No token, and a token the IdP did not sign: 401, no backend request, no minted token."""
    assert_refused(gateway, backend, [], challenge=MISSING, path="/api/")
    forged = jwt.encode(IdP.claims(**caller_claims()), rsa.generate_private_key(65537, 2048),
                        algorithm="RS256", headers={"kid": kid_of("rsa")})
    assert_refused(gateway, backend, bearer(forged), path="/api/", token=forged)


def test_require_error_401(nginx, idp, backend):
    n = nginx(verifying(idp.jwks, body="backend_jwt_verify_require $has_orders_scope error=401;"),
              http=SCOPE_MAP)
    token = idp.token(scope="openid")
    assert_refused(n, backend, bearer(token), token=token)
    passes(n, idp.token(scope="orders:read"))


def test_every_require_must_hold(nginx, idp, backend):
    """Two require directives, and a variable that is "0": each must be non-empty and not 0."""
    n = nginx(verifying(idp.jwks, body="""
            backend_jwt_verify_require $has_orders_scope;
            backend_jwt_verify_require $backend_jwt_in_claim_tenant $backend_jwt_in_claim_email_verified;"""),
              http=SCOPE_MAP)
    good = dict(scope="orders:read", tenant="acme", email_verified=True)
    passes(n, idp.token(**good))
    for bad in (dict(good, scope="x"), dict(good, tenant=OMIT), dict(good, tenant=""),
                dict(good, email_verified=0)):
        token = idp.token(**bad)
        assert_refused(n, backend, bearer(token), challenge=INSUFFICIENT, status=403, token=token)


def test_minting_into_another_header_still_drops_the_callers_authorization(nginx, keys, idp, backend):
    n = nginx(f"""
        location / {{
            backend_jwt_verify on;
            backend_jwt_verify_key {idp.jwks};
            backend_jwt on;
            backend_jwt_signing_key {keys.rsa};
            backend_jwt_subject $backend_jwt_in_claim_sub;
            proxy_pass BACKEND;
        }}
""")
    token = idp.token("ES384")
    seen = n.seen("/", bearer(token))
    assert headers_named(seen, "Authorization") == []
    claims = jwt.decode(only_token(seen), keys.public_key, algorithms=["RS256"])
    assert claims["sub"] == "alice"


def test_token_cache_never_serves_one_callers_claims_to_another(nginx, keys, idp, backend):
    """With the cache on, two callers with the same sub but other copied claims and other
    expiries each get a token of their own."""
    n = nginx(identity_location(idp, keys, "backend_jwt_cache size=100;"), http=SCOPE_MAP)
    now = int(time.time())
    first = idp.token(exp=now + 900, **caller_claims(email="a@example.com", tenant="one"))
    second = idp.token(exp=now + 120, **caller_claims(email="b@example.com", tenant="two"))
    for token, email, tenant, exp in [(first, "a@example.com", "one", now + 900),
                                      (second, "b@example.com", "two", now + 120),
                                      (first, "a@example.com", "one", now + 900)]:
        _, claims = minted(n.seen("/api/", bearer(token)), keys)
        assert (claims["email"], claims["tenant"]) == (email, tenant)
        assert claims["exp"] <= exp


# ---------------------------------------------------------------- verify only: variables, sources


def test_claim_and_payload_variables(nginx, idp, backend):
    """Verify without backend_jwt on: strings unescaped, other JSON compact; the payload as
    compact JSON; an absent claim is no value (the header is not sent); the caller's
    Authorization is not forwarded."""
    n = nginx(verifying(idp.jwks, body="""
            proxy_set_header X-Payload $backend_jwt_in_payload;
            proxy_set_header X-Name $backend_jwt_in_claim_name;
            proxy_set_header X-Roles $backend_jwt_in_claim_roles;
            proxy_set_header X-Exp $backend_jwt_in_claim_exp;
            proxy_set_header X-Admin $backend_jwt_in_claim_admin;
            proxy_set_header X-Org $backend_jwt_in_claim_org;
            proxy_set_header X-Absent $backend_jwt_in_claim_absent;"""))
    exp = int(time.time()) + 300
    token = idp.token(exp=exp, name='Ann "the admin" O\'Neil', roles=["a", "b c"], admin=False,
                      org={"id": 7, "units": ["x"]})
    seen = passes(n, token)
    payload = headers_named(seen, "X-Payload")
    assert len(payload) == 1
    assert json.loads(payload[0]) == jwt.decode(token, options={"verify_signature": False})
    assert ": " not in payload[0] and ", " not in payload[0]  # compact
    assert headers_named(seen, "X-Name") == ['Ann "the admin" O\'Neil']
    assert headers_named(seen, "X-Roles") == ['["a","b c"]']
    assert headers_named(seen, "X-Exp") == [str(exp)]
    assert headers_named(seen, "X-Admin") == ["false"]
    assert json.loads(headers_named(seen, "X-Org")[0]) == {"id": 7, "units": ["x"]}
    assert headers_named(seen, "X-Org")[0] == '{"id":7,"units":["x"]}'
    assert headers_named(seen, "X-Absent") == []
    assert headers_named(seen, "Authorization") == []


def test_variables_are_empty_where_verification_is_off(nginx, idp, backend):
    """A location without backend_jwt_verify reads no caller token: the variables are empty."""
    n = nginx(f"""
        location / {{
            proxy_set_header X-Sub $backend_jwt_in_claim_sub;
            proxy_set_header X-Payload $backend_jwt_in_payload;
            proxy_pass BACKEND;
        }}
""", http=f"    backend_jwt_verify_key {idp.jwks};")
    seen = n.seen("/", bearer(idp.token()))
    assert headers_named(seen, "X-Sub") == [] and headers_named(seen, "X-Payload") == []


def test_token_from_a_cookie(nginx, idp, backend):
    """token=$cookie_at: the cookie is the source, Authorization is not looked at (and, not
    being the source, is forwarded)."""
    n = nginx(verifying(idp.jwks, verify="backend_jwt_verify on token=$cookie_at;"))
    token = idp.token()
    seen = passes(n, token, headers=[("Cookie", f"theme=dark; at={token}"),
                                     ("Authorization", "Basic dXNlcjpwYXNz")])
    assert headers_named(seen, "Authorization") == ["Basic dXNlcjpwYXNz"]
    assert_refused(n, backend, bearer(token), challenge=MISSING, token=token)  # no cookie: missing
    assert_refused(n, backend, [("Cookie", "at=")], challenge=MISSING)  # empty: missing
    bad = token[:-4] + "AAAA"
    assert_refused(n, backend, [("Cookie", f"at={bad}")])


def test_token_from_a_query_argument(nginx, idp, backend):
    n = nginx(verifying(idp.jwks, verify="backend_jwt_verify on token=$arg_access_token;"))
    token = idp.token()
    passes(n, token, path=f"/x?access_token={token}", headers=[])
    code, response, _ = n.request("/x?other=1")
    assert code == 401 and headers_named(response, "WWW-Authenticate") == [MISSING]
    code, response, _ = n.request(f"/x?access_token={idp.token(exp=int(time.time()) - 60)}")
    assert code == 401 and headers_named(response, "WWW-Authenticate") == [INVALID]


def test_forward_on_keeps_the_callers_authorization(nginx, idp, backend):
    n = nginx(verifying(idp.jwks, body="backend_jwt_verify_forward on;"))
    token = idp.token()
    seen = passes(n, token)
    assert headers_named(seen, "Authorization") == [f"Bearer {token}"]


@pytest.mark.parametrize("claim,offset,accepted", [
    ("exp", -20, True), ("exp", -60, False),
    ("nbf", 20, True), ("nbf", 60, False),
    ("iat", 20, True), ("iat", 60, False)])
def test_leeway(nginx, idp, backend, claim, offset, accepted):
    """backend_jwt_verify_leeway 30s: exp, nbf and iat are 30 s lenient, not more."""
    n = nginx(verifying(idp.jwks, body="backend_jwt_verify_leeway 30s;"))
    token = idp.token(**{claim: int(time.time()) + offset})
    if accepted:
        passes(n, token)
    else:
        assert_refused(n, backend, bearer(token), token=token)


def test_ordinary_header_and_claim_variants_are_accepted(nginx, idp, backend):
    """What real IdPs send: typ "at+jwt" (RFC 9068) or none, header members this verifier
    does not know (x5t, jku: ignored, never fetched), NumericDates with a fraction."""
    n = nginx(verifying(idp.jwks))
    now = time.time()
    passes(n, idp.token(header={"typ": "at+jwt"}))
    passes(n, idp.raw(idp.header_json(), payload_bytes()))  # no typ at all
    passes(n, idp.token(header={"x5t": "bm90LWEtdGh1bWJwcmludA", "jku": "http://127.0.0.1:1/jwks"}))
    # fractions at least a second in the past: nginx's clock has whole seconds
    passes(n, idp.token(iat=now - 1.5, exp=now + 300.25, nbf=now - 1.25))


def test_claims_read_in_the_rewrite_phase_verify_once(nginx, idp, backend):
    """`set` and `if` read the claims before the access phase: the token is verified then, once
    (one log line for a refused token), and the access phase keeps the verdict."""
    n = nginx(verifying(idp.jwks, body="""
            set $who $backend_jwt_in_claim_sub;
            if ($backend_jwt_in_claim_role = banned) { return 418; }
            proxy_set_header X-Who $who;
            proxy_set_header X-Payload $backend_jwt_in_payload;"""))
    seen = passes(n, idp.token(role="user"))
    assert headers_named(seen, "X-Who") == ["alice"]
    code, _, _ = n.request("/", bearer(idp.token(role="banned")))
    assert code == 418
    expired = idp.token(exp=int(time.time()) - 60)
    assert_refused(n, backend, bearer(expired), reason="expired", token=expired)  # exactly one line


def test_a_token_verified_in_one_location_is_checked_again_in_the_next(nginx, idp, backend):
    """/a/ verifies (its keys: RSA) while reading a claim, then rewrites to /b/, whose only key
    is EC: the RS256 token is refused there, not carried over as verified."""
    n = nginx(f"""
        location /a/ {{
            backend_jwt_verify on;
            backend_jwt_verify_key {idp.jwk["rsa"]};
            set $who $backend_jwt_in_claim_sub;
            rewrite ^ /b/ last;
        }}
        location /b/ {{
            backend_jwt_verify on;
            backend_jwt_verify_key {idp.jwk["ec"]};
            proxy_set_header X-Sub $backend_jwt_in_claim_sub;
            proxy_pass BACKEND;
        }}
""")
    passes(n, idp.token("ES256"), "/a/")
    rs = idp.token("RS256")
    assert_refused(n, backend, bearer(rs), path="/a/", token=rs)


def test_issuer_and_audience_lists(nginx, idp, backend):
    """Any of several issuers; any aud value (string or array) among several audiences."""
    n = nginx(verifying(idp.jwks, checks=False, body=f"""
            backend_jwt_verify_issuer https://other.example.com {ISSUER};
            backend_jwt_verify_audience billing {AUDIENCE};"""))
    passes(n, idp.token(aud=["account", AUDIENCE]))
    passes(n, idp.token(aud="billing", iss="https://other.example.com"))


# ---------------------------------------------------------------- negative: one test per rule


@pytest.fixture
def gate(nginx, idp, backend):
    """A verify-only location: the IdP's JWKS, ISSUER and AUDIENCE, the default algorithms.
    Headers as large as 128 KiB reach it, so the module's own size limit is what answers."""
    return nginx("        large_client_header_buffers 4 128k;\n" + verifying(idp.jwks))


def test_gate_accepts_a_good_token(gate, idp):
    """The control for every negative test below."""
    passes(gate, idp.token())


def test_missing_authorization(gate, backend):
    assert_refused(gate, backend, [], challenge=MISSING)


@pytest.mark.parametrize("value", ["Basic dXNlcjpwYXNz", "Token TOKEN", "BearerTOKEN", "Bearer"])
def test_non_bearer_authorization_is_a_missing_token(gate, idp, backend, value):
    token = idp.token()
    assert_refused(gate, backend, [("Authorization", value.replace("TOKEN", token))],
                   challenge=MISSING, token=token)


@pytest.mark.parametrize("name", ["none", "None", "NONE"])
def test_alg_none(gate, idp, backend, name):
    token = f"{b64url(json.dumps({'alg': name}).encode())}.{b64url(payload_bytes())}."
    assert_refused(gate, backend, bearer(token), token=token)
    signed = idp.raw(json.dumps({"alg": name}).encode(), payload_bytes())  # an RS256 signature on it
    assert_refused(gate, backend, bearer(signed), token=signed)


@pytest.mark.parametrize("form", ["pem", "jwks"])
@pytest.mark.parametrize("allowed", ["default", "RS256 HS256"])
def test_hs256_signed_with_the_rsa_public_key_as_secret(nginx, keys, idp, backend, form, allowed):
    """Algorithm confusion: the attacker signs HS256 with the bytes of the published RSA public
    key (its PEM file, as served). Refused whether or not HS256 is in the allow-list: an RSA key
    is never an HMAC secret."""
    key_file = idp.pem["rsa"] if form == "pem" else idp.jwks
    body = "" if allowed == "default" else f"backend_jwt_verify_algorithms {allowed};"
    n = nginx(verifying(key_file, body=body))
    passes(n, idp.token("RS256"))
    pem = open(idp.pem["rsa"], "rb").read()
    for secret in (pem, pem.strip()):
        for header in ({"alg": "HS256"}, {"alg": "HS256", "kid": kid_of("rsa")}):
            token = idp.raw(json.dumps(header).encode(), payload_bytes(), alg="HS256", secret=secret)
            assert_refused(n, backend, bearer(token), token=token)


def test_unknown_kid(gate, idp, backend):
    """Signed by a key of the set, but the kid names none: the kid picks the key, and no other
    key is tried."""
    token = idp.token("RS256", kid="no-such-key")
    assert_refused(gate, backend, bearer(token), reason="no-such-key", token=token)


def test_signed_by_another_key_with_a_published_kid(gate, idp, backend):
    token = jwt.encode(IdP.claims(), rsa.generate_private_key(65537, 2048), algorithm="RS256",
                       headers={"kid": kid_of("rsa")})
    assert_refused(gate, backend, bearer(token), reason="does not verify", token=token)


def test_tampered_payload(gate, idp, backend):
    header, _, signature = segments(idp.token(sub="alice"))
    token = f"{header}.{b64url(payload_bytes(sub='admin'))}.{signature}"
    assert_refused(gate, backend, bearer(token), reason="does not verify", token=token)


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_tampered_signature(gate, idp, backend, alg):
    header, payload, signature = segments(idp.token(alg))
    raw = bytearray(decode_segment(signature))
    raw[len(raw) // 2] ^= 0x01
    token = f"{header}.{payload}.{b64url(bytes(raw))}"
    assert_refused(gate, backend, bearer(token), reason="does not verify", token=token)


def test_duplicate_sub_in_the_payload(gate, idp, backend):
    """Properly signed JSON with `sub` twice: refused, neither first- nor last-wins."""
    now = int(time.time())
    payload = (f'{{"iss":"{ISSUER}","aud":"{AUDIENCE}","sub":"alice","iat":{now},'
               f'"exp":{now + 300},"sub":"admin"}}').encode()
    token = idp.raw(idp.header_json(), payload)
    assert_refused(gate, backend, bearer(token), reason="duplicate", token=token)


def test_duplicate_member_in_the_header(gate, idp, backend):
    header = f'{{"alg":"RS256","kid":"{kid_of("rsa")}","alg":"HS256"}}'.encode()
    token = idp.raw(header, payload_bytes())
    assert_refused(gate, backend, bearer(token), reason="duplicate", token=token)


def test_unknown_crit(gate, idp, backend):
    token = idp.raw(idp.header_json(crit=["urn:example:policy"], **{"urn:example:policy": "x"}),
                    payload_bytes())
    assert_refused(gate, backend, bearer(token), reason="crit", token=token)


def test_padding_in_a_segment(gate, idp, backend):
    """The payload segment keeps its '=' padding, and the signature is over it as sent."""
    payload = payload_bytes()
    payload += b" " * ((1 - len(payload)) % 3)  # a length that needs padding
    token = idp.raw(idp.header_json(), payload,
                    encode=lambda data: b64_padded(data) if data is payload else b64url(data))
    assert "=" in segments(token)[1] and "=" not in segments(token)[0] + segments(token)[2]
    assert_refused(gate, backend, bearer(token), reason="padding", token=token)


def test_base64_alphabet_in_a_segment(gate, idp, backend):
    """The payload segment in the standard alphabet ('+' and '/'), signed as sent."""
    for filler in range(3):
        payload = payload_bytes(note="x" * filler + "???>>>???>>>~~~")
        segment = b64_standard(payload)
        if "+" in segment and "/" in segment:
            break
    token = idp.raw(idp.header_json(), payload,
                    encode=lambda data: b64_standard(data) if data is payload else b64url(data))
    assert "+" in segments(token)[1] and "/" in segments(token)[1]
    assert_refused(gate, backend, bearer(token), reason="base64", token=token)


def test_five_segments_jwe(gate, idp, backend):
    header = b64url(json.dumps({"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": kid_of("rsa")}).encode())
    token = ".".join([header] + [b64url(bytes([i]) * 32) for i in range(1, 5)])
    assert_refused(gate, backend, bearer(token), reason="JWE", token=token)


@pytest.mark.parametrize("count", [1, 2, 4])
def test_wrong_number_of_segments(gate, idp, backend, count):
    parts = segments(idp.token())
    token = ".".join((parts + [parts[2]])[:count])
    assert_refused(gate, backend, bearer(token), reason="segments", token=token)


def test_expired(gate, idp, backend):
    token = idp.token(iat=int(time.time()) - 600, exp=int(time.time()) - 10)
    assert_refused(gate, backend, bearer(token), reason="expired", token=token)


def test_not_yet_valid(gate, idp, backend):
    token = idp.token(nbf=int(time.time()) + 300)
    assert_refused(gate, backend, bearer(token), reason="not valid yet", token=token)


def test_issued_in_the_future(gate, idp, backend):
    token = idp.token(iat=int(time.time()) + 300, exp=int(time.time()) + 900)
    assert_refused(gate, backend, bearer(token), reason="future", token=token)


@pytest.mark.parametrize("iss", ["https://evil.example.com/realms/acme", ISSUER + "/", OMIT, 42])
def test_wrong_issuer(gate, idp, backend, iss):
    """Another issuer, one differing by a slash, none, and a number (PyJWT would not encode it)."""
    if isinstance(iss, int):
        token = idp.raw(idp.header_json(), payload_bytes(iss=iss))
    else:
        token = idp.token(iss=iss)
    assert_refused(gate, backend, bearer(token), token=token)


@pytest.mark.parametrize("aud", ["billing", "orders-api ", OMIT])
def test_wrong_audience(gate, idp, backend, aud):
    token = idp.token(aud=aud)
    assert_refused(gate, backend, bearer(token), token=token)


def test_audience_array_without_a_match(gate, idp, backend):
    token = idp.token(aud=["account", "billing", "orders"])
    assert_refused(gate, backend, bearer(token), reason="audience", token=token)


def test_missing_exp(gate, idp, backend):
    token = idp.token(exp=OMIT)
    assert_refused(gate, backend, bearer(token), reason='"exp"', token=token)


@pytest.mark.parametrize("exp", ['"2099-01-01"', "null", "true"])
def test_exp_that_is_not_a_number(gate, idp, backend, exp):
    payload = f'{{"iss":"{ISSUER}","aud":"{AUDIENCE}","sub":"alice","exp":{exp}}}'.encode()
    token = idp.raw(idp.header_json(), payload)
    assert_refused(gate, backend, bearer(token), token=token)


def test_64_kib_token(gate, idp, backend):
    """A properly signed 64 KiB token that nginx lets through (large_client_header_buffers):
    refused as invalid by the size limit, not answered 400 or 494."""
    token = idp.token(note="x" * (48 * 1024))
    assert len(token) >= 64 * 1024
    assert_refused(gate, backend, bearer(token), reason="limit", token=token)


def test_header_that_is_not_json(gate, idp, backend):
    token = idp.raw(b"alg=RS256", payload_bytes())
    assert_refused(gate, backend, bearer(token), reason="header", token=token)


def test_header_that_is_a_json_array(gate, idp, backend):
    token = idp.raw(b'["RS256"]', payload_bytes())
    assert_refused(gate, backend, bearer(token), reason="header", token=token)


def test_payload_that_is_a_json_array(gate, idp, backend):
    token = idp.raw(idp.header_json(), b'[{"sub":"alice"}]')
    assert_refused(gate, backend, bearer(token), reason="payload", token=token)


def test_invalid_utf8_in_the_payload(gate, idp, backend):
    now = int(time.time())
    payload = f'{{"iss":"{ISSUER}","aud":"{AUDIENCE}","sub":"al\xffice","exp":{now + 300}}}'.encode("latin-1")
    token = idp.raw(idp.header_json(), payload)
    assert_refused(gate, backend, bearer(token), reason="UTF-8", token=token)


def test_hs_token_where_hs_is_not_allowed(gate, idp, backend):
    """The JWKS has the oct secret, but no HS algorithm is listed: HS tokens are refused."""
    token = idp.token("HS256")
    assert_refused(gate, backend, bearer(token), reason="HS256", token=token)


def test_jwk_alg_pins_the_algorithm(gate, idp, backend):
    """The published JWK says alg RS256: a PS256 token signed by the same RSA key is refused."""
    token = idp.token("PS256", signer="rsa")
    assert_refused(gate, backend, bearer(token), token=token)


def test_jwk_for_encryption_never_verifies(nginx, idp, keys, backend, tmp_path):
    """A JWK with use "enc" (or key_ops without verify) is in the set but verifies nothing."""
    tmp_path.chmod(0o755)
    rsa_jwk = {k: v for k, v in idp.entries["rsa"].items() if k != "alg"}
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [dict(rsa_jwk, use="enc", kid="enc-key"),
                                         dict(rsa_jwk, use=None, key_ops=["encrypt"], kid="ops-key"),
                                         idp.entries["ec"]]}).replace(', "use": null', ""))
    jwks.chmod(0o644)
    n = nginx(verifying(str(jwks)))
    passes(n, idp.token("ES256"))
    for kid in ("enc-key", "ops-key", False):
        token = idp.token("RS256", kid=kid)
        assert_refused(n, backend, bearer(token), token=token)


def test_ecdsa_signature_in_der_form(gate, idp, backend):
    """JWS ES256 signatures are r || s (RFC 7518 3.4): the ASN.1 DER form is refused."""
    signing_input = f"{b64url(idp.header_json('ES256'))}.{b64url(payload_bytes())}"
    der = idp.private["ec"].sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    token = f"{signing_input}.{b64url(der)}"
    assert_refused(gate, backend, bearer(token), token=token)


@pytest.mark.parametrize("alg,size", [("ES256", 64), ("ES384", 96), ("ES512", 132)])
def test_ecdsa_signature_of_zeros(gate, idp, backend, alg, size):
    """r = s = 0 (CVE-2022-21449, "psychic signatures") verifies nothing."""
    token = f"{b64url(idp.header_json(alg))}.{b64url(payload_bytes())}.{b64url(bytes(size))}"
    assert_refused(gate, backend, bearer(token), token=token)


def test_empty_signature(gate, idp, backend):
    header, payload, _ = segments(idp.token())
    token = f"{header}.{payload}."
    assert_refused(gate, backend, bearer(token), token=token)


@pytest.mark.parametrize("header", [
    {"kid": "idp-rsa"}, {"alg": ["RS256"], "kid": "idp-rsa"}, {"alg": "rs256", "kid": "idp-rsa"},
    {"alg": "RS256", "kid": 1}], ids=["no-alg", "alg-array", "alg-lowercase", "kid-number"])
def test_malformed_header_members(gate, idp, backend, header):
    token = idp.raw(json.dumps(header).encode(), payload_bytes())
    assert_refused(gate, backend, bearer(token), token=token)


def test_size_limit_is_16_kib(gate, idp, backend):
    """A token of exactly 16384 bytes is verified; one byte more is refused before parsing."""
    def of_length(length):
        guess = (length - len(idp.token(note=""))) * 3 // 4
        for filler in range(guess - 8, guess + 8):
            for pad in range(4):
                token = idp.token(note="x" * filler, header={"p": "y" * pad})
                if len(token) == length:
                    return token
        raise AssertionError(f"no token of {length} bytes")
    passes(gate, of_length(16384))
    token = of_length(16385)
    assert_refused(gate, backend, bearer(token), reason="16385", token=token)


def test_refused_token_leaves_the_variables_empty(nginx, idp, backend):
    """An invalid token under `satisfy any` with an allow rule: the request passes, but no claim
    of the refused token reaches the backend."""
    n = nginx(verifying(idp.jwks, body="""
            satisfy any;
            allow 127.0.0.1;
            deny all;
            proxy_set_header X-Payload $backend_jwt_in_payload;"""))
    token = idp.token(exp=int(time.time()) - 60)
    seen = n.seen("/", bearer(token))
    assert headers_named(seen, "X-Sub") == [] and headers_named(seen, "X-Payload") == []
