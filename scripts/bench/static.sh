#!/usr/bin/env bash
# Web app static files (issue 12): bytes a signed-out first visit transfers uncompressed,
# with gzip and with brotli; what a repeat visit transfers with the first one cached; and
# requests per second and p99 of a compressed asset next to GET /health (the HTTP stack
# with no work behind it) on the same server in the same run. Prints ONE JSON object on
# stdout (with a "figures" list for scripts/bench/all); progress goes to stderr.
#
#   scripts/bench/static.sh
#   ECOMANSONI_BIN=.build/release/ecomansoni scripts/bench/static.sh
#   BENCH_DURATION=1 BENCH_CLIENTS=2 scripts/bench/static.sh      (smoke run)
#
# Environment (all optional):
#   ECOMANSONI_BIN      server binary (default .build/debug/ecomansoni); copied before the run
#   BENCH_CLIENTS       keep-alive connections of the throughput phases (16)
#   BENCH_DURATION      seconds per throughput phase (5)
#   BENCH_LOAD_TOOL     wrk | python | auto (auto: wrk when installed, Debian's `wrk`)
#   BENCH_PG_OPTIONS    extra postgres options (debugging)
#   BENCH_KEEP          1: keep the temporary directory; on-failure: only on failure
#
# What a first load fetches is read off the server itself, as a browser would find it: `/`,
# every URL index.html names (stylesheets, icon, module preloads, the entry module), the
# modules main.js loads for a signed-out visitor (app.js, views/auth.js) and
# /app-config.json. Bytes are counted as they cross the wire: status line, headers and body.
# Every compressed body is checked to decode to the identity bytes (gzip in Python, brotli
# through the system's libbrotlidec when present).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

clients=${BENCH_CLIENTS:-16}
duration=${BENCH_DURATION:-5}
keep=${BENCH_KEEP:-0}
binary=${ECOMANSONI_BIN:-$root/.build/debug/ecomansoni}
database=ecomansoni_bench

bench_name=static.sh
. "$here/lib.sh"

is_int "$clients" && ((clients >= 1 && clients <= 256)) || die "BENCH_CLIENTS must be 1..256"
is_int "$duration" && ((duration >= 1 && duration <= 600)) || die "BENCH_DURATION must be 1..600 seconds"
load_tool=$(bench_load_tool)

[[ $binary = /* ]] || binary=$root/$binary
[ -x "$binary" ] || die "server binary not found at $binary (set ECOMANSONI_BIN)"

bench_setup
bench_start_cluster "$database"

export LOG_LEVEL=info
export LOG_FORMAT=text
# The checkout's web app, whatever the caller's environment says.
export PUBLIC_DIR=$root/Public
bench_start_server

bench_run_py "$work/result.json" "$here/static_bench.py" \
    --port "$server_port" --server-pid "$server_pid" \
    --binary-label "$(readlink -f "$binary")" --server-log "$server_log" \
    --postmaster-pid "$postmaster_pid" --cpu-model "$(cpu_model)" \
    --clients "$clients" --duration "$duration" --load-tool "$load_tool" \
    || die "the benchmark failed"
cat "$work/result.json"
