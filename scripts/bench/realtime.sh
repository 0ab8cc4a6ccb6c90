#!/usr/bin/env bash
# Realtime benchmarks (issue 3b, 3c). Prints ONE JSON object {"latency": …, "capacity": …} on
# stdout; progress goes to stderr.
#
#   scripts/bench/realtime.sh                                  # both, the issue's numbers
#   BENCH_MODES=latency BENCH_RATE=100 scripts/bench/realtime.sh
#   BENCH_MODES=capacity BENCH_CAP_SECONDS=120 scripts/bench/realtime.sh
#
# latency (3b): BENCH_SUBSCRIBERS signed-in users in BENCH_CONVERSATIONS groups, one WebSocket
# each, joined to one channel with a postgres_changes INSERT subscription to messages of its
# group; messages are sent with send_message_v1 at BENCH_RATE per second for BENCH_DURATION
# seconds (open loop with at most BENCH_SEND_CONCURRENCY requests in flight; when the
# server is slower, messages go out late or, at the end of the window, not at all, and the
# report says how many); the latency is from the start of the HTTP request to the event's
# arrival at each subscriber of the group, over every (message, subscriber) pair.
#
# capacity (3c): with a fresh server, idle authenticated sockets (each joined to one channel
# as above, heartbeat every 25 s) are opened in steps of BENCH_CAP_STEP; after each step the
# server's RSS and open files are read from /proc and its CPU use is measured over 1.5 s of
# idleness. It stops at BENCH_CAP_RSS_MB RSS, at the time bound, after a step with more
# than 1 % failed connections, or at the server's open-files limit (`ulimit -n`, less 200
# kept free); when the RSS limit is not reached, the count at the limit is extrapolated
# from the RSS per connection (least squares over the steps). At the end one message is
# sent to the first group (time until all its sockets have the event), the clients close
# and the time the server takes to release the sockets is measured.
#
# Environment (all optional):
#   ECOMANSONI_BIN            server binary (default .build/debug/ecomansoni); copied first
#   BENCH_MODES               "latency capacity" (default), or one of them; "connections" is
#                             another name for capacity. A CI smoke run of the capacity part:
#                             BENCH_MODES=capacity BENCH_CAP_SECONDS=5 BENCH_CAP_STEP=10
#                             BENCH_CAP_MAX_CONNECTIONS=20 BENCH_CAP_USERS=10 BENCH_CAP_WORKERS=1
#   BENCH_SUBSCRIBERS         subscribers = users (1000)
#   BENCH_CONVERSATIONS       groups; BENCH_SUBSCRIBERS must be a multiple (100)
#   BENCH_RATE                offered messages per second (500)
#   BENCH_DURATION            seconds of sending (20)
#   BENCH_SEND_CONCURRENCY    most send_message requests in flight (32)
#   BENCH_DRAIN_TIMEOUT       seconds to wait for outstanding events after sending (30)
#   BENCH_CAP_RSS_MB          RSS at which the capacity run stops (2048)
#   BENCH_CAP_SECONDS         time bound of the opening phase (180; handshakes started
#                             before it may take up to 30 s more)
#   BENCH_CAP_STEP            sockets per step (1000)
#   BENCH_CAP_MAX_CONNECTIONS stop here at the latest (1000000)
#   BENCH_CAP_USERS           users the sockets sign in as, in groups of 10 (100)
#   BENCH_CAP_WORKERS         client processes holding the sockets (2)
#   BENCH_CAP_JOIN            1: each socket joins one channel (default); 0: none (the cost of
#                             the bare socket, to compare)
#   BENCH_PG_OPTIONS          extra postgres options (debugging)
#   BENCH_KEEP                1: keep the temporary directory; on-failure: only on failure
#
# Every user may send 60 messages a minute; message k goes out from the next member of
# group k mod BENCH_CONVERSATIONS, so each user sends BENCH_RATE / BENCH_SUBSCRIBERS per
# second; the script refuses settings that would cross the limit.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

modes=${BENCH_MODES:-latency capacity}
modes=${modes//connections/capacity}
subscribers=${BENCH_SUBSCRIBERS:-1000}
conversations=${BENCH_CONVERSATIONS:-100}
rate=${BENCH_RATE:-500}
duration=${BENCH_DURATION:-20}
send_concurrency=${BENCH_SEND_CONCURRENCY:-32}
drain_timeout=${BENCH_DRAIN_TIMEOUT:-30}
cap_rss_mb=${BENCH_CAP_RSS_MB:-2048}
cap_seconds=${BENCH_CAP_SECONDS:-180}
cap_step=${BENCH_CAP_STEP:-1000}
cap_max=${BENCH_CAP_MAX_CONNECTIONS:-1000000}
cap_users=${BENCH_CAP_USERS:-100}
cap_workers=${BENCH_CAP_WORKERS:-2}
cap_join=${BENCH_CAP_JOIN:-1}
keep=${BENCH_KEEP:-0}
binary=${ECOMANSONI_BIN:-$root/.build/debug/ecomansoni}
code=123456
phone_base=15570000000
database=ecomansoni_bench

bench_name=realtime.sh
. "$here/lib.sh"

for mode in $modes; do
    case $mode in latency | capacity) ;; *) die "BENCH_MODES: unknown mode '$mode' (latency, capacity)" ;; esac
done
is_int "$subscribers" && ((subscribers >= 2 && subscribers <= 20000)) || die "BENCH_SUBSCRIBERS must be 2..20000"
is_int "$conversations" && ((conversations >= 1 && subscribers % conversations == 0 && subscribers / conversations >= 2)) \
    || die "BENCH_CONVERSATIONS must divide BENCH_SUBSCRIBERS into groups of at least 2"
is_int "$rate" && ((rate >= 1 && rate <= 100000)) || die "BENCH_RATE must be 1..100000 (messages per second)"
is_int "$duration" && ((duration >= 1 && duration <= 600)) || die "BENCH_DURATION must be 1..600 seconds"
is_int "$send_concurrency" && ((send_concurrency >= 1 && send_concurrency <= 256)) || die "BENCH_SEND_CONCURRENCY must be 1..256"
is_int "$drain_timeout" && ((drain_timeout >= 1 && drain_timeout <= 600)) || die "BENCH_DRAIN_TIMEOUT must be 1..600"
window=$((duration < 60 ? duration : 60))
((rate * window / subscribers + 1 < 60)) \
    || die "each user would send $((rate * window / subscribers + 1)) messages in a minute (limit 60): raise BENCH_SUBSCRIBERS or lower BENCH_RATE"
is_int "$cap_rss_mb" && ((cap_rss_mb >= 64)) || die "BENCH_CAP_RSS_MB must be at least 64"
is_int "$cap_seconds" && ((cap_seconds >= 5 && cap_seconds <= 3600)) || die "BENCH_CAP_SECONDS must be 5..3600"
is_int "$cap_step" && ((cap_step >= 1 && cap_step <= 100000)) || die "BENCH_CAP_STEP must be 1..100000"
is_int "$cap_max" && ((cap_max >= 1)) || die "BENCH_CAP_MAX_CONNECTIONS must be positive"
is_int "$cap_users" && ((cap_users >= 10 && cap_users % 10 == 0 && cap_users <= 10000)) || die "BENCH_CAP_USERS must be a multiple of 10 in 10..10000"
is_int "$cap_workers" && ((cap_workers >= 1 && cap_workers <= 16)) || die "BENCH_CAP_WORKERS must be 1..16"
[[ $cap_join = 0 || $cap_join = 1 ]] || die "BENCH_CAP_JOIN must be 0 or 1"

[[ $binary = /* ]] || binary=$root/$binary
[ -x "$binary" ] || die "server binary not found at $binary (set ECOMANSONI_BIN)"

bench_setup
bench_start_cluster "$database"

numbers=$((subscribers > cap_users ? subscribers : cap_users))
bench_test_users "$phone_base" "$numbers" "$code"
# The load comes from one address and reuses --users users for thousands of sockets: lift the
# per-address and per-user socket caps (docs/realtime.md §11) and the per-address cap on TCP
# connections (HTTP_MAX_CONNECTIONS_PER_ADDRESS, which counts upgraded WebSockets too), which
# are not what is measured.
export HTTP_MAX_CONNECTIONS_PER_ADDRESS=0
export REALTIME_MAX_SOCKETS_PER_ADDRESS=1000000
export REALTIME_MAX_SOCKETS_PER_USER=10000
export LOG_LEVEL=info
export LOG_FORMAT=text

common_args() {
    printf '%s\n' --port "$server_port" --server-pid "$server_pid" \
        --binary "$work/ecomansoni" --binary-label "$(readlink -f "$binary")" \
        --data-dir "$work/data" --server-log "$server_log" --work-dir "$work" \
        --pg-version "$pg_version" --postmaster-pid "$postmaster_pid" --cpu-model "$(cpu_model)" \
        --pg-port "$pg_port" --pg-database "$database" --psql "$bindir/psql" \
        --phone-base "$phone_base" --code "$code"
}

results=()
for mode in $modes; do
    # A fresh server per mode, so the capacity run starts from an idle process.
    bench_start_server
    mapfile -t args < <(common_args)
    if [ "$mode" = latency ]; then
        bench_log "latency: $subscribers subscribers over $conversations conversations, $rate msg/s offered for ${duration}s"
        bench_run_py "$work/latency.json" "$here/realtime_bench.py" latency "${args[@]}" \
            --subscribers "$subscribers" --conversations "$conversations" --rate "$rate" --duration "$duration" \
            --send-concurrency "$send_concurrency" --drain-timeout "$drain_timeout" \
            || die "the latency benchmark failed"
    else
        bench_log "capacity: up to ${cap_rss_mb} MB RSS, ${cap_seconds}s, steps of $cap_step"
        bench_run_py "$work/capacity.json" "$here/realtime_bench.py" capacity "${args[@]}" \
            --users "$cap_users" --group-size 10 --step "$cap_step" --rss-limit-mb "$cap_rss_mb" \
            --time-bound "$cap_seconds" --max-connections "$cap_max" --workers "$cap_workers" \
            $([ "$cap_join" = 1 ] || echo --no-join) \
            || die "the capacity benchmark failed"
    fi
    results+=("$mode=$work/$mode.json")
    bench_stop_server
done

"$py" -c '
import json, sys
print(json.dumps({m: json.load(open(p)) for m, p in (a.split("=", 1) for a in sys.argv[1:])}, indent=2))
' "${results[@]}"
