#!/usr/bin/env bash
# Installs what building and testing need, on Debian, only where it is missing.
# Usage: build/deps.sh [test]   (test: also the Python tools of the nginx harness)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(nginx nginx-dev libssl-dev libpcre2-dev zlib1g-dev gcc make pkg-config python3 curl dpkg-dev)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing ${missing[*]}"
    [ "$(id -u)" = 0 ] || { echo "run as root (or install: ${missing[*]})" >&2; exit 1; }
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # Debian starts the packaged nginx; our tests and demo run their own.
    if [ -f /run/nginx.pid ]; then kill "$(cat /run/nginx.pid)" 2>/dev/null || true; fi
fi

if ! command -v swift >/dev/null; then
    for d in /opt/swift/usr/bin /usr/share/swift/usr/bin; do [ -x "$d/swift" ] && export PATH="$d:$PATH"; done
fi
command -v swift >/dev/null || {
    echo "error: the Swift toolchain (6.1 or later) is not installed; see https://www.swift.org/install/linux/" >&2
    exit 1
}

extra=()
[ "${1:-}" = bench ] && extra=(wrk libnginx-mod-http-js)
[ "${1:-}" = test ] && extra=(lintian)   # Tests/deb checks both packages with it
if [ ${#extra[@]} -gt 0 ]; then
    for p in "${extra[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || {
            echo "== installing $p"
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$p" >/dev/null
        }
    done
fi

if [ "${1:-}" = test ] || [ "${1:-}" = bench ]; then
    # The harness's and the benchmark's Python tools, in a venv of the project's own.
    venv=.build-venv
    if [ ! -x "$venv/bin/python" ]; then
        echo "== creating $venv"
        python3 -m venv "$venv" 2>/dev/null || {
            apt-get install -y -qq python3-venv >/dev/null
            python3 -m venv "$venv"
        }
    fi
    if ! "$venv/bin/python" -c 'import pytest, xdist, jwt, cryptography, matplotlib, h2, prometheus_client' 2>/dev/null; then
        echo "== installing pytest, pytest-xdist, PyJWT, cryptography, h2, matplotlib and prometheus_client into $venv"
        "$venv/bin/pip" install -q --disable-pip-version-check pytest pytest-xdist pyjwt cryptography h2 matplotlib prometheus_client
    fi
fi
