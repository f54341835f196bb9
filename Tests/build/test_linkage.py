"""The built files are what an nginx host can load: checks of build/out/ (or BJWT_MODULE_DIR, the
module built for another nginx) with ldd, nm and readelf."""
import os
import pathlib
import re
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = pathlib.Path(os.environ.get("BJWT_MODULE_DIR") or ROOT / "build" / "out")
CORE = OUT / "libbackendjwt.so"
MODULE = OUT / "ngx_http_backend_jwt_module.so"
HEADER = ROOT / "include" / "backend_jwt.h"


def run(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def test_no_toolchain_path_in_ldd():
    for lib in (CORE, MODULE):
        out = run("ldd", str(lib))
        assert "not found" not in out, out
        assert "swift" not in out.lower(), out
        assert "/opt/" not in out, out


def test_core_exports_exactly_the_header_abi():
    exported = set(run("nm", "-D", "--defined-only", "--extern-only", str(CORE)).split()[2::3])
    declared = set(re.findall(r"\b(bjwt_[a-z0-9_]+)\s*\(", HEADER.read_text()))
    assert exported == declared


def test_core_is_never_unloaded():
    assert re.search(r"FLAGS_1.*NODELETE", run("readelf", "-d", str(CORE)))


def test_module_finds_the_core_beside_itself():
    dynamic = run("readelf", "-d", str(MODULE))
    assert re.search(r"RUNPATH.*\[\$ORIGIN\]", dynamic), dynamic
    assert "libbackendjwt.so" in dynamic


def test_migrate_tool_needs_no_toolchain():
    tool = ROOT / "build" / "out" / "backend-jwt-migrate"  # one for every nginx
    out = run("ldd", str(tool))
    assert "not found" not in out, out
    assert "swift" not in out.lower() and "/opt/" not in out, out
    assert "USAGE: backend-jwt-migrate [<options>] <file>" in run(str(tool), "--help")


def test_core_needs_only_the_system_libraries():
    """What the README lists: libc, libm, libstdc++, libgcc_s and libcrypto (not libssl: the core
    calls none of its functions, so it links pkg-config's `libcrypto` only)."""
    needed = set(re.findall(r"\(NEEDED\).*\[(.*)\]", run("readelf", "-d", str(CORE))))
    assert needed == {"libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1", "libcrypto.so.3",
                      "ld-linux-x86-64.so.2"}, needed
