"""An aiortc device speaking only the calls-ws envelope and its `sfu.*` frames (docs/sfu.md).

`SfuPeer` publishes a VP8 320×240@30 moving bar and 48 kHz opus (a tone or silence) on its
publisher PeerConnection, subscribes on one subscriber PeerConnection, answers every offer
the server pushes, and counts the frames it decodes per subscriber m-line (and notes the width
of each video keyframe as it arrives). aiortc needs `bundlePolicy=max-bundle` for Janus's
multistream offers (aiortc issue 1414) and is told to gather on 127.0.0.1, which the suite's
namespace carries on a veth (spec sfu-janus.md §9).
"""

from __future__ import annotations

import asyncio
import fractions
import math
import time
from dataclasses import dataclass, field
from typing import Any

import aioice.ice
import array
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.codecs.vpx import VpxPayloadDescriptor
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, VideoFrame

from calls_support import CallsClient, Frame

# aioice drops loopback addresses; in the suite's namespace 127.0.0.1 sits on a veth.
aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=False: ["127.0.0.1"]
# aioice counts a consent check (RFC 7675) failed when its one request has no answer within
# 0.5 s, and closes the connection after six in a row. The event loop of a process decoding
# several streams on a starved machine reads answers later than that (seen with the CPU
# half taken: every subscriber PeerConnection closed 33–36 s after it connected); a browser counts a late answer.
# Two minutes of unanswered checks, then.
aioice.ice.CONSENT_FAILURES = 24


VIDEO_CLOCK = 90000


class PacedVideo(MediaStreamTrack):
    """320×240 yuv420p frames at 30 fps, each painted by `paint(luma, count)` on grey chroma."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self._start: float | None = None
        self._count = 0

    def paint(self, luma, count: int) -> None:
        raise NotImplementedError

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.time()
        else:
            self._count += 1
            await asyncio.sleep(max(0.0, self._start + self._count / 30 - time.time()))
        frame = VideoFrame(width=320, height=240, format="yuv420p")
        self.paint(frame.planes[0], self._count)
        for chroma in frame.planes[1:]:
            chroma.update(b"\x80" * chroma.buffer_size)
        frame.pts = self._count * (VIDEO_CLOCK // 30)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        return frame


class MovingBar(PacedVideo):
    """A white bar crossing a grey field."""

    def paint(self, luma, count: int) -> None:
        x = (count * 4) % 304
        row = bytearray([90]) * luma.line_size
        row[x:x + 16] = b"\xff" * 16
        luma.update(bytes(row) * 240)


class Tone(MediaStreamTrack):
    """48 kHz mono: a 440 Hz tone (loud) or silence, 20 ms a frame."""

    kind = "audio"

    def __init__(self, loud: bool) -> None:
        super().__init__()
        self.loud = loud
        self._start: float | None = None
        self._samples = 0

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        rate, count = 48000, 960
        if self._start is None:
            self._start = time.time()
        else:
            await asyncio.sleep(max(0.0, self._start + self._samples / rate - time.time()))
        if self.loud:
            data = array.array("h", (int(math.sin(2 * math.pi * 440 * (self._samples + i) / rate) * 12000) for i in range(count)))
        else:
            data = array.array("h", bytes(2 * count))
        frame = AudioFrame(format="s16", layout="mono", samples=count)
        frame.planes[0].update(data.tobytes())
        frame.sample_rate = rate
        frame.pts = self._samples
        frame.time_base = fractions.Fraction(1, rate)
        self._samples += count
        return frame


def vp8_keyframe_width(payload: bytes) -> int:
    """The width a VP8 keyframe announces in its first RTP packet (the payload descriptor of
    RFC 7741 §4.2, then the frame header of RFC 6386 §9.1); 0 for any other packet."""
    try:
        descriptor, frame = VpxPayloadDescriptor.parse(payload)
    except ValueError:
        return 0
    if not descriptor.partition_start or descriptor.partition_id != 0 or len(frame) < 10:
        return 0
    if frame[0] & 1 or frame[3:6] != b"\x9d\x01\x2a":  # an interframe, or no keyframe start code
        return 0
    return int.from_bytes(frame[6:8], "little") & 0x3FFF


def configuration() -> RTCConfiguration:
    return RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


@dataclass
class Received:
    """Frames decoded on one subscriber m-line."""

    mid: str
    kind: str
    frames: int = 0
    first_at: float | None = None
    times: list[float] = field(default_factory=list)
    # The last decoded video frame's width (0 for audio).
    width: int = 0
    # (monotonic time, width) at each change of the decoded width: a failure's story.
    widths: list[tuple[float, int]] = field(default_factory=list)
    # (monotonic time, width) of each VP8 keyframe reaching the m-line, read from its RTP
    # packets before aiortc's jitter buffer and decoder. What the SFU forwards shows here at
    # once; decoded frames may trail it by many seconds, since aiortc's decoder queue is
    # unbounded (in one CI run a starved device decoded 3 of the 16 frames a second it got).
    keyframes: list[tuple[float, int]] = field(default_factory=list)

    def rate(self, seconds: float) -> float:
        """Frames per second over the last `seconds`."""
        now = time.monotonic()
        return sum(1 for t in self.times if t >= now - seconds) / seconds


class SfuPeer:
    """One device in an sfu room: its calls-ws client and its two PeerConnections."""

    def __init__(self, client: CallsClient, room_id: str, epoch: int, *, loud: bool = False) -> None:
        self.client = client
        self.room_id = room_id
        self.epoch = epoch
        self.loud = loud
        self.pub: RTCPeerConnection | None = None
        self.sub: RTCPeerConnection | None = None
        self.received: dict[str, Received] = {}
        self.offers: list[Frame] = []
        self.offer_streams: dict[str, dict[str, Any]] = {}
        self._tasks: list[asyncio.Task] = []
        self._answering = asyncio.Lock()
        # Offers whose answering failed, and why.
        self.answer_errors: list[str] = []
        # (offerId, taken at, answered at) for each offer answered (time.monotonic()).
        self.answered: list[tuple[int, float, float]] = []
        # (time.monotonic(), connectionState) at each change of the subscriber PeerConnection.
        self.states: list[tuple[float, str]] = []
        self.published: Frame | None = None
        self.video = MovingBar()
        self.audio = Tone(loud)

    async def publish(self, *, muted: dict | None = None) -> Frame:
        """Offers mic + camera on a new publisher PeerConnection; returns `sfu.published`."""
        self.pub = RTCPeerConnection(configuration())
        self.pub.addTrack(self.audio)
        self.pub.addTrack(self.video)
        offer = await self.pub.createOffer()
        await self.pub.setLocalDescription(offer)
        payload: dict[str, Any] = {
            "roomId": self.room_id, "epoch": self.epoch, "sdp": self.pub.localDescription.sdp,
            "streams": [{"mid": t.mid, "source": "mic" if t.kind == "audio" else "camera"} for t in self.pub.getTransceivers()],
        }
        if muted is not None:
            payload["muted"] = muted
        reply = await self.client.request("sfu.publish", payload, timeout=10)
        reply.expect_ok()
        published = reply.response("sfu.published")["payload"]
        await self.pub.setRemoteDescription(RTCSessionDescription(sdp=published["sdp"], type="answer"))
        await self.client.request("sfu.trickle", {"roomId": self.room_id, "epoch": self.epoch, "pc": "pub", "candidate": None})
        self.published = published
        return published

    async def share_screen(self) -> Frame:
        """Adds a second video track (source "screen") by renegotiating the publisher PeerConnection."""
        self.screen = MovingBar()
        self.pub.addTrack(self.screen)
        offer = await self.pub.createOffer()
        await self.pub.setLocalDescription(offer)
        sources = {}
        for transceiver in self.pub.getTransceivers():
            sender_track = transceiver.sender.track
            sources[transceiver.mid] = "mic" if transceiver.kind == "audio" else ("screen" if sender_track is self.screen else "camera")
        reply = await self.client.request("sfu.publish", {
            "roomId": self.room_id, "epoch": self.epoch, "sdp": self.pub.localDescription.sdp,
            "streams": [{"mid": mid, "source": source} for mid, source in sources.items()]}, timeout=10)
        reply.expect_ok()
        published = reply.response("sfu.published")["payload"]
        await self.pub.setRemoteDescription(RTCSessionDescription(sdp=published["sdp"], type="answer"))
        return published

    def follow_offers(self) -> None:
        """Answers every `sfu.offer` pushed to this device, in order, from now on."""
        self._answering_task = asyncio.create_task(self._answer_loop())
        self._tasks.append(self._answering_task)

    def move_to(self, client: CallsClient) -> None:
        """The device talks through `client` (another instance) from now on; its
        PeerConnections stay as they are."""
        following = getattr(self, "_answering_task", None)
        if following is not None:
            following.cancel()
        self.client = client
        if following is not None:
            self.follow_offers()

    async def _answer_loop(self) -> None:
        while True:
            frame = await self.client.next(lambda f: f.get("type") == "sfu.offer", timeout=3600, what="sfu.offer")
            taken = time.monotonic()
            try:
                await self.answer(frame["payload"])
                self.answered.append((frame["payload"].get("offerId"), round(taken, 2), round(time.monotonic(), 2)))
            except Exception as error:  # kept for a failure's message; the next offer is answered
                self.answer_errors.append(f"offer {frame['payload'].get('offerId')}: {error!r}")

    async def answer(self, offer: dict[str, Any]) -> None:
        async with self._answering:
            self.offers.append(offer)
            for stream in offer.get("streams") or []:
                self.offer_streams[stream["mid"]] = stream
            if self.sub is None:
                self.sub = RTCPeerConnection(configuration())
                self.sub.on("track", self._on_track)
                sub = self.sub
                sub.on("connectionstatechange", lambda: self.states.append((round(time.monotonic(), 2), sub.connectionState)))
            await self.sub.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
            answer = await self.sub.createAnswer()
            await self.sub.setLocalDescription(answer)
            reply = await self.client.request("sfu.answer", {
                "roomId": self.room_id, "epoch": self.epoch, "offerId": offer["offerId"], "sdp": self.sub.localDescription.sdp})
            reply.expect_ok()
            await self.client.request("sfu.trickle", {"roomId": self.room_id, "epoch": self.epoch, "pc": "sub", "candidate": None})

    def _on_track(self, track) -> None:
        transceiver = next((t for t in self.sub.getTransceivers() if t.receiver.track is track), None)
        mid = (transceiver.mid if transceiver else None) or f"?{len(self.received)}"
        received = self.received.setdefault(mid, Received(mid=mid, kind=track.kind))
        if transceiver is not None and track.kind == "video":
            self._watch_keyframes(transceiver.receiver, received)
        self._tasks.append(asyncio.create_task(self._count(track, received)))

    @staticmethod
    def _watch_keyframes(receiver, received: Received) -> None:
        """Records each VP8 keyframe's width as its first packet reaches `receiver` (see
        `Received.keyframes`), wrapping the method aiortc's RTP router calls."""
        handle = receiver._handle_rtp_packet

        async def watched(packet, arrival_time_ms: int) -> None:
            width = vp8_keyframe_width(packet.payload)
            if width:
                received.keyframes.append((round(time.monotonic(), 2), width))
                if len(received.keyframes) > 2000:
                    del received.keyframes[:1000]
            await handle(packet, arrival_time_ms)

        receiver._handle_rtp_packet = watched

    async def _count(self, track, received: Received) -> None:
        try:
            while True:
                frame = await track.recv()
                now = time.monotonic()
                width = getattr(frame, "width", 0) if received.kind == "video" else 0
                if width != received.width:
                    received.widths.append((round(now, 2), width))
                received.width = width
                received.frames += 1
                received.times.append(now)
                if len(received.times) > 2000:
                    del received.times[:1000]
                if received.first_at is None:
                    received.first_at = now
        except MediaStreamError:
            return

    def streams_of(self, feed_id: str, kind: str, source: str | None = None) -> list[Received]:
        mids = [mid for mid, s in self.offer_streams.items() if s.get("feedId") == feed_id and s.get("kind") == kind
                and s.get("active", True) and (source is None or s.get("source") == source)]
        return [self.received[mid] for mid in mids if mid in self.received]

    async def wait_frames(self, feed_id: str, kind: str = "video", count: int = 1, timeout: float = 10.0) -> Received:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for received in self.streams_of(feed_id, kind):
                if received.frames >= count:
                    return received
            await asyncio.sleep(0.02)
        raise AssertionError(f"{self.client.name}: no {kind} frames of feed {feed_id} within {timeout}s "
                             f"(offer streams {self.offer_streams}, received {self.received}; {self.story()})")

    async def inbound(self) -> list[tuple]:
        """(mid, ssrc, packets received, packets lost) per subscriber m-line, from aiortc's stats."""
        rows = []
        for transceiver in (self.sub.getTransceivers() if self.sub else []):
            for stat in (await transceiver.receiver.getStats()).values():
                if stat.type == "inbound-rtp":
                    rows.append((transceiver.mid, stat.ssrc, stat.packetsReceived, stat.packetsLost))
        return rows

    def story(self) -> str:
        """The subscriber side's history, for a failure's message."""
        return (f"subscriber states {self.states}, offers answered (id, taken, done) {self.answered}, "
                f"answers failed {self.answer_errors}, now {time.monotonic():.2f}")

    async def restart(self, epoch: int) -> None:
        """After `sfu.restart`: new PeerConnections for the new epoch (capture tracks kept)."""
        for pc in (self.pub, self.sub):
            if pc is not None:
                await pc.close()
        self.pub = self.sub = None
        self.epoch = epoch
        self.received = {}
        self.offer_streams = {}
        self.video = MovingBar()
        self.audio = Tone(self.loud)

    async def subscribe_all(self) -> None:
        reply = await self.client.request("sfu.subscribe", {"roomId": self.room_id, "epoch": self.epoch, "all": True}, timeout=10)
        reply.expect_ok()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for pc in (self.pub, self.sub):
            if pc is not None:
                await pc.close()
