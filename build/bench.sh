#!/usr/bin/env bash
# make bench: throughput of the module against bare nginx and njs (bench/bench.py), about
# 16 minutes; results in bench/results/. Every variant runs once per round, the rounds
# interleaved: BENCH_ROUNDS rounds (default 7) of BENCH_SECONDS seconds per run (default 6).
# BENCH_ONLY=REGEX runs only the matching variants beside bare nginx (nothing saved).
set -euo pipefail
cd "$(dirname "$0")/.."
build/deps.sh bench
build/module.sh >/dev/null
exec .build-venv/bin/python bench/bench.py
