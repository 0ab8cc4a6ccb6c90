#!/usr/bin/env python3
"""Load generator and report for scripts/bench/bus.sh (the cross-instance message bus).

Driven by bus.sh, which owns the PostgreSQL cluster, redis-server and the server instances
of each phase (BENCH_BUS_INSTANCES, 2..4). Commands:

  phase   one bus (--bus redis or postgres), the instances given by --instance PORT:PID:LOG
          (repeated, 2 to 4 times, in order: A, B, C, D) on one database. --topics sender
          sockets connect to A and --topics × --receivers receiver sockets: with 2 instances
          all on B; with 3 or 4 round-robin over every instance, A included (receiver g,
          counted over the topics in order, on instance g mod instances), so each broadcast
          reaches A's receivers directly and crosses the bus to every other instance holding
          receivers of its topic. Plain WebSockets, Phoenix vsn 1.0.0, all joined to
          `realtime:bench-<n>` with the anon key (bus.sh opens the prefix with
          REALTIME_OPEN_TOPICS=bench-; broadcast.self false, ack false), CONNECT_CONCURRENCY
          connecting and joining at a time (in all, over every process of the load
          generator), receivers first. A warm-up step, then the
          measured step: open loop at --rate broadcasts/s in total, broadcast j due at
          t0 + j / rate on topic j mod topics (each sender socket at rate / topics, under the
          100 frames/s a socket may send). Each broadcast carries
          {"sent": time.time(), "i": <n-th on its topic>}; every receiver must get every
          (topic, i) of its topic exactly once.
          With --bus redis, also: a tap SUBSCRIBEd to the server's channel `ecomansoni:bus`
          during the warm-up (the size of a real broadcast envelope), then the raw baseline:
          Redis alone, one publisher connection (pipelined PUBLISH, paced at --rate with
          payloads of the envelope's mean size) and one SUBSCRIBEd connection per instance
          (each instance SUBSCRIBEs once), then closed loop with --raw-clients publisher
          connections (each PUBLISH waits for its reply) for the ceiling of this client
          against Redis.
          With --client-processes N > 1 the receiver sockets live in N receiver processes
          (`receivers` below; receiver g, counted as above, in process g mod N), and this
          process keeps the sender sockets, the schedule, the raw baseline and the report: one
          asyncio process holding 9 000 receivers fell behind its own schedule (send lag p99
          181 ms) and its latencies measured itself, not the servers.
  receivers
          one receiver process of a phase (started by `phase`, not by hand): commands and
          replies one JSON object a line on its stdin and stdout, its progress on stderr. It
          connects and joins the receivers it is given (the same Socket class, its share of
          CONNECT_CONCURRENCY), sends their heartbeats, records their arrivals as `phase` does
          with one process, answers the drain's progress polls and, after each step, hands
          over its raw arrivals since the last step (and its receivers' closes and protocol
          anomalies), which `phase` merges into the very figures and checks of one process.
          It exits when its stdin closes (the main process gone, even killed), and a receiver
          process that exits on its own fails the phase at once, with its status.
  merge   ONE JSON object from the phases' results, with the "figures" list read by
          scripts/bench/all (their labels name the instance count when it is not 2) and the
          postgres/redis ratios.

After a step it waits for the outstanding deliveries while they keep coming: an event
still missing once none has arrived for --drain-seconds counts as lost. Throughput
(`broadcasts_crossed_per_s`: distinct (topic, i, instance) reaching the instances other
than A, divided by the crossings one broadcast needs, i.e. the instances other than A
holding receivers of its topic: with 2 instances, distinct (topic, i) reaching B;
`events_per_s`: every copy to every receiver) is counted over a window as long as the
sending that starts at the first arrival (the first crossing for the crossed rate), so a
bus that keeps up shows the offered rate whatever its latency; a step whose crossed rate
is under 95 % of the offered one is `saturated` (its latencies are then mostly queueing).
`by_instance` has each instance's receivers, events, losses, latency and crossed rate.
`out_of_order` counts arrivals at a receiver with a lower i than one it already had
(reported, not an error: docs/realtime.md promises order within a topic only after the
bus). The raw baseline's received/s is counted the same way.

Latency is send → receive on the machine's wall clock (time.time() in the process holding
the receiver, this one or a receiver process; the sender's timestamp travels in the
payload): `send_to_receive` over every receiver, `send_to_receive_across_bus` over the
receivers not on A (the same with 2 instances); the raw baseline's is PUBLISH written →
message read (time.perf_counter()). With --client-processes 1 (the default) every socket
is held by this one process; each process checks its open-files limit for its own sockets
first (raising the soft limit to the hard one). `setup.client_processes` is the number of
load-generator processes. `cores` are CPU seconds per second over the sending window from
/proc: each instance (server_a, server_b, …), redis-server, every PostgreSQL process of the
cluster, this load generator's main process (`client`: the senders, and the receivers
when it holds them), with --client-processes > 1 the receiver processes together
(`client_workers`), and `other` (the rest of the machine, with `other_top` naming the
biggest). The RESP client is written here (standard library only: no redis package).
Prints ONE JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import sys
import time
from dataclasses import dataclass
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
CONNECT_CONCURRENCY = 32         # sockets connecting and joining at a time (shared out among receiver processes)
NOFILE_SPARE = 100              # descriptors kept free beside the sockets (Redis, /proc reads, …)
JOIN_TIMEOUT = 30.0
DRAIN_GRACE = 0.3               # after the last expected event, wait this long for duplicates
DRAIN_CAP_SECONDS = 120.0       # the longest wait for outstanding deliveries after a step
SAMPLES = 10
PIPE_LIMIT = 1 << 30            # longest line on a receiver process's pipes (a step's arrivals, ~50 bytes each)
WORKER_START_TIMEOUT = 60.0     # a receiver process's start (interpreter, imports) until it answers
WORKER_REPLY_TIMEOUT = 60.0     # its answer to a progress poll or a collect (a join is bounded by JOIN_TIMEOUT)
WORKER_CLOSE_TIMEOUT = 30.0     # its sockets closed (5 s each at most, all at once) and its exit


def rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def ratio(a: float | None, b: float | None, digits: int = 3) -> float | None:
    return round(a / b, digits) if a is not None and b else None


def short(summary: dict) -> dict:
    return {k: summary[k] for k in ("count", "p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms")}


@dataclass
class Instance:
    """One server instance of the phase: A (the senders), B, C, D."""
    name: str
    port: int
    pid: int
    log: str


def instance_spec(text: str) -> tuple[int, int, str]:
    """--instance PORT:PID:LOG (the log path may hold colons)."""
    port, pid, log_path = text.split(":", 2)
    if not (port.isdigit() and pid.isdigit() and log_path):
        raise ValueError(text)
    return int(port), int(pid), log_path


def raise_nofile(needed: int) -> int:
    """Raises this process's soft open-files limit to the hard one if it is under `needed`
    (bus.sh has already raised it); returns the soft limit, which may still be short."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed and (hard == resource.RLIM_INFINITY or hard > soft):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return soft


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

    def merge(self, values: dict[str, int], samples: list[str]) -> None:
        """Adds a receiver process's anomalies (those since its last report)."""
        for name, count in values.items():
            self.values[name] = self.values.get(name, 0) + count
        for sample in samples:
            if len(self.samples) < SAMPLES and sample not in self.samples:
                self.samples.append(sample)


class Socket:
    """One realtime WebSocket joined to one topic, as a sender (on A) or a receiver (on the
    instance `instance` names)."""

    def __init__(self, role: str, topic_index: int, instance: str, url: str, topic: str, anon_key: str,
                 anomalies: Anomalies) -> None:
        self.role = role
        self.topic_index = topic_index
        self.instance = instance
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


def socket_url(port: int, anon_key: str) -> str:
    return f"ws://127.0.0.1:{port}/realtime/v1/websocket?apikey={anon_key}&vsn=1.0.0"


class Opener:
    """Connects and joins sockets `concurrency` at a time (one semaphore across calls), logging
    every 1 000 joined out of `total`."""

    def __init__(self, concurrency: int, total: int, logger) -> None:
        self.semaphore = asyncio.Semaphore(concurrency)
        self.total = total
        self.log = logger
        self.joined = 0
        self.started = time.perf_counter()

    async def open(self, sockets: list[Socket]) -> None:
        async def one(socket: Socket) -> None:
            async with self.semaphore:
                await socket.open()
            self.joined += 1
            if self.joined % 1000 == 0:
                self.log(f"setup: {self.joined} of {self.total} sockets joined "
                         f"({time.perf_counter() - self.started:.1f} s)")
        await asyncio.gather(*(one(s) for s in sockets))


async def heartbeats(sockets: list[Socket]) -> None:
    """Each socket's heartbeat every HEARTBEAT_SECONDS, spread evenly over the interval: all
    at once (9 000 frames and replies in one burst) stalled this process for over a second,
    which showed up as send lag and as latency of every receiver. Each process of the load
    generator runs this over its own sockets."""
    if not sockets:
        return
    gap = HEARTBEAT_SECONDS / len(sockets)
    while True:
        for socket in sockets:
            await asyncio.sleep(gap)
            if not socket.closed:
                try:
                    await socket.heartbeat()
                except Exception:  # a closed socket is reported by its reader
                    pass


# =========================================================================== receiver processes


class RemoteReceiver:
    """A receiver socket held by a receiver process (--client-processes > 1): the part of a
    receiver Socket that run_step reads (topic, instance, arrivals, close), filled in from its
    process's report after each step, so that every figure and check is computed as with one
    process."""

    def __init__(self, topic_index: int, instance: str) -> None:
        self.topic_index = topic_index
        self.instance = instance
        self.counts: dict[int, int] = {}
        self.records: list[tuple[int, float, float]] = []
        self.closed_by_server_at: float | None = None
        self.close_what = ""

    def add(self, records: list) -> None:
        """Its arrivals since its process's last report, in the order they arrived."""
        for i, arrived, latency in records:
            self.counts[i] = self.counts.get(i, 0) + 1
            self.records.append((i, arrived, latency))


class ReceiverProcess:
    """The main process's end of one receiver process (`bus_bench.py receivers`): commands
    out on its stdin and replies in from its stdout, one JSON object a line; its progress and
    errors go straight to the shared stderr. `on_exit(message)` is called when it exits
    without being asked to."""

    def __init__(self, index: int, count: int) -> None:
        self.name = f"receiver process {index + 1}/{count}"
        self.index = index
        self.count = count
        self.receivers: list[RemoteReceiver] = []   # its share, in its order
        self.placements: list[list] = []            # [topic index, instance name, port] of each
        self.proc: asyncio.subprocess.Process | None = None
        self.watcher: asyncio.Task | None = None
        self.stopping = False

    async def start(self, on_exit) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, str(Path(__file__).resolve()), "receivers", "--index", str(self.index),
            "--of", str(self.count), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=PIPE_LIMIT)

        async def watch() -> None:
            await self.proc.wait()
            if not self.stopping:
                on_exit(self.exit_message())
        self.watcher = asyncio.create_task(watch())

    def exit_message(self) -> str:
        code = self.proc.returncode
        how = ("stopped answering" if code is None else f"was killed by signal {-code}" if code < 0
               else f"exited with status {code}")
        return f"{self.name} (pid {self.proc.pid}) {how} (its own messages, if any, are above)"

    async def reply(self, what: str, timeout: float | None = WORKER_REPLY_TIMEOUT) -> dict:
        """Its next reply (to `what`); its exit or silence for `timeout` s fails the run."""
        try:
            line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        except asyncio.TimeoutError:
            raise RuntimeError(f"{self.name} (pid {self.proc.pid}) did not answer {what!r} "
                               f"within {timeout:g} s") from None
        if not line:
            try:   # its exit status, when it is exiting
                await asyncio.wait_for(self.proc.wait(), 2)
            except asyncio.TimeoutError:
                pass
            raise RuntimeError(f"{self.exit_message()}, during {what!r}")
        return json.loads(line)

    async def request(self, command: dict, timeout: float | None = WORKER_REPLY_TIMEOUT) -> dict:
        try:
            self.proc.stdin.write(json.dumps(command).encode() + b"\n")
            await self.proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass   # it is gone: reply() says how
        return await self.reply(command["cmd"], timeout)

    async def close(self) -> None:
        """Its sockets closed and its exit, after the report (a failure here is only logged)."""
        self.stopping = True   # its exit is expected from now on
        try:
            await self.request({"cmd": "close"}, WORKER_CLOSE_TIMEOUT)
            await asyncio.wait_for(self.proc.wait(), 5)
        except (RuntimeError, ValueError, asyncio.TimeoutError) as error:
            log(f"{self.name}: {error or 'did not exit after closing its sockets'}")
        await self.stop()

    async def stop(self) -> None:
        """Ends it if it still runs (SIGTERM, then SIGKILL after 5 s); nothing if not started."""
        self.stopping = True
        if self.proc is None:
            return
        if self.proc.returncode is None:
            try:
                self.proc.terminate()
                await asyncio.wait_for(self.proc.wait(), 5)
            except ProcessLookupError:
                pass
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self.proc.stdin.close()
        if self.watcher is not None:
            self.watcher.cancel()


async def receivers_process(index: int, count: int, logger) -> int:
    """The `receivers` command: one receiver process, driven by `phase` over its stdin and
    stdout. Commands: join (its receivers, the anon key, its share of CONNECT_CONCURRENCY),
    progress (the step's i ranges by topic: distinct (topic, i) in them received, summed over
    its receivers, and the arrivals recorded since the last collect), collect (the arrivals
    since the last collect, per receiver in order, then forgotten here, so that no step's
    arrivals are handed over twice; the receivers the server closed; the protocol anomalies
    since the last collect) and close."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=PIPE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    commands: asyncio.Queue = asyncio.Queue()

    async def read_commands() -> None:
        while True:
            line = await reader.readline()
            if not line:
                # The main process closed the pipe, or it is gone (even killed): nobody is left to
                # report to, and the sockets close with the process.
                logger("the main process closed the pipe: exiting")
                os._exit(1)
            await commands.put(json.loads(line))

    def reply(message: dict) -> None:
        sys.stdout.buffer.write(json.dumps(message).encode() + b"\n")
        sys.stdout.buffer.flush()

    reading = asyncio.create_task(read_commands())
    anomalies = Anomalies()
    sockets: list[Socket] = []
    heartbeat_task: asyncio.Task | None = None
    reply({"started": os.getpid()})
    while True:
        command = await commands.get()
        what = command["cmd"]
        if what == "join":
            anon_key = command["anon_key"]
            sockets = [Socket("receiver", n, where, socket_url(port, anon_key), f"realtime:bench-{n}", anon_key, anomalies)
                       for n, where, port in command["receivers"]]
            nofile = raise_nofile(len(sockets) + NOFILE_SPARE)
            if nofile != resource.RLIM_INFINITY and nofile < len(sockets) + NOFILE_SPARE:
                raise RuntimeError(f"{len(sockets)} sockets need an open-files limit of {len(sockets) + NOFILE_SPARE}; "
                                   f"this process has {nofile} (ulimit -n)")
            started = time.perf_counter()
            await Opener(command["concurrency"], len(sockets), logger).open(sockets)
            heartbeat_task = asyncio.create_task(heartbeats(sockets))
            reply({"joined": len(sockets), "seconds": round(time.perf_counter() - started, 2)})
        elif what == "progress":
            ranges = command["ranges"]
            unique = 0
            for r in sockets:
                lo, hi = ranges[r.topic_index]
                unique += sum(1 for i in range(lo, hi) if i in r.counts)
            reply({"unique": unique, "arrived": sum(len(r.records) for r in sockets)})
        elif what == "collect":
            records = []
            for r in sockets:
                records.append(r.records)
                r.records, r.counts = [], {}
            closed = [[k, r.closed_by_server_at, r.close_what] for k, r in enumerate(sockets)
                      if r.closed_by_server_at is not None]
            reply({"records": records, "closed": closed, "anomalies": anomalies.values, "samples": anomalies.samples})
            anomalies.values, anomalies.samples = {}, []
        elif what == "close":
            if heartbeat_task is not None:
                heartbeat_task.cancel()
            await asyncio.gather(*(r.close() for r in sockets), return_exceptions=True)
            reading.cancel()   # the main process closes the pipe once it has the reply
            reply({"closed": len(sockets)})
            return 0
        else:
            raise RuntimeError(f"unknown command {what!r}")


# =========================================================================== the benchmark


class Bench:
    def __init__(self, args) -> None:
        self.args = args
        self.anomalies = Anomalies()
        self.instances = [Instance("ABCD"[k], port, pid, log_path) for k, (port, pid, log_path) in enumerate(args.instance)]
        self.senders: list[Socket] = []
        # Every receiver, in order (receiver g at index g): Sockets of this process, or with
        # --client-processes > 1 RemoteReceivers filled in from the receiver processes.
        self.receivers: list[Socket | RemoteReceiver] = []
        self.sockets: list[Socket] = []   # the sockets this process holds
        self.workers: list[ReceiverProcess] = []
        self.failure: asyncio.Future | None = None   # a receiver process's unexpected exit (its message)
        named = {f"server_{i.name.lower()}": i.pid for i in self.instances}
        if args.redis_pid:
            named["redis"] = args.redis_pid
        self.meter = ProcessGroupMeter(named, args.postmaster_pid)
        self.heartbeat_task: asyncio.Task | None = None

    # ------------------------------------------------------------------ setup

    def receiver_instance(self, global_index: int) -> Instance:
        """Where receiver number `global_index` (counted over the topics in order) goes: B with
        2 instances, else round-robin over every instance, A included."""
        if len(self.instances) == 2:
            return self.instances[1]
        return self.instances[global_index % len(self.instances)]

    def receivers_by_instance(self) -> dict[str, int]:
        return {i.name: sum(1 for r in self.receivers if r.instance == i.name) for i in self.instances}

    async def connect_all(self, anon_key: str) -> dict:
        a = self.args
        a_name = self.instances[0].name
        processes = a.client_processes
        if processes > 1:
            self.workers = [ReceiverProcess(w, processes) for w in range(processes)]
        for n in range(a.topics):
            topic = f"realtime:bench-{n}"
            self.senders.append(Socket("sender", n, a_name, socket_url(self.instances[0].port, anon_key), topic, anon_key,
                                       self.anomalies))
            for k in range(a.receivers):
                g = n * a.receivers + k
                where = self.receiver_instance(g)
                if not self.workers:
                    self.receivers.append(Socket("receiver", n, where.name, socket_url(where.port, anon_key), topic,
                                                 anon_key, self.anomalies))
                    continue
                # Receiver g in receiver process g mod --client-processes: each broadcast's copies
                # are spread over the processes.
                receiver = RemoteReceiver(n, where.name)
                self.receivers.append(receiver)
                self.workers[g % processes].receivers.append(receiver)
                self.workers[g % processes].placements.append([n, where.name, where.port])
        self.sockets = self.senders + [r for r in self.receivers if isinstance(r, Socket)]
        total = len(self.senders) + len(self.receivers)
        held = len(self.sockets)
        nofile = raise_nofile(held + NOFILE_SPARE)
        if nofile != resource.RLIM_INFINITY and nofile < held + NOFILE_SPARE:
            raise RuntimeError(f"{held} sockets need an open-files limit of {held + NOFILE_SPARE}; "
                               f"this process has {nofile} (ulimit -n)")
        if self.workers:
            # Started (interpreter and imports) before the clock: that is not connecting.
            for worker in self.workers:
                await worker.start(self.worker_failed)
            self.meter.worker_pids = [worker.proc.pid for worker in self.workers]
            await asyncio.gather(*(worker.reply("start", WORKER_START_TIMEOUT) for worker in self.workers))
        opener = Opener(CONNECT_CONCURRENCY, held, log)
        started = time.perf_counter()
        # Receivers first: every one is joined before the first broadcast.
        if self.workers:
            # CONNECT_CONCURRENCY shared out: as many sockets connecting at a time as with one process.
            shares = [CONNECT_CONCURRENCY // processes + (w < CONNECT_CONCURRENCY % processes) for w in range(processes)]
            # No timeout: each socket's connect and join has its own (JOIN_TIMEOUT), and a
            # receiver process that fails exits, which fails the run.
            await asyncio.gather(*(worker.request({"cmd": "join", "anon_key": anon_key, "concurrency": share,
                                                   "receivers": worker.placements}, None)
                                   for worker, share in zip(self.workers, shares)))
        else:
            await opener.open(self.receivers)
        await opener.open(self.senders)
        seconds = time.perf_counter() - started
        spread = self.receivers_by_instance()
        log(f"setup: {len(self.senders)} senders on A, {len(self.receivers)} receivers ("
            + ", ".join(f"{count} on {name}" for name, count in spread.items() if count)
            + (f"; in {processes} receiver processes" if self.workers else "")
            + f") joined in {seconds:.1f} s ({total / seconds:.0f} sockets/s)")
        self.heartbeat_task = asyncio.create_task(heartbeats(self.sockets))
        setup = {"instances": len(self.instances), "sender_sockets_on_a": len(self.senders),
                 "receiver_sockets": len(self.receivers), "receiver_sockets_by_instance": spread,
                 "client_processes": processes,
                 "connect_concurrency": CONNECT_CONCURRENCY, "connect_and_join_s": round(seconds, 2),
                 "sockets_joined_per_s": round(total / seconds, 1) if seconds > 0 else None,
                 "open_files_limit": None if nofile == resource.RLIM_INFINITY else nofile}
        if self.workers:
            setup["receiver_sockets_by_client_process"] = [len(worker.receivers) for worker in self.workers]
        return setup

    def worker_failed(self, message: str) -> None:
        """A receiver process exited without being asked to: run() fails the phase at once."""
        if self.failure is not None and not self.failure.done():
            self.failure.set_result(message)

    async def deliveries(self, ranges: dict[int, list[int]]) -> tuple[int, int]:
        """(distinct (topic, i) of the step's `ranges` received, summed over the receivers; the
        arrivals recorded so far, which grow while deliveries keep coming), from this process's
        receivers or from every receiver process."""
        if not self.workers:
            unique = 0
            for r in self.receivers:
                lo, hi = ranges[r.topic_index]
                unique += sum(1 for i in range(lo, hi) if i in r.counts)
            return unique, sum(len(r.records) for r in self.receivers)
        spans = [ranges[n] for n in range(len(self.senders))]
        replies = await asyncio.gather(*(worker.request({"cmd": "progress", "ranges": spans}) for worker in self.workers))
        return sum(reply["unique"] for reply in replies), sum(reply["arrived"] for reply in replies)

    async def collect(self) -> None:
        """The receiver processes' arrivals since their last report, their receivers' closes and
        their protocol anomalies, into self.receivers and self.anomalies (nothing to do with
        one process): run_step then reads them as it reads the sockets of this process. The
        processes forget what they handed over, so no arrival is counted twice."""
        replies = await asyncio.gather(*(worker.request({"cmd": "collect"}) for worker in self.workers))
        for worker, reply in zip(self.workers, replies):
            if len(reply["records"]) != len(worker.receivers):
                raise RuntimeError(f"{worker.name} reported {len(reply['records'])} receivers, "
                                   f"not {len(worker.receivers)}")
            for receiver, records in zip(worker.receivers, reply["records"]):
                receiver.add(records)
            for k, closed_at, what in reply["closed"]:
                worker.receivers[k].closed_by_server_at, worker.receivers[k].close_what = closed_at, what
            self.anomalies.merge(reply["anomalies"], reply["samples"])

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

        # Waits while deliveries keep coming: an event still missing after --drain-seconds
        # without any arrival (or after DRAIN_CAP_SECONDS in all) counts as lost. This process
        # decides, for the receiver processes too (their progress is polled).
        drain_started = last_progress = time.perf_counter()
        unique, arrived_so_far = await self.deliveries(ranges)
        while unique < expected:
            now = time.perf_counter()
            if now - last_progress >= a.drain_seconds or now - drain_started >= DRAIN_CAP_SECONDS:
                break
            await asyncio.sleep(0.1)
            unique, count = await self.deliveries(ranges)
            if count > arrived_so_far:
                arrived_so_far, last_progress = count, time.perf_counter()
        await asyncio.sleep(DRAIN_GRACE)
        drain_s = time.perf_counter() - drain_started
        if self.workers:
            await self.collect()

        a_name = self.instances[0].name
        names = [i.name for i in self.instances]
        # The instances other than A holding receivers of each topic: every broadcast on the
        # topic must cross the bus to each of them (B alone with 2 instances).
        remote: dict[int, set[str]] = {}
        for r in self.receivers:
            if r.instance != a_name:
                remote.setdefault(r.topic_index, set()).add(r.instance)
        lost, duplicates, latencies = 0, 0, []
        duplicate_samples: list[str] = []
        arrivals: list[float] = []
        out_of_order = 0
        latencies_at = {where: [] for where in names}
        arrivals_at = {where: [] for where in names}
        lost_at = dict.fromkeys(names, 0)
        duplicates_at = dict.fromkeys(names, 0)
        first_arrival: dict[tuple[int, int, str], float] = {}   # (topic, i, instance) -> first arrival there
        missing: dict[tuple[int, int], int] = {}   # (topic, i) -> receivers that never got it
        missing_at: dict[int, dict[str, int]] = {}   # topic -> instance -> deliveries missing
        for index, r in enumerate(self.receivers):
            lo, hi = ranges[r.topic_index]
            for i in range(lo, hi):
                copies = r.counts.get(i, 0)
                if copies == 0:
                    lost += 1
                    lost_at[r.instance] += 1
                    missing[(r.topic_index, i)] = missing.get((r.topic_index, i), 0) + 1
                    gaps = missing_at.setdefault(r.topic_index, {})
                    gaps[r.instance] = gaps.get(r.instance, 0) + 1
                elif copies > 1:
                    duplicates += copies - 1
                    duplicates_at[r.instance] += copies - 1
                    if len(duplicate_samples) < SAMPLES:
                        duplicate_samples.append(f"bench-{r.topic_index} i={i} ×{copies} at receiver {index} "
                                                 f"on {r.instance}")
            highest = -1
            for i, arrived, latency in r.records:
                if lo <= i < hi:
                    if i < highest:
                        out_of_order += 1
                    highest = max(highest, i)
                    latencies.append(latency)
                    arrivals.append(arrived)
                    latencies_at[r.instance].append(latency)
                    arrivals_at[r.instance].append(arrived)
                    key = (r.topic_index, i, r.instance)
                    if key not in first_arrival or arrived < first_arrival[key]:
                        first_arrival[key] = arrived
        # Throughput over a window as long as the sending, from the first arrival: a bus that
        # keeps up delivers everything offered in it whatever its (constant) latency.
        window_start = min(arrivals) if arrivals else 0.0
        window_end = window_start + seconds
        in_window = sum(1 for arrived in arrivals if arrived <= window_end)

        def crossed_per_s_at(at: set[str]) -> float | None:
            """Broadcasts crossed per second to the instances `at` (not A): their (topic, i,
            instance) first arrivals in a window from the first of them, over the crossings one
            broadcast needs there (with 2 instances: distinct (topic, i) reaching B)."""
            needed = sum((hi - lo) * len(remote.get(n, set()) & at) for n, (lo, hi) in ranges.items())
            if not needed:
                return None
            firsts = [arrived for (_, _, where), arrived in first_arrival.items() if where in at]
            start = min(firsts) if firsts else 0.0
            crossed = sum(1 for arrived in firsts if arrived <= start + seconds)
            return round(crossed * sent / needed / seconds, 1)

        remote_names = {where for where in names if where != a_name}
        # Where the losses are: per topic, which i went missing, whether every receiver of
        # the topic missed them (the broadcast never reached the instances' channels: not taken
        # or not published by A, or lost on the bus) or only some (lost in an instance's
        # fan-out, or on the bus to one instance: `missing_by_instance`), and whether the
        # server had closed that topic's sender socket (frames it had not read yet die with
        # the socket).
        lost_by_topic = []
        for n in sorted({topic for topic, _ in missing}):
            keys = sorted(i for topic, i in missing if topic == n)
            sender = self.senders[n]
            everywhere = sum(1 for i in keys if missing[(n, i)] == a.receivers)
            entry = {"topic": f"bench-{n}", "sent_i": ranges[n], "broadcasts_missing": len(keys),
                     "missing_at_every_receiver": everywhere, "first_missing_i": keys[0], "last_missing_i": keys[-1],
                     "contiguous_to_the_end": keys == list(range(keys[0], ranges[n][1])),
                     "missing_by_instance": missing_at.get(n, {})}
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
        crossed_per_s = crossed_per_s_at(remote_names)
        by_instance = {}
        for where in names:   # (`name` is the step's name)
            held = sum(1 for r in self.receivers if r.instance == where)
            if not held:
                continue
            by_instance[where] = {
                "receivers": held,
                "delivered": len(latencies_at[where]),
                "lost": lost_at[where],
                "duplicates": duplicates_at[where],
                "events_per_s": round(sum(1 for arrived in arrivals_at[where] if arrived <= window_end) / seconds, 1),
                "send_to_receive": short(latency_summary(latencies_at[where])),
            }
            if where != a_name:
                by_instance[where]["broadcasts_crossed_per_s"] = crossed_per_s_at({where})
        result = {
            "offered_per_s": rate,
            "seconds": seconds,
            # Fewer broadcasts crossed within the window than were offered: the instances (or
            # this machine) did not keep up, and the latencies are mostly queueing.
            "saturated": crossed_per_s < 0.95 * min(rate, sent / seconds) if sent and crossed_per_s is not None else None,
            "instances": len(self.instances),
            "topics": topics,
            "receivers_per_topic": a.receivers,
            "receivers_per_instance": self.receivers_by_instance(),
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
            "send_to_receive_across_bus": short(latency_summary([x for where in remote_names for x in latencies_at[where]])),
            "by_instance": by_instance,
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
        across = result["send_to_receive_across_bus"]
        log(f"{name}: {sent} sent ({result['sent_per_s']}/s), {result['broadcasts_crossed_per_s']} crossed/s, "
            f"{result['events_per_s']} events/s at the receivers, lost {lost}, duplicated {duplicates}, "
            f"out of order {out_of_order}, p50 {latency['p50_ms']} ms, p99 {latency['p99_ms']} ms"
            + (f" (across the bus p50 {across['p50_ms']} ms, p99 {across['p99_ms']} ms)" if a_name in by_instance else "")
            + f"{', SATURATED' if result['saturated'] else ''}, "
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
        """PUBLISH → one SUBSCRIBEd connection per instance on a private channel: one pipelining
        publisher paced at `rate`, or `clients` publishers each waiting for its reply (closed loop)."""
        a = self.args
        listeners = len(self.instances)
        sent: dict[int, float] = {}
        counts = [dict() for _ in range(listeners)]
        latencies: list[float] = []
        arrivals: list[float] = []
        subscribers = []
        for index in range(listeners):
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
        replies = {"n": 0, "short": 0}   # short: PUBLISH replies under `listeners` (a subscriber missed it)
        counter = {"next": 0}
        lags: list[float] = []
        cpu_before = self.meter.sample()
        t0 = time.perf_counter() + 0.05
        end = t0 + seconds

        def message(key: int) -> bytes:
            return f"{key}:".ljust(payload_bytes, "x").encode()

        async def read_replies(publisher: Resp, total: int) -> None:
            while replies["n"] < total:
                if await publisher.read() != listeners:
                    replies["short"] += 1
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
                    if await publisher.command("PUBLISH", RAW_CHANNEL, data) != listeners:
                        replies["short"] += 1
                    replies["n"] += 1
            await asyncio.gather(*(worker(p) for p in publishers))
        await asyncio.sleep(max(0.0, end - time.perf_counter()))
        cpu_after = self.meter.sample()
        deadline = time.perf_counter() + 5
        while sum(len(c) for c in counts) < listeners * len(sent) and time.perf_counter() < deadline:
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
            "subscriber_connections": listeners,
            "payload_bytes": payload_bytes,
            "offered_per_s": rate,
            "seconds": seconds,
            "published": len(sent),
            "published_per_s": round(len(sent) / seconds, 1),
            "received_per_subscriber_per_s": round(in_window / listeners / seconds, 1),
            "lost": lost,
            "duplicates": duplicates,
            "replies_not_every_subscriber": replies["short"],
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
        return {i.name: {"rss_mb": rounded((process_rss_bytes(i.pid) or 0) / 1048576, 1),
                         "open_files": process_fd_count(i.pid)} for i in self.instances}

    def placement(self) -> str:
        if len(self.instances) == 2:
            return "one sender socket per topic on A, the receivers on B: every broadcast crosses the bus"
        names = ", ".join(i.name for i in self.instances)
        return (f"one sender socket per topic on A, the receivers round-robin over {names} (receiver g on instance "
                f"g mod {len(self.instances)}): each broadcast reaches A's receivers directly and crosses the bus "
                f"to every other instance holding receivers of its topic")

    async def phase(self) -> dict:
        a = self.args
        machine = machine_facts(a.cpu_model)
        for instance in self.instances:
            await asyncio.to_thread(wait_ready, instance.port, instance.pid)
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
            "instances": len(self.instances),
            "instance_ports": {i.name: i.port for i in self.instances},
            "placement": self.placement(),
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
        if self.workers:
            await self.collect()   # the receiver processes' anomalies since the step (late arrivals too)
        result["protocol_anomalies"] = dict(self.anomalies.values)
        if self.anomalies.samples:
            result["anomaly_samples"] = self.anomalies.samples
        result["servers_after"] = self.server_facts()
        result["server_logs"] = {i.name: server_log_summary(i.log, samples=5) for i in self.instances}
        if self.heartbeat_task is not None:
            self.heartbeat_task.cancel()
        await asyncio.gather(*(s.close() for s in self.sockets), *(w.close() for w in self.workers),
                             return_exceptions=True)
        return result

    async def run(self) -> dict:
        """The phase, failed at once when a receiver process exits without being asked to (a
        crash, a kill: its status is the message) rather than left waiting; and whatever the
        outcome (a failure, SIGTERM), every receiver process still running is stopped before
        this returns."""
        self.failure = asyncio.get_running_loop().create_future()
        phase = asyncio.create_task(self.phase())
        try:
            await asyncio.wait({phase, self.failure}, return_when=asyncio.FIRST_COMPLETED)
            if not phase.done():
                phase.cancel()
                await asyncio.gather(phase, return_exceptions=True)
                raise RuntimeError(self.failure.result())
            return phase.result()
        finally:
            await asyncio.gather(*(worker.stop() for worker in self.workers), return_exceptions=True)


# =========================================================================== merge


def phase_errors(result: dict) -> int:
    steps = [result["step"], result["warm_up"]]
    return sum(step["lost"] + step["duplicates"] + step.get("send_failures", 0) for step in steps) \
        + sum(result["protocol_anomalies"].values())


def figures(redis: dict | None, postgres: dict | None) -> list[dict]:
    out = []

    def fmt_ms(value) -> str:
        return "—" if value is None else f"{value:g} ms"

    def instances(result: dict) -> int:
        return result.get("instances", 2)

    def names(result: dict) -> list[str]:
        return ["ABCD"[k] for k in range(instances(result))]

    def over(result: dict) -> str:
        """The label's route: "(A → B)" with 2 instances, else the count and the instances crossed to."""
        if instances(result) == 2:
            return " (A → B)"
        return f", {instances(result)} instances (A → {', '.join(names(result)[1:])})"

    def shape(step: dict) -> str:
        spread = step.get("receivers_per_instance") or {}
        where = "on B" if step.get("instances", 2) == 2 else (
            "over " + ", ".join(f"{name} ({count})" for name, count in spread.items()))
        return (f"{step['offered_per_s']:g} broadcasts/s offered on {step['topics']} topics for {step['seconds']:g} s, "
                f"{step['receivers_per_topic']} receivers each {where} ({step['events_per_s']:g} events/s)"
                + (", SATURATED" if step["saturated"] else ""))

    def across(step: dict) -> str:
        """With receivers on A too: the p99 over the bus alone (the headline p99 is every receiver's)."""
        if step.get("instances", 2) == 2:
            return ""
        bus = step["send_to_receive_across_bus"]
        return f"; every receiver; across the bus p50 {fmt_ms(bus['p50_ms'])}, p99 {fmt_ms(bus['p99_ms'])}"

    if redis:
        step, paced = redis["step"], redis["raw_redis"]["paced"]
        closed = redis["raw_redis"]["closed_loop"]
        lat, raw = step["send_to_receive"], paced["publish_to_message"]
        out.append({
            "figure": f"cross-instance broadcast over Redis{over(redis)}", "value": step["broadcasts_crossed_per_s"],
            "unit": "msg/s", "baseline": paced["received_per_subscriber_per_s"], "baseline_unit": "msg/s",
            "baseline_what": f"raw Redis PUBLISH → SUBSCRIBE at the same rate, {paced['payload_bytes']}-byte payloads "
                             f"(the envelopes' mean), {paced['subscriber_connections']} subscribers",
            "ratio": redis["ratios_to_raw_redis"]["crossed_per_s_to_raw_paced_received_per_s"],
            "detail": f"{shape(step)}; lost {step['lost']}, duplicated {step['duplicates']}; "
                      f"raw closed loop {closed['published_per_s']:g} PUBLISH/s"})
        out.append({
            "figure": f"cross-instance broadcast over Redis{over(redis)}, send → receive p99", "value": lat["p99_ms"],
            "unit": "ms", "baseline": raw["p99_ms"], "baseline_unit": "ms",
            "baseline_what": "raw Redis PUBLISH → message p99, same rate",
            "ratio": redis["ratios_to_raw_redis"]["p99_to_raw_paced_p99"],
            "detail": f"p50 {fmt_ms(lat['p50_ms'])} vs raw {fmt_ms(raw['p50_ms'])}{across(step)}; "
                      f"servers {step['servers_cpu_ms_per_broadcast']} ms CPU per broadcast"})
    if postgres:
        step = postgres["step"]
        lat = step["send_to_receive"]
        base = redis["step"] if redis else None
        out.append({
            "figure": f"cross-instance broadcast over PostgreSQL NOTIFY{over(postgres)}",
            "value": step["broadcasts_crossed_per_s"],
            "unit": "msg/s", "baseline": base["broadcasts_crossed_per_s"] if base else None, "baseline_unit": "msg/s",
            "baseline_what": "the same load over the Redis bus" if base else "",
            "ratio": ratio(step["broadcasts_crossed_per_s"], base["broadcasts_crossed_per_s"]) if base else None,
            "detail": f"{shape(step)}; lost {step['lost']}, duplicated {step['duplicates']}"})
        out.append({
            "figure": f"cross-instance broadcast over PostgreSQL NOTIFY{over(postgres)}, send → receive p99",
            "value": lat["p99_ms"],
            "unit": "ms", "baseline": base["send_to_receive"]["p99_ms"] if base else None, "baseline_unit": "ms",
            "baseline_what": "the same load over the Redis bus" if base else "",
            "ratio": ratio(lat["p99_ms"], base["send_to_receive"]["p99_ms"], 2) if base else None,
            "detail": f"p50 {fmt_ms(lat['p50_ms'])}" + (f" vs {fmt_ms(base['send_to_receive']['p50_ms'])} over Redis" if base else "")
                      + f"{across(step)}; servers {step['servers_cpu_ms_per_broadcast']} ms CPU per broadcast"})
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
    p.add_argument("--instance", type=instance_spec, action="append", required=True, metavar="PORT:PID:LOG",
                   help="a server instance, repeated 2 to 4 times in order: A (the senders), B, C, D")
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
    p.add_argument("--client-processes", type=int, default=1,
                   help="processes of the load generator, 1..8: with more than 1, the receivers are in receiver processes")
    w = sub.add_parser("receivers", help="a receiver process (started by `phase`)")
    w.add_argument("--index", type=int, required=True, help="this process's number, from 0")
    w.add_argument("--of", type=int, required=True, help="the number of receiver processes")
    m = sub.add_parser("merge")
    m.add_argument("--redis")
    m.add_argument("--postgres")
    args = parser.parse_args()

    if args.command == "merge":
        print(json.dumps(merge(args.redis, args.postgres), indent=2, ensure_ascii=False))
        return 0
    if args.command == "receivers":
        # SIGTERM keeps its default action (the main process's way to stop it at once).
        worker_log = make_logger(f"bus-bench receivers {args.index + 1}/{args.of}")
        try:
            return asyncio.run(receivers_process(args.index, args.of, worker_log))
        except KeyboardInterrupt:
            return 130
        except Exception as error:  # any: the main process reports the exit status
            worker_log(f"FAILED: {type(error).__name__}: {error}")
            return 1
    if args.bus == "redis" and not args.redis_port:
        parser.error("--bus redis needs --redis-port")
    if not 2 <= len(args.instance) <= 4:
        parser.error(f"--instance must be given 2 to 4 times (got {len(args.instance)})")
    if not 1 <= args.client_processes <= 8:
        parser.error("--client-processes must be 1..8")
    if args.client_processes > args.topics * args.receivers:
        parser.error("--client-processes must be at most --topics × --receivers (the receiver sockets)")

    def terminate(signum, frame):  # noqa: ARG001
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    bench = Bench(args)
    try:
        report = asyncio.run(bench.run())
    except (RuntimeError, OSError, ValueError, KeyError, RespError, ConnectionClosed, asyncio.TimeoutError) as error:
        log(f"FAILED: {type(error).__name__}: {error}")
        return 1
    for instance in bench.instances:
        if not process_alive(instance.pid):
            log(f"FAILED: server {instance.name} (pid {instance.pid}) exited during the run")
            return 1
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
