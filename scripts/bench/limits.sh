#!/usr/bin/env bash
# Rate-limit checks against Redis (issue 17, docs/configuration.md "Limits across instances"):
# the server's token-bucket check (RedisTokenBuckets: its Lua script by EVALSHA over the
# server's own RESP client and pool) beside `redis-benchmark` running the same script by
# EVALSHA on the same redis-server, in the same run. Prints ONE JSON object on stdout (with a
# "figures" list for scripts/bench/all); progress goes to stderr.
#
#   ECOMANSONI_BIN=.build/release/ecomansoni scripts/bench/limits.sh
#   BENCH_LIMITS_CONCURRENCY=2 BENCH_LIMITS_SECONDS=1 BENCH_LIMITS_BASELINE_REQUESTS=2000 scripts/bench/limits.sh   (smoke run)
#
# What it does: a private redis-server (a free port on 127.0.0.1, `--save '' --appendonly no`,
# its directory in the run's temporary directory), then for each concurrency C in
# BENCH_LIMITS_CONCURRENCY, one step of each, one after the other:
#
#   server    `ecomansoni bench-limits --concurrency C` (Sources/App/LimitCheckBenchmark.swift):
#             C loops, each taking one token after another, closed loop, for
#             BENCH_LIMITS_SECONDS, from a limit that never refuses (every check runs the
#             whole script and writes its bucket), keys `bench:<loop>:<n mod
#             BENCH_LIMITS_KEYS>` under the server's prefix `ecomansoni:limit:`. Its Redis pool
#             has the server's default size (8 connections).
#   baseline  `redis-benchmark -c C -n BENCH_LIMITS_BASELINE_REQUESTS -r <C × keys>` running
#             `EVALSHA <the same script> 1 ecomansoni:limit:bench:__rand_int__ …` with the same
#             arguments: C connections, one command in flight on each.
#
# Figures: checks per second of the server's path beside redis-benchmark's at each
# concurrency (the ratio), p50/p99 of each, and the CPU redis-server used per 1 000 checks in
# each (redis-server is single threaded: at 1 core it is the ceiling of every instance
# together). `errors_total` counts failed checks and must be 0.
#
# Environment (all optional; the defaults take about half a minute):
#   ECOMANSONI_BIN                  server binary (default .build/debug/ecomansoni); copied first
#   BENCH_LIMITS_CONCURRENCY        concurrencies, space separated, each 1..1024 ("1 8 32")
#   BENCH_LIMITS_SECONDS            seconds of each server step (5)
#   BENCH_LIMITS_KEYS               distinct buckets per loop (1000)
#   BENCH_LIMITS_BASELINE_REQUESTS  requests of each redis-benchmark step (200000)
#   BENCH_KEEP                      1: keep the temporary directory; on-failure: only on failure
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

concurrency=${BENCH_LIMITS_CONCURRENCY:-1 8 32}
seconds=${BENCH_LIMITS_SECONDS:-5}
keys=${BENCH_LIMITS_KEYS:-1000}
baseline_requests=${BENCH_LIMITS_BASELINE_REQUESTS:-200000}
keep=${BENCH_KEEP:-0}
binary=${ECOMANSONI_BIN:-$root/.build/debug/ecomansoni}

bench_name=limits.sh
. "$here/lib.sh"

[ -n "${concurrency// /}" ] || die "BENCH_LIMITS_CONCURRENCY is empty"
for c in $concurrency; do
    is_int "$c" && ((c >= 1 && c <= 1024)) || die "BENCH_LIMITS_CONCURRENCY: each value must be 1..1024, not '$c'"
done
is_int "$seconds" && ((seconds >= 1 && seconds <= 600)) || die "BENCH_LIMITS_SECONDS must be 1..600"
is_int "$keys" && ((keys >= 1 && keys <= 1000000)) || die "BENCH_LIMITS_KEYS must be 1..1000000"
is_int "$baseline_requests" && ((baseline_requests >= 100 && baseline_requests <= 100000000)) \
    || die "BENCH_LIMITS_BASELINE_REQUESTS must be 100..100000000"

[[ $binary = /* ]] || binary=$root/$binary
[ -x "$binary" ] || die "server binary not found at $binary (set ECOMANSONI_BIN)"
command -v redis-server >/dev/null || die "redis-server not found (apt-get install redis-server)"
command -v redis-benchmark >/dev/null || die "redis-benchmark not found (apt-get install redis-tools)"

bench_setup
bench_copy_binary

bench_start_redis

bench_run_py "$work/result.json" "$here/limits_bench.py" \
    --binary "$work/ecomansoni" --binary-label "$(readlink -f "$binary")" --redis-port "$redis_port" --redis-pid "$redis_pid" \
    --redis-version "$redis_version" --cpu-model "$(cpu_model)" --concurrency $concurrency --seconds "$seconds" --keys "$keys" \
    --baseline-requests "$baseline_requests" || die "the benchmark failed"
cat "$work/result.json"
