"""Every algorithm, encoding, key form and JOSE header member, verified independently: PyJWT checks
the signatures; kid and x5t values are computed here from the keys and certificates."""

import base64
import json
import os
from pathlib import Path

import jwt
import pytest

from conftest import (ALG_KEYS, SIGNING, b64std_decode, b64url, cert_thumbprints, key_directive,
                      location, only_token, signature_bytes, signing_location, thumbprint,
                      verification_key, verify)

# one aligned "???>>>" is "Pz8/Pj4+" whatever the claim's offset: '+' and '/' in the payload
PLUS_SLASH = "???>>>x???>>>x???>>>"


def expected_header(keys, alg):
    name = ALG_KEYS[alg]
    header = {"alg": alg, "typ": "JWT"}
    if name != "secret":  # HMAC secrets get no default kid
        header["kid"] = keys.kid[name]
    return header


def verify_base64(token, alg, key):
    """Checks a base64 token (standard alphabet, no padding) with PyJWT's algorithm over the bytes
    actually signed, the standard-alphabet text; returns (header, payload) as dicts."""
    header, payload, signature = token.split(".")
    if alg == "none":
        assert signature == ""
    else:
        algorithm = jwt.get_algorithm_by_name(alg)
        assert algorithm.verify(f"{header}.{payload}".encode(), algorithm.prepare_key(key),
                                b64std_decode(signature)), token
    return json.loads(b64std_decode(header)), json.loads(b64std_decode(payload))


def decode_segment(segment):
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def test_thumbprint_helper_matches_the_rfc_examples():
    # RFC 7638 3.1 (RSA) and RFC 8037 A.3 (Ed25519): the helper the tests compare kids with
    n = ("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRX"
         "jBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAt"
         "aSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPk"
         "sINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
    assert thumbprint({"kty": "RSA", "n": n, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"}) == \
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    assert thumbprint({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}) == \
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


@pytest.mark.parametrize("encoding", ["base64url", "base64"])
@pytest.mark.parametrize("alg", SIGNING)
def test_every_algorithm(nginx, keys, backend, alg, encoding):
    n = nginx(signing_location(keys, alg, f'backend_jwt_encoding {encoding};\n backend_jwt_claim v "{PLUS_SLASH}";'))
    token = only_token(n.seen("/"))
    key = verification_key(keys, alg)
    if encoding == "base64":
        assert {"+", "/"} <= set(token.split(".")[1])
        header, claims = verify_base64(token, alg, key)
        with pytest.raises(jwt.InvalidSignatureError):  # not JWS: '+' and '/' are signed as such
            jwt.decode(token.replace("+", "-").replace("/", "_"), key, algorithms=[alg])
    else:
        assert not set(token) & {"+", "/", "="}
        claims, header = jwt.decode(token, key, algorithms=[alg]), jwt.get_unverified_header(token)
    assert claims["v"] == PLUS_SLASH and claims["exp"] - claims["iat"] == 3600
    assert header == expected_header(keys, alg)
    # ES: R || S of the curve's size (RFC 7518 3.4), not DER; the others their natural size
    signature = token.split(".")[2]
    raw = b64std_decode(signature) if encoding == "base64" else decode_segment(signature)
    assert len(raw) == signature_bytes(alg)


@pytest.mark.parametrize("encoding", ["base64url", "base64"])
def test_none(nginx, keys, backend, encoding):
    n = nginx(f"""
        location / {{
            backend_jwt on;
            backend_jwt_signing_algorithm none;
            backend_jwt_signing_key {keys.rsa};
            backend_jwt_encoding {encoding};
            backend_jwt_claim v "{PLUS_SLASH}";
            proxy_pass BACKEND;
        }}""")
    token = only_token(n.seen("/"))
    assert token.endswith(".") and token.count(".") == 2
    if encoding == "base64":
        header, claims = verify_base64(token, "none", None)
    else:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, algorithms=["none"], options={"verify_signature": False})
    assert header == {"alg": "none", "typ": "JWT"}  # no kid: nothing signs
    assert claims["v"] == PLUS_SLASH


@pytest.mark.parametrize("alias, alg", [
    ("SHA256withRSA", "RS256"), ("SHA384withRSA", "RS384"), ("SHA512withRSA", "RS512"),
    ("SHA256withRSAandMGF1", "PS256"), ("SHA384withRSAandMGF1", "PS384"), ("SHA512withRSAandMGF1", "PS512"),
    ("SHA256withRSA/PSS", "PS256"), ("SHA384withRSA/PSS", "PS384"), ("SHA512withRSA/PSS", "PS512"),
    ("SHA256withECDSA", "ES256"), ("SHA384withECDSA", "ES384"), ("SHA512withECDSA", "ES512"),
    ("HmacSHA256", "HS256"), ("HmacSHA384", "HS384"), ("HmacSHA512", "HS512"),
    ("Ed25519", "EdDSA"), ("eddsa", "EdDSA"), ("ED25519", "EdDSA"), ("ps384", "PS384"),
    ("sha512WITHecdsa", "ES512"), ("HMACSHA256", "HS256"), ("sha256withrsa/pss", "PS256"),
])
def test_alias(nginx, keys, backend, alias, alg):
    n = nginx(signing_location(keys, alg).replace(f"algorithm {alg};", f"algorithm {alias};"))
    token = only_token(n.seen("/"))
    jwt.decode(token, verification_key(keys, alg), algorithms=[alg])
    assert jwt.get_unverified_header(token) == expected_header(keys, alg)


@pytest.mark.parametrize("file, option", [
    ("secret", ""), ("secret_base64", "encoding=base64"), ("secret_base64url", "encoding=base64url"),
    ("secret_hex", "encoding=hex")])
@pytest.mark.parametrize("alg", ["HS256", "HS512"])
def test_hmac_secret_encodings(nginx, keys, backend, alg, file, option):
    n = nginx(location(keys, f"backend_jwt_signing_algorithm {alg};").replace(
        f"backend_jwt_signing_key {keys.rsa};", f"backend_jwt_signing_secret {getattr(keys, file)} {option};"))
    token = only_token(n.seen("/"))
    jwt.decode(token, keys.secret_bytes, algorithms=[alg])
    if option:  # the secret is the decoded bytes, not the text
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(token, Path(getattr(keys, file)).read_bytes().strip(), algorithms=[alg])
    assert jwt.get_unverified_header(token) == {"alg": alg, "typ": "JWT"}


def test_key_and_secret_replace_each_other_down_the_levels(nginx, keys, backend):
    n = nginx(f"""
        backend_jwt_signing_secret {keys.secret};
        backend_jwt_signing_algorithm HS384;
        location /secret/ {{ backend_jwt on; proxy_pass BACKEND; }}
        location /key/ {{
            backend_jwt on;
            backend_jwt_signing_key {keys.ed25519};
            backend_jwt_signing_algorithm EdDSA;
            proxy_pass BACKEND;
            location /key/secret/ {{
                backend_jwt_signing_secret {keys.secret_hex} encoding=hex;
                backend_jwt_signing_algorithm HS512;
                proxy_pass BACKEND;
            }}
        }}""")
    jwt.decode(only_token(n.seen("/secret/")), keys.secret_bytes, algorithms=["HS384"])
    jwt.decode(only_token(n.seen("/key/")), keys.pub["ed25519"], algorithms=["EdDSA"])
    jwt.decode(only_token(n.seen("/key/secret/")), keys.secret_bytes, algorithms=["HS512"])


def test_hmac_secret_of_exactly_the_hash_length(nginx, keys, backend, tmp_path):
    path = tmp_path / "secret32"
    path.write_bytes(keys.secret_bytes[:32])
    n = nginx(f"""
        location / {{
            backend_jwt on;
            backend_jwt_signing_algorithm HS256;
            backend_jwt_signing_secret {path};
            proxy_pass BACKEND;
        }}""")
    jwt.decode(only_token(n.seen("/")), keys.secret_bytes[:32], algorithms=["HS256"])


def test_encrypted_pkcs8_with_password_file(nginx, keys, backend):
    n = nginx(signing_location(keys, "RS384").replace(
        keys.rsa2, f"{keys.rsa_encrypted} password_file={keys.password}"))
    token = only_token(n.seen("/"))
    jwt.decode(token, keys.pub["rsa2"], algorithms=["RS384"])
    assert jwt.get_unverified_header(token)["kid"] == keys.kid["rsa2"]


def test_encrypted_pkcs8_with_relative_paths(nginx, keys, backend):
    n = nginx()  # to learn the prefix (the conf dir), then restart with relative paths
    key, password = (os.path.relpath(p, n.prefix) for p in (keys.rsa_encrypted, keys.password))
    assert not key.startswith("/") and not password.startswith("/")
    n.stop()
    n.start(signing_location(keys, "PS256").replace(keys.rsa4, f"{key} password_file={password}"))
    jwt.decode(only_token(n.seen("/")), keys.pub["rsa2"], algorithms=["PS256"])


def test_sec1_ec_key(nginx, keys, backend):
    n = nginx(signing_location(keys, "ES256").replace(keys.ec, keys.ec_sec1))
    token = only_token(n.seen("/"))
    jwt.decode(token, keys.pub["ec"], algorithms=["ES256"])
    assert jwt.get_unverified_header(token) == expected_header(keys, "ES256")


def test_pkcs1_and_pkcs8_forms_give_the_same_kid(nginx, keys, backend):
    n = nginx(location(keys, path="/pkcs8/") + location(keys, path="/pkcs1/").replace(keys.rsa, keys.rsa_pkcs1))
    assert verify(only_token(n.seen("/pkcs8/")), keys) and verify(only_token(n.seen("/pkcs1/")), keys)


@pytest.mark.parametrize("alg", ["RS256", "ES512", "EdDSA", "HS384"])
def test_custom_kid(nginx, keys, backend, alg):
    n = nginx(signing_location(keys, alg, "backend_jwt_key_id 'gateway key \"2026\" \\\\ ü';"))
    token = only_token(n.seen("/"))
    jwt.decode(token, verification_key(keys, alg), algorithms=[alg])
    assert jwt.get_unverified_header(token) == {"alg": alg, "typ": "JWT", "kid": 'gateway key "2026" \\ ü'}


@pytest.mark.parametrize("alg", ["PS512", "ES384", "HS256"])
def test_kid_off(nginx, keys, backend, alg):
    n = nginx(signing_location(keys, alg, "backend_jwt_key_id off;"))
    token = only_token(n.seen("/"))
    jwt.decode(token, verification_key(keys, alg), algorithms=[alg])
    assert jwt.get_unverified_header(token) == {"alg": alg, "typ": "JWT"}


def test_kid_inherited_and_overridden(nginx, keys, backend):
    n = nginx(f"""
        backend_jwt_key_id server-kid;
        {signing_location(keys, "RS256", path="/inherits/")}
        {signing_location(keys, "RS256", "backend_jwt_key_id off;", path="/off/")}
        {signing_location(keys, "ES256", "backend_jwt_key_id own;", path="/own/")}""")
    assert jwt.get_unverified_header(only_token(n.seen("/inherits/")))["kid"] == "server-kid"
    assert "kid" not in jwt.get_unverified_header(only_token(n.seen("/off/")))
    assert jwt.get_unverified_header(only_token(n.seen("/own/")))["kid"] == "own"


@pytest.mark.parametrize("alg, cert, kid", [("RS256", "rsa", True), ("PS256", "rsa", False),
                                            ("ES256", "ec", True)])
def test_certificate_adds_x5t(nginx, keys, backend, alg, cert, kid):
    path = keys.cert if cert == "rsa" else keys.cert_ec
    body = f"backend_jwt_certificate {path};" + ("" if kid else " backend_jwt_key_id off;")
    key = keys.rsa if cert == "rsa" else keys.ec
    n = nginx(signing_location(keys, alg, body).replace(key_directive(keys, alg),
                                                       f"backend_jwt_signing_key {key};"))
    token = only_token(n.seen("/"))
    jwt.decode(token, keys.pub[cert], algorithms=[alg])
    x5t, x5t_s256 = cert_thumbprints(keys.certs[cert])
    header = {"alg": alg, "typ": "JWT", "x5t": x5t, "x5t#S256": x5t_s256}
    if kid:
        header["kid"] = keys.kid[cert]
    assert jwt.get_unverified_header(token) == header
    # RFC 7515 4.1.7/4.1.8 form (base64url of the digest), not WSO2's hex
    assert len(decode_segment(x5t)) == 20 and len(decode_segment(x5t_s256)) == 32


def test_header_member_order(nginx, keys, backend):
    n = nginx(location(keys, f"backend_jwt_certificate {keys.cert};"))
    header = only_token(n.seen("/")).split(".")[0]
    names = [k for k, _ in json.loads(decode_segment(header), object_pairs_hook=list)]
    assert names == ["alg", "typ", "kid", "x5t", "x5t#S256"]
    assert b64url(decode_segment(header)) == header
