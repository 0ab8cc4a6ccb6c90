#!/usr/bin/env bash
# Cross-instance message bus benchmark (docs/realtime.md §12): realtime broadcasts sent to
# one server instance and delivered by others, over the Redis bus and over the PostgreSQL
# bus, beside raw Redis PUBLISH → SUBSCRIBE measured in the same run. Prints ONE JSON object
# on stdout (with a "figures" list for scripts/bench/all); progress goes to stderr.
#
#   scripts/bench/bus.sh
#   ECOMANSONI_BIN=.build/release/ecomansoni scripts/bench/bus.sh
#   BENCH_BUS_TOPICS=2 BENCH_BUS_RECEIVERS=2 BENCH_BUS_RATE=20 BENCH_BUS_SECONDS=2 BENCH_BUS_WARMUP_SECONDS=1 \
#       BENCH_BUS_DRAIN_SECONDS=3 BENCH_BUS_RAW_SECONDS=1 BENCH_BUS_RAW_CLIENTS=2 scripts/bench/bus.sh   (smoke run)
#   ECOMANSONI_BIN=.build/release/ecomansoni BENCH_BUS_INSTANCES=3 BENCH_BUS_TOPICS=100 BENCH_BUS_RECEIVERS=90 \
#       BENCH_BUS_RATE=50 scripts/bench/bus.sh   (3 instances × 3 000 subscribers: 9 000 receiver sockets)
#   … BENCH_BUS_CLIENT_PROCESSES=3 …   (the same, its receiver sockets in 3 receiver processes)
#
# What it does: a private PostgreSQL cluster (lib.sh) and a private redis-server (a free
# port on 127.0.0.1, `--save '' --appendonly no`, its directory in the run's temporary
# directory), then one phase per bus, one after the other (instances register in
# cluster.instances and refuse to start beside a live instance on another bus, so each
# phase's instances are stopped, gracefully, before the next phase starts):
#
#   redis     BENCH_BUS_INSTANCES instances A, B (C, D) on the bench database with
#             MESSAGE_BUS=redis and REDIS_URL pointing at the private redis-server;
#   postgres  the same instances with MESSAGE_BUS=postgres (LISTEN/NOTIFY, no REDIS_URL).
#
# Both phases use REALTIME_OPEN_TOPICS=bench-, so anonymous sockets (the anon key) may join
# and broadcast on `realtime:bench-<n>`. scripts/bench/bus_bench.py (its docstring has the
# details) connects one sender socket per topic to A and BENCH_BUS_RECEIVERS receiver
# sockets per topic (plain WebSockets, Phoenix vsn 1.0.0, broadcast.self false, ack false),
# runs a warm-up step, then offers BENCH_BUS_RATE broadcasts/s in total, open loop, for
# BENCH_BUS_SECONDS, spread evenly over the sender sockets. Where the receivers are:
#
#   2 instances    every receiver on B (every event crosses the bus);
#   3 or 4         round-robin over ALL the instances, A included (receiver g, counted
#                  over the topics in order, on instance g mod BENCH_BUS_INSTANCES): the
#                  deployment the target "3 instances × 3 000 subscribers" describes, where
#                  each broadcast reaches A's own receivers directly and crosses the bus to
#                  every other instance holding receivers of its topic (all of them once
#                  BENCH_BUS_RECEIVERS ≥ BENCH_BUS_INSTANCES).
#
# Measured: broadcasts crossed per second (distinct (topic, i, instance) reaching the
# instances other than A, over a window as long as the sending from the first of them,
# divided by the crossings one broadcast needs: with 2 instances, distinct (topic, i)
# reaching B), events delivered per second (all receivers), send → receive latency p50/p99
# of every receiver, of the receivers across the bus and of each instance's (wall clock of
# this machine, the sender's timestamp in the payload), and lost and duplicated events:
# every (topic, i) must reach every receiver of its topic exactly once (an event still
# missing once nothing has arrived for BENCH_BUS_DRAIN_SECONDS is lost). A step that
# crossed under 95 % of the offered rate is marked `saturated`. In the redis phase it also
# SUBSCRIBEs to the server's channel `ecomansoni:bus` during the warm-up (the real size of a
# broadcast envelope), and measures the raw baseline: Redis alone (a RESP client written in
# the driver), one publisher connection paced at BENCH_BUS_RATE with payloads of the
# envelopes' mean size and one subscriber connection per instance (each instance SUBSCRIBEs
# once), then closed loop with BENCH_BUS_RAW_CLIENTS publishers (the ceiling of this
# client). `cores` per step: CPU seconds per second of each instance (server_a,
# server_b, …), redis-server, PostgreSQL, the load generator (`client`: its main process;
# `client_workers`: its receiver processes, with BENCH_BUS_CLIENT_PROCESSES > 1) and the rest
# of the machine.
#
# Limits: a realtime socket may send 100 frames/s (bursts of 200; docs/realtime.md §11, not
# configurable), so the rate per sender socket, BENCH_BUS_RATE / BENCH_BUS_TOPICS, must be
# at most 50 (half of it: heartbeats and pacing jitter stay clear of the limit). Every socket
# comes from 127.0.0.1: each instance gets REALTIME_MAX_SOCKETS_PER_ADDRESS=100000 and
# HTTP_MAX_CONNECTIONS_PER_ADDRESS=0 (both documented in docs/configuration.md); every other
# realtime setting is the default. The load generator is one Python asyncio process holding
# every socket, unless BENCH_BUS_CLIENT_PROCESSES is over 1: then the receiver sockets are
# split over that many receiver processes (receiver g in process g mod the count), and the
# main process keeps the senders, the schedule, the raw baseline and the report (one
# process holding 9 000 receivers lagged behind its own send schedule by up to 320 ms, so
# its send → receive p99 measured itself, not the servers); every figure and check is the
# same. The soft open-files limit (`ulimit -n`) is raised here to the hard one, which the
# load generator and the instances inherit (each raises its own soft limit to the hard one
# as well), and a run whose sockets do not fit under it (BENCH_BUS_TOPICS ×
# (BENCH_BUS_RECEIVERS + 1), the Redis connections and 200 spare: what one process, or the
# instance holding every receiver, needs) stops before anything starts. Sockets connect and
# join 32 at a time (in all, whatever the number of processes); the setup reports how long
# that took (`setup.connect_and_join_s`) and over how many processes (`setup.client_processes`).
#
# The merged JSON starts with `figures`: broadcasts crossed per second over Redis beside
# raw PUBLISH → SUBSCRIBE at the same rate, its p99 beside the raw p99, the PostgreSQL bus
# beside the Redis bus (throughput and p99), and the lost/duplicated/refused count
# (`errors_total`, which must be 0). With more than 2 instances their labels name the
# instance count.
#
# Environment (all optional; the defaults take about 2 minutes on 2 cores, release binary):
#   ECOMANSONI_BIN            server binary (default .build/debug/ecomansoni); copied first
#   BENCH_BUS_PHASES          "redis postgres" (default), or one of them
#   BENCH_BUS_INSTANCES       server instances per phase, 2..4 (2: A sends, B receives; 3 or 4:
#                             A sends, the receivers are spread over every instance, A included)
#   BENCH_BUS_TOPICS          topics = sender sockets on A (20)
#   BENCH_BUS_RECEIVERS       receiver sockets per topic (5), on B or spread (BENCH_BUS_INSTANCES)
#   BENCH_BUS_RATE            broadcasts per second offered, in total (500)
#   BENCH_BUS_SECONDS         seconds of the measured step (15)
#   BENCH_BUS_WARMUP_SECONDS  seconds of the warm-up step at the same rate (2)
#   BENCH_BUS_DRAIN_SECONDS   after a step, seconds without any arrival before a missing event
#                             counts as lost (5; at most 120 s of waiting in all)
#   BENCH_BUS_RAW_SECONDS     seconds of each raw Redis step, paced and closed loop (10)
#   BENCH_BUS_RAW_CLIENTS     publisher connections of the closed-loop raw step (8)
#   BENCH_BUS_CLIENT_PROCESSES  processes of the load generator, 1..8 and at most the receiver
#                             sockets (1: one holds every socket; N > 1: the receiver sockets
#                             split over N receiver processes, the senders in the main one)
#   BENCH_PG_OPTIONS          extra postgres options (debugging)
#   BENCH_KEEP                1: keep the temporary directory; on-failure: only on failure
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

phases=${BENCH_BUS_PHASES:-redis postgres}
instances=${BENCH_BUS_INSTANCES:-2}
topics=${BENCH_BUS_TOPICS:-20}
receivers=${BENCH_BUS_RECEIVERS:-5}
rate=${BENCH_BUS_RATE:-500}
seconds=${BENCH_BUS_SECONDS:-15}
warmup_seconds=${BENCH_BUS_WARMUP_SECONDS:-2}
drain_seconds=${BENCH_BUS_DRAIN_SECONDS:-5}
raw_seconds=${BENCH_BUS_RAW_SECONDS:-10}
raw_clients=${BENCH_BUS_RAW_CLIENTS:-8}
client_processes=${BENCH_BUS_CLIENT_PROCESSES:-1}
keep=${BENCH_KEEP:-0}
binary=${ECOMANSONI_BIN:-$root/.build/debug/ecomansoni}
database=ecomansoni_bench

bench_name=bus.sh
. "$here/lib.sh"

for phase in $phases; do
    case $phase in redis | postgres) ;; *) die "BENCH_BUS_PHASES: unknown phase '$phase' (redis, postgres)" ;; esac
done
[ -n "${phases// /}" ] || die "BENCH_BUS_PHASES is empty"
is_int "$instances" && ((instances >= 2 && instances <= 4)) || die "BENCH_BUS_INSTANCES must be 2..4"
is_int "$topics" && ((topics >= 1 && topics <= 1000)) || die "BENCH_BUS_TOPICS must be 1..1000"
is_int "$receivers" && ((receivers >= 1 && receivers <= 100)) || die "BENCH_BUS_RECEIVERS must be 1..100"
((topics * receivers <= 20000)) || die "BENCH_BUS_TOPICS × BENCH_BUS_RECEIVERS must be at most 20000 sockets"
# Receiver 0 is on A when the receivers are spread: with a single one nothing would cross.
((instances == 2 || topics * receivers >= 2)) \
    || die "BENCH_BUS_TOPICS × BENCH_BUS_RECEIVERS must be at least 2 with BENCH_BUS_INSTANCES ≥ 3 (receiver 0 is on A)"
[[ $rate =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk -v r="$rate" 'BEGIN { exit !(r > 0) }' || die "BENCH_BUS_RATE must be a positive number"
awk -v r="$rate" -v t="$topics" 'BEGIN { exit !(r / t <= 50) }' \
    || die "BENCH_BUS_RATE / BENCH_BUS_TOPICS is over 50 broadcasts/s per sender socket (a socket may send 100 frames/s); add topics"
is_int "$seconds" && ((seconds >= 1 && seconds <= 600)) || die "BENCH_BUS_SECONDS must be 1..600"
is_int "$warmup_seconds" && ((warmup_seconds >= 1 && warmup_seconds <= 60)) || die "BENCH_BUS_WARMUP_SECONDS must be 1..60"
is_int "$drain_seconds" && ((drain_seconds >= 1 && drain_seconds <= 600)) || die "BENCH_BUS_DRAIN_SECONDS must be 1..600"
is_int "$raw_seconds" && ((raw_seconds >= 1 && raw_seconds <= 600)) || die "BENCH_BUS_RAW_SECONDS must be 1..600"
is_int "$raw_clients" && ((raw_clients >= 1 && raw_clients <= 64)) || die "BENCH_BUS_RAW_CLIENTS must be 1..64"
is_int "$client_processes" && ((client_processes >= 1 && client_processes <= 8)) || die "BENCH_BUS_CLIENT_PROCESSES must be 1..8"
((client_processes <= topics * receivers)) \
    || die "BENCH_BUS_CLIENT_PROCESSES must be at most BENCH_BUS_TOPICS × BENCH_BUS_RECEIVERS (the receiver sockets)"

[[ $binary = /* ]] || binary=$root/$binary
[ -x "$binary" ] || die "server binary not found at $binary (set ECOMANSONI_BIN)"
command -v redis-server >/dev/null || die "redis-server not found (apt-get install redis-server)"

# Open files: the load generator holds every socket (one per topic on A, the receivers; with
# BENCH_BUS_CLIENT_PROCESSES > 1 each of its processes a share) and a few Redis connections;
# it and the instances, started from here, inherit the raised soft limit.
nofile_hard=$(ulimit -Hn)
[ "$nofile_hard" != unlimited ] || nofile_hard=$(cat /proc/sys/fs/nr_open)
nofile=$(ulimit -Sn)
if [ "$nofile" != unlimited ] && ((nofile < nofile_hard)); then
    ulimit -Sn "$nofile_hard" 2>/dev/null || true
    nofile=$(ulimit -Sn)
fi
nofile_needed=$((topics * (receivers + 1) + raw_clients + instances + 200))
[ "$nofile" = unlimited ] || ((nofile >= nofile_needed)) \
    || die "the open-files limit (ulimit -n: $nofile, hard $nofile_hard) is under the $nofile_needed descriptors" \
        "this run needs; raise the hard limit or use fewer sockets"

bench_setup
"$py" -c 'import websockets' 2>/dev/null || die "$py has no websockets package (python -m pip install websockets)"

# BENCH_BUS_INSTANCES server processes per phase, stopped here (each instance gracefully,
# with lib.sh's bench_stop_server); lib.sh's cleanup then stops redis-server and the cluster
# and, on failure, prints the end of $server_log (A's log; the others' ends are printed here).
instance_name() { local names=ABCD; printf '%s' "${names:$1:1}"; }  # 0 → A, 1 → B, …
instance_pids=()   # this phase's instances, A first (a started one is listed at once)
instance_logs=()
bus_stop_instances() {
    local k
    for ((k = ${#instance_pids[@]} - 1; k >= 0; k--)); do
        server_pid=${instance_pids[k]}
        bench_stop_server
    done
    instance_pids=()
    bench_stop_server  # one started but not listed yet
}
bus_cleanup() {
    local status=$?
    # errexit off: `(exit 1)` below would otherwise end the trap before bench_cleanup.
    set +e
    bus_stop_instances
    if [ "$status" -ne 0 ]; then
        local k
        for ((k = 1; k < ${#instance_logs[@]}; k++)); do
            [ -s "${instance_logs[k]}" ] || continue
            bench_log "last lines of instance $(instance_name "$k")'s log ($(basename "${instance_logs[k]}")):"
            tail -n 20 "${instance_logs[k]}" >&2
        done
        [ ${#instance_logs[@]} -eq 0 ] || server_log=${instance_logs[0]}
    fi
    (exit "$status")  # bench_cleanup reads the run's status from $?
    bench_cleanup
}
trap bus_cleanup EXIT

bench_start_cluster "$database"
bench_copy_binary

bench_start_redis

export REALTIME_OPEN_TOPICS=bench-
export REALTIME_MAX_SOCKETS_PER_ADDRESS=100000
export HTTP_MAX_CONNECTIONS_PER_ADDRESS=0
export LOG_LEVEL=info
export LOG_FORMAT=text
# Whatever the caller's environment says: default realtime settings, every role.
unset SERVER_ROLES TRUST_PROXY DATABASE_MAX_CONNECTIONS REALTIME_MAX_SOCKETS_PER_USER REALTIME_MAX_BINDINGS_PER_CHANNEL \
    REALTIME_MAX_PRESENCE_META_BYTES REALTIME_MAX_PRESENCES_PER_KEY REALTIME_MAX_PRESENCES_PER_TOPIC REDIS_URL

common=(--binary "$work/ecomansoni" --binary-label "$(readlink -f "$binary")" --data-dir "$work/data"
    --pg-version "$pg_version" --redis-version "$redis_version" --postmaster-pid "$postmaster_pid" --cpu-model "$(cpu_model)"
    --topics "$topics" --receivers "$receivers" --rate "$rate" --seconds "$seconds"
    --warmup-seconds "$warmup_seconds" --drain-seconds "$drain_seconds"
    --raw-seconds "$raw_seconds" --raw-clients "$raw_clients" --client-processes "$client_processes")
results=()

for phase in $phases; do
    export MESSAGE_BUS=$phase
    if [ "$phase" = redis ]; then
        export REDIS_URL=redis://127.0.0.1:$redis_port
        extra=(--redis-port "$redis_port" --redis-pid "$redis_pid")
    else
        unset REDIS_URL
        extra=()
    fi
    instance_logs=() listed=() placed=
    for ((k = 0; k < instances; k++)); do
        bench_start_server
        instance_pids+=("$server_pid") instance_logs+=("$server_log")
        # PORT:PID:LOG, in order: the first is A (the senders).
        listed+=(--instance "$server_port:$server_pid:$server_log")
        placed+="${placed:+, }$(instance_name "$k") on $server_port (pid $server_pid)"
    done
    server_pid=${instance_pids[0]} server_log=${instance_logs[0]}
    bench_log "$phase bus: $placed"
    bench_run_py "$work/$phase.json" "$here/bus_bench.py" phase --bus "$phase" "${common[@]}" "${extra[@]}" "${listed[@]}" \
        || die "the $phase phase failed"
    # Graceful stops (SIGTERM): each instance leaves cluster.instances, so the next phase's
    # instances, on another bus, are not refused.
    bus_stop_instances
    results+=(--"$phase" "$work/$phase.json")
done

"$py" "$here/bus_bench.py" merge "${results[@]}"
