"""The built files are what an nginx host can load: checks of build/out/ with ldd, nm and readelf."""
import pathlib
import re
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "build" / "out"
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
    tool = OUT / "backend-jwt-migrate"
    out = run("ldd", str(tool))
    assert "not found" not in out, out
    assert "swift" not in out.lower() and "/opt/" not in out, out
    assert "USAGE: backend-jwt-migrate <file>" in run(str(tool), "--help")
