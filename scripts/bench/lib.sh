# Shared lifecycle of the benchmark scripts in scripts/bench (sourced, not run).
#
# A private PostgreSQL cluster in a temporary directory (initdb/pg_ctl from
# `pg_config --bindir`, run as `postgres` when started as root; fsync on, 127.0.0.1 only, a
# free port) and a copy of the server binary started against it. Everything is stopped and
# the directory removed on exit, also on failure or Ctrl-C.
#
# The sourcing script sets `bench_name` (log prefix, temp directory name) and `keep`
# (BENCH_KEEP: 1 keeps the directory, on-failure keeps it only when the run fails), then:
#
#   bench_setup                # tools, work directory, traps      -> $py $bindir $work
#   bench_start_cluster DB     # cluster + database DB              -> $pg_port $postmaster_pid $pg_version $DATABASE_URL
#   bench_start_server         # server copy, with the exported env -> $server_pid $server_port $server_log
#   bench_stop_server          # SIGTERM, then SIGKILL after 15 s
#   bench_run_py OUT ARGS...   # python ARGS > OUT in the background (signals reach the trap)
#   bench_start_redis          # a private redis-server, stopped on exit -> $redis_pid $redis_port $redis_version
#
# $binary (absolute path of the server binary) must be set before bench_start_server.
#
# The server is given an external DATABASE_URL, where MESSAGE_BUS=auto would pick the
# PostgreSQL bus; a benchmark of one instance measures the in-process bus unless its script
# exports another (calls.sh does for its two-instance phase).
export MESSAGE_BUS=${MESSAGE_BUS:-inprocess}

bench_log() { printf '[%s] %s\n' "$bench_name" "$*" >&2; }
die() { bench_log "error: $*"; exit 1; }
is_int() { [[ $1 =~ ^[0-9]+$ ]]; }

# The HTTP load generator named by BENCH_LOAD_TOOL (wrk | python | auto; auto: Debian's wrk
# when installed, else Python threads), printed for load_tool=$(bench_load_tool).
bench_load_tool() {
    case ${BENCH_LOAD_TOOL:-auto} in
        auto) if command -v wrk >/dev/null; then echo wrk; else echo python; fi ;;
        wrk) command -v wrk >/dev/null || die "wrk not found (apt-get install wrk, or BENCH_LOAD_TOOL=python)"; echo wrk ;;
        python) echo python ;;
        *) die "BENCH_LOAD_TOOL must be wrk, python or auto" ;;
    esac
}

as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
    "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

cpu_model() {
    grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'
}

# The Python of the drivers, printed for py=$(bench_python): the checkout's .venv when there
# is one, else the first python3 on PATH (so PATH=/some/venv/bin:$PATH picks a venv).
bench_python() {
    if [ -x "$root/.venv/bin/python" ]; then echo "$root/.venv/bin/python"; else command -v python3 || die "python3 not found"; fi
}

bench_setup() {
    py=$(bench_python)
    command -v pg_config >/dev/null || die "pg_config not found (apt-get install postgresql)"
    bindir=$(pg_config --bindir)
    local tool
    for tool in initdb pg_ctl postgres psql pgbench; do
        [ -x "$bindir/$tool" ] || die "$bindir/$tool not found"
    done
    work=$(mktemp -d "${TMPDIR:-/tmp}/ecom-$bench_name.XXXXXX")
    pgdata=$work/pg/data
    pgrun=$work/pg/run
    server_pid=
    server_log=
    server_runs=0
    py_pid=
    pg_started=0
    redis_pid=
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# bench_stop_pid PID NAME TENTHS: SIGTERM, then SIGKILL (logged) when PID still runs after
# TENTHS tenths of a second; nothing when it is not running.
bench_stop_pid() {
    local pid=$1 name=$2 tenths=$3
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    bench_log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local _
    for _ in $(seq 1 "$tenths"); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        bench_log "$name did not stop within $((tenths / 10)) s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

bench_stop_server() {
    bench_stop_pid "$server_pid" "the server" 150
    server_pid=
}

bench_cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [ -n "$py_pid" ] && kill -0 "$py_pid" 2>/dev/null; then
        kill -TERM "$py_pid" 2>/dev/null || true
        wait "$py_pid" 2>/dev/null || true
    fi
    bench_stop_server
    bench_stop_redis
    if [ "$pg_started" = 1 ]; then
        bench_log "stopping PostgreSQL"
        as_pg "$bindir/pg_ctl" stop -D "$pgdata" -m fast -w -t 60 >/dev/null 2>&1 || bench_log "pg_ctl stop failed (see $pgrun/postgres.log)"
    fi
    if [ "$status" -ne 0 ] && [ -n "$server_log" ] && [ -s "$server_log" ]; then
        bench_log "last lines of the server log:"
        tail -n 40 "$server_log" >&2 || true
    fi
    if [ "$keep" = 1 ] || [ "$status" -ne 0 -a "$keep" = on-failure ]; then
        bench_log "kept $work"
    else
        rm -rf "$work"
    fi
    exit "$status"
}

bench_start_cluster() {
    local database=$1
    chmod 755 "$work"
    mkdir -p "$pgdata" "$pgrun"
    chmod 700 "$pgdata"
    if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$work/pg"; fi
    bench_log "initdb in $pgdata"
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
    pg_version=$("$bindir/postgres" --version | awk '{print $3}')
    export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/$database"
    bench_log "PostgreSQL $pg_version on 127.0.0.1:$pg_port (pid $postmaster_pid)"
}

# Copies $binary into $work once, so a concurrent rebuild cannot swap it mid-run, with the
# resource bundles (migrations, tariffs…) beside it: a binary finds them next to itself
# first, and only then in the build folder it was built in, where a later build may have
# changed them.
bench_copy_binary() {
    [ -x "$work/ecomansoni" ] && return 0
    cp "$binary" "$work/ecomansoni"
    local bundle
    for bundle in "$(dirname "$binary")"/*.resources; do
        if [ -d "$bundle" ]; then cp -R "$bundle" "$work/"; fi
    done
}

# Starts the server from its copy (bench_copy_binary) on a free port, with the environment
# the caller exported. Each start logs to its own file.
bench_start_server() {
    bench_copy_binary
    server_port=$(free_port)
    server_runs=$((server_runs + 1))
    server_log=$work/server-$server_runs.log
    unset PORT PUBLIC_URL ECOMANSONI_DATA_DIR TEST_DATABASE_URL
    export HOST=127.0.0.1
    bench_log "starting $binary on 127.0.0.1:$server_port (log $(basename "$server_log"))"
    "$work/ecomansoni" serve --port "$server_port" --data-dir "$work/data" >"$server_log" 2>&1 </dev/null &
    server_pid=$!
}

bench_run_py() {
    local out=$1
    shift
    "$py" "$@" >"$out" &
    py_pid=$!
    wait "$py_pid" || { py_pid=; return 1; }
    py_pid=
}

# Runs a bench driver (`bench_run_driver OUT DRIVER.py DATABASE [its own arguments…]`) with
# the arguments every driver takes (benchlib.add_server_arguments) for the server and the
# cluster started here, before its own.
bench_run_driver() {
    local out=$1 driver=$2 database=$3
    shift 3
    bench_run_py "$out" "$driver" \
        --port "$server_port" --server-pid "$server_pid" \
        --binary "$work/ecomansoni" --binary-label "$(readlink -f "$binary")" \
        --data-dir "$work/data" --server-log "$server_log" \
        --work-dir "$work" --sql-dir "$here/sql" \
        --pg-port "$pg_port" --pg-user postgres --pg-database "$database" \
        --pg-version "$pg_version" --postmaster-pid "$postmaster_pid" \
        --pgbench "$bindir/pgbench" --psql "$bindir/psql" \
        --cpu-model "$(cpu_model)" \
        "$@"
}

# Lets the server sign in COUNT test numbers from BASE with CODE as fast as a benchmark asks
# (`bench_test_users BASE COUNT CODE`): the SMS test OTPs, delivery to the log, no SMS
# frequency limit and no auth rate limit.
bench_test_users() {
    AUTH_SMS_TEST_OTP=$("$py" -c "import sys; b, n = map(int, sys.argv[1:3]); print(','.join(f'{b + i}:{sys.argv[3]}' for i in range(n)))" \
        "$1" "$2" "$3")
    export AUTH_SMS_TEST_OTP AUTH_SMS_MAX_FREQUENCY=0 AUTH_SMS_DELIVERY=log
    export AUTH_RATE_LIMIT_BURST=1000000 AUTH_RATE_LIMIT_PER_SECOND=100000
}

# A private redis-server: a free port on 127.0.0.1, no persistence (`--save '' --appendonly
# no`), its directory and log in $work/redis. bench_cleanup stops it.
bench_start_redis() {
    local redis_server
    redis_server=$(command -v redis-server) || die "redis-server not found (apt-get install redis-server)"
    mkdir -p "$work/redis"
    redis_port=$(free_port)
    "$redis_server" --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work/redis" \
        --logfile "$work/redis/redis.log" --daemonize no </dev/null >/dev/null 2>&1 &
    redis_pid=$!
    local _
    for _ in $(seq 1 100); do
        [ "$(redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null)" = PONG ] && break
        kill -0 "$redis_pid" 2>/dev/null || { cat "$work/redis/redis.log" >&2; die "redis-server did not start"; }
        sleep 0.1
    done
    [ "$(redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null)" = PONG ] || die "redis-server does not answer PING"
    redis_version=$("$redis_server" --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')
    bench_log "redis-server $redis_version on 127.0.0.1:$redis_port (pid $redis_pid)"
}

bench_stop_redis() {
    bench_stop_pid "$redis_pid" redis-server 100
    redis_pid=
}
