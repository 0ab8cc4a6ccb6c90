#!/usr/bin/env python3
"""Load generator and report for scripts/bench/auth.sh (sign-in path benchmark).

Driven by auth.sh, which owns the PostgreSQL cluster and the server process. This helper
waits for /ready, reads the API keys, warms up, measures verify and refresh over HTTP,
measures the same work with pgbench against the same database — as the statement sequence
the server sent before migration 0009 (sql/verify.sql, sql/refresh.sql: the raw baseline)
and as the one function call it sends now (sql/verify_fn.sql, sql/refresh_fn.sql) — and
prints ONE JSON object on stdout. Progress goes to stderr. Standard library only.

The HTTP phases' load comes from Debian's wrk when --load-tool is wrk (a C client, as cheap per
request as pgbench is per transaction, so the ratio compares the server with PostgreSQL and not
the load tools): verify cycles through the test numbers (wrk_requests.lua), refresh spends
each token once and follows each answer's new one (wrk_requests.lua's chains). With --load-tool
python, threads of this helper send them (about 0.18 ms of CPU a request on this machine,
against pgbench's 0.08 ms a transaction). Either way each phase checks that every answer
counted as done issued its refresh token.

The server limits /otp, /verify and /token per client address (a token bucket, by default
120 with 2 refills per second). auth.sh raises that bucket for the run (the check still runs
on every request), and this helper's own requests use each source address (127.A.B.C) for at
most --per-address requests, so the limiter never answers 429 and the benchmark measures the
sign-in work itself.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (  # noqa: E402
    add_server_arguments,
    PG, AddressPool, Client, CPUMeter, PhaseStats, binary_kind, make_logger, phase_result, process_alive,
    read_anon_key, run_workers, server_log_summary, wait_ready, measured_wrk, wrk_load, wrk_refresh_load, wrk_threads,
)

VERIFY_PATH = "/auth/v1/verify"
REFRESH_PATH = "/auth/v1/token?grant_type=refresh_token"
OTP_PATH = "/auth/v1/otp"
USER_AGENT = "auth-bench"
REQUEST_TIMEOUT = 30.0

log = make_logger("auth-bench")


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
        self.pg = PG(port=args.pg_port, user=args.pg_user, database=args.pg_database, postmaster_pid=args.postmaster_pid,
                     psql_path=args.psql, pgbench_path=args.pgbench)

    # ---- setup

    def server_alive(self) -> bool:
        return process_alive(self.args.server_pid)

    def wait_ready(self) -> None:
        wait_ready(self.port, self.args.server_pid)

    def read_keys(self) -> None:
        self.anon_key = read_anon_key(self.args.binary, self.args.data_dir)
        self.clients = [Client(self.port, self.anon_key, self.pool, self.args.per_address, user_agent=USER_AGENT)
                        for _ in range(self.clients_n)]

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

    def wrk_headers(self) -> dict[str, str]:
        return {"apikey": self.anon_key, "Content-Type": "application/json", "User-Agent": USER_AGENT}

    def measure_wrk(self, name: str, load) -> dict:
        """A wrk phase, checked against the refresh tokens the server issued (one per answer)."""
        a = self.args
        return measured_wrk(name, a.server_pid, a.postmaster_pid, load, log,
                            done=lambda: self.count_tokens("%"), done_key="tokens_issued", slack=self.clients_n)

    def verify_phase(self) -> dict:
        if self.args.load_tool == "wrk":
            requests = [("POST", VERIFY_PATH, json.dumps(self.verify_body(phone)), self.wrk_headers()) for phone in self.phones]
            return self.measure_wrk("verify", lambda: wrk_load(
                self.port, self.clients_n, self.args.duration, requests=requests, work_dir=self.args.work_dir))

        def step(index: int, stats: PhaseStats, n: int) -> None:
            phones = self.owned[index]
            status, payload, elapsed = self.clients[index].post(VERIFY_PATH, self.verify_body(phones[n % len(phones)]))
            if status == 200 and "access_token" not in json.loads(payload):
                status = 299  # a 200 without a session counts as a failure
            stats.add(status, payload, elapsed)

        return self.measure("verify", step)

    def refresh_phase(self) -> dict:
        if self.args.load_tool == "wrk":
            tokens = [token for token in self.chain_tokens if token]
            for index in range(wrk_threads(self.clients_n)):  # wrk spends one token of thread 0's (wrk_refresh_load)
                status, payload, _ = self.clients[index].post(VERIFY_PATH, self.verify_body(self.owned[index][0]))
                if status != 200:
                    raise RuntimeError(f"refresh: a spare sign-in failed: {status} {payload[:200]!r}")
                tokens.append(json.loads(payload)["refresh_token"])
            return self.measure_wrk("refresh", lambda: wrk_refresh_load(
                self.port, self.clients_n, self.args.duration, path=REFRESH_PATH, headers=self.wrk_headers(),
                tokens=tokens, work_dir=self.args.work_dir))
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
        return self.pg.psql(sql)

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
        return self.pg.pgbench(name, str(Path(a.sql_dir) / script), variables, self.clients_n, a.duration, a.work_dir, log)

    def count_tokens(self, pattern: str) -> int:
        return int(self.psql(f"SELECT count(*) FROM auth.refresh_tokens WHERE token_hash LIKE '{pattern}'").strip())

    def checked(self, name: str, result: dict, made: int) -> dict:
        """Records how many refresh tokens the run issued and refuses a run whose transactions
        did not all do the work (a refused code or a broken refresh chain is cheaper and would
        flatter the baseline). Transactions cut short when the time is up may differ by one
        per client."""
        result["tokens_issued"] = made
        if abs(made - result.get("transactions", 0)) > self.clients_n:
            raise RuntimeError(f"pgbench {name}: {result.get('transactions')} transactions but {made} refresh tokens issued")
        return result

    def verify_variables(self) -> dict[str, str]:
        per = len(self.phones) // self.clients_n
        return {"clients": str(self.clients_n), "per": str(per), "phonebase": str(self.args.phone_base),
                "ua": USER_AGENT, "addr": "127.0.0.1"}

    def raw_verify(self) -> dict:
        """The statements the server sent before migration 0009 (two transactions)."""
        before = self.count_tokens("pgbench-v-%")
        result = self.pgbench("verify", "verify.sql", {**self.verify_variables(), "purpose": "sms"})
        return self.checked("verify", result, self.count_tokens("pgbench-v-%") - before)

    def raw_verify_function(self) -> dict:
        """The one statement the server sends now (auth.sign_in_with_code)."""
        before = self.count_tokens("pgbench-v-%")
        result = self.pgbench("verify_fn", "verify_fn.sql", {**self.verify_variables(), "attempts": "5"})
        return self.checked("verify_fn", result, self.count_tokens("pgbench-v-%") - before)

    def raw_refresh(self) -> dict:
        """The statements the server sent before migration 0009 (one transaction)."""
        self.prepare_refresh_chains()
        result = self.pgbench("refresh", "refresh.sql", {"gen": "0"})
        return self.checked("refresh", result, self.count_tokens("pgbench-%") - self.clients_n)

    def raw_refresh_function(self) -> dict:
        """The one statement the server sends now (auth.refresh_session)."""
        self.prepare_refresh_chains()
        result = self.pgbench("refresh_fn", "refresh_fn.sql", {"gen": "0", "reuse": "10"})
        return self.checked("refresh_fn", result, self.count_tokens("pgbench-%") - self.clients_n)

    def checkpoint(self) -> None:
        self.pg.checkpoint()

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
        verify_raw_function = self.raw_verify_function()
        self.checkpoint()
        refresh = self.refresh_phase()
        self.checkpoint()
        refresh_raw = self.raw_refresh()
        self.checkpoint()
        refresh_raw_function = self.raw_refresh_function()

        def ratio(server: dict, raw: dict) -> float | None:
            if server.get("rps") and raw.get("tps"):
                return round(server["rps"] / raw["tps"], 3)
            return None

        return {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": {
                "cores": os.cpu_count(),
                "cpu": a.cpu_model,
                "loadavg_1m_before": round(load_before[0], 2),
            },
            "binary": binary_kind(a.binary_label),
            "binary_path": a.binary_label,
            "postgres": a.pg_version,
            "clients": self.clients_n,
            "load_tool": a.load_tool,
            "duration_s": a.duration,
            "max_requests_per_phase": a.max_requests,
            "test_numbers": len(self.phones),
            "verify": verify,
            "verify_raw_pg": verify_raw,
            "verify_raw_pg_function": verify_raw_function,
            "verify_ratio": ratio(verify, verify_raw),
            "verify_ratio_function": ratio(verify, verify_raw_function),
            "refresh": refresh,
            "refresh_raw_pg": refresh_raw,
            "refresh_raw_pg_function": refresh_raw_function,
            "refresh_ratio": ratio(refresh, refresh_raw),
            "refresh_ratio_function": ratio(refresh, refresh_raw_function),
            "source_addresses": self.pool.used,
            "server_log": server_log_summary(a.server_log),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_arguments(parser)
    parser.add_argument("--max-requests", type=int, default=50000, help="request cap per HTTP phase")
    parser.add_argument("--phones", type=int, default=200)
    parser.add_argument("--phone-base", type=int, default=15550000000)
    parser.add_argument("--code", default="123456")
    parser.add_argument("--load-tool", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python")
    parser.add_argument("--per-address", type=int, default=25,
                        help="requests per loopback source address of this helper's own client")
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
