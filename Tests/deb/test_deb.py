"""The Debian package (build/deb.sh) with the system's nginx: installed with apt, it puts the
module and the core in /usr/lib/nginx/modules/, its modules-available snippet, and the
modules-enabled link, fires the nginx-reload trigger, and the system nginx loads it (`nginx -t`
of a configuration that uses it); removed, the link is gone and `nginx -t` still passes; purged,
nothing is left. Changes the system (runs as root): the package is purged again at the end, also
when a check fails, and the system nginx is never started."""

import glob
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PKG = "libnginx-mod-http-backend-jwt"
MODULES = Path("/usr/lib/nginx/modules")
AVAILABLE = Path("/usr/share/nginx/modules-available/mod-http-backend-jwt.conf")
ENABLED = Path("/etc/nginx/modules-enabled/50-mod-http-backend-jwt.conf")
NGINX = "/usr/sbin/nginx"
ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive")


def run(*args, check=True):
    p = subprocess.run(args, capture_output=True, text=True, env=ENV, timeout=300)
    out = p.stdout + p.stderr
    assert not check or p.returncode == 0, f"{args}: {out}"
    return p.returncode, out


def installed():
    code, out = run("dpkg-query", "-W", "-f=${Status}", PKG, check=False)
    return code == 0 and "installed" in out and "not-installed" not in out


def system_nginx_masters():
    """pids of masters of the system nginx (those started without -p, the harness's use -p)."""
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines()
            if "nginx: master process" in line and " -p " not in line}


@pytest.fixture
def deb():
    found = sorted(glob.glob(str(ROOT / "build" / "out" / f"{PKG}_*.deb")))
    assert len(found) == 1, f"one package expected in build/out (build/deb.sh): {found}"
    assert os.geteuid() == 0, "installs a package: run as root"
    assert not installed(), f"{PKG} is installed already: this test would change the system's state"
    masters = system_nginx_masters()
    yield found[0]
    if installed() or ENABLED.with_name(ENABLED.name + ".removed").is_symlink():
        run("apt-get", "purge", "-y", "-q", PKG, check=False)
    assert system_nginx_masters() == masters, "the system nginx was started or stopped"


def conf(tmp_path, key):
    """A configuration the system nginx reads the Debian way (modules-enabled) using the module."""
    path = tmp_path / "nginx.conf"
    path.write_text(f"""
include /etc/nginx/modules-enabled/*.conf;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{ }}
http {{
    access_log off;
    server {{
        listen 127.0.0.1:1;
        location / {{
            backend_jwt on;
            backend_jwt_signing_key {key};
            backend_jwt_signing_algorithm ES256;
            proxy_pass http://127.0.0.1:2;
        }}
    }}
}}
""")
    return str(path)


def test_install_use_remove(deb, tmp_path):
    key = tmp_path / "signing.pem"
    run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(key))
    using = conf(tmp_path, key)

    # the control file: the ABI of the system's nginx, as Debian's module packages
    provides = run("dpkg-query", "-W", "-f=${Provides}", "nginx")[1]
    abi = re.search(r"nginx-abi-[^ ,]+", provides).group(0)
    _, depends = run("dpkg-deb", "-f", deb, "Depends")
    assert abi in [d.strip().split(" ")[0] for d in depends.split(",")], depends
    # and the layout
    _, listing = run("dpkg-deb", "-c", deb)
    files = sorted(line.split()[-1] for line in listing.splitlines() if not line.startswith("d"))
    docs = sorted(f"./usr/share/doc/libnginx-mod-http-backend-jwt/docs/{p.name}"
                  for p in (ROOT / "docs").glob("*.md"))
    assert docs, "no docs/*.md"
    assert files == sorted([
        "./usr/lib/nginx/modules/libbackendjwt.so",
        "./usr/lib/nginx/modules/ngx_http_backend_jwt_module.so",
        "./usr/share/doc/libnginx-mod-http-backend-jwt/README.md",
        "./usr/share/nginx/modules-available/mod-http-backend-jwt.conf"] + docs), listing
    # before: the directives are unknown to the system nginx
    code, out = run(NGINX, "-t", "-c", using, check=False)
    assert code != 0 and 'unknown directive "backend_jwt"' in out, out

    _, out = run("apt-get", "install", "-y", "-q", deb)
    assert installed()
    assert re.search(r"Processing triggers for nginx \(", out), out  # the nginx-reload trigger
    for f in ("ngx_http_backend_jwt_module.so", "libbackendjwt.so"):
        assert (MODULES / f).is_file()
    assert AVAILABLE.read_text() == "load_module modules/ngx_http_backend_jwt_module.so;\n"
    assert ENABLED.is_symlink() and os.readlink(ENABLED) == str(AVAILABLE)
    # the module loads from the packaged paths and finds its core beside itself
    _, out = run("ldd", str(MODULES / "ngx_http_backend_jwt_module.so"))
    assert f"libbackendjwt.so => {MODULES}/libbackendjwt.so" in out, out
    _, out = run(NGINX, "-t", "-c", using)
    assert "test is successful" in out, out
    # and the system's own configuration (which includes modules-enabled) still passes
    _, out = run(NGINX, "-t")
    assert "test is successful" in out, out
    _, out = run(NGINX, "-T")
    assert "load_module modules/ngx_http_backend_jwt_module.so;" in out

    _, out = run("apt-get", "remove", "-y", "-q", PKG)
    assert not installed()
    assert not ENABLED.exists() and not ENABLED.is_symlink()
    assert not (MODULES / "ngx_http_backend_jwt_module.so").exists()
    assert not (MODULES / "libbackendjwt.so").exists()
    _, out = run(NGINX, "-t")
    assert "test is successful" in out, out
    code, out = run(NGINX, "-t", "-c", using, check=False)
    assert code != 0 and 'unknown directive "backend_jwt"' in out, out
    # as dh_nginx's scripts: remove keeps the admin's choice as a .removed link, purge drops it
    assert ENABLED.with_name(ENABLED.name + ".removed").is_symlink()
    run("apt-get", "purge", "-y", "-q", PKG)
    assert not ENABLED.with_name(ENABLED.name + ".removed").is_symlink()
    assert not AVAILABLE.exists()
