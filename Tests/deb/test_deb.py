"""The Debian packages (build/deb.sh) with the system's nginx: installed with apt, the module's
puts the module and the core in /usr/lib/nginx/modules/, its modules-available snippet, and the
modules-enabled link, fires the nginx-reload trigger, and the system nginx loads it (`nginx -t`
of a configuration that uses it); removed, the link is gone and `nginx -t` still passes; purged,
nothing is left. backend-jwt-migrate's installs /usr/bin/backend-jwt-migrate, which prints the
version both packages carry. lintian finds no error or warning in either. Changes the system
(runs as root): the packages are purged again at the end, also when a check fails, and the system
nginx is never started."""

import glob
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PKG = "libnginx-mod-http-backend-jwt"
TOOL_PKG = "backend-jwt-migrate"
VERSION = re.search(r'#define BJWT_VERSION +"([^"]+)"', (ROOT / "include" / "backend_jwt.h").read_text()).group(1)
MAINTAINER = next(line for line in (ROOT / "MAINTAINERS").read_text().splitlines() if line and not line.startswith("#"))
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


def installed(pkg=PKG):
    code, out = run("dpkg-query", "-W", "-f=${Status}", pkg, check=False)
    return code == 0 and "installed" in out and "not-installed" not in out


def system_nginx_masters():
    """pids of masters of the system nginx (those started without -p, the harness's use -p)."""
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines()
            if "nginx: master process" in line and " -p " not in line}


def package(name):
    found = sorted(glob.glob(str(ROOT / "build" / "out" / f"{name}_*.deb")))
    assert len(found) == 1, f"one {name} package expected in build/out (build/deb.sh): {found}"
    return found[0]


@pytest.fixture
def deb():
    found = package(PKG)
    assert os.geteuid() == 0, "installs a package: run as root"
    assert not installed(), f"{PKG} is installed already: this test would change the system's state"
    masters = system_nginx_masters()
    yield found
    if installed() or ENABLED.with_name(ENABLED.name + ".removed").is_symlink():
        run("apt-get", "purge", "-y", "-q", PKG, check=False)
    assert system_nginx_masters() == masters, "the system nginx was started or stopped"


@pytest.fixture
def tool_deb():
    found = package(TOOL_PKG)
    assert os.geteuid() == 0, "installs a package: run as root"
    assert not installed(TOOL_PKG), f"{TOOL_PKG} is installed already: this test would change the system's state"
    yield found
    if installed(TOOL_PKG):
        run("apt-get", "purge", "-y", "-q", TOOL_PKG, check=False)


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
        "./usr/share/doc/libnginx-mod-http-backend-jwt/changelog.gz",
        "./usr/share/doc/libnginx-mod-http-backend-jwt/copyright",
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


def test_both_packages_carry_the_version_and_the_maintainer():
    """One version (include/backend_jwt.h) and one maintainer (MAINTAINERS) in both packages; both
    say what they do; the tool's package does not need nginx."""
    for name in (PKG, TOOL_PKG):
        deb = package(name)
        assert Path(deb).name == f"{name}_{VERSION}_{run('dpkg', '--print-architecture')[1].strip()}.deb"
        _, fields = run("dpkg-deb", "-f", deb, "Version", "Maintainer", "Description")
        assert f"Version: {VERSION}\n" in fields and f"Maintainer: {MAINTAINER}\n" in fields, fields
        assert "localhost" not in fields
    _, description = run("dpkg-deb", "-f", package(PKG), "Description")
    assert "verif" in description and "mint" in description, description
    _, depends = run("dpkg-deb", "-f", package(TOOL_PKG), "Depends")
    assert "nginx" not in depends, depends
    # the copyright file names the statically linked Swift runtime's licence
    for name, binary in ((PKG, "usr/lib/nginx/modules/libbackendjwt.so"), (TOOL_PKG, "usr/bin/backend-jwt-migrate")):
        p = subprocess.run(f"dpkg-deb --fsys-tarfile {package(name)} | tar -xOf - ./usr/share/doc/{name}/copyright",
                           shell=True, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        assert f"Files: {binary}" in p.stdout and "Apache-2.0 WITH Swift-exception" in p.stdout, p.stdout
        assert "Runtime Library" in p.stdout and "BSD-2-Clause" in p.stdout


def test_lintian():
    """lintian on both packages: no error, no warning; the overrides build/deb.sh explains are the
    only ones (shown as O:)."""
    p = subprocess.run(["lintian", "--show-overrides", package(PKG), package(TOOL_PKG)],
                       capture_output=True, text=True, timeout=600)
    lines = p.stdout.splitlines()
    assert not [l for l in lines if l.startswith(("E:", "W:"))], p.stdout + p.stderr
    assert sorted(l.split(" ", 2)[2] for l in lines if l.startswith("O:")) == sorted([
        "embedded-library libyaml [usr/bin/backend-jwt-migrate]",
        "no-manual-page [usr/bin/backend-jwt-migrate]"]), p.stdout


def test_install_the_tool(tool_deb, tmp_path):
    """The tool's package alone: /usr/bin/backend-jwt-migrate prints the version and converts."""
    run("apt-get", "install", "-y", "-q", tool_deb)
    assert installed(TOOL_PKG) and not installed()  # no nginx module pulled in
    _, out = run("/usr/bin/backend-jwt-migrate", "--version")
    assert out.strip() == VERSION
    _, out = run("/usr/bin/backend-jwt-migrate", str(ROOT / "Tests" / "BackendJWTMigrateTests" / "Fixtures" / "seed.apk-conf"),
                 "--signing-key", "/etc/nginx/jwt/apk.pem", "--verify-key", "/etc/nginx/jwt/idp.json")
    assert "backend_jwt_verify on;" in out and "backend_jwt_signing_key /etc/nginx/jwt/apk.pem;" in out
    run("apt-get", "purge", "-y", "-q", TOOL_PKG)
    assert not Path("/usr/bin/backend-jwt-migrate").exists()
