#!/usr/bin/env python3
"""Load generator and report for scripts/bench/auth.sh (sign-in path benchmark).

Driven by auth.sh, which owns the PostgreSQL cluster and the server process. This helper
waits for /ready, reads the API keys, warms up, measures verify and refresh over HTTP,
measures the same statements with pgbench against the same database and prints ONE JSON
object on stdout. Progress goes to stderr. Standard library only.

The server limits /otp, /verify and /token per client address (a token bucket of 30 with
1 refill per second). Every request here comes from 127.0.0.1's loopback network, but each
source address (127.A.B.C) is used for at most --per-address requests, so the limiter
never answers 429 and the benchmark measures the sign-in work itself.
"""

from __future__ import annotations

import argparse
import glob
import http.client
import json
import math
import os
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

VERIFY_PATH = "/auth/v1/verify"
REFRESH_PATH = "/auth/v1/token?grant_type=refresh_token"
OTP_PATH = "/auth/v1/otp"
USER_AGENT = "auth-bench"
REQUEST_TIMEOUT = 30.0
READY_TIMEOUT = 120.0


def log(message: str) -> None:
    print(f"[auth-bench] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- CPU accounting

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces.
    return text[text.rindex(")") + 2:].split()


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


class CPUMeter:
    """CPU used by server, PostgreSQL, this helper (or a child) and the machine over a phase."""

    def __init__(self, server_pid: int | None, postmaster_pid: int) -> None:
        self.server_pid = server_pid
        self.postmaster_pid = postmaster_pid

    def sample(self) -> dict[str, float]:
        busy, total = machine_cpu()
        own = os.times()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {
            "server": process_cpu(self.server_pid) if self.server_pid else 0.0,
            "postgres": postgres_cpu(self.postmaster_pid),
            "client": own.user + own.system,
            "children": children.ru_utime + children.ru_stime,
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
    """A keep-alive HTTP/1.1 connection that moves to a new source address every N requests."""

    def __init__(self, port: int, anon_key: str, pool: AddressPool, per_address: int) -> None:
        self.port = port
        self.pool = pool
        self.per_address = per_address
        self.headers = {
            "apikey": anon_key,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
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
        address = self.pool.take()
        self.used = 0
        self.connection = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=REQUEST_TIMEOUT, source_address=(address, 0))
        self.connection.connect()  # outside the timed part

    def post(self, path: str, body: dict) -> tuple[int | None, bytes | str, float]:
        """(status or None on a transport error, body or error text, seconds)."""
        try:
            self._ensure_connection()
        except OSError as error:
            self.close()
            return None, f"connect: {type(error).__name__}: {error}", 0.0
        assert self.connection is not None
        self.used += 1
        data = json.dumps(body).encode()
        started = time.perf_counter()
        try:
            self.connection.request("POST", path, body=data, headers=self.headers)
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


# --------------------------------------------------------------------------- phases


class PhaseStats:
    def __init__(self) -> None:
        self.latencies: list[float] = []  # seconds, successful requests only
        self.statuses: dict[str, int] = {}
        self.error_samples: list[str] = []
        self.lock = threading.Lock()

    def add(self, status: int | None, payload: bytes | str, elapsed: float) -> None:
        with self.lock:
            key = str(status) if status is not None else "transport_error"
            self.statuses[key] = self.statuses.get(key, 0) + 1
            if status == 200:
                self.latencies.append(elapsed)
            elif len(self.error_samples) < 5:
                text = payload.decode(errors="replace") if isinstance(payload, bytes) else payload
                self.error_samples.append(f"{key} after {elapsed * 1000:.1f} ms: {text[:200]}")


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)


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


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.port = args.port
        self.pool = AddressPool()
        self.phones = [str(args.phone_base + i) for i in range(args.phones)]
        self.clients_n = args.clients
        # Worker i owns numbers i, i+C, i+2C, ... (no two workers lock the same user).
        self.owned = [self.phones[i::self.clients_n] for i in range(self.clients_n)]
        self.clients: list[Client] = []
        self.chain_tokens: list[str | None] = [None] * self.clients_n
        self.anon_key = ""

    # ---- setup

    def server_alive(self) -> bool:
        fields = _proc_stat(self.args.server_pid)
        return fields is not None and fields[0] != "Z"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        last = "no answer"
        while time.monotonic() < deadline:
            if not self.server_alive():
                raise RuntimeError("the server exited before it was ready")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
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
        raise RuntimeError(f"GET /ready did not answer 200 within {READY_TIMEOUT:.0f}s (last: {last})")

    def read_keys(self) -> None:
        result = subprocess.run(
            [self.args.binary, "keys", "--json", "--data-dir", self.args.data_dir],
            capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"`ecomansoni keys --json` failed ({result.returncode}): {result.stderr[-2000:]}")
        for line in reversed(result.stdout.splitlines()):
            if line.strip().startswith("{"):
                self.anon_key = json.loads(line)["anonKey"]
                break
        else:
            raise RuntimeError(f"`ecomansoni keys --json` printed no JSON: {result.stdout[-2000:]}")
        self.clients = [Client(self.port, self.anon_key, self.pool, self.args.per_address) for _ in range(self.clients_n)]

    def verify_body(self, phone: str) -> dict:
        return {"phone": "+" + phone, "token": self.args.code, "type": "sms"}

    def warm_up(self) -> None:
        """Creates every user (/otp) and signs each number in once (/verify)."""
        failures: list[str] = []
        lock = threading.Lock()

        def worker(index: int, barrier: threading.Barrier) -> None:
            barrier.wait()
            client = self.clients[index]
            for phone in self.owned[index]:
                for path, body in ((OTP_PATH, {"phone": "+" + phone}), (VERIFY_PATH, self.verify_body(phone))):
                    status, payload, _ = client.post(path, body)
                    if status != 200:
                        with lock:
                            failures.append(f"{path} {phone}: {status} {payload[:300]!r}")
                        return
                    if path == VERIFY_PATH:
                        self.chain_tokens[index] = json.loads(payload)["refresh_token"]

        started = time.perf_counter()
        run_workers(self.clients_n, worker, timeout=300)
        if failures:
            raise RuntimeError("warm-up failed: " + "; ".join(failures[:5]))
        if not all(self.chain_tokens):
            raise RuntimeError("warm-up failed: a worker got no session (see the traceback above)")
        log(f"warm-up: {len(self.phones)} numbers signed in once in {time.perf_counter() - started:.1f}s")

    # ---- HTTP phases

    def measure(self, name: str, step) -> dict:
        """Runs step(index, stats) in every worker until the time or count bound."""
        stats = PhaseStats()
        per_worker = max(1, math.ceil(self.args.max_requests / self.clients_n))
        duration = self.args.duration

        server_gone = threading.Event()

        def worker(index: int, barrier: threading.Barrier) -> None:
            barrier.wait()
            deadline = time.monotonic() + duration
            done = 0
            while done < per_worker and time.monotonic() < deadline and not server_gone.is_set():
                step(index, stats, done)
                done += 1
                if stats.statuses.get("transport_error") and not self.server_alive():
                    server_gone.set()

        meter = CPUMeter(self.args.server_pid, self.args.postmaster_pid)
        before = meter.sample()
        wall = run_workers(self.clients_n, worker, timeout=duration + REQUEST_TIMEOUT + 30)
        after = meter.sample()
        if server_gone.is_set():
            raise RuntimeError(f"the server exited during the {name} phase ({stats.error_samples[:2]})")
        result = phase_result(stats, wall, CPUMeter.report(before, after, len(stats.latencies), "client"))
        log(f"{name}: {result['ok']} ok / {result['requests']} in {result['seconds']}s = {result['rps']} req/s, "
            f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, max {result['max_ms']} ms")
        return result

    def verify_phase(self) -> dict:
        def step(index: int, stats: PhaseStats, n: int) -> None:
            phones = self.owned[index]
            status, payload, elapsed = self.clients[index].post(VERIFY_PATH, self.verify_body(phones[n % len(phones)]))
            if status == 200 and "access_token" not in json.loads(payload):
                status = 299  # a 200 without a session counts as a failure
            stats.add(status, payload, elapsed)

        return self.measure("verify", step)

    def refresh_phase(self) -> dict:
        restarts = [0] * self.clients_n

        def step(index: int, stats: PhaseStats, n: int) -> None:
            client = self.clients[index]
            token = self.chain_tokens[index]
            status, payload, elapsed = client.post(REFRESH_PATH, {"refresh_token": token})
            if status == 200:
                fresh = json.loads(payload).get("refresh_token")
                if not fresh:
                    status = 299
                else:
                    self.chain_tokens[index] = fresh
            stats.add(status, payload, elapsed)
            if status != 200:
                # Start a new chain with a fresh sign-in (not counted).
                restarts[index] += 1
                code, body, _ = client.post(VERIFY_PATH, self.verify_body(self.owned[index][0]))
                if code == 200:
                    self.chain_tokens[index] = json.loads(body)["refresh_token"]

        result = self.measure("refresh", step)
        if sum(restarts):
            result["chain_restarts"] = sum(restarts)
        return result

    # ---- raw PostgreSQL

    def psql(self, sql: str) -> str:
        a = self.args
        baseline = postgres_children(a.postmaster_pid)
        result = subprocess.run(
            [a.psql, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(a.pg_port),
             "-U", a.pg_user, "-d", a.pg_database, "-c", sql],
            capture_output=True, text=True, timeout=120)
        wait_for_backends_to_exit(a.postmaster_pid, baseline)
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()}")
        return result.stdout

    def prepare_refresh_chains(self) -> None:
        """A session and a starting token 'pgbench-<c>-0' for each pgbench client c."""
        count = self.clients_n
        self.psql(f"""
            DELETE FROM auth.refresh_tokens WHERE token_hash LIKE 'pgbench-%';
            WITH u AS (
                SELECT id, (phone::bigint - {self.args.phone_base}) AS c FROM auth.users
                WHERE phone IN ({", ".join(f"'{p}'" for p in self.phones[:count])})
            ), s AS (
                INSERT INTO auth.sessions (user_id, user_agent, client_address)
                SELECT id, '{USER_AGENT}', '127.0.0.1' FROM u RETURNING id, user_id
            )
            INSERT INTO auth.refresh_tokens (token_hash, session_id, user_id)
            SELECT 'pgbench-' || u.c || '-0', s.id, s.user_id FROM s JOIN u ON u.id = s.user_id;
        """)
        made = self.psql("SELECT count(*) FROM auth.refresh_tokens WHERE token_hash LIKE 'pgbench-%-0'").strip()
        if made != str(count):
            raise RuntimeError(f"expected {count} pgbench refresh chains, made {made}")

    def pgbench(self, name: str, script: str, variables: dict[str, str]) -> dict:
        a = self.args
        work = Path(a.work_dir)
        prefix = f"pgbench_{name}"
        for old in glob.glob(str(work / f"{prefix}.*")):
            os.unlink(old)
        threads = max(1, min(self.clients_n, os.cpu_count() or 1))
        command = [
            a.pgbench, "-n", "-M", "extended", "-r", "-c", str(self.clients_n), "-j", str(threads),
            "-T", str(a.duration), "-f", str(Path(a.sql_dir) / script), "-l", f"--log-prefix={prefix}",
            "-h", "127.0.0.1", "-p", str(a.pg_port), "-U", a.pg_user,
        ]
        for key, value in variables.items():
            command += ["-D", f"{key}={value}"]
        command.append(a.pg_database)
        meter = CPUMeter(None, a.postmaster_pid)
        baseline = postgres_children(a.postmaster_pid)
        before = meter.sample()
        result = subprocess.run(command, capture_output=True, text=True, cwd=work, timeout=a.duration + 120)
        wait_for_backends_to_exit(a.postmaster_pid, baseline)
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
        log(f"pgbench {name}: {summary['tps']} tps, avg {summary['avg_ms']} ms, p99 {summary['p99_ms']} ms, "
            f"{summary['failed']} failed")
        return summary

    def raw_verify(self) -> dict:
        per = len(self.phones) // self.clients_n
        return self.pgbench("verify", "verify.sql", {
            "clients": str(self.clients_n), "per": str(per), "phonebase": str(self.args.phone_base),
            "purpose": "sms", "ua": USER_AGENT, "addr": "127.0.0.1"})

    def raw_refresh(self) -> dict:
        self.prepare_refresh_chains()
        return self.pgbench("refresh", "refresh.sql", {"gen": "0"})

    def checkpoint(self) -> None:
        self.psql("CHECKPOINT")

    # ---- all

    def run(self) -> dict:
        a = self.args
        log(f"waiting for the server on 127.0.0.1:{self.port}")
        self.wait_ready()
        self.read_keys()
        self.warm_up()
        load_before = os.getloadavg()

        self.checkpoint()
        verify = self.verify_phase()
        self.checkpoint()
        verify_raw = self.raw_verify()
        self.checkpoint()
        refresh = self.refresh_phase()
        self.checkpoint()
        refresh_raw = self.raw_refresh()

        def ratio(server: dict, raw: dict) -> float | None:
            if server.get("rps") and raw.get("tps"):
                return round(server["rps"] / raw["tps"], 3)
            return None

        server_log = Path(a.server_log)
        log_text = server_log.read_text(errors="replace") if server_log.exists() else ""
        log_lines = log_text.splitlines()
        binary_kind = "release" if "/release/" in a.binary_label else "debug" if "/debug/" in a.binary_label else "unknown"
        return {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": {
                "cores": os.cpu_count(),
                "cpu": a.cpu_model,
                "loadavg_1m_before": round(load_before[0], 2),
            },
            "binary": binary_kind,
            "binary_path": a.binary_label,
            "postgres": a.pg_version,
            "clients": self.clients_n,
            "duration_s": a.duration,
            "max_requests_per_phase": a.max_requests,
            "test_numbers": len(self.phones),
            "verify": verify,
            "verify_raw_pg": verify_raw,
            "verify_ratio": ratio(verify, verify_raw),
            "refresh": refresh,
            "refresh_raw_pg": refresh_raw,
            "refresh_ratio": ratio(refresh, refresh_raw),
            "source_addresses": self.pool.used,
            "server_log": {
                "lines": len(log_lines),
                "error_lines": sum(1 for line in log_lines if re.search(r"\berror\b|\bcritical\b", line, re.I)),
                "warning_lines": sum(1 for line in log_lines if re.search(r"\bwarning\b", line, re.I)),
            },
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    parser.add_argument("--max-requests", type=int, default=50000, help="request cap per HTTP phase")
    parser.add_argument("--phones", type=int, default=200)
    parser.add_argument("--phone-base", type=int, default=15550000000)
    parser.add_argument("--code", default="123456")
    parser.add_argument("--per-address", type=int, default=25,
                        help="requests per loopback source address (server bucket: 30, +1/s)")
    args = parser.parse_args()
    if args.phones < args.clients:
        parser.error("--phones must be at least --clients")

    def terminate(signum, frame):  # noqa: ARG001
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    try:
        report = Bench(args).run()
    except (RuntimeError, subprocess.TimeoutExpired, OSError, ValueError, KeyError) as error:
        log(f"FAILED: {error}")
        return 1
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
