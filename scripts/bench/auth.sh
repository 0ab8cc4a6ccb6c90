#!/usr/bin/env bash
# Sign-in benchmark (issue 2): verify→token and refresh throughput and latency of the
# server on this machine, next to the raw PostgreSQL cost of the same statements measured
# with pgbench in the same run. Prints ONE JSON object on stdout; progress goes to stderr.
#
#   scripts/bench/auth.sh
#   ECOMANSONI_BIN=.build/release/ecomansoni scripts/bench/auth.sh
#
# Environment (all optional):
#   ECOMANSONI_BIN      server binary (default .build/debug/ecomansoni); copied before the run
#   BENCH_CLIENTS       concurrent clients, HTTP workers and pgbench clients alike (8)
#   BENCH_DURATION      seconds per measured phase (10)
#   BENCH_MAX_REQUESTS  request cap per HTTP phase (50000; the python load tool only)
#   BENCH_NUMBERS       test phone numbers (200)
#   BENCH_LOAD_TOOL     wrk | python | auto (auto: wrk when installed, Debian's `wrk`, a C
#                       client as cheap per request as pgbench is per transaction)
#   BENCH_PG_OPTIONS    extra postgres options, e.g. "-c log_statement=all" (debugging)
#   BENCH_KEEP          1: keep the temporary directory (cluster, server log, pgbench
#                       logs); on-failure: keep it only when the run fails
#
# What it does: starts a private PostgreSQL cluster in a temporary directory (on a free
# port, 127.0.0.1 only), starts the server against it with DATABASE_URL and BENCH_NUMBERS
# test numbers in AUTH_SMS_TEST_OTP and a per-address sign-in bucket no run empties
# (AUTH_RATE_LIMIT_BURST: the check runs, it never refuses), and runs
# scripts/bench/auth_bench.py, which warms up (signs each number in once), measures
# POST /auth/v1/verify and POST /auth/v1/token (refresh chains, one per client), and runs
# pgbench for the same client count and duration twice per request: with the statements
# the server sent before migration 0009 (sql/verify.sql, sql/refresh.sql; the raw baseline
# of verify_ratio and refresh_ratio) and with the one function call it sends now
# (sql/verify_fn.sql, sql/refresh_fn.sql; *_ratio_function). The server and the cluster are stopped and the directory removed on
# exit, also on failure or Ctrl-C.
#
# Smoke run (CI, seconds): BENCH_CLIENTS=1 BENCH_DURATION=1 BENCH_NUMBERS=1 scripts/bench/auth.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

clients=${BENCH_CLIENTS:-8}
duration=${BENCH_DURATION:-10}
max_requests=${BENCH_MAX_REQUESTS:-50000}
numbers=${BENCH_NUMBERS:-200}
keep=${BENCH_KEEP:-0}
binary=${ECOMANSONI_BIN:-$root/.build/debug/ecomansoni}
code=123456
phone_base=15550000000
database=ecomansoni_bench

bench_name=auth.sh
. "$here/lib.sh"
log() { bench_log "$@"; }

is_int "$clients" && ((clients >= 1 && clients <= 64)) || die "BENCH_CLIENTS must be 1..64"
is_int "$duration" && ((duration >= 1 && duration <= 600)) || die "BENCH_DURATION must be 1..600 seconds"
is_int "$max_requests" && ((max_requests >= 1 && max_requests <= 10000000)) || die "BENCH_MAX_REQUESTS must be 1..10000000"
is_int "$numbers" && ((numbers >= clients && numbers <= 10000)) || die "BENCH_NUMBERS must be BENCH_CLIENTS..10000"

[[ $binary = /* ]] || binary=$root/$binary
[ -x "$binary" ] || die "server binary not found at $binary (set ECOMANSONI_BIN)"

load_tool=$(bench_load_tool)
bench_setup
bench_start_cluster "$database"

# ---- the server, from a copy so a concurrent rebuild cannot swap the binary mid-run.
test_otp=$("$py" -c "import sys; b, n, c = map(int, sys.argv[1:]); print(','.join(f'{b + i}:{c:06d}' for i in range(n)))" \
    "$phone_base" "$numbers" "$code")
export AUTH_SMS_TEST_OTP=$test_otp
export AUTH_SMS_MAX_FREQUENCY=1
export AUTH_SMS_MAX_PER_HOUR=10000
export AUTH_SMS_MAX_PER_ADDRESS_PER_HOUR=100000
export AUTH_SMS_DELIVERY=log
export AUTH_RATE_LIMIT_BURST=1000000
export AUTH_RATE_LIMIT_PER_SECOND=100000
export LOG_LEVEL=info
export LOG_FORMAT=text
bench_start_server

# ---- measure (in the background so Ctrl-C and TERM reach the trap at once).
bench_run_driver "$work/result.json" "$here/auth_bench.py" "$database" \
    --clients "$clients" --duration "$duration" --max-requests "$max_requests" \
    --phones "$numbers" --phone-base "$phone_base" --code "$code" --load-tool "$load_tool" \
    || die "the benchmark failed"
cat "$work/result.json"
