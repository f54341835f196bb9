"""Rebuilding under a running nginx: build/module.sh replaces the module and the core (a new file
renamed over the old one), never rewrites them, so the workers that have the old files mapped
keep running them, and so do the workers of a reload (the master keeps what it loaded); nginx's
binary upgrade (USR2) runs the new build without a lost request. Rewritten in place (cp), the
running workers crashed on their next requests (signals 7 and 11), over and over.

The rebuild goes to a copy of the tested build (BJWT_MODULE_DIR or build/out), with the
environment that build was made with (module-build.env, written by build/module.sh), so it is
quick (the objects are up to date: a relink) and safe beside other tests using the original."""

import os
import shlex
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from conftest import MODULE_DIR, ROOT, SCALE, Load, location, only_token, verify, wait_for

FILES = ("ngx_http_backend_jwt_module.so", "libbackendjwt.so")
WORKERS = 2


def build_env():
    """The variables build/module.sh was run with for MODULE_DIR (its module-build.env)."""
    path = MODULE_DIR / "module-build.env"
    assert path.exists(), f"{path} is missing: build the module again with build/module.sh"
    env = {}
    for line in path.read_text().splitlines():
        name, _, value = line.partition("=")
        env[name] = shlex.split(value)[0] if value else ""
    return env


def mapped(pid, directory):
    """{file name: deleted?} of what process `pid` maps from `directory`."""
    found = {}
    directory = str(directory)
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5].startswith(f"{directory}/"):
            name = fields[5][len(directory) + 1:]
            deleted = name.endswith(" (deleted)")
            found[name.removesuffix(" (deleted)")] = deleted
    return found


def worker_pids(n):
    return {int(pid) for _, pid in n.workers()}


def upgrade(n):
    """nginx's binary upgrade: USR2 to the master, which starts a new master (nginx.pid, the old
    one's becomes nginx.pid.oldbin); QUIT to the old master once the new one's workers run."""
    old = n.pid
    pid_file = Path(n.prefix) / "nginx.pid"
    os.kill(old, signal.SIGUSR2)

    def new_master():
        try:
            pid = int(pid_file.read_text())
        except (OSError, ValueError):
            return None
        return pid if pid != old else None

    assert wait_for(new_master), n.log()
    n.pid = new_master()
    assert wait_for(lambda: len(worker_pids(n)) == WORKERS), n.log()
    os.kill(old, signal.SIGQUIT)

    def gone():
        try:
            return Path(f"/proc/{old}/stat").read_text().split(") ")[1][0] == "Z"
        except (OSError, IndexError):
            return True

    assert wait_for(gone), n.log()


def test_rebuild_under_a_running_nginx(nginx, keys, backend):
    copy = Path(tempfile.mkdtemp(prefix="bjwt-rebuild-"))
    try:
        copy.chmod(0o755)
        for name in FILES:
            shutil.copy2(MODULE_DIR / name, copy / name)
        inodes = {name: (copy / name).stat().st_ino for name in FILES}
        server = location(keys) + """
        location /plain/ { proxy_pass BACKEND; }
"""
        n = nginx(server, workers=WORKERS, load=copy / FILES[0])
        workers = worker_pids(n)
        for pid in workers:
            assert mapped(pid, copy) == {name: False for name in FILES}
        load = Load(n, limit=120 * SCALE)
        try:
            load.wait(20)
            # the rebuild: the same build (its objects are up to date), into the copy, the core
            # taken from the tested build (BJWT_CORE) rather than compiled again
            env = {**os.environ, **build_env(), "BJWT_OUT": str(copy),
                   "BJWT_CORE": str(MODULE_DIR / "libbackendjwt.so")}
            built = subprocess.run([str(ROOT / "build" / "module.sh")], env=env, cwd=ROOT,
                                   capture_output=True, text=True, timeout=600)
            assert built.returncode == 0, built.stdout + built.stderr
            load.wait(20)
        finally:
            results, failures = load.stop()
        assert failures == [], failures[:10]
        for name in FILES:
            assert (copy / name).stat().st_ino != inodes[name], f"{name} was rewritten in place"
        # the running workers still run the files they loaded, now unlinked
        assert worker_pids(n) == workers
        for pid in workers:
            assert mapped(pid, copy) == {name: True for name in FILES}
        assert verify(only_token(n.seen("/")), keys)
        assert n.seen("/plain/") is not None
        # a reload starts new workers and keeps the master, which keeps the files it loaded:
        # glibc's dlopen() finds the module's path already loaded, and the core is never unloaded
        os.kill(n.pid, signal.SIGHUP)
        assert wait_for(lambda: len(worker_pids(n)) == WORKERS and worker_pids(n).isdisjoint(workers)), n.log()
        assert n.running()
        for pid in worker_pids(n):
            assert mapped(pid, copy) == {name: True for name in FILES}
        for _ in range(2 * WORKERS):
            assert verify(only_token(n.seen("/")), keys)
        # the binary upgrade (USR2, then QUIT to the old master) runs the new files without a
        # request lost: the new master execs nginx again and loads them afresh
        load = Load(n, limit=120 * SCALE)
        try:
            load.wait(20)
            upgrade(n)
            load.wait(20)
        finally:
            results, failures = load.stop()
        assert failures == [], failures[:10]
        for pid in worker_pids(n):
            assert mapped(pid, copy) == {name: False for name in FILES}
        for _ in range(2 * WORKERS):
            assert verify(only_token(n.seen("/")), keys)
        assert n.seen("/plain/") is not None
        assert "exited on signal" not in n.log()
    finally:
        shutil.rmtree(copy, ignore_errors=True)
