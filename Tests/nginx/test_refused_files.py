"""Files `nginx -t` refuses before they can do harm: a FIFO (or anything not a regular file) named
as any key, secret, password or certificate file is refused at once, without opening it in a way
that blocks; a secret file that holds a key; a key or certificate file with two PEM blocks or with
text around its block."""

import os
import time

import pytest

from conftest import assert_emerg
from test_key_errors import directive, location


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "fifo"
    os.mkfifo(path)
    tmp_path.chmod(0o755)
    return str(path)


def timed(nginx_t, *args, **kwargs):
    started = time.monotonic()
    result = nginx_t(*args, **kwargs)
    assert time.monotonic() - started < 10, "nginx -t took too long: blocked on the FIFO?"
    return result


# ---------------------------------------------------------------- FIFOs


def test_fifo_as_signing_key(nginx_t, keys, fifo):
    result = timed(nginx_t, location(f"backend_jwt_signing_key {fifo}; #HERE"))
    assert_emerg(result, directive("backend_jwt_signing_key", f'key file "{fifo}" is not a regular file (a FIFO)'))


def test_fifo_as_password_file(nginx_t, keys, fifo):
    result = timed(nginx_t, location(f"backend_jwt_signing_key {keys.rsa_encrypted} password_file={fifo}; #HERE"))
    assert_emerg(result, directive("backend_jwt_signing_key", f'password file "{fifo}" is not a regular file (a FIFO)'))


def test_fifo_as_signing_secret(nginx_t, keys, fifo):
    result = timed(nginx_t, location(f"""backend_jwt_signing_algorithm HS256;
            backend_jwt_signing_secret {fifo}; #HERE"""))
    assert_emerg(result, directive("backend_jwt_signing_secret", f'secret file "{fifo}" is not a regular file (a FIFO)'))


def test_fifo_as_certificate(nginx_t, keys, fifo):
    result = timed(nginx_t, location(f"""backend_jwt_signing_key {keys.rsa};
            backend_jwt_certificate {fifo}; #HERE"""))
    assert_emerg(result, directive("backend_jwt_certificate",
                                   f'certificate file "{fifo}" is not a regular file (a FIFO)'))


def test_fifo_as_jwks_key(nginx_t, keys, fifo):
    result = timed(nginx_t, "location = /jwks { backend_jwt_jwks; }",
                   http=f"    backend_jwt_jwks_key {fifo}; #HERE")
    assert_emerg(result, directive("backend_jwt_jwks_key", f'key file "{fifo}" is not a regular file (a FIFO)'))


# ---------------------------------------------------------------- what a file holds


@pytest.fixture
def files(keys, tmp_path):
    tmp_path.chmod(0o755)
    rsa = open(keys.rsa).read()
    made = {
        "two_keys": rsa + open(keys.ec).read(),
        "text_before": "Bag Attributes\n    localKeyID: 01\n" + rsa,
        "text_after": rsa + "some notes\n",
        "chain": open(keys.cert).read() + open(keys.cert_ec).read(),
    }
    for name, text in made.items():
        (tmp_path / name).write_text(text)
        (tmp_path / name).chmod(0o600)
    return {name: str(tmp_path / name) for name in made}


def test_pem_key_as_secret(nginx_t, keys):
    result = nginx_t(location(f"""backend_jwt_signing_algorithm HS256;
            backend_jwt_signing_secret {keys.rsa}; #HERE"""))
    assert_emerg(result, directive("backend_jwt_signing_secret",
                                   f'secret file "{keys.rsa}" holds a PEM block ("PRIVATE KEY"), not an HMAC secret; '
                                   "a key goes to backend_jwt_signing_key"))


def test_der_key_as_secret(nginx_t, keys, tmp_path):
    from cryptography.hazmat.primitives import serialization
    der = tmp_path / "key.der"
    der.write_bytes(keys.public_key.public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo))
    tmp_path.chmod(0o755)
    result = nginx_t(location(f"""backend_jwt_signing_algorithm HS256;
            backend_jwt_signing_secret {der}; #HERE"""))
    assert_emerg(result, directive("backend_jwt_signing_secret",
                                   f'secret file "{der}" holds a DER public key, not an HMAC secret; '
                                   "a key goes to backend_jwt_signing_key, as PEM (openssl pkey -inform DER -in FILE)"))


def test_two_keys_in_one_file(nginx_t, files):
    result = nginx_t(location(f"backend_jwt_signing_key {files['two_keys']}; #HERE"))
    assert_emerg(result, directive("backend_jwt_signing_key", f'key file "{files["two_keys"]}" holds 2 PEM blocks '
                                   '("PRIVATE KEY", "PRIVATE KEY"); put one key in it'))


@pytest.mark.parametrize("name, place", [("text_before", "before"), ("text_after", "after")])
def test_text_around_the_key(nginx_t, files, name, place):
    result = nginx_t(location(f"backend_jwt_signing_key {files[name]}; #HERE"))
    assert_emerg(result, directive("backend_jwt_signing_key", f'key file "{files[name]}" has text {place} its PEM '
                                   "block; remove it, the file must hold only one key"))


def test_two_keys_as_jwks_key(nginx_t, files):
    result = nginx_t("location = /jwks { backend_jwt_jwks; }",
                     http=f"    backend_jwt_jwks_key {files['two_keys']}; #HERE")
    assert_emerg(result, directive("backend_jwt_jwks_key", f'key file "{files["two_keys"]}" holds 2 PEM blocks '
                                   '("PRIVATE KEY", "PRIVATE KEY"); put one key in it'))


def test_certificate_chain(nginx_t, keys, files):
    result = nginx_t(location(f"""backend_jwt_signing_key {keys.rsa};
            backend_jwt_certificate {files['chain']}; #HERE"""))
    assert_emerg(result, directive("backend_jwt_certificate", f'certificate file "{files["chain"]}" holds 2 PEM '
                                   'blocks ("CERTIFICATE", "CERTIFICATE"); put one certificate, the signing key\'s '
                                   "(chains are not supported) in it"))
