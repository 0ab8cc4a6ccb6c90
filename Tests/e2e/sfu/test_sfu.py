"""Group calls through Janus (spec sfu-janus.md §9): aiortc devices that speak only the
calls-ws envelope, two real Janus nodes, the server in between."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import websockets

from sfu_fixtures import *  # noqa: F403 (the suite's fixtures)
from sfu_fixtures import requires_media_namespace, sql
from sfu_peer import SfuPeer
from sfu_support import feed_id_of, janus_handle, janus_request, sfu_room, two_publishing

pytestmark = requires_media_namespace


async def test_three_peers_decode_each_other(devices, sfu_users, sfu_server):
    ann, ben, cat = await asyncio.gather(devices(sfu_users.ann), devices(sfu_users.ben), devices(sfu_users.cat))
    room, joined = await sfu_room(ann, ben, cat)
    for client, payload in joined.items():
        assert payload["mode"] == "sfu"
        assert payload["sfu"]["epoch"] == 1 and payload["sfu"]["videoCodecs"] == ["vp8"], payload
        snapshot = await client.expect("sfu.feeds", roomId=room["roomId"])
        assert snapshot["payload"]["snapshot"] is True

    peers = [SfuPeer(c, room["roomId"], joined[c]["sfu"]["epoch"], loud=(c is ann)) for c in (ann, ben, cat)]
    try:
        published = await asyncio.gather(*(p.publish() for p in peers))
        for result in published:
            kinds = sorted(s["kind"] for s in result["streams"])
            assert kinds == ["audio", "video"], result
            assert "VideoRoom" not in result["sdp"]
        for peer in peers:
            peer.follow_offers()
            reply = await peer.client.request("sfu.subscribe", {"roomId": room["roomId"], "epoch": 1, "all": True}, timeout=10)
            reply.expect_ok()

        feeds = {}
        for client in (ann, ben, cat):
            # Every other device's feed is announced with its user, device and sources.
            async def feed_of(other):
                frame = await client.next(
                    lambda f: f.get("type") == "sfu.feeds" and any(
                        feed["deviceId"] == other.device_id for feed in (f["payload"].get("added") or f["payload"].get("feeds") or [])),
                    timeout=10, what=f"the feed of {other.name}")
                entries = frame["payload"].get("added") or frame["payload"].get("feeds")
                return next(feed for feed in entries if feed["deviceId"] == other.device_id)
            for other in (ann, ben, cat):
                if other is client:
                    continue
                feed = await feed_of(other)
                assert feed["userId"] == other.user_id
                assert sorted((s["kind"], s["source"]) for s in feed["streams"]) == [("audio", "mic"), ("video", "camera")]
                feeds[other.device_id] = feed["feedId"]

        for peer in peers:
            for other in peers:
                if other is peer:
                    continue
                await peer.wait_frames(feeds[other.client.device_id], "video", count=1, timeout=15)
                await peer.wait_frames(feeds[other.client.device_id], "audio", count=1, timeout=15)
        await asyncio.sleep(4)
        for peer in peers:
            for other in peers:
                if other is peer:
                    continue
                video = peer.streams_of(feeds[other.client.device_id], "video")[0]
                audio = peer.streams_of(feeds[other.client.device_id], "audio")[0]
                assert video.rate(3) >= 20, f"{peer.client.name} gets {other.client.name}'s video at {video.rate(3):.1f} fps"
                assert audio.rate(3) >= 40, f"{peer.client.name} gets {other.client.name}'s audio at {audio.rate(3):.1f} frames/s"

        # Only the tone is talking.
        talking = [f for f in ben.frames if f.get("type") == "sfu.talking" and f["payload"].get("talking")]
        assert talking and all(f["payload"]["deviceId"] == ann.device_id for f in talking), talking

        # No Janus id, room secret or token reached any client.
        ids = sql(sfu_server, f"""
            SELECT r.janus_room_id, p.janus_session_id, p.pub_handle_id, coalesce(p.sub_handle_id, 0), p.janus_feed_id, p.private_id
            FROM calls.sfu_rooms r JOIN calls.sfu_participants p USING (room_id) WHERE r.room_id = '{room["roomId"]}'""")
        assert len(ids) == 3, ids
        secrets_and_ids = {value for row in ids for value in row if value != "0"}
        for client in (ann, ben, cat):
            text = json.dumps(client.frames)
            assert "VideoRoom" not in text and "private_id" not in text
            leaked = [value for value in secrets_and_ids if value in text]
            assert not leaked, f"{client.name} saw Janus ids {leaked}"
    finally:
        await asyncio.gather(*(p.close() for p in peers))


async def test_errors(devices, sfu_users):
    ann, ben = await asyncio.gather(devices(sfu_users.ann), devices(sfu_users.ben))
    room, joined = await sfu_room(ann, ben)
    room_id = room["roomId"]
    await ann.expect("sfu.feeds", roomId=room_id)

    stale = await ann.request("sfu.publish", {"roomId": room_id, "epoch": 7, "sdp": "v=0\r\n", "streams": []})
    assert stale.expect_error("SFU_EPOCH_MISMATCH")["details"]["epoch"] == 1

    malformed = await ann.request("sfu.publish", {"roomId": room_id, "epoch": 1, "sdp": "hello", "streams": []})
    malformed.expect_error("SFU_NEGOTIATION_FAILED")
    no_media = await ann.request("sfu.publish", {"roomId": room_id, "epoch": 1, "sdp": "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"})
    no_media.expect_error("SFU_NEGOTIATION_FAILED")

    unknown = "00000000-0000-4000-8000-000000000000"
    missing = await ann.request("sfu.subscribe", {"roomId": room_id, "epoch": 1, "streams": [{"feedId": unknown}]})
    assert missing.expect_error("FEED_NOT_FOUND")["details"]["feedIds"] == [unknown]

    bad = await ann.request("sfu.subscribe", {"roomId": room_id, "epoch": 1, "streams": [{"feedId": unknown, "substream": 9}]})
    assert "substream" in bad.expect_error("VALIDATION_FAILED")["message"]

    stale_answer = await ann.request("sfu.answer", {"roomId": room_id, "epoch": 1, "offerId": 3, "sdp": "v=0\r\n"})
    assert stale_answer.expect_error("SFU_NEGOTIATION_FAILED")["details"]["reason"] == "stale_offer"

    outsider = await devices(sfu_users.dan)
    refused = await outsider.request("sfu.subscribe", {"roomId": room_id, "all": True})
    refused.expect_error("UNAUTHORIZED")

    left = await ann.request("sfu.leave", {"roomId": room_id})
    left.expect_ok()
    assert left.response("sfu.left")["payload"] == {"roomId": room_id}
    after = await ann.request("sfu.subscribe", {"roomId": room_id, "all": True})
    after.expect_error("ROOM_NOT_FOUND")


async def test_late_feed_unpublish_and_leave(devices, sfu_users):
    ann, ben, cat = await asyncio.gather(devices(sfu_users.ann), devices(sfu_users.ben), devices(sfu_users.cat))
    room, joined = await sfu_room(ann, ben, also=(cat,))
    room_id = room["roomId"]
    a, b = SfuPeer(ann, room_id, 1), SfuPeer(ben, room_id, 1)
    c = None
    try:
        await a.publish()
        b.follow_offers()
        ann_feed = await feed_id_of(ben, ann)
        (await ben.request("sfu.subscribe", {"roomId": room_id, "epoch": 1, "streams": [{"feedId": ann_feed}]}, timeout=10)).expect_ok()
        await b.wait_frames(ann_feed, "video")

        # A late publisher: announced to ben, who subscribes and decodes it.
        reply = await cat.request("ROOM_JOIN", {"roomId": room_id, "joinToken": room["joinToken"]}, timeout=10)
        reply.expect_ok()
        c = SfuPeer(cat, room_id, 1)
        await c.publish()
        cat_feed = await feed_id_of(ben, cat)
        started = time.monotonic()
        (await ben.request("sfu.subscribe", {"roomId": room_id, "epoch": 1, "streams": [{"feedId": cat_feed}]}, timeout=10)).expect_ok()
        await b.wait_frames(cat_feed, "video")
        print(f"late feed: subscribe -> first frame {1000 * (time.monotonic() - started):.0f} ms")

        # Unpublishing: ben is told the feed is gone, as unpublished.
        unpublished = await cat.request("sfu.unpublish", {"roomId": room_id, "epoch": 1})
        unpublished.expect_ok()
        assert unpublished.response("sfu.unpublished")["payload"] == {"roomId": room_id, "epoch": 1}
        removed = await ben.next(lambda f: f.get("type") == "sfu.feeds" and f["payload"].get("removed"), timeout=3, what="removed")
        assert removed["payload"]["removed"] == [{"feedId": cat_feed, "userId": cat.user_id, "deviceId": cat.device_id, "reason": "unpublished"}]

        # Publishing again, then leaving: "left" within 500 ms, cat's m-lines inactive, ann's video goes on.
        await c.publish()
        try:
            cat_feed = await feed_id_of(ben, cat)
        except AssertionError:
            print("CAT", [(f.get("type"), f.get("payload")) for f in cat.frames[-8:]])
            raise
        (await ben.request("sfu.subscribe", {"roomId": room_id, "epoch": 1, "streams": [{"feedId": cat_feed}]}, timeout=10)).expect_ok()
        await b.wait_frames(cat_feed, "video")
        offers_before = len(b.offers)
        started = time.monotonic()
        (await cat.request("sfu.leave", {"roomId": room_id})).expect_ok()
        gone = await ben.next(lambda f: f.get("type") == "sfu.feeds" and f["payload"].get("removed"), timeout=3, what="removed")
        elapsed = time.monotonic() - started
        assert gone["payload"]["removed"][0]["reason"] == "left" and gone["payload"]["removed"][0]["feedId"] == cat_feed
        assert elapsed < 0.5, f"removed after {elapsed * 1000:.0f} ms"
        deadline = time.monotonic() + 3
        while len(b.offers) == offers_before and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        inactive = [s for s in b.offers[-1]["streams"] if s.get("feedId") == cat_feed]
        assert inactive and all(s["active"] is False for s in inactive), b.offers[-1]["streams"]
        await asyncio.sleep(2)
        video = b.streams_of(ann_feed, "video")[0]
        assert video.rate(1.5) >= 20, f"ann's video at {video.rate(1.5):.1f} fps after cat left"
    finally:
        await asyncio.gather(*(p.close() for p in (a, b, c) if p))


async def test_subscribing_again_to_a_stream_received_changes_nothing(devices, sfu_users):
    """sfu.subscribe of a stream the device already receives (all:true took it, or an earlier
    request) adds no second m-line for it: no offer, one active m-line. Janus 1.1.2 skips an
    exact {feed, mid} itself but adds the streams of a whole feed asked for again; a loaded run
    of the browser test showed two m-lines of Eve's screen for Ben."""
    ann, ben = await asyncio.gather(devices(sfu_users.ann), devices(sfu_users.ben))
    room, _ = await sfu_room(ann, ben)
    room_id = room["roomId"]
    a, b = SfuPeer(ann, room_id, 1), SfuPeer(ben, room_id, 1)
    try:
        published = await a.publish()
        b.follow_offers()
        ann_feed = await feed_id_of(ben, ann)
        (await ben.request("sfu.subscribe", {"roomId": room_id, "epoch": 1, "all": True}, timeout=10)).expect_ok()
        await b.wait_frames(ann_feed, "video")
        video_mid = next(s["mid"] for s in published["streams"] if s["kind"] == "video")

        def active_lines() -> list[tuple[str, str]]:
            return sorted((s["feedMid"], s["kind"]) for s in b.offers[-1]["streams"] if s["feedId"] == ann_feed and s["active"])

        assert active_lines() == [("0", "audio"), ("1", "video")], b.offers[-1]["streams"]
        offers = len(b.offers)
        for streams in ([{"feedId": ann_feed, "mid": video_mid}], [{"feedId": ann_feed}], [{"feedId": ann_feed, "mid": video_mid, "substream": 0}]):
            reply = await ben.request("sfu.subscribe", {"roomId": room_id, "epoch": 1, "streams": streams}, timeout=10)
            reply.expect_ok()
            assert reply.payload == {} and not [f for f in reply.before if f.get("type") == "sfu.offer"], (streams, reply.before)
        await asyncio.sleep(1)
        assert len(b.offers) == offers, b.offers[offers:]

        # Unsubscribed, the stream can be asked for again: one active m-line for it. (Janus
        # takes the inactive m-line again; aiortc, unlike a browser, receives nothing more on it.)
        (await ben.request("sfu.unsubscribe", {"roomId": room_id, "epoch": 1, "streams": [{"feedId": ann_feed, "mid": video_mid}]},
                           timeout=10)).expect_ok()
        assert active_lines() == [("0", "audio")], b.offers[-1]["streams"]
        (await ben.request("sfu.subscribe", {"roomId": room_id, "epoch": 1, "streams": [{"feedId": ann_feed}]}, timeout=10)).expect_ok()
        deadline = time.monotonic() + 10
        while active_lines() != [("0", "audio"), ("1", "video")] and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert active_lines() == [("0", "audio"), ("1", "video")], b.offers[-1]["streams"]
    finally:
        await asyncio.gather(a.close(), b.close())


@dataclass
class Postponed:
    """Ann and Cat publish; Ben takes Ann's feed and leaves its offer (`waiting`) unanswered,
    then asks for Cat's, which Janus postpones."""

    room_id: str
    ben: Any
    peers: tuple[SfuPeer, SfuPeer, SfuPeer]
    ann_feed: str
    cat_feed: str
    waiting: dict

    def subscribe(self, streams: list[dict]):
        return self.ben.request("sfu.subscribe", {"roomId": self.room_id, "epoch": 1, "streams": streams}, timeout=10)

    async def answer_both(self) -> list[dict]:
        """Ben answers the waiting offer and the postponed one that follows; no third comes.
        Returns the last offer's streams."""
        b = self.peers[1]
        await b.answer(self.waiting)
        await b.answer((await self.ben.next(lambda f: f.get("type") == "sfu.offer", timeout=10, what="the postponed offer"))["payload"])
        await self.ben.quiet(lambda f: f.get("type") == "sfu.offer", 1.0, "third offer")
        return b.offers[-1]["streams"]


@asynccontextmanager
async def postponed_subscription(devices, sfu_users):
    ann, ben, cat = await asyncio.gather(devices(sfu_users.ann), devices(sfu_users.ben), devices(sfu_users.cat))
    room, _ = await sfu_room(ann, ben, cat)
    room_id = room["roomId"]
    peers = (SfuPeer(ann, room_id, 1), SfuPeer(ben, room_id, 1), SfuPeer(cat, room_id, 1))
    try:
        await asyncio.gather(peers[0].publish(), peers[2].publish())
        ann_feed, cat_feed = await feed_id_of(ben, ann), await feed_id_of(ben, cat)
        first = (await ben.request("sfu.subscribe", {"roomId": room_id, "epoch": 1, "streams": [{"feedId": ann_feed}]},
                                   timeout=10)).expect_ok()
        state = Postponed(room_id, ben, peers, ann_feed, cat_feed, first.response("sfu.offer")["payload"])
        postponed = (await state.subscribe([{"feedId": cat_feed}])).expect_ok()
        assert postponed.payload == {"pending": True}, postponed.payload
        yield state
    finally:
        await asyncio.gather(*(peer.close() for peer in peers))


async def test_streams_asked_for_twice_while_an_offer_waits_get_one_m_line_each(devices, sfu_users):
    """While the subscriber's offer waits for its answer, Janus postpones a change (`pending`).
    A second request for the streams of that change asks Janus for nothing more: the next offer
    has one m-line for each. (Before, both requests reached Janus and a whole feed asked for
    twice came back as two m-lines a stream. The same race ran between a client's
    sfu.subscribe and the 250 ms batch that adds new feeds for all:true.)"""
    async with postponed_subscription(devices, sfu_users) as p:
        again = (await p.subscribe([{"feedId": p.cat_feed}])).expect_ok()
        assert again.payload == {} and not [f for f in again.before if f.get("type") == "sfu.offer"], (again.payload, again.before)
        # The postponed change comes as the next offer, with Cat's microphone and camera once each beside Ann's.
        streams = await p.answer_both()
        lines = sorted((s["feedId"] == p.cat_feed, s["feedMid"], s["kind"]) for s in streams if s["active"])
        assert lines == [(False, "0", "audio"), (False, "1", "video"), (True, "0", "audio"), (True, "1", "video")], streams
        await p.peers[1].wait_frames(p.cat_feed, "video")


async def test_the_m_line_limit_counts_streams_received_and_postponed(devices, sfu_users):
    """A device receives at most 60 m-lines: those it has, those Janus postponed (an offer
    waits for its answer) and those asked for count together. Beyond it the request is
    refused with VALIDATION_FAILED naming the count, and nothing changes."""
    async with postponed_subscription(devices, sfu_users) as p:
        # Two m-lines of Ann's, two of Cat's on their way, 57 more asked for: 61.
        many = [{"feedId": p.cat_feed, "mid": f"x{i}"} for i in range(57)]
        refused = (await p.subscribe(many)).expect_error("VALIDATION_FAILED")
        assert refused["message"] == "streams: a device receives at most 60 m-lines (61 asked for)", refused
        streams = await p.answer_both()
        assert sorted((s["feedId"] == p.cat_feed, s["kind"]) for s in streams) == [
            (False, "audio"), (False, "video"), (True, "audio"), (True, "video")], streams


async def test_a_device_whose_socket_drops_leaves_the_media_after_the_grace(devices, sfu_users, sfu_server):
    """Spec §9 test 3's variant: Ben's calls socket is lost and he does not come back; once
    the resume grace (3 s in this suite) is over, Ann is told his feed left and his
    participant's row is gone, while up to then nothing changes for her."""
    room, (ann, ben), (a, b), (ann_feed, ben_feed) = await two_publishing(devices, sfu_users)
    try:
        start = len(ann.frames)
        await ben.abort()
        dropped = time.monotonic()

        def ben_removed(frame):
            return frame.get("type") == "sfu.feeds" and any(r["feedId"] == ben_feed for r in frame["payload"].get("removed") or [])
        await ann.quiet(ben_removed, 2.0, "Ben's feed removed inside the grace")
        gone = await ann.next(ben_removed, start=start, timeout=6, what="Ben's feed removed after the grace")
        assert gone["payload"]["removed"][0]["reason"] == "left", gone
        assert 2.5 <= time.monotonic() - dropped <= 7, f"removed {time.monotonic() - dropped:.1f} s after the drop"
        rows = sql(sfu_server, f"SELECT device_id FROM calls.sfu_participants WHERE room_id = '{room['roomId']}'")
        assert rows == [[ann.device_id]], rows
    finally:
        await asyncio.gather(a.close(), b.close())


async def test_mute_and_ice_restart(devices, sfu_users):
    ann, ben = await asyncio.gather(devices(sfu_users.ann), devices(sfu_users.ben))
    room, joined = await sfu_room(ann, ben)
    room_id = room["roomId"]
    a, b = SfuPeer(ann, room_id, 1), SfuPeer(ben, room_id, 1)
    try:
        await a.publish()
        b.follow_offers()
        ann_feed = await feed_id_of(ben, ann)
        await b.subscribe_all()
        video = await b.wait_frames(ann_feed, "video", count=10)

        started = time.monotonic()
        (await ann.request("sfu.mute", {"roomId": room_id, "epoch": 1, "kind": "video", "muted": True})).expect_ok()
        media = await ben.expect("sfu.media", timeout=2, roomId=room_id, feedId=ann_feed)
        assert time.monotonic() - started < 0.3
        assert media["payload"] == {"roomId": room_id, "epoch": 1, "feedId": ann_feed, "userId": ann.user_id,
                                    "deviceId": ann.device_id, "kind": "video", "muted": True}
        await asyncio.sleep(0.3)
        frozen = video.frames
        await asyncio.sleep(3)
        assert video.frames == frozen, f"{video.frames - frozen} video frames arrived while muted"

        started = time.monotonic()
        (await ann.request("sfu.mute", {"roomId": room_id, "epoch": 1, "kind": "video", "muted": False})).expect_ok()
        while video.frames == frozen and time.monotonic() - started < 3:
            await asyncio.sleep(0.01)
        resumed = time.monotonic() - started
        assert video.frames > frozen and resumed < 1.0, f"video resumed after {resumed * 1000:.0f} ms"
        print(f"unmute -> first frame {resumed * 1000:.0f} ms")
        # The mute state travels with the feed: a new subscriber's snapshot says so.
        (await ann.request("sfu.mute", {"roomId": room_id, "epoch": 1, "kind": "audio", "muted": True})).expect_ok()

        # Subscriber ICE restart: a new offer with new credentials, answered and accepted.
        def ufrag(sdp: str) -> str:
            return next(line for line in sdp.splitlines() if line.startswith("a=ice-ufrag:"))
        before = ufrag(b.offers[-1]["sdp"])
        count = len(b.offers)
        (await ben.request("sfu.restartIce", {"roomId": room_id, "epoch": 1, "pc": "sub"})).expect_ok()
        deadline = time.monotonic() + 5
        while len(b.offers) == count and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert b.offers[-1].get("iceRestart") is True and ufrag(b.offers[-1]["sdp"]) != before
        await asyncio.sleep(1)
        moving = video.frames
        await asyncio.sleep(1)
        assert video.frames > moving, "no video after the ICE restart"
    finally:
        await asyncio.gather(a.close(), b.close())


async def test_publishers_full(devices, sfu_users):
    clients = await asyncio.gather(*(devices(u) for u in (sfu_users.ann, sfu_users.ben, sfu_users.cat, sfu_users.dan)))
    room, joined = await sfu_room(*clients)
    peers = [SfuPeer(c, room["roomId"], 1) for c in clients]
    try:
        for peer in peers[:3]:
            await peer.publish()
            # Janus counts live senders only: wait for the media to be up.
            await peer.client.expect("sfu.connection", timeout=5, pc="pub", state="up")
        with pytest.raises(AssertionError, match="PUBLISHERS_FULL"):
            await peers[3].publish()
        # Someone stops: the fourth may publish.
        (await clients[0].request("sfu.unpublish", {"roomId": room["roomId"], "epoch": 1})).expect_ok()
        await peers[3].publish()
    finally:
        await asyncio.gather(*(p.close() for p in peers))


async def test_janus_is_closed_to_everyone_but_calls_ws(devices, sfu_users, sfu_server, janus_nodes):
    # Janus listens on 127.0.0.1 only (its WebSocket API; no HTTP, no admin API).
    listening = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, timeout=10).stdout
    pids = {f"pid={n.process.pid}," for n in janus_nodes}
    janus_lines = [line for line in listening.splitlines() if any(pid in line for pid in pids)]
    assert janus_lines and all(line.split()[3].startswith("127.0.0.1:") for line in janus_lines), janus_lines
    assert {int(line.split()[3].rsplit(":", 1)[1]) for line in janus_lines} == {n.port for n in janus_nodes}

    ann = await devices(sfu_users.ann)
    room, _ = await sfu_room(ann)
    janus_room, node_id = sql(sfu_server, f"SELECT janus_room_id, node_id FROM calls.sfu_rooms WHERE room_id = '{room['roomId']}'")[0]
    node = next(n for n in janus_nodes if n.node_id == node_id)
    async with websockets.connect(node.url, subprotocols=["janus-protocol"]) as ws:
        refused = await janus_request(ws, {"janus": "create"}, None)
        assert refused["janus"] == "error" and refused["error"]["code"] == 403
    async with janus_handle(node) as request:
        assert (await request({"request": "create", "room": 4242}))["plugindata"]["data"]["error_code"] == 429
        join = await request({"request": "join", "ptype": "publisher", "room": int(janus_room)})
        assert join["plugindata"]["data"]["error_code"] == 433
        listed = await request({"request": "list"})
        assert all(r["room"] != int(janus_room) for r in listed["plugindata"]["data"]["list"]), "a private room is listed"


async def test_node_failure_moves_the_room(devices, sfu_users, sfu_server, janus_nodes):
    room, (ann, ben), (a, b), (ann_feed, ben_feed) = await two_publishing(devices, sfu_users)
    room_id = room["roomId"]
    node = None
    try:
        node_id = sql(sfu_server, f"SELECT node_id FROM calls.sfu_rooms WHERE room_id = '{room_id}'")[0][0]
        node = next(n for n in janus_nodes if n.node_id == node_id)
        killed = time.monotonic()
        node.kill()
        for client in (ann, ben):
            await client.expect("sfu.interrupted", timeout=5, roomId=room_id, reason="node_failed")
        interrupted = time.monotonic() - killed
        restarts = [await client.expect("sfu.restart", timeout=10, roomId=room_id) for client in (ann, ben)]
        restarted = time.monotonic() - killed
        assert all(r["payload"]["epoch"] == 2 and r["payload"]["reason"] == "node_failed" for r in restarts), restarts
        assert interrupted <= 1.5, f"sfu.interrupted {interrupted * 1000:.0f} ms after the kill"
        assert restarted <= 5, f"sfu.restart {restarted * 1000:.0f} ms after the kill"

        # The clients renegotiate against the new epoch; the feed ids stay.
        for peer in (a, b):
            await peer.restart(2)
            await peer.publish()
            await peer.subscribe_all()
        await b.wait_frames(ann_feed, timeout=8)
        await a.wait_frames(ben_feed, timeout=8)
        recovered = time.monotonic() - killed
        print(f"node kill: interrupted {interrupted * 1000:.0f} ms, restart {restarted * 1000:.0f} ms, media back {recovered * 1000:.0f} ms")
        assert recovered <= 8

        rows = sql(sfu_server, f"SELECT r.node_id, r.epoch, n.state FROM calls.sfu_rooms r JOIN calls.sfu_nodes n ON n.node_id = '{node_id}' WHERE r.room_id = '{room_id}'")
        assert rows[0][0] != node_id and rows[0][1] == "2" and rows[0][2] == "down", rows
        stale = await ann.request("sfu.subscribe", {"roomId": room_id, "epoch": 1, "all": True})
        assert stale.expect_error("SFU_EPOCH_MISMATCH")["details"]["epoch"] == 2
        # Operators see it on /metrics.
        async with httpx.AsyncClient(timeout=10) as http:
            metrics = (await http.get(f"{sfu_server.url}/metrics")).text
        assert f'sfu_node_up{{node="{node_id}"}} 0' in metrics, [l for l in metrics.splitlines() if l.startswith("sfu_")]
        assert f'sfu_node_failures_total{{node="{node_id}"}}' in metrics
        assert 'sfu_room_recoveries_total{reason="node_failed"}' in metrics

        # A node that comes back waits 30 s of good probes before it takes rooms again.
        node.start()
        await asyncio.sleep(5)
        assert sql(sfu_server, f"SELECT state FROM calls.sfu_nodes WHERE node_id = '{node_id}'")[0][0] == "down"
    finally:
        await asyncio.gather(a.close(), b.close())
        if node is not None and (node.process is None or node.process.poll() is not None):
            node.start()


async def test_h264_room(devices, sfu_users):
    ann, ben = await asyncio.gather(devices(sfu_users.ann), devices(sfu_users.ben))
    wrong = await ann.request("ROOM_CREATE", {"allowedUserIds": [ben.user_id], "mode": "p2p", "sfu": {"videoCodec": "h264"}})
    assert "sfu" in wrong.expect_error("VALIDATION_FAILED")["message"]
    unknown = await ann.request("ROOM_CREATE", {"allowedUserIds": [ben.user_id], "mode": "sfu", "sfu": {"videoCodec": "av1"}})
    assert "sfu.videoCodec" in unknown.expect_error("VALIDATION_FAILED")["message"]

    room = await ann.create_room([ben.user_id], mode="sfu", sfu={"videoCodec": "h264"})
    joined = {}
    for client in (ann, ben):
        reply = await client.request("ROOM_JOIN", {"roomId": room["roomId"], "joinToken": room["joinToken"]}, timeout=10)
        reply.expect_ok()
        joined[client] = reply.response("ROOM_JOIN_OK")["payload"]
        assert joined[client]["sfu"]["videoCodecs"] == ["h264", "vp8"]
    a, b = SfuPeer(ann, room["roomId"], 1), SfuPeer(ben, room["roomId"], 1)
    try:
        published = await a.publish()
        assert {s["kind"]: s["codec"] for s in published["streams"]} == {"audio": "opus", "video": "h264"}, published["streams"]
        b.follow_offers()
        ann_feed = await feed_id_of(ben, ann)
        await b.subscribe_all()
        await b.wait_frames(ann_feed, "video", count=5, timeout=15)
    finally:
        await asyncio.gather(a.close(), b.close())


async def test_a_one_to_one_call_becomes_a_group_call(devices, sfu_users):
    ann, ben, cat = await asyncio.gather(devices(sfu_users.ann), devices(sfu_users.ben), devices(sfu_users.cat))
    p2p = await ann.create_room([ben.user_id], mode="p2p")
    for client in (ann, ben):
        (await client.request("ROOM_JOIN", {"roomId": p2p["roomId"], "joinToken": p2p["joinToken"]})).expect_ok()

    outsider = await cat.request("ROOM_UPGRADE", {"roomId": p2p["roomId"], "allowedUserIds": [cat.user_id]})
    outsider.expect_error("UNAUTHORIZED")
    bad = await ann.request("ROOM_UPGRADE", {"roomId": p2p["roomId"], "allowedUserIds": ["nobody"]})
    assert "allowedUserIds[0]" in bad.expect_error("VALIDATION_FAILED")["message"]

    reply = await ann.request("ROOM_UPGRADE", {"roomId": p2p["roomId"], "allowedUserIds": [cat.user_id]})
    reply.expect_ok()
    upgraded = reply.response("ROOM_UPGRADED")["payload"]
    assert upgraded["fromRoomId"] == p2p["roomId"] and upgraded["mode"] == "sfu" and upgraded["roomId"] != p2p["roomId"]
    told = await ben.expect("ROOM_UPGRADED", roomId=upgraded["roomId"])
    assert told["payload"]["joinToken"] == upgraded["joinToken"] and told["from"]["deviceId"] == ann.device_id
    again = await ann.request("ROOM_UPGRADE", {"roomId": upgraded["roomId"]})
    again.expect_error("UNAUTHORIZED")  # not in the new room yet

    # Everyone moves: the new room admits the p2p room's users and the one added.
    for client in (ann, ben, cat):
        joined = await client.request("ROOM_JOIN", {"roomId": upgraded["roomId"], "joinToken": upgraded["joinToken"]}, timeout=10)
        joined.expect_ok()
        assert joined.response("ROOM_JOIN_OK")["payload"]["sfu"]["epoch"] == 1
    for client in (ann, ben):
        (await client.request("ROOM_LEAVE", {"roomId": p2p["roomId"]})).expect_ok()
    sfu_again = await ann.request("ROOM_UPGRADE", {"roomId": upgraded["roomId"]})
    assert "already" in sfu_again.expect_error("VALIDATION_FAILED")["message"]


async def test_a_group_call_invite_says_it_is_one(devices, sfu_users):
    ann, ben = await asyncio.gather(devices(sfu_users.ann), devices(sfu_users.ben))
    room = await ann.create_room([ben.user_id], mode="sfu")
    invite = {"to": ben.user_id, "callId": room["callId"], "callType": "video", "roomId": room["roomId"], "joinToken": room["joinToken"]}
    wrong = await ann.request("call.invite", {**invite, "mode": "mesh"})
    assert "mode" in wrong.expect_error("VALIDATION_FAILED")["message"]
    (await ann.request("call.invite", {**invite, "mode": "sfu"})).expect_ok()
    rung = await ben.expect("call.invite", callId=room["callId"])
    assert rung["payload"]["mode"] == "sfu" and rung["payload"]["roomId"] == room["roomId"]


async def test_a_screen_share_reaches_every_all_subscriber(devices, sfu_users):
    ann, ben = await asyncio.gather(devices(sfu_users.ann), devices(sfu_users.ben))
    room, _ = await sfu_room(ann, ben)
    a, b = SfuPeer(ann, room["roomId"], 1), SfuPeer(ben, room["roomId"], 1)
    try:
        await a.publish()
        b.follow_offers()
        ann_feed = await feed_id_of(ben, ann)
        await b.subscribe_all()
        await b.wait_frames(ann_feed, "video")
        published = await a.share_screen()
        assert sorted(s["source"] for s in published["streams"]) == ["camera", "mic", "screen"], published["streams"]
        # The changed feed is announced, and the all:true subscription takes its new stream.
        changed = await ben.next(lambda f: f.get("type") == "sfu.feeds" and any(
            len(feed["streams"]) == 3 for feed in f["payload"].get("added") or []), timeout=10, what="the feed with its screen")
        assert {s["source"] for s in changed["payload"]["added"][0]["streams"]} == {"mic", "camera", "screen"}
        deadline = time.monotonic() + 15
        while not b.streams_of(ann_feed, "video", "screen") and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        screens = b.streams_of(ann_feed, "video", "screen")
        assert screens, b.offer_streams
        while screens[0].frames < 5 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert screens[0].frames >= 5, "no screen frames"
    finally:
        await asyncio.gather(a.close(), b.close())
