"""The teardown checks themselves: sanitizer reports in an error log and valgrind errors in our
code fail a test; valgrind errors elsewhere, and counts a forked process inherits, do not."""

import shutil

import pytest

from conftest import Nginx, sanitizer_reports, valgrind_problems

HEAD = """==100== Memcheck, a memory error detector
==100== Command: /usr/sbin/nginx -p /tmp/x/
==100== Parent PID: 99
==100== 
"""


def vg_log(pid, parent, body, errors):
    return (HEAD.replace("==100==", f"=={pid}==").replace("Parent PID: 99", f"Parent PID: {parent}")
            + body.replace("==100==", f"=={pid}==")
            + f"=={pid}== \n=={pid}== ERROR SUMMARY: {errors} errors from {errors} contexts "
              "(suppressed: 0 from 0)\n")


OURS = """==100== Invalid read of size 1
==100==    at 0x4A0B: ngx_http_backend_jwt_same_name (ngx_http_backend_jwt_request.c:180)
==100==    by 0x4A0C: ngx_http_backend_jwt_set_header (ngx_http_backend_jwt_request.c:220)
==100==  Address 0x5 is 0 bytes after a block of size 16 alloc'd
==100==    at 0x48417B4: malloc (in /usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so)
==100== 
"""
CORE = """==100== Conditional jump or move depends on uninitialised value(s)
==100==    at 0x7A0B: ??? (in /work/build/out/libbackendjwt.so)
==100==    by 0x4A0C: bjwt_signer_mint (in /work/build/out/libbackendjwt.so)
==100== 
"""
ELSEWHERE = """==100== Invalid read of size 8
==100==    at 0x4023C6C: strncmp (strcmp-sse2.S:160)
==100==    by 0x4004BEE: is_dst (dl-load.c:216)
==100== 
"""


def write(tmp_path, logs):
    for pid, text in logs.items():
        (tmp_path / f"valgrind.{pid}.log").write_text(text)
    return valgrind_problems(tmp_path)


def test_clean_logs_pass(tmp_path):
    assert write(tmp_path, {10: vg_log(10, 9, "", 0), 11: vg_log(11, 10, "", 0)}) == []


@pytest.mark.parametrize("body", [OURS, CORE], ids=["module", "core"])
def test_error_in_our_code_fails(tmp_path, body):
    problems = write(tmp_path, {10: vg_log(10, 9, body, 1)})
    assert len(problems) == 1 and "severe in our code" in problems[0]


def test_errors_elsewhere_and_inherited_counts_pass(tmp_path):
    # the daemonizing process shows the blocks; the master and a worker, forked after, count them
    assert write(tmp_path, {10: vg_log(10, 9, ELSEWHERE, 1), 11: vg_log(11, 10, "", 1),
                            12: vg_log(12, 11, "", 1)}) == []


def test_count_without_blocks_or_summary_fails(tmp_path):
    problems = write(tmp_path, {10: vg_log(10, 9, "", 2), 20: HEAD.replace("==100==", "==20==")})
    assert len(problems) == 2
    assert "no error block found" in problems[0] and "no ERROR SUMMARY" in problems[1]


@pytest.mark.parametrize("line", [
    "==123==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x602000000011",
    "==123==ERROR: LeakSanitizer: detected memory leaks",
    "ngx_http_backend_jwt_request.c:180:9: runtime error: signed integer overflow",
    "SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior x.c:1:1",
])
def test_sanitizer_report_in_error_log_fails(tmp_path, line):
    n = Nginx(backend_port=1)
    try:
        with open(n.error_log, "w") as f:
            f.write("2026/01/01 00:00:00 [notice] 1#1: start worker processes\n" + line + "\n")
        n.allowed.append(".*")  # allowing every line does not allow a sanitizer report
        problems = n.problems()
        assert len(problems) == 1 and line in problems[0]
        n.outputs.append(line)  # nor in what `nginx -t` printed
        assert len(n.problems(levels=False)) == 1
    finally:
        shutil.rmtree(n.prefix, ignore_errors=True)


def test_sanitizer_report_file_fails_once(tmp_path):
    """Under BJWT_SANITIZE the reports go to files (log_path): one fails the test it appears in."""
    (tmp_path / "report.123").write_text("==123==ERROR: AddressSanitizer: heap-use-after-free\n")
    problems = sanitizer_reports(tmp_path)
    assert len(problems) == 1 and "heap-use-after-free" in problems[0]
    assert sanitizer_reports(tmp_path) == [] and (tmp_path / "seen.123").exists()

