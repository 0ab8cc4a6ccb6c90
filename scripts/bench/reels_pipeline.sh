#!/usr/bin/env bash
# Reels pipeline benchmark (issue 15, docs/reels.md "Pipeline"): the wall time of one reel
# through the server's pipeline (create_reel's job queued → outputs stored and the reel
# ready, from reels.jobs created_at/finished_at) next to the same ffmpeg/ffprobe commands
# run alone on the same clip (ratio, target ≤ 1.1), and jobs per minute of one worker
# (BENCH_REELS_JOBS reels created at once, first queued → last done). Prints ONE JSON object
# on stdout (with a "figures" list for scripts/bench/all); progress goes to stderr.
#
#   scripts/bench/reels_pipeline.sh            a 10 s 1080x1920 clip with sound, 3 rounds, 4 jobs
#   scripts/bench/reels_pipeline.sh --smoke    a 2 s 360x640 clip, 1 round, 2 jobs (seconds)
#
# Environment (all optional):
#   ECOMANSONI_BIN          server binary (default .build/debug/ecomansoni); copied before the run
#   BENCH_REELS_SECONDS     clip length (10)
#   BENCH_REELS_SIZE        clip size WxH (1080x1920)
#   BENCH_REELS_ROUNDS      single-reel rounds, median reported (3)
#   BENCH_REELS_JOBS        reels queued at once for the throughput figure (4)
#   BENCH_PG_OPTIONS        extra postgres options (debugging)
#   BENCH_KEEP              1: keep the temporary directory; on-failure: only on failure
#
# The server runs every role with one worker (REELS_WORKER_CONCURRENCY=1) and local storage;
# the baseline runs the commands TranscodePlan builds (reels_pipeline.py mirrors them), so
# the ratio is the pipeline's own cost: download, queue, progress, storing ~20 objects and
# the ready transaction.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

if [ "${1:-}" = "--smoke" ] || [ "${BENCH_SMOKE:-0}" = 1 ]; then
    : "${BENCH_REELS_SECONDS:=2}" "${BENCH_REELS_SIZE:=360x640}" "${BENCH_REELS_ROUNDS:=1}" "${BENCH_REELS_JOBS:=2}"
fi
seconds=${BENCH_REELS_SECONDS:-10}
size=${BENCH_REELS_SIZE:-1080x1920}
rounds=${BENCH_REELS_ROUNDS:-3}
jobs=${BENCH_REELS_JOBS:-4}
keep=${BENCH_KEEP:-0}
binary=${ECOMANSONI_BIN:-$root/.build/debug/ecomansoni}
database=ecomansoni_bench
code=123456
phone_base=15550003300

bench_name=reels_pipeline.sh
. "$here/lib.sh"

is_int "$seconds" && ((seconds >= 1 && seconds <= 90)) || die "BENCH_REELS_SECONDS must be 1..90"
[[ $size =~ ^[0-9]+x[0-9]+$ ]] || die "BENCH_REELS_SIZE must be WxH"
is_int "$rounds" && ((rounds >= 1 && rounds <= 50)) || die "BENCH_REELS_ROUNDS must be 1..50"
is_int "$jobs" && ((jobs >= 1 && jobs <= 100)) || die "BENCH_REELS_JOBS must be 1..100"
[[ $binary = /* ]] || binary=$root/$binary
[ -x "$binary" ] || die "server binary not found at $binary (set ECOMANSONI_BIN)"
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || die "ffmpeg/ffprobe not found (apt-get install ffmpeg)"

bench_setup
bench_start_cluster "$database"

export AUTH_SMS_TEST_OTP="$phone_base:$code"
export AUTH_SMS_MAX_FREQUENCY=1
export AUTH_SMS_DELIVERY=log
export STORAGE_BACKEND=local
export REELS_WORKER_CONCURRENCY=1
export REELS_WORK_DIR=$work/reels-work
mkdir -p "$REELS_WORK_DIR"
export LOG_LEVEL=warning
export LOG_FORMAT=text
bench_start_server

bench_run_py "$work/result.json" "$here/reels_pipeline.py" \
    --port "$server_port" --server-pid "$server_pid" --binary "$work/ecomansoni" --data-dir "$work/data" \
    --psql "$bindir/psql" --pg-port "$pg_port" --pg-database "$database" --postmaster-pid "$postmaster_pid" --work-dir "$work" \
    --phone "$phone_base" --code "$code" --seconds "$seconds" --size "$size" --rounds "$rounds" --jobs "$jobs" \
    --binary-label "$(readlink -f "$binary")" --cpu-model "$(cpu_model)" --pg-version "$pg_version" \
    || die "the benchmark failed"
cat "$work/result.json"
