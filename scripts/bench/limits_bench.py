#!/usr/bin/env python3
"""Driver and report for scripts/bench/limits.sh (rate-limit checks against Redis).

For each --concurrency C, two steps one after the other on the redis-server bus.sh-style
private instance that limits.sh started:

  server    `<binary> bench-limits --redis-url … --concurrency C --seconds S --keys K`: the
            server's own token-bucket check (its Lua script by EVALSHA through the server's
            RESP client and pool), closed loop; it prints its own JSON (checks, errors,
            checks_per_s, latency_ms p50/p99/max, script_sha1, key_prefix).
  baseline  `redis-benchmark -c C -n N -r C×K --csv EVALSHA <sha> 1 <prefix>bench:__rand_int__
            1000000000 1000000 1`: the same script with the same arguments, from Redis's own
            C client (its CSV gives rps and p50/p99).

Around each step it reads redis-server's CPU time from /proc: `redis_ms_per_1000_checks` is
what the script costs Redis itself, and `redis_cores` how close Redis is to its one core.
Prints ONE JSON object on stdout, with the "figures" list scripts/bench/all reads; progress
goes to stderr.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import binary_kind, machine_facts, make_logger, process_cpu  # noqa: E402

log = make_logger("limits-bench")
CAPACITY = "1000000000"   # a limit that never refuses: every check runs the whole script
REFILL = "1000000"


def timed(pid: int, run):
    """Runs `run()`; returns its result, the wall seconds and redis-server's CPU seconds."""
    cpu_before, t_before = process_cpu(pid), time.perf_counter()
    result = run()
    return result, time.perf_counter() - t_before, process_cpu(pid) - cpu_before


def server_step(args, concurrency: int) -> dict:
    command = [args.binary, "bench-limits", "--redis-url", f"redis://127.0.0.1:{args.redis_port}",
               "--concurrency", str(concurrency), "--seconds", str(args.seconds), "--keys", str(args.keys)]
    done, wall, redis_cpu = timed(args.redis_pid, lambda: subprocess.run(
        command, capture_output=True, text=True, timeout=args.seconds + 120))
    if done.returncode != 0:
        raise SystemExit(f"bench-limits failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    result = json.loads(done.stdout)
    checks = result["checks"]
    result["redis_ms_per_1000_checks"] = round(redis_cpu * 1e6 / checks, 1) if checks else None
    # The process also starts, connects and loads the script: CPU over its measured seconds.
    result["redis_cores"] = round(redis_cpu / max(result["seconds"], wall), 2)
    return result


def baseline_step(args, concurrency: int, sha1: str, prefix: str) -> dict:
    command = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(args.redis_port), "-c", str(concurrency),
               "-n", str(args.baseline_requests), "-r", str(concurrency * args.keys), "--csv",
               "EVALSHA", sha1, "1", f"{prefix}bench:__rand_int__", CAPACITY, REFILL, "1"]
    done, wall, redis_cpu = timed(args.redis_pid, lambda: subprocess.run(
        command, capture_output=True, text=True, timeout=600))
    if done.returncode != 0:
        raise SystemExit(f"redis-benchmark failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    if len(rows) != 1:
        raise SystemExit(f"redis-benchmark printed {len(rows)} result rows: {done.stdout[-2000:]}")
    row = rows[0]
    return {
        "requests": args.baseline_requests,
        "checks_per_s": round(float(row["rps"])),
        "latency_ms": {"p50": float(row["p50_latency_ms"]), "p99": float(row["p99_latency_ms"]),
                       "max": float(row["max_latency_ms"])},
        "redis_ms_per_1000_checks": round(redis_cpu * 1e6 / args.baseline_requests, 1),
        "redis_cores": round(redis_cpu / wall, 2) if wall > 0 else None,
    }


def figures(steps: list[dict]) -> list[dict]:
    result = []
    for step in steps:
        server, baseline = step["server"], step["baseline"]
        c = step["concurrency"]
        ratio = round(server["checks_per_s"] / baseline["checks_per_s"], 3) if baseline["checks_per_s"] else None
        result.append({
            "figure": f"limit checks through Redis, {c} in flight",
            "value": server["checks_per_s"], "unit": "checks/s",
            "baseline": baseline["checks_per_s"], "baseline_unit": "EVALSHA/s",
            "baseline_what": f"redis-benchmark, the same script, {c} connections",
            "ratio": ratio,
            "detail": (f"p50 {server['latency_ms']['p50']} ms / p99 {server['latency_ms']['p99']} ms "
                       f"(redis-benchmark {baseline['latency_ms']['p50']} / {baseline['latency_ms']['p99']} ms); "
                       f"Redis CPU {server['redis_ms_per_1000_checks']} vs {baseline['redis_ms_per_1000_checks']} ms "
                       f"per 1 000 checks"),
        })
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", required=True)
    p.add_argument("--binary-label", required=True)
    p.add_argument("--redis-port", type=int, required=True)
    p.add_argument("--redis-pid", type=int, required=True)
    p.add_argument("--redis-version", required=True)
    p.add_argument("--cpu-model", default="")
    p.add_argument("--concurrency", type=int, nargs="+", required=True)
    p.add_argument("--seconds", type=int, required=True)
    p.add_argument("--keys", type=int, required=True)
    p.add_argument("--baseline-requests", type=int, required=True)
    args = p.parse_args()

    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    facts = machine_facts(args.cpu_model)
    steps = []
    for c in args.concurrency:
        log(f"{c} in flight: the server's check for {args.seconds} s")
        server = server_step(args, c)
        log(f"{c} in flight: redis-benchmark, {args.baseline_requests} EVALSHA")
        baseline = baseline_step(args, c, server["script_sha1"], server["key_prefix"])
        log(f"{c} in flight: {server['checks_per_s']}/s against redis-benchmark {baseline['checks_per_s']}/s")
        steps.append({"concurrency": c, "server": server, "baseline": baseline})

    errors = sum(step["server"]["errors"] + step["server"]["refused"] for step in steps)
    print(json.dumps({
        "figures": figures(steps),
        "errors_total": errors,
        "benchmark": "limits",
        "started_at": started,
        "binary": args.binary_label,
        "build": binary_kind(args.binary_label),
        "redis_version": args.redis_version,
        "machine": facts,
        "parameters": {"seconds": args.seconds, "keys_per_loop": args.keys, "baseline_requests": args.baseline_requests,
                       "capacity": int(CAPACITY), "refill_per_s": int(REFILL)},
        "steps": steps,
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
