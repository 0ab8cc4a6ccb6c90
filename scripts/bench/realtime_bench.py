#!/usr/bin/env python3
"""Load generator and report for scripts/bench/realtime.sh (realtime benchmarks).

Driven by realtime.sh, which owns the PostgreSQL cluster and the server process. Three
commands:

  latency   (issue 3b) signs in --subscribers users, makes --conversations groups of them,
            opens one WebSocket per user (one channel with a postgres_changes INSERT
            subscription to messages of its group), then sends messages with
            send_message_v1 at --rate per second for --duration seconds (open loop, at most
            --send-concurrency requests in flight; message k goes to group k mod M from its
            next member, so every user sends at rate/subscribers per second) and measures,
            for every (message, subscriber) pair, the time from the start of the HTTP
            request to the arrival of the event at the subscriber.
  capacity  (issue 3c) signs in --users users in groups, then opens idle authenticated
            sockets (each joins one channel like the subscribers above and sends a
            heartbeat every 25 s) in steps of --step, sampling the server's RSS from /proc
            after each step, until the RSS reaches --rss-limit-mb, the time bound, a
            connection failure rate above 1 %, or the open-files limit of the server (the
            count then stops short of the limit and the count at the RSS limit is
            extrapolated from the RSS per connection).
  worker    (internal) an asyncio process holding sockets for the two above, driven over
            stdin/stdout with one JSON object per line.

The load generator's processes are started here; their CPU counts as "client". Prints ONE
JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import queue
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
    PG, RPC_PATH, Client, CPUMeter, PhaseStats, binary_kind, create_groups, latency_summary, machine_facts, make_logger,
    ms, process_fd_count, process_nofile_limit, process_rss_bytes, read_anon_key,
    run_workers, seed_history, server_log_summary, sign_in_users, wait_ready,
)

SEND_PATH = RPC_PATH + "send_message_v1"
HEARTBEAT_SECONDS = 25.0
JOIN_TIMEOUT = 30.0
SKIPPED = "skipped"
MB = 1024 * 1024
HISTORY_PER_MEMBER = 20  # old messages per member before the latency run (benchlib.seed_history)

log = make_logger("realtime-bench")

if "CLOCK_MONOTONIC" not in time.get_clock_info("perf_counter").implementation:
    # Send and receive times are taken in different processes: they need one system-wide clock.
    raise SystemExit("time.perf_counter() is not CLOCK_MONOTONIC on this system")


# =========================================================================== worker process


class Sock:
    __slots__ = ("index", "conversation", "ws", "reader", "next_heartbeat", "closed")

    def __init__(self, index: int, conversation: str) -> None:
        self.index = index
        self.conversation = conversation
        self.ws = None
        self.reader: asyncio.Task | None = None
        self.next_heartbeat = 0.0
        self.closed = False


class _Joined(Exception):
    """Ends the join step early (sockets that join no channel)."""


class Worker:
    """Holds WebSockets; commands on stdin: open N | stats | stop."""

    def __init__(self, config: dict, out_path: str) -> None:
        self.config = config
        self.out_path = out_path
        self.users = config["users"]  # [{"token", "conversation"}]
        self.index_base = config["worker_index"]
        self.stride = config["workers"]
        self.uri = f"ws://127.0.0.1:{config['port']}/realtime/v1/websocket?apikey={config['anon_key']}&vsn=1.0.0"
        self.local_address = config["local_address"]
        self.sockets: list[Sock] = []
        self.next_slot = 0
        self.events: list[tuple] = []  # (socket index, message id, perf_counter, wall time, created_at)
        self.counters = {"heartbeats_sent": 0, "heartbeat_replies": 0, "channel_errors": 0, "closed_by_server": 0,
                         "other_frames": 0, "wrong_conversation": 0}
        self.samples: list[str] = []
        self.close_reasons: dict[str, int] = {}
        self.semaphore = asyncio.Semaphore(config["open_concurrency"])
        # False: sockets connect and heartbeat but join no channel (what a bare socket costs).
        self.join = config.get("join", True)

    def sample(self, text: str) -> None:
        if len(self.samples) < 8 and text not in self.samples:
            self.samples.append(text)

    def out(self, obj: dict) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    def handle(self, sock: Sock, text: str) -> str | None:
        """Records a frame; returns the ref of a phx_reply (for the join)."""
        now = time.perf_counter()
        if '"postgres_changes"' in text:
            frame = json.loads(text)
            if frame.get("event") == "postgres_changes":
                record = frame["payload"]["data"].get("record") or {}
                if record.get("conversation_id") != sock.conversation:
                    self.counters["wrong_conversation"] += 1
                    self.sample(f"event of conversation {record.get('conversation_id')} on a socket of {sock.conversation}")
                # Keyed by the message id (the server shows client_msg_id to the sender only).
                self.events.append((sock.index, record.get("id"), now, time.time(), record.get("created_at")))
                return None
        frame = json.loads(text)
        event = frame.get("event")
        if event == "phx_reply":
            if frame.get("topic") == "phoenix":
                self.counters["heartbeat_replies"] += 1
                return None
            status = (frame.get("payload") or {}).get("status")
            if status != "ok":
                self.counters["channel_errors"] += 1
                self.sample(f"reply {status}: {json.dumps(frame.get('payload'))[:200]}")
            return frame.get("ref")
        if event in ("phx_error", "phx_close"):
            self.counters["channel_errors"] += 1
            self.sample(f"{event}: {text[:200]}")
        elif event == "system":
            payload = frame.get("payload") or {}
            if payload.get("status") not in (None, "ok"):
                self.counters["channel_errors"] += 1
                self.sample(f"system: {text[:200]}")
        else:
            self.counters["other_frames"] += 1
        return None

    async def read(self, sock: Sock) -> None:
        from websockets.exceptions import ConnectionClosed
        try:
            async for message in sock.ws:
                if isinstance(message, str):
                    self.handle(sock, message)
        except ConnectionClosed:
            pass
        except Exception as error:  # noqa: BLE001
            self.sample(f"reader: {type(error).__name__}: {error}")
        if not sock.closed:
            sock.closed = True
            self.counters["closed_by_server"] += 1
            close = getattr(sock.ws, "close_rcvd", None)
            reason = f"{close.code} {close.reason}".strip() if close is not None else "no close frame"
            self.close_reasons[reason] = self.close_reasons.get(reason, 0) + 1

    async def open_one(self, slot: int, deadline: float) -> tuple[int, str | None]:
        from websockets.asyncio.client import connect
        index = self.index_base + slot * self.stride
        user = self.users[index % len(self.users)]
        sock = Sock(index, user["conversation"])
        join = {
            "event": "phx_join", "topic": f"realtime:bench-{index}", "ref": "1", "join_ref": "1",
            "payload": {
                "config": {
                    "broadcast": {"self": False, "ack": False}, "presence": {"key": "", "enabled": False}, "private": False,
                    "postgres_changes": [{"event": "INSERT", "schema": "public", "table": "messages",
                                          "filter": f"conversation_id=eq.{user['conversation']}"}],
                },
                "access_token": user["token"],
            },
        }
        async with self.semaphore:
            if time.monotonic() >= deadline:
                return index, SKIPPED
            try:
                sock.ws = await connect(
                    self.uri, open_timeout=JOIN_TIMEOUT, ping_interval=None, close_timeout=1, compression=None,
                    max_queue=None, local_addr=(self.local_address, 0), user_agent_header="realtime-bench")
            except Exception as error:  # noqa: BLE001
                return index, f"connect: {type(error).__name__}: {str(error)[:120]}"
            try:
                if not self.join:
                    raise _Joined
                await sock.ws.send(json.dumps(join))
                deadline = time.monotonic() + JOIN_TIMEOUT
                while True:
                    text = await asyncio.wait_for(sock.ws.recv(), max(0.1, deadline - time.monotonic()))
                    if isinstance(text, str) and self.handle(sock, text) == "1":
                        frame = json.loads(text)
                        if frame["payload"].get("status") != "ok":
                            await sock.ws.close()
                            return index, f"join: {json.dumps(frame['payload'])[:160]}"
                        break
            except _Joined:
                pass
            except Exception as error:  # noqa: BLE001
                if sock.ws is not None:
                    sock.ws.transport.abort()
                return index, f"join: {type(error).__name__}: {str(error)[:120]}"
        sock.next_heartbeat = time.monotonic() + HEARTBEAT_SECONDS
        sock.reader = asyncio.create_task(self.read(sock))
        self.sockets.append(sock)
        return index, None

    async def heartbeats(self) -> None:
        frame = json.dumps({"event": "heartbeat", "topic": "phoenix", "payload": {}, "ref": None})
        while True:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            for sock in list(self.sockets):
                if sock.closed or sock.next_heartbeat > now:
                    continue
                sock.next_heartbeat = now + HEARTBEAT_SECONDS
                try:
                    await sock.ws.send(frame)
                    self.counters["heartbeats_sent"] += 1
                except Exception:  # noqa: BLE001
                    pass

    def stats(self) -> dict:
        by_conversation: dict[str, int] = {}
        for sock in self.sockets:
            if not sock.closed:
                by_conversation[sock.conversation] = by_conversation.get(sock.conversation, 0) + 1
        return {"events": len(self.events), "open": sum(by_conversation.values()), "by_conversation": by_conversation,
                **self.counters}

    async def command(self, line: str) -> bool:
        words = line.split()
        if not words:
            return True
        if words[0] == "open":
            # open COUNT [DEADLINE]: sockets not started by DEADLINE (time.monotonic()) are skipped.
            count = int(words[1])
            deadline = float(words[2]) if len(words) > 2 else math.inf
            started = time.perf_counter()
            results = await asyncio.gather(*(self.open_one(slot, deadline)
                                             for slot in range(self.next_slot, self.next_slot + count)))
            skipped = sum(1 for _, error in results if error == SKIPPED)
            # Skipped slots are handed out again by the next open.
            self.next_slot += count - skipped
            failed = [(index, error) for index, error in results if error and error != SKIPPED]
            errors: dict[str, int] = {}
            for _, error in failed:
                key = error.split(":")[0] + ": " + error.split(":", 2)[1].strip() if ":" in error else error
                errors[key] = errors.get(key, 0) + 1
                self.sample(error)
            self.out({"cmd": "open", "ok": count - len(failed) - skipped, "failed": len(failed), "skipped": skipped,
                      "failed_indices": [i for i, _ in failed],
                      "errors": errors, "seconds": round(time.perf_counter() - started, 3), **self.stats()})
        elif words[0] == "stats":
            self.out({"cmd": "stats", **self.stats()})
        elif words[0] == "stop":
            with open(self.out_path, "w") as out:
                for event in self.events:
                    out.write(json.dumps(event) + "\n")
            self.out({"cmd": "stop", **self.stats(), "close_reasons": self.close_reasons, "samples": self.samples})
            for sock in self.sockets:
                sock.closed = True
                if sock.reader is not None:
                    sock.reader.cancel()
                try:
                    sock.ws.transport.abort()
                except Exception:  # noqa: BLE001
                    pass
            return False
        return True

    async def main(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        beats = asyncio.create_task(self.heartbeats())
        self.out({"cmd": "hello", "pid": os.getpid()})
        while True:
            line = await reader.readline()
            if not line:
                break
            if not await self.command(line.decode()):
                break
        beats.cancel()


def worker_main(args: argparse.Namespace) -> int:
    with open(args.config) as file:
        config = json.load(file)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(143))
    asyncio.run(Worker(config, args.out).main())
    return 0


# =========================================================================== orchestrator side


class WorkerHandle:
    """A worker process and the JSON lines it answers with."""

    def __init__(self, args: argparse.Namespace, index: int, count: int, users: list[dict], work: Path,
                 local_address: str, open_concurrency: int) -> None:
        self.index = index
        self.config_path = work / f"worker-{index}.json"
        self.out_path = work / f"worker-{index}-events.jsonl"
        self.config_path.write_text(json.dumps({
            "port": args.port, "anon_key": args.anon_key, "users": users, "worker_index": index, "workers": count,
            "local_address": local_address, "open_concurrency": open_concurrency,
            "join": getattr(args, "join", True),
        }))
        self.process = subprocess.Popen(
            [sys.executable, __file__, "worker", "--config", str(self.config_path), "--out", str(self.out_path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        hello = self.receive(60)
        self.pid = hello["pid"]

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def receive(self, timeout: float) -> dict:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"worker {self.index} did not answer within {timeout:.0f}s") from None
        if line is None:
            raise RuntimeError(f"worker {self.index} exited (code {self.process.poll()})")
        return json.loads(line)

    def ask(self, command: str, timeout: float) -> dict:
        self.send(command)
        return self.receive(timeout)

    def stop(self, timeout: float = 60) -> dict:
        try:
            answer = self.ask("stop", timeout)
        finally:
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return answer

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def events(self) -> list:
        if not self.out_path.exists():
            return []
        with open(self.out_path) as lines:
            return [json.loads(line) for line in lines]


def open_on_workers(workers: list[WorkerHandle], count: int, timeout: float, deadline: float | None = None) -> dict:
    """Opens `count` more sockets spread over the workers (none started after `deadline`,
    a time.monotonic() value); sums their answers."""
    shares = [count // len(workers) + (1 if i < count % len(workers) else 0) for i in range(len(workers))]
    for worker, share in zip(workers, shares):
        worker.send(f"open {share}" + (f" {deadline:.3f}" if deadline is not None else ""))
    total = {"ok": 0, "failed": 0, "skipped": 0, "failed_indices": [], "errors": {}, "open": 0, "seconds": 0.0,
             "closed_by_server": 0}
    for worker in workers:
        answer = worker.receive(timeout)
        total["ok"] += answer["ok"]
        total["failed"] += answer["failed"]
        total["skipped"] += answer["skipped"]
        total["failed_indices"] += answer["failed_indices"]
        total["open"] += answer["open"]
        total["closed_by_server"] += answer["closed_by_server"]
        total["seconds"] = max(total["seconds"], answer["seconds"])
        for key, value in answer["errors"].items():
            total["errors"][key] = total["errors"].get(key, 0) + value
    return total


def stats_of(workers: list[WorkerHandle], timeout: float = 30) -> dict:
    total: dict = {"by_conversation": {}}
    for worker in workers:
        worker.send("stats")
    for worker in workers:
        for key, value in worker.receive(timeout).items():
            if isinstance(value, int):
                total[key] = total.get(key, 0) + value
            elif key == "by_conversation":
                for conversation, count in value.items():
                    total[key][conversation] = total[key].get(conversation, 0) + count
    return total


def stop_workers(workers: list[WorkerHandle]) -> dict:
    total: dict = {"close_reasons": {}, "samples": []}
    for worker in workers:
        answer = worker.stop()
        for key, value in answer.items():
            if isinstance(value, int):
                total[key] = total.get(key, 0) + value
        for key, value in answer.get("close_reasons", {}).items():
            total["close_reasons"][key] = total["close_reasons"].get(key, 0) + value
        total["samples"] += [s for s in answer.get("samples", []) if s not in total["samples"]][:8]
    return total


def server_memory(pid: int) -> dict:
    rss = process_rss_bytes(pid)
    return {"rss_mb": round(rss / MB, 1) if rss is not None else None, "fds": process_fd_count(pid)}


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.workers: list[WorkerHandle] = []
        self.work = Path(args.work_dir)

    def setup(self, users_count: int, group_size: int) -> list[dict]:
        a = self.args
        log(f"waiting for the server on 127.0.0.1:{a.port}")
        wait_ready(a.port, a.server_pid)
        a.anon_key = read_anon_key(a.binary, a.data_dir)
        phones = [str(a.phone_base + i) for i in range(users_count)]
        users = sign_in_users(a.port, a.anon_key, phones, a.code, a.setup_clients, log)
        return create_groups(a.port, a.anon_key, users, group_size, a.setup_clients, log)

    def start_workers(self, count: int, users: list[dict], open_concurrency: int) -> None:
        for i in range(count):
            # Each worker connects from its own loopback address (its own ephemeral port range).
            self.workers.append(WorkerHandle(self.args, i, count, users, self.work, f"127.0.{1 + i // 250}.{1 + i % 250}",
                                             open_concurrency))

    def kill_workers(self) -> None:
        for worker in self.workers:
            worker.kill()

    def base_report(self) -> dict:
        a = self.args
        return {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": machine_facts(a.cpu_model),
            "binary": binary_kind(a.binary_label),
            "binary_path": a.binary_label,
            "postgres": a.pg_version,
        }

    # ------------------------------------------------------------------ latency (3b)

    def latency(self) -> dict:
        a = self.args
        n, m = a.subscribers, a.conversations
        per_conversation = n // m
        report = self.base_report()
        groups = self.setup(n, per_conversation)
        # History and fresh planner statistics before anyone listens (benchlib.seed_history).
        seed_history(PG(port=a.pg_port, user="postgres", database=a.pg_database, postmaster_pid=a.postmaster_pid,
                        psql_path=a.psql), HISTORY_PER_MEMBER)
        subscribers = [{"token": member["token"], "conversation": group["id"]} for group in groups for member in group["members"]]
        memory_idle = server_memory(a.server_pid)

        self.start_workers(a.workers, subscribers, a.open_concurrency)
        started = time.perf_counter()
        opened = open_on_workers(self.workers, n, timeout=600)
        open_seconds = time.perf_counter() - started
        log(f"subscribers: {opened['ok']} joined, {opened['failed']} failed in {open_seconds:.1f}s {opened['errors'] or ''}")
        if opened["ok"] == 0:
            raise RuntimeError(f"no subscriber could join: {opened['errors']}")
        failed = set(opened["failed_indices"])
        # Socket g is subscriber g (one socket per user), in group g // per_conversation.
        listening = [0] * len(groups)
        for g in range(n):
            if g not in failed:
                listening[g // per_conversation] += 1
        memory_subscribed = server_memory(a.server_pid)

        # Warm-up: one message per group (not measured), so every path has run once.
        warm_ids: set[str] = set()
        client = Client(a.port, a.anon_key, user_agent="realtime-bench")
        for group in groups:
            status, payload, _ = client.post(
                SEND_PATH, {"conversation_id": group["id"], "client_msg_id": str(uuid.uuid4()), "body": "warm-up"},
                headers={"Authorization": "Bearer " + group["members"][0]["token"]})
            if status != 200:
                raise RuntimeError(f"warm-up send failed: {status} {payload[:300]!r}")
            warm_ids.add(json.loads(payload)["message_id"])
        client.close()
        self.wait_for_events(sum(listening), timeout=30)

        # Measured phase.
        rate, duration, concurrency = a.rate, a.duration, a.send_concurrency
        offered = int(rate * duration)
        records: list[tuple | None] = [None] * offered
        next_k = [0]
        lock = threading.Lock()
        stats = PhaseStats()
        clients = [Client(a.port, a.anon_key, user_agent="realtime-bench") for _ in range(concurrency)]
        t0 = time.perf_counter() + 1.0

        def sender(index: int, barrier: threading.Barrier) -> None:
            client = clients[index]
            client._ensure_connection()
            barrier.wait()
            while True:
                with lock:
                    k = next_k[0]
                    next_k[0] += 1
                if k >= offered:
                    return
                scheduled = t0 + k / rate
                now = time.perf_counter()
                if scheduled > now:
                    time.sleep(scheduled - now)
                elif now >= t0 + duration:
                    return  # behind schedule at the end of the window: the rest is not sent
                group = groups[k % m]
                member = group["members"][(k // m) % per_conversation]
                cmid = str(uuid.uuid4())
                start: list[float] = []
                status, payload, elapsed = client.post(
                    SEND_PATH, {"conversation_id": group["id"], "client_msg_id": cmid, "body": f"bench {k}"},
                    headers={"Authorization": "Bearer " + member["token"]}, started_at=start)
                message_id = None
                if status == 200:
                    try:
                        message_id = json.loads(payload)["message_id"]
                    except (ValueError, KeyError, TypeError):
                        status = 299  # a 200 without a message id counts as a failure
                stats.add(status, payload, elapsed)
                begin = start[0] if start else time.perf_counter()
                records[k] = (message_id or cmid, k % m, scheduled, begin, begin + elapsed, status)

        meter = CPUMeter(a.server_pid, a.postmaster_pid, extra_pids=[w.pid for w in self.workers])
        log(f"sending: {rate}/s offered for {duration}s ({offered} messages) to {m} groups, "
            f"at most {concurrency} in flight")
        before = meter.sample()
        wall = run_workers(concurrency, sender, timeout=duration + 120)
        send_end = time.perf_counter()
        after_send = meter.sample()
        for c in clients:
            c.close()
        sent = [r for r in records if r is not None]
        ok = [r for r in sent if r[5] == 200]
        expected = sum(listening[r[1]] for r in ok) + sum(listening)
        drained_in = self.wait_for_events(expected, timeout=a.drain_timeout)
        after_drain = meter.sample()
        memory_after = server_memory(a.server_pid)
        worker_totals = stop_workers(self.workers)
        events = [event for worker in self.workers for event in worker.events()]
        self.workers = []

        # Join events with sends.
        by_id = {r[0]: r for r in ok}
        e2e, from_schedule, since_created = [], [], []
        per_message_last: dict[str, float] = {}
        seen: set[tuple[int, str]] = set()
        duplicates = unknown = 0
        for socket_index, message, received, wall_received, created_at in events:
            if message in warm_ids:
                continue
            record = by_id.get(message)
            if record is None:
                unknown += 1
                continue
            if (socket_index, message) in seen:
                duplicates += 1
                continue
            seen.add((socket_index, message))
            e2e.append(received - record[3])
            from_schedule.append(received - record[2])
            per_message_last[message] = max(per_message_last.get(message, 0.0), received - record[3])
            if created_at:
                try:
                    since_created.append(wall_received - datetime.fromisoformat(created_at).timestamp())
                except ValueError:
                    pass
        expected_measured = sum(listening[r[1]] for r in ok)
        # Delivery rate: messages whose first event arrived while sending, and after.
        first_event: dict[str, float] = {}
        for socket_index, message, received, _, _ in events:
            if message in by_id:
                first_event[message] = min(first_event.get(message, received), received)
        last_ok_end = max((r[4] for r in ok), default=t0)
        during = sum(1 for t in first_event.values() if t <= last_ok_end)
        last_event = max(first_event.values(), default=last_ok_end)
        delivery = {
            "messages_per_s_while_sending": round(during / (last_ok_end - t0), 1) if last_ok_end > t0 else None,
            "messages_per_s_after_sending": round((len(first_event) - during) / (last_event - last_ok_end), 1)
            if last_event > last_ok_end + 0.5 else None,
        }
        send_window = (max(r[4] for r in sent) - t0) if sent else wall
        late = [r for r in sent if r[3] - r[2] > 0.001]

        report.update({
            "subscribers": n,
            "subscribers_joined": opened["ok"],
            "conversations": m,
            "subscribers_per_conversation": per_conversation,
            "subscribe_seconds": round(open_seconds, 2),
            "offered_rate_per_s": rate,
            "duration_s": duration,
            "send_concurrency": concurrency,
            "messages": {
                "offered": offered,
                "sent": len(sent),
                "ok": len(ok),
                "non_2xx_or_errors": len(sent) - len(ok),
                "not_sent_behind_schedule": offered - len(sent),
                "sent_late_over_1ms": len(late),
                "send_window_s": round(send_window, 2),
                "achieved_rate_per_s": round(len(ok) / send_window, 1) if send_window > 0 else None,
            },
            "send_rpc": latency_summary([r[4] - r[3] for r in ok]),
            "schedule_lag": latency_summary([max(0.0, r[3] - r[2]) for r in sent]),
            "events": {
                "expected": expected_measured,
                "received": len(seen),
                "missing": expected_measured - len(seen),
                "duplicates": duplicates,
                "unknown": unknown,
                "drained_s_after_last_send": round(drained_in, 2) if drained_in is not None else None,
                **delivery,
            },
            "e2e_send_to_event": latency_summary(e2e),
            "e2e_last_subscriber_per_message": latency_summary(list(per_message_last.values())),
            "e2e_from_schedule": latency_summary(from_schedule),
            "created_at_to_event": latency_summary(since_created),
            "cpu_cores_used_while_sending": CPUMeter.cores_used(before, after_send, send_end - (t0 - 1.0)),
            "cpu_ms_per_message": CPUMeter.report(before, after_drain, len(ok), "client"),
            "server_memory": {"idle": memory_idle, "subscribed": memory_subscribed, "after": memory_after},
            "subscriber_sockets": {k: v for k, v in worker_totals.items() if k not in ("events",)},
        })
        if stats.error_samples:
            report["messages"]["statuses"] = stats.statuses
            report["messages"]["error_samples"] = stats.error_samples
        report["server_log"] = server_log_summary(a.server_log, samples=8)
        log(f"latency: {len(ok)} ok of {offered} offered ({report['messages']['achieved_rate_per_s']}/s), "
            f"events {len(seen)}/{expected_measured}, e2e p50 {report['e2e_send_to_event']['p50_ms']} ms "
            f"p99 {report['e2e_send_to_event']['p99_ms']} ms")
        return report

    def wait_for_events(self, expected: int, timeout: float) -> float | None:
        """Polls the workers until `expected` events arrived; seconds waited, None on timeout."""
        started = time.perf_counter()
        while True:
            got = stats_of(self.workers)["events"]
            waited = time.perf_counter() - started
            if got >= expected:
                return waited
            if waited >= timeout:
                log(f"events: {got} of {expected} after {timeout:.0f}s")
                return None
            time.sleep(0.1)

    # ------------------------------------------------------------------ capacity (3c)

    def capacity(self) -> dict:
        a = self.args
        report = self.base_report()
        groups = self.setup(a.users, a.group_size)
        users = [{"token": member["token"], "conversation": group["id"]} for group in groups for member in group["members"]]
        nofile = process_nofile_limit(a.server_pid)
        own_nofile = process_nofile_limit(os.getpid())
        rss_limit = a.rss_limit_mb * MB
        # Leave room below the server's open-files limit for its database pool, log and listener.
        fd_bound = nofile - a.fd_reserve if nofile else None
        client_bound = (own_nofile - 100) * a.workers if own_nofile else None
        bounds = [b for b in (a.max_connections, fd_bound, client_bound) if b]
        target = min(bounds)
        workers_needed = math.ceil(target / max(1, (own_nofile or 20000) - 100))
        if workers_needed > a.workers:
            raise RuntimeError(f"{a.workers} worker processes cannot hold {target} sockets (open-files limit {own_nofile})")
        time.sleep(2)
        base = server_memory(a.server_pid)
        base_rss = process_rss_bytes(a.server_pid) or 0
        self.start_workers(a.workers, users, a.open_concurrency)
        log(f"capacity: server RSS {base['rss_mb']} MB idle, {base['fds']} fds, open-files limit {nofile}; "
            f"opening up to {target} sockets in steps of {a.step} (stop at {a.rss_limit_mb} MB RSS or {a.time_bound}s)")

        steps = []
        started = time.perf_counter()
        limited_by = None
        opened_total = failed_total = 0
        open_seconds = 0.0
        meter = CPUMeter(a.server_pid, a.postmaster_pid, extra_pids=[w.pid for w in self.workers])
        before = meter.sample()
        deadline = time.monotonic() + a.time_bound
        while True:
            if time.monotonic() >= deadline:
                limited_by = "time bound"
                break
            if opened_total >= target:
                if target == fd_bound:
                    limited_by = f"server open-files limit ({nofile}; {a.fd_reserve} kept free for its pool and files)"
                elif target == client_bound:
                    limited_by = "client open-files limit"
                else:
                    limited_by = "maximum connections asked for"
                break
            count = min(a.step, target - opened_total)
            step_started = time.perf_counter()
            cpu_before = meter.sample()
            # Handshakes still in flight at the deadline time out on their own (JOIN_TIMEOUT).
            result = open_on_workers(self.workers, count, timeout=deadline - time.monotonic() + 2 * JOIN_TIMEOUT + 30,
                                     deadline=deadline)
            open_seconds += time.perf_counter() - step_started
            cpu_opened = meter.sample()
            opened_total += result["ok"]
            failed_total += result["failed"]
            # Idle cost: CPU while nothing happens but heartbeats (every 25 s per socket) and
            # the server's own per-connection timers.
            time.sleep(a.settle)
            idle_before = meter.sample()
            time.sleep(a.idle_window)
            idle_after = meter.sample()
            idle_cores = CPUMeter.cores_used(idle_before, idle_after, a.idle_window)
            rss = process_rss_bytes(a.server_pid)
            if rss is None:
                limited_by = "server exited"
                break
            point = {
                "open": result["open"], "attempted": count, "failed": result["failed"],
                "rss_mb": round(rss / MB, 1), "fds": process_fd_count(a.server_pid),
                "open_s": round(result["seconds"], 2),
                "server_cpu_s_opening": round(cpu_opened["server"] - cpu_before["server"], 2),
                "client_cpu_s_opening": round(cpu_opened["client"] - cpu_before["client"], 2),
                "idle_cores": {"server": idle_cores["server"], "client": idle_cores["client"], "other": idle_cores["other"]},
            }
            if result["skipped"]:
                point["not_started_by_deadline"] = result["skipped"]
            if result["errors"]:
                point["errors"] = result["errors"]
            if result["closed_by_server"]:
                point["closed_by_server"] = result["closed_by_server"]
            steps.append(point)
            log(f"capacity: {point['open']} open, RSS {point['rss_mb']} MB, {point['fds']} fds, "
                f"{point['failed']} failed, opened in {point['open_s']}s; idle server {idle_cores['server']} cores")
            if rss >= rss_limit:
                limited_by = "rss limit"
                break
            if result["failed"] > max(1, count // 100):
                limited_by = "connection failures"
                break
        after = meter.sample()
        total_seconds = time.perf_counter() - started

        # At the top: are the sockets still served? One message to group 0 and the time until
        # every socket subscribed to it has the event.
        alive_before = stats_of(self.workers)
        probe = self.probe(groups[0]) if a.join else {"skipped": "the sockets joined no channel"}
        time.sleep(2)
        final = server_memory(a.server_pid)
        totals = stop_workers(self.workers)
        self.workers = []
        # How long the server takes to let go of the closed sockets (bounded).
        closed_at = time.perf_counter()
        released = None
        while time.perf_counter() - closed_at < 60:
            fds = process_fd_count(a.server_pid)
            if fds is None or fds <= (base["fds"] or 0) + 50:
                released = round(time.perf_counter() - closed_at, 1)
                break
            time.sleep(0.5)
        after_close = server_memory(a.server_pid)

        # RSS per connection: least squares over (open, rss) from the idle point on.
        xs = [0] + [p["open"] for p in steps]
        ys = [base_rss / MB] + [p["rss_mb"] for p in steps]
        slope = intercept = None
        if len(xs) >= 2 and max(xs) > 0:
            mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
            var = sum((x - mean_x) ** 2 for x in xs)
            if var > 0:
                slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / var
                intercept = mean_y - slope * mean_x
        # The same over the steps only: the first step also pays one-off costs (thread
        # arenas, caches, the pool's connections), which the idle point does not have.
        marginal = None
        if len(steps) >= 2:
            sx = [p["open"] for p in steps]
            sy = [p["rss_mb"] for p in steps]
            mx, my = sum(sx) / len(sx), sum(sy) / len(sy)
            var = sum((x - mx) ** 2 for x in sx)
            if var > 0:
                marginal = sum((x - mx) * (y - my) for x, y in zip(sx, sy)) / var
        top = steps[-1] if steps else {"open": 0, "rss_mb": base["rss_mb"]}
        at_limit: dict = {}
        if limited_by == "rss limit":
            # Interpolate between the last two points around the limit.
            lower = steps[-2] if len(steps) >= 2 else {"open": 0, "rss_mb": base_rss / MB}
            span = top["rss_mb"] - lower["rss_mb"]
            fraction = (a.rss_limit_mb - lower["rss_mb"]) / span if span > 0 else 1.0
            at_limit = {"connections": int(lower["open"] + fraction * (top["open"] - lower["open"])), "how": "measured"}
        elif slope and slope > 0:
            at_limit = {"connections": int((a.rss_limit_mb - intercept) / slope), "how": "extrapolated from RSS per connection"}
        report.update({
            "rss_limit_mb": a.rss_limit_mb,
            "users": a.users,
            "groups": len(groups),
            "channels_per_socket": 1 if a.join else 0,
            "heartbeat_s": HEARTBEAT_SECONDS,
            "server_open_files_limit": nofile,
            "client_open_files_limit_per_process": own_nofile,
            "client_processes": a.workers,
            "ephemeral_ports": Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split(),
            "limited_by": limited_by,
            "max_open": top["open"],
            "failed_total": failed_total,
            "rss_mb_at_max_open": top["rss_mb"],
            "rss_mb_idle": base["rss_mb"],
            "rss_kb_per_connection": round(slope * 1024, 1) if slope else None,
            "rss_kb_per_connection_after_first_step": round(marginal * 1024, 1) if marginal else None,
            "connections_at_rss_limit": at_limit,
            "phase_seconds": round(total_seconds, 1),
            "open_rate_per_s": round(top["open"] / open_seconds, 1) if open_seconds else None,
            "cpu_s_whole_phase": {"server": round(after["server"] - before["server"], 1),
                                  "client": round(after["client"] - before["client"], 1)},
            "probe_at_max": probe,
            "after_probe": {"open_before_probe": alive_before.get("open"), **final},
            "after_clients_closed": {"seconds_to_release_fds": released, **after_close},
            "sockets": {k: v for k, v in totals.items() if k not in ("events",)},
            "steps": steps,
            "server_log": server_log_summary(a.server_log, samples=8),
        })
        return report

    def probe(self, group: dict) -> dict:
        """Sends one message to `group` and waits until every open socket subscribed to it
        has the event (polled every 50 ms, so times are ±50 ms)."""
        a = self.args
        state = stats_of(self.workers)
        expected = state["by_conversation"].get(group["id"], 0)
        before = state["events"]
        client = Client(a.port, a.anon_key, user_agent="realtime-bench")
        started = time.perf_counter()
        status, payload, elapsed = client.post(
            SEND_PATH, {"conversation_id": group["id"], "client_msg_id": str(uuid.uuid4()), "body": "probe"},
            headers={"Authorization": "Bearer " + group["members"][0]["token"]})
        client.close()
        if status != 200:
            return {"status": status, "error": str(payload[:200])}
        got = 0
        while time.perf_counter() < started + 30:
            got = stats_of(self.workers)["events"] - before
            if got >= expected:
                break
            time.sleep(0.05)
        return {"send_ms": ms(elapsed), "subscribers": expected, "events_received": got,
                "all_received_ms": ms(time.perf_counter() - started) if got >= expected else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    worker = sub.add_parser("worker")
    worker.add_argument("--config", required=True)
    worker.add_argument("--out", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--port", type=int, required=True, help="server HTTP port on 127.0.0.1")
    common.add_argument("--server-pid", type=int, required=True)
    common.add_argument("--binary", required=True, help="server binary (for `keys --json`)")
    common.add_argument("--binary-label", required=True, help="the binary's path as configured (debug/release)")
    common.add_argument("--data-dir", required=True)
    common.add_argument("--server-log", required=True)
    common.add_argument("--work-dir", required=True)
    common.add_argument("--pg-version", default="")
    common.add_argument("--postmaster-pid", type=int, required=True)
    common.add_argument("--pg-port", type=int, required=True)
    common.add_argument("--pg-database", required=True)
    common.add_argument("--psql", default="psql")
    common.add_argument("--cpu-model", default="")
    common.add_argument("--phone-base", type=int, default=15570000000)
    common.add_argument("--code", default="123456")
    common.add_argument("--setup-clients", type=int, default=8, help="HTTP workers for sign-in and groups")
    common.add_argument("--workers", type=int, default=1, help="socket-holding worker processes")
    common.add_argument("--open-concurrency", type=int, default=32, help="handshakes in flight per worker")

    latency = sub.add_parser("latency", parents=[common])
    latency.add_argument("--subscribers", type=int, default=1000)
    latency.add_argument("--conversations", type=int, default=100)
    latency.add_argument("--rate", type=float, default=500)
    latency.add_argument("--duration", type=int, default=20)
    latency.add_argument("--send-concurrency", type=int, default=32)
    latency.add_argument("--drain-timeout", type=float, default=30)

    capacity = sub.add_parser("capacity", parents=[common])
    capacity.add_argument("--users", type=int, default=100)
    capacity.add_argument("--group-size", type=int, default=10)
    capacity.add_argument("--step", type=int, default=1000)
    capacity.add_argument("--rss-limit-mb", type=int, default=2048)
    capacity.add_argument("--time-bound", type=float, default=180, help="seconds for the opening phase")
    capacity.add_argument("--max-connections", type=int, default=1_000_000)
    capacity.add_argument("--fd-reserve", type=int, default=200)
    capacity.add_argument("--settle", type=float, default=0.5, help="seconds to wait after a step before measuring")
    capacity.add_argument("--idle-window", type=float, default=1.5, help="seconds of idle CPU measured after each step")
    capacity.add_argument("--no-join", dest="join", action="store_false",
                          help="the sockets join no channel (the cost of a bare authenticated-key socket)")

    args = parser.parse_args()
    if args.command == "worker":
        return worker_main(args)
    if args.command == "latency" and args.subscribers % args.conversations:
        parser.error("--subscribers must be a multiple of --conversations")

    def terminate(signum, frame):  # noqa: ARG001
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    bench = Bench(args)
    try:
        report = bench.latency() if args.command == "latency" else bench.capacity()
    except (RuntimeError, subprocess.TimeoutExpired, OSError, ValueError, KeyError) as error:
        log(f"FAILED: {error}")
        return 1
    finally:
        bench.kill_workers()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
