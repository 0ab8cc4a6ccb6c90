#!/usr/bin/env python3
"""Group calls through Janus (issue 18): the driver of scripts/bench/sfu.sh, which runs it
inside the SFU suite's network namespace (Janus gathers no ICE candidate on a loopback
interface; spec shared/specs/sfu-janus.md §9). Prints ONE JSON object on stdout, with the
"figures" list scripts/bench/all reads; progress goes to stderr.

Everything is started here and stopped at the end (also on SIGTERM): three Janus nodes named
in SFU_NODES and a fourth for B2 (Tests/e2e/sfu/janus_nodes.py: Debian's janus, the test
configuration), the server with its embedded database and the test OTP numbers
(Tests/e2e/conftest.py's launched_server, ECOMANSONI_BIN), and the devices: aiortc peers of
Tests/e2e/sfu/sfu_peer.py (VP8 320×240@30 moving bar + opus; max-bundle; gathering on the
namespace's 127.0.0.1) speaking calls-ws through calls_support.CallsClient, and the same aiortc
code driving the Janus API directly through a WebSocket client written here (`RawJanus`).

B1, join → first frame (spec §9 B1)
  calls-ws: BENCH_PUBLISHERS devices join one sfu room, publish (`sfu.publish`) and wait for
  `sfu.connection {pc:"pub", state:"up"}`. Then, one warm-up run and BENCH_RUNS measured
  runs, each: a new device of another user connects, signs in and joins the room
  (`ROOM_JOIN`: its Janus participant is made there, outside the timing), reads the feed ids
  from the `sfu.feeds` snapshot and sends `sfu.subscribe {streams:[{feedId}]}` for one
  publisher (run i takes publisher i mod BENCH_PUBLISHERS); it answers the `sfu.offer` on a new
  subscriber PeerConnection (`sfu.answer`, then `sfu.trickle` null) and the time from sending
  `sfu.subscribe` to the first decoded video frame of that feed is recorded (beside the
  `sfu.offer` arrival and the answer's ACK). The device then sends ROOM_LEAVE and closes.
  raw Janus, same node, same number of publishers, set up beside the calls-ws room and its
  runs interleaved with calls-ws's (the order swapped every run), so that a change in the
  machine's load reaches both alike: a room made with the admin key and the
  server's media settings (bitrate cap, codecs, audio levels) but no secret, ACL or
  `require_pvtid`; each publisher its own session (join ptype publisher, `publish` with the
  offer, trickle completed, `webrtcup`). Then the same runs, each: attach a handle, `join`
  ptype subscriber with streams [{feed}] and use_msid false, setRemoteDescription(offer) on a
  new PeerConnection, `start` with the answer, trickle completed, until the first decoded
  video frame; timed from the `join` request (the attach before it, about 1 ms, is reported
  apart). Medians and p90 of both, the ratio calls-ws / raw and the difference of the
  medians; target ratio ≤ 1.5 and ≤ 50 ms overhead. Each run also notes when its subscriber
  PeerConnection connected (DTLS done, normally 30–50 ms after the request): in some runs of
  both paths aiortc's first DTLS flight, sent as soon as its ICE checks succeed, is lost on
  Janus's side and resent a second later, and nothing reaches the subscriber until then.
  Those runs (connected after ≥ 500 ms) are counted, and the medians also given without them.

B2, forwarded streams per core (spec §9 B2), BENCH_B2_SUBSCRIBERS (comma-separated steps)
  On the fourth node, straight through its API: one publisher sending VP8 320×240@30 noise
  (the encoder at its REMB target, the room's 1 Mbit/s cap) and opus; subscribers added up to
  each step's count, their decoders replaced by a no-op (aiortc still receives, decrypts and
  reassembles every packet). With two cores or more, Janus's threads are pinned to the lowest
  core of this process's set and this process's to the others. Over BENCH_B2_SECONDS: Janus's
  CPU (utime+stime from /proc/<pid>/stat, all threads), the video packets received and lost
  (inbound-rtp stats) and the publisher's bitrate. Streams per core = subscribers ÷ Janus's
  CPU fraction (one video stream, and its audio, each); the spec counts it at ≤ 70 % CPU
  with no packet lost. With two steps or more, also the marginal figure: the subscribers added
  between the first and the last step over the Janus CPU they added (the publisher's own
  share of Janus left out). BENCH_B2_SUBSCRIBERS=0 leaves B2 out.

B3, recovery after a node failure (spec §9 B3, test 8), BENCH_FAILOVER_RUNS runs
  Each run waits until two nodes are `up` in calls.sfu_nodes (a killed node restarted by the
  previous run stays `down` for 30 s of good probes), then two devices of two users join a new
  sfu room, publish and `sfu.subscribe {all:true}`, and decode each other's video. The room's
  node (calls.sfu_rooms) is SIGKILLed; each device, on its own, waits for `sfu.interrupted`,
  then `sfu.restart`, then makes new PeerConnections, publishes and subscribes again at the
  new epoch, until the first decoded video frame of the other's feed. Times from the kill;
  per run the later device's. Then both leave and the killed node is started again. Targets
  (spec §9 test 8): interrupted ≤ 1 s, restart ≤ 5 s, media ≤ 8 s. There is no raw baseline:
  without calls-ws a client learns of the failure from ICE, 27–32 s later (spec §10).

A run that fails (no frame in time, an error answer) is counted in errors_total and left out
of the statistics; the JSON is still printed. Environment: see scripts/bench/sfu.sh.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
for folder in (ROOT / "Tests" / "e2e" / "sfu", ROOT / "Tests" / "e2e", HERE):
    sys.path.insert(0, str(folder))

import benchlib  # noqa: E402

log = benchlib.make_logger("sfu")


_TERMINATED: list[int] = []


def _stop_on_term(signum, frame):  # noqa: ARG001
    """Outside the event loop: the first SIGTERM unwinds (the finally blocks stop the Janus
    nodes and the server, each in a session of its own, out of reach of a process-group
    kill); later ones are ignored, so that they cannot cut that cleanup short."""
    if not _TERMINATED:
        _TERMINATED.append(signum)
        raise SystemExit(128 + signum)
    log(f"signal {signum} again: still stopping")


# Installed before the heavy imports, so that a SIGTERM from scripts/bench/all (which ends
# a smoke run that takes too long that way) still stops everything this run started.
signal.signal(signal.SIGTERM, _stop_on_term)

import aiortc  # noqa: E402
import aiortc.rtcrtpreceiver  # noqa: E402
import aioice  # noqa: E402
import av  # noqa: E402
import websockets  # noqa: E402
from aiortc import RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack  # noqa: E402

from calls_support import CallsClient, User  # noqa: E402
from conftest import launched_server  # noqa: E402
from e2e_support import TEST_OTPS, close_client, new_client, sign_in  # noqa: E402
from janus_nodes import JanusNode, in_media_namespace, janus_binary, make_nodes  # noqa: E402
from sfu_fixtures import sfu_environment, sql  # noqa: E402
from sfu_peer import MovingBar, PacedVideo, SfuPeer, Tone, configuration  # noqa: E402

# The calls protocol suite's test numbers (conftest.SERVER_ENV): this server has its own database.
PHONES = [f"+155555501{n}" for n in range(20, 32)]


def env_int(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name, "")
    try:
        value = int(raw) if raw else default
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise SystemExit(f"[sfu] error: {name} must be an integer {low}..{high} (got {raw!r})")
    return value


@dataclass
class Settings:
    publishers: int
    runs: int
    failover_runs: int
    b2_steps: list[int]
    b2_seconds: int
    frame_timeout: float = 15.0

    @classmethod
    def from_env(cls) -> "Settings":
        steps_text = os.environ.get("BENCH_B2_SUBSCRIBERS", "10,20").strip()
        try:
            steps = sorted({int(s) for s in steps_text.split(",") if s.strip()})
        except ValueError:
            raise SystemExit(f"[sfu] error: BENCH_B2_SUBSCRIBERS must be comma-separated integers (got {steps_text!r})")
        if any(s < 0 or s > 200 for s in steps):
            raise SystemExit("[sfu] error: BENCH_B2_SUBSCRIBERS steps must be 0..200")
        return cls(publishers=env_int("BENCH_PUBLISHERS", 2, 1, 10), runs=env_int("BENCH_RUNS", 20, 1, 1000),
                   failover_runs=env_int("BENCH_FAILOVER_RUNS", 3, 0, 50),
                   b2_steps=[s for s in steps if s > 0], b2_seconds=env_int("BENCH_B2_SECONDS", 10, 1, 600))


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def summary(values_ms: list[float]) -> dict:
    """count, median, p90, min, max of milliseconds (nearest-rank percentiles, benchlib)."""
    values = sorted(v for v in values_ms if v is not None)
    return {
        "count": len(values),
        "p50_ms": benchlib.percentile(values, 0.5),
        "p90_ms": benchlib.percentile(values, 0.9),
        "min_ms": values[0] if values else None,
        "max_ms": values[-1] if values else None,
    }


def ratio(value, baseline, digits: int = 3):
    if isinstance(value, (int, float)) and isinstance(baseline, (int, float)) and baseline:
        return round(value / baseline, digits)
    return None


class Errors:
    def __init__(self) -> None:
        self.items: list[dict] = []

    def add(self, phase: str, run: int | None, error: BaseException | str) -> None:
        text = str(error).splitlines()[0][:400] if str(error) else type(error).__name__
        self.items.append({"phase": phase, "run": run, "error": text})
        log(f"{phase} run {run}: FAILED: {text}")


# =========================================================================== raw Janus API


class JanusError(Exception):
    pass


class RawJanus:
    """A Janus API WebSocket (`janus-protocol`), with the api secret on every request: replies
    matched by transaction, other events queued by the handle that sent them."""

    def __init__(self, url: str, api_secret: str) -> None:
        self.url = url
        self.api_secret = api_secret
        self.ws = None
        self.pending: dict[str, asyncio.Future] = {}
        self.acks: dict[str, asyncio.Future] = {}
        self.events: dict[int, asyncio.Queue] = {}
        self.tasks: list[asyncio.Task] = []

    async def open(self) -> None:
        self.ws = await websockets.connect(self.url, subprotocols=["janus-protocol"], max_size=2**22)
        self.tasks.append(asyncio.create_task(self._read()))

    async def _read(self) -> None:
        try:
            async for text in self.ws:
                message = json.loads(text)
                transaction, kind = message.get("transaction"), message.get("janus")
                if transaction and kind == "ack":
                    future = self.acks.pop(transaction, None)
                    if future and not future.done():
                        future.set_result(message)
                elif transaction and transaction in self.pending:
                    future = self.pending.pop(transaction)
                    if not future.done():
                        future.set_result(message)
                elif message.get("sender"):
                    self.queue(message["sender"]).put_nowait((time.monotonic(), message))
        except websockets.ConnectionClosed:
            pass
        finally:
            for future in [*self.pending.values(), *self.acks.values()]:
                if not future.done():
                    future.set_exception(JanusError("the Janus socket closed"))

    def queue(self, handle: int) -> asyncio.Queue:
        return self.events.setdefault(handle, asyncio.Queue())

    async def call(self, body: dict, *, ack_only: bool = False, timeout: float = 10.0) -> dict:
        transaction = secrets.token_hex(8)
        future = asyncio.get_running_loop().create_future()
        (self.acks if ack_only else self.pending)[transaction] = future
        await self.ws.send(json.dumps({**body, "transaction": transaction, "apisecret": self.api_secret}))
        try:
            reply = await asyncio.wait_for(future, timeout)
        finally:
            self.pending.pop(transaction, None)
            self.acks.pop(transaction, None)
        if reply.get("janus") == "error":
            raise JanusError(f"{body.get('janus')}: {reply.get('error')}")
        data = (reply.get("plugindata") or {}).get("data") or {}
        if data.get("error_code"):
            raise JanusError(f"{(body.get('body') or {}).get('request')}: {data.get('error_code')} {data.get('error')}")
        return reply

    async def session(self) -> int:
        session = (await self.call({"janus": "create"}))["data"]["id"]
        self.tasks.append(asyncio.create_task(self._keepalive(session)))
        return session

    async def _keepalive(self, session: int) -> None:
        while True:
            await asyncio.sleep(10)
            try:
                await self.call({"janus": "keepalive", "session_id": session}, ack_only=True)
            except (JanusError, asyncio.TimeoutError, websockets.ConnectionClosed):
                return

    async def attach(self, session: int) -> int:
        return (await self.call({"janus": "attach", "session_id": session, "plugin": "janus.plugin.videoroom"}))["data"]["id"]

    async def message(self, session: int, handle: int, body: dict, jsep: dict | None = None) -> dict:
        request = {"janus": "message", "session_id": session, "handle_id": handle, "body": body}
        if jsep is not None:
            request["jsep"] = jsep
        return await self.call(request)

    async def trickle_completed(self, session: int, handle: int) -> None:
        await self.call({"janus": "trickle", "session_id": session, "handle_id": handle, "candidate": {"completed": True}},
                        ack_only=True)

    async def wait_event(self, handle: int, kind: str, timeout: float = 10.0) -> tuple[float, dict]:
        """The next event `kind` (`webrtcup`, `media`, `hangup`, …) from `handle`."""
        queue = self.queue(handle)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise JanusError(f"no {kind} from handle {handle} within {timeout} s")
            at, message = await asyncio.wait_for(queue.get(), left)
            if message.get("janus") == kind:
                return at, message

    async def detach(self, session: int, handle: int) -> None:
        try:
            await self.call({"janus": "detach", "session_id": session, "handle_id": handle}, timeout=5)
        except (JanusError, asyncio.TimeoutError):
            pass
        self.events.pop(handle, None)

    async def destroy(self, session: int) -> None:
        try:
            await self.call({"janus": "destroy", "session_id": session}, timeout=5)
        except (JanusError, asyncio.TimeoutError):
            pass

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        if self.ws is not None:
            await self.ws.close()


def room_settings(room: int, admin_key: str) -> dict:
    """The media settings of the server's rooms (SfuCoordinator.create), without the secret,
    the ACL and require_pvtid."""
    return {"request": "create", "room": room, "admin_key": admin_key, "permanent": False, "is_private": False,
            "publishers": 12, "bitrate": 1000000, "bitrate_cap": True, "fir_freq": 10, "audiocodec": "opus",
            "videocodec": "vp8", "opus_fec": True, "opus_dtx": False, "audiolevel_ext": True, "audiolevel_event": True,
            "audio_active_packets": 50, "audio_level_average": 40, "notify_joining": False, "record": False}


class RawPublisher:
    """One publisher of its own session: join, `publish` with the offer, trickle completed."""

    def __init__(self, janus: RawJanus, room: int, video: MediaStreamTrack | None = None) -> None:
        self.janus, self.room = janus, room
        self.video = video or MovingBar()
        self.audio = Tone(False)
        self.pc: RTCPeerConnection | None = None
        self.session = self.handle = self.feed = None

    async def start(self) -> None:
        self.session = await self.janus.session()
        self.handle = await self.janus.attach(self.session)
        joined = await self.janus.message(self.session, self.handle,
                                          {"request": "join", "ptype": "publisher", "room": self.room, "display": "bench"})
        self.feed = joined["plugindata"]["data"]["id"]
        self.pc = RTCPeerConnection(configuration())
        self.pc.addTrack(self.audio)
        self.pc.addTrack(self.video)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        reply = await self.janus.message(self.session, self.handle, {"request": "publish"},
                                         jsep={"type": "offer", "sdp": self.pc.localDescription.sdp})
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=reply["jsep"]["sdp"], type="answer"))
        await self.janus.trickle_completed(self.session, self.handle)
        await self.janus.wait_event(self.handle, "webrtcup", timeout=15)

    async def close(self) -> None:
        if self.pc is not None:
            await self.pc.close()
        if self.session is not None:
            await self.janus.destroy(self.session)


class FirstFrames:
    """Reads every track of a subscriber PeerConnection; notes the first decoded video frame."""

    def __init__(self) -> None:
        self.video_first: float | None = None
        self.video_frames = 0
        self.got_video = asyncio.Event()
        self.tasks: list[asyncio.Task] = []

    def on_track(self, track) -> None:
        self.tasks.append(asyncio.create_task(self._read(track)))

    async def _read(self, track) -> None:
        try:
            while True:
                await track.recv()
                if track.kind == "video":
                    self.video_frames += 1
                    if self.video_first is None:
                        self.video_first = time.monotonic()
                        self.got_video.set()
        except MediaStreamError:
            return

    def close(self) -> None:
        for task in self.tasks:
            task.cancel()


class RawSubscriber:
    """One subscriber handle and PeerConnection: `join` with streams [{feed}], `start`."""

    def __init__(self, janus: RawJanus, session: int, room: int, feed: int) -> None:
        self.janus, self.session, self.room, self.feed = janus, session, room, feed
        self.pc: RTCPeerConnection | None = None
        self.handle: int | None = None
        self.frames = FirstFrames()
        self.times: dict[str, float] = {}
        self.connected_at: float | None = None

    async def subscribe(self) -> None:
        self.times["attach"] = time.monotonic()
        self.handle = await self.janus.attach(self.session)
        self.times["join"] = time.monotonic()
        reply = await self.janus.message(self.session, self.handle, {
            "request": "join", "ptype": "subscriber", "room": self.room, "use_msid": False, "streams": [{"feed": self.feed}]})
        self.times["offer"] = time.monotonic()
        self.pc = RTCPeerConnection(configuration())
        self.pc.on("track", self.frames.on_track)
        watch_connected(self.pc, self)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=reply["jsep"]["sdp"], type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self.janus.message(self.session, self.handle, {"request": "start"},
                                 jsep={"type": "answer", "sdp": self.pc.localDescription.sdp})
        await self.janus.trickle_completed(self.session, self.handle)
        self.times["answered"] = time.monotonic()

    async def close(self) -> None:
        self.frames.close()
        if self.pc is not None:
            await self.pc.close()
        if self.handle is not None:
            await self.janus.detach(self.session, self.handle)


# =========================================================================== calls-ws helpers


class TimedPeer(SfuPeer):
    """An SfuPeer that notes when each `sfu.offer` reached it, when its answer was taken and
    when its subscriber PeerConnection connected (DTLS done)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.offer_at: list[float] = []
        self.answered_at: list[float] = []
        self.connected_at: float | None = None

    async def answer(self, offer: dict[str, Any]) -> None:
        self.offer_at.append(time.monotonic())
        if self.sub is None:
            # What SfuPeer.answer does for the first offer, with a watch on the connection.
            self.sub = RTCPeerConnection(configuration())
            self.sub.on("track", self._on_track)
            watch_connected(self.sub, self)
        await super().answer(offer)
        self.answered_at.append(time.monotonic())


def watch_connected(pc: RTCPeerConnection, owner) -> None:
    """Sets owner.connected_at when `pc` first reaches connectionState "connected"."""
    @pc.on("connectionstatechange")
    def changed() -> None:
        if pc.connectionState == "connected" and owner.connected_at is None:
            owner.connected_at = time.monotonic()


async def close_peer(peer: SfuPeer) -> None:
    """SfuPeer.close, then its cancelled tasks awaited (their errors read, not left to the GC)."""
    await peer.close()
    await asyncio.gather(*peer._tasks, return_exceptions=True)  # noqa: SLF001


async def device(server, user: User) -> CallsClient:
    client = await CallsClient.connect(server.url, user.name)
    await client.login(user)
    return client


async def join(client: CallsClient, room: dict) -> tuple[int, list[dict]]:
    """ROOM_JOIN of an sfu room: (epoch, the feeds of the sfu.feeds snapshot)."""
    reply = await client.request("ROOM_JOIN", {"roomId": room["roomId"], "joinToken": room["joinToken"]}, timeout=10)
    reply.expect_ok()
    epoch = reply.response("ROOM_JOIN_OK")["payload"]["sfu"]["epoch"]
    return epoch, reply.response("sfu.feeds")["payload"].get("feeds") or []


async def leave(client: CallsClient, room_id: str) -> None:
    try:
        await client.request("ROOM_LEAVE", {"roomId": room_id}, timeout=10)
    except Exception:  # noqa: BLE001 - best effort: the socket is closed right after
        pass
    await client.close()


async def feed_of(client: CallsClient, other: CallsClient, timeout: float = 10.0) -> str:
    """The feedId `client` was told for `other`'s device (sfu.feeds snapshot or added)."""
    def entries(frame):
        return (frame["payload"].get("feeds") or []) + (frame["payload"].get("added") or [])

    frame = await client.next(lambda f: f.get("type") == "sfu.feeds" and any(e["deviceId"] == other.device_id for e in entries(f)),
                              timeout=timeout, what=f"the feed of {other.name}")
    return next(e["feedId"] for e in entries(frame) if e["deviceId"] == other.device_id)


async def sql_async(server, statement: str) -> list[list[str]]:
    return await asyncio.to_thread(sql, server, statement)


# =========================================================================== B1


class CallsWsPath:
    """B1 through calls-ws: the room and its publishing devices, and one run at a time."""

    label = "calls-ws"

    def __init__(self, server, users: list[User], settings: Settings) -> None:
        self.server, self.settings = server, settings
        self.users = users
        self.publishers: list[CallsClient] = []
        self.peers: list[SfuPeer] = []
        self.room: dict | None = None
        self.node_id: str | None = None
        self.runs: list[dict] = []

    async def set_up(self) -> None:
        count = self.settings.publishers
        for user in self.users[:count]:
            self.publishers.append(await device(self.server, user))
        self.room = await self.publishers[0].create_room(sorted({u.id for u in self.users[1:count + 1]}), mode="sfu")
        for client in self.publishers:
            epoch, _ = await join(client, self.room)
            self.peers.append(SfuPeer(client, self.room["roomId"], epoch))
        self.node_id = (await sql_async(self.server, f"SELECT node_id FROM calls.sfu_rooms WHERE room_id = '{self.room['roomId']}'"))[0][0]
        for peer in self.peers:
            await peer.publish()
            await peer.client.expect("sfu.connection", timeout=15, pc="pub", state="up")
        log(f"B1 calls-ws: {len(self.peers)} publisher(s) up on {self.node_id}")

    async def run(self, run: int) -> dict:
        room_id = self.room["roomId"]
        target = self.publishers[run % len(self.publishers)]
        client = await device(self.server, self.users[self.settings.publishers])
        peer = None
        try:
            epoch, feeds = await join(client, self.room)
            feed_id = next(f["feedId"] for f in feeds if f["deviceId"] == target.device_id)
            peer = TimedPeer(client, room_id, epoch)
            peer.follow_offers()
            started = time.monotonic()
            reply = await client.request("sfu.subscribe", {"roomId": room_id, "epoch": epoch, "streams": [{"feedId": feed_id}]},
                                         timeout=10)
            acked = time.monotonic()
            reply.expect_ok()
            received = await peer.wait_frames(feed_id, "video", count=1, timeout=self.settings.frame_timeout)
            return {"first_frame_ms": ms(received.first_at - started), "subscribe_ack_ms": ms(acked - started),
                    "offer_ms": ms(peer.offer_at[0] - started) if peer.offer_at else None,
                    "answered_ms": ms(peer.answered_at[0] - started) if peer.answered_at else None,
                    "connected_ms": ms(peer.connected_at - started) if peer.connected_at else None}
        finally:
            if peer is not None:
                await close_peer(peer)
            await leave(client, room_id)

    async def tear_down(self) -> None:
        for peer in self.peers:
            await close_peer(peer)
        for client in self.publishers:
            await leave(client, self.room["roomId"]) if self.room else await client.close()


class RawJanusPath:
    """B1 straight on the Janus API: a room of its own on the same node, the same number of
    publishers, and one subscriber handle and PeerConnection a run."""

    label = "raw Janus"

    def __init__(self, node: JanusNode, settings: Settings) -> None:
        self.node, self.settings = node, settings
        self.janus = RawJanus(node.url, node.api_secret)
        self.room = secrets.randbelow(2**50) + 1
        self.publishers: list[RawPublisher] = []
        self.admin = self.admin_handle = self.session = None
        self.runs: list[dict] = []

    async def set_up(self) -> None:
        await self.janus.open()
        self.admin = await self.janus.session()
        self.admin_handle = await self.janus.attach(self.admin)
        await self.janus.message(self.admin, self.admin_handle, room_settings(self.room, self.node.admin_key))
        for _ in range(self.settings.publishers):
            publisher = RawPublisher(self.janus, self.room)
            self.publishers.append(publisher)
            await publisher.start()
        self.session = await self.janus.session()
        log(f"B1 raw Janus: {len(self.publishers)} publisher(s) up on {self.node.node_id}")

    async def run(self, run: int) -> dict:
        target = self.publishers[run % len(self.publishers)]
        subscriber = RawSubscriber(self.janus, self.session, self.room, target.feed)
        try:
            await subscriber.subscribe()
            try:
                await asyncio.wait_for(subscriber.frames.got_video.wait(), self.settings.frame_timeout)
            except asyncio.TimeoutError:
                raise AssertionError(f"no video frame within {self.settings.frame_timeout} s") from None
            t = subscriber.times
            return {"first_frame_ms": ms(subscriber.frames.video_first - t["join"]),
                    "first_frame_from_attach_ms": ms(subscriber.frames.video_first - t["attach"]),
                    "attach_ms": ms(t["join"] - t["attach"]), "offer_ms": ms(t["offer"] - t["join"]),
                    "answered_ms": ms(t["answered"] - t["join"]),
                    "connected_ms": ms(subscriber.connected_at - t["join"]) if subscriber.connected_at else None}
        finally:
            await subscriber.close()

    async def tear_down(self) -> None:
        for publisher in self.publishers:
            await publisher.close()
        if self.admin_handle is not None:
            try:
                await self.janus.message(self.admin, self.admin_handle,
                                         {"request": "destroy", "room": self.room, "admin_key": self.node.admin_key})
            except Exception:  # noqa: BLE001
                pass
        for session in (self.session, self.admin):
            if session is not None:
                await self.janus.destroy(session)
        await self.janus.close()


async def b1(server, nodes: list[JanusNode], users: list[User], settings: Settings, errors: Errors) -> dict:
    """Both paths set up side by side on the same node, their runs interleaved (run i of one
    path, then run i of the other, the order swapped every run), so that a change in the
    machine's load reaches both alike; run 0 of each is a warm-up."""
    calls = CallsWsPath(server, users, settings)
    raw = None
    try:
        await calls.set_up()
        raw = RawJanusPath(next(n for n in nodes if n.node_id == calls.node_id), settings)
        await raw.set_up()
        await asyncio.sleep(1)
        for run in range(settings.runs + 1):
            for path in ((calls, raw) if run % 2 == 0 else (raw, calls)):
                try:
                    entry = {"run": run, "warm_up": run == 0, "publisher": run % settings.publishers, **await path.run(run)}
                    path.runs.append(entry)
                    log(f"B1 {path.label} run {run}{' (warm-up)' if run == 0 else ''}: first frame {entry['first_frame_ms']} ms "
                        f"(offer {entry['offer_ms']} ms, answered {entry['answered_ms']} ms, connected {entry['connected_ms']} ms)")
                except Exception as error:  # noqa: BLE001 - a failed run is counted, the others go on
                    errors.add(f"B1 {path.label}", run, error)
                await asyncio.sleep(0.2)
    finally:
        if raw is not None:
            await raw.tear_down()
        await calls.tear_down()
    return b1_result({"node": calls.node_id, "publishers": settings.publishers, "runs": calls.runs},
                     {"node": raw.node.node_id, "publishers": settings.publishers, "runs": raw.runs})


# A subscriber PeerConnection whose DTLS handshake is done later than this waited for a
# retransmission: aiortc's first handshake flight, sent once its ICE checks succeed, is
# sometimes lost on Janus's side and resent a second later (RFC 6347's initial timer), in
# both paths alike; such a run's first frame comes about 1 s later.
DTLS_LATE_MS = 500


def b1_result(calls: dict, raw: dict) -> dict:
    def measured(phase: dict, key: str, runs: list[dict] | None = None) -> list[float]:
        return [r[key] for r in (phase["runs"] if runs is None else runs) if not r["warm_up"] and r.get(key) is not None]

    def late(phase: dict) -> list[dict]:
        return [r for r in phase["runs"] if not r["warm_up"] and (r.get("connected_ms") or 0) >= DTLS_LATE_MS]

    def prompt(phase: dict) -> list[dict]:
        slow = late(phase)
        return [r for r in phase["runs"] if not r["warm_up"] and r not in slow]

    through, direct = summary(measured(calls, "first_frame_ms")), summary(measured(raw, "first_frame_ms"))
    through_prompt = summary(measured(calls, "first_frame_ms", prompt(calls)))
    direct_prompt = summary(measured(raw, "first_frame_ms", prompt(raw)))

    def difference(a, b):
        return round(a - b, 1) if a is not None and b is not None else None

    def details(phase: dict, prompt_summary: dict) -> dict:
        return {"first_frame_without_late_dtls": prompt_summary, "late_dtls_runs": len(late(phase)),
                "offer": summary(measured(phase, "offer_ms")), "answered": summary(measured(phase, "answered_ms")),
                "connected": summary(measured(phase, "connected_ms"))}

    return {
        "calls_ws": {**calls, "first_frame": through, **details(calls, through_prompt)},
        "raw_janus": {**raw, "first_frame": direct, **details(raw, direct_prompt),
                      "first_frame_from_attach": summary(measured(raw, "first_frame_from_attach_ms")),
                      "attach": summary(measured(raw, "attach_ms"))},
        "late_dtls_threshold_ms": DTLS_LATE_MS,
        "ratio_p50": ratio(through["p50_ms"], direct["p50_ms"]),
        "ratio_p90": ratio(through["p90_ms"], direct["p90_ms"]),
        "overhead_p50_ms": difference(through["p50_ms"], direct["p50_ms"]),
        "ratio_p50_without_late_dtls": ratio(through_prompt["p50_ms"], direct_prompt["p50_ms"]),
        "overhead_p50_without_late_dtls_ms": difference(through_prompt["p50_ms"], direct_prompt["p50_ms"]),
    }


# =========================================================================== B2


class NullDecoder:
    """Stands in for aiortc's decoders in B2: the packets are received, decrypted and
    reassembled into frames, which are then dropped (spec §9 B2: decoding disabled)."""

    def decode(self, encoded_frame):  # noqa: ARG002
        return []


class Noise(PacedVideo):
    """A band of changing noise 80 pixels wide on grey: aiortc's VP8 encoder then sends about
    its 1 Mbit/s target (a full frame of noise would take 3.3)."""

    def __init__(self) -> None:
        super().__init__()
        self._planes = [b"".join(os.urandom(80) + bytes([90]) * 240 for _ in range(240)) for _ in range(8)]

    def paint(self, luma, count: int) -> None:
        source = self._planes[count % len(self._planes)]
        if luma.line_size == 320:
            luma.update(source)
        else:
            luma.update(b"".join(source[y * 320:(y + 1) * 320] + bytes(luma.line_size - 320) for y in range(240)))


def threads_of(pid: int | str) -> list[int]:
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return []


def pin(pid: int | str, cores: set[int]) -> None:
    for tid in threads_of(pid):
        try:
            os.sched_setaffinity(tid, cores)
        except OSError:
            pass


async def video_stats(pc: RTCPeerConnection) -> dict:
    report = await pc.getStats()
    out = {"packets_received": 0, "packets_lost": 0, "bytes_received": 0, "bytes_sent": 0}
    for stats in report.values():
        kind = getattr(stats, "type", "")
        if kind == "inbound-rtp" and getattr(stats, "kind", "") == "video":
            out["packets_received"] += stats.packetsReceived
            out["packets_lost"] += max(0, stats.packetsLost)
        elif kind == "outbound-rtp" and getattr(stats, "kind", "") == "video":
            out["bytes_sent"] += stats.bytesSent
        elif kind == "transport":
            out["bytes_received"] += stats.bytesReceived
    return out


async def b2(node: JanusNode, settings: Settings, errors: Errors) -> dict:
    janus_pid = node.process.pid
    available = sorted(os.sched_getaffinity(0))
    pinned = len(available) >= 2
    janus_cores, client_cores = ({available[0]}, set(available[1:])) if pinned else (set(available), set(available))
    if pinned:
        pin(janus_pid, janus_cores)
        pin("self", client_cores)
    original_decoder = aiortc.rtcrtpreceiver.get_decoder
    aiortc.rtcrtpreceiver.get_decoder = lambda codec: NullDecoder()  # noqa: ARG005
    janus = RawJanus(node.url, node.api_secret)
    await janus.open()
    room = secrets.randbelow(2**50) + 1
    publisher = RawPublisher(janus, room, video=Noise())
    subscribers: list[RawSubscriber] = []
    steps: list[dict] = []
    admin = await janus.session()
    admin_handle = None
    try:
        admin_handle = await janus.attach(admin)
        await janus.message(admin, admin_handle, room_settings(room, node.admin_key))
        await publisher.start()
        session = await janus.session()
        await asyncio.sleep(2)  # the encoder reaches the REMB target
        for count in settings.b2_steps:
            while len(subscribers) < count:
                subscriber = RawSubscriber(janus, session, room, publisher.feed)
                subscribers.append(subscriber)
                await subscriber.subscribe()
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                counts = [(await video_stats(s.pc))["packets_received"] for s in subscribers]
                if all(counts):
                    break
                await asyncio.sleep(0.2)
            else:
                errors.add("B2", count, f"{sum(1 for c in counts if not c)} of {count} subscribers received no video")
                continue
            await asyncio.sleep(1)
            before = [await video_stats(s.pc) for s in subscribers]
            sent_before = await video_stats(publisher.pc)
            janus_before, client_before = benchlib.process_cpu(janus_pid), benchlib.process_cpu(os.getpid())
            started = time.monotonic()
            await asyncio.sleep(settings.b2_seconds)
            seconds = time.monotonic() - started
            janus_after, client_after = benchlib.process_cpu(janus_pid), benchlib.process_cpu(os.getpid())
            after = [await video_stats(s.pc) for s in subscribers]
            sent_after = await video_stats(publisher.pc)
            janus_fraction = (janus_after - janus_before) / seconds
            received = sum(a["packets_received"] - b["packets_received"] for a, b in zip(after, before))
            lost = sum(a["packets_lost"] - b["packets_lost"] for a, b in zip(after, before))
            step = {
                "subscribers": count, "seconds": round(seconds, 2),
                "janus_cpu_fraction": round(janus_fraction, 4),
                "streams_per_core": round(count / janus_fraction, 1) if janus_fraction > 0 else None,
                "client_cpu_fraction": round((client_after - client_before) / seconds, 3),
                "publisher_video_kbit_s": round((sent_after["bytes_sent"] - sent_before["bytes_sent"]) * 8 / seconds / 1000, 1),
                "received_kbit_s_per_subscriber": round(sum(a["bytes_received"] - b["bytes_received"] for a, b in zip(after, before))
                                                        * 8 / seconds / 1000 / count, 1),
                "video_packets_received": received, "video_packets_lost": lost,
                "janus_rss_mb": round((benchlib.process_rss_bytes(janus_pid) or 0) / 2**20, 1),
            }
            step["valid"] = janus_fraction <= 0.7 and lost == 0
            steps.append(step)
            log(f"B2 {count} subscribers: Janus {100 * janus_fraction:.1f} % of a core → {step['streams_per_core']} streams/core; "
                f"publisher {step['publisher_video_kbit_s']} kbit/s video; {lost} of {received + lost} video packets lost; "
                f"client {100 * step['client_cpu_fraction']:.0f} %")
    finally:
        for subscriber in subscribers:
            await subscriber.close()
        await publisher.close()
        if admin_handle is not None:
            try:
                await janus.message(admin, admin_handle, {"request": "destroy", "room": room, "admin_key": node.admin_key})
            except Exception:  # noqa: BLE001
                pass
        await janus.destroy(admin)
        await janus.close()
        aiortc.rtcrtpreceiver.get_decoder = original_decoder
        if pinned:
            pin("self", set(available))
    marginal = None
    if len(steps) >= 2 and steps[-1]["janus_cpu_fraction"] > steps[0]["janus_cpu_fraction"]:
        # What one more subscriber costs, without the publisher's own share of Janus's CPU.
        marginal = round((steps[-1]["subscribers"] - steps[0]["subscribers"])
                         / (steps[-1]["janus_cpu_fraction"] - steps[0]["janus_cpu_fraction"]), 1)
    return {"node": node.node_id, "pinned": {"janus": sorted(janus_cores), "clients": sorted(client_cores)} if pinned else None,
            "steps": steps, "marginal_streams_per_core": marginal}


# =========================================================================== B3


async def wait_nodes_up(server, count: int, timeout: float = 90.0) -> float:
    started = time.monotonic()
    while True:
        up = int((await sql_async(server, "SELECT count(*) FROM calls.sfu_nodes WHERE state = 'up'"))[0][0])
        if up >= count:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"only {up} SFU node(s) up after {timeout:.0f} s")
        await asyncio.sleep(0.5)


async def b3(server, nodes: list[JanusNode], users: list[User], settings: Settings, errors: Errors) -> dict:
    runs: list[dict] = []
    for run in range(settings.failover_runs):
        clients: list[CallsClient] = []
        peers: list[SfuPeer] = []
        room_id = None
        killed_node = None
        try:
            waited = await wait_nodes_up(server, 2)
            clients = [await device(server, users[0]), await device(server, users[1])]
            ann, ben = clients
            room = await ann.create_room([ben.user_id], mode="sfu")
            room_id = room["roomId"]
            for client in clients:
                epoch, _ = await join(client, room)
                peers.append(SfuPeer(client, room_id, epoch))
            for peer in peers:
                await peer.publish()
                peer.follow_offers()
                await peer.subscribe_all()
            feeds = [await feed_of(ann, ben), await feed_of(ben, ann)]  # what each peer receives: the other's feed
            for peer, feed in zip(peers, feeds):
                await peer.wait_frames(feed, timeout=settings.frame_timeout)
            node_id = (await sql_async(server, f"SELECT node_id FROM calls.sfu_rooms WHERE room_id = '{room_id}'"))[0][0]
            killed_node = next(n for n in nodes if n.node_id == node_id)
            await asyncio.sleep(0.5)

            async def recover(peer: SfuPeer, feed: str, killed: float) -> dict:
                client = peer.client
                await client.expect("sfu.interrupted", timeout=15, roomId=room_id, reason="node_failed")
                interrupted = time.monotonic() - killed
                restart = await client.expect("sfu.restart", timeout=30, roomId=room_id)
                restarted = time.monotonic() - killed
                await peer.restart(restart["payload"]["epoch"])
                await peer.publish()
                await peer.subscribe_all()
                renegotiated = time.monotonic() - killed
                received = await peer.wait_frames(feed, timeout=30)
                return {"interrupted_ms": ms(interrupted), "restart_ms": ms(restarted), "renegotiated_ms": ms(renegotiated),
                        "media_ms": ms(received.first_at - killed), "epoch": restart["payload"]["epoch"]}

            killed = time.monotonic()
            killed_node.kill()
            devices = await asyncio.gather(*(recover(peer, feed, killed) for peer, feed in zip(peers, feeds)))
            moved_to = (await sql_async(server, f"SELECT node_id FROM calls.sfu_rooms WHERE room_id = '{room_id}'"))[0][0]
            entry = {"run": run, "killed": node_id, "moved_to": moved_to, "waited_for_nodes_s": round(waited, 1),
                     "interrupted_ms": max(d["interrupted_ms"] for d in devices),
                     "restart_ms": max(d["restart_ms"] for d in devices),
                     "media_ms": max(d["media_ms"] for d in devices), "devices": devices}
            runs.append(entry)
            log(f"B3 run {run}: killed {node_id}, moved to {moved_to}: interrupted {entry['interrupted_ms']} ms, "
                f"restart {entry['restart_ms']} ms, media back {entry['media_ms']} ms")
        except Exception as error:  # noqa: BLE001
            errors.add("B3", run, error)
        finally:
            for peer in peers:
                await close_peer(peer)
            for client in clients:
                await leave(client, room_id) if room_id else await client.close()
            if killed_node is not None and (killed_node.process is None or killed_node.process.poll() is not None):
                await asyncio.to_thread(killed_node.start)
    values = {key: summary([r[key] for r in runs]) for key in ("interrupted_ms", "restart_ms", "media_ms")}
    return {"runs": runs, "interrupted": values["interrupted_ms"], "restart": values["restart_ms"], "media": values["media_ms"]}


# =========================================================================== report


def signed(value) -> str:
    return "—" if value is None else f"{value:+g}"


def figures(b1: dict | None, b2_result: dict | None, b3_result: dict | None, errors_total: int, settings: Settings) -> list[dict]:
    out = []
    if b1:
        calls, raw = b1["calls_ws"], b1["raw_janus"]
        through, direct = calls["first_frame"], raw["first_frame"]
        overhead = b1["overhead_p50_ms"]
        meets = None
        if b1["ratio_p50"] is not None and overhead is not None:
            meets = b1["ratio_p50"] <= 1.5 and overhead <= 50
        shape = f"{through['count']} runs, {calls['publishers']} publisher(s) in the room"
        out.append({
            "figure": "B1 sfu.subscribe → first decoded video frame, through calls-ws (median)",
            "value": through["p50_ms"], "unit": "ms", "baseline": direct["p50_ms"], "baseline_unit": "ms",
            "baseline_what": "the same aiortc client on the Janus API: `join` ptype subscriber → first frame, same node",
            "ratio": b1["ratio_p50"],
            "detail": f"{shape}; {signed(overhead)} ms against raw; offer after {calls['offer']['p50_ms']} ms (raw {raw['offer']['p50_ms']} ms), "
                      f"answer taken after {calls['answered']['p50_ms']} ms (raw {raw['answered']['p50_ms']} ms)",
            "target": "ratio ≤ 1.5 and ≤ 50 ms more", "meets_target": meets})
        out.append({
            "figure": "B1 sfu.subscribe → first decoded video frame, through calls-ws (p90)",
            "value": through["p90_ms"], "unit": "ms", "baseline": direct["p90_ms"], "baseline_unit": "ms",
            "baseline_what": "raw Janus API p90, same runs", "ratio": b1["ratio_p90"],
            "detail": f"{shape}; max {through['max_ms']} ms (raw {direct['max_ms']} ms); "
                      f"{calls['late_dtls_runs']} calls-ws and {raw['late_dtls_runs']} raw runs waited about 1 s for a "
                      f"DTLS retransmission (connected after ≥ {b1['late_dtls_threshold_ms']} ms)"})
        fast, fast_raw = calls["first_frame_without_late_dtls"], raw["first_frame_without_late_dtls"]
        out.append({
            "figure": "B1 sfu.subscribe → first decoded video frame, through calls-ws, runs without a DTLS retransmission (median)",
            "value": fast["p50_ms"], "unit": "ms", "baseline": fast_raw["p50_ms"], "baseline_unit": "ms",
            "baseline_what": "raw Janus API, its runs without one", "ratio": b1["ratio_p50_without_late_dtls"],
            "detail": f"{fast['count']} and {fast_raw['count']} runs; {signed(b1['overhead_p50_without_late_dtls_ms'])} ms against raw; "
                      f"p90 {fast['p90_ms']} ms (raw {fast_raw['p90_ms']} ms); DTLS connected after "
                      f"{calls['connected']['p50_ms']} ms (raw {raw['connected']['p50_ms']} ms)"})
    if b2_result:
        for step in b2_result["steps"]:
            out.append({
                "figure": f"B2 video streams Janus forwards per core, {step['subscribers']} subscribers",
                "value": step["streams_per_core"], "unit": "streams/core",
                "detail": f"Janus {round(100 * step['janus_cpu_fraction'], 1)} % of a core for {step['subscribers']} × "
                          f"({step['publisher_video_kbit_s']} kbit/s VP8 + opus); {step['video_packets_lost']} of "
                          f"{step['video_packets_received'] + step['video_packets_lost']} video packets lost; "
                          + ("Janus pinned to one core" if b2_result["pinned"] else "not pinned (one core)"),
                "target": "sets SFU_NODE_CAPACITY_STREAMS (default 200); counted at ≤ 70 % CPU, no loss",
                "meets_target": None})
        if b2_result.get("marginal_streams_per_core"):
            first, last = b2_result["steps"][0], b2_result["steps"][-1]
            out.append({
                "figure": f"B2 video streams per core, marginal ({first['subscribers']} → {last['subscribers']} subscribers)",
                "value": b2_result["marginal_streams_per_core"], "unit": "streams/core",
                "detail": "the added subscribers over the added Janus CPU: the publisher's own share left out"})
    if b3_result and b3_result["runs"]:
        count = b3_result["media"]["count"]
        for key, label, limit in (("interrupted", "sfu.interrupted", 1000), ("restart", "sfu.restart", 5000),
                                  ("media", "first decoded video frame again", 8000)):
            value = b3_result[key]
            out.append({
                "figure": f"B3 node SIGKILL → {label} (median of {count})", "value": value["p50_ms"], "unit": "ms",
                "detail": f"max {value['max_ms']} ms; both devices of a 2-device room"
                          + ("; a client alone learns of it from ICE 27–32 s later (spec §10)" if key == "media" else ""),
                "target": f"≤ {limit} ms", "meets_target": value["max_ms"] <= limit if value["max_ms"] is not None else None})
    out.append({"figure": "failed runs, every phase", "value": errors_total, "unit": "errors", "target": "0",
                "meets_target": errors_total == 0})
    return out


def versions() -> dict:
    janus = None
    try:
        text = subprocess.run([janus_binary(), "--version"], capture_output=True, text=True, timeout=10).stdout
        janus = next((line.split("(")[-1].rstrip(")") for line in text.splitlines() if line.startswith("Janus version")), None)
    except (OSError, subprocess.TimeoutExpired, TypeError):
        pass
    return {"janus": janus, "aiortc": aiortc.__version__, "aioice": getattr(aioice, "__version__", None),
            "pyav": av.__version__, "websockets": websockets.__version__, "python": platform.python_version()}


def count_loop_exceptions(counts: dict[str, int]) -> None:
    """Background exceptions of the event loop (aioice choking on a STUN packet, a cancelled
    helper task): one line each kind, then only counted (`loop_exceptions` in the JSON)."""
    def handler(loop, context) -> None:  # noqa: ARG001
        error = context.get("exception")
        kind = f"{context.get('message')}: {type(error).__name__ if error else ''}".strip(": ")
        counts[kind] = counts.get(kind, 0) + 1
        if counts[kind] == 1:
            log(f"(event loop: {kind}: {str(error)[:200] if error else ''}; further ones only counted)")
    asyncio.get_running_loop().set_exception_handler(handler)


async def measure(server, nodes: list[JanusNode], b2_node: JanusNode, settings: Settings, errors: Errors) -> dict:
    users: list[User] = []
    loop_exceptions: dict[str, int] = {}
    count_loop_exceptions(loop_exceptions)
    try:
        for index in range(max(settings.publishers + 1, 2)):
            phone = PHONES[index]
            user = User(f"u{index}", phone)
            user.client = await new_client(server.url, server.anon_key)
            session = (await sign_in(user.client, phone, TEST_OTPS[phone])).session
            user.id, user.token = session.user.id, session.access_token
            users.append(user)
        result: dict[str, Any] = {}
        log(f"B1: {settings.runs} runs (+1 warm-up) each way, {settings.publishers} publisher(s)")
        result["b1"] = await b1(server, nodes, users, settings, errors)
        if settings.b2_steps:
            log(f"B2: {', '.join(map(str, settings.b2_steps))} subscribers, {settings.b2_seconds} s each, on {b2_node.node_id}")
            try:
                result["b2"] = await b2(b2_node, settings, errors)
            except Exception as error:  # noqa: BLE001
                errors.add("B2", None, error)
                result["b2"] = None
        else:
            result["b2"] = None
        if settings.failover_runs:
            log(f"B3: {settings.failover_runs} node kill(s)")
            result["b3"] = await b3(server, nodes, users, settings, errors)
        else:
            result["b3"] = None
        result["loop_exceptions"] = loop_exceptions
        return result
    finally:
        for user in users:
            if user.client is not None:
                await close_client(user.client)


CLEANUP_SECONDS = 20


def run_measurement(coroutine) -> Any:
    """Runs the measurement on an event loop of its own. SIGTERM or Ctrl-C cancels it; its
    cleanup (closing PeerConnections, ROOM_LEAVE) gets CLEANUP_SECONDS, then the loop is
    stopped whatever still waits, so that the Janus nodes and the server are always stopped."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    task = loop.create_task(coroutine)

    def stop(signum: int) -> None:
        if _TERMINATED:
            return
        _TERMINATED.append(signum)
        log(f"signal {signum}: stopping (the cleanup gets {CLEANUP_SECONDS} s)")
        task.cancel()
        loop.call_later(CLEANUP_SECONDS, loop.stop)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop, signum)
    try:
        return loop.run_until_complete(task)
    except (asyncio.CancelledError, RuntimeError):
        if _TERMINATED:
            raise SystemExit(128 + _TERMINATED[0]) from None
        raise
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        signal.signal(signal.SIGTERM, _stop_on_term)
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for leftover in pending:
            leftover.cancel()
        if pending:
            try:
                loop.run_until_complete(asyncio.wait(pending, timeout=5))
            except RuntimeError:
                pass
        loop.close()


def main() -> int:
    settings = Settings.from_env()
    problem = None if janus_binary() else "janus is not installed"
    if problem is None and not in_media_namespace():
        problem = "not inside the SFU network namespace (run scripts/bench/sfu.sh, which enters it)"
    if problem:
        log(f"error: {problem}")
        return 1
    binary = os.environ.get("ECOMANSONI_BIN") or str(ROOT / ".build" / "release" / "ecomansoni")
    keep = os.environ.get("BENCH_KEEP") == "1"
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "")
    document: dict[str, Any] = {
        "benchmark": "group calls through Janus (scripts/bench/sfu.sh)",
        "machine": benchlib.machine_facts(cpu),
        "binary": {"path": binary, "kind": benchlib.binary_kind(str(Path(binary).resolve()))},
        "versions": versions(),
        "parameters": {"publishers": settings.publishers, "runs": settings.runs, "failover_runs": settings.failover_runs,
                       "b2_subscribers": settings.b2_steps, "b2_seconds": settings.b2_seconds,
                       "smoke": os.environ.get("BENCH_SMOKE") == "1"},
    }
    errors = Errors()
    directory = Path(tempfile.mkdtemp(prefix="ecom-sfu-bench-"))
    nodes = make_nodes(directory, 4)
    for index, node in enumerate(nodes):
        # Beside the SFU suite's nodes (20000-23999), should it run in the namespace meanwhile.
        node.rtp_ports = (24000 + 2000 * index, 25999 + 2000 * index)
    placed, b2_node = nodes[:3], nodes[3]
    b2_node.node_id = "janus-b2"
    started = time.monotonic()
    result = None
    try:
        for node in nodes:
            node.start()
        log(f"Janus nodes: {', '.join(f'{n.node_id} on {n.port} (pid {n.process.pid})' for n in nodes)}; "
            f"SFU_NODES names the first {len(placed)}")
        environment = sfu_environment(placed)
        environment["SFU_MAX_PUBLISHERS"] = "12"
        log(f"starting {binary}")
        with launched_server("sfu bench", environment) as server:
            log(f"server on {server.url} (pid {server.process.pid}, log {server.log_path})")
            result = run_measurement(measure(server, placed, b2_node, settings, errors))
            document["server_log"] = benchlib.server_log_summary(str(server.log_path), samples=5)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # noqa: BLE001 - pytest.fail (launched_server) is a BaseException
        log(f"error: {type(error).__name__}: {str(error)[:2000]}")
        return 1
    finally:
        for node in nodes:
            node.stop()
        if keep:
            log(f"kept {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)
    document.update(result)
    document["errors"] = errors.items
    document["errors_total"] = len(errors.items)
    document["seconds"] = round(time.monotonic() - started, 1)
    document["figures"] = figures(result.get("b1"), result.get("b2"), result.get("b3"), len(errors.items), settings)
    print(json.dumps(document, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
