#!/usr/bin/env bash
# Object storage benchmark (issue 13, /storage/v1): upload and download throughput of one
# large object next to `cp` and reading the same file on the same disk, the same against the
# S3 backend next to boto3 talking to the S3 peer (moto) directly, time to first byte of a
# 64 KiB Range read (206) next to GET /health, and the server's memory during a big upload
# (must stay flat, not grow with the size). Prints ONE JSON object on stdout (with a
# "figures" list for scripts/bench/all); progress goes to stderr.
#
#   scripts/bench/storage.sh
#   ECOMANSONI_BIN=.build/release/ecomansoni scripts/bench/storage.sh
#   BENCH_STORAGE_MB=4 BENCH_STORAGE_BIG_MB=16 BENCH_STORAGE_REPEAT=1 BENCH_STORAGE_RANGE_REQUESTS=20 \
#       scripts/bench/storage.sh                                          (smoke run)
#
# Environment (all optional):
#   ECOMANSONI_BIN                server binary (default .build/debug/ecomansoni); copied before the run
#   BENCH_STORAGE_MB              size of the throughput object, MiB (200)
#   BENCH_STORAGE_BIG_MB          size of the upload during which RSS is sampled, MiB (500)
#   BENCH_STORAGE_REPEAT          rounds of upload/download and baselines; best is reported (3)
#   BENCH_STORAGE_RANGE_REQUESTS  Range GETs (and GET /health) for the TTFB percentiles (200)
#   BENCH_STORAGE_S3              1: also the S3 backend against moto (needs .venv/bin/moto_server,
#                                 from Tests/e2e/requirements.txt); 0: local disk only (1)
#   BENCH_PG_OPTIONS              extra postgres options (debugging)
#   BENCH_KEEP                    1: keep the temporary directory; on-failure: only on failure
#
# What it does: a private PostgreSQL cluster and the server (lib.sh) with STORAGE_BACKEND=local
# (its directory under the run's temporary directory, on disk: set TMPDIR to choose the disk);
# the test files are written there too (os.urandom), so server, cp and reads share the disk.
# A test user signs in with an AUTH_SMS_TEST_OTP number; the service-role key creates a
# private bucket with no size limit. scripts/bench/storage_bench.py then measures (its
# docstring has the details): RSS during a BENCH_STORAGE_BIG_MB raw upload (VmRSS every
# 20 ms); BENCH_STORAGE_REPEAT rounds of cp, raw-body upload, multipart-form upload (the
# shape supabase-py sends), file read, download; one verified download (MD5, ETag, size);
# Range reads and GET /health. Then the server is stopped, moto's standalone server started
# on a free port and a second server started with STORAGE_BACKEND=s3 against it, and the
# rounds repeat with boto3's direct PUT (parts of S3_PART_SIZE_BYTES, one at a time, like
# the server) and GET as baselines. Everything (cluster, servers, moto, directory) is
# stopped and removed on exit, also on failure or Ctrl-C.
#
# Caveat: all files are in the page cache (just written); the figures compare the server's
# path with the cheapest local copy, not with a cold disk.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

size_mb=${BENCH_STORAGE_MB:-200}
big_mb=${BENCH_STORAGE_BIG_MB:-500}
repeat=${BENCH_STORAGE_REPEAT:-3}
range_requests=${BENCH_STORAGE_RANGE_REQUESTS:-200}
with_s3=${BENCH_STORAGE_S3:-1}
keep=${BENCH_KEEP:-0}
binary=${ECOMANSONI_BIN:-$root/.build/debug/ecomansoni}
database=ecomansoni_bench
code=123456
phone_local=15550001300
phone_s3=15550001301
s3_bucket=ecomansoni-bench
part_size=$((8 * 1024 * 1024))

bench_name=storage.sh
. "$here/lib.sh"

is_int "$size_mb" && ((size_mb >= 1 && size_mb <= 20000)) || die "BENCH_STORAGE_MB must be 1..20000"
is_int "$big_mb" && ((big_mb >= 1 && big_mb <= 20000)) || die "BENCH_STORAGE_BIG_MB must be 1..20000"
is_int "$repeat" && ((repeat >= 1 && repeat <= 20)) || die "BENCH_STORAGE_REPEAT must be 1..20"
is_int "$range_requests" && ((range_requests >= 1 && range_requests <= 100000)) || die "BENCH_STORAGE_RANGE_REQUESTS must be 1..100000"
case $with_s3 in 0 | 1) ;; *) die "BENCH_STORAGE_S3 must be 0 or 1" ;; esac
moto=$root/.venv/bin/moto_server
if [ "$with_s3" = 1 ] && [ ! -x "$moto" ]; then
    die "no $moto: python3 -m venv .venv && .venv/bin/pip install -r Tests/e2e/requirements.txt (or BENCH_STORAGE_S3=0)"
fi

[[ $binary = /* ]] || binary=$root/$binary
[ -x "$binary" ] || die "server binary not found at $binary (set ECOMANSONI_BIN)"

bench_setup
[ "$with_s3" = 0 ] || "$py" -c 'import boto3' 2>/dev/null || die "$py cannot import boto3 (it comes with moto)"

# moto and the second server are stopped before lib.sh's own cleanup (cluster, directory).
moto_pid=
storage_cleanup() {
    local status=$?
    set +e
    if [ -n "$py_pid" ] && kill -0 "$py_pid" 2>/dev/null; then
        kill -TERM "$py_pid" 2>/dev/null || true
        wait "$py_pid" 2>/dev/null || true
    fi
    py_pid=
    bench_stop_server
    # Its SIGTERM handler waits for idle keep-alive connections; 5 s, then SIGKILL.
    bench_stop_pid "$moto_pid" moto 50
    (exit "$status")
    bench_cleanup
}
trap storage_cleanup EXIT

bench_start_cluster "$database"

files=$work/files
bench_log "writing the test files (${size_mb} and ${big_mb} MiB) to $files"
"$py" "$here/storage_bench.py" files --dir "$files" --mb "$size_mb" --big-mb "$big_mb"
disk=$(df -P "$work" | awk 'NR == 2 {print $1 " (" $6 ")"}')
bench_log "disk of the run: $disk"

export AUTH_SMS_TEST_OTP="$phone_local:$code,$phone_s3:$code"
export AUTH_SMS_MAX_FREQUENCY=1
export AUTH_SMS_DELIVERY=log
export LOG_LEVEL=info
export LOG_FORMAT=text
largest=$((size_mb > big_mb ? size_mb : big_mb))
export STORAGE_MAX_UPLOAD_BYTES=$(((largest + 1) * 1024 * 1024 > 524288000 ? (largest + 1) * 1024 * 1024 : 524288000))
export STORAGE_WRITES_PER_MINUTE=10000
export STORAGE_BACKEND=local
unset STORAGE_DIR S3_ENDPOINT S3_REGION S3_BUCKET S3_ACCESS_KEY_ID S3_SECRET_ACCESS_KEY S3_PART_SIZE_BYTES S3_REQUEST_TIMEOUT_SECONDS

measure() {
    local backend=$1 phone=$2
    shift 2
    bench_run_py "$work/$backend.json" "$here/storage_bench.py" measure --backend "$backend" \
        --port "$server_port" --server-pid "$server_pid" --binary "$work/ecomansoni" \
        --data-dir "$work/data" --server-log "$server_log" --files "$files" \
        --phone "$phone" --code "$code" --repeat "$repeat" --range-requests "$range_requests" "$@"
}

# ---- local disk
bench_start_server
measure local "$phone_local" || die "the benchmark failed (local disk)"
bench_stop_server

# ---- S3 backend against moto
s3_args=()
if [ "$with_s3" = 1 ]; then
    moto_port=$(free_port)
    mkdir -p "$work/moto-tmp"
    bench_log "starting moto on 127.0.0.1:$moto_port (log moto.log)"
    TMPDIR=$work/moto-tmp "$moto" -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 </dev/null &
    moto_pid=$!
    for _ in $(seq 1 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$moto_port") 2>/dev/null && break
        kill -0 "$moto_pid" 2>/dev/null || { cat "$work/moto.log" >&2; die "moto exited"; }
        sleep 0.1
    done
    (exec 3<>"/dev/tcp/127.0.0.1/$moto_port") 2>/dev/null || die "moto did not listen within 20 s"
    export STORAGE_BACKEND=s3
    export S3_ENDPOINT=http://127.0.0.1:$moto_port
    export S3_REGION=us-east-1
    export S3_BUCKET=$s3_bucket
    export S3_ACCESS_KEY_ID=testing
    export S3_SECRET_ACCESS_KEY=testing
    export S3_PART_SIZE_BYTES=$part_size
    bench_start_server
    measure s3 "$phone_s3" --s3-endpoint "$S3_ENDPOINT" --s3-direct-bucket bench-direct --s3-part-size "$part_size" \
        || die "the benchmark failed (S3 backend)"
    bench_stop_server
    s3_args=(--s3 "$work/s3.json")
fi

bench_run_py "$work/result.json" "$here/storage_bench.py" report --local "$work/local.json" "${s3_args[@]}" \
    --binary-label "$(readlink -f "$binary")" --cpu-model "$(cpu_model)" --disk "$disk" \
    || die "the report failed"
cat "$work/result.json"
