"""The ABI handshake: the module asks the core for its ABI version when the configuration is
loaded, and an old or foreign libbackendjwt.so beside a new module fails `nginx -t` with both
versions named, never a crash or a wrong token. The foreign core is the real one built to report
another version (build/abi-mismatch-core.sh)."""

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import MODULE, NGINX, ROOT, location

# one worker builds the foreign core (a swift build of its own) for the whole file
pytestmark = [pytest.mark.xdist_group("abi"), pytest.mark.slow]

MISMATCHED = ROOT / "build" / "out" / "abi-mismatch" / "libbackendjwt.so"


@pytest.fixture(scope="module")
def mismatched_module_dir():
    """The module beside a core that reports another ABI version ($ORIGIN finds it there)."""
    subprocess.run([str(ROOT / "build" / "abi-mismatch-core.sh")], check=True)
    d = Path(tempfile.mkdtemp(prefix="bjwt-abi-"))
    d.chmod(0o755)
    shutil.copy(MODULE, d / MODULE.name)
    shutil.copy(MISMATCHED, d / MISMATCHED.name)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_core_of_another_abi_version_fails_nginx_t(nginx_t, keys, mismatched_module_dir):
    header = (ROOT / "include" / "backend_jwt.h").read_text()
    version = int(re.search(r"#define BJWT_ABI_VERSION\s+(\d+)", header).group(1))
    code, out, conf, _ = nginx_t(location(keys), load=True)
    assert code == 0, out  # the matching pair loads
    text = Path(conf).read_text().replace(str(MODULE), str(mismatched_module_dir / MODULE.name))
    Path(conf).write_text(text)
    p = subprocess.run([NGINX, "-t", "-c", conf, "-p", str(Path(conf).parent) + "/", "-e", "/dev/stderr"],
                       capture_output=True, text=True, timeout=30)
    out = p.stdout + p.stderr
    assert p.returncode == 1, out
    assert (f"[emerg] backend_jwt: the core libbackendjwt.so has ABI version {version + 1}, this module needs "
            f"version {version}: install the core built with this module in {conf}:") in out
    assert "signal" not in out
