#!/usr/bin/env python3
"""Load generator and report for scripts/bench/chat.sh (send_message benchmark).

Driven by chat.sh, which owns the PostgreSQL cluster and the server process. This helper
waits for /ready, reads the anon key, signs in --users test numbers, makes groups of
--group-size of them, then measures, for the same client count and duration:

  send          POST /rest/v1/rpc/send_message_v1 over HTTP (each worker owns its share of
                the groups and cycles over their (group, member) pairs, so no user comes
                near the 60 messages a minute limit and no two workers share a group);
  send_fn_pg    pgbench with sql/send_fn.sql: what the server sends for one message (one
                call of public.chat_send_message: claims, checks, rate count, INSERT under
                RLS; realtime needs no further read), prepared once per connection as the
                server prepares it, to show where the rest of the time goes;
  send_raw_pg   pgbench with sql/send_raw.sql: the INSERT … RETURNING alone (the issue's
                equivalent statement, the ratio's denominator), as the owner, -M extended
                (parsed and planned every time, as the issue's figures were measured);
  send_raw_prepared_pg
                the same INSERT prepared once per connection (-M prepared): the stricter
                baseline now that the server prepares its call (send_ratio_to_prepared_raw).

The send phase's load comes from Debian's wrk when --load-tool is wrk (a C client, as cheap
per request as pgbench is per transaction; each request carries a client_msg_id of its own,
wrk_requests.lua's {uuid}, and the list is ordered so that concurrent requests go to
different groups, as the Python workers' shares do); it is checked against the messages the
server wrote. With --load-tool python, threads of this helper send them and check each answer.

Prints ONE JSON object on stdout; progress goes to stderr. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (  # noqa: E402
    add_server_arguments,
    PG, RPC_PATH, Client, CPUMeter, PhaseStats, binary_kind, group_pairs, machine_facts, make_logger,
    phase_result, process_alive, read_anon_key, run_workers, seed_history, server_log_summary, wait_ready, measured_wrk, wrk_load,
)

SEND_PATH = RPC_PATH + "send_message_v1"
REQUEST_TIMEOUT = 30.0
BODY = "benchmark message: the quick brown fox jumps over the lazy dog"
HISTORY_PER_MEMBER = 50  # messages each member sent before the run (see setup)

log = make_logger("chat-bench")


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.pg = PG(port=args.pg_port, user=args.pg_user, database=args.pg_database, postmaster_pid=args.postmaster_pid,
                     psql_path=args.psql, pgbench_path=args.pgbench)
        self.anon_key = ""
        self.pairs: list[tuple[str, dict]] = []  # (conversation id, member)
        self.per = 0

    def setup(self) -> None:
        a = self.args
        log(f"waiting for the server on 127.0.0.1:{a.port}")
        wait_ready(a.port, a.server_pid)
        self.anon_key = read_anon_key(a.binary, a.data_dir)
        self.pairs = group_pairs(a, self.pg, self.anon_key, log)
        self.per = len(self.pairs) // a.clients
        # History and fresh planner statistics first (benchlib.seed_history: the steady state).
        seed_history(self.pg, HISTORY_PER_MEMBER)
        # A few messages per group, so the first measured sends find warm caches (and the
        # server's membership cache and statement paths are exercised once).
        client = Client(a.port, self.anon_key, user_agent="chat-bench")
        for conversation, member in self.pairs[::a.group_size]:
            status, payload, _ = client.post(SEND_PATH, self.send_body(conversation),
                                             headers={"Authorization": "Bearer " + member["token"]})
            if status != 200:
                raise RuntimeError(f"warm-up send failed: {status} {payload[:300]!r}")
        client.close()
        log(f"setup: {len(self.pairs)} (group, member) pairs, {self.per} per client; {HISTORY_PER_MEMBER} old messages per member, "
            "one warm-up message per group")

    @staticmethod
    def send_body(conversation: str) -> dict:
        return {"conversation_id": conversation, "client_msg_id": str(uuid.uuid4()), "body": BODY}

    def message_count(self) -> int:
        return int(self.pg.psql("SELECT count(*) FROM public.messages").strip())

    def send_phase_wrk(self) -> dict:
        """The send phase under wrk: every (group, member) pair once per round, the groups
        interleaved so that the requests in flight at one time go to different groups."""
        a = self.args
        by_position = [self.pairs[start::a.group_size] for start in range(a.group_size)]
        requests = [
            ("POST", SEND_PATH, json.dumps({"conversation_id": conversation, "client_msg_id": "{uuid}", "body": BODY}),
             {"apikey": self.anon_key, "Authorization": "Bearer " + member["token"], "Content-Type": "application/json",
              "User-Agent": "chat-bench"})
            for column in by_position for conversation, member in column
        ]
        result = measured_wrk("send", a.server_pid, a.postmaster_pid,
                              lambda: wrk_load(a.port, a.clients, a.duration, requests=requests, work_dir=a.work_dir), log,
                              done=self.message_count, done_key="messages_written", slack=a.clients)
        if result["non_2xx_or_errors"]:
            log(f"send: {result['non_2xx_or_errors']} answers were not 2xx (at this rate every sender passes the server's "
                "60 messages a minute: raise BENCH_USERS); rps counts only the messages sent")
        return result

    def send_phase(self) -> dict:
        a = self.args
        if a.load_tool == "wrk":
            return self.send_phase_wrk()
        stats = PhaseStats()
        per_worker = max(1, math.ceil(a.max_requests / a.clients))
        server_gone = threading.Event()
        clients = [Client(a.port, self.anon_key, user_agent="chat-bench") for _ in range(a.clients)]
        unexpected: list[str] = []

        def worker(index: int, barrier: threading.Barrier) -> None:
            own = self.pairs[index * self.per:(index + 1) * self.per]
            client = clients[index]
            # Connect before the clock starts.
            client._ensure_connection()
            barrier.wait()
            deadline = time.monotonic() + a.duration
            done = 0
            while done < per_worker and time.monotonic() < deadline and not server_gone.is_set():
                conversation, member = own[done % len(own)]
                status, payload, elapsed = client.post(
                    SEND_PATH, self.send_body(conversation), headers={"Authorization": "Bearer " + member["token"]})
                if status == 200:
                    try:
                        answer = json.loads(payload)
                        if not isinstance(answer.get("seq"), int):
                            raise ValueError("no seq")
                    except ValueError:
                        status = 299
                        if len(unexpected) < 3:
                            unexpected.append(repr(payload[:200]))
                stats.add(status, payload, elapsed)
                done += 1
                if status is None and not process_alive(a.server_pid):
                    server_gone.set()

        meter = CPUMeter(a.server_pid, a.postmaster_pid)
        before = meter.sample()
        wall = run_workers(a.clients, worker, timeout=a.duration + REQUEST_TIMEOUT + 30)
        after = meter.sample()
        for client in clients:
            client.close()
        if server_gone.is_set():
            raise RuntimeError(f"the server exited during the send phase ({stats.error_samples[:2]})")
        result = phase_result(stats, wall, CPUMeter.report(before, after, len(stats.latencies), "client"))
        if unexpected:
            result["unexpected_bodies"] = unexpected
        log(f"send: {result['ok']} ok / {result['requests']} in {result['seconds']}s = {result['rps']} req/s, "
            f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, max {result['max_ms']} ms")
        return result

    def raw(self, name: str, script: str, mode: str = "extended") -> dict:
        a = self.args
        return self.pg.pgbench(name, str(Path(a.sql_dir) / script), {"per": str(self.per), "body": BODY},
                               a.clients, a.duration, a.work_dir, log, mode=mode)

    def run(self) -> dict:
        a = self.args
        self.setup()
        machine = machine_facts(a.cpu_model)
        messages_before = self.message_count()

        self.pg.checkpoint()
        send = self.send_phase()
        # Let the realtime dispatcher finish loading the records of the last messages.
        time.sleep(1)
        # The server's sequence first: its per-sender rate count reads the sender's messages of
        # the last minute, so it runs after the HTTP phase (a similar number of recent
        # messages per sender) and before the raw phases, which write many more. The raw
        # INSERT counts no window; prepared, it runs last, on a table one extended phase
        # larger, which if anything slows it: that errs in the send's favour, slightly.
        self.pg.checkpoint()
        txn = self.raw("send_fn", "send_fn.sql", mode="prepared")
        self.pg.checkpoint()
        raw = self.raw("send_raw", "send_raw.sql")
        self.pg.checkpoint()
        raw_prepared = self.raw("send_raw_prepared", "send_raw.sql", mode="prepared")

        # Sanity: seq has no gaps or duplicates in any conversation after all phases.
        gaps = self.pg.psql("""
            SELECT count(*) FROM (
                SELECT conversation_id, count(*) AS n, max(seq) AS top, count(DISTINCT seq) AS d
                FROM public.messages GROUP BY conversation_id) x
            WHERE n <> top OR d <> n""").strip()
        messages_after = self.message_count()

        def ratio(server: dict, pgbench: dict) -> float | None:
            if server.get("rps") and pgbench.get("tps"):
                return round(server["rps"] / pgbench["tps"], 3)
            return None

        return {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": machine,
            "binary": binary_kind(a.binary_label),
            "binary_path": a.binary_label,
            "postgres": a.pg_version,
            "clients": a.clients,
            "load_tool": a.load_tool,
            "duration_s": a.duration,
            "max_requests_per_phase": a.max_requests,
            "users": a.users,
            "groups": len(self.pairs) // a.group_size,
            "group_size": a.group_size,
            "send": send,
            "send_raw_pg": raw,
            "send_ratio": ratio(send, raw),
            "send_raw_prepared_pg": raw_prepared,
            "send_ratio_to_prepared_raw": ratio(send, raw_prepared),
            "send_fn_pg": txn,
            "send_ratio_to_fn": ratio(send, txn),
            "messages_written": messages_after - messages_before,
            "conversations_with_seq_gaps": int(gaps),
            "server_log": server_log_summary(a.server_log, samples=5),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_arguments(parser)
    parser.add_argument("--max-requests", type=int, default=50000, help="request cap of the HTTP phase")
    parser.add_argument("--users", type=int, default=400)
    parser.add_argument("--group-size", type=int, default=10)
    parser.add_argument("--phone-base", type=int, default=15560000000)
    parser.add_argument("--code", default="123456")
    parser.add_argument("--load-tool", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python")
    args = parser.parse_args()
    if args.users < args.group_size or args.group_size < 2:
        parser.error("--users must be at least --group-size, which must be at least 2")
    if (args.users // args.group_size) * args.group_size < args.clients:
        parser.error("need at least one (group, member) pair per client")

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
