#!/usr/bin/env bash
# Published-table realtime benchmark (issue 19): what capturing a published table's writes
# costs a writer, against the same INSERT into an unpublished table of the same shape in
# pgbench (the raw engine), and how fast the changes reach subscribers (commit → postgres_changes
# event at the subscribers, each change checked against row-level security as each of them).
# Prints ONE JSON object on stdout; progress goes to stderr.
#
#   scripts/bench/published.sh
#   ECOMANSONI_BIN=.build/release/ecomansoni scripts/bench/published.sh
#
# Environment (all optional):
#   ECOMANSONI_BIN      server binary (default .build/debug/ecomansoni); copied before the run
#   BENCH_CLIENTS       pgbench clients of the write phases (4)
#   BENCH_DURATION      seconds per measured phase (10)
#   BENCH_SUBSCRIBERS   signed-in sockets bound to the published table's INSERTs (50)
#   BENCH_RATE          inserts per second of the latency phase (100)
#   BENCH_DRAIN_TIMEOUT seconds to wait for every change to reach every subscriber (60)
#   BENCH_KEEP          1: keep the temporary directory; on-failure: only when the run fails
#
# Like tables.sh it starts a private PostgreSQL cluster and a copy of the server, then runs
# scripts/bench/published_bench.py. It exits 1 when a change is missing or delivered twice.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

clients=${BENCH_CLIENTS:-4}
duration=${BENCH_DURATION:-10}
subscribers=${BENCH_SUBSCRIBERS:-50}
rate=${BENCH_RATE:-100}
drain=${BENCH_DRAIN_TIMEOUT:-60}
keep=${BENCH_KEEP:-0}
binary=${ECOMANSONI_BIN:-$root/.build/debug/ecomansoni}
code=123456
phone_base=15570000000
database=ecomansoni_bench

bench_name=published.sh
. "$here/lib.sh"

is_int "$clients" && ((clients >= 1 && clients <= 64)) || die "BENCH_CLIENTS must be 1..64"
is_int "$duration" && ((duration >= 1 && duration <= 600)) || die "BENCH_DURATION must be 1..600 seconds"
is_int "$subscribers" && ((subscribers >= 1 && subscribers <= 2000)) || die "BENCH_SUBSCRIBERS must be 1..2000"
is_int "$rate" && ((rate >= 1 && rate <= 10000)) || die "BENCH_RATE must be 1..10000"
is_int "$drain" && ((drain >= 1 && drain <= 600)) || die "BENCH_DRAIN_TIMEOUT must be 1..600 seconds"

[[ $binary = /* ]] || binary=$root/$binary
[ -x "$binary" ] || die "server binary not found at $binary (set ECOMANSONI_BIN)"

bench_setup
bench_start_cluster "$database"

bench_test_users "$phone_base" "$subscribers" "$code"
export REALTIME_MAX_SOCKETS_PER_ADDRESS=100000
export LOG_LEVEL=info
export LOG_FORMAT=text
bench_start_server

bench_run_driver "$work/result.json" "$here/published_bench.py" "$database" \
    --clients "$clients" --duration "$duration" --subscribers "$subscribers" --rate "$rate" --drain "$drain" \
    --phone-base "$phone_base" --code "$code" \
    || die "the benchmark failed"
cat "$work/result.json"
