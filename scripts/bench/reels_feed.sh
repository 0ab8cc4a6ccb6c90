#!/usr/bin/env bash
# Reels feed benchmark (issue 15): latency of get_reels_feed over HTTP on generated data
# (BENCH_REELS reels by BENCH_USERS users, follows, blocks, interactions), next to the same
# database work run straight through pgbench (reels.feed_page plus the records) and a plain
# newest-first SELECT, in the same run. Prints ONE JSON object on stdout (with a "figures"
# list for scripts/bench/all); progress goes to stderr.
#
#   scripts/bench/reels_feed.sh                  100 000 reels / 10 000 users (the issue's shape)
#   scripts/bench/reels_feed.sh --smoke          tiny data, seconds
#   ECOMANSONI_BIN=.build/release/ecomansoni scripts/bench/reels_feed.sh
#
# Environment (all optional):
#   ECOMANSONI_BIN        server binary (default .build/debug/ecomansoni); copied before the run
#   BENCH_REELS           reels generated (100000), over the last 100 days
#   BENCH_USERS           users generated (10000); each follows ~20 others
#   BENCH_VIEWERS         viewers signed in with test OTP numbers, with their own likes,
#                         views, follows, hides and impressions (20)
#   BENCH_CLIENTS         concurrent HTTP clients / pgbench clients (4)
#   BENCH_REQUESTS        feed requests over HTTP: each client walks a session of three
#                         pages (first, then two cursors) again and again (1500)
#   BENCH_DURATION        seconds of each pgbench baseline (10)
#   BENCH_PG_OPTIONS      extra postgres options (debugging)
#   BENCH_KEEP            1: keep the temporary directory; on-failure: only on failure
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

if [ "${1:-}" = "--smoke" ] || [ "${BENCH_SMOKE:-0}" = 1 ]; then
    : "${BENCH_REELS:=200}" "${BENCH_USERS:=30}" "${BENCH_VIEWERS:=2}" "${BENCH_CLIENTS:=2}" "${BENCH_REQUESTS:=30}" "${BENCH_DURATION:=1}"
fi
reels=${BENCH_REELS:-100000}
users=${BENCH_USERS:-10000}
viewers=${BENCH_VIEWERS:-20}
clients=${BENCH_CLIENTS:-4}
requests=${BENCH_REQUESTS:-1500}
duration=${BENCH_DURATION:-10}
keep=${BENCH_KEEP:-0}
binary=${ECOMANSONI_BIN:-$root/.build/debug/ecomansoni}
database=ecomansoni_bench
code=123456
phone_base=15550003200

bench_name=reels_feed.sh
. "$here/lib.sh"

is_int "$reels" && ((reels >= 10 && reels <= 5000000)) || die "BENCH_REELS must be 10..5000000"
is_int "$users" && ((users >= 10 && users <= 1000000)) || die "BENCH_USERS must be 10..1000000"
is_int "$viewers" && ((viewers >= 1 && viewers <= 200)) || die "BENCH_VIEWERS must be 1..200"
is_int "$clients" && ((clients >= 1 && clients <= 64)) || die "BENCH_CLIENTS must be 1..64"
is_int "$requests" && ((requests >= 3 && requests <= 1000000)) || die "BENCH_REQUESTS must be 3..1000000"
is_int "$duration" && ((duration >= 1 && duration <= 600)) || die "BENCH_DURATION must be 1..600"
[[ $binary = /* ]] || binary=$root/$binary
[ -x "$binary" ] || die "server binary not found at $binary (set ECOMANSONI_BIN)"

bench_setup
bench_start_cluster "$database"

export AUTH_SMS_TEST_OTP=$("$py" -c "print(','.join(f'{$phone_base + i}:$code' for i in range($viewers)))")
export AUTH_SMS_MAX_FREQUENCY=1
export AUTH_SMS_DELIVERY=log
export LOG_LEVEL=warning
export LOG_FORMAT=text
bench_start_server

bench_run_py "$work/result.json" "$here/reels_feed.py" \
    --port "$server_port" --server-pid "$server_pid" --binary "$work/ecomansoni" --data-dir "$work/data" \
    --psql "$bindir/psql" --pgbench "$bindir/pgbench" --pg-port "$pg_port" --pg-database "$database" --work-dir "$work" \
    --reels "$reels" --users "$users" --viewers "$viewers" --phone-base "$phone_base" --code "$code" \
    --clients "$clients" --requests "$requests" --duration "$duration" \
    --binary-label "$(readlink -f "$binary")" --cpu-model "$(cpu_model)" --pg-version "$pg_version" \
    || die "the benchmark failed"
cat "$work/result.json"
