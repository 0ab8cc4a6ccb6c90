#!/usr/bin/env python3
"""Load generator and report for scripts/bench/published.sh (realtime for the tables of the
`supabase_realtime` publication, issue 19).

Driven by published.sh, which owns the PostgreSQL cluster and the server process. This helper
creates `bench_notes` (readable by every signed-in user under row-level security) and
publishes it, and `bench_plain`, the same table unpublished; signs in --subscribers users, each
with one socket bound to the published table's INSERTs; then measures:

  write_plain     pgbench, --clients clients for --duration s: one-row INSERT into bench_plain
                  (the raw engine: no capture);
  write_captured  the same INSERT into bench_notes (capture trigger and change log), before
                  anyone subscribes: what capture costs a writer;
  fanout          the same again while the subscribers receive every change (the server and
                  the writers share the machine); then how long until every change reached
                  every subscriber, and the changes delivered per second;
  latency         pgbench at --rate inserts/s for --duration s into bench_notes; commit → event
                  at the subscribers (the row's `sent_at`, clock_timestamp() at the insert,
                  against the arrival time on the same machine), over every delivery and over
                  each change's first delivery (the server's path without the time the one
                  Python event loop takes to read the other subscribers' copies).

Every change must reach every subscriber exactly once: `missing` and `duplicates` are counted
and the run fails when either is not 0. Prints ONE JSON object on stdout, with a "figures"
list for scripts/bench/all; progress goes to stderr. Needs the `websockets` package (the test
virtualenv has it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (  # noqa: E402
    PG, add_server_arguments, latency_summary, machine_facts, make_logger, read_anon_key, sign_in_users, wait_ready,
)

JOIN_TIMEOUT = 15.0
HEARTBEAT_SECONDS = 20.0
INSERT = "INSERT INTO public.bench_{table} (body) VALUES ('benchmark note: the quick brown fox');\n"

log = make_logger("published-bench")


class Subscribers:
    """The sockets, on an asyncio loop of their own thread: each counts the changes it
    received by row id and the latency of each."""

    def __init__(self, port: int, anon_key: str, users: list[dict]) -> None:
        self.uri = f"ws://127.0.0.1:{port}/realtime/v1/websocket?apikey={anon_key}&vsn=1.0.0"
        self.users = users
        self.loop = asyncio.new_event_loop()
        self.lock = threading.Lock()
        self.seen: dict[int, int] = {}
        self.arrivals: list[tuple[int, float]] = []
        self.errors: list[str] = []
        self.sockets: list = []
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine, timeout: float):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def _open(self, index: int, user: dict) -> None:
        from websockets.asyncio.client import connect
        ws = await connect(self.uri, open_timeout=JOIN_TIMEOUT, ping_interval=None, compression=None, max_queue=None)
        topic = f"realtime:published-{index}"
        await ws.send(json.dumps({
            "event": "phx_join", "topic": topic, "ref": "1", "join_ref": "1",
            "payload": {"config": {"postgres_changes": [{"event": "INSERT", "schema": "public", "table": "bench_notes"}]},
                        "access_token": user["token"]},
        }))
        deadline = time.monotonic() + JOIN_TIMEOUT
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic())))
            if frame.get("event") == "phx_reply" and frame.get("ref") == "1":
                if frame["payload"].get("status") != "ok":
                    raise RuntimeError(f"join refused: {frame['payload']}")
                break
        self.sockets.append(ws)
        asyncio.ensure_future(self._read(ws))
        asyncio.ensure_future(self._heartbeat(ws))

    async def _read(self, ws) -> None:
        try:
            async for text in ws:
                arrived = time.time()
                frame = json.loads(text)
                if frame.get("event") != "postgres_changes":
                    continue
                record = frame["payload"]["data"]["record"]
                sent = datetime.fromisoformat(record["sent_at"]).timestamp()
                with self.lock:
                    self.seen[record["id"]] = self.seen.get(record["id"], 0) + 1
                    self.arrivals.append((record["id"], arrived - sent))
        except Exception as error:  # noqa: BLE001
            with self.lock:
                self.errors.append(f"{type(error).__name__}: {str(error)[:200]}")

    async def _heartbeat(self, ws) -> None:
        ref = 100
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            ref += 1
            await ws.send(json.dumps({"event": "heartbeat", "topic": "phoenix", "payload": {}, "ref": str(ref)}))

    def open_all(self) -> None:
        async def all_of():
            await asyncio.gather(*(self._open(index, user) for index, user in enumerate(self.users)))
        self.run(all_of(), timeout=120)

    def close(self) -> None:
        async def close_all():
            for ws in self.sockets:
                await ws.close()
        try:
            self.run(close_all(), timeout=30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)

    def delivered(self, ids: range) -> tuple[int, int]:
        """(deliveries received for these row ids, duplicates among them)."""
        with self.lock:
            received = sum(self.seen.get(i, 0) for i in ids)
            duplicates = sum(max(0, self.seen.get(i, 0) - len(self.users)) for i in ids)
        return received, duplicates

    def latencies(self, ids: range) -> list[float]:
        with self.lock:
            return sorted(latency for row, latency in self.arrivals if row in ids)

    def first_latencies(self, ids: range) -> list[float]:
        """Per change, the latency of its first delivery: the server's path from the commit to
        a socket, without the time the subscribers' one event loop takes to read the rest."""
        first: dict[int, float] = {}
        with self.lock:
            for row, latency in self.arrivals:
                if row in ids and latency < first.get(row, float("inf")):
                    first[row] = latency
        return sorted(first.values())


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.pg = PG(port=args.pg_port, user=args.pg_user, database=args.pg_database, postmaster_pid=args.postmaster_pid,
                     psql_path=args.psql, pgbench_path=args.pgbench)

    def max_id(self) -> int:
        return int(self.pg.psql("SELECT coalesce(max(id), 0) FROM public.bench_notes").strip() or 0)

    def pgbench(self, name: str, table: str, rate: int | None = None) -> dict:
        script = Path(self.args.work_dir) / f"{name}.sql"
        script.write_text(INSERT.format(table=table))
        clients = self.args.clients if rate is None else min(self.args.clients, 2)
        return self.pg.pgbench(name, str(script), {}, clients, self.args.duration, self.args.work_dir, log) if rate is None else \
            self.paced(name, str(script), clients, rate)

    def paced(self, name: str, script: str, clients: int, rate: int) -> dict:
        """pgbench at a fixed rate (-R): the latency phase's writer."""
        a = self.args
        result = subprocess.run(
            [a.pgbench, "-n", "-h", "127.0.0.1", "-p", str(a.pg_port), "-U", a.pg_user, "-c", str(clients), "-j", str(clients),
             "-R", str(rate), "-T", str(a.duration), "-f", script, a.pg_database],
            capture_output=True, text=True, timeout=a.duration + 120)
        if result.returncode != 0:
            raise RuntimeError(f"pgbench {name} failed: {result.stderr[-2000:]}")
        tps = next((float(line.split()[2]) for line in result.stdout.splitlines() if line.startswith("tps =")), None)
        log(f"pgbench {name}: {tps} tps at -R {rate}")
        return {"tps": round(tps, 1) if tps is not None else None, "rate": rate}

    def drain(self, subscribers: Subscribers, ids: range) -> dict:
        """Waits until every change of `ids` reached every subscriber (or the drain timeout)."""
        expected = len(ids) * len(subscribers.users)
        started = time.monotonic()
        deadline = started + self.args.drain
        received, duplicates = subscribers.delivered(ids)
        while received - duplicates < expected and time.monotonic() < deadline:
            time.sleep(0.05)
            received, duplicates = subscribers.delivered(ids)
        return {"expected": expected, "received": received, "missing": max(0, expected - (received - duplicates)),
                "duplicates": duplicates, "drain_s": round(time.monotonic() - started, 2)}

    def run(self) -> dict:
        a = self.args
        wait_ready(a.port, a.server_pid)
        anon_key = read_anon_key(a.binary, a.data_dir)
        self.pg.psql("""
            CREATE TABLE public.bench_notes (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                body text NOT NULL,
                sent_at timestamptz NOT NULL DEFAULT clock_timestamp()
            );
            ALTER TABLE public.bench_notes ENABLE ROW LEVEL SECURITY;
            CREATE POLICY readable ON public.bench_notes FOR SELECT TO authenticated USING (true);
            GRANT SELECT ON public.bench_notes TO authenticated;
            CREATE TABLE public.bench_plain (LIKE public.bench_notes INCLUDING ALL);
            ALTER TABLE public.bench_plain ENABLE ROW LEVEL SECURITY;
            ALTER PUBLICATION supabase_realtime ADD TABLE public.bench_notes;
        """)
        users = sign_in_users(a.port, anon_key, [str(a.phone_base + i) for i in range(a.subscribers)], a.code, workers=8, log=log)
        # What capture costs a writer, before anyone subscribes (the fan-out's CPU is measured apart).
        plain = self.pgbench("write_plain", "plain")
        captured = self.pgbench("write_captured", "notes")
        subscribers = Subscribers(a.port, anon_key, users)
        try:
            subscribers.open_all()
            log(f"setup: {len(users)} subscribers joined")
            first = self.max_id() + 1
            fanout_writes = self.pgbench("fanout", "notes")
            captured_ids = range(first, self.max_id() + 1)
            fanout = self.drain(subscribers, captured_ids)
            deliveries_per_s = round(fanout["received"] / max(0.001, a.duration + fanout["drain_s"]), 1)
            log(f"fanout: {len(captured_ids)} changes, all delivered {fanout['drain_s']} s after the writes")
            first = self.max_id() + 1
            paced = self.pgbench("latency", "notes", rate=a.rate)
            latency_ids = range(first, self.max_id() + 1)
            paced_delivery = self.drain(subscribers, latency_ids)
            latency = latency_summary(subscribers.latencies(latency_ids))
            first_delivery = latency_summary(subscribers.first_latencies(latency_ids))
            log(f"latency: p50 {latency.get('p50_ms')} ms, p99 {latency.get('p99_ms')} ms over {len(latency_ids)} changes; "
                f"first delivery of each p50 {first_delivery.get('p50_ms')} ms, p99 {first_delivery.get('p99_ms')} ms")
            errors = list(subscribers.errors)
        finally:
            subscribers.close()
        ratio = round(captured["tps"] / plain["tps"], 3) if captured.get("tps") and plain.get("tps") else None
        missing = fanout["missing"] + paced_delivery["missing"]
        duplicates = fanout["duplicates"] + paced_delivery["duplicates"]
        return {
            "benchmark": "published", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "binary": a.binary_label, "machine": machine_facts(a.cpu_model), "postgres": a.pg_version,
            "clients": a.clients, "duration_s": a.duration, "subscribers": a.subscribers, "rate": a.rate,
            "write_plain": plain, "write_captured": captured,
            "fanout": {**fanout_writes, "changes": len(captured_ids), **fanout, "deliveries_per_s": deliveries_per_s},
            "write_ratio": ratio, "latency": {**paced, **latency, **paced_delivery, "changes": len(latency_ids), "first_delivery": first_delivery},
            "missing": missing, "duplicates": duplicates, "socket_errors": errors[:5],
            "figures": [
                {"figure": "INSERT into a published table (captured) vs the same table unpublished", "value": captured.get("tps"),
                 "unit": "tps", "baseline": plain.get("tps"), "baseline_unit": "tps",
                 "baseline_what": "pgbench, the same INSERT into an unpublished copy", "ratio": ratio,
                 "detail": f"{a.clients} clients"},
                {"figure": "published-table changes delivered (fan-out, RLS checked per subscriber)", "value": deliveries_per_s,
                 "unit": "events/s", "detail": f"{a.subscribers} subscribers, {len(captured_ids)} changes written at "
                                               f"{fanout_writes.get('tps')} tps, all delivered {fanout['drain_s']} s after the writes"},
                {"figure": f"commit → postgres_changes event at {a.rate} inserts/s", "value": latency.get("p99_ms"),
                 "unit": "ms p99", "detail": f"{a.subscribers} subscribers, p50 {latency.get('p50_ms')} ms; first delivery of "
                                             f"each change p50 {first_delivery.get('p50_ms')} / p99 {first_delivery.get('p99_ms')} ms",
                 "target": "p99 ≤ 50 ms", "meets_target": (latency.get("p99_ms") or 1e9) <= 50},
            ],
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_arguments(parser)
    parser.add_argument("--subscribers", type=int, default=50)
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--drain", type=int, default=60)
    parser.add_argument("--phone-base", type=int, required=True)
    parser.add_argument("--code", required=True)
    result = Bench(parser.parse_args()).run()
    print(json.dumps(result, indent=2))
    if result["missing"] or result["duplicates"]:
        log(f"error: {result['missing']} changes missing, {result['duplicates']} delivered twice")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
