"""`nginx -t` rejects every key that cannot sign as configured: one test per error, each matching
the whole `[emerg]` line, with the file and the exact line (marked `#HERE`). Errors of a directive
read `"<directive>" directive: <message>`; errors found when levels merge (the key does not fit
the algorithm, the certificate is not for the key) read `backend_jwt: <message>`."""

import re
import shutil
from pathlib import Path

import pytest

from conftest import assert_emerg, signing_location

MISSING = "/nonexistent/backend-jwt/password"
ALGORITHMS = ("use one of HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, "
              "ES384, ES512, EdDSA, NONE or a Java-style name such as SHA256withRSA")


@pytest.fixture(scope="module")
def bad(keys, tmp_path_factory):
    """Files that hold something wrong."""
    d = tmp_path_factory.mktemp("bad-keys")
    d.chmod(0o755)
    files = {"short31": keys.secret_bytes[:31], "short63": keys.secret_bytes[:63],
             "not_base64": b"this is not base64!\n", "odd_hex": b"abc\n", "not_hex": b"zz" * 40,
             "empty_password": b"\n"}
    for name, data in files.items():
        (d / name).write_bytes(data)
    return {name: str(d / name) for name in files}


def location(body):
    return f"""
        location / {{
            backend_jwt on;
            {body}
            proxy_pass BACKEND;
        }}"""


def directive(name, message):
    return f'"{name}" directive: {message}'


def merged(message):
    return f"backend_jwt: {message}"


def mismatch(path, alg, type_, why="", noun="key file"):
    return merged(f'{noun} "{path}" holds a key of type {type_}, which cannot sign {alg}{why}')


# ---------------------------------------------------------------- the key does not fit


def test_rsa_key_with_es256(nginx_t, keys):
    result = nginx_t(location(f"""backend_jwt_signing_algorithm ES256;
            backend_jwt_signing_key {keys.rsa}; #HERE"""))
    assert_emerg(result, mismatch(keys.rsa, "ES256", "RSA 2048-bit", "; ES256 needs an EC P-256 key"))


def test_p256_key_with_es384(nginx_t, keys):
    result = nginx_t(location(f"""backend_jwt_signing_key {keys.ec}; #HERE
            backend_jwt_signing_algorithm ES384;"""))
    assert_emerg(result, mismatch(keys.ec, "ES384", "EC P-256", "; ES384 needs an EC P-384 key"))


def test_p521_key_with_es256_inherited_from_server(nginx_t, keys):
    result = nginx_t(f"backend_jwt_signing_key {keys.ec521}; #HERE\n"
                     + location("backend_jwt_signing_algorithm SHA256withECDSA;"))
    assert_emerg(result, mismatch(keys.ec521, "ES256", "EC P-521", "; ES256 needs an EC P-256 key"))


def test_ed25519_key_with_rs256(nginx_t, keys):
    result = nginx_t(location(f"backend_jwt_signing_key {keys.ed25519}; #HERE"))
    assert_emerg(result, mismatch(keys.ed25519, "RS256", "Ed25519", "; RS256 needs an RSA key"))


def test_rsa_key_with_eddsa(nginx_t, keys):
    result = nginx_t(location(f"""backend_jwt_signing_key {keys.rsa}; #HERE
            backend_jwt_signing_algorithm Ed25519;"""))
    assert_emerg(result, mismatch(keys.rsa, "EdDSA", "RSA 2048-bit", "; EdDSA needs an Ed25519 key"))


@pytest.mark.parametrize("alg, file, size", [("HS256", "short31", 31), ("HS512", "short63", 63)])
def test_secret_too_short(nginx_t, keys, bad, alg, file, size):
    result = nginx_t(location(f"""backend_jwt_signing_algorithm {alg};
            backend_jwt_signing_secret {bad[file]}; #HERE"""))
    hash_bytes = int(alg[2:]) // 8
    assert_emerg(result, merged(
        f'secret file "{bad[file]}" holds a key of type HMAC secret of {size} bytes, which cannot sign '
        f"{alg}; {alg} needs a secret of at least {hash_bytes} bytes (RFC 7518 3.2)"))


def test_secret_with_rs256(nginx_t, keys):
    result = nginx_t(location(f"""backend_jwt_signing_secret {keys.secret}; #HERE
            backend_jwt_signing_algorithm RS256;"""))
    assert_emerg(result, mismatch(keys.secret, "RS256", "HMAC secret of 64 bytes",
                                  "; RS256 needs an RSA key", noun="secret file"))


def test_rsa_key_with_hs256(nginx_t, keys):
    result = nginx_t(location(f"""backend_jwt_signing_algorithm HmacSHA256;
            backend_jwt_signing_key {keys.rsa}; #HERE"""))
    assert_emerg(result, mismatch(keys.rsa, "HS256", "RSA 2048-bit",
                                  "; HS256 needs backend_jwt_signing_secret"))


def test_key_and_secret_at_one_level(nginx_t, keys):
    result = nginx_t(location(f"""backend_jwt_signing_key {keys.rsa};
            backend_jwt_signing_secret {keys.secret}; #HERE"""))
    assert_emerg(result, '"backend_jwt_signing_secret" directive is duplicate (a level signs with one key or secret)')


def test_no_secret_for_hs256(nginx_t, keys):
    result = nginx_t("""
        location / {
            backend_jwt on; #HERE
            backend_jwt_signing_algorithm HS256;
            proxy_pass BACKEND;
        }""")
    assert_emerg(result, merged("no signing key: HS256 needs backend_jwt_signing_secret"))


def test_key_in_an_included_file(nginx_t, keys, tmp_path):
    included = tmp_path / "signing.conf"
    included.write_text(f"# the signing key\nbackend_jwt_signing_key {keys.ec};\n")
    code, out, _, _ = nginx_t(f"include {included};" + location(""))
    assert code != 0
    message = mismatch(keys.ec, "RS256", "EC P-256", "; RS256 needs an RSA key")
    assert f"nginx: [emerg] {message} in {included}:2" in out.splitlines(), out


def test_long_key_path_named_in_full(nginx_t, keys):
    long_dir = Path(keys.dir) / ("a-rather-long-directory-name-" * 3)
    long_dir.mkdir(exist_ok=True)
    path = shutil.copy(keys.ec, long_dir / "signing-key.pem")
    result = nginx_t(location(f"backend_jwt_signing_key {path}; #HERE"))
    assert_emerg(result, mismatch(str(path), "RS256", "EC P-256", "; RS256 needs an RSA key"))


# ---------------------------------------------------------------- encrypted keys


def test_encrypted_key_without_password_file(nginx_t, keys):
    result = nginx_t(location(f"backend_jwt_signing_key {keys.rsa_encrypted}; #HERE"))
    assert_emerg(result, directive("backend_jwt_signing_key", f'key file "{keys.rsa_encrypted}" holds an '
                                   "encrypted private key; name its password with password_file="))


def test_encrypted_key_wrong_password(nginx_t, keys):
    result = nginx_t(location(
        f"backend_jwt_signing_key {keys.rsa_encrypted} password_file={keys.wrong_password}; #HERE"))
    assert_emerg(result, directive("backend_jwt_signing_key", f'key file "{keys.rsa_encrypted}" holds an '
                                   "encrypted private key that the password does not open"))


def test_encrypted_key_missing_password_file(nginx_t, keys):
    result = nginx_t(location(f"backend_jwt_signing_key {keys.rsa_encrypted} password_file={MISSING}; #HERE"))
    assert_emerg(result, directive("backend_jwt_signing_key",
                                   f'cannot open password file "{MISSING}": No such file or directory'))


def test_encrypted_key_empty_password_file(nginx_t, keys, bad):
    result = nginx_t(location(
        f"backend_jwt_signing_key {keys.rsa_encrypted} password_file={bad['empty_password']}; #HERE"))
    assert_emerg(result, directive("backend_jwt_signing_key",
                                   f'password file "{bad["empty_password"]}" is empty'))


def test_signing_key_unknown_option(nginx_t, keys):
    result = nginx_t(location(f"backend_jwt_signing_key {keys.rsa} password=x; #HERE"))
    assert_emerg(result, directive("backend_jwt_signing_key",
                                   'unknown option "password=x"; the only option is password_file=FILE'))


# ---------------------------------------------------------------- secrets


def test_secret_bad_encoding_option(nginx_t, keys):
    result = nginx_t(location(f"backend_jwt_signing_secret {keys.secret} encoding=base32; #HERE"))
    assert_emerg(result, directive("backend_jwt_signing_secret", 'unknown option "encoding=base32"; '
                                   "use encoding=base64, encoding=base64url or encoding=hex"))


@pytest.mark.parametrize("file, encoding", [
    ("not_base64", "base64"), ("not_hex", "hex"), ("odd_hex", "hex"),
    # each base64 alphabet refuses the other's two characters
    ("secret_base64url", "base64"), ("secret_base64", "base64url")])
def test_secret_not_in_its_encoding(nginx_t, keys, bad, file, encoding):
    path = bad.get(file) or getattr(keys, file)
    result = nginx_t(location(f"backend_jwt_signing_secret {path} encoding={encoding}; #HERE"))
    assert_emerg(result, directive("backend_jwt_signing_secret", f'secret file "{path}" is not valid {encoding}'))


# ---------------------------------------------------------------- certificates


def test_certificate_not_for_the_key(nginx_t, keys):
    result = nginx_t(signing_location(keys, "ES256", f"backend_jwt_certificate {keys.cert}; #HERE"))
    assert_emerg(result, merged(f'certificate file "{keys.cert}" is not for the signing key in "{keys.ec}"'))


def test_certificate_of_another_rsa_key(nginx_t, keys):
    # the certificate is inherited from the server; the location signs with another key
    result = nginx_t(f"backend_jwt_certificate {keys.cert}; #HERE\n" + signing_location(keys, "RS384"))
    assert_emerg(result, merged(f'certificate file "{keys.cert}" is not for the signing key in "{keys.rsa2}"'))


@pytest.mark.parametrize("file", ["garbage", "rsa"])
def test_certificate_file_without_certificate(nginx_t, keys, file):
    path = getattr(keys, file)
    result = nginx_t(location(f"""backend_jwt_signing_key {keys.rsa};
            backend_jwt_certificate {path}; #HERE"""))
    assert_emerg(result, directive("backend_jwt_certificate", f'certificate file "{path}" holds no PEM certificate'))


# ---------------------------------------------------------------- algorithms and the JWKS


@pytest.mark.parametrize("name", ["ES256K", "SHA1withRSA", "HS128", "Ed448"])
def test_unknown_algorithm(nginx_t, keys, name):
    result = nginx_t(location(f"backend_jwt_signing_algorithm {name}; #HERE"))
    assert_emerg(result, directive("backend_jwt_signing_algorithm",
                                   f'unknown signing algorithm "{name}"; {ALGORITHMS}'))


@pytest.mark.parametrize("where", ["server", "location"])
def test_jwks_key_outside_http(nginx_t, keys, where):
    line = f"backend_jwt_jwks_key {keys.public}; #HERE"
    result = nginx_t(line if where == "server" else f"location / {{\n {line}\n }}")
    assert_emerg(result, '"backend_jwt_jwks_key" directive is not allowed here')


def test_jwks_key_unknown_algorithm(nginx_t, keys):
    result = nginx_t(http=f"    backend_jwt_jwks_key {keys.public} alg=XS256; #HERE")
    assert_emerg(result, directive("backend_jwt_jwks_key", f'unknown signing algorithm "XS256"; {ALGORITHMS}'))


def test_jwks_key_unknown_option(nginx_t, keys):
    result = nginx_t(http=f"    backend_jwt_jwks_key {keys.public} algorithm=RS256; #HERE")
    assert_emerg(result, directive("backend_jwt_jwks_key",
                                   'unknown option "algorithm=RS256"; the only option is alg=ALGORITHM'))


def test_jwks_key_algorithm_does_not_fit(nginx_t, keys):
    result = nginx_t(http=f"    backend_jwt_jwks_key {keys.public} alg=ES256; #HERE")
    assert_emerg(result, directive("backend_jwt_jwks_key", f'key file "{keys.public}" holds a key of type '
                                   "RSA 2048-bit, which cannot sign ES256; ES256 needs an EC P-256 key"))


@pytest.mark.parametrize("alg", ["HS256", "none"])
def test_jwks_key_algorithm_without_a_public_key(nginx_t, keys, alg):
    result = nginx_t(http=f"    backend_jwt_jwks_key {keys.public} alg={alg}; #HERE")
    name = "none" if alg == "none" else alg
    assert_emerg(result, directive("backend_jwt_jwks_key", f"alg={name} has no public key to publish"))


def test_jwks_key_garbage(nginx_t, keys):
    result = nginx_t(http=f"    backend_jwt_jwks_key {keys.garbage}; #HERE")
    assert_emerg(result, directive("backend_jwt_jwks_key", f'key file "{keys.garbage}" holds no PEM key'))


def test_every_error_names_no_key_bytes(nginx_t, keys):
    """A refused key is named by its path only: no PEM text in the output."""
    _, out, _, _ = nginx_t(location(f"""backend_jwt_signing_algorithm ES256;
            backend_jwt_signing_key {keys.rsa}; #HERE"""))
    assert not re.search(r"BEGIN|MII[A-Za-z0-9+/]{20}", out), out
