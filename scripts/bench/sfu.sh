#!/usr/bin/env bash
# Group calls through Janus (issue 18, docs/sfu.md; spec shared/specs/sfu-janus.md §9
# "Benchmarks"): aiortc devices speaking the calls-ws `sfu.*` frames against real Janus
# nodes, beside the same aiortc code driving the Janus API directly in the same run. Prints
# ONE JSON object on stdout (with a "figures" list for scripts/bench/all); progress goes to
# stderr.
#
#   scripts/bench/sfu.sh
#   ECOMANSONI_BIN=.build/release/ecomansoni scripts/bench/sfu.sh
#   BENCH_RUNS=2 BENCH_FAILOVER_RUNS=1 BENCH_B2_SUBSCRIBERS=2 BENCH_B2_SECONDS=1 scripts/bench/sfu.sh   (smoke run)
#
# Measured (scripts/bench/sfu_bench.py has the details):
#   B1  join → first frame: BENCH_PUBLISHERS devices publish in one sfu room; BENCH_RUNS times a
#       fresh device joins and subscribes to one publisher's feed (`sfu.subscribe` with
#       streams [{feedId}]) on a new subscriber PeerConnection: time from sending
#       `sfu.subscribe` to the first decoded video frame. Baseline: the same number of
#       publishers publishing straight into a Janus room made with the admin key (no ACL,
#       no private id), and BENCH_RUNS subscribers (attach, `join` ptype subscriber with
#       streams [{feed}], answer with `start`), their runs interleaved with the calls-ws ones:
#       time from the `join` request to the first decoded video frame. Medians, p90 and the
#       ratio; target ratio ≤ 1.5 and ≤ 50 ms more.
#   B2  forwarded streams per Janus core: one publisher at about 1 Mbit/s (VP8 noise) and
#       BENCH_B2_SUBSCRIBERS subscribers that do not decode, straight on a Janus node of its
#       own pinned to one core (the clients to another); Janus CPU from /proc over
#       BENCH_B2_SECONDS. BENCH_B2_SUBSCRIBERS=0 leaves it out.
#   B3  recovery after a node failure: two devices publishing and subscribing, SIGKILL of the
#       room's node, time to `sfu.interrupted`, to `sfu.restart` and to the first decoded
#       video frame after the clients publish and subscribe again; BENCH_FAILOVER_RUNS runs.
#
# Environment (all optional):
#   ECOMANSONI_BIN        server binary (default .build/release/ecomansoni)
#   BENCH_PUBLISHERS      publishing devices of the B1 room (2; 1..10)
#   BENCH_RUNS            B1 subscriptions measured each way (20), after one warm-up each
#   BENCH_FAILOVER_RUNS   B3 node kills (3)
#   BENCH_B2_SUBSCRIBERS  B2 subscribers, comma-separated steps (10,20; 0: no B2)
#   BENCH_B2_SECONDS      seconds each B2 step is measured (10)
#   BENCH_KEEP            1: keep the Janus directories and the server's data directory
#
# Janus gathers no ICE candidate on a loopback interface, so everything runs in the SFU
# suite's network namespace: when not in it (no veth `v0` carrying 127.0.0.1, as
# Tests/e2e/sfu/janus_nodes.py checks) this script runs itself again under scripts/sfu-netns
# (root, or sudo). It starts three Janus nodes named in SFU_NODES, a fourth for B2, and the
# server with its embedded database (Tests/e2e/conftest.py's launched_server), all stopped at
# the end. Python: the checkout's .venv, else python3 from PATH (lib.sh); it needs aiortc and
# the e2e requirements (Tests/e2e/requirements.txt), e.g. PATH=/path/to/venv/bin:$PATH.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
keep=${BENCH_KEEP:-0}
bench_name=sfu.sh
. "$here/lib.sh"

in_media_namespace() {
    local addresses
    addresses=$(ip -o addr show dev v0 2>/dev/null) || return 1
    [[ $addresses == *" 127.0.0.1/"* ]]
}

if ! in_media_namespace; then
    [ -z "${SFU_BENCH_IN_NETNS:-}" ] || die "scripts/sfu-netns gave no namespace whose v0 carries 127.0.0.1"
    # sudo (when not root) resets the environment: the variables this run reads go as arguments.
    passed=(SFU_BENCH_IN_NETNS=1)
    for name in $(compgen -e); do
        case $name in
            BENCH_* | ECOMANSONI_BIN | PATH | TMPDIR | E2E_KEEP_DATA | SFU_NETNS) passed+=("$name=${!name}") ;;
        esac
    done
    bench_log "not in the SFU network namespace; running again under scripts/sfu-netns"
    exec "$root/scripts/sfu-netns" env "${passed[@]}" "$here/sfu.sh" "$@"
fi

command -v janus >/dev/null || [ -x /usr/bin/janus ] || die "janus not found (apt-get install janus)"
command -v psql >/dev/null || die "psql not found (apt-get install postgresql-client)"
binary=${ECOMANSONI_BIN:-$root/.build/release/ecomansoni}
[[ $binary = /* ]] || binary=$root/$binary
[ -x "$binary" ] || die "server binary not found at $binary (set ECOMANSONI_BIN, or: swift build -c release --product ecomansoni)"

py=$(bench_python)
"$py" -c 'import aiortc, av, websockets, supabase, pytest' 2>/dev/null \
    || die "$py lacks aiortc or the e2e requirements (pip install -r Tests/e2e/requirements.txt, or put a venv's bin first on PATH)"

export ECOMANSONI_BIN=$binary
[ "$keep" = 1 ] && export E2E_KEEP_DATA=1
# The driver stops the Janus nodes and the server itself, also on SIGTERM and Ctrl-C.
exec "$py" "$here/sfu_bench.py"
