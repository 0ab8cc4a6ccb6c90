"""Shared helpers of the benchmark drivers in scripts/bench (standard library only).

CPU accounting from /proc, percentiles, a keep-alive HTTP client, worker threads started
together, the server's readiness and keys, psql and pgbench against the private cluster
the shell scripts start, and the facts every report carries (machine, binary, server log).
The drivers (auth_bench.py, chat_bench.py, realtime_bench.py) import this module from the
same directory.
"""

from __future__ import annotations

import base64
import glob
import http.client
import json
import math
import os
import re
import resource
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

REQUEST_TIMEOUT = 30.0
READY_TIMEOUT = 120.0


def make_logger(name: str):
    """A `log(message)` writing `[name] message` to stderr."""

    def log(message: str) -> None:
        print(f"[{name}] {message}", file=sys.stderr, flush=True)

    return log


# --------------------------------------------------------------------------- CPU and memory

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces.
    return text[text.rindex(")") + 2:].split()


def process_alive(pid: int) -> bool:
    fields = _proc_stat(pid)
    return fields is not None and fields[0] != "Z"


def process_cpu(pid: int, with_reaped_children: bool = False) -> float:
    """CPU seconds (user+system) of a process, optionally plus its reaped children."""
    fields = _proc_stat(pid)
    if fields is None:
        return 0.0
    # After the ")": state=0, ppid=1, ..., utime=11, stime=12, cutime=13, cstime=14.
    ticks = int(fields[11]) + int(fields[12])
    if with_reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLOCK_TICKS


def process_rss_bytes(pid: int) -> int | None:
    """Resident set size of a process (VmRSS), or None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def process_fd_count(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def process_nofile_limit(pid: int) -> int | None:
    """The soft open-files limit of a process (from /proc/<pid>/limits)."""
    try:
        for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                value = line.split()[3]
                return None if value == "unlimited" else int(value)
    except OSError:
        return None
    return None


def postgres_children(postmaster_pid: int) -> set[int]:
    """Pids of the cluster's live (or not yet reaped) processes below the postmaster."""
    children = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = _proc_stat(int(entry.name))
            if fields is not None and fields[1] == str(postmaster_pid):
                children.add(int(entry.name))
    return children


def wait_for_backends_to_exit(postmaster_pid: int, baseline: set[int], timeout: float = 10.0) -> None:
    """Waits until the backends of finished connections are reaped, so their CPU time has
    moved into the postmaster's children total (read earlier, it would be lost)."""
    deadline = time.monotonic() + timeout
    while postgres_children(postmaster_pid) - baseline and time.monotonic() < deadline:
        time.sleep(0.05)


def postgres_cpu(postmaster_pid: int) -> float:
    """CPU seconds of a PostgreSQL cluster: postmaster, its live children and reaped ones."""
    total = process_cpu(postmaster_pid, with_reaped_children=True)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _proc_stat(int(entry.name))
        if fields is not None and fields[1] == str(postmaster_pid):
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


def all_processes() -> dict[int, tuple[str, int, int]]:
    """pid -> (command name, parent pid, user+system ticks) of every process."""
    result = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        result[int(entry.name)] = (name, int(fields[1]), int(fields[11]) + int(fields[12]))
    return result


class ProcessGroupMeter:
    """CPU seconds of named processes (server instances, redis-server), the cluster, this
    process and the machine over a step, and which other processes used the rest.

    `label` names each process's figure in ``cores`` (default: its name); `digits` rounds them.
    `worker_pids`, when set (a list, may be set once they are started), are further
    load-generator processes: their CPU is reported as ``client_workers`` beside this
    process's ``client``, and counted out of ``other``."""

    def __init__(self, named: dict[str, int], postmaster_pid: int, label=None, digits: int = 3) -> None:
        self.named = named
        self.postmaster_pid = postmaster_pid
        self.label = label or (lambda name: name)
        self.digits = digits
        self.worker_pids: list[int] | None = None

    def sample(self) -> dict:
        busy, total = machine_cpu()
        own = os.times()
        sample = {
            "t": time.perf_counter(),
            "named": {name: process_cpu(pid) for name, pid in self.named.items()},
            "postgres": postgres_cpu(self.postmaster_pid),
            "client": own.user + own.system,
            "busy": busy,
            "total": total,
            "procs": all_processes(),
            "ours": {os.getpid(), self.postmaster_pid, *self.named.values(), *(self.worker_pids or ())},
        }
        if self.worker_pids is not None:
            sample["client_workers"] = sum(process_cpu(pid) for pid in self.worker_pids)
        return sample

    def cores(self, before: dict, after: dict) -> dict:
        """Average cores used between two samples, by process and group, with the biggest other users."""
        seconds = after["t"] - before["t"]
        if seconds <= 0:
            return {}
        result = {}
        accounted = 0.0
        for name in before["named"]:
            used = after["named"][name] - before["named"][name]
            accounted += used
            result[self.label(name)] = round(used / seconds, self.digits)
        for key in ("postgres", "client", "client_workers"):
            if key not in before or key not in after:
                continue   # client_workers: only with worker_pids
            used = after[key] - before[key]
            accounted += used
            result[key] = round(used / seconds, self.digits)
        busy = after["busy"] - before["busy"]
        result["other"] = round(max(0.0, busy - accounted) / seconds, 2)
        total = after["total"] - before["total"]
        result["machine_busy_pct"] = round(100 * busy / total, 1) if total > 0 else None
        # The biggest other users, by command name (processes of this run excluded).
        ours = before["ours"] | after["ours"]
        by_name: dict[str, float] = {}
        for pid, (name, parent, ticks) in after["procs"].items():
            if pid in ours or parent in ours:
                continue
            used = ticks - before["procs"].get(pid, (name, parent, 0))[2]
            if used > 0:
                by_name[name] = by_name.get(name, 0.0) + used / CLOCK_TICKS / seconds
        top = sorted(by_name.items(), key=lambda item: -item[1])[:4]
        result["other_top"] = {name: round(cores, 2) for name, cores in top if cores >= 0.03}
        return result


class CPUMeter:
    """CPU used by server, PostgreSQL, this helper (or a child) and the machine over a phase.

    The client's CPU is this helper's and its reaped children's (wrk, pgbench); `extra_pids`
    are further load-generator processes (not children of this one, or not yet reaped) whose
    CPU counts as the client's too."""

    def __init__(self, server_pid: int | None, postmaster_pid: int, extra_pids: list[int] | None = None) -> None:
        self.server_pid = server_pid
        self.postmaster_pid = postmaster_pid
        self.extra_pids = extra_pids or []

    def sample(self) -> dict[str, float]:
        busy, total = machine_cpu()
        own = os.times()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        reaped = children.ru_utime + children.ru_stime
        return {
            "server": process_cpu(self.server_pid) if self.server_pid else 0.0,
            "postgres": postgres_cpu(self.postmaster_pid),
            "client": own.user + own.system + reaped + sum(process_cpu(pid) for pid in self.extra_pids),
            "children": reaped,
            "busy": busy,
            "total": total,
        }

    @staticmethod
    def report(before: dict[str, float], after: dict[str, float], count: int, load_generator: str) -> dict:
        """CPU milliseconds per completed request/transaction, by process group."""
        delta = {key: after[key] - before[key] for key in before}
        generator = delta["client"] if load_generator == "client" else delta["children"]
        accounted = delta["server"] + delta["postgres"] + generator
        per = (lambda seconds: round(seconds * 1000 / count, 3)) if count else (lambda seconds: None)
        result = {}
        if load_generator == "client":
            result["server"] = per(delta["server"])
        result["postgres"] = per(delta["postgres"])
        result[load_generator if load_generator == "client" else "pgbench"] = per(generator)
        result["other"] = per(max(0.0, delta["busy"] - accounted))
        return {
            "cpu_ms_per_op": result,
            "machine_busy_pct": round(100 * delta["busy"] / delta["total"], 1) if delta["total"] > 0 else None,
        }

    @staticmethod
    def cores_used(before: dict[str, float], after: dict[str, float], seconds: float) -> dict:
        """Average cores used by each group over a phase (0..cores)."""
        delta = {key: after[key] - before[key] for key in before}
        accounted = delta["server"] + delta["postgres"] + delta["client"]
        if seconds <= 0:
            return {}
        return {
            "server": round(delta["server"] / seconds, 2),
            "postgres": round(delta["postgres"] / seconds, 2),
            "client": round(delta["client"] / seconds, 2),
            "other": round(max(0.0, delta["busy"] - accounted) / seconds, 2),
        }


# --------------------------------------------------------------------------- statistics


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)


def latency_summary(seconds: list[float]) -> dict:
    """count, p50/p90/p99/p99.9/max/mean in milliseconds of a list of durations in seconds."""
    values = sorted(seconds)
    n = len(values)
    return {
        "count": n,
        "p50_ms": ms(percentile(values, 0.50)),
        "p90_ms": ms(percentile(values, 0.90)),
        "p99_ms": ms(percentile(values, 0.99)),
        "p999_ms": ms(percentile(values, 0.999)),
        "max_ms": ms(values[-1] if values else None),
        "mean_ms": ms(sum(values) / n if n else None),
    }


# --------------------------------------------------------------------------- HTTP client


class AddressPool:
    """Hands out fresh loopback source addresses 127.A.B.C (A >= 1, C in 1..254)."""

    def __init__(self) -> None:
        self._next = 0
        self._lock = threading.Lock()

    def take(self) -> str:
        with self._lock:
            n = self._next
            self._next += 1
        a, rest = 1 + n // (256 * 254), n % (256 * 254)
        if a > 254:
            raise RuntimeError("ran out of loopback source addresses")
        return f"127.{a}.{rest // 254}.{rest % 254 + 1}"

    @property
    def used(self) -> int:
        return self._next


class Client:
    """A keep-alive HTTP/1.1 connection. With a pool it moves to a new loopback source address
    every `per_address` requests (for per-address limits); without one it connects from
    127.0.0.1 and stays there."""

    def __init__(self, port: int, anon_key: str, pool: AddressPool | None = None, per_address: int = 1 << 62,
                 user_agent: str = "bench") -> None:
        self.port = port
        self.pool = pool
        self.per_address = per_address
        self.headers = {
            "apikey": anon_key,
            "Content-Type": "application/json",
            "User-Agent": user_agent,
            "Connection": "keep-alive",
        }
        self.connection: http.client.HTTPConnection | None = None
        self.used = 0
        self.reconnects = 0

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def _ensure_connection(self) -> None:
        if self.connection is not None and self.used < self.per_address:
            return
        self.close()
        address = self.pool.take() if self.pool is not None else "127.0.0.1"
        self.used = 0
        self.connection = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=REQUEST_TIMEOUT, source_address=(address, 0))
        self.connection.connect()  # outside the timed part

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int | None, bytes | str, float]:
        """A GET on the kept-alive connection: (status or None on a transport error, body or error text, seconds)."""
        return self.post(path, None, headers=headers, method="GET")

    def post(self, path: str, body: dict | None, headers: dict[str, str] | None = None,
             started_at: list[float] | None = None, method: str = "POST") -> tuple[int | None, bytes | str, float]:
        """(status or None on a transport error, body or error text, seconds).
        `started_at`, when given, receives the perf_counter() at which the request started."""
        try:
            self._ensure_connection()
        except OSError as error:
            self.close()
            return None, f"connect: {type(error).__name__}: {error}", 0.0
        assert self.connection is not None
        self.used += 1
        data = json.dumps(body).encode() if body is not None else None
        request_headers = self.headers if not headers else {**self.headers, **headers}
        started = time.perf_counter()
        if started_at is not None:
            started_at.append(started)
        try:
            self.connection.request(method, path, body=data, headers=request_headers)
            response = self.connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as error:
            elapsed = time.perf_counter() - started
            self.close()
            self.reconnects += 1
            return None, f"{type(error).__name__}: {error}", elapsed
        elapsed = time.perf_counter() - started
        if response.will_close:
            # The server ended keep-alive; the next request reconnects (same address budget).
            self.connection.close()
            self.reconnects += 1
            self.used = self.per_address  # move on to a fresh address
        return response.status, payload, elapsed


class PhaseStats:
    """Statuses, latencies of successes and a few error samples of one measured phase."""

    def __init__(self) -> None:
        self.latencies: list[float] = []  # seconds, successful requests only
        self.statuses: dict[str, int] = {}
        self.error_samples: list[str] = []
        self.lock = threading.Lock()

    def add(self, status: int | None, payload: bytes | str, elapsed: float, ok_status: int = 200) -> None:
        with self.lock:
            key = str(status) if status is not None else "transport_error"
            self.statuses[key] = self.statuses.get(key, 0) + 1
            if status == ok_status:
                self.latencies.append(elapsed)
            elif len(self.error_samples) < 5:
                text = payload.decode(errors="replace") if isinstance(payload, bytes) else payload
                self.error_samples.append(f"{key} after {elapsed * 1000:.1f} ms: {text[:200]}")


def run_workers(count: int, target, timeout: float) -> float:
    """Runs target(index, barrier) on `count` threads started together; returns wall seconds."""
    barrier = threading.Barrier(count + 1)
    threads = [threading.Thread(target=target, args=(i, barrier), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    barrier.wait(timeout=30)
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    if any(thread.is_alive() for thread in threads):
        raise RuntimeError(f"workers did not finish within {timeout:.0f}s")
    return time.perf_counter() - started


def phase_result(stats: PhaseStats, wall: float, cpu: dict) -> dict:
    values = sorted(stats.latencies)
    ok = len(values)
    total = sum(stats.statuses.values())
    result = {
        "requests": total,
        "ok": ok,
        "non_2xx_or_errors": total - ok,
        "seconds": round(wall, 2),
        "rps": round(ok / wall, 1) if wall > 0 else None,
        "p50_ms": ms(percentile(values, 0.50)),
        "p90_ms": ms(percentile(values, 0.90)),
        "p99_ms": ms(percentile(values, 0.99)),
        "max_ms": ms(values[-1] if values else None),
        "mean_ms": ms(sum(values) / ok if ok else None),
    }
    if total - ok:
        result["statuses"] = stats.statuses
        result["error_samples"] = stats.error_samples
    result.update(cpu)
    return result


WRK_SCRIPT = Path(__file__).resolve().parent / "wrk_requests.lua"


def wrk_threads(clients: int) -> int:
    """The threads wrk gets for `clients` connections: at most 2, one per core here."""
    return max(1, min(clients, 2))


def wrk_load(port: int, clients: int, duration: int, *, path: str = "/", headers: dict[str, str] | None = None,
             requests: list[tuple[str, str, str, dict[str, str]]] | None = None, work_dir: str | None = None) -> dict:
    """Load from Debian's wrk (a C client, as cheap per request as pgbench is per transaction):
    `clients` keep-alive connections on at most 2 threads for `duration` seconds.

    Either every request is GET `path` with `headers`, or `requests` lists (method, path, body,
    headers) that the threads cycle through (scripts/bench/wrk_requests.lua; the list is
    written to `work_dir`; "{uuid}" in a body becomes a new UUID in each request). Returns
    requests, seconds, rps (2xx/3xx answers a second), p50/p90/p99_ms and non_2xx_or_errors."""
    threads = wrk_threads(clients)
    arguments: list[str] = []
    environment = dict(os.environ)
    if requests is not None:
        if work_dir is None:
            raise ValueError("wrk_load: requests need a work_dir")
        if len(requests) < threads:
            raise ValueError(f"wrk_load: {len(requests)} requests for {threads} threads")
        listing = Path(work_dir) / "wrk_requests.tsv"
        with listing.open("w") as out:
            for method, request_path, body, request_headers in requests:
                fields = [method, request_path, body] + [f"{name}: {value}" for name, value in request_headers.items()]
                if any("\t" in field or "\n" in field for field in fields):
                    raise ValueError("wrk_load: a request field holds a tab or a newline")
                out.write("\t".join(fields) + "\n")
        environment.update({"WRK_REQUESTS": str(listing), "WRK_THREADS": str(threads), "WRK_RUN_ID": os.urandom(4).hex()})
        arguments += ["-s", str(WRK_SCRIPT)]
    else:
        for key, value in (headers or {}).items():
            arguments += ["-H", f"{key}: {value}"]
    return run_wrk(port, clients, duration, path, arguments, environment)


def wrk_refresh_load(port: int, clients: int, duration: int, *, path: str, headers: dict[str, str],
                     tokens: list[str], work_dir: str) -> dict:
    """wrk_load for refresh-token rotation (scripts/bench/wrk_requests.lua's chains): POST `path`
    with {"refresh_token": …}, each token used once and each answer's new token used next.
    `tokens` starts the chains: one per connection and one per thread more (wrk spends one on
    its check of the script), so that no connection is left without a token."""
    threads = wrk_threads(clients)
    if len(tokens) < clients + threads:
        raise ValueError(f"wrk_refresh_load: {len(tokens)} starting tokens for {clients} connections on {threads} threads")
    if any(not token or any(c in token for c in "\t\n\"\\") for token in tokens):
        raise ValueError("wrk_refresh_load: a token is empty or holds a tab, newline, quote or backslash")
    if any("\t" in f"{name}: {value}" for name, value in headers.items()):
        raise ValueError("wrk_refresh_load: a header holds a tab")
    listing = Path(work_dir) / "wrk_refresh_tokens.txt"
    listing.write_text("".join(token + "\n" for token in tokens))
    environment = dict(os.environ)
    environment.update({
        "WRK_REQUESTS": str(listing), "WRK_THREADS": str(threads), "WRK_CHAIN_PATH": path,
        "WRK_HEADERS": "\t".join(f"{name}: {value}" for name, value in headers.items()),
    })
    return run_wrk(port, clients, duration, path, ["-s", str(WRK_SCRIPT)], environment)


def measured_wrk(name: str, server_pid: int, postmaster_pid: int, load: Callable[[], dict], log,
                 done: Callable[[], int] | None = None, done_key: str = "", slack: int = 0) -> dict:
    """Runs `load` (a wrk_load or wrk_refresh_load call) with the server's and PostgreSQL's CPU
    measured around it (CPUMeter; `client` is wrk). When `done` counts what the server did
    (rows written, tokens issued), its growth must match the answers wrk counted as done, give
    or take `slack` (the requests in flight when the time was up): wrk sees statuses only. The
    growth is reported under `done_key`."""
    done_before = done() if done else 0
    meter = CPUMeter(server_pid, postmaster_pid)
    before = meter.sample()
    result = load()
    after = meter.sample()
    if not process_alive(server_pid):
        raise RuntimeError(f"the server exited during the {name} phase")
    if done:
        counted = done() - done_before
        if abs(counted - result["ok"]) > slack:
            raise RuntimeError(f"{name}: wrk counted {result['ok']} answers done but the server shows {counted} "
                               f"({done_key})")
        result[done_key] = counted
    result.update(CPUMeter.report(before, after, result["ok"], "client"))
    result["load_tool"] = "wrk"
    log(f"{name}: {result['ok']} ok / {result['requests']} in {result['seconds']}s = {result['rps']} req/s, "
        f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms (wrk)")
    return result


def run_wrk(port: int, clients: int, duration: int, path: str, arguments: list[str], environment: dict[str, str]) -> dict:
    """Runs wrk with `arguments` (a script, headers) and parses its report (see wrk_load)."""
    threads = wrk_threads(clients)
    command = ["wrk", "-t", str(threads), "-c", str(clients), "-d", f"{duration}s", "--latency", "--timeout", "10s"]
    command += arguments
    command.append(f"http://127.0.0.1:{port}{path}")
    finished = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60, env=environment)
    output = finished.stdout

    def seconds(text: str) -> float:
        match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
        if match is None:
            raise RuntimeError(f"wrk latency {text!r} not understood")
        return float(match.group(1)) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[match.group(2)]

    def percentile_ms(label: str) -> float | None:
        match = re.search(rf"^\s+{label}%\s+(\S+)", output, re.M)
        return round(seconds(match.group(1)) * 1000, 2) if match else None

    done = re.search(r"(\d+) requests in ([\d.]+)(\w+)", output)
    if finished.returncode != 0 or done is None:
        raise RuntimeError(f"wrk failed (exit {finished.returncode}):\n{output[-1000:]}{finished.stderr[-1000:]}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    total = int(done.group(1))
    failed = int(errors.group(1)) if errors else 0
    wall = seconds(done.group(2) + done.group(3))
    result = {
        "requests": total,
        "ok": total - failed,
        "non_2xx_or_errors": failed,
        "seconds": round(wall, 2),
        "rps": round((total - failed) / wall, 1) if wall > 0 else None,
        "p50_ms": percentile_ms("50"), "p90_ms": percentile_ms("90"), "p99_ms": percentile_ms("99"),
    }
    if socket_errors:
        result["socket_errors"] = socket_errors.group(1).strip()
    return result


# --------------------------------------------------------------------------- the server


def wait_ready(port: int, server_pid: int, timeout: float = READY_TIMEOUT) -> None:
    """Waits until GET /ready answers 200 (fails early if the server exits)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not process_alive(server_pid):
            raise RuntimeError("the server exited before it was ready")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/ready")
            response = connection.getresponse()
            body = response.read()
            connection.close()
            if response.status == 200:
                return
            last = f"{response.status} {body[:200]!r}"
        except (OSError, http.client.HTTPException) as error:
            last = repr(error)
        time.sleep(0.25)
    raise RuntimeError(f"GET /ready did not answer 200 within {timeout:.0f}s (last: {last})")


def read_anon_key(binary: str, data_dir: str) -> str:
    """The anon key, from `ecomansoni keys --json` (DATABASE_URL comes from the environment)."""
    result = subprocess.run([binary, "keys", "--json", "--data-dir", data_dir], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"`ecomansoni keys --json` failed ({result.returncode}): {result.stderr[-2000:]}")
    for line in reversed(result.stdout.splitlines()):
        if line.strip().startswith("{"):
            return json.loads(line)["anonKey"]
    raise RuntimeError(f"`ecomansoni keys --json` printed no JSON: {result.stdout[-2000:]}")


def binary_kind(label: str) -> str:
    return "release" if "/release/" in label else "debug" if "/debug/" in label else "unknown"


def server_log_summary(path: str, samples: int = 0, since_line: int = 0) -> dict:
    """Line, error and warning counts of the server log (from `since_line`), with up to
    `samples` distinct warning/error lines."""
    log_path = Path(path)
    lines = log_path.read_text(errors="replace").splitlines()[since_line:] if log_path.exists() else []
    errors = [line for line in lines if re.search(r"\berror\b|\bcritical\b", line, re.I)]
    warnings = [line for line in lines if re.search(r"\bwarning\b", line, re.I)]
    summary = {"lines": len(lines), "error_lines": len(errors), "warning_lines": len(warnings)}
    if samples:
        seen: list[str] = []
        for line in errors + warnings:
            # Drop the timestamp prefix so repeats collapse.
            text = re.sub(r"^\S+T\S+\s+", "", line)[:300]
            if text not in seen:
                seen.append(text)
            if len(seen) >= samples:
                break
        if seen:
            summary["samples"] = seen
    return summary


def machine_facts(cpu_model: str) -> dict:
    return {
        "cores": os.cpu_count(),
        "cpu": cpu_model,
        "loadavg_1m_before": round(os.getloadavg()[0], 2),
    }


# --------------------------------------------------------------------------- PostgreSQL


@dataclass
class PG:
    """The private cluster of a benchmark run."""
    port: int
    user: str
    database: str
    postmaster_pid: int
    psql_path: str = "psql"
    pgbench_path: str = "pgbench"

    def psql(self, sql: str, timeout: float = 120) -> str:
        """Runs `sql` as one command string (one transaction); a string too long for a command
        line argument goes through standard input as one transaction (`-1`)."""
        baseline = postgres_children(self.postmaster_pid)
        command = [self.psql_path, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.port),
                   "-U", self.user, "-d", self.database]
        long = len(sql.encode()) > 64 * 1024
        result = subprocess.run(
            command + (["-1", "-f", "-"] if long else ["-c", sql]), input=sql if long else None,
            capture_output=True, text=True, timeout=timeout)
        wait_for_backends_to_exit(self.postmaster_pid, baseline)
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()}")
        return result.stdout

    def checkpoint(self) -> None:
        self.psql("CHECKPOINT")

    def pgbench(self, name: str, script: str, variables: dict[str, str], clients: int, duration: int,
                work_dir: str, log=None, mode: str = "extended") -> dict:
        """Runs `pgbench -M <mode>` with one script (extended: an unnamed statement parsed
        and planned every time, as PostgresNIO's queries are; prepared: parsed once per
        connection, as the server's prepared statements are); returns tps, latency
        percentiles (from the per-transaction log), per-statement latencies and CPU per
        transaction."""
        if mode not in ("extended", "prepared"):
            raise ValueError(f"pgbench mode {mode!r}: extended or prepared")
        work = Path(work_dir)
        prefix = f"pgbench_{name}"
        for old in glob.glob(str(work / f"{prefix}.*")):
            os.unlink(old)
        threads = max(1, min(clients, os.cpu_count() or 1))
        command = [
            self.pgbench_path, "-n", "-M", mode, "-r", "-c", str(clients), "-j", str(threads),
            "-T", str(duration), "-f", script, "-l", f"--log-prefix={prefix}",
            "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user,
        ]
        for key, value in variables.items():
            command += ["-D", f"{key}={value}"]
        command.append(self.database)
        meter = CPUMeter(None, self.postmaster_pid)
        baseline = postgres_children(self.postmaster_pid)
        before = meter.sample()
        # As the server's own connections: the outside-write triggers (migration 0033) skip them.
        environment = {**os.environ, "PGAPPNAME": "ecomansoni"}
        result = subprocess.run(command, capture_output=True, text=True, cwd=work, timeout=duration + 120, env=environment)
        wait_for_backends_to_exit(self.postmaster_pid, baseline)
        after = meter.sample()
        output = result.stdout + result.stderr
        if result.returncode not in (0, 2) or "tps =" not in output:
            raise RuntimeError(f"pgbench {name} failed ({result.returncode}):\n{output[-3000:]}")

        def number(pattern: str) -> float | None:
            match = re.search(pattern, output)
            return float(match.group(1)) if match else None

        latencies: list[float] = []
        for path in glob.glob(str(work / f"{prefix}.*")):
            with open(path) as lines:
                for line in lines:
                    fields = line.split()
                    if len(fields) >= 3 and fields[2].isdigit():
                        latencies.append(int(fields[2]) / 1e6)
        latencies.sort()
        processed = int(number(r"number of transactions actually processed: (\d+)") or 0)
        statements = {}
        in_statements = False
        for line in output.splitlines():
            if line.startswith("statement latencies"):
                in_statements = True
                continue
            match = re.match(r"\s+([\d.]+)\s+(?:\d+\s+)?(\S.*)$", line) if in_statements else None
            if match and not match.group(2).startswith("\\"):
                text = re.sub(r"\s+", " ", match.group(2))
                statements[text[:60]] = float(match.group(1))
        tps = number(r"tps = ([\d.]+)")
        summary = {
            "transactions": processed,
            "failed": int(number(r"number of failed transactions: (\d+)") or 0),
            "tps": round(tps, 1) if tps is not None else None,
            "avg_ms": number(r"latency average = ([\d.]+) ms"),
            "p50_ms": ms(percentile(latencies, 0.50)),
            "p99_ms": ms(percentile(latencies, 0.99)),
            "max_ms": ms(latencies[-1] if latencies else None),
        }
        if "aborted" in output or result.returncode == 2:
            summary["aborted"] = re.findall(r".*aborted.*", output)[:3] or [f"exit code {result.returncode}"]
        summary.update(CPUMeter.report(before, after, processed, "pgbench"))
        summary["statement_ms"] = statements
        if log is not None:
            log(f"pgbench {name}: {summary['tps']} tps, avg {summary['avg_ms']} ms, p99 {summary['p99_ms']} ms, "
                f"{summary['failed']} failed")
        return summary


# --------------------------------------------------------------------------- chat fixtures

OTP_PATH = "/auth/v1/otp"
VERIFY_PATH = "/auth/v1/verify"
RPC_PATH = "/rest/v1/rpc/"


def test_otp_list(phone_base: int, count: int, code: str) -> str:
    """AUTH_SMS_TEST_OTP for `count` numbers from `phone_base`, all with `code`."""
    return ",".join(f"{phone_base + i}:{code}" for i in range(count))


def sign_in_users(port: int, anon_key: str, phones: list[str], code: str, workers: int, log=None) -> list[dict]:
    """Creates (POST /otp) and signs in (POST /verify) every test number; returns
    [{"phone", "id", "token"}] in the order of `phones`."""
    users: list[dict | None] = [None] * len(phones)
    failures: list[str] = []
    lock = threading.Lock()
    workers = max(1, min(workers, len(phones)))

    def worker(index: int, barrier: threading.Barrier) -> None:
        barrier.wait()
        client = Client(port, anon_key, user_agent="bench-setup")
        for n in range(index, len(phones), workers):
            phone = phones[n]
            status, payload, _ = client.post(OTP_PATH, {"phone": "+" + phone})
            if status == 200:
                status, payload, _ = client.post(VERIFY_PATH, {"phone": "+" + phone, "token": code, "type": "sms"})
            if status != 200:
                with lock:
                    failures.append(f"{phone}: {status} {payload[:300]!r}")
                return
            session = json.loads(payload)
            users[n] = {"phone": phone, "id": session["user"]["id"], "token": session["access_token"]}
        client.close()

    started = time.perf_counter()
    run_workers(workers, worker, timeout=600)
    if failures or not all(users):
        raise RuntimeError("sign-in failed: " + "; ".join(failures[:5]))
    if log is not None:
        log(f"setup: {len(phones)} users signed in in {time.perf_counter() - started:.1f}s")
    return users  # type: ignore[return-value]


def create_groups(port: int, anon_key: str, users: list[dict], group_size: int, workers: int, log=None) -> list[dict]:
    """Splits `users` into consecutive groups of `group_size` (the first member owns the
    group) and creates each with create_group_chat; returns [{"id", "members": [user…]}]."""
    groups = [users[i:i + group_size] for i in range(0, len(users) - group_size + 1, group_size)]
    ids: list[str | None] = [None] * len(groups)
    failures: list[str] = []
    lock = threading.Lock()
    workers = max(1, min(workers, len(groups)))

    def worker(index: int, barrier: threading.Barrier) -> None:
        barrier.wait()
        client = Client(port, anon_key, user_agent="bench-setup")
        for g in range(index, len(groups), workers):
            owner, *members = groups[g]
            status, payload, _ = client.post(
                RPC_PATH + "create_group_chat", {"title": f"bench {g}", "member_ids": [m["id"] for m in members]},
                headers={"Authorization": "Bearer " + owner["token"]})
            if status != 200:
                with lock:
                    failures.append(f"group {g}: {status} {payload[:300]!r}")
                return
            ids[g] = json.loads(payload)
        client.close()

    started = time.perf_counter()
    run_workers(workers, worker, timeout=600)
    if failures or not all(ids):
        raise RuntimeError("creating groups failed: " + "; ".join(failures[:5]))
    if log is not None:
        log(f"setup: {len(groups)} groups of {group_size} created in {time.perf_counter() - started:.1f}s")
    return [{"id": ids[g], "members": groups[g]} for g in range(len(groups))]


def token_claims(token: str) -> str:
    """A JWT's payload as text: what the server sets as `request.jwt.claims` for its bearer."""
    payload = token.split(".")[1]
    return base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()


def group_pairs(args, pg: "PG", anon_key: str, log=None) -> list[tuple[str, dict]]:
    """Signs in `args.users` test numbers from `args.phone_base`, makes groups of
    `args.group_size` and returns every (group id, member) pair; the pairs are also written to
    `bench.pairs(n, conversation_id, sender_id, claims)` for the pgbench scripts, which pick
    pair `:client_id * :per + random(0, :per - 1)` as the HTTP worker of the same index does.
    `claims` is the member's token payload, as the server sets `request.jwt.claims`."""
    phones = [str(args.phone_base + i) for i in range(args.users)]
    users = sign_in_users(args.port, anon_key, phones, args.code, args.clients, log)
    groups = create_groups(args.port, anon_key, users, args.group_size, args.clients, log)
    pairs = [(group["id"], member) for group in groups for member in group["members"]]
    rows = ",\n".join(
        f"({n}, '{conversation}', '{member['id']}', '{token_claims(member['token']).replace(chr(39), chr(39) * 2)}')"
        for n, (conversation, member) in enumerate(pairs))
    pg.psql(f"""
        CREATE SCHEMA bench;
        CREATE TABLE bench.pairs (n int PRIMARY KEY, conversation_id uuid NOT NULL, sender_id uuid NOT NULL, claims text NOT NULL);
        INSERT INTO bench.pairs VALUES {rows};
        ANALYZE;
    """)
    return pairs


def seed_history(pg: "PG", per_member: int) -> None:
    """Gives every member of every conversation `per_member` messages made an hour ago (outside
    the senders' rate window: the insert trigger stamps now()), then `VACUUM ANALYZE`: the
    steady state of a deployment that has been running. Without it the server's pooled
    connections keep the generic plans they made for an almost empty `public.messages`
    (sequential scans for the retry key and the rate window of every send, growing with the
    table) through the whole measured phase: autovacuum analyzes at most once a minute, a
    phase lasts seconds. ANALYZE also makes every connection plan again."""
    pg.psql(
        "SET application_name = 'ecomansoni';"  # no outside-write notifications for the seed
        " INSERT INTO public.messages (conversation_id, sender_id, body)"
        f" SELECT p.conversation_id, p.user_id, 'history' FROM public.participants p, generate_series(1, {per_member});"
        " UPDATE public.messages SET created_at = created_at - interval '1 hour' WHERE body = 'history';")
    pg.psql("VACUUM ANALYZE public.messages, public.conversations, public.participants")


def add_server_arguments(parser) -> None:
    """The arguments every bench driver takes from its shell script: the server, the
    private PostgreSQL cluster and the load shape."""
    parser.add_argument("--port", type=int, required=True, help="server HTTP port on 127.0.0.1")
    parser.add_argument("--server-pid", type=int, required=True)
    parser.add_argument("--binary", required=True, help="server binary (for `keys --json`)")
    parser.add_argument("--binary-label", required=True, help="the binary's path as configured (debug/release)")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--server-log", required=True)
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--sql-dir", required=True)
    parser.add_argument("--pg-port", type=int, required=True)
    parser.add_argument("--pg-user", default="postgres")
    parser.add_argument("--pg-database", required=True)
    parser.add_argument("--pg-version", default="")
    parser.add_argument("--postmaster-pid", type=int, required=True)
    parser.add_argument("--pgbench", default="pgbench")
    parser.add_argument("--psql", default="psql")
    parser.add_argument("--cpu-model", default="")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured phase")


def run_pgbench(args, name: str, script_text: str, log=None) -> dict:
    """Runs `script_text` with pgbench (--clients clients for --duration s against --pg-port /
    --pg-database, logging every transaction under --work-dir) and returns
    {"transactions", "tps", latency summary}. Raises when pgbench fails."""
    script = Path(args.work_dir) / f"{name}.sql"
    script.write_text(script_text)
    prefix = Path(args.work_dir) / f"pgbench-{name}"
    result = subprocess.run(
        [args.pgbench, "-n", "-h", "127.0.0.1", "-p", str(args.pg_port), "-U", "postgres", "-c", str(args.clients),
         "-j", str(args.clients), "-T", str(args.duration), "-f", str(script), "-l", f"--log-prefix={prefix}",
         args.pg_database], capture_output=True, text=True, timeout=args.duration + 600)
    if result.returncode != 0:
        raise RuntimeError(f"pgbench {name} failed: {result.stderr[-2000:]}")
    latencies = []
    for path in glob.glob(f"{prefix}*"):
        for line in Path(path).read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[2].isdigit():
                latencies.append(int(parts[2]) / 1e6)
    tps = next((round(float(line.split()[2]), 1) for line in result.stdout.splitlines() if line.startswith("tps =")), None)
    if log is not None:
        log(f"pgbench {name}: {len(latencies)} transactions, tps {tps}")
    return {"transactions": len(latencies), "tps": tps, **latency_summary(latencies)}
