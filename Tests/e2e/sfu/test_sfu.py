"""Group calls through Janus (spec sfu-janus.md §9): aiortc devices that speak only the
calls-ws envelope, two real Janus nodes, the server in between."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from sfu_fixtures import *  # noqa: F403 (the suite's fixtures)
from sfu_fixtures import requires_media_namespace
from sfu_peer import SfuPeer

pytestmark = requires_media_namespace


async def sfu_room(owner, *others):
    """`owner` creates an sfu room for everyone; all join. Returns (room, {client: ROOM_JOIN_OK payload})."""
    allowed = sorted({o.user_id for o in others if o.user_id != owner.user_id})
    room = await owner.create_room(allowed, mode="sfu")
    joined = {}
    for client in (owner, *others):
        reply = await client.request("ROOM_JOIN", {"roomId": room["roomId"], "joinToken": room["joinToken"]}, timeout=10)
        reply.expect_ok()
        joined[client] = reply.response("ROOM_JOIN_OK")["payload"]
    return room, joined


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
