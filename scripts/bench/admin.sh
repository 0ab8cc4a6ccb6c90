#!/usr/bin/env bash
# Admin console benchmark (issue 16): what the audit chain and the admin session cost, each
# next to the raw engine underneath in the same run. Prints ONE JSON object on stdout (with a
# "figures" list for scripts/bench/all); progress goes to stderr.
#
#   scripts/bench/admin.sh                  the default shape (seconds to a minute)
#   scripts/bench/admin.sh --smoke          tiny, seconds
#   ECOMANSONI_BIN=.build/release/ecomansoni scripts/bench/admin.sh
#
# Environment (all optional):
#   ECOMANSONI_BIN        server binary (default .build/debug/ecomansoni); copied before the run
#   BENCH_CLIENTS         concurrent HTTP clients / pgbench clients (4)
#   BENCH_DURATION        seconds of each pgbench phase (10)
#   BENCH_REQUESTS        GET /admin/v1/me requests over HTTP, and as many GET /health (2000)
#   BENCH_AUDIT_ROWS      rows in the audit log when `ecomansoni audit verify` is timed (100000)
#   BENCH_REPORTS         reported messages in the moderators' queue when it is read (2000)
#   BENCH_PG_OPTIONS      extra postgres options (debugging)
#   BENCH_KEEP            1: keep the temporary directory; on-failure: only on failure
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

if [ "${1:-}" = "--smoke" ] || [ "${BENCH_SMOKE:-0}" = 1 ]; then
    : "${BENCH_CLIENTS:=2}" "${BENCH_DURATION:=1}" "${BENCH_REQUESTS:=40}" "${BENCH_AUDIT_ROWS:=500}" "${BENCH_REPORTS:=50}"
fi
clients=${BENCH_CLIENTS:-4}
duration=${BENCH_DURATION:-10}
requests=${BENCH_REQUESTS:-2000}
audit_rows=${BENCH_AUDIT_ROWS:-100000}
reports=${BENCH_REPORTS:-2000}
keep=${BENCH_KEEP:-0}
binary=${ECOMANSONI_BIN:-$root/.build/debug/ecomansoni}
database=ecomansoni_bench
code=123456
phone=15550004100

bench_name=admin.sh
. "$here/lib.sh"

is_int "$clients" && ((clients >= 1 && clients <= 64)) || die "BENCH_CLIENTS must be 1..64"
is_int "$duration" && ((duration >= 1 && duration <= 600)) || die "BENCH_DURATION must be 1..600"
is_int "$requests" && ((requests >= 10 && requests <= 1000000)) || die "BENCH_REQUESTS must be 10..1000000"
is_int "$audit_rows" && ((audit_rows >= 10 && audit_rows <= 10000000)) || die "BENCH_AUDIT_ROWS must be 10..10000000"
is_int "$reports" && ((reports >= 1 && reports <= 1000000)) || die "BENCH_REPORTS must be 1..1000000"
[[ $binary = /* ]] || binary=$root/$binary
[ -x "$binary" ] || die "server binary not found at $binary (set ECOMANSONI_BIN)"

bench_setup
bench_start_cluster "$database"

export AUTH_SMS_TEST_OTP="$phone:$code"
export AUTH_SMS_DELIVERY=log
export LOG_LEVEL=warning
export LOG_FORMAT=text
bench_start_server

bench_run_py "$work/result.json" "$here/admin_bench.py" \
    --port "$server_port" --server-pid "$server_pid" --binary "$work/ecomansoni" --data-dir "$work/data" \
    --database-url "$DATABASE_URL" --psql "$bindir/psql" --pgbench "$bindir/pgbench" --pg-port "$pg_port" \
    --pg-database "$database" --work-dir "$work" --phone "$phone" --code "$code" \
    --clients "$clients" --duration "$duration" --requests "$requests" --audit-rows "$audit_rows" --reports "$reports" \
    --binary-label "$(readlink -f "$binary")" --cpu-model "$(cpu_model)" --pg-version "$pg_version" \
    || die "the benchmark failed"
cat "$work/result.json"
