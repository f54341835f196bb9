#!/usr/bin/env bash
# make bench: throughput of the module against bare nginx and njs (bench/bench.py), a few
# minutes; results in bench/results/. BENCH_SECONDS sets the seconds per variant.
set -euo pipefail
cd "$(dirname "$0")/.."
build/deps.sh bench
build/module.sh >/dev/null
exec .build-venv/bin/python bench/bench.py
