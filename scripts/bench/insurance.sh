#!/usr/bin/env bash
# OSAGO benchmark (issue 5): quotes per second through the CLI (one process per quote) next
# to the spawn rate of /bin/true, quotes per second over HTTP next to GET /health on the
# same server in the same run, and the built-in assistant's time to first token. Prints
# ONE JSON object on stdout; progress goes to stderr.
#
#   scripts/bench/insurance.sh
#   ECOMANSONI_BIN=.build/release/ecomansoni scripts/bench/insurance.sh
#
# Environment (all optional):
#   ECOMANSONI_BIN            server binary (default .build/debug/ecomansoni); copied before the run
#   BENCH_CLI_QUOTES          `ecomansoni osago quote` processes (200), and as many /bin/true
#   BENCH_CLI_PARALLEL        processes running at once (8)
#   BENCH_HTTP_CLIENTS        keep-alive connections of the HTTP phases (16)
#   BENCH_HTTP_DURATION       seconds per HTTP phase (5)
#   BENCH_ASSISTANT_REQUESTS  sequential assistant requests (30)
#   BENCH_ASSISTANT_USERS     signed-in test users they rotate over (6; each user may ask
#                             ASSISTANT_RATE_PER_MINUTE, default 10, a minute)
#   BENCH_PG_OPTIONS          extra postgres options (debugging)
#   BENCH_KEEP                1: keep the temporary directory; on-failure: only on failure
#
# What it does: starts a private PostgreSQL cluster in a temporary directory (a free port,
# 127.0.0.1 only) and a copy of the server against it (test numbers in AUTH_SMS_TEST_OTP,
# no LLM provider, so the assistant is the built-in one), then runs
# scripts/bench/insurance_bench.py: the CLI and /bin/true phases (the server idle), the
# HTTP quote and /health phases, and the assistant phase. Every quote's premium is checked
# against the spec's worked examples. The server and the cluster are stopped and the
# directory removed on exit, also on failure or Ctrl-C.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

cli_quotes=${BENCH_CLI_QUOTES:-200}
cli_parallel=${BENCH_CLI_PARALLEL:-8}
http_clients=${BENCH_HTTP_CLIENTS:-16}
http_duration=${BENCH_HTTP_DURATION:-5}
assistant_requests=${BENCH_ASSISTANT_REQUESTS:-30}
assistant_users=${BENCH_ASSISTANT_USERS:-6}
keep=${BENCH_KEEP:-0}
binary=${ECOMANSONI_BIN:-$root/.build/debug/ecomansoni}
code=123456
phone_base=15570000000
database=ecomansoni_bench

bench_name=insurance.sh
. "$here/lib.sh"

is_int "$cli_quotes" && ((cli_quotes >= 5 && cli_quotes <= 100000)) || die "BENCH_CLI_QUOTES must be 5..100000"
is_int "$cli_parallel" && ((cli_parallel >= 1 && cli_parallel <= 256)) || die "BENCH_CLI_PARALLEL must be 1..256"
is_int "$http_clients" && ((http_clients >= 1 && http_clients <= 256)) || die "BENCH_HTTP_CLIENTS must be 1..256"
is_int "$http_duration" && ((http_duration >= 1 && http_duration <= 600)) || die "BENCH_HTTP_DURATION must be 1..600 seconds"
is_int "$assistant_requests" && ((assistant_requests >= 2 && assistant_requests <= 10000)) || die "BENCH_ASSISTANT_REQUESTS must be 2..10000"
is_int "$assistant_users" && ((assistant_users >= 2 && assistant_users <= 1000)) || die "BENCH_ASSISTANT_USERS must be 2..1000"

[[ $binary = /* ]] || binary=$root/$binary
[ -x "$binary" ] || die "server binary not found at $binary (set ECOMANSONI_BIN)"
[ -x /bin/true ] || die "/bin/true not found"

bench_setup
bench_start_cluster "$database"

export AUTH_SMS_TEST_OTP=$("$py" -c "import sys; b, n = map(int, sys.argv[1:3]); print(','.join(f'{b + i}:{sys.argv[3]}' for i in range(n)))" \
    "$phone_base" "$assistant_users" "$code")
export AUTH_SMS_MAX_FREQUENCY=0
export AUTH_SMS_DELIVERY=log
export LOG_LEVEL=info
export LOG_FORMAT=text
# The built-in assistant: no provider, whatever the caller's environment says.
unset LLM_BASE_URL LLM_API_KEY LLM_MODEL ASSISTANT_RATE_PER_MINUTE ASSISTANT_KEEPALIVE_SECONDS
bench_start_server

# ---- measure (in the background so Ctrl-C and TERM reach the trap at once).
bench_run_py "$work/result.json" "$here/insurance_bench.py" \
    --port "$server_port" --server-pid "$server_pid" \
    --binary "$work/ecomansoni" --binary-label "$(readlink -f "$binary")" \
    --data-dir "$work/data" --server-log "$server_log" \
    --postmaster-pid "$postmaster_pid" --pg-version "$pg_version" \
    --cpu-model "$(cpu_model)" \
    --cli-quotes "$cli_quotes" --cli-parallel "$cli_parallel" \
    --http-clients "$http_clients" --http-duration "$http_duration" \
    --assistant-requests "$assistant_requests" --assistant-users "$assistant_users" \
    --phone-base "$phone_base" --code "$code" \
    || die "the benchmark failed"
cat "$work/result.json"
