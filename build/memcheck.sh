#!/usr/bin/env bash
# The nginx harness with nginx under valgrind memcheck: every test fails on an invalid read or
# write, or use of uninitialised memory, whose stack reaches the module or the core. Slow (about
# 20 times the normal run): pass test files to run a part, e.g. build/memcheck.sh Tests/nginx/test_token.py
set -euo pipefail
cd "$(dirname "$0")/.."
build/deps.sh test
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
build/module.sh >/dev/null
export BJWT_NGINX_WRAPPER="valgrind --error-exitcode=99 --suppressions=$PWD/Tests/nginx/valgrind.supp --log-file=%VGLOG% --trace-children=no"
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(Tests/nginx/test_token.py Tests/nginx/test_claims.py Tests/nginx/test_hostile_values.py)
exec .build-venv/bin/python -m pytest -q "${files[@]}"
