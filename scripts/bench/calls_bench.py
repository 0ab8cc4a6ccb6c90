#!/usr/bin/env python3
"""Load generator and report for scripts/bench/calls.sh (calls signalling, issue 7 item 6).

Driven by calls.sh, which owns the PostgreSQL cluster and the server processes. Commands:

  single  one instance (in-process bus). Signs in --users test numbers (written to
          <work>/users.json for `cross`), connects --pairs device pairs (HELLO + AUTH), puts
          each pair in its own p2p room (ROOM_CREATE, creator joins, peer joins), then for
          every rate of --rates: a PING step (the protocol floor: request → ACK, no
          database, no bus) and a webrtc.ice step (each device sends to its peer; every
          frame must be ACKed ok and delivered once to the peer). Then the join phase:
          --rooms creators and --rooms joiners connect; first 10 of them create, join and
          leave a room one at a time (the join with nothing else going on); then each
          creator creates a room and joins it, and all joiners send ROOM_JOIN at once (the
          pairs stay connected throughout). With --join-processes K > 1 the burst's
          creators and joiners are spread over K `join-worker` processes that send their
          ROOM_JOINs at one instant (the 10 reference joins stay in this process).
  join-worker  one such process (reads its job and `go <instant>` on stdin).
  cross   two instances (PostgreSQL bus) on the same database: the same pairs with the
          creator on A and the peer on B (room created on A, joined from B); a short
          warm-up while a tap LISTENs on the server's bus channel to learn the size of one
          relayed webrtc.ice NOTIFY; the raw PostgreSQL NOTIFY → LISTEN baseline (two
          listening connections, payloads of that size, paced at each step's total rate,
          then closed-loop with --notify-clients connections); then the webrtc.ice steps.
  merge   prints ONE JSON object from the two results, with the cross/single ratios.

Pacing: at rate r per connection and C sending connections, frame j of a step is due at
t0 + j / (r·C) on connection j mod C. A frame due while its connection has --window frames
unacknowledged is not sent (`skipped_behind`): a saturated server shows as fewer frames
sent and a longer ACK latency, not as an unbounded queue. Latencies are measured in this
one process with time.perf_counter(): send → ACK at the sender, send → arrival at the peer.

`cores` per step are CPU seconds per second over the sending window, from /proc: each
server process, every PostgreSQL process of the cluster, this load generator, and `other`
(the rest of the machine: other work on the box). psycopg is not in the venv, so the
NOTIFY baseline speaks the PostgreSQL wire protocol itself (trust authentication, simple
queries). Prints ONE JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import signal
import struct
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (  # noqa: E402
    ProcessGroupMeter, binary_kind, latency_summary, machine_facts, make_logger, ms, process_alive, process_fd_count,
    process_rss_bytes, read_anon_key, server_log_summary, sign_in_users, wait_ready,
)

log = make_logger("calls-bench")

REQUEST_TIMEOUT = 30.0
KEEPALIVE_SECONDS = 15.0
CONNECT_CONCURRENCY = 64
SEQUENTIAL_JOINS = 10
NOTIFY_CHANNEL = "calls_bench"
BUS_CHANNEL = "ecomansoni_bus"


def now_ms() -> int:
    return int(time.time() * 1000)


def rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def ratio(a: float | None, b: float | None, digits: int = 3) -> float | None:
    return round(a / b, digits) if a and b else None


# =========================================================================== protocol client


class Pending:
    __slots__ = ("kind", "sent_at", "future", "step", "key")

    def __init__(self, kind: str, sent_at: float, future=None, step=None, key=None) -> None:
        self.kind = kind
        self.sent_at = sent_at
        self.future = future
        self.step = step
        self.key = key


class Counters:
    """Protocol anomalies over the whole run (each is an error in the report)."""

    def __init__(self) -> None:
        self.values = {"seq_not_increasing": 0, "unexpected_acks": 0, "error_frames": 0, "closed_by_server": 0,
                       "unknown_relays": 0, "refused_requests": 0, "anomalies": 0}
        self.close_codes: dict[str, int] = {}
        self.samples: list[str] = []

    def add(self, name: str, sample: str | None = None) -> None:
        self.values[name] = self.values.get(name, 0) + 1
        if sample and len(self.samples) < 10 and sample not in self.samples:
            self.samples.append(sample)


class Device:
    """One calls WebSocket: numbers its frames, matches ACKs to requests, records arrivals."""

    def __init__(self, bench: "Bench", label: str, user: dict, port: int, instance: str) -> None:
        self.bench = bench
        self.label = label
        self.user = user
        self.user_id = user["id"]
        self.device_id = f"bench-{bench.run_id}-{label}"
        self.url = f"ws://127.0.0.1:{port}/calls/v1/ws"
        self.instance = instance
        self.ws = None
        self.seq = 0
        self.last_server_seq = 0
        self.pending: dict[str, Pending] = {}
        self.unacked = 0
        self.arrivals: dict[str, list[tuple[float, dict]]] = {}
        self.last_sent = time.monotonic()
        self.closed = False
        self.reader: asyncio.Task | None = None
        self.room: dict | None = None
        self.peer: Device | None = None

    # ------------------------------------------------------------------ I/O

    async def open(self) -> float:
        """Connects, HELLO, AUTH; returns seconds from the start of the connect to AUTH's ACK."""
        from websockets.asyncio.client import connect
        started = time.perf_counter()
        self.ws = await connect(self.url, open_timeout=REQUEST_TIMEOUT, ping_interval=None, close_timeout=2,
                                compression=None, max_queue=None, user_agent_header="calls-bench")
        self.reader = asyncio.create_task(self.read())
        ack, _, _ = await self.request("HELLO", {"client": {"deviceId": self.device_id, "platform": "bench"}})
        self.require_ok(ack, "HELLO")
        ack, _, _ = await self.request("AUTH", {"accessToken": self.user["token"]})
        self.require_ok(ack, "AUTH")
        if not self.arrivals.get("AUTH_OK"):
            raise RuntimeError(f"{self.label}: AUTH acknowledged without AUTH_OK")
        return time.perf_counter() - started

    def require_ok(self, ack: dict, what: str) -> dict:
        body = ack.get("ack") or {}
        if body.get("ok") is not True:
            raise RuntimeError(f"{self.label} ({self.instance}): {what} failed: {json.dumps(body)[:300]}")
        return ack.get("payload") or {}

    async def send(self, kind: str, payload: dict, pending: Pending | None = None) -> float:
        """Sends one request; returns its send time (perf_counter, taken just before the write)."""
        self.seq += 1
        msg_id = str(uuid.uuid4())
        text = json.dumps({"v": 1, "type": kind, "msgId": msg_id, "ts": now_ms(), "seq": self.seq, "payload": payload},
                          separators=(",", ":"))
        sent_at = time.perf_counter()
        if pending is None:
            pending = Pending(kind, sent_at)
        pending.sent_at = sent_at
        self.pending[msg_id] = pending
        self.unacked += 1
        self.last_sent = time.monotonic()
        await self.ws.send(text)
        return sent_at

    async def request(self, kind: str, payload: dict, timeout: float = REQUEST_TIMEOUT) -> tuple[dict, float, float]:
        """Sends a request and waits for its ACK: (ACK frame, sent at, ACK at)."""
        future = asyncio.get_running_loop().create_future()
        sent_at = await self.send(kind, payload, Pending(kind, 0.0, future=future))
        try:
            ack, acked_at = await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            raise RuntimeError(f"{self.label} ({self.instance}): no ACK of {kind} within {timeout:.0f}s") from None
        return ack, sent_at, acked_at

    def first_arrival(self, kind: str, after: float) -> tuple[float, dict] | None:
        for arrived, frame in self.arrivals.get(kind, []):
            if arrived >= after:
                return arrived, frame
        return None

    async def read(self) -> None:
        from websockets.exceptions import ConnectionClosed
        counters = self.bench.counters
        try:
            async for text in self.ws:
                arrived = time.perf_counter()
                frame = json.loads(text)
                kind = frame.get("type")
                if kind == "ACK":
                    ack = frame.get("ack") or {}
                    pending = self.pending.pop(ack.get("ackOfMsgId"), None)
                    if pending is None:
                        counters.add("unexpected_acks", f"{self.label}: ACK of an unknown msgId: {text[:200]}")
                        continue
                    self.unacked -= 1
                    if pending.future is not None:
                        if not pending.future.done():
                            pending.future.set_result((frame, arrived))
                    elif pending.step is not None:
                        pending.step.acked(pending, ack, arrived)
                    elif ack.get("ok") is not True:
                        counters.add("refused_requests", f"{self.label}: {pending.kind} refused: {json.dumps(ack)[:200]}")
                    continue
                seq = frame.get("seq")
                if not isinstance(seq, int) or seq <= self.last_server_seq:
                    counters.add("seq_not_increasing", f"{self.label}: {kind} seq {seq} after {self.last_server_seq}")
                else:
                    self.last_server_seq = seq
                if kind == "webrtc.ice":
                    self.bench.delivered(self, frame, arrived)
                elif kind == "PING":
                    pass
                else:
                    if kind == "ERROR":
                        counters.add("error_frames", f"{self.label}: {text[:200]}")
                    self.arrivals.setdefault(kind, []).append((arrived, frame))
        except ConnectionClosed:
            pass
        except Exception as error:  # noqa: BLE001
            counters.add("anomalies", f"{self.label}: reader: {type(error).__name__}: {error}")
        if not self.closed:
            self.closed = True
            close = getattr(self.ws, "close_rcvd", None)
            reason = f"{close.code} {close.reason}".strip() if close is not None else "no close frame"
            counters.add("closed_by_server", f"{self.label} ({self.instance}) closed by the server: {reason}")
            counters.close_codes[reason] = counters.close_codes.get(reason, 0) + 1

    async def close(self) -> None:
        self.closed = True
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(), 5)
            except Exception:  # noqa: BLE001
                self.ws.transport.abort()
        if self.reader is not None:
            self.reader.cancel()


# =========================================================================== steps


class Step:
    """One paced step: PING or webrtc.ice frames from every sender."""

    def __init__(self, name: str, kind: str, rate: float, seconds: float, senders: int) -> None:
        self.name = name
        self.kind = kind
        self.rate = rate
        self.seconds = seconds
        self.senders = senders
        self.sent = 0
        self.skipped = 0
        self.lags: list[float] = []
        self.ack_latencies: list[float] = []
        self.ack_times: list[float] = []
        self.ack_errors: dict[str, int] = {}
        self.error_samples: list[str] = []
        self.acked_ok = 0
        self.deliveries: list[tuple[float, float]] = []  # (arrival, latency)
        self.duplicates = 0
        self.misrouted = 0
        self.outstanding: dict[int, tuple[Pending, "Device", "Device"]] = {}  # key -> (request, sender, recipient)
        self.delivered_keys: set[int] = set()
        self.t0 = 0.0
        self.end = 0.0
        # After the drain the report is written; what arrives later is counted here.
        self.result: dict | None = None
        self.late_acks = 0
        self.late_deliveries = 0
        self.late_max = 0.0

    def acked(self, pending: Pending, ack: dict, arrived: float) -> None:
        if self.result is not None:
            self.late_acks += 1
            self.late_max = max(self.late_max, arrived - pending.sent_at)
        self.ack_times.append(arrived)
        if ack.get("ok") is True:
            self.acked_ok += 1
            self.ack_latencies.append(arrived - pending.sent_at)
        else:
            code = (ack.get("error") or {}).get("code") or "?"
            self.ack_errors[code] = self.ack_errors.get(code, 0) + 1
            if len(self.error_samples) < 5:
                self.error_samples.append(json.dumps(ack)[:300])
            # Not relayed: nothing to wait for.
            self.outstanding.pop(pending.key, None)

    def unacked(self) -> int:
        return self.sent - self.acked_ok - sum(self.ack_errors.values())

    def finish(self) -> dict:
        """The report, with what arrived after the drain and what never did."""
        assert self.result is not None
        result = self.result
        if self.late_acks or self.late_deliveries:
            result["after_drain"] = {"acks": self.late_acks, "deliveries": self.late_deliveries,
                                     "latest_ms": ms(self.late_max)}
        result["ack_errors"] = self.ack_errors
        result["never_acked"] = self.unacked()
        errors = sum(self.ack_errors.values()) + self.unacked() + result["seq_violations"]
        if self.kind == "ice":
            result["never_delivered"] = len(self.outstanding)
            result["duplicates"] = self.duplicates
            result["misrouted"] = self.misrouted
            errors += len(self.outstanding) + self.duplicates + self.misrouted
        if self.error_samples:
            result["error_samples"] = self.error_samples
        result["errors"] = errors
        return result

    def report(self, cores: dict, seq_violations: int) -> dict:
        window_end = self.end
        in_window = sum(1 for arrived, _ in self.deliveries if arrived <= window_end)
        acked_in_window = sum(1 for arrived in self.ack_times if arrived <= window_end)
        lags = sorted(self.lags)
        result = {
            "rate_per_connection": self.rate,
            "connections_sending": self.senders,
            "offered_per_s": round(self.rate * self.senders, 1),
            "seconds": self.seconds,
            "sent": self.sent,
            "skipped_behind": self.skipped,
            "acked_ok": self.acked_ok,
            "ack_errors": self.ack_errors,
            "unacked_after_drain": self.unacked(),
            "acked_per_s": round(acked_in_window / self.seconds, 1),
            "ack": latency_summary(self.ack_latencies),
            "send_lag_p99_ms": ms(lags[int(0.99 * (len(lags) - 1))] if lags else None),
            # Frames not sent because the window was full, or fewer ACKs than offered: the
            # server ran behind, and the latencies are queueing (about window × connections
            # ÷ throughput), not the latency of a frame at this load.
            "saturated": self.skipped > 0.01 * self.rate * self.senders * self.seconds
            or acked_in_window < 0.95 * self.rate * self.senders * self.seconds,
        }
        if self.kind == "ice":
            latencies = [latency for _, latency in self.deliveries]
            result.update({
                "delivered": len(self.deliveries),
                "not_delivered_after_drain": len(self.outstanding),
                "relayed_per_s": round(in_window / self.seconds, 1),
                "end_to_end": latency_summary(latencies),
            })
            last = max((arrived for arrived, _ in self.deliveries), default=None)
            if last is not None and last > self.t0:
                result["relayed_per_s_including_drain"] = round(len(self.deliveries) / (last - self.t0), 1)
        result["seq_violations"] = seq_violations
        result["cores"] = cores
        server = sum(v for k, v in cores.items() if k.startswith("server"))
        if self.acked_ok:
            result["server_cpu_ms_per_frame"] = round(server * self.seconds * 1000 / max(1, acked_in_window), 3)
        self.result = result
        return result


ICE_TEMPLATE = "candidate:{k} 1 udp 2122260223 192.0.2.{h} {p} typ host generation 0 ufrag b3nc network-id 1"


# =========================================================================== PostgreSQL wire protocol


class PgError(RuntimeError):
    pass


class PgConnection:
    """Just enough of the PostgreSQL frontend/backend protocol (v3) for LISTEN/NOTIFY:
    startup with trust authentication, simple queries, asynchronous notifications."""

    def __init__(self, port: int, user: str, database: str) -> None:
        self.port = port
        self.user = user
        self.database = database
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.on_notify = None  # callable(channel, payload, arrived)

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        body = struct.pack("!I", 196608) + b"user\0" + self.user.encode() + b"\0database\0" + self.database.encode() + b"\0\0"
        self.writer.write(struct.pack("!I", len(body) + 4) + body)
        await self.writer.drain()
        await self.until_ready()

    async def message(self) -> tuple[bytes, bytes]:
        assert self.reader is not None
        header = await self.reader.readexactly(5)
        length = struct.unpack("!I", header[1:])[0]
        return header[:1], await self.reader.readexactly(length - 4)

    def dispatch(self, kind: bytes, body: bytes, arrived: float) -> None:
        if kind == b"A" and self.on_notify is not None:
            channel, payload = body[4:].split(b"\0")[:2]
            self.on_notify(channel.decode(), payload.decode(), arrived)

    async def until_ready(self) -> None:
        error = None
        while True:
            kind, body = await self.message()
            if kind == b"R":
                if struct.unpack("!I", body[:4])[0] != 0:
                    raise PgError("the cluster asks for a password (the bench cluster uses trust authentication)")
            elif kind == b"E":
                fields = {chunk[:1]: chunk[1:].decode(errors="replace") for chunk in body.split(b"\0") if chunk}
                error = PgError(f"{fields.get(b'S', 'ERROR')}: {fields.get(b'M', '')}")
            elif kind == b"Z":
                if error is not None:
                    raise error
                return
            else:
                self.dispatch(kind, body, time.perf_counter())

    async def query(self, sql: str) -> None:
        assert self.writer is not None
        data = sql.encode() + b"\0"
        self.writer.write(b"Q" + struct.pack("!I", len(data) + 4) + data)
        await self.until_ready()

    async def listen_forever(self) -> None:
        while True:
            kind, body = await self.message()
            self.dispatch(kind, body, time.perf_counter())

    async def close(self) -> None:
        if self.writer is not None:
            try:
                self.writer.write(b"X" + struct.pack("!I", 4))
                self.writer.close()
            except Exception:  # noqa: BLE001
                pass


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# =========================================================================== the benchmark


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.run_id = uuid.uuid4().hex[:8]
        self.counters = Counters()
        self.steps: list[Step] = []
        self.step_of_key: dict[int, Step] = {}
        self.next_key = 0
        self.devices: list[Device] = []
        self.keepalive_task: asyncio.Task | None = None
        self.rates = [float(r) for r in args.rates.split()]
        servers = {"A": args.server_pid}
        if getattr(args, "server_pid_b", None):
            servers["B"] = args.server_pid_b
        self.servers = servers
        self.meter = ProcessGroupMeter(
            servers, args.postmaster_pid, digits=2,
            label=(lambda name: f"server_{name}") if len(servers) > 1 else (lambda name: "server"))

    # ------------------------------------------------------------------ setup

    def users(self, port: int) -> list[dict]:
        a = self.args
        path = Path(a.work_dir) / "users.json"
        if path.exists():
            users = json.loads(path.read_text())
            if len(users) >= a.users:
                return users
        anon_key = read_anon_key(a.binary, a.data_dir)
        phones = [str(a.phone_base + i) for i in range(a.users)]
        started = time.perf_counter()
        users = sign_in_users(port, anon_key, phones, a.code, workers=8)
        self.setup["sign_in_s"] = round(time.perf_counter() - started, 1)
        log(f"setup: {len(users)} users signed in in {self.setup['sign_in_s']}s")
        path.write_text(json.dumps(users))
        return users

    async def connect_all(self, devices: list[Device], what: str) -> dict:
        semaphore = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def one(device: Device) -> float:
            async with semaphore:
                return await device.open()

        started = time.perf_counter()
        seconds = await asyncio.gather(*(one(d) for d in devices))
        wall = time.perf_counter() - started
        self.devices.extend(devices)
        summary = latency_summary(list(seconds))
        log(f"{what}: {len(devices)} sockets authenticated in {wall:.1f}s (connect → AUTH ACK p50 {summary['p50_ms']} ms, "
            f"p99 {summary['p99_ms']} ms, {CONNECT_CONCURRENCY} at a time)")
        return {"sockets": len(devices), "seconds": round(wall, 2), "concurrency": CONNECT_CONCURRENCY,
                "connect_to_auth_ack": {k: summary[k] for k in ("p50_ms", "p99_ms", "max_ms")}}

    async def keepalive(self) -> None:
        """A PING on every socket that sent nothing for KEEPALIVE_SECONDS (the server closes
        sockets silent for two heartbeat intervals)."""
        while True:
            await asyncio.sleep(1.0)
            limit = time.monotonic() - KEEPALIVE_SECONDS
            for device in list(self.devices):
                if not device.closed and device.last_sent < limit:
                    try:
                        await device.send("PING", {}, Pending("keepalive", 0.0))
                    except Exception:  # noqa: BLE001
                        pass

    async def create_room(self, creator: Device, allowed: list[str]) -> tuple[dict, float]:
        ack, sent_at, _ = await creator.request("ROOM_CREATE", {"allowedUserIds": allowed, "mode": "p2p"})
        payload = creator.require_ok(ack, "ROOM_CREATE")
        created = creator.first_arrival("ROOM_CREATED", sent_at)
        if created is None:
            raise RuntimeError(f"{creator.label}: ROOM_CREATE acknowledged without ROOM_CREATED")
        if created[1]["payload"].get("roomId") != payload.get("roomId"):
            raise RuntimeError(f"{creator.label}: ROOM_CREATED and its ACK name different rooms")
        return created[1]["payload"], created[0] - sent_at

    async def join_room(self, device: Device, room: dict) -> dict:
        """ROOM_JOIN; returns the time to ROOM_JOIN_OK, to ROOM_SNAPSHOT and to the ACK."""
        ack, sent_at, acked_at = await device.request("ROOM_JOIN", {"roomId": room["roomId"], "joinToken": room["joinToken"]})
        device.require_ok(ack, "ROOM_JOIN")
        ok = device.first_arrival("ROOM_JOIN_OK", sent_at)
        snapshot = device.first_arrival("ROOM_SNAPSHOT", sent_at)
        if ok is None or snapshot is None:
            raise RuntimeError(f"{device.label}: ROOM_JOIN acknowledged without ROOM_JOIN_OK and ROOM_SNAPSHOT")
        if not ok[0] <= snapshot[0] <= acked_at:
            self.counters.add("anomalies", f"{device.label}: join answered out of order (JOIN_OK, SNAPSHOT, ACK expected)")
        device.room = room
        return {"sent_at": sent_at, "join_ok": ok[0] - sent_at, "snapshot": snapshot[0] - sent_at, "ack": acked_at - sent_at,
                "peers": ok[1]["payload"].get("peers") or []}

    async def pair_rooms(self, pairs: list[tuple[Device, Device]], what: str) -> dict:
        """Every creator creates a room for its pair and joins it, then every peer joins
        (each step all pairs at once); checks PEER_JOINED at the creator."""
        created = await asyncio.gather(*(self.create_room(a, [b.user_id]) for a, b in pairs))
        await asyncio.gather(*(self.join_room(a, room) for (a, _), (room, _) in zip(pairs, created)))
        joins = await asyncio.gather(*(self.join_room(b, room) for (_, b), (room, _) in zip(pairs, created)))
        peer_joined = []
        deadline = time.monotonic() + REQUEST_TIMEOUT
        for (a, b), join in zip(pairs, joins):
            if not any(p.get("deviceId") == a.device_id for p in join["peers"]):
                raise RuntimeError(f"{b.label}: ROOM_JOIN_OK does not list the creator {a.device_id}")
            while True:
                found = next((arrived for arrived, frame in a.arrivals.get("PEER_JOINED", [])
                              if frame["payload"].get("deviceId") == b.device_id), None)
                if found is not None or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.02)
            if found is None:
                raise RuntimeError(f"{a.label} ({a.instance}) got no PEER_JOINED for {b.label} ({b.instance})")
            peer_joined.append(found - join["sent_at"])
            a.peer, b.peer = b, a
        result = {
            "rooms": len(pairs),
            "create_to_created": self.short(latency_summary([seconds for _, seconds in created])),
            "second_join_to_join_ok": self.short(latency_summary([j["join_ok"] for j in joins])),
            "second_join_to_ack": self.short(latency_summary([j["ack"] for j in joins])),
            "second_join_to_peer_joined_at_creator": self.short(latency_summary(peer_joined)),
        }
        log(f"{what}: {len(pairs)} rooms; second join → JOIN_OK p50 {result['second_join_to_join_ok']['p50_ms']} ms, "
            f"→ PEER_JOINED at the creator p50 {result['second_join_to_peer_joined_at_creator']['p50_ms']} ms")
        return result

    @staticmethod
    def short(summary: dict) -> dict:
        return {k: summary[k] for k in ("count", "p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms")}

    # ------------------------------------------------------------------ relay steps

    def delivered(self, device: Device, frame: dict, arrived: float) -> None:
        payload = frame.get("payload") or {}
        candidate = payload.get("candidate") or {}
        key = candidate.get("benchKey") if isinstance(candidate, dict) else None
        step = self.step_of_key.get(key)
        if step is None:
            self.counters.add("unknown_relays", f"{device.label}: webrtc.ice not sent by this run: {json.dumps(frame)[:200]}")
            return
        if key in step.delivered_keys:
            step.duplicates += 1
            return
        entry = step.outstanding.pop(key, None)
        if entry is None:
            # Refused by its ACK, yet relayed.
            step.misrouted += 1
            step.error_samples.append(f"relayed although its ACK was an error: {json.dumps(frame)[:200]}")
            return
        pending, sender, recipient = entry
        sent_at = pending.sent_at
        step.delivered_keys.add(key)
        if step.result is not None:
            step.late_deliveries += 1
            step.late_max = max(step.late_max, arrived - sent_at)
            return
        sender_stamp = frame.get("from") or {}
        if (recipient is not device or sender_stamp.get("deviceId") != sender.device_id
                or sender_stamp.get("userId") != sender.user_id or payload.get("roomId") != sender.room["roomId"]
                or (payload.get("to") or {}).get("deviceId") != device.device_id):
            step.misrouted += 1
            if len(step.error_samples) < 5:
                step.error_samples.append(f"misrouted to {device.label}: {json.dumps(frame)[:300]}")
        step.deliveries.append((arrived, arrived - sent_at))

    async def run_step(self, name: str, kind: str, senders: list[Device], rate: float, seconds: float) -> dict:
        a = self.args
        step = Step(name, kind, rate, seconds, len(senders))
        count = len(senders)
        interval = 1.0 / (rate * count)
        total = int(round(seconds * rate * count))
        seq_before = self.counters.values["seq_not_increasing"]
        cpu_before = self.meter.sample()
        step.t0 = t0 = time.perf_counter() + 0.05
        step.end = t0 + seconds
        j = 0
        while j < total:
            now = time.perf_counter()
            due = min(total, int((now - t0) / interval) + 1) if now >= t0 else 0
            while j < due:
                device = senders[j % count]
                scheduled = t0 + j * interval
                j += 1
                if device.closed or device.unacked >= a.window:
                    step.skipped += 1
                    continue
                if kind == "ice":
                    self.next_key += 1
                    key = self.next_key
                    self.step_of_key[key] = step
                    peer = device.peer
                    payload = {
                        "roomId": device.room["roomId"],
                        "to": {"userId": peer.user_id, "deviceId": peer.device_id},
                        "candidate": {"candidate": ICE_TEMPLATE.format(k=key, h=key % 250 + 1, p=40000 + key % 20000),
                                      "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "b3nc", "benchKey": key},
                    }
                    pending = Pending("webrtc.ice", 0.0, step=step, key=key)
                    # pending.sent_at is set by send() before the write (the peer may have the
                    # frame before send() returns).
                    step.outstanding[key] = (pending, device, peer)
                    sent_at = await device.send("webrtc.ice", payload, pending)
                else:
                    sent_at = await device.send("PING", {}, Pending("PING", 0.0, step=step))
                step.sent += 1
                step.lags.append(sent_at - scheduled)
            if j >= total:
                break
            await asyncio.sleep(max(0.0, t0 + j * interval - time.perf_counter()))
        # The sending window is over: CPU over the window only, then drain.
        await asyncio.sleep(max(0.0, step.end - time.perf_counter()))
        cpu_after = self.meter.sample()
        await self.drain([step], a.drain_seconds)
        report = step.report(self.meter.cores(cpu_before, cpu_after), self.counters.values["seq_not_increasing"] - seq_before)
        self.steps.append(step)
        if kind == "ice":
            log(f"{name}: offered {report['offered_per_s']}/s, sent {report['sent']} (skipped {report['skipped_behind']}), "
                f"relayed {report['relayed_per_s']}/s, e2e p50 {report['end_to_end']['p50_ms']} ms p99 "
                f"{report['end_to_end']['p99_ms']} ms, ACK p50 {report['ack']['p50_ms']} ms, error ACKs {report['ack_errors'] or 0}, "
                f"not ACKed/delivered after the drain {report['unacked_after_drain']}/{report['not_delivered_after_drain']}, "
                f"cores {report['cores']}")
        else:
            log(f"{name}: offered {report['offered_per_s']}/s, sent {report['sent']} (skipped {report['skipped_behind']}), "
                f"ACKed {report['acked_per_s']}/s, p50 {report['ack']['p50_ms']} ms p99 {report['ack']['p99_ms']} ms, "
                f"error ACKs {report['ack_errors'] or 0}, not ACKed after the drain {report['unacked_after_drain']}, cores {report['cores']}")
        await asyncio.sleep(0.5)
        return report

    @staticmethod
    async def drain(steps: list[Step], seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if all(step.unacked() <= 0 and not step.outstanding for step in steps):
                return
            await asyncio.sleep(0.05)

    async def finish_steps(self) -> None:
        """Before the sockets close: a last wait for anything still outstanding, then the
        final counts of every step (late arrivals, frames never ACKed or delivered)."""
        await self.drain(self.steps, self.args.drain_seconds)
        for step in self.steps:
            step.finish()

    # ------------------------------------------------------------------ phases

    def make_pairs(self, users: list[dict], prefix: str, port_a: int, port_b: int) -> list[tuple[Device, Device]]:
        a = self.args
        pairs = []
        for i in range(a.pairs):
            creator = Device(self, f"{prefix}c{i}", users[2 * i], port_a, "A")
            peer = Device(self, f"{prefix}p{i}", users[2 * i + 1], port_b, "B" if port_b != port_a else "A")
            pairs.append((creator, peer))
        return pairs

    async def join_phase(self, users: list[dict], port: int) -> dict:
        a = self.args
        if getattr(a, "join_processes", 1) > 1:
            return await self.join_phase_processes(users, port)
        creators = [Device(self, f"jc{i}", users[i], port, "A") for i in range(a.rooms)]
        joiners = [Device(self, f"jj{i}", users[a.rooms + i], port, "A") for i in range(a.rooms)]
        connect = await self.connect_all(creators + joiners, "join phase")
        # Reference: the same join with nothing else going on, one room at a time (the
        # first SEQUENTIAL_JOINS pairs; they leave again before the concurrent burst).
        sequential = []
        for creator, joiner in list(zip(creators, joiners))[:SEQUENTIAL_JOINS]:
            room, _ = await self.create_room(creator, [joiner.user_id])
            await self.join_room(creator, room)
            sequential.append((await self.join_room(joiner, room))["join_ok"])
            for device in (joiner, creator):
                device.require_ok((await device.request("ROOM_LEAVE", {"roomId": room["roomId"]}))[0], "ROOM_LEAVE")
                device.room = None
        await asyncio.sleep(0.5)
        cpu_before = self.meter.sample()

        async def at_once(calls) -> list:
            start = asyncio.Event()

            async def one(call):
                await start.wait()
                return await call()

            tasks = [asyncio.create_task(one(call)) for call in calls]
            await asyncio.sleep(0.05)
            start.set()
            return await asyncio.gather(*tasks)

        created = await at_once([lambda c=c, j=j: self.create_room(c, [j.user_id]) for c, j in zip(creators, joiners)])
        rooms = [room for room, _ in created]
        await asyncio.sleep(0.2)
        first = await at_once([lambda c=c, r=r: self.join_room(c, r) for c, r in zip(creators, rooms)])
        await asyncio.sleep(0.2)
        second = await at_once([lambda j=j, r=r: self.join_room(j, r) for j, r in zip(joiners, rooms)])
        cpu_after = self.meter.sample()
        peer_joined = []
        missing = 0
        await asyncio.sleep(0.5)
        for creator, joiner, join in zip(creators, joiners, second):
            if not any(p.get("deviceId") == creator.device_id for p in join["peers"]):
                raise RuntimeError(f"{joiner.label}: ROOM_JOIN_OK does not list the creator")
            found = next((arrived for arrived, frame in creator.arrivals.get("PEER_JOINED", [])
                          if frame["payload"].get("deviceId") == joiner.device_id), None)
            if found is None:
                missing += 1
            else:
                peer_joined.append(found - join["sent_at"])
        sends = [j["sent_at"] for j in second]
        result = {
            "rooms": a.rooms,
            "sockets": connect,
            "sequential_join_to_join_ok": self.short(latency_summary(sequential)),
            "create_to_created": self.short(latency_summary([s for _, s in created])),
            "first_join_to_join_ok": self.short(latency_summary([j["join_ok"] for j in first])),
            "join_to_join_ok": self.short(latency_summary([j["join_ok"] for j in second])),
            "join_to_snapshot": self.short(latency_summary([j["snapshot"] for j in second])),
            "join_to_ack": self.short(latency_summary([j["ack"] for j in second])),
            "join_to_peer_joined_at_creator": self.short(latency_summary(peer_joined)),
            "peer_joined_missing": missing,
            "joins_issued_within_ms": ms(max(sends) - min(sends)),
            "all_joins_answered_in_ms": ms(max(j["sent_at"] + j["ack"] for j in second) - min(sends)),
            "cores": self.meter.cores(cpu_before, cpu_after),
        }
        log(f"join phase: {a.rooms} concurrent joins → ROOM_JOIN_OK p50 {result['join_to_join_ok']['p50_ms']} ms, "
            f"p99 {result['join_to_join_ok']['p99_ms']} ms (creators' own joins p50 "
            f"{result['first_join_to_join_ok']['p50_ms']} ms; one join alone p50 "
            f"{result['sequential_join_to_join_ok']['p50_ms']} ms); PEER_JOINED missing: {missing}")
        return result

    async def join_phase_processes(self, users: list[dict], port: int) -> dict:
        """The join phase with the burst spread over --join-processes worker processes
        (`join-worker`), so the load generator's own per-frame cost (one Python event loop
        reading every answer) does not queue the answers it times. This process runs the
        one-at-a-time reference on its own SEQUENTIAL_JOINS pairs; each worker connects its
        share of the creators and joiners, creates and joins its rooms, reports ready; then
        all send ROOM_JOIN at one CLOCK_MONOTONIC instant (time.perf_counter is that clock on
        Linux, shared by the processes) and report every join's times."""
        a = self.args
        k = a.join_processes
        reference_n = min(SEQUENTIAL_JOINS, a.rooms)
        creators = [Device(self, f"jc{i}", users[i], port, "A") for i in range(reference_n)]
        joiners = [Device(self, f"jj{i}", users[a.rooms + i], port, "A") for i in range(reference_n)]
        await self.connect_all(creators + joiners, "join phase (reference)")
        sequential = []
        for creator, joiner in zip(creators, joiners):
            room, _ = await self.create_room(creator, [joiner.user_id])
            await self.join_room(creator, room)
            sequential.append((await self.join_room(joiner, room))["join_ok"])
            for device in (joiner, creator):
                device.require_ok((await device.request("ROOM_LEAVE", {"roomId": device.room["roomId"]}))[0], "ROOM_LEAVE")
                device.room = None
        workers = []
        for w in range(k):
            indices = list(range(w, a.rooms, k))
            job = {"port": port, "run_id": f"{self.run_id}w{w}",
                   "pairs": [[users[i], users[a.rooms + i]] for i in indices]}
            process = await asyncio.create_subprocess_exec(
                sys.executable, str(Path(__file__).resolve()), "join-worker",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 24)
            process.stdin.write((json.dumps(job) + "\n").encode())
            await process.stdin.drain()
            workers.append(process)
        try:
            for process in workers:
                line = await asyncio.wait_for(process.stdout.readline(), 120)
                if line.strip() != b"ready":
                    raise RuntimeError(f"join worker: expected ready, got {line[:300]!r}")
            await asyncio.sleep(0.5)
            cpu_before = self.meter.sample()
            go = time.perf_counter() + 0.1
            for process in workers:
                process.stdin.write(f"go {go}\n".encode())
                await process.stdin.drain()
            results = []
            for process in workers:
                line = await asyncio.wait_for(process.stdout.readline(), 120)
                results.append(json.loads(line))
            cpu_after = self.meter.sample()
        finally:
            for process in workers:
                if process.returncode is None:
                    try:
                        process.stdin.write(b"close\n")
                        await process.stdin.drain()
                    except (ConnectionError, RuntimeError):
                        pass
            for process in workers:
                try:
                    await asyncio.wait_for(process.wait(), 30)
                except asyncio.TimeoutError:
                    process.kill()
        for result in results:
            for sample in result["anomalies"]:
                self.counters.add("anomalies", sample)
        joins = [j for r in results for j in r["joins"]]
        sends = [j["sent_at"] for j in joins]
        cores = self.meter.cores(cpu_before, cpu_after)
        seconds = cpu_after["t"] - cpu_before["t"]
        worker_cores = sum(r["cpu_s"] for r in results) / seconds if seconds > 0 else 0.0
        cores["client"] = round(cores.get("client", 0.0) + worker_cores, 2)
        cores["other"] = round(max(0.0, cores.get("other", 0.0) - worker_cores), 2)
        missing = sum(r["peer_joined_missing"] for r in results)
        result = {
            "rooms": a.rooms,
            "load_processes": k,
            "sockets": {"sockets": 2 * a.rooms, "concurrency": CONNECT_CONCURRENCY,
                        "seconds": max(r["connect_s"] for r in results)},
            "sequential_join_to_join_ok": self.short(latency_summary(sequential)),
            "create_to_created": self.short(latency_summary([x for r in results for x in r["created"]])),
            "first_join_to_join_ok": self.short(latency_summary([x for r in results for x in r["first"]])),
            "join_to_join_ok": self.short(latency_summary([j["join_ok"] for j in joins])),
            "join_to_snapshot": self.short(latency_summary([j["snapshot"] for j in joins])),
            "join_to_ack": self.short(latency_summary([j["ack"] for j in joins])),
            "join_to_peer_joined_at_creator": self.short(latency_summary([x for r in results for x in r["peer_joined"]])),
            "peer_joined_missing": missing,
            "joins_issued_within_ms": ms(max(sends) - min(sends)),
            "all_joins_answered_in_ms": ms(max(j["sent_at"] + j["ack"] for j in joins) - min(sends)),
            "cores": cores,
        }
        log(f"join phase ({k} load processes): {a.rooms} concurrent joins → ROOM_JOIN_OK p50 "
            f"{result['join_to_join_ok']['p50_ms']} ms, p99 {result['join_to_join_ok']['p99_ms']} ms (one join alone p50 "
            f"{result['sequential_join_to_join_ok']['p50_ms']} ms); PEER_JOINED missing: {missing}")
        return result

    async def join_worker(self, job: dict) -> None:
        """One process of join_phase_processes: stdin gives the job, then `go <instant>`, then
        `close`; stdout answers `ready`, then one JSON line of this worker's joins."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        port = job["port"]
        self.run_id = job["run_id"]
        pairs = [(Device(self, f"jc{i}", c, port, "A"), Device(self, f"jj{i}", j, port, "A"))
                 for i, (c, j) in enumerate(job["pairs"])]
        started = time.perf_counter()
        await self.connect_all([d for pair in pairs for d in pair], "join worker")
        connect_s = round(time.perf_counter() - started, 2)
        self.keepalive_task = asyncio.create_task(self.keepalive())
        created = await asyncio.gather(*(self.create_room(c, [j.user_id]) for c, j in pairs))
        rooms = [room for room, _ in created]
        first = await asyncio.gather(*(self.join_room(c, r) for (c, _), r in zip(pairs, rooms)))
        await asyncio.sleep(0.2)
        print("ready", flush=True)
        line = (await reader.readline()).decode().split()
        if len(line) != 2 or line[0] != "go":
            raise RuntimeError(f"join worker: expected go, got {line!r}")
        await asyncio.sleep(max(0.0, float(line[1]) - time.perf_counter()))
        cpu_start = sum(os.times()[:2])
        joins = await asyncio.gather(*(self.join_room(j, r) for (_, j), r in zip(pairs, rooms)))
        cpu_s = sum(os.times()[:2]) - cpu_start
        await asyncio.sleep(0.5)
        peer_joined, missing = [], 0
        for (creator, joiner), join in zip(pairs, joins):
            if not any(p.get("deviceId") == creator.device_id for p in join["peers"]):
                raise RuntimeError(f"{joiner.label}: ROOM_JOIN_OK does not list the creator")
            found = next((arrived for arrived, frame in creator.arrivals.get("PEER_JOINED", [])
                          if frame["payload"].get("deviceId") == joiner.device_id), None)
            if found is None:
                missing += 1
            else:
                peer_joined.append(found - join["sent_at"])
        print(json.dumps({
            "connect_s": connect_s, "cpu_s": cpu_s, "created": [x for _, x in created], "first": [f["join_ok"] for f in first],
            "joins": [{k: j[k] for k in ("sent_at", "join_ok", "snapshot", "ack")} for j in joins],
            "peer_joined": peer_joined, "peer_joined_missing": missing,
            "anomalies": [f"{name}: {n}" for name, n in self.counters.values.items() if n] + self.counters.samples,
        }), flush=True)
        await reader.readline()
        await self.leave_rooms([d for pair in pairs for d in pair])
        await self.close_all()

    async def leave_rooms(self, devices: list[Device]) -> None:
        """Hangs up (ROOM_LEAVE) so the next server run starts without this run's peers."""
        async def one(device: Device) -> None:
            if device.room is not None and not device.closed:
                try:
                    await device.request("ROOM_LEAVE", {"roomId": device.room["roomId"]})
                except Exception:  # noqa: BLE001
                    pass
        semaphore = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def limited(device: Device) -> None:
            async with semaphore:
                await one(device)
        await asyncio.gather(*(limited(d) for d in devices))

    async def close_all(self) -> None:
        if self.keepalive_task is not None:
            self.keepalive_task.cancel()
        await asyncio.gather(*(d.close() for d in self.devices), return_exceptions=True)

    def server_facts(self) -> dict:
        facts = {}
        for name, pid in self.servers.items():
            facts[name] = {"rss_mb": rounded((process_rss_bytes(pid) or 0) / 1048576, 1), "open_files": process_fd_count(pid)}
        return facts

    def binary_sha256(self) -> str:
        digest = hashlib.sha256()
        with open(self.args.binary, "rb") as binary:
            for chunk in iter(lambda: binary.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()[:16]

    def common(self) -> dict:
        a = self.args
        return {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": self.machine,
            "binary": binary_kind(a.binary_label),
            "binary_path": a.binary_label,
            "binary_built": a.binary_built,
            "binary_sha256": self.binary_sha256(),
            "postgres": a.pg_version,
        }

    async def single(self) -> dict:
        a = self.args
        self.machine = machine_facts(a.cpu_model)
        self.setup: dict = {}
        wait_ready(a.port, a.server_pid)
        users = await asyncio.to_thread(self.users, a.port)
        pairs = self.make_pairs(users, "s", a.port, a.port)
        self.setup["pairs"] = await self.connect_all([d for pair in pairs for d in pair], "pairs")
        self.keepalive_task = asyncio.create_task(self.keepalive())
        self.setup["rooms"] = await self.pair_rooms(pairs, "pairs")
        senders = [d for pair in pairs for d in pair]
        ping_steps, ice_steps = [], []
        warm_up = await self.run_step("warm-up", "ice", senders, min(self.rates), 2)
        for rate in self.rates:
            ping_steps.append(await self.run_step(f"PING floor @{rate}/s", "ping", senders, rate, a.step_seconds))
            ice_steps.append(await self.run_step(f"webrtc.ice @{rate}/s", "ice", senders, rate, a.step_seconds))
        join = await self.join_phase(users, a.port)
        await self.finish_steps()
        servers = self.server_facts()
        await self.leave_rooms(self.devices)
        await self.close_all()
        ratios = []
        for ping, ice in zip(ping_steps, ice_steps):
            # Latency ratios only where neither step was saturated (else they compare queues).
            latency = not (ice["saturated"] or ping["saturated"])
            ratios.append({
                "rate_per_connection": ice["rate_per_connection"],
                "relayed_per_s_to_ping_per_s": ratio(ice["relayed_per_s"], ping["acked_per_s"]),
                "server_cpu_per_frame_ice_to_ping": ratio(ice.get("server_cpu_ms_per_frame"), ping.get("server_cpu_ms_per_frame"), 2),
                "ice_ack_p50_to_ping_p50": ratio(ice["ack"]["p50_ms"], ping["ack"]["p50_ms"], 2) if latency else None,
                "ice_end_to_end_p50_to_ping_p50": ratio(ice["end_to_end"]["p50_ms"], ping["ack"]["p50_ms"], 2) if latency else None,
                "ice_end_to_end_p99_to_ping_p99": ratio(ice["end_to_end"]["p99_ms"], ping["ack"]["p99_ms"], 2) if latency else None,
            })
        return {
            **self.common(),
            "bus": "inprocess",
            "setup": self.setup,
            "warm_up": warm_up,
            "ping_floor": ping_steps,
            "ice": ice_steps,
            "ratios_to_ping_floor": ratios,
            "join": join,
            "protocol_errors": dict(self.counters.values, close_codes=self.counters.close_codes,
                                    samples=self.counters.samples),
            "server_after": servers,
            "server_log": server_log_summary(a.server_log, samples=5),
        }

    # ------------------------------------------------------------------ cross instance

    async def bus_tap(self, seconds: float, senders: list[Device], rate: float) -> dict:
        """LISTENs on the server's bus channel during a short warm-up step: how large one
        relayed webrtc.ice NOTIFY is."""
        a = self.args
        sizes: list[int] = []
        tap = PgConnection(a.pg_port, "postgres", a.pg_database)
        tap.on_notify = lambda channel, payload, arrived: sizes.append(len(payload.encode())) if "webrtc.ice" in payload else None
        await tap.connect()
        await tap.query(f"LISTEN {BUS_CHANNEL}")
        listener = asyncio.create_task(tap.listen_forever())
        warm = await self.run_step("warm-up (bus tap)", "ice", senders, rate, seconds)
        await asyncio.sleep(0.3)
        listener.cancel()
        await tap.close()
        sizes.sort()
        return {"relay_notifications_seen": len(sizes), "relay_bytes_p50": sizes[len(sizes) // 2] if sizes else None,
                "relay_bytes_max": sizes[-1] if sizes else None, "warm_up": warm}

    async def notify_step(self, name: str, payload_bytes: int, rate: float | None, seconds: float, clients: int) -> dict:
        """NOTIFY → LISTEN on a private channel: `clients` connections sending NOTIFY (paced
        at `rate` per second in total, or as fast as they can when None), two listeners."""
        a = self.args
        sent: dict[int, float] = {}
        latencies: list[float] = []
        receipts: list[float] = []
        listeners = []
        for _ in range(2):
            listener = PgConnection(a.pg_port, "postgres", a.pg_database)

            def on_notify(channel: str, payload: str, arrived: float) -> None:
                key = int(payload.split(":", 1)[0])
                if key in sent:
                    latencies.append(arrived - sent[key])
                    receipts.append(arrived)
            listener.on_notify = on_notify
            await listener.connect()
            await listener.query(f"LISTEN {NOTIFY_CHANNEL}")
            listeners.append((listener, asyncio.create_task(listener.listen_forever())))
        senders = [PgConnection(a.pg_port, "postgres", a.pg_database) for _ in range(clients)]
        await asyncio.gather(*(s.connect() for s in senders))
        counter = {"next": 0, "skipped": 0, "done": 0}
        total = int(seconds * rate) if rate else None
        cpu_before = self.meter.sample()
        t0 = time.perf_counter() + 0.05
        end = t0 + seconds

        async def worker(connection: PgConnection) -> None:
            while True:
                key = counter["next"]
                if total is not None:
                    if key >= total:
                        return
                    counter["next"] += 1
                    scheduled = t0 + key / rate
                    delay = scheduled - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    elif delay < -0.5:
                        counter["skipped"] += 1  # more than 0.5 s behind schedule: drop it
                        continue
                else:
                    if time.perf_counter() >= end:
                        return
                    counter["next"] += 1
                text = f"{key}:".ljust(payload_bytes, "x")
                sent[key] = time.perf_counter()
                await connection.query(f"SELECT pg_notify('{NOTIFY_CHANNEL}', {sql_literal(text)})")
                counter["done"] += 1

        if total is None:
            await asyncio.sleep(max(0.0, t0 - time.perf_counter()))
        await asyncio.gather(*(worker(s) for s in senders))
        await asyncio.sleep(max(0.0, end - time.perf_counter()))
        cpu_after = self.meter.sample()
        await asyncio.sleep(0.5)
        for listener, task in listeners:
            task.cancel()
            await listener.close()
        for s in senders:
            await s.close()
        in_window = sum(1 for r in receipts if r <= end)
        result = {
            "mode": "paced" if rate else "closed_loop",
            "notify_connections": clients,
            "listeners": 2,
            "payload_bytes": payload_bytes,
            "offered_per_s": rate,
            "seconds": seconds,
            "notified": counter["done"],
            "skipped_behind": counter["skipped"],
            "notify_per_s": round(counter["done"] / seconds, 1),
            "received": len(latencies),
            "received_per_listener_per_s": round(in_window / 2 / seconds, 1),
            "notify_to_listen": self.short(latency_summary(latencies)),
            "cores": self.meter.cores(cpu_before, cpu_after),
        }
        log(f"{name}: {result['notify_per_s']} NOTIFY/s, {result['received']}/{2 * counter['done']} received, "
            f"p50 {result['notify_to_listen']['p50_ms']} ms, p99 {result['notify_to_listen']['p99_ms']} ms")
        return result

    async def cross(self) -> dict:
        a = self.args
        self.machine = machine_facts(a.cpu_model)
        self.setup = {}
        wait_ready(a.port, a.server_pid)
        wait_ready(a.port_b, a.server_pid_b)
        users = await asyncio.to_thread(self.users, a.port)
        pairs = self.make_pairs(users, "x", a.port, a.port_b)
        self.setup["pairs"] = await self.connect_all([d for pair in pairs for d in pair], "pairs (A + B)")
        self.keepalive_task = asyncio.create_task(self.keepalive())
        self.setup["rooms_created_on_a_joined_from_b"] = await self.pair_rooms(pairs, "rooms on A joined from B")
        senders = [d for pair in pairs for d in pair]
        tap = await self.bus_tap(2, senders, min(self.rates))
        payload_bytes = tap["relay_bytes_p50"] or 700
        log(f"bus tap: a relayed webrtc.ice NOTIFY is {payload_bytes} bytes")
        notify = []
        baseline_seconds = min(a.step_seconds, 5)
        for rate in self.rates:
            total = rate * len(senders)
            notify.append(await self.notify_step(f"NOTIFY paced @{total:g}/s", payload_bytes, total, baseline_seconds,
                                                 a.notify_clients))
        notify.append(await self.notify_step("NOTIFY closed loop", payload_bytes, None, baseline_seconds, a.notify_clients))
        ice_steps = []
        for rate in self.rates:
            ice_steps.append(await self.run_step(f"cross webrtc.ice @{rate}/s", "ice", senders, rate, a.step_seconds))
        await self.finish_steps()
        servers = self.server_facts()
        await self.close_all()
        closed_loop = notify[-1]
        ratios = []
        for ice, paced in zip(ice_steps, notify):
            latency = not ice["saturated"]
            ratios.append({
                "rate_per_connection": ice["rate_per_connection"],
                "relayed_per_s_to_closed_loop_notify_per_s": ratio(ice["relayed_per_s"], closed_loop["notify_per_s"]),
                "end_to_end_p50_to_notify_listen_p50":
                    ratio(ice["end_to_end"]["p50_ms"], paced["notify_to_listen"]["p50_ms"], 2) if latency else None,
                "end_to_end_p99_to_notify_listen_p99":
                    ratio(ice["end_to_end"]["p99_ms"], paced["notify_to_listen"]["p99_ms"], 2) if latency else None,
            })
        return {
            **self.common(),
            "bus": "postgres",
            "placement": "each pair: creator on A, peer on B; both send, so every frame crosses instances",
            "setup": self.setup,
            "bus_tap": tap,
            "notify_baseline": notify,
            "ice": ice_steps,
            "ratios_to_notify": ratios,
            "protocol_errors": dict(self.counters.values, close_codes=self.counters.close_codes,
                                    samples=self.counters.samples),
            "servers_after": servers,
            "server_logs": {"A": server_log_summary(a.server_log, samples=5),
                            "B": server_log_summary(a.server_log_b, samples=5)},
        }


# =========================================================================== merge


# Issue 12's targets for one instance.
TARGET_RELAYED_PER_S = 2000
TARGET_RELAY_P99_MS = 20.0      # at 1 000 frames/s offered
TARGET_JOIN_P99_MS = 100.0      # 200 concurrent ROOM_JOIN → ROOM_JOIN_OK


def figures(single: dict | None, cross: dict | None) -> dict:
    """The headline figures, each beside the raw baseline of the same run and their ratio:
    relay capacity and p99 against the PING → ACK floor of the same sockets, concurrent join
    p99 against one join alone, cross-instance relaying against raw NOTIFY → LISTEN."""
    out: dict = {}
    if single:
        pings = {step["rate_per_connection"]: step for step in single["ping_floor"]}
        steps = single["ice"]
        best = max(steps, key=lambda step: step["relayed_per_s"])
        floor = pings.get(best["rate_per_connection"]) or {}
        out["relay_capacity"] = {
            "relayed_per_s": best["relayed_per_s"], "offered_per_s": best["offered_per_s"], "saturated": best["saturated"],
            "ping_floor_acked_per_s": floor.get("acked_per_s"),
            "ratio_to_ping_floor": ratio(best["relayed_per_s"], floor.get("acked_per_s")),
            "server_cpu_ms_per_frame": best.get("server_cpu_ms_per_frame"),
            "ping_floor_server_cpu_ms_per_frame": floor.get("server_cpu_ms_per_frame"),
            # Met when the server kept up with an offered load at the target: the frames still
            # in flight at the end of the window make relayed/s a hair under what was offered.
            "target_per_s": TARGET_RELAYED_PER_S,
            "met": best["relayed_per_s"] >= TARGET_RELAYED_PER_S or (
                best["offered_per_s"] >= TARGET_RELAYED_PER_S and not best["saturated"]
                and best["relayed_per_s"] >= 0.99 * best["offered_per_s"]),
        }
        # The p99 at the step offering 1 000/s (else the closest below it).
        below = [step for step in steps if step["offered_per_s"] <= 1000] or steps
        at = min(below, key=lambda step: abs(step["offered_per_s"] - 1000))
        floor = pings.get(at["rate_per_connection"]) or {}
        p99 = at["end_to_end"]["p99_ms"]
        out["relay_p99"] = {
            "offered_per_s": at["offered_per_s"], "relayed_per_s": at["relayed_per_s"], "saturated": at["saturated"],
            "end_to_end_p50_ms": at["end_to_end"]["p50_ms"], "end_to_end_p99_ms": p99,
            "ping_floor_p50_ms": (floor.get("ack") or {}).get("p50_ms"), "ping_floor_p99_ms": (floor.get("ack") or {}).get("p99_ms"),
            "ratio_p99_to_ping_floor_p99": ratio(p99, (floor.get("ack") or {}).get("p99_ms"), 2),
            "target_p99_ms": TARGET_RELAY_P99_MS, "target_at_offered_per_s": 1000,
            "met": at["offered_per_s"] >= 1000 and not at["saturated"] and p99 is not None and p99 <= TARGET_RELAY_P99_MS,
        }
        join = single.get("join")
        if join:
            concurrent = join["join_to_join_ok"]
            alone = join["sequential_join_to_join_ok"]
            out["join_p99"] = {
                "concurrent_joins": join["rooms"], "load_processes": join.get("load_processes", 1), "join_to_join_ok_p50_ms": concurrent["p50_ms"],
                "join_to_join_ok_p99_ms": concurrent["p99_ms"], "one_join_alone_p50_ms": alone["p50_ms"],
                "one_join_alone_p99_ms": alone["p99_ms"],
                "ratio_p99_to_one_join_alone_p50": ratio(concurrent["p99_ms"], alone["p50_ms"], 2),
                "target_p99_ms": TARGET_JOIN_P99_MS, "target_at_concurrent_joins": 200,
                "met": join["rooms"] >= 200 and concurrent["p99_ms"] is not None and concurrent["p99_ms"] <= TARGET_JOIN_P99_MS,
            }
    if cross:
        best = max(cross["ice"], key=lambda step: step["relayed_per_s"])
        closed = (cross.get("notify_baseline") or [{}])[-1]
        out["cross_instance"] = {
            "relayed_per_s": best["relayed_per_s"], "offered_per_s": best["offered_per_s"], "saturated": best["saturated"],
            "end_to_end_p99_ms": best["end_to_end"]["p99_ms"],
            "raw_notify_closed_loop_per_s": closed.get("notify_per_s"),
            "ratio_to_raw_notify": ratio(best["relayed_per_s"], closed.get("notify_per_s")),
        }
    return out


def merge(single_path: str | None, cross_path: str | None) -> dict:
    single = json.loads(Path(single_path).read_text()) if single_path else None
    cross = json.loads(Path(cross_path).read_text()) if cross_path else None
    by_rate = {step["rate_per_connection"]: step for step in single["ice"]} if single else {}
    versus = []
    for step in cross["ice"] if cross else []:
        one = by_rate.get(step["rate_per_connection"])
        if one is None:
            continue
        latency = not (step["saturated"] or one["saturated"])
        versus.append({
            "rate_per_connection": step["rate_per_connection"],
            "relayed_per_s_cross_to_single": ratio(step["relayed_per_s"], one["relayed_per_s"]),
            "server_cpu_per_frame_cross_to_single": ratio(step.get("server_cpu_ms_per_frame"), one.get("server_cpu_ms_per_frame"), 2),
            "end_to_end_p50_cross_to_single": ratio(step["end_to_end"]["p50_ms"], one["end_to_end"]["p50_ms"], 2) if latency else None,
            "end_to_end_p99_cross_to_single": ratio(step["end_to_end"]["p99_ms"], one["end_to_end"]["p99_ms"], 2) if latency else None,
        })

    def errors(result: dict) -> int:
        steps = result["ice"] + result.get("ping_floor", [])
        steps.append(result.get("warm_up") or result["bus_tap"]["warm_up"])
        counted = sum(step["errors"] for step in steps)
        protocol = result["protocol_errors"]
        counted += sum(v for k, v in protocol.items() if isinstance(v, int))
        if "join" in result:
            counted += result["join"]["peer_joined_missing"]
        return counted

    return {
        "benchmark": "calls signalling (scripts/bench/calls.sh)",
        "figures": figures(single, cross),
        "single_instance": single,
        "cross_instance": cross,
        "cross_to_single": versus,
        "errors_total": sum(errors(result) for result in (single, cross) if result),
    }


# =========================================================================== main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("single", "cross"):
        p = sub.add_parser(name)
        p.add_argument("--port", type=int, required=True, help="server (instance A) HTTP port on 127.0.0.1")
        p.add_argument("--server-pid", type=int, required=True)
        p.add_argument("--server-log", required=True)
        p.add_argument("--binary", required=True, help="server binary (for `keys --json`)")
        p.add_argument("--binary-label", required=True, help="the binary's path as configured (debug/release)")
        p.add_argument("--binary-built", default="", help="modification time of the binary when it was copied")
        p.add_argument("--data-dir", required=True)
        p.add_argument("--work-dir", required=True)
        p.add_argument("--pg-port", type=int, required=True)
        p.add_argument("--pg-database", required=True)
        p.add_argument("--pg-version", default="")
        p.add_argument("--postmaster-pid", type=int, required=True)
        p.add_argument("--cpu-model", default="")
        p.add_argument("--phone-base", type=int, required=True)
        p.add_argument("--code", required=True)
        p.add_argument("--users", type=int, required=True)
        p.add_argument("--pairs", type=int, required=True)
        p.add_argument("--rates", required=True, help="frames per second per connection, space separated")
        p.add_argument("--step-seconds", type=float, required=True)
        p.add_argument("--window", type=int, required=True)
        p.add_argument("--drain-seconds", type=float, required=True)
        if name == "single":
            p.add_argument("--rooms", type=int, required=True)
            p.add_argument("--join-processes", type=int, default=1,
                           help="load processes sending the join burst (1: this process)")
        else:
            p.add_argument("--port-b", type=int, required=True)
            p.add_argument("--server-pid-b", type=int, required=True)
            p.add_argument("--server-log-b", required=True)
            p.add_argument("--notify-clients", type=int, default=8)
    sub.add_parser("join-worker", help="one process of the join burst (driven by `single --join-processes`)")
    m = sub.add_parser("merge")
    m.add_argument("--single")
    m.add_argument("--cross")
    args = parser.parse_args()

    if args.command == "merge":
        print(json.dumps(merge(args.single, args.cross), indent=2))
        return 0
    if args.command == "join-worker":
        job = json.loads(sys.stdin.readline())
        worker = Bench(argparse.Namespace(rates="1", server_pid=0, postmaster_pid=0))
        asyncio.run(worker.join_worker(job))
        return 0
    if args.users < 2 * args.pairs or (args.command == "single" and args.users < 2 * args.rooms):
        parser.error("--users must cover two users per pair and per room")

    def terminate(signum, frame):  # noqa: ARG001
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    bench = Bench(args)
    try:
        report = asyncio.run(bench.single() if args.command == "single" else bench.cross())
    except (RuntimeError, OSError, ValueError, KeyError, PgError) as error:
        log(f"FAILED: {type(error).__name__}: {error}")
        return 1
    for name, pid in bench.servers.items():
        if not process_alive(pid):
            log(f"FAILED: server {name} (pid {pid}) exited during the run")
            return 1
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
