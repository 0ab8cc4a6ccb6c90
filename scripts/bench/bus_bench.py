#!/usr/bin/env python3
"""Load generator and report for scripts/bench/bus.sh (the cross-instance message bus).

Driven by bus.sh, which owns the PostgreSQL cluster, redis-server and the two server
instances of each phase. Commands:

  phase   one bus (--bus redis or postgres), two instances A and B on one database.
          --topics sender sockets connect to A and --topics × --receivers receiver sockets
          to B (plain WebSockets, Phoenix vsn 1.0.0), all joined to `realtime:bench-<n>` with
          the anon key (bus.sh opens the prefix with REALTIME_OPEN_TOPICS=bench-;
          broadcast.self false, ack false). A warm-up step, then the measured step: open loop
          at --rate broadcasts/s in total, broadcast j due at t0 + j / rate on topic
          j mod topics (each sender socket at rate / topics, under the 100 frames/s a socket
          may send). Each broadcast carries {"sent": time.time(), "i": <n-th on its topic>};
          every receiver must get every (topic, i) of its topic exactly once.
          With --bus redis, also: a tap SUBSCRIBEd to the server's channel `ecomansoni:bus`
          during the warm-up (the size of a real broadcast envelope), then the raw baseline:
          Redis alone, one publisher connection (pipelined PUBLISH, paced at --rate with
          payloads of the envelope's mean size) and two SUBSCRIBEd connections (like the two
          instances), then closed loop with --raw-clients publisher connections (each
          PUBLISH waits for its reply) for the ceiling of this client against Redis.
  merge   ONE JSON object from the phases' results, with the "figures" list read by
          scripts/bench/all and the postgres/redis ratios.

After a step it waits for the outstanding deliveries while they keep coming: an event
still missing once none has arrived for --drain-seconds counts as lost. Throughput at B
(`broadcasts_crossed_per_s`: distinct (topic, i) reaching B; `events_per_s`: every copy to
every receiver) is counted over a window as long as the sending that starts at the first
arrival, so a bus that keeps up shows the offered rate whatever its latency; a step whose
crossed rate is under 95 % of the offered one is `saturated` (its latencies are then
mostly queueing). `out_of_order` counts arrivals at a receiver with a lower i than one it
already had (reported, not an error: docs/realtime.md promises order within a topic only
after the bus). The raw baseline's received/s is counted the same way.

Latency is send → receive on the machine's wall clock (time.time() in this one process,
the sender's timestamp travels in the payload); the raw baseline's is PUBLISH written →
message read (time.perf_counter()). `cores` are CPU seconds per second over the sending
window from /proc: each instance, redis-server, every PostgreSQL process of the cluster,
this load generator, and `other` (the rest of the machine, with `other_top` naming the
biggest). The RESP client is written here (standard library only: no redis package).
Prints ONE JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (  # noqa: E402
    ProcessGroupMeter, binary_kind, latency_summary, machine_facts, make_logger, process_alive, process_fd_count,
    process_rss_bytes, read_anon_key, server_log_summary, wait_ready,
)

from websockets.asyncio.client import connect  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

log = make_logger("bus-bench")

BUS_CHANNEL = "ecomansoni:bus"
RAW_CHANNEL = "bus_bench:raw"
HEARTBEAT_SECONDS = 25.0        # the server closes a socket silent for 60 s
CONNECT_CONCURRENCY = 32
JOIN_TIMEOUT = 30.0
DRAIN_GRACE = 0.3               # after the last expected event, wait this long for duplicates
DRAIN_CAP_SECONDS = 120.0       # the longest wait for outstanding deliveries after a step
SAMPLES = 10


def rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def ratio(a: float | None, b: float | None, digits: int = 3) -> float | None:
    return round(a / b, digits) if a is not None and b else None


def short(summary: dict) -> dict:
    return {k: summary[k] for k in ("count", "p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms")}


# =========================================================================== RESP


class RespError(Exception):
    pass


class Resp:
    """One Redis connection: RESP2 commands out, replies (and pub/sub pushes) in."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    @staticmethod
    def encode(*parts) -> bytes:
        out = [b"*%d\r\n" % len(parts)]
        for part in parts:
            data = part if isinstance(part, bytes) else str(part).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(data), data))
        return b"".join(out)

    def write(self, *parts) -> None:
        self.writer.write(self.encode(*parts))

    async def read(self):
        line = await self.reader.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError("Redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RespError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else (await self.reader.readexactly(n + 2))[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [await self.read() for _ in range(n)]
        raise RespError(f"unexpected reply {line[:80]!r}")

    async def command(self, *parts):
        self.write(*parts)
        await self.writer.drain()
        return await self.read()

    async def subscribe(self, channel: str) -> None:
        reply = await self.command("SUBSCRIBE", channel)
        if not (isinstance(reply, list) and reply[0] == b"subscribe"):
            raise RespError(f"SUBSCRIBE {channel}: unexpected reply {reply!r}")

    async def messages(self, handle) -> None:
        """Calls handle(payload bytes, perf_counter at arrival) for each pub/sub message."""
        while True:
            push = await self.read()
            arrived = time.perf_counter()
            if isinstance(push, list) and len(push) == 3 and push[0] == b"message":
                handle(push[2], arrived)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except (OSError, ConnectionError):
                pass
            self.writer = None


# =========================================================================== realtime sockets


class Anomalies:
    """Protocol surprises over the whole phase (each counts as an error in the report)."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {}
        self.samples: list[str] = []

    def add(self, name: str, sample: str | None = None) -> None:
        self.values[name] = self.values.get(name, 0) + 1
        if sample and len(self.samples) < SAMPLES and sample not in self.samples:
            self.samples.append(sample)


class Socket:
    """One realtime WebSocket joined to one topic, as a sender (on A) or a receiver (on B)."""

    def __init__(self, role: str, topic_index: int, url: str, topic: str, anon_key: str, anomalies: Anomalies) -> None:
        self.role = role
        self.topic_index = topic_index
        self.url = url
        self.topic = topic
        self.anon_key = anon_key
        self.anomalies = anomalies
        self.ws = None
        self.ref = 1
        self.reader_task: asyncio.Task | None = None
        self.closed = False
        self.closed_by_server_at: float | None = None
        self.close_what = ""
        # receiver: i -> copies received; (i, arrival wall time, latency seconds) in order
        self.counts: dict[int, int] = {}
        self.records: list[tuple[int, float, float]] = []
        # sender: the next i of this topic
        self.next_i = 0

    def next_ref(self) -> str:
        self.ref += 1
        return str(self.ref)

    async def open(self) -> None:
        self.ws = await connect(self.url, compression=None, ping_interval=None, max_size=None, open_timeout=JOIN_TIMEOUT)
        join = {"topic": self.topic, "event": "phx_join", "ref": "1", "join_ref": "1",
                "payload": {"config": {"broadcast": {"self": False, "ack": False}, "presence": {"key": ""},
                                       "postgres_changes": []},
                            "access_token": self.anon_key}}
        await self.ws.send(json.dumps(join))
        deadline = time.monotonic() + JOIN_TIMEOUT
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), max(0.1, deadline - time.monotonic())))
            if frame.get("event") == "phx_reply" and frame.get("ref") == "1":
                payload = frame.get("payload") or {}
                if payload.get("status") != "ok":
                    raise RuntimeError(f"join {self.topic} on {self.url.split('/realtime')[0]} refused: {payload}")
                break
            self.anomalies.add("frames_before_join_reply", f"{self.role}: {str(frame)[:200]}")
        self.reader_task = asyncio.create_task(self.read_loop())

    async def read_loop(self) -> None:
        try:
            async for raw in self.ws:
                arrived = time.time()
                try:
                    frame = json.loads(raw)
                except (TypeError, ValueError):
                    self.anomalies.add("unreadable_frames", f"{self.role}: {str(raw)[:200]}")
                    continue
                event = frame.get("event")
                if event == "broadcast" and self.role == "receiver":
                    inner = (frame.get("payload") or {}).get("payload") or {}
                    i, sent = inner.get("i"), inner.get("sent")
                    if frame.get("topic") != self.topic or not isinstance(i, int) or not isinstance(sent, (int, float)):
                        self.anomalies.add("misrouted_or_malformed", f"receiver {self.topic}: {str(frame)[:200]}")
                        continue
                    self.counts[i] = self.counts.get(i, 0) + 1
                    self.records.append((i, arrived, arrived - sent))
                elif event == "phx_reply" and frame.get("topic") == "phoenix":
                    pass  # heartbeat
                elif event == "phx_reply" and (frame.get("payload") or {}).get("status") == "error":
                    self.anomalies.add(f"{self.role}_error_replies", f"{self.role} {self.topic}: {str(frame)[:300]}")
                elif event == "broadcast":
                    self.anomalies.add("echo_to_sender", f"sender {self.topic}: {str(frame)[:200]}")
                else:
                    self.anomalies.add(f"{self.role}_unexpected_frames", f"{self.role} {self.topic}: {str(frame)[:200]}")
        except ConnectionClosed:
            pass  # reported below, from the close code
        finally:
            if not self.closed:
                # The server closed it (any close this process did not start, 1000 included).
                self.closed = True
                self.closed_by_server_at = time.time()
                code = self.ws.close_code if self.ws is not None else None
                reason = self.ws.close_reason if self.ws is not None else None
                self.close_what = f"code {code}" + (f" {reason!r}" if reason else "")
                self.anomalies.add("closed_by_server", f"{self.role} {self.topic}: {self.close_what}")

    async def send(self, frame: dict) -> None:
        await self.ws.send(json.dumps(frame))

    async def broadcast(self, i: int) -> None:
        await self.send({"topic": self.topic, "event": "broadcast", "ref": self.next_ref(), "join_ref": "1",
                         "payload": {"type": "broadcast", "event": "t", "payload": {"sent": time.time(), "i": i}}})

    async def heartbeat(self) -> None:
        await self.send({"topic": "phoenix", "event": "heartbeat", "payload": {}, "ref": None, "join_ref": None})

    async def close(self) -> None:
        self.closed = True
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(), 5)
            except (asyncio.TimeoutError, OSError, ConnectionClosed):
                pass
        if self.reader_task is not None:
            self.reader_task.cancel()


# =========================================================================== the benchmark


class Bench:
    def __init__(self, args) -> None:
        self.args = args
        self.anomalies = Anomalies()
        self.senders: list[Socket] = []
        self.receivers: list[Socket] = []
        named = {"server_a": args.pid_a, "server_b": args.pid_b}
        if args.redis_pid:
            named["redis"] = args.redis_pid
        self.meter = ProcessGroupMeter(named, args.postmaster_pid)
        self.heartbeat_task: asyncio.Task | None = None

    # ------------------------------------------------------------------ setup

    async def connect_all(self, anon_key: str) -> dict:
        a = self.args

        def url(port: int) -> str:
            return f"ws://127.0.0.1:{port}/realtime/v1/websocket?apikey={anon_key}&vsn=1.0.0"
        for n in range(a.topics):
            topic = f"realtime:bench-{n}"
            self.senders.append(Socket("sender", n, url(a.port_a), topic, anon_key, self.anomalies))
            for _ in range(a.receivers):
                self.receivers.append(Socket("receiver", n, url(a.port_b), topic, anon_key, self.anomalies))
        semaphore = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def one(socket: Socket) -> None:
            async with semaphore:
                await socket.open()
        started = time.perf_counter()
        # Receivers first: every one is joined before the first broadcast.
        await asyncio.gather(*(one(s) for s in self.receivers))
        await asyncio.gather(*(one(s) for s in self.senders))
        seconds = time.perf_counter() - started
        log(f"setup: {len(self.senders)} senders on A, {len(self.receivers)} receivers on B joined in {seconds:.1f} s")
        self.heartbeat_task = asyncio.create_task(self.heartbeats())
        return {"sender_sockets_on_a": len(self.senders), "receiver_sockets_on_b": len(self.receivers),
                "connect_and_join_s": round(seconds, 2)}

    async def heartbeats(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            await asyncio.gather(*(s.heartbeat() for s in self.senders + self.receivers if not s.closed),
                                 return_exceptions=True)

    # ------------------------------------------------------------------ one step

    async def run_step(self, name: str, rate: float, seconds: float) -> dict:
        """Open loop: broadcast j at t0 + j / rate on topic j mod topics; then waits for every
        expected delivery (or --drain-seconds) and checks exactly-once per receiver."""
        a = self.args
        topics = len(self.senders)
        total = int(round(rate * seconds))
        ranges = {s.topic_index: [s.next_i, s.next_i] for s in self.senders}
        lags: list[float] = []
        send_failures = {"n": 0}
        cpu_before = self.meter.sample()
        t0 = time.perf_counter() + 0.05
        step_start = time.time() + 0.05

        async def sender(socket: Socket) -> None:
            j = socket.topic_index
            while j < total:
                due = t0 + j / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                lags.append(max(0.0, time.perf_counter() - due))
                i = socket.next_i
                try:
                    await socket.broadcast(i)
                except ConnectionClosed as error:
                    send_failures["n"] += 1
                    self.anomalies.add("send_failed", f"sender {socket.topic}: {error}")
                    return
                socket.next_i += 1
                ranges[socket.topic_index][1] = socket.next_i
                j += topics

        await asyncio.gather(*(sender(s) for s in self.senders))
        await asyncio.sleep(max(0.0, t0 + seconds - time.perf_counter()))
        cpu_after = self.meter.sample()
        sent = sum(hi - lo for lo, hi in ranges.values())
        expected = sent * a.receivers

        def unique_delivered() -> int:
            count = 0
            for r in self.receivers:
                lo, hi = ranges[r.topic_index]
                count += sum(1 for i in range(lo, hi) if i in r.counts)
            return count

        # Waits while deliveries keep coming: an event still missing after --drain-seconds
        # without any arrival (or after DRAIN_CAP_SECONDS in all) counts as lost.
        drain_started = last_progress = time.perf_counter()
        arrived_so_far = sum(len(r.records) for r in self.receivers)
        while unique_delivered() < expected:
            now = time.perf_counter()
            if now - last_progress >= a.drain_seconds or now - drain_started >= DRAIN_CAP_SECONDS:
                break
            await asyncio.sleep(0.1)
            count = sum(len(r.records) for r in self.receivers)
            if count > arrived_so_far:
                arrived_so_far, last_progress = count, time.perf_counter()
        await asyncio.sleep(DRAIN_GRACE)
        drain_s = time.perf_counter() - drain_started

        lost, duplicates, latencies = 0, 0, []
        duplicate_samples: list[str] = []
        arrivals: list[float] = []
        out_of_order = 0
        first_arrival: dict[tuple[int, int], float] = {}
        missing: dict[tuple[int, int], int] = {}   # (topic, i) -> receivers that never got it
        for index, r in enumerate(self.receivers):
            lo, hi = ranges[r.topic_index]
            for i in range(lo, hi):
                copies = r.counts.get(i, 0)
                if copies == 0:
                    lost += 1
                    missing[(r.topic_index, i)] = missing.get((r.topic_index, i), 0) + 1
                elif copies > 1:
                    duplicates += copies - 1
                    if len(duplicate_samples) < SAMPLES:
                        duplicate_samples.append(f"bench-{r.topic_index} i={i} ×{copies} at receiver {index}")
            highest = -1
            for i, arrived, latency in r.records:
                if lo <= i < hi:
                    if i < highest:
                        out_of_order += 1
                    highest = max(highest, i)
                    latencies.append(latency)
                    arrivals.append(arrived)
                    key = (r.topic_index, i)
                    if key not in first_arrival or arrived < first_arrival[key]:
                        first_arrival[key] = arrived
        # Throughput at B over a window as long as the sending, from the first arrival: a bus
        # that keeps up delivers everything offered in it whatever its (constant) latency.
        window_start = min(arrivals) if arrivals else 0.0
        window_end = window_start + seconds
        in_window = sum(1 for arrived in arrivals if arrived <= window_end)
        crossed_in_window = sum(1 for arrived in first_arrival.values() if arrived <= window_end)
        # Where the losses are: per topic, which i went missing, whether every receiver of
        # the topic missed them (the broadcast never reached B's channels: not taken or not
        # published by A, or lost on the bus) or only some (lost in B's fan-out), and whether
        # the server had closed that topic's sender socket (frames it had not read yet die
        # with the socket).
        lost_by_topic = []
        for n in sorted({topic for topic, _ in missing}):
            keys = sorted(i for topic, i in missing if topic == n)
            sender = self.senders[n]
            everywhere = sum(1 for i in keys if missing[(n, i)] == a.receivers)
            entry = {"topic": f"bench-{n}", "sent_i": ranges[n], "broadcasts_missing": len(keys),
                     "missing_at_every_receiver": everywhere, "first_missing_i": keys[0], "last_missing_i": keys[-1],
                     "contiguous_to_the_end": keys == list(range(keys[0], ranges[n][1]))}
            if sender.closed_by_server_at is not None:
                entry["sender_closed_by_server"] = {"after_step_start_s": round(sender.closed_by_server_at - step_start, 2),
                                                    "close": sender.close_what}
            lost_by_topic.append(entry)
        lost_sender_closed = sum(missing[key] for key in missing if self.senders[key[0]].closed_by_server_at is not None)
        senders_closed = [{"topic": s.topic, "after_step_start_s": round(s.closed_by_server_at - step_start, 2),
                           "close": s.close_what, "next_i": s.next_i}
                          for s in self.senders if s.closed_by_server_at is not None and s.closed_by_server_at >= step_start]
        receivers_closed = sum(1 for r in self.receivers
                               if r.closed_by_server_at is not None and r.closed_by_server_at >= step_start)
        lags.sort()
        cores = self.meter.cores(cpu_before, cpu_after)
        servers_cpu = sum(v for k, v in cores.items() if k.startswith("server_")) * (cpu_after["t"] - cpu_before["t"])
        crossed_per_s = round(crossed_in_window / seconds, 1)
        result = {
            "offered_per_s": rate,
            "seconds": seconds,
            # Fewer broadcasts reached B within the window than were offered: the instances (or
            # this machine) did not keep up, and the latencies are mostly queueing.
            "saturated": crossed_per_s < 0.95 * min(rate, sent / seconds) if sent else None,
            "topics": topics,
            "receivers_per_topic": a.receivers,
            "per_sender_socket_per_s": round(rate / topics, 2),
            "sent": sent,
            "sent_per_s": round(sent / seconds, 1),
            "send_lag_ms": {"p50": rounded(lags[len(lags) // 2] * 1000 if lags else None, 2),
                            "p99": rounded(lags[int(len(lags) * 0.99)] * 1000 if lags else None, 2),
                            "max": rounded(lags[-1] * 1000 if lags else None, 2)},
            "expected_deliveries": expected,
            "delivered": len(latencies),
            "delivered_unique": expected - lost,
            "lost": lost,
            "duplicates": duplicates,
            "out_of_order": out_of_order,
            "broadcasts_crossed_per_s": crossed_per_s,
            "events_per_s": round(in_window / seconds, 1),
            "send_to_receive": short(latency_summary(latencies)),
            "delivered_after_window": len(latencies) - in_window,
            "drain_s": round(drain_s, 2),
            "cores": cores,
            "servers_cpu_ms_per_broadcast": round(servers_cpu * 1000 / sent, 3) if sent else None,
        }
        if send_failures["n"]:
            result["send_failures"] = send_failures["n"]
        if lost:
            result["lost_on_topics_whose_sender_the_server_closed"] = lost_sender_closed
            result["lost_by_topic"] = lost_by_topic[:SAMPLES]
        if senders_closed:
            result["senders_closed_by_server"] = senders_closed[:SAMPLES]
            result["senders_closed_by_server_count"] = len(senders_closed)
        if receivers_closed:
            result["receivers_closed_by_server"] = receivers_closed
        if duplicate_samples:
            result["duplicate_samples"] = duplicate_samples
        latency = result["send_to_receive"]
        log(f"{name}: {sent} sent ({result['sent_per_s']}/s), {result['broadcasts_crossed_per_s']} crossed/s, "
            f"{result['events_per_s']} events/s at B, lost {lost}, duplicated {duplicates}, out of order {out_of_order}, "
            f"p50 {latency['p50_ms']} ms, p99 {latency['p99_ms']} ms{', SATURATED' if result['saturated'] else ''}, "
            f"drained in {result['drain_s']} s"
            + (f", {len(senders_closed)} sender sockets closed by the server" if senders_closed else "")
            + (f", {receivers_closed} receiver sockets closed by the server" if receivers_closed else "")
            + f", cores {cores}")
        return result

    # ------------------------------------------------------------------ Redis: tap and raw baseline

    async def tap_during(self, coroutine) -> tuple[dict, dict]:
        """Runs `coroutine` (the warm-up step) while SUBSCRIBEd to the server's bus channel."""
        sizes: list[int] = []
        kinds: dict[str, int] = {}
        sample: list[str] = []

        def handle(payload: bytes, arrived: float) -> None:  # noqa: ARG001
            kind = payload[2:payload.find(b'"', 2)].decode(errors="replace") if payload.startswith(b'{"') else "?"
            kinds[kind] = kinds.get(kind, 0) + 1
            if kind == "broadcast" and b'"realtime:bench-' in payload:
                sizes.append(len(payload))
                if not sample:
                    sample.append(payload.decode(errors="replace")[:400])
        tap = Resp(self.args.redis_port)
        await tap.connect()
        await tap.subscribe(BUS_CHANNEL)
        task = asyncio.create_task(tap.messages(handle))
        result = await coroutine
        await asyncio.sleep(0.3)
        task.cancel()
        await tap.close()
        sizes.sort()
        facts = {
            "channel": BUS_CHANNEL,
            "broadcast_envelopes": len(sizes),
            "broadcasts_sent": result["sent"],
            "envelope_bytes_mean": round(sum(sizes) / len(sizes), 1) if sizes else None,
            "envelope_bytes_min": sizes[0] if sizes else None,
            "envelope_bytes_max": sizes[-1] if sizes else None,
            "envelopes_by_kind": kinds,
            "sample": sample[0] if sample else None,
        }
        log(f"bus tap: {len(sizes)} broadcast envelopes for {result['sent']} broadcasts sent, "
            f"mean {facts['envelope_bytes_mean']} bytes")
        return facts, result

    async def raw_step(self, name: str, payload_bytes: int, rate: float | None, seconds: float, clients: int) -> dict:
        """PUBLISH → two SUBSCRIBEd connections on a private channel: one pipelining publisher
        paced at `rate`, or `clients` publishers each waiting for its reply (closed loop)."""
        a = self.args
        sent: dict[int, float] = {}
        counts = [dict(), dict()]
        latencies: list[float] = []
        arrivals: list[float] = []
        subscribers = []
        for index in range(2):
            subscriber = Resp(a.redis_port)
            await subscriber.connect()
            await subscriber.subscribe(RAW_CHANNEL)

            def handle(payload: bytes, arrived: float, seen=counts[index]) -> None:
                key = int(payload[:payload.index(b":")])
                seen[key] = seen.get(key, 0) + 1
                if key in sent:
                    latencies.append(arrived - sent[key])
                    arrivals.append(arrived)
            subscribers.append((subscriber, asyncio.create_task(subscriber.messages(handle))))
        publishers = [Resp(a.redis_port) for _ in range(1 if rate else clients)]
        await asyncio.gather(*(p.connect() for p in publishers))
        replies = {"n": 0, "not_two": 0}
        counter = {"next": 0}
        lags: list[float] = []
        cpu_before = self.meter.sample()
        t0 = time.perf_counter() + 0.05
        end = t0 + seconds

        def message(key: int) -> bytes:
            return f"{key}:".ljust(payload_bytes, "x").encode()

        async def read_replies(publisher: Resp, total: int) -> None:
            while replies["n"] < total:
                if await publisher.read() != 2:
                    replies["not_two"] += 1
                replies["n"] += 1

        if rate:
            total = int(round(rate * seconds))
            publisher = publishers[0]
            reader = asyncio.create_task(read_replies(publisher, total))
            for key in range(total):
                due = t0 + key / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                lags.append(max(0.0, time.perf_counter() - due))
                data = message(key)
                sent[key] = time.perf_counter()
                publisher.write("PUBLISH", RAW_CHANNEL, data)
                await publisher.writer.drain()
            await asyncio.wait_for(reader, 30)
        else:
            await asyncio.sleep(max(0.0, t0 - time.perf_counter()))

            async def worker(publisher: Resp) -> None:
                while time.perf_counter() < end:
                    key = counter["next"]
                    counter["next"] += 1
                    data = message(key)
                    sent[key] = time.perf_counter()
                    if await publisher.command("PUBLISH", RAW_CHANNEL, data) != 2:
                        replies["not_two"] += 1
                    replies["n"] += 1
            await asyncio.gather(*(worker(p) for p in publishers))
        await asyncio.sleep(max(0.0, end - time.perf_counter()))
        cpu_after = self.meter.sample()
        deadline = time.perf_counter() + 5
        while sum(len(c) for c in counts) < 2 * len(sent) and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        for subscriber, task in subscribers:
            task.cancel()
            await subscriber.close()
        for p in publishers:
            await p.close()
        lost = sum(1 for seen in counts for key in sent if key not in seen)
        duplicates = sum(c - 1 for seen in counts for c in seen.values() if c > 1)
        window_end = (min(arrivals) if arrivals else 0.0) + seconds
        in_window = sum(1 for arrived in arrivals if arrived <= window_end)
        lags.sort()
        result = {
            "mode": "paced" if rate else "closed_loop",
            "publisher_connections": len(publishers),
            "subscriber_connections": 2,
            "payload_bytes": payload_bytes,
            "offered_per_s": rate,
            "seconds": seconds,
            "published": len(sent),
            "published_per_s": round(len(sent) / seconds, 1),
            "received_per_subscriber_per_s": round(in_window / 2 / seconds, 1),
            "lost": lost,
            "duplicates": duplicates,
            "replies_not_two_subscribers": replies["not_two"],
            "publish_to_message": short(latency_summary(latencies)),
            "cores": self.meter.cores(cpu_before, cpu_after),
        }
        if rate:
            result["send_lag_ms"] = {"p50": rounded(lags[len(lags) // 2] * 1000 if lags else None, 2),
                                     "p99": rounded(lags[int(len(lags) * 0.99)] * 1000 if lags else None, 2)}
        log(f"{name}: {result['published_per_s']} PUBLISH/s, {result['received_per_subscriber_per_s']} received/s per "
            f"subscriber, lost {lost}, p50 {result['publish_to_message']['p50_ms']} ms, "
            f"p99 {result['publish_to_message']['p99_ms']} ms, cores {result['cores']}")
        return result

    # ------------------------------------------------------------------ the phase

    def server_facts(self) -> dict:
        a = self.args
        facts = {}
        for name, pid in (("A", a.pid_a), ("B", a.pid_b)):
            facts[name] = {"rss_mb": rounded((process_rss_bytes(pid) or 0) / 1048576, 1), "open_files": process_fd_count(pid)}
        return facts

    async def phase(self) -> dict:
        a = self.args
        machine = machine_facts(a.cpu_model)
        await asyncio.to_thread(wait_ready, a.port_a, a.pid_a)
        await asyncio.to_thread(wait_ready, a.port_b, a.pid_b)
        anon_key = await asyncio.to_thread(read_anon_key, a.binary, a.data_dir)
        setup = await self.connect_all(anon_key)
        result: dict = {
            "bus": a.bus,
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": machine,
            "binary": binary_kind(a.binary_label),
            "binary_path": a.binary_label,
            "postgres": a.pg_version,
            "redis_server": a.redis_version,
            "placement": "one sender socket per topic on A, the receivers on B: every broadcast crosses the bus",
            "setup": setup,
        }
        warm = self.run_step("warm-up", a.rate, a.warmup_seconds)
        if a.bus == "redis":
            result["bus_tap"], result["warm_up"] = await self.tap_during(warm)
        else:
            result["warm_up"] = await warm
        if a.bus == "redis":
            size = int(round(result["bus_tap"]["envelope_bytes_mean"] or 250))
            result["raw_redis"] = {
                "paced": await self.raw_step(f"raw Redis paced @{a.rate:g}/s", size, a.rate, a.raw_seconds, 1),
                "closed_loop": await self.raw_step("raw Redis closed loop", size, None, a.raw_seconds, a.raw_clients),
            }
        result["step"] = await self.run_step(f"{a.bus} bus @{a.rate:g}/s", a.rate, a.seconds)
        if a.bus == "redis":
            step, paced = result["step"], result["raw_redis"]["paced"]
            result["ratios_to_raw_redis"] = {
                "crossed_per_s_to_raw_paced_received_per_s": ratio(step["broadcasts_crossed_per_s"],
                                                                   paced["received_per_subscriber_per_s"]),
                "p50_to_raw_paced_p50": ratio(step["send_to_receive"]["p50_ms"], paced["publish_to_message"]["p50_ms"], 2),
                "p99_to_raw_paced_p99": ratio(step["send_to_receive"]["p99_ms"], paced["publish_to_message"]["p99_ms"], 2),
                "crossed_per_s_to_raw_closed_loop_per_s": ratio(step["broadcasts_crossed_per_s"],
                                                                result["raw_redis"]["closed_loop"]["published_per_s"]),
            }
        result["protocol_anomalies"] = dict(self.anomalies.values)
        if self.anomalies.samples:
            result["anomaly_samples"] = self.anomalies.samples
        result["servers_after"] = self.server_facts()
        result["server_logs"] = {"A": server_log_summary(a.log_a, samples=5), "B": server_log_summary(a.log_b, samples=5)}
        if self.heartbeat_task is not None:
            self.heartbeat_task.cancel()
        await asyncio.gather(*(s.close() for s in self.senders + self.receivers), return_exceptions=True)
        return result


# =========================================================================== merge


def phase_errors(result: dict) -> int:
    steps = [result["step"], result["warm_up"]]
    return sum(step["lost"] + step["duplicates"] + step.get("send_failures", 0) for step in steps) \
        + sum(result["protocol_anomalies"].values())


def figures(redis: dict | None, postgres: dict | None) -> list[dict]:
    out = []

    def fmt_ms(value) -> str:
        return "—" if value is None else f"{value:g} ms"

    def shape(step: dict) -> str:
        return (f"{step['offered_per_s']:g} broadcasts/s offered on {step['topics']} topics for {step['seconds']:g} s, "
                f"{step['receivers_per_topic']} receivers each on B ({step['events_per_s']:g} events/s)"
                + (", SATURATED" if step["saturated"] else ""))

    if redis:
        step, paced = redis["step"], redis["raw_redis"]["paced"]
        closed = redis["raw_redis"]["closed_loop"]
        lat, raw = step["send_to_receive"], paced["publish_to_message"]
        out.append({
            "figure": "cross-instance broadcast over Redis (A → B)", "value": step["broadcasts_crossed_per_s"],
            "unit": "msg/s", "baseline": paced["received_per_subscriber_per_s"], "baseline_unit": "msg/s",
            "baseline_what": f"raw Redis PUBLISH → SUBSCRIBE at the same rate, {paced['payload_bytes']}-byte payloads "
                             f"(the envelopes' mean), 2 subscribers",
            "ratio": redis["ratios_to_raw_redis"]["crossed_per_s_to_raw_paced_received_per_s"],
            "detail": f"{shape(step)}; lost {step['lost']}, duplicated {step['duplicates']}; "
                      f"raw closed loop {closed['published_per_s']:g} PUBLISH/s"})
        out.append({
            "figure": "cross-instance broadcast over Redis, send → receive p99", "value": lat["p99_ms"], "unit": "ms",
            "baseline": raw["p99_ms"], "baseline_unit": "ms", "baseline_what": "raw Redis PUBLISH → message p99, same rate",
            "ratio": redis["ratios_to_raw_redis"]["p99_to_raw_paced_p99"],
            "detail": f"p50 {fmt_ms(lat['p50_ms'])} vs raw {fmt_ms(raw['p50_ms'])}; "
                      f"servers {step['servers_cpu_ms_per_broadcast']} ms CPU per broadcast"})
    if postgres:
        step = postgres["step"]
        lat = step["send_to_receive"]
        base = redis["step"] if redis else None
        out.append({
            "figure": "cross-instance broadcast over PostgreSQL NOTIFY (A → B)", "value": step["broadcasts_crossed_per_s"],
            "unit": "msg/s", "baseline": base["broadcasts_crossed_per_s"] if base else None, "baseline_unit": "msg/s",
            "baseline_what": "the same load over the Redis bus" if base else "",
            "ratio": ratio(step["broadcasts_crossed_per_s"], base["broadcasts_crossed_per_s"]) if base else None,
            "detail": f"{shape(step)}; lost {step['lost']}, duplicated {step['duplicates']}"})
        out.append({
            "figure": "cross-instance broadcast over PostgreSQL NOTIFY, send → receive p99", "value": lat["p99_ms"],
            "unit": "ms", "baseline": base["send_to_receive"]["p99_ms"] if base else None, "baseline_unit": "ms",
            "baseline_what": "the same load over the Redis bus" if base else "",
            "ratio": ratio(lat["p99_ms"], base["send_to_receive"]["p99_ms"], 2) if base else None,
            "detail": f"p50 {fmt_ms(lat['p50_ms'])}" + (f" vs {fmt_ms(base['send_to_receive']['p50_ms'])} over Redis" if base else "")
                      + f"; servers {step['servers_cpu_ms_per_broadcast']} ms CPU per broadcast"})
    errors = sum(phase_errors(r) for r in (redis, postgres) if r)
    out.append({"figure": "lost, duplicated or refused broadcasts, every phase", "value": errors, "unit": "errors",
                "target": "0", "meets_target": errors == 0})
    return out


def merge(redis_path: str | None, postgres_path: str | None) -> dict:
    redis = json.loads(Path(redis_path).read_text()) if redis_path else None
    postgres = json.loads(Path(postgres_path).read_text()) if postgres_path else None
    versus = None
    if redis and postgres:
        r, p = redis["step"], postgres["step"]
        versus = {
            "crossed_per_s": ratio(p["broadcasts_crossed_per_s"], r["broadcasts_crossed_per_s"]),
            "events_per_s": ratio(p["events_per_s"], r["events_per_s"]),
            "p50": ratio(p["send_to_receive"]["p50_ms"], r["send_to_receive"]["p50_ms"], 2),
            "p99": ratio(p["send_to_receive"]["p99_ms"], r["send_to_receive"]["p99_ms"], 2),
            "servers_cpu_per_broadcast": ratio(p["servers_cpu_ms_per_broadcast"], r["servers_cpu_ms_per_broadcast"], 2),
        }
    return {
        "benchmark": "cross-instance message bus (scripts/bench/bus.sh)",
        "figures": figures(redis, postgres),
        "redis": redis,
        "postgres": postgres,
        "postgres_to_redis": versus,
        "errors_total": sum(phase_errors(r) for r in (redis, postgres) if r),
    }


# =========================================================================== main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("phase")
    p.add_argument("--bus", choices=("redis", "postgres"), required=True)
    p.add_argument("--port-a", type=int, required=True)
    p.add_argument("--pid-a", type=int, required=True)
    p.add_argument("--log-a", required=True)
    p.add_argument("--port-b", type=int, required=True)
    p.add_argument("--pid-b", type=int, required=True)
    p.add_argument("--log-b", required=True)
    p.add_argument("--redis-port", type=int, default=0)
    p.add_argument("--redis-pid", type=int, default=0, help="counted in `cores` (the redis phase)")
    p.add_argument("--binary", required=True, help="server binary (for `keys --json`)")
    p.add_argument("--binary-label", required=True)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--pg-version", default="")
    p.add_argument("--redis-version", default="")
    p.add_argument("--postmaster-pid", type=int, required=True)
    p.add_argument("--cpu-model", default="")
    p.add_argument("--topics", type=int, required=True)
    p.add_argument("--receivers", type=int, required=True)
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--warmup-seconds", type=float, required=True)
    p.add_argument("--drain-seconds", type=float, required=True)
    p.add_argument("--raw-seconds", type=float, required=True)
    p.add_argument("--raw-clients", type=int, required=True)
    m = sub.add_parser("merge")
    m.add_argument("--redis")
    m.add_argument("--postgres")
    args = parser.parse_args()

    if args.command == "merge":
        print(json.dumps(merge(args.redis, args.postgres), indent=2, ensure_ascii=False))
        return 0
    if args.bus == "redis" and not args.redis_port:
        parser.error("--bus redis needs --redis-port")

    def terminate(signum, frame):  # noqa: ARG001
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    bench = Bench(args)
    try:
        report = asyncio.run(bench.phase())
    except (RuntimeError, OSError, ValueError, KeyError, RespError, ConnectionClosed, asyncio.TimeoutError) as error:
        log(f"FAILED: {type(error).__name__}: {error}")
        return 1
    for name, pid in (("A", args.pid_a), ("B", args.pid_b)):
        if not process_alive(pid):
            log(f"FAILED: server {name} (pid {pid}) exited during the run")
            return 1
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
