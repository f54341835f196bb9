"""The `backend_jwt_jwks` location: its JWK Set (every signer's public key, plus
`backend_jwt_jwks_key`), checked against JWKs built here from the keys; PyJWT's PyJWKClient
verifying tokens with it; and the HTTP side (ETag, 304, HEAD, 405, Content-Type)."""

import base64
import json

import jwt
import pytest

from conftest import (ALG_KEYS, ASYMMETRIC, HOST, cert_thumbprints, fetch_jwks, free_port,
                      only_token, public_jwk, signing_location, verify_with_jwks)
from cryptography.hazmat.primitives import serialization

JWKS = "location = /jwks { backend_jwt_jwks; }\n"
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k", "oth", "r", "t"}
CERTIFIED = {"RS256": "rsa", "ES256": "ec"}  # locations that also name a certificate


def entry(keys, name, alg, kid=None, cert=None):
    """The JWKS entry expected for key `name` published for `alg`."""
    e = {**public_jwk(keys.pub[name]), "use": "sig", "alg": alg, "kid": kid or keys.kid[name]}
    if cert:
        der = keys.certs[cert].public_bytes(serialization.Encoding.DER)
        e["x5c"] = [base64.b64encode(der).decode()]  # standard base64, padded (RFC 7517 4.7)
        e["x5t"], e["x5t#S256"] = cert_thumbprints(keys.certs[cert])
    return e


def by_kid_alg(entries):
    return sorted(entries, key=lambda e: (e.get("kid", ""), e["alg"]))


def every_signer(keys):
    """A location per algorithm (HMAC included), two of them with certificates."""
    cert_paths = {"rsa": keys.cert, "ec": keys.cert_ec}
    locations = []
    for alg in ALG_KEYS:
        body = f"backend_jwt_certificate {cert_paths[CERTIFIED[alg]]};" if alg in CERTIFIED else ""
        locations.append(signing_location(keys, alg, body, path=f"/{alg}/"))
    return JWKS + "".join(locations)


@pytest.fixture
def signers(nginx, keys, backend):
    return nginx(every_signer(keys))


def test_every_signer_published(signers, keys):
    code, headers, body = signers.request("/jwks")
    assert code == 200
    jwks = json.loads(body)
    assert list(jwks) == ["keys"]
    expected = [entry(keys, ALG_KEYS[alg], alg, cert=CERTIFIED.get(alg)) for alg in ASYMMETRIC]
    assert by_kid_alg(jwks["keys"]) == by_kid_alg(expected)
    for e in jwks["keys"]:
        assert not PRIVATE_MEMBERS & set(e), e
        if "x5c" in e:  # x5c is the certificate, DER in padded standard base64
            der = base64.b64decode(e["x5c"][0], validate=True)
            assert der == keys.certs[CERTIFIED[e["alg"]]].public_bytes(serialization.Encoding.DER)


def test_no_hmac_secret_published(signers, keys):
    _, _, body = signers.request("/jwks")
    assert all(e["kty"] in ("RSA", "EC", "OKP") for e in json.loads(body)["keys"])
    secret = keys.secret_bytes
    for form in (base64.b64encode(secret), base64.urlsafe_b64encode(secret).rstrip(b"="),
                 secret.hex().encode(), base64.b64encode(secret).rstrip(b"=")[:20]):
        assert form not in body


def test_tokens_verify_with_pyjwkclient(signers, keys):
    client = jwt.PyJWKClient(f"http://{HOST}:{signers.port}/jwks")
    for alg in ASYMMETRIC:
        token = only_token(signers.seen(f"/{alg}/"))
        signing_key = client.get_signing_key_from_jwt(token)  # picked by kid
        assert signing_key.key_id == keys.kid[ALG_KEYS[alg]]
        assert signing_key.algorithm_name == alg
        claims = jwt.decode(token, signing_key.key, algorithms=[signing_key.algorithm_name])
        assert claims["exp"] - claims["iat"] == 3600
        assert verify_with_jwks(token, fetch_jwks(signers))["jti"] == claims["jti"]


def test_jwks_key_public_and_private_pems(nginx, keys, backend):
    n = nginx(JWKS, http=f"""
    backend_jwt_jwks_key {keys.public};
    backend_jwt_jwks_key {keys.ed25519_public};
    backend_jwt_jwks_key {keys.ec384};
    backend_jwt_jwks_key {keys.ec521};
    backend_jwt_jwks_key {keys.rsa_pkcs1};""")  # the same key as public.pem: published once
    jwks = fetch_jwks(n)
    assert by_kid_alg(jwks["keys"]) == by_kid_alg([
        entry(keys, "rsa", "RS256"), entry(keys, "ed25519", "EdDSA"),
        entry(keys, "ec384", "ES384"), entry(keys, "ec521", "ES512")])
    assert not any(PRIVATE_MEMBERS & set(e) for e in jwks["keys"])


def test_jwks_key_alg(nginx, keys, backend):
    n = nginx(JWKS, http=f"""
    backend_jwt_jwks_key {keys.rsa3} alg=PS512;
    backend_jwt_jwks_key {keys.rsa3} alg=SHA384withRSA;
    backend_jwt_jwks_key {keys.ec_sec1} alg=es256;""")
    assert by_kid_alg(fetch_jwks(n)["keys"]) == by_kid_alg([
        entry(keys, "rsa3", "PS512"), entry(keys, "rsa3", "RS384"), entry(keys, "ec", "ES256")])


def test_signer_and_jwks_key_of_one_key_published_once(nginx, keys, backend):
    n = nginx(JWKS + signing_location(keys, "RS256", path="/a/") + signing_location(keys, "RS256", path="/b/"),
              http=f"    backend_jwt_jwks_key {keys.public};")
    assert fetch_jwks(n)["keys"] == [entry(keys, "rsa", "RS256")]


def test_entry_carries_the_kid_tokens_carry(nginx, keys, backend):
    n = nginx(JWKS + signing_location(keys, "ES384", "backend_jwt_key_id custom-kid;", path="/custom/")
              + signing_location(keys, "EdDSA", "backend_jwt_key_id off;", path="/off/"))
    custom_entry = entry(keys, "ec384", "ES384", kid="custom-kid")
    off_entry = entry(keys, "ed25519", "EdDSA")  # tokens carry no kid; the entry has the thumbprint
    jwks = fetch_jwks(n)
    assert by_kid_alg(jwks["keys"]) == by_kid_alg([custom_entry, off_entry])
    verify_with_jwks(only_token(n.seen("/custom/")), jwks)
    off_token = only_token(n.seen("/off/"))
    assert "kid" not in jwt.get_unverified_header(off_token)
    verify_with_jwks(off_token, jwks)


def test_jwks_spans_every_server_of_the_http_block(nginx, keys, backend):
    other = free_port()
    n = nginx(JWKS, http=f"""
    server {{
        listen {HOST}:{other};
        {signing_location(keys, "ES512")}
    }}""")
    assert fetch_jwks(n)["keys"] == [entry(keys, "ec521", "ES512")]


def test_empty_jwks(nginx, keys, backend):
    n = nginx(JWKS)
    code, headers, body = n.request("/jwks")
    assert (code, body) == (200, b'{"keys":[]}')


def test_keys_that_sign_nothing_are_not_published(nginx, keys, backend):
    n = nginx(JWKS + f"""
        location /none/ {{
            backend_jwt on;
            backend_jwt_signing_algorithm none;
            backend_jwt_signing_key {keys.rsa};
            proxy_pass BACKEND;
        }}
        location /off/ {{
            backend_jwt off;
            backend_jwt_signing_key {keys.ec};
            backend_jwt_signing_algorithm ES256;
            proxy_pass BACKEND;
        }}""")
    assert only_token(n.seen("/none/")).endswith(".")
    assert fetch_jwks(n) == {"keys": []}


def test_certificate_kept_when_the_same_key_also_signs_without_one(nginx, keys, backend):
    n = nginx(JWKS + signing_location(keys, "RS256", path="/plain/")
              + signing_location(keys, "RS256", f"backend_jwt_certificate {keys.cert};", path="/cert/"))
    token = only_token(n.seen("/cert/"))
    assert "x5t" in jwt.get_unverified_header(token)
    assert fetch_jwks(n)["keys"] == [entry(keys, "rsa", "RS256", cert="rsa")]



# ---------------------------------------------------------------- HTTP


def header(headers, name):
    values = [v for k, v in headers if k.lower() == name.lower()]
    assert len(values) == 1, headers
    return values[0]


def test_get_headers(signers):
    code, headers, body = signers.request("/jwks")
    assert code == 200
    assert header(headers, "Content-Type") == "application/json"
    assert header(headers, "Cache-Control") == "max-age=300"
    assert int(header(headers, "Content-Length")) == len(body)
    etag = header(headers, "ETag")
    assert etag.startswith('"') and etag.endswith('"') and len(etag) > 10


def test_if_none_match(signers):
    _, headers, body = signers.request("/jwks")
    etag = header(headers, "ETag")
    for match in (etag, f'"other", {etag}', "*"):
        code, got, again = signers.request("/jwks", [("If-None-Match", match)])
        assert (code, again) == (304, b""), match
        assert header(got, "ETag") == etag
    code, _, again = signers.request("/jwks", [("If-None-Match", '"other"')])
    assert (code, again) == (200, body)


def test_etag_follows_the_content(nginx, keys, backend):
    one = nginx(JWKS, http=f"    backend_jwt_jwks_key {keys.public};")
    same = nginx(JWKS, http=f"    backend_jwt_jwks_key {keys.public};")
    other = nginx(JWKS, http=f"    backend_jwt_jwks_key {keys.public} alg=PS256;")
    etags = [header(n.request("/jwks")[1], "ETag") for n in (one, same, other)]
    assert etags[0] == etags[1] != etags[2]


def test_head(signers):
    _, get_headers, body = signers.request("/jwks")
    code, headers, head_body = signers.request("/jwks", method="HEAD")
    assert (code, head_body) == (200, b"")
    for name in ("Content-Type", "Cache-Control", "ETag", "Content-Length"):
        assert header(headers, name) == header(get_headers, name)
    assert int(header(headers, "Content-Length")) == len(body)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS"])
def test_other_methods_not_allowed(signers, method):
    code, headers, body = signers.request("/jwks", method=method)
    assert code == 405
    assert b'"keys"' not in body


def test_signing_keys_come_before_published_ones(nginx, keys, backend):
    """During a rotation the key that signs is the first entry (verifiers that take the first key
    keep working), whatever the order of the directives: jwks_key is read before any location."""
    n = nginx(JWKS + signing_location(keys, "ES256", path="/es/") + signing_location(keys, "RS256", path="/rs/"),
              http=f"""    backend_jwt_jwks_key {keys.ed25519_public};
    backend_jwt_jwks_key {keys.rsa2};""")
    jwks = fetch_jwks(n)
    assert [e["kid"] for e in jwks["keys"]] == [keys.kid[k] for k in ("ec", "rsa", "ed25519", "rsa2")]
    first = jwt.PyJWK(jwks["keys"][0])
    jwt.decode(only_token(n.seen("/es/")), first.key, algorithms=["ES256"])
