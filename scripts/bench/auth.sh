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
#   BENCH_MAX_REQUESTS  request cap per HTTP phase (50000)
#   BENCH_NUMBERS       test phone numbers (200)
#   BENCH_PG_OPTIONS    extra postgres options, e.g. "-c log_statement=all" (debugging)
#   BENCH_KEEP          1: keep the temporary directory (cluster, server log, pgbench
#                       logs); on-failure: keep it only when the run fails
#
# What it does: starts a private PostgreSQL cluster in a temporary directory (on a free
# port, 127.0.0.1 only), starts the server against it with DATABASE_URL and BENCH_NUMBERS
# test numbers in AUTH_SMS_TEST_OTP, and runs scripts/bench/auth_bench.py, which warms up
# (signs each number in once), measures POST /auth/v1/verify and POST /auth/v1/token
# (refresh chains, one per client), and runs pgbench with scripts/bench/sql/*.sql for the
# same client count and duration. The server and the cluster are stopped and the
# directory removed on exit, also on failure or Ctrl-C.
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

log() { printf '[auth.sh] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

is_int() { [[ $1 =~ ^[0-9]+$ ]]; }
is_int "$clients" && ((clients >= 1 && clients <= 64)) || die "BENCH_CLIENTS must be 1..64"
is_int "$duration" && ((duration >= 1 && duration <= 600)) || die "BENCH_DURATION must be 1..600 seconds"
is_int "$max_requests" && ((max_requests >= 1 && max_requests <= 10000000)) || die "BENCH_MAX_REQUESTS must be 1..10000000"
is_int "$numbers" && ((numbers >= clients && numbers <= 10000)) || die "BENCH_NUMBERS must be BENCH_CLIENTS..10000"

[[ $binary = /* ]] || binary=$root/$binary
[ -x "$binary" ] || die "server binary not found at $binary (set ECOMANSONI_BIN)"

if [ -x "$root/.venv/bin/python" ]; then py=$root/.venv/bin/python; else py=$(command -v python3) || die "python3 not found"; fi
command -v pg_config >/dev/null || die "pg_config not found (apt-get install postgresql)"
bindir=$(pg_config --bindir)
for tool in initdb pg_ctl postgres psql pgbench; do
    [ -x "$bindir/$tool" ] || die "$bindir/$tool not found"
done

as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
    "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

work=$(mktemp -d "${TMPDIR:-/tmp}/ecom-auth-bench.XXXXXX")
pgdata=$work/pg/data
pgrun=$work/pg/run
server_pid=
py_pid=
pg_started=0

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [ -n "$py_pid" ] && kill -0 "$py_pid" 2>/dev/null; then
        kill -TERM "$py_pid" 2>/dev/null || true
        wait "$py_pid" 2>/dev/null || true
    fi
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        log "stopping the server (pid $server_pid)"
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 1 150); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$server_pid" 2>/dev/null; then
            log "the server did not stop within 15 s; killing it"
            kill -KILL "$server_pid" 2>/dev/null || true
        fi
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ "$pg_started" = 1 ]; then
        log "stopping PostgreSQL"
        as_pg "$bindir/pg_ctl" stop -D "$pgdata" -m fast -w -t 60 >/dev/null 2>&1 || log "pg_ctl stop failed (see $pgrun/postgres.log)"
    fi
    if [ "$status" -ne 0 ] && [ -s "$work/server.log" ]; then
        log "last lines of the server log:"
        tail -n 40 "$work/server.log" >&2 || true
    fi
    if [ "$keep" = 1 ] || [ "$status" -ne 0 -a "$keep" = on-failure ]; then
        log "kept $work"
    else
        rm -rf "$work"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- PostgreSQL: a private cluster, as the embedded one is configured (fsync on).
chmod 755 "$work"
mkdir -p "$pgdata" "$pgrun"
chmod 700 "$pgdata"
if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$work/pg"; fi
log "initdb in $pgdata"
as_pg "$bindir/initdb" -D "$pgdata" -U postgres -A trust -E UTF8 --no-sync >"$work/initdb.log" 2>&1 \
    || { cat "$work/initdb.log" >&2; die "initdb failed"; }
pg_port=$(free_port)
pg_started=1
as_pg "$bindir/pg_ctl" start -D "$pgdata" -l "$pgrun/postgres.log" -w -t 60 \
    -o "-p $pg_port -k $pgrun -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on ${BENCH_PG_OPTIONS:-}" >/dev/null \
    || { cat "$pgrun/postgres.log" >&2; die "PostgreSQL did not start"; }
postmaster_pid=$(head -n 1 "$pgdata/postmaster.pid")
"$bindir/psql" -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -c "CREATE DATABASE $database" \
    || die "could not create the database"
log "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port (pid $postmaster_pid)"

# ---- the server, from a copy so a concurrent rebuild cannot swap the binary mid-run.
cp "$binary" "$work/ecomansoni"
server_port=$(free_port)
test_otp=$("$py" -c "import sys; b, n, c = map(int, sys.argv[1:]); print(','.join(f'{b + i}:{c:06d}' for i in range(n)))" \
    "$phone_base" "$numbers" "$code")
unset PORT PUBLIC_URL ECOMANSONI_DATA_DIR TEST_DATABASE_URL
export HOST=127.0.0.1
export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/$database"
export AUTH_SMS_TEST_OTP=$test_otp
export AUTH_SMS_MAX_FREQUENCY=1
export AUTH_SMS_MAX_PER_HOUR=10000
export AUTH_SMS_MAX_PER_ADDRESS_PER_HOUR=100000
export AUTH_SMS_DELIVERY=log
export LOG_LEVEL=info
export LOG_FORMAT=text
log "starting $binary on 127.0.0.1:$server_port ($numbers test numbers)"
"$work/ecomansoni" serve --port "$server_port" --data-dir "$work/data" >"$work/server.log" 2>&1 </dev/null &
server_pid=$!

# ---- measure (in the background so Ctrl-C and TERM reach the trap at once).
"$py" "$here/auth_bench.py" \
    --port "$server_port" --server-pid "$server_pid" \
    --binary "$work/ecomansoni" --binary-label "$(readlink -f "$binary")" \
    --data-dir "$work/data" --server-log "$work/server.log" \
    --work-dir "$work" --sql-dir "$here/sql" \
    --pg-port "$pg_port" --pg-user postgres --pg-database "$database" \
    --pg-version "$("$bindir/postgres" --version | awk '{print $3}')" --postmaster-pid "$postmaster_pid" \
    --pgbench "$bindir/pgbench" --psql "$bindir/psql" \
    --cpu-model "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" \
    --clients "$clients" --duration "$duration" --max-requests "$max_requests" \
    --phones "$numbers" --phone-base "$phone_base" --code "$code" \
    >"$work/result.json" &
py_pid=$!
wait "$py_pid" || die "the benchmark failed"
py_pid=
cat "$work/result.json"
