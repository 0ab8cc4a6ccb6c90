#!/usr/bin/env bash
# Table API benchmark (issue 19): GET /rest/v1/messages?conversation_id=eq.…&order=seq.desc&limit=50
# and a one-row POST /rest/v1/messages, each against the same SQL in pgbench (the statements
# the server sends, as the caller under row-level security) for the same clients and
# duration. Prints ONE JSON object on stdout; progress goes to stderr.
#
#   scripts/bench/tables.sh
#   ECOMANSONI_BIN=.build/release/ecomansoni scripts/bench/tables.sh
#
# Environment (all optional):
#   ECOMANSONI_BIN      server binary (default .build/debug/ecomansoni); copied before the run
#   BENCH_CLIENTS       concurrent clients, HTTP workers and pgbench clients alike (8)
#   BENCH_DURATION      seconds per measured phase (10)
#   BENCH_MAX_REQUESTS  request cap of each HTTP phase with Python load (50000)
#   BENCH_USERS         signed-in test users (400); inserts keep each under the 60 messages
#                       a minute the table allows a sender
#   BENCH_GROUP_SIZE    members per group (10)
#   BENCH_MESSAGES      messages written into each group before the read phase (60)
#   BENCH_LOAD_TOOL     wrk | python | auto (auto: wrk when installed, Debian's `wrk`, a C
#                       client as cheap per request as pgbench is per transaction)
#   BENCH_KEEP          1: keep the temporary directory; on-failure: only when the run fails
#
# Like chat.sh it starts a private PostgreSQL cluster and a copy of the server, then runs
# scripts/bench/tables_bench.py: sign-in, groups, messages, the read phase and its pgbench
# (sql/table_read.sql), the insert phase and its pgbench (sql/table_insert.sql).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

clients=${BENCH_CLIENTS:-8}
duration=${BENCH_DURATION:-10}
max_requests=${BENCH_MAX_REQUESTS:-50000}
users=${BENCH_USERS:-400}
group_size=${BENCH_GROUP_SIZE:-10}
messages=${BENCH_MESSAGES:-60}
keep=${BENCH_KEEP:-0}
binary=${ECOMANSONI_BIN:-$root/.build/debug/ecomansoni}
code=123456
phone_base=15560000000
database=ecomansoni_bench

bench_name=tables.sh
. "$here/lib.sh"

is_int "$clients" && ((clients >= 1 && clients <= 64)) || die "BENCH_CLIENTS must be 1..64"
is_int "$duration" && ((duration >= 1 && duration <= 600)) || die "BENCH_DURATION must be 1..600 seconds"
is_int "$max_requests" && ((max_requests >= 1 && max_requests <= 10000000)) || die "BENCH_MAX_REQUESTS must be 1..10000000"
is_int "$group_size" && ((group_size >= 2 && group_size <= 200)) || die "BENCH_GROUP_SIZE must be 2..200"
is_int "$users" && ((users >= group_size && users <= 10000)) || die "BENCH_USERS must be BENCH_GROUP_SIZE..10000"
is_int "$messages" && ((messages >= 1 && messages <= 10000)) || die "BENCH_MESSAGES must be 1..10000"
(((users / group_size) * group_size >= clients)) || die "BENCH_USERS must give at least one (group, member) pair per client"
load_tool=$(bench_load_tool)

[[ $binary = /* ]] || binary=$root/$binary
[ -x "$binary" ] || die "server binary not found at $binary (set ECOMANSONI_BIN)"

bench_setup
bench_start_cluster "$database"

bench_test_users "$phone_base" "$users" "$code"
export LOG_LEVEL=info
export LOG_FORMAT=text
bench_start_server

# ---- measure (in the background so Ctrl-C and TERM reach the trap at once).
bench_run_driver "$work/result.json" "$here/tables_bench.py" "$database" \
    --clients "$clients" --duration "$duration" --max-requests "$max_requests" --load-tool "$load_tool" \
    --users "$users" --group-size "$group_size" --messages "$messages" --phone-base "$phone_base" --code "$code" \
    || die "the benchmark failed"
cat "$work/result.json"
