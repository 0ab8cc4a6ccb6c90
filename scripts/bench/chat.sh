#!/usr/bin/env bash
# send_message benchmark (issue 3a): throughput and latency of
# POST /rest/v1/rpc/send_message_v1 on this machine, next to the raw PostgreSQL cost of the
# equivalent INSERT … RETURNING (and of the server's whole statement sequence) measured with
# pgbench in the same run. Prints ONE JSON object on stdout; progress goes to stderr.
#
#   scripts/bench/chat.sh
#   ECOMANSONI_BIN=.build/release/ecomansoni scripts/bench/chat.sh
#
# Environment (all optional):
#   ECOMANSONI_BIN      server binary (default .build/debug/ecomansoni); copied before the run
#   BENCH_CLIENTS       concurrent clients, HTTP workers and pgbench clients alike (8)
#   BENCH_DURATION      seconds per measured phase (10)
#   BENCH_MAX_REQUESTS  request cap of the HTTP phase (50000; the python load tool only)
#   BENCH_LOAD_TOOL     wrk | python | auto (auto: wrk when installed, Debian's `wrk`, a C
#                       client as cheap per request as pgbench is per transaction)
#   BENCH_USERS         signed-in test users, all senders (1000); the server allows each 60
#                       messages a minute, so a phase under a minute sends at most
#                       60 × BENCH_USERS: keep that above the expected req/s × BENCH_DURATION
#   BENCH_GROUP_SIZE    members per group (10): BENCH_USERS / BENCH_GROUP_SIZE groups
#   BENCH_PG_OPTIONS    extra postgres options, e.g. "-c log_statement=all" (debugging)
#   BENCH_KEEP          1: keep the temporary directory (cluster, server log, pgbench
#                       logs); on-failure: keep it only when the run fails
#
# What it does: starts a private PostgreSQL cluster in a temporary directory (a free port,
# 127.0.0.1 only) and a copy of the server against it (test numbers in AUTH_SMS_TEST_OTP,
# the per-address auth limiter relaxed), then runs scripts/bench/chat_bench.py: sign-in and
# group creation, one warm-up message per group, the HTTP phase, then pgbench with
# scripts/bench/sql/send_fn.sql (prepared, as the server sends it) and send_raw.sql (extended,
# then prepared) for the same clients and duration. The
# server and the cluster are stopped and the directory removed on exit, also on failure or
# Ctrl-C.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

clients=${BENCH_CLIENTS:-8}
duration=${BENCH_DURATION:-10}
max_requests=${BENCH_MAX_REQUESTS:-50000}
users=${BENCH_USERS:-1000}
group_size=${BENCH_GROUP_SIZE:-10}
keep=${BENCH_KEEP:-0}
binary=${ECOMANSONI_BIN:-$root/.build/debug/ecomansoni}
code=123456
phone_base=15560000000
database=ecomansoni_bench

bench_name=chat.sh
. "$here/lib.sh"

is_int "$clients" && ((clients >= 1 && clients <= 64)) || die "BENCH_CLIENTS must be 1..64"
is_int "$duration" && ((duration >= 1 && duration <= 600)) || die "BENCH_DURATION must be 1..600 seconds"
is_int "$max_requests" && ((max_requests >= 1 && max_requests <= 10000000)) || die "BENCH_MAX_REQUESTS must be 1..10000000"
is_int "$group_size" && ((group_size >= 2 && group_size <= 200)) || die "BENCH_GROUP_SIZE must be 2..200"
is_int "$users" && ((users >= group_size && users <= 10000)) || die "BENCH_USERS must be BENCH_GROUP_SIZE..10000"
(((users / group_size) * group_size >= clients)) || die "BENCH_USERS must give at least one (group, member) pair per client"

[[ $binary = /* ]] || binary=$root/$binary
[ -x "$binary" ] || die "server binary not found at $binary (set ECOMANSONI_BIN)"

load_tool=$(bench_load_tool)
bench_setup
bench_start_cluster "$database"

bench_test_users "$phone_base" "$users" "$code"
export LOG_LEVEL=info
export LOG_FORMAT=text
bench_start_server

# ---- measure (in the background so Ctrl-C and TERM reach the trap at once).
bench_run_driver "$work/result.json" "$here/chat_bench.py" "$database" \
    --clients "$clients" --duration "$duration" --max-requests "$max_requests" \
    --users "$users" --group-size "$group_size" --phone-base "$phone_base" --code "$code" --load-tool "$load_tool" \
    || die "the benchmark failed"
cat "$work/result.json"
