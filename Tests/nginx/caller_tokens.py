"""Callers' tokens for the `backend_jwt_verify` tests (issue 11): an identity provider made of the
harness keys (conftest `keys`), its key files in every form `backend_jwt_verify_key` reads, and
a token factory. Tokens are made by PyJWT, or, where a test needs bytes PyJWT would never
produce (duplicate members, padding, the base64 alphabet, a PEM as an HMAC secret), by hand
from JSON bytes, signed with PyJWT's own algorithm objects. Nothing here comes from the module."""

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization

from conftest import ALG_KEYS, SIGNING, b64url, headers_named, public_jwk

ISSUER = "https://idp.example.com/realms/acme"
AUDIENCE = "orders-api"
OMIT = object()  # a claim value that leaves the claim out

# WWW-Authenticate values (RFC 6750 section 3), exactly as the spec gives them
MISSING = "Bearer"
INVALID = 'Bearer error="invalid_token"'
INSUFFICIENT = 'Bearer error="insufficient_scope"'
REFUSED = "backend_jwt: token refused: "
NO_TOKEN = "backend_jwt: no token: "  # the reason when there is no token to refuse
HS = ("HS256", "HS384", "HS512")
ALL_ALGORITHMS = " ".join(SIGNING)  # every JWS algorithm, HS ones included


def kid_of(name):
    """The kid the IdP publishes for harness key `name` (rsa, ec384, secret, ...)."""
    return f"idp-{name}"


class IdP:
    """The identity provider: PyJWT-usable private keys for every algorithm (ALG_KEYS), the HMAC
    secret, and files: `jwks` (every key, asymmetric ones with `use` and `alg`, the secret as a
    `kty: oct` JWK without `alg`), `jwk[name]` (one JWK per file), `pem[name]` (SPKI public key
    per file); certificates and private PEMs are the `keys` fixture's own files."""

    def __init__(self, keys, directory):
        self.keys = keys
        self.dir = Path(directory)
        self.dir.chmod(0o755)
        self.private = {name: serialization.load_pem_private_key(Path(getattr(keys, name)).read_bytes(), None)
                        for name in set(ALG_KEYS.values()) - {"secret"}}
        self.secret = keys.secret_bytes
        self.entries = {}
        for alg, name in ALG_KEYS.items():
            if name == "secret":
                self.entries[name] = {"kty": "oct", "k": b64url(self.secret), "kid": kid_of(name)}
            else:
                self.entries[name] = {**public_jwk(keys.pub[name]), "use": "sig", "alg": alg,
                                      "kid": kid_of(name)}
        self.jwks = self.write("jwks.json", {"keys": list(self.entries.values())})
        self.jwk = {name: self.write(f"{name}.jwk", entry) for name, entry in self.entries.items()}
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        self.pem = {name: self.file(f"{name}.pub.pem", key.public_key().public_bytes(
            serialization.Encoding.PEM, spki)) for name, key in self.private.items()}

    def file(self, name, data: bytes):
        path = self.dir / name
        path.write_bytes(data)
        path.chmod(0o644)
        return str(path)

    def write(self, name, value):
        return self.file(name, json.dumps(value, indent=2).encode())

    def signing_key(self, alg):
        """What PyJWT signs `alg` with: the private key object, or the HMAC secret."""
        name = ALG_KEYS[alg]
        return self.secret if name == "secret" else self.private[name]

    # ------------------------------------------------------------ tokens

    @staticmethod
    def claims(**changes):
        """Claims a location configured with ISSUER and AUDIENCE accepts, now: changed by
        `changes`; a value of OMIT leaves the claim out."""
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 300}
        claims.update(changes)
        return {k: v for k, v in claims.items() if v is not OMIT}

    def token(self, alg="RS256", kid=True, header=None, signer=None, **changes):
        """A token PyJWT signs with `alg` and the IdP's key for it (or the key of `signer`, a
        harness key name), with claims(**changes). kid: True for the key's published kid, False
        for none, or a string."""
        name = signer or ALG_KEYS[alg]
        extra = dict(header or {})
        if kid is True:
            extra["kid"] = kid_of(name)
        elif kid:
            extra["kid"] = kid
        key = self.secret if name == "secret" else self.private[name]
        return jwt.encode(self.claims(**changes), key, algorithm=alg, headers=extra or None)

    def raw(self, header: bytes, payload: bytes, alg="RS256", encode=b64url, secret=None):
        """A token from JSON bytes as given: `encode` makes each segment (strict base64url by
        default), the signature is over the segments as they are in the token, with the IdP's key
        for `alg` (or the HMAC `secret` given, whatever it is)."""
        signing_input = f"{encode(header)}.{encode(payload)}".encode()
        if secret is not None:
            digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
            signature = hmac.new(secret, signing_input, digest).digest()
        else:
            algorithm = jwt.get_algorithm_by_name(alg)
            signature = algorithm.sign(signing_input, algorithm.prepare_key(self.signing_key(alg)))
        return f"{signing_input.decode()}.{encode(signature)}"

    def header_json(self, alg="RS256", **members):
        """Header JSON bytes with the published kid of `alg`'s key."""
        return json.dumps({"alg": alg, "kid": kid_of(ALG_KEYS[alg]), **members},
                          separators=(",", ":")).encode()


def payload_bytes(**changes):
    """IdP.claims(**changes) as compact JSON bytes."""
    return json.dumps(IdP.claims(**changes), separators=(",", ":")).encode()


def b64_padded(data: bytes) -> str:
    """base64url with its '=' padding kept."""
    return base64.urlsafe_b64encode(data).decode()


def b64_standard(data: bytes) -> str:
    """The standard base64 alphabet ('+', '/'), without padding."""
    return base64.b64encode(data).decode().rstrip("=")


def bearer(token):
    return [("Authorization", f"Bearer {token}")]


def segments(token):
    return token.split(".")


def decode_segment(segment):
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def refused_lines(log):
    """The error log lines that say why a request had no token or its token was refused."""
    return [line for line in log.splitlines() if REFUSED in line or NO_TOKEN in line]


def assert_refused(n, backend, headers, challenge=INVALID, status=401, reason=None, token=None, path="/"):
    """The request is answered `status` with exactly one WWW-Authenticate, `challenge`; the
    backend saw no request; the error log has a new `[info]` line saying why (`no token: ...`
    for a missing token, `token refused: ...` otherwise; containing `reason` when given) that
    holds neither the token nor its payload or signature segments."""
    hits = len(backend.hits)
    before = len(refused_lines(n.log()))
    code, response, body = n.request(path, headers)
    assert code == status, body
    assert headers_named(response, "WWW-Authenticate") == [challenge], response
    assert len(backend.hits) == hits, f"the backend was reached: {backend.hits[hits:]}"
    log = n.log()
    new = refused_lines(log)[before:]
    assert len(new) == 1, f"expected one refusal line, got:\n{log}"
    assert "[info]" in new[0], new[0]
    prefix = NO_TOKEN if challenge == MISSING else REFUSED
    assert prefix in new[0], new[0]
    if reason is not None:
        assert reason in new[0].split(prefix, 1)[1], new[0]
    if token:
        assert token not in log
        for part in segments(token)[1:]:
            if len(part) >= 16:
                assert part not in log, f"a segment of the token is in the log: {part}"
    return new[0]
